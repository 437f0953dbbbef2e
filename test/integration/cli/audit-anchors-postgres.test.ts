// Audit anchors through the real CLI on a PostgreSQL store (the suite: audit-anchors.ts).
import { auditAnchorSuite } from './audit-anchors.js';

auditAnchorSuite('postgres');
