// Public face of the upstream side: authenticated connections to the target PostgreSQL,
// cancel requests, a side-connection query helper and the column catalog.
export { CatalogLookup, type ColumnKey, type ColumnSource } from './catalog.js';
export {
  closeUpstream,
  connectUpstream,
  sendCancel,
  type UpstreamConnection,
  type UpstreamOptions,
  type UpstreamTlsMode,
} from './connect.js';
export { isUpstreamError, UpstreamError, type UpstreamErrorCode } from './errors.js';
export { type SimpleQueryResult, simpleQuery } from './query.js';
export { UpstreamSlots } from './slots.js';
