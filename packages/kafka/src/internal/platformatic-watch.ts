import diagnostics from 'node:diagnostics_channel';
import net from 'node:net';
import { permanentConnectionFailure } from './connection-errors.js';
import { openSockets, probeWhenClosedEarly, type OpenSockets } from './tls-watch.js';

/**
 * `@platformatic/kafka`'s tracing channel of connection attempts (dist/diagnostic.js,
 * `connectionsConnectsChannel`): `end` when a connection's socket was created, `error` when its
 * connect, TLS handshake or SASL authentication failed. The context carries the `connection` (with its
 * `ownerId`, the client's `instanceId`, and its `socket`), `host`, `port` and `error`.
 */
const CONNECTS_END = 'tracing:plt:kafka:connections:connects:end';
const CONNECTS_ERROR = 'tracing:plt:kafka:connections:connects:error';

interface ConnectContext {
  readonly connection?: { readonly ownerId?: unknown; readonly socket?: unknown };
  readonly host?: unknown;
  readonly port?: unknown;
  readonly error?: unknown;
}

interface Watcher {
  /** Whether the client connects with TLS (then no plaintext connection is probed). */
  readonly tls: boolean;
  readonly probed: Set<string>;
  readonly sockets: WeakSet<net.Socket>;
  /** The client's sockets not closed yet. */
  readonly open: OpenSockets;
  readonly report: (error: Error) => void;
}

/** Watched clients by `instanceId`: one subscription per channel for all of them. */
const watchers = new Map<number, Watcher>();

const watcherOf = (context: ConnectContext): Watcher | undefined => {
  const owner = context.connection?.ownerId;
  return typeof owner === 'number' ? watchers.get(owner) : undefined;
};

const onConnectEnd = (message: unknown): void => {
  const context = message as ConnectContext;
  const watcher = watcherOf(context);
  if (watcher === undefined) return;
  const socket = context.connection?.socket;
  if (socket instanceof net.Socket) watcher.open.add(socket);
  if (watcher.tls) return;
  const port = Number(context.port);
  if (!(socket instanceof net.Socket) || typeof context.host !== 'string' || !Number.isInteger(port) || watcher.sockets.has(socket)) return;
  watcher.sockets.add(socket);
  probeWhenClosedEarly(socket, context.host, port, watcher.probed, watcher.report);
};

const onConnectError = (message: unknown): void => {
  const context = message as ConnectContext;
  const watcher = watcherOf(context);
  if (watcher === undefined) return;
  // SASL credentials refused, a mechanism the listener does not offer, an untrusted certificate, a
  // failed TLS handshake: the client would retry the request that needed the connection (4 attempts).
  if (context.error instanceof Error && permanentConnectionFailure(context.error) !== undefined) watcher.report(context.error);
};

/**
 * Watches the connections of one `@platformatic/kafka` client (by its `instanceId`) for failures
 * that no retry can fix, as `tlsWatch` does for kafkajs: `failed` resolves at the first one, so the
 * caller can fail at once instead of after the client's retries (its Metadata request: 4 attempts,
 * ~4 s for refused credentials, ~15 s for a TLS listener):
 * - a connection error that {@link permanentConnectionFailure} names (SASL authentication failed,
 *   SASL mechanism not offered, certificate not accepted, TLS handshake failed);
 * - without TLS: a listener that closed a connection after a request, having answered less than any
 *   Kafka response, and then completes a TLS handshake (one probe per address; `TlsListenerError`).
 * `stop()` ends the watch (call it when the client is closed); `destroySockets()` destroys the
 * client's sockets that are still open (after its `close()`: a connection it closed in the middle of
 * its TLS handshake or SASL authentication may otherwise stay open, with a request timer, until the
 * broker closes it — seen holding a failed process for 30 s).
 */
export function watchPlatformaticConnections(instanceId: number, tls: boolean): { readonly failed: Promise<Error>; readonly stop: () => void; readonly destroySockets: () => void } {
  let report: (error: Error) => void = () => undefined;
  const failed = new Promise<Error>((resolve) => {
    report = resolve;
  });
  if (watchers.size === 0) {
    diagnostics.subscribe(CONNECTS_END, onConnectEnd);
    diagnostics.subscribe(CONNECTS_ERROR, onConnectError);
  }
  const open = openSockets();
  watchers.set(instanceId, { tls, probed: new Set(), sockets: new WeakSet(), open, report: (error) => report(error) });
  let stopped = false;
  const stop = (): void => {
    if (stopped) return;
    stopped = true;
    watchers.delete(instanceId);
    if (watchers.size === 0) {
      diagnostics.unsubscribe(CONNECTS_END, onConnectEnd);
      diagnostics.unsubscribe(CONNECTS_ERROR, onConnectError);
    }
  };
  const destroySockets = (): void => open.destroyAll();
  return { failed, stop, destroySockets };
}
