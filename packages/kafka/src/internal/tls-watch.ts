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
 * kafkajs' default socket factory, watching TLS handshakes: kafkajs retries every connection error
 * (with backoff, ~10 s by default) although a certificate that cannot be verified never becomes
 * valid by retrying. `untrusted` resolves at the first such failure so a caller can fail at once.
 */
export function tlsWatch(): { readonly socketFactory: ISocketFactory; readonly untrusted: Promise<UntrustedCertificateError> } {
  let report: (error: UntrustedCertificateError) => void = () => undefined;
  const untrusted = new Promise<UntrustedCertificateError>((resolve) => {
    report = resolve;
  });
  const socketFactory: ISocketFactory = ({ host, port, ssl, onConnect }) => {
    const socket = ssl
      ? tls.connect({ host, port, ...(net.isIP(host) === 0 ? { servername: host } : {}), ...ssl }, onConnect)
      : net.connect({ host, port }, onConnect);
    socket.setKeepAlive(true, 60_000);
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== undefined && isCertificateFailure(error.code)) report(new UntrustedCertificateError(error.code, error.message));
    });
    return socket;
  };
  return { socketFactory, untrusted };
}

/** A {@link tlsWatch} for a client built from `connection` with TLS (`ssl` set, no ready `kafka` instance); undefined otherwise. */
export function tlsWatchFor(connection: KafkaConnectionOptions): ReturnType<typeof tlsWatch> | undefined {
  return connection.kafka === undefined && connection.ssl !== undefined && connection.ssl !== false ? tlsWatch() : undefined;
}
