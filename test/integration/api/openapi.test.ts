// The OpenAPI document at /api/v1/openapi.json: valid OpenAPI 3.1, and every /api/v1 route that
// fastify registered is in it (collected with an onRoute hook while the API is built).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import SwaggerParser from '@apidevtools/swagger-parser';
import type { FastifyInstance, RouteOptions } from 'fastify';
import { buildApi } from '../../../src/api/server.js';
import { startShopPostgres, startTestGateway, type TestGateway } from '../../helpers/gateway.js';
import type { TestPostgres } from '../../helpers/postgres.js';

describe('OpenAPI document', () => {
  let target: TestPostgres;
  let gw: TestGateway;
  let api: FastifyInstance;
  const routes: { method: string; url: string }[] = [];
  // biome-ignore lint/suspicious/noExplicitAny: the document is checked with the validator and by path
  let doc: any;

  before(async () => {
    target = await startShopPostgres();
    gw = await startTestGateway(target);
    // A second API instance on the same gateway, built with a route collector.
    api = await buildApi({
      gateway: gw.running.gateway,
      devIssuer: gw.running.devIssuer,
      onRoute: (r: RouteOptions) => {
        for (const m of [r.method].flat()) routes.push({ method: m, url: r.url });
      },
    });
    await api.ready();
    const res = await api.inject({
      method: 'GET',
      url: '/api/v1/openapi.json',
      headers: { authorization: `Bearer ${await gw.token('ada', ['admins'])}` },
    });
    assert.equal(res.statusCode, 200);
    doc = res.json();
  });
  after(async () => {
    await api?.close();
    await gw?.stop();
    await target?.stop();
  });

  it('validates as OpenAPI 3.1', async () => {
    assert.equal(doc.openapi, '3.1.0');
    await SwaggerParser.validate(structuredClone(doc));
  });

  it('documents every /api/v1 route, and nothing outside it', () => {
    const v1 = routes.filter((r) => r.url.startsWith('/api/v1/') && r.method !== 'HEAD');
    assert.ok(v1.length >= 18, `collected ${v1.length} routes`);
    for (const r of v1) {
      const path = r.url.replace(/:([A-Za-z_]+)/g, '{$1}');
      const op = doc.paths[path]?.[r.method.toLowerCase()];
      assert.ok(op, `${r.method} ${path} is documented`);
      assert.ok(op.summary, `${r.method} ${path} has a summary`);
      const codes = Object.keys(op.responses);
      assert.ok(
        codes.some((c) => c.startsWith('2')),
        `${r.method} ${path} documents its success response`,
      );
      assert.ok(codes.includes('4XX'), `${r.method} ${path} documents problem responses`);
    }
    for (const p of Object.keys(doc.paths)) assert.ok(p.startsWith('/api/v1/'), `${p} is an /api/v1 path`);
    assert.ok(doc.paths['/api/v1/exec'].post.requestBody, 'exec has a body schema');
    assert.ok(
      doc.paths['/api/v1/reviews/{id}'].get.parameters.some(
        (p: { in: string; name: string }) => p.in === 'path' && p.name === 'id',
      ),
    );
  });

  it('requires a bearer token everywhere, and shares problem and result components', () => {
    assert.deepEqual(doc.security, [{ bearer: [] }]);
    assert.equal(doc.components.securitySchemes.bearer.scheme, 'bearer');
    for (const name of [
      'Problem',
      'ExecResult',
      'Review',
      'AccessRequest',
      'Session',
      'AuditRecord',
      'Connection',
      'PolicyTestResult',
    ]) {
      assert.ok(doc.components.schemas[name], `component ${name}`);
    }
  });

  it('every documented route refuses a request without a token', async () => {
    for (const [path, ops] of Object.entries<Record<string, unknown>>(doc.paths)) {
      for (const method of Object.keys(ops)) {
        const res = await api.inject({ method: method.toUpperCase() as 'GET', url: path.replace(/\{id\}/g, 'x') });
        assert.equal(res.statusCode, 401, `${method} ${path}`);
        assert.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8');
      }
    }
  });
});
