import type { CardDetailsInput } from '@cardport/core'
import type { CardSources } from '@cardport/testing'
import { accountsPage, buyerAccount } from './reference-payloads.js'

/** Card details with one of the emulator's test numbers, expiring in three years. */
export function testCard(
  number: string,
  overrides: Partial<CardDetailsInput> = {},
): CardDetailsInput {
  return {
    number,
    expMonth: 12,
    expYear: new Date().getUTCFullYear() + 3,
    // A CVC that no id, date or count of the emulator's answers holds as a whole token.
    cvc: number.startsWith('34') || number.startsWith('37') ? '9191' : '919',
    holderName: 'Benny Riemann',
    ...overrides,
  }
}

/**
 * The conformance suite's card sources, from the emulator's test numbers
 * (`MARKETPLACE_TEST_CARDS`): Visa and MasterCard tokenize and associate, `4444…4448` is
 * declined when associated, `4222…2220` fails the processor's validation.
 */
export const CONFORMANCE_SOURCES: CardSources = {
  valid: [testCard('4111111111111111'), testCard('5105105105105100')],
  declined: testCard('4444444444444448'),
  invalid: testCard('4222222222222220'),
  details: testCard('4111 1111 1111 1111'),
}

/** Marketplace payloads that are not cards: `parseCard` reads each as null. */
export const NON_CARDS: readonly unknown[] = [
  buyerAccount,
  accountsPage,
  { _type: 'bank_account', id: 'BA1', last_four: '6789', account: { id: 'AC1' } },
]

/** A card id no account holds, in the marketplace's id shape. */
export const MISSING_CARD_ID = 'CCcardportConformanceMissing00'
