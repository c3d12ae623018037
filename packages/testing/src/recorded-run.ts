import type { FaultContext, FaultRunner } from './faults.js'

/**
 * Runs one request of an emulator through its fault runner and keeps, in the request's record
 * (what `state.requests()` returns), the status the answer carried: what the emulator answered,
 * or an injected status or body. A dropped connection has no status: the record keeps the one
 * the emulator committed before the drop, or 0 when it dropped before the commit, so that a
 * test can tell a change that was made from one that was not. @internal
 */
export async function runRecorded(
  faults: FaultRunner,
  context: FaultContext,
  record: { status: number },
  commit: () => Promise<Response>,
): Promise<Response> {
  const answer = await faults.run(context, async () => {
    const committed = await commit()
    // Kept when the connection then drops: the status the client never saw.
    record.status = committed.status
    return committed
  })
  if (answer.type !== 'error') record.status = answer.status
  return answer
}
