/**
 * Real model servers for the integration tests, from the venvs that scripts/setup-model-servers.sh
 * builds: Seldon MLServer (v2 REST + gRPC) and KServe's model server (v1 :predict + v2 REST with
 * binary data), each serving the Iris model of .venv-models/models on free loopback ports.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
export const VENVS = `${REPO_ROOT}.venv-models`;
export const MODELS_DIR = `${VENVS}/models`;
/** Test fixtures: e.g. misbehaving/, an MLServer model that answers wrongly on purpose. */
export const FIXTURES_DIR = fileURLToPath(new URL('../fixtures/', import.meta.url));

/** Runs the (idempotent) setup script: venvs with pinned MLServer/KServe and the served model. */
export function setupModelServers(): void {
  const result = spawnSync('bash', [`${REPO_ROOT}scripts/setup-model-servers.sh`], { stdio: 'inherit' });
  if (result.status !== 0) throw new Error(`scripts/setup-model-servers.sh failed (exit ${String(result.status)})`);
}

/** Inputs and sklearn's own predictions for them, written by make_iris_model.py. */
export interface Expected {
  readonly version: string;
  readonly inputs: number[][];
  readonly predict: number[];
  readonly predict_proba: number[][];
}
export function expected(): Expected {
  return JSON.parse(readFileSync(`${MODELS_DIR}/expected.json`, 'utf8')) as Expected;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0));
    });
  });
}

export interface ServerProcess {
  readonly name: string;
  readonly httpUrl: string;
  /** `host:port` of the v2 gRPC endpoint (MLServer only). */
  readonly grpcUrl: string | undefined;
  /** Starts it (again, on the same ports) and waits until the model is ready. */
  start(): Promise<void>;
  /** SIGKILL: the server dies mid-request, as in a crash. */
  kill(): Promise<void>;
  /** SIGTERM, then SIGKILL after 5 s. */
  stop(): Promise<void>;
  output(): string;
}

async function waitReady(url: string, child: ChildProcess, log: () => string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`model server exited (${String(child.exitCode ?? child.signalCode)}):\n${log().slice(-3000)}`);
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      if (response.status === 200) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`model server not ready at ${url} after ${timeoutMs} ms:\n${log().slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

interface ServeOptions {
  /** Working directory (MLServer: the models folder). Default MODELS_DIR. */
  readonly cwd?: string;
  /** The model whose `/v2/models/{name}/ready` says the server is up. Default `iris`. */
  readonly readyModel?: string;
  /** Called after the process has stopped (e.g. to remove a temporary models folder). */
  readonly cleanup?: () => void;
}

function serverProcess(name: string, command: string, args: string[], env: NodeJS.ProcessEnv, httpUrl: string, grpcUrl: string | undefined, serve: ServeOptions = {}): ServerProcess {
  let child: ChildProcess | undefined;
  let log = '';
  const exited = (c: ChildProcess): Promise<void> =>
    c.exitCode !== null || c.signalCode !== null ? Promise.resolve() : new Promise((resolve) => c.once('exit', () => resolve()));
  return {
    name,
    httpUrl,
    grpcUrl,
    async start() {
      const c = spawn(command, args, { cwd: serve.cwd ?? MODELS_DIR, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
      child = c;
      c.stdout!.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-50_000)));
      c.stderr!.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-50_000)));
      await waitReady(`${httpUrl}/v2/models/${serve.readyModel ?? 'iris'}/ready`, c, () => log, 180_000);
    },
    async kill() {
      if (child === undefined) return;
      const c = child;
      c.kill('SIGKILL');
      await exited(c);
    },
    async stop() {
      if (child !== undefined) {
        const c = child;
        c.kill('SIGTERM');
        const timer = setTimeout(() => c.kill('SIGKILL'), 5_000);
        await exited(c);
        clearTimeout(timer);
      }
      serve.cleanup?.();
    },
    output: () => log,
  };
}

/** Seldon MLServer serving .venv-models/models (settings.json: parallel_workers 0). Not started yet. */
export async function mlserver(): Promise<ServerProcess> {
  const [http, grpc, metrics] = [await freePort(), await freePort(), await freePort()];
  return serverProcess(
    'mlserver',
    `${VENVS}/mlserver/bin/mlserver`,
    ['start', MODELS_DIR],
    { MLSERVER_HOST: '127.0.0.1', MLSERVER_HTTP_PORT: String(http), MLSERVER_GRPC_PORT: String(grpc), MLSERVER_METRICS_PORT: String(metrics) },
    `http://127.0.0.1:${http}`,
    `127.0.0.1:${grpc}`,
  );
}

/** The misbehaving model's name on its server. */
export const MISBEHAVING_MODEL = 'iris-misbehaving';

/**
 * MLServer serving test/fixtures/misbehaving/misbehaving.py as `iris-misbehaving` (the Iris
 * model.joblib of .venv-models, metadata FP32 [-1, 4] in, FP64 [-1, 3] out; see the .py for its
 * markers) from a temporary models folder, removed on `stop()`. `eventLog` is the file its slow
 * requests are logged to. Not started yet.
 */
export async function misbehavingMlserver(): Promise<ServerProcess & { readonly eventLog: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'rxml-misbehaving-'));
  const modelDir = join(dir, MISBEHAVING_MODEL);
  mkdirSync(modelDir);
  copyFileSync(join(MODELS_DIR, 'settings.json'), join(dir, 'settings.json'));
  copyFileSync(join(FIXTURES_DIR, 'misbehaving', 'misbehaving.py'), join(modelDir, 'misbehaving.py'));
  const eventLog = join(dir, 'events.log');
  writeFileSync(eventLog, '');
  const settings = {
    name: MISBEHAVING_MODEL,
    implementation: 'misbehaving.MisbehavingModel',
    parameters: { uri: join(MODELS_DIR, 'iris', 'model.joblib'), version: 'misbehaving-1', extra: { event_log: eventLog } },
    inputs: [{ name: 'measurements', datatype: 'FP32', shape: [-1, 4] }],
    outputs: [{ name: 'predict_proba', datatype: 'FP64', shape: [-1, 3] }],
  };
  writeFileSync(join(modelDir, 'model-settings.json'), JSON.stringify(settings, null, 2));
  const [http, grpc, metrics] = [await freePort(), await freePort(), await freePort()];
  const server = serverProcess(
    'mlserver-misbehaving',
    `${VENVS}/mlserver/bin/mlserver`,
    ['start', dir],
    { MLSERVER_HOST: '127.0.0.1', MLSERVER_HTTP_PORT: String(http), MLSERVER_GRPC_PORT: String(grpc), MLSERVER_METRICS_PORT: String(metrics) },
    `http://127.0.0.1:${http}`,
    `127.0.0.1:${grpc}`,
    { cwd: dir, readyModel: MISBEHAVING_MODEL, cleanup: () => rmSync(dir, { recursive: true, force: true }) },
  );
  return { ...server, eventLog };
}

/** KServe's ModelServer with scripts/model-servers/kserve_iris.py. Not started yet. */
export async function kserve(): Promise<ServerProcess> {
  const http = await freePort();
  const grpc = await freePort();
  return serverProcess(
    'kserve',
    `${VENVS}/kserve/bin/python`,
    [`${REPO_ROOT}scripts/model-servers/kserve_iris.py`, '--model_dir', MODELS_DIR, '--http_port', String(http), '--grpc_port', String(grpc)],
    {},
    `http://127.0.0.1:${http}`,
    undefined,
  );
}
