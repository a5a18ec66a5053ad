import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { activeBackend } from '../src/index.js';

const entry = fileURLToPath(new URL('../dist/index.js', import.meta.url));
const probe = (env: Record<string, string>) =>
  spawnSync(process.execPath, ['--input-type=module', '-e', `const m = await import(${JSON.stringify(entry)}); const b = await m.activeBackend(); console.log(JSON.stringify(b));`], {
    env: { ...process.env, ...env },
    encoding: 'utf8',
  });

describe('backend selection', () => {
  it('picks a backend and says which and why', async () => {
    const info = await activeBackend();
    expect(['tensorflow', 'wasm', 'cpu']).toContain(info.name);
    expect(info.reason.length).toBeGreaterThan(0);
  });

  it('honours RXML_BACKEND=cpu and logs one line about it', () => {
    const run = probe({ RXML_BACKEND: 'cpu' });
    expect(run.status).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({ name: 'cpu', reason: 'forced by RXML_BACKEND=cpu' });
    expect(run.stderr).toContain('[rxml] tfjs backend: cpu');
  });

  it('fails clearly when RXML_BACKEND names something unknown', () => {
    const run = probe({ RXML_BACKEND: 'gpu' });
    expect(run.status).not.toBe(0);
    expect(run.stderr).toContain('RXML_BACKEND=gpu is not one of node, wasm, cpu');
  });
});
