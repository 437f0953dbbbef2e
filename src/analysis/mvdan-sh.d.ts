// The small part of mvdan-sh (mvdan/sh compiled with GopherJS) this project uses; nodes are Go
// structs seen from JavaScript, so they are typed loosely (see command-words.ts).
declare module 'mvdan-sh' {
  interface Syntax {
    NewParser(...options: unknown[]): { Parse(src: string, name: string): unknown };
    KeepComments(keep: boolean): unknown;
    Variant(lang: unknown): unknown;
    readonly LangBash: unknown;
    Walk(node: unknown, visit: (node: never) => boolean): void;
    NodeType(node: unknown): string;
  }
  const sh: { syntax: Syntax };
  export default sh;
}
