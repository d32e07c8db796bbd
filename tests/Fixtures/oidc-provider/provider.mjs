// The identity provider the end-to-end tests sign in with: panva's oidc-provider (certified
// OpenID Connect) on a loopback port of its own choosing, with its development login and consent
// pages (any password; the login name is the account). One JSON argument describes it:
//   {"clients":[{"client_id","client_secret","redirect_uris":[...]}], "users":{"alice":["lab"]}}
// It prints "issuer http://127.0.0.1:PORT" once it listens. POST /test/users {"alice":[...]} replaces
// the users and their groups (a user left out no longer exists), as an admin would at a real provider.
import http from 'node:http';
import Provider from 'oidc-provider';

const config = JSON.parse(process.argv[2]);
let users = config.users;

const server = http.createServer();
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  clients: config.clients.map((client) => ({
    ...client,
    grant_types: ['authorization_code', 'refresh_token', 'urn:ietf:params:oauth:grant-type:device_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  })),
  scopes: ['openid', 'offline_access', 'profile', 'groups'],
  claims: { openid: ['sub'], profile: ['preferred_username', 'name'], groups: ['groups'] },
  // The ID token carries the scopes' claims, as Keycloak's and GitLab's do, not only the userinfo answer.
  conformIdTokenClaims: false,
  features: { devInteractions: { enabled: true }, deviceFlow: { enabled: true }, revocation: { enabled: true } },
  pkce: { required: () => true },
  cookies: { keys: ['jumpgate-tests-only'] },
  // A refresh token for every client allowed the grant: the gateway asks the provider again with it.
  issueRefreshToken: async (ctx, client) => client.grantTypeAllowed('refresh_token'),
  findAccount: async (ctx, id) => (users[id] === undefined ? undefined : {
    accountId: id,
    claims: async () => ({ sub: id, preferred_username: id, name: id, groups: users[id] }),
  }),
  ttl: { IdToken: 300, AccessToken: 300, RefreshToken: 3600, DeviceCode: 300, Interaction: 600, Session: 3600, Grant: 3600 },
});
provider.on('server_error', (ctx, error) => console.error('server_error', error));

const callback = provider.callback();
server.on('request', (req, res) => {
  if (req.method === 'POST' && req.url === '/test/users') {
    let body = '';
    req.on('data', (chunk) => { body += chunk; });
    req.on('end', () => {
      users = JSON.parse(body);
      res.writeHead(204).end();
    });
    return;
  }
  callback(req, res);
});
console.log(`issuer ${issuer}`);
