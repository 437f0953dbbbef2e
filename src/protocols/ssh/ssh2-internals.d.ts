// ssh2's packet helpers (CommonJS, untyped); used by ./disconnect.ts only.
declare module 'ssh2/lib/protocol/utils.js' {
  const utils: Record<string, unknown>;
  export default utils;
}
