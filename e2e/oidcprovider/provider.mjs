// A real OpenID provider (panva's oidc-provider) upstream of the mcpauth
// proxy in tests: static clients only (no registration), PKCE required,
// an interaction that signs in ACCOUNT and grants what was asked without
// a person, so the flow runs headless, and RFC 8693 token exchange (an
// extension grant registered with oidc-provider's registerGrantType) that
// trades a user's access token for a JWT access token for another API,
// as the proxy's DownstreamToken asks.
//
// Input (environment): PORT, CLIENT_ID, CLIENT_SECRET, REDIRECT_URI,
// ACCOUNT. It prints "ready <issuer>" once listening.
import http from 'node:http';
import Provider, { errors } from 'oidc-provider';

const port = Number(process.env.PORT);
const issuer = `http://127.0.0.1:${port}`;
const account = process.env.ACCOUNT ?? 'oidc-alice';
const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token';

const provider = new Provider(issuer, {
  clients: [{
    client_id: process.env.CLIENT_ID,
    client_secret: process.env.CLIENT_SECRET,
    redirect_uris: [process.env.REDIRECT_URI],
    grant_types: ['authorization_code', TOKEN_EXCHANGE],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  pkce: { required: () => true },
  features: {
    devInteractions: { enabled: false },
    registration: { enabled: false },
    // APIs other than the userinfo endpoint get JWT access tokens.
    resourceIndicators: {
      enabled: true,
      defaultResource: () => undefined,
      useGrantedResource: () => false,
      getResourceServerInfo: (ctx, resource) => ({ scope: 'api:read api:write', audience: resource, accessTokenFormat: 'jwt' }),
    },
  },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  findAccount: async (ctx, id) => ({ accountId: id, claims: async () => ({ sub: id }) }),
  cookies: { keys: ['mcpauth-test-cookie-key-not-secret'] },
});

async function interaction(req, res) {
  const details = await provider.interactionDetails(req, res);
  if (details.prompt.name === 'login') {
    await provider.interactionFinished(req, res, { login: { accountId: account } }, { mergeWithLastSubmission: false });
    return;
  }
  const grant = new provider.Grant({ accountId: details.session.accountId, clientId: details.params.client_id });
  if (details.prompt.details.missingOIDCScope) grant.addOIDCScope(details.prompt.details.missingOIDCScope.join(' '));
  if (details.prompt.details.missingOIDCClaims) grant.addOIDCClaims(details.prompt.details.missingOIDCClaims);
  const grantId = await grant.save();
  await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
}

// RFC 8693: subject_token an access token this provider issued to the
// requesting client, for the API named by audience.
async function tokenExchange(ctx) {
  const { client, params } = ctx.oidc;
  if (params.subject_token_type !== ACCESS_TOKEN || (params.requested_token_type && params.requested_token_type !== ACCESS_TOKEN)) {
    throw new errors.InvalidRequest('only access tokens are exchanged, for access tokens');
  }
  if (!params.audience) throw new errors.InvalidRequest('audience is required');
  const subject = await provider.AccessToken.find(params.subject_token);
  if (!subject || subject.isExpired) throw new errors.InvalidGrant('subject_token is not an active access token of this provider');
  if (subject.clientId !== client.clientId) throw new errors.InvalidGrant('subject_token was issued to another client');
  const token = new provider.AccessToken({ accountId: subject.accountId, client, grantId: subject.grantId, gty: 'token_exchange', scope: params.scope || undefined });
  token.resourceServer = new provider.ResourceServer(params.audience, { audience: params.audience, scope: 'api:read api:write', accessTokenFormat: 'jwt' });
  ctx.body = { access_token: await token.save(), issued_token_type: ACCESS_TOKEN, token_type: 'Bearer', expires_in: token.expiration, scope: token.scope };
}
provider.registerGrantType(TOKEN_EXCHANGE, tokenExchange,
  ['subject_token', 'subject_token_type', 'requested_token_type', 'audience', 'resource', 'scope'], ['audience', 'resource']);

const callback = provider.callback();
http.createServer((req, res) => {
  if (req.url.startsWith('/interaction/')) {
    interaction(req, res).catch((e) => { res.statusCode = 500; res.end(String(e)); });
    return;
  }
  callback(req, res);
}).listen(port, '127.0.0.1', () => console.log(`ready ${issuer}`));
