import { spawn } from 'node:child_process';

/**
 * Runs a fixture script in its own Node process and measures, from outside, how long the process
 * lives after its stdout first matches `marker` (e.g. the stream's error line): the test of "nothing
 * is left running". Killed after `giveUpMs` (no marker, or a hang), and 30 s after the marker (the
 * caller's assertion then fails on the time). `match` is the marker's first capture group, if any.
 */
export function lifeAfterMarker(
  script: string,
  env: Readonly<Record<string, string>>,
  marker: RegExp,
  giveUpMs = 60_000,
): Promise<{ match: string | undefined; afterMs: number | undefined; code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let match: string | undefined;
    let markedAt: number | undefined;
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (markedAt !== undefined) return;
      const m = marker.exec(stdout);
      if (m !== null) {
        markedAt = Date.now();
        match = m[1];
      }
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const killer = setTimeout(() => child.kill('SIGKILL'), giveUpMs);
    const hang = setInterval(() => {
      if (markedAt !== undefined && Date.now() - markedAt > 30_000) child.kill('SIGKILL');
    }, 500);
    child.on('error', reject);
    child.on('exit', (code) => {
      const exitAt = Date.now();
      clearTimeout(killer);
      clearInterval(hang);
      resolve({ match, afterMs: markedAt === undefined ? undefined : exitAt - markedAt, code, stdout, stderr });
    });
  });
}
