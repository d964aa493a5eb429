#!/usr/bin/env node
// Benchmarks, side by side in one Node process: this SDK (pkg/, wasm) against the
// original JS SDK (npm wafer-client-sdk 0.8.4, the last qcloud-weapp-client-sdk) and a
// bare `JSON.parse` + callback loop over the same frames. Prints a Markdown report.
//   node --expose-gc bench/run.js [--quick]
'use strict';
const fs = require('fs');
const path = require('path');
const zlib = require('zlib');

const ROOT = path.resolve(__dirname, '..');
const QUICK = process.argv.includes('--quick');
const MAGIC = 'F2C224D4-2BCE-4C64-AF9F-A6D872000D1A';
const SESSION_KEY = 'weapp_session_' + MAGIC;

// ------------------------------------------------------------------ fake wx
function MAKE_WX() {
  const storage = new Map();
  const st = { handlers: {}, task: null, requestAnswer: null, sharedReads: false, parsed: new Map() };
  const wx = {
    // Like the real storage, values are kept serialized: a read returns a fresh copy
    // (`st.sharedReads` hands out one parsed object instead, the bare SDK cost).
    getStorageSync: (k) => {
      if (!storage.has(k)) return '';
      if (!st.sharedReads) return JSON.parse(storage.get(k));
      if (!st.parsed.has(k)) st.parsed.set(k, JSON.parse(storage.get(k)));
      return st.parsed.get(k);
    },
    setStorageSync: (k, v) => storage.set(k, JSON.stringify(v)),
    removeStorageSync: (k) => storage.delete(k),
    checkSession: (o) => o.success({}),
    login: (o) => o.success({ code: 'c' }),
    getUserInfo: (o) => o.success({ userInfo: { nickName: 'u' }, encryptedData: 'e', iv: 'i' }),
    // Answers synchronously: the benchmark measures the SDK's own cost.
    request: (o) => o.success(st.requestAnswer ? st.requestAnswer(o) : { statusCode: 200, data: { ok: 1 }, header: {} }),
    // Original SDK: global socket API.
    onSocketOpen: (f) => { st.handlers.open = f; },
    onSocketClose: (f) => { st.handlers.close = f; },
    onSocketMessage: (f) => { st.handlers.message = f; },
    onSocketError: (f) => { st.handlers.error = f; },
    sendSocketMessage: () => {},
    closeSocket: () => {},
    // This SDK: one SocketTask per connection.
    connectSocket: () => {
      const h = {};
      st.task = {
        onOpen: (f) => { h.open = f; }, onMessage: (f) => { h.message = f; },
        onClose: (f) => { h.close = f; }, onError: (f) => { h.error = f; },
        send: () => {}, close: () => {}, h,
      };
      return st.task;
    },
  };
  storage.set(SESSION_KEY, JSON.stringify({ id: 'sid', skey: 'skey', userInfo: { nickName: 'u' } }));
  return { wx, st, storage };
}


/** A fresh compiled copy of the fake wx factory. */
function makeWxFactory() {
  return require('vm').runInThisContext('(function (SESSION_KEY) { return ' + MAKE_WX.toString() + '; })')(SESSION_KEY);
}
// ------------------------------------------------------------------ frames
function frames(n) {
  const out = [];
  for (let i = 0; i < n; i++) {
    out.push('message:' + JSON.stringify({
      type: 'speak',
      content: { who: { nickName: 'user' + (i % 50), avatarUrl: 'https://example.com/a/' + (i % 50) + '.png' }, word: 'hello: message number ' + i },
    }));
  }
  return out;
}
const FRAMES = frames(1000);

// ------------------------------------------------------------------ timing
/** Seconds `run(n)` takes. */
function time(run, n) {
  const t0 = process.hrtime.bigint();
  run(n);
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

/**
 * Rates (ops/s) of several contenders on the same work: after a warm-up, the rounds
 * interleave the contenders (so drift in machine load hits all alike) and each rate is
 * the median of its rounds.
 */
function race(contenders, n) {
  const names = Object.keys(contenders);
  for (const k of names) contenders[k](Math.min(n, 20000));
  const rounds = QUICK ? 5 : 11;
  const samples = Object.fromEntries(names.map((k) => [k, []]));
  for (let r = 0; r < rounds; r++) {
    for (const k of (r % 2 ? names.slice().reverse() : names)) samples[k].push(n / time(contenders[k], n));
  }
  const median = (xs) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  return Object.fromEntries(names.map((k) => [k, median(samples[k])]));
}

// ------------------------------------------------------------------ the two SDKs
// The two loaders repeat their loops on purpose: shared loop code would make its call
// sites polymorphic across both SDKs and slow each down by the other's presence.
async function loadOurs() {
  const { wx, st } = makeWxFactory()();
  const qcloud = require(path.join(ROOT, 'pkg', 'index.js'));
  qcloud.init({ wx });
  await qcloud.ready;
  qcloud.setLoginUrl('https://example.com/login');
  st.requestAnswer = (o) => (o.url.endsWith('/tunnel')
    ? { statusCode: 200, data: { url: 'wss://example.com/ws' }, header: {} }
    : { statusCode: 200, data: { ok: 1 }, header: {} });
  const tunnel = new qcloud.Tunnel('https://example.com/tunnel');
  let received = 0;
  tunnel.on('speak', () => { received++; });
  tunnel.open();
  await new Promise((r) => setTimeout(r, 10));
  st.task.h.open();
  if (tunnel.status !== 'ACTIVE') throw new Error('ours: tunnel not active: ' + tunnel.status);
  const deliver = st.task.h.message;
  return {
    name: 'this SDK (wasm)',
    qcloud,
    st,
    close: () => tunnel.close(),
    inbound: (n) => { for (let i = 0; i < n; i++) deliver({ data: FRAMES[i % FRAMES.length] }); },
    emit: (n) => { for (let i = 0; i < n; i++) tunnel.emit('speak', { word: 'hello', n: i }); },
    tunnelEmit: (type, content) => tunnel.emit(type, content),
    request: (n) => {
      let done = 0;
      for (let i = 0; i < n; i++) qcloud.request({ url: 'https://example.com/api', success: () => { done++; } });
      if (done !== n) throw new Error('ours: requests not all done: ' + done);
    },
    received: () => received,
    // The resume extension active (docs/RESUME.md): the tunnel reopened, its new stream
    // answered with a token; the fake service acknowledges every 32 messages as
    // wafer-services does. Replaces the socket the other loops deliver to.
    resumable: async () => {
      tunnel.close();
      tunnel.open();
      await new Promise((r) => setTimeout(r, 10));
      const h = st.task.h;
      h.open();
      h.message({ data: 'resume-token:30:bench' });
      if (tunnel.status !== 'ACTIVE') throw new Error('ours: tunnel not active again: ' + tunnel.status);
      let sent = 0;
      return {
        inbound: (n) => { for (let i = 0; i < n; i++) h.message({ data: FRAMES[i % FRAMES.length] }); },
        emit: (n) => {
          for (let i = 0; i < n; i++) {
            tunnel.emit('speak', { word: 'hello', n: i });
            if (++sent % 32 === 0) h.message({ data: 'ack:' + sent });
          }
        },
      };
    },
  };
}

async function loadOriginal() {
  const { wx, st } = makeWxFactory()();
  global.wx = wx;
  const qcloud = require('wafer-client-sdk');
  qcloud.setLoginUrl('https://example.com/login');
  st.requestAnswer = (o) => (o.url.endsWith('/tunnel')
    ? { statusCode: 200, data: { url: 'wss://example.com/ws' }, header: {} }
    : { statusCode: 200, data: { ok: 1 }, header: {} });
  const tunnel = new qcloud.Tunnel('https://example.com/tunnel');
  let received = 0;
  tunnel.on('speak', () => { received++; });
  tunnel.open();
  st.handlers.open();
  if (tunnel.status !== 'ACTIVE') throw new Error('original: tunnel not active: ' + tunnel.status);
  const deliver = st.handlers.message;
  return {
    name: 'original JS SDK 0.8.4',
    st,
    close: () => tunnel.close(),
    inbound: (n) => { for (let i = 0; i < n; i++) deliver({ data: FRAMES[i % FRAMES.length] }); },
    emit: (n) => { for (let i = 0; i < n; i++) tunnel.emit('speak', { word: 'hello', n: i }); },
    tunnelEmit: (type, content) => tunnel.emit(type, content),
    request: (n) => {
      let done = 0;
      for (let i = 0; i < n; i++) qcloud.request({ url: 'https://example.com/api', success: () => { done++; } });
      if (done !== n) throw new Error('original: requests not all done: ' + done);
    },
    received: () => received,
  };
}

function baseline() {
  let received = 0;
  const cb = (type, content) => { if (type === 'speak' && content) received++; };
  return (n) => {
    for (let i = 0; i < n; i++) {
      const f = FRAMES[i % FRAMES.length];
      const m = JSON.parse(f.slice(f.indexOf(':') + 1));
      cb(m.type, m.content);
    }
    return received;
  };
}

/**
 * Cold start: milliseconds from `require` to ready (ours: `qcloud.ready` resolved; the
 * original is ready when `require` returns), each in a fresh Node process so nothing is
 * cached. Median of `runs`.
 */
function coldStart(runs) {
  const { execFileSync } = require('child_process');
  const ours = `const t0 = process.hrtime.bigint();
    const q = require(${JSON.stringify(path.join(ROOT, 'pkg', 'index.js'))});
    q.init({ wx: {} });
    q.ready.then(() => console.log(Number(process.hrtime.bigint() - t0) / 1e6));`;
  const orig = `const f = () => {};
    global.wx = { onSocketOpen: f, onSocketClose: f, onSocketMessage: f, onSocketError: f };
    const t0 = process.hrtime.bigint();
    require('wafer-client-sdk');
    console.log(Number(process.hrtime.bigint() - t0) / 1e6);`;
  const one = (src) => Number(execFileSync(process.execPath, ['-e', src], { cwd: ROOT, encoding: 'utf8' }).trim());
  const median = (xs) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const a = [];
  const b = [];
  for (let i = 0; i < runs; i++) {
    a.push(one(ours));
    b.push(one(orig));
  }
  return { ours: median(a), orig: median(b) };
}

async function main() {
  const N = QUICK ? 50000 : 200000;
  const ours = await loadOurs();
  const orig = await loadOriginal();
  const inbound = race({ base: baseline(), ours: ours.inbound, orig: orig.inbound }, N);
  if (ours.received() === 0 || orig.received() === 0) throw new Error('listeners not reached');
  const emit = race({ ours: ours.emit, orig: orig.emit }, N);
  const RN = QUICK ? 20000 : 50000;
  const req = race({ ours: ours.request, orig: orig.request }, RN);
  ours.st.sharedReads = orig.st.sharedReads = true;
  const reqShared = race({ ours: ours.request, orig: orig.request }, RN);
  const emitSizes = {};
  for (const size of [100, 4096, 65536]) {
    const content = { word: 'x'.repeat(size - 30) };
    const n = Math.max(2000, Math.floor((QUICK ? 2e6 : 8e6) / size));
    emitSizes[size] = race({
      ours: (k) => { for (let i = 0; i < k; i++) ours.tunnelEmit('speak', content); },
      orig: (k) => { for (let i = 0; i < k; i++) orig.tunnelEmit('speak', content); },
    }, n);
  }
  const cold = coldStart(QUICK ? 5 : 15);
  const base = inbound.base, inboundOurs = inbound.ours, inboundOrig = inbound.orig;
  const emitOurs = emit.ours, emitOrig = emit.orig, reqOurs = req.ours, reqOrig = req.orig;
  const rows = [];
  const k = (x) => (x / 1000).toFixed(0) + 'k/s';
  const pct = (x) => (100 * x).toFixed(0) + '%';
  rows.push(['inbound messages dispatched', k(inboundOurs) + ' (' + pct(inboundOurs / base) + ' of bare)',
    k(inboundOrig) + ' (' + pct(inboundOrig / base) + ' of bare)', k(base) + ' bare JSON.parse + callback']);
  rows.push(['emit', k(emitOurs), k(emitOrig), (emitOurs / emitOrig).toFixed(2) + '× the original']);
  for (const size of Object.keys(emitSizes)) {
    const e = emitSizes[size];
    rows.push([`emit of a ${size >= 1024 ? size / 1024 + ' KB' : size + ' B'} message`, k(e.ours), k(e.orig), (e.ours / e.orig).toFixed(2) + '× the original']);
  }
  rows.push(['cold start (require → ready, fresh process)', cold.ours.toFixed(1) + ' ms', cold.orig.toFixed(1) + ' ms', (cold.ours / cold.orig).toFixed(2) + '× the original']);
  rows.push(['request (session headers, sync fake wx, storage reads copy as in wx)', k(reqOurs), k(reqOrig), (reqOurs / reqOrig).toFixed(2) + '× the original']);
  rows.push(['request, storage reads free (the SDKs\' bare cost)', k(reqShared.ours), k(reqShared.orig), (reqShared.ours / reqShared.orig).toFixed(2) + '× the original']);

  // Memory: a million inbound messages (and a tenth as many emits) through this SDK;
  // the JS heap after GC and the wasm linear memory.
  const M = QUICK ? 200000 : 1000000;
  const mem = [];
  const snapshot = () => {
    global.gc && global.gc();
    const m = process.memoryUsage();
    const inst = require(path.join(ROOT, 'pkg', 'lib', 'host.js')).state.instance;
    return { heap: m.heapUsed / 1048576, wasm: inst.exports.memory.buffer.byteLength / 1048576 };
  };
  mem.push(snapshot());
  for (let i = 1; i <= 4; i++) {
    ours.inbound(M / 4);
    ours.emit(M / 40);
    mem.push(snapshot());
  }
  // The resume extension active: inbound messages counted (an ack every 32), emits kept
  // until acknowledged; against the same loops of the original (which has no extension).
  const resumable = await ours.resumable();
  const received = ours.received();
  const rInbound = race({ base: baseline(), ours: resumable.inbound, orig: orig.inbound }, N);
  if (ours.received() === received) throw new Error('resume: listeners not reached');
  const rEmit = race({ ours: resumable.emit, orig: orig.emit }, N);
  rows.push(['inbound, resume extension active (counted, an ack every 32)', k(rInbound.ours) + ' (' + pct(rInbound.ours / rInbound.base) + ' of bare)',
    k(rInbound.orig) + ' (' + pct(rInbound.orig / rInbound.base) + ' of bare)', k(rInbound.base) + ' bare JSON.parse + callback']);
  rows.push(['emit, resume extension active (kept until acknowledged)', k(rEmit.ours), k(rEmit.orig), (rEmit.ours / rEmit.orig).toFixed(2) + '× the original']);
  const wasmFile = path.join(ROOT, 'pkg', 'lib', 'qcloud.wasm');
  const raw = fs.readFileSync(wasmFile);
  const gz = zlib.gzipSync(raw, { level: 9 }).length;
  const br = zlib.brotliCompressSync(raw, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 11 } }).length;
  const origSize = ['index.js', 'lib/constants.js', 'lib/login.js', 'lib/request.js', 'lib/session.js', 'lib/tunnel.js', 'lib/utils.js', 'lib/wxTunnel.js']
    .reduce((s, f) => s + fs.statSync(path.join(ROOT, 'node_modules', 'wafer-client-sdk', f)).size, 0);

  const out = [];
  out.push(`Node ${process.version}, ${require('os').cpus().length} cores (${require('os').cpus()[0].model.trim()}), ${QUICK ? 'quick' : 'full'} run, ${N} operations a round, rounds interleaved, median of rounds.`);
  out.push('');
  out.push('| measure | this SDK (wasm) | original JS SDK 0.8.4 | reference |');
  out.push('|---|---|---|---|');
  for (const r of rows) out.push('| ' + r.join(' | ') + ' |');
  out.push('');
  out.push(`Memory while ${M.toLocaleString('en')} inbound messages (and ${(M / 10).toLocaleString('en')} emits) go through this SDK, at the start and after every quarter:`);
  out.push('');
  out.push('- JS heap after GC: ' + mem.map((m) => m.heap.toFixed(2) + ' MB').join(' → '));
  out.push('- wasm linear memory: ' + mem.map((m) => m.wasm.toFixed(2) + ' MB').join(' → '));
  out.push('');
  out.push(`wasm module: ${raw.length.toLocaleString('en')} B raw, ${gz.toLocaleString('en')} B gzip -9, ${br.toLocaleString('en')} B brotli -q 11` +
    ` (targets: ≤ 100 KB raw, ≤ 40 KB brotli). The original SDK's JS: ${origSize.toLocaleString('en')} B.`);
  console.log(out.join('\n'));
  // Close what the run opened (heartbeat timers), and end.
  ours.close();
  orig.close();
  process.exit(0);
}

main().catch((e) => { console.error(e); process.exit(1); });
