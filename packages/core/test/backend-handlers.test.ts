import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const coreEntry = fileURLToPath(new URL('../dist/index.js', import.meta.url));

// The wasm backend's Emscripten module installs process-wide handlers that re-throw every uncaught
// error from inside tf-backend-wasm.node.js (exit code 7): rxml removes them once the backend starts.
describe('after the wasm backend starts, an application error keeps its own stack', () => {
  it('an uncaught error is reported by Node with its own stack and exit code 1, not from tf-backend-wasm', () => {
    const program = `
      const { initBackend } = await import(${JSON.stringify(coreEntry)});
      const info = await initBackend();
      if (info.name !== 'wasm') throw new Error('expected wasm, got ' + info.name);
      setTimeout(() => { throw new Error('boom from the application'); }, 10);
    `;
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', program], {
      env: { ...process.env, RXML_BACKEND: 'wasm' },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(child.stderr).toContain('boom from the application');
    expect(child.stderr).not.toContain('tf-backend-wasm');
    expect(child.status).toBe(1);
  });
});
