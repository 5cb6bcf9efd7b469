/**
 * A cached answer to "does the store answer?": /readyz is polled often by
 * load balancers, so it reads a flag that one PING per interval keeps fresh.
 */
export interface ReadinessProbe {
  /** True once a ping succeeded and until one fails. */
  readonly ready: boolean;
  stop(): void;
}

export function probeReadiness(ping: () => Promise<boolean>, intervalMs = 1000): ReadinessProbe {
  let ready = false;
  let inFlight = false;
  const check = () => {
    // A ping slower than the interval must not pile up behind itself.
    if (inFlight) return;
    inFlight = true;
    ping()
      .catch(() => false)
      .then((ok) => {
        ready = ok;
        inFlight = false;
      });
  };
  const timer = setInterval(check, intervalMs);
  timer.unref();
  check();
  return {
    get ready() {
      return ready;
    },
    stop: () => clearInterval(timer),
  };
}
