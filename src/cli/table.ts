import { displayText } from '../core/display-text.js';

const MAX_WIDTH = 60;

/**
 * A plain text table, columns padded to their widest cell (psql-like). Every header and cell goes
 * through displayText: a cell is one line, and no text in it (an operation, a reason, a column
 * name or a value from the database) can move the cursor, erase or reorder the table. Widths and
 * clipping count code points, so a clipped cell never ends in half an emoji.
 */
export function table(headers: string[], rows: string[][]): string {
  const shownHeaders = headers.map(displayText);
  const shownRows = rows.map((r) => shownHeaders.map((_, i) => Array.from(displayText(r[i] ?? ''))));
  const widths = shownHeaders.map((h, i) =>
    Math.min(MAX_WIDTH, Math.max(Array.from(h).length, ...shownRows.map((r) => (r[i] as string[]).length))),
  );
  const fmt = (cells: string[][]) =>
    cells
      .map((c, i) => {
        const w = widths[i] as number;
        const text = c.length > w ? `${c.slice(0, w - 1).join('')}…` : c.join('');
        return text + ' '.repeat(Math.max(0, w - Math.min(c.length, w)));
      })
      .join('  ')
      .trimEnd();
  return `${[fmt(shownHeaders.map((h) => Array.from(h))), widths.map((w) => '-'.repeat(w)).join('  '), ...shownRows.map(fmt)].join('\n')}\n`;
}
