#!/usr/bin/env node
// The `rxml-kafka` command. A committed file (not dist/cli.js) so pnpm can link it before the
// workspace is built; it loads the built CLI.
await import('../dist/cli.js');
