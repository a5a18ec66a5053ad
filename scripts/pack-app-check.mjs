#!/usr/bin/env node
/**
 * Proves that rxml works from outside this workspace, as a user gets it: packs every public package
 * (scripts/pack.mjs: `pnpm pack`, which turns `workspace:*` into real versions, and bundles the
 * patched kafkajs into @rxml/kafka and the testkit), installs the tarballs with plain npm into a
 * fresh app in a temporary directory (overrides pin every @rxml/* name to its tarball, so nothing
 * of ours is ever asked of the registry), checks that @rxml/kafka and the testkit load their
 * bundled kafkajs and that it passes rxml's patch guard, type-checks the app with `tsc --strict`
 * and runs its Iris pipeline on the testkit's broker, whose dead letter must keep interleaved
 * headers a=1, b=null, a=2 in order (only the patched kafkajs does). Needs the workspace built
 * (`pnpm build`).
 *
 * Usage: node scripts/pack-app-check.mjs [--keep]
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, relative, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { packAll } from './pack.mjs';

const root = resolve(fileURLToPath(new URL('..', import.meta.url)));
const keep = process.argv.includes('--keep');
const work = mkdtempSync(join(tmpdir(), 'rxml-app-'));
const tarballs = join(work, 'tarballs');
const app = join(work, 'app');
const step = (what) => console.log(`[pack-app] ${what}`);
const run = (cmd, args, cwd) => execFileSync(cmd, args, { cwd, stdio: 'inherit', env: { ...process.env, npm_config_fund: 'false', npm_config_audit: 'false' } });

try {
  // Packs every public package and checks that the bundled kafkajs in @rxml/kafka and the testkit
  // is the workspace's patched copy, file for file (scripts/pack.mjs).
  const files = Object.fromEntries(Object.entries(packAll(tarballs, step)).map(([name, path]) => [name, `file:${path}`]));
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
  // Each package that bundles kafkajs must load its own (patched) copy, whatever else the app has.
  for (const name of ['@rxml/kafka', '@rxml/kafka-testkit']) {
    const pkgDir = join(app, 'node_modules', ...name.split('/'));
    const resolved = realpathSync(createRequire(join(pkgDir, 'package.json')).resolve('kafkajs'));
    if (!resolved.startsWith(realpathSync(join(pkgDir, 'node_modules', 'kafkajs')) + sep)) throw new Error(`${name} resolves kafkajs to ${resolved}, not its bundled copy`);
    step(`${name} loads its bundled kafkajs (${relative(app, resolved)})`);
  }
  const { kafkajsPatchProblems } = await import(pathToFileURL(join(app, 'node_modules', '@rxml', 'kafka', 'dist', 'internal', 'kafkajs-patch.js')).href);
  const problems = kafkajsPatchProblems();
  if (problems.length > 0) throw new Error(`the installed @rxml/kafka's kafkajs is not patched: ${problems.join('; ')}`);
  step('the installed @rxml/kafka passes its kafkajs patch guard');
  step('tsc --strict');
  run(join(app, 'node_modules', '.bin', 'tsc'), ['-p', '.'], app);
  step('run the Iris pipeline');
  run(process.execPath, ['dist/main.js'], app);
  step('OK');
} finally {
  if (keep) console.log(`[pack-app] kept ${work}`);
  else rmSync(work, { recursive: true, force: true });
}
