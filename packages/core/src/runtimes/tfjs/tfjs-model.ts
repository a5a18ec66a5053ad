import * as tf from '@tensorflow/tfjs-core';
import type { GraphModel } from '@tensorflow/tfjs-converter';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { RxmlError } from '../../contract/errors.js';
import type { DType, Model, ModelIdentity, TensorData, TensorSpec } from '../../contract/model.js';

export type TfjsNetwork = LayersModel | GraphModel;

function isLayersModel(network: TfjsNetwork): network is LayersModel {
  return 'layers' in network;
}

function toDType(dtype: string | undefined): DType {
  return dtype === 'int32' ? 'int32' : 'float32';
}

function specsOf(network: TfjsNetwork, side: 'inputs' | 'outputs'): TensorSpec[] {
  if (isLayersModel(network)) {
    const symbolic = side === 'inputs' ? network.inputs : network.outputs;
    const names = side === 'inputs' ? network.inputNames : network.outputNames;
    return symbolic.map((s, i) => ({ name: names[i] ?? s.name, shape: [...s.shape], dtype: toDType(s.dtype) }));
  }
  const infos = side === 'inputs' ? network.inputs : network.outputs;
  return infos.map((info) => ({
    name: info.name,
    shape: (info.shape ?? []).map((d) => (d === -1 ? null : d)),
    dtype: toDType(info.dtype),
  }));
}

/** Copies a tensor's values out of the backend, so no tensor outlives the call. */
function readTensor(tensor: tf.Tensor): TensorData {
  const data = tensor.dataSync();
  return { data: data instanceof Int32Array || data instanceof Float32Array ? data : Float32Array.from(data), shape: tensor.shape };
}

/**
 * Wraps a loaded tfjs LayersModel or GraphModel as an rxml `Model`. The wrapper owns the network:
 * `dispose()` frees its weights. `run` disposes every tensor it creates, also when it throws.
 */
export function tfjsModel(network: TfjsNetwork, identity: ModelIdentity, runtime: string): Model {
  const inputs = specsOf(network, 'inputs');
  const outputs = specsOf(network, 'outputs');
  return {
    ...identity,
    runtime,
    inputs,
    outputs,
    run(feeds: readonly TensorData[]): Promise<TensorData[]> {
      if (feeds.length !== inputs.length) {
        return Promise.reject(new RxmlError('INVALID_INPUT', `model ${identity.name} takes ${inputs.length} input(s), got ${feeds.length}`));
      }
      try {
        const produced = tf.tidy(() => {
          const xs = feeds.map((feed, i) => tf.tensor(feed.data, [...feed.shape], inputs[i]?.dtype ?? 'float32'));
          const batchSize = feeds[0]?.shape[0] ?? 1;
          // LayersModel.predict splits its input into chunks of 32 unless told the batch size.
          const out = isLayersModel(network)
            ? network.predict(xs.length === 1 ? xs[0]! : xs, { batchSize })
            : network.predict(xs.length === 1 ? xs[0]! : xs);
          return Array.isArray(out) ? out : out instanceof tf.Tensor ? [out] : Object.values(out);
        });
        let results: TensorData[];
        try {
          results = produced.map(readTensor);
        } finally {
          tf.dispose(produced);
        }
        return Promise.resolve(results);
      } catch (cause) {
        return Promise.reject(new RxmlError('MODEL_ERROR', `model ${identity.name} failed: ${cause instanceof Error ? cause.message : String(cause)}`, { cause }));
      }
    },
    dispose(): void {
      network.dispose();
    },
  };
}
