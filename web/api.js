// The console's only way to the gateway: /api/v1 with the signed-in user's bearer token. The
// token lives in sessionStorage (this tab only) and sign-out forgets it.
const KEY = 'warden.token';

export function token() {
  return sessionStorage.getItem(KEY);
}

export function signIn(t) {
  sessionStorage.setItem(KEY, t);
}

export function signOut() {
  sessionStorage.removeItem(KEY);
}

/** Who the token says it is (display only: the API verifies it on every call). */
export function me() {
  const t = token();
  if (!t) return null;
  try {
    const b64 = t.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    const claims = JSON.parse(decodeURIComponent(escape(atob(b64))));
    if (typeof claims.exp === 'number' && claims.exp * 1000 < Date.now()) return null;
    return { sub: claims.sub, iss: claims.iss, groups: Array.isArray(claims.groups) ? claims.groups : [] };
  } catch {
    return null;
  }
}

export class ApiError extends Error {
  constructor(status, body) {
    super(body?.detail || body?.title || `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

export async function api(method, path, body) {
  const headers = { authorization: `Bearer ${token()}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`/api/v1${path}`, {
    method,
    headers,
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = text;
  }
  if (res.status === 401) {
    signOut();
    window.dispatchEvent(new Event('warden-signed-out'));
  }
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}

export async function devSignIn(sub, groups) {
  const res = await fetch('/console/dev-token', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ sub, groups }),
  });
  const data = await res.json();
  if (!res.ok) throw new ApiError(res.status, data);
  signIn(data.token);
}
