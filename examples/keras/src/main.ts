/**
 * The seed's Keras scenario without Python or DL4J: load `simple_mlp.h5` (Dense(64, relu, input
 * 100) → Dense(10, softmax), saved by tf.keras 2.x), stream CSV records through `predictKeras`
 * and print each record's predicted class. A malformed record gets an error result; the stream
 * goes on.
 *
 * Run: pnpm --filter @rxml/example-keras start [model.h5|model.keras] [records.json]
 * (records.json: a JSON array of 100-number rows; default: the samples saved with the model in data/.)
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { from, lastValueFrom, toArray } from 'rxjs';
import { predictKeras } from '@rxml/core';
import { loadKerasModel } from '@rxml/keras';

// The example's own data (examples/keras/data): simple_mlp.h5 and Keras's predictions for its samples.
const fixtures = new URL('../data/', import.meta.url);
// Paths given on the command line are relative to where you ran it (pnpm's INIT_CWD), not to examples/keras.
const given = (arg: string | undefined): string | undefined => (arg === undefined ? undefined : resolve(process.env['INIT_CWD'] ?? process.cwd(), arg));
const modelPath = given(process.argv[2]) ?? fileURLToPath(new URL('simple_mlp.h5', fixtures));
const recordsPath = given(process.argv[3]) ?? fileURLToPath(new URL('simple_mlp.json', fixtures));

// The fixture JSON keeps the rows under inputs[0].data; a plain JSON array of rows works too.
const parsed = JSON.parse(await readFile(recordsPath, 'utf8')) as number[][] | { inputs: { data: number[][] }[] };
const rows = Array.isArray(parsed) ? parsed : (parsed.inputs[0]?.data ?? []);
// Records as they would arrive from Kafka: CSV lines, plus (with the example's own samples only) one
// that is too short, to show an error result.
const records = [...rows.map((row) => row.join(',')), ...(process.argv[3] === undefined ? ['0.5,1.5,2.5'] : [])];

const model = await loadKerasModel(modelPath);
try {
  console.log(`model ${model.name}@${model.version} on ${model.runtime}: ${model.inputs.map((i) => `${i.name} [${i.shape.map((d) => d ?? '?').join(', ')}]`).join(', ')}`);
  const results = await lastValueFrom(from(records).pipe(predictKeras(model, { outputs: 'single', batch: { size: 16 } }), toArray()));
  results.forEach((result, i) => {
    if (!result.ok) {
      console.log(`record ${i}: ${result.error.code} ${result.error.message}`);
      return;
    }
    const { output } = result.value;
    const best = output.indexOf(Math.max(...output));
    console.log(`record ${i}: class ${best} (p=${output[best]?.toFixed(4)}) probabilities [${output.map((p) => p.toFixed(4)).join(', ')}]`);
  });
} finally {
  model.dispose();
}
