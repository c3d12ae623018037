import { isObject } from './parse-card.js'

/**
 * Makes `stripe`'s HTTP client refuse an answer whose body is JSON but not an object (`42`,
 * `"text"`, `true`, `null`), so that the SDK rejects the call with its own `StripeAPIError`
 * ("Invalid JSON received from the Stripe API"), as it does for a body that is no JSON at all.
 *
 * Why: stripe-node (16 to 23, either HTTP client) takes such a body for an answer and attaches
 * `lastResponse` to it with `Object.defineProperty`, which throws on a number, a string or a
 * boolean, in a promise chain nobody holds (`RequestSender._jsonResponseHandler`). The call never
 * settles, and the process gets an unhandled rejection: under Node's default
 * `--unhandled-rejections=throw` it exits. Nothing outside the SDK can catch that, so the guard
 * sits inside it, at its documented extension point: the HTTP client whose responses'
 * `toJSON()` the SDK parses bodies with.
 *
 * Done once per instance, in place: the SDK offers no way to make an instance's requests go
 * through another client, so the guard is set with the SDK's `getApiField` / `_setApiField`
 * (in every version of the peer range; the tests pin both ends). The instance's own calls outside
 * cardport are guarded too, which changes only how they fail. An object without those fields (a
 * test double, a later SDK) is left as it is.
 */
export function guardHttpClient(stripe: unknown): void {
  if (
    !isObject(stripe) ||
    typeof stripe.getApiField !== 'function' ||
    typeof stripe._setApiField !== 'function'
  ) {
    return
  }
  const client: unknown = stripe.getApiField('httpClient')
  if (isHttpClient(client) && client[GUARDED] !== true) {
    stripe._setApiField('httpClient', guardedClient(client))
  }
}

// Shared by every copy of @cardport/stripe: two providers over one instance guard it once.
const GUARDED = Symbol.for('@cardport/stripe/guarded-http-client')

/** The part of the SDK's `HttpClient` and `HttpClientResponse` the guard touches. */
interface HttpClient {
  makeRequest(...args: unknown[]): Promise<HttpClientResponse>
  [GUARDED]?: true
}
interface HttpClientResponse {
  toJSON(): Promise<unknown>
}

/** Whether `value` looks like the SDK's `HttpClient`: the one method the guard wraps. */
function isHttpClient(value: unknown): value is HttpClient {
  return isObject(value) && typeof value.makeRequest === 'function'
}

/**
 * `client`, its responses guarded. The guard inherits from the original client, so that every
 * other method (`getClientName`, `dispose` …) and `instanceof Stripe.HttpClient` stay as they
 * were, whatever the SDK version; each response stays the SDK's own, its `toJSON` replaced.
 */
function guardedClient(client: HttpClient): HttpClient {
  return Object.create(client, {
    [GUARDED]: { value: true },
    makeRequest: {
      value: async (...args: unknown[]) => guardedResponse(await client.makeRequest(...args)),
    },
  })
}

function guardedResponse(response: HttpClientResponse): HttpClientResponse {
  // Set on the response itself: a wrapper object per response (`Object.create`) cost a reconcile
  // of 100,000 cards a fifth of its speed and 75 MB more heap at its peak (bench/reconcile.mjs).
  const toJSON = response.toJSON
  response.toJSON = async function guardedToJSON(this: HttpClientResponse) {
    const body = await toJSON.call(this)
    if (typeof body === 'object' && body !== null) return body
    // The body's type only: the body itself could be anything, a card number included.
    throw new TypeError(
      `The body is JSON ${body === null ? 'null' : `of type ${typeof body}`}, not an object`,
    )
  }
  return response
}
