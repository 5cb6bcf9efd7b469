/**
 * The gateway turns off V8's allocation-site pretenuring for itself, first
 * thing (main.ts imports this module before any other, and ES modules run in
 * import order), so every launcher — `npm start -w services/gateway`,
 * docker-compose, Kubernetes, the tests — runs it the same way.
 *
 * Why: V8 allocates the objects of an object or array literal straight in the
 * old generation once most of that literal's objects have survived young
 * collections. A gateway builds its view figures from the same literals
 * every tick and keeps some of them for a while (the unfiltered view for a
 * whole tick, each view until all its clients are sent), and V8 tenures
 * those literals: then every view's figures, dead soon after, are garbage in
 * the old generation — ~1 MB/s at the fleet's shape, and a full collection
 * (~0.3 s of CPU) every few seconds to clear it. Without pretenuring they die
 * young, the old generation stays flat, and the gateway's CPU at 5,000
 * clients at that shape is 1.13–1.19× the bare-`ws` floor's, against
 * 1.21–1.36× with it (docs/PERFORMANCE.md §2b, "Pretenuring turned off").
 *
 * Set at run time rather than on the command line: V8 consults the flag when
 * it weighs each young collection's survivors, and `node` does not accept it
 * in NODE_OPTIONS.
 */
import { setFlagsFromString } from 'node:v8';

setFlagsFromString('--no-allocation-site-pretenuring');
