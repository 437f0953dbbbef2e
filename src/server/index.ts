// Start-up wiring: builds the core (src/gateway and friends) and the front doors (src/api,
// src/protocols) and ties them together. It lives outside src/gateway so that the core never
// imports its callers.
export { type RunningGateway, type StartOptions, splitHostPort, startGateway } from './start.js';
