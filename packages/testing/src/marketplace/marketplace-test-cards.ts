import { brandFromNumber, type CardBrand } from '@cardport/core'

/**
 * The id of the test marketplace every {@link marketplaceEmulator} starts with (and keeps across
 * `reset()`). It is the marketplace of the reference's account examples.
 */
export const TEST_MARKETPLACE_ID = 'TEST-MP6xDq5coY66zGqeAztpK2Sj'

/**
 * The API key secret of the test marketplace: send it as the user name of HTTP basic auth, with
 * an empty password (`Authorization: Basic base64('ak-test-…:')`). The `ak-test-` prefix is the
 * shape of the API's test secrets; the value itself is an emulator convention.
 */
export const TEST_MARKETPLACE_SECRET = 'ak-test-cardportEmulatorTestSecret0001'

/**
 * The card brands as the marketplace spells them in `brand`. The reference lists `Visa`,
 * `MasterCard`, `American Express` and `Discover`; the emulator names the other networks it
 * recognizes (`JCB`, `Diners Club`, `UnionPay`) and `Unknown`, rather than refusing them.
 */
export type MarketplaceCardBrand =
  | 'Visa'
  | 'MasterCard'
  | 'American Express'
  | 'Discover'
  | 'JCB'
  | 'Diners Club'
  | 'UnionPay'
  | 'Unknown'

/**
 * What the emulator does with a test number:
 * - `valid`: tokenizes and associates.
 * - `not-validated`: tokenizing answers 409 `card-not-validated`.
 * - `declined`: tokenizes, but associating it with an account (any of the ways) answers 402
 *   `card-declined`: the processor checks a card when it becomes a funding source.
 * - `security-code-fails`: with a `security_code`, tokenizing answers 409 `card-not-validated`;
 *   without one it tokenizes with `security_code_check: 'unknown'`.
 */
export type MarketplaceTestOutcome = 'valid' | 'not-validated' | 'declined' | 'security-code-fails'

// Declared before the table below, which reads it while it is built.
const BRAND_NAMES: Readonly<Record<CardBrand, MarketplaceCardBrand>> = {
  visa: 'Visa',
  mastercard: 'MasterCard',
  amex: 'American Express',
  discover: 'Discover',
  jcb: 'JCB',
  diners: 'Diners Club',
  unionpay: 'UnionPay',
  unknown: 'Unknown',
}

/** One entry of {@link MARKETPLACE_TEST_CARDS}. */
export interface MarketplaceTestCard {
  /** The test card number, digits only. */
  readonly number: string
  /** The `brand` the emulator reports for it (`'Visa'`, `'MasterCard'` …). */
  readonly brand: MarketplaceCardBrand
  /** What tokenizing and associating it does. */
  readonly outcome: MarketplaceTestOutcome
  /** What the card is for, in words. */
  readonly description: string
}

/**
 * The test card numbers of the marketplace emulator. The marketplace reference documents no test
 * numbers, so these are emulator conventions (`4111111111111111` is the number of the
 * reference's own examples). Beyond this table:
 *
 * - any other number that passes the Luhn check is `valid`, its brand from its IIN;
 * - a number that fails the Luhn check, or is not 12 to 19 digits, is `not-validated`;
 * - an expired card (before the emulator's clock month) is `not-validated`;
 * - a `security_code` that is not 3 digits (4 for American Express) is `not-validated`.
 *
 * No response or error ever contains the number or the security code.
 */
export const MARKETPLACE_TEST_CARDS: readonly MarketplaceTestCard[] = Object.freeze([
  entry('4111111111111111', 'valid', 'Visa: tokenizes and associates'),
  entry('5105105105105100', 'valid', 'MasterCard: tokenizes and associates'),
  entry('341111111111111', 'valid', 'American Express: tokenizes and associates'),
  entry('6011111111111117', 'valid', 'Discover: tokenizes and associates'),
  entry('3566002020360505', 'valid', 'JCB (outside the four brands of the reference)'),
  entry('4444444444444448', 'declined', 'Tokenizes; associating it answers 402 card-declined'),
  entry('4222222222222220', 'not-validated', 'Tokenizing answers 409 card-not-validated'),
  entry(
    '5112000200000002',
    'security-code-fails',
    'With a security_code, tokenizing answers 409 card-not-validated',
  ),
  entry('4111111111111112', 'not-validated', 'Fails the Luhn check: 409 card-not-validated'),
])

/** The test card with this number, if the table has it. */
export function findMarketplaceTestCard(number: string): MarketplaceTestCard | undefined {
  return MARKETPLACE_TEST_CARDS.find((card) => card.number === number)
}

/** The `brand` the marketplace reports for a card number (from its IIN, with core's table). */
export function marketplaceBrandOf(number: string): MarketplaceCardBrand {
  return BRAND_NAMES[brandFromNumber(number)]
}

function entry(
  number: string,
  outcome: MarketplaceTestOutcome,
  description: string,
): MarketplaceTestCard {
  return Object.freeze({ number, brand: marketplaceBrandOf(number), outcome, description })
}
