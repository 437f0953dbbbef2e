// A readable timeline of a query/request session:
//   +0.412s  ALLOW   select * from customers where id = 7   (1 row)
import type { RecordedEvent } from './types.js';

const MAX_TEXT = 160;

function oneLine(s: string): string {
  const flat = s.replace(/\s+/g, ' ').trim();
  return flat.length > MAX_TEXT ? `${flat.slice(0, MAX_TEXT - 1)}…` : flat;
}

function rowCount(e: RecordedEvent): number | undefined {
  for (const key of ['rowCount', 'rowsAffected', 'rows']) {
    const v = e[key];
    if (typeof v === 'number') return v;
    if (Array.isArray(v) && key === 'rows') return v.length;
  }
  return undefined;
}

function textOf(e: RecordedEvent): string | undefined {
  for (const key of ['text', 'statement', 'sql', 'command', 'request']) {
    if (typeof e[key] === 'string') return e[key] as string;
  }
  return undefined;
}

function describe(e: RecordedEvent): string {
  if (e.type === 'session.start') {
    const groups = Array.isArray(e.groups) && e.groups.length > 0 ? ` (${e.groups.join(', ')})` : '';
    return `session ${String(e.session ?? '')} started: ${String(e.sub ?? '?')}${groups} on ${String(e.connection ?? '?')} at ${new Date(e.at).toISOString()}`;
  }
  if (e.type === 'session.end') {
    const reason = e.reason ? `: ${String(e.reason)}` : '';
    return `session ended${reason} (${String(e.operations ?? 0)} operations)`;
  }
  const parts: string[] = [];
  parts.push(typeof e.effect === 'string' ? e.effect.toUpperCase().padEnd(7) : String(e.type ?? 'event').padEnd(7));
  const text = textOf(e) ?? (typeof e.data === 'string' ? e.data : undefined);
  if (text !== undefined) parts.push(oneLine(text));
  const rows = rowCount(e);
  if (rows !== undefined) parts.push(`(${rows} row${rows === 1 ? '' : 's'})`);
  if (typeof e.review === 'string') parts.push(`[review ${e.review}]`);
  if (Array.isArray(e.rules) && e.rules.length > 0) parts.push(`[rules: ${e.rules.join(', ')}]`);
  if (typeof e.error === 'string') parts.push(`error: ${oneLine(e.error)}`);
  return parts.join('  ');
}

export function formatTimeline(events: RecordedEvent[]): string {
  const lines = events.map((e) => `+${Number(e.t ?? 0).toFixed(3)}s  ${describe(e)}`);
  return lines.length > 0 ? `${lines.join('\n')}\n` : '';
}
