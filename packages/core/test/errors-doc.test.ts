import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { RXML_ERROR_CODES } from '../src/contract/index.js';

describe('docs/errors.md', () => {
  it('has one row per RxmlErrorCode with meaning, retriable and what to do', async () => {
    const doc = await readFile(new URL('../../../docs/errors.md', import.meta.url), 'utf8');
    const rows = doc.split('\n').filter((line) => /^\| `[A-Z_]+` \|/.test(line));
    expect(rows.map((row) => /^\| `([A-Z_]+)` \|/.exec(row)![1]).sort()).toEqual([...RXML_ERROR_CODES].sort());
    for (const row of rows) expect(row.split('|').filter((cell) => cell.trim() !== '')).toHaveLength(5);
  });
});
