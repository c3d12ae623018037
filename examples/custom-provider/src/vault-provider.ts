import {
  type Card,
  type CardProvider,
  type CardUpdate,
  decodeCursor,
  defineCardProvider,
  encodeCursor,
  formatOwner,
  isCardportError,
  type Owner,
  type ProviderCapabilities,
  validate,
} from '@cardport/core'
import { z } from 'zod'
import { mapVaultError } from './map-error.js'
import { toVaultCard, VAULT_PROVIDER_NAME } from './parse-card.js'
import { createVaultClient, isObject, type VaultFetch } from './vault-client.js'

/**
 * What the vault adapter supports, declared once. The core, the conformance suite and the
 * provider's type all read it:
 * - customers only: the vault has no connected accounts, so `account` owners are refused;
 * - tokens only (`cardDetails: false`): the vault's browser SDK tokenizes, its server API
 *   never takes a card number;
 * - the caller chooses the default (`'caller-chosen'`): the first card is preferred, a later
 *   one only when asked, and deleting the preferred card leaves none;
 * - the name, expiry and labels of a card can change, its billing address cannot;
 * - cards are deleted, never invalidated.
 */
export const VAULT_CAPABILITIES = Object.freeze({
  ownerTypes: ['customer'],
  createCard: true,
  getCard: true,
  listCards: true,
  updateCard: true,
  deleteCard: true,
  setDefaultCard: true,
  invalidateCard: false,
  cardDetails: false,
  externalAccounts: false,
  defaultPolicy: 'caller-chosen',
  updatableFields: ['expiry', 'holderName', 'metadata'],
} as const satisfies ProviderCapabilities)

/** The vault provider's type: with its capabilities known, misuse is a compile error. */
export type VaultProvider = CardProvider<typeof VAULT_CAPABILITIES>

/** Options of {@link vaultProvider}. */
export interface VaultProviderOptions {
  /** A secret key, `vk_test_…` or `vk_live_…`. Never logged nor put in an error. */
  apiKey: string
  /** The API's origin. Default `https://api.vault.test`. */
  baseUrl?: string
  /** Your `fetch`. Default: the global one, read at each request. */
  fetch?: VaultFetch
  /** Longest wait for an answer, in milliseconds. Default 30 s. */
  timeoutMs?: number
}

const OptionsSchema = z.object({
  apiKey: z
    .string()
    .regex(/^vk_(test|live)_\w+$/, 'apiKey is a vault secret key, vk_test_… or vk_live_…'),
  baseUrl: z
    .url({
      protocol: /^https?$/,
      error: 'baseUrl is an http(s) URL such as https://api.vault.test',
    })
    .default('https://api.vault.test'),
  fetch: z
    .custom<VaultFetch>((value) => typeof value === 'function', 'fetch is a function')
    .optional(),
  timeoutMs: z.number().int().positive().default(30_000),
})

/**
 * A cardport provider for the vault card API: a customer's cards under
 * `/v2/customers/:customer/cards`, over `fetch`.
 *
 * @example
 * ```ts
 * const vault = vaultProvider({ apiKey: process.env.VAULT_SECRET_KEY! })
 * const owner = { type: 'customer', id: 'vcus_123' } as const
 * const card = await vault.createCard(owner, { source: 'vtok_visa' })
 * ```
 */
export function vaultProvider(options: VaultProviderOptions): VaultProvider {
  // Options are checked once, here, and name the adapter; the key never appears in an error.
  const valid = validate(OptionsSchema, options, 'vaultProvider options', VAULT_PROVIDER_NAME)
  const request = createVaultClient(valid)
  const cardsOf = (owner: Owner) => `/v2/customers/${encodeURIComponent(owner.id)}/cards`
  const cardPath = (owner: Owner, cardId: string) =>
    `${cardsOf(owner)}/${encodeURIComponent(cardId)}`
  const toCard = (raw: unknown, owner: Owner): Card => {
    const card = toVaultCard(raw, owner)
    if (!card) throw new TypeError('the vault answered with something that is not a card')
    return card
  }

  // Each primitive is one or two requests and a translation. The core has already checked
  // the owner, ids, metadata, list options and the update's fields; it parses what comes back
  // with CardSchema and passes anything thrown through mapError.
  return defineCardProvider({
    name: VAULT_PROVIDER_NAME,
    capabilities: VAULT_CAPABILITIES,

    async createCard(owner, input, { idempotencyKey }) {
      // A string: with `cardDetails: false`, the core refuses raw details before this runs.
      const body: Record<string, unknown> = { token: input.source }
      if (input.metadata) body.labels = newLabels(input.metadata)
      if (input.makeDefault) body.preferred = true
      return toCard(await request('POST', cardsOf(owner), { body, idempotencyKey }), owner)
    },

    async getCard(owner, cardId) {
      return toCard(await request('GET', cardPath(owner, cardId)), owner)
    },

    async listCards(owner, { limit, cursor }) {
      // The vault's page token stays inside cardport's cursor: callers see one opaque format,
      // and a cursor from another provider or of another customer's list (or none of ours) is
      // refused before any request.
      const list = formatOwner(owner)
      const query: Record<string, string | number> = { limit }
      if (cursor) {
        query.page_token = decodeCursor(VAULT_PROVIDER_NAME, cursor, {
          list,
          read: ({ page }) => (typeof page === 'string' ? page : undefined),
        })
      }
      const page = await request<{ data?: unknown[]; next_page_token?: string | null }>(
        'GET',
        cardsOf(owner),
        { query },
      )
      const next = page.next_page_token ?? null
      return {
        data: (page.data ?? []).map((raw) => toCard(raw, owner)),
        hasMore: next !== null,
        nextCursor:
          next === null ? null : encodeCursor(VAULT_PROVIDER_NAME, { page: next }, { list }),
      }
    },

    async updateCard(owner, cardId, patch) {
      return toCard(
        await request('PATCH', cardPath(owner, cardId), { body: updateBody(patch) }),
        owner,
      )
    },

    async deleteCard(owner, cardId) {
      await request('DELETE', cardPath(owner, cardId))
    },

    async setDefaultCard(owner, cardId) {
      const path = `/v2/customers/${encodeURIComponent(owner.id)}/preferred_card`
      return toCard(await request('PUT', path, { body: { card: cardId } }), owner)
    },

    // Optional: without it the core pages through listCards to find the default. The
    // customer names its preferred card, so two requests do, however many cards there are.
    async getDefaultCard(owner) {
      const customer = await request('GET', `/v2/customers/${encodeURIComponent(owner.id)}`)
      const preferred = isObject(customer) ? customer.preferred_card : null
      if (typeof preferred !== 'string') return null
      try {
        return toCard(await request('GET', cardPath(owner, preferred)), owner)
      } catch (error) {
        // Deleted between the two requests: the customer has no default any more.
        if (isCardportError(mapVaultError(error), 'card_not_found')) return null
        throw error
      }
    },

    parseCard: toVaultCard,
    mapError: mapVaultError,
  })
}

/** A new card's labels: `''` (cardport's "unset") has nothing to unset yet. */
function newLabels(metadata: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(metadata).filter(([, value]) => value !== ''))
}

/** cardport unsets a metadata key with `''`; the vault unsets a label with `null`. */
function labelsPatch(metadata: Record<string, string>): Record<string, string | null> {
  const labels: Record<string, string | null> = {}
  for (const [name, value] of Object.entries(metadata)) labels[name] = value === '' ? null : value
  return labels
}

/** The vault's PATCH body. Only the fields `updatableFields` lists can arrive here. */
function updateBody(patch: CardUpdate): Record<string, unknown> {
  const body: Record<string, unknown> = {}
  if (patch.holderName !== undefined) body.cardholder = patch.holderName
  if (patch.expMonth !== undefined) body.exp_month = patch.expMonth
  if (patch.expYear !== undefined) body.exp_year = patch.expYear
  if (patch.metadata !== undefined) body.labels = labelsPatch(patch.metadata)
  return body
}
