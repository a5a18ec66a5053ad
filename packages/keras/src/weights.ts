import type { File as H5File, Group } from 'h5wasm/node';
import type { NormalizedConfig } from './config.js';
import { kerasLoadError, unsupportedLayer } from './errors.js';
import { isDataset, isGroup, readWeight, stringAttr, stringListAttr, type H5Weight } from './hdf5.js';

/** Weights per Keras layer name, in the order Keras stores them. */
export type LayerWeights = Map<string, H5Weight[]>;

/**
 * Reads weights from any of the HDF5 layouts Keras writes: legacy (`layer_names` /
 * `weight_names` attributes, at the root of a weights file or under `model_weights` in a full
 * model file) or Keras 3 (`layers/<path>/vars/<i>`, in `.keras` archives and `.weights.h5`).
 */
export function readWeights(file: H5File, model: NormalizedConfig, what: string): LayerWeights {
  const modelWeights = file.get('model_weights');
  const legacyRoot = isGroup(modelWeights) ? modelWeights : stringListAttr(file, 'layer_names') !== undefined ? file : undefined;
  if (legacyRoot !== undefined) return matchLegacy(model, readLegacy(legacyRoot, what), what);
  const layers = file.get('layers');
  if (isGroup(layers)) return readKeras3(layers, model);
  throw kerasLoadError(`${what} holds no Keras weights (neither 'model_weights', 'layer_names' nor 'layers')`);
}

/**
 * Pairs the config's layers with a legacy file's weight groups the way Keras does. Keras 2's
 * `load_weights` of a legacy HDF5 file (`by_name=False`, the default) matches layers *by order*:
 * the config's layers that have weights, in order, against the file's layers that have weights,
 * in `layer_names` order. Names are often different — Keras numbers auto-generated names per
 * session (`time_distributed` when the weights were saved, `time_distributed_1` in the JSON of
 * another session) — so only when every weighted layer's name is in the file are they paired by
 * name (the same pairing for a file saved with its own config, and robust to reordering).
 */
function matchLegacy(model: NormalizedConfig, file: LayerWeights, what: string): LayerWeights {
  const weighted = model.layers.filter((layer) => layer.weightNames.length > 0);
  if (weighted.every((layer) => (file.get(layer.kerasName)?.length ?? 0) > 0)) return file;
  const fileLayers = [...file.entries()].filter(([, weights]) => weights.length > 0);
  const list = (names: readonly string[]): string => names.map((n) => `'${n}'`).join(', ');
  if (fileLayers.length !== weighted.length) {
    throw kerasLoadError(
      `${what}: the layer names differ from the config's, so the weights are matched by layer order as Keras does, ` +
        `but the config has ${weighted.length} layer(s) with weights (${list(weighted.map((l) => l.kerasName))}) ` +
        `and the file ${fileLayers.length} (${list(fileLayers.map(([name]) => name))})`,
    );
  }
  const matched: LayerWeights = new Map();
  weighted.forEach((layer, i) => {
    const [fileName, weights] = fileLayers[i]!;
    if (weights.length !== layer.weightNames.length) {
      throw unsupportedLayer(
        layer.className,
        layer.kerasName,
        `expected ${layer.weightNames.length} weight(s) (${layer.weightNames.map((n) => n.split('/').pop()).join(', ')}); ` +
          `the file's layer '${fileName}', its match by layer order (the names differ), has ${weights.length}`,
      );
    }
    matched.set(layer.kerasName, weights);
  });
  return matched;
}

function readLegacy(root: Group | H5File, what: string): LayerWeights {
  const layerNames = stringListAttr(root, 'layer_names');
  if (layerNames === undefined) throw kerasLoadError(`${what}: weights group has no 'layer_names' attribute`);
  const result: LayerWeights = new Map();
  for (const layerName of layerNames) {
    const group = root.get(layerName);
    if (!isGroup(group)) throw kerasLoadError(`${what}: weights of layer '${layerName}' are missing`);
    const weightNames = stringListAttr(group, 'weight_names') ?? [];
    result.set(
      layerName,
      weightNames.map((w) => {
        const dataset = group.get(w);
        if (!isDataset(dataset)) throw kerasLoadError(`${what}: weight '${layerName}/${w}' is missing`);
        return readWeight(dataset, `${layerName}/${w}`);
      }),
    );
  }
  return result;
}

/** Keras 3 names each layer's group after its class (`dense`, `dense_1`, …) in `model.layers` order. */
function readKeras3(layersGroup: Group, model: NormalizedConfig): LayerWeights {
  const byPath = new Map<string, Group>();
  const byVarsName = new Map<string, Group>();
  for (const key of layersGroup.keys()) {
    const group = layersGroup.get(key);
    if (!isGroup(group)) continue;
    byPath.set(key, group);
    const vars = group.get('vars');
    const name = isGroup(vars) ? stringAttr(vars, 'name') : undefined;
    if (name !== undefined) byVarsName.set(name, group);
  }
  const result: LayerWeights = new Map();
  const seen = new Map<string, number>();
  for (const layer of model.layers) {
    // A Sequential's InputLayer is not in model.layers, so it has no group and takes no number.
    if (model.kind === 'Sequential' && layer.className === 'InputLayer') continue;
    const base = snakeCase(layer.className);
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    const path = count === 0 ? base : `${base}_${count}`;
    // Newer Keras 3 writes the layer name on `vars`; older ones only have the path.
    const group = byVarsName.get(layer.kerasName) ?? byPath.get(path);
    if (group === undefined) {
      if (layer.weightNames.length === 0) continue;
      throw unsupportedLayer(layer.className, layer.kerasName, `no weights found in the file (looked for 'layers/${path}')`);
    }
    const weights: H5Weight[] = [];
    collectVars(group, `layers/${path}`, weights);
    result.set(layer.kerasName, weights);
  }
  return result;
}

function collectVars(group: Group, path: string, into: H5Weight[]): void {
  const vars = group.get('vars');
  if (isGroup(vars)) {
    const indices = vars.keys().map(Number).filter(Number.isInteger).sort((a, b) => a - b);
    for (const i of indices) {
      const dataset = vars.get(String(i));
      if (isDataset(dataset)) into.push(readWeight(dataset, `${path}/vars/${i}`));
    }
  }
  // Sub-objects such as an RNN's `cell` follow the layer's own variables, forward before backward.
  const rank = (key: string): number => ['cell', 'layer', 'forward_layer', 'backward_layer'].indexOf(key) >>> 0;
  for (const key of group.keys().sort((a, b) => rank(a) - rank(b) || a.localeCompare(b))) {
    if (key === 'vars') continue;
    const child = group.get(key);
    if (isGroup(child)) collectVars(child, `${path}/${key}`, into);
  }
}

/** Keras 3's `to_snake_case`. */
export function snakeCase(name: string): string {
  const cleaned = name.replace(/\W+/g, '');
  return cleaned
    .replace(/(.)([A-Z][a-z]+)/g, '$1_$2')
    .replace(/([a-z])([A-Z])/g, '$1_$2')
    .toLowerCase();
}
