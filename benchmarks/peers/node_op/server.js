// The peer benchmarks/signin_load.py measures the bridge's signed-in code flow against: a certified
// Node OpenID Provider (oidc-provider 9) set up like the bridge's relying app sees the bridge.
//
//     node server.js PORT
//     NODE_OP_DATABASE_URL=postgresql://… node server.js PORT
//
// One confidential client (client_secret_basic, PKCE S256 required, the benchmark app's redirect URI,
// scopes openid profile email), ES256 ID tokens (the bridge's default signing_alg), endpoints at the
// bridge's paths (/oidc/authorize, /oidc/token, /oidc/userinfo) so the same scripted browser drives
// both, accounts with fixed claims, and an in-memory store — or, with NODE_OP_DATABASE_URL set, a
// PostgreSQL one (postgres_adapter.js: one table, created on start), the like-for-like peer of the
// bridge, which keeps all of these in its database. A browser signs in once through
// oidc-provider's own development interaction pages (any login, then consent); after that
// authorize → code → token → userinfo runs without pages, like the bridge with its cookie.
// Loopback only: the client secret below is the benchmark's, not a secret.

import { generateKeyPairSync, randomBytes } from 'node:crypto';

import Provider from 'oidc-provider';

import { postgresAdapter } from './postgres_adapter.js';

const CLIENT_ID = 'bench-node-app';
const CLIENT_SECRET = 'bench-node-secret-loopback-only';
const REDIRECT_URI = 'https://app.bench/callback';

// An in-memory store with what a real adapter keeps: expiry, consumption, and the grant index that
// revocation walks. Not oidc-provider's bundled development adapter: that one is a 1000-entry LRU
// whose per-grant token list is rescanned on every write, which would measure the store, not the OP.
const store = new Map();
const byUid = new Map();
const byGrant = new Map();

function alive(entry) {
  return entry !== undefined && (entry.expiresAt === undefined || entry.expiresAt > Date.now());
}

class MemoryAdapter {
  constructor(model) {
    this.model = model;
  }

  key(id) {
    return `${this.model}:${id}`;
  }

  async upsert(id, payload, expiresIn) {
    const key = this.key(id);
    const expiresAt = typeof expiresIn === 'number' ? Date.now() + expiresIn * 1000 : undefined;
    store.set(key, { payload, expiresAt });
    if (this.model === 'Session' && payload.uid) {
      byUid.set(payload.uid, id);
    }
    if (payload.grantId) {
      if (!byGrant.has(payload.grantId)) {
        byGrant.set(payload.grantId, new Set());
      }
      byGrant.get(payload.grantId).add(key);
    }
  }

  async find(id) {
    const entry = store.get(this.key(id));
    return alive(entry) ? entry.payload : undefined;
  }

  async findByUid(uid) {
    const id = byUid.get(uid);
    return id === undefined ? undefined : this.find(id);
  }

  async findByUserCode() {
    return undefined;
  }

  async consume(id) {
    const entry = store.get(this.key(id));
    if (entry) {
      entry.payload.consumed = Math.floor(Date.now() / 1000);
    }
  }

  async destroy(id) {
    const key = this.key(id);
    const entry = store.get(key);
    store.delete(key);
    if (entry?.payload.grantId) {
      byGrant.get(entry.payload.grantId)?.delete(key);
    }
    if (this.model === 'Session' && entry?.payload.uid) {
      byUid.delete(entry.payload.uid);
    }
  }

  async revokeByGrantId(grantId) {
    for (const key of byGrant.get(grantId) ?? []) {
      store.delete(key);
    }
    byGrant.delete(grantId);
  }
}

// Expired artifacts leave the store now and then, as a real store's TTL would drop them.
setInterval(() => {
  for (const [key, entry] of store) {
    if (!alive(entry)) {
      store.delete(key);
    }
  }
}, 10_000).unref();

const signingKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' });

const databaseUrl = process.env.NODE_OP_DATABASE_URL;

const configuration = {
  adapter: databaseUrl ? await postgresAdapter(databaseUrl) : MemoryAdapter,
  clients: [{
    client_id: CLIENT_ID,
    client_secret: CLIENT_SECRET,
    redirect_uris: [REDIRECT_URI],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
    id_token_signed_response_alg: 'ES256',
  }],
  pkce: { required: () => true },
  jwks: { keys: [{ ...signingKey, alg: 'ES256', use: 'sig', kid: 'bench-es256' }] },
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  claims: {
    openid: ['sub'],
    profile: ['name', 'family_name', 'given_name'],
    email: ['email', 'email_verified'],
  },
  async findAccount(ctx, sub) {
    return {
      accountId: sub,
      async claims() {
        return {
          sub,
          name: 'Тест Нагрузкин',
          family_name: 'Нагрузкин',
          given_name: 'Тест',
          email: `${sub}@school.bench`,
          email_verified: true,
        };
      },
    };
  },
  routes: {
    authorization: '/oidc/authorize',
    token: '/oidc/token',
    userinfo: '/oidc/userinfo',
    jwks: '/oidc/jwks',
  },
  ttl: {
    AccessToken: 3600,
    AuthorizationCode: 60,
    IdToken: 3600,
    Interaction: 3600,
    Session: 86400,
    Grant: 86400,
  },
};

const port = Number.parseInt(process.argv[2] ?? '', 10);
if (!Number.isInteger(port) || port <= 0 || port > 65535) {
  console.error('usage: node server.js PORT');
  process.exit(2);
}

const provider = new Provider(`http://127.0.0.1:${port}`, configuration);
provider.listen(port, '127.0.0.1', () => {
  console.log(`oidc-provider listening on http://127.0.0.1:${port}, store: ${databaseUrl ? 'PostgreSQL' : 'memory'}`);
});
