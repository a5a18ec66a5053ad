import { Admin } from '@platformatic/kafka';
import type { KafkaOffset } from '@rxml/core/contract';
import type { KafkaConnectionOptions } from '../options.js';
import type { TopicIdentityClient } from './client.js';
import { platformaticConnection, platformaticUnsupported } from './platformatic-producer.js';
import { withDeadline } from './deadline.js';

/**
 * What a topic-ID check says about one topic, compared with the ID recorded for it:
 * - `same`: the same log (or the broker gives no IDs: nothing to compare),
 * - `new`: no ID was recorded yet; `id` is the one to record,
 * - `changed`: deleted and created again (`from` → `to`),
 * - `missing`: the topic does not exist now (deleted, not created again yet).
 */
export type TopicIdVerdict =
  | { readonly status: 'same' }
  | { readonly status: 'new'; readonly id: string }
  | { readonly status: 'changed'; readonly from: string; readonly to: string }
  | { readonly status: 'missing' };

/** Brokers without topic IDs (before Kafka 2.8, or a topic from before the upgrade) report the all-zero UUID. */
const isZeroId = (id: string): boolean => /^[0-]*$/.test(id);

/** Compares each topic's current ID (`undefined`: it does not exist) with the recorded one. */
export function compareTopicIds(
  known: ReadonlyMap<string, string>,
  current: ReadonlyMap<string, string | undefined>,
  topics: Iterable<string>,
): Map<string, TopicIdVerdict> {
  const verdicts = new Map<string, TopicIdVerdict>();
  for (const topic of topics) {
    const now = current.get(topic);
    const before = known.get(topic);
    if (now === undefined) verdicts.set(topic, { status: 'missing' });
    else if (before === undefined) verdicts.set(topic, { status: 'new', id: now });
    else if (now === before || isZeroId(now) || isZeroId(before)) verdicts.set(topic, { status: 'same' });
    else verdicts.set(topic, { status: 'changed', from: before, to: now });
  }
  return verdicts;
}

/**
 * The topics' IDs, asking again after a failure (100 ms, then doubling up to 1 s) until `deadline`
 * (epoch ms). One request when the first answers.
 * @throws the last failure once `deadline` has passed.
 */
export async function readTopicIds(
  client: TopicIdentityClient,
  topics: readonly string[],
  deadline: number,
): Promise<ReadonlyMap<string, string | undefined>> {
  for (let attempt = 0; ; attempt++) {
    try {
      const ms = Math.max(1, deadline - Date.now());
      return await withDeadline(client.topicIds(topics), ms, `topic metadata did not arrive within ${ms} ms`);
    } catch (error) {
      const pause = Math.min(1_000, 100 * 2 ** attempt);
      if (Date.now() + pause >= deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, pause));
    }
  }
}

/** `@platformatic/kafka`'s message for a topic the broker does not know (UNKNOWN_TOPIC_OR_PARTITION). */
const UNKNOWN_TOPIC = /^Unknown topic (.+)\.$/;

/**
 * Longest wait (ms) for one broker's connection or one answer in a topic-ID check. `@platformatic/kafka`
 * always asks the bootstrap brokers in the order given, so a hung one (connects but never answers,
 * or drops the SYN) would hold every check until its timeout (5 s connect, 30 s request by default)
 * and every commit round would be skipped; capped, the next broker is asked within the check's
 * `TOPIC_ID_CHECK_TIMEOUT_MS` (5 s).
 */
const ATTEMPT_TIMEOUT_MS = 2_000;

/**
 * `TopicIdentityClient` on `@platformatic/kafka`'s admin client (Metadata v10–v12 carry topic IDs),
 * with the same brokers, TLS and SASL as the consumer, or undefined when it cannot serve these
 * options (a ready kafkajs `kafka` instance, a kafkajs-only SASL mechanism: then no topic-ID checks).
 * After a failed request the next one goes through a new admin client whose bootstrap list starts at
 * the next broker (the failed one last), as the consumer itself would use another broker.
 */
export function platformaticTopicIdentity(connection: KafkaConnectionOptions): TopicIdentityClient | undefined {
  if (platformaticUnsupported(connection, 'none') !== undefined) return undefined;
  const base = platformaticConnection(connection);
  const bootstrap = base.bootstrapBrokers;
  let first = 0;
  let closed = false;
  const open = new Set<Admin>();
  // No retries of its own (readTopicIds retries within the commit round's time) and no topic
  // auto-creation: asking must not create a deleted topic again.
  const create = (): Admin => {
    const created = new Admin({
      ...base,
      bootstrapBrokers: [...bootstrap.slice(first), ...bootstrap.slice(0, first)],
      connectTimeout: Math.min(base.connectTimeout ?? ATTEMPT_TIMEOUT_MS, ATTEMPT_TIMEOUT_MS),
      // `requestTimeout` is the connection's wait for an answer (platformatic's default 30 s); `timeout` only goes to the broker.
      requestTimeout: Math.min(base.requestTimeout, ATTEMPT_TIMEOUT_MS),
      retries: 0,
      autocreateTopics: false,
    });
    open.add(created);
    return created;
  };
  let admin = create();
  /** `failed` could not be served: later requests start at the next bootstrap broker, on fresh connections. */
  const rotate = (failed: Admin): void => {
    if (failed !== admin || closed) return; // another request already moved on, or closing
    first = (first + 1) % bootstrap.length;
    admin = create();
    void failed
      .close()
      .catch(() => undefined)
      .finally(() => open.delete(failed));
  };
  return {
    async topicIds(topics) {
      const ids = new Map<string, string | undefined>();
      let asked = [...new Set(topics)];
      const using = admin;
      // A topic the broker does not know fails the whole request (platformatic names the first):
      // it is missing, the others are asked again.
      while (asked.length > 0) {
        try {
          const metadata = await using.metadata({ topics: asked, forceUpdate: true, autocreateTopics: false });
          for (const topic of asked) ids.set(topic, metadata.topics.get(topic)?.id);
          break;
        } catch (error) {
          const missing = error instanceof Error ? UNKNOWN_TOPIC.exec(error.message)?.[1] : undefined;
          if (missing === undefined || !asked.includes(missing)) {
            rotate(using);
            throw error;
          }
          ids.set(missing, undefined);
          asked = asked.filter((t) => t !== missing);
        }
      }
      return ids;
    },
    async earliestOffsets(topic, partitions) {
      // A topic just created again may have no leader yet (NOT_LEADER_OR_FOLLOWER): asked again for up to ~3 s.
      for (let attempt = 0; ; attempt++) {
        const using = admin;
        try {
          const [listed] = await using.listOffsets({ topics: [{ name: topic, partitions: partitions.map((partitionIndex) => ({ partitionIndex, timestamp: -2n })) }] });
          const offsets = new Map<number, KafkaOffset>();
          for (const p of listed?.partitions ?? []) offsets.set(p.partitionIndex, String(p.offset));
          return offsets;
        } catch (error) {
          if (attempt >= 10) throw error;
          using.clearMetadata();
          await new Promise((resolve) => setTimeout(resolve, 300));
        }
      }
    },
    async close() {
      closed = true;
      await Promise.all([...open].map((a) => a.close().catch(() => undefined)));
      open.clear();
    },
  };
}
