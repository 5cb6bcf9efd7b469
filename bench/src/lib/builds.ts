/**
 * Side by side with another checkout's build (aggregator-builds.ts,
 * gateway-builds.ts): the script runs itself as `<script> --measure <root>
 * ...args` once per build per round, alternately in fresh processes, so both
 * builds meet the same machine, and prints each process's one line.
 */
import { execFileSync } from 'node:child_process';
import { dirname, resolve } from 'node:path';

/** The checkout `script` (bench/dist/<name>.js) belongs to. */
export function checkoutOf(script: string): string {
  return resolve(dirname(script), '../..');
}

export function alternateBuilds(script: string, other: string, rounds: number, args: readonly string[] = []): void {
  const builds = { this: checkoutOf(script), other: resolve(other) };
  for (let i = 0; i < rounds; i++) {
    for (const [name, root] of Object.entries(builds)) {
      const line = execFileSync(process.execPath, [script, '--measure', root, ...args], { encoding: 'utf8' }).trim();
      console.log(`${name.padEnd(5)} ${line}`);
    }
  }
}
