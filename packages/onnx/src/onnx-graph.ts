import type { onnx as OnnxNamespace } from 'onnx-proto';

/** The generated protobuf classes of `onnx.proto` (package `onnx-proto`), imported lazily. */
export type Onnx = typeof OnnxNamespace;

export type AttributeValue = number | readonly number[] | string | { readonly float: number };

/** A node under construction; inputs stay editable so a later layer can fold into it (BN → Conv). */
export interface GraphNode {
  readonly opType: string;
  readonly inputs: string[];
  readonly outputs: string[];
  readonly name: string;
  readonly attributes: Record<string, AttributeValue>;
}

/** A float32 or int64 constant; `data` is private to the graph, so folding may rewrite it. */
export interface Initializer {
  readonly name: string;
  readonly dims: readonly number[];
  data: Float32Array | BigInt64Array;
}

export interface GraphValue {
  readonly name: string;
  readonly dims: readonly (number | null)[];
}

/**
 * Collects nodes, constants, inputs and outputs, then encodes them with the `onnx-proto` classes.
 * Keeping plain objects until `encode()` lets converters revisit earlier nodes cheaply.
 */
export class GraphBuilder {
  readonly nodes: GraphNode[] = [];
  readonly initializers = new Map<string, Initializer>();
  private readonly inputs: GraphValue[] = [];
  private readonly outputs: GraphValue[] = [];
  private readonly used = new Set<string>();

  /** Claims a name no other value, node or constant has; adds a numeric suffix if needed. */
  unique(base: string): string {
    let name = base;
    for (let k = 1; this.used.has(name); k++) name = `${base}_${k}`;
    this.used.add(name);
    return name;
  }

  reserve(name: string): void {
    this.used.add(name);
  }

  addInput(value: GraphValue): void {
    this.inputs.push(value);
  }

  addOutput(value: GraphValue): void {
    this.outputs.push(value);
  }

  constant(base: string, dims: readonly number[], data: Float32Array | BigInt64Array): string {
    const name = this.unique(base);
    this.initializers.set(name, { name, dims, data });
    return name;
  }

  int64s(base: string, values: readonly number[]): string {
    return this.constant(base, [values.length], BigInt64Array.from(values, (v) => BigInt(v)));
  }

  scalar(base: string, value: number): string {
    return this.constant(base, [], Float32Array.of(value));
  }

  /** Adds a node with one fresh output named after `base` and returns that node. */
  node(opType: string, inputs: readonly string[], base: string, attributes: Record<string, AttributeValue> = {}): GraphNode {
    const output = this.unique(base);
    const node: GraphNode = { opType, inputs: [...inputs], outputs: [output], name: this.unique(`${base}/${opType}`), attributes };
    this.nodes.push(node);
    return node;
  }

  /** Serialises to ONNX `ModelProto` bytes. */
  encode(onnx: Onnx, meta: { readonly opset: number; readonly irVersion: number; readonly graphName: string; readonly producer: string }): Uint8Array {
    const valueInfo = (v: GraphValue): OnnxNamespace.IValueInfoProto => ({
      name: v.name,
      type: {
        tensorType: {
          elemType: onnx.TensorProto.DataType.FLOAT,
          shape: { dim: v.dims.map((d, k) => (d === null ? { dimParam: k === 0 ? 'batch' : `${v.name}_d${k}` } : { dimValue: d })) },
        },
      },
    });
    const tensor = (init: Initializer): OnnxNamespace.ITensorProto => ({
      name: init.name,
      dims: [...init.dims],
      dataType: init.data instanceof Float32Array ? onnx.TensorProto.DataType.FLOAT : onnx.TensorProto.DataType.INT64,
      // raw_data is little-endian by the ONNX spec, as are typed arrays on every platform Node runs on.
      rawData: new Uint8Array(init.data.buffer, init.data.byteOffset, init.data.byteLength),
    });
    const attribute = (name: string, value: AttributeValue): OnnxNamespace.IAttributeProto => {
      const T = onnx.AttributeProto.AttributeType;
      if (typeof value === 'number') return { name, type: T.INT, i: value };
      if (typeof value === 'string') return { name, type: T.STRING, s: new TextEncoder().encode(value) };
      if ('float' in value) return { name, type: T.FLOAT, f: value.float };
      return { name, type: T.INTS, ints: [...value] };
    };
    const model: OnnxNamespace.IModelProto = {
      irVersion: meta.irVersion,
      opsetImport: [{ domain: '', version: meta.opset }],
      producerName: meta.producer,
      graph: {
        name: meta.graphName,
        node: this.nodes.map((n) => ({
          name: n.name,
          opType: n.opType,
          input: n.inputs,
          output: n.outputs,
          attribute: Object.entries(n.attributes).map(([k, v]) => attribute(k, v)),
        })),
        initializer: [...this.initializers.values()].map(tensor),
        input: this.inputs.map(valueInfo),
        output: this.outputs.map(valueInfo),
      },
    };
    return onnx.ModelProto.encode(onnx.ModelProto.create(model)).finish();
  }
}
