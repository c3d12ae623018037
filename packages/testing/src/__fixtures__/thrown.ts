// What a call of the package's own tests threw or rejected with, for tests that read the error's
// fields rather than match it whole (`expect(...).toThrow` keeps the error to itself).

/** What a synchronous call threw; fails the test if it returned. */
export function thrownBy(run: () => unknown): unknown {
  try {
    run()
  } catch (error) {
    return error
  }
  throw new Error('expected the call to throw, it returned')
}

/** Awaits a promise that must reject, and returns what it rejected with. */
export async function rejection(
  promise: Promise<unknown>,
): Promise<Error & Record<string, unknown>> {
  try {
    await promise
  } catch (error) {
    return error as Error & Record<string, unknown>
  }
  throw new Error('expected the call to fail, it succeeded')
}
