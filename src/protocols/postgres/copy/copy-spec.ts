// What a `COPY … TO STDOUT` statement will send: its source (table columns or a query) and the
// format options that decide how its output is split into rows and fields. Read from
// libpg-query's tree, which normalizes the old (`DELIMITER '@' CSV QUOTE '4'`) and the new
// (`WITH (…)`) option syntax into the same DefElem list.
import { parseTree, type RawStatement, scanTokens } from '../../../analysis/pg-parser.js';

export type CopyFormat = 'text' | 'csv' | 'binary';

export interface CopyTableSource {
  /** As written, schema-qualified when it was (`public.customers`). */
  table: string;
  /** Identifier parts as PostgreSQL reads them (unquoted, case-folded): [catalog?, schema?, name]. */
  parts: string[];
  /** Column list as PostgreSQL reads it; null when none was given (all columns). */
  columns: string[] | null;
}

export interface CopyQuerySource {
  /** The inner query's text, sliced from the statement. */
  query: string;
}

export interface CopySpec {
  source: CopyTableSource | CopyQuerySource;
  format: CopyFormat;
  /** One byte (text/CSV). */
  delimiter: string;
  /** The text that stands for SQL NULL (text/CSV). */
  null: string;
  /** CSV quote and escape (one byte each); '"' when not CSV. */
  quote: string;
  escape: string;
  header: boolean;
  /** The ENCODING option as written, or null. */
  encoding: string | null;
  /**
   * Why this COPY cannot be masked reliably (an encoding other than UTF-8, an option Warden does
   * not know, a malformed option), or null. The proxy must refuse such a COPY, not run it.
   */
  refuse: string | null;
}

const isQuerySource = (s: CopySpec['source']): s is CopyQuerySource => 'query' in s;

export { isQuerySource };

/** The spec of `text` when it is exactly one `COPY … TO STDOUT` statement, else null. */
export function copySpecOf(text: string): CopySpec | null {
  let stmts: RawStatement[];
  try {
    stmts = parseTree(text).stmts ?? [];
  } catch {
    return null;
  }
  if (stmts.length !== 1) return null;
  return specOfStatement(text, stmts[0] as RawStatement);
}

/**
 * Specs of every `COPY … TO STDOUT` statement of `text`, in order: in a simple Query these are the
 * statements whose CopyOutResponses arrive, one each, in this order. [] on a syntax error.
 */
export function copyOutSpecsOf(text: string): CopySpec[] {
  let stmts: RawStatement[];
  try {
    stmts = parseTree(text).stmts ?? [];
  } catch {
    return [];
  }
  const out: CopySpec[] = [];
  for (const s of stmts) {
    const spec = specOfStatement(text, s);
    if (spec) out.push(spec);
  }
  return out;
}

interface CopyStmtNode {
  relation?: { catalogname?: string; schemaname?: string; relname?: string };
  query?: unknown;
  attlist?: { String?: { sval?: string } }[];
  is_from?: boolean;
  is_program?: boolean;
  filename?: string;
  options?: { DefElem?: DefElem }[];
}

interface DefElem {
  defname: string;
  arg?: Record<string, unknown>;
}

function specOfStatement(text: string, raw: RawStatement): CopySpec | null {
  const node = raw.stmt['CopyStmt'] as CopyStmtNode | undefined;
  if (!node || node.is_from || node.is_program || node.filename !== undefined) return null;
  let source: CopySpec['source'];
  if (node.query !== undefined) {
    const query = innerQueryText(text, raw);
    if (query === null) return null;
    source = { query };
  } else if (node.relation?.relname !== undefined) {
    const r = node.relation;
    const parts = [r.catalogname, r.schemaname, r.relname].filter((p): p is string => p !== undefined && p !== '');
    const columns = node.attlist ? node.attlist.map((a) => a.String?.sval ?? '') : null;
    if (columns?.some((c) => c === '')) return null;
    source = { table: parts.join('.'), parts, columns };
  } else {
    return null;
  }
  return { source, ...optionsOf(node.options ?? []) };
}

type Options = Omit<CopySpec, 'source'>;

// COPY TO options PostgreSQL accepts that do not change how the output is split or quoted.
const HARMLESS = new Set(['force_quote']);

function optionsOf(list: readonly { DefElem?: DefElem }[]): Options {
  const seen = new Set<string>();
  let refuse: string | null = null;
  const fail = (why: string) => {
    refuse ??= why;
  };
  let format: CopyFormat = 'text';
  let delimiter: string | undefined;
  let nullText: string | undefined;
  let quote: string | undefined;
  let escapeChar: string | undefined;
  let header = false;
  let encoding: string | null = null;
  for (const item of list) {
    const d = item.DefElem;
    if (!d) {
      fail('unreadable COPY option');
      continue;
    }
    const name = d.defname;
    if (seen.has(name)) fail(`COPY option ${name} given twice`);
    seen.add(name);
    const str = stringArg(d.arg);
    switch (name) {
      case 'format':
        if (str === 'text' || str === 'csv' || str === 'binary') format = str;
        else fail(`unknown COPY format ${String(str)}`);
        break;
      case 'delimiter':
        delimiter = str ?? undefined;
        break;
      case 'null':
        nullText = str ?? undefined;
        if (str === null) fail('COPY NULL must be a string');
        break;
      case 'quote':
        quote = str ?? undefined;
        break;
      case 'escape':
        escapeChar = str ?? undefined;
        break;
      case 'header': {
        const b = booleanArg(d.arg);
        if (b === null) fail('COPY HEADER must be a boolean');
        else header = b;
        break;
      }
      case 'encoding':
        encoding = str;
        if (str === null || !isUtf8Name(str))
          fail(`COPY ENCODING ${String(str)} is not UTF8; only UTF-8 output can be masked`);
        break;
      default:
        if (!HARMLESS.has(name)) fail(`COPY option ${name} is not supported by Warden's masking`);
    }
  }
  const csv = format === 'csv';
  const spec: Options = {
    format,
    delimiter: delimiter ?? (csv ? ',' : '\t'),
    null: nullText ?? (csv ? '' : '\\N'),
    quote: quote ?? '"',
    escape: escapeChar ?? quote ?? '"',
    header,
    encoding,
    refuse,
  };
  if (format !== 'binary') {
    // PostgreSQL rejects these too; refusing here keeps the parser's assumptions true.
    if (Buffer.byteLength(spec.delimiter) !== 1) fail('COPY delimiter must be a single one-byte character');
    if (spec.delimiter === '\n' || spec.delimiter === '\r') fail('COPY delimiter cannot be newline or carriage return');
    if (/[\r\n]/.test(spec.null)) fail('COPY NULL cannot contain newline or carriage return');
    if (!csv && spec.delimiter === '\\') fail('COPY delimiter cannot be backslash');
    if (csv) {
      if (Buffer.byteLength(spec.quote) !== 1 || Buffer.byteLength(spec.escape) !== 1)
        fail('COPY quote and escape must be one byte');
      if (spec.quote === spec.delimiter) fail('COPY delimiter and quote must be different');
    } else if (quote !== undefined || escapeChar !== undefined) {
      fail('COPY QUOTE and ESCAPE are only available in CSV mode');
    }
  } else if (
    delimiter !== undefined ||
    nullText !== undefined ||
    quote !== undefined ||
    escapeChar !== undefined ||
    header
  ) {
    fail('COPY binary format takes no delimiter, null, quote, escape or header');
  }
  spec.refuse = refuse;
  return spec;
}

/** PostgreSQL compares encoding names ignoring case and non-alphanumerics (`utf-8`, `Unicode`). */
function isUtf8Name(name: string): boolean {
  const n = name.toLowerCase().replace(/[^a-z0-9]/g, '');
  return n === 'utf8' || n === 'unicode';
}

function stringArg(arg: Record<string, unknown> | undefined): string | null {
  if (!arg) return null;
  const s = arg['String'] as { sval?: string } | undefined;
  if (s) return s.sval ?? '';
  return null;
}

/** PostgreSQL's defGetBoolean: no value, true/false/on/off/1/0 (any case), integers 0 and 1. */
function booleanArg(arg: Record<string, unknown> | undefined): boolean | null {
  if (!arg) return true;
  const b = arg['Boolean'] as { boolval?: boolean } | undefined;
  if (b) return b.boolval === true;
  const i = arg['Integer'] as { ival?: number } | undefined;
  if (i) {
    const v = i.ival ?? 0;
    return v === 0 ? false : v === 1 ? true : null;
  }
  const s = stringArg(arg);
  if (s === null) return null;
  const v = s.toLowerCase();
  if (v === 'true' || v === 'on' || v === 't' || v === 'tr' || v === 'tru') return true;
  if (v === 'false' || v === 'off' || v === 'f' || v === 'fa' || v === 'fal' || v === 'fals') return false;
  return null; // includes 'match', which COPY TO rejects
}

/**
 * The text inside `COPY ( … )`: the first parenthesis after COPY and its match, found with the
 * SQL scanner so parentheses in strings and comments do not count. Locations are UTF-8 bytes.
 */
function innerQueryText(text: string, raw: RawStatement): string | null {
  const bytes = Buffer.from(text, 'utf8');
  const from = raw.stmt_location ?? 0;
  const to = raw.stmt_len !== undefined && raw.stmt_len > 0 ? from + raw.stmt_len : bytes.length;
  const stmt = bytes.toString('utf8', from, to);
  let tokens: { start: number; end: number; text: string }[];
  try {
    tokens = scanTokens(stmt).map((t) => ({ start: t.start, end: t.end, text: t.text ?? '' }));
  } catch {
    return null;
  }
  const stmtBytes = Buffer.from(stmt, 'utf8');
  let depth = 0;
  let open = -1;
  for (const t of tokens) {
    if (t.text === '(') {
      if (depth === 0 && open < 0) open = t.end;
      depth++;
    } else if (t.text === ')') {
      depth--;
      if (depth === 0 && open >= 0) return stmtBytes.toString('utf8', open, t.start).trim();
      if (depth < 0) return null;
    } else if (open < 0 && t.text.toUpperCase() !== 'COPY' && !t.text.startsWith('/*') && !t.text.startsWith('--')) {
      // Something other than `COPY (` first: not the query form we expect.
      return null;
    }
  }
  return null;
}

/** The SELECT whose RowDescription describes the COPY's columns (sources and types). */
export function describeSql(spec: CopySpec): string {
  const s = spec.source;
  if (isQuerySource(s)) return s.query;
  const table = s.parts.map(quoteIdent).join('.');
  const cols = s.columns === null ? '*' : s.columns.map(quoteIdent).join(', ');
  // ONLY: COPY table TO does not include rows of child tables (the shape is the same either way).
  return `SELECT ${cols} FROM ONLY ${table}`;
}

function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
