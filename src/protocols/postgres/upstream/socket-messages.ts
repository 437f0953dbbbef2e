// Awaitable message source over a socket, for the few request/response exchanges Warden itself
// drives (handshake, catalog queries). The proxy's data path does not use this: it pushes chunks
// into a MessageReader directly.
import type { Socket } from 'node:net';
import type { MessageReader } from '../wire/index.js';
import { UpstreamError } from './errors.js';

export class SocketMessages {
  private waiter: { resolve: () => void; reject: (e: Error) => void } | null = null;
  private failure: Error | null = null;

  constructor(
    private readonly socket: Socket,
    private readonly reader: MessageReader,
  ) {
    socket.on('data', this.onData);
    socket.on('error', this.onError);
    socket.on('close', this.onClose);
    socket.resume();
  }

  private readonly onData = (chunk: Buffer): void => {
    this.reader.push(chunk);
    const w = this.waiter;
    this.waiter = null;
    w?.resolve();
  };

  private readonly onError = (err: Error): void => {
    this.failWith(new UpstreamError('connection-closed', `upstream connection failed: ${err.message}`, { cause: err }));
  };

  private readonly onClose = (): void => {
    this.failWith(new UpstreamError('connection-closed', 'upstream connection closed'));
  };

  private failWith(e: Error): void {
    this.failure ??= e;
    const w = this.waiter;
    this.waiter = null;
    w?.reject(this.failure);
  }

  /** The next complete message (the reader, positioned on it). */
  async next(): Promise<MessageReader> {
    for (;;) {
      if (this.reader.next()) return this.reader;
      if (this.failure) throw this.failure;
      await new Promise<void>((resolve, reject) => {
        this.waiter = { resolve, reject };
      });
    }
  }

  /** Stop listening and pause the socket; unread bytes stay in the reader. */
  detach(): void {
    this.socket.pause();
    this.socket.off('data', this.onData);
    this.socket.off('error', this.onError);
    this.socket.off('close', this.onClose);
    const w = this.waiter;
    this.waiter = null;
    w?.reject(new UpstreamError('connection-closed', 'message source detached'));
  }
}
