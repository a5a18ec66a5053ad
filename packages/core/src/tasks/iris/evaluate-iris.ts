import { lastValueFrom, from, toArray } from 'rxjs';
import type { Model } from '../../contract/model.js';
import { predictIris } from './predict-iris.js';
import { IRIS_SPECIES } from './iris-input.js';
import type { IrisExample } from './iris-dataset.js';

/** Share of `examples` whose predicted species is the labelled one, through `predictIris`. */
export async function evaluateIris(model: Model, examples: readonly IrisExample[]): Promise<number> {
  const results = await lastValueFrom(from(examples).pipe(predictIris(model, { select: (e) => e.features, batch: { size: 256 } }), toArray()));
  const correct = results.filter((r) => r.ok && r.value.species === IRIS_SPECIES[r.input.label]).length;
  return correct / examples.length;
}
