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

type ProcessEvent = 'uncaughtException' | 'unhandledRejection';
const PROCESS_EVENTS: readonly ProcessEvent[] = ['uncaughtException', 'unhandledRejection'];

/**
 * Runs `start` and removes the process-wide `uncaughtException`/`unhandledRejection` listeners it
 * added. The wasm backend's Emscripten module installs handlers that re-throw every uncaught error
 * from inside tf-backend-wasm.node.js (exit code 7), so any error — a Kafka failure, a bug in the
 * application — looked like TensorFlow's. Without them, Node reports an error with its own stack.
 */
type Listener = (...args: unknown[]) => void;
const listenersOf = (event: ProcessEvent): Listener[] => process.listeners(event as 'uncaughtException') as unknown as Listener[];

async function withoutNewProcessHandlers(start: () => Promise<void>): Promise<void> {
  const before = new Map(PROCESS_EVENTS.map((event) => [event, new Set(listenersOf(event))]));
  try {
    await start();
  } finally {
    for (const event of PROCESS_EVENTS) {
      for (const listener of listenersOf(event)) {
        if (!before.get(event)?.has(listener)) process.removeListener(event, listener);
      }
    }
  }
}

/** Registers a backend with tfjs-core; throws when its package cannot be imported here. */
function register(name: BackendName): Promise<void> {
  return withoutNewProcessHandlers(() => registerBackend(name));
}

async function registerBackend(name: BackendName): Promise<void> {
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
      // The usual case, worded as information: tfjs-node is an optional peer, wasm is the default.
      const notInstalled = name === 'tensorflow' && /Cannot find (package|module)|can not be found at path|tfjs_binding/i.test(why ?? '');
      passedOver.push(notInstalled ? 'native TensorFlow not installed: add @tensorflow/tfjs-node to use it (in the rxml repo: `pnpm setup:tfjs-node`; docs/backends.md)' : `${name} unavailable: ${why}`);
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
  active ??= choose(options.log ?? oncePerProcess);
  return active;
}

/** The default log: the backend line once per process, even when several copies of rxml are loaded. */
function oncePerProcess(line: string): void {
  const key = Symbol.for('rxml.backendLineLogged');
  const global = globalThis as { [key]?: boolean };
  if (global[key] === true) return;
  global[key] = true;
  process.stderr.write(`${line}\n`);
}

/** The backend in use, after `initBackend()` (model loaders call it for you). */
export function activeBackend(): Promise<BackendInfo> {
  return initBackend();
}
