// Drives the TypeScript MCP SDK clients headlessly against the mcpauth
// quickstart (run with -auto-approve): the v1 client (@modelcontextprotocol/sdk)
// and the v2 client (@modelcontextprotocol/client), with a static client, with
// Dynamic Client Registration and with a Client ID Metadata Document; each
// calls whoami, then add_note, which needs a step-up from notes:read to
// notes:write. The authorization "browser" is a fetch that follows the
// authorization URL to the redirect, so the development server's auto-approval
// stands in for the user.
//
// Input (environment): MCP_URL, CIMD_URL (an https client id whose document
// names REDIRECT_URL), CLIENT_ID and CLIENT_SECRET (the static client),
// REDIRECT_URL, and optionally SCENARIOS (comma-separated names to run).
// Output: one JSON object per scenario on stdout with what happened; the
// exit status is 1 if any scenario failed. The Go test
// (examples/quickstart, build tag tsclients) starts the quickstart, runs
// this, and checks the output again.

import * as v1Client from '@modelcontextprotocol/sdk/client/index.js';
import * as v1HTTP from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import * as v1Auth from '@modelcontextprotocol/sdk/client/auth.js';
import * as v2 from '@modelcontextprotocol/client';

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`environment variable ${name} is required`);
  return v;
};
const MCP_URL = env('MCP_URL');
const CIMD_URL = env('CIMD_URL');
const CLIENT_ID = env('CLIENT_ID');
const CLIENT_SECRET = env('CLIENT_SECRET');
const REDIRECT_URL = env('REDIRECT_URL');

const sdks = {
  v1: {
    Client: v1Client.Client,
    Transport: v1HTTP.StreamableHTTPClientTransport,
    isUnauthorized: (e) => e instanceof v1Auth.UnauthorizedError,
    callback: (url) => url.searchParams.get('code'),
  },
  v2: {
    Client: v2.Client,
    Transport: v2.StreamableHTTPClientTransport,
    isUnauthorized: (e) => e instanceof v2.UnauthorizedError,
    callback: (url) => url.searchParams, // v2 checks the RFC 9207 iss too
  },
};

// Provider is an in-memory OAuthClientProvider that records every
// authorization request and token response.
class Provider {
  constructor(model, seed) {
    this.model = model;
    this.authorizations = []; // scope of each authorization request
    this.offline = []; // whether each asked for offline_access
    this.tokenResponses = []; // {scope, refresh} of each token response
    this.callbackURL = undefined;
    this._tokens = seed;
    this._verifier = undefined;
    if (model === 'static') {
      this._client = { client_id: CLIENT_ID, client_secret: CLIENT_SECRET };
    }
    if (model === 'cimd') {
      this.clientMetadataUrl = CIMD_URL;
    }
  }
  get redirectUrl() { return REDIRECT_URL; }
  get clientMetadata() {
    return {
      client_name: `mcpauth harness (${this.model})`,
      redirect_uris: [REDIRECT_URL],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    };
  }
  clientInformation() { return this._client; }
  saveClientInformation(info) { this._client = info; }
  tokens() { return this._tokens; }
  saveTokens(t) {
    this._tokens = t;
    this.tokenResponses.push({ scope: t.scope ?? '', refresh: Boolean(t.refresh_token) });
  }
  saveCodeVerifier(v) { this._verifier = v; }
  codeVerifier() { return this._verifier; }
  saveDiscoveryState(s) { this._discovery = s; }
  discoveryState() { return this._discovery; }
  // The user agent: follow the authorization URL through the redirects an
  // auto-approving server answers with (an authorization proxy sends the
  // browser upstream and back) to the client's redirect URI, and keep that
  // for finishAuth.
  async redirectToAuthorization(url) {
    this.authorizations.push(url.searchParams.get('scope') ?? '');
    this.offline.push(scopeSet(url.searchParams.get('scope')).has('offline_access'));
    let next = String(url);
    let location;
    // A browser's cookies (loopback hosts only, so by name): the proxy binds
    // a sign-in to the browser that started it.
    const jar = new Map();
    for (let hop = 0; ; hop++) {
      if (hop === 10) throw new Error('more than 10 redirects from the authorization endpoint');
      const cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
      const res = await fetch(next, { redirect: 'manual', headers: cookie ? { cookie } : {} });
      for (const c of res.headers.getSetCookie()) {
        const [pair, ...attrs] = c.split(';');
        const i = pair.indexOf('=');
        const expired = attrs.some((a) => /^\s*max-age=(0|-)/i.test(a));
        if (expired) jar.delete(pair.slice(0, i).trim());
        else jar.set(pair.slice(0, i).trim(), pair.slice(i + 1).trim());
      }
      location = res.headers.get('location');
      await res.body?.cancel();
      if (res.status < 300 || res.status > 399 || !location) {
        throw new Error(`${next} answered ${res.status}, not a redirect`);
      }
      location = new URL(location, next).href;
      if (location.startsWith(REDIRECT_URL)) break;
      next = location;
    }
    const cb = new URL(location);
    if (cb.searchParams.get('error')) {
      throw new Error(`authorization failed: ${cb.searchParams.get('error')}: ${cb.searchParams.get('error_description')}`);
    }
    this.callbackURL = cb;
  }
}

// recordingFetch notes the MCP server's answers: status, the challenge, and
// the revision the client declared.
function recordingFetch(log) {
  return async (url, init) => {
    const res = await fetch(url, init);
    if (String(url) === MCP_URL) {
      const headers = new Headers(init?.headers);
      log.push({
        status: res.status,
        protocolVersion: headers.get('mcp-protocol-version') ?? '',
        challenge: res.headers.get('www-authenticate') ?? '',
      });
    }
    return res;
  };
}

// session connects a client, completing an authorization whenever the SDK
// asks for one (UnauthorizedError after redirectToAuthorization), and
// calls tools the same way.
async function session(sdkName, provider, clientOptions, log) {
  const sdk = sdks[sdkName];
  const fetchFn = recordingFetch(log);
  const newTransport = () => new sdk.Transport(new URL(MCP_URL), { authProvider: provider, fetch: fetchFn });
  let transport = newTransport();
  let client = new sdk.Client({ name: `mcpauth-harness-${sdkName}`, version: '1.0.0' }, clientOptions);
  try {
    await client.connect(transport);
  } catch (e) {
    if (!sdk.isUnauthorized(e)) throw e;
    await transport.finishAuth(sdk.callback(provider.callbackURL));
    await client.close().catch(() => {});
    transport = newTransport();
    client = new sdk.Client({ name: `mcpauth-harness-${sdkName}`, version: '1.0.0' }, clientOptions);
    await client.connect(transport);
  }
  const call = async (name, args = {}) => {
    let res;
    try {
      res = await client.callTool({ name, arguments: args });
    } catch (e) {
      if (!sdk.isUnauthorized(e)) throw e;
      await transport.finishAuth(sdk.callback(provider.callbackURL));
      res = await client.callTool({ name, arguments: args });
    }
    const text = (res.content ?? []).map((c) => c.text ?? '').join('');
    if (res.isError) throw new Error(`${name} returned an error: ${text}`);
    return text;
  };
  return { client, call };
}

// seedToken gets a token for the static client straight from the token
// endpoint (client_credentials), as if left over from an earlier session.
async function seedToken(scope) {
  const prm = await (await fetch(new URL('/.well-known/oauth-protected-resource/mcp', MCP_URL))).json();
  const as = await (await fetch(new URL('/.well-known/oauth-authorization-server', prm.authorization_servers[0]))).json();
  const res = await fetch(as.token_endpoint, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: 'Basic ' + Buffer.from(`${CLIENT_ID}:${CLIENT_SECRET}`).toString('base64'),
    },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope, resource: prm.resource }),
  });
  if (!res.ok) throw new Error(`seeding a ${scope} token: ${res.status} ${await res.text()}`);
  return res.json();
}

// Scopes compare as sets, without offline_access: the v2 client asks for
// it when the authorization server advertises it, the v1 client does not.
const scopeSet = (s) => new Set((s ?? '').split(' ').filter(Boolean));
const sameScopes = (a, b) => {
  a = (a ?? '').replace(/\boffline_access\b/, '');
  const x = scopeSet(a), y = scopeSet(b);
  return x.size === y.size && [...x].every((s) => y.has(s));
};
const challengeScope = (h) => /scope="([^"]*)"/.exec(h)?.[1];

function check(cond, msg) {
  if (!cond) throw new Error(msg);
}

// stepUp: whoami on notes:read, then add_note, which needs notes:write.
async function stepUp(sdkName, model, clientOptions, wantRevision) {
  const provider = new Provider(model);
  const log = [];
  const { client, call } = await session(sdkName, provider, clientOptions, log);
  try {
    const who = await call('whoami');
    check(who.includes('scopes=notes:read'), `whoami = ${who}`);
    const added = await call('add_note', { text: `from ${sdkName} ${model}` });
    check(added === `added: from ${sdkName} ${model}`, `add_note = ${added}`);
    const after = await call('whoami');
    check(after.includes('notes:read') && after.includes('notes:write'), `whoami after step-up = ${after}`);
  } finally {
    await client.close().catch(() => {});
  }
  const forbidden = log.filter((r) => r.status === 403);
  check(provider.authorizations.length === 2, `${provider.authorizations.length} authorizations, want 2: ${JSON.stringify(provider.authorizations)}`);
  check(sameScopes(provider.authorizations[0], 'notes:read'), `first authorization asked for "${provider.authorizations[0]}"`);
  check(sameScopes(provider.authorizations[1], 'notes:read notes:write'), `the step-up asked for "${provider.authorizations[1]}", want notes:read and notes:write`);
  check(forbidden.length === 1 && forbidden[0].protocolVersion === wantRevision, `403s: ${JSON.stringify(forbidden)}`);
  check(sameScopes(challengeScope(forbidden[0].challenge), 'notes:read notes:write'), `challenge ${forbidden[0].challenge}`);
  // A refresh token only where offline_access was asked for: given one
  // otherwise, the v1 client refreshes on the 403 instead of stepping up.
  check(provider.tokenResponses.length === 2 && provider.tokenResponses.every((t, i) => !t.refresh || provider.offline[i]),
    `refresh tokens ${JSON.stringify(provider.tokenResponses)} for authorizations asking offline_access: ${provider.offline}`);
  return { authorizations: provider.authorizations, challenge: forbidden[0].challenge, revision: forbidden[0].protocolVersion, tokens: provider.tokenResponses };
}

// narrowSeed: the static client arrives with a token holding notes:write
// but not the baseline notes:read. A 2026-07-28 client must be told only
// what the request needs (notes:read) and keep notes:write itself; an
// earlier client is told both, since it replaces its scopes with the
// challenge's.
async function narrowSeed(sdkName, clientOptions, wantRevision, wantChallenge) {
  const seeded = await seedToken('notes:write');
  const provider = new Provider('static', { access_token: seeded.access_token, token_type: 'Bearer', scope: seeded.scope });
  const log = [];
  const { client, call } = await session(sdkName, provider, clientOptions, log);
  try {
    const who = await call('whoami');
    check(who.includes('notes:read') && who.includes('notes:write'), `whoami = ${who}`);
  } finally {
    await client.close().catch(() => {});
  }
  const forbidden = log.filter((r) => r.status === 403);
  check(forbidden.length === 1 && forbidden[0].protocolVersion === wantRevision, `403s: ${JSON.stringify(forbidden)}`);
  check(challengeScope(forbidden[0].challenge) === wantChallenge, `challenge ${forbidden[0].challenge}, want scope="${wantChallenge}"`);
  check(provider.authorizations.length === 1 && sameScopes(provider.authorizations[0], 'notes:read notes:write'),
    `authorizations ${JSON.stringify(provider.authorizations)}, want one for notes:read and notes:write`);
  return { authorizations: provider.authorizations, challenge: forbidden[0].challenge, revision: forbidden[0].protocolVersion };
}

// MODERN=0 skips the 2026-07-28 scenarios, for servers built on an SDK
// that does not speak that revision yet (the go-sdk v1.8).
const modernSupported = process.env.MODERN !== '0';
const modern = { versionNegotiation: { mode: { pin: '2026-07-28' } } };
const scenarios = {};
for (const sdkName of ['v1', 'v2']) {
  for (const model of ['static', 'dcr', 'cimd']) {
    scenarios[`${sdkName}/${model}/step-up`] = () => stepUp(sdkName, model, undefined, '2025-11-25');
  }
}
// SEEDED=0 skips the scenarios that seed a narrow token with the
// client_credentials grant, for authorization servers without it (the proxy).
const seeded = process.env.SEEDED !== '0';
// The v1 client's first request is initialize, which carries no
// MCP-Protocol-Version yet: an earlier revision.
if (seeded) {
  scenarios['v1/static/missing-baseline'] = () => narrowSeed('v1', undefined, '', 'notes:read notes:write');
}
if (modernSupported) {
  scenarios['v2-2026-07-28/dcr/step-up'] = () => stepUp('v2', 'dcr', modern, '2026-07-28');
  scenarios['v2-2026-07-28/cimd/step-up'] = () => stepUp('v2', 'cimd', modern, '2026-07-28');
  if (seeded) {
    scenarios['v2-2026-07-28/static/missing-baseline'] = () => narrowSeed('v2', modern, '2026-07-28', 'notes:read');
  }
}

// Against a server that issues refresh tokens without offline_access
// (REFRESH_ALWAYS=1 runs only this): the v1 client answers the 403 with a
// refresh, which cannot widen scope, and gives up. This is the failure the
// development server's offline_access rule prevents, and that
// `mcpauth doctor --flow` warns about.
async function refreshInsteadOfStepUp() {
  const provider = new Provider('dcr');
  const { client, call } = await session('v1', provider, undefined, []);
  try {
    await call('whoami');
    await call('add_note', { text: 'never added' });
  } catch (e) {
    check(String(e).includes('Server returned 403 after trying upscoping'), `unexpected failure: ${e}`);
    check(provider.tokenResponses.length === 2 && provider.tokenResponses.every((t) => t.refresh && sameScopes(t.scope, 'notes:read')),
      `token responses ${JSON.stringify(provider.tokenResponses)}`);
    return { error: String(e.message), tokens: provider.tokenResponses };
  } finally {
    await client.close().catch(() => {});
  }
  throw new Error('the v1 client stepped up although it held a refresh token');
}
if (process.env.REFRESH_ALWAYS === '1') {
  for (const k of Object.keys(scenarios)) delete scenarios[k];
  scenarios['v1/dcr/refresh-without-offline-access'] = refreshInsteadOfStepUp;
}

const only = process.env.SCENARIOS ? new Set(process.env.SCENARIOS.split(',')) : undefined;
let failed = 0;
for (const [name, run] of Object.entries(scenarios)) {
  if (only && !only.has(name)) continue;
  try {
    const detail = await run();
    console.log(JSON.stringify({ scenario: name, ok: true, ...detail }));
  } catch (e) {
    failed++;
    console.log(JSON.stringify({ scenario: name, ok: false, error: String(e?.stack ?? e) }));
  }
}
process.exit(failed ? 1 : 0);
