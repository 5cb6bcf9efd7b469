// Container health check for every Pulse service (the image's HEALTHCHECK and
// docker-compose.yml). Usage: `node healthcheck.mjs [path]`, path default /readyz.
// Exits 0 when GET http://<host>:<port><path> answers 2xx within 2 s, else 1.
//
// Why /readyz by default: Docker never restarts an unhealthy container, it only
// reports it, and compose's `depends_on: service_healthy` and `up --wait` gate on
// that report — so "healthy" should mean "can do its job". Kubernetes ignores
// HEALTHCHECK and probes /healthz and /readyz itself.
//
// One image runs any service, so the port is PORT when set, else the default of
// the service PID 1 runs (read from /proc/1/cmdline) — except for the proxy, whose
// PORT forwards every path to its upstreams: its probes are on
// PULSE_PROXY_ADMIN_PORT. Dependency-free on purpose: it runs from the image's
// root with only Node.
import http from 'node:http';
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

/** Each service's default probe port; test/deploy checks these against the config schemas. */
export const DEFAULT_PORTS = { ingest: 8080, aggregator: 9100, gateway: 8000, standalone: 8000, proxy: 9190 };

/** The variable naming the probe port, where it is not PORT. */
const PORT_VARS = { proxy: 'PULSE_PROXY_ADMIN_PORT' };

/** The port the service in this container answers its probes on. */
export function portFor(env, cmdline) {
  const service = /services\/([a-z0-9-]+)\/dist\/main\.js/.exec(cmdline)?.[1];
  const set = env[PORT_VARS[service] ?? 'PORT'];
  if (set !== undefined && set.trim() !== '') return Number(set);
  return DEFAULT_PORTS[service] ?? DEFAULT_PORTS.standalone;
}

/** Where to connect: HOST unless it is a wildcard address. */
export function hostFor(env) {
  const host = env.HOST?.trim();
  return !host || host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
}

// A standalone script, not a service: the container's environment is its input.
// eslint-disable-next-line no-restricted-properties
const ENV = process.env;

function check(path) {
  let cmdline = '';
  try {
    cmdline = readFileSync('/proc/1/cmdline', 'utf8').replaceAll('\0', ' ');
  } catch {
    // Not in a container (or no /proc): PORT or the standalone default.
  }
  const req = http.get(
    { host: hostFor(ENV), port: portFor(ENV, cmdline), path, timeout: 2000 },
    (res) => {
      res.resume();
      process.exit(res.statusCode >= 200 && res.statusCode < 300 ? 0 : 1);
    },
  );
  req.on('timeout', () => req.destroy(new Error('timed out')));
  req.on('error', (err) => {
    process.stderr.write(`healthcheck ${path}: ${err.message}\n`);
    process.exit(1);
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  check(process.argv[2] ?? '/readyz');
}
