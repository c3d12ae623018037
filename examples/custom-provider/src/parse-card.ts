import {
  type Card,
  type CheckResult,
  InvalidRequestError,
  normalizeBrand,
  type Owner,
  toCountryAlpha2,
} from '@cardport/core'
import { isObject } from './vault-client.js'

/** The provider name stored on every card and error of this adapter. */
export const VAULT_PROVIDER_NAME = 'vault'

/**
 * Maps a vault card object to the normalized {@link Card}, or returns null for anything that
 * is not a card (a customer, a token, a list, a deleted card). The core validates the result
 * with `CardSchema`, so this function only translates: it never checks ranges itself, and a
 * field it cannot read (an `expiry` that is not `YYYY-MM`) surfaces as a schema error naming
 * the field.
 *
 * | vault | Card |
 * |---|---|
 * | `network` (`VISA`, `AMEX` …) | `brand`, through core's `normalizeBrand` |
 * | `last_four` | `last4` |
 * | `expiry` (`'2030-12'`) | `expMonth` 12, `expYear` 2030 |
 * | `cardholder` | `holderName` |
 * | `billing_address` (`postcode`, alpha-2 `country`) | `address` (`postalCode`) |
 * | `verification.cvc` / `.postcode` (`match`, `no_match`, `not_checked`) | `checks` (`pass`, `fail`, `unchecked`) |
 * | `preferred` | `isDefault` |
 * | `labels` | `metadata` |
 * | `created` (Unix seconds) | `createdAt` (ISO 8601) |
 *
 * The vault has no invalid cards (`status` is always `'active'`) and no payout currency.
 *
 * @example
 * ```ts
 * const card = toVaultCard(await response.json())
 * ```
 */
export function toVaultCard(raw: unknown, owner?: Owner): Card | null {
  if (!isObject(raw) || raw.object !== 'card' || raw.deleted === true) return null
  const customer = typeof raw.customer === 'string' ? raw.customer : undefined
  // The payload's own customer first: given another owner, the core then refuses the card,
  // which CardSync.syncFromProviderData would otherwise store among that owner's cards.
  const resolved = (customer ? { type: 'customer' as const, id: customer } : undefined) ?? owner
  if (!resolved) {
    // A card with no customer cannot be placed. Returning null would say "not a card", which
    // would make a caller ignore it silently.
    throw new InvalidRequestError(
      `vault card ${String(raw.id)} names no customer: pass its owner to parseCard`,
      { provider: VAULT_PROVIDER_NAME },
    )
  }
  const [year, month] = String(raw.expiry ?? '').split('-')
  const address = isObject(raw.billing_address) ? raw.billing_address : {}
  const verification = isObject(raw.verification) ? raw.verification : {}
  return {
    id: String(raw.id),
    provider: VAULT_PROVIDER_NAME,
    owner: { type: resolved.type, id: resolved.id },
    brand: normalizeBrand(text(raw.network)),
    last4: String(raw.last_four ?? ''),
    expMonth: Number(month),
    expYear: Number(year),
    holderName: text(raw.cardholder),
    address: {
      line1: text(address.line1),
      line2: null,
      city: text(address.city),
      state: null,
      postalCode: text(address.postcode),
      country: toCountryAlpha2(text(address.country)),
    },
    country: toCountryAlpha2(text(raw.issuer_country)),
    fingerprint: text(raw.fingerprint),
    funding: fundingOf(raw.funding),
    checks: {
      cvc: checkOf(verification.cvc),
      addressLine1: null,
      postalCode: checkOf(verification.postcode),
    },
    currency: null,
    isDefault: raw.preferred === true,
    status: 'active',
    metadata: labelsOf(raw.labels),
    createdAt: typeof raw.created === 'number' ? new Date(raw.created * 1000).toISOString() : null,
  }
}

function text(value: unknown): string | null {
  return typeof value === 'string' && value.length > 0 ? value : null
}

function fundingOf(value: unknown): Card['funding'] {
  return value === 'credit' || value === 'debit' || value === 'prepaid' ? value : 'unknown'
}

function checkOf(value: unknown): CheckResult {
  switch (value) {
    case 'match':
      return 'pass'
    case 'no_match':
      return 'fail'
    case 'not_checked':
      return 'unchecked'
    default:
      return null
  }
}

function labelsOf(value: unknown): Record<string, string> {
  if (!isObject(value)) return {}
  const labels: Record<string, string> = {}
  for (const [name, item] of Object.entries(value)) {
    if (typeof item === 'string' && item !== '') labels[name] = item
  }
  return labels
}
