// Starts the built dev server (target/debug/wafer-devserver) on a free loopback port for
// a test, and stops it.
'use strict';
const fs = require('fs');
const path = require('path');
const { spawn } = require('child_process');

const ROOT = path.resolve(__dirname, '..', '..', '..');
const BINARY = path.join(ROOT, 'target', 'debug', 'wafer-devserver');

/** Why the dev server cannot run here, or null. */
function devServerMissing() {
  return fs.existsSync(BINARY) ? null : 'target/debug/wafer-devserver is missing: run `cargo build -p wafer-devserver`';
}

/**
 * Starts `wafer-devserver --host 127.0.0.1 --port 0 --quiet ...args` (cwd: the repository).
 * Resolves to { url, process, stderr(), stop() } once it prints its address.
 */
function startDevServer(args = [], { timeout = 10000 } = {}) {
  const child = spawn(BINARY, ['--host', '127.0.0.1', '--port', '0', '--quiet', ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (s) => { stderr += s; });
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));

  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 6000);
    await exited;
    clearTimeout(timer);
  };

  return new Promise((resolve, reject) => {
    let out = '';
    const fail = (why) => {
      clearTimeout(timer);
      stop();
      reject(new Error(`wafer-devserver: ${why}\n${stderr}`));
    };
    const timer = setTimeout(() => fail('no address printed in time'), timeout);
    child.once('error', (e) => fail(e.message));
    exited.then(({ code, signal }) => fail(`exited (${code ?? signal}) before listening`));
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (s) => {
      out += s;
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (!m) return;
      clearTimeout(timer);
      child.stdout.removeAllListeners('data');
      child.stdout.resume();
      resolve({ url: m[1].replace(/\/$/, ''), process: child, stderr: () => stderr, stop });
    });
  });
}

module.exports = { BINARY, devServerMissing, startDevServer };
