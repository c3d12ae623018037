import {
  type CardBrand,
  type CardProvider,
  type CardStore,
  createCardSync,
  isCardportError,
  isExpiryValid,
  maskCard,
  type Owner,
  type RetryPolicy,
  type StoredCard,
  withRetry,
} from '@cardport/core'

/** What the checkout page shows about the customer's card. */
export type CheckoutCard =
  | { status: 'ready'; cardId: string; label: string }
  | { status: 'expired'; cardId: string; label: string }
  | { status: 'needs_card' }
  | { status: 'declined'; declineCode: string | null; message: string }

/** What {@link ensureCheckoutCard} works with. */
export interface CheckoutDeps {
  provider: CardProvider
  /** The local copy of the cards (`memoryStore()`, `sqliteStore()` …). */
  store: CardStore
  /**
   * How rate limits and provider outages are retried. Default: core's `withRetry` defaults
   * (2 retries, `Retry-After` honoured).
   */
  retry?: RetryPolicy
  /** The clock that decides whether a card has expired. Default: now. */
  now?: () => Date
}

const BRAND_NAMES: Record<CardBrand, string> = {
  visa: 'Visa',
  mastercard: 'Mastercard',
  amex: 'American Express',
  discover: 'Discover',
  jcb: 'JCB',
  diners: 'Diners Club',
  unionpay: 'UnionPay',
  unknown: 'Card',
}

/**
 * Makes sure a customer can pay at checkout. With a `token` from the payment form, the card
 * behind it becomes the customer's default and the old default is removed (CardSync's
 * `setDefaultCard`); a decline comes back as a result to show, not as an error. Without one,
 * the default card of the local copy is used, fetched from the provider when the copy has none.
 *
 * Rate limits and outages are retried with core's `withRetry`: safe for the create, because
 * CardSync gives it an idempotency key derived from the owner and the token, so a retry that
 * follows a lost answer replays the card instead of making a second one.
 *
 * @example
 * ```ts
 * const result = await ensureCheckoutCard({ provider, store }, owner, form.token)
 * if (result.status === 'declined') showError(result.message)
 * ```
 */
export async function ensureCheckoutCard(
  deps: CheckoutDeps,
  owner: Owner,
  token?: string,
): Promise<CheckoutCard> {
  const sync = createCardSync({ provider: deps.provider, store: deps.store })
  let card: StoredCard | null
  if (token !== undefined) {
    try {
      card = await withRetry(() => sync.setDefaultCard(owner, token), deps.retry)
    } catch (error) {
      if (!isCardportError(error, 'card_declined', 'card_invalid')) throw error
      return {
        status: 'declined',
        declineCode: error.declineCode ?? null,
        message:
          error.code === 'card_declined'
            ? 'Your bank declined this card. Please use another card.'
            : 'This card could not be used. Please check its details.',
      }
    }
  } else {
    card = (await sync.getForOwner(owner)) ?? (await withRetry(() => sync.sync(owner), deps.retry))
  }
  if (!card) return { status: 'needs_card' }

  const expiry = `${String(card.expMonth).padStart(2, '0')}/${card.expYear}`
  const label = `${BRAND_NAMES[card.brand]} ${maskCard(card.last4)}, expires ${expiry}`
  const now = deps.now?.() ?? new Date()
  return isExpiryValid(card.expMonth, card.expYear, now)
    ? { status: 'ready', cardId: card.id, label }
    : { status: 'expired', cardId: card.id, label }
}
