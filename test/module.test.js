// The package entry points: require() and import give the same API.
const path = require('path');
const { pathToFileURL } = require('url');
const { assert } = require('./helpers');

describe('entry points', function () {
  it('import and require give the same objects', async function () {
    const required = require('..');
    const imported = await import(pathToFileURL(path.join(__dirname, '..', 'esm', 'index.mjs')).href);
    for (const name of ['createSocket', 'sendmsg', 'Socket', 'backend']) {
      assert.strictEqual(imported[name], required[name], name);
    }
    assert.strictEqual(imported.default, required);
    const self = await import('sendmsg');
    assert.strictEqual(self.createSocket, required.createSocket, 'the package resolves itself by name through "exports"');
  });
});
