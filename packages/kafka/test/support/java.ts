import { execFile } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureKafkaJars } from '@rxml/kafka-testkit';
import { inject } from 'vitest';

/** A record as the Java client (kafka-clients 4.x) writes or reads it. Headers in record order. */
export interface JavaRecord {
  readonly partition?: number;
  /** Decimal string, like every offset in rxml (`KafkaOffset`). */
  readonly offset?: string;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: readonly (readonly [string, Buffer | null])[];
}

/** One step of a Java producer's run: a record, or a transaction boundary. */
export type JavaStep = JavaRecord | 'BEGIN' | 'COMMIT' | 'ABORT' | 'FLUSH';

const PROGRAM = fileURLToPath(new URL('../fixtures/JavaClient.java', import.meta.url));

const field = (bytes: Buffer | null): string => (bytes === null ? '~' : `x${bytes.toString('hex')}`);
const parse = (text: string): Buffer | null => (text === '~' ? null : Buffer.from(text.slice(1), 'hex'));

function headersField(headers: JavaRecord['headers']): string {
  if (headers.length === 0) return '-';
  return headers.map(([name, value]) => `${field(Buffer.from(name))}:${field(value)}`).join(',');
}

function parseHeaders(text: string): [string, Buffer | null][] {
  if (text === '-') return [];
  return text.split(',').map((part) => {
    const [name, value] = part.split(':') as [string, string];
    return [parse(name)!.toString('utf8'), parse(value)];
  });
}

async function runJava(args: readonly string[], input: string): Promise<string[]> {
  const libs = await ensureKafkaJars();
  return new Promise((resolve, reject) => {
    const child = execFile(
      'java',
      ['-Xmx256m', '-XX:TieredStopAtLevel=1', '-cp', join(libs, '*'), PROGRAM, ...args],
      { maxBuffer: 256 * 1024 * 1024, timeout: 120_000 },
      (error, stdout, stderr) => {
        if (error !== null) return reject(new Error(`java ${args.slice(0, 3).join(' ')} failed: ${error.message}\n${stderr.slice(-3000)}`));
        const lines = stdout.split('\n').filter((l) => /^(A|M|E|OK) /.test(l));
        if (!lines.some((l) => l.startsWith('OK '))) return reject(new Error(`java ${args[0]} printed no OK line:\n${stdout.slice(-2000)}\n${stderr.slice(-2000)}`));
        resolve(lines);
      },
    );
    child.stdin?.end(input);
  });
}

/**
 * Writes records with the Java producer (`props` are producer configs, e.g. `compression.type=zstd`,
 * `transactional.id=…`). Returns the acked offsets in send order.
 */
export async function javaProduce(
  brokers: readonly string[],
  topic: string,
  steps: Iterable<JavaStep>,
  props: Readonly<Record<string, string | number>> = {},
): Promise<{ partition: number; offset: string }[]> {
  const lines: string[] = [];
  for (const step of steps) {
    if (typeof step === 'string') lines.push(step);
    else lines.push(`R ${step.partition ?? '-'} ${field(step.key)} ${field(step.value)} ${headersField(step.headers)}`);
  }
  const out = await runJava(['produce', brokers.join(','), topic, ...Object.entries(props).map(([k, v]) => `${k}=${v}`)], lines.join('\n') + '\n');
  const errors = out.filter((l) => l.startsWith('E '));
  if (errors.length > 0) throw new Error(`Java producer: ${errors[0]}`);
  return out.filter((l) => l.startsWith('A ')).map((l) => {
    const [, partition, offset] = l.split(' ');
    return { partition: Number(partition), offset: offset! };
  });
}

/** Reads a whole topic with the Java consumer (`props`, e.g. `isolation.level=read_committed`). */
export async function javaConsume(
  brokers: readonly string[],
  topic: string,
  props: Readonly<Record<string, string | number>> = {},
): Promise<JavaRecord[]> {
  const out = await runJava(['consume', brokers.join(','), topic, ...Object.entries(props).map(([k, v]) => `${k}=${v}`)], '');
  return out
    .filter((l) => l.startsWith('M '))
    .map((l) => {
      const [, partition, offset, key, value, headers] = l.split(' ') as [string, string, string, string, string, string];
      return { partition: Number(partition), offset, key: parse(key), value: parse(value), headers: parseHeaders(headers) };
    });
}

export const CODEC_NAMES = ['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const;

/**
 * The compression codec of every record batch stored for `topic`-`partition`, read from the
 * shared test broker's log segments (record batch v2 header: attributes & 7). Undefined when the
 * broker is external (KAFKA_BROKERS) and its files cannot be read.
 */
export async function storedBatchCodecs(topic: string, partition: number): Promise<string[] | undefined> {
  const dataDir = inject('kafkaDataDir');
  if (dataDir === undefined) return undefined;
  const dir = join(dataDir, `${topic}-${partition}`);
  const codecs: string[] = [];
  for (const file of (await readdir(dir)).filter((f) => f.endsWith('.log')).sort()) {
    const log = await readFile(join(dir, file));
    // baseOffset int64, batchLength int32, partitionLeaderEpoch int32, magic int8, crc int32, attributes int16
    for (let pos = 0; pos + 23 <= log.length; pos += 12 + log.readInt32BE(pos + 8)) {
      const attributes = log.readInt16BE(pos + 21);
      if ((attributes & 0x20) !== 0) continue; // control batch (transaction marker)
      codecs.push(CODEC_NAMES[attributes & 7] ?? `codec-${attributes & 7}`);
    }
  }
  return codecs;
}
