// The console shell: sign-in, navigation (hash routes, so a link such as #/reviews/<id> opens a
// review), and the page for the current route.
import { h, render } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import htm from 'htm';
import { devSignIn, me, signIn as keepToken, signOut } from './api.js';
import { finishOidc, startOidc } from './oidc.js';
import { AccessPage, AuditPage, ConnectionsPage, InboxPage, ReviewPage, SessionPage, SessionsPage } from './pages.js';

const html = htm.bind(h);

function useRoute() {
  const [hash, setHash] = useState(location.hash || '#/reviews');
  useEffect(() => {
    const on = () => setHash(location.hash || '#/reviews');
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  return hash.slice(1).split('/').filter(Boolean).map(decodeURIComponent);
}

function SignIn({ onDone }) {
  const [config, setConfig] = useState(null);
  const [sub, setSub] = useState('');
  const [groups, setGroups] = useState('dba');
  const [error, setError] = useState('');
  useEffect(() => {
    fetch('/console/config.json')
      .then((r) => r.json())
      .then(async (c) => {
        setConfig(c);
        if (!c.issuer) return;
        // Back from the issuer: exchange the code (PKCE) for the access token.
        const t = await finishOidc(c);
        if (t) {
          keepToken(t);
          onDone();
        }
      })
      .catch((err) => {
        setConfig((c) => c ?? { dev: false });
        setError(err.message);
      });
  }, []);
  const submit = async (e) => {
    e.preventDefault();
    setError('');
    try {
      const list = groups.split(/[\s,]+/).filter(Boolean);
      await devSignIn(sub.trim(), list);
      onDone();
    } catch (err) {
      setError(err.message);
    }
  };
  if (!config) return html`<main class="signin"><p class="muted">Loading…</p></main>`;
  return html`<main class="signin">
    <h1>Warden</h1>
    <p>Sign in to review what agents want to run.</p>
    ${
      config.issuer
        ? html`<p><button type="button" onClick=${() => startOidc(config).catch((e) => setError(e.message))}>Sign in with your identity provider</button></p>
          <p class="muted small">${config.issuer}</p>`
        : null
    }
    ${
      config.dev
        ? html`<form onSubmit=${submit} aria-label="Demo sign-in">
          <p class="muted">Demo sign-in (dev issuer): pick who you are.</p>
          <label>Name <input name="sub" required autocomplete="username" value=${sub} onInput=${(e) => setSub(e.target.value)} /></label>
          <label>Groups (comma-separated) <input name="groups" value=${groups} onInput=${(e) => setGroups(e.target.value)} /></label>
          <button type="submit">Sign in</button>
          ${error && html`<p role="alert" class="error">${error}</p>`}
        </form>`
        : config.issuer
          ? null
          : html`<p class="muted">No sign-in is configured (console.issuer).</p>`
    }
    ${error && !config.dev ? html`<p role="alert" class="error">${error}</p>` : null}
  </main>`;
}

const NAV = [
  ['reviews', 'Reviews'],
  ['access', 'Access'],
  ['sessions', 'Sessions'],
  ['audit', 'Audit log'],
  ['connections', 'Connections'],
];

function App() {
  const [who, setWho] = useState(me());
  const route = useRoute();
  useEffect(() => {
    const out = () => setWho(null);
    window.addEventListener('warden-signed-out', out);
    return () => window.removeEventListener('warden-signed-out', out);
  }, []);
  // A new route is a new page: move focus to it, so Tab goes on from its top (and a screen
  // reader starts there), not from wherever the old page left it.
  const mainRef = useRef(null);
  const path = route.join('/');
  const first = useRef(true);
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    mainRef.current?.focus();
  }, [path]);
  if (!who) return html`<${SignIn} onDone=${() => setWho(me())} />`;
  const [section, id] = route;
  let page;
  if (section === 'reviews' && id) page = html`<${ReviewPage} id=${id} me=${who} />`;
  else if (section === 'sessions' && id) page = html`<${SessionPage} id=${id} />`;
  else if (section === 'sessions') page = html`<${SessionsPage} />`;
  else if (section === 'access') page = html`<${AccessPage} me=${who} />`;
  else if (section === 'audit') page = html`<${AuditPage} />`;
  else if (section === 'connections') page = html`<${ConnectionsPage} />`;
  else page = html`<${InboxPage} me=${who} />`;
  return html`<div class="shell">
    <header>
      <strong class="brand">Warden</strong>
      <nav aria-label="Sections">
        ${NAV.map(([k, label]) => html`<a href=${`#/${k}`} aria-current=${(section || 'reviews') === k ? 'page' : undefined}>${label}</a>`)}
      </nav>
      <span class="who" data-testid="who">${who.sub} <span class="muted">[${who.groups.join(', ')}]</span></span>
      <button class="link" onClick=${() => { signOut(); setWho(null); }}>Sign out</button>
    </header>
    <main ref=${mainRef} tabindex="-1">${page}</main>
  </div>`;
}

const root = document.getElementById('app');
root.textContent = ''; // the "Loading…" placeholder
render(html`<${App} />`, root);
