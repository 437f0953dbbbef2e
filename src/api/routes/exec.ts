import type { FastifyInstance } from 'fastify';
import type { Gateway } from '../../gateway/index.js';
import { execRunner } from '../exec/index.js';
import { responses } from '../schemas.js';

interface ExecBody {
  connection: string;
  input: string;
  maxRows?: number;
}

const DEFAULT_MAX_ROWS = 1000;

/**
 * One operation through the pipeline, served in-process by the connection's engine as the
 * caller (one recorded session per call), so the answer is the one its native client would get.
 */
export function registerExecRoutes(app: FastifyInstance, gw: Gateway): void {
  app.post<{ Body: ExecBody }>(
    '/exec',
    {
      schema: {
        summary: 'Run one operation (SQL, an HTTP request or a shell command, by connection type) through the pipeline',
        description:
          "The operation is decided, masked, recorded and audited exactly as through the connection's native front door " +
          '(postgres: SQL text; http: `METHOD /path?query [body]`; ssh: a command line, with stdout, stderr and exitStatus). ' +
          'A refusal is a 200 result with outcome blocked or review (review: approve it, then send the same input again).',
        tags: ['exec'],
        body: {
          type: 'object',
          required: ['connection', 'input'],
          additionalProperties: false,
          properties: {
            connection: { type: 'string', minLength: 1, maxLength: 200 },
            input: {
              type: 'string',
              minLength: 1,
              maxLength: 1_000_000,
              description:
                'postgres: SQL, several statements separated by ;. http: METHOD /path?query [body]. ssh: a command line',
            },
            maxRows: {
              type: 'integer',
              minimum: 1,
              maximum: 100_000,
              default: DEFAULT_MAX_ROWS,
              description: 'rows returned per statement',
            },
          },
        },
        response: responses({ 200: { $ref: 'ExecResult#' } }),
      },
    },
    async (req) => {
      const identity = req.identity!;
      const { connection, input } = req.body;
      const maxRows = req.body.maxRows ?? DEFAULT_MAX_ROWS;
      return execRunner(gw, connection)(gw, identity, { connection, input, maxRows });
    },
  );
}
