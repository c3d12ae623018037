import { memoryProvider, memoryStore } from '@cardport/core'
import { describe, expect, it } from 'vitest'
import { walletTour } from './wallet.js'

describe('walletTour', () => {
  it('ends with one card, the replacement, as the default, at the provider and locally', async () => {
    const provider = memoryProvider({ name: 'memory' })
    const store = memoryStore()
    const owner = { type: 'customer', id: 'cus_tour' } as const
    const lines: string[] = []
    const local = await walletTour(
      provider,
      store,
      owner,
      { first: 'tok_visa', second: 'tok_mastercard', replacement: 'tok_amex' },
      (line) => lines.push(line),
    )

    const remote = await provider.listCards(owner, { limit: 10 })
    expect(remote.data.map((card) => [card.brand, card.isDefault])).toEqual([['amex', true]])
    expect(local).toMatchObject({ id: remote.data[0]!.id, brand: 'amex', isDefault: true })
    const stored = await store.listByOwner({ provider: 'memory', owner })
    expect(stored.map((card) => card.id)).toEqual([remote.data[0]!.id])
    expect(lines).toContain('  deleted •••• 4444')
    expect(lines.join('\n')).not.toMatch(/\d{12,}/)
  })
})
