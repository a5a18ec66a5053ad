import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const PIPELINE = fileURLToPath(new URL('../fixtures/iris-pipeline.mjs', import.meta.url));

/** A real pipeline process (fixtures/iris-pipeline.mjs) and how many results it has delivered so far. */
export interface PipelineProcess {
  readonly child: ChildProcess;
  /** Results delivered (acked; with exactly-once: committed), as the process last reported. */
  delivered: number;
  /** Exit code (null when killed by a signal). */
  readonly exited: Promise<number | null>;
  /** With `EVENTS=1` in `env`: the source's last 400 events (`<seconds since start> <type> <details>`), for a failure message. */
  readonly events: string[];
}

/** Calls `onLine` with each complete line `stream` writes. */
function eachLine(stream: NodeJS.ReadableStream, onLine: (line: string) => void): void {
  let buffer = '';
  stream.on('data', (chunk: Buffer) => {
    buffer += chunk.toString();
    const lines = buffer.split('\n');
    buffer = lines.pop() ?? '';
    for (const line of lines) onLine(line);
  });
}

/** Starts the Iris pipeline in a child process with `env` (BROKERS, INPUT, OUTPUT, DLQ, GROUP, …). */
export function startPipeline(env: Record<string, string>): PipelineProcess {
  const child = spawn(process.execPath, [PIPELINE], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const run: PipelineProcess = { child, delivered: 0, exited: new Promise((resolve) => child.on('exit', (code) => resolve(code))), events: [] };
  eachLine(child.stdout!, (line) => {
    const m = /^delivered (\d+)$/.exec(line);
    if (m !== null) run.delivered = Number(m[1]);
  });
  eachLine(child.stderr!, (line) => {
    if (line.startsWith('event ')) {
      run.events.push(line.slice('event '.length));
      if (run.events.length > 400) run.events.shift();
    } else process.stderr.write(`[pipeline ${child.pid ?? '?'}] ${line}\n`);
  });
  return run;
}
