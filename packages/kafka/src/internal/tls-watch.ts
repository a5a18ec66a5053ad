import net from 'node:net';
import tls from 'node:tls';
import type { ISocketFactory } from 'kafkajs';

/** OpenSSL/Node verification codes: the broker's certificate cannot be trusted with the given CA. */
const CERTIFICATE_ERRORS = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'CERT_SIGNATURE_FAILURE',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

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
      if (error.code !== undefined && CERTIFICATE_ERRORS.has(error.code)) report(new UntrustedCertificateError(error.code, error.message));
    });
    return socket;
  };
  return { socketFactory, untrusted };
}
