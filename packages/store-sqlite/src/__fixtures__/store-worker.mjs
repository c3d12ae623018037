// A worker thread of store-workers.ts's inWorkers. For each task it is sent: opens its database,
// says it is ready, waits for the round's start flag, runs the task, and posts what it did and
// which calls threw, by code.
import { parentPort, workerData } from 'node:worker_threads'

const { bundle } = workerData
const { sqliteStore, migrate } = await import(bundle)
const { default: Database } = await import('better-sqlite3')
const flag = new Int32Array(workerData.start)
let round = 0

parentPort.on('message', async ({ task, filename, ...options }) => {
  const errors = {}
  const count = (error) => {
    const code = error?.code ?? error?.name ?? 'unknown'
    errors[code] = (errors[code] ?? 0) + 1
  }
  const ready = () => {
    parentPort.postMessage('ready')
    Atomics.wait(flag, 0, round)
    round++
  }
  if (task === 'upsert') {
    const store = sqliteStore({ filename })
    ready()
    let done = 0
    for (const card of options.cards) {
      try {
        await store.upsert(card)
        done++
      } catch (error) {
        count(error)
      }
    }
    await store.close()
    parentPort.postMessage({ done, errors })
  } else if (task === 'migrate') {
    const db = new Database(filename, { timeout: options.busyTimeoutMs })
    ready()
    let done = []
    try {
      done = migrate(db)
    } catch (error) {
      count(error)
    } finally {
      db.close()
    }
    parentPort.postMessage({ done, errors })
  }
})
