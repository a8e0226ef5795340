// The peer of Vestibule's token-endpoint benchmark: node-oidc-provider (panva/node-oidc-provider,
// the OpenID-certified provider for Node.js), configured as the benchmark's Events apps are on
// Vestibule: confidential clients, client_secret_basic, PKCE S256 required, the openid, profile
// and email scopes, ID tokens signed RS256 (RSA-2048 key), RS512 (RSA-4096) or HS512 (the
// client secret, as OpenID Connect Core specifies), one client for each.
//
//   node bench/peer/provider.mjs <redirect_uri> <client_id>:<client_secret>:<alg> ...
//
// Listens on a free port of 127.0.0.1 and prints its issuer on the first line of stdout. Members
// sign in on its development login page (any login, any password), as the benchmark only needs
// codes to redeem. Grants, codes and tokens live in the provider's own in-memory adapter: the
// peer keeps no database, which favours it against Vestibule's SQLite.
import { generateKeyPairSync } from 'node:crypto';
import { createServer } from 'node:http';
import Provider from 'oidc-provider';
import MemoryAdapter from 'oidc-provider/lib/adapters/memory_adapter.js';
import LRU from 'oidc-provider/lib/helpers/lru.js';

// The provider's own in-memory adapter keeps its last 1,000 entries; a benchmark round holds
// more codes than that at once, and evicting them would refuse them. Same adapter, more room.
const storage = new LRU({ maxSize: 1_000_000 });

const [redirectUri, ...clientSpecs] = process.argv.slice(2);
if (clientSpecs.length === 0) {
  console.error('usage: node provider.mjs <redirect_uri> <client_id>:<client_secret>:<alg> ...');
  process.exit(2);
}

function signingKey(alg, modulusLength) {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength });
  return { ...privateKey.export({ format: 'jwk' }), kid: alg, alg, use: 'sig' };
}

const configuration = {
  clients: clientSpecs.map((spec) => {
    const [clientId, clientSecret, alg] = spec.split(':');
    return {
      client_id: clientId,
      client_secret: clientSecret,
      redirect_uris: [redirectUri],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: alg,
    };
  }),
  adapter: (model) => new MemoryAdapter(model, storage),
  jwks: { keys: [signingKey('RS256', 2048), signingKey('RS512', 4096)] },
  // Off by default in this provider; Vestibule offers all three.
  enabledJWA: { idTokenSigningAlgValues: ['RS256', 'RS512', 'HS512'] },
  claims: {
    openid: ['sub'],
    profile: ['name', 'given_name', 'family_name'],
    email: ['email'],
  },
  async findAccount(ctx, accountId) {
    return {
      accountId,
      async claims() {
        return {
          sub: accountId,
          name: 'Jane Member',
          given_name: 'Jane',
          family_name: 'Member',
          email: 'jane@members.acme.test',
        };
      },
    };
  },
  // Profile claims in the ID token, as Vestibule's carry them, so both sign as many bytes.
  conformIdTokenClaims: false,
  pkce: { required: () => true },
  features: { devInteractions: { enabled: true } },
  cookies: { keys: ['vestibule-bench-peer-cookie-key'] },
};

// The issuer names the port, so the server listens on a free one before the provider exists.
const server = createServer();
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;
server.on('request', new Provider(issuer, configuration).callback());
console.log(issuer);
