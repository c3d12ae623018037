import type { Emulator } from '@cardport/testing/emulators'
import { getResponse, http } from 'msw'

/** An emulator whose answers in flight can be awaited. */
export interface TrackedEmulator<E extends Emulator> {
  /** The emulator with a first handler that sees (and answers) every request. */
  readonly emulator: E
  /**
   * Resolves once every request the emulator has started to answer is answered. A request the
   * client gave up on (a timeout) is still being answered: an injected latency delays the
   * emulator's commit, which lands after the client's error. Checks wait for it, so that they
   * compare against the provider's final state.
   */
  settled(): Promise<void>
  /**
   * Sets headers on every answer from now on, replacing the emulator's of the same name, as a
   * gateway in the way could (a request id, a `Retry-After`); `undefined` to stop. A dropped
   * connection stays dropped.
   */
  setAnswerHeaders(headers: Record<string, string> | undefined): void
}

/**
 * Wraps an emulator so that its answers in flight can be awaited. The first handler answers
 * every request from the emulator's own handlers (which stay in the list for the emulator
 * server's routing) and remembers the answer until it is complete.
 */
export function trackEmulator<E extends Emulator>(emulator: E): TrackedEmulator<E> {
  const inFlight = new Set<Promise<unknown>>()
  let answerHeaders: Record<string, string> | undefined
  const tracker = http.all(`${emulator.origin}/*`, ({ request }) => {
    const headers = answerHeaders
    const answer = getResponse(emulator.handlers, request).then((response) =>
      response && headers && response.type !== 'error' ? withHeaders(response, headers) : response,
    )
    inFlight.add(answer)
    const done = () => inFlight.delete(answer)
    answer.then(done, done)
    return answer
  })
  return {
    emulator: { ...emulator, handlers: [tracker, ...emulator.handlers] },
    async settled() {
      while (inFlight.size > 0) await Promise.allSettled([...inFlight])
    },
    setAnswerHeaders(headers) {
      answerHeaders = headers
    },
  }
}

/** `response` with `headers` set on it. */
function withHeaders(response: Response, headers: Record<string, string>): Response {
  const merged = new Headers(response.headers)
  for (const [name, value] of Object.entries(headers)) merged.set(name, value)
  return new Response(response.body, {
    status: response.status,
    statusText: response.statusText,
    headers: merged,
  })
}
