/**
 * Once per `npm test` run: find the Redis every integration test shares
 * (test/support/redis.ts) and hand its URL to the test files; stop what was
 * started when the run ends.
 */
import type { TestProject } from 'vitest/node';
import { findTestRedis } from '@pulse/test-support/redis';

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const redis = await findTestRedis();
  project.provide('testRedis', { url: redis.url, source: redis.source });
  return () => redis.stop();
}
