#!/usr/bin/env node
// `npx hodu install xla-cpu`, `npx hodu doctor`: see lib/cli.ts (compiled into dist/cli.js).
'use strict';
require('../dist/cli.js')
  .main(process.argv.slice(2))
  .then((code) => {
    process.exitCode = code;
  });
