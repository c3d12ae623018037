import { describe, expect, it, vi } from 'vitest'
import { AuthenticationError, ProviderUnavailableError, RateLimitedError } from './errors.js'
import { withRetry } from './retry.js'

const noWait = () => vi.fn(async (_ms: number) => {})

describe('withRetry', () => {
  it('returns the first success without waiting', async () => {
    const sleep = noWait()
    await expect(withRetry(async () => 'ok', { sleep })).resolves.toBe('ok')
    expect(sleep).not.toHaveBeenCalled()
  })

  it('retries retryable errors with doubling, fully jittered backoff', async () => {
    const sleep = noWait()
    const operation = vi.fn(async (attempt: number) => {
      if (attempt < 3) throw new ProviderUnavailableError('down')
      return attempt
    })
    const result = await withRetry(operation, {
      retries: 3,
      baseDelayMs: 100,
      sleep,
      random: () => 0.5,
    })
    expect(result).toBe(3)
    expect(operation).toHaveBeenCalledTimes(4)
    expect(sleep.mock.calls).toEqual([[50], [100], [200]])
  })

  it('waits 200 ms then 400 ms before jitter by default', async () => {
    const sleep = noWait()
    const operation = vi.fn(async (attempt: number) => {
      if (attempt < 2) throw new ProviderUnavailableError('down')
      return attempt
    })
    await expect(withRetry(operation, { sleep, random: () => 0.5 })).resolves.toBe(2)
    expect(sleep.mock.calls).toEqual([[100], [200]])
  })

  it('caps the doubled backoff at maxDelayMs before the jitter, not after', async () => {
    const sleep = noWait()
    const operation = vi.fn(async (attempt: number) => {
      if (attempt < 4) throw new ProviderUnavailableError('down')
      return attempt
    })
    await withRetry(operation, {
      retries: 4,
      baseDelayMs: 100,
      maxDelayMs: 300,
      sleep,
      random: () => 0.5,
    })
    // 100, 200, 400 -> 300, 800 -> 300, each halved: jittered after the cap, not capped after it.
    expect(sleep.mock.calls).toEqual([[50], [100], [150], [150]])
  })

  it.each([
    ['retries: NaN', { retries: Number.NaN }, 'retries'],
    ['retries: Infinity', { retries: Number.POSITIVE_INFINITY }, 'retries'],
    ['retries: 1.5', { retries: 1.5 }, 'retries'],
    ['retries: -1', { retries: -1 }, 'retries'],
    ['baseDelayMs: NaN', { baseDelayMs: Number.NaN }, 'baseDelayMs'],
    ['maxDelayMs: -5', { maxDelayMs: -5 }, 'maxDelayMs'],
    // Longer than a timer holds: Node would run it after 1 ms, no wait at all.
    ['maxDelayMs: 30 days', { maxDelayMs: 30 * 86_400_000 }, 'maxDelayMs'],
    ['baseDelayMs: 2^31', { baseDelayMs: 2 ** 31 }, 'baseDelayMs'],
    ["sleep: 'soon'", { sleep: 'soon' }, 'sleep'],
  ])('refuses a policy with %s (invalid_request) before any attempt', async (_, policy, path) => {
    const operation = vi.fn(async () => {
      throw new RateLimitedError('slow down')
    })
    const error = await withRetry(operation, policy as never).catch((caught: unknown) => caught)
    expect(error).toMatchObject({ code: 'invalid_request', issues: [{ path: [path] }] })
    expect(operation).not.toHaveBeenCalled()
  })

  it('refuses a policy with a key it does not know (a misspelt retrys) before any attempt', async () => {
    const operation = vi.fn(async () => 1)
    const error = await withRetry(operation, { retrys: 5 } as never).catch(
      (caught: unknown) => caught,
    )
    expect(error).toMatchObject({ code: 'invalid_request', issues: [{ path: [] }] })
    expect((error as Error).message).toContain('"retrys"')
    expect(operation).not.toHaveBeenCalled()
  })

  it('refuses a policy object changed to NaN after an earlier call, before any attempt', async () => {
    // One policy object reused for every call is checked once: a value set later (a
    // Number(process.env.RETRIES) of an unset variable) is checked again, not retried without end.
    const policy: { retries?: number; sleep: ReturnType<typeof noWait> } = {
      retries: 1,
      sleep: noWait(),
    }
    await expect(withRetry(async () => 'ok', policy)).resolves.toBe('ok')
    policy.retries = Number.NaN
    // It stops failing after 10 attempts, so that a policy not checked again ends this test.
    const operation = vi.fn(async (attempt: number) => {
      if (attempt < 10) throw new ProviderUnavailableError('down')
      return attempt
    })
    const error = await withRetry(operation, policy).catch((caught: unknown) => caught)
    expect(error).toMatchObject({ code: 'invalid_request', issues: [{ path: ['retries'] }] })
    expect(operation).not.toHaveBeenCalled()
  })

  it('takes an option given as undefined for its default', async () => {
    const sleep = noWait()
    let calls = 0
    const failing = withRetry(
      async () => {
        calls++
        throw new ProviderUnavailableError('down')
      },
      { retries: undefined, baseDelayMs: undefined, sleep },
    )
    await expect(failing).rejects.toThrow('down')
    expect(calls).toBe(3)
  })

  it('gives up after its retries with the last error', async () => {
    const sleep = noWait()
    let calls = 0
    const failing = withRetry(
      async () => {
        calls++
        throw new ProviderUnavailableError(`down ${calls}`)
      },
      { retries: 2, sleep },
    )
    await expect(failing).rejects.toThrow('down 3')
    expect(calls).toBe(3)
  })

  it('waits at least what Retry-After asked, capped by maxDelayMs', async () => {
    const sleep = noWait()
    let calls = 0
    await withRetry(
      async () => {
        if (calls++ === 0) throw new RateLimitedError('slow down', { retryAfterMs: 1500 })
        if (calls === 2) throw new RateLimitedError('slower', { retryAfterMs: 60_000 })
        return 'ok'
      },
      { sleep, maxDelayMs: 5000, random: () => 0 },
    )
    expect(sleep.mock.calls).toEqual([[1500], [5000]])
    expect(calls).toBe(3)
  })

  it('keeps its backoff when an error asks for no wait it can read (NaN, negative)', async () => {
    // Math.max(backoff, NaN) is NaN, which a timer reads as 1 ms: the backoff was lost.
    const sleep = noWait()
    let calls = 0
    await withRetry(
      async () => {
        if (calls++ === 0) throw new RateLimitedError('slow down', { retryAfterMs: Number.NaN })
        if (calls === 2) throw new RateLimitedError('slower', { retryAfterMs: -5 })
        return 'ok'
      },
      { sleep, baseDelayMs: 1000, random: () => 0.5 },
    )
    expect(sleep.mock.calls).toEqual([[500], [1000]])
  })

  it('does not retry what retrying cannot fix, nor plain errors', async () => {
    const sleep = noWait()
    await expect(
      withRetry(
        async () => {
          throw new AuthenticationError('bad key')
        },
        { sleep },
      ),
    ).rejects.toMatchObject({ code: 'authentication' })
    await expect(
      withRetry(
        async () => {
          throw new TypeError('bug')
        },
        { sleep },
      ),
    ).rejects.toBeInstanceOf(TypeError)
    expect(sleep).not.toHaveBeenCalled()
  })

  it('asks shouldRetry when given', async () => {
    const sleep = noWait()
    const shouldRetry = vi.fn((_error: unknown, attempt: number) => attempt < 1)
    let calls = 0
    await expect(
      withRetry(
        async () => {
          calls++
          throw new TypeError('flaky')
        },
        { sleep, shouldRetry },
      ),
    ).rejects.toThrow('flaky')
    expect(calls).toBe(2)
    expect(shouldRetry.mock.calls.map(([, attempt]) => attempt)).toEqual([0, 1])
  })

  it('stops before the next attempt once the signal aborts', async () => {
    const controller = new AbortController()
    let calls = 0
    const sleep = vi.fn(async () => controller.abort(new Error('stopped')))
    await expect(
      withRetry(
        async () => {
          calls++
          throw new ProviderUnavailableError('down')
        },
        { sleep, signal: controller.signal },
      ),
    ).rejects.toThrow('stopped')
    expect(calls).toBe(1)
  })

  it('starts no attempt when the signal aborted before the call', async () => {
    const operation = vi.fn(async () => 'ok')
    await expect(
      withRetry(operation, { signal: AbortSignal.abort(new Error('stopped')) }),
    ).rejects.toThrow('stopped')
    expect(operation).not.toHaveBeenCalled()
  })

  it('waits no backoff when the signal aborted during the attempt', async () => {
    vi.useFakeTimers()
    try {
      const controller = new AbortController()
      let calls = 0
      const retried = withRetry(
        async () => {
          calls++
          controller.abort(new Error('interrupted'))
          throw new RateLimitedError('slow down', { retryAfterMs: 20_000 })
        },
        { signal: controller.signal },
      )
      let settled = false
      const outcome = expect(retried.finally(() => (settled = true))).rejects.toThrow('interrupted')
      // No timer runs: the call ends at once, no 20 s wait is started.
      await vi.advanceTimersByTimeAsync(0)
      expect(settled).toBe(true)
      await outcome
      expect(calls).toBe(1)
      expect(vi.getTimerCount()).toBe(0)
    } finally {
      vi.useRealTimers()
    }
  })

  it("stops a custom sleep's wait as soon as the signal aborts, and hands it the signal", async () => {
    vi.useFakeTimers()
    try {
      const controller = new AbortController()
      let calls = 0
      // A sleep of the caller's own (a logging one, say) that does not listen to any signal.
      const sleep = vi.fn(
        (ms: number, _signal?: AbortSignal) =>
          new Promise<void>((resolve) => setTimeout(resolve, ms)),
      )
      const retried = withRetry(
        async () => {
          calls++
          throw new RateLimitedError('slow down', { retryAfterMs: 20_000 })
        },
        { sleep, signal: controller.signal },
      )
      let settled = false
      const outcome = expect(retried.finally(() => (settled = true))).rejects.toThrow('interrupted')
      await vi.advanceTimersByTimeAsync(1_000)
      expect(sleep).toHaveBeenCalledTimes(1)
      expect(sleep.mock.calls[0]).toEqual([20_000, controller.signal])
      controller.abort(new Error('interrupted'))
      // No timer runs: the abort alone ends the call, 19 s before the sleep would.
      await vi.advanceTimersByTimeAsync(0)
      expect(settled).toBe(true)
      await outcome
      expect(calls).toBe(1)
    } finally {
      vi.useRealTimers()
    }
  })

  // A Retry-After up to 20 s is waited as asked, a longer one cut to 20 s by default; a custom
  // sleep is given the wait alone when the policy has no signal.
  it.each([
    [300, 300],
    [60_000, 20_000],
  ])(
    'waits a Retry-After of %i ms %i ms by default, calling a custom sleep with the wait alone when the policy has no signal',
    async (retryAfterMs, waited) => {
      const sleep = noWait()
      let calls = 0
      await withRetry(
        async () => {
          if (calls++ === 0) throw new RateLimitedError('slow down', { retryAfterMs })
          return 'ok'
        },
        { sleep },
      )
      expect(sleep.mock.calls).toEqual([[waited]])
    },
  )

  it('stops waiting as soon as the signal aborts, not after the backoff (a Retry-After of 20 s)', async () => {
    vi.useFakeTimers()
    try {
      const controller = new AbortController()
      let calls = 0
      const retried = withRetry(
        async () => {
          calls++
          throw new RateLimitedError('slow down', { retryAfterMs: 20_000 })
        },
        { signal: controller.signal },
      )
      const outcome = expect(retried).rejects.toThrow('interrupted')
      await vi.advanceTimersByTimeAsync(1_000)
      expect(vi.getTimerCount()).toBe(1) // the 20 s wait
      controller.abort(new Error('interrupted'))
      await outcome
      expect(calls).toBe(1)
      expect(vi.getTimerCount()).toBe(0) // its timer cleared, not left to run out
    } finally {
      vi.useRealTimers()
    }
  })
})
