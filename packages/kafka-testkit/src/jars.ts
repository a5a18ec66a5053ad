import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createInterface } from 'node:readline';
import lockfile from 'proper-lockfile';
import { startProgress, type ProgressStream } from './progress.js';

const run = promisify(execFile);

/** The Kafka release the testkit runs unless told otherwise. */
export const DEFAULT_KAFKA_VERSION = '4.4.0';

/** The log4j version whose slf4j binding routes Kafka's Scala logging into the broker log. */
const LOG4J_VERSION = '2.24.3';
const DEPENDENCY_PLUGIN = 'org.apache.maven.plugins:maven-dependency-plugin:3.8.1';
const COMPLETE_MARKER = '.complete';

export interface KafkaJarsOptions {
  /** Apache Kafka version (Maven `org.apache.kafka:kafka_2.13`). Default {@link DEFAULT_KAFKA_VERSION}. */
  readonly version?: string;
  /** Root of the jar cache. Default `$RXML_CACHE_DIR` or `~/.cache/rxml`. */
  readonly cacheRoot?: string;
  /**
   * Where the first-run download reports its progress (bytes, %, MB/s redrawn on a terminal; a line
   * at the start and one at the end otherwise), or `false` for silence. Default: stderr.
   */
  readonly progress?: ProgressStream | false;
}

/**
 * Bytes Maven downloads for the default version into an empty local repository (the jars plus
 * the POMs and the dependency plugin), measured on 4.4.0: the total of the progress line. With a
 * partly filled `~/.m2` fewer bytes arrive; other versions show bytes and MB/s without a `%`.
 */
const DOWNLOAD_BYTES: Readonly<Record<string, number>> = { '4.4.0': 62_900_000 };

const UNITS: Readonly<Record<string, number>> = { B: 1, kB: 1e3, KB: 1e3, MB: 1e6, GB: 1e9 };
/** Maven's transfer line, e.g. `Downloaded from central: https://…/x.jar (1.2 MB at 3.4 MB/s)`. */
const DOWNLOADED = /Downloaded from [^:]+: \S+ \((\d+(?:\.\d+)?) (B|kB|KB|MB|GB) at /;

/** Bytes of one Maven `Downloaded from …` line, or 0 for any other line. */
export function downloadedBytes(line: string): number {
  const match = DOWNLOADED.exec(line);
  return match === null ? 0 : Math.round(Number(match[1]) * (UNITS[match[2]!] ?? 0));
}

/** Runs Maven (batch mode, transfer lines on) and feeds each download's bytes to `onBytes`. */
function runMaven(args: readonly string[], onBytes: (bytes: number) => void, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('mvn', ['-B', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    // Only what explains a failure is kept: errors and warnings, and stderr.
    const kept: string[] = [];
    const keep = (line: string): void => {
      kept.push(line);
      if (kept.length > 200) kept.shift();
    };
    createInterface({ input: child.stdout }).on('line', (line) => {
      const bytes = downloadedBytes(line);
      if (bytes > 0) onBytes(bytes);
      else if (/^\[(ERROR|WARNING)\]/.test(line)) keep(line);
    });
    createInterface({ input: child.stderr }).on('line', keep);
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new Error(`mvn ${signal === null ? `exited with ${code}` : `was killed (${signal}, timeout ${timeoutMs} ms)`}:\n${kept.join('\n')}`));
    });
  });
}

/** Thrown when a tool the broker needs (java, mvn) is missing. */
export class MissingToolError extends Error {
  override readonly name = 'MissingToolError';
}

const missingToolHint =
  'Install Java 17+ and Maven (e.g. `apt-get install openjdk-17-jre-headless maven`), ' +
  'or set KAFKA_BROKERS=host:port to use a running Kafka cluster instead.';

export function defaultCacheRoot(): string {
  return process.env['RXML_CACHE_DIR'] ?? join(homedir(), '.cache', 'rxml');
}

/** Fails with a message saying what to install when `tool` cannot be started. */
export async function requireTool(tool: 'java' | 'mvn'): Promise<void> {
  try {
    await run(tool, tool === 'java' ? ['-version'] : ['-v'], { timeout: 60_000 });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new MissingToolError(`\`${tool}\` was not found on PATH. ${missingToolHint}`);
    throw new MissingToolError(`\`${tool}\` could not be run (${String(error)}). ${missingToolHint}`);
  }
}

function pom(version: string): string {
  return `<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>rxml</groupId>
  <artifactId>kafka-broker-jars</artifactId>
  <version>1</version>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_2.13</artifactId>
      <version>${version}</version>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-slf4j-impl</artifactId>
      <version>${LOG4J_VERSION}</version>
    </dependency>
  </dependencies>
</project>
`;
}

/**
 * Makes sure the broker jars of `version` are in the cache and returns their directory.
 * The first call downloads them from Maven Central through Maven; later calls (and other
 * processes) reuse them. A lock file keeps parallel processes from downloading at the same time,
 * and a marker written last means a half-finished copy is never used.
 */
export async function ensureKafkaJars(options: KafkaJarsOptions = {}): Promise<string> {
  const version = options.version ?? DEFAULT_KAFKA_VERSION;
  const dir = join(options.cacheRoot ?? defaultCacheRoot(), `kafka-${version}`);
  const libs = join(dir, 'libs');
  if (existsSync(join(libs, COMPLETE_MARKER))) return libs;

  await requireTool('mvn');
  await mkdir(dir, { recursive: true });
  const release = await lockfile.lock(dir, {
    lockfilePath: `${dir}.lock`,
    // Maven can take minutes on a cold cache; `update` keeps our lock fresh meanwhile.
    stale: 30_000,
    update: 5_000,
    retries: { retries: 1_000, minTimeout: 200, maxTimeout: 2_000 },
  });
  try {
    if (existsSync(join(libs, COMPLETE_MARKER))) return libs;
    const staging = join(dir, 'libs.partial');
    await rm(staging, { recursive: true, force: true });
    await writeFile(join(dir, 'pom.xml'), pom(version));
    const progress = startProgress(`downloading the Kafka ${version} broker jars (Maven Central, first run only)`, DOWNLOAD_BYTES[version], options.progress);
    try {
      await runMaven(
        ['-f', join(dir, 'pom.xml'), `${DEPENDENCY_PLUGIN}:copy-dependencies`, `-DoutputDirectory=${staging}`, '-DincludeScope=runtime'],
        (bytes) => progress.add(bytes),
        15 * 60_000,
      );
    } catch (error) {
      throw new Error(`Maven could not fetch org.apache.kafka:kafka_2.13:${version}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
    progress.done();
    const jars = (await readdir(staging)).filter((f) => f.endsWith('.jar'));
    if (!jars.some((f) => f.startsWith(`kafka_2.13-${version}`))) {
      throw new Error(`Maven finished but ${staging} holds no kafka_2.13-${version} jar`);
    }
    await writeFile(join(staging, COMPLETE_MARKER), `${jars.length} jars\n`);
    await rm(libs, { recursive: true, force: true });
    await rename(staging, libs);
    return libs;
  } finally {
    await release();
  }
}
