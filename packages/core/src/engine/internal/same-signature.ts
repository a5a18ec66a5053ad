import { RxmlError } from '../../contract/errors.js';
import type { Model, TensorSpec } from '../../contract/model.js';

function specText(spec: TensorSpec): string {
  return `${spec.name} [${spec.shape.map((d) => d ?? '?').join(', ')}] ${spec.dtype}`;
}

function specsMismatch(kind: 'input' | 'output', want: readonly TensorSpec[], got: readonly TensorSpec[]): string | undefined {
  if (want.length !== got.length) return `${got.length} ${kind}(s) where the first model has ${want.length}`;
  for (let i = 0; i < want.length; i++) {
    const a = want[i]!;
    const b = got[i]!;
    const fits = a.dtype === b.dtype && a.shape.length === b.shape.length && a.shape.every((d, k) => d === null || b.shape[k] === null || d === b.shape[k]);
    if (!fits) return `${kind} ${i} is ${specText(b)} where the first model's is ${specText(a)}`;
  }
  return undefined;
}

/**
 * Checks that `candidate` can run on the batches built for `reference` and decode like it: the
 * same number of inputs and outputs, the same dtypes and ranks, and the same dimensions wherever
 * both fix one (`null` = any size). Throws `RxmlError('INVALID_CONFIG')` naming `what`, both models
 * and the first difference.
 */
export function assertSameSignature(where: string, what: string, reference: Model, candidate: Model): void {
  if (candidate === reference) return;
  const problem = specsMismatch('input', reference.inputs, candidate.inputs) ?? specsMismatch('output', reference.outputs, candidate.outputs);
  if (problem !== undefined) {
    throw new RxmlError('INVALID_CONFIG', `${where}: ${what} '${candidate.name}' does not have the signature of '${reference.name}': ${problem}`);
  }
}
