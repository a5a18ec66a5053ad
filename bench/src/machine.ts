import { createRequire } from 'node:module';
import { cpus, totalmem, release } from 'node:os';

const require = createRequire(import.meta.url);

function versionOf(pkg: string): string | undefined {
  try {
    return (require(`${pkg}/package.json`) as { version: string }).version;
  } catch {
    return undefined;
  }
}

/** What the numbers were measured on: they are only comparable within one file. */
export function machineInfo() {
  return {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    kernel: release(),
    node: process.version,
    versions: Object.fromEntries(
      ['@rxml/core', '@tensorflow/tfjs-core', 'rxjs'].map((p) => [p, versionOf(p) ?? 'n/a']),
    ),
  };
}
