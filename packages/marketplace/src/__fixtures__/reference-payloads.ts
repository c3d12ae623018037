// Example payloads copied from the marketplace API reference (shared/data/marketplace-api/cards.rst
// and accounts.rst), unchanged, for the parse tests.

/** tokenizeResponse. */
export const tokenizeResponse = {
  security_code_check: 'true',
  _type: 'card',
  hash: 'bd1c247d10c71b3134056f83165826241115d8e55fc107d303eeab955338eba2',
  last_four: '1111',
  _uris: {},
  brand: 'Visa',
  expiration_month: 4,
  meta: {},
  postal_code: '10023',
  country_code: 'USA',
  id: 'CC1qCvr5tiysnnoCL9Z1Xwgf',
  customer: null,
  account: null,
  postal_code_check: 'true',
  name: 'Benny Riemann',
  expiration_year: 2014,
  created_at: '2013-06-24T19:28:01.208388Z',
  uri: '/v1/marketplaces/TEST-MP4GZhFzmckF3PpDFczd02s7/cards/CC1qCvr5tiysnnoCL9Z1Xwgf',
  card_type: 'visa',
  is_valid: true,
  is_verified: true,
  street_address: '167 West 74th Street',
} as const

/** retrieveResponse. */
export const retrieveResponse = {
  security_code_check: 'true',
  _type: 'card',
  hash: 'bd1c247d10c71b3134056f83165826241115d8e55fc107d303eeab955338eba2',
  last_four: '1111',
  _uris: {},
  brand: 'Visa',
  expiration_month: 4,
  meta: {},
  postal_code: '10023',
  country_code: 'USA',
  id: 'CC1r5mBshGbcVTgPCob33dfV',
  customer: null,
  account: null,
  postal_code_check: 'true',
  name: 'Benny Riemann',
  expiration_year: 2014,
  created_at: '2013-06-24T19:28:01.622236Z',
  uri: '/v1/marketplaces/TEST-MP4GZhFzmckF3PpDFczd02s7/cards/CC1r5mBshGbcVTgPCob33dfV',
  card_type: 'visa',
  is_valid: true,
  is_verified: true,
  street_address: '167 West 74th Street',
} as const

/** emptyListResponse. */
export const emptyListResponse = {
  first_uri:
    '/v1/marketplaces/TEST-MP4GZhFzmckF3PpDFczd02s7/accounts/AC19CJtENqlmUyp2YY2ltHsH/cards?limit=2&offset=0',
  _type: 'page',
  items: [],
  previous_uri: null,
  uri: '/v1/marketplaces/TEST-MP4GZhFzmckF3PpDFczd02s7/accounts/AC19CJtENqlmUyp2YY2ltHsH/cards?limit=2&offset=0',
  _uris: {
    first_uri: {
      _type: 'page',
      key: 'first',
    },
    next_uri: {
      _type: 'page',
      key: 'next',
    },
    previous_uri: {
      _type: 'page',
      key: 'previous',
    },
    last_uri: {
      _type: 'page',
      key: 'last',
    },
  },
  limit: 2,
  offset: 0,
  total: 0,
  next_uri: null,
  last_uri:
    '/v1/marketplaces/TEST-MP4GZhFzmckF3PpDFczd02s7/accounts/AC19CJtENqlmUyp2YY2ltHsH/cards?limit=2&offset=0',
} as const

/** accountListResponse. */
export const accountListResponse = {
  first_uri:
    '/v1/marketplaces/TEST-MP6xDq5coY66zGqeAztpK2Sj/accounts/AC6zdJPkzqXpIxTgvxpYse4G/cards?limit=2&offset=0',
  _type: 'page',
  items: [
    {
      customer: {
        twitter: null,
        meta: {},
        id: 'CU6zEbRwNXbovDRX0bThtz18',
        email: null,
        _type: 'customer',
        source_uri: '/v1/customers/AC6zdJPkzqXpIxTgvxpYse4G/cards/CC6yRp58mJCIbulhcxSGauXk',
        bank_accounts_uri: '/v1/customers/CU6zEbRwNXbovDRX0bThtz18/bank_accounts',
        phone: null,
        _uris: {
          transactions_uri: {
            _type: 'page',
            key: 'transactions',
          },
          source_uri: {
            _type: 'card',
            key: 'source',
          },
          bank_accounts_uri: {
            _type: 'page',
            key: 'bank_accounts',
          },
          refunds_uri: {
            _type: 'page',
            key: 'refunds',
          },
          debits_uri: {
            _type: 'page',
            key: 'debits',
          },
          holds_uri: {
            _type: 'page',
            key: 'holds',
          },
          credits_uri: {
            _type: 'page',
            key: 'credits',
          },
          cards_uri: {
            _type: 'page',
            key: 'cards',
          },
        },
        facebook: null,
        address: {},
        destination_uri: null,
        business_name: null,
        credits_uri: '/v1/customers/CU6zEbRwNXbovDRX0bThtz18/credits',
        cards_uri: '/v1/customers/CU6zEbRwNXbovDRX0bThtz18/cards',
        holds_uri: '/v1/customers/CU6zEbRwNXbovDRX0bThtz18/holds',
        name: null,
        dob: null,
        created_at: '2013-06-05T02:30:10.328398Z',
        is_identity_verified: false,
        uri: '/v1/customers/CU6zEbRwNXbovDRX0bThtz18',
        refunds_uri: '/v1/customers/CU6zEbRwNXbovDRX0bThtz18/refunds',
        debits_uri: '/v1/customers/CU6zEbRwNXbovDRX0bThtz18/debits',
        transactions_uri: '/v1/customers/CU6zEbRwNXbovDRX0bThtz18/transactions',
        ssn_last4: null,
        ein: null,
      },
      card_type: 'visa',
      _type: 'card',
      postal_code_check: 'true',
      hash: 'bd1c247d10c71b3134056f83165826241115d8e55fc107d303eeab955338eba2',
      country_code: 'USA',
      expiration_year: 2014,
      _uris: {},
      brand: 'Visa',
      uri: '/v1/marketplaces/TEST-MP6xDq5coY66zGqeAztpK2Sj/accounts/AC6zdJPkzqXpIxTgvxpYse4G/cards/CC6yRp58mJCIbulhcxSGauXk',
      expiration_month: 4,
      is_valid: true,
      is_verified: true,
      meta: {},
      last_four: '1111',
      security_code_check: 'true',
      account: {
        _type: 'account',
        _uris: {
          transactions_uri: {
            _type: 'page',
            key: 'transactions',
          },
          bank_accounts_uri: {
            _type: 'page',
            key: 'bank_accounts',
          },
          refunds_uri: {
            _type: 'page',
            key: 'refunds',
          },
          customer_uri: {
            _type: 'customer',
            key: 'customer',
          },
          debits_uri: {
            _type: 'page',
            key: 'debits',
          },
          holds_uri: {
            _type: 'page',
            key: 'holds',
          },
          credits_uri: {
            _type: 'page',
            key: 'credits',
          },
          cards_uri: {
            _type: 'page',
            key: 'cards',
          },
        },
        holds_uri:
          '/v1/marketplaces/TEST-MP6xDq5coY66zGqeAztpK2Sj/accounts/AC6zdJPkzqXpIxTgvxpYse4G/holds',
        name: 'Benny Riemann',
        roles: ['buyer'],
        transactions_uri:
          '/v1/marketplaces/TEST-MP6xDq5coY66zGqeAztpK2Sj/accounts/AC6zdJPkzqXpIxTgvxpYse4G/transactions',
        created_at: '2013-06-05T02:30:09.949061Z',
        uri: '/v1/marketplaces/TEST-MP6xDq5coY66zGqeAztpK2Sj/accounts/AC6zdJPkzqXpIxTgvxpYse4G',
        bank_accounts_uri:
          '/v1/marketplaces/TEST-MP6xDq5coY66zGqeAztpK2Sj/accounts/AC6zdJPkzqXpIxTgvxpYse4G/bank_accounts',
        refunds_uri:
          '/v1/marketplaces/TEST-MP6xDq5coY66zGqeAztpK2Sj/accounts/AC6zdJPkzqXpIxTgvxpYse4G/refunds',
        customer_uri: '/v1/customers/AC6zdJPkzqXpIxTgvxpYse4G',
        meta: {},
        debits_uri:
          '/v1/marketplaces/TEST-MP6xDq5coY66zGqeAztpK2Sj/accounts/AC6zdJPkzqXpIxTgvxpYse4G/debits',
        email_address: null,
        id: 'AC6zdJPkzqXpIxTgvxpYse4G',
        credits_uri:
          '/v1/marketplaces/TEST-MP6xDq5coY66zGqeAztpK2Sj/accounts/AC6zdJPkzqXpIxTgvxpYse4G/credits',
        cards_uri:
          '/v1/marketplaces/TEST-MP6xDq5coY66zGqeAztpK2Sj/accounts/AC6zdJPkzqXpIxTgvxpYse4G/cards',
      },
      postal_code: '10023',
      created_at: '2013-06-05T02:30:09.637519Z',
      id: 'CC6yRp58mJCIbulhcxSGauXk',
      street_address: '167 West 74th Street',
      name: 'Benny Riemann',
    },
  ],
  previous_uri: null,
  uri: '/v1/marketplaces/TEST-MP6xDq5coY66zGqeAztpK2Sj/accounts/AC6zdJPkzqXpIxTgvxpYse4G/cards?limit=2&offset=0',
  _uris: {
    first_uri: {
      _type: 'page',
      key: 'first',
    },
    next_uri: {
      _type: 'page',
      key: 'next',
    },
    previous_uri: {
      _type: 'page',
      key: 'previous',
    },
    last_uri: {
      _type: 'page',
      key: 'last',
    },
  },
  limit: 2,
  offset: 0,
  total: 1,
  next_uri: null,
  last_uri:
    '/v1/marketplaces/TEST-MP6xDq5coY66zGqeAztpK2Sj/accounts/AC6zdJPkzqXpIxTgvxpYse4G/cards?limit=2&offset=0',
} as const

/** invalidateResponse. */
export const invalidateResponse = {
  security_code_check: 'true',
  _type: 'card',
  hash: 'bd1c247d10c71b3134056f83165826241115d8e55fc107d303eeab955338eba2',
  last_four: '1111',
  _uris: {},
  brand: 'Visa',
  expiration_month: 4,
  meta: {
    'my-own-field': 'Customer request',
  },
  postal_code: '10023',
  country_code: 'USA',
  id: 'CC5G2Twslgw2EGzt9SdyIj1t',
  customer: null,
  account: null,
  postal_code_check: 'true',
  name: 'Benny Riemann',
  expiration_year: 2014,
  created_at: '2013-06-24T21:33:36.866556Z',
  uri: '/v1/marketplaces/TEST-MP5dPVgGGjEny0P3ErYicO47/cards/CC5G2Twslgw2EGzt9SdyIj1t',
  card_type: 'visa',
  is_valid: false,
  is_verified: true,
  street_address: '167 West 74th Street',
} as const

/** associateResponse. */
export const associateResponse = {
  security_code_check: 'true',
  _type: 'card',
  hash: 'bd1c247d10c71b3134056f83165826241115d8e55fc107d303eeab955338eba2',
  last_four: '1111',
  _uris: {},
  brand: 'Visa',
  expiration_month: 4,
  meta: {},
  postal_code: '10023',
  country_code: 'USA',
  id: 'CC5HM8orI8cTnj6dEdbXMoKP',
  customer: {
    twitter: null,
    meta: {},
    id: 'CU5eSPyE9H2U9D6I5Qqq1uab',
    email: null,
    _type: 'customer',
    source_uri: '/v1/customers/AC5eJN3HJIMGOLlhGFZLmbrN/cards/CC5HM8orI8cTnj6dEdbXMoKP',
    bank_accounts_uri: '/v1/customers/CU5eSPyE9H2U9D6I5Qqq1uab/bank_accounts',
    phone: null,
    _uris: {
      holds_uri: {
        _type: 'page',
        key: 'holds',
      },
      source_uri: {
        _type: 'card',
        key: 'source',
      },
      bank_accounts_uri: {
        _type: 'page',
        key: 'bank_accounts',
      },
      refunds_uri: {
        _type: 'page',
        key: 'refunds',
      },
      debits_uri: {
        _type: 'page',
        key: 'debits',
      },
      transactions_uri: {
        _type: 'page',
        key: 'transactions',
      },
      credits_uri: {
        _type: 'page',
        key: 'credits',
      },
      cards_uri: {
        _type: 'page',
        key: 'cards',
      },
    },
    facebook: null,
    address: {},
    destination_uri: null,
    business_name: null,
    credits_uri: '/v1/customers/CU5eSPyE9H2U9D6I5Qqq1uab/credits',
    cards_uri: '/v1/customers/CU5eSPyE9H2U9D6I5Qqq1uab/cards',
    holds_uri: '/v1/customers/CU5eSPyE9H2U9D6I5Qqq1uab/holds',
    name: null,
    dob: null,
    created_at: '2013-06-24T21:33:12.716162Z',
    is_identity_verified: false,
    uri: '/v1/customers/CU5eSPyE9H2U9D6I5Qqq1uab',
    refunds_uri: '/v1/customers/CU5eSPyE9H2U9D6I5Qqq1uab/refunds',
    debits_uri: '/v1/customers/CU5eSPyE9H2U9D6I5Qqq1uab/debits',
    transactions_uri: '/v1/customers/CU5eSPyE9H2U9D6I5Qqq1uab/transactions',
    ssn_last4: null,
    ein: null,
  },
  account: {
    customer_uri: '/v1/customers/AC5eJN3HJIMGOLlhGFZLmbrN',
    _type: 'account',
    holds_uri:
      '/v1/marketplaces/TEST-MP5dPVgGGjEny0P3ErYicO47/accounts/AC5eJN3HJIMGOLlhGFZLmbrN/holds',
    name: 'Benny Riemann',
    roles: ['buyer'],
    created_at: '2013-06-24T21:33:12.586613Z',
    meta: {},
    uri: '/v1/marketplaces/TEST-MP5dPVgGGjEny0P3ErYicO47/accounts/AC5eJN3HJIMGOLlhGFZLmbrN',
    bank_accounts_uri:
      '/v1/marketplaces/TEST-MP5dPVgGGjEny0P3ErYicO47/accounts/AC5eJN3HJIMGOLlhGFZLmbrN/bank_accounts',
    refunds_uri:
      '/v1/marketplaces/TEST-MP5dPVgGGjEny0P3ErYicO47/accounts/AC5eJN3HJIMGOLlhGFZLmbrN/refunds',
    _uris: {
      holds_uri: {
        _type: 'page',
        key: 'holds',
      },
      bank_accounts_uri: {
        _type: 'page',
        key: 'bank_accounts',
      },
      refunds_uri: {
        _type: 'page',
        key: 'refunds',
      },
      customer_uri: {
        _type: 'customer',
        key: 'customer',
      },
      debits_uri: {
        _type: 'page',
        key: 'debits',
      },
      transactions_uri: {
        _type: 'page',
        key: 'transactions',
      },
      credits_uri: {
        _type: 'page',
        key: 'credits',
      },
      cards_uri: {
        _type: 'page',
        key: 'cards',
      },
    },
    debits_uri:
      '/v1/marketplaces/TEST-MP5dPVgGGjEny0P3ErYicO47/accounts/AC5eJN3HJIMGOLlhGFZLmbrN/debits',
    transactions_uri:
      '/v1/marketplaces/TEST-MP5dPVgGGjEny0P3ErYicO47/accounts/AC5eJN3HJIMGOLlhGFZLmbrN/transactions',
    email_address: null,
    id: 'AC5eJN3HJIMGOLlhGFZLmbrN',
    credits_uri:
      '/v1/marketplaces/TEST-MP5dPVgGGjEny0P3ErYicO47/accounts/AC5eJN3HJIMGOLlhGFZLmbrN/credits',
    cards_uri:
      '/v1/marketplaces/TEST-MP5dPVgGGjEny0P3ErYicO47/accounts/AC5eJN3HJIMGOLlhGFZLmbrN/cards',
  },
  postal_code_check: 'true',
  name: 'Benny Riemann',
  expiration_year: 2014,
  created_at: '2013-06-24T21:33:38.404379Z',
  uri: '/v1/marketplaces/TEST-MP5dPVgGGjEny0P3ErYicO47/accounts/AC5eJN3HJIMGOLlhGFZLmbrN/cards/CC5HM8orI8cTnj6dEdbXMoKP',
  card_type: 'visa',
  is_valid: true,
  is_verified: true,
  street_address: '167 West 74th Street',
} as const

/** An account (Create a Buyer response): not a card. */
export const buyerAccount = {
  _type: 'account',
  _uris: {
    holds_uri: {
      _type: 'page',
      key: 'holds',
    },
    bank_accounts_uri: {
      _type: 'page',
      key: 'bank_accounts',
    },
    refunds_uri: {
      _type: 'page',
      key: 'refunds',
    },
    customer_uri: {
      _type: 'customer',
      key: 'customer',
    },
    debits_uri: {
      _type: 'page',
      key: 'debits',
    },
    transactions_uri: {
      _type: 'page',
      key: 'transactions',
    },
    credits_uri: {
      _type: 'page',
      key: 'credits',
    },
    cards_uri: {
      _type: 'page',
      key: 'cards',
    },
  },
  bank_accounts_uri:
    '/v1/marketplaces/TEST-MP6xDq5coY66zGqeAztpK2Sj/accounts/AC6EhJMLs2MRhi96oKrenvtg/bank_accounts',
  meta: {},
  transactions_uri:
    '/v1/marketplaces/TEST-MP6xDq5coY66zGqeAztpK2Sj/accounts/AC6EhJMLs2MRhi96oKrenvtg/transactions',
  email_address: null,
  id: 'AC6EhJMLs2MRhi96oKrenvtg',
  credits_uri:
    '/v1/marketplaces/TEST-MP6xDq5coY66zGqeAztpK2Sj/accounts/AC6EhJMLs2MRhi96oKrenvtg/credits',
  cards_uri:
    '/v1/marketplaces/TEST-MP6xDq5coY66zGqeAztpK2Sj/accounts/AC6EhJMLs2MRhi96oKrenvtg/cards',
  holds_uri:
    '/v1/marketplaces/TEST-MP6xDq5coY66zGqeAztpK2Sj/accounts/AC6EhJMLs2MRhi96oKrenvtg/holds',
  name: 'Benny Riemann',
  roles: ['buyer'],
  created_at: '2013-06-05T02:30:14.451958Z',
  uri: '/v1/marketplaces/TEST-MP6xDq5coY66zGqeAztpK2Sj/accounts/AC6EhJMLs2MRhi96oKrenvtg',
  refunds_uri:
    '/v1/marketplaces/TEST-MP6xDq5coY66zGqeAztpK2Sj/accounts/AC6EhJMLs2MRhi96oKrenvtg/refunds',
  customer_uri: '/v1/customers/AC6EhJMLs2MRhi96oKrenvtg',
  debits_uri:
    '/v1/marketplaces/TEST-MP6xDq5coY66zGqeAztpK2Sj/accounts/AC6EhJMLs2MRhi96oKrenvtg/debits',
} as const

/** The "Update a Card" request body: `is_valid: "False"` and a `+00:00Z` timestamp. */
export const updateRequestBody = {
  security_code_check: 'true',
  customer: null,
  _type: 'card',
  postal_code_check: 'true',
  hash: 'bd1c247d10c71b3134056f83165826241115d8e55fc107d303eeab955338eba2',
  country_code: 'USA',
  expiration_year: 2014,
  brand: 'Visa',
  meta: {
    'my-own-field': 'Customer request',
  },
  account: null,
  expiration_month: 4,
  is_valid: 'False',
  _uris: {},
  postal_code: '10023',
  last_four: '1111',
  card_type: 'visa',
  created_at: '2013-06-24T21:33:36.296377+00:00Z',
  is_verified: true,
  id: 'CC5Fp7HQtnealHtJW56eB51Z',
  street_address: '167 West 74th Street',
  name: 'Benny Riemann',
} as const

/** A page of accounts: not a card. */
export const accountsPage = {
  first_uri: '/v1/marketplaces/TEST-MP6xDq5coY66zGqeAztpK2Sj/accounts?limit=2&offset=0',
  _type: 'page',
  items: [
    {
      _type: 'account',
      _uris: {
        transactions_uri: {
          _type: 'page',
          key: 'transactions',
        },
        bank_accounts_uri: {
          _type: 'page',
          key: 'bank_accounts',
        },
        refunds_uri: {
          _type: 'page',
          key: 'refunds',
        },
        customer_uri: {
          _type: 'customer',
          key: 'customer',
        },
        debits_uri: {
          _type: 'page',
          key: 'debits',
        },
        holds_uri: {
          _type: 'page',
          key: 'holds',
        },
        credits_uri: {
          _type: 'page',
          key: 'credits',
        },
        cards_uri: {
          _type: 'page',
          key: 'cards',
        },
      },
      holds_uri:
        '/v1/marketplaces/TEST-MP6xDq5coY66zGqeAztpK2Sj/accounts/AC6xEUte50oDdcfGLsXBLXHx/holds',
      name: 'William Henry Cavendish III',
      roles: ['merchant', 'buyer'],
      transactions_uri:
        '/v1/marketplaces/TEST-MP6xDq5coY66zGqeAztpK2Sj/accounts/AC6xEUte50oDdcfGLsXBLXHx/transactions',
      created_at: '2013-06-05T02:30:08.562678Z',
      uri: '/v1/marketplaces/TEST-MP6xDq5coY66zGqeAztpK2Sj/accounts/AC6xEUte50oDdcfGLsXBLXHx',
      bank_accounts_uri:
        '/v1/marketplaces/TEST-MP6xDq5coY66zGqeAztpK2Sj/accounts/AC6xEUte50oDdcfGLsXBLXHx/bank_accounts',
      refunds_uri:
        '/v1/marketplaces/TEST-MP6xDq5coY66zGqeAztpK2Sj/accounts/AC6xEUte50oDdcfGLsXBLXHx/refunds',
      customer_uri: '/v1/customers/AC6xEUte50oDdcfGLsXBLXHx',
      meta: {},
      debits_uri:
        '/v1/marketplaces/TEST-MP6xDq5coY66zGqeAztpK2Sj/accounts/AC6xEUte50oDdcfGLsXBLXHx/debits',
      email_address: 'whc@example.org',
      id: 'AC6xEUte50oDdcfGLsXBLXHx',
      credits_uri:
        '/v1/marketplaces/TEST-MP6xDq5coY66zGqeAztpK2Sj/accounts/AC6xEUte50oDdcfGLsXBLXHx/credits',
      cards_uri:
        '/v1/marketplaces/TEST-MP6xDq5coY66zGqeAztpK2Sj/accounts/AC6xEUte50oDdcfGLsXBLXHx/cards',
    },
    {
      _type: 'account',
      _uris: {
        transactions_uri: {
          _type: 'page',
          key: 'transactions',
        },
        bank_accounts_uri: {
          _type: 'page',
          key: 'bank_accounts',
        },
        refunds_uri: {
          _type: 'page',
          key: 'refunds',
        },
        customer_uri: {
          _type: 'customer',
          key: 'customer',
        },
        debits_uri: {
          _type: 'page',
          key: 'debits',
        },
        holds_uri: {
          _type: 'page',
          key: 'holds',
        },
        credits_uri: {
          _type: 'page',
          key: 'credits',
        },
        cards_uri: {
          _type: 'page',
          key: 'cards',
        },
      },
      holds_uri:
        '/v1/marketplaces/TEST-MP6xDq5coY66zGqeAztpK2Sj/accounts/AC6Cqa5V3LtTgsLhwqk6BX4c/holds',
      name: 'Benny Riemann',
      roles: ['buyer'],
      transactions_uri:
        '/v1/marketplaces/TEST-MP6xDq5coY66zGqeAztpK2Sj/accounts/AC6Cqa5V3LtTgsLhwqk6BX4c/transactions',
      created_at: '2013-06-05T02:30:12.795445Z',
      uri: '/v1/marketplaces/TEST-MP6xDq5coY66zGqeAztpK2Sj/accounts/AC6Cqa5V3LtTgsLhwqk6BX4c',
      bank_accounts_uri:
        '/v1/marketplaces/TEST-MP6xDq5coY66zGqeAztpK2Sj/accounts/AC6Cqa5V3LtTgsLhwqk6BX4c/bank_accounts',
      refunds_uri:
        '/v1/marketplaces/TEST-MP6xDq5coY66zGqeAztpK2Sj/accounts/AC6Cqa5V3LtTgsLhwqk6BX4c/refunds',
      customer_uri: '/v1/customers/AC6Cqa5V3LtTgsLhwqk6BX4c',
      meta: {},
      debits_uri:
        '/v1/marketplaces/TEST-MP6xDq5coY66zGqeAztpK2Sj/accounts/AC6Cqa5V3LtTgsLhwqk6BX4c/debits',
      email_address: null,
      id: 'AC6Cqa5V3LtTgsLhwqk6BX4c',
      credits_uri:
        '/v1/marketplaces/TEST-MP6xDq5coY66zGqeAztpK2Sj/accounts/AC6Cqa5V3LtTgsLhwqk6BX4c/credits',
      cards_uri:
        '/v1/marketplaces/TEST-MP6xDq5coY66zGqeAztpK2Sj/accounts/AC6Cqa5V3LtTgsLhwqk6BX4c/cards',
    },
  ],
  previous_uri: null,
  uri: '/v1/marketplaces/TEST-MP6xDq5coY66zGqeAztpK2Sj/accounts?limit=2&offset=0',
  _uris: {
    first_uri: {
      _type: 'page',
      key: 'first',
    },
    next_uri: {
      _type: 'page',
      key: 'next',
    },
    previous_uri: {
      _type: 'page',
      key: 'previous',
    },
    last_uri: {
      _type: 'page',
      key: 'last',
    },
  },
  limit: 2,
  offset: 0,
  total: 8,
  next_uri: '/v1/marketplaces/TEST-MP6xDq5coY66zGqeAztpK2Sj/accounts?limit=2&offset=2',
  last_uri: '/v1/marketplaces/TEST-MP6xDq5coY66zGqeAztpK2Sj/accounts?limit=2&offset=6',
} as const
