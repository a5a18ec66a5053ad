#!/usr/bin/env node
/**
 * Proves that rxml works from outside this workspace, as a user gets it: packs every public package
 * (`pnpm pack`, which turns `workspace:*` into real versions), installs the tarballs with plain npm
 * into a fresh app in a temporary directory (overrides pin every @rxml/* name to its tarball, so
 * nothing of ours is ever asked of the registry), type-checks the app with `tsc --strict` and runs
 * its Iris pipeline on the testkit's broker. Needs the workspace built (`pnpm build`).
 *
 * Usage: node scripts/pack-app-check.mjs [--keep]
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(fileURLToPath(new URL('..', import.meta.url)));
const keep = process.argv.includes('--keep');
const work = mkdtempSync(join(tmpdir(), 'rxml-app-'));
const tarballs = join(work, 'tarballs');
const app = join(work, 'app');
const step = (what) => console.log(`[pack-app] ${what}`);
const run = (cmd, args, cwd) => execFileSync(cmd, args, { cwd, stdio: 'inherit', env: { ...process.env, npm_config_fund: 'false', npm_config_audit: 'false' } });

try {
  const packages = readdirSync(join(root, 'packages'))
    .map((dir) => join(root, 'packages', dir))
    .filter((dir) => {
      try {
        return JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).private !== true;
      } catch {
        return false;
      }
    });
  const files = {};
  for (const dir of packages) {
    const { name, version } = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    step(`pack ${name}@${version}`);
    execFileSync('pnpm', ['pack', '--pack-destination', tarballs], { cwd: dir, stdio: ['ignore', 'ignore', 'inherit'] });
    const file = readdirSync(tarballs).find((f) => f.startsWith(name.replace('@', '').replace('/', '-') + '-' + version));
    if (file === undefined) throw new Error(`no tarball for ${name}`);
    files[name] = `file:${join(tarballs, file)}`;
  }
  const rootPkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const devVersions = rootPkg.devDependencies;
  cpSync(join(root, 'scripts', 'app-outside'), app, { recursive: true });
  writeFileSync(
    join(app, 'package.json'),
    JSON.stringify(
      {
        name: 'rxml-app-outside',
        private: true,
        type: 'module',
        dependencies: {
          '@rxml/core': files['@rxml/core'],
          '@rxml/kafka': files['@rxml/kafka'],
          '@rxml/kafka-testkit': files['@rxml/kafka-testkit'],
          rxjs: '^7.8.0',
        },
        devDependencies: { typescript: devVersions.typescript, '@types/node': devVersions['@types/node'] },
        // Every @rxml/* name resolves to its tarball, never to the registry (a squatted name there
        // would install a stranger's package).
        overrides: files,
      },
      null,
      2,
    ),
  );
  step(`npm install in ${app}`);
  run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error'], app);
  step('tsc --strict');
  run(join(app, 'node_modules', '.bin', 'tsc'), ['-p', '.'], app);
  step('run the Iris pipeline');
  run(process.execPath, ['dist/main.js'], app);
  step('OK');
} finally {
  if (keep) console.log(`[pack-app] kept ${work}`);
  else rmSync(work, { recursive: true, force: true });
}
