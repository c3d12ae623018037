/**
 * Card brands as Stripe spells them in the `brand` field of a card object (API 2023-08-16).
 */
export type StripeCardBrand =
  | 'Visa'
  | 'MasterCard'
  | 'American Express'
  | 'Discover'
  | 'JCB'
  | 'Diners Club'
  | 'UnionPay'
  | 'Unknown'

/** A card's funding as Stripe reports it. */
export type StripeCardFunding = 'credit' | 'debit' | 'prepaid' | 'unknown'

/**
 * How a test card fails, with the error Stripe sends (always a 402 `card_error`):
 *
 * | failure              | `code`             | `decline_code`       | `param`     |
 * | -------------------- | ------------------ | -------------------- | ----------- |
 * | `generic_decline`    | `card_declined`    | `generic_decline`    |             |
 * | `insufficient_funds` | `card_declined`    | `insufficient_funds` |             |
 * | `lost_card`          | `card_declined`    | `lost_card`          |             |
 * | `stolen_card`        | `card_declined`    | `stolen_card`        |             |
 * | `incorrect_cvc`      | `incorrect_cvc`    | `incorrect_cvc`      | `cvc`       |
 * | `expired_card`       | `expired_card`     | `expired_card`       | `exp_month` |
 * | `processing_error`   | `processing_error` | `processing_error`   |             |
 * | `incorrect_number`   | `incorrect_number` |                      | `number`    |
 */
export type StripeCardFailure =
  | 'generic_decline'
  | 'insufficient_funds'
  | 'lost_card'
  | 'stolen_card'
  | 'incorrect_cvc'
  | 'expired_card'
  | 'processing_error'
  | 'incorrect_number'

/** One of Stripe's documented test cards, and what the emulator does with it. */
export interface StripeTestCard {
  /** The test card number (PAN). */
  readonly number: string
  /** Stripe's test token for this card (`source=tok_visa`), when Stripe documents one. */
  readonly token?: string
  /** The `brand` Stripe reports for the card (`'Visa'`, `'American Express'` …). */
  readonly brand: StripeCardBrand
  /** The `funding` Stripe reports: debit cards are the ones external accounts take. */
  readonly funding: StripeCardFunding
  /** Two-letter country of the issuer. */
  readonly country: string
  /**
   * When the card fails: `'tokenize'` at `POST /v1/tokens` (or when a card hash is sent), or
   * `'attach'` when it is attached to a customer or a connected account (Stripe checks the card
   * with the issuer at that moment). Absent: the card works.
   */
  readonly failsOn?: 'tokenize' | 'attach'
  /** The failure, when `failsOn` is set. */
  readonly failure?: StripeCardFailure
  /** What the card is for, in Stripe's words. */
  readonly description: string
}

/**
 * Stripe's documented test cards that the emulator knows, by number and by token. Any other
 * number that passes the Luhn check works too: its brand comes from its prefix, its funding is
 * `credit` and its country `US`.
 *
 * Test tokens (`tok_visa`, …) can be used any number of times, as on Stripe; a token created
 * with `POST /v1/tokens` can be used once.
 */
export const STRIPE_TEST_CARDS: readonly StripeTestCard[] = Object.freeze([
  card('4242424242424242', 'tok_visa', 'Visa', 'credit', 'US', 'Visa'),
  card('4000056655665556', 'tok_visa_debit', 'Visa', 'debit', 'US', 'Visa (debit)'),
  card('5555555555554444', 'tok_mastercard', 'MasterCard', 'credit', 'US', 'Mastercard'),
  card(
    '5200828282828210',
    'tok_mastercard_debit',
    'MasterCard',
    'debit',
    'US',
    'Mastercard (debit)',
  ),
  card(
    '5105105105105100',
    'tok_mastercard_prepaid',
    'MasterCard',
    'prepaid',
    'US',
    'Mastercard (prepaid)',
  ),
  card('378282246310005', 'tok_amex', 'American Express', 'credit', 'US', 'American Express'),
  card('371449635398431', undefined, 'American Express', 'credit', 'US', 'American Express'),
  card('6011111111111117', 'tok_discover', 'Discover', 'credit', 'US', 'Discover'),
  card('6011000990139424', undefined, 'Discover', 'credit', 'US', 'Discover'),
  card('3056930009020004', 'tok_diners', 'Diners Club', 'credit', 'US', 'Diners Club'),
  card('36227206271667', undefined, 'Diners Club', 'credit', 'US', 'Diners Club (14 digits)'),
  card('3566002020360505', 'tok_jcb', 'JCB', 'credit', 'JP', 'JCB'),
  card('6200000000000005', 'tok_unionpay', 'UnionPay', 'credit', 'CN', 'UnionPay'),
  card(
    '4000000000000002',
    'tok_chargeDeclined',
    'Visa',
    'credit',
    'US',
    'Declined with card_declined / generic_decline when attached',
    'attach',
    'generic_decline',
  ),
  card(
    '4000000000009995',
    'tok_chargeDeclinedInsufficientFunds',
    'Visa',
    'credit',
    'US',
    'Declined with card_declined / insufficient_funds when attached',
    'attach',
    'insufficient_funds',
  ),
  card(
    '4000000000009987',
    'tok_chargeDeclinedLostCard',
    'Visa',
    'credit',
    'US',
    'Declined with card_declined / lost_card when attached',
    'attach',
    'lost_card',
  ),
  card(
    '4000000000009979',
    'tok_chargeDeclinedStolenCard',
    'Visa',
    'credit',
    'US',
    'Declined with card_declined / stolen_card when attached',
    'attach',
    'stolen_card',
  ),
  card(
    '4000000000000127',
    'tok_chargeDeclinedIncorrectCvc',
    'Visa',
    'credit',
    'US',
    'Declined with incorrect_cvc when attached',
    'attach',
    'incorrect_cvc',
  ),
  card(
    '4000000000000101',
    'tok_cvcCheckFail',
    'Visa',
    'credit',
    'US',
    'The CVC check fails: attaching it is declined with incorrect_cvc',
    'attach',
    'incorrect_cvc',
  ),
  card(
    '4000000000000069',
    'tok_chargeDeclinedExpiredCard',
    'Visa',
    'credit',
    'US',
    'Declined with expired_card when attached',
    'attach',
    'expired_card',
  ),
  card(
    '4000000000000119',
    'tok_chargeDeclinedProcessingError',
    'Visa',
    'credit',
    'US',
    'Declined with processing_error when attached',
    'attach',
    'processing_error',
  ),
  card(
    '4000000000000341',
    'tok_chargeCustomerFail',
    'Visa',
    'credit',
    'US',
    'Attaches fine (only charges fail, which the emulator does not model)',
  ),
  card(
    '4242424242424241',
    undefined,
    'Visa',
    'credit',
    'US',
    'Fails the Luhn check: incorrect_number when tokenized',
    'tokenize',
    'incorrect_number',
  ),
])

/** The test card behind a Stripe test token (`tok_visa`), if the emulator knows it. */
export function findStripeTestToken(token: string): StripeTestCard | undefined {
  return STRIPE_TEST_CARDS.find((entry) => entry.token === token)
}

/** The test card with this number, if it is one of Stripe's documented ones. */
export function findStripeTestCard(number: string): StripeTestCard | undefined {
  return STRIPE_TEST_CARDS.find((entry) => entry.number === number)
}

/** The brand Stripe reports for a card number, from its prefix. */
export function stripeBrandOf(number: string): StripeCardBrand {
  const two = Number(number.slice(0, 2))
  const four = Number(number.slice(0, 4))
  const six = Number(number.slice(0, 6))
  if (number.startsWith('4')) return 'Visa'
  if ((two >= 51 && two <= 55) || (four >= 2221 && four <= 2720)) return 'MasterCard'
  if (two === 34 || two === 37) return 'American Express'
  if (number.startsWith('6011') || two === 65 || (six >= 644000 && six <= 649999)) {
    return 'Discover'
  }
  if (two === 35) return 'JCB'
  if (two === 36 || two === 38 || two === 39 || (six >= 300000 && six <= 305999)) {
    return 'Diners Club'
  }
  if (two === 62 || two === 81) return 'UnionPay'
  return 'Unknown'
}

function card(
  number: string,
  token: string | undefined,
  brand: StripeCardBrand,
  funding: StripeCardFunding,
  country: string,
  description: string,
  failsOn?: 'tokenize' | 'attach',
  failure?: StripeCardFailure,
): StripeTestCard {
  return Object.freeze({
    number,
    ...(token === undefined ? {} : { token }),
    brand,
    funding,
    country,
    ...(failsOn === undefined ? {} : { failsOn, failure }),
    description,
  })
}
