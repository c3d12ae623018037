import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { CardStore } from '@cardport/core'
import { sqliteStore } from '@cardport/store-sqlite'

/** One store opened twice, as two processes would: what each writes through, and the clean-up. */
export interface SharedStore {
  stores: [CardStore, CardStore]
  close(): Promise<void>
}

/** One SQLite file in a fresh temporary folder, opened twice; `close` closes both and removes it. */
export function sqliteFileOpenedTwice(prefix: string): SharedStore {
  const dir = mkdtempSync(join(tmpdir(), `cardport-${prefix}-`))
  const filename = join(dir, 'cards.db')
  const stores: [CardStore, CardStore] = [sqliteStore({ filename }), sqliteStore({ filename })]
  return {
    stores,
    async close() {
      for (const store of stores) await store.close()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
