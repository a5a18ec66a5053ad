/**
 * The model server for the example: the one at IRIS_MODEL_URL, or Seldon MLServer started from the
 * repo's .venv-models (built by scripts/setup-model-servers.sh, which this runs first) on free
 * loopback ports, serving the Iris model with the embedded model's weights.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../../', import.meta.url));

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0));
    });
  });
}

export interface ModelServer {
  /** REST base URL. */
  readonly url: string;
  /** gRPC `host:port`. */
  readonly grpcUrl: string;
  readonly external: boolean;
  stop(): Promise<void>;
}

export async function startModelServer(): Promise<ModelServer> {
  const external = process.env['IRIS_MODEL_URL'];
  if (external !== undefined && external !== '') {
    return { url: external, grpcUrl: process.env['IRIS_MODEL_GRPC_URL'] ?? '', external: true, stop: () => Promise.resolve() };
  }
  const setup = spawnSync('bash', [`${root}scripts/setup-model-servers.sh`], { stdio: 'inherit' });
  if (setup.status !== 0) throw new Error('scripts/setup-model-servers.sh failed');
  const [http, grpc, metrics] = [await freePort(), await freePort(), await freePort()];
  const child = spawn(`${root}.venv-models/mlserver/bin/mlserver`, ['start', `${root}.venv-models/models`], {
    env: { ...process.env, MLSERVER_HOST: '127.0.0.1', MLSERVER_HTTP_PORT: String(http), MLSERVER_GRPC_PORT: String(grpc), MLSERVER_METRICS_PORT: String(metrics) },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  child.stderr.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-5000)));
  const url = `http://127.0.0.1:${http}`;
  const deadline = Date.now() + 180_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`MLServer exited (${child.exitCode}):\n${log}`);
    const ready = await fetch(`${url}/v2/models/iris/ready`).then((r) => r.status === 200, () => false);
    if (ready) break;
    if (Date.now() > deadline) throw new Error(`MLServer not ready after 180 s:\n${log}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  return {
    url,
    grpcUrl: `127.0.0.1:${grpc}`,
    external: false,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
