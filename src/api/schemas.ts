// JSON schemas shared by the /api/v1 routes. They validate input, serialize output and are the
// source of the OpenAPI document (registered with `addSchema`, so they appear as components).
// Objects allow additional properties so a field added in the store never gets dropped by the
// serializer; the declared ones are the contract.

import { protocols } from '../protocols/registry.js';

const str = { type: 'string' } as const;
const strs = { type: 'array', items: str } as const;
const num = { type: 'number' } as const;
const numOrNull = { type: ['number', 'null'] } as const;
const strOrNull = { type: ['string', 'null'] } as const;
const approvers = {
  type: 'object',
  properties: { groups: strs, count: { type: 'integer' } },
  required: ['groups', 'count'],
} as const;
// A principal is (issuer, sub); issuer '' = unknown (stored before issuers were recorded).
const approval = {
  type: 'object',
  properties: { issuer: str, sub: str, at: num, reason: str },
  required: ['sub', 'at'],
} as const;

export const SCHEMAS = [
  {
    $id: 'Problem',
    description: 'RFC 9457 problem details, with Warden’s stable error code',
    type: 'object',
    properties: { type: str, title: str, status: { type: 'integer' }, detail: str, code: str },
    required: ['type', 'title', 'status', 'detail'],
    additionalProperties: true,
  },
  {
    $id: 'Connection',
    type: 'object',
    properties: {
      name: str,
      type: { type: 'string', enum: protocols().map((p) => p.name) },
      access: {
        type: 'string',
        enum: ['granted', 'jit-requestable'],
        description: 'jit-requestable: request access first',
      },
    },
    required: ['name', 'type', 'access'],
  },
  {
    $id: 'StatementResult',
    type: 'object',
    properties: {
      command: { type: 'string', description: 'the command tag (SELECT, INSERT, …)' },
      columns: strs,
      rows: {
        type: 'array',
        items: { type: 'array', items: {} },
        description: 'rows as arrays, masked where the policy says so',
      },
      rowCount: { type: 'integer', description: 'true row count, even when rows was capped' },
      truncated: { type: 'boolean' },
    },
    required: ['command', 'rowCount'],
  },
  {
    $id: 'ExecResult',
    description: 'The outcome of one operation. A refusal is a result, not an API error.',
    type: 'object',
    properties: {
      outcome: { type: 'string', enum: ['ok', 'blocked', 'review', 'error'] },
      effect: { type: 'string', enum: ['allow', 'mask', 'review', 'block'] },
      rules: strs,
      operation: { type: 'string', description: 'the operation id, as in its audit entry (data.op)' },
      message: { type: 'string', description: 'the refusal or target error, one line' },
      reviewId: {
        type: 'string',
        description:
          'when outcome is review: approve it, then send the same operation again; when ok: the approved review it ran under',
      },
      approvers,
      sqlstate: str,
      sessionEnded: { type: 'boolean' },
      session: { type: 'string', description: 'the recorded session this operation belongs to' },
      results: { type: 'array', items: { $ref: 'StatementResult#' } },
      status: { type: 'integer', description: 'HTTP connections: the response status the client got' },
      headers: { type: 'object', additionalProperties: { type: 'string' }, description: 'HTTP: response headers' },
      body: { type: 'string', description: 'HTTP: the response body as the client got it (masked), up to 1 MiB' },
      truncated: {
        type: 'boolean',
        description: 'HTTP: the body was longer than returned; SSH: the output was (the command was stopped)',
      },
      exitStatus: {
        type: ['integer', 'null'],
        description:
          'SSH connections: the exit status (126 when refused); null when it ended by a signal or was stopped',
      },
      signal: { type: 'string', description: 'SSH: the signal that ended the command' },
      stdout: { type: 'string', description: 'SSH: standard output as the client got it (masked), up to 1 MiB' },
      stderr: { type: 'string', description: 'SSH: standard error as the client got it (masked), up to 1 MiB' },
    },
    required: ['outcome', 'effect', 'rules'],
  },
  {
    $id: 'Review',
    type: 'object',
    additionalProperties: true,
    properties: {
      id: str,
      state: { type: 'string', enum: ['pending', 'approved', 'denied', 'expired', 'executed'] },
      requester: {
        type: 'object',
        properties: { issuer: str, sub: str, groups: strs },
        required: ['sub', 'groups'],
      },
      connection: str,
      kind: str,
      text: str,
      normalized: str,
      opHash: str,
      params: {},
      rules: strs,
      reasons: { type: 'array', items: {} },
      approversRequired: approvers,
      approvals: { type: 'array', items: approval },
      usesLeft: { type: 'integer' },
      createdAt: num,
      decidedAt: numOrNull,
      expiresAt: num,
    },
    required: ['id', 'state', 'requester', 'connection', 'kind', 'text', 'approversRequired', 'approvals', 'createdAt'],
  },
  {
    $id: 'AccessRequest',
    type: 'object',
    additionalProperties: true,
    properties: {
      id: str,
      issuer: str,
      sub: str,
      groups: strs,
      connection: str,
      reason: str,
      durationMs: { type: 'integer' },
      state: { type: 'string', enum: ['pending', 'approved', 'denied', 'expired', 'revoked'] },
      approvals: { type: 'array', items: approval },
      approversRequired: approvers,
      createdAt: num,
      decidedAt: numOrNull,
      expiresAt: num,
    },
    required: ['id', 'sub', 'connection', 'state', 'durationMs', 'createdAt', 'expiresAt'],
  },
  {
    $id: 'Session',
    type: 'object',
    additionalProperties: true,
    properties: {
      id: str,
      connection: str,
      connectionType: str,
      issuer: str,
      sub: str,
      groups: strs,
      startedAt: num,
      endedAt: numOrNull,
      format: { type: 'string', enum: ['jsonl', 'asciicast'] },
      operations: { type: 'integer' },
      endReason: strOrNull,
      recording: { type: 'string', description: 'the recording’s file name (read it at /sessions/{id}/recording)' },
    },
    required: ['id', 'connection', 'sub', 'startedAt'],
  },
  {
    $id: 'AuditRecord',
    type: 'object',
    additionalProperties: true,
    properties: {
      seq: { type: 'integer' },
      id: str,
      at: num,
      type: str,
      actor: strOrNull,
      session: strOrNull,
      connection: strOrNull,
      data: { type: 'object', additionalProperties: true },
      prevHash: str,
      hash: str,
    },
    required: ['seq', 'id', 'at', 'type', 'hash'],
  },
  {
    $id: 'Revocation',
    description: 'A revoked token id (kind token) or subject (kind sub) of one issuer; no issuer = any issuer',
    type: 'object',
    additionalProperties: true,
    properties: {
      kind: { type: 'string', enum: ['token', 'sub'] },
      value: { type: 'string', description: 'the token id (jti) or the subject' },
      issuer: str,
      at: num,
      reason: str,
    },
    required: ['kind', 'value', 'at', 'reason'],
  },
  {
    $id: 'PolicyTestResult',
    type: 'object',
    additionalProperties: true,
    properties: {
      effect: { type: 'string', enum: ['allow', 'mask', 'review', 'block'] },
      rules: strs,
      reasons: { type: 'array', items: { type: 'object', additionalProperties: true } },
      masking: { anyOf: [{ type: 'object', additionalProperties: true }, { type: 'null' }] },
      review: { anyOf: [{ type: 'object', additionalProperties: true }, { type: 'null' }] },
      kind: str,
      facts: {},
    },
    required: ['effect', 'rules', 'reasons', 'kind'],
  },
] as const;

const problemRef = { $ref: 'Problem#' } as const;

/** Responses every /api/v1 route shares: problem details for client and server errors. */
export function responses<T extends Record<string, unknown>>(
  ok: T,
): T & { '4xx': typeof problemRef; '5xx': typeof problemRef } {
  return { ...ok, '4xx': problemRef, '5xx': problemRef };
}

/** `{ <key>: <schema> }` as an object response. */
export function wrap(key: string, schema: unknown, description?: string): Record<string, unknown> {
  return { type: 'object', ...(description ? { description } : {}), properties: { [key]: schema }, required: [key] };
}

export const idParams = {
  type: 'object',
  properties: { id: { type: 'string', minLength: 1, maxLength: 200 } },
  required: ['id'],
} as const;
