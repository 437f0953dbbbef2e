// Key files the gateway generates into dataDir on first use (SSH host key, SSH user CA, audit
// checkpoint key). Created atomically — written to a private temporary file, then hard-linked
// into place, which fails if the name exists — so a reader never sees a half-written key (a
// `wx` write creates the file empty first: a concurrent reader got an unparsable key and the SSH
// front door refused every connection), and two processes on one dataDir keep the first key.
import { randomBytes } from 'node:crypto';
import { link, mkdir, readFile, unlink, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

/** The file's text; when it does not exist, `generate()`'s files are created first (the first is `path`). */
export async function readOrCreateKeyFile(
  path: string,
  generate: () => { path: string; text: string; mode: number }[],
): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  for (const f of generate()) await createOnce(f.path, f.text, f.mode);
  return readFile(path, 'utf8');
}

/** Creates `path` with `text` unless it exists; never replaces it, never shows it partly written. */
export async function createOnce(path: string, text: string, mode: number): Promise<boolean> {
  const tmp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  await writeFile(tmp, text, { mode, flag: 'wx' });
  try {
    await link(tmp, path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    await unlink(tmp).catch(() => {});
  }
}
