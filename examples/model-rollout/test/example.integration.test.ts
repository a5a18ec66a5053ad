import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

it('rolls v2 out mid-stream (each partition switches once from v1 to v2, nothing lost or duplicated), then shadows a candidate v3 with its agreement rate', async () => {
  const child = spawn(process.execPath, [fileURLToPath(new URL('../dist/main.js', import.meta.url))], {
    env: { ...process.env, ROLLOUT_RECORDS: '15000' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  expect(code, out).toBe(0);
  expect(out).toMatch(/trained v1: \d+ bytes, held-out accuracy/);
  expect(out).toMatch(/model event: swap iris@v1\n/);
  expect(out).toMatch(/5000 delivered: publishing v2/);
  expect(out).toMatch(/model event: swap iris@v2 \(was v1\)/);
  expect(out).toMatch(/model event: released iris@v1/);
  for (const partition of [0, 1, 2]) expect(out).toMatch(new RegExp(`partition ${partition}: [1-9]\\d* × v1 then [1-9]\\d* × v2 \\(switch at offset \\d+, one switch\\)`));
  expect(out).toMatch(/delivered 15000 of 15000; output 15000 records, 15000 distinct flowers: lost 0, duplicated 0/);
  // The shadow run: every record compared, and its agreement rate is the one computed offline from the two models.
  const shadow = /shadow v3 vs v2: 15000 compared, 0 dropped, agreement (\d+\.\d+)%, mean max\|Δp\| \d\.\d+ \(offline on the same 15000 inputs: (\d+\.\d+)%\)/.exec(out);
  expect(shadow, out).not.toBeNull();
  expect(shadow![1]).toBe(shadow![2]);
});
