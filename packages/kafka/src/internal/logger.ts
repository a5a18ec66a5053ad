import { logLevel, type logCreator, type LogEntry } from 'kafkajs';

/** Where rxml's Kafka clients log. Levels follow kafkajs'/syslog's names. */
export interface KafkaLogger {
  error(message: string, fields: Readonly<Record<string, unknown>>): void;
  warn(message: string, fields: Readonly<Record<string, unknown>>): void;
  info(message: string, fields: Readonly<Record<string, unknown>>): void;
  debug(message: string, fields: Readonly<Record<string, unknown>>): void;
}

/**
 * Conditions every healthy start or rebalance goes through: the group coordinator or a partition
 * leader is not there yet (the offsets topic or an auto-created topic is being set up, a broker is
 * restarting). kafkajs logs them at ERROR and retries them; they are only worth an ERROR when the
 * retries run out, and then the stream itself fails with an `RxmlError` saying so.
 */
const TRANSIENT = [
  /group coordinator is not available/i,
  /not the correct coordinator/i,
  /coordinator is loading/i,
  /does not host this topic-partition/i,
  /leader is not available/i,
  /There is no leader for this topic-partition/i,
  /is not the leader for/i,
  /Restarting the consumer/i,
  /The coordinator is not aware of this member/i,
  /The group is rebalancing/i,
];

/** One line per entry on stderr: `[rxml:kafka] WARN <message> {fields}`. */
export const consoleKafkaLogger: KafkaLogger = {
  error: (message, fields) => console.error(line('ERROR', message, fields)),
  warn: (message, fields) => console.error(line('WARN', message, fields)),
  info: (message, fields) => console.error(line('INFO', message, fields)),
  debug: (message, fields) => console.error(line('DEBUG', message, fields)),
};

function line(level: string, message: string, fields: Readonly<Record<string, unknown>>): string {
  const extra = Object.entries(fields)
    .filter(([key]) => key !== 'timestamp' && key !== 'logger' && key !== 'message' && key !== 'level')
    .map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`)
    .join(' ');
  return `[rxml:kafka] ${level} ${message}${extra === '' ? '' : ` (${extra})`}`;
}

/** A switch that silences a client's logs once the stream using it has ended. */
export interface LogGate {
  closed: boolean;
  /**
   * Sees every entry at ERROR or finer before filtering (the client then logs at least ERROR):
   * for what kafkajs reports only in its log, e.g. an offset reset.
   */
  readonly watch?: (entry: LogEntry) => void;
}

/**
 * kafkajs' `logCreator` routed to `logger`: transient, retried conditions are demoted to DEBUG,
 * entries below `level` are dropped, and nothing is logged once `gate.closed`.
 */
export function kafkaLogCreator(logger: KafkaLogger, level: logLevel, gate: LogGate): logCreator {
  return () =>
    ({ namespace, level: entryLevel, log }: LogEntry) => {
      if (gate.closed) return;
      if (gate.watch !== undefined) {
        try {
          gate.watch({ namespace, level: entryLevel, label: '', log });
        } catch {
          // never affects the client
        }
      }
      const { message, ...fields } = log;
      let effective = entryLevel;
      if ((entryLevel === logLevel.ERROR || entryLevel === logLevel.WARN) && TRANSIENT.some((re) => re.test(message) || re.test(String(fields['error'] ?? '')))) {
        effective = logLevel.DEBUG;
      }
      if (effective > level || effective === logLevel.NOTHING) return;
      const text = namespace === '' ? message : `${namespace}: ${message}`;
      try {
        if (effective === logLevel.ERROR) logger.error(text, fields);
        else if (effective === logLevel.WARN) logger.warn(text, fields);
        else if (effective === logLevel.INFO) logger.info(text, fields);
        else logger.debug(text, fields);
      } catch {
        // a throwing logger never affects the client
      }
    };
}
