import { setEntry } from '../form-keys.js'
import {
  bracketedMetadataKey,
  cardFailure,
  invalidParam,
  missingParam,
  resourceMissing,
  stripeError,
  tokenAlreadyUsed,
} from './stripe-errors.js'
import {
  findStripeTestCard,
  findStripeTestToken,
  type StripeCardBrand,
  type StripeCardFailure,
  type StripeCardFunding,
  stripeBrandOf,
} from './stripe-test-cards.js'

/** Stripe metadata: string pairs. */
export type StripeMetadata = Record<string, string>

/**
 * Stripe's card object (API 2023-08-16). A customer's card has `customer`; a connected
 * account's card (an external account) has `account`, `currency`, `default_for_currency`,
 * `available_payout_methods` and `status` instead, as Stripe sends them.
 */
export interface StripeCard {
  /** The card's id (`card_…`): what `getCard`, `updateCard` and `deleteCard` take. */
  id: string
  /** Always `'card'`: how a source list tells cards from bank accounts. */
  object: 'card'
  /** For an external account: the connected account's id (`acct_…`). */
  account?: string
  /** The billing address's city, or null. */
  address_city: string | null
  /** The billing address's country, as given when the card was created, or null. */
  address_country: string | null
  /** The billing address's street line, or null. */
  address_line1: string | null
  /**
   * The issuer's check of `address_line1`: `'pass'`, `'fail'`, `'unavailable'`, `'unchecked'`,
   * or null when no street line was given. The emulator passes it once the card is attached.
   */
  address_line1_check: string | null
  /** The billing address's second line (apartment, suite), or null. */
  address_line2: string | null
  /** The billing address's state, county or region, or null. */
  address_state: string | null
  /** The billing address's ZIP or postal code, or null. */
  address_zip: string | null
  /** The issuer's check of `address_zip`, as `address_line1_check`; null without a ZIP. */
  address_zip_check: string | null
  /** For an external account: the payout methods the card takes (`'standard'`, `'instant'`). */
  available_payout_methods?: Array<'instant' | 'standard'> | null
  /** The card network, as Stripe names it (`'Visa'`, `'American Express'` …). */
  brand: StripeCardBrand
  /** The issuer's country, ISO 3166-1 alpha-2, or null. */
  country: string | null
  /** For an external account: the currency paid out to the card (lower case). */
  currency?: string | null
  /** For a customer's card: the customer's id (`cus_…`); absent on an external account. */
  customer?: string | null
  /**
   * The issuer's check of the CVC: `'pass'` once a card given with a CVC is attached, null when
   * none was given (`'unchecked'` on a token not attached yet).
   */
  cvc_check: 'pass' | 'fail' | 'unavailable' | 'unchecked' | null
  /** For an external account: whether the card is the default for its currency. */
  default_for_currency?: boolean | null
  /** The last four digits of a wallet's device number; always null here (no wallets). */
  dynamic_last4: string | null
  /** The expiry month, 1 to 12. */
  exp_month: number
  /** The expiry year, four digits. */
  exp_year: number
  /** The same for every card with the same number, whoever holds it. */
  fingerprint: string
  /** `'credit'`, `'debit'`, `'prepaid'` or `'unknown'`; external accounts take debit only. */
  funding: StripeCardFunding
  /** The last four digits of the number. */
  last4: string
  /** String pairs set by the API caller; `{}` when none. */
  metadata: StripeMetadata
  /** The cardholder's name, or null. */
  name: string | null
  /** For an external account: `'new'`, or `'errored'` after a failed payout. */
  status?: string | null
  /** The wallet that tokenized the number (`'apple_pay'` …); always null here. */
  tokenization_method: string | null
  /** Wallet details; always null here. */
  wallet: null
}

/** Stripe's bank_account object, as a customer source or an external account. */
export interface StripeBankAccount {
  /** The bank account's id (`ba_…`). */
  id: string
  /** Always `'bank_account'`: the adapter skips such sources, they are not cards. */
  object: 'bank_account'
  /** For an external account: the connected account's id (`acct_…`). */
  account?: string
  /** The name of the person or business that holds the account, or null. */
  account_holder_name: string | null
  /** `'individual'` or `'company'`, or null. */
  account_holder_type: 'individual' | 'company' | null
  /** `'checking'`, `'savings'` … where the country has types, or null. */
  account_type: string | null
  /** For an external account: the payout methods it takes (`'standard'`). */
  available_payout_methods?: Array<'instant' | 'standard'> | null
  /** The bank's name (`'STRIPE TEST BANK'`), or null. */
  bank_name: string | null
  /** The bank's country, ISO 3166-1 alpha-2. */
  country: string
  /** The currency paid out to the account (lower case). */
  currency: string
  /** For a customer's bank account: the customer's id (`cus_…`). */
  customer?: string | null
  /** For an external account: whether it is the default for its currency. */
  default_for_currency?: boolean | null
  /** The same for every bank account with the same routing and account numbers. */
  fingerprint: string
  /** The last four digits of the account number. */
  last4: string
  /** String pairs set by the API caller; `{}` when none. */
  metadata: StripeMetadata
  /** The routing transit number, or null. */
  routing_number: string | null
  /** `'new'` until Stripe has validated or verified it. */
  status: string
}

/** A customer source or an external account. */
export type StripeSource = StripeCard | StripeBankAccount

/** Stripe's address hash. */
export interface StripeAddress {
  /** City, district, suburb, town or village, or null. */
  city: string | null
  /** ISO 3166-1 alpha-2, or null. */
  country: string | null
  /** Street, PO box or company name, or null. */
  line1: string | null
  /** Apartment, suite, unit or building, or null. */
  line2: string | null
  /** ZIP or postal code, or null. */
  postal_code: string | null
  /** State, county, province or region, or null. */
  state: string | null
}

/** Stripe's customer object as retrieved without `expand` (API 2023-08-16). */
export interface StripeCustomer {
  /** The customer's id (`cus_…`): the `id` of a `customer` owner. */
  id: string
  /** Always `'customer'`. */
  object: 'customer'
  /** The customer's address, or null. */
  address: StripeAddress | null
  /** The invoice balance in the smallest currency unit; 0 unless set. */
  balance: number
  /** When the customer was created, in seconds since the epoch (the emulator's clock). */
  created: number
  /** The currency of recurring billing, or null. */
  currency: string | null
  /** The id of the default source: a card's `isDefault` comes from it. Null when none. */
  default_source: string | null
  /** Whether the latest invoice is unpaid; false here. */
  delinquent: boolean
  /** Free text set by the API caller, or null. */
  description: string | null
  /** The discount in force; always null here. */
  discount: null
  /** The customer's email address, or null. */
  email: string | null
  /** The prefix of the customer's invoice numbers; 8 random hexadecimal characters unless set. */
  invoice_prefix: string
  /** Invoice defaults; the emulator keeps the shape only. */
  invoice_settings: {
    /** Custom fields on invoices; always null here. */
    custom_fields: null
    /** The PaymentMethods API's default, not a source; null unless seeded. */
    default_payment_method: string | null
    /** The invoices' footer, or null. */
    footer: string | null
    /** PDF rendering options; always null here. */
    rendering_options: null
  }
  /** Always false: the emulator is test mode. */
  livemode: false
  /** String pairs set by the API caller; `{}` when none. */
  metadata: StripeMetadata
  /** The customer's full or business name, or null. */
  name: string | null
  /** The number of the customer's next invoice; 1 unless set. */
  next_invoice_sequence: number
  /** The customer's phone number, or null. */
  phone: string | null
  /** Preferred locales, most preferred first; `[]` unless set. */
  preferred_locales: string[]
  /** Where to ship to, or null. */
  shipping: {
    /** The shipping address. */
    address: StripeAddress
    /** The recipient's name. */
    name: string
    /** The recipient's phone number, or null. */
    phone: string | null
  } | null
  /** The customer's tax exemption; `'none'` unless set. */
  tax_exempt: 'none' | 'exempt' | 'reverse'
  /** The test clock the customer runs on; always null here. */
  test_clock: null
}

/** Stripe's Connect account object, without its `external_accounts` list (built on output). */
export interface StripeAccount {
  /** The account's id (`acct_…`): the `id` of an `account` owner. */
  id: string
  /** Always `'account'`. */
  object: 'account'
  /** Business information (name, URL …), as Stripe shapes it. */
  business_profile: Record<string, unknown>
  /** `'individual'`, `'company'` …, or null. */
  business_type: string | null
  /** The account's capabilities and their status (`{ transfers: 'active' }` …); `{}` here. */
  capabilities: Record<string, string>
  /** Whether the account can create live charges. */
  charges_enabled: boolean
  /** Who controls the account. */
  controller: {
    /** Whether the platform reading the account controls it. */
    is_controller?: boolean
    /** `'application'` when a Connect application controls the account, else `'account'`. */
    type: 'account' | 'application'
  }
  /** The account's country, ISO 3166-1 alpha-2 (default `'US'`). */
  country: string
  /** When the account was connected, in seconds since the epoch (the emulator's clock). */
  created: number
  /**
   * The default currency, lower case (default: the country's, `'usd'` in the US): a card added
   * without a currency pays out in it.
   */
  default_currency: string
  /** Whether the account's details have been submitted. */
  details_submitted: boolean
  /** The account's email address, or null. */
  email: string | null
  /** Requirements to be collected later, as Stripe shapes them. */
  future_requirements: Record<string, unknown>
  /** String pairs set by the API caller; `{}` when none. */
  metadata: StripeMetadata
  /** Whether Stripe can pay out to the account. */
  payouts_enabled: boolean
  /** Requirements still to be collected, as Stripe shapes them. */
  requirements: Record<string, unknown>
  /** The account's settings (branding, payouts …), as Stripe shapes them. */
  settings: Record<string, unknown>
  /** When, from where and with what the terms of service were accepted. */
  tos_acceptance: {
    /** When, in seconds since the epoch, or null when not accepted. */
    date: number | null
    /** The IP address it was accepted from, or null. */
    ip: string | null
    /** The browser's user agent, or null. */
    user_agent: string | null
  }
  /** `'custom'`, `'express'` or `'standard'`; seeded accounts are `'custom'` unless told. */
  type: 'custom' | 'express' | 'standard'
}

/** Stripe's token object for a card. */
export interface StripeToken {
  /** The token's id (`tok_…`): a `createCard` source, usable once. */
  id: string
  /** Always `'token'`. */
  object: 'token'
  /** The card the token stands for, as it will be attached. */
  card: StripeCard
  /** The IP address the token was made from (`'127.0.0.1'` here), or null. */
  client_ip: string | null
  /** When the token was created, in seconds since the epoch (the emulator's clock). */
  created: number
  /** Always false: the emulator is test mode. */
  livemode: false
  /** Always `'card'`: the emulator makes card tokens only. */
  type: 'card'
  /** Whether the token has been used: a second use is refused, as on Stripe. */
  used: boolean
}

/** Stripe's list envelope. */
export interface StripeList<T> {
  /** Always `'list'`. */
  object: 'list'
  /** The path the list was read from (`/v1/customers/cus_…/sources`). */
  url: string
  /** Whether more items follow: ask again with `starting_after` the last item's id. */
  has_more: boolean
  /** This page's items, newest first, at most `limit` of them. */
  data: T[]
}

/** A card resolved from a token or a card hash, before it is attached. */
interface ResolvedCard {
  card: StripeCard
  failure?: StripeCardFailure | undefined
  cvcProvided: boolean
  currency?: string | undefined
}

interface TokenRecord {
  token: StripeToken
  failure?: StripeCardFailure | undefined
  cvcProvided: boolean
  currency?: string | undefined
}

/** Page parameters of Stripe's list endpoints. */
export interface StripeListParams {
  limit?: unknown
  starting_after?: unknown
  ending_before?: unknown
}

/**
 * Told before each change the model makes to a customer or to an owner's sources, so that a
 * change log can keep what the object was: the webhook-event recorder compares that with what it
 * becomes instead of snapshotting the whole model around every write. @internal
 */
export interface StripeStateWatcher {
  /** Before a customer is created, changed or deleted. */
  customer(id: string): void
  /** Before the source `id` is added to `owner`'s list, changed in place or removed from it. */
  source(owner: string, id: string): void
}

/**
 * The emulator's in-memory model of one Stripe test-mode account, and Stripe's rules on it.
 * Rule violations throw a `StripeRequestError`; the routes turn them into responses.
 *
 * @internal
 */
export type StripeState = ReturnType<typeof createStripeState>

/** Creates an empty model. `now` drives `created` timestamps and test-token expiries. @internal */
export function createStripeState(now: () => Date) {
  const customers = new Map<string, { customer: StripeCustomer; deleted: boolean }>()
  const accounts = new Map<string, StripeAccount>()
  const sources = new Map<string, StripeSource[]>()
  const tokens = new Map<string, TokenRecord>()
  let watcher: StripeStateWatcher | undefined

  const seconds = () => Math.floor(now().getTime() / 1000)

  const ownedSources = (owner: string): StripeSource[] => {
    let list = sources.get(owner)
    if (!list) {
      list = []
      sources.set(owner, list)
    }
    return list
  }

  /** Makes `id` the customer's default source when it has none (Stripe's first source). */
  const setDefaultSource = (customer: StripeCustomer, id: string) => {
    if (customer.default_source) return
    watcher?.customer(customer.id)
    customer.default_source = id
  }

  /** Another external account became the default for `entry`'s currency. */
  const clearDefault = (accountId: string, entry: StripeSource) => {
    // Reported only when it changes: a bulk of non-defaults costs nothing to record.
    if (entry.default_for_currency === false) return
    watcher?.source(accountId, entry.id)
    entry.default_for_currency = false
  }

  /**
   * Builds the external account `input` names (a token, a card hash, a bank account hash) for
   * `account`, without storing it: a debit card, or Stripe's 400 for any other card.
   */
  const prepareExternalAccount = (
    input: unknown,
    param: string,
    account: StripeAccount,
  ): StripeSource => {
    if (isRecord(input) && input.object === 'bank_account') {
      return bankAccountFromHash(input, param, account)
    }
    const resolved = state.resolveCard(input, param)
    // External accounts receive payouts: Stripe takes non-prepaid debit cards only.
    if (resolved.card.funding !== 'debit') {
      throw stripeError(
        400,
        'invalid_request_error',
        'The card provided as an external account is not supported for payouts. Provide a non-prepaid debit card instead.',
        { code: 'invalid_card_type', param },
      )
    }
    if (resolved.failure) throw cardFailure(resolved.failure)
    const source = withOwner(resolved, { account: account.id })
    source.currency = (resolved.currency ?? account.default_currency).toLowerCase()
    source.available_payout_methods = ['standard', 'instant']
    source.status = 'new'
    return source
  }

  /**
   * Stores a prepared external account. `'default'` makes it the default for its currency;
   * `'replace'` does too and deletes the previous default for that currency, as Stripe does for
   * the `external_account` of an account create or update; `'other'` adds it beside the default.
   */
  const storeExternalAccount = (
    accountId: string,
    prepared: StripeSource,
    role: 'default' | 'other' | 'replace',
  ): StripeSource => {
    const list = ownedSources(accountId)
    const sameCurrency = list.filter((entry) => entry.currency === prepared.currency)
    const isDefault = role !== 'other' || sameCurrency.length === 0
    if (role === 'replace') {
      for (const entry of sameCurrency) {
        if (!entry.default_for_currency) continue
        watcher?.source(accountId, entry.id)
        removeFrom(list, entry.id)
      }
    } else if (isDefault) {
      for (const entry of sameCurrency) clearDefault(accountId, entry)
    }
    prepared.default_for_currency = isDefault
    const source = sortFields(prepared)
    watcher?.source(accountId, source.id)
    list.push(source)
    return source
  }

  /**
   * The external account an account create or update gives in `external_account`, prepared
   * (not stored), or undefined when the parameter is absent. Only the platform manages the
   * external accounts of the accounts whose requirements it collects (Custom accounts).
   */
  const externalAccountParam = (
    params: Record<string, unknown>,
    account: StripeAccount,
  ): StripeSource | undefined => {
    if (params.external_account === undefined) return undefined
    requirePlatformControl(account)
    return prepareExternalAccount(params.external_account, 'external_account', account)
  }

  const state = {
    reset() {
      customers.clear()
      accounts.clear()
      sources.clear()
      tokens.clear()
    },

    /** Reports every change from now on to `next`, before it is made (`undefined`: stop). */
    watch(next: StripeStateWatcher | undefined) {
      watcher = next
    },

    // ---- customers ---------------------------------------------------------------------------

    /** The live customer, or a 404 (`param` names the id's parameter). */
    customer(id: string, param = 'id', status = 404): StripeCustomer {
      const record = customers.get(id)
      if (!record || record.deleted) throw resourceMissing('customer', id, param, status)
      return record.customer
    },

    /** A customer including a deleted one (Stripe answers a deleted customer's stub). */
    customerRecord(id: string) {
      return customers.get(id)
    },

    listCustomers(params: StripeListParams & { email?: unknown }): StripeList<StripeCustomer> {
      let all = [...customers.values()].filter((record) => !record.deleted).map((r) => r.customer)
      if (typeof params.email === 'string') all = all.filter((c) => c.email === params.email)
      return paginate(all.reverse(), params, '/v1/customers', 'customer')
    },

    createCustomer(params: Record<string, unknown>): StripeCustomer {
      const source = params.source ?? params.card
      const customer: StripeCustomer = {
        id: stripeId('cus_', 14),
        object: 'customer',
        address: null,
        balance: 0,
        created: seconds(),
        currency: null,
        default_source: null,
        delinquent: false,
        description: null,
        discount: null,
        email: null,
        invoice_prefix: randomString(8, '0123456789ABCDEF'),
        invoice_settings: {
          custom_fields: null,
          default_payment_method: null,
          footer: null,
          rendering_options: null,
        },
        livemode: false,
        metadata: {},
        name: null,
        next_invoice_sequence: 1,
        phone: null,
        preferred_locales: [],
        shipping: null,
        tax_exempt: 'none',
        test_clock: null,
      }
      // The parameters first: a refused request leaves a created token unused.
      applyCustomerFields(customer, params)
      const resolved =
        source === undefined ? undefined : state.resolveCard(source, sourceParam(params))
      // Stripe checks the card before it creates anything: a declined card creates no customer.
      if (resolved?.failure) throw cardFailure(resolved.failure)
      watcher?.customer(customer.id)
      customers.set(customer.id, { customer, deleted: false })
      if (resolved) state.attachToCustomer(customer.id, resolved, {})
      return customer
    },

    updateCustomer(id: string, params: Record<string, unknown>): StripeCustomer {
      const customer = state.customer(id)
      // Checked whole on a copy first: Stripe refuses an update as a whole (an invalid metadata
      // key leaves the email as it was), and before a token is spent.
      const draft = structuredClone(customer)
      applyCustomerFields(draft, params)
      const source = params.source ?? params.card
      const defaultSource = params.default_source ?? params.default_card
      if (defaultSource !== undefined && typeof defaultSource === 'string' && defaultSource) {
        const held = ownedSources(id).some((entry) => entry.id === defaultSource)
        if (!held) throw resourceMissing('source', defaultSource, 'default_source', 400)
      }
      const resolved =
        source === undefined ? undefined : state.resolveCard(source, sourceParam(params))
      if (resolved?.failure) throw cardFailure(resolved.failure)
      watcher?.customer(id)
      // The default before this update: the one a `source` replaces, whatever `default_source`
      // names in the same request.
      const previous = customer.default_source
      Object.assign(customer, draft)
      if (resolved) {
        // `source` on a customer replaces the default source: the new card becomes the
        // customer's active source and the old default is deleted. `default_source` names a
        // source already attached, so with a `source` it is checked (above), not applied: the
        // source it names stays attached, as any other.
        const card = state.attachToCustomer(id, resolved, {})
        customer.default_source = card.id
        if (previous) {
          watcher?.source(id, previous)
          removeFrom(ownedSources(id), previous)
        }
      } else if (typeof defaultSource === 'string' && defaultSource) {
        customer.default_source = defaultSource
      }
      return customer
    },

    deleteCustomer(id: string) {
      state.customer(id)
      const record = customers.get(id)!
      watcher?.customer(id)
      record.deleted = true
      sources.delete(id)
      return { id, object: 'customer' as const, deleted: true as const }
    },

    // ---- customer sources --------------------------------------------------------------------

    /**
     * Checks a metadata parameter as Stripe does before an endpoint runs, so that a request
     * refused for it spends no token.
     */
    checkMetadata(patch: unknown) {
      applyMetadata({}, patch)
    },

    /** Attaches a resolved card to a customer; the first source becomes the default. */
    attachToCustomer(
      customerId: string,
      resolved: ResolvedCard,
      params: { metadata?: unknown },
    ): StripeCard {
      const customer = state.customer(customerId)
      if (resolved.failure) throw cardFailure(resolved.failure)
      const card: StripeCard = withOwner(resolved, { customer: customerId })
      card.metadata = applyMetadata({}, params.metadata)
      watcher?.source(customerId, card.id)
      ownedSources(customerId).push(card)
      setDefaultSource(customer, card.id)
      return card
    },

    addBankAccountToCustomer(customerId: string, fields: Partial<StripeBankAccount> = {}) {
      const customer = state.customer(customerId)
      const bank = bankAccount(fields)
      bank.customer = customerId
      watcher?.source(customerId, bank.id)
      ownedSources(customerId).push(bank)
      setDefaultSource(customer, bank.id)
      return bank
    },

    /**
     * Adds a Sources API `source` object (`src_…`, an ACH credit transfer receiver unless
     * `fields` say otherwise) to a customer's sources: a source that is neither a card nor a
     * bank account, as older integrations have them.
     */
    addSourceObjectToCustomer(customerId: string, fields: Record<string, unknown> = {}) {
      const customer = state.customer(customerId)
      const source = {
        id: stripeId('src_', 24),
        object: 'source',
        amount: null,
        client_secret: `src_client_secret_${randomString(24, BASE62)}`,
        created: seconds(),
        currency: 'usd',
        customer: customerId,
        flow: 'receiver',
        livemode: false,
        metadata: {},
        status: 'pending',
        type: 'ach_credit_transfer',
        usage: 'reusable',
        ...fields,
      }
      // Stored with the cards and bank accounts: lists filter it out by `object`.
      watcher?.source(customerId, source.id)
      ownedSources(customerId).push(source as unknown as StripeSource)
      setDefaultSource(customer, source.id)
      return source
    },

    /**
     * A customer's source by id. `'card'` is the legacy `/cards` paths, which serve cards only:
     * a bank account or a Sources API object there is `No such card`, like an unknown id.
     */
    customerSource(
      customerId: string,
      id: string,
      kind: 'source' | 'card' = 'source',
    ): StripeSource {
      state.customer(customerId, 'customer')
      const found = ownedSources(customerId).find((entry) => entry.id === id)
      if (!found || (kind === 'card' && found.object !== 'card')) {
        throw resourceMissing(kind, id, 'id')
      }
      return found
    },

    updateCustomerSource(customerId: string, id: string, params: Record<string, unknown>) {
      const source = state.customerSource(customerId, id)
      watcher?.source(customerId, id)
      updateSourceFields(source, params, seconds)
      return source
    },

    /**
     * Deletes a card or bank account (answered with its deleted stub), or detaches a Sources API
     * object: Stripe answers that with the Source object itself, its status `consumed` (the
     * OpenAPI description's `deleted_payment_source` has a card's and a bank account's stub
     * only; "Detach a source": "The status of a source is changed to consumed when it is
     * detached").
     */
    deleteCustomerSource(customerId: string, id: string) {
      const customer = state.customer(customerId, 'customer')
      const list = ownedSources(customerId)
      const source = state.customerSource(customerId, id)
      watcher?.source(customerId, id)
      removeFrom(list, id)
      if (customer.default_source === id) {
        // Stripe promotes the most recently added remaining source.
        watcher?.customer(customerId)
        customer.default_source = list.at(-1)?.id ?? null
      }
      if ((source.object as string) === 'source') return { ...source, status: 'consumed' }
      return { id, object: source.object, deleted: true as const }
    },

    listCustomerSources(
      customerId: string,
      params: StripeListParams & { object?: unknown },
      url: string,
    ): StripeList<StripeSource> {
      state.customer(customerId, 'customer')
      return paginate(newestFirst(ownedSources(customerId)), params, url, 'source', params.object)
    },

    // ---- accounts ----------------------------------------------------------------------------

    account(id: string, param = 'account', status = 404): StripeAccount {
      const account = accounts.get(id)
      if (!account) {
        // Stripe words an unknown connected account this way on every Connect path.
        throw stripeError(status, 'invalid_request_error', `No such account: '${id}'`, {
          code: 'resource_missing',
          param,
        })
      }
      return account
    },

    listAccounts(params: StripeListParams): StripeList<StripeAccount> {
      return paginate([...accounts.values()].reverse(), params, '/v1/accounts', 'account')
    },

    createAccount(params: Record<string, unknown>): StripeAccount {
      const type = params.type
      if (type === undefined) throw missingParam('type')
      if (type !== 'custom' && type !== 'express' && type !== 'standard') {
        throw invalidParam('type', `Invalid type: must be one of custom, express, or standard`)
      }
      const country = typeof params.country === 'string' ? params.country.toUpperCase() : 'US'
      const account = newAccount({
        id: stripeId('acct_', 16),
        type,
        country,
        created: seconds(),
        default_currency:
          typeof params.default_currency === 'string'
            ? params.default_currency.toLowerCase()
            : (COUNTRY_CURRENCY[country] ?? 'usd'),
        email: typeof params.email === 'string' ? params.email : null,
        metadata: applyMetadata({}, params.metadata),
        business_type: typeof params.business_type === 'string' ? params.business_type : null,
      })
      // Stripe checks the external account before it creates anything: a refused card (a
      // credit card, a declined one) creates no account.
      const external = externalAccountParam(params, account)
      accounts.set(account.id, account)
      if (external) storeExternalAccount(account.id, external, 'replace')
      return account
    },

    updateAccount(id: string, params: Record<string, unknown>): StripeAccount {
      const account = state.account(id)
      // Checked whole before anything changes: Stripe refuses an update as a whole.
      const metadata =
        params.metadata === undefined ? undefined : applyMetadata(account.metadata, params.metadata)
      const external = externalAccountParam(params, account)
      if (typeof params.email === 'string') account.email = params.email || null
      if (typeof params.default_currency === 'string') {
        account.default_currency = params.default_currency.toLowerCase()
      }
      if (metadata) account.metadata = metadata
      if (external) storeExternalAccount(id, external, 'replace')
      return account
    },

    deleteAccount(id: string) {
      state.account(id)
      accounts.delete(id)
      sources.delete(id)
      return { id, object: 'account' as const, deleted: true as const }
    },

    /** The account's external accounts, newest first (for the account object's list). */
    externalAccounts(accountId: string): StripeSource[] {
      return newestFirst(ownedSources(accountId))
    },

    // ---- external accounts -------------------------------------------------------------------

    addExternalAccount(accountId: string, params: Record<string, unknown>): StripeSource {
      const account = state.account(accountId)
      requirePlatformControl(account)
      const input = params.external_account ?? params.bank_account
      if (input === undefined || input === '') throw missingParam('external_account')
      const param = params.external_account === undefined ? 'bank_account' : 'external_account'
      // Checked before the card is resolved: a refused request leaves a created token unused.
      const metadata = applyMetadata({}, params.metadata)
      const source = prepareExternalAccount(input, param, account)
      source.metadata = metadata
      const sameCurrency = ownedSources(accountId).filter(
        (entry) => entry.currency === source.currency,
      )
      const makeDefault =
        sameCurrency.length === 0 || toBoolean(params.default_for_currency, 'default_for_currency')
      return storeExternalAccount(accountId, source, makeDefault ? 'default' : 'other')
    },

    addBankAccountToAccount(accountId: string, fields: Partial<StripeBankAccount> = {}) {
      const account = state.account(accountId)
      const bank = bankAccount({ currency: account.default_currency, ...fields })
      delete bank.customer
      bank.account = accountId
      bank.available_payout_methods = ['standard']
      const list = ownedSources(accountId)
      const sameCurrency = list.filter((entry) => entry.currency === bank.currency)
      bank.default_for_currency = sameCurrency.length === 0
      const sorted = sortFields(bank)
      watcher?.source(accountId, sorted.id)
      list.push(sorted)
      return sorted
    },

    externalAccount(accountId: string, id: string): StripeSource {
      state.account(accountId)
      const found = ownedSources(accountId).find((entry) => entry.id === id)
      if (!found) throw resourceMissing('external account', id, 'id')
      return found
    },

    updateExternalAccount(accountId: string, id: string, params: Record<string, unknown>) {
      requirePlatformControl(state.account(accountId))
      const source = state.externalAccount(accountId, id)
      const makeDefault =
        params.default_for_currency === undefined
          ? undefined
          : toBoolean(params.default_for_currency, 'default_for_currency')
      if (makeDefault === false && source.default_for_currency) {
        throw invalidParam(
          'default_for_currency',
          `You cannot set default_for_currency to false on the default external account for ${source.currency}. Set another external account as the default for that currency instead.`,
        )
      }
      watcher?.source(accountId, id)
      updateSourceFields(source, params, seconds)
      if (makeDefault) {
        for (const entry of ownedSources(accountId)) {
          if (entry.currency === source.currency) clearDefault(accountId, entry)
        }
        source.default_for_currency = true
      }
      return source
    },

    deleteExternalAccount(accountId: string, id: string) {
      const account = state.account(accountId)
      requirePlatformControl(account)
      const source = state.externalAccount(accountId, id)
      const list = ownedSources(accountId)
      if (source.default_for_currency) {
        const others = list.some((entry) => entry.id !== id && entry.currency === source.currency)
        if (source.currency === account.default_currency) {
          throw stripeError(
            400,
            'invalid_request_error',
            'You cannot delete the default external account for your default currency. Please make another external account the default using the `default_for_currency` param, and then delete this one.',
          )
        }
        if (others) {
          throw stripeError(
            400,
            'invalid_request_error',
            `You cannot delete the default external account for ${source.currency} while other external accounts in ${source.currency} exist. Please make another external account the default using the \`default_for_currency\` param, and then delete this one.`,
          )
        }
      }
      watcher?.source(accountId, id)
      removeFrom(list, id)
      return { id, object: source.object, deleted: true as const }
    },

    listExternalAccounts(
      accountId: string,
      params: StripeListParams & { object?: unknown },
    ): StripeList<StripeSource> {
      state.account(accountId)
      const url = `/v1/accounts/${accountId}/external_accounts`
      return paginate(
        newestFirst(ownedSources(accountId)),
        params,
        url,
        'external account',
        params.object,
      )
    },

    // ---- tokens ------------------------------------------------------------------------------

    createToken(params: Record<string, unknown>): StripeToken {
      const input = params.card
      if (input === undefined) throw missingParam('card')
      if (typeof input === 'string') {
        // Stripe.js sends card hashes; a string here is a card id, which Connect uses to share
        // a customer's card. The emulator does not model that.
        throw invalidParam('card', 'The emulator tokenizes card hashes only (card[number], …).')
      }
      if (!isRecord(input)) throw invalidParam('card', 'Invalid card: must be a hash')
      const resolved = tokenizeHash(input, 'card', now())
      const token: StripeToken = {
        id: stripeId('tok_', 24),
        object: 'token',
        card: resolved.card,
        client_ip: '127.0.0.1',
        created: seconds(),
        livemode: false,
        type: 'card',
        used: false,
      }
      tokens.set(token.id, {
        token,
        failure: resolved.failure,
        cvcProvided: resolved.cvcProvided,
        currency: resolved.currency,
      })
      return token
    },

    token(id: string): StripeToken {
      const record = tokens.get(id)
      if (!record) throw resourceMissing('token', id, 'token')
      return record.token
    },

    allTokens(): StripeToken[] {
      return [...tokens.values()].map((record) => record.token)
    },

    /**
     * Resolves `source`/`external_account`/`card`: a test token, a created token (used once),
     * or a card hash. Marks a created token used.
     */
    resolveCard(input: unknown, param: string): ResolvedCard {
      if (typeof input === 'string') {
        if (input === '') throw missingParam(param)
        const test = findStripeTestToken(input)
        if (test) {
          const date = now()
          return tokenizeHash(
            {
              number: test.number,
              exp_month: String(date.getUTCMonth() + 1),
              exp_year: String(date.getUTCFullYear() + 1),
              cvc: '123',
            },
            param,
            date,
          )
        }
        const record = tokens.get(input)
        // A card number sent where a token belongs is masked by the error (core's `redact`).
        if (!record) throw resourceMissing('token', input, param, 400)
        if (record.token.used) throw tokenAlreadyUsed(input, param)
        record.token.used = true
        return {
          card: structuredClone(record.token.card),
          failure: record.failure,
          cvcProvided: record.cvcProvided,
          currency: record.currency,
        }
      }
      if (!isRecord(input)) {
        throw invalidParam(param, `Invalid ${param}: must be a token id or a card hash`)
      }
      if (input.object === undefined) throw missingParam(`${param}[object]`)
      if (input.object !== 'card') {
        throw invalidParam(
          `${param}[object]`,
          `Invalid ${param}[object]: must be 'card' (the emulator models card sources only)`,
        )
      }
      const resolved = tokenizeHash(input, param, now())
      if (resolved.failure === 'incorrect_number') throw cardFailure(resolved.failure)
      return resolved
    },

    /** An owner's sources as stored, oldest first: the live list, for the recorder to read. */
    storedSources(owner: string): readonly StripeSource[] {
      return sources.get(owner) ?? []
    },

    /**
     * The customers (deleted ones included) and existing accounts among `ids`, customers first,
     * each kind in the order it was created: the order Stripe's events about them follow.
     */
    ownersInOrder(ids: ReadonlySet<string>): string[] {
      const known = (id: string) => customers.has(id) || accounts.has(id)
      // One owner is the usual case: no need to walk every customer for it.
      if (ids.size < 2) return [...ids].filter(known)
      return [...customers.keys(), ...accounts.keys()].filter((id) => ids.has(id))
    },

    /** Every source of an owner, newest first (for read-backs). */
    sourcesOf(owner: string): StripeSource[] {
      return newestFirst(sources.get(owner) ?? [])
    },

    allCustomers(): StripeCustomer[] {
      return [...customers.values()].filter((r) => !r.deleted).map((r) => r.customer)
    },

    allAccounts(): StripeAccount[] {
      return [...accounts.values()]
    },

    /** Finds a card or bank account by id, whoever owns it. */
    findSource(id: string): StripeSource | undefined {
      for (const list of sources.values()) {
        const found = list.find((entry) => entry.id === id)
        if (found) return found
      }
      return undefined
    },
  }
  return state
}

// ---- helpers -------------------------------------------------------------------------------

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'

/** A Stripe-looking id: `prefix` + `length` base62 characters. @internal */
export function stripeId(prefix: string, length: number): string {
  return prefix + randomString(length, BASE62)
}

/** Random bytes drawn a block at a time: one call per block, not one per id (bulk seeding). */
const randomPool = new Uint8Array(4096)
let randomOffset = randomPool.length

function randomString(length: number, alphabet: string): string {
  let out = ''
  for (let i = 0; i < length; i++) {
    if (randomOffset === randomPool.length) {
      globalThis.crypto.getRandomValues(randomPool)
      randomOffset = 0
    }
    out += alphabet[randomPool[randomOffset++]! % alphabet.length]
  }
  return out
}

/** A stable 16-character base62 fingerprint of a card number (FNV-1a, two seeds). */
function fingerprintOf(value: string): string {
  let out = ''
  for (let seed = 0; out.length < 16; seed++) {
    let hash = 0x811c9dc5 ^ (seed * 0x9e3779b9)
    for (let i = 0; i < value.length; i++) {
      hash ^= value.charCodeAt(i)
      hash = Math.imul(hash, 0x01000193)
    }
    let n = hash >>> 0
    for (let i = 0; i < 5 && out.length < 16; i++) {
      out += BASE62[n % 62]
      n = Math.floor(n / 62)
    }
  }
  return out
}

function isLuhnValid(digits: string): boolean {
  let sum = 0
  for (let i = 0; i < digits.length; i++) {
    let digit = Number(digits[digits.length - 1 - i])
    if (i % 2 === 1) {
      digit *= 2
      if (digit > 9) digit -= 9
    }
    sum += digit
  }
  return sum % 10 === 0
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function stringOrNull(value: unknown): string | null {
  return typeof value === 'string' && value !== '' ? value : null
}

function sourceParam(params: Record<string, unknown>): string {
  return params.source === undefined ? 'card' : 'source'
}

/** Validates a card hash as Stripe does when it tokenizes, and builds the token's card. */
function tokenizeHash(hash: Record<string, unknown>, param: string, date: Date): ResolvedCard {
  const number = typeof hash.number === 'string' ? hash.number.replace(/[\s-]/g, '') : undefined
  if (number === undefined || number === '') throw missingParam(`${param}[number]`)
  if (hash.exp_month === undefined || hash.exp_month === '') {
    throw missingParam(`${param}[exp_month]`)
  }
  if (hash.exp_year === undefined || hash.exp_year === '') throw missingParam(`${param}[exp_year]`)
  if (!/^\d{12,19}$/.test(number)) {
    throw stripeError(402, 'card_error', 'Your card number is incorrect.', {
      code: 'invalid_number',
      param: 'number',
    })
  }
  if (!isLuhnValid(number)) throw cardFailure('incorrect_number')
  const month = Number(hash.exp_month)
  if (!Number.isInteger(month) || month < 1 || month > 12) {
    throw stripeError(402, 'card_error', "Your card's expiration month is invalid.", {
      code: 'invalid_expiry_month',
      param: 'exp_month',
    })
  }
  let year = Number(hash.exp_year)
  if (Number.isInteger(year) && year < 100) year += 2000
  const thisYear = date.getUTCFullYear()
  if (!Number.isInteger(year) || year < thisYear || year > thisYear + 50) {
    throw stripeError(402, 'card_error', "Your card's expiration year is invalid.", {
      code: 'invalid_expiry_year',
      param: 'exp_year',
    })
  }
  if (year === thisYear && month < date.getUTCMonth() + 1) {
    throw stripeError(402, 'card_error', "Your card's expiration month is invalid.", {
      code: 'invalid_expiry_month',
      param: 'exp_month',
    })
  }
  const cvc = hash.cvc
  const cvcProvided = cvc !== undefined && cvc !== ''
  if (cvcProvided && (typeof cvc !== 'string' || !/^\d{3,4}$/.test(cvc))) {
    throw stripeError(402, 'card_error', "Your card's security code is invalid.", {
      code: 'invalid_cvc',
      param: 'cvc',
    })
  }
  const test = findStripeTestCard(number)
  if (test?.failsOn === 'tokenize' && test.failure) throw cardFailure(test.failure)
  const card: StripeCard = {
    id: stripeId('card_', 24),
    object: 'card',
    address_city: stringOrNull(hash.address_city),
    address_country: stringOrNull(hash.address_country),
    address_line1: stringOrNull(hash.address_line1),
    address_line1_check: stringOrNull(hash.address_line1) ? 'unchecked' : null,
    address_line2: stringOrNull(hash.address_line2),
    address_state: stringOrNull(hash.address_state),
    address_zip: stringOrNull(hash.address_zip),
    address_zip_check: stringOrNull(hash.address_zip) ? 'unchecked' : null,
    brand: test?.brand ?? stripeBrandOf(number),
    country: test?.country ?? 'US',
    cvc_check: cvcProvided ? 'unchecked' : null,
    dynamic_last4: null,
    exp_month: month,
    exp_year: year,
    fingerprint: fingerprintOf(number),
    funding: test?.funding ?? 'credit',
    last4: number.slice(-4),
    metadata: {},
    name: stringOrNull(hash.name),
    tokenization_method: null,
    wallet: null,
  }
  return {
    card,
    failure: test?.failsOn === 'attach' ? test.failure : undefined,
    cvcProvided,
    currency: typeof hash.currency === 'string' ? hash.currency.toLowerCase() : undefined,
  }
}

/** The card as its owner holds it: checks done, owner fields in Stripe's order. */
function withOwner(
  resolved: ResolvedCard,
  owner: { customer: string } | { account: string },
): StripeCard {
  const card = structuredClone(resolved.card)
  // A card holds `customer` or `account`, never both: Stripe's card object has no `customer`
  // when the card belongs to an account ("This attribute will not be in the card object").
  if ('account' in owner) card.account = owner.account
  else card.customer = owner.customer
  card.cvc_check = resolved.cvcProvided ? 'pass' : null
  if (card.address_line1) card.address_line1_check = 'pass'
  if (card.address_zip) card.address_zip_check = 'pass'
  return sortFields(card)
}

/** Stripe sends `id` and `object` first, then the fields in alphabetical order. */
function sortFields<T extends StripeSource>(source: T): T {
  const fields = source as unknown as Record<string, unknown>
  const out: Record<string, unknown> = { id: source.id, object: source.object }
  for (const key of Object.keys(fields).sort()) {
    if (key !== 'id' && key !== 'object') out[key] = fields[key]
  }
  return out as unknown as T
}

function bankAccount(fields: Partial<StripeBankAccount>): StripeBankAccount {
  const last4 = fields.last4 ?? '6789'
  return {
    id: stripeId('ba_', 24),
    object: 'bank_account',
    account_holder_name: 'Jane Austen',
    account_holder_type: 'individual',
    account_type: null,
    bank_name: 'STRIPE TEST BANK',
    country: 'US',
    currency: 'usd',
    customer: null,
    fingerprint: fingerprintOf(`ba:${fields.routing_number ?? '110000000'}:${last4}`),
    last4,
    metadata: {},
    routing_number: '110000000',
    status: 'new',
    ...fields,
  }
}

function bankAccountFromHash(
  hash: Record<string, unknown>,
  param: string,
  account: StripeAccount,
): StripeBankAccount {
  const number = hash.account_number
  if (typeof number !== 'string' || number === '') throw missingParam(`${param}[account_number]`)
  if (typeof hash.country !== 'string') throw missingParam(`${param}[country]`)
  const currency =
    typeof hash.currency === 'string' ? hash.currency.toLowerCase() : account.default_currency
  const routing = typeof hash.routing_number === 'string' ? hash.routing_number : null
  const bank = bankAccount({
    account_holder_name: stringOrNull(hash.account_holder_name),
    account_holder_type:
      hash.account_holder_type === 'company' || hash.account_holder_type === 'individual'
        ? hash.account_holder_type
        : null,
    country: hash.country.toUpperCase(),
    currency,
    last4: number.slice(-4),
    routing_number: routing,
    fingerprint: fingerprintOf(`ba:${routing}:${number}`),
  })
  delete bank.customer
  bank.account = account.id
  bank.available_payout_methods = ['standard']
  return bank
}

/**
 * Refuses an account whose external accounts the platform does not manage. The message is the
 * emulator's own (Stripe's documentation gives none): "… 'acct_…' is an express account."
 */
function requirePlatformControl(account: StripeAccount) {
  if (account.type === 'custom') return
  const article = /^[aeiou]/.test(account.type) ? 'an' : 'a'
  throw stripeError(
    400,
    'invalid_request_error',
    `External accounts can only be managed by the platform on accounts whose requirements it collects (Custom accounts); '${account.id}' is ${article} ${account.type} account.`,
  )
}

const CARD_UPDATE_FIELDS = [
  'address_city',
  'address_country',
  'address_line1',
  'address_line2',
  'address_state',
  'address_zip',
  'name',
] as const

/**
 * Applies an update to a card or bank account. Every parameter is checked before any is
 * applied: Stripe refuses an update as a whole, so a refused one changes nothing.
 */
function updateSourceFields(
  source: StripeSource,
  params: Record<string, unknown>,
  seconds: () => number,
) {
  const metadata =
    params.metadata === undefined ? undefined : applyMetadata(source.metadata, params.metadata)
  if (source.object === 'card') {
    const fields: Partial<Record<(typeof CARD_UPDATE_FIELDS)[number], string>> = {}
    for (const field of CARD_UPDATE_FIELDS) {
      const value = params[field]
      if (value === undefined) continue
      if (typeof value !== 'string') throw invalidParam(field, `Invalid string: ${field}`)
      fields[field] = value
    }
    const expiry = changedExpiry(source, params, seconds)
    for (const [field, value] of Object.entries(fields) as [keyof typeof fields, string][]) {
      source[field] = value === '' ? null : value
      if (field === 'address_line1') source.address_line1_check = value ? 'unchecked' : null
      if (field === 'address_zip') source.address_zip_check = value ? 'unchecked' : null
    }
    if (expiry) {
      source.exp_month = expiry.month
      source.exp_year = expiry.year
    }
  } else {
    if (typeof params.account_holder_name === 'string') {
      source.account_holder_name = params.account_holder_name || null
    }
    const type = params.account_holder_type
    if (type === 'individual' || type === 'company') source.account_holder_type = type
  }
  if (metadata !== undefined) source.metadata = metadata
}

/**
 * The expiry an update sets, checked as when a card is tokenized; `undefined` when the update
 * sends neither `exp_month` nor `exp_year`, so that a card that has expired since it was stored
 * can still have its name, address or metadata updated. With one of the two sent, the expiry it
 * makes with the stored other is checked, and refused when it has passed.
 */
function changedExpiry(
  card: StripeCard,
  params: Record<string, unknown>,
  seconds: () => number,
): { month: number; year: number } | undefined {
  if (params.exp_month === undefined && params.exp_year === undefined) return undefined
  const month = params.exp_month === undefined ? card.exp_month : Number(params.exp_month)
  let year = params.exp_year === undefined ? card.exp_year : Number(params.exp_year)
  if (!Number.isInteger(month) || month < 1 || month > 12) {
    throw stripeError(402, 'card_error', "Your card's expiration month is invalid.", {
      code: 'invalid_expiry_month',
      param: 'exp_month',
    })
  }
  if (Number.isInteger(year) && year < 100) year += 2000
  const today = new Date(seconds() * 1000)
  const thisYear = today.getUTCFullYear()
  if (!Number.isInteger(year) || year < thisYear || year > thisYear + 50) {
    throw stripeError(402, 'card_error', "Your card's expiration year is invalid.", {
      code: 'invalid_expiry_year',
      param: 'exp_year',
    })
  }
  // As when a card is tokenized: a month of this year that has passed is refused too.
  if (year === thisYear && month < today.getUTCMonth() + 1) {
    throw stripeError(402, 'card_error', "Your card's expiration month is invalid.", {
      code: 'invalid_expiry_month',
      param: 'exp_month',
    })
  }
  return { month, year }
}

/**
 * Applies a metadata patch as Stripe does: `''` for a key unsets it, `metadata=''` unsets all.
 * Limits: 50 keys, keys up to 40 characters without square brackets, values up to 500.
 */
function applyMetadata(current: StripeMetadata, patch: unknown): StripeMetadata {
  if (patch === undefined) return { ...current }
  if (patch === '' || patch === null) return {}
  if (!isRecord(patch)) throw invalidParam('metadata', 'Invalid metadata: must be a hash')
  const next = { ...current }
  for (const [key, value] of Object.entries(patch)) {
    if (/[[\]]/.test(key)) throw bracketedMetadataKey()
    if (key.length > 40) {
      throw invalidParam(
        `metadata[${key}]`,
        `Metadata keys can have up to 40 characters; the key '${key}' has ${key.length}.`,
      )
    }
    if (value === '' || value === null) {
      delete next[key]
      continue
    }
    if (typeof value === 'object') {
      throw invalidParam(`metadata[${key}]`, 'Invalid metadata: values must be strings')
    }
    const text = String(value)
    if (text.length > 500) {
      throw invalidParam(
        `metadata[${key}]`,
        `Metadata values can have up to 500 characters, but you passed in a value that is ${text.length} characters.`,
      )
    }
    // A key such as `__proto__` is stored as a key: `next[key] =` would drop it.
    setEntry(next, key, text)
  }
  if (Object.keys(next).length > 50) {
    throw invalidParam('metadata', 'You can have up to 50 metadata keys.')
  }
  return next
}

function toBoolean(value: unknown, param: string): boolean {
  if (value === undefined) return false
  if (value === true || value === 'true') return true
  if (value === false || value === 'false') return false
  throw invalidParam(param, `Invalid boolean: ${String(value)}`)
}

function addressFrom(value: unknown, param: string): StripeAddress | null {
  if (value === '' || value === null) return null
  if (!isRecord(value)) throw invalidParam(param, `Invalid ${param}: must be a hash`)
  return {
    city: stringOrNull(value.city),
    country: stringOrNull(value.country),
    line1: stringOrNull(value.line1),
    line2: stringOrNull(value.line2),
    postal_code: stringOrNull(value.postal_code),
    state: stringOrNull(value.state),
  }
}

function applyCustomerFields(customer: StripeCustomer, params: Record<string, unknown>) {
  for (const field of ['description', 'email', 'name', 'phone'] as const) {
    const value = params[field]
    if (value !== undefined) customer[field] = stringOrNull(value)
  }
  if (params.address !== undefined) customer.address = addressFrom(params.address, 'address')
  if (params.shipping !== undefined) {
    const shipping = params.shipping
    if (shipping === '') customer.shipping = null
    else if (isRecord(shipping)) {
      if (typeof shipping.name !== 'string') throw missingParam('shipping[name]')
      customer.shipping = {
        address: addressFrom(shipping.address ?? {}, 'shipping[address]')!,
        name: shipping.name,
        phone: stringOrNull(shipping.phone),
      }
    }
  }
  if (params.balance !== undefined) {
    const balance = Number(params.balance)
    if (!Number.isInteger(balance)) throw invalidParam('balance', 'Invalid integer: balance')
    customer.balance = balance
  }
  if (typeof params.invoice_prefix === 'string') customer.invoice_prefix = params.invoice_prefix
  if (params.next_invoice_sequence !== undefined) {
    customer.next_invoice_sequence = Number(params.next_invoice_sequence)
  }
  if (Array.isArray(params.preferred_locales)) {
    customer.preferred_locales = params.preferred_locales.map(String)
  } else if (params.preferred_locales === '') customer.preferred_locales = []
  const tax = params.tax_exempt
  if (tax === 'none' || tax === 'exempt' || tax === 'reverse') customer.tax_exempt = tax
  if (params.metadata !== undefined) {
    customer.metadata = applyMetadata(customer.metadata, params.metadata)
  }
}

function removeFrom(list: StripeSource[], id: string) {
  const index = list.findIndex((entry) => entry.id === id)
  if (index >= 0) list.splice(index, 1)
}

function newestFirst<T>(list: T[]): T[] {
  return [...list].reverse()
}

/**
 * Stripe's cursor pagination over `items` (newest first): `limit` 1–100 (default 10),
 * `starting_after` / `ending_before` an id of the list, and an optional `object` filter.
 */
function paginate<T extends { id: string; object: string }>(
  items: T[],
  params: StripeListParams & { object?: unknown },
  url: string,
  noun: string,
  object?: unknown,
): StripeList<T> {
  const limit = params.limit === undefined ? 10 : Number(params.limit)
  if (!Number.isInteger(limit)) {
    throw invalidParam('limit', `Invalid integer: ${String(params.limit)}`)
  }
  if (limit < 1) throw invalidParam('limit', 'This value must be greater than or equal to 1.')
  if (limit > 100) throw invalidParam('limit', 'This value must be less than or equal to 100.')
  const after = params.starting_after
  const before = params.ending_before
  if (after !== undefined && before !== undefined) {
    throw stripeError(
      400,
      'invalid_request_error',
      'You may only specify one of these parameters: ending_before, starting_after.',
    )
  }
  const keep = (item: T) => object === undefined || item.object === object
  const indexOf = (id: unknown, param: string) => {
    const index = items.findIndex((item) => item.id === id)
    if (index < 0) throw resourceMissing(noun, String(id), param, 400)
    return index
  }
  if (before !== undefined) {
    const earlier = items.slice(0, indexOf(before, 'ending_before')).filter(keep)
    return {
      object: 'list',
      url,
      has_more: earlier.length > limit,
      data: earlier.slice(-limit),
    }
  }
  const start = after === undefined ? 0 : indexOf(after, 'starting_after') + 1
  const later = items.slice(start).filter(keep)
  return { object: 'list', url, has_more: later.length > limit, data: later.slice(0, limit) }
}

const COUNTRY_CURRENCY: Record<string, string> = {
  US: 'usd',
  CA: 'cad',
  GB: 'gbp',
  AU: 'aud',
  NZ: 'nzd',
  JP: 'jpy',
  CH: 'chf',
  SE: 'sek',
  NO: 'nok',
  DK: 'dkk',
  SG: 'sgd',
  HK: 'hkd',
  MX: 'mxn',
  BR: 'brl',
  IN: 'inr',
  ...Object.fromEntries(
    ['AT', 'BE', 'DE', 'EE', 'ES', 'FI', 'FR', 'GR', 'IE', 'IT', 'LT', 'LU', 'LV', 'NL', 'PT'].map(
      (country) => [country, 'eur'],
    ),
  ),
}

function newAccount(fields: {
  id: string
  type: StripeAccount['type']
  country: string
  created: number
  default_currency: string
  email: string | null
  metadata: StripeMetadata
  business_type: string | null
}): StripeAccount {
  const requirements = {
    alternatives: [],
    current_deadline: null,
    currently_due: ['external_account', 'tos_acceptance.date', 'tos_acceptance.ip'],
    disabled_reason: 'requirements.past_due',
    errors: [],
    eventually_due: ['external_account', 'tos_acceptance.date', 'tos_acceptance.ip'],
    past_due: ['external_account', 'tos_acceptance.date', 'tos_acceptance.ip'],
    pending_verification: [],
  }
  return {
    id: fields.id,
    object: 'account',
    business_profile: {
      mcc: null,
      name: null,
      product_description: null,
      support_address: null,
      support_email: null,
      support_phone: null,
      support_url: null,
      url: null,
    },
    business_type: fields.business_type,
    capabilities: {},
    charges_enabled: false,
    controller:
      fields.type === 'standard'
        ? { type: 'account' }
        : { is_controller: true, type: 'application' },
    country: fields.country,
    created: fields.created,
    default_currency: fields.default_currency,
    details_submitted: false,
    email: fields.email,
    future_requirements: {
      alternatives: [],
      current_deadline: null,
      currently_due: [],
      disabled_reason: null,
      errors: [],
      eventually_due: [],
      past_due: [],
      pending_verification: [],
    },
    metadata: fields.metadata,
    payouts_enabled: false,
    requirements,
    settings: {
      bacs_debit_payments: {},
      branding: { icon: null, logo: null, primary_color: null, secondary_color: null },
      card_issuing: { tos_acceptance: { date: null, ip: null } },
      card_payments: {
        decline_on: { avs_failure: false, cvc_failure: true },
        statement_descriptor_prefix: null,
        statement_descriptor_prefix_kana: null,
        statement_descriptor_prefix_kanji: null,
      },
      dashboard: { display_name: null, timezone: 'Etc/UTC' },
      payments: {
        statement_descriptor: null,
        statement_descriptor_kana: null,
        statement_descriptor_kanji: null,
      },
      payouts: {
        debit_negative_balances: fields.type !== 'standard',
        schedule: { delay_days: 2, interval: 'daily' },
        statement_descriptor: null,
      },
      sepa_debit_payments: {},
    },
    tos_acceptance: { date: null, ip: null, user_agent: null },
    type: fields.type,
  }
}
