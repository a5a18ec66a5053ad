#!/usr/bin/env node
// Makes @tensorflow/tfjs-node work without its CDN.
//
// tfjs-node's own install script downloads libtensorflow and a prebuilt addon from a Google
// bucket that these machines cannot reach, so pnpm is told never to run it
// (`ignoredBuiltDependencies`). This script does its job from registries we can reach:
//   1. pip-downloads the pinned `tensorflow-cpu` wheel from PyPI (cached);
//   2. extracts the two shared libraries that carry the TF C API (`libtensorflow_cc.so.2`,
//      `libtensorflow_framework.so.2`) and the few C API headers the addon includes (cached);
//   3. stages them as `deps/lib` + `deps/include` inside the installed tfjs-node package, where
//      its binding.gyp looks for them (`-ltensorflow` -> symlink to libtensorflow_cc.so.2);
//   4. compiles the N-API addon with node-gyp against the local Node headers (cached per key);
//   5. proves it works: imports tfjs-node from packages/core and runs a matMul and a
//      tfjs-layers predict on the `tensorflow` backend.
//
// Idempotent: a second run only re-verifies. Usage: `pnpm setup:tfjs-node [--force]`.
// Cache: $RXML_CACHE_DIR, else $XDG_CACHE_HOME/rxml, else ~/.cache/rxml.

import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The TensorFlow build we stage. tfjs-node 4.22 was written against libtensorflow 2.9.1, whose
 * pip wheel has no standalone C API library (see docs/backends.md); 2.21.0 exports every TF_ and
 * TFE_ function the addon calls, from libtensorflow_cc.so.2 + libtensorflow_framework.so.2. */
const TF = {
  version: '2.21.0',
  wheel: 'tensorflow_cpu-2.21.0-cp311-cp311-manylinux_2_27_x86_64.whl',
  sha256: '2b847d217b02ee7731ed91431daf3250daa0196c3c94614d23be27232e6e5b6c',
  // The wheel is chosen by tags, not by the local Python, so any python3 with pip can fetch it.
  pipTags: ['--python-version', '3.11', '--implementation', 'cp', '--abi', 'cp311',
    '--platform', 'manylinux_2_27_x86_64'],
  libs: ['libtensorflow_cc.so.2', 'libtensorflow_framework.so.2'],
  // Closure of `g++ -M` over binding/*.cc, as directories so minor header moves still resolve.
  includeDirs: ['tensorflow/c/', 'tensorflow/core/platform/', 'tsl/platform/', 'xla/tsl/c/'],
};
const TFJS_NODE_VERSION = '4.22.0';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const force = process.argv.includes('--force');
const cacheRoot = process.env.RXML_CACHE_DIR
  ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'rxml');
const cacheDir = path.join(cacheRoot, 'tfjs-node', `tensorflow-cpu-${TF.version}`);
const started = Date.now();

function log(msg) {
  console.log(`[setup:tfjs-node +${((Date.now() - started) / 1000).toFixed(1)}s] ${msg}`);
}

function fail(msg) {
  console.error(`[setup:tfjs-node] ERROR: ${msg}`);
  process.exit(1);
}

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', ...opts });
  if (r.error) fail(`${cmd}: ${r.error.message}`);
  if (r.status !== 0) fail(`${cmd} ${args.join(' ')} exited with ${r.status}`);
}

function sha256(file) {
  const h = createHash('sha256');
  const fd = fs.openSync(file, 'r');
  const buf = Buffer.allocUnsafe(1 << 20);
  try {
    for (let n; (n = fs.readSync(fd, buf, 0, buf.length, null)) > 0;) h.update(buf.subarray(0, n));
  } finally {
    fs.closeSync(fd);
  }
  return h.digest('hex');
}

/** Hard link (no extra disk for an ~850 MB library), copy when across file systems. */
function linkOrCopy(src, dest) {
  fs.rmSync(dest, { force: true });
  try {
    fs.linkSync(src, dest);
  } catch {
    fs.copyFileSync(src, dest);
  }
}

function symlink(target, dest) {
  fs.rmSync(dest, { force: true });
  fs.symlinkSync(target, dest);
}

/** Writes into a temporary sibling and renames it, so an interrupted run never leaves a
 * half-filled directory that a later run would trust. */
function buildDirAtomically(dir, fill) {
  const tmp = `${dir}.tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp, { recursive: true });
  fill(tmp);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.renameSync(tmp, dir);
}

if (process.platform !== 'linux' || process.arch !== 'x64') {
  fail(`only linux-x64 is supported (this is ${process.platform}-${process.arch}): the wheel's `
    + 'shared libraries are Linux x86-64 ELF files');
}

// --- 0. the package itself: a root devDependency, installed by `pnpm install` without its script.
const coreRequire = createRequire(path.join(root, 'packages/core/package.json'));
function resolveTfjsNode() {
  try {
    return path.dirname(coreRequire.resolve('@tensorflow/tfjs-node/package.json'));
  } catch {
    return undefined;
  }
}
let pkgDir = resolveTfjsNode();
if (pkgDir === undefined) {
  log('@tensorflow/tfjs-node is not installed yet: running pnpm install');
  run('pnpm', ['install', '--frozen-lockfile'], { cwd: root });
  pkgDir = resolveTfjsNode() ?? fail('pnpm install did not make @tensorflow/tfjs-node resolvable');
}
const pkgJson = JSON.parse(fs.readFileSync(path.join(pkgDir, 'package.json'), 'utf8'));
if (pkgJson.version !== TFJS_NODE_VERSION) {
  fail(`expected @tensorflow/tfjs-node ${TFJS_NODE_VERSION}, found ${pkgJson.version}`);
}
const pkgRequire = createRequire(path.join(pkgDir, 'package.json'));
// The path tfjs-node's dist/index.js will load the addon from (lib/napi-v<N>/tfjs_binding.node).
const bindingPath = pkgRequire('@mapbox/node-pre-gyp').find(path.join(pkgDir, 'package.json'));
const napiVersion = /napi-v(\d+)/.exec(bindingPath)?.[1] ?? fail(`unexpected binding path ${bindingPath}`);
const depsLib = path.join(pkgDir, 'deps', 'lib');
const stampPath = path.join(pkgDir, 'deps', 'rxml-setup.json');
const addonKey = `tfjs-node-${TFJS_NODE_VERSION}-napi${napiVersion}-node${process.versions.modules}`;
const stamp = { tensorflow: TF.version, wheelSha256: TF.sha256, addon: addonKey };

function verify() {
  log('verifying from packages/core: import, matMul, tfjs-layers predict');
  const smoke = path.join(root, 'scripts', 'tfjs-node-check.mjs');
  run(process.execPath, [smoke, '--smoke'], {
    cwd: path.join(root, 'packages/core'),
    env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: process.env.TF_CPP_MIN_LOG_LEVEL ?? '2' },
  });
}

const staged = (() => {
  try {
    const s = JSON.parse(fs.readFileSync(stampPath, 'utf8'));
    return JSON.stringify(s) === JSON.stringify(stamp)
      && fs.existsSync(bindingPath)
      && TF.libs.every((l) => fs.existsSync(path.join(depsLib, l)));
  } catch {
    return false;
  }
})();
if (staged && !force) {
  log(`already set up in ${pkgDir} (TensorFlow ${TF.version}); pass --force to redo`);
  verify();
  process.exit(0);
}

// --- 1. wheel (cached; ~274 MB)
const wheelPath = path.join(cacheDir, 'wheel', TF.wheel);
if (!fs.existsSync(wheelPath) || force) {
  log(`downloading ${TF.wheel} from PyPI`);
  const dl = path.join(cacheDir, `wheel.tmp-${process.pid}`);
  fs.rmSync(dl, { recursive: true, force: true });
  run('python3', ['-m', 'pip', 'download', '--no-deps', '--only-binary=:all:', ...TF.pipTags,
    '--disable-pip-version-check', '--progress-bar', 'off', '-d', dl, `tensorflow-cpu==${TF.version}`]);
  const got = path.join(dl, TF.wheel);
  if (!fs.existsSync(got)) fail(`pip did not produce ${TF.wheel} (got: ${fs.readdirSync(dl).join(', ')})`);
  fs.mkdirSync(path.dirname(wheelPath), { recursive: true });
  fs.renameSync(got, wheelPath);
  fs.rmSync(dl, { recursive: true, force: true });
}
log('checking wheel sha256');
const actualSha = sha256(wheelPath);
if (actualSha !== TF.sha256) {
  fs.rmSync(wheelPath, { force: true });
  fail(`wheel sha256 ${actualSha} != pinned ${TF.sha256}; deleted it, re-run to download again`);
}

// --- 2. libraries + headers out of the wheel (cached; ~850 MB unpacked)
const extracted = path.join(cacheDir, 'extracted');
if (!fs.existsSync(path.join(extracted, 'ok')) || force) {
  log('extracting the C API libraries and headers from the wheel');
  buildDirAtomically(extracted, (tmp) => {
    // A wheel is a zip; python3's zipfile is there wherever pip is, unlike `unzip`.
    const py = `
import sys, zipfile, os, shutil
whl, out, libs, incs = sys.argv[1], sys.argv[2], sys.argv[3].split(','), sys.argv[4].split(',')
with zipfile.ZipFile(whl) as z:
    for info in z.infolist():
        n = info.filename
        if n.endswith('/'):
            continue
        if n.startswith('tensorflow/') and n[len('tensorflow/'):] in libs:
            dest = os.path.join(out, 'lib', os.path.basename(n))
        elif n.startswith('tensorflow/include/') and any(n[len('tensorflow/include/'):].startswith(p) for p in incs):
            dest = os.path.join(out, 'include', n[len('tensorflow/include/'):])
        else:
            continue
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        with z.open(info) as src, open(dest, 'wb') as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
`;
    run('python3', ['-c', py, wheelPath, tmp, TF.libs.join(','), TF.includeDirs.join(',')]);
    for (const l of TF.libs) {
      if (!fs.existsSync(path.join(tmp, 'lib', l))) fail(`${l} is not in the wheel`);
    }
    fs.writeFileSync(path.join(tmp, 'ok'), `${TF.wheel}\n`);
  });
}

// --- 3. stage deps/ where binding.gyp and the addon's rpath ($ORIGIN/../../deps/lib) expect it.
// Only new files are added to the installed package; none of its own files are modified.
log(`staging deps/ in ${pkgDir}`);
fs.rmSync(path.join(pkgDir, 'deps'), { recursive: true, force: true });
fs.mkdirSync(depsLib, { recursive: true });
for (const l of TF.libs) linkOrCopy(path.join(extracted, 'lib', l), path.join(depsLib, l));
// binding.gyp links `-ltensorflow -ltensorflow_framework`; the C API lives in libtensorflow_cc.
// The addon then records the libraries' sonames (libtensorflow_cc.so.2, ...) as NEEDED.
symlink('libtensorflow_cc.so.2', path.join(depsLib, 'libtensorflow.so'));
symlink('libtensorflow_framework.so.2', path.join(depsLib, 'libtensorflow_framework.so'));
fs.cpSync(path.join(extracted, 'include'), path.join(pkgDir, 'deps', 'include'), { recursive: true });

// --- 4. the addon (cached per tfjs-node version, N-API version and Node ABI)
const cachedAddon = path.join(cacheDir, 'addon', addonKey, 'tfjs_binding.node');
if (!fs.existsSync(cachedAddon) || force) {
  const nodeDir = process.env.npm_config_nodedir ?? path.dirname(path.dirname(process.execPath));
  if (!fs.existsSync(path.join(nodeDir, 'include/node/node_api.h'))
    || !fs.existsSync(path.join(nodeDir, 'include/node/common.gypi'))) {
    fail(`no Node headers under ${nodeDir}/include/node (node-gyp would try to download them, `
      + 'which cannot work here); install a Node build that ships its headers or set npm_config_nodedir');
  }
  // npm bundles node-gyp; fall back to the registry copy when npm is laid out differently.
  const npmRoot = spawnSync('npm', ['root', '-g'], { encoding: 'utf8' }).stdout?.trim() ?? '';
  const bundled = path.join(npmRoot, 'npm/node_modules/node-gyp/bin/node-gyp.js');
  const gyp = fs.existsSync(bundled)
    ? [process.execPath, bundled]
    : ['npm', 'exec', '--yes', '--package=node-gyp@11.5.0', '--', 'node-gyp'];
  const moduleDir = path.dirname(bindingPath);
  log(`building the addon with node-gyp (nodedir ${nodeDir}, N-API ${napiVersion})`);
  run(gyp[0], [...gyp.slice(1), 'rebuild', `--nodedir=${nodeDir}`, `--jobs=${Math.min(os.cpus().length, 4)}`,
    '--module_name=tfjs_binding', `--module_path=${moduleDir}`, `--napi_build_version=${napiVersion}`], {
    cwd: pkgDir,
    env: { ...process.env, npm_config_loglevel: 'warn' },
  });
  fs.mkdirSync(path.dirname(cachedAddon), { recursive: true });
  fs.copyFileSync(path.join(moduleDir, 'tfjs_binding.node'), `${cachedAddon}.tmp`);
  fs.renameSync(`${cachedAddon}.tmp`, cachedAddon);
} else {
  log(`using the cached addon ${cachedAddon}`);
  fs.mkdirSync(path.dirname(bindingPath), { recursive: true });
  fs.copyFileSync(cachedAddon, bindingPath);
}
fs.writeFileSync(stampPath, `${JSON.stringify(stamp, null, 2)}\n`);

// --- 5. prove it
verify();
log('done');
