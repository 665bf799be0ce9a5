#!/usr/bin/env node
// `npx hodu install xla-cpu`, `npx hodu doctor`: see lib/cli.ts (compiled into dist/cli.js).
'use strict';
let cli;
try {
  cli = require('../dist/cli.js');
} catch (e) {
  if (e && e.code === 'MODULE_NOT_FOUND' && String(e.message).includes('dist/cli.js')) {
    process.stderr.write('hodu: dist/cli.js is missing; in a clone of hodu, run `npm run build` first\n');
    process.exit(1);
  }
  throw e;
}
cli.main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
