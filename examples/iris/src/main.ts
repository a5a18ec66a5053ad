/**
 * The seed's DL4J Iris example, in memory: the seed's three flowers, then the whole data set,
 * streamed through `predictIris`. Kafka comes in `examples/iris-kafka`.
 *
 * Run: pnpm --filter @rxml/example-iris start [path/to/iris.txt]
 */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { from, lastValueFrom, toArray } from 'rxjs';
import { IRIS_SPECIES, loadIrisModel, predictIris, readIrisDataset } from '@rxml/core';

// A path given on the command line is relative to where you ran it (pnpm's INIT_CWD), not to the example's folder.
const dataPath = process.argv[2] !== undefined ? resolve(process.env['INIT_CWD'] ?? process.cwd(), process.argv[2]) : fileURLToPath(new URL('../../../../shared/seed/iris.txt', import.meta.url));
const model = await loadIrisModel();
try {
  console.log(`model ${model.name}@${model.version} on ${model.runtime}`);

  const seedInputs = ['5.4,3.9,1.7,0.4', '7.0,3.2,4.7,1.4', '4.6,3.4,1.4,0.3'];
  for (const result of await lastValueFrom(from(seedInputs).pipe(predictIris(model), toArray()))) {
    if (result.ok) {
      const p = result.value.probabilities;
      console.log(`${result.input} -> ${result.value.species} (setosa ${p.setosa.toFixed(3)}, versicolor ${p.versicolor.toFixed(3)}, virginica ${p.virginica.toFixed(3)})`);
    } else {
      console.log(`${result.input} -> ${result.error.code}: ${result.error.message}`);
    }
  }

  const flowers = await readIrisDataset(dataPath);
  const results = await lastValueFrom(from(flowers).pipe(predictIris(model, { select: (f) => f.features, batch: { size: 64 } }), toArray()));
  const correct = results.filter((r) => r.ok && r.value.species === IRIS_SPECIES[r.input.label]).length;
  console.log(`accuracy on all ${flowers.length} flowers: ${(correct / flowers.length).toFixed(4)} (${correct}/${flowers.length})`);
} finally {
  model.dispose();
}
