// Which masking a response body gets, by its content type, as a Transform that streams: JSON
// (application/json, */*+json, NDJSON) through the core's streaming JSON masker, server-sent
// events per event (each flushed as soon as its blank line arrives), other text through the
// content detectors with the stream hold-back rule. Binary bodies pass untouched.

import { Transform, type TransformCallback } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import type { Masker } from '../../masking/index.js';
import { JsonStreamMasker } from '../../masking/json-stream.js';
import { StreamMasker } from '../../masking/stream.js';

export type BodyKind = 'json' | 'sse' | 'text' | 'binary';

/** Longest SSE event held before it is masked and sent in pieces. */
const MAX_EVENT = 1024 * 1024;

export function bodyKind(contentType: string | undefined): BodyKind {
  if (contentType === undefined || contentType.trim() === '') return 'text'; // unknown: mask as text
  const type = (contentType.split(';', 1)[0] ?? '').trim().toLowerCase();
  if (type === 'text/event-stream') return 'sse';
  if (
    type === 'application/json' ||
    type.endsWith('+json') ||
    type === 'application/x-ndjson' ||
    type === 'application/ndjson' ||
    type === 'application/jsonl' ||
    type === 'application/json-seq'
  )
    return 'json';
  if (
    type.startsWith('text/') ||
    type.endsWith('+xml') ||
    type === 'application/xml' ||
    type === 'application/javascript' ||
    type === 'application/x-www-form-urlencoded' ||
    type === 'application/graphql'
  )
    return 'text';
  return 'binary';
}

/**
 * One body masked piece by piece: `write` each chunk, then `end`; each returns what may go to the
 * client now. The same masker serves the streaming Transform and a body masked whole.
 */
interface ChunkMasker {
  write(chunk: Buffer): Buffer;
  end(): Buffer;
}

const NOTHING = Buffer.alloc(0);

function chunkMasker(kind: BodyKind, masker: Masker): ChunkMasker | null {
  switch (kind) {
    case 'json':
      return jsonMasker(masker);
    case 'sse':
      return sseMasker(masker);
    case 'text':
      return textMasker(masker);
    case 'binary':
      return null;
  }
}

/** The masking Transform for a body of this kind, or null when it passes untouched. */
export function maskingTransform(kind: BodyKind, masker: Masker): Transform | null {
  const m = chunkMasker(kind, masker);
  if (!m) return null;
  return new Transform({
    transform(chunk: Buffer, _enc, cb: TransformCallback) {
      let out: Buffer;
      try {
        out = m.write(chunk);
      } catch (err) {
        cb(err as Error);
        return;
      }
      cb(null, out.length > 0 ? out : undefined);
    },
    flush(cb: TransformCallback) {
      let out: Buffer;
      try {
        out = m.end();
      } catch (err) {
        cb(err as Error);
        return;
      }
      cb(null, out.length > 0 ? out : undefined);
    },
  });
}

/**
 * A body read whole (a small response), masked as the Transform would mask it; the body itself
 * when its kind passes untouched. Throws what the masker throws (a JSON body that is not JSON).
 */
export function maskWhole(kind: BodyKind, masker: Masker, body: Buffer): Buffer {
  const m = chunkMasker(kind, masker);
  if (!m) return body;
  const head = m.write(body);
  const tail = m.end();
  return tail.length === 0 ? head : Buffer.concat([head, tail]);
}

function jsonMasker(masker: Masker): ChunkMasker {
  const m = new JsonStreamMasker(masker);
  return { write: (chunk) => m.push(chunk), end: () => m.end() };
}

function textMasker(masker: Masker): ChunkMasker {
  const decoder = new StringDecoder('utf8');
  const m = new StreamMasker(masker);
  const bytes = (text: string) => (text.length > 0 ? Buffer.from(text, 'utf8') : NOTHING);
  return {
    write: (chunk) => bytes(m.push(decoder.write(chunk))),
    end: () => bytes(m.push(decoder.end()) + m.flush()),
  };
}

/** One SSE event's text (lines up to and including its blank line), masked line by line. */
export function maskSseEvent(masker: Masker, event: string): string {
  return event
    .replace(/^(data:[ ]?)(.*)$/gm, (_all, prefix: string, value: string) => {
      const t = value.trimStart();
      const masked = t.startsWith('{') || t.startsWith('[') ? masker.maskJsonText(value) : masker.maskText(value);
      return prefix + masked;
    })
    .replace(/^(?!data:)([^:\r\n][^\r\n]*)$/gm, (line) => masker.maskText(line));
}

function sseMasker(masker: Masker): ChunkMasker {
  const decoder = new StringDecoder('utf8');
  let held = '';
  return {
    write(chunk) {
      held += decoder.write(chunk);
      let out = '';
      // An event ends at a blank line (\n\n, \r\n\r\n or \r\r).
      for (;;) {
        const end = eventEnd(held);
        if (end === -1) break;
        out += maskSseEvent(masker, held.slice(0, end));
        held = held.slice(end);
      }
      if (held.length > MAX_EVENT) {
        // An event that never ends: mask what is complete in lines and send it.
        const nl = held.lastIndexOf('\n');
        const cut = nl === -1 ? held.length : nl + 1;
        out += maskSseEvent(masker, held.slice(0, cut));
        held = held.slice(cut);
      }
      return out.length > 0 ? Buffer.from(out, 'utf8') : NOTHING;
    },
    end() {
      const out = maskSseEvent(masker, held + decoder.end());
      held = '';
      return out.length > 0 ? Buffer.from(out, 'utf8') : NOTHING;
    },
  };
}

function eventEnd(text: string): number {
  const a = text.indexOf('\n\n');
  const b = text.indexOf('\r\n\r\n');
  const c = text.indexOf('\r\r');
  let best = -1;
  if (a !== -1) best = a + 2;
  if (b !== -1 && (best === -1 || b + 4 < best)) best = b + 4;
  if (c !== -1 && (best === -1 || c + 2 < best)) best = c + 2;
  return best;
}
