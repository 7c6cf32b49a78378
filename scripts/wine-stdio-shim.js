'use strict';
// Preloaded into Windows node.exe under Wine (node.exe -r scripts/wine-stdio-shim.js ...).
//
// Under Wine 8, node.exe dies with "open EBADF at new Socket" the first time it touches
// process.stdout, stderr or stdin when that handle is a pipe (files and terminals work): libuv
// takes the pipe for a named pipe and Wine's emulation refuses it. These replacements do plain
// blocking fs.writeSync/fs.readSync on the same descriptors instead, which Wine handles, so
// console.log, mocha's reporters and child output through a pipe all work. It must run before
// anything reads process.stdout, which is why it is a preload.
const fs = require('fs');
const { Readable, Writable } = require('stream');

function writeAll(fd, chunk) {
  let offset = 0;
  while (offset < chunk.length) {
    try {
      offset += fs.writeSync(fd, chunk, offset, chunk.length - offset);
    } catch (error) {
      if (error.code !== 'EAGAIN') throw error;
    }
  }
}

function makeWritable(fd) {
  const stream = new Writable({
    decodeStrings: true,
    write(chunk, _encoding, callback) {
      try {
        writeAll(fd, chunk);
        callback();
      } catch (error) {
        callback(error);
      }
    },
  });
  stream.fd = fd;
  stream.isTTY = false;
  stream._type = 'fs';
  stream._isStdio = true;
  // process.stdout.end() and destroy() must not close the descriptor, as for the real ones.
  stream.destroySoon = stream.destroy;
  stream._destroy = (error, callback) => callback(error);
  return stream;
}

function makeReadable(fd) {
  const stream = new Readable({
    read(size) {
      const buffer = Buffer.alloc(Math.max(size, 4096));
      let count = 0;
      try {
        count = fs.readSync(fd, buffer, 0, buffer.length, null);
      } catch (error) {
        if (error.code !== 'EOF') {
          this.destroy(error);
          return;
        }
      }
      this.push(count > 0 ? buffer.subarray(0, count) : null);
    },
  });
  stream.fd = fd;
  stream.isTTY = false;
  return stream;
}

// A worker thread inherits the preload, but its stdio are message ports to the parent, not
// descriptors: replacing them there would break Node's own plumbing.
const inWorker = !require('worker_threads').isMainThread;
const streams = {};
const factories = { stdin: () => makeReadable(0), stdout: () => makeWritable(1), stderr: () => makeWritable(2) };
for (const name of inWorker ? [] : Object.keys(factories)) {
  Object.defineProperty(process, name, {
    configurable: true,
    enumerable: true,
    get() {
      if (!streams[name]) streams[name] = factories[name]();
      return streams[name];
    },
  });
}
