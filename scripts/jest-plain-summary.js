// Prints the plain closing line CI reads: "N passed, N failed" (with ", N skipped" when any).
class PlainSummary {
  onRunComplete(_contexts, r) {
    const failed = r.numFailedTests + (r.numRuntimeErrorTestSuites || 0);
    const skipped = r.numPendingTests + (r.numTodoTests || 0);
    process.stderr.write(`\n${r.numPassedTests} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}\n`);
  }
}
module.exports = PlainSummary;
