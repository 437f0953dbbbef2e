// SFTP (and scp, which OpenSSH 9 runs over SFTP): a `session` `sftp` operation when the
// subsystem opens, then one `file` operation per request that names a path (open → read or
// write, opendir → list, stat/lstat/realpath/readlink → stat, setstat, remove, rename, mkdir,
// rmdir, symlink), decided before the target sees it; a refusal is SFTP's PERMISSION_DENIED with
// the reason. Requests on an opened handle (read, write, fstat, readdir, close) belong to the
// decided open. With masking on, a file opened for reading is read whole (capped), masked and
// served from that copy, so offsets stay consistent with what the client received.
import ssh2, { type FileEntry, type SFTPWrapper, type Stats } from 'ssh2';
import type { FileFacts } from '../../core/types.js';
import type { GatewaySession } from '../../gateway/index.js';
import type { Masker } from '../../masking/index.js';
import type { Upstream } from './upstream.js';

const { STATUS_CODE, OPEN_MODE } = ssh2.utils.sftp;
/** A masked file is served from memory: larger ones are refused rather than sent unmasked. */
const MASKED_READ_LIMIT = 64 * 1024 * 1024;

type Handle = { remote: Buffer; masked: Buffer | null; dir: boolean };

export async function runSftp(
  session: GatewaySession,
  upstream: () => Promise<Upstream>,
  client: SFTPWrapper,
  terminate: (reason: string) => void,
): Promise<void> {
  // Requests that arrive before the subsystem is decided and the target's SFTP is open wait for
  // it (ssh2 answers OP_UNSUPPORTED to a request nobody listens for yet).
  const ready = (async (): Promise<SFTPWrapper | null> => {
    const opened = await session.decide({ kind: 'session', text: 'sftp', session: { event: 'sftp' } });
    if (opened.refusal) {
      if (opened.terminate) terminate(opened.refusal.message);
      return null;
    }
    return (await upstream()).sftp();
  })().catch(() => null);
  let remote!: SFTPWrapper;
  const handles = new Map<string, Handle>();
  let next = 0;
  const newHandle = (h: Handle): Buffer => {
    const id = Buffer.alloc(4);
    id.writeUInt32BE(next++);
    handles.set(id.toString('hex'), h);
    return id;
  };
  const handleOf = (id: Buffer) => handles.get(id.toString('hex'));
  const fail = (req: number, err: unknown) => {
    const code = (err as { code?: number })?.code;
    client.status(req, typeof code === 'number' ? code : STATUS_CODE.FAILURE, (err as Error)?.message ?? 'failed');
  };

  /** Decides one file operation; false (and PERMISSION_DENIED sent) when refused. */
  const allowed = async (req: number, facts: FileFacts): Promise<{ masker: Masker | null } | null> => {
    const text = facts.target ? `${facts.action} ${facts.path} ${facts.target}` : `${facts.action} ${facts.path}`;
    const v = await session.decide({ kind: 'file', text, file: facts });
    if (v.refusal) {
      client.status(req, STATUS_CODE.PERMISSION_DENIED, `warden: ${v.refusal.message}`);
      session.recordResult(v.op.id, { error: v.refusal.message });
      if (v.terminate) terminate(v.refusal.message);
      return null;
    }
    session.recordResult(v.op.id, { status: 0 });
    return { masker: v.masker };
  };
  const file = (action: FileFacts['action'], path: string, target = ''): FileFacts => ({ action, path, target });
  const on = (event: string, f: (...args: never[]) => Promise<void>) =>
    client.on(
      event as never,
      ((...args: never[]) => {
        ready
          .then((r) => {
            if (!r)
              return void client.status(
                args[0] as unknown as number,
                STATUS_CODE.PERMISSION_DENIED,
                'warden: SFTP refused',
              );
            return f(...args);
          })
          .catch((err) => fail(args[0] as unknown as number, err));
      }) as never,
    );

  on('OPEN', async (req: number, path: string, flags: number, attrs: ssh2.InputAttributes) => {
    const writes = (flags & (OPEN_MODE.WRITE | OPEN_MODE.APPEND | OPEN_MODE.CREAT | OPEN_MODE.TRUNC)) !== 0;
    const ok = await allowed(req, file(writes ? 'write' : 'read', path));
    if (!ok) return;
    const h = await call<Buffer>((cb) => remote.open(path, flags as never, attrs, cb));
    let masked: Buffer | null = null;
    if (!writes && ok.masker?.detects) masked = await maskedCopy(remote, h, ok.masker);
    client.handle(req, newHandle({ remote: h, masked, dir: false }));
  });
  on('READ', async (req: number, id: Buffer, offset: number, length: number) => {
    const h = handleOf(id);
    if (!h) return void client.status(req, STATUS_CODE.FAILURE, 'invalid handle');
    if (h.masked) {
      if (offset >= h.masked.length) return void client.status(req, STATUS_CODE.EOF);
      return void client.data(req, h.masked.subarray(offset, offset + length));
    }
    const buf = Buffer.alloc(length);
    const n = await new Promise<number>((res, rej) =>
      remote.read(h.remote, buf, 0, length, offset, (err, bytes) => (err ? rej(err) : res(bytes))),
    );
    if (n === 0) return void client.status(req, STATUS_CODE.EOF);
    client.data(req, buf.subarray(0, n));
  });
  on('WRITE', async (req: number, id: Buffer, offset: number, data: Buffer) => {
    const h = handleOf(id);
    if (!h) return void client.status(req, STATUS_CODE.FAILURE, 'invalid handle');
    await call((cb) => remote.write(h.remote, data, 0, data.length, offset, cb));
    client.status(req, STATUS_CODE.OK);
  });
  on('CLOSE', async (req: number, id: Buffer) => {
    const h = handleOf(id);
    if (!h) return void client.status(req, STATUS_CODE.FAILURE, 'invalid handle');
    handles.delete(id.toString('hex'));
    await call((cb) => remote.close(h.remote, cb));
    client.status(req, STATUS_CODE.OK);
  });
  on('FSTAT', async (req: number, id: Buffer) => {
    const h = handleOf(id);
    if (!h) return void client.status(req, STATUS_CODE.FAILURE, 'invalid handle');
    const st = await call<Stats>((cb) => remote.fstat(h.remote, cb));
    if (h.masked) st.size = h.masked.length;
    client.attrs(req, st);
  });
  on('FSETSTAT', async (req: number, id: Buffer, attrs: ssh2.InputAttributes) => {
    const h = handleOf(id);
    if (!h) return void client.status(req, STATUS_CODE.FAILURE, 'invalid handle');
    await call((cb) => remote.fsetstat(h.remote, attrs, cb));
    client.status(req, STATUS_CODE.OK);
  });
  on('OPENDIR', async (req: number, path: string) => {
    if (!(await allowed(req, file('list', path)))) return;
    const h = await call<Buffer>((cb) => remote.opendir(path, cb));
    client.handle(req, newHandle({ remote: h, masked: null, dir: true }));
  });
  on('READDIR', async (req: number, id: Buffer) => {
    const h = handleOf(id);
    if (!h?.dir) return void client.status(req, STATUS_CODE.FAILURE, 'invalid handle');
    const list = await new Promise<FileEntry[] | false>((res, rej) =>
      remote.readdir(h.remote, (err, l) =>
        err ? ((err as { code?: number }).code === STATUS_CODE.EOF ? res(false) : rej(err)) : res(l),
      ),
    );
    if (list === false || list.length === 0) return void client.status(req, STATUS_CODE.EOF);
    client.name(req, list);
  });
  for (const [event, method] of [
    ['STAT', 'stat'],
    ['LSTAT', 'lstat'],
  ] as const) {
    on(event, async (req: number, path: string) => {
      if (!(await allowed(req, file('stat', path)))) return;
      client.attrs(req, await call<Stats>((cb) => remote[method](path, cb)));
    });
  }
  on('REALPATH', async (req: number, path: string) => {
    if (!(await allowed(req, file('stat', path)))) return;
    const abs = await call<string>((cb) => remote.realpath(path, cb));
    client.name(req, [{ filename: abs, longname: abs, attrs: {} as never }]);
  });
  on('READLINK', async (req: number, path: string) => {
    if (!(await allowed(req, file('stat', path)))) return;
    const to = await call<string>((cb) => remote.readlink(path, cb));
    client.name(req, [{ filename: to, longname: to, attrs: {} as never }]);
  });
  on('SETSTAT', async (req: number, path: string, attrs: ssh2.InputAttributes) => {
    if (!(await allowed(req, file('setstat', path)))) return;
    await call((cb) => remote.setstat(path, attrs, cb));
    client.status(req, STATUS_CODE.OK);
  });
  on('REMOVE', async (req: number, path: string) => {
    if (!(await allowed(req, file('remove', path)))) return;
    await call((cb) => remote.unlink(path, cb));
    client.status(req, STATUS_CODE.OK);
  });
  on('RMDIR', async (req: number, path: string) => {
    if (!(await allowed(req, file('rmdir', path)))) return;
    await call((cb) => remote.rmdir(path, cb));
    client.status(req, STATUS_CODE.OK);
  });
  on('MKDIR', async (req: number, path: string, attrs: ssh2.InputAttributes) => {
    if (!(await allowed(req, file('mkdir', path)))) return;
    await call((cb) => remote.mkdir(path, attrs, cb));
    client.status(req, STATUS_CODE.OK);
  });
  on('RENAME', async (req: number, from: string, to: string) => {
    if (!(await allowed(req, file('rename', from, to)))) return;
    await call((cb) => remote.rename(from, to, cb));
    client.status(req, STATUS_CODE.OK);
  });
  on('SYMLINK', async (req: number, link: string, target: string) => {
    if (!(await allowed(req, file('symlink', link, target)))) return;
    await call((cb) => remote.symlink(target, link, cb));
    client.status(req, STATUS_CODE.OK);
  });
  const r = await ready;
  if (!r) {
    exitStatus(client, 126);
    client.end();
    return;
  }
  remote = r;
  await new Promise<void>((resolve) => {
    client.once('close', resolve);
    client.once('end', resolve);
    remote.once('close', resolve);
  });
  exitStatus(client, 0);
  client.end();
  remote.end();
}

function call<T = void>(f: (cb: (err: Error | null | undefined, value: T) => void) => void): Promise<T> {
  return new Promise((res, rej) => f((err, value) => (err ? rej(err) : res(value))));
}

/** The whole file, masked (a value is never split at a read boundary this way). */
async function maskedCopy(remote: SFTPWrapper, h: Buffer, masker: Masker): Promise<Buffer> {
  const parts: Buffer[] = [];
  let total = 0;
  for (;;) {
    const buf = Buffer.alloc(32 * 1024);
    const n = await new Promise<number>((res, rej) =>
      remote.read(h, buf, 0, buf.length, total, (err, bytes) => (err ? rej(err) : res(bytes))),
    );
    if (n === 0) break;
    parts.push(buf.subarray(0, n));
    total += n;
    if (total > MASKED_READ_LIMIT)
      throw Object.assign(new Error(`warden: masked files are served up to ${MASKED_READ_LIMIT} bytes`), {
        code: STATUS_CODE.PERMISSION_DENIED,
      });
  }
  return Buffer.from(masker.maskText(Buffer.concat(parts).toString('utf8')), 'utf8');
}

/**
 * The subsystem's exit status, as sshd sends it (ssh, and so scp, exits 1 without one). ssh2's
 * SFTP server object has no public call for it: its channel's protocol does.
 */
function exitStatus(sftp: SFTPWrapper, status: number): void {
  const s = sftp as unknown as {
    _protocol?: { exitStatus(id: number, status: number): void };
    outgoing?: { id: number; state: string };
  };
  if (s._protocol && s.outgoing?.state === 'open') s._protocol.exitStatus(s.outgoing.id, status);
}
