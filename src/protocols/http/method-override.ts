// Method overrides (DESIGN §8, HTTP): frameworks let a POST say it is another method, by a header
// (`X-HTTP-Method-Override`, `X-HTTP-Method`, `X-Method-Override`) or a `_method` query or form
// parameter (Rails, Laravel, Symfony, Express method-override). The gateway cannot know whether
// the upstream honours them, so `op.http.method` is only ever the method the upstream will run:
// the headers are stripped before the request goes upstream (upstream.ts), and a `_method` that
// names another method is refused with 400 — it cannot be removed from a body without rewriting
// it, and deciding it either way could let `POST /x?_method=DELETE` dodge a DELETE rule.
// A form body too large to be read before the decision is scanned as it streams upstream: a
// `_method` found there fails the upstream request mid-body (the upstream never gets a whole
// request to run) and the client gets the same 400.

/** Method-override headers: stripped, so `op.http.method` is the method the upstream runs. */
export const METHOD_OVERRIDE = new Set(['x-http-method-override', 'x-http-method', 'x-method-override']);

const PARAM = '_method';
const isParam = (name: string) => name.toLowerCase() === PARAM;

/** Why a `_method` in the query refuses this request, or null. */
export function queryOverride(method: string, rawQuery: string): string | null {
  if (!rawQuery) return null;
  for (const [k, v] of formPairs(rawQuery)) if (isParam(k) && differs(method, v)) return refusal(method, v);
  return null;
}

/** Name/value pairs as the most permissive parser splits them: on `&` and on `;` (Rack < 3). */
function formPairs(text: string): URLSearchParams {
  return new URLSearchParams(text.replace(/;/g, '&'));
}

/**
 * Why a `_method` in a form body refuses this request, or null. `body` is the whole body when
 * `complete` (`chunks` hold what was read); a form body too large to be read before the decision cannot be checked.
 */
export function bodyOverride(
  method: string,
  contentType: string | undefined,
  chunks: readonly Buffer[],
  complete: boolean,
): { status: 400 | 413; detail: string } | null {
  if (contentType === undefined) return null;
  const type = (contentType.split(';', 1)[0] ?? '').trim().toLowerCase();
  if (type !== 'application/x-www-form-urlencoded' && type !== 'multipart/form-data') return null;
  const body = Buffer.concat(chunks);
  if (type === 'application/x-www-form-urlencoded') {
    // Larger bodies are checked as they stream (OverrideScanner).
    if (!complete) return null;
    for (const [k, v] of formPairs(body.toString('utf8')))
      if (isParam(k) && differs(method, v)) return { status: 400, detail: refusal(method, v) };
    return null;
  }
  if (type === 'multipart/form-data') {
    const boundary = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
    const b = boundary?.[1] ?? boundary?.[2];
    if (!b) return { status: 400, detail: 'a multipart body without a boundary' };
    for (const v of multipartValues(body, b))
      if (differs(method, v)) return { status: 400, detail: refusal(method, v) };
  }
  return null;
}

/** The values of the parts named `_method` (any case) in the multipart text read so far. */
function multipartValues(body: Buffer, boundary: string): string[] {
  const text = body.toString('latin1');
  const out: string[] = [];
  for (const part of text.split(`--${boundary}`).slice(1)) {
    const headEnd = part.indexOf('\r\n\r\n');
    if (headEnd === -1) continue;
    const head = part.slice(0, headEnd);
    const disposition = /^content-disposition:(.*)$/im.exec(head)?.[1] ?? '';
    // name="…", name=… or RFC 2231 name*=charset''…: any spelling that a parser might accept.
    const name = /(?:^|;)\s*name\*?\s*=\s*(?:"([^"]*)"|(?:[\w-]*'[\w-]*')?([^;\s]*))/i.exec(disposition);
    const value = name?.[1] ?? decodeURIComponentSafe(name?.[2] ?? '');
    if (isParam(value)) out.push(part.slice(headEnd + 4).replace(/\r\n$/, ''));
  }
  return out;
}

function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

function differs(method: string, value: string): boolean {
  return value.trim().toUpperCase() !== method;
}

function refusal(method: string, value: string): string {
  const shown = value.length > 20 ? `${value.slice(0, 20)}…` : value;
  return `a _method override (${JSON.stringify(shown)}) on a ${method} request is refused: send the method itself`;
}

/** A `_method` found in a streamed form body: the upstream request is failed with it. */
export class OverrideRefused extends Error {}

/** Longest part header block (or form key) looked at; anything longer is refused. */
const MAX_SCAN = 64 * 1024;

/**
 * Scans a form body as it streams for a `_method` naming another method (the same rules as
 * bodyOverride). `push` throws OverrideRefused. Null for bodies that are not forms.
 */
export interface OverrideScan {
  push(chunk: Buffer): void;
  end(): void;
}

export function overrideScanner(method: string, contentType: string | undefined): OverrideScan | null {
  const type = (contentType?.split(';', 1)[0] ?? '').trim().toLowerCase();
  if (type === 'application/x-www-form-urlencoded') return urlencodedScanner(method);
  if (type === 'multipart/form-data') {
    const boundary = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType ?? '');
    const b = boundary?.[1] ?? boundary?.[2];
    if (!b) return null;
    return multipartScanner(method, b);
  }
  return null;
}

function urlencodedScanner(method: string): OverrideScan {
  // Only keys are kept (a `_method` key, spelled any way, is at most a few dozen bytes), and the
  // value of a `_method` key.
  let key = '';
  let inValue = false;
  let capturing = false;
  let value = '';
  const endPair = () => {
    if (!inValue) capturing = isParam(decodeFormPart(key));
    if (capturing && differs(method, decodeFormPart(value))) throw new OverrideRefused(refusal(method, value));
    key = '';
    value = '';
    inValue = false;
    capturing = false;
  };
  const push = (chunk: Buffer) => {
    const text = chunk.toString('latin1');
    for (let i = 0; i < text.length; i++) {
      const c = text[i]!;
      if (c === '&' || c === ';') endPair();
      else if (!inValue && c === '=') {
        inValue = true;
        capturing = isParam(decodeFormPart(key));
      } else if (!inValue) {
        if (key.length < 64) key += c;
      } else if (capturing) {
        if (value.length < 64) value += c;
      }
    }
  };
  return { push, end: endPair };
}

function decodeFormPart(s: string): string {
  return decodeURIComponentSafe(s.replace(/\+/g, ' '));
}

function multipartScanner(method: string, boundary: string): OverrideScan {
  const delimiter = `--${boundary}`;
  let carry = '';
  const push = (chunk: Buffer) => {
    let text = carry + chunk.toString('latin1');
    for (;;) {
      const at = text.indexOf(delimiter);
      if (at === -1) {
        carry = text.slice(-delimiter.length);
        return;
      }
      const afterDelim = at + delimiter.length;
      const headEnd = text.indexOf('\r\n\r\n', afterDelim);
      if (headEnd === -1) {
        if (text.length - at > MAX_SCAN) throw new OverrideRefused('a multipart part header larger than 64 KiB');
        carry = text.slice(at);
        return;
      }
      const head = text.slice(afterDelim, headEnd);
      const disposition = /^\s*content-disposition:(.*)$/im.exec(head)?.[1] ?? '';
      const name = /(?:^|;)\s*name\*?\s*=\s*(?:"([^"]*)"|(?:[\w-]*'[\w-]*')?([^;\s]*))/i.exec(disposition);
      const partName = name?.[1] ?? decodeURIComponentSafe(name?.[2] ?? '');
      if (isParam(partName)) {
        const next = text.indexOf(delimiter, headEnd + 4);
        if (next === -1) {
          if (text.length - at > MAX_SCAN) throw new OverrideRefused(refusal(method, text.slice(headEnd + 4)));
          carry = text.slice(at);
          return;
        }
        const value = text.slice(headEnd + 4, next).replace(/\r\n$/, '');
        if (differs(method, value)) throw new OverrideRefused(refusal(method, value));
      }
      text = text.slice(headEnd + 4);
    }
  };
  return { push, end: () => {} };
}
