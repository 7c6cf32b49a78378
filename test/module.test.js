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

describe('when the addon cannot load', function () {
  it('says which platform was looked for, where, and how to build from source', function () {
    const { load } = require('../dist/native');
    const empty = require('fs').mkdtempSync(require('path').join(require('os').tmpdir(), 'sendmsg-none-'));
    assert.throws(() => load(empty), (error) => {
      assert.strictEqual(error.code, 'ERR_SENDMSG_ADDON_NOT_FOUND');
      assert.ok(error.message.includes(`${process.platform}-${process.arch}`), error.message);
      assert.ok(error.message.includes(require('path').join(empty, 'prebuilds')), 'where it looked');
      assert.ok(error.message.includes('npm rebuild sendmsg'), 'how to build from source');
      assert.ok(error.cause, 'the cause is kept');
      return true;
    });
  });
});
