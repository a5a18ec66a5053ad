/**
 * The link between a source record and the source that emitted it, for the exactly-once sink.
 *
 * A *partition session* is one assignment of one input partition to one `fromKafka` subscription:
 * it starts when the group assigns the partition and ends when it is revoked (a partition kept
 * across a rebalance stays in the same session). Every record carries its session and its sequence
 * number in it (0, 1, 2, … in emission order), under symbol keys, so the transactional sink can
 * - find the consumer group whose offsets it commits inside its transactions,
 * - take over the commits from the source (which must then stop committing itself),
 * - know which records form a contiguous run in the partition even when results arrive out of
 *   order (`predict(…, { ordered: false })`), so a transaction never commits past a gap,
 * - drop the records of a partition this member lost.
 */

/** Kafka's consumer isolation levels (`isolation.level`). */
export type IsolationLevel = 'read_committed' | 'read_uncommitted';

export const SOURCE_SESSION: unique symbol = Symbol.for('rxml.kafka.partitionSession');
export const SOURCE_SEQ: unique symbol = Symbol.for('rxml.kafka.partitionSeq');

/** The sink that took over a source's commits: told when a partition's position moved with nothing emitted. */
export interface CommitTaker {
  /**
   * The source moved `session`'s position past records that need no output (transaction markers,
   * aborted records): the sink may commit up to `session.position` once everything emitted before
   * is written. Also for sessions the sink has not seen a record of yet.
   */
  advanced(session: PartitionSession): void;
}

/**
 * A topic-ID check before committing: `same` (commit), `changed` (the topic was deleted and created
 * again: the source reset the partition, nothing may be committed for this session), `missing`
 * (the topic does not exist now: commit later), `failed` (metadata unreadable: commit later).
 */
export type TopicCheck = 'same' | 'changed' | 'missing' | 'failed';

/** What the source tells the sink about one assigned partition. */
export interface PartitionSession {
  readonly topic: string;
  readonly partition: number;
  readonly groupId: string;
  readonly isolationLevel: IsolationLevel;
  /** False once the partition was revoked from this member (or the member lost its membership). */
  readonly owned: boolean;
  /** Records emitted so far in this session. */
  readonly emitted: number;
  /**
   * One past the last offset the source emitted or knows needs no output (transaction markers and
   * aborted records in a fetched range it took whole): a transaction that has written every
   * emitted record may commit this instead of its last record + 1, so the committed offset reaches
   * the end offset like the Java consumer's. Undefined before anything was fetched.
   */
  readonly position: number | undefined;
  /**
   * From now on `taker` commits the source's offsets (in its transactions); the source stops
   * committing and tells `taker` when a position moves with nothing emitted.
   */
  handOverCommits(taker: CommitTaker): void;
  /** The sink committed `offset` for this partition (for the source's `committed` and `lag` events). */
  committed(offset: number): void;
  /**
   * Set when the session started at a reset after the topic was deleted and created again: the new
   * log's earliest offset, to take as the committed position (the group's may be the old log's).
   */
  readonly resetFloor?: number | undefined;
  /**
   * Checks the topic's ID (one Metadata request) right before offsets are committed for it: only on
   * `same` may they be. On `changed` the source has already reset the partition.
   */
  checkTopic?(): Promise<TopicCheck>;
}

/** The source side of a session: the source owns the counter. */
export interface SourceSession extends PartitionSession {
  /** Records emitted so far in this session: the next record's sequence number. */
  emitted: number;
}

/** Fields a linked record carries. */
export interface SessionLinked {
  readonly [SOURCE_SESSION]?: PartitionSession;
  readonly [SOURCE_SEQ]?: number;
}

/** Creates the session of a newly assigned partition. `owned` reads the source's state at each call. */
export function createSession(
  topic: string,
  partition: number,
  groupId: string,
  isolationLevel: IsolationLevel,
  owned: () => boolean,
  handOverCommits: (taker: CommitTaker) => void,
  position: () => number | undefined = () => undefined,
  committed: (offset: number) => void = () => undefined,
  resetFloor?: number,
  checkTopic?: () => Promise<TopicCheck>,
): SourceSession {
  return {
    topic,
    partition,
    groupId,
    isolationLevel,
    emitted: 0,
    resetFloor,
    ...(checkTopic === undefined ? {} : { checkTopic }),
    get owned() {
      return owned();
    },
    get position() {
      return position();
    },
    handOverCommits,
    committed,
  };
}

/** The session and sequence number of a record emitted by `fromKafka`, or undefined for anything else. */
export function sessionOf(input: unknown): { readonly session: PartitionSession; readonly seq: number } | undefined {
  if (typeof input !== 'object' || input === null) return undefined;
  const linked = input as SessionLinked;
  const session = linked[SOURCE_SESSION];
  const seq = linked[SOURCE_SEQ];
  return session === undefined || seq === undefined ? undefined : { session, seq };
}
