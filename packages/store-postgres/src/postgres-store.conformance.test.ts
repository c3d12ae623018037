import { describeCardStore } from '@cardport/testing'
import { postgresStore } from './postgres-store.js'
import { describePostgres } from './postgres-test-databases.js'

// Each test gets a schema of its own with a random name, dropped after it (describePostgres).
describePostgres('conformance', (db) => {
  describeCardStore({
    name: 'postgresStore',
    timeout: 30_000,
    setup: async () => ({
      store: await postgresStore({ client: db.client, schema: db.schema }),
      readRow: async (scope, cardId) => {
        const { rows } = await db.client.query(
          `SELECT * FROM "${db.schema}".cardport_cards
           WHERE provider = $1 AND owner_type = $2 AND owner_id = $3 AND card_id = $4`,
          [scope.provider, scope.owner.type, scope.owner.id, cardId],
        )
        return rows[0]
      },
      // close() leaves the client open: another store on the schema reads what the first left.
      reopen: () => postgresStore({ client: db.client, schema: db.schema }),
      // The schema is dropped after each test; the client belongs to the test file.
      teardown: () => {},
    }),
  })
})
