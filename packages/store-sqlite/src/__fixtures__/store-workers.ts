import { mkdtempSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { Worker } from 'node:worker_threads'
import { build } from 'esbuild'

const packages = fileURLToPath(new URL('../../../', import.meta.url))

/**
 * This package's source bundled into one ES module, for worker threads: a worker runs no
 * TypeScript, and Vitest's transform does not reach it. The workspace packages resolve to their
 * sources, as in the tests (see vitest.workspace.ts); better-sqlite3, a native module, is
 * imported from where it is installed. Returns the bundle's URL and a function that removes it.
 */
export async function bundleForWorkers(): Promise<{ url: string; remove: () => void }> {
  const outdir = mkdtempSync(join(tmpdir(), 'cardport-sqlite-bundle-'))
  const outfile = join(outdir, 'store-sqlite.mjs')
  const betterSqlite = pathToFileURL(createRequire(import.meta.url).resolve('better-sqlite3')).href
  await build({
    entryPoints: [join(packages, 'store-sqlite/src/index.ts')],
    outfile,
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    logLevel: 'silent',
    alias: { '@cardport/core': join(packages, 'core/src/index.ts') },
    plugins: [
      {
        name: 'better-sqlite3-where-installed',
        setup(plugin) {
          plugin.onResolve({ filter: /^better-sqlite3$/ }, () => ({
            path: betterSqlite,
            external: true,
          }))
        },
      },
    ],
  })
  return {
    url: pathToFileURL(outfile).href,
    remove: () => rmSync(outdir, { recursive: true, force: true }),
  }
}

/** What a worker of {@link inWorkers} does once all of them are ready (see store-worker.mjs). */
export type WorkerTask =
  | { task: 'upsert'; filename: string; cards: unknown[] }
  | { task: 'migrate'; filename: string; busyTimeoutMs: number }

/** What a worker of {@link inWorkers} answers: its task's result, or its errors by code. */
export interface WorkerReport {
  /** The upserts that resolved, or the versions `migrate()` applied. */
  done: number | number[]
  /** The calls that threw, by `code` (or name): `{}` when none did. */
  errors: Record<string, number>
}

/**
 * Runs rounds of tasks in worker threads, on the module at `bundle` (see
 * {@link bundleForWorkers}): in each round, the n-th task in the n-th worker (every round has as
 * many tasks as the first). Resolves with their reports, by round and in order. The tasks of a
 * round start together: each worker opens its database first, then waits on a shared flag that
 * is raised once every one of them is ready, so that they race in earnest rather than one after
 * another. The workers are started once, for every round: starting one costs ~100 ms.
 */
export async function inWorkers(bundle: string, rounds: WorkerTask[][]): Promise<WorkerReport[][]> {
  const start = new Int32Array(new SharedArrayBuffer(4))
  const workers = rounds[0]!.map(
    () =>
      new Worker(new URL('./store-worker.mjs', import.meta.url), {
        workerData: { bundle, start: start.buffer },
      }),
  )
  try {
    const messages = workers.map(inbox)
    const reports: WorkerReport[][] = []
    for (const [round, tasks] of rounds.entries()) {
      for (const [n, worker] of workers.entries()) worker.postMessage(tasks[n])
      await Promise.all(messages.map((next) => next()))
      Atomics.store(start, 0, round + 1)
      Atomics.notify(start, 0)
      reports.push((await Promise.all(messages.map((next) => next()))) as WorkerReport[])
    }
    return reports
  } finally {
    await Promise.all(workers.map((worker) => worker.terminate()))
  }
}

/** The messages of `worker` in order, one a call; an error, or an exit before it, rejects. */
function inbox(worker: Worker): () => Promise<unknown> {
  type Outcome = { message: unknown } | { error: unknown }
  const queue: Outcome[] = []
  const waiting: Array<(outcome: Outcome) => void> = []
  const settle = (outcome: Outcome) => {
    const next = waiting.shift()
    if (next) next(outcome)
    else queue.push(outcome)
  }
  worker.on('message', (message) => settle({ message }))
  worker.on('error', (error) => settle({ error }))
  worker.on('exit', (code) => settle({ error: new Error(`worker exited (${code})`) }))
  const unwrap = (outcome: Outcome) =>
    'message' in outcome ? outcome.message : Promise.reject(outcome.error)
  return async () => {
    const outcome = queue.shift() ?? (await new Promise<Outcome>((put) => waiting.push(put)))
    return unwrap(outcome)
  }
}
