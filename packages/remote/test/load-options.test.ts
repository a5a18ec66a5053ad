/**
 * loadRemoteModel without a model server: bad options fail with INVALID_CONFIG naming the option;
 * a server that is not there fails the load with MODEL_LOAD_ERROR after the retry budget, never hangs.
 */
import { createServer } from 'node:net';
import { isRxmlError, subscribe, type ModelLoadMessage } from '@rxml/core/contract';
import { describe, expect, it } from 'vitest';
import { loadRemoteModel, type LoadRemoteModelOptions } from '../src/index.js';

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return typeof address === 'object' && address !== null ? address.port : 1;
}

async function loadError(options: LoadRemoteModelOptions): Promise<unknown> {
  return loadRemoteModel(options).then(
    () => undefined,
    (error: unknown) => error,
  );
}

describe('loadRemoteModel options', () => {
  it.each([
    [{ url: '', model: 'iris' }, /url is required/],
    [{ url: 'http://127.0.0.1:1', model: '' }, /model .* is required/],
    [{ url: 'ftp://127.0.0.1:1', model: 'iris' }, /REST needs http: or https:/],
    [{ url: 'not a url', model: 'iris' }, /is not a URL/],
    [{ url: 'http://127.0.0.1:1', model: 'iris', protocol: 'v3' as never }, /protocol must be 'v2' or 'tf-serving'/],
    [{ url: 'http://127.0.0.1:1', model: 'iris', protocol: 'tf-serving', transport: 'grpc' }, /REST only/],
    [{ url: 'http://127.0.0.1:1', model: 'iris', timeoutMs: 0 }, /timeoutMs must be a number ≥ 1, got 0/],
    [{ url: 'http://127.0.0.1:1', model: 'iris', retries: -1 }, /retries must be a number ≥ 0, got -1/],
    [{ url: 'http://127.0.0.1:1', model: 'iris', circuitBreaker: { failures: 0 } }, /circuitBreaker.failures must be a number ≥ 1/],
    [{ url: 'http://127.0.0.1:1', model: 'iris', maxInFlight: Number.NaN }, /maxInFlight must be a number/],
    [{ url: 'http://127.0.0.1:1', model: 'iris', maxRequestBytes: 0 }, /maxRequestBytes must be a number ≥ 1, got 0/],
  ] satisfies [LoadRemoteModelOptions, RegExp][])('%j → INVALID_CONFIG', async (options, message) => {
    const error = await loadError(options);
    expect(isRxmlError(error) && error.code).toBe('INVALID_CONFIG');
    expect((error as Error).message).toMatch(message);
  });
});

describe('loadRemoteModel with no server listening', () => {
  it.each(['rest', 'grpc'] as const)('%s: MODEL_LOAD_ERROR (retriable connect failure) after the retries, published on rxml:model:load', async (transport) => {
    const port = await closedPort();
    const loads: ModelLoadMessage[] = [];
    const unsubscribe = subscribe('rxml:model:load', (m) => loads.push(m));
    const startedAt = Date.now();
    const error = await loadError({ transport, url: transport === 'rest' ? `http://127.0.0.1:${port}` : `127.0.0.1:${port}`, model: 'iris', timeoutMs: 2_000, retries: { retries: 2, initialDelayMs: 10, maxDelayMs: 50 } });
    unsubscribe();
    expect(isRxmlError(error) && error.code).toBe('MODEL_LOAD_ERROR');
    expect(isRxmlError(error) && error.retriable).toBe(true);
    expect((error as Error).message).toMatch(transport === 'rest' ? /ECONNREFUSED/ : /UNAVAILABLE/);
    expect(Date.now() - startedAt).toBeLessThan(15_000);
    expect(loads).toEqual([expect.objectContaining({ name: 'iris', ok: false, runtime: `remote-v2-${transport}`, format: 'remote', bytes: 0 })]);
  });
});
