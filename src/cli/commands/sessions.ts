import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { displayText as t } from '../../core/display-text.js';
import { formatTimeline, readRecording, replayAsciicast } from '../../recording/index.js';
import { ApiClient, type ClientOptions } from '../client.js';
import { withClient } from '../options.js';
import { table } from '../table.js';

interface SessionRow {
  id: string;
  connection: string;
  connectionType: string;
  sub: string;
  startedAt: number;
  endedAt: number | null;
  format: string;
  operations: number;
  endReason: string | null;
}

export function registerSessions(program: Command): void {
  const sessions = program.command('sessions').description('recorded sessions');
  withClient(
    sessions
      .command('list', { isDefault: true })
      .description('list recent sessions')
      .option('--limit <n>', 'how many', '50'),
  ).action(async (opts: ClientOptions & { limit: string }) => {
    const api = ApiClient.from(opts);
    const { sessions: rows } = await api.request<{ sessions: SessionRow[] }>(
      'GET',
      `/api/v1/sessions?limit=${Number(opts.limit) || 50}`,
    );
    if (opts.json) return void process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
    process.stdout.write(
      table(
        ['ID', 'CONNECTION', 'WHO', 'STARTED', 'OPS', 'ENDED'],
        rows.map((s) => [
          s.id,
          `${s.connection} (${s.connectionType})`,
          s.sub,
          new Date(s.startedAt).toISOString(),
          String(s.operations),
          s.endedAt ? (s.endReason ?? 'ended') : 'open',
        ]),
      ),
    );
  });
  withClient(sessions.command('show').description('show one session and its timeline').argument('<id>')).action(
    async (id: string, opts: ClientOptions) => {
      const api = ApiClient.from(opts);
      const { session } = await api.request<{ session: SessionRow }>(
        'GET',
        `/api/v1/sessions/${encodeURIComponent(id)}`,
      );
      if (opts.json) return void process.stdout.write(`${JSON.stringify(session, null, 2)}\n`);
      process.stdout.write(
        [
          `session ${t(session.id)}`,
          `  connection ${t(session.connection)} (${t(session.connectionType)})`,
          `  who        ${t(session.sub)}`,
          `  started    ${new Date(session.startedAt).toISOString()}`,
          `  ended      ${session.endedAt ? `${new Date(session.endedAt).toISOString()} (${t(session.endReason ?? '')})` : 'open'}`,
          `  operations ${session.operations}`,
          `  format     ${t(session.format)}`,
          '',
        ].join('\n'),
      );
    },
  );

  withClient(
    program
      .command('replay')
      .description('play a recorded session: terminal sessions in the terminal, query sessions as a timeline')
      .argument('<id>')
      .option('--speed <x>', 'playback speed', '1')
      .option('--max-idle <seconds>', 'cap pauses between events', '2'),
  ).action(async (id: string, opts: ClientOptions & { speed: string; maxIdle: string }) => {
    const api = ApiClient.from(opts);
    const { session } = await api.request<{ session: SessionRow }>('GET', `/api/v1/sessions/${encodeURIComponent(id)}`);
    const res = await api.raw('GET', `/api/v1/sessions/${encodeURIComponent(id)}/recording`);
    if (!res.ok) return void (await api.request('GET', `/api/v1/sessions/${encodeURIComponent(id)}/recording`));
    const dir = await mkdtemp(join(tmpdir(), 'warden-replay-'));
    try {
      const path = join(dir, session.format === 'asciicast' ? 'session.cast' : 'session.jsonl');
      await writeFile(path, Buffer.from(await res.arrayBuffer()));
      if (session.format === 'asciicast') {
        await replayAsciicast(path, process.stdout, {
          speed: Number(opts.speed) || 1,
          maxIdle: Number(opts.maxIdle) || 2,
        });
      } else {
        const rec = await readRecording(path);
        // One line per event; the recorded texts are escaped (an asciicast replay above is a
        // terminal recording: its control sequences are the content, replayed as recorded).
        if (rec.format === 'jsonl') process.stdout.write(formatTimeline(rec.events).split('\n').map(t).join('\n'));
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
}
