import { RxmlError, type TensorData } from '@rxml/core/contract';
import type { V2Datatype } from '../datatypes.js';
import type { WireTensorSpec } from './transport.js';

/** One output of a v2 answer as the server described it, its data already decoded. */
export interface AnsweredTensor extends TensorData {
  readonly datatype: V2Datatype;
}

/** What the answer is checked against: who was asked, for how many records, and where. */
export interface AnswerContext {
  /** The model's name on the server (as passed to `loadRemoteModel`). */
  readonly model: string;
  /** Records in the request: every output's first dimension must be this. */
  readonly batch: number;
  /** The request, for messages: `POST http://…/v2/models/iris/infer`, `gRPC ModelInfer at host:port`. */
  readonly request: string;
}

type Kind = 'float' | 'integer' | 'bool';

function kindOf(datatype: V2Datatype): Kind {
  if (datatype === 'FP32' || datatype === 'FP64') return 'float';
  return datatype === 'BOOL' ? 'bool' : 'integer';
}

const KIND_TAKES: Readonly<Record<Kind, string>> = {
  float: 'a float output takes FP32 or FP64',
  integer: 'an integer output takes INT8…INT64 or UINT8…UINT64',
  bool: 'a BOOL output takes BOOL',
};

const dims = (shape: readonly number[]): string => `[${shape.join(', ')}]`;

/**
 * Why an answered output does not fit the request and the model's declared output, or `undefined`:
 * - its datatype must be of the declared kind: a float (FP32/FP64) for a float, an integer (any
 *   INT/UINT width) for an integer, BOOL for BOOL — the contract carries every float as
 *   `Float32Array` and every integer as `Int32Array`, so a width difference changes nothing, but an
 *   integer for a float (or the reverse) is another answer;
 * - its first dimension must be the batch size sent;
 * - its rank must be the declared rank, and every fixed (≥ 0) declared dimension after the first
 *   must match (-1 is free).
 */
export function answerProblem(spec: WireTensorSpec, answered: AnsweredTensor, context: AnswerContext): string | undefined {
  const who = `model ${context.model} answered output ${spec.name}`;
  if (kindOf(answered.datatype) !== kindOf(spec.datatype)) {
    return `${who} as ${answered.datatype}, declared ${spec.datatype} (${KIND_TAKES[kindOf(spec.datatype)]})`;
  }
  const shape = answered.shape;
  const declared = spec.shape;
  const fits =
    shape.length > 0 &&
    shape[0] === context.batch &&
    (declared.length === 0 || (shape.length === declared.length && declared.every((d, k) => k === 0 || d < 0 || d === shape[k])));
  if (!fits) return `${who} with shape ${dims(shape)} for a batch of ${context.batch} (declared ${declared.length === 0 ? 'without a shape' : dims(declared)})`;
  return undefined;
}

/**
 * The requested outputs, in order, each checked by {@link answerProblem}: a missing output or one
 * that does not fit fails the whole answer with a non-retriable `MODEL_ERROR` (the server answered;
 * asking again gets the same answer), so `predict` fails that batch instead of decoding wrong data.
 */
export function checkedOutputs(answered: ReadonlyMap<string, AnsweredTensor>, wanted: readonly WireTensorSpec[], context: AnswerContext): TensorData[] {
  return wanted.map((spec) => {
    const tensor = answered.get(spec.name);
    if (tensor === undefined) {
      throw new RxmlError('MODEL_ERROR', `model ${context.model} inference (${context.request}): the answer lacks output ${spec.name} (got ${[...answered.keys()].join(', ') || 'none'})`);
    }
    const problem = answerProblem(spec, tensor, context);
    if (problem !== undefined) throw new RxmlError('MODEL_ERROR', `${problem}; request: ${context.request}`);
    return { data: tensor.data, shape: tensor.shape };
  });
}
