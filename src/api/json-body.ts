// JSON request bodies: nesting is capped before JSON.parse runs, so an authenticated caller
// cannot make the parser (and the event loop every front door shares) recurse through a
// megabyte of `[[[[…`. Everything else is Fastify's own parser (prototype-poisoning checks).
import type { FastifyInstance, FastifyRequest } from 'fastify';

export const MAX_JSON_DEPTH = 64;

/** Deepest `[`/`{` nesting outside strings; stops counting once past `limit`. */
export function jsonDepthExceeds(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > limit) return true;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return false;
}

class JsonTooDeepError extends Error {
  readonly statusCode = 400;
  constructor(limit: number) {
    super(`the JSON body is nested deeper than ${limit} levels`);
  }
}

export function useDepthLimitedJson(app: FastifyInstance, limit = MAX_JSON_DEPTH): void {
  const parse = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser(
    'application/json',
    { parseAs: 'string' },
    (req: FastifyRequest, body: string | Buffer, done: (err: Error | null, body?: unknown) => void) => {
      const text = typeof body === 'string' ? body : body.toString('utf8');
      if (jsonDepthExceeds(text, limit)) return done(new JsonTooDeepError(limit));
      return parse(req, text, done);
    },
  );
}
