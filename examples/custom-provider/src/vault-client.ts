import { redactSecrets } from '@cardport/core'

/**
 * The `fetch` the adapter sends its requests with: the global one, or yours (a wrapper that
 * adds tracing, a fetch bound to a proxy agent …). Typed structurally, so that no HTTP
 * library's types reach the adapter's declaration files.
 */
export type VaultFetch = (url: string, init: RequestInit) => Promise<Response>

/**
 * What the vault answered with a status of 400 or more. Never holds the request's body, and
 * what it keeps of the request (its path) and of the answer (which may quote the request) has
 * card numbers and keys masked: the adapter keeps it as the `CardportError`'s `cause`, which
 * loggers print, and the path holds what the caller passed as a card id (a card number typed in
 * the wrong place, say).
 */
export class VaultApiError extends Error {
  override readonly name = 'VaultApiError'
  /** `METHOD /path` of the request, masked. */
  readonly target: string
  /** The vault's `error` object, its texts masked, or null when the body was not its JSON. */
  readonly body: {
    code?: string
    message?: string
    param?: string
    decline_reason?: string
  } | null

  constructor(
    target: string,
    readonly status: number,
    body: VaultApiError['body'],
    readonly requestId: string | undefined,
    /** `Retry-After` as sent. */
    readonly retryAfter: string | undefined,
  ) {
    const masked = redactSecrets(target)
    super(`${masked} answered ${status}${body?.code ? ` ${body.code}` : ''}`)
    this.target = masked
    this.body =
      body === null
        ? null
        : Object.fromEntries(
            Object.entries(body).map(([name, value]) => [name, redactSecrets(value)]),
          )
  }
}

/** The request never got an answer: connection refused or reset, DNS, timeout. */
export class VaultConnectionError extends Error {
  override readonly name = 'VaultConnectionError'
  /** `METHOD /path` of the request, masked as {@link VaultApiError.target} is. */
  readonly target: string

  constructor(
    target: string,
    readonly timedOut: boolean,
    cause: unknown,
  ) {
    const masked = redactSecrets(target)
    super(`${masked} got no answer${timedOut ? ' in time' : ''}`, { cause })
    this.target = masked
  }
}

/** One request to the vault: JSON in, JSON out, errors thrown as the two classes above. */
export type VaultRequest = <T>(
  method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE',
  path: string,
  options?: { query?: Record<string, string | number>; body?: unknown; idempotencyKey?: string },
) => Promise<T>

/**
 * A small JSON client over `fetch`. It does no retries: `withRetry` from core does, where the
 * caller decides that an operation is safe to repeat.
 */
export function createVaultClient(config: {
  baseUrl: string
  apiKey: string
  timeoutMs: number
  fetch?: VaultFetch | undefined
}): VaultRequest {
  return async (method, path, options = {}) => {
    const url = new URL(path, config.baseUrl)
    for (const [name, value] of Object.entries(options.query ?? {})) {
      url.searchParams.set(name, String(value))
    }
    const headers: Record<string, string> = {
      Authorization: `Bearer ${config.apiKey}`,
      Accept: 'application/json',
    }
    if (options.body !== undefined) headers['Content-Type'] = 'application/json'
    if (options.idempotencyKey) headers['Idempotency-Key'] = options.idempotencyKey
    const target = `${method} ${url.pathname}`

    // The global fetch is read on every call, not once in the factory: a test framework that
    // patches it later (MSW's `listen()`) still sees the adapter's requests.
    const send = config.fetch ?? globalThis.fetch
    let response: Response
    try {
      response = await send(url.href, {
        method,
        headers,
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
        signal: AbortSignal.timeout(config.timeoutMs),
      })
    } catch (error) {
      const timedOut = error instanceof Error && error.name === 'TimeoutError'
      throw new VaultConnectionError(target, timedOut, error)
    }

    if (response.status === 204) return undefined as never
    const text = await response.text()
    const json = parseJson(text)
    if (response.ok) return json as never
    throw new VaultApiError(
      target,
      response.status,
      errorBody(json),
      response.headers.get('x-request-id') ?? undefined,
      response.headers.get('retry-after') ?? undefined,
    )
  }
}

/** Whether a value is a plain object. */
export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** The vault's `error` object, keeping only its string fields. */
function errorBody(json: unknown): VaultApiError['body'] {
  if (!isObject(json) || !isObject(json.error)) return null
  const body: Record<string, string> = {}
  for (const name of ['code', 'message', 'param', 'decline_reason']) {
    const value = json.error[name]
    if (typeof value === 'string') body[name] = value
  }
  return body
}

function parseJson(text: string): unknown {
  try {
    return text === '' ? null : JSON.parse(text)
  } catch {
    return null
  }
}
