import { describe, expect, it } from 'vitest'
import { createFaultRunner, type Fault, type FaultContext } from './faults.js'
import { runRecorded } from './recorded-run.js'

const context: FaultContext = {
  route: 'POST /v1/things',
  target: 'POST /v1/things',
  errorResponse: (status, headers) => Response.json({ error: status }, { status, headers }),
}

/** The answer's type and status, the status recorded, and whether the emulator committed. */
async function run(fault?: Fault) {
  const faults = createFaultRunner()
  if (fault) faults.inject(fault)
  const record = { status: 0 }
  let committed = false
  const answer = await runRecorded(faults, context, record, async () => {
    committed = true
    return new Response('{}', { status: 201 })
  })
  return { type: answer.type, status: answer.status, recorded: record.status, committed }
}

describe('runRecorded', () => {
  it('records the status the emulator answered', async () => {
    expect(await run()).toEqual({ type: 'default', status: 201, recorded: 201, committed: true })
  })

  it('records an injected status, which the emulator never saw', async () => {
    expect(await run({ status: 503 })).toMatchObject({
      status: 503,
      recorded: 503,
      committed: false,
    })
  })

  it('records the status of an injected body', async () => {
    expect(await run({ body: '{}', status: 502 })).toMatchObject({ status: 502, recorded: 502 })
  })

  it('records 0 for a connection dropped before the commit', async () => {
    expect(await run({ drop: 'before-commit' })).toEqual({
      type: 'error',
      status: 0,
      recorded: 0,
      committed: false,
    })
  })

  it('records the committed status for a connection dropped after the commit', async () => {
    expect(await run({ drop: 'after-commit' })).toEqual({
      type: 'error',
      status: 0,
      recorded: 201,
      committed: true,
    })
  })
})
