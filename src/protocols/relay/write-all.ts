import type { Duplex } from 'node:stream';

/** Write frames in order, corked into one syscall; false when the socket asks to wait for 'drain'. */
export function writeAll(socket: Duplex, frames: Buffer[]): boolean {
  if (frames.length === 1) return socket.write(frames[0]!);
  socket.cork();
  let ok = true;
  for (const b of frames) ok = socket.write(b);
  socket.uncork();
  return ok;
}
