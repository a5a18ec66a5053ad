import net from 'node:net';
import tls from 'node:tls';
import type { ISocketFactory } from 'kafkajs';
import type { KafkaConnectionOptions } from '../options.js';
import { isCertificateFailure } from './connection-errors.js';

/** A TLS handshake that failed because the broker's certificate is not trusted. */
export class UntrustedCertificateError extends Error {
  constructor(readonly code: string, detail: string) {
    super(
      `TLS: the broker's certificate is not trusted (${code}: ${detail}); check the \`ssl.ca\` option (the CA that signed the broker's certificate) and the broker address`,
    );
    this.name = 'UntrustedCertificateError';
  }
}

/**
 * A plaintext connection closed by a listener that speaks TLS (an SSL or SASL_SSL listener, and the
 * client has no `ssl`): found by one TLS handshake to the same address after the listener closed a
 * connection without answering. Retrying never helps.
 */
export class TlsListenerError extends Error {
  constructor(readonly address: string) {
    super(
      `the broker's listener at ${address} speaks TLS (it closed the plaintext connection without a Kafka answer, and completed a TLS handshake): set \`ssl\` (and \`sasl\` for a SASL_SSL listener); fromKafka and toKafka each take their own connection options`,
    );
    this.name = 'TlsListenerError';
  }
}

/** A plaintext connection closed after reading fewer bytes than this (a TLS alert is 7) is probed for TLS. */
const MAX_ANSWER_BEFORE_PROBE = 16;

/** Longest a TLS probe of a listener that closed a plaintext connection may take, ms. */
const PROBE_TIMEOUT_MS = 3_000;

/** Resolves true when `host:port` completes a TLS handshake (any certificate: only the protocol is asked). */
function speaksTls(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = tls.connect({ host, port, rejectUnauthorized: false, ...(net.isIP(host) === 0 ? { servername: host } : {}) });
    const done = (answer: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(answer);
    };
    const timer = setTimeout(() => done(false), PROBE_TIMEOUT_MS);
    timer.unref();
    socket.once('secureConnect', () => done(true));
    socket.once('error', () => done(false));
    socket.once('close', () => done(false));
  });
}

/** A client's sockets not closed yet: each leaves the set on its 'close'; `destroyAll` destroys the rest. */
export interface OpenSockets {
  /** Tracks `socket` until it closes (once, however often it is added). */
  add(socket: net.Socket): void;
  /** Destroys every tracked socket still open (with `error`, if given: it is emitted on each). */
  destroyAll(error?: () => Error): void;
}

export function openSockets(): OpenSockets {
  const open = new Set<net.Socket>();
  return {
    add(socket) {
      if (socket.destroyed || open.has(socket)) return;
      open.add(socket);
      socket.once('close', () => open.delete(socket));
    },
    destroyAll(error) {
      for (const socket of open) socket.destroy(error?.());
      open.clear();
    },
  };
}

/**
 * kafkajs' default socket factory, watching for connection failures that no retry can fix: kafkajs
 * retries every connection error (with backoff, ~10 s by default). `failed` resolves at the first one
 * so a caller can fail at once:
 * - with TLS: a handshake that failed because the broker's certificate is not trusted
 *   ({@link UntrustedCertificateError});
 * - without TLS: a listener that closed a connection after a request, having answered nothing or
 *   less than any Kafka response (a TLS alert record), and then completes a TLS handshake (one probe per address; {@link TlsListenerError}). A plaintext
 *   listener closing a connection (a broker restarting) fails that probe, and nothing is reported.
 *
 * `retire()`, once the client is disconnected and abandoned: destroys its sockets still open and
 * fails every connection it asks for later. kafkajs' `disconnect()` does not end a request already
 * in flight: a JoinGroup answered after it makes the consumer go on as the group's leader and open a
 * new connection, which nothing closes and which keeps the process alive (source-stop.integration).
 */
export function tlsWatch(): { readonly socketFactory: ISocketFactory; readonly failed: Promise<Error>; readonly retire: () => void } {
  let report: (error: Error) => void = () => undefined;
  const failed = new Promise<Error>((resolve) => {
    report = resolve;
  });
  const probed = new Set<string>();
  const open = openSockets();
  let retired = false;
  const socketFactory: ISocketFactory = ({ host, port, ssl, onConnect }) => {
    const socket = ssl
      ? tls.connect({ host, port, ...(net.isIP(host) === 0 ? { servername: host } : {}), ...ssl }, onConnect)
      : net.connect({ host, port }, onConnect);
    if (retired) {
      // Asked for by a client that was stopped (see `retire`): fails at once (kafkajs gets a connection
      // error). A listener of its own: the error can never go unhandled, whatever the client attaches.
      socket.on('error', () => undefined);
      socket.destroy(new Error(`the client was stopped: no new connection to ${host}:${port}`));
      return socket;
    }
    open.add(socket);
    socket.setKeepAlive(true, 60_000);
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== undefined && isCertificateFailure(error.code)) report(new UntrustedCertificateError(error.code, error.message));
    });
    if (!ssl) probeWhenClosedEarly(socket, host, port, probed, report);
    return socket;
  };
  const retire = (): void => {
    retired = true;
    // With an error, not silently: kafkajs learns of a closed socket only from its 'end' or 'error'
    // events; requests still waiting on it would hold their request timeouts (30 s) otherwise.
    open.destroyAll(() => new Error('the client was stopped: connection closed'));
  };
  return { socketFactory, failed, retire };
}

/**
 * Watches a plaintext connection to `host:port`: when the listener closes it after a request having
 * answered nothing or less than any Kafka response (a TLS alert record), one TLS handshake to the
 * same address (once per address of `probed`) decides, and `report` gets a {@link TlsListenerError}
 * when it completes. A plaintext listener closing a connection (a broker restarting) fails the probe.
 */
export function probeWhenClosedEarly(socket: net.Socket, host: string, port: number, probed: Set<string>, report: (error: Error) => void): void {
  socket.once('close', () => {
    const address = `${host}:${port}`;
    // A TLS listener answers a plaintext request with a 7-byte alert record, or nothing, then
    // closes; any Kafka response is longer. (A plaintext broker that restarts fails the probe.)
    if (socket.bytesRead >= MAX_ANSWER_BEFORE_PROBE || socket.bytesWritten === 0 || probed.has(address)) return;
    probed.add(address);
    void speaksTls(host, port).then((yes) => {
      if (yes) report(new TlsListenerError(address));
    });
  });
}

/**
 * Operations that fail at once with `failed`'s error once it resolves (and every later one too),
 * instead of waiting out the client's own retries. Not `Promise.race` with `failed`: that would leave
 * one reaction per operation on a promise that normally never settles (a leak over a long run);
 * waiting operations are kept in a set instead.
 */
export function failFastOn(failed: Promise<Error>): <T>(operation: Promise<T>) => Promise<T> {
  let refused: Error | undefined;
  const waiting = new Set<(error: Error) => void>();
  void failed.then((error) => {
    refused = error;
    for (const reject of waiting) reject(error);
    waiting.clear();
  });
  return <T>(operation: Promise<T>): Promise<T> => {
    if (refused !== undefined) {
      operation.catch(() => undefined);
      return Promise.reject(refused);
    }
    return new Promise<T>((resolve, reject) => {
      waiting.add(reject);
      operation.finally(() => waiting.delete(reject)).then(resolve, reject);
    });
  };
}

/** A {@link tlsWatch} for a client built from `connection` (no ready `kafka` instance); undefined otherwise. */
export function tlsWatchFor(connection: KafkaConnectionOptions): ReturnType<typeof tlsWatch> | undefined {
  return connection.kafka === undefined ? tlsWatch() : undefined;
}

/** Whether a client built from `connection` uses TLS (its `ssl` option). */
export function usesTlsOption(connection: KafkaConnectionOptions): boolean {
  return connection.ssl !== undefined && connection.ssl !== false;
}
