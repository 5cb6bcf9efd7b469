/**
 * Configuration of the all-in-one process (`npm start`): every role's
 * variables, on one port. REDIS_URL is optional here: unset means the
 * in-process event log and bus.
 */
import { aggregatorVars } from '@pulse/aggregator';
import { gatewayConfigShape } from '@pulse/gateway';
import { ingestLimitVars, ingestReplicaVars } from '@pulse/ingest';
import { intVar, redisUrlVar, securityVars } from '@pulse/runtime';

export const standaloneVars = {
  ...aggregatorVars,
  ...gatewayConfigShape,
  ...ingestLimitVars,
  ...ingestReplicaVars,
  // Also in the gateway's shape; named here since ingest's half (write tokens) matters in this process too.
  ...securityVars,
  PORT: intVar(8000, 0, 65_535),
  REDIS_URL: redisUrlVar.optional(),
};
