/**
 * The probe paths every deployment file uses (docs/PROTOCOL.md §2). probes.test.ts
 * checks that each service's code answers them; the compose and Kubernetes
 * checks check that the files use these and nothing else.
 */
export const PROBE_PATHS = {
  /** 200 while the process is alive: Kubernetes liveness. */
  liveness: '/healthz',
  /** 200 only while it can do its job: readiness, compose health, load balancer checks. */
  readiness: '/readyz',
} as const;
