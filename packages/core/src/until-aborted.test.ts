import { describe, expect, it, vi } from 'vitest'
import { untilAborted } from './until-aborted.js'

/** A promise and the function that resolves it. */
function deferred<T>() {
  let resolve = (_value: T) => {}
  let reject = (_error: unknown) => {}
  const promise = new Promise<T>((done, fail) => {
    resolve = done
    reject = fail
  })
  return { promise, resolve, reject }
}

describe('untilAborted', () => {
  it('gives the answer of work that settles first, and leaves no listener on the signal', async () => {
    const stop = new AbortController()
    const remove = vi.spyOn(stop.signal, 'removeEventListener')
    const dropped = vi.fn()
    await expect(untilAborted(Promise.resolve('card'), stop.signal, dropped)).resolves.toBe('card')
    const failure = new Error('provider down')
    await expect(untilAborted(Promise.reject(failure), stop.signal, dropped)).rejects.toBe(failure)
    expect(remove).toHaveBeenCalledTimes(2)
    stop.abort(new Error('too late'))
    expect(dropped).not.toHaveBeenCalled()
  })

  it("rejects with the signal's reason at once, and gives work's later answer to dropped", async () => {
    const stop = new AbortController()
    const work = deferred<string>()
    const dropped = vi.fn()
    const waiting = untilAborted(work.promise, stop.signal, dropped)
    const reason = new Error('interrupted (SIGTERM)')
    stop.abort(reason)
    await expect(waiting).rejects.toBe(reason)
    expect(dropped).not.toHaveBeenCalled()
    work.resolve('opened')
    await vi.waitFor(() => expect(dropped).toHaveBeenCalledWith('opened'))
    expect(dropped).toHaveBeenCalledOnce()
  })

  it('gives dropped the answer of work begun after the signal aborted, and rejects at once', async () => {
    const stop = new AbortController()
    const reason = new Error('interrupted (SIGINT)')
    stop.abort(reason)
    const dropped = vi.fn()
    await expect(untilAborted(Promise.resolve('opened'), stop.signal, dropped)).rejects.toBe(reason)
    await vi.waitFor(() => expect(dropped).toHaveBeenCalledWith('opened'))
  })

  it('lets no failure out once aborted: of work, or of dropped (thrown, or rejected)', async () => {
    const unhandled = vi.fn()
    process.on('unhandledRejection', unhandled)
    try {
      for (const dropped of [
        undefined,
        () => {
          throw new Error('close failed')
        },
        () => Promise.reject(new Error('close failed')),
      ]) {
        for (const outcome of ['resolves', 'rejects'] as const) {
          const stop = new AbortController()
          const work = deferred<string>()
          const waiting = untilAborted(work.promise, stop.signal, dropped)
          stop.abort(new Error('stopped'))
          await expect(waiting).rejects.toThrow('stopped')
          if (outcome === 'resolves') work.resolve('opened')
          else work.reject(new Error('open failed'))
        }
      }
      // Two turns: long enough for Node to report a rejection no one handled.
      await new Promise((resolve) => setImmediate(resolve))
      await new Promise((resolve) => setImmediate(resolve))
      expect(unhandled).not.toHaveBeenCalled()
    } finally {
      process.off('unhandledRejection', unhandled)
    }
  })

  it('without a signal, is the work itself', () => {
    const work = Promise.resolve('card')
    expect(untilAborted(work, undefined)).toBe(work)
  })
})
