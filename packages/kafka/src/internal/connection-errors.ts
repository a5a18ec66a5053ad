/**
 * Connection failures that no retry can fix: a broker certificate the client does not trust (or
 * that names another host), a TLS handshake the two sides cannot agree on, SASL credentials the
 * broker refuses. Both client libraries report them as network errors and mark them retriable
 * (kafkajs: `KafkaJSConnectionError` with the TLS code; `@platformatic/kafka`: a `NetworkError`
 * with `canRetry` around an `AuthenticationError`), so without this a producer would retry them
 * until its delivery timeout (2 minutes by default) instead of failing at once.
 */

/**
 * OpenSSL's certificate verification results as Node reports them (`err.code` of a failed
 * `tls.connect`, see Node's `tls` docs, "X509 certificate error codes"), plus Node's host check.
 */
const CERTIFICATE_CODES: ReadonlySet<string> = new Set([
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_CRL',
  'UNABLE_TO_DECRYPT_CERT_SIGNATURE',
  'UNABLE_TO_DECRYPT_CRL_SIGNATURE',
  'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY',
  'CERT_SIGNATURE_FAILURE',
  'CRL_SIGNATURE_FAILURE',
  'CERT_NOT_YET_VALID',
  'CERT_HAS_EXPIRED',
  'CRL_NOT_YET_VALID',
  'CRL_HAS_EXPIRED',
  'ERROR_IN_CERT_NOT_BEFORE_FIELD',
  'ERROR_IN_CERT_NOT_AFTER_FIELD',
  'ERROR_IN_CRL_LAST_UPDATE_FIELD',
  'ERROR_IN_CRL_NEXT_UPDATE_FIELD',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'CERT_CHAIN_TOO_LONG',
  'CERT_REVOKED',
  'INVALID_CA',
  'PATH_LENGTH_EXCEEDED',
  'INVALID_PURPOSE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'HOSTNAME_MISMATCH',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** Whether a Node TLS error code says the broker's certificate was not accepted. */
export function isCertificateFailure(code: string): boolean {
  return CERTIFICATE_CODES.has(code);
}

interface ErrorLike {
  readonly name?: unknown;
  readonly code?: unknown;
  readonly message?: unknown;
  readonly cause?: unknown;
  readonly originalError?: unknown;
  readonly errors?: unknown;
}

/** The error and the errors it wraps (`cause`, kafkajs' `originalError`, an aggregate's `errors`), breadth first, at most 64. */
function* chain(error: unknown): Generator<ErrorLike> {
  const queue: unknown[] = [error];
  const seen = new Set<unknown>();
  for (let i = 0; i < queue.length && i < 64; i++) {
    const e = queue[i];
    if (typeof e !== 'object' || e === null || seen.has(e)) continue;
    seen.add(e);
    const like = e as ErrorLike;
    yield like;
    if (like.cause !== undefined) queue.push(like.cause);
    if (like.originalError !== undefined) queue.push(like.originalError);
    if (Array.isArray(like.errors)) queue.push(...(like.errors as unknown[]));
  }
}

/**
 * Why `error` (or an error it wraps) is a connection failure no retry can fix, e.g.
 * "TLS: the broker's certificate is not trusted (SELF_SIGNED_CERT_IN_CHAIN)"; undefined otherwise.
 */
export function permanentConnectionFailure(error: unknown): string | undefined {
  for (const e of chain(error)) {
    const code = typeof e.code === 'string' ? e.code : undefined;
    if (code !== undefined && CERTIFICATE_CODES.has(code)) return `TLS: the broker's certificate is not accepted (${code})`;
    // A handshake refused by either side: wrong protocol (TLS to a plaintext listener), a client
    // certificate the broker rejects, no common cipher or version.
    if (code !== undefined && code.startsWith('ERR_SSL_')) return `TLS handshake failed (${code})`;
    if (e.name === 'KafkaJSSASLAuthenticationError' || code === 'PLT_KFK_AUTHENTICATION') return 'SASL authentication failed';
    if (e.name === 'TlsListenerError') return 'the listener speaks TLS and the client does not';
    if (isUnsupportedMechanism(e)) return 'SASL mechanism not offered by the broker';
  }
  return undefined;
}

/** Kafka's UNSUPPORTED_SASL_MECHANISM (33): kafkajs' `type`, `@platformatic/kafka`'s `apiId`. */
function isUnsupportedMechanism(e: ErrorLike): boolean {
  const { type, apiId } = e as { type?: unknown; apiId?: unknown };
  return type === 'UNSUPPORTED_SASL_MECHANISM' || apiId === 'UNSUPPORTED_SASL_MECHANISM';
}

const stringsOf = (value: unknown): string[] | undefined =>
  Array.isArray(value) && value.every((v) => typeof v === 'string') ? value : undefined;

/**
 * When the broker refused the SASL mechanism asked for (its SaslHandshake answered
 * UNSUPPORTED_SASL_MECHANISM), what to say: the mechanism asked for (`sasl.mechanism` of the client's
 * options, when known) and the ones the listener offers, which the handshake response lists (kafkajs,
 * patched: the error's `enabledMechanisms`; `@platformatic/kafka`: its ResponseError's
 * `response.mechanisms`). E.g. `SASL mechanism SCRAM-SHA-512 (sasl.mechanism "scram-sha-512") is not
 * enabled on the broker's listener; it offers PLAIN`. Undefined for other errors.
 */
export function unsupportedSaslMechanism(error: unknown, asked: string | undefined): string | undefined {
  let refused = false;
  let offered: string[] | undefined;
  for (const e of chain(error)) {
    if (isUnsupportedMechanism(e)) refused = true;
    offered ??= stringsOf((e as { enabledMechanisms?: unknown }).enabledMechanisms) ?? stringsOf((e as { response?: { mechanisms?: unknown } }).response?.mechanisms);
  }
  if (!refused) return undefined;
  const mechanism = asked === undefined ? 'the SASL mechanism asked for' : `SASL mechanism ${asked.toUpperCase()} (sasl.mechanism ${JSON.stringify(asked)})`;
  const offers = offered === undefined ? 'it did not say which it offers' : offered.length === 0 ? 'it offers none' : `it offers ${offered.join(', ')}`;
  return `${mechanism} is not enabled on the broker's listener; ${offers}`;
}

/**
 * The topics a produce response refused, each with the broker's reason (a Kafka error name such as
 * TOPIC_AUTHORIZATION_FAILED): a produce request carries every topic of a batch (e.g. the output
 * topic and the dead-letter topic) and the broker answers per topic and partition. Read from
 * kafkajs' (patched) `partitionErrors` and `@platformatic/kafka`'s ResponseError (`response.responses[i].name`,
 * its errors' `path` `/responses/<i>/…` and `apiId`). Empty when the error carries none.
 */
export function refusedTopics(error: unknown): ReadonlyMap<string, string> {
  const refused = new Map<string, string>();
  for (const e of chain(error)) {
    const partitionErrors = (e as { partitionErrors?: unknown }).partitionErrors;
    if (Array.isArray(partitionErrors)) {
      for (const p of partitionErrors as { topic?: unknown; type?: unknown; errorCode?: unknown }[]) {
        if (typeof p.topic === 'string' && !refused.has(p.topic)) refused.set(p.topic, typeof p.type === 'string' ? p.type : `error code ${String(p.errorCode)}`);
      }
    }
    const responses = (e as { response?: { responses?: unknown } }).response?.responses;
    if (Array.isArray(responses) && Array.isArray(e.errors)) {
      for (const inner of e.errors as { path?: unknown; apiId?: unknown }[]) {
        const at = typeof inner?.path === 'string' ? /^\/responses\/(\d+)\//.exec(inner.path) : null;
        const name = at === null ? undefined : (responses[Number(at[1])] as { name?: unknown } | undefined)?.name;
        if (typeof name === 'string' && !refused.has(name)) refused.set(name, typeof inner.apiId === 'string' ? inner.apiId : 'refused');
      }
    }
  }
  return refused;
}

/**
 * The broker's refusal when `error` (or an error it wraps) is an ACL denial, e.g. "Not authorized to
 * access group: Group authorization failed" (kafkajs' `*_AUTHORIZATION_FAILED` types,
 * `@platformatic/kafka`'s "… authorization failed." protocol errors); undefined otherwise. Never
 * transient: the same request is refused until someone grants the ACL.
 */
export function authorizationFailure(error: unknown): string | undefined {
  for (const e of chain(error)) {
    const type = (e as { type?: unknown }).type;
    if (typeof type === 'string' && type.endsWith('_AUTHORIZATION_FAILED')) return typeof e.message === 'string' ? e.message : type;
    if (e.code === 'PLT_KFK_PROTOCOL' && typeof e.message === 'string' && /authorization failed/i.test(e.message)) return e.message;
  }
  return undefined;
}

/**
 * The error's message, followed by the distinct messages of the innermost errors it wraps when they
 * say more: `@platformatic/kafka` reports "Producing messages failed." around the broker's
 * "Topic authorization failed.", which the message alone would hide; and the broker's own text of a
 * protocol error when it sent one (`@platformatic/kafka`'s `serverErrorMessage`, e.g. "Authentication
 * failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512").
 */
export function describeClientError(error: unknown): string {
  const top = error instanceof Error ? error.message : String(error);
  const details: string[] = [];
  const add = (text: unknown): void => {
    if (typeof text === 'string' && text !== '' && !top.includes(text) && !details.includes(text)) details.push(text);
  };
  for (const e of chain(error)) {
    const wraps = e.cause !== undefined || e.originalError !== undefined || (Array.isArray(e.errors) && e.errors.length > 0);
    if (wraps || typeof e.message !== 'string' || e.message === '') continue;
    add(e.message);
    add((e as { serverErrorMessage?: unknown }).serverErrorMessage);
    if (details.length >= 3) break;
  }
  return details.length === 0 ? top : `${top} (${details.slice(0, 3).join('; ')})`;
}

/**
 * A hint when a connection was closed or reset during the handshake, which is what a client and a
 * listener that disagree on TLS or SASL see (the broker just closes the socket): names the options to
 * check. `tls`: whether this client was configured with TLS. Undefined for other errors.
 */
export function protocolMismatchHint(error: unknown, tls: boolean): string | undefined {
  let text = '';
  for (const e of chain(error)) if (typeof e.message === 'string') text += ` ${e.message}`;
  if (!/closed connection|connection closed|before secure TLS connection|ECONNRESET|socket hang up/i.test(text)) return undefined;
  return tls
    ? 'the connection was closed during the handshake: if the listener is PLAINTEXT or SASL_PLAINTEXT, drop `ssl`; else check `sasl`'
    : 'the connection was closed during the handshake: if the listener is SSL or SASL_SSL, set `ssl` (and `sasl` for SASL); fromKafka and toKafka each take their own connection options';
}

/**
 * Broker answers to an idempotent producer whose sequence numbers it cannot continue: a gap left by
 * a failed send (OUT_OF_ORDER_SEQUENCE_NUMBER: requests of the old producer id that were in flight
 * behind it), or producer state the broker no longer has (UNKNOWN_PRODUCER_ID, e.g. after
 * `producer.id.expiration.ms` of silence) or has fenced (INVALID_PRODUCER_EPOCH).
 */
const PRODUCER_STATE_ERRORS: ReadonlySet<unknown> = new Set(['OUT_OF_ORDER_SEQUENCE_NUMBER', 'UNKNOWN_PRODUCER_ID', 'INVALID_PRODUCER_EPOCH']);

/**
 * Whether a Kafka error name (kafkajs' `type`, `@platformatic/kafka`'s `apiId`) is one of those: after
 * a failed send rxml's client patches take a new producer id, so repeating the send is accepted.
 */
export function isProducerStateError(errorName: unknown): boolean {
  return PRODUCER_STATE_ERRORS.has(errorName);
}
