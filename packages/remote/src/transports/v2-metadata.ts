import { RxmlError } from '@rxml/core/contract';
import { isSupportedDatatype } from '../datatypes.js';
import type { ServerModelMetadata, WireTensorSpec } from './transport.js';

interface RawTensorMetadata {
  readonly name?: unknown;
  readonly datatype?: unknown;
  readonly shape?: unknown;
}

function tensors(list: unknown, kind: 'input' | 'output', what: string): WireTensorSpec[] {
  if (list === undefined || list === null) return [];
  if (!Array.isArray(list)) throw new RxmlError('MODEL_LOAD_ERROR', `${what}: ${kind}s is not a list`);
  return (list as RawTensorMetadata[]).map((t) => {
    const name = String(t.name);
    const datatype = String(t.datatype);
    if (!isSupportedDatatype(datatype)) {
      throw new RxmlError('MODEL_LOAD_ERROR', `${what}: ${kind} ${name} has datatype ${datatype}; rxml models carry numbers (BOOL, INT*, UINT*, FP32, FP64)`);
    }
    if (!Array.isArray(t.shape)) throw new RxmlError('MODEL_LOAD_ERROR', `${what}: ${kind} ${name} has no shape`);
    return { name, datatype, shape: t.shape.map(Number) };
  });
}

/** Validates a v2 model metadata object (`$metadata_model_response`, REST or gRPC). */
export function parseV2Metadata(value: unknown, what: string): ServerModelMetadata {
  if (typeof value !== 'object' || value === null) throw new RxmlError('MODEL_LOAD_ERROR', `${what}: the answer is not an object`);
  const m = value as Record<string, unknown>;
  return {
    name: typeof m['name'] === 'string' ? m['name'] : '',
    versions: Array.isArray(m['versions']) ? (m['versions'] as unknown[]).map(String) : [],
    platform: typeof m['platform'] === 'string' ? m['platform'] : '',
    inputs: tensors(m['inputs'], 'input', what),
    outputs: tensors(m['outputs'], 'output', what),
  };
}
