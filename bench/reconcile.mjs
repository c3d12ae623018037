// Benchmark 4: reconcile. `createCardSync({ provider, store }).reconcile(owners, { concurrency })`
// brings every card of 10,000 Stripe customers (100,000 cards, 10 each) from the Stripe emulator
// (served on loopback in a child process, seeded through its seed API) into memoryStore,
// sqliteStore (a temp file) and postgresStore (127.0.0.1:5432, db `test`, a schema of its own,
// dropped after). Cards/s against a baseline over the same data and the same server that only
// pages the provider (the bare SDK, each owner's cards 100 per page) and bulk-inserts with the
// raw driver (better-sqlite3: a prepared INSERT in a transaction per 1,000 rows, WAL with every
// commit synced as the store's own file is; pg: one
// multi-row INSERT per 1,000 rows; memory: a Map). Also the resident memory growth of the
// process while it runs (`rss` sampled every 10 ms, max minus start).
// Targets: ≥ 0.7× the baseline's cards/s; RSS growth under 64 MB.
//
// The emulator spends 1-3 ms of CPU on each list request, more than either client: measured
// against it directly, both sides wait for it and the ratio measures the emulator. So by
// default (`--server recorded`) a recording front sits before it: a first pass of each side
// (into the memory store, reported as the live-emulator figures) goes through and records
// every answer, and the measured runs get those same bytes back from the front.
// `--server live` measures every store against the emulator itself.
//
// Each (store, side) runs in a fresh child process, so that one run's heap does not hide the
// next one's growth, and the emulator's memory is not counted. Each store is measured in
// `--rounds` rounds (each side once a round, the order alternating, into a fresh file or schema):
// the ratio is the median round's, and every round's ratio is printed, the noise with it. The
// RSS growth reported is the largest of the rounds.
//
// Before anything is measured, each side reconciles the first WARM_UP_OWNERS owners into the
// memory store straight from the emulator (not through the recording front: nothing is
// recorded), and that pass is thrown away. A fresh emulator is slower on the first requests of a
// kind it answers, and the two sides send different ones (a list of sources; a customer with its
// sources): without it, the live-emulator figure (one pass of each side, baseline first) and the
// first round would favour the side that runs second.
//
// Flags: --cards 100000 (10 per owner), --concurrency 8, --stores memory,sqlite,postgres,
// --server recorded|live, --rounds 3
import { fork } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { CARD_COLUMNS } from '@cardport/core'
import { spawnEmulatorServer } from './emulator-process.mjs'
import { main } from './lib.mjs'

const self = fileURLToPath(import.meta.url)
const CARDS_PER_OWNER = 10
const WARM_UP_OWNERS = 1000
const SPEED = { text: '≥ 0.7× baseline', met: (ratio) => ratio >= 0.7 }
const MEMORY = { text: '< 64 MB', met: (mb) => mb < 64 }
// BENCH_PG_PORT points elsewhere (to try the skip line, or another server).
const PG = {
  host: '127.0.0.1',
  port: Number(process.env.BENCH_PG_PORT ?? 5432),
  user: 'postgres',
  database: 'test',
}

export async function run({
  cards = 100_000,
  concurrency = 8,
  stores = 'memory,sqlite,postgres',
  server: mode = 'recorded',
  rounds = 3,
} = {}) {
  if (mode !== 'recorded' && mode !== 'live') throw new Error('--server is recorded or live')
  const owners = Math.ceil(cards / CARDS_PER_OWNER)
  const total = owners * CARDS_PER_OWNER
  const wanted = String(stores).split(',')
  console.log(
    `\nreconcile: ${total.toLocaleString('en-US')} cards of ${owners.toLocaleString('en-US')} Stripe customers, concurrency ${concurrency}, ${mode} server, ${rounds} rounds`,
  )
  const server = await spawnEmulatorServer({
    kind: 'stripe-owners',
    owners,
    cardsPerOwner: CARDS_PER_OWNER,
    record: mode === 'recorded',
  })
  console.log(`  emulator seeded in ${(server.seedMs / 1000).toFixed(1)} s at ${server.url}`)
  const dir = mkdtempSync(join(tmpdir(), 'cardport-bench-'))
  const schema = `cardport_bench_${process.pid}`
  const schemas = []
  const results = []
  const skipped = []
  try {
    const warmUp = server.customerIds.slice(0, WARM_UP_OWNERS)
    const emulatorPort = Number(new URL(server.emulatorUrl ?? server.url).port)
    const warmedAt = performance.now()
    for (const side of ['baseline', 'cardport']) {
      const config = { store: 'memory', side, port: emulatorPort, concurrency, dir, schema }
      await worker({ ...config, total: warmUp.length * CARDS_PER_OWNER, round: 0 }, warmUp)
    }
    console.log(
      `  warm-up (not measured): ${warmUp.length.toLocaleString('en-US')} owners a side from the emulator in ${((performance.now() - warmedAt) / 1000).toFixed(1)} s`,
    )
    if (mode === 'recorded') {
      // The first pass of each side goes through to the live emulator and records its answers;
      // it is a measurement too (into the memory store), of a server-bound run.
      const config = {
        store: 'memory',
        port: server.port,
        concurrency,
        total,
        dir,
        schema,
        round: 0,
      }
      const sides = {}
      for (const side of ['baseline', 'cardport']) {
        sides[side] = await worker({ ...config, side }, server.customerIds)
      }
      const live = {
        ...summarize('memory', sides.cardport, sides.baseline),
        title: 'reconcile into memory, live emulator (first pass, recording)',
        informational: true,
      }
      print(live)
      results.push(live)
    }
    let pgError
    if (wanted.includes('postgres')) pgError = await postgresUnreachable()
    for (const [index, store] of wanted.entries()) {
      if (store === 'postgres' && pgError) {
        const line = `reconcile postgres: skipped, no PostgreSQL at ${PG.host}:${PG.port} (${pgError})`
        console.log(`  ${line}`)
        skipped.push({ title: 'reconcile into postgres', skipped: line })
        continue
      }
      const measured = []
      for (let round = 0; round < Number(rounds); round++) {
        // A schema (PostgreSQL) and files (SQLite) of the round's own: each run starts empty.
        const roundSchema = `${schema}_${round}`
        const config = {
          store,
          port: server.port,
          concurrency,
          total,
          dir,
          round,
          schema: roundSchema,
        }
        if (store === 'postgres') schemas.push(config.schema)
        // Baseline first in one round, cardport first in the next: neither always runs warmer.
        const first = (index + round) % 2 === 0 ? 'baseline' : 'cardport'
        const order = first === 'baseline' ? ['baseline', 'cardport'] : ['cardport', 'baseline']
        const sides = {}
        for (const side of order) {
          sides[side] = await worker({ ...config, side }, server.customerIds)
        }
        measured.push(summarize(store, sides.cardport, sides.baseline))
      }
      const result = { ...medianRound(measured), server: mode }
      print(result)
      results.push(result)
    }
  } finally {
    await server.close()
    rmSync(dir, { recursive: true, force: true })
    for (const name of schemas) await dropSchema(name)
  }
  return [...results, ...skipped]
}

/**
 * The round whose ratio is the median (the lower middle one for an even count), with every
 * round's ratio, and the largest RSS growth of the rounds.
 */
function medianRound(rounds) {
  const sorted = [...rounds].sort((a, b) => a.ratio - b.ratio)
  const median = sorted[Math.floor((sorted.length - 1) / 2)]
  const rssGrowthMb = Math.max(...rounds.map((round) => round.rssGrowthMb))
  return {
    ...median,
    roundRatios: rounds.map((round) => round.ratio),
    rssGrowthMb,
    memoryMet: MEMORY.met(rssGrowthMb),
  }
}

function summarize(store, cardport, baseline) {
  const ratio = cardport.cardsPerSecond / baseline.cardsPerSecond
  return {
    title: `reconcile into ${store}`,
    store,
    cards: cardport.cards,
    candidate: { name: `CardSync.reconcile → ${store}Store`, ...cardport },
    baseline: { name: baselineName(store), ...baseline },
    ratio,
    target: SPEED.text,
    met: SPEED.met(ratio),
    rssGrowthMb: cardport.rssGrowthMb,
    memoryTarget: MEMORY.text,
    memoryMet: MEMORY.met(cardport.rssGrowthMb),
  }
}

function baselineName(store) {
  if (store === 'memory') return 'bare SDK pages → Map'
  if (store === 'sqlite') return 'bare SDK pages → better-sqlite3 bulk INSERT'
  return 'bare SDK pages → pg multi-row INSERT'
}

function print(result) {
  const line = (side) =>
    `  ${side.name.padEnd(46)} ${Math.round(side.cardsPerSecond).toLocaleString('en-US').padStart(7)} cards/s  ${(side.ms / 1000).toFixed(1).padStart(6)} s  RSS +${side.rssGrowthMb.toFixed(1)} MB (heap +${side.heapGrowthMb.toFixed(1)} MB)  ${side.requests.toLocaleString('en-US')} requests  CPU ${Math.round(side.cpuShare * 100)}%`
  const rounds = result.roundRatios
  console.log(`\n${result.title} (${result.cards.toLocaleString('en-US')} cards)`)
  if (rounds) console.log(`  the median round of ${rounds.length}:`)
  console.log(line(result.candidate))
  console.log(line(result.baseline))
  const perRound = rounds
    ? ` (per round: ${rounds.map((ratio) => ratio.toFixed(2)).join(', ')})`
    : ''
  const largest = rounds ? ', the largest of the rounds' : ''
  console.log(
    `  ratio ${result.ratio.toFixed(3)}${perRound}  (target ${SPEED.text}: ${result.met ? 'met' : 'NOT met'});` +
      ` RSS growth ${result.rssGrowthMb.toFixed(1)} MB${largest}  (target ${MEMORY.text}: ${result.memoryMet ? 'met' : 'NOT met'})`,
  )
}

/** Runs one (store, side) in a fresh process and returns what it measured. */
async function worker(config, customerIds) {
  const child = fork(self, ['--worker'], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    // BENCH_WORKER_CPU_PROF=<dir> profiles the workers (node --cpu-prof).
    execArgv: [
      '--expose-gc',
      ...(process.env.BENCH_WORKER_CPU_PROF
        ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_WORKER_CPU_PROF]
        : []),
    ],
  })
  const exited = once(child, 'exit').then(([code]) => {
    throw new Error(`reconcile worker (${config.store}, ${config.side}) exited with ${code}`)
  })
  child.send({ config, customerIds })
  const [message] = await Promise.race([once(child, 'message'), exited])
  exited.catch(() => {})
  await once(child, 'exit').catch(() => {})
  if (message.error)
    throw new Error(`reconcile worker (${config.store}, ${config.side}): ${message.error}`)
  return message
}

async function postgresUnreachable() {
  const { default: pg } = await import('pg')
  const client = new pg.Client({ ...PG, connectionTimeoutMillis: 3000 })
  try {
    await client.connect()
    await client.query('SELECT 1')
    return undefined
  } catch (error) {
    return error instanceof Error ? error.message : String(error)
  } finally {
    await client.end().catch(() => {})
  }
}

async function dropSchema(schema) {
  const { default: pg } = await import('pg')
  const client = new pg.Client({ ...PG, connectionTimeoutMillis: 3000 })
  try {
    await client.connect()
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
  } catch {
    // Unreachable: nothing was created.
  } finally {
    await client.end().catch(() => {})
  }
}

// ---- the worker ----------------------------------------------------------------------------

async function runWorker({ config, customerIds }) {
  const { STRIPE_API_VERSION, stripeProvider } = await import('@cardport/stripe')
  const { default: Stripe } = await import('stripe')
  let requests = 0
  const stripe = new Stripe('sk_test_cardport_bench', {
    apiVersion: STRIPE_API_VERSION,
    host: '127.0.0.1',
    port: config.port,
    protocol: 'http',
    maxNetworkRetries: 0,
  })
  stripe.on('request', () => requests++)
  const owners = customerIds.map((id) => ({ type: 'customer', id }))
  const target =
    config.side === 'cardport'
      ? await cardportTarget(config, stripeProvider({ stripe, maxNetworkRetries: 0 }))
      : await baselineTarget(config, stripe)
  try {
    globalThis.gc?.()
    const memory = sampleMemory()
    const cpu = process.cpuUsage()
    const started = performance.now()
    await target.run(owners)
    const ms = performance.now() - started
    const { user, system } = process.cpuUsage(cpu)
    const used = memory.stop()
    const cards = await target.count()
    if (cards !== config.total) {
      throw new Error(`${config.side} stored ${cards} cards, the emulator holds ${config.total}`)
    }
    // The share of the run this process was on a CPU: the rest it waited for the emulator
    // (or the database).
    const cpuShare = (user + system) / 1000 / ms
    return { cards, ms, cardsPerSecond: cards / (ms / 1000), requests, cpuShare, ...used }
  } finally {
    await target.close()
  }
}

/** CardSync over the adapter and a cardport store. */
async function cardportTarget(config, provider) {
  const { createCardSync, memoryStore } = await import('@cardport/core')
  let store
  let count
  let close = async () => {}
  if (config.store === 'memory') {
    store = memoryStore()
    count = async (owners) => {
      let n = 0
      for (const owner of owners) {
        n += (await store.listByOwner({ provider: 'stripe', owner })).length
      }
      return n
    }
  } else if (config.store === 'sqlite') {
    const { sqliteStore } = await import('@cardport/store-sqlite')
    const { default: Database } = await import('better-sqlite3')
    const filename = join(config.dir, `cardport-${config.round}.db`)
    store = sqliteStore({ filename })
    count = async () => {
      const db = new Database(filename, { readonly: true })
      try {
        return db.prepare('SELECT count(*) AS n FROM cardport_cards').get().n
      } finally {
        db.close()
      }
    }
    close = () => store.close()
  } else {
    const { postgresStore } = await import('@cardport/store-postgres')
    const { default: pg } = await import('pg')
    const pool = new pg.Pool({ ...PG, max: 10 })
    store = await postgresStore({ client: pool, schema: config.schema })
    count = async () => {
      const { rows } = await pool.query(
        `SELECT count(*)::int AS n FROM "${config.schema}".cardport_cards`,
      )
      return rows[0].n
    }
    close = async () => {
      await store.close()
      await pool.end()
    }
  }
  const sync = createCardSync({ provider, store })
  let owners
  return {
    async run(list) {
      owners = list
      const report = await sync.reconcile(list, { concurrency: config.concurrency })
      if (report.counts.failed > 0) {
        const [first] = report.failed
        throw new Error(
          `${report.counts.failed} owners failed, first: ${first.code} ${first.message}`,
        )
      }
    },
    count: () => count(owners),
    close,
  }
}

/** The raw alternative: the bare SDK's pages, mapped by hand, bulk-inserted with the driver. */
async function baselineTarget(config, stripe) {
  const insert = await bulkInserter(config)
  let buffer = []
  const flush = async () => {
    if (buffer.length === 0) return
    const rows = buffer
    buffer = []
    await insert.rows(rows)
  }
  return {
    async run(owners) {
      let next = 0
      const worker = async () => {
        while (next < owners.length) {
          const owner = owners[next++]
          let startingAfter
          do {
            const params = { object: 'card', limit: 100 }
            if (startingAfter) params.starting_after = startingAfter
            const page = await stripe.customers.listSources(owner.id, params)
            for (const card of page.data) buffer.push(toRow(card, owner))
            if (buffer.length >= 1000) await flush()
            startingAfter = page.has_more ? page.data.at(-1)?.id : undefined
          } while (startingAfter)
        }
      }
      await Promise.all(Array.from({ length: config.concurrency }, worker))
      await flush()
    },
    count: () => insert.count(),
    close: () => insert.close(),
  }
}

/**
 * What an application would write by hand, in the stores' table layout (`CARD_COLUMNS`): no
 * validation, no default (not in the list).
 */
function toRow(card, owner) {
  return [
    'stripe',
    owner.type,
    owner.id,
    card.id,
    String(card.brand).toLowerCase(),
    card.last4,
    card.exp_month,
    card.exp_year,
    card.name,
    card.address_line1,
    card.address_line2,
    card.address_city,
    card.address_state,
    card.address_zip,
    card.address_country,
    card.country,
    card.fingerprint,
    card.funding,
    JSON.stringify({
      cvc: card.cvc_check,
      addressLine1: card.address_line1_check,
      postalCode: card.address_zip_check,
    }),
    null,
    false,
    'active',
    JSON.stringify(card.metadata ?? {}),
    null,
  ]
}

async function bulkInserter(config) {
  if (config.store === 'memory') {
    const map = new Map()
    return {
      rows: async (rows) => {
        for (const row of rows) map.set(`${row[2]}\u0000${row[3]}`, row)
      },
      count: async () => map.size,
      close: async () => {},
    }
  }
  if (config.store === 'sqlite') {
    const { default: Database } = await import('better-sqlite3')
    const db = new Database(join(config.dir, `baseline-${config.round}.db`))
    db.pragma('journal_mode = WAL')
    // As the store syncs the file it opens: better-sqlite3 builds SQLite to sync a WAL only at
    // checkpoints (synchronous = NORMAL), which the store turns up to FULL so that a power loss
    // loses no commit. The baseline gives the same guarantee, or it measures fewer fsyncs.
    db.pragma('synchronous = FULL')
    db.exec(`CREATE TABLE baseline_cards (
      ${CARD_COLUMNS.map((column) => `${column} ${/exp_|is_default/.test(column) ? 'INTEGER' : 'TEXT'}`).join(', ')},
      PRIMARY KEY (provider, owner_type, owner_id, card_id)
    )`)
    const statement = db.prepare(
      `INSERT INTO baseline_cards (${CARD_COLUMNS.join(', ')}) VALUES (${CARD_COLUMNS.map(() => '?').join(', ')})`,
    )
    const insertAll = db.transaction((rows) => {
      for (const row of rows) statement.run(row.map((value) => (value === false ? 0 : value)))
    })
    return {
      rows: async (rows) => insertAll(rows),
      count: async () => db.prepare('SELECT count(*) AS n FROM baseline_cards').get().n,
      close: async () => db.close(),
    }
  }
  const { default: pg } = await import('pg')
  const pool = new pg.Pool({ ...PG, max: 10 })
  const table = `"${config.schema}".baseline_cards`
  await pool.query(`CREATE SCHEMA IF NOT EXISTS "${config.schema}"`)
  await pool.query(`CREATE TABLE ${table} (
    ${CARD_COLUMNS.map((column) => `${column} ${columnType(column)}`).join(', ')},
    PRIMARY KEY (provider, owner_type, owner_id, card_id)
  )`)
  return {
    rows: async (rows) => {
      const values = []
      const tuples = rows.map((row) => {
        const start = values.length
        values.push(...row)
        return `(${row.map((_, i) => `$${start + i + 1}`).join(', ')})`
      })
      await pool.query(
        `INSERT INTO ${table} (${CARD_COLUMNS.join(', ')}) VALUES ${tuples.join(', ')}`,
        values,
      )
    },
    count: async () => (await pool.query(`SELECT count(*)::int AS n FROM ${table}`)).rows[0].n,
    close: () => pool.end(),
  }
}

function columnType(column) {
  if (column === 'exp_month' || column === 'exp_year') return 'smallint'
  if (column === 'is_default') return 'boolean'
  if (column === 'checks' || column === 'metadata') return 'json'
  return 'text'
}

/**
 * Samples `rss` every 10 ms and `heapUsed` every 250 ms (`memoryUsage()` walks the heap, which
 * costs too much to call 100 times a second); `stop()` returns the growth over the start.
 */
function sampleMemory() {
  const start = process.memoryUsage()
  let maxRss = start.rss
  let maxHeap = start.heapUsed
  let ticks = 0
  const sample = (full) => {
    if (full) {
      const now = process.memoryUsage()
      maxRss = Math.max(maxRss, now.rss)
      maxHeap = Math.max(maxHeap, now.heapUsed)
    } else maxRss = Math.max(maxRss, process.memoryUsage.rss())
  }
  const timer = setInterval(() => sample(++ticks % 25 === 0), 10)
  return {
    stop() {
      clearInterval(timer)
      sample(true)
      const mb = (bytes) => bytes / 2 ** 20
      return {
        rssStartMb: mb(start.rss),
        rssMaxMb: mb(maxRss),
        rssGrowthMb: mb(maxRss - start.rss),
        heapGrowthMb: mb(maxHeap - start.heapUsed),
      }
    },
  }
}

if (process.argv[2] === '--worker') {
  process.once('message', async (message) => {
    let answer
    try {
      answer = await runWorker(message)
    } catch (error) {
      answer = { error: error instanceof Error ? (error.stack ?? error.message) : String(error) }
    }
    // The SDK's keep-alive sockets to the (still running) emulator would keep the process up.
    process.send(answer, () => process.exit(0))
  })
} else {
  await main(import.meta.url, run)
}
