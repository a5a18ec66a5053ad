import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

interface Snapshot {
  readonly modules: string[];
  readonly sharedObjects: string[];
}

/** Heavy libraries an Iris + Kafka app must not load, as they appear in module URLs and mapped files. */
const HEAVY: Record<string, RegExp> = {
  sharp: /[\\/](sharp|@img[\\/]sharp-[^\\/]+)[\\/]/,
  libvips: /libvips/,
  h5wasm: /[\\/]h5wasm[\\/]/,
  'onnx-proto': /[\\/]onnx-proto[\\/]/,
  onnxruntime: /onnxruntime/,
  '@rxml/keras': /[\\/]packages[\\/]keras[\\/]|@rxml[\\/]keras/,
  '@rxml/onnx': /[\\/]packages[\\/]onnx[\\/]|@rxml[\\/]onnx/,
};

function found(snapshot: Snapshot): string[] {
  const all = [...snapshot.modules, ...snapshot.sharedObjects];
  return Object.entries(HEAVY)
    .filter(([, pattern]) => all.some((entry) => pattern.test(entry)))
    .map(([name]) => name);
}

it('an Iris + Kafka app loads neither sharp/libvips, h5wasm, onnx-proto nor onnxruntime (from the modules actually loaded)', async () => {
  const script = fileURLToPath(new URL('./fixtures/loaded-modules.mjs', import.meta.url));
  const cwd = fileURLToPath(new URL('..', import.meta.url));
  const { stdout } = await promisify(execFile)(process.execPath, [script], { cwd, env: { ...process.env, RXML_BACKEND: process.env['RXML_BACKEND'] ?? 'cpu' }, maxBuffer: 64 << 20 });
  const report = JSON.parse(stdout.trim().split('\n').pop()!) as { results: string[]; afterIris: Snapshot; afterDecode: Snapshot };

  // The pipeline really ran: two flowers classified, the malformed record failed on its own.
  expect(report.results).toEqual(['setosa', 'virginica', 'INVALID_INPUT']);
  // The probes see what was loaded: @rxml/core, @rxml/kafka and tfjs are there …
  expect(report.afterIris.modules.some((m) => /packages[\\/]core[\\/]dist[\\/]index\.js$/.test(m))).toBe(true);
  expect(report.afterIris.modules.some((m) => /packages[\\/]kafka[\\/]dist[\\/]index\.js$/.test(m))).toBe(true);
  expect(report.afterIris.modules.some((m) => /tfjs-core/.test(m))).toBe(true);
  // … and none of the heavy ones.
  expect(found(report.afterIris)).toEqual([]);
  // Control: one image decode loads sharp and libvips, and the same probes see them.
  expect(found(report.afterDecode)).toEqual(expect.arrayContaining(['sharp', 'libvips']));
});
