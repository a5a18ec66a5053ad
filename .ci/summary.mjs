// Prints vitest's JSON reports as the plain closing line CI reads: `N passed, N failed`.
import { existsSync, readFileSync } from 'node:fs';
import { stripVTControlCharacters } from 'node:util';

const files = process.argv.slice(2);
let passed = 0;
let failed = 0;
let skipped = 0;
/** One line per failed test, printed just above the closing line so a log's tail names them. */
const failures = [];
/** One line per test that passed only on its retry. */
const flaky = [];
const firstLine = (text) => stripVTControlCharacters(String(text ?? '')).split('\n').find((l) => l.trim() !== '')?.slice(0, 400) ?? '(no message)';
for (const file of files.length > 0 ? files : ['test-results/vitest.json']) {
  if (!existsSync(file)) {
    console.log(`${file} missing: the tests did not run (build failed before vitest?)`);
    failed += 1;
    continue;
  }
  const report = JSON.parse(readFileSync(file, 'utf8'));
  // A test file that fails to load has no assertions: count it as one failure.
  // So is one that failed with no failed test (a hook that failed or timed out: its tests are skipped).
  const brokenFiles = report.testResults.filter((s) => s.status === 'failed' && !s.assertionResults.some((t) => t.status === 'failed')).length;
  for (const suite of report.testResults) {
    const failedTests = suite.assertionResults.filter((t) => t.status === 'failed');
    if (suite.status === 'failed' && failedTests.length === 0) {
      failures.push(`${file}: ${suite.name}: did not load or a hook failed: ${firstLine(suite.message)}`);
    }
    // Integration projects run a failed test once more (retry: 1): one that passed only then keeps its first failure's message.
    for (const t of suite.assertionResults.filter((t) => t.status === 'passed' && (t.failureMessages ?? []).length > 0)) {
      flaky.push(`${file}: ${suite.name} > ${t.fullName ?? t.title}: ${firstLine(t.failureMessages.join('\n'))}`);
    }
    for (const t of failedTests) {
      failures.push(`${file}: ${suite.name} > ${t.fullName ?? t.title}: ${firstLine((t.failureMessages ?? []).join('\n'))}`);
    }
  }
  passed += report.numPassedTests;
  failed += report.numFailedTests + brokenFiles;
  skipped += report.numPendingTests + report.numTodoTests;
}
for (const line of flaky) console.log(`FLAKY (passed on its retry) ${line}`);
for (const line of failures) console.log(`FAILED ${line}`);
if (flaky.length > 0) console.log(`${flaky.length} flaky (passed on their retry; counted as passed)`);
// Skipped tests (e.g. a codec this Node lacks) on a line of their own: the last line stays `N passed, N failed`.
if (skipped > 0) console.log(`${skipped} skipped`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 || passed === 0 ? 1 : 0);
