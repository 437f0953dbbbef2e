// Error and notice texts quote values: `relation "<value>" does not exist` for `email::regclass`,
// `Key (email)=(<value>) already exists`. A quoted value that the statement itself does not
// contain came from the data, so for an identity under masking it is replaced, whatever it
// looks like (content detectors alone miss values that are not shaped like an email or a card).
const QUOTED = /"([^"]*)"|=\(([^)]*)\)/g;
const REDACTED = '***';

/** `message` with every quoted value not found in `statement` redacted (null: no statement known). */
export function redactQuotedValues(message: string, statement: string | null): string {
  if (!message.includes('"') && !message.includes('=(')) return message;
  const haystack = statement?.toLowerCase() ?? '';
  return message.replace(QUOTED, (whole, quoted: string | undefined, keyed: string | undefined) => {
    const value = quoted ?? keyed ?? '';
    if (value === '' || haystack.includes(value.toLowerCase())) return whole;
    return quoted !== undefined ? `"${REDACTED}"` : `=(${REDACTED})`;
  });
}
