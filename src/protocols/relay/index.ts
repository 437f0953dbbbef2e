// Protocol-neutral relay parts every adapter reuses: a pump that handles one direction's messages
// in order (waiting on a decision pauses the source), frames coalesced on their way out with
// backpressure onto the stream that feeds them, and pausing a stream for several reasons at once.
export { Flow, PAUSE_BACKPRESSURE, PAUSE_DECIDING, PAUSE_READ_AHEAD } from './flow.js';
export { OutBuffer } from './out-buffer.js';
export { Outbound } from './outbound.js';
export { type FrameReader, Pump } from './pump.js';
export { writeAll } from './write-all.js';
