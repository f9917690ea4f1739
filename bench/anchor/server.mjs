// node's oidc-provider configured like our provider, as the anchor of bench/compare.py.
//
// Usage: node server.mjs <port> <client_id> <client_secret> <redirect_uri>
//
// What is equivalent to our provider's defaults:
// - ID tokens signed with RS256 (2048-bit key), JWT access tokens signed with ES256 (P-256).
// - One confidential client, client_secret_basic, grants authorization_code, refresh_token and
//   client_credentials; PKCE S256 required; refresh tokens rotated at every use.
// - Consent remembered: loadExistingGrant grants the requested scopes on the first visit
//   (oidc-provider's "skip consent" recipe), as our provider does once a citizen has consented.
// - Same lifetimes: access and ID tokens 10 minutes, refresh tokens 30 days.
//
// What is not (and why):
// - Storage is in process memory (MapAdapter below): no database, every lookup and write is a
//   Map access, where ours writes codes, grants, refresh tokens and sessions to SQL.
// - The login is oidc-provider's stock devInteractions form, which takes any login and checks
//   no password. Our password flow hashes with argon2id, so it is compared with the argon2id
//   floor, not with this one.
// - Access tokens of the code and refresh grants are opaque (stored in memory): oidc-provider
//   only accepts audience-less opaque tokens at userinfo. Client-credentials tokens are ES256
//   JWTs for a resource server, as ours are. Ours signs an ES256 access token in every grant.
// - One Node process: the memory adapter cannot be shared between cluster workers.
import { generateKeyPairSync } from 'node:crypto';

import Provider from 'oidc-provider';

const [port, clientId, clientSecret, redirectUri] = process.argv.slice(2);
if (!redirectUri) {
  console.error('usage: node server.mjs <port> <client_id> <client_secret> <redirect_uri>');
  process.exit(2);
}

const issuer = `http://127.0.0.1:${port}`;
const RESOURCE = 'https://api.bench.example';
const ACCOUNT_CLAIMS = {
  given_name: 'Bench',
  family_name: 'Mark',
  name: 'Bench Mark',
  email: 'bench@example.uy',
  email_verified: true,
};

const GRANTABLE = new Set(['AccessToken', 'AuthorizationCode', 'RefreshToken']);
const entries = new Map(); // `${model}:${id}` -> { payload, expiresAt }
const grants = new Map(); // grantId -> Set of entry keys
const sessionsByUid = new Map(); // session uid -> session id

/**
 * The adapter interface kept in process memory, indexed like oidc-provider's Redis example:
 * a Set of keys per grant, so that adding or revoking one token costs the same whatever the
 * grant's size. (The stock memory adapter is an LRU of 1,000 entries, which a load run
 * overflows, and it recomputes a grant's expiry over all its tokens at every write.)
 */
class MapAdapter {
  constructor(model) {
    this.model = model;
  }

  key(id) {
    return `${this.model}:${id}`;
  }

  async upsert(id, payload, expiresIn) {
    const key = this.key(id);
    const expiresAt = typeof expiresIn === 'number' ? Date.now() + expiresIn * 1000 : Infinity;
    entries.set(key, { payload, expiresAt });
    if (this.model === 'Session') {
      sessionsByUid.set(payload.uid, id);
    }
    if (GRANTABLE.has(this.model) && payload.grantId) {
      if (!grants.has(payload.grantId)) {
        grants.set(payload.grantId, new Set());
      }
      grants.get(payload.grantId).add(key);
    }
  }

  async find(id) {
    const entry = entries.get(this.key(id));
    if (!entry) {
      return undefined;
    }
    if (entry.expiresAt <= Date.now()) {
      entries.delete(this.key(id));
      return undefined;
    }
    return entry.payload;
  }

  async findByUid(uid) {
    return this.find(sessionsByUid.get(uid));
  }

  async findByUserCode() {
    return undefined;
  }

  async consume(id) {
    const payload = await this.find(id);
    if (payload) {
      payload.consumed = Math.floor(Date.now() / 1000);
    }
  }

  async destroy(id) {
    const key = this.key(id);
    const payload = entries.get(key)?.payload;
    entries.delete(key);
    if (payload?.grantId) {
      grants.get(payload.grantId)?.delete(key);
    }
    if (payload?.uid && sessionsByUid.get(payload.uid) === id) {
      sessionsByUid.delete(payload.uid);
    }
  }

  async revokeByGrantId(grantId) {
    for (const key of grants.get(grantId) ?? []) {
      entries.delete(key);
    }
    grants.delete(grantId);
  }
}

/** A private JWK with its algorithm, generated at start like a fresh key ring. */
function signingKey(kid, alg, type, options) {
  const { privateKey } = generateKeyPairSync(type, options);
  return { ...privateKey.export({ format: 'jwk' }), kid, alg, use: 'sig' };
}

/** The "skip consent" recipe: grant what the client asks for, once per session and client. */
async function loadExistingGrant(ctx) {
  const { client, session } = ctx.oidc;
  const grantId = ctx.oidc.result?.consent?.grantId || session.grantIdFor(client.clientId);
  if (grantId) {
    return ctx.oidc.provider.Grant.find(grantId);
  }
  const grant = new ctx.oidc.provider.Grant({
    clientId: client.clientId,
    accountId: session.accountId,
  });
  grant.addOIDCScope('openid profile email offline_access');
  await grant.save();
  return grant;
}

const configuration = {
  adapter: MapAdapter,
  clients: [
    {
      client_id: clientId,
      client_secret: clientSecret,
      token_endpoint_auth_method: 'client_secret_basic',
      grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
      response_types: ['code'],
      redirect_uris: [redirectUri],
      scope: 'openid profile email offline_access',
    },
  ],
  jwks: {
    keys: [
      signingKey('rs256', 'RS256', 'rsa', { modulusLength: 2048 }),
      signingKey('es256', 'ES256', 'ec', { namedCurve: 'P-256' }),
    ],
  },
  cookies: { keys: ['benchmark cookie key, not secret'] },
  claims: {
    openid: ['sub'],
    profile: ['given_name', 'family_name', 'name'],
    email: ['email', 'email_verified'],
  },
  routes: { authorization: '/authorize', userinfo: '/userinfo' },
  pkce: { required: () => true },
  features: {
    devInteractions: { enabled: true },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      // Only client-credentials tokens get a resource (and so a JWT); code-flow tokens stay
      // opaque so that userinfo accepts them.
      defaultResource: (ctx) => (ctx.oidc.params?.grant_type === 'client_credentials' ? RESOURCE : undefined),
      getResourceServerInfo: () => ({
        scope: 'profile',
        audience: RESOURCE,
        accessTokenTTL: 600,
        accessTokenFormat: 'jwt',
        jwt: { sign: { alg: 'ES256' } },
      }),
    },
  },
  loadExistingGrant,
  // Ours issues a refresh token to a client allowed the grant whenever offline_access is asked
  // for; oidc-provider drops offline_access from prompt=none requests, hence this override.
  issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
  rotateRefreshToken: true,
  findAccount: async (_ctx, sub) => ({
    accountId: sub,
    claims: async () => ({ sub, ...ACCOUNT_CLAIMS }),
  }),
  ttl: {
    AccessToken: 600,
    ClientCredentials: 600,
    IdToken: 600,
    AuthorizationCode: 60,
    RefreshToken: 30 * 24 * 60 * 60,
    Grant: 30 * 24 * 60 * 60,
    Session: 24 * 60 * 60,
    Interaction: 600,
  },
};

const provider = new Provider(issuer, configuration);
provider.listen(Number(port), '127.0.0.1', () => {
  console.log(`anchor listening on ${issuer}`);
});
