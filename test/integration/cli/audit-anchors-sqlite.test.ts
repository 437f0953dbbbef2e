// Audit anchors through the real CLI on a SQLite store (the suite: audit-anchors.ts).
import { auditAnchorSuite } from './audit-anchors.js';

auditAnchorSuite('sqlite');
