// The demo folder: one running demo per folder (PGlite's files must not be opened twice), and the
// embedded target's password, generated once and kept there (0600).
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { WardenError } from '../core/errors.js';

export const PID_FILE = 'demo.pid';
export const PASSWORD_FILE = 'target-password';

/** Create the folder (emptied first with `reset`) and claim it for this process. */
export async function claimFolder(dir: string, reset: boolean): Promise<() => Promise<void>> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const pidFile = join(dir, PID_FILE);
  const other = await runningOwner(pidFile);
  if (other !== null) {
    throw new WardenError(
      'WARDEN_USAGE',
      `another warden demo (pid ${other}) is using ${dir}; stop it or choose another folder with --dir`,
    );
  }
  if (reset) {
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true, mode: 0o700 });
  }
  await writeFile(pidFile, `${process.pid}\n`);
  return async () => {
    if ((await readFile(pidFile, 'utf8').catch(() => '')).trim() === String(process.pid))
      await rm(pidFile, { force: true });
  };
}

async function runningOwner(pidFile: string): Promise<number | null> {
  const pid = Number((await readFile(pidFile, 'utf8').catch(() => '')).trim());
  if (!Number.isSafeInteger(pid) || pid <= 0 || pid === process.pid) return null;
  try {
    process.kill(pid, 0);
    return pid;
  } catch (err) {
    // EPERM: it exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM' ? pid : null;
  }
}

/** The target's password: read from the folder, or generated on first use. */
export async function targetPassword(dir: string): Promise<string> {
  const file = join(dir, PASSWORD_FILE);
  const existing = (await readFile(file, 'utf8').catch(() => '')).trim();
  if (existing) return existing;
  const password = randomBytes(24).toString('base64url');
  await writeFile(file, `${password}\n`, { mode: 0o600 });
  return password;
}
