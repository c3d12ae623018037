import { runDemo } from './demo.js'

// Offline: the Stripe emulator stands in for api.stripe.com, and delivers signed events to an
// Express server on a random port. Nothing reaches the network.
const summary = await runDemo((line) => console.log(line))
console.log(
  summary.inStep
    ? 'express-webhooks: the store is in step with Stripe'
    : 'express-webhooks: OUT OF STEP',
)
process.exitCode = summary.inStep ? 0 : 1
