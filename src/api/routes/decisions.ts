// What the review and access-request routes share: one factory for the decision routes
// (`POST /<items>/:id/approve|deny|revoke`), the `?state=` filter and duration parsing.
// Refusals come from the workflow as problems: 404 for an item the caller cannot see, 403 for an
// ineligible decider, 409 WARDEN_ALREADY_DECIDED for an item no longer pending.
import type { FastifyInstance } from 'fastify';
import type { Actor } from '../../approvals/index.js';
import { parseDuration } from '../../core/duration.js';
import { WardenError } from '../../core/errors.js';
import { idParams, responses, wrap } from '../schemas.js';

export type DecisionVerb = 'approve' | 'deny' | 'revoke';

export interface DecisionRoutes<T> {
  /** Collection path: `/reviews`, `/access-requests`. */
  path: string;
  tag: string;
  /** Response key and schema of one item: `review` and `Review#`. */
  key: string;
  schemaRef: string;
  /** The item with its article, for summaries: `a review`. */
  noun: string;
  /** The workflow action behind each verb offered. */
  verbs: Partial<Record<DecisionVerb, (id: string, actor: Actor, reason?: string) => Promise<T>>>;
}

const SUMMARIES: Record<DecisionVerb, (noun: string) => string> = {
  approve: (noun) => `Approve ${noun} (not your own); 404 for one you cannot see, 409 once decided`,
  deny: (noun) => `Deny ${noun}; 404 for one you cannot see, 409 once decided`,
  revoke: (noun) => `Revoke ${noun} that was granted (its grantee, approvers, admins); 404 for one you cannot see`,
};

const reasonBody = {
  type: 'object',
  properties: { reason: { type: 'string', maxLength: 1000 } },
  additionalProperties: false,
} as const;

export function registerDecisionRoutes<T>(app: FastifyInstance, spec: DecisionRoutes<T>): void {
  for (const verb of Object.keys(SUMMARIES) as DecisionVerb[]) {
    const act = spec.verbs[verb];
    if (!act) continue;
    app.post<{ Params: { id: string }; Body: { reason?: string } | undefined }>(
      `${spec.path}/:id/${verb}`,
      {
        schema: {
          summary: SUMMARIES[verb](spec.noun),
          tags: [spec.tag],
          params: idParams,
          body: reasonBody,
          response: responses({ 200: wrap(spec.key, { $ref: spec.schemaRef }) }),
        },
      },
      async (req) => ({ [spec.key]: await act(req.params.id, req.identity!, req.body?.reason) }),
    );
  }
}

/** `?state=`: one of `states`, or `all` (undefined). */
export function stateFilter<S extends string>(text: string, states: readonly S[], noun: string): S | undefined {
  if (text === 'all') return undefined;
  if ((states as readonly string[]).includes(text)) return text as S;
  throw new WardenError('WARDEN_USAGE', `unknown ${noun} state '${text}' (expected ${states.join(', ')} or all)`);
}

/** `30m`, `2h`, …; a usage error naming the parameter and an example otherwise. */
export function durationParam(text: string, what: string, example: string): number {
  try {
    return parseDuration(text);
  } catch {
    throw new WardenError('WARDEN_USAGE', `invalid ${what} '${text}' (expected e.g. ${example})`);
  }
}
