#!/usr/bin/env node
/**
 * `rxml-kafka`: starts a single-node Kafka broker, prints `KAFKA_BROKERS=<bootstrap>` on one line
 * and keeps it running until SIGINT/SIGTERM. Useful for the examples and the demo:
 *
 *   node packages/kafka-testkit/dist/cli.js &   # prints KAFKA_BROKERS=127.0.0.1:PORT
 */
import { startKafka } from './broker.js';

const partitionsArg = process.argv.find((a) => a.startsWith('--partitions='));
const started = Date.now();
const kafka = await startKafka({
  ignoreEnv: true,
  ...(partitionsArg === undefined ? {} : { defaultPartitions: Number(partitionsArg.split('=')[1]) }),
});
process.stdout.write(`KAFKA_BROKERS=${kafka.brokers.join(',')}\n`);
process.stderr.write(`broker started in ${Date.now() - started} ms; log: ${kafka.logFile ?? '-'}\n`);

let stopping = false;
const stop = (): void => {
  if (stopping) return;
  stopping = true;
  void kafka.stop().then(() => process.exit(0));
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
// Keeps the event loop alive: the broker child is unref'd so tests are never held open by it.
setInterval(() => undefined, 1 << 30);
