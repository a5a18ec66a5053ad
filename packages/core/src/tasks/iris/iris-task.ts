import { float32Text, JSON_TEXT, type WithJsonText } from '../../contract/json-text.js';
import type { Model } from '../../contract/model.js';
import { fitsShape, modelMismatch, shapeText, type Task } from '../task.js';
import { IRIS_SPECIES, parseIrisInput, type IrisInput, type IrisSpecies } from './iris-input.js';

export interface IrisPrediction {
  readonly species: IrisSpecies;
  readonly probabilities: Readonly<Record<IrisSpecies, number>>;
}

type Row = readonly [number, number, number, number];

/** Each species' text up to the first probability, built once: fewer string joins per record. */
const TEXT_START: Readonly<Record<IrisSpecies, string>> = {
  setosa: '{"species":"setosa","probabilities":{"setosa":',
  versicolor: '{"species":"versicolor","probabilities":{"setosa":',
  virginica: '{"species":"virginica","probabilities":{"setosa":',
};

/**
 * `IrisPrediction` as `decode` builds it: a plain-data object (own fields `species`, `probabilities`)
 * whose JSON text sinks write without `JSON.stringify` (`JSON_TEXT`): the same fields and order, the
 * probabilities as the shortest decimals that read back as the model's float32 values.
 */
class IrisPredictionValue implements IrisPrediction, WithJsonText {
  constructor(
    readonly species: IrisSpecies,
    readonly probabilities: Readonly<Record<IrisSpecies, number>>,
  ) {}

  [JSON_TEXT](): string {
    const p = this.probabilities;
    return `${TEXT_START[this.species]}${float32Text(p.setosa)},"versicolor":${float32Text(p.versicolor)},"virginica":${float32Text(p.virginica)}}}`;
  }
}

/**
 * The Iris family's batching policy: a 4-16-3 MLP costs almost nothing per record and a fixed
 * ~100 µs per call on tfjs-wasm, so under load batches fill up to 1,024 records; at low load the
 * 5 ms window closes them first (latency is the same as with smaller batches). Measured on this
 * project's 2-core machine, tfjs-wasm, CPU per record: 0.67 µs at 256, 0.18 µs at 1,024, 0.11 µs at
 * 4,096 (PERF-FACTS.md: ~1M samples/s at batch 256 vs 20–30k at batch 1).
 */
export const IRIS_BATCH = Object.freeze({ size: 1024, maxLatencyMs: 5 });

/**
 * The Iris task: 4 measurements in cm (CSV, array, typed array or named fields) → a `[n, 4]`
 * float32 input; the first output's `[n, 3]` probabilities → the species and its probabilities.
 * A model fits when it takes one input of 4 features and gives 3 classes.
 */
export const IRIS_TASK: Task<IrisInput, Row, IrisPrediction> = {
  name: 'predictIris',
  batch: IRIS_BATCH,
  validate(model: Model) {
    if (model.inputs.length !== 1 || !fitsShape(model.inputs[0], [4])) {
      throw modelMismatch('predictIris', model, `an Iris model takes one input [?, 4], this one takes ${model.inputs.map(shapeText).join(', ') || 'none'}`);
    }
    if (!fitsShape(model.outputs[0], [3])) {
      throw modelMismatch('predictIris', model, `an Iris model's first output is [?, 3] (3 species), this one's is ${shapeText(model.outputs[0])}`);
    }
  },
  parse: (raw) => parseIrisInput(raw),
  encode(rows) {
    const data = new Float32Array(rows.length * 4);
    for (let i = 0, o = 0; i < rows.length; i++, o += 4) {
      const row = rows[i]!;
      data[o] = row[0];
      data[o + 1] = row[1];
      data[o + 2] = row[2];
      data[o + 3] = row[3];
    }
    return { data, shape: [rows.length, 4] };
  },
  decode([probabilities], rows) {
    const data = probabilities!.data;
    const values: IrisPrediction[] = [];
    for (let i = 0, o = 0; i < rows.length; i++, o += 3) {
      // Read in place: no typed-array view per record.
      const p0 = data[o]!;
      const p1 = data[o + 1]!;
      const p2 = data[o + 2]!;
      const best = p0 >= p1 ? (p0 >= p2 ? 0 : 2) : p1 >= p2 ? 1 : 2;
      values.push(new IrisPredictionValue(IRIS_SPECIES[best], { setosa: p0, versicolor: p1, virginica: p2 }));
    }
    return values;
  },
  /** Shadow default: the same species; difference = max |Δ probability| over the 3 species. */
  compare(main, shadow) {
    const a = main.probabilities;
    const b = shadow.probabilities;
    const difference = Math.max(Math.abs(a.setosa - b.setosa), Math.abs(a.versicolor - b.versicolor), Math.abs(a.virginica - b.virginica));
    return { agree: main.species === shadow.species, difference };
  },
};
