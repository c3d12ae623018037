import { describe, expect, it } from 'vitest'
import { EXIT_CODES } from './exit-codes.js'
import { type ExitingProcess, exitProcess } from './exit-process.js'

/** A process that records what is done to it, and a timer that runs only when the test says. */
function fakeProcess(platform: NodeJS.Platform = 'linux') {
  const calls: string[] = []
  let fallback: (() => void) | undefined
  const target: ExitingProcess = {
    pid: 4242,
    platform,
    exitCode: undefined,
    removeAllListeners: (event) => calls.push(`removeAllListeners ${event}`),
    kill: (pid, signal) => calls.push(`kill ${pid} ${signal}`),
    exit: (code) => calls.push(`exit ${code}`),
  }
  const setTimer = (callback: () => void) => {
    fallback = callback
    return { unref: () => calls.push('unref') }
  }
  return { target, setTimer, calls, fallback: () => fallback?.() }
}

describe('exitProcess', () => {
  it.each([
    [EXIT_CODES.hangup, 'SIGHUP'],
    [EXIT_CODES.interrupted, 'SIGINT'],
    [EXIT_CODES.terminated, 'SIGTERM'],
  ] as const)(
    'after %i, dies by %s: its listeners removed first, then the signal to itself',
    (code, signal) => {
      const fake = fakeProcess()
      exitProcess(code, fake.target, fake.setTimer)
      expect(fake.calls).toEqual([`removeAllListeners ${signal}`, 'unref', `kill 4242 ${signal}`])
      // Had the process lived on, its event loop drained would end it with the code.
      expect(fake.target.exitCode).toBe(code)
    },
  )

  it('exits with the code if it is still alive when the fallback comes', () => {
    const fake = fakeProcess()
    exitProcess(EXIT_CODES.interrupted, fake.target, fake.setTimer)
    fake.fallback()
    expect(fake.calls.at(-1)).toBe('exit 130')
  })

  it('exits with the code when the signal cannot be sent', () => {
    const fake = fakeProcess()
    fake.target.kill = () => {
      throw Object.assign(new Error('kill ENOSYS'), { code: 'ENOSYS' })
    }
    exitProcess(EXIT_CODES.hangup, fake.target, fake.setTimer)
    expect(fake.calls.at(-1)).toBe('exit 129')
  })

  it('exits with the code on Windows, where a signal to itself would end it with exit 1', () => {
    const fake = fakeProcess('win32')
    exitProcess(EXIT_CODES.terminated, fake.target, fake.setTimer)
    expect(fake.calls).toEqual(['exit 143'])
  })

  it.each([0, 1, 2, 3, 4, 5])('exits with %i as it is', (code) => {
    const fake = fakeProcess()
    exitProcess(code, fake.target, fake.setTimer)
    expect(fake.calls).toEqual([`exit ${code}`])
  })
})
