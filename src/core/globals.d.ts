// Web Crypto's CryptoKey is a global in Node 20 but @types/node only declares it under
// `crypto.webcrypto`; jose's key types name the global.
declare global {
  type CryptoKey = import('node:crypto').webcrypto.CryptoKey;
}

export {};
