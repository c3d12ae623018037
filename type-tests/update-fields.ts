// A patch naming a field `updatableFields` leaves out is a compile error, however it is built.
import type { CardProvider, CardUpdate, CardUpdateFor } from '@cardport/core'
import { marketplaceProvider } from '@cardport/marketplace'

const account = { type: 'account', id: 'AC1' } as const

export async function patchFromElsewhere(
  patch: CardUpdate,
  metadataOnly: CardUpdateFor<'metadata'>,
) {
  const provider = marketplaceProvider({
    baseUrl: 'https://mp.test',
    marketplaceId: 'MP1',
    secret: 's',
  })
  // @ts-expect-error a CardUpdate may name the holder: the marketplace updates metadata only
  await provider.updateCard(account, 'CC1', patch)
  const named = { metadata: { a: 'b' }, holderName: 'Ada' }
  // @ts-expect-error not a fresh object literal, so no excess property check catches it
  await provider.updateCard(account, 'CC1', named)
  await provider.updateCard(account, 'CC1', metadataOnly)
  await provider.updateCard(account, 'CC1', { metadata: { a: 'b' } })
  const general: CardProvider = provider
  await general.updateCard(account, 'CC1', patch)
}
