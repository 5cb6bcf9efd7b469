/**
 * Where an installed package lives, found the way Node finds packages
 * (`node_modules` in this directory and each parent) but without going
 * through its "exports", which do not list the browser files served here.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

export function packageDir(name: string, from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return candidate;
    if (dirname(dir) === dir) throw new Error(`package ${name} not found from ${from}: run npm ci`);
  }
}
