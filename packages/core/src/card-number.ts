/**
 * Whether a card number passes the Luhn (mod 10) check. White space and dashes are ignored; any
 * other character, or fewer than 12 or more than 19 digits, fails.
 *
 * @example
 * ```ts
 * isLuhnValid('4242 4242 4242 4242') // true
 * isLuhnValid('4242424242424241')    // false
 * ```
 */
export function isLuhnValid(number: string): boolean {
  const digits = number.replace(/[\s-]/g, '')
  if (!/^\d{12,19}$/.test(digits)) return false
  let sum = 0
  for (let index = 0; index < digits.length; index++) {
    let digit = digits.charCodeAt(digits.length - 1 - index) - 48
    if (index % 2 === 1) {
      digit *= 2
      if (digit > 9) digit -= 9
    }
    sum += digit
  }
  return sum % 10 === 0
}

/**
 * A card shown the way a person expects: `•••• 4242`. Takes the last four digits or a whole
 * number (of which only the last four are kept).
 */
export function maskCard(last4OrNumber: string): string {
  const digits = last4OrNumber.replace(/\D/g, '')
  return `•••• ${digits.slice(-4).padStart(4, '•')}`
}
