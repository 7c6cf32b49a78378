// Mocha root hooks: after the run, say which assertions were changed for the platform
// (under Wine) and which tests skipped, with their reasons.
const { platform } = require('./helpers');

exports.mochaHooks = {
  afterAll() {
    platform.report();
  },
};
