/**
 * The wire-format pieces without a server: datatype conversion, raw little-endian bytes, v2
 * responses with binary tensor data (well-formed and malformed), and which failures are retriable.
 */
import { isRxmlError } from '@rxml/core/contract';
import { describe, expect, it } from 'vitest';
import { flattenJson, fromBytes, fromWire, nest, toBytes, toWire, type V2Datatype } from '../src/datatypes.js';
import { answerProblem } from '../src/transports/answer-check.js';
import { grpcError, httpStatusError, networkError, serverMessage } from '../src/errors.js';
import { decodeInferResponse } from '../src/transports/v2-rest.js';

const wanted = [{ name: 'predict_proba', datatype: 'FP64' as const, shape: [-1, 3] }];

function binaryAnswer(values: number[], declaredBytes?: number): { body: Buffer; header: string } {
  const raw = Buffer.from(new Float64Array(values).buffer);
  const json = Buffer.from(JSON.stringify({ model_name: 'iris', model_version: '7', outputs: [{ name: 'predict_proba', datatype: 'FP64', shape: [values.length / 3, 3], parameters: { binary_data_size: declaredBytes ?? raw.length } }] }));
  return { body: Buffer.concat([json, raw]), header: String(json.length) };
}

describe('datatypes', () => {
  it('converts contract arrays to the wire datatype and back (FP64 → float32, INT64 → int32)', () => {
    const f = Float32Array.from([1.5, -2.25]);
    expect(toWire(f, 'FP32')).toBe(f);
    expect(Array.from(toWire(f, 'FP64') as Float64Array)).toEqual([1.5, -2.25]);
    expect(Array.from(toWire(Int32Array.from([3, -4]), 'INT64') as BigInt64Array)).toEqual([3n, -4n]);
    expect(fromWire([0.1, 2], 'FP64')).toEqual(Float32Array.from([0.1, 2]));
    expect(fromWire([true, false], 'BOOL')).toEqual(Int32Array.from([1, 0]));
  });

  it('round-trips raw little-endian bytes, unaligned too', () => {
    const bytes = toBytes(toWire(Float32Array.from([1, 2, 3]), 'FP64'));
    expect(bytes.length).toBe(24);
    const unaligned = Buffer.concat([Buffer.from([9]), bytes]).subarray(1);
    expect(fromBytes(unaligned, 'FP64', 'x')).toEqual(Float32Array.from([1, 2, 3]));
    expect(() => fromBytes(Buffer.alloc(7), 'FP64', 'x')).toThrow(/7 bytes is not a whole number of FP64 elements/);
  });

  it('nests row-major data by shape (TF-Serving rows) and flattens nested JSON', () => {
    expect(nest([1, 2, 3, 4, 5, 6], [2, 3])).toEqual([[1, 2, 3], [4, 5, 6]]);
    expect(nest([1, 2, 3, 4], [2, 1, 2])).toEqual([[[1, 2]], [[3, 4]]]);
    expect(flattenJson([[1, [2]], [3]], 'y')).toEqual([1, 2, 3]);
    expect(() => flattenJson([1, 'a'], 'y')).toThrow(/output y: expected numbers, got string/);
  });
});

describe('v2 responses with binary tensor data', () => {
  it('reads the JSON header and the raw output after it, with the model version', () => {
    const { body, header } = binaryAnswer([0.5, 0.25, 0.25, 0.1, 0.2, 0.7]);
    const answer = decodeInferResponse(body, header, wanted, { model: 'iris', batch: 2, request: 'test' });
    expect(answer.modelVersion).toBe('7');
    expect(answer.outputs).toEqual([{ data: Float32Array.from([0.5, 0.25, 0.25, 0.1, 0.2, 0.7]), shape: [2, 3] }]);
  });

  it.each([
    ['a header length past the body', (a: { body: Buffer; header: string }) => ({ ...a, header: String(a.body.length + 1) }), /does not fit/],
    ['a binary_data_size past the body', () => binaryAnswer([1, 2, 3], 4000), /overruns the body/],
    ['a size that does not match the shape', () => binaryAnswer([1, 2, 3], 16), /2 values for shape \[1, 3\]/],
  ] as const)('fails with MODEL_ERROR on %s', (_what, make, message) => {
    const { body, header } = make(binaryAnswer([1, 2, 3]));
    const thrown = (() => {
      try {
        decodeInferResponse(body, header, wanted, { model: 'iris', batch: 1, request: 'test' });
      } catch (error) {
        return error;
      }
      return undefined;
    })();
    expect(isRxmlError(thrown) && thrown.code).toBe('MODEL_ERROR');
    expect((thrown as Error).message).toMatch(message);
  });

  it('names the missing output', () => {
    const json = Buffer.from(JSON.stringify({ outputs: [{ name: 'predict', datatype: 'INT64', shape: [1], data: [2] }] }));
    expect(() => decodeInferResponse(json, undefined, wanted, { model: 'iris', batch: 1, request: 'test' })).toThrow(/lacks output predict_proba \(got predict\)/);
  });
});

describe('answers checked against the request and the metadata', () => {
  const spec = { name: 'p', datatype: 'FP64' as const, shape: [-1, 3] };
  const context = { model: 'm', batch: 4, request: 'test' };
  const answer = (datatype: V2Datatype, shape: number[]) => ({ datatype, shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)) });

  it('accepts the declared shape with the batch size first, and a float of another width for a float', () => {
    expect(answerProblem(spec, answer('FP64', [4, 3]), context)).toBeUndefined();
    expect(answerProblem(spec, answer('FP32', [4, 3]), context)).toBeUndefined();
    expect(answerProblem({ name: 'i', datatype: 'INT32', shape: [-1] }, answer('INT64', [4]), context)).toBeUndefined();
    expect(answerProblem({ name: 'x', datatype: 'FP32', shape: [-1, -1] }, answer('FP32', [4, 7]), context)).toBeUndefined();
  });

  it.each([
    ['another kind of datatype', answer('INT64', [4, 3]), /model m answered output p as INT64, declared FP64 \(a float output takes FP32 or FP64\)/],
    ['BOOL for a float', answer('BOOL', [4, 3]), /as BOOL, declared FP64/],
    ['fewer rows than records', answer('FP64', [1, 3]), /model m answered output p with shape \[1, 3\] for a batch of 4 \(declared \[-1, 3\]\)/],
    ['more rows than records', answer('FP64', [8, 3]), /shape \[8, 3\] for a batch of 4/],
    ['a fixed dimension of another size', answer('FP64', [4, 2]), /shape \[4, 2\] for a batch of 4/],
    ['another rank', answer('FP64', [4, 3, 1]), /shape \[4, 3, 1\] for a batch of 4/],
    ['no dimensions', answer('FP64', []), /shape \[\] for a batch of 4/],
  ] as const)('rejects %s', (_what, answered, message) => {
    expect(answerProblem(spec, answered, context)).toMatch(message);
  });

  it('fails the whole answer with a non-retriable MODEL_ERROR naming the request', () => {
    const json = Buffer.from(JSON.stringify({ outputs: [{ name: 'predict_proba', datatype: 'INT64', shape: [1, 3], data: [1, 2, 3] }] }));
    const thrown = (() => {
      try {
        decodeInferResponse(json, undefined, wanted, { model: 'iris', batch: 1, request: 'POST http://x/infer' });
      } catch (error) {
        return error;
      }
      return undefined;
    })();
    expect(thrown).toMatchObject({ code: 'MODEL_ERROR', retriable: false });
    expect((thrown as Error).message).toBe('model iris answered output predict_proba as INT64, declared FP64 (a float output takes FP32 or FP64); request: POST http://x/infer');
  });
});

describe('retriable or not', () => {
  it.each([
    [429, true],
    [502, true],
    [503, true],
    [504, true],
    [400, false],
    [404, false],
    [500, false],
  ])('HTTP %i → retriable %s', (status, retriable) => {
    expect(httpStatusError('MODEL_ERROR', 'infer', status, '{"error":"why"}')).toMatchObject({ code: 'MODEL_ERROR', retriable, message: `infer: HTTP ${status}: why` });
  });

  it.each([
    [14, 'UNAVAILABLE', true],
    [4, 'DEADLINE_EXCEEDED', true],
    [8, 'RESOURCE_EXHAUSTED', true],
    [3, 'INVALID_ARGUMENT', false],
    [13, 'INTERNAL', false],
  ])('gRPC %i (%s) → retriable %s', (code, name, retriable) => {
    expect(grpcError('MODEL_ERROR', 'infer', { code, details: 'why' })).toMatchObject({ retriable, message: `infer: gRPC ${name}: why` });
  });

  it('connection errors are retriable, others not', () => {
    expect(networkError('MODEL_ERROR', 'infer', Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })).retriable).toBe(true);
    expect(networkError('MODEL_ERROR', 'infer', new Error('socket closed', { cause: { code: 'UND_ERR_SOCKET' } })).retriable).toBe(true);
    expect(networkError('MODEL_ERROR', 'infer', new Error('bad')).retriable).toBe(false);
  });

  it("quotes the server's message from v2, FastAPI and plain-text bodies", () => {
    expect(serverMessage('{"error":"shape [1, 5]"}')).toBe('shape [1, 5]');
    expect(serverMessage('{"detail":[{"msg":"field required"}]}')).toBe('[{"msg":"field required"}]');
    expect(serverMessage('Internal Server Error')).toBe('Internal Server Error');
    expect(serverMessage('x'.repeat(600))).toHaveLength(501);
  });
});
