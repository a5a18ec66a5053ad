/**
 * The package's public surface, as published: every `exports` entry (ESM + its .d.ts) and the exact
 * value names each one exports. Adding or removing an export fails here until this list is updated
 * on purpose (then update the package's README and docs too). Type-only exports are covered by tsc.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const EXPECTED: Record<string, readonly string[]> = {
  '.': [
    'CHANNELS',
    'MAX_MODEL_ID_BYTES',
    'modelIdentityProblem',
    'UNKNOWN_MODEL',
    'DEFAULT_LIMITS',
    'IMAGE_MODEL_CATALOG',
    'INPUT_ERROR',
    'IRIS_FEATURES',
    'IRIS_MODEL_DIR',
    'IRIS_SPECIES',
    'JSON_TEXT',
    'PREDICT_DEFAULTS',
    'SHADOW_DRAIN_TIMEOUT_MS',
    'SHADOW_EVENT_LOOP_SHARE',
    'ModelVersions',
    'RXML_ERROR_CODES',
    'RxmlError',
    'activeBackend',
    'compareValues',
    'contentVersion',
    'defaultCacheDir',
    'describeSource',
    'ensureCachedModel',
    'evaluateIris',
    'failures',
    'float32Text',
    'guardCallback',
    'hasSubscribers',
    'imageModelNames',
    'initBackend',
    'inputErrorOf',
    'invalidConfig',
    'isHttpUrl',
    'isModelStream',
    'isRxmlError',
    'isSplitModels',
    'jsonTextOf',
    'layersModelFromArtifacts',
    'loadImageModel',
    'loadIrisModel',
    'loadModel',
    'loadModelBytes',
    'locationOf',
    'observedLoad',
    'parseIrisDataset',
    'pollModel',
    'parseIrisInput',
    'predict',
    'predictImage',
    'predictIris',
    'predictKeras',
    'predictTask',
    'preprocessImage',
    'publish',
    'readBytes',
    'readIrisDataset',
    'saveModelBytes',
    'splitIrisDataset',
    'splitModels',
    'subscribe',
    'tfjsModel',
    'tfjsRuntime',
    'toRxmlError',
    'trainIrisNetwork',
    'values',
    'watchModel',
    'withInputError',
    'withRun',
  ],
  './contract': [
    'CHANNELS',
    'MAX_MODEL_ID_BYTES',
    'modelIdentityProblem',
    'UNKNOWN_MODEL',
    'INPUT_ERROR',
    'JSON_TEXT',
    'ModelVersions',
    'RXML_ERROR_CODES',
    'RxmlError',
    'float32Text',
    'guardCallback',
    'hasSubscribers',
    'inputErrorOf',
    'invalidConfig',
    'isModelStream',
    'isRxmlError',
    'jsonTextOf',
    'publish',
    'subscribe',
    'toRxmlError',
    'withInputError',
    'withRun',
  ],
  './runtime': [
    'activeBackend',
    'contentVersion',
    'describeSource',
    'initBackend',
    'isHttpUrl',
    'layersModelFromArtifacts',
    'loadModelBytes',
    'locationOf',
    'observedLoad',
    'readBytes',
    'tfjsModel',
    'tfjsRuntime',
  ],
};

interface Manifest {
  readonly name: string;
  readonly type?: string;
  readonly exports: Record<string, string | { readonly types: string; readonly default: string }>;
}

const root = new URL('../', import.meta.url);
const manifest = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as Manifest;

describe(`${manifest.name} exports`, () => {
  it('is ESM and maps exactly the expected entries (plus ./package.json) to built JS with types', () => {
    expect(manifest.type).toBe('module');
    expect(Object.keys(manifest.exports).sort()).toEqual([...Object.keys(EXPECTED), './package.json'].sort());
    for (const entry of Object.keys(EXPECTED)) {
      const target = manifest.exports[entry];
      if (typeof target !== 'object') throw new Error(`${entry} has no conditions`);
      expect(existsSync(fileURLToPath(new URL(target.default, root))), target.default).toBe(true);
      expect(existsSync(fileURLToPath(new URL(target.types, root))), target.types).toBe(true);
    }
  });

  it.each(Object.entries(EXPECTED))('%s exports exactly the expected names', async (entry, names) => {
    const specifier = entry === '.' ? manifest.name : `${manifest.name}${entry.slice(1)}`;
    const loaded = (await import(specifier)) as Record<string, unknown>;
    expect(Object.keys(loaded).sort()).toEqual([...names].sort());
  });
});
