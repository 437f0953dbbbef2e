export { sshEngine } from './engine.js';
