import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import lockfile from 'proper-lockfile';

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
    try {
      await run(
        'mvn',
        ['-q', '-B', '-f', join(dir, 'pom.xml'), `${DEPENDENCY_PLUGIN}:copy-dependencies`,
          `-DoutputDirectory=${staging}`, '-DincludeScope=runtime'],
        { timeout: 15 * 60_000, maxBuffer: 64 * 1024 * 1024 },
      );
    } catch (error) {
      const out = error as { stdout?: string; stderr?: string };
      throw new Error(
        `Maven could not fetch org.apache.kafka:kafka_2.13:${version}: ${out.stdout ?? ''}${out.stderr ?? String(error)}`,
        { cause: error },
      );
    }
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
