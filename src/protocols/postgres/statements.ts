// Prepared statements and portals the client created, as the gateway tracks them.
import type { Verdict } from '../../gateway/index.js';
import type { FieldDescription } from './wire/index.js';

export interface Statement {
  name: string;
  text: string;
  /** The decision made at Parse; covers the first Bind, later Binds decide again. */
  verdict: Verdict;
  fresh: boolean;
  /** From Describe(S): the row shape, all columns in text format. */
  fields: FieldDescription[] | null;
}

export interface Portal {
  name: string;
  statement: Statement;
  verdict: Verdict;
  resultFormats: number[];
  /** From Describe(P) (formats applied), else derived from the statement's fields. */
  fields: FieldDescription[] | null;
}
