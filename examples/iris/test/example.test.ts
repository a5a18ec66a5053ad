import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

it('prints the seed predictions and the accuracy over the data set', () => {
  const out = execFileSync(process.execPath, [fileURLToPath(new URL('../dist/main.js', import.meta.url))], { encoding: 'utf8' });
  expect(out).toMatch(/5\.4,3\.9,1\.7,0\.4 -> setosa/);
  expect(out).toMatch(/7\.0,3\.2,4\.7,1\.4 -> versicolor/);
  expect(out).toMatch(/4\.6,3\.4,1\.4,0\.3 -> setosa/);
  const accuracy = Number(/accuracy on all 150 flowers: ([\d.]+)/.exec(out)?.[1]);
  expect(accuracy).toBeGreaterThanOrEqual(0.97);
});
