// The fault matrix: every mutating CardSync operation, on both providers, with each kind of
// fault injected at each request the operation makes in turn. After each fault, a reconcile
// must make the (SQLite) store equal to the provider, card for card and default included,
// with no card made twice and none lost; then the same call, made again, must finish the job.
// See README.md for the matrix and what each cell checks.
import {
  type CardProvider,
  type CardportErrorCode,
  type CardStore,
  type CardSync,
  createCardSync,
  type DriftReport,
  isCardportError,
  type Owner,
  type ProviderCapabilities,
} from '@cardport/core'
import { sqliteStore } from '@cardport/store-sqlite'
import type { Fault } from '@cardport/testing/emulators'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import {
  checkDone,
  checkProvider,
  checkStoreNotAhead,
  type Effect,
  expectStoreEqualsProvider,
  scopeFor,
} from './support/checks.js'
import { type ProviderUnderTest, providersUnderTest } from './support/providers.js'

/**
 * The client's timeout in the timeout cells, and the emulator's latency beyond it. undici (the
 * marketplace's client) checks its headers and body timeouts on a timer that ticks every ~500 ms,
 * so a 400 ms timeout fires 400-1,000 ms after the request: a latency of 900 ms let the answer win
 * the race at most steps, and the cells failed or passed by the machine's timing.
 */
const TIMEOUT_MS = 400
const LATENCY_MS = 2_000
/** The Retry-After of the 429 cells, in seconds. */
const RETRY_AFTER_S = 2

/** One kind of fault, and the error code it must surface as when an operation fails on it. */
interface FaultKind {
  name: string
  fault: Omit<Fault, 'route' | 'after' | 'times'>
  code: CardportErrorCode
  /** Whether the provider under test needs a short client timeout for this fault to bite. */
  timeout?: boolean
}

const FAULTS: readonly FaultKind[] = [
  {
    name: 'network error before send',
    fault: { drop: 'before-commit' },
    code: 'provider_unavailable',
  },
  {
    name: 'connection dropped after the provider committed',
    fault: { drop: 'after-commit' },
    code: 'provider_unavailable',
  },
  { name: '500', fault: { status: 500 }, code: 'provider_unavailable' },
  {
    name: `429 with Retry-After: ${RETRY_AFTER_S}`,
    fault: { status: 429, retryAfter: RETRY_AFTER_S },
    code: 'rate_limited',
  },
  {
    name: `timeout (latency ${LATENCY_MS} ms, client timeout ${TIMEOUT_MS} ms)`,
    fault: { latencyMs: LATENCY_MS },
    code: 'provider_unavailable',
    timeout: true,
  },
]

/** Everything one run of a cell works with: a fresh emulator state and a fresh store. */
interface World {
  target: ProviderUnderTest
  /** The provider CardSync under test uses (short timeout in the timeout cells). */
  provider: CardProvider
  /** The sync under test; its reconcile retries without sleeping (the waits are recorded). */
  sync: CardSync
  /** Waits the sync's retries asked for, in ms. */
  waits: number[]
  /** A second provider and sync over the same store: the application's next reconcile. */
  checker: { provider: CardProvider; sync: CardSync }
  store: CardStore
}

/**
 * The ids of the cards a `reconcile` must report in each list of its {@link DriftReport} (the
 * drift its row planted), and the provider's default it must name as repaired.
 */
interface ExpectedDrift {
  added: string[]
  updated: string[]
  removed: string[]
  defaultRepaired: string
}

/** One row of the matrix. */
interface Operation {
  name: string
  /** Whether the provider's capabilities let CardSync run it for the owners the suite uses. */
  supported(capabilities: ProviderCapabilities): boolean
  /**
   * Sets the owner up (already in the store) and returns the call and its effect; for
   * `reconcile`, what its report must say.
   */
  prepare(
    world: World,
    owner: Owner,
  ): Promise<{ run: () => Promise<unknown>; effect: Effect; drift?: ExpectedDrift }>
  /** Cards the owner holds before the operation. */
  cards: number
  /** Whether the operation retries on retryable errors itself (reconcile), instead of failing. */
  retriesItself?: boolean
}

const OPERATIONS: readonly Operation[] = [
  {
    name: 'setDefaultCard',
    cards: 2,
    // A new card becomes the default (by request or by the provider's own policy) and the old
    // one is retired (deleted or invalidated).
    supported: (c) =>
      c.createCard &&
      (c.setDefaultCard || c.defaultPolicy === 'latest-card') &&
      (c.deleteCard || c.invalidateCard),
    async prepare(world, owner) {
      const source = world.target.source(owner)
      return {
        run: () => world.sync.setDefaultCard(owner, source),
        effect: { kind: 'adds-default' },
      }
    },
  },
  {
    name: 'deleteCard (the default)',
    cards: 2,
    supported: (c) => c.deleteCard || c.invalidateCard,
    async prepare(world, owner) {
      const target = (await world.store.getDefault(scopeFor(world.provider, owner)))!
      return {
        run: () => world.sync.deleteCard(owner, target.id),
        effect: { kind: 'retires', cardId: target.id },
      }
    },
  },
  {
    name: 'sync (a card changed behind the store)',
    cards: 2,
    supported: (c) => c.getCard && c.updateCard && c.updatableFields.includes('metadata'),
    async prepare(world, owner) {
      const spare = (await world.store.listByOwner(scopeFor(world.provider, owner))).find(
        (card) => !card.isDefault,
      )!
      await world.checker.provider.updateCard(owner, spare.id, { metadata: { plan: 'pro' } })
      return { run: () => world.sync.sync(owner, spare.id), effect: { kind: 'none' } }
    },
  },
  {
    name: 'sync (the default moved behind the store)',
    cards: 2,
    supported: (c) => c.listCards && (c.setDefaultCard || c.defaultPolicy === 'latest-card'),
    async prepare(world, owner) {
      await moveDefault(world, owner)
      return { run: () => world.sync.sync(owner), effect: { kind: 'none' } }
    },
  },
  {
    name: 'reconcile (a card added, one changed, one retired, the default moved)',
    // The default moves to a card of its own, which nothing else changes: moved to the changed
    // card, it would be written for its change alone, and a reconcile that never repaired a
    // default would pass.
    cards: 4,
    retriesItself: true,
    supported: (c) =>
      c.listCards &&
      c.createCard &&
      c.updateCard &&
      c.updatableFields.includes('metadata') &&
      (c.deleteCard || c.invalidateCard),
    async prepare(world, owner) {
      const provider = world.checker.provider
      const [first, second, third] = (
        await world.store.listByOwner(scopeFor(provider, owner))
      ).filter((card) => !card.isDefault)
      await provider.updateCard(owner, first!.id, { metadata: { plan: 'pro' } })
      await retire(provider, owner, second!.id)
      const movedTo = await moveDefault(world, owner, third!.id)
      // What the report must name: the changed card; the retired one, removed if the provider
      // deleted it, changed if it invalidated it (the card is still listed, no longer valid);
      // the new default, repaired, and added if the provider made a card to move it to.
      const deletes = provider.capabilities.deleteCard
      const drift: ExpectedDrift = {
        added: movedTo === third!.id ? [] : [movedTo],
        updated: deletes ? [first!.id] : [first!.id, second!.id],
        removed: deletes ? [second!.id] : [],
        defaultRepaired: movedTo,
      }
      return { run: () => world.sync.reconcile(owner), effect: { kind: 'none' }, drift }
    },
  },
]

const providers = providersUnderTest()

interface Cell {
  title: string
  target: ProviderUnderTest
  operation: Operation
  fault: FaultKind
}

// The matrix, from the capabilities: an operation a provider cannot serve is left out here,
// and listed in the summary, rather than skipped by name.
const excluded: string[] = []
const MATRIX: Cell[] = providers.all.flatMap((target) =>
  OPERATIONS.filter((operation) => {
    const ok =
      target.capabilities.ownerTypes.includes(target.ownerType) &&
      operation.supported(target.capabilities)
    if (!ok) excluded.push(`${target.name}: ${operation.name}`)
    return ok
  }).flatMap((operation) =>
    FAULTS.map((fault) => ({
      title: `${target.name} (${target.ownerType}s): ${operation.name} × ${fault.name}`,
      target,
      operation,
      fault,
    })),
  ),
)

let cellsRun = 0
let injections = 0

beforeAll(() => providers.start())
afterEach(async () => {
  providers.reset()
  await providers.closeProviders()
})
afterAll(async () => {
  await providers.close()
  console.info(
    `[reliability] fault matrix: ${cellsRun} of ${MATRIX.length} cells run, ${injections} faults injected` +
      (excluded.length > 0 ? `; excluded by capabilities: ${excluded.join(', ')}` : ''),
  )
})

describe(`fault matrix: ${MATRIX.length} cells (${OPERATIONS.length} operations × ${FAULTS.length} faults × ${providers.all.length} providers, by capabilities)`, () => {
  // One `it` per cell rather than `it.each(MATRIX)('$title')`: Vitest cuts an interpolated
  // value to 40 characters, which left the fault out of every name (five cells per name), so
  // a report could not say which cell failed and `-t` could not pick one.
  for (const { title, target, operation, fault } of MATRIX) {
    it(title, async () => {
      const { steps, failed, retried } = await forEachRequest(target, operation, fault)
      expect(steps, 'the operation makes at least one request').toBeGreaterThan(0)
      // The fault must bite: an operation may complete despite it (an adapter that confirmed an
      // ambiguous write), but not at every request; a reconcile waits it out, so it retried. A
      // timeout the client never enforces, or an adapter that swallowed faults, fails here.
      if (operation.retriesItself) {
        expect(retried, 'steps at which reconcile retried the owner').toBeGreaterThan(0)
      } else {
        expect(failed, `steps that failed with ${fault.code}`).toBeGreaterThan(0)
      }
      cellsRun++
    }, 60_000)
  }

  it(`ran every one of the ${MATRIX.length} cells`, () => {
    expect(cellsRun).toBe(MATRIX.length)
  })
})

describe('syncFromProviderData', () => {
  it.each(providers.all)(
    '$name: stores a payload without a request, so no fault can reach it',
    async (target) => {
      const world = createWorld(target, undefined)
      try {
        const owner = target.owner(1)
        await inSync(world, owner)
        const [card] = target.held(owner)
        // Changed behind the store's back: only storing the payload brings the store in step
        // (a store already equal to the provider would pass with a payload never stored).
        await world.checker.provider.updateCard(owner, card!.id, { metadata: { plan: 'pro' } })
        const raw = target.raw(owner, card!.id)
        const before = target.requestCount()
        const stored = await world.sync.syncFromProviderData(owner, raw)
        expect(stored?.id).toBe(card!.id)
        expect(target.requestCount() - before, 'requests made').toBe(0)
        await expectStoreEqualsProvider(world.checker.provider, world.store, owner)
      } finally {
        await world.store.close()
      }
    },
  )
})

// --- the cell runner ---

/**
 * Runs one cell: for each request the operation makes (step 0, 1, … until the fault no longer
 * fires), in a fresh world, injects the fault at that request, runs the operation, and checks
 * what is left; returns the number of requests the operation makes, and at how many of them
 * the operation failed (with the fault's code: checked) or, for reconcile, retried.
 */
async function forEachRequest(
  target: ProviderUnderTest,
  operation: Operation,
  kind: FaultKind,
): Promise<{ steps: number; failed: number; retried: number }> {
  let failed = 0
  let retried = 0
  for (let step = 0; ; step++) {
    providers.reset()
    const world = createWorld(target, kind.timeout ? TIMEOUT_MS : undefined)
    try {
      const owner = target.owner(operation.cards)
      await inSync(world, owner)
      const { run, effect, drift } = await operation.prepare(world, owner)
      const before = target.held(owner)
      const storedBefore = await world.store.listByOwner(scopeFor(world.provider, owner))

      target.emulator.faults.inject({ ...kind.fault, after: step })
      let result: unknown
      const failure = await settle(
        run().then((value) => {
          result = value
        }),
      )
      const fired = target.emulator.faults.fired[0] ?? 0
      target.emulator.faults.clear()
      await providers.settled()
      const at = `step ${step} (${target.name}, ${operation.name}, ${kind.name})`
      if (fired === 0) {
        // Fewer requests than `step`: the operation ran to its end untouched, and did its job.
        expect(failure, `${at}: no fault fired, yet it failed`).toBeUndefined()
        if (drift) checkReport(result as DriftReport, world, owner, drift, at)
        await expectStoreEqualsProvider(world.checker.provider, world.store, owner)
        return { steps: step, failed, retried }
      }
      injections++
      checkFailure(failure, kind, operation, world, at)
      // A reconcile that waited the fault out reports all it found, the failed attempts' finds too.
      if (drift && failure === undefined)
        checkReport(result as DriftReport, world, owner, drift, at)
      if (failure !== undefined) failed++
      if (world.waits.length > 0) retried++
      await checkStoreNotAhead(
        world.checker.provider,
        world.store,
        owner,
        storedBefore,
        failure === undefined,
        at,
      )

      // The application's next reconcile (another sync over the same store) repairs everything.
      const report = await world.checker.sync.reconcile(owner)
      expect(report.failed, `${at}: reconcile failures`).toEqual([])
      await expectStoreEqualsProvider(world.checker.provider, world.store, owner)
      checkProvider(before, target.held(owner), effect, 'after the fault', at)

      // The same call again (same process, same idempotency keys) finishes the job.
      const again = await run()
      await expectStoreEqualsProvider(world.checker.provider, world.store, owner)
      if (drift) {
        // The store was in step already: a reconcile that reported drift anyway would mislead.
        expect((again as DriftReport).counts, `${at}: the drift reported again`).toEqual({
          added: 0,
          updated: 0,
          removed: 0,
          defaultRepaired: 0,
          failed: 0,
        })
      }
      const after = target.held(owner)
      checkProvider(before, after, effect, 'after the retry', at)
      checkDone(before, after, effect, at)
    } finally {
      await world.store.close()
      await providers.closeProviders()
    }
  }
}

/** How the operation failed, if it did: a CardportError of the fault's code. */
function checkFailure(
  failure: unknown,
  kind: FaultKind,
  operation: Operation,
  world: World,
  at: string,
) {
  if (operation.retriesItself) {
    // reconcile retries an owner on retryable errors: the fault is waited out, not reported.
    expect(failure, `${at}: reconcile threw`).toBeUndefined()
    if (kind.fault.status === 429) {
      expect(
        Math.max(0, ...world.waits),
        `${at}: the wait before the retry honours Retry-After`,
      ).toBeGreaterThanOrEqual(RETRY_AFTER_S * 1000)
    }
    return
  }
  if (failure === undefined) return
  expect(isCardportError(failure), `${at}: threw ${String(failure)}`).toBe(true)
  expect((failure as { code: string }).code, `${at}: ${String(failure)}`).toBe(kind.code)
  if (kind.code === 'rate_limited') {
    expect((failure as { retryAfterMs?: number }).retryAfterMs, `${at}: retryAfterMs`).toBe(
      RETRY_AFTER_S * 1000,
    )
  }
}

/**
 * What a `reconcile` of the one owner reported: exactly the drift its row planted, in each
 * list and in the counts, with nothing failed.
 */
function checkReport(
  report: DriftReport,
  world: World,
  owner: Owner,
  drift: ExpectedDrift,
  at: string,
) {
  const entries = (ids: readonly string[]) =>
    ids.map((cardId) => ({ owner, cardId })).sort((a, b) => a.cardId.localeCompare(b.cardId))
  const sorted = (list: readonly { cardId: string | null }[]) =>
    [...list].sort((a, b) => String(a.cardId).localeCompare(String(b.cardId)))
  expect(report.failed, `${at}: reconcile failures reported`).toEqual([])
  expect(sorted(report.added), `${at}: cards reported added`).toEqual(entries(drift.added))
  expect(sorted(report.updated), `${at}: cards reported updated`).toEqual(entries(drift.updated))
  expect(sorted(report.removed), `${at}: cards reported removed`).toEqual(entries(drift.removed))
  expect(report.defaultRepaired, `${at}: defaults reported repaired`).toEqual([
    { owner, cardId: drift.defaultRepaired },
  ])
  expect(report, `${at}: the report's counts`).toMatchObject({
    provider: world.provider.name,
    dryRun: false,
    owners: 1,
    counts: {
      added: drift.added.length,
      updated: drift.updated.length,
      removed: drift.removed.length,
      defaultRepaired: 1,
      failed: 0,
    },
    truncated: false,
  })
}

// --- helpers ---

function createWorld(target: ProviderUnderTest, timeoutMs: number | undefined): World {
  const store = sqliteStore({ filename: ':memory:' })
  const provider = target.provider(timeoutMs === undefined ? {} : { timeoutMs })
  const waits: number[] = []
  const sync = createCardSync({
    provider,
    store,
    retry: {
      sleep: async (ms) => {
        waits.push(ms)
      },
      random: () => 0,
    },
  })
  const checkerProvider = target.provider()
  return {
    target,
    provider,
    sync,
    waits,
    store,
    checker: {
      provider: checkerProvider,
      sync: createCardSync({ provider: checkerProvider, store }),
    },
  }
}

/** Brings the store in step with the provider for the owner, and checks it. */
async function inSync(world: World, owner: Owner) {
  const report = await world.checker.sync.reconcile(owner)
  expect(report.failed).toEqual([])
  await expectStoreEqualsProvider(world.checker.provider, world.store, owner)
}

/**
 * Makes another card the owner's default at the provider (`to`, or the first it holds that is
 * not), behind the store's back; returns the new default's id.
 */
async function moveDefault(world: World, owner: Owner, to?: string): Promise<string> {
  const provider = world.checker.provider
  if (provider.capabilities.setDefaultCard) {
    const spare = to ?? world.target.held(owner).find((card) => !card.isDefault && card.active)!.id
    await provider.setDefaultCard(owner, spare)
    return spare
  }
  // 'latest-card': a new card becomes the default.
  const card = await provider.createCard(owner, { source: world.target.source(owner) })
  return card.id
}

async function retire(provider: CardProvider, owner: Owner, cardId: string) {
  if (provider.capabilities.deleteCard) await provider.deleteCard(owner, cardId)
  else await provider.invalidateCard(owner, cardId)
}

/** Awaits a call; returns what it threw, or undefined. */
async function settle(call: Promise<unknown>): Promise<unknown> {
  try {
    await call
    return undefined
  } catch (error) {
    return error
  }
}
