// One output stream of a command (stdout, stderr) on its way to the client: masked when the
// verdict says so (a value split across chunks is still caught: StreamMasker holds a bounded
// window), and the first bytes of what the client got kept for the recording.
import { StringDecoder } from 'node:string_decoder';
import type { Masker } from '../../masking/index.js';
import { StreamMasker } from '../../masking/stream.js';

/** Bytes of each stream kept in the recording. */
export const RECORDED_OUTPUT_BYTES = 64 * 1024;

export class CommandOutput {
  private readonly stream: StreamMasker | null;
  private readonly decoder = new StringDecoder('utf8');
  private kept: Buffer[] = [];
  private keptBytes = 0;
  /** Bytes the client was sent. */
  sent = 0;
  truncated = false;

  constructor(
    masker: Masker | null,
    private readonly write: (chunk: Buffer) => boolean,
  ) {
    this.stream = masker?.detects ? new StreamMasker(masker) : null;
  }

  /** Passes one chunk on; false when the client's window is full (pause the source). */
  push(chunk: Buffer): boolean {
    if (!this.stream) return this.send(chunk);
    const text = this.stream.push(this.decoder.write(chunk));
    return text.length === 0 ? true : this.send(Buffer.from(text, 'utf8'));
  }

  /** The held tail, masked, at the end of the stream. */
  end(): void {
    if (!this.stream) return;
    const text = this.stream.push(this.decoder.end()) + this.stream.flush();
    if (text.length > 0) this.send(Buffer.from(text, 'utf8'));
  }

  /** What the client received, capped, as text for the recording. */
  recorded(): string {
    return Buffer.concat(this.kept).toString('utf8');
  }

  private send(chunk: Buffer): boolean {
    this.sent += chunk.length;
    if (this.keptBytes < RECORDED_OUTPUT_BYTES) {
      const part = chunk.subarray(0, RECORDED_OUTPUT_BYTES - this.keptBytes);
      this.kept.push(Buffer.from(part));
      this.keptBytes += part.length;
      if (part.length < chunk.length) this.truncated = true;
    } else this.truncated = true;
    return this.write(chunk);
  }
}
