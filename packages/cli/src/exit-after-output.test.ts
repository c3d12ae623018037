import { Writable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { exitAfterOutput } from './exit-after-output.js'
import { EXIT_CODES } from './exit-codes.js'

/** A stdout whose writes fail with `code`, as a full disk (ENOSPC) or a closed pipe (EPIPE). */
function failingStream(code: string) {
  return new Writable({
    write(_chunk, _encoding, callback) {
      callback(Object.assign(new Error(`${code}: write failed`), { code }))
    },
  }).on('error', () => {})
}

function finish(stdout: Writable, code: number) {
  const err: string[] = []
  return new Promise<{ code: number; stderr: string }>((resolve) => {
    exitAfterOutput(stdout, { write: (text: string) => err.push(text) }, code, (exitCode) =>
      resolve({ code: exitCode, stderr: err.join('') }),
    )
  })
}

describe('exitAfterOutput', () => {
  it('exits with the code once the output is written', async () => {
    const stdout = new Writable({ write: (_chunk, _encoding, callback) => callback() })
    stdout.write('[]\n')
    expect(await finish(stdout, EXIT_CODES.drift)).toEqual({ code: EXIT_CODES.drift, stderr: '' })
  })

  it('fails with one line when the output could not be written (a full disk)', async () => {
    const stdout = failingStream('ENOSPC')
    stdout.write('[]\n')
    expect(await finish(stdout, EXIT_CODES.ok)).toEqual({
      code: EXIT_CODES.failure,
      stderr: 'cardport: could not write the output (ENOSPC): it is incomplete\n',
    })
  })

  it.each([EXIT_CODES.hangup, EXIT_CODES.interrupted, EXIT_CODES.terminated])(
    'keeps the code %i of a stopped command when the output could not be written (a closed terminal)',
    async (code) => {
      // After SIGHUP a terminal fails every write with EIO: the command was stopped, its output
      // is incomplete and says so already; exiting 1 would lose the signal it must die by.
      const stdout = failingStream('EIO')
      stdout.write('x')
      expect(await finish(stdout, code)).toEqual({ code, stderr: '' })
    },
  )

  it('keeps the code when the reader closed the pipe (`| head`)', async () => {
    const stdout = failingStream('EPIPE')
    stdout.write('[]\n')
    expect(await finish(stdout, EXIT_CODES.ok)).toEqual({ code: EXIT_CODES.ok, stderr: '' })
  })
})
