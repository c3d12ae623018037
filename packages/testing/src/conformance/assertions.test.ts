import { CardInvalidError } from '@cardport/core'
import { describe, expect, it } from 'vitest'
import { createSecrets, expectCardportError, rememberSecrets } from './assertions.js'

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
