import * as tf from '@tensorflow/tfjs-core';
import { RxmlError } from '../../contract/errors.js';

export type BackendName = 'tensorflow' | 'wasm' | 'cpu';

export interface BackendInfo {
  /** The tfjs backend in use: `tensorflow` is `@tensorflow/tfjs-node` (native libtensorflow). */
  readonly name: BackendName;
  /** Why this one: forced by `RXML_BACKEND`, or what was tried first and why it was passed over. */
  readonly reason: string;
}

const PREFERENCE: readonly BackendName[] = ['tensorflow', 'wasm', 'cpu'];
const ENV_NAMES: Readonly<Record<string, BackendName>> = { node: 'tensorflow', tensorflow: 'tensorflow', wasm: 'wasm', cpu: 'cpu' };

let active: Promise<BackendInfo> | undefined;
/** A variable, so TypeScript does not require the optional peer's types at build time. */
const TFJS_NODE: string = '@tensorflow/tfjs-node';

/** Registers a backend with tfjs-core; throws when its package cannot be imported here. */
async function register(name: BackendName): Promise<void> {
  switch (name) {
    case 'tensorflow':
      // tfjs-node is an optional peer: importing it registers the `tensorflow` backend.
      // TensorFlow prints an info banner on load (CPU features, absl); keep warnings and errors.
      process.env['TF_CPP_MIN_LOG_LEVEL'] ??= '2';
      await import(TFJS_NODE);
      break;
    case 'wasm':
      await import('@tensorflow/tfjs-backend-wasm');
      break;
    case 'cpu':
      await import('@tensorflow/tfjs-backend-cpu');
      break;
  }
  if (!(await tf.setBackend(name))) throw new Error(`tfjs could not initialise the ${name} backend`);
  await tf.ready();
}

async function choose(log: (line: string) => void): Promise<BackendInfo> {
  const forced = process.env['RXML_BACKEND'];
  if (forced !== undefined && forced !== '') {
    const name = ENV_NAMES[forced];
    if (name === undefined) {
      throw new RxmlError('BACKEND_UNAVAILABLE', `RXML_BACKEND=${forced} is not one of node, wasm, cpu`);
    }
    try {
      await register(name);
    } catch (cause) {
      throw new RxmlError('BACKEND_UNAVAILABLE', `RXML_BACKEND=${forced} but the ${name} backend is unavailable: ${String(cause)}`, { cause });
    }
    const info: BackendInfo = { name, reason: `forced by RXML_BACKEND=${forced}` };
    log(`[rxml] tfjs backend: ${name} (${info.reason})`);
    return info;
  }
  const passedOver: string[] = [];
  for (const name of PREFERENCE) {
    try {
      await register(name);
      const reason = passedOver.length === 0 ? 'first choice' : passedOver.join('; ');
      log(`[rxml] tfjs backend: ${name} (${reason})`);
      return { name, reason };
    } catch (cause) {
      const why = cause instanceof Error ? cause.message.split('\n')[0] : String(cause);
      passedOver.push(`${name} unavailable: ${why}`);
    }
  }
  throw new RxmlError('BACKEND_UNAVAILABLE', `no tfjs backend could start: ${passedOver.join('; ')}`);
}

export interface InitBackendOptions {
  /** Where the one start-up line goes; defaults to stderr. Pass `() => {}` to silence it. */
  readonly log?: (line: string) => void;
}

/**
 * Picks and initialises the tfjs backend once per process: tfjs-node when importable, else wasm,
 * else cpu; `RXML_BACKEND=node|wasm|cpu` forces one and fails if it is unavailable.
 */
export function initBackend(options: InitBackendOptions = {}): Promise<BackendInfo> {
  active ??= choose(options.log ?? ((line) => process.stderr.write(`${line}\n`)));
  return active;
}

/** The backend in use, after `initBackend()` (model loaders call it for you). */
export function activeBackend(): Promise<BackendInfo> {
  return initBackend();
}
