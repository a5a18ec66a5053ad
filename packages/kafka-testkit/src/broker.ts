import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KafkaOffset } from '@rxml/core/contract';
import { Kafka, logLevel } from 'kafkajs';
import {
  committedOffsets,
  createTopics,
  endOffsets,
  produce,
  readTopic,
  type ProduceRecord,
  type ReadTopicOptions,
  type TopicRecord,
} from './helpers.js';
import { DEFAULT_KAFKA_VERSION, ensureKafkaJars, requireTool } from './jars.js';
import { freePort } from './ports.js';
import { checkListenerNames, generateTls, scramArguments, securedProperties, type ExtraListener, type KafkaSecurityOptions, type SecuredConnection, type SecuredMechanism } from './security.js';
import { connectionOf, type KafkaTarget } from './helpers.js';
import type { AclEntry } from 'kafkajs';

export interface StartKafkaOptions {
  /** Apache Kafka version to run. Default {@link DEFAULT_KAFKA_VERSION} (4.x, KRaft). */
  readonly version?: string;
  /** Root of the jar cache. Default `$RXML_CACHE_DIR` or `~/.cache/rxml`. */
  readonly cacheRoot?: string;
  /** Partitions of auto-created topics (`num.partitions`). Default 1. */
  readonly defaultPartitions?: number;
  /** Extra `server.properties` entries; they override the generated ones. */
  readonly config?: Readonly<Record<string, string | number | boolean>>;
  /** Maximum JVM heap in MiB. Default 768. */
  readonly heapMb?: number;
  /** How long to wait for the broker to answer metadata requests. Default 120 s. */
  readonly startTimeoutMs?: number;
  /**
   * Ignore `KAFKA_BROKERS` and always start a broker. Default false: when `KAFKA_BROKERS` is set,
   * that cluster is used and no process is started.
   */
  readonly ignoreEnv?: boolean;
  /**
   * Start the broker with a SASL_SSL listener only (SCRAM-SHA-512 over TLS, a CA and keystores made
   * with the JDK's keytool) and optionally ACLs. See `KafkaTestBroker.security`.
   */
  readonly security?: KafkaSecurityOptions;
}

/** A secured broker's CA, credentials and ACL helper. */
export interface KafkaTestSecurity {
  /** PEM of the CA that signed the broker's certificate. */
  readonly caPem: string;
  /** The super user's connection (the testkit helpers use it). */
  readonly admin: SecuredConnection;
  /**
   * Connection options for one of the `users` (or any name and password, e.g. a wrong one), with a
   * SASL mechanism (default `'scram-sha-512'`), to the main listener (all three mechanisms) or to one
   * of the `security.listeners` by name.
   * @throws Error for a listener the broker was not started with.
   */
  connection(username: string, password?: string, mechanism?: SecuredMechanism, listener?: string): SecuredConnection;
  /** Creates ACLs (with ACLs enabled), as the super user. */
  grant(acl: readonly AclEntry[]): Promise<void>;
}

/** A running broker (or an external cluster from `KAFKA_BROKERS`) and helpers bound to it. */
export interface KafkaTestBroker {
  /** Bootstrap addresses, `host:port`. */
  readonly brokers: string[];
  /** True when the cluster came from `KAFKA_BROKERS` (then `stop`/`restart` do not touch it). */
  readonly external: boolean;
  /** Set when started with `security`. */
  readonly security?: KafkaTestSecurity;
  /** The broker's log file (undefined for an external cluster). */
  readonly logFile: string | undefined;
  /** Stops the broker (controlled shutdown, SIGKILL after 30 s) and deletes its data. */
  stop(): Promise<void>;
  /** Stops the broker and starts it again on the same ports with the same data. */
  restart(): Promise<void>;
  createTopic(topic: string, partitions?: number): Promise<void>;
  produce(topic: string, records: Iterable<ProduceRecord>, options?: { readonly batchSize?: number }): Promise<number>;
  readTopic(topic: string, options?: ReadTopicOptions): Promise<TopicRecord[]>;
  /** End offset of every partition, partition → decimal string (`KafkaOffset`). See `endOffsets`. */
  endOffsets(topic: string): Promise<Map<number, KafkaOffset>>;
  /** Committed offsets of `groupId`, partition → decimal string (`KafkaOffset`). See `committedOffsets`. */
  committedOffsets(groupId: string, topic: string): Promise<Map<number, KafkaOffset>>;
}

const LOG4J2 = `status = warn
appender.out.type = Console
appender.out.name = out
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = info
rootLogger.appenderRef.out.ref = out
logger.kafka.name = kafka
logger.kafka.level = info
logger.state.name = state.change.logger
logger.state.level = warn
`;

/**
 * The broker runs under this POSIX shell guard: when the Node process that started it dies (even by
 * SIGKILL), its stdin pipe closes and the guard stops the JVM, so no orphaned broker survives a
 * crashed test run. The JVM's pid goes to a file so `stop()` can SIGKILL it if shutdown hangs.
 * The guard runs in its own process group (`detached`): a Ctrl-C in the terminal signals the app's
 * group only, so an app draining on SIGINT still has its broker until it calls `stop()`.
 */
const GUARD = `exec 3<&0
"$@" </dev/null 3<&- &
child=$!
echo "$child" > "$RXML_KAFKA_PIDFILE"
( while read -r _; do :; done; kill -TERM "$child" 2>/dev/null ) <&3 &
exec 3<&-
wait "$child"
`;

function serverProperties(dir: string, port: number, controllerPort: number, options: StartKafkaOptions): string {
  const props: Record<string, string | number | boolean> = {
    'process.roles': 'broker,controller',
    'node.id': 1,
    'controller.quorum.voters': `1@127.0.0.1:${controllerPort}`,
    listeners: `PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}`,
    'advertised.listeners': `PLAINTEXT://127.0.0.1:${port}`,
    'controller.listener.names': 'CONTROLLER',
    'inter.broker.listener.name': 'PLAINTEXT',
    'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
    'log.dirs': join(dir, 'data'),
    'num.partitions': options.defaultPartitions ?? 1,
    'auto.create.topics.enable': true,
    // A single node cannot hold three replicas of the internal topics: without these, groups fail
    // with "coordinator not available".
    'offsets.topic.replication.factor': 1,
    'offsets.topic.num.partitions': 4,
    'transaction.state.log.replication.factor': 1,
    'transaction.state.log.min.isr': 1,
    'transaction.state.log.num.partitions': 4,
    'share.coordinator.state.topic.replication.factor': 1,
    'share.coordinator.state.topic.min.isr': 1,
    'group.initial.rebalance.delay.ms': 0,
    // Lets fault tests use short session timeouts so a killed member is noticed quickly.
    'group.min.session.timeout.ms': 1_000,
    // Sized for a small shared machine.
    'num.network.threads': 2,
    'num.io.threads': 2,
    'background.threads': 2,
    'log.cleaner.threads': 1,
    'num.recovery.threads.per.data.dir': 1,
    ...options.config,
  };
  return Object.entries(props).map(([k, v]) => `${k}=${String(v)}`).join('\n') + '\n';
}

function javaArgs(libs: string, dir: string, heapMb: number): string[] {
  return [
    `-Xmx${heapMb}m`,
    '-Xms128m',
    '-XX:+UseSerialGC',
    // C1 only: a test broker lives seconds to minutes, and on a small shared machine the C2
    // compiler threads cost more start-up CPU than they give back (restart measured 18 s → 9 s).
    '-XX:TieredStopAtLevel=1',
    '-Djava.awt.headless=true',
    `-Dlog4j2.configurationFile=${join(dir, 'log4j2.properties')}`,
    '-cp',
    join(libs, '*'),
  ];
}

function runToEnd(command: string, args: string[], logFile: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => chunks.push(c));
    child.stderr.on('data', (c: Buffer) => chunks.push(c));
    child.on('error', reject);
    child.on('close', (code) => {
      const output = Buffer.concat(chunks).toString();
      void writeFile(logFile, output, { flag: 'a' }).finally(() => {
        if (code === 0) resolve();
        else reject(new Error(`${command} ${args.slice(-4).join(' ')} exited with ${code}; output in ${logFile}:\n${output.slice(-2000)}`));
      });
    });
  });
}

async function waitForMetadata(brokers: KafkaTarget, child: ChildProcess, timeoutMs: number, logFile: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited: number | null | undefined;
  const onExit = (code: number | null): void => {
    exited = code;
  };
  child.once('exit', onExit);
  try {
    let lastError: unknown;
    while (Date.now() < deadline) {
      if (exited !== undefined) {
        throw new Error(`Kafka broker exited with ${String(exited)} during start-up; see its log: ${logFile}`);
      }
      const admin = new Kafka({
        clientId: 'rxml-kafka-testkit-probe',
        ...connectionOf(brokers),
        logLevel: logLevel.NOTHING,
        connectionTimeout: 1_000,
        retry: { retries: 0 },
      }).admin();
      try {
        await admin.connect();
        await admin.describeCluster();
        await admin.fetchTopicMetadata({ topics: [] });
        return;
      } catch (error) {
        lastError = error;
      } finally {
        await admin.disconnect().catch(() => undefined);
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    throw new Error(
      `Kafka broker did not answer metadata requests within ${timeoutMs} ms (${String(lastError)}); see its log: ${logFile}`,
    );
  } finally {
    child.off('exit', onExit);
  }
}

function bound(brokers: KafkaTarget): Omit<KafkaTestBroker, 'brokers' | 'external' | 'logFile' | 'stop' | 'restart' | 'security'> {
  return {
    createTopic: (topic, partitions = 1) => createTopics(brokers, [{ topic, partitions }]),
    produce: (topic, records, options) => produce(brokers, topic, records, options),
    readTopic: (topic, options) => readTopic(brokers, topic, options),
    endOffsets: (topic) => endOffsets(brokers, topic),
    committedOffsets: (groupId, topic) => committedOffsets(brokers, groupId, topic),
  };
}

/** Bootstrap addresses from `KAFKA_BROKERS`, or undefined when it is unset or empty. */
export function brokersFromEnv(): string[] | undefined {
  const list = (process.env['KAFKA_BROKERS'] ?? '').split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  return list.length > 0 ? list : undefined;
}

/**
 * Starts a single-node Apache Kafka 4.x broker in KRaft mode as a child process and resolves once
 * it answers metadata requests. With `KAFKA_BROKERS` set, uses that cluster instead.
 *
 * @example
 * const kafka = await startKafka();
 * await kafka.createTopic('IrisInputTopic', 3);
 * await kafka.produce('IrisInputTopic', [{ value: '5.1,3.5,1.4,0.2' }]);
 * await kafka.stop();
 */
export async function startKafka(options: StartKafkaOptions = {}): Promise<KafkaTestBroker> {
  const fromEnv = options.ignoreEnv === true ? undefined : brokersFromEnv();
  if (fromEnv !== undefined) {
    return {
      brokers: fromEnv,
      external: true,
      logFile: undefined,
      stop: () => Promise.resolve(),
      restart: () => Promise.reject(new Error('restart() is not possible on an external KAFKA_BROKERS cluster')),
      ...bound(fromEnv),
    };
  }

  await requireTool('java');
  const libs = await ensureKafkaJars({
    version: options.version ?? DEFAULT_KAFKA_VERSION,
    ...(options.cacheRoot === undefined ? {} : { cacheRoot: options.cacheRoot }),
  });
  const dir = await mkdtemp(join(tmpdir(), 'rxml-kafka-'));
  const logFile = join(dir, 'broker.log');
  const pidFile = join(dir, 'broker.pid');
  const [port, controllerPort] = [await freePort(), await freePort()];
  const brokers = [`127.0.0.1:${port}`];
  const config = join(dir, 'server.properties');
  let target: KafkaTarget = brokers;
  let security: KafkaTestSecurity | undefined;
  let scram: string[] = [];
  let secured: Record<string, string | number | boolean> = {};
  if (options.security !== undefined) {
    const tls = await generateTls(dir);
    const adminPassword = randomBytes(12).toString('hex');
    const users: Record<string, string> = { ...options.security.users, admin: adminPassword };
    scram = scramArguments(users);
    const listeners = options.security.listeners ?? {};
    checkListenerNames(listeners);
    const extra: ExtraListener[] = [];
    for (const [name, mechanisms] of Object.entries(listeners)) extra.push({ name, port: await freePort(), mechanisms });
    secured = securedProperties(port, controllerPort, tls, adminPassword, options.security.acls === true, users, extra);
    const connection = (username: string, password?: string, mechanism: SecuredMechanism = 'scram-sha-512', listener?: string): SecuredConnection => {
      const other = listener === undefined ? undefined : extra.find((l) => l.name === listener);
      if (listener !== undefined && other === undefined) throw new Error(`no listener ${listener}: start the broker with security.listeners.${listener}`);
      return {
        brokers: other === undefined ? brokers : [`127.0.0.1:${other.port}`],
        ssl: { ca: [tls.caPem] },
        sasl: { mechanism, username, password: password ?? users[username] ?? '' },
      };
    };
    const admin = connection('admin');
    target = admin;
    security = {
      caPem: tls.caPem,
      admin,
      connection,
      grant: async (acl) => {
        const client = new Kafka({ clientId: 'rxml-kafka-testkit', ...connectionOf(admin), logLevel: logLevel.NOTHING }).admin();
        await client.connect();
        try {
          await client.createAcls({ acl: [...acl] });
        } finally {
          await client.disconnect();
        }
      },
    };
  }
  await writeFile(config, serverProperties(dir, port, controllerPort, { ...options, config: { ...secured, ...options.config } }));
  await writeFile(join(dir, 'log4j2.properties'), LOG4J2);
  const jvm = javaArgs(libs, dir, options.heapMb ?? 768);
  const clusterId = randomBytes(16).toString('base64url');
  // `=`: a base64url id may start with '-', which the tool would otherwise read as an option.
  await runToEnd('java', [...jvm, 'kafka.tools.StorageTool', 'format', `--cluster-id=${clusterId}`, '-c', config, ...scram], logFile);

  let child: ChildProcess | undefined;
  const launch = async (): Promise<void> => {
    const fd = openSync(logFile, 'a');
    try {
      child = spawn('sh', ['-c', GUARD, 'rxml-kafka-guard', 'java', ...jvm, 'kafka.Kafka', config], {
        stdio: ['pipe', fd, fd],
        env: { ...process.env, RXML_KAFKA_PIDFILE: pidFile },
        detached: true,
      });
    } finally {
      closeSync(fd);
    }
    // The guard must not keep the test process alive on its own.
    child.unref();
    (child.stdin as (NodeJS.WritableStream & { unref?: () => void }) | null)?.unref?.();
    await waitForMetadata(target, child, options.startTimeoutMs ?? 120_000, logFile);
  };

  const halt = async (): Promise<void> => {
    const running = child;
    child = undefined;
    if (running === undefined) return;
    if (running.exitCode !== null || running.signalCode !== null) {
      running.stdin?.end();
      return;
    }
    const exited = new Promise<void>((resolve) => running.once('exit', () => resolve()));
    running.stdin?.end();
    const killer = setTimeout(() => {
      void readFile(pidFile, 'utf8')
        .then((text) => {
          const pid = Number(text.trim());
          // Never 0 or 1: process.kill(0) would hit this very process group.
          if (Number.isInteger(pid) && pid > 1) process.kill(pid, 'SIGKILL');
        })
        .catch(() => undefined);
    }, 30_000);
    try {
      await exited;
    } finally {
      clearTimeout(killer);
    }
  };

  try {
    await launch();
  } catch (error) {
    await halt();
    throw error;
  }

  return {
    brokers,
    external: false,
    ...(security === undefined ? {} : { security }),
    logFile,
    stop: async () => {
      await halt();
      await rm(dir, { recursive: true, force: true });
    },
    restart: async () => {
      await halt();
      await launch();
    },
    ...bound(target),
  };
}
