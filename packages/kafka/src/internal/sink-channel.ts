import { CHANNELS, hasSubscribers, publish, type RxmlErrorCode } from '@rxml/core/contract';

/** What the sink knows of one acked message, for the `rxml:sink` channel. */
export interface SentMessage {
  readonly topic: string;
  readonly size: number;
  /** Error code when it went to the dead-letter topic. */
  readonly deadLetterCode?: RxmlErrorCode | undefined;
}

/**
 * `rxml:sink` for one acked produce call: a `delivered` message per output topic and a
 * `dead-letter` message per (dead-letter topic, error code), with record counts and bytes;
 * `durationMs` is the produce call's time including retries.
 */
export function publishSent(messages: readonly SentMessage[], durationMs: number): void {
  if (!hasSubscribers(CHANNELS.sink)) return;
  const groups = new Map<string, { topic: string; code: RxmlErrorCode | undefined; count: number; bytes: number }>();
  for (const m of messages) {
    const key = `${m.topic}\u0000${m.deadLetterCode ?? ''}`;
    let group = groups.get(key);
    if (group === undefined) groups.set(key, (group = { topic: m.topic, code: m.deadLetterCode, count: 0, bytes: 0 }));
    group.count++;
    group.bytes += m.size;
  }
  for (const { topic, code, count, bytes } of groups.values()) {
    publish(
      CHANNELS.sink,
      code === undefined
        ? { sink: 'kafka', type: 'delivered', topic, count, bytes, durationMs }
        : { sink: 'kafka', type: 'dead-letter', topic, count, bytes, durationMs, code },
    );
  }
}
