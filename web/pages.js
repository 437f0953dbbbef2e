// The console's pages. Every value shown is what the API returned (already masked for the
// signed-in user); preact renders it as text, never as markup.
import { h } from 'preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import htm from 'htm';
import { api } from './api.js';

const html = htm.bind(h);
/** How often live pages ask again. */
const POLL_MS = 1500;

const time = (ms) => (ms ? new Date(ms).toLocaleString() : '');
const STATE_ORDER = { pending: 0, approved: 1, executed: 2, denied: 3, expired: 4 };

/** Loads `fn` now and every `every` ms (0: once); returns [data, error, reload]. */
function useLoad(fn, deps, every = 0) {
  const [data, setData] = useState(null);
  const [error, setError] = useState('');
  const load = useCallback(() => fn().then((d) => { setData(d); setError(''); }, (e) => setError(e.message)), deps);
  useEffect(() => {
    load();
    if (!every) return undefined;
    const t = setInterval(load, every);
    return () => clearInterval(t);
  }, [load, every]);
  return [data, error, load];
}

function Problem({ error }) {
  return error ? html`<p role="alert" class="error">${error}</p>` : null;
}

function Sql({ text }) {
  // Keywords in bold, strings and numbers coloured; every piece stays text.
  const parts = [];
  const re = /('(?:[^']|'')*'|\b\d+(?:\.\d+)?\b|\b(?:select|from|where|and|or|not|delete|update|insert|into|values|set|returning|join|on|in|is|null|like|ilike|limit|order|by|group|having|with|as|merge|using|truncate|drop|alter|create)\b)/gi;
  let last = 0;
  for (const m of text.matchAll(re)) {
    if (m.index > last) parts.push(text.slice(last, m.index));
    const t = m[0];
    const cls = t.startsWith("'") ? 'str' : /^\d/.test(t) ? 'num' : 'kw';
    parts.push(html`<span class=${cls}>${t}</span>`);
    last = m.index + t.length;
  }
  parts.push(text.slice(last));
  return html`<pre class="sql" data-testid="operation"><code>${parts}</code></pre>`;
}

function Operation({ kind, text }) {
  return kind === 'sql' ? html`<${Sql} text=${text} />` : html`<pre class="op" data-testid="operation"><code>${text}</code></pre>`;
}

export function InboxPage() {
  const [state, setState] = useState('pending');
  const [data, error] = useLoad(() => api('GET', `/reviews?state=${state}`), [state], POLL_MS);
  const rows = [...(data?.reviews ?? [])].sort(
    (a, b) => (STATE_ORDER[a.state] ?? 9) - (STATE_ORDER[b.state] ?? 9) || b.createdAt - a.createdAt,
  );
  return html`<section aria-labelledby="inbox-h">
    <h1 id="inbox-h">Reviews</h1>
    <label class="inline">Show
      <select value=${state} onChange=${(e) => setState(e.target.value)}>
        ${['pending', 'all', 'approved', 'executed', 'denied', 'expired'].map((s) => html`<option value=${s}>${s}</option>`)}
      </select>
    </label>
    <${Problem} error=${error} />
    ${data && rows.length === 0 ? html`<p class="muted" data-testid="inbox-empty">Nothing to review.</p>` : null}
    <ul class="cards" data-testid="inbox">
      ${rows.map((r) => html`<li key=${r.id} class=${`card ${r.state}`}>
        <a href=${`#/reviews/${encodeURIComponent(r.id)}`} data-testid="review-link">
          <span><span class=${`badge ${r.state}`}>${r.state}</span> <strong>${r.requester.sub}</strong> on <strong>${r.connection}</strong></span>
          <code class="clip">${r.text}</code>
          ${r.impact ? html`<span class="impact" data-testid="impact">${r.impact.summary}</span>` : null}
          <span class="muted">${time(r.createdAt)} · ${r.approvals.length}/${r.approversRequired.count} approvals</span>
        </a>
      </li>`)}
    </ul>
  </section>`;
}

/** An HTTP or Kubernetes review: the request as the target would get it (method, normalised path, query, where). */
function RequestImpact({ req }) {
  const query = Object.entries(req.query ?? {}).flatMap(([k, v]) => (Array.isArray(v) ? v : [v]).map((x) => `${k}=${x}`));
  return html`<dl class="facts small" data-testid="impact-request">
    <dt>Method</dt><dd><code>${req.method}</code></dd>
    <dt>Path</dt><dd><code>${req.path}</code></dd>
    ${query.length ? html`<dt>Query</dt><dd>${query.map((q) => html`<div><code>${q}</code></div>`)}</dd>` : null}
    ${req.url ? html`<dt>Goes to</dt><dd><code>${req.url}</code></dd>` : null}
    ${req.jsonFields ? html`<dt>JSON fields</dt><dd>${req.jsonFields.join(', ') || '(empty object)'}</dd>` : null}
    ${req.k8s ? html`<dt>Object</dt><dd>${req.k8s.resource}${req.k8s.name ? `/${req.k8s.name}` : ''}${req.k8s.namespace ? ` in ${req.k8s.namespace}` : ''}</dd>` : null}
  </dl>`;
}

export function ReviewPage({ id, me }) {
  const [data, error, reload] = useLoad(() => api('GET', `/reviews/${encodeURIComponent(id)}`), [id], POLL_MS);
  const [comment, setComment] = useState('');
  const [acted, setActed] = useState('');
  const r = data?.review;
  const decide = async (verb) => {
    setActed('');
    try {
      const out = await api('POST', `/reviews/${encodeURIComponent(id)}/${verb}`, comment ? { reason: comment } : {});
      setActed(`${verb === 'approve' ? 'Approved' : 'Denied'}: the review is ${out.review.state}.`);
      reload();
    } catch (e) {
      setActed(e.message);
    }
  };
  if (!r) return html`<section><p><a href="#/reviews">← Reviews</a></p><${Problem} error=${error} />${!error && html`<p class="muted">Loading…</p>`}</section>`;
  const mine = r.requester.sub === me.sub && (!r.requester.issuer || r.requester.issuer === me.iss);
  const mayDecide = r.state === 'pending' && !mine && me.groups.some((g) => r.approversRequired.groups.includes(g));
  return html`<section aria-labelledby="review-h">
    <p><a href="#/reviews">← Reviews</a></p>
    <h1 id="review-h">Review <code>${r.id}</code> <span class=${`badge ${r.state}`} data-testid="state">${r.state}</span></h1>
    <dl class="facts">
      <dt>Requester</dt><dd>${r.requester.sub} <span class="muted">[${r.requester.groups.join(', ')}]</span></dd>
      <dt>Connection</dt><dd>${r.connection}</dd>
      <dt>Operation</dt><dd><${Operation} kind=${r.kind} text=${r.text} /></dd>
      <dt>Impact</dt><dd data-testid="impact" class=${r.impact?.status === 'known' ? 'impact' : 'muted'}>${r.impact ? r.impact.summary : 'impact unknown'}
        ${r.impact?.reason ? html`<div class="muted small">${r.impact.reason}</div>` : null}
        ${r.impact?.request ? html`<${RequestImpact} req=${r.impact.request} />` : null}</dd>
      <dt>Rules</dt><dd>${r.rules.join(', ') || '(policy)'}</dd>
      <dt>Why</dt><dd><ul>${r.reasons.map((x) => html`<li>${x.rule ? `${x.rule}: ` : ''}${x.message}</li>`)}</ul></dd>
      <dt>Needs</dt><dd>${r.approversRequired.count} approval(s) from ${r.approversRequired.groups.join(' or ')}</dd>
      <dt>Approvals</dt><dd data-testid="approvals">${r.approvals.length ? r.approvals.map((a) => html`<div>${a.sub} · ${time(a.at)}${a.reason ? ` · “${a.reason}”` : ''}</div>`) : '(none)'}</dd>
      <dt>Created</dt><dd>${time(r.createdAt)}; expires ${time(r.expiresAt)}</dd>
    </dl>
    ${mine ? html`<p class="muted" data-testid="own-review">This is your own request: someone else must decide it.</p>` : null}
    ${
      mayDecide
        ? html`<form class="decide" onSubmit=${(e) => e.preventDefault()}>
          <label>Comment <textarea name="comment" rows="2" value=${comment} onInput=${(e) => setComment(e.target.value)}></textarea></label>
          <div class="buttons">
            <button type="button" class="approve" onClick=${() => decide('approve')}>Approve</button>
            <button type="button" class="deny" onClick=${() => decide('deny')}>Deny</button>
          </div>
        </form>`
        : null
    }
    ${acted ? html`<p role="status" data-testid="acted">${acted}</p>` : null}
    <${Problem} error=${error} />
  </section>`;
}

export function SessionsPage() {
  const [data, error] = useLoad(() => api('GET', '/sessions?limit=200'), [], POLL_MS * 2);
  const [who, setWho] = useState('');
  const rows = (data?.sessions ?? []).filter((s) => !who || s.sub.includes(who) || s.connection.includes(who));
  return html`<section aria-labelledby="sessions-h">
    <h1 id="sessions-h">Sessions</h1>
    <label class="inline">Filter (who or connection) <input value=${who} onInput=${(e) => setWho(e.target.value)} /></label>
    <${Problem} error=${error} />
    <table class="list" data-testid="sessions">
      <thead><tr><th>Started</th><th>Who</th><th>Connection</th><th>Protocol</th><th>Operations</th><th>Ended</th></tr></thead>
      <tbody>${rows.map((s) => html`<tr key=${s.id}>
        <td data-label="Started"><a href=${`#/sessions/${encodeURIComponent(s.id)}`}>${time(s.startedAt)}</a></td>
        <td data-label="Who">${s.sub}</td><td data-label="Connection">${s.connection}</td><td data-label="Protocol">${s.connectionType}</td><td data-label="Operations">${s.operations}</td>
        <td data-label="Ended">${s.endedAt ? time(s.endedAt) : html`<span class="badge pending">live</span>`}</td>
      </tr>`)}</tbody>
    </table>
  </section>`;
}

/** The session's recording as the API returns it (masked for this user): asciicast or JSON lines. */
async function loadRecording(id) {
  const res = await fetch(`/api/v1/sessions/${encodeURIComponent(id)}/recording`, {
    headers: { authorization: `Bearer ${sessionStorage.getItem('warden.token')}` },
  });
  if (!res.ok) throw new Error(`recording: HTTP ${res.status}`);
  return res.text();
}

const parseLines = (text) => text.split('\n').filter(Boolean).map((l) => JSON.parse(l));

/**
 * An asciicast for the player, and the decided lines in it. The recorder writes each decided
 * shell line as a marker whose data is JSON ({ text, effect, rules, … }); the player shows a
 * marker's data as its label, so each becomes "effect: line", and the list below the player
 * seeks to it (by marker: the player's clock skips idle time, the recording's does not).
 */
function castForPlayer(text) {
  const [header, ...events] = parseLines(text);
  const marks = [];
  let markers = 0;
  const out = events.map((e) => {
    if (!Array.isArray(e) || e[1] !== 'm') return e;
    const marker = markers++;
    let m;
    try {
      m = JSON.parse(e[2]);
    } catch {
      return e;
    }
    const label = m && typeof m === 'object' ? (m.effect ? `${m.effect}: ${m.text ?? ''}` : String(m.event ?? m.type ?? 'event')) : String(m);
    if (m && typeof m === 'object' && m.effect) marks.push({ t: e[0], marker, effect: m.effect, text: m.text ?? '', rules: m.rules ?? [], refusal: m.refusal });
    return [e[0], 'm', label];
  });
  return { cast: [header, ...out].map((x) => JSON.stringify(x)).join('\n'), marks };
}

/** asciinema-player (loaded on first use) for a terminal recording, with its decided lines. */
function TerminalReplay({ text }) {
  const host = useRef(null);
  const player = useRef(null);
  const [error, setError] = useState('');
  const { cast, marks } = castForPlayer(text);
  useEffect(() => {
    let gone = false;
    import('asciinema-player')
      .then(({ create }) => {
        if (gone || !host.current) return;
        player.current = create({ data: cast }, host.current, {
          fit: 'width',
          autoPlay: true,
          idleTimeLimit: 1,
          terminalFontSize: '14px',
        });
      })
      .catch((e) => setError(`the player did not load: ${e.message}`));
    return () => {
      gone = true;
      player.current?.dispose();
      player.current = null;
    };
  }, [cast]);
  return html`<div>
    <div class="player" data-testid="player" ref=${host} aria-label="Terminal replay"></div>
    <${Problem} error=${error} />
    ${marks.length
      ? html`<ol class="timeline" data-testid="timeline">${marks.map((m, i) => html`<li key=${i} class=${`effect-${m.effect}`}>
          <div><button type="button" class="link" onClick=${() => player.current?.seek({ marker: m.marker })} aria-label=${`Seek to +${Number(m.t).toFixed(2)}s`}>+${Number(m.t).toFixed(2)}s</button>${' '}<span class=${`badge ${m.effect}`}>${m.effect}</span>${m.rules?.length ? html`<span class="muted"> ${m.rules.join(', ')}</span>` : null}</div>
          <pre class="op"><code>${m.text}</code></pre>
          ${m.refusal ? html`<div class="error small">${m.refusal}</div>` : null}
        </li>`)}</ol>`
      : null}
  </div>`;
}

function Result({ ev }) {
  if (ev.error) return html`<div class="error small">${ev.error}</div>`;
  if (ev.columns && ev.rows)
    return html`<table class="rows"><thead><tr>${ev.columns.map((c) => html`<th>${c}</th>`)}</tr></thead>
      <tbody>${ev.rows.map((row) => html`<tr>${row.map((v) => html`<td>${v === null ? 'NULL' : String(v)}</td>`)}</tr>`)}</tbody></table>
      ${ev.rowCount !== undefined && ev.rowCount > ev.rows.length ? html`<div class="muted small">${ev.rowCount} rows in all</div>` : null}`;
  if (ev.output || ev.stderr) return html`<pre class="op">${ev.output ?? ''}${ev.stderr ?? ''}</pre>`;
  return html`<div class="muted small">${ev.command ?? (ev.status !== undefined ? `HTTP ${ev.status}` : '')}</div>`;
}

export function SessionPage({ id }) {
  const [session, error] = useLoad(() => api('GET', `/sessions/${encodeURIComponent(id)}`), [id]);
  const [recording, evError] = useLoad(() => loadRecording(id), [id]);
  const s = session?.session;
  const terminal = s?.format === 'asciicast';
  const events = recording !== null && s && !terminal ? parseLines(recording) : [];
  const results = new Map(events.filter((e) => e.type === 'result').map((e) => [e.op, e]));
  return html`<section aria-labelledby="session-h">
    <p><a href="#/sessions">← Sessions</a></p>
    <h1 id="session-h">Session <code>${id}</code></h1>
    ${s ? html`<p>${s.sub} on ${s.connection} (${s.connectionType}) · ${time(s.startedAt)}${s.endedAt ? ` – ${time(s.endedAt)}` : ' · live'}</p>` : null}
    <${Problem} error=${error || evError} />
    ${
      terminal
        ? recording !== null ? html`<${TerminalReplay} text=${recording} />` : null
        : html`<ol class="timeline" data-testid="timeline">
          ${events.filter((e) => e.type === 'operation').map((e) => html`<li key=${e.op} class=${`effect-${e.effect}`}>
            <div><span class="muted">+${Number(e.t).toFixed(2)}s</span> <span class=${`badge ${e.effect}`}>${e.effect}</span>
              ${e.rules?.length ? html`<span class="muted"> ${e.rules.join(', ')}</span>` : null}</div>
            <${Operation} kind=${e.kind} text=${e.text} />
            ${e.refusal ? html`<div class="error small">${e.refusal}</div>` : null}
            ${results.get(e.op) ? html`<${Result} ev=${results.get(e.op)} />` : null}
          </li>`)}
        </ol>`
    }
  </section>`;
}

export function AuditPage() {
  const [data, error] = useLoad(() => api('GET', '/audit?limit=200'), [], POLL_MS * 2);
  const [verify, setVerify] = useState(null);
  const check = async () => {
    setVerify({ busy: true });
    try {
      setVerify(await api('GET', '/audit/verify'));
    } catch (e) {
      setVerify({ error: e.message });
    }
  };
  return html`<section aria-labelledby="audit-h">
    <h1 id="audit-h">Audit log</h1>
    <button type="button" onClick=${check}>Verify the hash chain</button>
    ${
      verify && !verify.busy
        ? html`<p role="status" data-testid="verify" class=${verify.ok ? 'ok' : 'error'}>${
            verify.error ? verify.error : verify.ok ? `Chain verified: ${verify.checked} entries intact.` : `Chain BROKEN: ${JSON.stringify(verify)}`
          }</p>`
        : null
    }
    <${Problem} error=${error} />
    <table class="list" data-testid="audit">
      <thead><tr><th>#</th><th>When</th><th>Event</th><th>Actor</th><th>Connection</th></tr></thead>
      <tbody>${(data?.entries ?? []).map((e) => html`<tr key=${e.seq ?? e.id}>
        <td data-label="#">${e.seq}</td><td data-label="When">${time(e.at)}</td><td data-label="Event">${e.type}</td><td data-label="Actor">${e.actor ?? ''}</td><td data-label="Connection">${e.connection ?? ''}</td>
      </tr>`)}</tbody>
    </table>
  </section>`;
}

export function ConnectionsPage() {
  const [data, error] = useLoad(() => api('GET', '/connections'), []);
  return html`<section aria-labelledby="conn-h">
    <h1 id="conn-h">Connections</h1>
    <${Problem} error=${error} />
    <table class="list" data-testid="connections">
      <thead><tr><th>Name</th><th>Type</th><th>Access</th></tr></thead>
      <tbody>${(data?.connections ?? []).map((c) => html`<tr key=${c.name}><td data-label="Name">${c.name}</td><td data-label="Type">${c.type}</td><td data-label="Access">${c.access}</td></tr>`)}</tbody>
    </table>
  </section>`;
}

export function AccessPage({ me }) {
  const [data, error, reload] = useLoad(() => api('GET', '/access-requests?state=all'), [], POLL_MS * 2);
  const [acted, setActed] = useState('');
  const act = async (id, verb) => {
    setActed('');
    try {
      const out = await api('POST', `/access-requests/${encodeURIComponent(id)}/${verb}`, {});
      setActed(`Access request ${out.request.id} is ${out.request.state}.`);
      reload();
    } catch (e) {
      setActed(e.message);
    }
  };
  const rows = [...(data?.requests ?? [])].sort((a, b) => (a.state === 'pending' ? -1 : 0) - (b.state === 'pending' ? -1 : 0));
  return html`<section aria-labelledby="access-h">
    <h1 id="access-h">Access requests</h1>
    <${Problem} error=${error} />
    ${acted ? html`<p role="status">${acted}</p>` : null}
    <table class="list" data-testid="access">
      <thead><tr><th>Who</th><th>Connection</th><th>For</th><th>Reason</th><th>State</th><th><span class="sr-only">Actions</span></th></tr></thead>
      <tbody>${rows.map((a) => {
        const mine = a.sub === me.sub && (!a.issuer || a.issuer === me.iss);
        const approver = !mine && me.groups.some((g) => a.approversRequired.groups.includes(g));
        return html`<tr key=${a.id}>
          <td data-label="Who">${a.sub}</td><td data-label="Connection">${a.connection}</td><td data-label="For">${Math.round(a.durationMs / 60000)} min</td><td data-label="Reason">${a.reason}</td>
          <td data-label="State"><span class=${`badge ${a.state}`}>${a.state}</span>${a.state === 'approved' ? html` <span class="muted small">until ${time(a.expiresAt)}</span>` : null}</td>
          <td class="buttons">
            ${a.state === 'pending' && approver ? html`<button type="button" class="approve" onClick=${() => act(a.id, 'approve')}>Approve</button>
              <button type="button" class="deny" onClick=${() => act(a.id, 'deny')}>Deny</button>` : null}
            ${a.state === 'approved' ? html`<button type="button" class="deny" onClick=${() => act(a.id, 'revoke')}>Revoke</button>` : null}
          </td>
        </tr>`;
      })}</tbody>
    </table>
  </section>`;
}
