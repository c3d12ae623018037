// TEMPORARY stand-ins for ./form.ts and ./openapi-check.ts (written by another engineer).
// Delete once theirs exist.

export function parseStripeForm(body: string | URLSearchParams): Record<string, unknown> {
  const params = typeof body === 'string' ? new URLSearchParams(body) : body
  const root: Record<string, unknown> = {}
  for (const [key, value] of params) {
    const parts = key.split('[').map((part) => part.replace(/]$/, ''))
    let node: Record<string, unknown> | unknown[] = root
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i]!
      const last = i === parts.length - 1
      const nextIsIndex = !last && /^\d*$/.test(parts[i + 1]!)
      const container = node as Record<string, unknown>
      const k = Array.isArray(node) && part === '' ? String(node.length) : part
      if (last) container[k] = value
      else {
        container[k] ??= nextIsIndex ? [] : {}
        node = container[k] as Record<string, unknown>
      }
    }
  }
  return root
}

export function checkStripeRequest(
  _method: string,
  _path: string,
  _params: Record<string, unknown>,
): {
  status: number
  error: { type: string; code?: string; message: string; param?: string }
} | null {
  return null
}
