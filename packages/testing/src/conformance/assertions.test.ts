import { CardDeclinedError, CardInvalidError, ConflictError } from '@cardport/core'
import { describe, expect, it } from 'vitest'
import {
  createSecrets,
  expectCardportError,
  expectDefaultConflictMessage,
  rememberSecrets,
} from './assertions.js'

/** A `card_invalid` error whose stack names a source line that happens to be the CVC. */
function errorWithStack(message: string, stackFrames: string): CardInvalidError {
  const error = new CardInvalidError(message, { provider: 'vault' })
  error.stack = `CardportError: ${message}\n${stackFrames}`
  return error
}

describe('expectCardportError', () => {
  const secrets = createSecrets()
  rememberSecrets(secrets, { number: '4000 0000 0000 0002', cvc: '737' })

  it("does not take a stack frame's line or column for a CVC", () => {
    const error = errorWithStack(
      'vault: the card could not be validated',
      [
        '    at tokenize (/app/src/vault-provider.ts:737:25)',
        '    at file:///app/src/vault-client.ts:12:737',
        '    at async /app/src/main.ts:737:737',
      ].join('\n'),
    )
    expect(() => expectCardportError(error, 'card_invalid', 'vault', secrets)).not.toThrow()
  })

  it('finds the CVC or the card number in the message, and in the text of the stack', () => {
    const cases = [
      errorWithStack('vault: CVC 737 did not match', '    at tokenize (/app/src/a.ts:1:1)'),
      errorWithStack('vault: refused', '    at tokenize 737 (/app/src/a.ts:1:1)'),
      errorWithStack('vault: card 4000000000000002 refused', '    at x (/app/a.ts:1:1)'),
    ]
    for (const error of cases) {
      expect(() => expectCardportError(error, 'card_invalid', 'vault', secrets)).toThrow(
        /holds a (CVC|full card number)/,
      )
    }
  })
})

describe('expectCardportError reads what a logger prints of the error', () => {
  const secrets = createSecrets()
  rememberSecrets(secrets, { number: '4000 0000 0000 0002', cvc: '737' })
  const declined = (options: ConstructorParameters<typeof CardDeclinedError>[1]) =>
    new CardDeclinedError('vault: the card was declined', { provider: 'vault', ...options })

  it('finds the CVC in details and along the cause chain, which toJSON leaves out', () => {
    const cases = [
      declined({ details: { request: { card: { cvc: '737' } } } }),
      declined({ details: { sent: ['number=•••• 0002&cvc=737'] } }),
      declined({ details: { body: 'card[number]=•••• 0002\n737' } }),
      declined({ cause: new Error('vendor 402: {"card":{"cvc":"737"}}') }),
      declined({ cause: Object.assign(new Error('vendor 402'), { config: { data: 'cvc=737' } }) }),
      declined({ cause: new Error('vendor request failed', { cause: { body: 'cvc=737' } }) }),
    ]
    for (const error of cases) {
      expect(JSON.stringify(error.toJSON())).not.toContain('737')
      expect(() => expectCardportError(error, 'card_declined', 'vault', secrets)).toThrow(
        /holds a CVC/,
      )
    }
  })

  it("does not take a line or column of the cause's stack for a CVC", () => {
    const cause = new Error('vendor 402')
    cause.stack = 'Error: vendor 402\n    at send (/app/src/vault-client.ts:737:25)'
    const error = declined({ cause, details: { param: 'number', status: 402 } })
    expect(() => expectCardportError(error, 'card_declined', 'vault', secrets)).not.toThrow()
  })
})

describe('expectDefaultConflictMessage', () => {
  const conflict = (message: string) => new ConflictError(message, { provider: 'vault' })

  it("passes what the shipped adapters say when a currency's default cannot be deleted", () => {
    const messages = [
      // memoryProvider
      'Card card_1 is the default for usd: make another card the default for that currency first',
      // stripeProvider, for the account's default currency and for another one
      'Stripe: You cannot delete the default external account for your default currency. Please make another external account the default using the `default_for_currency` param, and then delete this one. (make another card of the same currency the default with setDefaultCard, then delete this one)',
      'Stripe: You cannot delete the default external account for eur while other external accounts in eur exist. Please make another external account the default using the `default_for_currency` param, and then delete this one. (make another card of the same currency the default with setDefaultCard, then delete this one)',
    ]
    for (const message of messages) {
      expect(() => expectDefaultConflictMessage(conflict(message), 'usd')).not.toThrow()
    }
  })

  it('fails a conflict that says neither that the card is the default nor for which currency', () => {
    for (const message of ['No.', 'Card card_1 cannot be deleted', 'Card card_1 is the default']) {
      expect(() => expectDefaultConflictMessage(conflict(message), 'usd')).toThrow()
    }
  })
})
