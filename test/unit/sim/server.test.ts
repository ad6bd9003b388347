import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { createProviderSim, type ProviderSim } from '../../../src/sim/server.js';

const samplesDir = new URL('../../fixtures/', import.meta.url).pathname;
const sample = (n: number) => readFileSync(`${samplesDir}response_${n}.xml`, 'utf8');

let sim: ProviderSim;
let base: string;

beforeAll(async () => {
  sim = await createProviderSim({
    mode: 'samples',
    samplesDir,
    baseEvents: 3,
    zonesPerEvent: 2,
    seed: 7,
    delayMs: 300,
  });
  base = `http://127.0.0.1:${await sim.listen(0)}`;
});
afterAll(() => sim.close());

describe('provider simulator', () => {
  it('serves the three samples in turn, then stays on the last', async () => {
    const bodies: string[] = [];
    for (let i = 0; i < 4; i++) {
      const res = await fetch(`${base}/feed`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/application\/xml/);
      bodies.push(await res.text());
    }
    expect(bodies).toEqual([sample(1), sample(2), sample(3), sample(3)]);
  });

  it.each([
    ['error', 500],
    ['unavailable', 503],
  ])('mode %s answers %i', async (mode, status) => {
    const res = await fetch(`${base}/feed?mode=${mode}`);
    expect(res.status).toBe(status);
    if (status === 503) expect(res.headers.get('retry-after')).toBe('1');
  });

  it('truncated mode sends a clean response that stops mid-document', async () => {
    const body = await (await fetch(`${base}/feed?mode=truncated`)).text();
    expect(body.length).toBeGreaterThan(100);
    expect(sample(3).startsWith(body)).toBe(true);
    expect(body).not.toContain('</eventList>');
  });

  it('html, malformed and empty modes send what a broken provider would', async () => {
    const html = await fetch(`${base}/feed?mode=html`);
    expect(html.headers.get('content-type')).toMatch(/text\/html/);
    expect(await html.text()).toContain('<html>');
    expect(await (await fetch(`${base}/feed?mode=malformed`)).text()).toContain('<<oops');
    expect(await (await fetch(`${base}/feed?mode=empty`)).text()).toBe('');
  });

  it('drop mode cuts the connection in the middle of the body', async () => {
    const res = await fetch(`${base}/feed?mode=drop`);
    expect(res.status).toBe(200);
    await expect(res.text()).rejects.toThrow();
  });

  it('slow mode delays the response', async () => {
    const started = Date.now();
    const res = await fetch(`${base}/feed?mode=slow`);
    await res.text();
    expect(Date.now() - started).toBeGreaterThanOrEqual(280);
  });

  it('answers /healthz and 404s anything else', async () => {
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/nope`)).status).toBe(404);
  });
});
