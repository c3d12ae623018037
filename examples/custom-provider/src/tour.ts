import { setTimeout as delay } from 'node:timers/promises'
import { isCardportError, listAll, maskCard, withRetry } from '@cardport/core'
import { http } from 'msw'
import { setupServer } from 'msw/node'
import { VAULT_ORIGIN, VAULT_TEST_KEY, vaultApi, vaultError } from './vault-api.js'
import { vaultProvider } from './vault-provider.js'

/** Options of {@link runTour}. */
export interface TourOptions {
  /** How the tour waits out the vault's `Retry-After`. Default: a real timer. */
  sleep?: (ms: number) => Promise<void>
}

/** What the tour saw, for its test. */
export interface TourSummary {
  /** The codes of the errors the tour provoked and handled, in order. */
  handled: string[]
  /** The waits `withRetry` asked for, in milliseconds. */
  waits: number[]
  /** The cards `listAll` streamed, as the tour shows them. */
  listed: string[]
  /** Requests the vault received. */
  requests: number
}

/**
 * A tour of the vault adapter. The vault API is the MSW handlers of vault-api.ts, answering
 * global fetch in this process: no network, no credentials. With a real vendor, only the
 * provider's options would change. Errors are told apart by `code`; anything the tour does not
 * expect is thrown, and the MSW server is closed whatever happens.
 */
export async function runTour(
  log: (line: string) => void,
  options: TourOptions = {},
): Promise<TourSummary> {
  const vault = vaultApi()
  const server = setupServer(...vault.handlers)
  server.listen({ onUnhandledRequest: 'error' })
  const sleep = options.sleep ?? ((ms: number) => delay(ms))
  const handled: string[] = []
  const waits: number[] = []
  const step = (line: string) => log(`- ${line}`)
  const show = (card: { brand: string; last4: string; isDefault: boolean }) =>
    `${card.brand} ${maskCard(card.last4)}${card.isDefault ? ' (default)' : ''}`

  try {
    const provider = vaultProvider({ apiKey: VAULT_TEST_KEY })
    const owner = {
      type: 'customer',
      id: vault.seed.customer({ email: 'jenny@example.com' }).id,
    } as const
    const caps = provider.capabilities
    log(
      `${provider.name}: owners ${caps.ownerTypes.join(', ')}; default policy '${caps.defaultPolicy}'; updates ${caps.updatableFields.join(', ')}`,
    )

    const visa = await provider.createCard(owner, { source: 'vtok_visa' })
    step(`added ${show(visa)}: an owner's first card becomes the default`)
    const mastercard = await provider.createCard(owner, {
      source: 'vtok_mastercard',
      metadata: { nickname: 'work' },
    })
    step(`added ${show(mastercard)}: a later card leaves the default alone`)
    const chosen = await provider.setDefaultCard(owner, mastercard.id)
    step(`setDefaultCard: ${show(chosen)}`)

    const renamed = await provider.updateCard(owner, visa.id, {
      holderName: 'Jenny Rosen',
      expMonth: 6,
    })
    step(
      `updateCard: ${show(renamed)} now held by ${renamed.holderName}, expires ${renamed.expMonth}/${renamed.expYear}`,
    )

    const requests = vault.state.requestCount()
    try {
      // The vault cannot change a billing address: the core refuses it before any request
      // (and, with the provider's own type, the compiler refuses it too: hence the cast).
      await provider.updateCard(owner, visa.id, { address: { city: 'Paris' } } as never)
    } catch (error) {
      if (!isCardportError(error, 'unsupported_operation')) throw error
      handled.push(error.code)
      const sent = vault.state.requestCount() - requests
      step(`updateCard(address): ${error.code}, ${sent} requests sent: ${error.message}`)
    }

    try {
      await provider.createCard(owner, { source: 'vtok_declined' })
    } catch (error) {
      if (!isCardportError(error, 'card_declined')) throw error
      handled.push(error.code)
      step(`vtok_declined: ${error.code} (${error.declineCode}), request ${error.requestId}`)
    }

    // The vault asks to slow down once; core's withRetry waits what it asked, then succeeds.
    server.use(
      http.get(
        `${VAULT_ORIGIN}/v2/customers/:customer/cards`,
        () => vaultError(429, 'rate_limited', 'Too many requests', { 'Retry-After': '1' }),
        { once: true },
      ),
    )
    const page = await withRetry(() => provider.listCards(owner, { limit: 1 }), {
      sleep: (ms) => {
        waits.push(ms)
        step(`rate_limited: waiting ${ms} ms as the vault asked`)
        return sleep(ms)
      },
    })
    step(`listCards (limit 1): ${page.data.map(show).join(', ')}; more: ${page.hasMore}`)
    const listed: string[] = []
    for await (const card of listAll(provider, owner, { pageSize: 1 })) listed.push(show(card))
    step(`listAll, one page at a time: ${listed.join(', ')}`)

    await provider.deleteCard(owner, mastercard.id)
    const left = await provider.getDefaultCard(owner)
    step(
      `deleted the default: the vault picks no other, default is ${left === null ? 'none' : show(left)}`,
    )
    return { handled, waits, listed, requests: vault.state.requestCount() }
  } finally {
    server.close()
  }
}
