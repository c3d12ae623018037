#!/usr/bin/env node
// The `cardport` executable: runs the program on the process's arguments and exits with the
// code it returns (see exit-codes.ts), or dies by the signal that stopped it (exit-process.ts).
import type { CliContext } from './context.js'
import { exitAfterOutput } from './exit-after-output.js'
import { EXIT_CODES } from './exit-codes.js'
import { exitProcess } from './exit-process.js'
import { run } from './program.js'

async function main() {
  const context: CliContext = {
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    secrets: new Set(),
    exitCode: undefined,
  }
  // `cardport list | head` closes the pipe early: that is not an error worth a stack trace.
  // Any other failed write is reported once the command returns (see exitAfterOutput). A
  // command that outlives its reader (`cardport emulate | head -1`: the script has the URL and
  // wants the server) goes on: nothing it writes to stdout later can be read, nor is missed.
  let readerGone = false
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') return
    if (!context.outlivesItsReader) process.exit(EXIT_CODES.ok)
    readerGone = true
  })
  // A closed terminal (SIGHUP) fails every later write with EIO, `interrupted (SIGHUP)`
  // included: with no listener that write would throw, and Node's exit after it aborts the
  // process (a core dump) instead of letting it die by SIGHUP. Where stderr is gone, nothing
  // can be reported anyway.
  process.stderr.on('error', () => {})
  const code = await run(process.argv.slice(2), context)
  // Exit explicitly: keep-alive sockets and pools of the providers must not hold the process.
  // A command stopped by a signal has closed what it opened: the process now dies by it.
  // A stdout its reader closed is gone (a write to it now fails as destroyed): nothing to wait for.
  if (readerGone) exitProcess(code)
  else exitAfterOutput(process.stdout, process.stderr, code, (exitCode) => exitProcess(exitCode))
}

await main()
