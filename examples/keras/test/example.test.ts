import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const expected = JSON.parse(
  readFileSync(fileURLToPath(new URL('../data/simple_mlp.json', import.meta.url)), 'utf8'),
) as { outputs: { data: number[][] }[] };

it("prints Keras's own predictions for the saved samples and an error for the short record", () => {
  const out = execFileSync(process.execPath, [fileURLToPath(new URL('../dist/main.js', import.meta.url))], { encoding: 'utf8' });
  expect(out).toMatch(/^model simple_mlp@[0-9a-f]{16} on tfjs-\w+: \S+ \[\?, 100\]/m);
  const want = expected.outputs[0]!.data;
  want.forEach((probabilities, i) => {
    const line = new RegExp(`^record ${i}: class (\\d+) \\(p=([\\d.]+)\\) probabilities \\[(.*)\\]$`, 'm').exec(out);
    expect(line, `record ${i} in:\n${out}`).not.toBeNull();
    const best = probabilities.indexOf(Math.max(...probabilities));
    expect(Number(line![1])).toBe(best);
    const printed = line![3]!.split(', ').map(Number);
    printed.forEach((p, k) => expect(Math.abs(p - probabilities[k]!)).toBeLessThanOrEqual(5e-5));
  });
  expect(out).toMatch(new RegExp(`^record ${want.length}: INVALID_INPUT .*expects shape \\[100\\] \\(100 values\\), got 3 values`, 'm'));
});
