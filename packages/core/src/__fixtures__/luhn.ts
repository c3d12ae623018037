/**
 * The digit that makes `body` followed by it pass the Luhn check: the tests' own reckoning, kept
 * apart from `isLuhnValid` so that a test of the checks does not build its numbers with them.
 */
export function luhnCheckDigit(body: string): string {
  let sum = 0
  for (let index = 0; index < body.length; index++) {
    let digit = Number(body[body.length - 1 - index])
    if (index % 2 === 0) digit *= 2
    sum += digit > 9 ? digit - 9 : digit
  }
  return String((10 - (sum % 10)) % 10)
}
