/**
 * Redis in a container through Testcontainers, used only when a Docker engine
 * answers. The probe is a quick `/_ping` so a machine without Docker loses
 * well under a second before the finder moves on.
 */
import { existsSync } from 'node:fs';
import { request } from 'node:http';
import { connect } from 'node:net';
import { homedir } from 'node:os';
import { join } from 'node:path';

const PROBE_TIMEOUT_MS = 500;
const REDIS_IMAGE = 'redis:7-alpine';

/** True when a Docker engine answers at DOCKER_HOST or at a usual socket. */
export async function dockerAnswers(env: Record<string, string | undefined> = process.env): Promise<boolean> {
  const host = env.DOCKER_HOST;
  if (host?.startsWith('unix://')) return socketAnswers(host.slice('unix://'.length));
  if (host?.startsWith('tcp://')) {
    // Possibly TLS (port 2376): a TCP connect is the most we can check without certificates.
    const url = new URL(host.replace(/^tcp:/, 'http:'));
    return tcpAnswers(url.hostname, Number(url.port || 2375));
  }
  if (host) return false;
  const candidates = [
    '/var/run/docker.sock',
    join(homedir(), '.docker/run/docker.sock'),
    join(homedir(), '.docker/desktop/docker.sock'),
    env.XDG_RUNTIME_DIR ? join(env.XDG_RUNTIME_DIR, 'docker.sock') : '',
  ];
  for (const path of candidates) {
    if (path && existsSync(path) && (await socketAnswers(path))) return true;
  }
  return false;
}

function socketAnswers(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ socketPath, path: '/_ping', timeout: PROBE_TIMEOUT_MS }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
    req.end();
  });
}

function tcpAnswers(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port, timeout: PROBE_TIMEOUT_MS });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.on('connect', () => done(true));
    socket.on('timeout', () => done(false));
    socket.on('error', () => done(false));
  });
}

export interface RedisContainer {
  readonly url: string;
  stop(): Promise<void>;
}

export async function startRedisContainer(): Promise<RedisContainer> {
  // Imported lazily: loading testcontainers costs time that hosts without Docker should not pay.
  const { GenericContainer, Wait } = await import('testcontainers');
  const container = await new GenericContainer(REDIS_IMAGE)
    .withCommand(['redis-server', '--save', '', '--appendonly', 'no'])
    .withExposedPorts(6379)
    .withWaitStrategy(Wait.forLogMessage(/Ready to accept connections/))
    .start();
  return {
    url: `redis://${container.getHost()}:${container.getMappedPort(6379)}`,
    stop: async () => {
      await container.stop();
    },
  };
}
