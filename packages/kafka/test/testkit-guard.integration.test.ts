import { spawn } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';

/** Whether something accepts TCP connections on host:port. */
function listening(address: string): Promise<boolean> {
  const [host, port] = [address.slice(0, address.lastIndexOf(':')), Number(address.slice(address.lastIndexOf(':') + 1))];
  return new Promise((resolve) => {
    const socket = connect({ host, port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });
}

// An app that started its own broker (the examples, the demo): the broker must outlive a Ctrl-C to
// the app's process group, so the app can drain and commit, and must not outlive the app itself.
const APP = `
import { startKafka } from '@rxml/kafka-testkit';
const kafka = await startKafka({ ignoreEnv: true });
process.on('SIGINT', () => console.log('sigint'));
console.log(JSON.stringify({ brokers: kafka.brokers, logFile: kafka.logFile }));
setInterval(() => undefined, 1000);
`;

describe.skipIf(process.env['KAFKA_BROKERS'] !== undefined && process.env['KAFKA_BROKERS'] !== '')('the testkit broker and the app that started it', () => {
  it('keeps the broker through a Ctrl-C to the app\'s process group, and stops it when the app is killed', async () => {
    // Its own process group, like a terminal's foreground job.
    const app = spawn(process.execPath, ['--input-type=module', '-e', APP], {
      cwd: fileURLToPath(new URL('..', import.meta.url)),
      detached: true,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const lines = createInterface({ input: app.stdout });
    const iterator = lines[Symbol.asyncIterator]();
    let logFile: string | undefined;
    try {
      const first = await iterator.next();
      const started = JSON.parse(String(first.value)) as { brokers: string[]; logFile: string };
      logFile = started.logFile;
      const broker = started.brokers[0]!;
      expect(await listening(broker)).toBe(true);

      process.kill(-app.pid!, 'SIGINT');
      expect((await iterator.next()).value).toBe('sigint');
      // A JVM that got the SIGINT shuts down within ~2 s; give it 4.
      await new Promise((r) => setTimeout(r, 4_000));
      expect(await listening(broker)).toBe(true);

      process.kill(app.pid!, 'SIGKILL');
      const deadline = Date.now() + 60_000;
      while ((await listening(broker)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
      expect(await listening(broker)).toBe(false);
    } finally {
      lines.close();
      if (app.exitCode === null && app.signalCode === null) app.kill('SIGKILL');
      if (logFile !== undefined) await rm(dirname(logFile), { recursive: true, force: true });
    }
  }, 120_000);
});
