/** One line of a JSON-lines (query/request) recording. */
export interface RecordedEvent {
  /** Seconds since the session started. */
  t: number;
  /** Epoch milliseconds. */
  at: number;
  type?: string;
  [key: string]: unknown;
}

export interface AsciicastHeader {
  version: 2;
  width: number;
  height: number;
  /** Unix seconds. */
  timestamp?: number;
  title?: string;
  [key: string]: unknown;
}

/** `[seconds, code, data]`: o output, i input, r resize ("WxH"), m marker. */
export type AsciicastEvent = [number, 'o' | 'i' | 'r' | 'm', string];

export type Recording =
  | { format: 'asciicast'; header: AsciicastHeader; events: AsciicastEvent[]; truncated: boolean }
  | { format: 'jsonl'; events: RecordedEvent[]; truncated: boolean };

export interface RecordingMeta {
  session: string;
  connection: string;
  connectionType: string;
  /** With `sub`, the principal the session belongs to. */
  issuer: string;
  sub: string;
  groups: string[];
  /** `deferred`: chosen later with SessionRecording.begin (the file and row wait for it). */
  format: 'jsonl' | 'asciicast' | 'deferred';
  width?: number;
  height?: number;
}
