// Benchmark 2: the marketplace adapter's HTTP path. `marketplaceProvider` (undici `request()`
// on its own keep-alive `Agent`) against the same HTTP requests sent with global `fetch` (same
// URLs, same Authorization, Accept and User-Agent headers, the JSON body parsed), with N
// requests in flight at once (default 16) so that connection reuse matters. Requests per
// second; target: adapter ≥ 1.3× fetch.
//
// Two loopback servers, both in a child process: the marketplace emulator served by
// `startEmulatorServer` (one account, 100 cards), and a replay server, a bare `node:http`
// server answering the same two URLs with the bytes the emulator answered them with. The
// emulator spends ~1 ms of CPU per request (MSW routing, its state, JSON), so against it both
// clients wait for the server; the replay server costs next to nothing, so against it the
// clients' own HTTP paths set the pace, which is what this benchmark is about.
//
// The adapter does more than the fetch loop for every answer: it maps each card to the
// normalized shape and validates it with the Card schema; the fetch side only parses the JSON.
import { marketplaceProvider } from '@cardport/marketplace'
import { spawnEmulatorServer } from './emulator-process.mjs'
import { compareThroughput, main, reportThroughput } from './lib.mjs'

const TARGET = { text: '≥ 1.3× fetch', met: (ratio) => ratio >= 1.3 }
const CARDS = 100
const USER_AGENT = 'cardport-marketplace'

export async function run({ concurrency = 16, duration = 2000, rounds = 5, page = 10 } = {}) {
  const cardIndex = Math.floor(CARDS / 2)
  const server = await spawnEmulatorServer({
    kind: 'marketplace',
    cards: CARDS,
    replay: { cardIndex, page },
  })
  const results = []
  try {
    const targets = [
      { label: 'emulator server', url: server.url },
      { label: 'replay server', url: server.replayUrl },
    ]
    for (const { label, url } of targets) {
      results.push(
        ...(await measure({
          label,
          url,
          server,
          cardId: server.cardIds[cardIndex],
          page,
          options: { concurrency, durationMs: duration, rounds },
        })),
      )
    }
  } finally {
    await server.close()
  }
  for (const result of results) reportThroughput(result, TARGET)
  return results.map((result) => ({
    ...result,
    target: TARGET.text,
    met: TARGET.met(result.ratio),
    // The emulator answers ~1,000 requests/s whoever asks; the same clients go 3-6× faster
    // against the replay server: against the emulator, it sets the pace, not the client.
    ...(result.title.includes('emulator server') ? { note: 'emulator-bound' } : {}),
  }))
}

/** Both comparisons against one server. */
async function measure({ label, url, server, cardId, page, options }) {
  const provider = marketplaceProvider({
    baseUrl: url,
    marketplaceId: server.marketplaceId,
    secret: server.secret,
    userAgent: USER_AGENT,
    // Retries only matter on errors; none are expected, and a failure must surface.
    retry: { retries: 0 },
  })
  try {
    const owner = { type: 'account', id: server.accountId }
    const headers = {
      accept: 'application/json',
      authorization: `Basic ${Buffer.from(`${server.secret}:`).toString('base64')}`,
      'user-agent': USER_AGENT,
    }
    const account = `${url}/v1/marketplaces/${server.marketplaceId}/accounts/${server.accountId}`
    const cardUrl = `${account}/cards/${cardId}`
    const listUrl = `${account}/cards?limit=${page}&offset=0`
    const fetchJson = async (target) => {
      const response = await fetch(target, { headers })
      if (!response.ok) throw new Error(`GET ${target}: ${response.status}`)
      return response.json()
    }

    // Both sides must read the same thing.
    const card = await provider.getCard(owner, cardId)
    const raw = await fetchJson(cardUrl)
    if (card.id !== raw.id || card.last4 !== raw.last_four) throw new Error('getCard disagrees')
    const listed = await provider.listCards(owner, { limit: page })
    const rawList = await fetchJson(listUrl)
    if (listed.data.length !== page || rawList.items.length !== page) {
      throw new Error(`listCards read ${listed.data.length} cards, fetch ${rawList.items.length}`)
    }

    return [
      await compareThroughput(
        `marketplace getCard, ${label}: adapter (undici) vs global fetch`,
        {
          candidate: {
            name: 'marketplaceProvider().getCard',
            fn: () => provider.getCard(owner, cardId),
          },
          baseline: { name: 'fetch + response.json()', fn: () => fetchJson(cardUrl) },
        },
        options,
      ),
      await compareThroughput(
        `marketplace listCards (${page} per page), ${label}: adapter (undici) vs global fetch`,
        {
          candidate: {
            name: `marketplaceProvider().listCards({ limit: ${page} })`,
            fn: () => provider.listCards(owner, { limit: page }),
          },
          baseline: { name: 'fetch + response.json()', fn: () => fetchJson(listUrl) },
        },
        options,
      ),
    ]
  } finally {
    await provider.close()
  }
}

await main(import.meta.url, run)
