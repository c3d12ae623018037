import {
  CardIdInputSchema,
  CardportError,
  type CardportErrorOptions,
  containsCardNumber,
} from '@cardport/core'
import { z } from 'zod'
import { isObject, STRIPE_PROVIDER_NAME } from './parse-card.js'

/**
 * Why a webhook request was refused. Each one means the request did not come from Stripe as
 * sent, or not for this endpoint: nothing was changed, and the answer should be a 400.
 *
 * - `missing_signature`: no `Stripe-Signature` header;
 * - `malformed_signature`: a header without a `t=` timestamp and a `v1=` signature;
 * - `bad_signature`: no signature in the header matches the body for the endpoint secret(s): a
 *   forged request, the wrong secret, or a body that was parsed and re-serialized on the way;
 * - `stale_timestamp`: the signature matches but is older than the tolerance (a replay);
 * - `body_not_raw`: the body was already parsed into an object by a body parser;
 * - `empty_body`: no body at all (often: a body parser consumed it, or the content type differs);
 * - `malformed_body`: a correctly signed body that is not JSON;
 * - `not_an_event`: correctly signed JSON that is not a Stripe event (an envelope field missing
 *   or of the wrong type, an event id that is empty, holds a NUL character or an unpaired
 *   surrogate, or is a card number, or a type that is not Stripe's lowercase dotted words or
 *   holds a card number: the result would echo them to logs).
 */
export type StripeWebhookRejection =
  | 'missing_signature'
  | 'malformed_signature'
  | 'bad_signature'
  | 'stale_timestamp'
  | 'body_not_raw'
  | 'empty_body'
  | 'malformed_body'
  | 'not_an_event'

/**
 * A webhook request that was refused before anything changed: `code` is `invalid_request`,
 * `status` 400, and `reason` says which check failed. Web frameworks map it to a 400 answer
 * (Stripe then retries the event for up to three days, and shows the failure in the Dashboard);
 * test `isCardportError(error, 'invalid_request')` and read `details.reason` across package
 * copies, or `reason` on this class. Messages never hold the secret, the signature or the body.
 */
export class StripeWebhookError extends CardportError {
  /** `'StripeWebhookError'`. */
  override readonly name = 'StripeWebhookError'
  /** Which check failed (also in `details.reason`, which survives package copies). */
  readonly reason: StripeWebhookRejection

  constructor(reason: StripeWebhookRejection, message: string, options: CardportErrorOptions = {}) {
    super('invalid_request', message, {
      provider: STRIPE_PROVIDER_NAME,
      status: 400,
      retryable: false,
      details: { reason },
      ...options,
    })
    this.reason = reason
  }
}

/**
 * The part of the `stripe` SDK that verifies webhooks: `stripe.webhooks` of an instance, or
 * `Stripe.webhooks` (the class's own, which needs no API key). Typed structurally, like
 * `StripeClient`.
 */
export interface StripeWebhookVerifier {
  /**
   * Checks the signature against one secret and parses the body; throws the SDK's signature
   * error on a mismatch or a timestamp older than `tolerance` seconds. `receivedAt` (ms) is
   * passed so that the signature's age is measured with the handler's clock, not the SDK's.
   */
  constructEventAsync(
    payload: string | Uint8Array,
    header: string,
    secret: string,
    tolerance?: number,
    cryptoProvider?: undefined,
    receivedAt?: number,
  ): Promise<unknown>
}

/** A verified Stripe event: the envelope fields cardport reads, and the rest as sent. */
export interface StripeWebhookEvent {
  /**
   * The event's id (`evt_…`): a repeated id is a delivery already applied. Text every store
   * keeps as sent (no NUL character, no unpaired surrogate), or the event is `not_an_event`.
   */
  id: string
  /** Always `'event'`. */
  object: 'event'
  /**
   * What happened (`'customer.source.created'` …): decides how the event is applied. Stripe's
   * lowercase dotted words with no card number in them, or the event is `not_an_event`.
   */
  type: string
  /** When the change happened, in seconds since the epoch. */
  created: number
  /** For events of connected accounts (Connect webhooks): the account's id. */
  account?: string | null | undefined
  /** The API version the event's object was rendered with, as Stripe sent it. */
  api_version?: string | null | undefined
  /** Whether the event came from live mode (false for test mode), as Stripe sent it. */
  livemode?: boolean | undefined
  /** What the event is about. */
  data: {
    /** The object as it was after the change (a card, a customer, an external account …). */
    object: Record<string, unknown>
    /** For `*.updated` events: the fields that changed, with their values before. */
    previous_attributes?: Record<string, unknown> | undefined
  }
  /** Other envelope fields (`request`, `pending_webhooks` …), as sent. */
  [field: string]: unknown
}

/**
 * Stripe's event type grammar: lowercase words (letters, digits, `_`, each starting with a
 * letter) joined by dots, as every type Stripe sends is (`customer.source.created`,
 * `three_d_secure.authentication.succeeded`, the old `ping`), including the ones cardport
 * ignores.
 */
const EVENT_TYPE = /^[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)*$/

/**
 * An event's type: Stripe's grammar, and no card number in it, its dots and `_` read as the
 * spaces a number written out has (`customer.source.x4242_4242_4242_4242`). The result, which
 * gets logged, names the type, as it names the id: such a type is refused as the id is.
 */
const EventTypeSchema = z
  .string()
  .refine((type) => EVENT_TYPE.test(type) && !containsCardNumber(type.replace(/[._]/g, ' ')))

const EventSchema = z.looseObject({
  // An id as the core checks a caller's card id (not empty, no NUL, no unpaired surrogate, not a
  // card number): the handler gives it to the seen set, which a table may back, and PostgreSQL
  // stores `evt_A\uD800` as `evt_A\uFFFD`, which would make the genuine event of that id read as
  // a duplicate; and the result, which gets logged, names it.
  id: CardIdInputSchema,
  object: z.literal('event'),
  type: EventTypeSchema,
  created: z.number().int().nonnegative(),
  account: z.string().nullish(),
  api_version: z.string().nullish(),
  livemode: z.boolean().optional(),
  data: z.looseObject({
    object: z.record(z.string(), z.unknown()),
    previous_attributes: z.record(z.string(), z.unknown()).optional(),
  }),
})

/** How {@link verifyStripeWebhook} checks a request. */
export interface VerifyStripeWebhookOptions {
  /** The endpoint's signing secrets (`whsec_…`): any one of them may match. */
  secrets: readonly string[]
  /** The oldest signature accepted, in seconds. */
  toleranceSeconds: number
  /** The clock, in ms since the epoch, that the signature's age is measured with. */
  now: () => number
  /**
   * The provider the errors name (`provider`): the `name` of the `stripeWebhookHandler` that
   * verifies. Default `'stripe'`.
   */
  provider?: string | undefined
}

/**
 * Verifies a webhook request with the SDK's `constructEventAsync` (against each secret in
 * turn) and checks that the body is a Stripe event. Throws a {@link StripeWebhookError} naming
 * the failed check.
 *
 * @param rawBody The body exactly as received: a string or a Buffer, never a parsed object.
 * @param signatureHeader The `Stripe-Signature` header (a framework's header value as is).
 */
export async function verifyStripeWebhook(
  verifier: StripeWebhookVerifier,
  rawBody: unknown,
  signatureHeader: unknown,
  options: VerifyStripeWebhookOptions,
): Promise<StripeWebhookEvent> {
  const provider = options.provider ?? STRIPE_PROVIDER_NAME
  const header = headerOf(signatureHeader, provider)
  const body = bodyOf(rawBody, provider)
  if (!/(?:^|,)\s*t=\d+\s*(?:,|$)/.test(header) || !/(?:^|,)\s*v1=[0-9a-fA-F]+/.test(header)) {
    throw new StripeWebhookError(
      'malformed_signature',
      'The Stripe-Signature header has no t= timestamp or no v1= signature: send the header exactly as Stripe sent it',
      { provider },
    )
  }

  let parsed: unknown
  let verified = false
  for (const secret of options.secrets) {
    try {
      parsed = await verifier.constructEventAsync(
        body,
        header,
        secret,
        options.toleranceSeconds,
        undefined,
        options.now(),
      )
      verified = true
      break
    } catch (error) {
      if (isSignatureError(error)) {
        // The SDK checks the signature before the timestamp: a stale one did match this secret.
        // No `cause`: the SDK's error keeps the whole body and header, which a logged error
        // (its cause chain) would print.
        if (/tolerance/i.test(messageOf(error))) {
          throw new StripeWebhookError(
            'stale_timestamp',
            `The Stripe-Signature timestamp is older than the tolerance (${options.toleranceSeconds} s): a replayed or long-delayed request; Stripe's own retries are signed afresh`,
            { provider },
          )
        }
        continue
      }
      if (error instanceof SyntaxError) {
        // No `cause`: JSON.parse's message quotes the body.
        throw new StripeWebhookError(
          'malformed_body',
          'The webhook body is correctly signed but is not JSON: this endpoint only takes Stripe events',
          { provider },
        )
      }
      if (error instanceof Error && /thin event/i.test(error.message)) {
        throw new StripeWebhookError(
          'not_an_event',
          'The webhook body is a thin event notification (v2), not a snapshot event: point a snapshot-event destination at this endpoint',
          { provider, cause: error },
        )
      }
      throw error
    }
  }
  if (!verified) {
    throw new StripeWebhookError(
      'bad_signature',
      'No signature in the Stripe-Signature header matches the body for the endpoint secret(s) configured: check the secret (each endpoint has its own, whsec_…) and pass the raw request body, not a parsed and re-serialized one',
      { provider },
    )
  }
  return toStripeEvent(parsed, 'The webhook body is correctly signed JSON', provider)
}

/**
 * The Stripe event a verified body (or a value given to `apply`) holds, with the envelope
 * fields cardport reads checked; a {@link StripeWebhookError} `not_an_event` for anything else.
 *
 * @param what What the value is, to start the error's message with.
 * @param provider The provider the error names.
 */
export function toStripeEvent(
  value: unknown,
  what: string,
  provider: string = STRIPE_PROVIDER_NAME,
): StripeWebhookEvent {
  const result = EventSchema.safeParse(value)
  if (!result.success) {
    const where = result.error.issues
      .map((issue) => issue.path.join('.') || 'the body')
      .slice(0, 3)
      .join(', ')
    throw new StripeWebhookError(
      'not_an_event',
      `${what} but not a Stripe event (check ${where})`,
      { provider },
    )
  }
  return result.data as StripeWebhookEvent
}

function headerOf(value: unknown, provider: string): string {
  const header = Array.isArray(value) && value.length === 1 ? value[0] : value
  if (header === undefined || header === null || header === '') {
    throw new StripeWebhookError(
      'missing_signature',
      'The request has no Stripe-Signature header: only Stripe can call this endpoint',
      { provider },
    )
  }
  if (typeof header !== 'string') {
    throw new StripeWebhookError(
      'malformed_signature',
      'The Stripe-Signature header must be one string: send it exactly as Stripe sent it',
      { provider },
    )
  }
  return header
}

function bodyOf(value: unknown, provider: string): string | Uint8Array {
  if (typeof value === 'string' || value instanceof Uint8Array) {
    if (value.length === 0) throw emptyBody(provider)
    return value
  }
  if (value === undefined || value === null) throw emptyBody(provider)
  throw new StripeWebhookError(
    'body_not_raw',
    'The webhook body was already parsed into an object, so its signature cannot be checked: give this route the raw body (Express: express.raw({ type: "application/json" }) on this route, before any express.json())',
    { provider },
  )
}

function emptyBody(provider: string): StripeWebhookError {
  return new StripeWebhookError(
    'empty_body',
    'The webhook request has no body: read it raw on this route (Express: express.raw({ type: "application/json" })), and make sure no other body parser consumed it first',
    { provider },
  )
}

function isSignatureError(error: unknown): boolean {
  return (
    isObject(error) &&
    (error.type === 'StripeSignatureVerificationError' ||
      (error as { name?: unknown }).name === 'StripeSignatureVerificationError')
  )
}

function messageOf(error: unknown): string {
  return isObject(error) && typeof error.message === 'string' ? error.message : ''
}
