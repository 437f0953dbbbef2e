// Protocol-neutral relay parts every adapter reuses: pausing a socket for several reasons at
// once (backpressure, a pending decision, read-ahead), coalescing small frames into one write.
export { Flow, PAUSE_BACKPRESSURE, PAUSE_DECIDING, PAUSE_READ_AHEAD } from './flow.js';
export { OutBuffer } from './out-buffer.js';
export { writeAll } from './write-all.js';
