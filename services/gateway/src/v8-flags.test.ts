/**
 * The gateway's V8 flags (v8-flags.ts), checked on V8 itself: the objects of
 * a literal whose objects keep outliving young collections — as the
 * gateway's view figures do — are allocated in the old generation by
 * default, and in the young one once the module has run.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';

const FLAGS = fileURLToPath(new URL('../dist/v8-flags.js', import.meta.url));

// One literal whose objects are all kept across 20 young collections, then where its next object is allocated.
const PROBE = `
const make = (i) => ({ i, list: [i] });
const kept = [];
for (let round = 0; round < 20; round++) {
  for (let i = 0; i < 20000; i++) kept.push(make(i));
  globalThis.gc({ type: 'minor' });
}
console.log(%InYoungGeneration(make(0)) ? 'young' : 'old');
`;

async function generationOfNextObject(preload: string[]): Promise<string> {
  const args = ['--allow-natives-syntax', '--expose-gc', ...preload, '--input-type=module', '--eval', PROBE];
  const { stdout } = await promisify(execFile)(process.execPath, args);
  return stdout.trim();
}

describe('the gateway V8 flags', () => {
  beforeAll(() => {
    if (!existsSync(FLAGS)) throw new Error(`${FLAGS} is missing: build first (npx tsc -b services/gateway; npm test does it)`);
  });

  it('without them, V8 pretenures a literal whose objects survive (what the probe detects)', async () => {
    expect(await generationOfNextObject([])).toBe('old');
  });

  it('with them, that literal still allocates young', async () => {
    expect(await generationOfNextObject(['--import', pathToFileURL(FLAGS).href])).toBe('young');
  });
});
