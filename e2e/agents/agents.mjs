// panva's oauth4webapi, a widely used OAuth client, against the mcpauth
// proxy and an MCP server protected by mcpauth with DPoP: the machine and
// enterprise flows of MCP's authorization extensions, end to end.
//
// Input (environment): MCP (the MCP endpoint), IDP (the enterprise IdP's
// issuer), MACHINE_SECRET, SIGNED_KEY (the private_key_jwt client's
// PKCS#8 key, base64 DER), IDP_SECRET and ENTERPRISE_SECRET (the
// enterprise client's secrets at the IdP and at the proxy), REDIRECT.
// Output: one line per check, "ok <name>" or "FAIL <name>: why"; exit 1
// if any failed.
import * as oauth from 'oauth4webapi';

const env = process.env;
const mcp = new URL(env.MCP);
const insecure = { [oauth.allowInsecureRequests]: true }; // loopback http only
let failed = 0;

async function check(name, fn) {
  try {
    const detail = await fn();
    console.log(`ok ${name}${detail ? `: ${detail}` : ''}`);
  } catch (e) {
    failed++;
    console.log(`FAIL ${name}: ${e?.stack ?? e}`);
  }
}

function expect(cond, what) {
  if (!cond) throw new Error(what);
}

// The MCP server's metadata names the proxy (RFC 9728), whose metadata
// oauth4webapi checks (RFC 8414).
const prm = await oauth.processResourceDiscoveryResponse(mcp, await oauth.resourceDiscoveryRequest(mcp, insecure));
const asURL = new URL(prm.authorization_servers[0]);
const as = await oauth.processDiscoveryResponse(asURL, await oauth.discoveryRequest(asURL, { ...insecure, algorithm: 'oauth2' }));

// mcpCall opens a session and calls tool as a raw JSON-RPC client through
// oauth4webapi's protectedResourceRequest (which adds the DPoP proof and
// retries a use_dpop_nonce challenge when given a DPoP handle).
async function mcpCall(token, tool, options = {}) {
  let session;
  const post = async (body) => {
    const headers = new Headers({ 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2025-11-25' });
    if (session) headers.set('mcp-session-id', session);
    const send = () => oauth.protectedResourceRequest(token, 'POST', mcp, headers, JSON.stringify(body), { ...insecure, ...options });
    let res;
    try {
      res = await send();
    } catch (e) {
      if (!oauth.isDPoPNonceError(e)) throw e;
      res = await send(); // the handle took the server's nonce
    }
    session ??= res.headers.get('mcp-session-id');
    return res;
  };
  await post({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'oauth4webapi', version: '3' } } });
  await post({ jsonrpc: '2.0', method: 'notifications/initialized' });
  const res = await post({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: tool, arguments: {} } });
  let text = await res.text();
  const data = text.split('\n').find((l) => l.startsWith('data: '));
  if (data) text = data.slice(6);
  const out = JSON.parse(text);
  expect(!out.error && !out.result.isError, `tools/call ${tool}: ${text}`);
  return out.result.content[0].text;
}

// refusedWith expects a token endpoint refusal with code.
async function refusedWith(code, fn) {
  try {
    await fn();
  } catch (e) {
    const got = e?.error ?? e?.cause?.error;
    expect(got === code, `expected ${code}, got ${got}: ${e}`);
    return `${code}: ${e?.error_description ?? e?.cause?.error_description ?? ''}`;
  }
  throw new Error(`expected ${code}, the request was accepted`);
}

const resource = { resource: mcp.href };

// clientCredentials gets a token for the MCP server by client credentials
// as client_id, authenticated by clientAuth (options: a DPoP handle).
async function clientCredentials(clientId, clientAuth, scope, options = {}) {
  const client = { client_id: clientId };
  const params = scope ? { ...resource, scope } : resource;
  const res = await oauth.clientCredentialsGrantRequest(as, client, clientAuth, params, { ...insecure, ...options });
  return oauth.processClientCredentialsResponse(as, client, res);
}
const machineSecret = oauth.ClientSecretBasic(env.MACHINE_SECRET);

await check('client credentials, client_secret_basic', async () => {
  const who = await mcpCall((await clientCredentials('machine', machineSecret, 'notes:read')).access_token, 'subject');
  expect(who === 'machine machine notes:read', `subject: ${who}`);
  return who;
});

await check('client credentials, scope outside the client\'s', () => refusedWith('invalid_scope', () => clientCredentials('machine', machineSecret, 'notes:write')));

const signedKey = await crypto.subtle.importKey('pkcs8', Buffer.from(env.SIGNED_KEY, 'base64'), { name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign']);
await check('client credentials, private_key_jwt', async () => {
  const tok = await clientCredentials('signed', oauth.PrivateKeyJwt({ key: signedKey, kid: env.SIGNED_KID }), 'notes:read notes:write');
  const who = await mcpCall(tok.access_token, 'subject');
  expect(who === 'signed signed notes:read notes:write', `subject: ${who}`);
  return who;
});

await check('client credentials, private_key_jwt signed by another key', () => refusedWith('invalid_client', async () => {
  const other = await oauth.generateKeyPair('ES256');
  await clientCredentials('signed', oauth.PrivateKeyJwt(other.privateKey));
}));

// Enterprise-managed authorization: sign in at the IdP (authorization
// code + PKCE, openid), exchange the ID token there for an ID-JAG, redeem
// the ID-JAG at the proxy.
const idpURL = new URL(env.IDP);
const idp = await oauth.processDiscoveryResponse(idpURL, await oauth.discoveryRequest(idpURL, { ...insecure, algorithm: 'oauth2' }));
const ent = { client_id: 'enterprise-client' };
let jag;
await check('enterprise IdP: sign-in and token exchange for an ID-JAG', async () => {
  const verifier = oauth.generateRandomCodeVerifier();
  const state = oauth.generateRandomState();
  const u = new URL(idp.authorization_endpoint);
  u.search = new URLSearchParams({ response_type: 'code', client_id: ent.client_id, redirect_uri: env.REDIRECT, scope: 'openid', state,
    code_challenge: await oauth.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', resource: 'https://idp-userinfo.example' });
  const back = await fetch(u, { redirect: 'manual' });
  const params = oauth.validateAuthResponse(idp, ent, new URL(back.headers.get('location')), state);
  const res = await oauth.authorizationCodeGrantRequest(idp, ent, oauth.ClientSecretBasic(env.IDP_SECRET), params, env.REDIRECT, verifier, insecure);
  const tokens = await oauth.processAuthorizationCodeResponse(idp, ent, res, { requireIdToken: true });
  const ex = await oauth.genericTokenEndpointRequest(idp, ent, oauth.ClientSecretBasic(env.IDP_SECRET), 'urn:ietf:params:oauth:grant-type:token-exchange', {
    requested_token_type: 'urn:ietf:params:oauth:token-type:id-jag', subject_token: tokens.id_token,
    subject_token_type: 'urn:ietf:params:oauth:token-type:id_token', audience: as.issuer, resource: mcp.href, scope: 'notes:read' }, insecure);
  const out = await oauth.processGenericTokenEndpointResponse(idp, ent, ex, { recognizedTokenTypes: { n_a: () => {} } });
  expect(out.issued_token_type === 'urn:ietf:params:oauth:token-type:id-jag', `issued_token_type ${out.issued_token_type}`);
  jag = out.access_token;
});

const redeem = async () => {
  const res = await oauth.genericTokenEndpointRequest(as, ent, oauth.ClientSecretBasic(env.ENTERPRISE_SECRET), 'urn:ietf:params:oauth:grant-type:jwt-bearer', { assertion: jag, scope: 'notes:read' }, insecure);
  return oauth.processGenericTokenEndpointResponse(as, ent, res);
};
await check('enterprise ID-JAG redeemed at the proxy (JWT-bearer), tool called', async () => {
  const tok = await redeem();
  expect(tok.refresh_token === undefined, 'a refresh token was issued for an ID-JAG');
  const who = await mcpCall(tok.access_token, 'subject');
  expect(who === 'employee-7 enterprise-client notes:read', `subject: ${who}`);
  return who;
});
await check('enterprise ID-JAG replayed', () => refusedWith('invalid_grant', redeem));

// DPoP: a token bound to the client's key, used with a proof per request
// (and the resource's nonce, which oauth4webapi picks up and retries with).
const dpopKeys = await oauth.generateKeyPair('ES256');
const machine = { client_id: 'machine' };
const dpop = oauth.DPoP(machine, dpopKeys);
let bound;
await check('DPoP-bound token by client credentials', async () => {
  const tok = await clientCredentials('machine', machineSecret, '', { DPoP: dpop });
  expect(tok.token_type === 'dpop', `token_type ${tok.token_type}`);
  bound = tok.access_token;
});
await check('DPoP-bound token with proofs (after the nonce challenge)', async () => mcpCall(bound, 'subject', { DPoP: dpop }));

// What a thief of the token can do: the raw requests below are made with
// fetch, each with a proof captured from oauth4webapi.
const initBody = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'thief', version: '1' } } });
const mcpHeaders = { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2025-11-25' };
async function captureProof(method, url) {
  let proof;
  const capture = async (_u, init) => {
    proof = new Headers(init.headers).get('dpop');
    return new Response('{}', { status: 200, headers: { 'content-type': 'application/json' } });
  };
  await oauth.protectedResourceRequest(bound, method, new URL(url), new Headers(mcpHeaders), initBody, { ...insecure, DPoP: dpop, [oauth.customFetch]: capture });
  return proof;
}
async function refusedAtMCP(headers, method = 'POST') {
  const res = await fetch(mcp, { method, headers: { ...mcpHeaders, ...headers }, body: method === 'POST' ? initBody : undefined });
  expect(res.status === 401, `status ${res.status}`);
  const chal = res.headers.get('www-authenticate');
  return chal.match(/error="([^"]+)"/)?.[1];
}
await check('DPoP: the bound token without a proof (as a bearer token)', async () => {
  const e = await refusedAtMCP({ authorization: `Bearer ${bound}` });
  expect(e === 'invalid_token', e);
  return e;
});
await check('DPoP: a proof for another URL', async () => {
  const proof = await captureProof('POST', new URL('/elsewhere', mcp).href);
  const e = await refusedAtMCP({ authorization: `DPoP ${bound}`, dpop: proof });
  expect(e === 'invalid_dpop_proof', e);
  return e;
});
await check('DPoP: a proof for another method', async () => {
  const proof = await captureProof('PUT', mcp.href);
  const e = await refusedAtMCP({ authorization: `DPoP ${bound}`, dpop: proof });
  expect(e === 'invalid_dpop_proof', e);
  return e;
});
await check('DPoP: a replayed proof', async () => {
  const proof = await captureProof('POST', mcp.href);
  const first = await fetch(mcp, { method: 'POST', headers: { ...mcpHeaders, authorization: `DPoP ${bound}`, dpop: proof }, body: initBody });
  expect(first.status === 200, `the first use: ${first.status}`);
  const e = await refusedAtMCP({ authorization: `DPoP ${bound}`, dpop: proof });
  expect(e === 'invalid_dpop_proof', e);
  return e;
});
await check('DPoP: a stale nonce', async () => {
  // The handle is told a nonce of ten minutes ago, as a proof made in
  // advance would carry: refused with use_dpop_nonce and a fresh nonce.
  const staleHandle = oauth.DPoP(machine, dpopKeys);
  const plant = async () => new Response('{}', { status: 200, headers: { 'dpop-nonce': env.STALE_NONCE } });
  await oauth.protectedResourceRequest(bound, 'POST', mcp, new Headers(mcpHeaders), initBody, { ...insecure, DPoP: staleHandle, [oauth.customFetch]: plant });
  try {
    await oauth.protectedResourceRequest(bound, 'POST', mcp, new Headers(mcpHeaders), initBody, { ...insecure, DPoP: staleHandle });
  } catch (e) {
    expect(oauth.isDPoPNonceError(e), `not a nonce error: ${e}`);
    return 'use_dpop_nonce';
  }
  throw new Error('a proof with a stale nonce was accepted');
});

process.exit(failed ? 1 : 0);
