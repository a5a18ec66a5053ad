/**
 * Kafka's murmur2 (MurmurHash2, 32-bit, seed 0x9747b28c): the hash of the Java client's default
 * partitioner (`org.apache.kafka.common.utils.Utils.murmur2`), kafkajs' `DefaultPartitioner` and
 * `@platformatic/kafka`'s `compatibilityPartitioner`; the same value for the same bytes as those three.
 * On 32-bit integers (`Math.imul`): the two libraries compute it on BigInt / `Long` objects, about
 * 600 bytes of garbage per record key (measured with V8's allocation sampler in `pnpm bench kafka`).
 * @returns the signed 32-bit hash, as Java's `int`.
 */
export function murmur2(data: Uint8Array): number {
  const M = 0x5bd1e995;
  const length = data.length;
  const whole = length & ~3;
  let h = (0x9747b28c ^ length) | 0;
  for (let i = 0; i < whole; i += 4) {
    let k = data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24);
    k = Math.imul(k, M);
    k ^= k >>> 24;
    k = Math.imul(k, M);
    h = Math.imul(h, M) ^ k;
  }
  // The last 1–3 bytes (Java's switch with fall-through).
  const rest = length & 3;
  if (rest === 3) h ^= data[whole + 2]! << 16;
  if (rest >= 2) h ^= data[whole + 1]! << 8;
  if (rest >= 1) {
    h ^= data[whole]!;
    h = Math.imul(h, M);
  }
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}

/**
 * The Java client's partition for a keyed record, before the modulo by the partition count:
 * `murmur2(key) & 0x7fffffff` (Java's `Utils.toPositive`); a string key hashes as its UTF-8 bytes.
 * Keyless records get 0 here, like `@platformatic/kafka`'s `compatibilityPartitioner` (whose place
 * this takes).
 */
export function javaCompatiblePartition(key: unknown): number {
  if (key instanceof Uint8Array) return murmur2(key) & 0x7fffffff;
  return typeof key === 'string' ? murmur2(Buffer.from(key)) & 0x7fffffff : 0;
}
