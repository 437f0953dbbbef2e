// The HTTP engine against the shared conformance suite, with a real node:http upstream.
import { httpTarget } from './http-target.js';
import { runConformance } from './suite.js';

runConformance(httpTarget());
