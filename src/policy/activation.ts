// The variables one decide() hands to every rule. Built once per Policy and refilled per
// operation (decide is synchronous, so one set is never shared by two evaluations): CEL sees
// CelMaps over long-lived Maps with a fixed set of keys, instead of converting fresh plain objects
// on every field access.
import { type CelInput, type CelMap, celMap } from '@bufbuild/cel';
import { reflect } from '@bufbuild/protobuf/reflect';
import { TimestampSchema, timestampFromMs } from '@bufbuild/protobuf/wkt';
import type { Operation } from '../core/types.js';
import { NO_COMMAND, NO_FILE, NO_HTTP, NO_K8S, NO_SQL, UNPARSED_SQL } from './context.js';
import type { FastRoot } from './fast.js';

type Facts = object;
// Values are facts from analysis and token claims: JSON-shaped data, which CEL converts lazily.
type Slots = Map<string, CelInput>;

function factsMap(facts: Facts): Slots {
  return new Map(Object.entries(facts) as [string, CelInput][]);
}

function fill(map: Slots, facts: Facts): void {
  for (const key of map.keys()) map.set(key, (facts as Record<string, CelInput>)[key] as CelInput);
}

const EMPTY_SQL = celMap(factsMap(NO_SQL));
const EMPTY_COMMAND = celMap(factsMap(NO_COMMAND));
const EMPTY_HTTP = celMap(factsMap(NO_HTTP));
const EMPTY_K8S = celMap(factsMap(NO_K8S));
const EMPTY_FILE = celMap(factsMap(NO_FILE));
const EMPTY_SESSION = celMap(
  new Map<string, CelInput>([
    ['id', ''],
    ['event', ''],
    ['detail', ''],
  ]),
);

export class Activation {
  private readonly identity = new Map<string, CelInput>([
    ['sub', ''],
    ['groups', []],
    ['issuer', ''],
    ['claims', {} as CelInput],
  ]);
  private readonly connection = new Map<string, CelInput>([
    ['name', ''],
    ['type', ''],
  ]);
  private readonly op = new Map<string, CelInput>([
    ['id', ''],
    ['kind', ''],
    ['text', ''],
    ['sql', EMPTY_SQL],
    ['command', EMPTY_COMMAND],
    ['http', EMPTY_HTTP],
    ['k8s', EMPTY_K8S],
    ['session', EMPTY_SESSION],
    ['file', EMPTY_FILE],
  ]);
  // One reusable map per kind of facts; the op map points at it only for that kind.
  private readonly sql = factsMap(NO_SQL);
  private readonly command = factsMap(NO_COMMAND);
  private readonly http = factsMap(NO_HTTP);
  private readonly k8s = factsMap(NO_K8S);
  private readonly file = factsMap(NO_FILE);
  private readonly fileCel = celMap(this.file);
  private readonly session = new Map<string, CelInput>([
    ['id', ''],
    ['event', ''],
    ['detail', ''],
  ]);
  private readonly sqlCel = celMap(this.sql);
  private readonly commandCel = celMap(this.command);
  private readonly httpCel = celMap(this.http);
  private readonly k8sCel = celMap(this.k8s);
  private readonly sessionCel = celMap(this.session);

  /** The object passed to every rule's program. `now` is only set when some rule reads it. */
  readonly vars: { identity: CelMap; connection: CelMap; op: CelMap; now?: unknown } = {
    identity: celMap(this.identity),
    connection: celMap(this.connection),
    op: celMap(this.op),
  };

  /** The same variables as plain objects, for fast programs. */
  readonly fast: FastRoot;
  private readonly fastIdentity = {
    sub: '',
    groups: [] as string[],
    issuer: '',
    claims: {} as Record<string, unknown>,
  };
  private readonly fastConnection = { name: '', type: '' };
  private readonly fastSession = { id: '', event: '', detail: '' };
  private readonly fastOp = {
    id: '',
    kind: '',
    text: '',
    sql: NO_SQL as object,
    command: NO_COMMAND as object,
    http: NO_HTTP as object,
    k8s: NO_K8S as object,
    file: NO_FILE as object,
    session: this.fastSession,
  };

  constructor(private readonly needsNow: boolean) {
    this.fast = { identity: this.fastIdentity, connection: this.fastConnection, op: this.fastOp };
  }

  loadFast(op: Operation): void {
    const id = this.fastIdentity;
    id.sub = op.identity.sub;
    id.groups = op.identity.groups;
    id.issuer = op.identity.issuer;
    id.claims = op.identity.claims;
    this.fastConnection.name = op.connection.name;
    this.fastConnection.type = op.connection.type;
    const o = this.fastOp;
    o.id = op.id;
    o.kind = op.kind;
    o.text = op.text;
    o.sql = op.kind === 'sql' ? (op.sql ?? UNPARSED_SQL) : NO_SQL;
    o.command = op.kind === 'command' ? (op.command ?? NO_COMMAND) : NO_COMMAND;
    o.http = op.kind === 'http' ? (op.http ?? NO_HTTP) : NO_HTTP;
    o.k8s = op.kind === 'k8s' ? (op.k8s ?? NO_K8S) : NO_K8S;
    o.file = op.kind === 'file' ? (op.file ?? NO_FILE) : NO_FILE;
    this.fastSession.id = op.session;
    this.fastSession.event = op.kind === 'session' ? (op.session_?.event ?? '') : '';
    this.fastSession.detail = op.kind === 'session' ? (op.session_?.detail ?? '') : '';
  }

  load(op: Operation): void {
    const id = op.identity;
    this.identity.set('sub', id.sub);
    this.identity.set('groups', id.groups);
    this.identity.set('issuer', id.issuer);
    this.identity.set('claims', id.claims as CelInput);
    this.connection.set('name', op.connection.name);
    this.connection.set('type', op.connection.type);

    const o = this.op;
    o.set('id', op.id);
    o.set('kind', op.kind);
    o.set('text', op.text);
    o.set('sql', EMPTY_SQL);
    o.set('command', EMPTY_COMMAND);
    o.set('http', EMPTY_HTTP);
    o.set('k8s', EMPTY_K8S);
    o.set('file', EMPTY_FILE);
    this.session.set('id', op.session);
    this.session.set('event', '');
    this.session.set('detail', '');
    o.set('session', this.sessionCel);
    switch (op.kind) {
      case 'sql':
        fill(this.sql, op.sql ?? UNPARSED_SQL);
        o.set('sql', this.sqlCel);
        break;
      case 'command':
        fill(this.command, op.command ?? NO_COMMAND);
        o.set('command', this.commandCel);
        break;
      case 'http':
        fill(this.http, op.http ?? NO_HTTP);
        o.set('http', this.httpCel);
        break;
      case 'k8s':
        fill(this.k8s, op.k8s ?? NO_K8S);
        o.set('k8s', this.k8sCel);
        break;
      case 'file':
        fill(this.file, op.file ?? NO_FILE);
        o.set('file', this.fileCel);
        break;
      case 'session':
        this.session.set('event', op.session_?.event ?? '');
        this.session.set('detail', op.session_?.detail ?? '');
        break;
    }
    if (this.needsNow) this.vars.now = reflect(TimestampSchema, timestampFromMs(op.at));
  }
}
