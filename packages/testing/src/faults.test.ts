import { describe, expect, it } from 'vitest'
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

describe('createFaultRunner', () => {
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
    // With no status either, the fault fires and changes nothing.
    expect(await answers({ ...unset, status: undefined }, 2)).toEqual({
      seen: [
        [200, null],
        [200, null],
      ],
      fired: [1],
    })
  })
})
