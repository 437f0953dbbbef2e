// Webhook notifications for reviews and access requests. Delivery never blocks the operation
// path: `emit` returns at once, each webhook is POSTed in the background with retries and
// exponential backoff, and a final failure is logged (with the URL's origin only: Slack and
// similar webhook URLs carry their credential in the path).
import { createHmac } from 'node:crypto';
import type { Logger } from 'pino';
import { displayText } from '../core/display-text.js';
import type { AccessRequest, Review } from '../store/index.js';

export type ReviewEvent = 'review.created' | 'review.approved' | 'review.denied' | 'review.expired' | 'review.executed';
export type AccessEvent =
  | 'access.requested'
  | 'access.approved'
  | 'access.denied'
  | 'access.revoked'
  | 'access.expired';
export type NotificationEvent = ReviewEvent | AccessEvent;

export type Notification =
  | { event: ReviewEvent; review: Review; at: number }
  | { event: AccessEvent; request: AccessRequest; at: number };

export interface WebhookTarget {
  url: string;
  format: 'json' | 'slack';
  secret?: string | undefined;
  /** Event names, or a prefix such as `review.*`; omitted = every event. */
  events?: string[] | undefined;
}

export interface NotifierOptions {
  webhooks: readonly WebhookTarget[];
  logger: Pick<Logger, 'warn' | 'debug'>;
  /** The console's public URL (config `console.url`): notifications link to the review there. */
  consoleUrl?: string | undefined;
  /** Total attempts per delivery. */
  attempts?: number;
  /** First retry delay; doubled on each further retry. */
  baseDelayMs?: number;
  /** Per-attempt timeout. */
  timeoutMs?: number;
}

export const SIGNATURE_HEADER = 'x-warden-signature';
export const EVENT_HEADER = 'x-warden-event';

/** `sha256=<hex HMAC-SHA256 of the raw body>`: what receivers recompute to trust a delivery. */
export function signBody(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/**
 * The console page of a review (its hash route `#/reviews/<id>`) or of the access requests, under
 * the console's public URL. The id is percent-encoded, and so are the characters that would end
 * a Slack link (`|`, `<`, `>`), so a link is exactly one link.
 */
export function consoleLink(consoleUrl: string, page: { review: string } | 'access'): string {
  const base = consoleUrl.replace(/\/+$/, '');
  const route = page === 'access' ? 'access' : `reviews/${encodeURIComponent(page.review)}`;
  return `${base}/#/${route}`.replace(/[|<>]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** The console link for a notification, when the console's URL is configured. */
export function linkFor(n: Notification, consoleUrl: string | undefined): string | undefined {
  if (!consoleUrl) return undefined;
  return 'review' in n ? consoleLink(consoleUrl, { review: n.review.id }) : consoleLink(consoleUrl, 'access');
}

export function wantsEvent(target: WebhookTarget, event: string): boolean {
  if (!target.events || target.events.length === 0) return true;
  return target.events.some((e) => e === event || e === '*' || (e.endsWith('.*') && event.startsWith(e.slice(0, -1))));
}

export class Notifier {
  private readonly inFlight = new Set<Promise<void>>();
  private readonly attempts: number;
  private readonly baseDelayMs: number;
  private readonly timeoutMs: number;

  constructor(private readonly opts: NotifierOptions) {
    this.attempts = opts.attempts ?? 3;
    this.baseDelayMs = opts.baseDelayMs ?? 200;
    this.timeoutMs = opts.timeoutMs ?? 5000;
  }

  /** Fire and forget: returns at once; failures are logged, never thrown. */
  emit(n: Notification): void {
    for (const target of this.opts.webhooks) {
      if (!wantsEvent(target, n.event)) continue;
      const p = this.deliver(target, n).finally(() => this.inFlight.delete(p));
      this.inFlight.add(p);
    }
  }

  /** Resolves when every delivery started so far has finished (tests, shutdown). */
  async drain(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  private async deliver(target: WebhookTarget, n: Notification): Promise<void> {
    const link = linkFor(n, this.opts.consoleUrl);
    const body = JSON.stringify(target.format === 'slack' ? { text: slackText(n, link) } : jsonPayload(n, link));
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'user-agent': 'warden-webhook',
      [EVENT_HEADER]: n.event,
    };
    if (target.secret) headers[SIGNATURE_HEADER] = signBody(target.secret, body);
    let lastError = '';
    for (let attempt = 1; attempt <= this.attempts; attempt++) {
      try {
        const res = await fetch(target.url, {
          method: 'POST',
          headers,
          body,
          signal: AbortSignal.timeout(this.timeoutMs),
        });
        await res.arrayBuffer().catch(() => undefined);
        if (res.ok) return;
        lastError = `HTTP ${res.status}`;
        // A 4xx other than 408/429 will not get better by retrying.
        if (res.status < 500 && res.status !== 408 && res.status !== 429) break;
      } catch (err) {
        lastError =
          (err as Error).name === 'TimeoutError' ? 'timed out' : String((err as Error).cause ?? (err as Error).message);
      }
      if (attempt < this.attempts) await sleep(this.baseDelayMs * 2 ** (attempt - 1));
    }
    this.opts.logger.warn(
      { webhook: originOf(target.url), event: n.event, error: lastError },
      'webhook delivery failed',
    );
  }
}

/**
 * The JSON body: `{ event, review | request, at, display, link? }`, `at` as an ISO timestamp. The
 * review or request fields are the exact data; `display` holds the fields a receiver would show a
 * person, escaped by displayText (control, bidi and zero-width characters as `\x1b`, `\u202e`, …),
 * so a receiver that shows `display` cannot be made to show text other than what the data holds.
 * `link` opens the review (or the access requests) in the console, when `console.url` is set.
 */
export function jsonPayload(n: Notification, link?: string): Record<string, unknown> {
  const at = new Date(n.at).toISOString();
  const linked = link ? { link } : {};
  if ('review' in n) {
    const review = reviewForNotification(n.review);
    return { event: n.event, review, at, display: reviewDisplay(review), ...linked };
  }
  return { event: n.event, request: n.request, at, display: accessDisplay(n.request), ...linked };
}

export interface ReviewDisplay {
  text: string;
  requester: string;
  connection: string;
  rules: string[];
  reasons: string[];
  approvals: string[];
}

export interface AccessDisplay {
  requester: string;
  connection: string;
  reason: string;
  approvals: string[];
}

function reviewDisplay(r: Omit<Review, 'params'>): ReviewDisplay {
  return {
    text: displayText(r.text),
    requester: displayText(r.requester.sub),
    connection: displayText(r.connection),
    rules: r.rules.map(displayText),
    reasons: r.reasons.map((x) => displayText(reasonText(x))),
    approvals: r.approvals.map((a) => displayText(a.sub)),
  };
}

function accessDisplay(a: AccessRequest): AccessDisplay {
  return {
    requester: displayText(a.sub),
    connection: displayText(a.connection),
    reason: displayText(a.reason),
    approvals: a.approvals.map((x) => displayText(x.sub)),
  };
}

/** A stored reason (`{ rule?, message }`) as one string. */
function reasonText(x: unknown): string {
  if (x && typeof x === 'object' && 'message' in x) {
    const { rule, message } = x as { rule?: unknown; message?: unknown };
    return typeof rule === 'string' && rule ? `${rule}: ${String(message)}` : String(message);
  }
  return typeof x === 'string' ? x : JSON.stringify(x);
}

/**
 * A review as notifications show it: SQL with its literals removed (the normalized text), so a
 * value in a statement never leaves the gateway through a webhook; `warden reviews show` has the
 * exact text for the approver.
 */
function reviewForNotification(r: Review): Omit<Review, 'params'> {
  const { params: _params, ...rest } = r;
  return r.kind === 'sql' ? { ...rest, text: r.normalized } : { ...rest, text: clip(r.text, 2000) };
}

/**
 * Slack incoming-webhook text (also understood by Mattermost and Rocket.Chat). The whole text goes
 * through displayText (control, bidi and zero-width characters shown as escapes) and Slack's own
 * escaping of `&`, `<`, `>`, so an operation, reason or name cannot hide itself, fake a line, or
 * become a link or an `@channel` mention. The one link is ours, added after the escaping: the
 * console page, when `console.url` is set.
 */
export function slackText(n: Notification, link?: string): string {
  const text = slackEscape(displayText(slackLine(n)));
  if (!link) return text;
  return `${text} <${link}|${'review' in n ? 'Open the review' : 'Open access requests'}>`;
}

/** https://api.slack.com/reference/surfaces/formatting#escaping */
function slackEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function slackLine(n: Notification): string {
  if ('review' in n) {
    const r = reviewForNotification(n.review);
    const op = `\`${clip(r.text.replace(/[ \t\n]+/g, ' '), 300).replace(/`/g, "'")}\``;
    const who = `${r.requester.sub} on ${r.connection}`;
    switch (n.event) {
      case 'review.created':
        return `:hourglass: Review ${r.id}: ${who} wants to run ${op} (${r.rules.join(', ') || 'policy'}).${r.impact ? ` Impact: ${clip(r.impact.summary, 300)}.` : ''} Needs ${r.approversRequired.count} approval(s) from ${r.approversRequired.groups.join(' or ')}: \`warden reviews approve ${r.id}\``;
      case 'review.approved':
        return `:white_check_mark: Review ${r.id} approved by ${r.approvals.map((a) => a.sub).join(', ')}: ${who} may run ${op}`;
      case 'review.denied':
        return `:no_entry: Review ${r.id} denied: ${who}, ${op}`;
      case 'review.expired':
        return `:zzz: Review ${r.id} expired: ${who}, ${op}`;
      case 'review.executed':
        return `:arrow_forward: Review ${r.id}: approved operation ran for ${who}: ${op}`;
    }
  }
  const a = n.request;
  const minutes = Math.round(a.durationMs / 60_000);
  switch (n.event) {
    case 'access.requested':
      return `:key: Access request ${a.id}: ${a.sub} asks for ${a.connection} for ${minutes}m ("${clip(a.reason, 300)}"). Needs ${a.approversRequired.count} approval(s) from ${a.approversRequired.groups.join(' or ')}: \`warden access approve ${a.id}\``;
    case 'access.approved':
      return `:white_check_mark: Access request ${a.id} approved: ${a.sub} may use ${a.connection} until ${new Date(a.expiresAt).toISOString()}`;
    case 'access.denied':
      return `:no_entry: Access request ${a.id} denied: ${a.sub} on ${a.connection}`;
    case 'access.revoked':
      return `:octagonal_sign: Access grant ${a.id} revoked: ${a.sub} on ${a.connection}`;
    case 'access.expired':
      return `:zzz: Access ${a.id} expired: ${a.sub} on ${a.connection}`;
  }
}

function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return '(invalid url)';
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}
