// OIDC authorization code + PKCE (RFC 7636, S256) against the issuer named in the config
// (`console: { issuer, clientId }`), as a public client redirecting back to this page. The
// verifier and state live in sessionStorage for the round trip only.
const PENDING = 'warden.oidc';

function b64url(bytes) {
  let s = '';
  for (const b of new Uint8Array(bytes)) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function random() {
  return b64url(crypto.getRandomValues(new Uint8Array(32)));
}

async function discover(issuer) {
  const res = await fetch(`${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`);
  if (!res.ok) throw new Error(`issuer discovery failed (HTTP ${res.status})`);
  const doc = await res.json();
  if (doc.issuer !== issuer.replace(/\/$/, '') && doc.issuer !== issuer) throw new Error('issuer mismatch in discovery');
  return doc;
}

const redirectUri = () => `${location.origin}/`;

export async function startOidc(config) {
  const doc = await discover(config.issuer);
  const verifier = random();
  const state = random();
  const challenge = b64url(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier)));
  sessionStorage.setItem(PENDING, JSON.stringify({ verifier, state, token: doc.token_endpoint }));
  const url = new URL(doc.authorization_endpoint);
  const q = {
    response_type: 'code',
    client_id: config.clientId,
    redirect_uri: redirectUri(),
    scope: 'openid',
    state,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    ...(config.resource ? { resource: config.resource } : {}),
  };
  for (const [k, v] of Object.entries(q)) url.searchParams.set(k, v);
  location.assign(url.toString());
}

/** On the way back: the access token for `?code=…&state=…`, or null when this is no callback. */
export async function finishOidc(config) {
  const params = new URLSearchParams(location.search);
  const code = params.get('code');
  const error = params.get('error');
  if (!code && !error) return null;
  const pending = JSON.parse(sessionStorage.getItem(PENDING) || 'null');
  sessionStorage.removeItem(PENDING);
  history.replaceState(null, '', `${location.pathname}${location.hash}`);
  if (error) throw new Error(`sign-in refused: ${error}`);
  if (!pending || params.get('state') !== pending.state) throw new Error('sign-in state mismatch; try again');
  const body = new URLSearchParams({
    grant_type: 'authorization_code',
    code,
    redirect_uri: redirectUri(),
    client_id: config.clientId,
    code_verifier: pending.verifier,
  });
  const res = await fetch(pending.token, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body,
  });
  const data = await res.json().catch(() => ({}));
  if (!res.ok || typeof data.access_token !== 'string') throw new Error(`token exchange failed (${data.error || res.status})`);
  return data.access_token;
}
