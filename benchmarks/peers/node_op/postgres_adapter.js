// The Node peer's PostgreSQL store (server.js uses it when NODE_OP_DATABASE_URL is set): what the
// bridge pays for keeping its codes, grants and sessions in a database, paid by the peer too.
//
// One table, one row per model instance, with the columns the adapter looks up by. The semantics are
// those of server.js's MemoryAdapter: expired rows are not found (and are swept now and then), consume
// marks the row consumed in one UPDATE, revokeByGrantId deletes the model's rows of that grant through
// the grant_id index. Statements are named, so pg prepares each once per connection (as psycopg does
// for the bridge's repeated statements).

import pg from 'pg';

// Sized like the bridge's pool (bridge/storage/database.py: one connection per worker thread,
// bridge/blocking.py WORKER_THREADS = 40, plus SPARE_CONNECTIONS = 4), opened as needed and kept
// while idle like SQLAlchemy's QueuePool keeps them.
const POOL_SIZE = 40 + 4;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS oidc_models (
  id text NOT NULL,
  type text NOT NULL,
  payload jsonb NOT NULL,
  grant_id text,
  uid text,
  user_code text,
  expires_at timestamptz,
  consumed_at timestamptz,
  PRIMARY KEY (id, type)
);
CREATE INDEX IF NOT EXISTS oidc_models_grant_id ON oidc_models (grant_id) WHERE grant_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS oidc_models_uid ON oidc_models (uid) WHERE uid IS NOT NULL;
CREATE INDEX IF NOT EXISTS oidc_models_user_code ON oidc_models (user_code) WHERE user_code IS NOT NULL;
CREATE INDEX IF NOT EXISTS oidc_models_expires_at ON oidc_models (expires_at) WHERE expires_at IS NOT NULL;
`;

const ALIVE = '(expires_at IS NULL OR expires_at > now())';

export async function postgresAdapter(connectionString) {
  const pool = new pg.Pool({ connectionString, max: POOL_SIZE, idleTimeoutMillis: 0 });
  await pool.query(SCHEMA);

  // Expired artifacts leave the table now and then, as the in-memory store's sweep drops them.
  setInterval(() => {
    pool.query('DELETE FROM oidc_models WHERE expires_at <= now()').catch((error) => console.error(error));
  }, 10_000).unref();

  return class PostgresAdapter {
    constructor(model) {
      this.model = model;
    }

    async upsert(id, payload, expiresIn) {
      const expiresAt = typeof expiresIn === 'number' ? new Date(Date.now() + expiresIn * 1000) : null;
      const consumedAt = typeof payload.consumed === 'number' ? new Date(payload.consumed * 1000) : null;
      await pool.query({
        name: 'oidc_upsert',
        text: `INSERT INTO oidc_models (id, type, payload, grant_id, uid, user_code, expires_at, consumed_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
               ON CONFLICT (id, type) DO UPDATE SET payload = EXCLUDED.payload, grant_id = EXCLUDED.grant_id,
                 uid = EXCLUDED.uid, user_code = EXCLUDED.user_code, expires_at = EXCLUDED.expires_at,
                 consumed_at = EXCLUDED.consumed_at`,
        values: [id, this.model, payload, payload.grantId ?? null, payload.uid ?? null,
          payload.userCode ?? null, expiresAt, consumedAt],
      });
    }

    async find(id) {
      const { rows } = await pool.query({
        name: 'oidc_find',
        text: `SELECT payload FROM oidc_models WHERE id = $1 AND type = $2 AND ${ALIVE}`,
        values: [id, this.model],
      });
      return rows[0]?.payload;
    }

    async findByUid(uid) {
      const { rows } = await pool.query({
        name: 'oidc_find_by_uid',
        text: `SELECT payload FROM oidc_models WHERE uid = $1 AND type = $2 AND ${ALIVE}`,
        values: [uid, this.model],
      });
      return rows[0]?.payload;
    }

    async findByUserCode(userCode) {
      const { rows } = await pool.query({
        name: 'oidc_find_by_user_code',
        text: `SELECT payload FROM oidc_models WHERE user_code = $1 AND type = $2 AND ${ALIVE}`,
        values: [userCode, this.model],
      });
      return rows[0]?.payload;
    }

    // One statement: the row and its payload's `consumed` (what oidc-provider reads) change together.
    async consume(id) {
      await pool.query({
        name: 'oidc_consume',
        text: `UPDATE oidc_models SET consumed_at = now(),
                 payload = payload || jsonb_build_object('consumed', floor(extract(epoch FROM now()))::bigint)
               WHERE id = $1 AND type = $2`,
        values: [id, this.model],
      });
    }

    async destroy(id) {
      await pool.query({
        name: 'oidc_destroy',
        text: 'DELETE FROM oidc_models WHERE id = $1 AND type = $2',
        values: [id, this.model],
      });
    }

    async revokeByGrantId(grantId) {
      await pool.query({
        name: 'oidc_revoke_by_grant_id',
        text: 'DELETE FROM oidc_models WHERE grant_id = $1 AND type = $2',
        values: [grantId, this.model],
      });
    }
  };
}
