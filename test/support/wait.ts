/**
 * Waiting on a condition (a counter, a state, an event) rather than on the wall clock: polls until
 * `check` holds, with a bound far above what a loaded machine needs (a failure, not a flake, when
 * the condition never comes).
 */
import { setTimeout as sleep } from 'node:timers/promises';

export async function waitUntil(
  check: () => boolean | Promise<boolean>,
  what: string,
  { timeoutMs = 20_000, everyMs = 10 } = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await sleep(everyMs);
  }
}
