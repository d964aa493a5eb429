// A simulated WeChat mini-program runtime for tests: a fresh vm context holding what a
// mini-program has (`wx`, `WXWebAssembly`, timers, `console`, a CommonJS `require`,
// `App`/`Page`/`getApp`) and none of what it lacks (`WebAssembly`, `TextEncoder`,
// `TextDecoder`, `fetch`, `window`, `document`, `eval`, `new Function`).
'use strict';
const fs = require('fs');
const path = require('path');
const vm = require('vm');
const zlib = require('zlib');

/**
 * Creates a runtime whose code package is the folder `root`.
 * Options: `wx` (the wx object pages see), `log` (console to use; default: silent except errors).
 * Returns { context, require(modulePath), app, pages, wasmLoads, dispose() }.
 */
function createMiniProgram(root, options = {}) {
  const timers = new Set();
  const runtime = { app: null, pages: {}, wasmLoads: [], context: null };
  const wx = options.wx || {};
  const log = options.log || { log() {}, info() {}, debug() {}, warn() {}, error: (...a) => console.error('[miniprogram]', ...a) };

  const WXWebAssembly = {
    instantiate(filePath, imports) {
      if (typeof filePath !== 'string') {
        return Promise.reject(new TypeError('WXWebAssembly.instantiate: path must be a string inside the code package'));
      }
      if (!/\.wasm(\.br)?$/.test(filePath) || /^[a-z]+:\/\//i.test(filePath)) {
        return Promise.reject(new Error('WXWebAssembly.instantiate: not a .wasm/.wasm.br package path: ' + filePath));
      }
      const file = path.join(root, filePath.replace(/^\/+/, ''));
      runtime.wasmLoads.push(filePath);
      let bytes;
      try {
        bytes = fs.readFileSync(file);
      } catch (e) {
        return Promise.reject(new Error('WXWebAssembly.instantiate: no such file ' + filePath));
      }
      if (filePath.endsWith('.br')) bytes = zlib.brotliDecompressSync(bytes);
      return WebAssembly.instantiate(bytes, imports);
    },
  };

  const sandbox = {
    wx,
    WXWebAssembly,
    console: log,
    setTimeout: (fn, ms, ...args) => {
      const t = setTimeout(() => { timers.delete(t); fn(...args); }, ms);
      timers.add(t);
      return t;
    },
    clearTimeout: (t) => { timers.delete(t); clearTimeout(t); },
    setInterval: (fn, ms) => { const t = setInterval(fn, ms); timers.add(t); return t; },
    clearInterval: (t) => { timers.delete(t); clearInterval(t); },
    App: (obj) => { runtime.app = obj; },
    Page: (obj) => { runtime.pages[runtime.currentPage] = obj; },
    getApp: () => runtime.app,
  };
  const context = vm.createContext(sandbox, { codeGeneration: { strings: false, wasm: false } });
  // Engine built-ins a mini-program does not have.
  vm.runInContext('delete globalThis.WebAssembly; delete globalThis.SharedArrayBuffer;', context);
  for (const name of ['WebAssembly', 'TextEncoder', 'TextDecoder', 'fetch', 'window', 'document']) {
    if (vm.runInContext(`typeof ${name}`, context) !== 'undefined') throw new Error('simulator leaks ' + name);
  }
  runtime.context = context;

  const cache = new Map();
  function load(file) {
    if (cache.has(file)) return cache.get(file).exports;
    const module = { exports: {} };
    cache.set(file, module);
    const src = fs.readFileSync(file, 'utf8');
    const fn = vm.runInContext(`(function (module, exports, require) {${src}\n})`, context, { filename: file });
    fn(module, module.exports, (p) => load(resolve(path.dirname(file), p)));
    return module.exports;
  }
  function resolve(dir, p) {
    const base = p.startsWith('/') ? path.join(root, p) : path.resolve(dir, p);
    let full = base.endsWith('.js') ? base : base + '.js';
    // A bare name that is no file next to the caller: an npm package built by DevTools'
    // "build npm", looked up in miniprogram_npm/ from the caller's folder up to the root
    // (a package folder loads its index.js).
    if (!p.startsWith('/') && !p.startsWith('.') && !fs.existsSync(full)) full = resolveNpm(dir, p) || full;
    if (!full.startsWith(path.resolve(root) + path.sep)) throw new Error('require outside the code package: ' + p);
    return full;
  }
  function resolveNpm(dir, p) {
    for (let d = path.resolve(dir); ; d = path.dirname(d)) {
      const base = path.join(d, 'miniprogram_npm', p);
      for (const f of [base.endsWith('.js') ? base : base + '.js', path.join(base, 'index.js')]) {
        if (fs.existsSync(f) && fs.statSync(f).isFile()) return f;
      }
      if (d === path.resolve(root) || d === path.dirname(d)) return null;
    }
  }

  runtime.require = (p) => load(resolve(root, p));
  /** Loads a page's code and returns its Page() object. */
  runtime.loadPage = (route) => {
    runtime.currentPage = route;
    runtime.require('/' + route + '.js');
    return runtime.pages[route];
  };
  runtime.dispose = () => {
    for (const t of timers) clearTimeout(t);
    timers.clear();
  };
  return runtime;
}

module.exports = { createMiniProgram };
