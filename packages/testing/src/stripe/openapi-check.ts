import { redact } from '@cardport/core'
import { STRIPE_REQUEST_SCHEMAS } from './stripe-request-schemas.generated.js'

/**
 * The subset of OpenAPI 3.0 schema keywords Stripe's request parameters use, and so the subset
 * {@link checkStripeRequest} understands. `x-stripeBypassValidation` marks a parameter Stripe
 * accepts in more forms than the schema says (`source` takes a token id or a card hash).
 */
export interface StripeParamSchema {
  type?: 'string' | 'integer' | 'number' | 'boolean' | 'object' | 'array'
  properties?: Readonly<Record<string, StripeParamSchema>>
  additionalProperties?: boolean | StripeParamSchema
  required?: readonly string[]
  enum?: readonly unknown[]
  maxLength?: number
  items?: StripeParamSchema
  anyOf?: readonly StripeParamSchema[]
  format?: string
  'x-stripeBypassValidation'?: boolean
}

/** The 400 a request with an unknown or malformed parameter gets, as Stripe words it. */
export interface StripeParamError {
  status: 400
  error: {
    type: 'invalid_request_error'
    /**
     * `parameter_unknown`, `parameter_missing`, `parameter_invalid_integer` or
     * `parameter_invalid_empty`; absent where Stripe sends none (an invalid boolean, enum value,
     * hash, array or too long a string).
     */
    code?: string
    message: string
    /** The parameter in bracket form: `card[exp_month]`, `tax_id_data[0][type]`. */
    param?: string
  }
}

/**
 * Checks a request's parameters against Stripe's OpenAPI description (API 2023-08-16, the card
 * subset in `stripe-request-schemas.generated.ts`): the form body for POST, the query string
 * for GET and DELETE (the union of both where the operation declares both). Returns the 400
 * Stripe would answer for the first problem, or `null` when the parameters are valid or the
 * operation is not in the description (the emulator answers unknown paths itself).
 *
 * Form values arrive as strings and are read as Stripe reads them: `'12'` is an integer,
 * `'true'`/`'false'` a boolean, and `''` unsets a parameter where the schema allows it
 * (`anyOf: [..., { enum: [''] }]`). `expand` is accepted on every operation. Parameters marked
 * `x-stripeBypassValidation` are not checked: Stripe accepts a token id or a hash there, and the
 * emulator's own rules check the value.
 *
 * Nothing is thrown and `params` is not modified. Echoed values pass through `redact`; the
 * parameter names it quotes (`Received unknown parameter: …`, `param`) are masked where the
 * emulator turns the result into a `StripeRequestError`, whose constructor masks every message
 * and `param`, so a card number never reaches an answer.
 *
 * @example
 * ```ts
 * checkStripeRequest('POST', '/v1/customers', { colour: 'red' })
 * // { status: 400, error: { type: 'invalid_request_error', code: 'parameter_unknown',
 * //   message: 'Received unknown parameter: colour', param: 'colour' } }
 * ```
 */
export function checkStripeRequest(
  method: string,
  path: string,
  params: Record<string, unknown>,
): StripeParamError | null {
  const schema = findOperation(method, path)
  if (!schema) return null
  const problem = checkObject(withExpand(schema), params, undefined)
  if (!problem) return null
  const error: StripeParamError['error'] = {
    type: 'invalid_request_error',
    message: problem.message,
  }
  if (problem.code !== undefined) error.code = problem.code
  if (problem.param !== undefined) error.param = problem.param
  return { status: 400, error }
}

// ---- operations ----------------------------------------------------------------------------

interface Operation {
  method: string
  pattern: RegExp
  /** Literal segments, so that `/a/b` wins over `/a/{id}` when both match. */
  literals: number
  schema: StripeParamSchema
}

let operations: Operation[] | undefined

function findOperation(method: string, path: string): StripeParamSchema | undefined {
  operations ??= Object.entries(STRIPE_REQUEST_SCHEMAS)
    .map(([key, schema]) => {
      const [verb, template] = key.split(' ') as [string, string]
      const segments = template.split('/')
      const source = segments
        .map((segment) => (segment.startsWith('{') ? '[^/]+' : escapeRegExp(segment)))
        .join('/')
      return {
        method: verb,
        pattern: new RegExp(`^${source}/?$`),
        literals: segments.filter((segment) => !segment.startsWith('{')).length,
        schema,
      }
    })
    .sort((a, b) => b.literals - a.literals)
  const verb = method.toUpperCase() === 'HEAD' ? 'GET' : method.toUpperCase()
  return operations.find((entry) => entry.method === verb && entry.pattern.test(path))?.schema
}

const EXPAND: StripeParamSchema = { type: 'array', items: { type: 'string', maxLength: 5000 } }

/** Stripe accepts `expand` on every operation, whether or not the description lists it. */
function withExpand(schema: StripeParamSchema): StripeParamSchema {
  if (schema.properties?.expand) return schema
  return { ...schema, properties: { ...schema.properties, expand: EXPAND } }
}

// ---- the schema walk -----------------------------------------------------------------------

interface Problem {
  code?: string
  message: string
  param?: string
}

function checkValue(schema: StripeParamSchema, value: unknown, param: string): Problem | null {
  if (schema['x-stripeBypassValidation']) return null
  if (schema.anyOf) return checkAnyOf(schema.anyOf, value, param)
  if (value === '' && !acceptsEmpty(schema)) return emptyValue(param)
  switch (schema.type) {
    case 'object':
      return isHash(value) ? checkObject(schema, value, param) : mismatch(schema, value, param)
    case 'array':
      return Array.isArray(value)
        ? checkArray(schema, value, param)
        : mismatch(schema, value, param)
    case 'integer':
      return isInteger(value) ? null : mismatch(schema, value, param)
    case 'number':
      return isDecimal(value) ? null : mismatch(schema, value, param)
    case 'boolean':
      return isBoolean(value) ? null : mismatch(schema, value, param)
    default:
      // A schema without a type or values (`{}`) takes anything.
      if (schema.type === undefined && schema.enum === undefined) return null
      return checkString(schema, value, param)
  }
}

function checkObject(
  schema: StripeParamSchema,
  value: Record<string, unknown>,
  param: string | undefined,
): Problem | null {
  const properties = schema.properties ?? {}
  const extra = schema.additionalProperties
  // An object schema with neither list is open: Stripe documents no keys to hold it to.
  const open = schema.properties === undefined && extra === undefined
  const child = (key: string) => (param === undefined ? key : `${param}[${key}]`)
  // Stripe names an unknown parameter before it looks at the values of the known ones.
  for (const key of Object.keys(value)) {
    if (Object.hasOwn(properties, key) || open || extra === true || typeof extra === 'object') {
      continue
    }
    const name = child(key)
    return {
      code: 'parameter_unknown',
      message: `Received unknown parameter: ${name}`,
      param: name,
    }
  }
  for (const key of schema.required ?? []) {
    if (value[key] !== undefined) continue
    const name = child(key)
    return { code: 'parameter_missing', message: `Missing required param: ${name}.`, param: name }
  }
  for (const [key, inner] of Object.entries(value)) {
    const known = Object.hasOwn(properties, key) ? properties[key] : undefined
    const rule = known ?? (typeof extra === 'object' ? extra : undefined)
    if (!rule) continue
    const problem = checkValue(rule, inner, child(key))
    if (problem) return problem
  }
  return null
}

function checkArray(schema: StripeParamSchema, value: unknown[], param: string): Problem | null {
  if (!schema.items) return null
  for (const [index, item] of value.entries()) {
    const problem = checkValue(schema.items, item, `${param}[${index}]`)
    if (problem) return problem
  }
  return null
}

function checkString(schema: StripeParamSchema, value: unknown, param: string): Problem | null {
  if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
    return mismatch(schema, value, param)
  }
  const text = String(value)
  if (schema.enum && !schema.enum.includes(text)) {
    const allowed = schema.enum.filter((entry) => entry !== '').map(String)
    return { message: `Invalid ${param}: must be one of ${oneOf(allowed)}`, param }
  }
  if (schema.maxLength !== undefined && text.length > schema.maxLength) {
    return {
      message: `Invalid string: ${echo(text)}; must be at most ${schema.maxLength} characters`,
      param,
    }
  }
  return null
}

/**
 * `anyOf` in Stripe's request schemas is "a hash or a token string", "an integer or a range
 * hash", or "a value or `''` to unset". The branch is picked by the shape of the value; when
 * no branch takes it, the error is the one of the first branch of that shape (or, for a shape
 * none takes, a type error against the first real branch).
 */
function checkAnyOf(
  branches: readonly StripeParamSchema[],
  value: unknown,
  param: string,
): Problem | null {
  if (value === '' && branches.some(acceptsEmpty)) return null
  // The `enum: ['']` branch has said all it can above; the value is held to the others.
  const real = branches.filter((branch) => !isUnsetEnum(branch))
  const shape = shapeOf(value)
  const candidates = real.filter((branch) => branchShape(branch) === shape)
  if (candidates.length === 0) return mismatch(real[0] ?? {}, value, param)
  let first: Problem | null = null
  for (const branch of candidates) {
    const problem = checkValue(branch, value, param)
    if (!problem) return null
    first ??= problem
  }
  return first
}

// ---- errors --------------------------------------------------------------------------------

function emptyValue(param: string): Problem {
  return {
    code: 'parameter_invalid_empty',
    message: `You passed an empty string for '${param}'. We assume empty values are an attempt to unset a parameter; however '${param}' cannot be unset. You should remove '${param}' from your request or supply a non-empty value.`,
    param,
  }
}

/** The error for a value of the wrong type, worded as Stripe words each type's. */
function mismatch(schema: StripeParamSchema, value: unknown, param: string): Problem {
  const sent = shapeOf(value) === 'scalar' ? echo(String(value)) : `a ${shapeOf(value)} (${param})`
  switch (schema.type) {
    case 'object':
      return { message: 'Invalid hash', param }
    case 'array':
      return { message: 'Invalid array', param }
    case 'integer':
      return { code: 'parameter_invalid_integer', message: `Invalid integer: ${sent}`, param }
    case 'number':
      return { message: `Invalid decimal: ${sent}`, param }
    case 'boolean':
      return { message: `Invalid boolean: ${sent}`, param }
    default:
      return { message: `Invalid string: ${sent}`, param }
  }
}

// ---- helpers -------------------------------------------------------------------------------

type Shape = 'hash' | 'array' | 'scalar'

function shapeOf(value: unknown): Shape {
  if (Array.isArray(value)) return 'array'
  return isHash(value) ? 'hash' : 'scalar'
}

function branchShape(schema: StripeParamSchema): Shape {
  if (schema.type === 'object') return 'hash'
  return schema.type === 'array' ? 'array' : 'scalar'
}

function isHash(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** `{ enum: [''] }`: the branch that only says "an empty string unsets this". */
function isUnsetEnum(schema: StripeParamSchema): boolean {
  return schema.enum?.every((entry) => entry === '') ?? false
}

function acceptsEmpty(schema: StripeParamSchema): boolean {
  if (schema.enum) return schema.enum.includes('')
  return schema.type === undefined || schema.type === 'string'
}

function isInteger(value: unknown): boolean {
  if (typeof value === 'number') return Number.isSafeInteger(value)
  return typeof value === 'string' && /^-?\d+$/.test(value)
}

function isDecimal(value: unknown): boolean {
  if (typeof value === 'number') return Number.isFinite(value)
  return typeof value === 'string' && /^-?(\d+(\.\d*)?|\.\d+)$/.test(value)
}

function isBoolean(value: unknown): boolean {
  return typeof value === 'boolean' || value === 'true' || value === 'false'
}

/** "a", "a or b", "a, b, or c", as Stripe lists allowed values. */
function oneOf(values: string[]): string {
  if (values.length <= 2) return values.join(' or ')
  return `${values.slice(0, -1).join(', ')}, or ${values.at(-1)}`
}

/** A sent value, shortened and with any card number masked, for an error message. */
function echo(text: string): string {
  // Masked first: shortening could cut a card number below the length `redact` recognises.
  const masked = redact(text)
  return masked.length > 60 ? `${masked.slice(0, 57)}...` : masked
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}
