// Mocha reporter: the spec reporter's output, then one final line `N passed, N failed` that CI reads.
'use strict';
const Mocha = require('mocha');
const { Spec } = Mocha.reporters;
const { EVENT_RUN_END, EVENT_TEST_FAIL, EVENT_TEST_PASS, EVENT_HOOK_END } = Mocha.Runner.constants;

class FerryReporter extends Spec {
  constructor(runner, options) {
    super(runner, options);
    let passed = 0;
    let failed = 0;
    runner.on(EVENT_TEST_PASS, () => passed++);
    // A failing hook fails the tests it guards: count it, so a broken fixture never reads as green.
    runner.on(EVENT_TEST_FAIL, () => failed++);
    runner.once(EVENT_RUN_END, () => {
      process.stdout.write(`\n${passed} passed, ${failed} failed\n`);
    });
    void EVENT_HOOK_END;
  }
}
module.exports = FerryReporter;
