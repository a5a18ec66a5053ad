import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (this file is packages/core/test/support/shared.ts). */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');

/**
 * The read-only shared data: `../shared` next to the repo root (as in CI). A git worktree sits one
 * level deeper, so its parent's sibling is tried too; `RXML_SHARED_DIR` overrides both.
 */
export const sharedDir: string = (() => {
  const candidates = [process.env['RXML_SHARED_DIR'], join(repoRoot, '../shared'), join(repoRoot, '../../shared')];
  for (const dir of candidates) if (dir !== undefined && existsSync(join(dir, 'models'))) return resolve(dir);
  throw new Error(`shared data not found (tried ${candidates.filter(Boolean).join(', ')}); set RXML_SHARED_DIR`);
})();

export const modelsMirror = join(sharedDir, 'models');
export const seedImages = join(sharedDir, 'seed', 'images');
