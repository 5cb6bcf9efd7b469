/**
 * The gateway turns off V8's allocation-site pretenuring for itself, first
 * thing (main.ts imports this module before any other, and ES modules run in
 * import order), so every launcher — `npm start -w services/gateway`,
 * docker-compose, Kubernetes, the tests — runs it the same way.
 *
 * Why: V8 allocates the objects of an object or array literal straight in the
 * old generation once most of that literal's objects have survived young
 * collections. A gateway's view figures are built from the same literals
 * every tick, and the unfiltered view lives a whole tick (REST and
 * `historical_data` read it), so V8 soon tenures those literals — and then
 * every filtered view's figures, dead a few milliseconds later, are garbage in
 * the old generation: ~1 MB/s at the fleet's shape, and a full collection
 * (~0.3 s of CPU) every few seconds to clear it. Without pretenuring they die
 * young, the old generation stays flat, and the gateway's CPU at 5,000 clients
 * fell from 1.25–1.49× the bare-`ws` floor to 1.16–1.21×
 * (docs/PERFORMANCE.md §2b, "Pretenuring turned off").
 *
 * Set at run time rather than on the command line: V8 reads this flag at each
 * young collection, and `node` does not accept it in NODE_OPTIONS.
 */
import { setFlagsFromString } from 'node:v8';

setFlagsFromString('--no-allocation-site-pretenuring');
