// GET a small JSON document (discovery, JWKS) with a timeout and a size cap, so a slow or
// hostile endpoint cannot stall verification or exhaust memory.
const MAX_BYTES = 512 * 1024;

export async function fetchJson(url: string, timeoutMs: number): Promise<unknown> {
  const res = await fetch(url, {
    headers: { accept: 'application/json' },
    signal: AbortSignal.timeout(timeoutMs),
  });
  if (!res.ok) {
    await res.body?.cancel();
    throw new Error(`HTTP ${res.status} from ${url}`);
  }
  const text = await readCapped(res, url);
  try {
    return JSON.parse(text);
  } catch {
    throw new Error(`response from ${url} is not JSON`);
  }
}

async function readCapped(res: Response, url: string): Promise<string> {
  if (!res.body) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of res.body) {
    size += chunk.byteLength;
    // Throwing out of the loop cancels the stream.
    if (size > MAX_BYTES) throw new Error(`response from ${url} is larger than ${MAX_BYTES} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}
