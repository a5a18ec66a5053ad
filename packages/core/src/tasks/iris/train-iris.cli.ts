/**
 * Trains the Iris model from the seed's data and writes it (plus its accuracy) into
 * `packages/core/models/iris/`. Run: `pnpm --filter @rxml/core train:iris [path/to/iris.txt]`.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { io } from '@tensorflow/tfjs-core';
import { readIrisDataset, splitIrisDataset } from './iris-dataset.js';
import { IRIS_MODEL_DIR, trainIrisNetwork } from './iris-model.js';
import { evaluateIris } from './evaluate-iris.js';
import { tfjsModel } from '../../runtimes/tfjs/tfjs-model.js';

const dataPath = resolve(process.argv[2] ?? join(IRIS_MODEL_DIR, '../../../../../shared/seed/iris.txt'));
const examples = await readIrisDataset(dataPath);
const { train, test } = splitIrisDataset(examples);
const network = await trainIrisNetwork(train);
const model = tfjsModel(network, { name: 'iris', version: 'training' }, 'tfjs');
const heldOut = await evaluateIris(model, test);
const all = await evaluateIris(model, examples);
await mkdir(IRIS_MODEL_DIR, { recursive: true });
await network.save(
  io.withSaveHandler(async (artifacts) => {
    const weightsFile = 'weights.bin';
    const modelJson = {
      format: 'layers-model',
      generatedBy: 'rxml train-iris',
      modelTopology: artifacts.modelTopology,
      weightsManifest: [{ paths: [weightsFile], weights: artifacts.weightSpecs }],
    };
    await writeFile(join(IRIS_MODEL_DIR, 'model.json'), `${JSON.stringify(modelJson)}\n`);
    await writeFile(join(IRIS_MODEL_DIR, weightsFile), new Uint8Array(artifacts.weightData as ArrayBuffer));
    return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
  }),
);
const metrics = { trainedOn: train.length, heldOut: test.length, heldOutAccuracy: heldOut, allAccuracy: all };
await writeFile(join(IRIS_MODEL_DIR, 'metrics.json'), `${JSON.stringify(metrics, null, 2)}\n`);
console.log(JSON.stringify(metrics));
model.dispose();
