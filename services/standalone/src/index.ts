export { standaloneVars } from './config.js';
