import { randomUUID } from 'node:crypto'
import { MEMORY_PROVIDER_CAPABILITIES, memoryProvider, memoryStore } from '@cardport/core'
import { describe, expect, it, vi } from 'vitest'
import { getCurrentTest } from 'vitest/suite'
import { cardProviderChecks, type SuiteData } from './card-provider-checks.js'
import { cardStoreChecks } from './card-store-checks.js'
import { type CardProviderSuiteOptions, runCardProviderCheck } from './describe-card-provider.js'
import { describeCardStore, runCardStoreCheck } from './describe-card-store.js'

// An option given as `undefined` is what `exactOptionalPropertyTypes` lets a caller write for a
// value it may not have (`currency: config.currency`): the suites take it as one not given.

const ABSENT = {
  capabilities: MEMORY_PROVIDER_CAPABILITIES,
  sources: { valid: ['tok_visa', 'tok_mastercard', 'tok_amex'] },
}

const GIVEN_UNDEFINED = {
  ...ABSENT,
  sources: {
    ...ABSENT.sources,
    declined: undefined,
    invalid: undefined,
    details: undefined,
    declinedDetails: undefined,
  },
  accountSources: undefined,
  currency: undefined,
  otherCurrency: undefined,
  missingCardId: undefined,
  nonCards: undefined,
  timeout: undefined,
}

/** A new owner of each type for each check, as a provider suite's fixture gives them. */
const NEW_OWNERS = {
  customer: () => ({ type: 'customer' as const, id: `cus_${randomUUID()}` }),
  account: () => ({ type: 'account' as const, id: `acct_${randomUUID()}` }),
}

const titles = (suite: object) =>
  cardProviderChecks(suite as SuiteData).map((check) => `${check.group}: ${check.title}`)

describe('conformance options given as undefined', () => {
  it('registers the provider checks it registers without them', () => {
    expect(titles(GIVEN_UNDEFINED)).toEqual(titles(ABSENT))
  })

  it('passes the memory provider with them, and an undefined requestCount and teardown', async () => {
    const options = {
      ...GIVEN_UNDEFINED,
      setup: () => {
        const provider = memoryProvider()
        return {
          provider,
          owners: NEW_OWNERS,
          readRawCard: (owner: { type: 'customer' | 'account'; id: string }, cardId: string) =>
            provider.getCard(owner, cardId),
          requestCount: undefined,
          teardown: undefined,
        }
      },
    } as unknown as Omit<CardProviderSuiteOptions, 'name'>
    const failed: string[] = []
    const skipped: string[] = []
    const skip = (note: string): never => {
      skipped.push(note)
      throw new Error('skipped')
    }
    for (const check of cardProviderChecks(GIVEN_UNDEFINED as unknown as SuiteData)) {
      await runCardProviderCheck(options, check, skip).catch(() => failed.push(check.title))
    }
    // Without sources.declinedDetails, no raw details reach the adapter's refusal: that check
    // is the one reported skipped.
    expect(failed).toEqual([
      'a refusal of raw details by the provider holds neither the card number nor the CVC (the details reach the adapter)',
    ])
    expect(skipped).toEqual([expect.stringContaining('sources.declinedDetails')])
  })

  it('closes the store itself when the fixture gives teardown: undefined', async () => {
    const store = memoryStore()
    const close = vi.spyOn(store, 'close')
    const [check] = cardStoreChecks()
    await runCardStoreCheck(
      { setup: () => ({ store, readRow: undefined, teardown: undefined }) },
      check!,
    )
    expect(close).toHaveBeenCalledOnce()
  })
})

describe('runCardProviderCheck', () => {
  it("calls the fixture's teardown once after a check, whether it passes or fails", async () => {
    const teardown = vi.fn()
    const options = {
      ...ABSENT,
      setup: () => {
        const provider = memoryProvider()
        return {
          provider,
          owners: NEW_OWNERS,
          teardown,
        }
      },
    } as unknown as Omit<CardProviderSuiteOptions, 'name'>
    const [check] = cardProviderChecks(ABSENT as unknown as SuiteData)
    await runCardProviderCheck(options, check!)
    expect(teardown, 'after a check that passed').toHaveBeenCalledOnce()
    const failing = {
      ...check!,
      run: () => Promise.reject(new Error('the check failed')),
    }
    await expect(runCardProviderCheck(options, failing)).rejects.toThrow('the check failed')
    expect(teardown, 'after a check that failed').toHaveBeenCalledTimes(2)
  })
})

// Each test describeCardStore registers reads, from inside itself, the timeout it was given and
// the name it runs under: the suite's name, then its group's, then its own.
describe('describeCardStore options', () => {
  const fullNames = cardStoreChecks().map(
    (check) => `describeCardStore options > a store suite > ${check.group} > ${check.title}`,
  )
  describeCardStore({
    name: 'a store suite',
    timeout: 12_345,
    setup: () => {
      const test = getCurrentTest()
      expect(test?.timeout, 'the timeout of the running test').toBe(12_345)
      expect(fullNames, 'the name of the running test').toContain(test?.fullTestName)
      return { store: memoryStore() }
    },
  })
})
