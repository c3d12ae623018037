/**
 * The requests `startEmulatorServer()` hands to its emulators, each with the signal its
 * `close()` aborts. The emulators give it to their fault runner (`FaultContext.signal`), so that
 * closing the server ends the latency waits of its own requests, and of no other: a request that
 * MSW intercepted in-process keeps waiting even when its client aborts, as a server would go on
 * with a request whose client gave up. @internal
 */
const closeSignals = new WeakMap<Request, AbortSignal>()

/** Marks `request` as served by an emulator server that aborts `signal` when it closes. @internal */
export function markServed(request: Request, signal: AbortSignal): void {
  closeSignals.set(request, signal)
}

/** The close signal of the server serving `request`, or `undefined` for any other request. @internal */
export function serverCloseSignal(request: Request): AbortSignal | undefined {
  return closeSignals.get(request)
}
