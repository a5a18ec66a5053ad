#!/usr/bin/env node
/**
 * Packs every public package into installable tarballs (`pnpm pack`, which turns `workspace:*` into
 * real versions) and checks each bundled dependency in them.
 *
 * @rxml/kafka and @rxml/kafka-testkit bundle kafkajs (`bundleDependencies`): the tarball carries
 * the copy pnpm patched with patches/kafkajs@2.2.4.patch, so every install (npm or pnpm) runs the
 * patched kafkajs — `patchedDependencies` only applies inside this workspace. pnpm refuses
 * `bundleDependencies` under its isolated linker (ERR_PNPM_BUNDLED_DEPENDENCIES_WITHOUT_HOISTED)
 * because a bundled package's own dependencies would be missing from the symlinked copy; kafkajs
 * has none, so those packages are packed with `--config.node-linker=hoisted`, and this script
 * checks what that relies on: the bundled package declares no dependencies, and its files in the
 * tarball are byte-identical to the workspace's (patched) install, patch markers included.
 *
 * Usage: node scripts/pack.mjs [destination]   (default: ./tarballs)
 * As a module: `packAll(destination)` → { name: tarball path }.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(fileURLToPath(new URL('..', import.meta.url)));

/** A marker each bundled package must contain: the patch really is in the copy. */
const PATCH_MARKERS = {
  kafkajs: [
    ['src/protocol/recordBatch/v0/decoder.js', 'error.standIn'],
    ['src/protocol/recordBatch/record/v0/index.js', "Symbol.for('rxml.kafka.headerList')"],
    ['src/consumer/filterAbortedMessages.js', 'rxml patch'],
  ],
};

function filesUnder(dir, base = dir) {
  const out = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...filesUnder(path, base));
    else out.push(relative(base, path));
  }
  return out.sort();
}

/** Throws unless `tarball`'s copy of `dep` is complete and identical to the workspace's install. */
function checkBundled(pkgDir, tarball, dep) {
  const installed = realpathSync(join(pkgDir, 'node_modules', dep));
  const manifest = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8'));
  const own = Object.keys({ ...manifest.dependencies, ...manifest.optionalDependencies, ...manifest.peerDependencies });
  if (own.length > 0) throw new Error(`bundled ${dep} has dependencies of its own (${own.join(', ')}): pnpm's isolated copy would not carry them`);
  const scratch = mkdtempSync(join(tmpdir(), 'rxml-pack-'));
  try {
    execFileSync('tar', ['xzf', tarball, '-C', scratch]);
    const packed = join(scratch, 'package', 'node_modules', dep);
    const [want, got] = [filesUnder(installed), filesUnder(packed)];
    if (want.join('\n') !== got.join('\n')) throw new Error(`bundled ${dep} in ${tarball}: file list differs from ${installed}`);
    for (const file of want) {
      if (!readFileSync(join(installed, file)).equals(readFileSync(join(packed, file)))) throw new Error(`bundled ${dep} in ${tarball}: ${file} differs from ${installed}`);
    }
    for (const [file, marker] of PATCH_MARKERS[dep] ?? []) {
      if (!readFileSync(join(packed, file), 'utf8').includes(marker)) throw new Error(`bundled ${dep} in ${tarball}: ${file} lacks the patch (${marker}); run pnpm install in the workspace`);
    }
    return want.length;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** Packs every non-private package under packages/ into `destination`; returns name → tarball path. */
export function packAll(destination, log = (line) => console.log(`[pack] ${line}`)) {
  mkdirSync(destination, { recursive: true });
  const files = {};
  for (const dir of readdirSync(join(root, 'packages')).map((d) => join(root, 'packages', d))) {
    let manifest;
    try {
      manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    } catch {
      continue;
    }
    if (manifest.private === true) continue;
    const bundled = manifest.bundleDependencies ?? manifest.bundledDependencies ?? [];
    const expected = `${manifest.name.replace('@', '').replace('/', '-')}-${manifest.version}.tgz`;
    rmSync(join(destination, expected), { force: true });
    const args = ['pack', '--pack-destination', destination, ...(bundled.length > 0 ? ['--config.node-linker=hoisted'] : [])];
    execFileSync('pnpm', args, { cwd: dir, stdio: ['ignore', 'ignore', 'inherit'] });
    const tarball = join(destination, expected);
    const checked = bundled.map((dep) => `${dep} (${checkBundled(dir, tarball, dep)} files, identical to the patched install)`);
    log(`${manifest.name}@${manifest.version} → ${tarball}${checked.length > 0 ? `; bundles ${checked.join(', ')}` : ''}`);
    files[manifest.name] = tarball;
  }
  return files;
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  packAll(resolve(process.argv[2] ?? join(root, 'tarballs')));
}
