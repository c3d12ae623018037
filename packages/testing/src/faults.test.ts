import { afterEach, describe, expect, it, vi } from 'vitest'
import { createFaultRunner, type Fault, type FaultContext } from './faults.js'

const context: FaultContext = {
  route: 'POST /v1/things',
  target: 'POST /v1/things',
  errorResponse: (status, headers) => Response.json({ error: status }, { status, headers }),
}

/** The status and `Retry-After` of each of `count` requests through a runner with `fault`. */
async function answers(fault: Fault, count: number) {
  const runner = createFaultRunner()
  runner.inject(fault)
  const seen: Array<[number, string | null]> = []
  for (let i = 0; i < count; i++) {
    const response = await runner.run(context, () => new Response('ok'))
    seen.push([response.status, response.headers.get('retry-after')])
  }
  return { seen, fired: runner.fired }
}

/** The status of each of `count` requests through a runner with `faults`, injected in order. */
async function statuses(faults: Fault[], count: number) {
  const runner = createFaultRunner()
  for (const fault of faults) runner.inject(fault)
  const seen: number[] = []
  for (let i = 0; i < count; i++) {
    seen.push((await runner.run(context, () => new Response('ok'))).status)
  }
  return { seen, fired: runner.fired }
}

/**
 * Runs one request on the fake clock and returns its status and how many milliseconds it took
 * (to the millisecond, up to `limit`).
 */
async function timed(runner: ReturnType<typeof createFaultRunner>, limit = 1000) {
  let answer: Response | undefined
  const pending = runner
    .run(context, () => new Response('ok'))
    .then((response) => {
      answer = response
    })
  let elapsed = 0
  await vi.advanceTimersByTimeAsync(0)
  while (!answer && elapsed < limit) {
    await vi.advanceTimersByTimeAsync(1)
    elapsed++
  }
  await pending
  return { status: answer?.status, ms: elapsed }
}

describe('createFaultRunner', () => {
  // A RegExp with the g or y flag keeps its lastIndex between test() calls: tested as it is, it
  // would miss every other matching request, and a test that expects the fault would pass
  // without it.
  it('matches every request a global or sticky RegExp route matches, not every other one', async () => {
    for (const route of [/^POST \/v1\/things$/g, /POST/y]) {
      const { seen, fired } = await statuses([{ route, status: 503, times: 3 }], 4)
      expect(seen, String(route)).toEqual([503, 503, 503, 200])
      expect(fired).toEqual([3])
    }
  })

  // The runner resets the lastIndex of its own copy: a caller may be using the RegExp too.
  it("leaves the lastIndex of a caller's RegExp route as it was", async () => {
    const route = /POST/g
    route.lastIndex = 3
    const { seen } = await statuses([{ route, status: 503, times: 2 }], 2)
    expect(seen).toEqual([503, 503])
    expect(route.lastIndex).toBe(3)
  })

  // A string route names one route of the emulator: a request of another route, made while the
  // fault is still due, must pass it by (a fault that took it would be used up there, and a test
  // that only calls the other route after the fault fired would not see it).
  it('fires a string route fault only for the route it names, while due for it', async () => {
    const runner = createFaultRunner()
    runner.inject({ route: 'GET /v1/things/:thing', status: 429 })
    const other = { ...context, route: 'GET /v1/others/:other', target: 'GET /v1/others/o_1' }
    expect((await runner.run(other, () => new Response('ok'))).status).toBe(200)
    expect(runner.fired).toEqual([0])
    const named = { ...context, route: 'GET /v1/things/:thing', target: 'GET /v1/things/t_1' }
    expect((await runner.run(named, () => new Response('ok'))).status).toBe(429)
    expect(runner.fired).toEqual([1])
  })

  // Retry now: a 0 given is a header to send, not a missing one.
  it('sends a retryAfter of 0 as Retry-After: 0', async () => {
    expect(await answers({ status: 429, retryAfter: 0 }, 2)).toEqual({
      seen: [
        [429, '0'],
        [200, null],
      ],
      fired: [1],
    })
  })

  // What `exactOptionalPropertyTypes` lets a caller write: `{ status: 503, times: maybeTimes }`.
  it('takes a fault field given as undefined as one not given', async () => {
    const unset = {
      route: undefined,
      times: undefined,
      after: undefined,
      latencyMs: undefined,
      retryAfter: undefined,
      body: undefined,
      drop: undefined,
    }
    expect(await answers({ ...unset, status: 503 }, 3)).toEqual(await answers({ status: 503 }, 3))
    expect(await answers({ ...unset, status: 503 }, 3)).toEqual({
      seen: [
        [503, null],
        [200, null],
        [200, null],
      ],
      fired: [1],
    })
    // With nothing else either, it is a fault that does nothing: refused, as below.
    expect(() => createFaultRunner().inject({ ...unset, status: undefined })).toThrow(TypeError)
  })

  // A fault that can never fire, or fires and does nothing, lets the test written around it
  // pass without it (as a route that names no route would): `inject` refuses it, naming the
  // field, rather than counting it in `fired` or answering what no server sends.
  it.each<[string, Record<string, unknown>, RegExp]>([
    ['nothing to do', {}, /latencyMs, status, body or drop/],
    ['a Retry-After alone', { retryAfter: 2 }, /latencyMs, status, body or drop/],
    ['a route alone', { route: /^GET / }, /latencyMs, status, body or drop/],
    ['times 0', { status: 500, times: 0 }, /times/],
    ['times -1', { status: 500, times: -1 }, /times/],
    ['times 1.5', { status: 500, times: 1.5 }, /times/],
    ['after -1', { status: 500, after: -1 }, /after/],
    ['after NaN', { status: 500, after: Number.NaN }, /after/],
    ['after Infinity', { status: 500, after: Number.POSITIVE_INFINITY }, /after/],
    ['latency NaN', { latencyMs: Number.NaN }, /latencyMs/],
    ['latency -5', { latencyMs: -5, status: 500 }, /latencyMs/],
    ['latency past setTimeout', { latencyMs: 2 ** 31 }, /latencyMs/],
    ['status 99', { status: 99 }, /status/],
    ['status 600', { status: 600 }, /status/],
    ['status 500.5', { status: 500.5 }, /status/],
    ['status as a string', { status: '500' }, /status/],
    ['a success status with the error body', { status: 200 }, /status/],
    ['status 399 with the error body', { status: 399 }, /status/],
    ['a redirect with the error body', { status: 304 }, /status/],
    ['Retry-After -1', { status: 429, retryAfter: -1 }, /retryAfter/],
    ['Retry-After 1.5', { status: 429, retryAfter: 1.5 }, /retryAfter/],
    ['Retry-After on a drop', { drop: 'before-commit', retryAfter: 2 }, /retryAfter/],
    ['an unknown drop', { drop: 'sometimes' }, /drop/],
    ['a drop and a status', { drop: 'before-commit', status: 500 }, /drop/],
    ['a drop and a body', { drop: 'after-commit', body: '{}' }, /drop/],
    ['a body that is no string', { body: {} }, /body/],
    ['a misspelt field', { status: 429, retry_after: 2 }, /retry_after/],
    ['a route that is neither', { route: 42, status: 500 }, /route/],
  ])('refuses a fault with %s, naming the field', (_, fault, field) => {
    const runner = createFaultRunner()
    expect(() => runner.inject(fault as Fault)).toThrow(TypeError)
    expect(() => runner.inject(fault as Fault)).toThrow(field)
    expect(runner.fired).toEqual([])
  })

  it('takes every fault the docs show', () => {
    const runner = createFaultRunner()
    for (const fault of [
      { status: 500 },
      { route: /^GET /, status: 429, retryAfter: 2, times: 3 },
      { latencyMs: 200, times: Number.POSITIVE_INFINITY },
      { drop: 'before-commit' as const },
      { drop: 'after-commit' as const, latencyMs: 10 },
      { status: 502, body: '{}', times: Number.POSITIVE_INFINITY },
      { body: 'null' },
      { status: 201, body: '{}' },
      { status: 503, retryAfter: 0, after: 2 },
      { body: '{}', retryAfter: 1 },
    ]) {
      runner.inject(fault)
    }
    expect(runner.fired).toHaveLength(10)
  })

  it('counts every matching call towards `after`, whether or not another fault fired for it', async () => {
    expect(await statuses([{ status: 500 }, { status: 503, after: 1 }], 3)).toEqual({
      seen: [500, 503, 200],
      fired: [1, 1],
    })
    // The later fault skips its first matching call even though the earlier one answered it.
    expect(
      await statuses(
        [
          { status: 500, times: 2 },
          { status: 503, after: 1 },
        ],
        4,
      ),
    ).toEqual({
      seen: [500, 500, 503, 200],
      fired: [2, 1],
    })
  })

  it('fires one outcome fault per call, the first injected of those due; the others wait', async () => {
    expect(await statuses([{ status: 500 }, { status: 503 }, { body: '{}' }], 4)).toEqual({
      seen: [500, 503, 200, 200],
      fired: [1, 1, 1],
    })
  })

  // A test holds an index into `fired`: removing an earlier fault must not hand it another
  // fault's count.
  it('keeps a removed fault in `fired`, with its count, so that later faults keep their index', async () => {
    const runner = createFaultRunner()
    const removeFirst = runner.inject({ status: 500, times: Infinity })
    runner.inject({ status: 503, after: 1 })
    const run = async () => (await runner.run(context, () => new Response('ok'))).status
    expect(await run()).toBe(500)
    removeFirst()
    expect(runner.fired).toEqual([1, 0])
    // Removed, the first fault (due for every call) fires no more: the second answers.
    expect(await run()).toBe(503)
    expect(runner.fired).toEqual([1, 1])
    // Removing it again changes nothing; a fault injected after it takes the next index.
    removeFirst()
    runner.inject({ status: 502 })
    expect(await run()).toBe(502)
    expect(runner.fired).toEqual([1, 1, 1])
    runner.inject({ status: 504, times: Infinity })
    expect([await run(), await run()]).toEqual([504, 504])
    expect(runner.fired).toEqual([1, 1, 1, 2])
  })

  it('numbers `fired` afresh after clear() and reset()', async () => {
    for (const end of ['clear', 'reset'] as const) {
      const runner = createFaultRunner()
      const remove = runner.inject({ status: 500 })
      runner.inject({ status: 503 })
      await runner.run(context, () => new Response('ok'))
      remove()
      runner[end]()
      expect(runner.fired, end).toEqual([])
      runner.inject({ status: 502 })
      await runner.run(context, () => new Response('ok'))
      expect(runner.fired, end).toEqual([1])
      // A function returned before clear() removes nothing injected after it.
      remove()
      expect(runner.fired, end).toEqual([1])
    }
  })

  describe('latency', () => {
    afterEach(() => {
      vi.useRealTimers()
    })

    it.each([
      ['injected before', [{ latencyMs: 100, times: Infinity }, { status: 500 }]],
      ['injected after', [{ status: 500 }, { latencyMs: 100, times: Infinity }]],
    ] as const)(
      'applies a latency fault on top of the fault that answers (%s it)',
      async (_, faults) => {
        vi.useFakeTimers({ toFake: ['setTimeout'] })
        const runner = createFaultRunner()
        for (const fault of faults) runner.inject(fault)
        expect(await timed(runner)).toEqual({ status: 500, ms: 100 })
        expect(await timed(runner)).toEqual({ status: 200, ms: 100 })
        expect(runner.fired).toEqual(faults.map((fault) => ('status' in fault ? 1 : 2)))
      },
    )

    // The races of the reliability suite give each request a latency fault, 0 ms included, and
    // count them in `fired`: a 0 given is a fault, not a missing one.
    it('takes a latencyMs of 0 as a fault that fires and is counted', async () => {
      vi.useFakeTimers({ toFake: ['setTimeout'] })
      const runner = createFaultRunner()
      runner.inject({ latencyMs: 0 })
      runner.inject({ latencyMs: 0, after: 1 })
      expect(await timed(runner)).toEqual({ status: 200, ms: 0 })
      expect(runner.fired).toEqual([1, 0])
      expect(await timed(runner)).toEqual({ status: 200, ms: 0 })
      expect(runner.fired).toEqual([1, 1])
    })

    it('adds up the latency of every fault that fires, and fires a latency fault once by default', async () => {
      vi.useFakeTimers({ toFake: ['setTimeout'] })
      const runner = createFaultRunner()
      runner.inject({ latencyMs: 30 })
      runner.inject({ latencyMs: 70, status: 503 })
      runner.inject({ latencyMs: 5, times: 2 })
      expect(await timed(runner)).toEqual({ status: 503, ms: 105 })
      expect(await timed(runner)).toEqual({ status: 200, ms: 5 })
      expect(await timed(runner)).toEqual({ status: 200, ms: 0 })
    })

    // Each latency passes inject()'s check, their sum does not: setTimeout would wait 1 ms
    // instead (with a warning), and the test written around a long wait would pass at once.
    it('refuses latencies that add up past what setTimeout can wait, with a RangeError', async () => {
      const runner = createFaultRunner()
      runner.inject({ latencyMs: 2 ** 31 - 1 })
      runner.inject({ latencyMs: 1 })
      await expect(runner.run(context, () => new Response('ok'))).rejects.toThrow(RangeError)
    })

    // A test that ends while a request waits out a latency of minutes: its afterEach's reset()
    // must end the wait, not leave a timer that keeps the test process alive for minutes.
    it('ends a latency wait at once on reset(), as a dropped connection, its timer cleared', async () => {
      vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
      const runner = createFaultRunner()
      runner.inject({ latencyMs: 10 * 60_000 })
      let committed = false
      let answer: Response | undefined
      const pending = runner
        .run(context, () => {
          committed = true
          return new Response('ok')
        })
        .then((response) => {
          answer = response
        })
      expect(vi.getTimerCount()).toBe(1)
      runner.reset()
      // Promise callbacks only: no fake time passes.
      await vi.advanceTimersByTimeAsync(0)
      expect(answer?.type).toBe('error')
      expect(vi.getTimerCount()).toBe(0)
      await pending
      expect(committed).toBe(false)
    })
  })
})
