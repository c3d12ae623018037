// fast-check arbitraries for hostile input. Card numbers and secrets are embedded where a
// correct library must not let them through: in fields it does not map, in values that make
// the input invalid (so nothing may be stored, and the error must not echo them), in unknown
// keys. Fields a valid input carries into a Card verbatim (a name, metadata, an id) get only
// clean values, unless the input is also made invalid: a caller's own free text in a valid
// input is the caller's data, stored as given (see README.md, "What is not covered").
import fc from 'fast-check'
import { SECRETS, TEST_CARD_NUMBERS } from './leak-scan.js'

/** The marketplace emulator's API key secret (the marketplace provider's credential). */
export const MARKETPLACE_SECRET = 'ak-test-cardportEmulatorTestSecret0001'

/** Every secret a test uses. */
export const ALL_SECRETS = [
  SECRETS.stripeKey,
  SECRETS.restrictedKey,
  SECRETS.restrictedTestKey,
  SECRETS.webhookSecret,
  MARKETPLACE_SECRET,
] as const

/**
 * A test card number, as typed or pasted: plain, or in groups of four with spaces or dashes,
 * also the no-break spaces, tabs, line breaks and en dashes of a number copied from a page, and
 * the full-width hyphens of one typed on an East Asian keyboard, and the invisible soft hyphens
 * and left-to-right marks of one copied from a web page or a right-to-left page.
 */
export const cardNumberArb: fc.Arbitrary<string> = fc
  .tuple(
    fc.constantFrom(...TEST_CARD_NUMBERS),
    fc.constantFrom(
      '',
      ' ',
      '-',
      '\u00a0',
      '\t',
      '\n',
      '  ',
      '\u2013',
      '\uff0d',
      '\u00ad',
      '\u200e',
    ),
  )
  .map(([number, separator]) =>
    separator === '' ? number : (number.match(/.{1,4}/g) ?? []).join(separator),
  )

/**
 * A test card number in the digits of another script, as typed on another keyboard: full-width
 * (a Japanese input method), Arabic-Indic or Eastern Arabic-Indic (an Arabic keyboard),
 * Devanagari.
 */
export const otherScriptCardNumberArb: fc.Arbitrary<string> = fc
  .tuple(cardNumberArb, fc.constantFrom(0xff10, 0x0660, 0x06f0, 0x0966))
  .map(([number, zero]) =>
    number.replace(/[0-9]/g, (digit) => String.fromCodePoint(zero + Number(digit))),
  )

/**
 * Secrets of a recognizable format (Stripe's secret and restricted keys, `sk_…`, `rk_…`, and
 * `whsec_…`), which cardport removes from any text. The marketplace's secret has no format a
 * library could recognize: it is embedded only where the marketplace adapter, which knows it,
 * handles it (its options, its answers: {@link marketplaceTaintedArb}).
 */
const RECOGNIZABLE_SECRETS = [
  SECRETS.stripeKey,
  SECRETS.restrictedKey,
  SECRETS.restrictedTestKey,
  SECRETS.webhookSecret,
] as const

/** What separates a token from the text around it. */
const separatorArb = fc.constantFrom(' ', '=', ': ', '"', ',', '\n', '/', '(')

/**
 * A string carrying a card number or a secret, alone or inside other text, as a token: set off
 * from neighbouring letters and digits (a number glued to other digits is another number).
 */
export const taintedArb: fc.Arbitrary<string> = fc.oneof(
  cardNumberArb,
  otherScriptCardNumberArb,
  fc.constantFrom(...RECOGNIZABLE_SECRETS),
  fc
    .tuple(
      fc.string({ maxLength: 12 }),
      separatorArb,
      fc.oneof(cardNumberArb, otherScriptCardNumberArb, fc.constantFrom(...RECOGNIZABLE_SECRETS)),
      separatorArb,
      fc.string({ maxLength: 12 }),
    )
    .map((parts) => parts.join('')),
)

/**
 * The marketplace secret as a server quoting the credentials it refused could write it back:
 * as is, as the basic-auth credentials the adapter sends (`base64(secret + ':')`), or that
 * `Authorization` header's value. Each is text a header may carry.
 */
export const marketplaceSecretArb: fc.Arbitrary<string> = fc.constantFrom(
  MARKETPLACE_SECRET,
  Buffer.from(`${MARKETPLACE_SECRET}:`).toString('base64'),
  `Basic ${Buffer.from(`${MARKETPLACE_SECRET}:`).toString('base64')}`,
)

/**
 * {@link taintedArb}, or {@link marketplaceSecretArb} as a token in other text: what the
 * marketplace adapter's answers may quote.
 */
export const marketplaceTaintedArb: fc.Arbitrary<string> = fc.oneof(
  taintedArb,
  marketplaceSecretArb,
  fc
    .tuple(
      fc.string({ maxLength: 12 }),
      separatorArb,
      marketplaceSecretArb,
      separatorArb,
      fc.string({ maxLength: 12 }),
    )
    .map((parts) => parts.join('')),
)

/** Text without digits: what a clean name, city or metadata value looks like. */
export const cleanTextArb: fc.Arbitrary<string> = fc.stringMatching(/^[A-Za-z][A-Za-z .'-]{0,29}$/)

/** An id-like token without a digit run: safe in fields that are copied verbatim. */
export const cleanIdArb = (prefix: string): fc.Arbitrary<string> =>
  fc.stringMatching(/^[A-Za-z]{4,20}$/).map((rest) => `${prefix}${rest}`)

/**
 * What makes an id one that no store keeps as sent: a NUL character (PostgreSQL refuses it), or
 * a high or a low surrogate alone (PostgreSQL stores it as U+FFFD, so that the id would name
 * another owner or card). {@link spoilId} puts one in an id.
 */
export const unstorableCharArb: fc.Arbitrary<string> = fc.constantFrom(
  '\u0000',
  '\uD800',
  '\uDBFF',
  '\uDC00',
  '\uDFFF',
)

/** `id` with `bad` put in at `at` (modulo the id's length plus one: the end too). */
export function spoilId(id: string, bad: string, at: number): string {
  const index = at % (id.length + 1)
  return `${id.slice(0, index)}${bad}${id.slice(index)}`
}

/**
 * An object whose keys name what every object inherits, as JSON can: with `toString` not a
 * function (`{"toString": 0}`), `String()` and `Number()` of it throw a TypeError; a `__proto__`
 * key changes the prototype of a copy made by assignment. Random keys are never these names.
 */
export const inheritedKeysArb: fc.Arbitrary<Record<string, unknown>> = fc.dictionary(
  fc.oneof(
    { weight: 3, arbitrary: fc.constant('toString') },
    fc.constantFrom('valueOf', 'constructor', '__proto__', 'hasOwnProperty'),
  ),
  fc.oneof(fc.constant(0), fc.constant(null), fc.string({ maxLength: 4 }), fc.constant({})),
  { minKeys: 1, maxKeys: 3 },
)

/** Any JSON-ish value, possibly carrying card numbers and secrets. */
export const junkArb: fc.Arbitrary<unknown> = fc.oneof(
  taintedArb,
  fc.anything({ maxDepth: 2, values: [taintedArb, fc.string(), fc.integer(), fc.double()] }),
  fc.constantFrom(null, undefined, true, false, 0, -1, 13, 1e21, Number.NaN, '', [], {}),
  fc.string(),
  inheritedKeysArb,
)

/** A value for a field copied verbatim: anything but a card number or a secret. */
export const cleanJunkArb: fc.Arbitrary<unknown> = fc.oneof(
  cleanTextArb,
  fc.constantFrom(null, undefined, true, false, 0, -1, 13, '', [], {}),
  fc.dictionary(cleanTextArb, cleanTextArb, { maxKeys: 3 }),
)

/**
 * A value of the wrong type for any field, without a card number or a secret: for the fields a
 * parser copies verbatim, which must still survive `null` metadata or a number for a name.
 */
export const wrongTypeArb: fc.Arbitrary<unknown> = fc.oneof(
  // JSON's null first: the wrong type an API most often sends.
  { weight: 6, arbitrary: fc.constant(null) },
  fc.constantFrom(true, false, 0, -1, 13, 1e21, Number.NaN, '', [], {}, ['x'], { id: 'x' }),
)

/** Fields a payload must never copy into a Card, with a card number or secret in them. */
export const leakyExtrasArb: fc.Arbitrary<Record<string, unknown>> = fc.record(
  {
    number: cardNumberArb,
    card_number: cardNumberArb,
    cvc: fc.constantFrom('123', '4242'),
    security_code: fc.constantFrom('123', '4242'),
    api_key: fc.constantFrom(...RECOGNIZABLE_SECRETS),
    note: taintedArb,
  },
  { requiredKeys: [] },
)

/** How one provider's card payloads look, for the payload arbitrary. */
export interface PayloadShape {
  /** A realistic card payload of the provider. */
  base: fc.Arbitrary<Record<string, unknown>>
  /** Fields the parser copies into the Card verbatim: only clean values go there. */
  copied: readonly string[]
  /** Fields the parser reads but does not copy (checked, normalized or ignored). */
  read: readonly string[]
  /** A change that makes any payload of the provider an unreadable card. */
  breakIt: Record<string, unknown>
}

/** Copied fields that name the card or its owner: a deletion reads them and nothing else. */
const ID_FIELDS = new Set(['id', 'uri', 'customer', 'account', 'account_uri'])

export const STRIPE_PAYLOAD: PayloadShape = {
  base: fc.record({
    id: cleanIdArb('card_'),
    object: fc.constant('card'),
    customer: cleanIdArb('cus_'),
    brand: fc.constantFrom('Visa', 'MasterCard', 'American Express', 'Discover'),
    last4: fc.constantFrom('4242', '4444', '0005'),
    exp_month: fc.integer({ min: 1, max: 12 }),
    exp_year: fc.integer({ min: 2030, max: 2040 }),
    name: fc.option(cleanTextArb),
    address_line1: fc.option(cleanTextArb),
    address_city: fc.option(cleanTextArb),
    address_zip: fc.option(cleanTextArb),
    address_country: fc.option(fc.constantFrom('US', 'DE', 'FR')),
    country: fc.constantFrom('US', 'GB'),
    fingerprint: cleanIdArb('Fp'),
    funding: fc.constantFrom('credit', 'debit', 'prepaid', 'unknown'),
    cvc_check: fc.constantFrom('pass', 'fail', null),
    metadata: fc.dictionary(cleanTextArb, cleanTextArb, { maxKeys: 3 }),
  }),
  copied: [
    'id',
    'customer',
    'account',
    'name',
    'address_line1',
    'address_line2',
    'address_city',
    'address_state',
    'address_zip',
    'fingerprint',
    'metadata',
  ],
  read: [
    'object',
    'deleted',
    'brand',
    'last4',
    'exp_month',
    'exp_year',
    'address_country',
    'country',
    'funding',
    'cvc_check',
    'address_line1_check',
    'address_zip_check',
    'currency',
    'default_for_currency',
    'dynamic_last4',
  ],
  breakIt: { exp_month: 13 },
}

export const MARKETPLACE_PAYLOAD: PayloadShape = {
  base: fc.record({
    _type: fc.constant('card'),
    id: cleanIdArb('CC'),
    account: fc.record({ id: cleanIdArb('AC') }),
    brand: fc.constantFrom('Visa', 'MasterCard', 'American Express'),
    last_four: fc.constantFrom('1111', '5100'),
    expiration_month: fc.oneof(fc.integer({ min: 1, max: 12 }), fc.constantFrom('4', '12')),
    expiration_year: fc.oneof(fc.integer({ min: 2030, max: 2040 }), fc.constant('2031')),
    name: fc.option(cleanTextArb),
    street_address: fc.option(cleanTextArb),
    city: fc.option(cleanTextArb),
    postal_code: fc.option(cleanTextArb),
    country_code: fc.option(fc.constantFrom('USA', 'DEU')),
    meta: fc.dictionary(cleanTextArb, cleanTextArb, { maxKeys: 3 }),
    is_valid: fc.boolean(),
    security_code_check: fc.constantFrom('passed', 'failed', 'unknown'),
    created_at: fc.constant('2024-05-01T10:00:00.000000+00:00'),
  }),
  copied: [
    'id',
    'uri',
    'account',
    'account_uri',
    'name',
    'street_address',
    'city',
    'region',
    'state',
    'postal_code',
    'meta',
  ],
  read: [
    '_type',
    'brand',
    'card_type',
    'last_four',
    'expiration_month',
    'expiration_year',
    'country_code',
    'is_valid',
    'security_code_check',
    'postal_code_check',
    'created_at',
    'customer',
    'hash',
  ],
  breakIt: { expiration_month: 13 },
}

/**
 * Payloads of a provider, from realistic to hostile:
 * - a real-shaped card with some read fields replaced by junk (card numbers, secrets, wrong
 *   types), some copied fields by clean junk, and leaky extra fields;
 * - a real-shaped card with any of its copied fields of the wrong type (in the arm above, the
 *   clean junk of a copied field is of the wrong type too rarely: `metadata: null` in under
 *   two payloads of a thousand, and a parser that threw a TypeError on it passed every run);
 * - the same with a copied field tainted and the card made unreadable (it must be refused,
 *   and the error must not echo the taint); `taintIds: false` spares the ids, for events whose
 *   handling reads the ids only (a deletion removes the card it names, whatever else it says);
 * - a real-shaped card with some fields (read or copied) objects whose keys name what every
 *   object inherits (`{"toString": 0}`, `__proto__`): {@link inheritedKeysArb};
 * - anything at all.
 */
export function payloadArb(
  shape: PayloadShape,
  options: { taintIds?: boolean } = {},
): fc.Arbitrary<unknown> {
  const taintable = shape.copied.filter(
    (field) => options.taintIds !== false || !ID_FIELDS.has(field),
  )
  const mutated = fc
    .tuple(
      shape.base,
      fc.dictionary(fc.constantFrom(...shape.read), junkArb, { maxKeys: 4 }),
      fc.dictionary(fc.constantFrom(...shape.copied), cleanJunkArb, { maxKeys: 2 }),
      leakyExtrasArb,
    )
    .map(([base, read, copied, extras]) => ({ ...base, ...read, ...copied, ...extras }))
  const taintedAndBroken = fc
    .tuple(shape.base, fc.constantFrom(...taintable), taintedArb, leakyExtrasArb)
    .map(([base, field, taint, extras]) => ({
      ...base,
      ...extras,
      [field]: field === 'metadata' || field === 'meta' ? { note: taint } : taint,
      ...shape.breakIt,
    }))
  // No arm above made them: a signed webhook event whose card had `last4: {"toString": 0}`
  // threw a TypeError (found by a probe of such objects). Any field, read or copied, gets one.
  const inheritedKeys = fc
    .tuple(
      shape.base,
      fc.dictionary(fc.constantFrom(...shape.read, ...shape.copied), inheritedKeysArb, {
        minKeys: 1,
        maxKeys: 3,
      }),
    )
    .map(([base, fields]) => ({ ...base, ...fields }))
  const wronglyTyped = fc
    .tuple(
      shape.base,
      fc.record(Object.fromEntries(shape.copied.map((field) => [field, wrongTypeArb])), {
        requiredKeys: [],
      }),
    )
    .map(([base, wrong]) => ({ ...base, ...wrong }))
  return fc.oneof(
    { weight: 5, arbitrary: mutated },
    { weight: 2, arbitrary: wronglyTyped },
    { weight: 2, arbitrary: taintedAndBroken },
    { weight: 2, arbitrary: inheritedKeys },
    { weight: 2, arbitrary: junkArb },
  )
}

/**
 * Owners, valid or not. An invalid one may carry a card number or a secret in its id (a valid
 * owner's id is the caller's own data, stored as given).
 */
export const ownerArb = (valid: fc.Arbitrary<{ type: string; id: string }>) =>
  fc.oneof(
    { weight: 4, arbitrary: valid },
    {
      weight: 1,
      arbitrary: fc.record({
        type: fc.constantFrom('merchant', 'Customer', '', 'card'),
        id: fc.oneof(taintedArb, junkArb),
      }),
    },
    { weight: 1, arbitrary: fc.record({ type: fc.constant('customer'), id: fc.constant('') }) },
    { weight: 1, arbitrary: junkArb },
  )
