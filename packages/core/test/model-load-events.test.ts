import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CHANNELS, subscribe, type ModelLoadMessage } from '../src/contract/index.js';
import { loadImageModel, loadIrisModel, loadModel } from '../src/index.js';
import { modelsMirror } from './support/shared.js';

function recording(): { messages: ModelLoadMessage[]; stop: () => void } {
  const messages: ModelLoadMessage[] = [];
  const stop = subscribe(CHANNELS.modelLoad, (m) => void messages.push(m));
  return { messages, stop };
}

// `rxml:model:load` is what metrics count as model loads: one event per load, whatever the loader.
describe('rxml:model:load', () => {
  it('loadIrisModel publishes one ok event with name, version, runtime, format and the bytes read', async () => {
    const { messages, stop } = recording();
    const model = await loadIrisModel();
    stop();
    model.dispose();
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatchObject({ name: 'iris', version: model.version, runtime: model.runtime, format: 'tfjs', ok: true });
    expect(messages[0]?.bytes).toBeGreaterThan(0);
  });

  it('a failed load publishes one failed event with the error', async () => {
    const { messages, stop } = recording();
    await expect(loadModel('/nonexistent/rxml-model-dir')).rejects.toMatchObject({ code: 'MODEL_LOAD_ERROR' });
    stop();
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatchObject({ format: 'tfjs', ok: false });
    expect(messages[0]?.error?.code).toBe('MODEL_LOAD_ERROR');
  });

  it('loadImageModel (which reads a tfjs model inside) publishes once, not twice', async () => {
    const cacheDir = mkdtempSync(join(tmpdir(), 'rxml-load-events-'));
    const { messages, stop } = recording();
    const model = await loadImageModel('mobilenet_v1_0.75_224', { cacheDir, mirror: modelsMirror });
    stop();
    model.dispose();
    expect(messages.filter((m) => m.ok)).toHaveLength(1);
  });
});
