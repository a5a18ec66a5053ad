#!/usr/bin/env node
/**
 * What `pnpm test` needs beyond the workspace, installed when missing so the README's test command
 * works on a fresh machine: Debian's chromium for the demo's live-page test (playwright-core drives
 * it; its own browser download cannot work here). Installs only as root (apt-get); otherwise says
 * what to install. The model servers' venv is set up by the remote tests' own setup.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const chromium = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
if (!existsSync(chromium)) {
  if (typeof process.getuid === 'function' && process.getuid() === 0) {
    console.log('[test-prereqs] installing Debian chromium for the live-page test (apt-get, about a minute)');
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
    execFileSync('apt-get', ['install', '-y', '-qq', 'chromium'], { stdio: ['ignore', 'ignore', 'inherit'], env });
  } else {
    console.error(`[test-prereqs] ${chromium} not found: the live-page test will fail; install it with: sudo apt-get install -y chromium (or set CHROMIUM_PATH)`);
  }
}
