import { describe, expect, it } from 'vitest'
import { keyedQueue } from './keyed-queue.js'

/** A task that records when it starts and ends, and settles when told. */
function gate(log: string[], name: string) {
  let open: (value: string) => void = () => {}
  let fail: (reason: Error) => void = () => {}
  const task = () => {
    log.push(`start ${name}`)
    return new Promise<string>((resolve, reject) => {
      open = (value) => {
        log.push(`end ${name}`)
        resolve(value)
      }
      fail = (reason) => {
        log.push(`end ${name}`)
        reject(reason)
      }
    })
  }
  return { task, open: (value = name) => open(value), fail: (reason: Error) => fail(reason) }
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 0))

describe('keyedQueue', () => {
  it('runs the tasks of one key one at a time, in call order', async () => {
    const run = keyedQueue()
    const log: string[] = []
    const [a, b, c] = ['a', 'b', 'c'].map((name) => gate(log, name))
    const results = [run('k', a!.task), run('k', b!.task), run('k', c!.task)]
    await tick()
    expect(log).toEqual(['start a'])
    a!.open()
    await tick()
    b!.open()
    await tick()
    c!.open()
    expect(await Promise.all(results)).toEqual(['a', 'b', 'c'])
    expect(log).toEqual(['start a', 'end a', 'start b', 'end b', 'start c', 'end c'])
  })

  it('runs the tasks of different keys at the same time', async () => {
    const run = keyedQueue()
    const log: string[] = []
    const [a, b] = ['a', 'b'].map((name) => gate(log, name))
    const results = [run('one', a!.task), run('two', b!.task)]
    await tick()
    expect(log).toEqual(['start a', 'start b'])
    b!.open()
    a!.open()
    expect(await Promise.all(results)).toEqual(['a', 'b'])
  })

  it('runs the next task after one that rejected, and gives the rejection to its caller only', async () => {
    const run = keyedQueue()
    const log: string[] = []
    const [a, b] = ['a', 'b'].map((name) => gate(log, name))
    const first = run('k', a!.task)
    const second = run('k', b!.task)
    await tick()
    a!.fail(new Error('declined'))
    await expect(first).rejects.toThrow('declined')
    await tick()
    b!.open()
    await expect(second).resolves.toBe('b')
  })

  it('runs a task that throws before returning a promise as a rejection, and goes on', async () => {
    const run = keyedQueue()
    const throws = (): Promise<string> => {
      throw new Error('bad input')
    }
    const queued = (): Promise<string> => Promise.resolve('next')
    const busy = gate([], 'busy')
    const first = run('k', busy.task)
    const second = run('k', throws)
    const third = run('k', queued)
    busy.open()
    await expect(first).resolves.toBe('busy')
    await expect(second).rejects.toThrow('bad input')
    await expect(third).resolves.toBe('next')
  })

  it('rejects a task that throws before returning a promise on an idle key, and keeps the key usable', async () => {
    const run = keyedQueue()
    let first: Promise<string> | undefined
    expect(() => {
      first = run('k', (): Promise<string> => {
        throw new Error('bad input')
      })
    }).not.toThrow()
    await expect(first).rejects.toThrow('bad input')
    await expect(run('k', () => Promise.resolve('next'))).resolves.toBe('next')
  })

  it('keeps a task queued behind a running one after the task before that settled', async () => {
    const run = keyedQueue()
    const log: string[] = []
    const [a, b, c] = ['a', 'b', 'c'].map((name) => gate(log, name))
    const results = [run('k', a!.task), run('k', b!.task)]
    await tick()
    a!.open()
    await tick()
    await tick()
    results.push(run('k', c!.task))
    await tick()
    expect(log).toEqual(['start a', 'end a', 'start b'])
    b!.open()
    await tick()
    expect(log).toEqual(['start a', 'end a', 'start b', 'end b', 'start c'])
    c!.open()
    expect(await Promise.all(results)).toEqual(['a', 'b', 'c'])
  })

  it('starts a task at once on a key with nothing in flight, and a key left idle again', async () => {
    const run = keyedQueue()
    const log: string[] = []
    const a = gate(log, 'a')
    const first = run('k', a.task)
    expect(log).toEqual(['start a'])
    a.open()
    await first
    await tick()
    const b = gate(log, 'b')
    const second = run('k', b.task)
    // Nothing in flight on the key: no earlier task to wait for, so no tick either.
    expect(log).toEqual(['start a', 'end a', 'start b'])
    b.open()
    await second
  })
})
