import type { LayersModel, SymbolicTensor } from '@tensorflow/tfjs-layers';
import { RxmlError, toRxmlError } from '@rxml/core/contract';
import { Config, LAYER_CONVERTERS, type LayerContext, type Value, type Weight } from './layers/index.js';
import { GraphBuilder, type Onnx } from './onnx-graph.js';

type Layer = LayersModel['layers'][number];

/** The tfjs layer classes `tfjsToOnnx` converts (`layer.getClassName()`); any other fails the load. */
export const SUPPORTED_TFJS_LAYERS: readonly string[] = ['InputLayer', ...Object.keys(LAYER_CONVERTERS)];

/** ONNX opset 13 (Softmax over one axis, Clip with tensor bounds, Pad with tensor pads). */
const OPSET = 13;
const IR_VERSION = 7;

let onnxProto: Promise<Onnx> | undefined;

function loadOnnxProto(): Promise<Onnx> {
  // onnx-proto is CommonJS: its classes hang off the default export's `onnx` namespace. Imported
  // on first use so that loading @rxml/core does not parse ~330 kB of generated protobuf code.
  onnxProto ??= import('onnx-proto').then((m) => m.default.onnx);
  return onnxProto;
}

/**
 * Converts a loaded tfjs `LayersModel` (topology and weights) into ONNX model bytes, in TypeScript,
 * without Python. Inputs and outputs keep their tfjs (channels-last) shapes and names, so the ONNX
 * model takes and returns exactly the tensors the tfjs model does; inside, convolutions run
 * channels-first (ONNX's layout) with transposes only where the layout must change, and each
 * BatchNormalization that directly follows a linear convolution is folded into its weights.
 *
 * Supported layers: {@link SUPPORTED_TFJS_LAYERS} (the layer table is in docs/backends.md). An
 * unsupported layer or configuration rejects with `MODEL_LOAD_ERROR` naming the layer and its class.
 * The tfjs model is only read, never changed, and no tfjs tensor is created.
 *
 * @example
 * const bytes = await tfjsToOnnx(layersModel);
 * const model = await loadOnnxModel(bytes, { name: 'mobilenet' });
 */
export async function tfjsToOnnx(model: LayersModel): Promise<Uint8Array> {
  try {
    return await convertModel(model);
  } catch (error) {
    // e.g. reading the weights of a disposed model: still a load-time failure of this model.
    throw toRxmlError(error, 'MODEL_LOAD_ERROR', `cannot convert model "${model.name}" to ONNX`);
  }
}

async function convertModel(model: LayersModel): Promise<Uint8Array> {
  const g = new GraphBuilder();
  const values = new Map<number, Value>();
  const consumers = countConsumers(model);
  const relayout = new Map<string, Value>();

  const toLayout = (value: Value, nchw: boolean): Value => {
    if (value.nchw === nchw) return value;
    if (value.shape.length !== 4) throw new RxmlError('MODEL_LOAD_ERROR', `cannot change the layout of rank-${value.shape.length} value ${value.name}`);
    const key = `${value.name}|${nchw ? 'nchw' : 'nhwc'}`;
    let converted = relayout.get(key);
    if (converted === undefined) {
      const node = g.node('Transpose', [value.name], `${value.name}_${nchw ? 'nchw' : 'nhwc'}`, { perm: nchw ? [0, 3, 1, 2] : [0, 2, 3, 1] });
      converted = { name: node.outputs[0]!, shape: value.shape, nchw };
      relayout.set(key, converted);
    }
    return converted;
  };

  const inputNames = model.inputs.map((input, i) => model.inputNames[i] ?? input.name);
  const outputNames = model.outputs.map((output, i) => model.outputNames[i] ?? output.name);
  [...inputNames, ...outputNames].forEach((name) => g.reserve(name));
  model.inputs.forEach((input, i) => {
    const name = inputNames[i]!;
    if (input.dtype !== 'float32') throw new RxmlError('MODEL_LOAD_ERROR', `input ${name} is ${input.dtype}; the ONNX converter takes float32 inputs only`);
    g.addInput({ name, dims: input.shape });
    values.set(input.id, { name, shape: input.shape, nchw: false });
  });

  const convert = (layer: Layer, nodeIndex: number): void => {
    const node = layer.inboundNodes[nodeIndex];
    const className = layer.getClassName();
    const where = `layer "${layer.name}" (${userClassName(layer)})`;
    const fail = (message: string): never => {
      throw new RxmlError('MODEL_LOAD_ERROR', `cannot convert ${where} to ONNX: ${message}`);
    };
    if (node === undefined) return fail(`has no call #${nodeIndex}`);
    const converter = LAYER_CONVERTERS[className];
    if (converter === undefined) {
      return fail(`${userClassName(layer)} is not supported; supported layers: ${SUPPORTED_TFJS_LAYERS.join(', ')}`);
    }
    const inputs = node.inputTensors.map((t) => values.get(t.id) ?? fail(`input ${t.name} was not converted`));
    const context: LayerContext = {
      g,
      name: layer.name,
      config: new Config(layer.getConfig(), fail),
      inputs,
      outputShapes: node.outputTensors.map((t) => t.shape),
      exclusive: (i) => {
        const tensor = node.inputTensors[i];
        return tensor !== undefined && consumers.get(tensor.id) === 1;
      },
      weight: (key) => readWeight(layer, key) ?? fail(`has no weight "${key}"`),
      toNchw: (v) => toLayout(v, true),
      toNative: (v) => toLayout(v, false),
      fail,
    };
    const outputs = converter(context);
    if (outputs.length !== node.outputTensors.length) fail(`produced ${outputs.length} outputs, expected ${node.outputTensors.length}`);
    node.outputTensors.forEach((t, k) => values.set(t.id, outputs[k]!));
  };

  // Depth-first over layer calls from the outputs back, so only what the outputs need is converted
  // (an explicit stack: deep models would overflow recursion).
  const done = new Set<string>();
  for (const output of model.outputs) {
    const stack: { tensor: SymbolicTensor; expanded: boolean }[] = [{ tensor: output, expanded: false }];
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      const { sourceLayer: layer, nodeIndex } = top.tensor;
      const key = `${layer.name}#${nodeIndex}`;
      if (values.has(top.tensor.id) || done.has(key)) {
        stack.pop();
        continue;
      }
      if (layer.getClassName() === 'InputLayer') {
        throw new RxmlError('MODEL_LOAD_ERROR', `cannot convert to ONNX: input layer "${layer.name}" is not one of the model's inputs`);
      }
      const inbound = layer.inboundNodes[nodeIndex]?.inputTensors ?? [];
      if (!top.expanded) {
        top.expanded = true;
        for (const input of inbound) if (!values.has(input.id)) stack.push({ tensor: input, expanded: false });
        continue;
      }
      stack.pop();
      convert(layer, nodeIndex);
      done.add(key);
    }
  }

  model.outputs.forEach((output, i) => {
    const value = values.get(output.id);
    if (value === undefined) throw new RxmlError('MODEL_LOAD_ERROR', `cannot convert to ONNX: output ${output.name} was not produced`);
    const native = toLayout(value, false);
    g.nodes.push({ opType: 'Identity', inputs: [native.name], outputs: [outputNames[i]!], name: g.unique(`${outputNames[i]!}/Identity`), attributes: {} });
    g.addOutput({ name: outputNames[i]!, dims: output.shape });
  });

  const onnx = await loadOnnxProto();
  return g.encode(onnx, { opset: OPSET, irVersion: IR_VERSION, graphName: model.name, producer: '@rxml/core tfjsToOnnx' });
}

/** How many layer calls (plus model outputs) read each symbolic tensor, by tensor id. */
function countConsumers(model: LayersModel): Map<number, number> {
  const counts = new Map<number, number>();
  const seen = new Set<string>();
  const bump = (t: SymbolicTensor): void => {
    counts.set(t.id, (counts.get(t.id) ?? 0) + 1);
  };
  const stack: SymbolicTensor[] = [...model.outputs];
  model.outputs.forEach(bump);
  while (stack.length > 0) {
    const t = stack.pop()!;
    const key = `${t.sourceLayer.name}#${t.nodeIndex}`;
    if (seen.has(key)) continue;
    seen.add(key);
    for (const input of t.sourceLayer.inboundNodes[t.nodeIndex]?.inputTensors ?? []) {
      bump(input);
      stack.push(input);
    }
  }
  return counts;
}

type LayerWeight = Layer['weights'][number];

/**
 * The class to name in errors: a layer class that implements a Keras class under another tfjs
 * name (e.g. `@rxml/keras`' `RxmlResetAfterGRU` for Keras's `GRU`) says so in `static
 * userClassName`; users know their model by the Keras class.
 */
function userClassName(layer: Layer): string {
  const declared = (layer.constructor as { userClassName?: unknown }).userClassName;
  return typeof declared === 'string' ? declared : layer.getClassName();
}

/** Finds a weight by the last part of its Keras name (`conv1/kernel` → `kernel`). */
function findWeight(layer: Layer, key: string): LayerWeight | undefined {
  return layer.weights.find((w) => (w.originalName.split('/').pop() ?? '').replace(/:\d+$/, '') === key);
}

function readWeight(layer: Layer, key: string): Weight | undefined {
  const variable = findWeight(layer, key);
  if (variable === undefined) return undefined;
  if (variable.dtype !== 'float32') {
    throw new RxmlError('MODEL_LOAD_ERROR', `cannot convert layer "${layer.name}" (${userClassName(layer)}) to ONNX: weight ${key} is ${variable.dtype}, not float32`);
  }
  // read() hands out the variable itself (no new tensor); dataSync may return the backend's own
  // buffer, so copy before anyone rewrites it.
  const data = variable.read().dataSync();
  return { dims: variable.shape.map((d) => d ?? 0), data: Float32Array.from(data) };
}
