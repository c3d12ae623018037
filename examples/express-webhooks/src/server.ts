import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import { type CardStore, isCardportError, type Owner } from '@cardport/core'
import type { StripeWebhookHandler, StripeWebhookResult } from '@cardport/stripe'
import express, { type ErrorRequestHandler, type Express } from 'express'

/** What the webhook route needs. */
export interface WebhookAppOptions {
  /** `stripeWebhookHandler({ … })` from `@cardport/stripe`. */
  webhooks: StripeWebhookHandler
  /** The store the handler writes to, read back by `GET /cards/:type/:id`. */
  store: CardStore
  /** Where each handled event is reported. Default: nowhere. */
  onEvent?: (result: StripeWebhookResult) => void
  /**
   * Where a failure answered with a 500 is reported (the store, Stripe's API): the answer says
   * only "try again later". Default: `console.error`.
   */
  onError?: (error: unknown) => void
  /**
   * The largest webhook body read, as `express.raw`'s `limit` (`'100kb'`, a number of bytes).
   * A larger one is answered 413, and Stripe retries it: raise the limit if your events are
   * that large. Default `'100kb'`, `express.raw`'s own.
   */
  bodyLimit?: string | number
}

/**
 * An Express 5 application with Stripe's webhook route done right:
 *
 * - the route reads its body raw (`express.raw`), because the signature covers the exact bytes
 *   Stripe sent; a JSON body parser, if the app has one, comes after this route or skips it;
 * - a refused request (`invalid_request`: bad or missing signature, stale timestamp, a body
 *   that is not an event) gets a 400 and changed nothing; Stripe shows it in the Dashboard;
 * - any other failure (the store, Stripe's API) is a 500, so that Stripe retries the event;
 *   Express 5 passes a rejected promise from an async handler to the error handler.
 */
export function createWebhookApp(options: WebhookAppOptions): Express {
  const app = express()
  const bodyLimit = options.bodyLimit ?? '100kb'

  const raw = express.raw({ type: 'application/json', limit: bodyLimit })
  app.post('/webhooks/stripe', raw, async (req, res) => {
    const result = await options.webhooks.handle(req.body, req.headers['stripe-signature'])
    options.onEvent?.(result)
    res.json({ received: true, action: result.action })
  })

  // The rest of the application may parse JSON: after the webhook route, it cannot touch it.
  app.use(express.json())
  // For this demo only: it shows any owner's stored cards to anyone who asks. In your
  // application, authenticate the caller and serve only the owner they are (never an id taken
  // from the URL as is).
  app.get('/cards/:type/:id', async (req, res) => {
    const type = req.params.type
    if (type !== 'customer' && type !== 'account') {
      res.status(404).json({ error: 'unknown owner type' })
      return
    }
    const owner: Owner = { type, id: req.params.id }
    res.json(await options.store.listByOwner({ provider: 'stripe', owner }))
  })

  const onError: ErrorRequestHandler = (error, _req, res, _next) => {
    // A refused request (its `reason` says which check failed); an invalid_request from the
    // store or Stripe's API while applying the event is a 500 like any other failure.
    if (isCardportError(error, 'invalid_request') && error.details?.reason) {
      // The message says what was wrong; it never holds the secret, the signature or the body.
      const { code, message, details } = error
      res.status(400).json({ error: { code, reason: details?.reason, message } })
      return
    }
    // The body could not be read (express.raw): the request's fault, not the server's, so no
    // 500 and nothing for the error log. Stripe retries it all the same, as any non-2xx answer.
    const unread = bodyParserFailure(error)
    if (unread) {
      const tooLarge = unread.type === 'entity.too.large'
      res.status(unread.status).json({
        error: tooLarge
          ? {
              code: 'payload_too_large',
              message: `The webhook body is larger than this route reads (bodyLimit: ${bodyLimit}): raise bodyLimit if Stripe's events are this large`,
            }
          : { code: 'bad_request', message: `The webhook body could not be read (${unread.type})` },
      })
      return
    }
    // Stripe retries the event; the cause is for your logs, not for the caller.
    ;(options.onError ?? console.error)(error)
    res.status(500).json({ error: { code: 'internal', message: 'try again later' } })
  }
  app.use(onError)
  return app
}

/** Starts the app on a loopback port (0: any free port). */
export async function listen(
  app: Express,
  port = 0,
): Promise<{ url: string; close: () => Promise<void> }> {
  const server = app.listen(port, '127.0.0.1')
  await once(server, 'listening')
  const { port: bound } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${bound}`,
    close: async () => {
      server.closeAllConnections()
      server.close()
      await once(server, 'close')
    },
  }
}

/**
 * A request body that `express.raw` refused (too large, aborted, an unknown encoding, a
 * compressed body that does not decompress): its 4xx status and its kind (`entity.too.large` …,
 * or `unreadable` for a decompression error, which has none), or null for any other error. Its
 * errors are `http-errors` marked `expose` (a client's fault); a `CardportError` with the status
 * of Stripe's answer is not one of them.
 */
function bodyParserFailure(error: unknown): { status: number; type: string } | null {
  if (typeof error !== 'object' || error === null) return null
  const { status, type, expose } = error as { status?: unknown; type?: unknown; expose?: unknown }
  if (expose !== true || typeof status !== 'number' || status < 400 || status > 499) return null
  const known = typeof type === 'string' && /^[a-z]+(?:\.[a-z]+)+$/.test(type)
  return { status, type: known ? type : 'unreadable' }
}
