import { readFile } from 'node:fs/promises';
import { RxmlError } from '../../contract/errors.js';

export interface IrisExample {
  readonly features: readonly [number, number, number, number];
  /** 0 = setosa, 1 = versicolor, 2 = virginica. */
  readonly label: 0 | 1 | 2;
}

/** Parses the Iris data in the seed's format: `5.1,3.5,1.4,0.2,0` per line (cm…, class). */
export function parseIrisDataset(text: string): IrisExample[] {
  return text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '')
    .map((line, i) => {
      const cells = line.split(',').map(Number);
      const [a, b, c, d, label] = cells;
      if (cells.length !== 5 || cells.some((x) => !Number.isFinite(x)) || (label !== 0 && label !== 1 && label !== 2)) {
        throw new RxmlError('INVALID_INPUT', `iris data line ${i + 1} is not "f1,f2,f3,f4,class": ${line}`);
      }
      return { features: [a!, b!, c!, d!], label };
    });
}

export async function readIrisDataset(path: string): Promise<IrisExample[]> {
  return parseIrisDataset(await readFile(path, 'utf8'));
}

/** Deterministic stratified split: every `k`-th example of each class is held out. */
export function splitIrisDataset(examples: readonly IrisExample[], k = 5): { train: IrisExample[]; test: IrisExample[] } {
  const seen = [0, 0, 0];
  const train: IrisExample[] = [];
  const test: IrisExample[] = [];
  for (const example of examples) {
    const n = seen[example.label]!++;
    (n % k === k - 1 ? test : train).push(example);
  }
  return { train, test };
}
