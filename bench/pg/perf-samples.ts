// Reading `perf script -F tid,ip,sym` output of the gateway (after `perf inject --jit`, so JIT
// frames are named `JS:*fn file:line`) into where its CPU goes. Two views of the same samples:
// - by kind: what the sampled instruction was (kernel network / file / other, JIT code, V8's
//   builtins and runtime, JSON.stringify, GC, malloc, SQLite, other threads);
// - by owner: the nearest JavaScript frame's module, natives and kernel time under it included
//   (so a socket write's kernel time counts for the code that wrote).

export interface Sample {
  tid: number;
  /** Leaf first. */
  frames: string[];
  /** With `-F tid,time,event,trace,…`: when (s), which event, and a tracepoint's fields. */
  at?: number;
  event?: string;
  trace?: string;
}

export function parsePerfScript(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const block of text.split('\n\n')) {
    const lines = block.split('\n').filter((l) => l.trim() !== '');
    if (lines.length < 2) continue;
    // "27727  9484.129428: sched:sched_waking: comm=postgres pid=…", or just "27727".
    const head = /^\s*(\d+)(?:\s+([\d.]+):\s+(\S+):(?:\s+(.*))?)?\s*$/.exec(lines[0]!);
    if (!head) continue;
    // "\t  7fd597eec59c JS:~tryReadStart node:net:701:22": address, then the symbol.
    const frames = lines.slice(1).map((l) => l.trim().replace(/^[0-9a-f]+ /, ''));
    const sample: Sample = { tid: Number(head[1]), frames };
    if (head[2] !== undefined) {
      sample.at = Number(head[2]);
      sample.event = head[3]!;
      sample.trace = head[4] ?? '';
    }
    samples.push(sample);
  }
  return samples;
}

/**
 * The main thread's CPU samples split by where they fall in their run slice (from one switch-in
 * to the next switch-out, with `sched:sched_waking` and `sched:sched_switch` recorded beside
 * `cpu-clock`): before the slice's first wake-up of another process (a write that wakes
 * PostgreSQL or the client — the samples on the request's path), after it (work that overlaps
 * the other processes' own), or in a slice that woke no one (the peer was awake already, or the
 * slice ran timers only: on the path or not, the trace cannot tell). Tracepoint records are
 * dropped from the result; `other` holds the other threads' samples.
 */
export function slicePhases(
  samples: readonly Sample[],
  main: number,
  wakes: (trace: string) => boolean,
): { before: Sample[]; after: Sample[]; unwoken: Sample[]; other: Sample[] } {
  const before: Sample[] = [];
  const after: Sample[] = [];
  const unwoken: Sample[] = [];
  const other: Sample[] = [];
  let slice: Sample[] = [];
  let wokeAt = -1;
  const endSlice = () => {
    if (wokeAt < 0) unwoken.push(...slice);
    else {
      before.push(...slice.slice(0, wokeAt));
      after.push(...slice.slice(wokeAt));
    }
    slice = [];
    wokeAt = -1;
  };
  for (const s of [...samples].sort((a, b) => (a.at ?? 0) - (b.at ?? 0))) {
    if (s.tid !== main) {
      if (!s.event?.startsWith('sched:')) other.push(s);
      continue;
    }
    if (s.event === 'sched:sched_switch') endSlice();
    else if (s.event === 'sched:sched_waking') {
      if (wokeAt < 0 && wakes(s.trace ?? '')) wokeAt = slice.length;
    } else slice.push(s);
  }
  endSlice();
  return { before, after, unwoken, other };
}

/** The thread with the most samples: the event loop. */
export function mainThread(samples: readonly Sample[]): number {
  const counts = new Map<number, number>();
  for (const s of samples) counts.set(s.tid, (counts.get(s.tid) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1])[0]?.[0] ?? -1;
}

const isJs = (f: string) => f.startsWith('JS:') || f.startsWith('RegExp:');
const KERNEL_NET = /tcp_|sock_|inet_|ip_(?:output|rcv|queue|local|finish)|net_rx|__dev_queue|skb_/;
const KERNEL_FILE = /ext4_|filemap|folio|generic_perform_write|__x64_sys_pwrite|fsync/;

export function kindOf(s: Sample, main: number): string {
  if (s.tid !== main) return 'other threads (GC, compiler)';
  const leaf = s.frames[0] ?? '';
  if (isJs(leaf)) return 'JIT-compiled JavaScript';
  const js = s.frames.findIndex(isJs);
  // The native frames between the sample and the JavaScript that led to it.
  const above = s.frames.slice(0, js < 0 ? s.frames.length : js).join(' ');
  if (/Scavenge|MarkCompact|Heap::Collect|Sweeper/.test(above)) return 'GC (main thread)';
  if (above.includes('JsonStringif')) return 'JSON.stringify';
  if (/sqlite3|better_sqlite|Statement::|Binder::|Data::Bind/.test(above) && !KERNEL_FILE.test(above)) return 'SQLite';
  if (/^(?:__libc_)?(?:malloc|calloc|realloc|free|cfree|_int_|unlink_chunk|malloc_consolidate)/.test(leaf))
    return 'malloc/free';
  if (KERNEL_NET.test(above)) return 'kernel: sockets';
  if (KERNEL_FILE.test(above)) return 'kernel: files';
  if (/epoll|do_syscall|entry_SYSCALL|syscall_exit|__schedule|finish_task_switch|futex/.test(above))
    return 'kernel: syscalls, scheduling';
  if (leaf.startsWith('Builtins_') || leaf.startsWith('Builtin:')) return 'V8 builtins (ICs, calls, strings…)';
  if (leaf.startsWith('v8::')) return 'V8 runtime (strings, objects…)';
  if (/^(?:node::|uv_|uv__)/.test(leaf)) return 'Node.js C++, libuv';
  return 'other native';
}

/** The module that owns a sample: its nearest JavaScript frame's file, shortened. */
export function ownerOf(s: Sample, main: number): string {
  if (s.tid !== main) return 'other threads';
  const js = s.frames.find(isJs);
  if (!js)
    return s.frames.some((f) => f.includes('uv__io_poll'))
      ? 'event loop: reads, epoll (no JS frame)'
      : 'native (no JS frame)';
  if (js.startsWith('RegExp:')) return 'regular expressions';
  const pkg = js.match(/node_modules\/((?:@[^/]+\/)?[^/]+)/);
  if (pkg) return pkg[1]!;
  const src = js.match(/\/src\/([a-z-]+\/(?:[a-z-]+\/)?)/);
  if (src) return `src/${src[1]!.replace(/\/$/, '')}`;
  const core = js.match(/node:(?:internal\/)?([a-z_]+)/);
  return core ? `node: ${core[1]}` : 'other JavaScript';
}

/** Shares (0–1) of the samples per key, largest first. */
/** The function that owns a sample: its nearest JavaScript frame, path shortened to `src/…`. */
export function functionOf(s: Sample, main: number): string {
  if (s.tid !== main) return 'other threads';
  const js = s.frames.find(isJs);
  if (!js) return '(no JavaScript frame)';
  // "JS:*writeEvent file:///tmp/warden-bench-gw-x/js/src/recording/recorder.js:215:15"
  return js
    .replace(/^JS:[*~^]?/, '')
    .replace(/file:\/\/\S*?\/(src|node_modules)\//, '$1/')
    .replace(/:\d+$/, '');
}

export function shares(samples: readonly Sample[], keyOf: (s: Sample) => string): [string, number][] {
  const counts = new Map<string, number>();
  for (const s of samples) {
    const k = keyOf(s);
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  return [...counts].map(([k, c]): [string, number] => [k, c / samples.length]).sort((a, b) => b[1] - a[1]);
}
