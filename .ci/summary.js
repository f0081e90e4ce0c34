// Prints jest's counts as the plain closing line `N passed, N failed, N skipped`.
const r = require(require('node:path').resolve(process.argv[2]));
console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests + (r.numTodoTests || 0)} skipped`);
