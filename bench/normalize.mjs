// Benchmark 3: normalization. `parseCard` (zod-validated, brand/country normalized) on Stripe
// and marketplace payloads, against a plain hand-written mapping that validates nothing.
// Target: parseCard costs at most 3× the plain mapping.
import { marketplaceProvider } from '@cardport/marketplace'
import { stripeProvider } from '@cardport/stripe'
import Stripe from 'stripe'
import { compare, main, report } from './lib.mjs'

const owner = { type: 'customer', id: 'cus_bench' }
const account = { type: 'account', id: 'AC_bench' }

const stripeCard = {
  id: 'card_1NXxYz2eZvKYlo2CbN4qLm8r',
  object: 'card',
  address_city: 'San Francisco',
  address_country: 'US',
  address_line1: '510 Townsend St',
  address_line1_check: 'pass',
  address_line2: null,
  address_state: 'CA',
  address_zip: '94103',
  address_zip_check: 'pass',
  brand: 'American Express',
  country: 'US',
  customer: 'cus_bench',
  cvc_check: 'pass',
  dynamic_last4: null,
  exp_month: 8,
  exp_year: 2031,
  fingerprint: 'Xt5EWLLDS7FJjR1c',
  funding: 'credit',
  last4: '8431',
  metadata: { nickname: 'work' },
  name: 'Jenny Rosen',
  tokenization_method: null,
  wallet: null,
}

const marketplaceCard = {
  id: 'CC4fKxBXrWsDDOZ6bbz8AYh1',
  href: '/v1/marketplaces/TEST-MP/cards/CC4fKxBXrWsDDOZ6bbz8AYh1',
  uri: '/v1/marketplaces/TEST-MP/cards/CC4fKxBXrWsDDOZ6bbz8AYh1',
  account: { uri: '/v1/marketplaces/TEST-MP/accounts/AC_bench', id: 'AC_bench' },
  brand: 'MasterCard',
  card_type: 'mastercard',
  last_four: '5100',
  expiration_month: '12',
  expiration_year: '2030',
  name: 'Jenny Rosen',
  street_address: '801 High St',
  city: 'Palo Alto',
  region: 'CA',
  postal_code: '94301',
  country_code: 'USA',
  is_valid: true,
  meta: { nickname: 'home' },
  created_at: '2026-01-02T03:04:05.000Z',
}

// The raw alternative: what an application would write by hand with no validation.
const plainStripe = (raw) => ({
  id: raw.id,
  provider: 'stripe',
  owner: { type: 'customer', id: raw.customer },
  brand: raw.brand.toLowerCase(),
  last4: raw.last4,
  expMonth: raw.exp_month,
  expYear: raw.exp_year,
  holderName: raw.name,
  address: {
    line1: raw.address_line1,
    line2: raw.address_line2,
    city: raw.address_city,
    state: raw.address_state,
    postalCode: raw.address_zip,
    country: raw.address_country,
  },
  country: raw.country,
  fingerprint: raw.fingerprint,
  funding: raw.funding,
  checks: {
    cvc: raw.cvc_check,
    addressLine1: raw.address_line1_check,
    postalCode: raw.address_zip_check,
  },
  currency: null,
  isDefault: false,
  status: 'active',
  metadata: raw.metadata,
  createdAt: null,
})

const plainMarketplace = (raw) => ({
  id: raw.id,
  provider: 'marketplace',
  owner: { type: 'account', id: raw.account.id },
  brand: raw.brand.toLowerCase(),
  last4: raw.last_four,
  expMonth: Number(raw.expiration_month),
  expYear: Number(raw.expiration_year),
  holderName: raw.name,
  address: {
    line1: raw.street_address,
    line2: null,
    city: raw.city,
    state: raw.region,
    postalCode: raw.postal_code,
    country: raw.country_code.slice(0, 2),
  },
  country: null,
  fingerprint: null,
  funding: 'unknown',
  checks: { cvc: 'unchecked', addressLine1: 'unchecked', postalCode: 'unchecked' },
  currency: null,
  isDefault: false,
  status: raw.is_valid ? 'active' : 'invalid',
  metadata: raw.meta,
  createdAt: raw.created_at,
})

// Every result is kept here, so that the optimizer cannot drop a mapping whose result is unused.
export let sink

// Each timed call maps a page of distinct payloads (as a listing gives them): one hand mapping
// takes 50-100 ns, too close to what the timer resolves for a steady ratio when timed alone.
const PAGE = 100
const pageOf = (raw, vary) =>
  Array.from({ length: PAGE }, (_, index) => JSON.parse(JSON.stringify(vary(raw, index))))
const stripePage = pageOf(stripeCard, (raw, index) => ({
  ...raw,
  id: `${raw.id}${index}`,
  metadata: { nickname: `card ${index}` },
}))
const marketplacePage = pageOf(marketplaceCard, (raw, index) => ({
  ...raw,
  id: `${raw.id}${index}`,
  meta: { nickname: `card ${index}` },
}))

// --time (ms a comparison, over its rounds) and --rounds, as the other latency benchmarks.
export async function run({ time = 1500, rounds = 3 } = {}) {
  const options = { time, rounds }
  const stripe = stripeProvider({ stripe: new Stripe('sk_test_bench') })
  const marketplace = marketplaceProvider({
    baseUrl: 'http://127.0.0.1:9',
    marketplaceId: 'TEST-MP',
    secret: 'bench-secret',
  })
  if (!stripe.parseCard(stripeCard, owner)) throw new Error('stripe payload did not parse')
  if (!marketplace.parseCard(marketplaceCard, account)) {
    throw new Error('marketplace payload did not parse')
  }
  const results = [
    await compare(
      `normalize: Stripe card payload (a call maps ${PAGE} distinct payloads)`,
      {
        candidate: {
          name: 'stripeProvider().parseCard',
          fn: () => {
            for (const raw of stripePage) sink = stripe.parseCard(raw, owner)
          },
        },
        baseline: {
          name: 'hand-written mapping',
          fn: () => {
            for (const raw of stripePage) sink = plainStripe(raw)
          },
        },
      },
      options,
    ),
    await compare(
      `normalize: marketplace card payload (a call maps ${PAGE} distinct payloads)`,
      {
        candidate: {
          name: 'marketplaceProvider().parseCard',
          fn: () => {
            for (const raw of marketplacePage) sink = marketplace.parseCard(raw, account)
          },
        },
        baseline: {
          name: 'hand-written mapping',
          fn: () => {
            for (const raw of marketplacePage) sink = plainMarketplace(raw)
          },
        },
      },
      options,
    ),
  ]
  await marketplace.close?.()
  const target = { text: '≤ 3×', met: (ratio) => ratio <= 3 }
  for (const result of results) report(result, target)
  return results.map((result) => ({
    ...result,
    target: target.text,
    met: target.met(result.ratio),
  }))
}

await main(import.meta.url, run)
