import assert from 'node:assert/strict';
import pg from 'pg';
import type { TestGateway } from '../../helpers/gateway.js';

export async function connect(gw: TestGateway, token: string): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: gw.url(token) });
  await c.connect();
  c.on('error', () => {});
  return c;
}

/** Run a statement that must be refused for review; returns the review id from the error. */
export async function expectReview(c: pg.Client, sql: string): Promise<string> {
  let id = '';
  await assert.rejects(c.query(sql), (err: Error & { code?: string }) => {
    assert.equal(err.code, '42501', err.message);
    const m = /^approval required: review (\S+)/.exec(err.message);
    assert.ok(m, `expected an approval-required error, got: ${err.message}`);
    id = m[1]!.replace(/[;,]$/, '');
    return true;
  });
  return id;
}

export async function api<T>(
  gw: TestGateway,
  token: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: T }> {
  const res = await fetch(`${gw.apiUrl}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : null) as T };
}
