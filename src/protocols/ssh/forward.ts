// `direct-tcpip` (ssh -L): a `session` `port-forward` operation with `detail` host:port, decided
// before the target opens the connection; a refusal is the SSH channel-open failure
// ("administratively prohibited"), the session stays usable. Bytes are relayed as they are.
import type { ServerChannel, TcpipRequestInfo } from 'ssh2';
import type { GatewaySession } from '../../gateway/index.js';
import type { Upstream } from './upstream.js';

export async function runForward(
  session: GatewaySession,
  upstream: () => Promise<Upstream>,
  info: TcpipRequestInfo,
  accept: () => ServerChannel,
  reject: () => void,
  terminate: (reason: string) => void,
): Promise<void> {
  const detail = `${info.destIP}:${info.destPort}`;
  const verdict = await session.decide({
    kind: 'session',
    text: `port-forward ${detail}`,
    session: { event: 'port-forward', detail },
  });
  if (verdict.refusal) {
    reject();
    session.recordResult(verdict.op.id, { error: verdict.refusal.message });
    if (verdict.terminate) terminate(verdict.refusal.message);
    return;
  }
  let remote: Awaited<ReturnType<Upstream['forward']>>;
  try {
    remote = await (await upstream()).forward(info);
  } catch (err) {
    reject();
    session.recordResult(verdict.op.id, { error: (err as Error).message });
    return;
  }
  const local = accept();
  local.pipe(remote).pipe(local);
  let bytes = 0;
  remote.on('data', (d: Buffer) => {
    bytes += d.length;
  });
  await new Promise<void>((resolve) => {
    remote.once('close', resolve);
    local.once('close', resolve);
  });
  remote.destroy();
  local.destroy();
  session.recordResult(verdict.op.id, { bytes });
}
