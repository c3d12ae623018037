import { Readable } from 'node:stream'
import { HttpResponse, http, passthrough } from 'msw'
import {
  type Dispatcher,
  errors,
  interceptors,
  request,
  FormData as UndiciFormData,
  fetch as undiciFetch,
} from 'undici'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { rejection } from './__fixtures__/thrown.js'
import { stripeEmulator } from './stripe/stripe-emulator.js'
import { createUndiciBridge, UnhandledRequestError } from './undici-bridge.js'

const ORIGIN = 'https://api.bridge.test'

afterEach(() => {
  vi.restoreAllMocks()
})

/** Echoes what the handler received, so that tests can see the Request the bridge built. */
const echo = http.all(`${ORIGIN}/echo`, async ({ request }) => {
  const url = new URL(request.url)
  return HttpResponse.json(
    {
      method: request.method,
      search: url.search,
      contentType: request.headers.get('content-type'),
      custom: request.headers.get('x-custom'),
      body: request.method === 'GET' || request.method === 'HEAD' ? null : await request.text(),
    },
    { headers: { 'X-Answered-By': 'msw' } },
  )
})

/**
 * A handler of `GET /slow` that holds each request until released: `reached` resolves once a
 * request is in it, and `release()` lets it answer (too late, in the tests that use it).
 */
function heldHandler() {
  let release: () => void = () => {}
  let entered: () => void = () => {}
  const reached = new Promise<void>((resolve) => {
    entered = resolve
  })
  const handler = http.get(`${ORIGIN}/slow`, async () => {
    entered()
    await new Promise<void>((resolve) => {
      release = resolve
    })
    return HttpResponse.text('too late')
  })
  return { handler, reached, release: () => release() }
}

describe('createUndiciBridge', () => {
  it("answers undici's request() from an MSW handler", async () => {
    const dispatcher = createUndiciBridge({ handlers: [echo] })
    const response = await request(`${ORIGIN}/echo?a=1`, {
      dispatcher,
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-custom': 'yes' },
      body: JSON.stringify({ hello: 'world' }),
    })
    expect(response.statusCode).toBe(200)
    expect(response.headers['x-answered-by']).toBe('msw')
    expect(await response.body.json()).toEqual({
      method: 'POST',
      search: '?a=1',
      contentType: 'application/json',
      custom: 'yes',
      body: '{"hello":"world"}',
    })
  })

  it("answers undici's fetch() from an MSW handler, body stream included", async () => {
    const dispatcher = createUndiciBridge({ handlers: [echo] })
    const response = await undiciFetch(`${ORIGIN}/echo`, {
      dispatcher,
      method: 'PUT',
      headers: { 'x-custom': 'fetch' },
      body: new URLSearchParams({ name: 'Jenny Rosen' }),
    })
    expect(response.status).toBe(200)
    expect(response.headers.get('x-answered-by')).toBe('msw')
    expect(await response.json()).toMatchObject({
      method: 'PUT',
      custom: 'fetch',
      contentType: 'application/x-www-form-urlencoded;charset=UTF-8',
      body: 'name=Jenny+Rosen',
    })
  })

  it('reads every body form undici accepts, and the query option', async () => {
    const dispatcher = createUndiciBridge({ handlers: [echo] })
    const send = async (body: Dispatcher.DispatchOptions['body']) => {
      const response = await request(`${ORIGIN}/echo`, { dispatcher, method: 'POST', body })
      return ((await response.body.json()) as { body: string }).body
    }
    expect(await send('text')).toBe('text')
    expect(await send(Buffer.from('bytes'))).toBe('bytes')
    expect(await send(Readable.from(['str', 'eam']))).toBe('stream')

    // undici's own FormData class, which is not the global one.
    const form = new UndiciFormData()
    form.append('field', 'value')
    const multipart = await request(`${ORIGIN}/echo`, { dispatcher, method: 'POST', body: form })
    const seen = (await multipart.body.json()) as { contentType: string; body: string }
    expect(seen.contentType).toMatch(/^multipart\/form-data; boundary=/)
    expect(seen.body).toContain('name="field"')
    expect(seen.body).toContain('value')

    const query = await request(`${ORIGIN}/echo`, {
      dispatcher,
      query: { limit: 3, expand: ['a', 'b'] },
    })
    expect(await query.body.json()).toMatchObject({ search: '?limit=3&expand=a&expand=b' })
  })

  it('passes repeated response headers through, and sends no body for HEAD', async () => {
    const dispatcher = createUndiciBridge({
      handlers: [
        http.all(`${ORIGIN}/cookies`, () => {
          const headers = new Headers({ 'content-type': 'text/plain' })
          headers.append('set-cookie', 'a=1')
          headers.append('set-cookie', 'b=2')
          return new HttpResponse('cookies', { status: 201, headers })
        }),
      ],
    })
    const response = await request(`${ORIGIN}/cookies`, { dispatcher })
    expect(response.statusCode).toBe(201)
    expect(response.headers['set-cookie']).toEqual(['a=1', 'b=2'])
    expect(await response.body.text()).toBe('cookies')

    const head = await request(`${ORIGIN}/cookies`, { dispatcher, method: 'HEAD' })
    expect(head.statusCode).toBe(201)
    expect(await head.body.text()).toBe('')
  })

  it('follows the handler list of a function, so later changes apply', async () => {
    let handlers = [http.get(`${ORIGIN}/v`, () => HttpResponse.text('one'))]
    const dispatcher = createUndiciBridge({ handlers: () => handlers })
    expect(await (await request(`${ORIGIN}/v`, { dispatcher })).body.text()).toBe('one')
    handlers = [http.get(`${ORIGIN}/v`, () => HttpResponse.text('two'))]
    expect(await (await request(`${ORIGIN}/v`, { dispatcher })).body.text()).toBe('two')
  })

  it('fails an unhandled request, and says so on the console', async () => {
    const printed = vi.spyOn(console, 'error').mockImplementation(() => {})
    const dispatcher = createUndiciBridge({ handlers: [echo] })
    const error = await rejection(request(`${ORIGIN}/nothing-here`, { dispatcher }))
    expect(error).toBeInstanceOf(UnhandledRequestError)
    expect(error.code).toBe('CARDPORT_UNHANDLED_REQUEST')
    expect(error.message).toContain(`GET ${ORIGIN}/nothing-here`)
    expect(printed).toHaveBeenCalledWith(expect.stringContaining(`${ORIGIN}/nothing-here`))

    const viaFetch = await rejection(undiciFetch(`${ORIGIN}/nothing-here`, { dispatcher }))
    expect(viaFetch).toBeInstanceOf(TypeError)
    expect((viaFetch.cause as Error).message).toContain('No MSW handler answers')
  })

  it('takes onUnhandledRequest and passthrough given as undefined as not given', async () => {
    vi.spyOn(console, 'error').mockImplementation(() => {})
    const dispatcher = createUndiciBridge({
      handlers: [echo],
      onUnhandledRequest: undefined,
      passthrough: undefined,
    })
    const error = await rejection(request(`${ORIGIN}/nothing-here`, { dispatcher }))
    expect(error).toBeInstanceOf(UnhandledRequestError)
  })

  it('surfaces Response.error() as a dropped connection (UND_ERR_SOCKET)', async () => {
    const dispatcher = createUndiciBridge({
      handlers: [http.post(`${ORIGIN}/drop`, () => HttpResponse.error())],
    })
    const error = await rejection(request(`${ORIGIN}/drop`, { dispatcher, method: 'POST' }))
    expect(error).toBeInstanceOf(errors.SocketError)
    expect(error.code).toBe('UND_ERR_SOCKET')

    const viaFetch = await rejection(undiciFetch(`${ORIGIN}/drop`, { dispatcher, method: 'POST' }))
    expect(viaFetch).toBeInstanceOf(TypeError)
    expect(viaFetch.message).toBe('fetch failed')
    expect((viaFetch.cause as { code?: string }).code).toBe('UND_ERR_SOCKET')
  })

  it('refuses a header value undici cannot send, with its InvalidArgumentError, as an Agent does', async () => {
    const dispatcher = createUndiciBridge({ handlers: [echo] })
    for (const headers of [
      { 'idempotency-key': 'order\n42' },
      { 'user-agent': 'a\r\nX: 1' },
      { 'x-custom': 'a\x01b' },
      { 'x-custom': 'a\x7fb' },
    ]) {
      const error = await rejection(request(`${ORIGIN}/echo`, { dispatcher, headers }))
      expect(error).toBeInstanceOf(errors.InvalidArgumentError)
      expect(error.code).toBe('UND_ERR_INVALID_ARG')
      expect(error.message).toBe(`invalid ${Object.keys(headers)[0]} header`)
    }
  })

  it("drives undici 7's handler API, used by interceptors: a retry survives one drop", async () => {
    let calls = 0
    const dispatcher = createUndiciBridge({
      handlers: [
        http.get(`${ORIGIN}/flaky`, () => {
          calls++
          return calls === 1 ? HttpResponse.error() : HttpResponse.json({ calls })
        }),
      ],
    })
    const retrying = dispatcher.compose(
      interceptors.retry({ maxRetries: 2, minTimeout: 1, maxTimeout: 1, timeoutFactor: 1 }),
    )
    const response = await request(`${ORIGIN}/flaky`, { dispatcher: retrying })
    expect(await response.body.json()).toEqual({ calls: 2 })
  })

  // undici's retry interceptor reports a status to retry by throwing from onResponseEnd, which
  // a real client hands to onResponseError: without that, these requests never settle.
  describe('under interceptors.retry(), a retryable status', () => {
    const stripe = stripeEmulator()
    const headers = { authorization: 'Bearer sk_test_123' }
    /** A customer's URL, and a bridge to the emulator behind a retry interceptor. */
    const setup = (maxRetries: number) => {
      const customer = stripe.seed.customer()
      // maxTimeout caps every wait, Retry-After included, at 1 ms.
      const dispatcher = createUndiciBridge({ handlers: stripe.handlers }).compose(
        interceptors.retry({ maxRetries, minTimeout: 1, maxTimeout: 1, timeoutFactor: 1 }),
      )
      return { customer, url: `${stripe.origin}/v1/customers/${customer.id}`, dispatcher }
    }

    afterEach(() => {
      stripe.reset()
    })

    it('429 with Retry-After: retried, and settles with the answer', async () => {
      const { customer, url, dispatcher } = setup(3)
      stripe.faults.inject({ route: 'GET /v1/customers/:customer', status: 429, retryAfter: 1 })
      const response = await request(url, { dispatcher, headers })
      expect(response.statusCode).toBe(200)
      expect(await response.body.json()).toMatchObject({ id: customer.id })
      expect(stripe.state.requests().map((served) => served.status)).toEqual([429, 200])
    })

    it('a 503 fault: retried, and settles with the answer', async () => {
      const { url, dispatcher } = setup(3)
      stripe.faults.inject({ route: 'GET /v1/customers/:customer', status: 503 })
      const response = await request(url, { dispatcher, headers })
      expect(response.statusCode).toBe(200)
      await response.body.dump()
      expect(stripe.state.requests().map((served) => served.status)).toEqual([503, 200])
    })

    it('with the retries used up: rejects with the last status', async () => {
      const { url, dispatcher } = setup(2)
      stripe.faults.inject({ route: 'GET /v1/customers/:customer', status: 503, times: Infinity })
      const error = await rejection(request(url, { dispatcher, headers }))
      expect(error).toBeInstanceOf(errors.RequestRetryError)
      expect(error.statusCode).toBe(503)
      expect(stripe.state.requests().map((served) => served.status)).toEqual([503, 503, 503])
    })
  })

  it('honours pause and resume from an undici 7 handler', async () => {
    const dispatcher = createUndiciBridge({
      handlers: [
        http.get(`${ORIGIN}/chunks`, () => {
          const encoder = new TextEncoder()
          const stream = new ReadableStream<Uint8Array>({
            start(controller) {
              for (const part of ['a', 'b', 'c']) controller.enqueue(encoder.encode(part))
              controller.close()
            },
          })
          return new HttpResponse(stream)
        }),
      ],
    })
    const chunks: string[] = []
    /** Settles when the next chunk arrives: what a chunk's wait is for, however slow. */
    let chunkArrived = () => {}
    const nextChunk = () =>
      new Promise<void>((resolve) => {
        chunkArrived = resolve
      })
    let arrival = nextChunk()
    let control: Dispatcher.DispatchController | undefined
    const ended = new Promise<number>((resolve, reject) => {
      dispatcher.dispatch(
        { origin: ORIGIN, path: '/chunks', method: 'GET' },
        {
          onRequestStart(controller) {
            control = controller
          },
          onResponseStart(_controller, status) {
            expect(status).toBe(200)
          },
          onResponseData(controller, chunk) {
            chunks.push(chunk.toString())
            controller.pause()
            chunkArrived()
          },
          onResponseEnd() {
            resolve(chunks.length)
          },
          onResponseError(_controller, error) {
            reject(error)
          },
        },
      )
    })
    await arrival
    expect(chunks).toEqual(['a'])
    // Paused: a few turns of the event loop bring no more data.
    arrival = nextChunk()
    for (let turn = 0; turn < 5; turn++) await new Promise((resolve) => setImmediate(resolve))
    expect(chunks).toEqual(['a'])
    expect(control?.paused).toBe(true)
    control?.resume()
    await arrival
    expect(chunks).toEqual(['a', 'b'])
    arrival = nextChunk()
    control?.resume()
    await arrival
    expect(chunks).toEqual(['a', 'b', 'c'])
    control?.resume()
    expect(await ended).toBe(3)
  })

  it('streams a large body through request() with back-pressure, intact', async () => {
    const block = 'x'.repeat(16 * 1024)
    const dispatcher = createUndiciBridge({
      handlers: [
        http.get(`${ORIGIN}/large`, () => {
          let sent = 0
          const stream = new ReadableStream<Uint8Array>({
            pull(controller) {
              if (sent === 64) controller.close()
              else {
                controller.enqueue(new TextEncoder().encode(block))
                sent++
              }
            },
          })
          return new HttpResponse(stream)
        }),
      ],
    })
    const response = await request(`${ORIGIN}/large`, { dispatcher, highWaterMark: 1024 })
    const text = await response.body.text()
    expect(text.length).toBe(64 * block.length)
  })

  // A client that sets a long headersTimeout on every request: a timer left running for each
  // would keep the test process alive that long after its last test.
  it('clears the headersTimeout timer of a request once it is answered', async () => {
    const dispatcher = createUndiciBridge({ handlers: [echo] })
    const timers = () =>
      process.getActiveResourcesInfo().filter((resource) => resource === 'Timeout').length
    const before = timers()
    const response = await request(`${ORIGIN}/echo`, { dispatcher, headersTimeout: 60_000 })
    await response.body.dump()
    expect(timers()).toBe(before)
  })

  it('aborts a request that is waiting on its handler', async () => {
    const held = heldHandler()
    const dispatcher = createUndiciBridge({ handlers: [held.handler] })
    const controller = new AbortController()
    const pending = request(`${ORIGIN}/slow`, { dispatcher, signal: controller.signal })
    await held.reached
    controller.abort()
    const error = await rejection(pending)
    expect(error.name).toBe('AbortError')
    held.release()
  })

  it('turns an exception in a handler into a 500, as setupServer does', async () => {
    vi.spyOn(console, 'error').mockImplementation(() => {})
    const dispatcher = createUndiciBridge({
      handlers: [
        http.get(`${ORIGIN}/broken`, () => {
          throw new Error('handler bug')
        }),
      ],
    })
    const response = await request(`${ORIGIN}/broken`, { dispatcher })
    expect(response.statusCode).toBe(500)
    expect(await response.body.json()).toMatchObject({ name: 'Error', message: 'handler bug' })
  })

  it("sends 'warn'/'bypass' requests and passthrough() on to the passthrough dispatcher", async () => {
    const warned = vi.spyOn(console, 'warn').mockImplementation(() => {})
    // The "network" is another bridge: nothing leaves the process.
    const network = createUndiciBridge({
      handlers: [
        http.all(`${ORIGIN}/*`, async ({ request: r }) =>
          HttpResponse.text(`network ${r.method} ${await r.text()}`.trimEnd()),
        ),
      ],
    })
    const dispatcher = createUndiciBridge({
      handlers: [http.get(`${ORIGIN}/skip`, () => passthrough())],
      onUnhandledRequest: 'warn',
      passthrough: network,
    })
    const unhandled = await request(`${ORIGIN}/elsewhere`, {
      dispatcher,
      method: 'POST',
      body: 'payload',
    })
    expect(await unhandled.body.text()).toBe('network POST payload')
    expect(warned).toHaveBeenCalledWith(expect.stringContaining(`${ORIGIN}/elsewhere`))
    const skipped = await request(`${ORIGIN}/skip`, { dispatcher })
    expect(await skipped.body.text()).toBe('network GET')

    const nowhere = createUndiciBridge({ handlers: [], onUnhandledRequest: 'bypass' })
    const error = await rejection(request(`${ORIGIN}/elsewhere`, { dispatcher: nowhere }))
    expect(error.message).toContain('no passthrough dispatcher')
  })

  // passthrough() is the handler's answer, not an unhandled request: 'error' does not apply.
  it("sends passthrough() on under the default 'error' strategy, printing nothing", async () => {
    const printed = vi.spyOn(console, 'error').mockImplementation(() => {})
    const network = createUndiciBridge({
      handlers: [http.get(`${ORIGIN}/skip`, () => HttpResponse.text('network'))],
    })
    const dispatcher = createUndiciBridge({
      handlers: [http.get(`${ORIGIN}/skip`, () => passthrough())],
      passthrough: network,
    })
    const skipped = await request(`${ORIGIN}/skip`, { dispatcher })
    expect(await skipped.body.text()).toBe('network')
    expect(printed).not.toHaveBeenCalled()
  })

  it('aborts a request sent on to a passthrough dispatcher that has not answered yet', async () => {
    const held = heldHandler()
    const network = createUndiciBridge({ handlers: [held.handler] })
    const dispatcher = createUndiciBridge({
      handlers: [http.get(`${ORIGIN}/slow`, () => passthrough())],
      passthrough: network,
    })
    const controller = new AbortController()
    const pending = request(`${ORIGIN}/slow`, { dispatcher, signal: controller.signal })
    await held.reached
    controller.abort()
    const error = await rejection(pending)
    expect(error.name).toBe('AbortError')
    held.release()
  })

  // undici reads a headersTimeout of 0 as no timeout at all.
  it('takes a headersTimeout of 0 as no timeout', async () => {
    const dispatcher = createUndiciBridge({
      handlers: [
        http.get(`${ORIGIN}/late`, async () => {
          await new Promise((resolve) => setTimeout(resolve, 20))
          return HttpResponse.text('late')
        }),
      ],
    })
    const response = await request(`${ORIGIN}/late`, { dispatcher, headersTimeout: 0 })
    expect(response.statusCode).toBe(200)
    expect(await response.body.text()).toBe('late')
  })

  it('calls nothing more on a handler aborted while its body is read, nor asks MSW', async () => {
    let answered = 0
    const dispatcher = createUndiciBridge({
      handlers: [
        http.post(`${ORIGIN}/upload`, () => {
          answered++
          return HttpResponse.text('too late')
        }),
      ],
    })
    let bodyStarted: () => void = () => {}
    let endBody: () => void = () => {}
    const started = new Promise<void>((resolve) => {
      bodyStarted = resolve
    })
    async function* body() {
      yield 'part'
      bodyStarted()
      await new Promise<void>((resolve) => {
        endBody = resolve
      })
    }
    const calls: string[] = []
    dispatcher.dispatch(
      { origin: ORIGIN, path: '/upload', method: 'POST', body: Readable.from(body()) },
      {
        onRequestStart: (controller) => {
          calls.push('start')
          void started.then(() => controller.abort(new errors.RequestAbortedError()))
        },
        onResponseStart: () => calls.push('response start'),
        onResponseData: () => calls.push('data'),
        onResponseEnd: () => calls.push('end'),
        onResponseError: (_controller, error) => calls.push(`error ${error.name}`),
      },
    )
    await started
    endBody()
    await dispatcher.close()
    expect(calls).toEqual(['start', 'error AbortError'])
    expect(answered).toBe(0)
  })

  it('calls nothing more on a handler aborted while its MSW handler answers', async () => {
    const held = heldHandler()
    const dispatcher = createUndiciBridge({ handlers: [held.handler] })
    const calls: string[] = []
    dispatcher.dispatch(
      { origin: ORIGIN, path: '/slow', method: 'GET' },
      {
        onRequestStart: (controller) => {
          calls.push('start')
          void held.reached.then(() => controller.abort(new errors.RequestAbortedError()))
        },
        onResponseStart: () => calls.push('response start'),
        onResponseData: () => calls.push('data'),
        onResponseEnd: () => calls.push('end'),
        onResponseError: (_controller, error) => calls.push(`error ${error.name}`),
      },
    )
    await held.reached
    held.release()
    await dispatcher.close()
    expect(calls).toEqual(['start', 'error AbortError'])
  })

  it('resolves close() only once every request under way has settled', async () => {
    const releases: Array<() => void> = []
    const dispatcher = createUndiciBridge({
      handlers: [
        http.get(`${ORIGIN}/slow`, async () => {
          await new Promise<void>((resolve) => releases.push(resolve))
          return HttpResponse.text('done')
        }),
      ],
    })
    const first = request(`${ORIGIN}/slow`, { dispatcher })
    const second = request(`${ORIGIN}/slow`, { dispatcher })
    while (releases.length < 2) await new Promise((resolve) => setImmediate(resolve))
    let closed = false
    const closing = dispatcher.close().then(() => {
      closed = true
    })
    releases[0]?.()
    await (await first).body.text()
    for (let turn = 0; turn < 5; turn++) await new Promise((resolve) => setImmediate(resolve))
    expect(closed).toBe(false)
    releases[1]?.()
    await (await second).body.text()
    await closing
    expect(closed).toBe(true)
  })

  it('fails a request under way on destroy(), with ClientDestroyedError', async () => {
    const held = heldHandler()
    const dispatcher = createUndiciBridge({ handlers: [held.handler] })
    const pending = request(`${ORIGIN}/slow`, { dispatcher })
    await held.reached
    const destroyed = dispatcher.destroy()
    const error = await rejection(pending)
    expect(error.code).toBe('UND_ERR_DESTROYED')
    held.release()
    await destroyed
  })

  it('fails a request under way with the reason given to destroy(err), as undici does', async () => {
    const held = heldHandler()
    const dispatcher = createUndiciBridge({ handlers: [held.handler] })
    const pending = request(`${ORIGIN}/slow`, { dispatcher })
    await held.reached
    const reason = new Error('shutting down')
    const destroyed = dispatcher.destroy(reason)
    expect(await rejection(pending)).toBe(reason)
    held.release()
    await destroyed
  })

  it("stays destroyed through a later close(), which fails as undici's own does", async () => {
    const dispatcher = createUndiciBridge({ handlers: [echo] })
    await dispatcher.destroy()
    const closing = await rejection(dispatcher.close())
    expect(closing).toBeInstanceOf(errors.ClientDestroyedError)
    const error = await rejection(request(`${ORIGIN}/echo`, { dispatcher }))
    expect(error.code).toBe('UND_ERR_DESTROYED')
  })

  it('refuses requests once closed', async () => {
    const dispatcher = createUndiciBridge({ handlers: [echo] })
    await dispatcher.close()
    const error = await rejection(request(`${ORIGIN}/echo`, { dispatcher }))
    expect(error.code).toBe('UND_ERR_CLOSED')
  })
})
