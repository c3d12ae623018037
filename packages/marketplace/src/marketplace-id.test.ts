import { describe, expect, it } from 'vitest'
import { MarketplaceIdSchema } from './index.js'

describe('MarketplaceIdSchema', () => {
  it.each(['TEST-MP6xDq5coY66zGqeAztpK2Sj', 'MP1', 'mp_live-2'])('accepts %j', (id) => {
    expect(MarketplaceIdSchema.parse(id)).toBe(id)
  })

  it.each(['', 'MP/1', 'MP 1', 'MP1?x=1', 'MP1#a', '../MP1', 'MP1\n', '.', '..', 'MP..', 'MP.1'])(
    'refuses %j, in a message that names the shape and not the value',
    (id) => {
      const result = MarketplaceIdSchema.safeParse(id)
      expect(result.success).toBe(false)
      const message = result.error!.issues[0]!.message
      expect(message).toMatch(/^must be a marketplace id: letters, digits, _ and -/)
      if (id !== '') expect(message).not.toContain(id)
    },
  )
})
