/**
 * Runs one suite in this process (the tfjs backend is per process, so run.ts starts one child per
 * backend) and prints its result as JSON on the last line of stdout.
 * Usage: node dist/suite.js <suite> [--quick]   (RXML_BACKEND selects the backend)
 */
import { SUITES, type SuiteName } from './suites/index.js';

const name = process.argv[2] as SuiteName;
const quick = process.argv.includes('--quick');
const suite = SUITES[name];
if (suite === undefined) {
  console.error(`unknown suite ${name}; one of ${Object.keys(SUITES).join(', ')}`);
  process.exit(2);
}
const result = await suite(quick);
process.stdout.write(`\n${JSON.stringify(result)}\n`);
process.exit(0);
