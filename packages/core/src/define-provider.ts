import { randomUUID } from 'node:crypto'
import { z } from 'zod'
import {
  type Card,
  CardIdInputSchema,
  formatOwner,
  type Owner,
  OwnerInputSchema,
  OwnerSchema,
  ProviderNameSchema,
} from './card.js'
import {
  type CardUpdate,
  CardUpdateSchema,
  CreateCardInputSchema,
  UPDATABLE_FIELD_KEYS,
  UPDATABLE_FIELDS,
  type UpdatableField,
  type ValidCreateCardInput,
} from './card-details.js'
import {
  CardNotFoundError,
  type CardportError,
  InvalidRequestError,
  UnsupportedOperationError,
} from './errors.js'
import {
  cardIdNamed,
  doneCard,
  noteCardsRead,
  notOwnCard,
  readCard,
  readPage,
  readPayloadCard,
} from './owner-checked-provider.js'
import { listAll, type Page } from './pagination.js'
import {
  type CardProvider,
  type DefaultPolicy,
  PROVIDER_OPERATIONS,
  type ProviderCapabilities,
} from './provider.js'
import { payloadFailure, providerFailure } from './provider-failure.js'
import { copyOf, optionsObject, strictObjectSaying, unknownKeys, validate } from './validate.js'

/**
 * The primitives an adapter writes. Each returns provider data mapped to the {@link Card}
 * shape, as the card of the owner it was given under the provider's `name`;
 * `defineCardProvider` validates input before calling them and output after (another owner's
 * card is refused), so an adapter never repeats those checks. Every operation whose capability is `true` must be given.
 */
export interface CardProviderPrimitives {
  /**
   * Adds a card from a token, a tokenized card's id or (with `capabilities.cardDetails`) raw
   * details, already checked. Send `idempotencyKey` with the request: it is the caller's key or
   * a fresh one, and a retry of the same call reuses it, so that no card is made twice.
   */
  createCard?(
    owner: Owner,
    input: ValidCreateCardInput,
    context: {
      /** The key to send with the create request. */
      idempotencyKey: string
    },
  ): Promise<Card>
  /**
   * One card of the owner. A card another owner holds is not found: raise `cardNotFound`, as
   * for an unknown id, so that one owner never reads another's card by its id.
   */
  getCard?(owner: Owner, cardId: string): Promise<Card>
  /**
   * One page of the owner's cards, `limit` (1 to 100, already checked) at most, from `cursor`,
   * which is the `nextCursor` this primitive returned for the previous page. Leave out what is
   * not a card (bank accounts, other sources) rather than fail the page.
   */
  listCards?(
    owner: Owner,
    options: {
      /** The most cards to return, 1 to 100. */
      limit: number
      /** The previous page's `nextCursor`; absent for the first page. */
      cursor?: string
    },
  ): Promise<Page<Card>>
  /** Applies a checked patch that holds only the fields `capabilities.updatableFields` lists. */
  updateCard?(owner: Owner, cardId: string, patch: CardUpdate): Promise<Card>
  /** Deletes the card; the provider's own default policy picks the next default. */
  deleteCard?(owner: Owner, cardId: string): Promise<void>
  /**
   * Makes the card the owner's default (for external accounts: for its currency); returns the
   * card as it now stands, `isDefault: true`. The provider built refuses another answer (but
   * under `defaultPolicy: 'none'`, where no card is the default) as `provider_unavailable`, not
   * retryable: the card as it was (a cache or proxy in the way, a server that ignored the change)
   * is not taken for the new default, by `CardSync` or by a direct caller.
   */
  setDefaultCard?(owner: Owner, cardId: string): Promise<Card>
  /** Optional: when absent, the default is found by paging through `listCards`. */
  getDefaultCard?(owner: Owner): Promise<Card | null>
  /**
   * Marks the card `invalid` for good, for providers that retire cards instead of deleting them
   * (the marketplace); returns the card as it now stands, `status: 'invalid'`. The provider built
   * refuses a card answered still active (a cache or proxy in the way, a server that ignored the
   * change) as `provider_unavailable`, not retryable: it is not taken for retired, by `CardSync`
   * or by a direct caller.
   */
  invalidateCard?(owner: Owner, cardId: string): Promise<Card>
  /**
   * Maps a raw payload to the Card shape, or returns null for what is not a card. A payload
   * that does not say whether the card is the default: mark the card with `markDefaultUnknown`.
   * Given an `owner`, the card must be that owner's, and every card must carry the provider's
   * `name`: the core refuses any other with `invalid_request`. What it throws becomes
   * `invalid_request`; a `CardportError` it throws is raised as it is, with card numbers and keys
   * masked in its `cause` (which may be the payload it could not read).
   */
  parseCard(raw: unknown, owner?: Owner): Card | null
  /**
   * Optional, for a provider that takes a card by more than its id (the marketplace takes the
   * card's URI too): the id of the card that `cardId`, as a caller gave it to `getCard`,
   * `updateCard`, `setDefaultCard` or `invalidateCard`, names. The card the primitive answers
   * with must have that id, exactly (ids are case-sensitive): another card is refused. Default:
   * `cardId` itself. What it throws is made a `CardportError` as the primitive's errors are; an
   * answer that is no card id (not a non-empty string, a card number) is `provider_unavailable`,
   * not retryable. The provider built has it too (`CardProvider.cardIdOf`), so that `CardSync`
   * stores and deletes a card given by its URI under its id. It must send no request, and give a
   * card's own id back as it is.
   *
   * @example
   * ```ts
   * cardIdOf: (cardId) => cardId.slice(cardId.lastIndexOf('/') + 1), // '/v1/…/cards/CC1' → 'CC1'
   * ```
   */
  cardIdOf?(cardId: string): string
  /**
   * Turns what the provider's client threw into a `CardportError`. Return undefined for what
   * it does not recognise: the core wraps that as `provider_unavailable`. The error returned is
   * raised as it is, the same object (its class, code, `retryable` and `details` kept), with
   * card numbers and keys masked in its `cause`, in place (see `defineCardProvider`), so the
   * client's error may be kept as the cause whole.
   */
  mapError?(error: unknown): CardportError | undefined
}

/** What `defineCardProvider` takes: the provider's name and capabilities, and its primitives. */
export interface CardProviderDefinition<C extends ProviderCapabilities>
  extends CardProviderPrimitives {
  /**
   * The provider's name (`'stripe'` …): `CardProvider.name`, stored with every card. One that
   * core's `ProviderNameSchema` takes (1 to 64 letters, digits, `-`, `_` or `.`, a letter first).
   */
  name: string
  /**
   * What the provider supports: the core refuses an operation declared `false` with
   * `unsupported_operation` before calling the primitive. Declare it `as const` so that the
   * provider's type carries it.
   */
  capabilities: C
}

// Card ids the caller gives: never a card number, which would travel in the request's URL.
const CardIdSchema = CardIdInputSchema
const listOptionsShape = {
  /** Page size, 1 to 100. Default 10. */
  limit: z.number().int().min(1).max(100).default(10),
  /** The `nextCursor` of the previous page. */
  cursor: z.string().min(1).optional(),
}

/**
 * The fields of {@link ListOptionsSchema}, named so that its type keeps their comments.
 * @inline
 */
type ListOptionsShape = typeof listOptionsShape

/**
 * The options of `listCards` ({@link ListOptions}), as `defineCardProvider` checks them: `limit`
 * 1 to 100 (default 10), `cursor` a non-empty string. Strict: a misspelt `limt` dropped would
 * list the default 10 cards, read by the caller as all of them. For adapters' own list calls.
 */
export const ListOptionsSchema: z.ZodDefault<z.ZodObject<ListOptionsShape, z.core.$strict>> =
  optionsObject(listOptionsShape).default({ limit: 10 })
// Strict: a misspelt `idempotency_key` dropped would send the create under a fresh key, and a
// retry of it would make a second card.
const RequestOptionsSchema = optionsObject({
  // Not IdempotencyKeySchema: what callers give is checked where they give it (CardSync,
  // tokenizeCard); a provider's own request options are not checked for a card number.
  idempotencyKey: z.string().min(1).max(255).optional(),
}).default({})

const DEFAULT_POLICIES = [
  'first-card',
  'caller-chosen',
  'latest-card',
  'none',
] as const satisfies readonly DefaultPolicy[]

const capabilitiesShape = {
  ownerTypes: z
    .array(OwnerSchema.shape.type)
    .min(1, 'list the owner types the provider holds cards for: customer, account or both'),
  ...(Object.fromEntries(
    PROVIDER_OPERATIONS.map((operation) => [operation, z.boolean()]),
  ) as Record<(typeof PROVIDER_OPERATIONS)[number], z.ZodBoolean>),
  cardDetails: z.boolean(),
  externalAccounts: z.boolean(),
  defaultPolicy: z.enum(DEFAULT_POLICIES),
  updatableFields: z.array(z.enum(UPDATABLE_FIELDS), {
    error: `declare the fields updateCard can change (${UPDATABLE_FIELDS.join(', ')}), or [] without updateCard`,
  }),
} satisfies Record<keyof ProviderCapabilities, z.ZodType>

/**
 * {@link ProviderCapabilities} as `defineCardProvider` checks them: every field there, of its
 * type (an owner type, a `DefaultPolicy`, an updatable field cardport knows), no other (a
 * misspelt `getCards` would leave `getCard` undeclared), at least one owner type, and the fields
 * `updateCard` changes listed when it is declared. `createCardSync` checks a hand-written
 * provider's `ownerTypes` with its `ownerTypes`.
 * @internal
 */
export const ProviderCapabilitiesSchema = strictObjectSaying(capabilitiesShape, (keys, known) =>
  unknownKeys(keys, known, ['capability', 'capabilities']),
).refine((capabilities) => !capabilities.updateCard || capabilities.updatableFields.length > 0, {
  path: ['updatableFields'],
  message:
    'updateCard is declared but updatableFields is empty: list the fields it can change, or declare updateCard: false',
})

const isFunction = (value: unknown) => typeof value === 'function'
const optionalFunction = z.custom<() => unknown>(isFunction, 'a function').optional()

/**
 * A definition as `defineCardProvider` checks it before it builds anything: its name one that
 * `ProviderNameSchema` takes (as every adapter's `name` option), its capabilities
 * ({@link ProviderCapabilitiesSchema}), a primitive for each operation they declare, `parseCard`,
 * and `getDefaultCard`, `cardIdOf` and `mapError` functions when given. Other keys are the
 * adapter's own (its primitives are called on the definition) and are left alone.
 */
const CardProviderDefinitionSchema = z
  .looseObject({
    name: ProviderNameSchema,
    capabilities: ProviderCapabilitiesSchema,
    ...(Object.fromEntries(
      PROVIDER_OPERATIONS.map((operation) => [operation, optionalFunction]),
    ) as Record<(typeof PROVIDER_OPERATIONS)[number], typeof optionalFunction>),
    parseCard: z.custom<() => unknown>(isFunction, 'parseCard must be a function'),
    getDefaultCard: optionalFunction,
    cardIdOf: optionalFunction,
    mapError: optionalFunction,
  })
  .superRefine((definition, context) => {
    for (const operation of PROVIDER_OPERATIONS) {
      if (definition.capabilities[operation] && definition[operation] === undefined) {
        context.addIssue({
          code: 'custom',
          path: [operation],
          message: `capability ${operation} is declared but not implemented`,
        })
      }
    }
  })

/**
 * Builds a {@link CardProvider} from an adapter's primitives. The definition is checked first,
 * and one that is wrong is refused with `invalid_request` ("Invalid defineCardProvider
 * definition: …", naming each problem and quoting no value): a `name` that `ProviderNameSchema`
 * refuses (as every adapter's `name` option does), capabilities with a field missing, of the
 * wrong type (a `defaultPolicy` other than the four {@link DefaultPolicy} names, an unknown
 * updatable field) or unknown (a misspelt `getCards`), no owner type, `updateCard` declared with
 * no `updatableFields`, an operation declared without its primitive, or no `parseCard`. The core
 * then does what every adapter would otherwise repeat:
 * - validates owners, ids, create input (metadata limits, card details), updates and list
 *   options before any request, raising `invalid_request`;
 * - refuses operations and owner types the capabilities leave out with `unsupported_operation`,
 *   and updates of fields `updatableFields` leaves out (the patch read once for both checks, so
 *   the primitive gets the values checked);
 * - gives every create an idempotency key;
 * - parses every card with `CardSchema`, and refuses one that is not the asked owner's card under
 *   `name` (another owner's or another provider's), or, from an operation that names a card
 *   (`getCard`, `updateCard`, `setDefaultCard`, `invalidateCard`), not that card (its id is not the
 *   asked id, or what `cardIdOf` says it names, exactly), as a non-retryable
 *   `provider_unavailable` (`invalid_request` from `parseCard` given an owner), so that it is
 *   never stored as the owner's, or as the answer about another card;
 * - refuses a `setDefaultCard` answer that is not `isDefault: true` (unless the `defaultPolicy` is
 *   `'none'`) and an `invalidateCard` answer that is not `status: 'invalid'`, the card as it was
 *   (a cache or proxy in the way, a server that ignored the change), as a non-retryable
 *   `provider_unavailable` naming the operation, so that no caller takes the change for done;
 * - turns anything thrown into a `CardportError` (through the adapter's `mapError`), and masks
 *   card numbers and keys in its `cause`;
 * - gives the provider the adapter's `cardIdOf`, when it declares one, its answer checked to be a
 *   card id, so that `CardSync` stores and deletes a card given by another id (the marketplace's
 *   URI) under its own.
 *
 * @example
 * ```ts
 * export function myProvider(options: MyOptions) {
 *   const client = makeClient(options)
 *   return defineCardProvider({
 *     name: 'my-psp',
 *     capabilities: { ... } as const satisfies ProviderCapabilities,
 *     async getCard(owner, id) { return toCard(await client.get(owner, id), owner) },
 *     parseCard: (raw, owner) => (isMyCard(raw) ? toCard(raw, owner) : null),
 *     mapError,
 *     ...
 *   })
 * }
 * ```
 */
export function defineCardProvider<const C extends ProviderCapabilities>(
  definition: CardProviderDefinition<C>,
): CardProvider<C> {
  // Checked whole, before anything is built: an adapter's mistake is an `invalid_request` here,
  // not a provider whose every card fails to read (a bad name), that CardSync follows under a
  // policy no code knows, or that lacks an operation it declares.
  validate(CardProviderDefinitionSchema, definition, 'defineCardProvider definition')
  const { name, capabilities } = definition
  const updatable = new Set<UpdatableField>(capabilities.updatableFields)

  const unsupported = (operation: string, hint = ''): never => {
    throw new UnsupportedOperationError(
      `${name} does not support ${operation}${hint}; check provider.capabilities before calling it`,
      { provider: name },
    )
  }

  const checkOwner = (owner: unknown): Owner => {
    const valid = validate(OwnerInputSchema, owner, 'owner', name)
    if (!capabilities.ownerTypes.includes(valid.type)) {
      unsupported(`cards of owners of type '${valid.type}'`)
    }
    return valid
  }

  const refuseFixedFields = (patch: unknown) => {
    if (typeof patch !== 'object' || patch === null) return
    const values = patch as Record<string, unknown>
    const fixed = UPDATABLE_FIELDS.filter(
      (field) =>
        !updatable.has(field) &&
        UPDATABLE_FIELD_KEYS[field].some((key) => values[key] !== undefined),
    )
    if (fixed.length === 0) return
    const retire = capabilities.invalidateCard
      ? 'invalidateCard'
      : capabilities.deleteCard
        ? 'deleteCard'
        : undefined
    const instead =
      capabilities.createCard && retire
        ? `create a card with the new details, then ${retire} the old one`
        : 'leave it out of the update'
    throw new UnsupportedOperationError(
      `${name} cannot update the ${fixed.map(describeField).join(' or ')} of a card (capabilities.updatableFields: ${[...updatable].join(', ')}): ${instead}`,
      { provider: name },
    )
  }

  /**
   * The card an operation on `owner` answered with, read with the Card schema and checked to be
   * `owner`'s card at this provider (see `readCard`): another owner's card, passed on, would be
   * stored by CardSync under that owner (or another provider's name), where `owner`'s calls never
   * look.
   */
  const toCard = (candidate: Card, operation: string, owner: Owner): Card =>
    readCard(candidate, name, operation, owner)

  const call = async <T>(operation: string, run: () => Promise<T>): Promise<T> => {
    try {
      return await run()
    } catch (error) {
      throw providerFailure(error, name, operation, definition.mapError)
    }
  }

  const cardIdOf = definition.cardIdOf?.bind(definition)
  /** The id of the card `cardId` names: what `cardIdOf` answers, checked, or `cardId` itself. */
  const namedCardId = (cardId: string): string =>
    cardIdOf ? cardIdNamed(cardIdOf, cardId, name, definition.mapError) : cardId
  /**
   * The card `run` answered `operation` (one that names the card `cardId`) for `owner` with, read
   * as `toCard` reads it and checked to be that card, in the same read: another card of the
   * owner, passed on, would be stored by CardSync as the answer about `cardId` (as invalid, as
   * the new default). The card's id is asked for before the request: a `cardIdOf` that fails
   * sends none.
   */
  const askedCard = async (
    operation: string,
    owner: Owner,
    cardId: string,
    run: () => Promise<Card>,
  ): Promise<Card> => {
    const asked = namedCardId(cardId)
    return readCard(await call(operation, run), name, operation, owner, asked)
  }

  // Only the operations the capabilities declare are reachable, whatever else is defined.
  const createCard = capabilities.createCard ? definition.createCard?.bind(definition) : undefined
  const getCard = capabilities.getCard ? definition.getCard?.bind(definition) : undefined
  const listCards = capabilities.listCards ? definition.listCards?.bind(definition) : undefined
  const updateCard = capabilities.updateCard ? definition.updateCard?.bind(definition) : undefined
  const deleteCard = capabilities.deleteCard ? definition.deleteCard?.bind(definition) : undefined
  const setDefaultCard = capabilities.setDefaultCard
    ? definition.setDefaultCard?.bind(definition)
    : undefined
  const invalidateCard = capabilities.invalidateCard
    ? definition.invalidateCard?.bind(definition)
    : undefined

  // createCard's checks and call, without the clearing of the last match around them.
  const checkedCreate = async (owner: Owner, input: unknown, options: unknown): Promise<Card> => {
    if (!createCard) return unsupported('createCard')
    const validOwner = checkOwner(owner)
    const validInput = validate(CreateCardInputSchema, input, 'card input', name)
    if (typeof validInput.source !== 'string' && !capabilities.cardDetails) {
      unsupported('raw card details', ': pass a token made by the provider instead')
    }
    // A customer's card has no currency (the Card schema refuses one): only an account's cards,
    // external accounts, pay out in one. Passed on, it was dropped or refused by the provider
    // after a request, and a caller reading the card as made in that currency was wrong.
    if (validOwner.type === 'customer' && validInput.currency !== undefined) {
      throw new InvalidRequestError(
        `${name}: a customer's card has no currency (only an account's cards, external accounts, pay out in one): leave currency out`,
        {
          provider: name,
          issues: [{ path: ['currency'], message: "not for a customer's card" }],
        },
      )
    }
    const { idempotencyKey = randomUUID() } = validate(
      RequestOptionsSchema,
      options,
      'request options',
      name,
    )
    const card = await call('createCard', () =>
      createCard(validOwner, validInput, { idempotencyKey }),
    )
    return toCard(card, 'createCard', validOwner)
  }

  const provider = {
    name,
    capabilities,

    async createCard(owner: Owner, input: unknown, options?: unknown): Promise<Card> {
      try {
        return await checkedCreate(owner, input, options)
      } finally {
        // Checking card details (here and in the adapter) matched patterns against the number
        // and the CVC, and the engine keeps the last match's text where any code can read it.
        forgetLastMatch()
      }
    },

    async getCard(owner: Owner, cardId: string): Promise<Card> {
      if (!getCard) return unsupported('getCard')
      const validOwner = checkOwner(owner)
      const id = validate(CardIdSchema, cardId, 'card id', name)
      return askedCard('getCard', validOwner, id, () => getCard(validOwner, id))
    },

    async listCards(owner: Owner, options?: unknown): Promise<Page<Card>> {
      if (!listCards) return unsupported('listCards')
      const validOwner = checkOwner(owner)
      const validOptions = validate(ListOptionsSchema, options, 'list options', name)
      const answer = await call('listCards', () => listCards(validOwner, validOptions))
      // The page's three fields only, checked: nothing else an adapter put on it comes along.
      const { data, hasMore, nextCursor } = readPage(answer, name)
      return {
        data: data.map((card) => toCard(card as Card, 'listCards', validOwner)),
        hasMore,
        nextCursor,
      }
    },

    async updateCard(owner: Owner, cardId: string, patch: unknown): Promise<Card> {
      if (!updateCard) return unsupported('updateCard')
      const validOwner = checkOwner(owner)
      const id = validate(CardIdSchema, cardId, 'card id', name)
      // Read once: the fields refused are those then checked and passed on (a getter asked
      // twice could answer `undefined` to the first read and a name to the second). A getter
      // that throws is `invalid_request`, as when the patch is checked.
      const given = isRecord(patch) ? copyOf(patch, 'card update', name) : patch
      // Before the patch's values are checked: a field the provider cannot change at all is
      // the first thing to tell.
      refuseFixedFields(given)
      const validPatch = definedFields(validate(CardUpdateSchema, given, 'card update', name))
      return askedCard('updateCard', validOwner, id, () => updateCard(validOwner, id, validPatch))
    },

    async deleteCard(owner: Owner, cardId: string): Promise<void> {
      if (!deleteCard) {
        return unsupported(
          'deleteCard',
          capabilities.invalidateCard ? ': use invalidateCard to retire a card' : '',
        )
      }
      const validOwner = checkOwner(owner)
      const id = validate(CardIdSchema, cardId, 'card id', name)
      await call('deleteCard', () => deleteCard(validOwner, id))
    },

    async setDefaultCard(owner: Owner, cardId: string): Promise<Card> {
      if (!setDefaultCard) return unsupported('setDefaultCard')
      const validOwner = checkOwner(owner)
      const id = validate(CardIdSchema, cardId, 'card id', name)
      return doneCard(
        await askedCard('setDefaultCard', validOwner, id, () => setDefaultCard(validOwner, id)),
        name,
        'setDefaultCard',
        validOwner,
        capabilities,
      )
    },

    async getDefaultCard(owner: Owner): Promise<Card | null> {
      if (!listCards) return unsupported('getDefaultCard')
      const validOwner = checkOwner(owner)
      if (definition.getDefaultCard) {
        const getDefault = definition.getDefaultCard.bind(definition)
        const card = await call('getDefaultCard', () => getDefault(validOwner))
        return card === null ? null : toCard(card, 'getDefaultCard', validOwner)
      }
      for await (const card of listAll(provider, validOwner)) {
        if (card.isDefault) return card
      }
      return null
    },

    async invalidateCard(owner: Owner, cardId: string): Promise<Card> {
      if (!invalidateCard) return unsupported('invalidateCard')
      const validOwner = checkOwner(owner)
      const id = validate(CardIdSchema, cardId, 'card id', name)
      return doneCard(
        await askedCard('invalidateCard', validOwner, id, () => invalidateCard(validOwner, id)),
        name,
        'invalidateCard',
        validOwner,
        capabilities,
      )
    },

    parseCard(raw: unknown, owner?: Owner): Card | null {
      const validOwner = owner === undefined ? undefined : checkOwner(owner)
      const card = parseCardPayload(name, () => definition.parseCard(raw, validOwner))
      if (card === null) return null
      // Stored by CardSync under its own owner and provider: another's card, parsed for
      // `owner`, would land among that owner's (or provider's) cards.
      const mismatch = notOwnCard(card, name, validOwner)
      if (mismatch !== undefined) {
        const ownerGiven = card.provider === name && validOwner !== undefined
        throw new InvalidRequestError(
          ownerGiven
            ? `${name} read this payload as ${mismatch}, not of ${formatOwner(validOwner)}: pass the payload's own owner`
            : `${name} read this payload as ${mismatch}: an adapter's cards carry its own name`,
          {
            provider: name,
            issues: [
              ownerGiven
                ? { path: ['owner'], message: 'the owner the payload names' }
                : { path: ['provider'], message: `a card of provider '${name}'` },
            ],
          },
        )
      }
      return card
    },

    // Only when the adapter declares one: without it, every id names itself.
    ...(cardIdOf && {
      cardIdOf: (cardId: string): string =>
        namedCardId(validate(CardIdSchema, cardId, 'card id', name)),
    }),
  }
  // CardSync reads the cards of an operation built here no second time, nor checks cardIdOf's.
  noteCardsRead(provider)
  return Object.freeze(provider) as unknown as CardProvider<C>
}

/**
 * A caller's payload as the card an adapter's mapping `map` reads from it, read as
 * `defineCardProvider`'s `parseCard` reads one: for an adapter's own mapping helpers exported
 * beside its provider (`toStripeCard`, `toMarketplaceCard`). What `map` throws is raised as
 * {@link payloadFailure} makes it (`invalid_request`, the error masked, as its cause); the card
 * it returns is read with the Card schema (`compiledCardSchema()`): text holding a card number
 * comes back masked, and a card the schema refuses is `invalid_request` naming the fields (the
 * payload is the caller's). A card marked with `markDefaultUnknown` keeps its mark. Null (a
 * payload that is no card) is returned as it is.
 *
 * @example
 * ```ts
 * import { type Card, parseCardPayload } from '@cardport/core'
 *
 * declare function mapVaultCard(raw: unknown): Card | null
 * export const toVaultCard = (raw: unknown) => parseCardPayload('vault', () => mapVaultCard(raw))
 * ```
 */
export function parseCardPayload(name: string, map: () => Card | null): Card | null {
  let candidate: Card | null
  try {
    candidate = map()
  } catch (error) {
    throw payloadFailure(error, name)
  }
  // Validation copies the card: the adapter's "default unknown" mark is kept on the copy.
  return candidate === null ? null : readPayloadCard(candidate, name)
}

/**
 * The not-found error adapters raise for a card an owner does not hold, worded the same
 * everywhere.
 */
export function cardNotFound(
  provider: string,
  owner: Owner,
  cardId: string,
  options: {
    /** The provider's HTTP status (404 …), when it answered. */
    status?: number
    /** The provider's request id, to quote to its support. */
    requestId?: string
    /** The provider's own code (`'resource_missing'` …). */
    providerCode?: string
    /** The provider's error, kept as the error's `cause`. */
    cause?: unknown
  } = {},
): CardNotFoundError {
  return new CardNotFoundError(
    `${provider} has no card ${cardId} for ${formatOwner(owner)}: list the owner's cards to find its ids`,
    { provider, ...options },
  )
}

/** An object whose own fields a copy keeps: an array is left as it is, for the schema to refuse. */
function isRecord(value: unknown): value is object {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** A field as an error message names it: `expiry` with the keys it covers. */
function describeField(field: UpdatableField): string {
  return field === 'expiry' ? 'expiry (expMonth, expYear)' : field
}

/**
 * A checked patch without the fields it gives as `undefined`, in its address too. A field left
 * out is kept, and `{ line1: undefined }` type-checks as one: a primitive that spreads the patch
 * over the card (`{ ...card.address, ...patch.address }`) would write `undefined` over the kept
 * value, and the card would no longer read.
 */
function definedFields(patch: CardUpdate): CardUpdate {
  const kept = withoutUndefined(patch)
  return kept.address ? { ...kept, address: withoutUndefined(kept.address) } : kept
}

function withoutUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, field]) => field !== undefined)) as T
}

const EMPTY_MATCH = /(?:)/

/**
 * Clears the text the engine keeps of the last regular-expression match: `RegExp.input`
 * (`RegExp.$_`), `RegExp.lastMatch` and `$1`…`$9`, legacy statics that any code in the process
 * can read, and that a heap snapshot holds. After card details are checked, that text is the
 * card number or the CVC, kept until some other match replaces it. `defineCardProvider`'s
 * `createCard` calls it when it is done; call it after code of your own that checks card details
 * outside `createCard` (an adapter's tokenize call), made or refused.
 *
 * @example
 * ```ts
 * try {
 *   return await tokenize(details)
 * } finally {
 *   forgetLastMatch()
 * }
 * ```
 */
export function forgetLastMatch(): void {
  EMPTY_MATCH.exec('')
}
