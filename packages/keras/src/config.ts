import { kerasLoadError, unsupportedLayer } from './errors.js';
import { isObject, type Json, type JsonObject } from './json.js';
import { RESET_AFTER_GRU_CLASS } from './gru-reset-after.js';
import { SUPPORTED_LAYERS, canonicalClassName, checkActivation, checkOptions } from './layers.js';

/** One layer after normalization, with the name tfjs will use and the one Keras used. */
export interface NormalizedLayer {
  readonly className: string;
  /** The layer name as saved by Keras (used to find its weights and in error messages). */
  readonly kerasName: string;
  /** A name tfjs accepts; equals `kerasName` unless that has characters tfjs rejects. */
  readonly name: string;
  /** tfjs weight names (`<name>/<weight>`), in the order Keras stores them. */
  readonly weightNames: readonly string[];
}

/** A Keras model config rewritten into the Keras 2 topology JSON tfjs-layers deserializes. */
export interface NormalizedConfig {
  /** `{ class_name, config, keras_version, backend }` as in a Keras 2 `model.to_json()`. */
  readonly topology: JsonObject;
  readonly modelName: string;
  readonly kind: 'Sequential' | 'Functional';
  readonly kerasMajor: number;
  /** Layers in config order (for Sequential including a leading InputLayer if Keras saved one). */
  readonly layers: readonly NormalizedLayer[];
  /** Model input and output layer names as Keras knows them. */
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
}

// Same rule tfjs-layers applies to variable names.
const TFJS_NAME = /^[A-Za-z0-9][-A-Za-z0-9._/]*$/;

/** Dropped before tfjs sees a layer config: Keras 3 metadata and training-only settings. */
const DROPPED_KEYS = new Set(['module', 'registered_name', 'build_config', 'compile_config', 'shared_object_id']);

/**
 * Rewrites a Keras 2 or Keras 3 model config into what tfjs-layers 4.x understands, checking
 * every layer against the supported table so unsupported ones fail here, at load time.
 */
export function normalizeConfig(raw: Json, kerasVersion: string | undefined): NormalizedConfig {
  if (!isObject(raw) || typeof raw['class_name'] !== 'string') {
    throw kerasLoadError('model config has no class_name: not a Keras model config');
  }
  const kerasMajor = majorVersion(kerasVersion) ?? (looksLikeKeras3(raw) ? 3 : 2);
  const modelClass = raw['class_name'];
  const rawConfig = raw['config'];
  if (modelClass === 'Sequential') {
    return normalizeSequential(rawConfig ?? null, kerasMajor);
  }
  if (modelClass === 'Functional' || modelClass === 'Model') {
    if (!isObject(rawConfig)) throw kerasLoadError('functional model config is missing');
    return normalizeFunctional(rawConfig, kerasMajor);
  }
  throw kerasLoadError(`model class '${modelClass}' is not supported (only Sequential and Functional models; subclassed models have no config to load)`);
}

function majorVersion(version: string | undefined): number | undefined {
  const major = version === undefined ? NaN : Number.parseInt(version, 10);
  return Number.isFinite(major) ? major : undefined;
}

function looksLikeKeras3(raw: JsonObject): boolean {
  return JSON.stringify(raw).includes('"batch_shape"') || JSON.stringify(raw).includes('"DTypePolicy"');
}

class Names {
  private readonly map = new Map<string, string>();
  private readonly used = new Set<string>();

  constructor(kerasNames: readonly string[]) {
    for (const n of kerasNames) if (TFJS_NAME.test(n)) this.used.add(n);
    for (const n of kerasNames) this.map.set(n, TFJS_NAME.test(n) ? n : this.fresh(n));
  }

  private fresh(name: string): string {
    let base = name.replace(/[^-A-Za-z0-9._/]/g, '_');
    if (!/^[A-Za-z0-9]/.test(base)) base = `l${base}`;
    let candidate = base;
    for (let i = 1; this.used.has(candidate); i++) candidate = `${base}_${i}`;
    this.used.add(candidate);
    return candidate;
  }

  tfjs(kerasName: string): string {
    return this.map.get(kerasName) ?? kerasName;
  }
}

function layerEntries(layers: Json | undefined): JsonObject[] {
  if (!Array.isArray(layers)) throw kerasLoadError('model config has no layer list');
  return layers.map((l, i) => {
    if (!isObject(l) || typeof l['class_name'] !== 'string' || !isObject(l['config'])) {
      throw kerasLoadError(`layer #${i} in the model config is malformed`);
    }
    return l;
  });
}

function kerasNameOf(entry: JsonObject, index: number): string {
  const config = entry['config'] as JsonObject;
  const name = entry['name'] ?? config['name'];
  return typeof name === 'string' ? name : `layer_${index}`;
}

function normalizeSequential(rawConfig: Json, kerasMajor: number): NormalizedConfig {
  // Keras 2.0-2.2 saved a Sequential config as the bare layer list.
  const config: JsonObject = Array.isArray(rawConfig) ? { name: 'sequential', layers: rawConfig } : isObject(rawConfig) ? rawConfig : {};
  const entries = layerEntries(config['layers']);
  if (entries.length === 0) throw kerasLoadError('Sequential model has no layers');
  const names = new Names(entries.map(kerasNameOf));
  const layers: NormalizedLayer[] = [];
  const out: JsonObject[] = [];
  entries.forEach((entry, i) => {
    const { layer, json } = normalizeLayer(entry, kerasNameOf(entry, i), names, kerasMajor);
    layers.push(layer);
    out.push({ class_name: json['class_name'] ?? null, config: json['config'] ?? null });
  });
  const first = out[0]?.['config'];
  const buildShape = config['build_input_shape'];
  if (isObject(first) && out[0]?.['class_name'] !== 'InputLayer' && first['batch_input_shape'] === undefined && Array.isArray(buildShape)) {
    // A Keras 3 Sequential built with build() has no InputLayer; tfjs needs the shape on layer 0.
    first['batch_input_shape'] = buildShape;
  }
  const modelName = typeof config['name'] === 'string' ? config['name'] : 'sequential';
  const firstLayer = layers[0];
  const lastLayer = layers.at(-1);
  return {
    topology: keras2Topology('Sequential', { name: modelName, layers: out }),
    modelName,
    kind: 'Sequential',
    kerasMajor,
    layers,
    inputNames: firstLayer?.className === 'InputLayer' ? [firstLayer.kerasName] : [`${firstLayer?.kerasName ?? 'sequential'}_input`],
    outputNames: lastLayer === undefined ? [] : [lastLayer.kerasName],
  };
}

function normalizeFunctional(config: JsonObject, kerasMajor: number): NormalizedConfig {
  const entries = layerEntries(config['layers']);
  const names = new Names(entries.map(kerasNameOf));
  const layers: NormalizedLayer[] = [];
  const out: JsonObject[] = [];
  entries.forEach((entry, i) => {
    const kerasName = kerasNameOf(entry, i);
    const { layer, json } = normalizeLayer(entry, kerasName, names, kerasMajor);
    layers.push(layer);
    json['name'] = layer.name;
    json['inbound_nodes'] = normalizeInboundNodes(entry['inbound_nodes'], names, layer.className, kerasName);
    out.push(json);
  });
  const inputs = endpointList(config['input_layers'], 'input_layers');
  const outputs = endpointList(config['output_layers'], 'output_layers');
  const modelName = typeof config['name'] === 'string' ? config['name'] : 'model';
  return {
    topology: keras2Topology('Functional', {
      name: modelName,
      layers: out,
      input_layers: inputs.map(([n, node, t]) => [names.tfjs(n), node, t]),
      output_layers: outputs.map(([n, node, t]) => [names.tfjs(n), node, t]),
    }),
    modelName,
    kind: 'Functional',
    kerasMajor,
    layers,
    inputNames: inputs.map(([n]) => n),
    outputNames: outputs.map(([n]) => n),
  };
}

function keras2Topology(className: string, config: JsonObject): JsonObject {
  return { class_name: className, config, keras_version: '2.15.0', backend: 'tensorflow' };
}

/** `[[name, node, tensor], ...]`; Keras 3 writes a single endpoint unnested, `[name, node, tensor]`. */
function endpointList(value: Json | undefined, what: string): [string, number, number][] {
  if (!Array.isArray(value)) throw kerasLoadError(`functional model config has no ${what}`);
  const list = typeof value[0] === 'string' ? [value] : value;
  return list.map((e) => {
    if (!Array.isArray(e) || typeof e[0] !== 'string') throw kerasLoadError(`malformed ${what} entry ${JSON.stringify(e)}`);
    return [e[0], typeof e[1] === 'number' ? e[1] : 0, typeof e[2] === 'number' ? e[2] : 0];
  });
}

/**
 * Keras 2 nodes are `[[layer, node, tensor, kwargs], ...]`; Keras 3 nodes are call records
 * `{ args: [tensor | [tensors]], kwargs }` with `__keras_tensor__` objects. Both become Keras 2.
 */
function normalizeInboundNodes(nodes: Json | undefined, names: Names, className: string, layerName: string): Json {
  if (nodes === undefined || nodes === null) return [];
  if (!Array.isArray(nodes)) throw unsupportedLayer(className, layerName, 'malformed inbound_nodes');
  if (nodes.length > 1) {
    throw unsupportedLayer(className, layerName, 'a layer called more than once (shared layer) is not supported');
  }
  return nodes.map((node) => {
    if (Array.isArray(node)) {
      return node.map((t) => {
        if (!Array.isArray(t) || typeof t[0] !== 'string') throw unsupportedLayer(className, layerName, 'malformed inbound node');
        const kwargs = t[3];
        if (isObject(kwargs)) checkCallKwargs(kwargs, className, layerName);
        return [names.tfjs(t[0]), t[1] ?? 0, t[2] ?? 0, {}];
      });
    }
    if (!isObject(node)) throw unsupportedLayer(className, layerName, 'malformed inbound node');
    const args = Array.isArray(node['args']) ? node['args'] : [];
    if (args.length !== 1) throw unsupportedLayer(className, layerName, `called with ${args.length} positional arguments`);
    const kwargs = node['kwargs'];
    if (isObject(kwargs)) checkCallKwargs(kwargs, className, layerName);
    const first = args[0] ?? null;
    const tensors = Array.isArray(first) ? first : [first];
    return tensors.map((t) => {
      const history = isObject(t) && t['class_name'] === '__keras_tensor__' && isObject(t['config']) ? t['config']['keras_history'] : undefined;
      if (!Array.isArray(history) || typeof history[0] !== 'string') {
        throw unsupportedLayer(className, layerName, 'called on something other than a layer output (e.g. a constant)');
      }
      return [names.tfjs(history[0]), history[1] ?? 0, history[2] ?? 0, {}];
    });
  });
}

function checkCallKwargs(kwargs: JsonObject, className: string, layerName: string): void {
  for (const [key, value] of Object.entries(kwargs)) {
    // training/mask only matter while training or are recomputed by tfjs.
    if (key === 'training' || key === 'mask' || value === null) continue;
    throw unsupportedLayer(className, layerName, `called with argument ${key}=${JSON.stringify(value).slice(0, 80)}`);
  }
}

function normalizeLayer(entry: JsonObject, kerasName: string, names: Names, kerasMajor: number): { layer: NormalizedLayer; json: JsonObject } {
  const savedClass = entry['class_name'] as string;
  const className = supportedClass(entry, kerasName);
  const name = names.tfjs(kerasName);
  const source = entry['config'] as JsonObject;
  const config = convertConfig(className, source, kerasName, kerasMajor);
  config['name'] = name;
  let weightNames = (SUPPORTED_LAYERS[className]?.weights(source) ?? []).map((w) => `${name}/${w}`);
  if (className === 'TimeDistributed') {
    const wrapped = source['layer'];
    if (!isObject(wrapped) || !isObject(wrapped['config'])) throw unsupportedLayer(savedClass, kerasName, 'wraps no layer');
    const innerClass = supportedClass(wrapped, kerasName);
    if (['InputLayer', 'Bidirectional', 'TimeDistributed'].includes(innerClass)) {
      throw unsupportedLayer(savedClass, kerasName, `wrapping ${innerClass} is not supported`);
    }
    const innerSource = wrapped['config'];
    const innerConfig = convertConfig(innerClass, innerSource, kerasName, kerasMajor);
    innerConfig['name'] = sanitize(typeof innerSource['name'] === 'string' ? innerSource['name'] : innerClass.toLowerCase());
    config['layer'] = { class_name: tfjsClass(innerClass, innerConfig), config: innerConfig };
    // tfjs builds the wrapped layer inside the wrapper's name scope: <wrapper>/<weight>.
    weightNames = (SUPPORTED_LAYERS[innerClass]?.weights(innerSource) ?? []).map((w) => `${name}/${w}`);
  }
  if (className === 'Bidirectional') {
    const wrapped = source['layer'];
    if (!isObject(wrapped) || !isObject(wrapped['config'])) throw unsupportedLayer(savedClass, kerasName, 'wraps no layer');
    const innerClass = supportedClass(wrapped, kerasName);
    if (!['LSTM', 'GRU', 'SimpleRNN'].includes(innerClass)) {
      throw unsupportedLayer(savedClass, kerasName, `wraps ${innerClass}; only LSTM, GRU and SimpleRNN are supported`);
    }
    const innerSource = wrapped['config'];
    const innerName = sanitize(typeof innerSource['name'] === 'string' ? innerSource['name'] : innerClass.toLowerCase());
    const innerConfig = convertConfig(innerClass, innerSource, kerasName, kerasMajor);
    innerConfig['name'] = innerName;
    config['layer'] = { class_name: tfjsClass(innerClass, innerConfig), config: innerConfig };
    const backward = source['backward_layer'];
    if (isObject(backward) && isObject(backward['config']) && !sameExceptDirection(innerSource, backward['config'])) {
      // tfjs always builds the backward RNN as a reversed copy of the forward one.
      throw unsupportedLayer(savedClass, kerasName, 'a backward_layer that differs from the forward layer is not supported');
    }
    delete config['backward_layer'];
    // tfjs names the copies forward_<inner> / backward_<inner>; Keras stores forward weights first.
    const innerWeights = SUPPORTED_LAYERS[innerClass]?.weights(innerSource) ?? [];
    weightNames = ['forward', 'backward'].flatMap((side) => innerWeights.map((w) => `${name}/${side}_${innerName}/${w}`));
  }
  return {
    layer: { className, kerasName, name, weightNames },
    json: { class_name: tfjsClass(className, config), config },
  };
}

/** tfjs-layers' GRU cannot reset after the matmul; rxml registers its own class for that form. */
function tfjsClass(className: string, config: JsonObject): string {
  if (className !== 'GRU') return className;
  const resetAfter = config['reset_after'] === true;
  delete config['reset_after'];
  return resetAfter ? RESET_AFTER_GRU_CLASS : className;
}

/** The tfjs class for a layer entry, or a load-time error naming the layer. */
function supportedClass(entry: JsonObject, kerasName: string): string {
  const savedClass = entry['class_name'] as string;
  const className = canonicalClassName(savedClass);
  const registered = entry['registered_name'];
  const isCustom = typeof registered === 'string' && registered !== savedClass && !registered.startsWith('keras');
  if (SUPPORTED_LAYERS[className] === undefined || isCustom) {
    const nested = ['Sequential', 'Functional', 'Model'].includes(savedClass);
    throw unsupportedLayer(
      typeof registered === 'string' ? registered : savedClass,
      kerasName,
      nested ? 'nested models are not supported; flatten the model before saving' : 'this layer class is not supported (custom or not implemented by tfjs-layers)',
    );
  }
  return className;
}

function sanitize(name: string): string {
  const cleaned = name.replace(/[^-A-Za-z0-9._/]/g, '_');
  return /^[A-Za-z0-9]/.test(cleaned) ? cleaned : `l${cleaned}`;
}

function sameExceptDirection(forward: JsonObject, backward: JsonObject): boolean {
  const strip = (c: JsonObject): string =>
    JSON.stringify(Object.fromEntries(Object.entries(c).filter(([k]) => k !== 'name' && k !== 'go_backwards' && !k.endsWith('_initializer')).sort(([a], [b]) => a.localeCompare(b))));
  return strip(forward) === strip(backward);
}

/** One layer's config rewritten for tfjs (everything but its name), checking its options. */
function convertConfig(className: string, source: JsonObject, kerasName: string, kerasMajor: number): JsonObject {
  const support = SUPPORTED_LAYERS[className];
  if (support !== undefined) checkOptions(support, source, className, kerasName);
  const config: JsonObject = {};
  for (const [key, value] of Object.entries(source)) {
    if (DROPPED_KEYS.has(key)) continue;
    if (key.endsWith('_initializer') && value !== null) {
      // Weights are overwritten from the file; zeros skip tfjs' slow (orthogonal) initializers.
      config[key] = { class_name: 'Zeros', config: {} };
    } else if (key.endsWith('_regularizer') || key.endsWith('_constraint')) {
      config[key] = null;
    } else if (key === 'activation' || key === 'recurrent_activation') {
      config[key] = checkActivation(value, kerasMajor, className, kerasName, key);
    } else if (key === 'dtype') {
      config[key] = dtypeOf(value, className, kerasName);
    } else {
      config[key] = value;
    }
  }
  if (className === 'Activation') config['activation'] = checkActivation(source['activation'], kerasMajor, className, kerasName, 'activation');
  if (className === 'InputLayer') {
    if (config['batch_shape'] !== undefined) config['batch_input_shape'] = config['batch_shape'];
    delete config['batch_shape'];
    delete config['optional'];
  }
  if (config['batch_shape'] !== undefined && config['batch_input_shape'] === undefined) {
    config['batch_input_shape'] = config['batch_shape'];
    delete config['batch_shape'];
  }
  if (className === 'LSTM') {
    // Only shapes the initial bias (overwritten from the file); tfjs leaks 4 tensors building it.
    config['unit_forget_bias'] = false;
  }
  if (className === 'SeparableConv2D') {
    // Keras writes the base conv's kernel_* fields too; tfjs rejects them for separable convs.
    for (const key of ['kernel_initializer', 'kernel_regularizer', 'kernel_constraint']) delete config[key];
  }
  if (className === 'LeakyReLU' && config['negative_slope'] !== undefined) {
    config['alpha'] = config['negative_slope'];
    delete config['negative_slope'];
  }
  if (className === 'BatchNormalization' && Array.isArray(config['axis'])) {
    const axis = config['axis'];
    if (axis.length !== 1) throw unsupportedLayer(className, kerasName, `normalization over several axes ${JSON.stringify(axis)}`);
    config['axis'] = axis[0] ?? -1;
  }
  return config;
}

function dtypeOf(value: Json | undefined, className: string, layerName: string): Json {
  // Keras 3 stores a DTypePolicy object; Keras 2 a plain string.
  const name = isObject(value) && isObject(value['config']) ? value['config']['name'] : value;
  if (name === undefined || name === null || name === 'float32') return 'float32';
  if (className === 'InputLayer' && (name === 'int32' || name === 'int64')) return 'int32';
  throw unsupportedLayer(className, layerName, `dtype ${JSON.stringify(name)} is not supported (float32 only; mixed precision would change results)`);
}
