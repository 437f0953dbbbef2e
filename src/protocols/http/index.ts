export { httpEngine, MAX_JSON_BODY } from './engine.js';
