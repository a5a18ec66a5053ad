import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * A secured listener: SASL_SSL with TLS from a CA generated per broker, and the SASL mechanisms
 * PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512 enabled for every user.
 */
export interface KafkaSecurityOptions {
  /**
   * Users, name → password, for all three mechanisms: SCRAM credentials (both hashes) created at
   * format time, so they exist from the first request, and PLAIN passwords in the listener's JAAS
   * config. `admin` (the broker's own and the testkit helpers' super user) is always added.
   */
  readonly users?: Readonly<Record<string, string>>;
  /**
   * Enforce ACLs (KRaft's StandardAuthorizer, `allow.everyone.if.no.acl.found=false`): only `admin`
   * may do anything without an ACL. Grant ACLs with `KafkaTestBroker.security.grant`. Default false.
   */
  readonly acls?: boolean;
  /**
   * More SASL_SSL listeners, name → the only mechanisms each enables (same TLS, users and ACLs), e.g.
   * `{ plain_only: ['plain'] }`: what a client asking for a mechanism the broker does not offer
   * gets. Names: letters, digits and `_`. Reach one with `connection(user, password, mechanism, name)`.
   */
  readonly listeners?: Readonly<Record<string, readonly SecuredMechanism[]>>;
}

/** A {@link KafkaSecurityOptions.listeners} entry with its port. */
export interface ExtraListener {
  readonly name: string;
  readonly port: number;
  readonly mechanisms: readonly SecuredMechanism[];
}

/** SASL mechanisms the secured listener accepts, in kafkajs' spelling. */
export type SecuredMechanism = 'plain' | 'scram-sha-256' | 'scram-sha-512';

/** How clients reach a secured broker (kafkajs connection options). */
export interface SecuredConnection {
  readonly brokers: string[];
  readonly ssl: { readonly ca: string[] };
  readonly sasl: SecuredSasl;
}

/** kafkajs' SASL options for one of the mechanisms (a union, as kafkajs' `SASLOptions` is). */
export type SecuredSasl = { readonly [M in SecuredMechanism]: { readonly mechanism: M; readonly username: string; readonly password: string } }[SecuredMechanism];

/** Files and secrets of a generated TLS setup. */
export interface GeneratedTls {
  /** The CA certificate (PEM) that signed the broker's certificate: what clients must trust. */
  readonly caPem: string;
  readonly keystore: string;
  readonly truststore: string;
  readonly password: string;
}

function run(command: string, args: readonly string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => out.push(c));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve() : reject(new Error(`${command} ${args.slice(0, 2).join(' ')} exited with ${code}: ${Buffer.concat(out).toString().slice(-1000)}`)),
    );
  });
}

/**
 * A CA and a broker keystore signed by it, made with the JDK's `keytool` (PKCS12): the broker's
 * certificate names `localhost` and `127.0.0.1`, so clients verify the host. Valid 2 days.
 */
export async function generateTls(dir: string, name = 'broker'): Promise<GeneratedTls> {
  const password = randomBytes(12).toString('hex');
  const ca = join(dir, `${name}-ca.p12`);
  const caPemFile = join(dir, `${name}-ca.pem`);
  const keystore = join(dir, `${name}.p12`);
  const truststore = join(dir, `${name}-truststore.p12`);
  const csr = join(dir, `${name}.csr`);
  const cert = join(dir, `${name}.pem`);
  const store = ['-storetype', 'PKCS12', '-storepass', password, '-keypass', password];
  await run('keytool', ['-genkeypair', '-alias', 'ca', '-keyalg', 'RSA', '-keysize', '2048', '-dname', `CN=rxml test CA ${name}`, '-ext', 'bc:c', '-validity', '2', '-keystore', ca, ...store]);
  await run('keytool', ['-exportcert', '-alias', 'ca', '-rfc', '-file', caPemFile, '-keystore', ca, ...store]);
  await run('keytool', ['-genkeypair', '-alias', 'broker', '-keyalg', 'RSA', '-keysize', '2048', '-dname', 'CN=localhost', '-validity', '2', '-keystore', keystore, ...store]);
  await run('keytool', ['-certreq', '-alias', 'broker', '-file', csr, '-keystore', keystore, ...store]);
  await run('keytool', [
    '-gencert', '-alias', 'ca', '-infile', csr, '-outfile', cert, '-rfc', '-validity', '2',
    '-ext', 'SAN=dns:localhost,ip:127.0.0.1', '-ext', 'EKU=serverAuth,clientAuth', '-keystore', ca, ...store,
  ]);
  await run('keytool', ['-importcert', '-alias', 'ca', '-file', caPemFile, '-noprompt', '-keystore', keystore, ...store]);
  await run('keytool', ['-importcert', '-alias', 'broker', '-file', cert, '-keystore', keystore, ...store]);
  await run('keytool', ['-importcert', '-alias', 'ca', '-file', caPemFile, '-noprompt', '-keystore', truststore, ...store]);
  return { caPem: await readFile(caPemFile, 'utf8'), keystore, truststore, password };
}

const KAFKA_MECHANISMS: Readonly<Record<SecuredMechanism, string>> = { plain: 'PLAIN', 'scram-sha-256': 'SCRAM-SHA-256', 'scram-sha-512': 'SCRAM-SHA-512' };

/** The JAAS config entries of listener `name` (lower case) for `mechanisms`. */
function jaasProperties(name: string, mechanisms: readonly SecuredMechanism[], adminPassword: string, users: Readonly<Record<string, string>>): Record<string, string> {
  const props: Record<string, string> = {};
  for (const mechanism of mechanisms) {
    props[`listener.name.${name}.${mechanism}.sasl.jaas.config`] =
      mechanism === 'plain'
        ? // PLAIN checks passwords against the `user_<name>` entries of its JAAS config.
          `org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="${adminPassword}"` +
          Object.entries(users)
            .map(([user, password]) => ` user_${user}="${password}"`)
            .join('') +
          ';'
        : `org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="${adminPassword}";`;
  }
  return props;
}

/** Checks the names of {@link KafkaSecurityOptions.listeners}. @throws Error naming a bad one. */
export function checkListenerNames(listeners: Readonly<Record<string, readonly SecuredMechanism[]>>): void {
  for (const [name, mechanisms] of Object.entries(listeners)) {
    if (!/^[A-Za-z][A-Za-z0-9_]*$/.test(name) || ['SASL_SSL', 'CONTROLLER'].includes(name.toUpperCase())) {
      throw new Error(`security.listeners: ${JSON.stringify(name)} is not a listener name (letters, digits and _, not SASL_SSL or CONTROLLER)`);
    }
    if (mechanisms.length === 0 || mechanisms.some((m) => KAFKA_MECHANISMS[m] === undefined)) {
      throw new Error(`security.listeners.${name}: give one or more of ${Object.keys(KAFKA_MECHANISMS).join(', ')}`);
    }
  }
}

/**
 * `server.properties` entries of a SASL_SSL listener `port` (and a PLAINTEXT controller listener),
 * and of the `extra` SASL_SSL listeners with fewer mechanisms.
 */
export function securedProperties(
  port: number,
  controllerPort: number,
  tls: GeneratedTls,
  adminPassword: string,
  acls: boolean,
  users: Readonly<Record<string, string>>,
  extra: readonly ExtraListener[] = [],
): Record<string, string | number | boolean> {
  const extraListeners = extra.map((l) => `,${l.name.toUpperCase()}://127.0.0.1:${l.port}`).join('');
  return {
    listeners: `SASL_SSL://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}${extraListeners}`,
    'advertised.listeners': `SASL_SSL://127.0.0.1:${port}${extraListeners}`,
    'inter.broker.listener.name': 'SASL_SSL',
    'listener.security.protocol.map': `SASL_SSL:SASL_SSL,CONTROLLER:PLAINTEXT${extra.map((l) => `,${l.name.toUpperCase()}:SASL_SSL`).join('')}`,
    'sasl.enabled.mechanisms': 'PLAIN,SCRAM-SHA-256,SCRAM-SHA-512',
    'sasl.mechanism.inter.broker.protocol': 'SCRAM-SHA-512',
    ...jaasProperties('sasl_ssl', ['plain', 'scram-sha-256', 'scram-sha-512'], adminPassword, users),
    // Each extra listener enables its own mechanisms only (a listener-prefixed sasl.enabled.mechanisms).
    ...Object.fromEntries(
      extra.flatMap((l) => {
        const name = l.name.toLowerCase();
        return [[`listener.name.${name}.sasl.enabled.mechanisms`, l.mechanisms.map((m) => KAFKA_MECHANISMS[m]).join(',')], ...Object.entries(jaasProperties(name, l.mechanisms, adminPassword, users))];
      }),
    ),
    'ssl.keystore.type': 'PKCS12',
    'ssl.keystore.location': tls.keystore,
    'ssl.keystore.password': tls.password,
    'ssl.key.password': tls.password,
    'ssl.truststore.type': 'PKCS12',
    'ssl.truststore.location': tls.truststore,
    'ssl.truststore.password': tls.password,
    'ssl.client.auth': 'none',
    ...(acls
      ? {
          'authorizer.class.name': 'org.apache.kafka.metadata.authorizer.StandardAuthorizer',
          'allow.everyone.if.no.acl.found': false,
          // admin: the broker itself and the testkit helpers; ANONYMOUS: the broker's own requests
          // to the controller over the loopback PLAINTEXT controller listener.
          'super.users': 'User:admin;User:ANONYMOUS',
        }
      : {}),
  };
}

/** StorageTool `--add-scram` arguments creating the users' SCRAM-SHA-256 and -512 credentials at format time. */
export function scramArguments(users: Readonly<Record<string, string>>): string[] {
  return Object.entries(users).flatMap(([name, password]) => [
    '--add-scram',
    `SCRAM-SHA-512=[name=${name},password=${password}]`,
    '--add-scram',
    `SCRAM-SHA-256=[name=${name},password=${password}]`,
  ]);
}
