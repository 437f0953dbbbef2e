// PostgreSQL passes the shared conformance suite against a real PostgreSQL 15.
import { postgresTarget } from './postgres-target.js';
import { runConformance } from './suite.js';

runConformance(postgresTarget());
