import { createHash } from 'node:crypto'
import { isLuhnValid } from '@cardport/core'
import {
  accountAlreadyMerchant,
  badRequest,
  cannotAssociateCard,
  cardAlreadyFundingSource,
  cardDeclined,
  cardNotAssociated,
  cardNotValid,
  cardNotValidated,
  duplicateEmailAddress,
  incompleteAccountInfo,
  MarketplaceRequestError,
  notFound,
} from './marketplace-errors.js'
import type { AccountForm, CardForm, CardUpdateForm, PageParams } from './marketplace-forms.js'
import {
  findMarketplaceTestCard,
  type MarketplaceCardBrand,
  marketplaceBrandOf,
} from './marketplace-test-cards.js'

/** A marketplace of the emulator, with the API key secret that opens it. */
export interface MarketplaceInfo {
  /** The marketplace's id (`TEST-MP…`): the `marketplaceId` of a provider. */
  id: string
  /** The marketplace's display name. */
  name: string
  /** The API key secret: the user name of HTTP basic auth. */
  secret: string
  /** The marketplace's path, `/v1/marketplaces/:id`. */
  uri: string
  /** When it was created, ISO 8601 with microseconds, as the reference writes it. */
  created_at: string
}

/** A page link descriptor of `_uris`, as the reference shows them. */
export interface MarketplaceUriDescriptor {
  /** The kind of resource the link leads to: `'page'`, `'card'`, `'customer'` … */
  _type: string
  /** The link's name (`'cards'`, `'next'` …). */
  key: string
}

/** The account view (`_type: 'account'`) of the reference. */
export interface MarketplaceAccountView {
  /** Always `'account'`. */
  _type: 'account'
  /** Descriptors of the `*_uri` links, by link name. */
  _uris: Record<string, MarketplaceUriDescriptor>
  /** The account's id: the `id` of an `account` owner. */
  id: string
  /** The account's path, `/v1/marketplaces/:marketplace/accounts/:id`. */
  uri: string
  /** The account's display name, or null. */
  name: string | null
  /** The account's email address, or null. */
  email_address: string | null
  /** String pairs set by the API caller; `{}` when none. */
  meta: Record<string, string>
  /** Zero, one or both of `merchant` and `buyer`. */
  roles: Array<'merchant' | 'buyer'>
  /** When the account was created, ISO 8601 with microseconds. */
  created_at: string
  /** The account's customer, `/v1/customers/:id`: also accepted to name the account. */
  customer_uri: string
  /** The account's bank accounts (not emulated). */
  bank_accounts_uri: string
  /** The account's cards: list them, or post a card there to associate it. */
  cards_uri: string
  /** The account's credits (not emulated). */
  credits_uri: string
  /** The account's debits (not emulated). */
  debits_uri: string
  /** The account's holds (not emulated). */
  holds_uri: string
  /** The account's refunds (not emulated). */
  refunds_uri: string
  /** The account's transactions (not emulated). */
  transactions_uri: string
  /** Merchants only. */
  merchant_uri?: string
}

/**
 * The customer embedded in an associated card, as the reference's examples show it.
 * `source_uri` names the account's chosen card: see {@link MarketplaceEmulatorState.defaultCard}.
 */
export interface MarketplaceCustomerView {
  /** Always `'customer'`. */
  _type: 'customer'
  /** Descriptors of the `*_uri` links, by link name. */
  _uris: Record<string, MarketplaceUriDescriptor>
  /** The customer's id. */
  id: string
  /** The customer's path, `/v1/customers/:id`. */
  uri: string
  /** Always null here. */
  name: string | null
  /** The account's email address, or null. */
  email: string | null
  /** Always null here. */
  phone: string | null
  /** Always `{}` here. */
  meta: Record<string, string>
  /** Always `{}` here. */
  address: Record<string, never>
  /** Always null here. */
  business_name: string | null
  /** Always null here. */
  dob: string | null
  /** Always null here. */
  ein: string | null
  /** Always null here. */
  ssn_last4: string | null
  /** Always null here. */
  facebook: string | null
  /** Always null here. */
  twitter: string | null
  /** Always false here. */
  is_identity_verified: boolean
  /** When the account was created, ISO 8601 with microseconds. */
  created_at: string
  /**
   * The account's chosen card, `/v1/customers/:account/cards/:card` (the account's id, as the
   * reference writes it), or null when it has no valid card.
   */
  source_uri: string | null
  /** Always null here. */
  destination_uri: string | null
  /** The customer's bank accounts (not emulated). */
  bank_accounts_uri: string
  /** The customer's cards. */
  cards_uri: string
  /** The customer's credits (not emulated). */
  credits_uri: string
  /** The customer's debits (not emulated). */
  debits_uri: string
  /** The customer's holds (not emulated). */
  holds_uri: string
  /** The customer's refunds (not emulated). */
  refunds_uri: string
  /** The customer's transactions (not emulated). */
  transactions_uri: string
}

/**
 * The card view (`_type: 'card'`) of the reference. `expiration_month` and `expiration_year` are
 * numbers, as in the reference's response bodies (its field list calls them strings). The create
 * form takes `city` and `region` (or `state`) and `phone_number`, but the reference's view has
 * none of them, so neither has this one: a client cannot read back what the API does not show.
 * There is never a card number or a security code.
 */
export interface MarketplaceCardView {
  /** Always `'card'`: how a payload is told to be a card. */
  _type: 'card'
  /** Always `{}`. */
  _uris: Record<string, never>
  /** The card's id: what `getCard`, `updateCard` and `invalidateCard` take. */
  id: string
  /** The account form (`…/accounts/:account/cards/:card`) once the card is associated. */
  uri: string
  /** Equal for cards with the same number and expiry (hex), and never the number's digest. */
  hash: string
  /** The last four digits of the number. */
  last_four: string
  /** The card network (`'Visa'`, `'MasterCard'` …). */
  brand: MarketplaceCardBrand
  /** Deprecated in favour of `brand`: `visa`, `mastercard`, `amex`, `discover` … */
  card_type: string
  /** The expiry month, 1 to 12. */
  expiration_month: number
  /** The expiry year, four digits. */
  expiration_year: number
  /** The name on the card, or null. */
  name: string | null
  /** The street address as sent (the adapter puts `line2` on a second line), or null. */
  street_address: string | null
  /** The postal (ZIP) code, or null. */
  postal_code: string | null
  /** ISO 3166-1 alpha-3 (`'USA'`), or null. */
  country_code: string | null
  /** String pairs set by the API caller; `{}` when none. */
  meta: Record<string, string>
  /** False once the card is invalidated, which cannot be undone. */
  is_valid: boolean
  /** Whether the card could be verified when tokenized; always true here. */
  is_verified: boolean
  /** The issuer's check of the security code: `'unknown'` when none was given. */
  security_code_check: MarketplaceCheckOutcome
  /** The issuer's check of the postal code: `'passed'`, or `'unknown'` without one. */
  postal_code_check: MarketplaceCheckOutcome
  /** When the card was tokenized, ISO 8601 with microseconds. */
  created_at: string
  /** The account holding the card, or null before it is associated. */
  account: MarketplaceAccountView | null
  /** The holding account's customer, whose `source_uri` names the chosen card; or null. */
  customer: MarketplaceCustomerView | null
}

/** A check outcome, as the reference's field list spells them. */
export type MarketplaceCheckOutcome = 'passed' | 'failed' | 'unknown'

/** The page envelope of the reference's lists. */
export interface MarketplacePage<T> {
  /** Always `'page'`. */
  _type: 'page'
  /** Descriptors of the page links, by link name. */
  _uris: Record<string, MarketplaceUriDescriptor>
  /** This page's items, at most `limit`, oldest first. */
  items: T[]
  /** This page's path, with its `limit` and `offset`. */
  uri: string
  /** The first page's path (offset 0). */
  first_uri: string
  /** The previous page's path, or null on the first page. */
  previous_uri: string | null
  /** The next page's path, or null on the last page. */
  next_uri: string | null
  /** The last page's path (offset 0 when the list is empty). */
  last_uri: string
  /** Items per page, as asked (default 10). */
  limit: number
  /** The index of this page's first item. */
  offset: number
  /** How many items the whole list holds. */
  total: number
}

interface MarketplaceRecord {
  id: string
  name: string
  secret: string
  created_at: string
}

interface AccountRecord {
  id: string
  marketplace: string
  customer_id: string
  merchant_id: string | null
  name: string | null
  email_address: string | null
  meta: Record<string, string>
  roles: Array<'merchant' | 'buyer'>
  created_at: string
}

/** A stored card: the last four digits and a hash, never the number or the security code. */
interface CardRecord
  extends Omit<MarketplaceCardView, '_type' | '_uris' | 'uri' | 'account' | 'customer'> {
  marketplace: string
  account: string | null
  /** The order of association: the highest valid one is the account's chosen card. */
  associated: number
  /** The test table says the processor declines it when it is associated. */
  declines: boolean
}

/** The emulator's in-memory model and the reference's rules on it. @internal */
export type MarketplaceState = ReturnType<typeof createMarketplaceState>

/**
 * Creates the model with the test marketplace in it. Rule violations throw a
 * `MarketplaceRequestError`; the routes turn them into responses. @internal
 */
export function createMarketplaceState(options: {
  now: () => Date
  testMarketplace: { id: string; name: string; secret: string }
}) {
  const marketplaces = new Map<string, MarketplaceRecord>()
  const accounts = new Map<string, AccountRecord>()
  const cards = new Map<string, CardRecord>()
  let associations = 0

  const timestamp = () => isoMicros(options.now())

  const state = {
    /** Empties everything, then recreates the test marketplace. */
    reset() {
      marketplaces.clear()
      accounts.clear()
      cards.clear()
      associations = 0
      state.createMarketplace(options.testMarketplace)
    },

    // ---- marketplaces ------------------------------------------------------------------------

    createMarketplace(fields: { id?: string; name?: string; secret?: string } = {}) {
      const id = fields.id ?? `TEST-MP${randomId(22)}`
      const secret = fields.secret ?? `ak-test-${randomId(32)}`
      if (marketplaces.has(id)) {
        throw new MarketplaceRequestError(
          409,
          'marketplace-already-created',
          'logical',
          `Marketplace ${id} has already been created.`,
        )
      }
      if (state.marketplaceByKey(secret)) {
        throw new MarketplaceRequestError(
          409,
          'marketplace-already-created',
          'logical',
          'This API key secret already has a marketplace.',
        )
      }
      const record: MarketplaceRecord = {
        id,
        name: fields.name ?? 'Test Marketplace',
        secret,
        created_at: timestamp(),
      }
      marketplaces.set(id, record)
      return presentMarketplace(record)
    },

    marketplaceByKey(secret: string): MarketplaceInfo | undefined {
      for (const record of marketplaces.values()) {
        if (record.secret === secret) return presentMarketplace(record)
      }
      return undefined
    },

    marketplaces(): MarketplaceInfo[] {
      return [...marketplaces.values()].map(presentMarketplace)
    },

    hasMarketplace(id: string): boolean {
      return marketplaces.has(id)
    },

    // ---- accounts ----------------------------------------------------------------------------

    account(mp: string, id: string): AccountRecord {
      const account = accounts.get(id)
      if (!account || account.marketplace !== mp) {
        throw notFound(`The account ${id} was not found on the marketplace ${mp}.`)
      }
      return account
    },

    accountsOf(mp: string): AccountRecord[] {
      return [...accounts.values()].filter((account) => account.marketplace === mp)
    },

    findAccount(id: string): AccountRecord | undefined {
      return accounts.get(id)
    },

    /**
     * `POST …/accounts`. The API makes buyers (with a card) and merchants: an account with
     * neither is `incomplete-account-info`, unless `seeded` (a fresh owner for tests).
     */
    createAccount(mp: string, form: AccountForm, seeded = false): AccountRecord {
      // Everything is checked before anything is stored: a declined card creates no account.
      const card = state.cardToAssociate(mp, form)
      // The reference's buyers take the card's name, and its merchant examples (`name: null`
      // beside a named merchant) the merchant's.
      const name = form.name ?? card?.name ?? form.merchantName ?? null
      if (name === null) {
        throw badRequest({ name: 'is required when no card or merchant with a name is given' })
      }
      if (!seeded && !card && !form.merchant) throw incompleteAccountInfo()
      state.checkEmail(mp, form.email_address ?? null)
      const account: AccountRecord = {
        id: `AC${randomId(22)}`,
        marketplace: mp,
        customer_id: `CU${randomId(22)}`,
        merchant_id: form.merchant ? `MR${randomId(22)}` : null,
        name,
        email_address: form.email_address ?? null,
        meta: form.meta ?? {},
        roles: form.merchant ? ['merchant'] : [],
        created_at: timestamp(),
      }
      accounts.set(account.id, account)
      if (card) state.associate(store(card), account)
      return account
    },

    updateAccount(mp: string, id: string, form: AccountForm): AccountRecord {
      const account = state.account(mp, id)
      const card = state.cardToAssociate(mp, form)
      if (form.email_address !== undefined) state.checkEmail(mp, form.email_address, account.id)
      if (form.merchant && account.roles.includes('merchant')) {
        throw accountAlreadyMerchant(account.id)
      }
      if (form.name !== undefined) {
        if (form.name === null) throw badRequest({ name: 'must be a string' })
        account.name = form.name
      }
      if (form.email_address !== undefined) account.email_address = form.email_address
      if (form.meta !== undefined) account.meta = form.meta
      if (form.merchant) {
        account.merchant_id = `MR${randomId(22)}`
        account.roles = ['merchant', ...account.roles]
      }
      if (card) state.associate(store(card), account)
      return account
    },

    /** Unique among the marketplace's accounts, ignoring case. */
    checkEmail(mp: string, email: string | null, self?: string) {
      if (email === null) return
      const taken = state
        .accountsOf(mp)
        .some(
          (other) =>
            other.id !== self && other.email_address?.toLowerCase() === email.toLowerCase(),
        )
      if (taken) throw duplicateEmailAddress()
    },

    /**
     * The card an account form associates (an existing one by `card_uri`, or a new one from
     * `card`, not stored yet), after every association rule passed.
     */
    cardToAssociate(mp: string, form: AccountForm) {
      if (form.cardUri) {
        const card = state.cardByUri(form.cardUri, 'card_uri')
        state.checkAssociation(mp, card)
        return card
      }
      if (form.card) {
        const card = state.prepareCard(mp, form.card)
        state.checkAssociation(mp, card)
        return card
      }
      return undefined
    },

    // ---- cards -------------------------------------------------------------------------------

    card(mp: string, id: string): CardRecord {
      const card = cards.get(id)
      if (!card || card.marketplace !== mp) {
        throw notFound(`The card ${id} was not found on the marketplace ${mp}.`)
      }
      return card
    },

    findCard(id: string): CardRecord | undefined {
      return cards.get(id)
    },

    cardsOf(mp: string): CardRecord[] {
      return [...cards.values()].filter((card) => card.marketplace === mp)
    },

    /** An account's cards in the order they were associated, oldest first. */
    accountCards(mp: string, accountId: string): CardRecord[] {
      state.account(mp, accountId)
      return [...cards.values()]
        .filter((card) => card.account === accountId)
        .sort((a, b) => a.associated - b.associated)
    },

    /** An account's card: 404 when unknown, `card-not-associated` when it is not the account's. */
    accountCard(mp: string, accountId: string, cardId: string): CardRecord {
      state.account(mp, accountId)
      const card = state.card(mp, cardId)
      if (card.account !== accountId) throw cardNotAssociated(cardId, accountId)
      return card
    },

    /**
     * The account's chosen card: the most recently associated card that is still valid. The
     * reference shows it as the embedded customer's `source_uri` (in its association example,
     * the card just associated).
     */
    source(accountId: string): CardRecord | undefined {
      let chosen: CardRecord | undefined
      for (const card of cards.values()) {
        if (card.account !== accountId || !card.is_valid) continue
        if (!chosen || card.associated > chosen.associated) chosen = card
      }
      return chosen
    },

    /** Tokenizes a card (`POST …/cards`). */
    tokenize(mp: string, form: CardForm): CardRecord {
      return store(state.prepareCard(mp, form))
    },

    /** Validates the form's card as the processor would, and builds its record (not stored). */
    prepareCard(mp: string, form: CardForm): CardRecord {
      const number = form.number
      if (!/^\d{12,19}$/.test(number) || !isLuhnValid(number)) {
        throw cardNotValidated('The card number is not valid: check the digits.')
      }
      const test = findMarketplaceTestCard(number)
      if (test?.outcome === 'not-validated') {
        throw cardNotValidated('The processor could not validate this card number.')
      }
      const now = options.now()
      const [year, month] = [now.getUTCFullYear(), now.getUTCMonth() + 1]
      if (
        form.expiration_year < year ||
        (form.expiration_year === year && form.expiration_month < month)
      ) {
        throw cardNotValidated('The card has expired: check the expiration month and year.')
      }
      const brand = marketplaceBrandOf(number)
      let securityCheck: MarketplaceCheckOutcome = 'unknown'
      if (form.security_code !== null) {
        const length = brand === 'American Express' ? 4 : 3
        if (!new RegExp(`^\\d{${length}}$`).test(form.security_code)) {
          throw cardNotValidated(`The security code of this card must be ${length} digits.`)
        }
        if (test?.outcome === 'security-code-fails') {
          throw cardNotValidated('The security code does not match the card.')
        }
        securityCheck = 'passed'
      }
      return {
        id: `CC${randomId(22)}`,
        marketplace: mp,
        account: null,
        associated: 0,
        created_at: timestamp(),
        hash: cardHash(number, form.expiration_month, form.expiration_year),
        last_four: number.slice(-4),
        brand,
        card_type: CARD_TYPES[brand],
        expiration_month: form.expiration_month,
        expiration_year: form.expiration_year,
        name: form.name,
        street_address: form.street_address,
        postal_code: form.postal_code,
        country_code: form.country_code,
        meta: form.meta,
        is_valid: form.is_valid,
        is_verified: true,
        security_code_check: securityCheck,
        postal_code_check: form.postal_code === null ? 'unknown' : 'passed',
        declines: test?.outcome === 'declined',
      }
    },

    /**
     * The association rules, in order: the card is this marketplace's (`cannot-associate-card`),
     * not associated yet (`card-already-funding-src`), valid (`card-not-valid`), and the
     * processor accepts it (`card-declined`).
     */
    checkAssociation(mp: string, card: CardRecord) {
      if (card.marketplace !== mp) throw cannotAssociateCard(card.id)
      if (card.account !== null) throw cardAlreadyFundingSource(card.id)
      if (!card.is_valid) throw cardNotValid(card.id)
      if (card.declines) throw cardDeclined()
    },

    associate(card: CardRecord, account: AccountRecord) {
      card.account = account.id
      card.associated = ++associations
      if (!account.roles.includes('buyer')) account.roles = [...account.roles, 'buyer']
    },

    /** `POST …/accounts/:account/cards`: an existing card by URI, or a new one from the form. */
    createAndAssociate(mp: string, accountId: string, input: { uri: string } | { form: CardForm }) {
      const account = state.account(mp, accountId)
      const card =
        'uri' in input ? state.cardByUri(input.uri, 'card_uri') : state.prepareCard(mp, input.form)
      state.checkAssociation(mp, card)
      state.associate('uri' in input ? card : store(card), account)
      return card
    },

    /**
     * `PUT` on a card: checks everything first, then applies. `is_valid: true` on an
     * invalidated card is `card-not-valid`: invalidation is final. An `account` object naming
     * the account the card already belongs to (the card sent back as read) leaves the
     * association as it is; any other association of an associated card, `account_uri` or
     * `customer_uri` to the same account included, is `card-already-funding-src`.
     */
    updateCard(mp: string, card: CardRecord, form: CardUpdateForm): CardRecord {
      if (form.is_valid === true && !card.is_valid) throw cardNotValid(card.id)
      let account: AccountRecord | undefined
      if (form.accountUri !== undefined) {
        account = state.accountByUri(mp, form.accountUri)
        if (form.accountField === 'account' && account.id === card.account) account = undefined
        else state.checkAssociation(mp, card)
      }
      if (form.meta !== undefined) card.meta = form.meta
      if (account) state.associate(card, account)
      if (form.is_valid === false) card.is_valid = false
      return card
    },

    /** A card named by a URI in a request body (`card_uri`, `uri`). */
    cardByUri(uri: string, field: string): CardRecord {
      const match = pathOf(uri).match(CARD_URI)
      if (!match) {
        throw badRequest({
          [field]: 'must be a card URI: /v1/marketplaces/:marketplace/cards/:card',
        })
      }
      const card = cards.get(match[3]!)
      if (!card) throw notFound(`No card was found at ${pathOf(uri)}.`)
      // A card of another marketplace is found here, and refused by the association rules.
      return card
    },

    /** An account named by `account_uri`, `account.uri` or `customer_uri`. */
    accountByUri(mp: string, uri: string): AccountRecord {
      const path = pathOf(uri)
      const accountMatch = path.match(ACCOUNT_URI)
      const customerMatch = path.match(CUSTOMER_URI)
      let account: AccountRecord | undefined
      if (accountMatch) account = accounts.get(accountMatch[2]!)
      else if (customerMatch) {
        const id = customerMatch[1]!
        account = [...accounts.values()].find((a) => a.id === id || a.customer_id === id)
      } else {
        throw badRequest({
          account_uri: 'must be an account URI: /v1/marketplaces/:marketplace/accounts/:account',
        })
      }
      if (!account || account.marketplace !== mp) {
        throw notFound(`No account of the marketplace ${mp} was found at ${path}.`)
      }
      return account
    },

    // ---- views -------------------------------------------------------------------------------

    presentAccount(account: AccountRecord): MarketplaceAccountView {
      const uri = `/v1/marketplaces/${account.marketplace}/accounts/${account.id}`
      return {
        _type: 'account',
        _uris: descriptors(ACCOUNT_LINKS),
        id: account.id,
        uri,
        name: account.name,
        email_address: account.email_address,
        meta: { ...account.meta },
        roles: [...account.roles],
        created_at: account.created_at,
        customer_uri: `/v1/customers/${account.id}`,
        bank_accounts_uri: `${uri}/bank_accounts`,
        cards_uri: `${uri}/cards`,
        credits_uri: `${uri}/credits`,
        debits_uri: `${uri}/debits`,
        holds_uri: `${uri}/holds`,
        refunds_uri: `${uri}/refunds`,
        transactions_uri: `${uri}/transactions`,
        ...(account.merchant_id ? { merchant_uri: `/v1/merchants/${account.merchant_id}` } : {}),
      }
    },

    presentCustomer(account: AccountRecord): MarketplaceCustomerView {
      const uri = `/v1/customers/${account.customer_id}`
      const source = state.source(account.id)
      return {
        _type: 'customer',
        _uris: descriptors(CUSTOMER_LINKS),
        id: account.customer_id,
        uri,
        name: null,
        email: account.email_address,
        phone: null,
        meta: {},
        address: {},
        business_name: null,
        dob: null,
        ein: null,
        ssn_last4: null,
        facebook: null,
        twitter: null,
        is_identity_verified: false,
        created_at: account.created_at,
        // The reference's source_uri names the account id, not the customer id.
        source_uri: source ? `/v1/customers/${account.id}/cards/${source.id}` : null,
        destination_uri: null,
        bank_accounts_uri: `${uri}/bank_accounts`,
        cards_uri: `${uri}/cards`,
        credits_uri: `${uri}/credits`,
        debits_uri: `${uri}/debits`,
        holds_uri: `${uri}/holds`,
        refunds_uri: `${uri}/refunds`,
        transactions_uri: `${uri}/transactions`,
      }
    },

    presentCard(card: CardRecord): MarketplaceCardView {
      const account = card.account === null ? undefined : accounts.get(card.account)
      const base = `/v1/marketplaces/${card.marketplace}`
      return {
        _type: 'card',
        _uris: {},
        id: card.id,
        uri: account
          ? `${base}/accounts/${account.id}/cards/${card.id}`
          : `${base}/cards/${card.id}`,
        hash: card.hash,
        last_four: card.last_four,
        brand: card.brand,
        card_type: card.card_type,
        expiration_month: card.expiration_month,
        expiration_year: card.expiration_year,
        name: card.name,
        street_address: card.street_address,
        postal_code: card.postal_code,
        country_code: card.country_code,
        meta: { ...card.meta },
        is_valid: card.is_valid,
        is_verified: card.is_verified,
        security_code_check: card.security_code_check,
        postal_code_check: card.postal_code_check,
        created_at: card.created_at,
        account: account ? state.presentAccount(account) : null,
        customer: account ? state.presentCustomer(account) : null,
      }
    },

    /**
     * A page of `all` at `base`, with the reference's links: `first_uri` at offset 0,
     * `last_uri` at the start of the last page (offset 0 when empty), `previous_uri` and
     * `next_uri` null at the ends.
     */
    presentPage<T, V>(
      all: readonly T[],
      base: string,
      page: PageParams,
      present: (item: T) => V,
    ): MarketplacePage<V> {
      const { limit, offset } = page
      const total = all.length
      const at = (start: number) => `${base}?limit=${limit}&offset=${start}`
      const last = total === 0 ? 0 : Math.floor((total - 1) / limit) * limit
      return {
        _type: 'page',
        _uris: descriptors(PAGE_LINKS),
        items: all.slice(offset, offset + limit).map(present),
        uri: at(offset),
        first_uri: at(0),
        previous_uri: offset > 0 ? at(Math.max(0, offset - limit)) : null,
        next_uri: offset + limit < total ? at(offset + limit) : null,
        last_uri: at(last),
        limit,
        offset,
        total,
      }
    },
  }

  function store(card: CardRecord): CardRecord {
    cards.set(card.id, card)
    return card
  }

  state.reset()
  return state
}

// ---- helpers -------------------------------------------------------------------------------

function presentMarketplace(record: MarketplaceRecord): MarketplaceInfo {
  return { ...record, uri: `/v1/marketplaces/${record.id}` }
}

const CARD_URI = /^\/?v1\/marketplaces\/([^/]+)\/(?:accounts\/([^/]+)\/)?cards\/([^/]+)\/?$/
const ACCOUNT_URI = /^\/?v1\/marketplaces\/([^/]+)\/accounts\/([^/]+)\/?$/
const CUSTOMER_URI = /^\/?v1\/customers\/([^/]+)\/?$/

/** The path of a URI from a body: the reference writes them with and without a leading `/`. */
function pathOf(uri: string): string {
  const trimmed = uri.trim()
  if (/^https?:\/\//i.test(trimmed)) {
    try {
      return new URL(trimmed).pathname
    } catch {
      return trimmed
    }
  }
  return trimmed.split(/[?#]/)[0] ?? trimmed
}

const CARD_TYPES: Readonly<Record<MarketplaceCardBrand, string>> = {
  Visa: 'visa',
  MasterCard: 'mastercard',
  'American Express': 'amex',
  Discover: 'discover',
  JCB: 'jcb',
  'Diners Club': 'diners',
  UnionPay: 'unionpay',
  Unknown: 'unknown',
}

const PAGE_LINKS: ReadonlyArray<[string, string, string]> = [
  ['first_uri', 'page', 'first'],
  ['next_uri', 'page', 'next'],
  ['previous_uri', 'page', 'previous'],
  ['last_uri', 'page', 'last'],
]

const ACCOUNT_LINKS: ReadonlyArray<[string, string, string]> = [
  ['holds_uri', 'page', 'holds'],
  ['bank_accounts_uri', 'page', 'bank_accounts'],
  ['refunds_uri', 'page', 'refunds'],
  ['customer_uri', 'customer', 'customer'],
  ['debits_uri', 'page', 'debits'],
  ['transactions_uri', 'page', 'transactions'],
  ['credits_uri', 'page', 'credits'],
  ['cards_uri', 'page', 'cards'],
]

const CUSTOMER_LINKS: ReadonlyArray<[string, string, string]> = [
  ['holds_uri', 'page', 'holds'],
  ['source_uri', 'card', 'source'],
  ['bank_accounts_uri', 'page', 'bank_accounts'],
  ['refunds_uri', 'page', 'refunds'],
  ['debits_uri', 'page', 'debits'],
  ['transactions_uri', 'page', 'transactions'],
  ['credits_uri', 'page', 'credits'],
  ['cards_uri', 'page', 'cards'],
]

function descriptors(
  links: ReadonlyArray<[string, string, string]>,
): Record<string, MarketplaceUriDescriptor> {
  return Object.fromEntries(links.map(([name, type, key]) => [name, { _type: type, key }]))
}

/**
 * The reference's `hash`: equal for equal number and expiry. SHA-256 over a namespaced input,
 * so that the hex is not the plain digest of a card number.
 */
function cardHash(number: string, month: number, year: number): string {
  return createHash('sha256').update(`cardport-emulator:${number}:${month}:${year}`).digest('hex')
}

/** ISO 8601 with microseconds, as the reference writes `created_at`. */
function isoMicros(date: Date): string {
  return date.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z')
}

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'

/** A random base62 string, the shape of the reference's ids after their prefix. */
export function randomId(length: number): string {
  const bytes = new Uint8Array(length)
  globalThis.crypto.getRandomValues(bytes)
  let out = ''
  for (const byte of bytes) out += BASE62[byte % BASE62.length]
  return out
}
