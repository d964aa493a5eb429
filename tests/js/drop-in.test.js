// Drop-in check: the same scenarios run against the ORIGINAL SDK (npm `wafer-client-sdk`
// 0.8.4, node_modules/wafer-client-sdk) and against OUR package (pkg/, bower-installed), each
// in the simulated mini-program runtime with the same fake `wx` (fresh per run) and the same
// virtual clock. Each run records a trace of what a page or a server can observe: wx calls
// (urls, methods, headers, data), storage writes, callbacks with their values and error
// types, tunnel events in order with their payloads, socket connects/frames/closes, statuses,
// and the virtual time of each. The traces must be equal, except for the differences listed
// in FIXES below (each names the docs/PROTOCOL.md §8 item or README line that documents it); each
// listed difference must really show up, so a stale entry fails too.
//
// A test that fails today is skipped unless DROPIN_ALL=1 (`failsToday(why)`); drop its skip
// when ours is fixed. DROPIN_TRACE=1 prints both traces of every scenario; DROPIN_PKG=<dir>
// tests another build of the package than pkg/.
'use strict';
const { test, describe, before, after } = require('node:test');
const assert = require('node:assert/strict');
const path = require('path');
const util = require('util');
const vm = require('vm');
const { createMiniProgram } = require('./sim/miniprogram');
const { ROOT, bowerInstall, remove } = require('./sim/install');
const { SDK, MAGIC, SESSION_KEY } = require('./sim/sdk');

const ORIGINAL_DIR = path.join(ROOT, 'node_modules', 'wafer-client-sdk');
const WAFER2_DIR = path.join(ROOT, 'node_modules', 'wafer2-client-sdk');
const ALL = !!process.env.DROPIN_ALL;
const SHOW = !!process.env.DROPIN_TRACE;
/** Skip reason for a test that fails today (run with DROPIN_ALL=1). */
const failsToday = (why) => (ALL ? false : 'fails today (DROPIN_ALL=1 runs it): ' + why);

const LOGIN_URL = 'https://example.com/login';
const API_URL = 'https://example.com/api';
const TUNNEL_URL = 'https://example.com/tunnel';
const USER = { nickName: '测试用户', avatarUrl: 'https://a/1.png' };
const wsUrl = (n) => 'wss://ws.example.com/tunnel/' + n;
const v1Session = (n) => ({ [MAGIC]: 1, session: { id: 'id-' + n, skey: 'skey-' + n } });
const invalidSession = { [MAGIC]: 1, error: 'ERR_INVALID_SESSION', message: '会话已过期' };

let oursDir;
/** The package under test: pkg/ (DROPIN_PKG=<dir> tests another build). */
before(() => { oursDir = bowerInstall(process.env.DROPIN_PKG || path.join(ROOT, 'pkg')); });
after(() => remove(oursDir));

// ------------------------------------------------------------------ formatting

/** A value as a page sees it, as text: errors (also nested) by class, type, message and detail. */
function show(v, q) {
  return typeof v === 'string' ? JSON.stringify(v) : v === undefined ? 'undefined' : JSON.stringify(plainify(v, q));
}

function isError(v) {
  return v instanceof Error || Object.prototype.toString.call(v) === '[object Error]' ||
    (v && typeof v === 'object' && typeof v.message === 'string' && 'type' in v && typeof v.constructor === 'function' &&
      /Error$/.test(v.constructor.name || ''));
}

function plainify(v, q, seen = new Set()) {
  if (v === undefined) return '(undefined)';
  if (typeof v === 'function') return '(function)';
  if (v === null || typeof v !== 'object') return v;
  if (seen.has(v)) return '(cycle)';
  seen.add(v);
  if (isError(v)) {
    const cls = q && v instanceof q.LoginError ? 'LoginError' : q && v instanceof q.RequestError ? 'RequestError' : 'Error';
    const out = { error: `${cls}(${v.type}): ${v.message}` };
    if (v.detail !== undefined) out.detail = plainify(v.detail, q, seen);
    if (v.errMsg !== undefined) out.errMsg = v.detail && v.errMsg === v.detail.errMsg ? '(= detail.errMsg)' : v.errMsg;
    return out;
  }
  if (Array.isArray(v)) return v.map((x) => plainify(x, q, seen));
  const out = {};
  for (const k of Object.keys(v).sort()) out[k] = plainify(v[k], q, seen);
  return out;
}

// ------------------------------------------------------------------ virtual clock

/** setTimeout/setInterval/Date.now on a virtual clock that moves only in advance(). */
function createClock() {
  const BASE = 1_700_000_000_000;
  let now = BASE;
  let seq = 0;
  const timers = new Map();
  const clock = {
    base: BASE,
    now: () => now,
    elapsed: () => now - BASE,
    setTimeout(fn, ms, ...args) {
      const id = ++seq;
      timers.set(id, { at: now + Math.max(0, Number(ms) || 0), seq: id, fn, args });
      return id;
    },
    clearTimeout(id) { timers.delete(id); },
    setInterval(fn, ms, ...args) {
      const id = ++seq;
      timers.set(id, { at: now + Math.max(1, Number(ms) || 0), seq: id, fn, args, every: Math.max(1, Number(ms) || 0) });
      return id;
    },
    /** The next timer due at or before `limit`, or null. */
    next(limit) {
      let best = null;
      for (const [id, t] of timers) {
        if (t.at <= limit && (!best || t.at < best.t.at || (t.at === best.t.at && t.seq < best.t.seq))) best = { id, t };
      }
      return best;
    },
    run({ id, t }) {
      now = Math.max(now, t.at);
      if (t.every) {
        t.at = now + t.every;
        t.seq = ++seq;
      } else {
        timers.delete(id);
      }
      t.fn(...t.args);
    },
    set(value) { now = value; },
    clear() { timers.clear(); },
  };
  clock.clearInterval = clock.clearTimeout;
  return clock;
}

/** Every microtask (in the vm context too) runs before this resolves. */
const drain = () => new Promise((resolve) => setImmediate(resolve));

// ------------------------------------------------------------------ the fake wx

/**
 * A fake wx shared in shape by both SDKs: the wx.request / login / storage API, and sockets
 * through both the SocketTask API (ours) and the global wx.*Socket* API (the original), on
 * the virtual clock. `world.server` answers: login(), getUserInfo(), checkSession(),
 * request(o) (a response, {fail}, or 'hang'), autoOpen, pong.
 */
function createWorld() {
  const clock = createClock();
  const trace = [];
  const world = { clock, trace, storage: new Map(), sockets: [], q: null };
  const rec = (...parts) => trace.push(`${String(clock.elapsed()).padStart(5)} ${parts.join(' ')}`);
  world.rec = rec;
  const later = (fn) => clock.setTimeout(fn, 0);
  let logins = 0;
  let urls = 0;
  world.server = {
    login: () => ({ code: 'code-' + ++logins }),
    getUserInfo: () => ({ userInfo: USER, rawData: '{}', signature: 'sig', encryptedData: 'ENC', iv: 'IV' }),
    checkSession: () => true,
    logins: 0,
    request(o) {
      if (o.url === LOGIN_URL) return { statusCode: 200, data: v1Session(++world.server.logins) };
      if (o.url === TUNNEL_URL) return { statusCode: 200, data: { url: wsUrl(++urls) } };
      return { statusCode: 200, data: { ok: true } };
    },
    autoOpen: true,
    pong: true,
  };
  const answer = (o, result, okMsg) => {
    if (result === 'hang') return;
    later(() => {
      if (result && result.fail) {
        if (typeof o.fail === 'function') o.fail(result.fail);
      } else if (typeof o.success === 'function') {
        o.success(Object.assign({ errMsg: okMsg }, result));
      }
      if (typeof o.complete === 'function') o.complete(result);
    });
  };

  const global = { open: [], message: [], close: [], error: [] };
  class Socket {
    constructor(url) {
      this.url = url;
      this.n = world.sockets.length + 1;
      this.state = 'connecting';
      this.handlers = { open: [], message: [], close: [], error: [] };
    }
    fire(kind, arg) {
      for (const fn of this.handlers[kind].slice()) fn(arg);
      for (const fn of global[kind].slice()) fn(arg);
    }
    // The SDK's side.
    send(data, o = {}) {
      if (this.state !== 'open') {
        rec(`socket#${this.n} send refused`, show(data));
        later(() => { if (typeof o.fail === 'function') o.fail({ errMsg: 'sendSocketMessage:fail' }); });
        return;
      }
      // The server sees frames in order, after the SDK's current turn (network delivery).
      later(() => rec(`socket#${this.n} server receives`, show(data)));
      later(() => { if (typeof o.success === 'function') o.success({ errMsg: 'sendSocketMessage:ok' }); });
      if (data === 'ping' && world.server.pong) later(() => { if (this.state === 'open') this.frame('pong'); });
    }
    close() {
      if (this.state === 'closed') return;
      this.state = 'closed';
      later(() => rec(`socket#${this.n} server sees the SDK close it`));
      const delay = world.server.closeDelay || 0;
      clock.setTimeout(() => {
        if (delay) rec(`socket#${this.n} close event delivered`);
        this.fire('close', { code: 1000, reason: '' });
      }, delay);
    }
    // The server's side.
    open() { rec(`socket#${this.n} server opens`); this.state = 'open'; this.fire('open', {}); }
    frame(data) { rec(`socket#${this.n} server sends`, show(data)); this.fire('message', { data }); }
    drop() { rec(`socket#${this.n} server drops`); this.state = 'closed'; this.fire('close', { code: 1006, reason: 'dropped' }); }
    error() { rec(`socket#${this.n} error`); this.fire('error', { errMsg: 'socket error' }); }
  }
  const current = () => world.sockets[world.sockets.length - 1];

  world.wx = {
    login(o) { rec('wx.login'); answer(o, world.server.login(o), 'login:ok'); },
    getUserInfo(o) { rec('wx.getUserInfo'); answer(o, world.server.getUserInfo(o), 'getUserInfo:ok'); },
    checkSession(o) {
      rec('wx.checkSession');
      answer(o, world.server.checkSession(o) ? {} : { fail: { errMsg: 'checkSession:fail' } }, 'checkSession:ok');
    },
    request(o) {
      const extra = Object.keys(o).filter((k) => !['url', 'method', 'header', 'data', 'success', 'fail', 'complete', 'login'].includes(k));
      rec('wx.request', o.method === undefined ? '(no method)' : o.method, o.url, 'header=' + show(o.header || {}) +
        (o.data !== undefined ? ' data=' + show(o.data) : '') + (extra.length ? ' +' + extra.sort().map((k) => k + '=' + show(o[k])).join(',') : ''));
      answer(o, world.server.request(o), 'request:ok');
    },
    getStorageSync(k) { return world.storage.has(k) ? JSON.parse(world.storage.get(k)) : ''; },
    setStorageSync(k, v) { rec('storage.set', k === SESSION_KEY ? 'SESSION' : k, show(v)); world.storage.set(k, JSON.stringify(v)); },
    removeStorageSync(k) { rec('storage.remove', k === SESSION_KEY ? 'SESSION' : k); world.storage.delete(k); },
    // Sockets: SocketTask (ours) and the global API (the original).
    connectSocket(o) {
      const s = new Socket(o.url);
      world.sockets.push(s);
      rec(`socket#${s.n} connect`, o.url);
      later(() => { if (typeof o.success === 'function') o.success({ errMsg: 'connectSocket:ok' }); });
      if (world.server.autoOpen) later(() => { if (s.state === 'connecting') s.open(); });
      return {
        send: (x = {}) => s.send(x.data, x),
        close: () => s.close(),
        onOpen: (fn) => s.handlers.open.push(fn),
        onMessage: (fn) => s.handlers.message.push(fn),
        onClose: (fn) => s.handlers.close.push(fn),
        onError: (fn) => s.handlers.error.push(fn),
      };
    },
    onSocketOpen: (fn) => global.open.push(fn),
    onSocketMessage: (fn) => global.message.push(fn),
    onSocketClose: (fn) => global.close.push(fn),
    onSocketError: (fn) => global.error.push(fn),
    sendSocketMessage(o) {
      const s = current();
      if (!s) { later(() => o.fail && o.fail({ errMsg: 'sendSocketMessage:fail no socket' })); return; }
      s.send(o.data, o);
    },
    closeSocket() { const s = current(); if (s) s.close(); },
  };
  world.socket = (n) => world.sockets[n - 1];
  return world;
}

// ------------------------------------------------------------------ running a scenario on one SDK

/**
 * Loads `kind` ('original' | 'ours') fresh in a simulated mini-program on a new world and
 * runs `scenario.run(env)`. Returns { trace, errors }.
 */
async function runOn(kind, scenario) {
  const world = createWorld();
  for (const [k, v] of Object.entries(scenario.storage || {})) world.storage.set(k, JSON.stringify(v));
  if (scenario.server) scenario.server(world.server, world);
  const errors = [];
  const log = { log() {}, info() {}, debug() {}, warn() {}, error: (...a) => errors.push(a.map((x) => show(x)).join(' ')) };
  const dir = kind === 'original' ? ORIGINAL_DIR : oursDir;
  const mp = createMiniProgram(dir, { wx: world.wx, log });
  const ctx = mp.context;
  const { clock } = world;
  ctx.setTimeout = clock.setTimeout;
  ctx.clearTimeout = clock.clearTimeout;
  ctx.setInterval = clock.setInterval;
  ctx.clearInterval = clock.clearInterval;
  ctx.__now = clock.now;
  vm.runInContext('(function (now) { Date.now = function () { return now(); }; })(__now); delete globalThis.__now;', ctx);
  const q = mp.require(kind === 'original' ? '/index.js' : `/${SDK}/index.js`);
  // `early`: the scenario starts right after require, as a page calling in onLoad (ours may
  // not be ready yet); otherwise it starts once ours is ready.
  if (q.ready && !scenario.early) await q.ready;
  world.q = q;
  const rec = world.rec;
  const env = {
    kind,
    q,
    world,
    rec,
    errors,
    /** Runs every timer due now (wx answers, the SDKs' 0 ms timers) and their microtasks. */
    async flush() { await env.advance(0); },
    /** Moves the virtual clock `ms` forward, running each timer due on the way, in order. */
    async advance(ms) {
      await drain();
      const target = clock.now() + ms;
      for (let guard = 0; ; guard++) {
        if (guard > 100000) throw new Error('runaway timers');
        const next = clock.next(target);
        if (!next) break;
        clock.run(next);
        await drain();
      }
      clock.set(target);
      await drain();
    },
    /** Callbacks recording under `label` (complete only when asked: the original login has none). */
    cb(label, { complete = true } = {}) {
      let last;
      const o = {
        success: (v) => { last = v; rec(label, 'success', show(v, q)); },
        fail: (e) => { last = e; rec(label, 'fail', show(e, q)); },
      };
      if (complete) o.complete = (v) => rec(label, 'complete', v === last ? '(same value)' : show(v, q));
      return o;
    },
    /** Calls fn and records a throw, a returned value, or how a returned Promise settles. */
    call(label, fn) {
      try {
        const r = fn();
        if (r && typeof r.then === 'function') {
          r.then((v) => rec(label, 'resolved', show(v, q)), (e) => rec(label, 'rejected', show(e, q)));
        } else if (r !== undefined) {
          rec(label, 'returned', show(r, q));
        }
        return r;
      } catch (e) {
        rec(label, 'threw', show(e, q));
        return undefined;
      }
    },
    /** A new Tunnel recording its events (and `types`) as `label`. */
    tunnel(label, url = TUNNEL_URL, types = []) {
      let t;
      try {
        t = new q.Tunnel(url);
      } catch (e) {
        rec(`new ${label} threw`, e.message);
        return null;
      }
      for (const type of ['connect', 'close', 'reconnecting', 'reconnect', 'error', ...types]) {
        // The status a listener sees, except in connect/reconnect listeners (see the test
        // 'the status connect/reconnect listeners see') unless the scenario asks for it.
        const status = scenario.statusInOpenListeners || (type !== 'connect' && type !== 'reconnect');
        t.on(type, (p) => rec(`${label} event ${type}`, show(p, q), status ? `(status in listener: ${t.status})` : ''));
      }
      return t;
    },
    status(label, t) { rec(`${label} status`, t.status, 'socketUrl=' + t.socketUrl); },
  };
  q.Tunnel.RECONNECT_TIME_INCREASE = scenario.step || 100;
  if (scenario.tries) q.Tunnel.MAX_RECONNECT_TRY_TIMES = scenario.tries;
  try {
    await scenario.run(env);
    await env.advance(scenario.tail === undefined ? 50 : scenario.tail);
  } finally {
    clock.clear();
    mp.dispose();
  }
  // docs/RESUME.md (an addition, in every scenario): ours writes the resume extension's
  // frames (the announce `resumable:1`; `ack:n` once a service answered it); the original
  // writes none. Both ignore the extension frames a server sends (their own scenario).
  const trace = kind === 'ours' ? world.trace.filter((l) => !EXTENSION_FRAME_IN.test(l)) : world.trace;
  return { trace, errors, frames: world.trace };
}

// ------------------------------------------------------------------ documented differences

/** Removes the `"detail":…` of error values of `types` from a trace line. */
function stripDetail(line, types) {
  let out = line;
  for (const type of types) {
    for (;;) {
      const at = out.indexOf(`Error(${type}): `);
      const d = at < 0 ? -1 : out.indexOf('","detail":', at);
      if (d < 0) break;
      // The JSON value after "detail": ends where its brackets balance.
      let i = d + '","detail":'.length;
      let depth = 0;
      let inString = false;
      for (; i < out.length; i++) {
        const c = out[i];
        if (inString) {
          if (c === '\\') i++;
          else if (c === '"') inString = false;
        } else if (c === '"') inString = true;
        else if (c === '{' || c === '[') depth++;
        else if (c === '}' || c === ']') {
          if (depth === 0) break;
          depth--;
          if (depth === 0) { i++; break; }
        } else if (c === ',' && depth === 0) break;
      }
      let next = out.slice(0, d + 1) + out.slice(i);
      next = next.replace(/^(.*?Error\([A-Z_]+\): [^"]*"),"errMsg":"\(= detail\.errMsg\)"/, '$1');
      if (next === out) break;
      out = next;
    }
  }
  return out;
}

/**
 * The differences between the original and ours that are documented fixes or additions.
 * Each maps the original's trace (`original`) and/or ours (`ours`) so that they compare
 * equal; `ref` says where it is documented. A scenario lists the ones it shows; a listed
 * difference that changes nothing fails (the table must stay true).
 */
const FIXES = {
  // README "Also:": network failures of `request` are typed (`ERR_REQUEST_FAILED`, with
  // the wx `errMsg` kept on the error). The original hands the raw wx error to fail/complete.
  requestFailTyped: {
    ref: 'README "Also:" — network failures of `request` are typed (ERR_REQUEST_FAILED, errMsg kept)',
    original: (trace) => trace.map((l) => l.replace(/ (fail|complete) \{"errMsg":"(request:fail[^"]*)"\}$/, (m, what, msg) =>
      (what === 'complete' ? ' complete (same value)'
        : ` fail {"error":"RequestError(ERR_REQUEST_FAILED): @@","detail":{"errMsg":"${msg}"},"errMsg":"(= detail.errMsg)"}`))),
  },
  // docs/PROTOCOL.md §2 and README "Also:" (… "with the wx `errMsg` kept on the error"): ours
  // copies the wx error's errMsg onto every LoginError/RequestError that has one as detail.
  errMsgCopy: {
    ref: 'docs/PROTOCOL.md §2 / README "Also:" — the wx errMsg is copied onto the error (`error.errMsg`)',
    ours: (trace) => trace.map((l) => l.replace(/,"errMsg":"\(= detail\.errMsg\)"/g, '')),
  },
  // docs/PROTOCOL.md §2: errors have an optional `.detail`; "*Ours:* fills `.detail` in more
  // places than the original" (the server's answer, or the wx error): an addition.
  errorDetail: {
    ref: 'docs/PROTOCOL.md §2 — ours fills `.detail` where the original left it out',
    ours: (trace) => trace.map((l) => stripDetail(l, ['ERR_LOGIN_MISSING_SESSION', 'ERR_LOGIN_FAILED', 'ERR_INVALID_SESSION', 'ERR_CHECK_LOGIN_FAILED'])),
  },
  // docs/PROTOCOL.md §8.3 / README "Known bugs": after giving up, nothing follows close + error
  // 2001; the original sends a spurious `reconnecting`.
  noReconnectingAfterGivingUp: {
    ref: 'docs/PROTOCOL.md §8.3 / README "Known bugs" — no spurious `reconnecting` after giving up',
    original: (trace) => {
      const i = trace.findIndex((l) => /event error .*"code":2001/.test(l));
      return trace.filter((l, j) => !(j > i && i >= 0 && / event reconnecting /.test(l)));
    },
  },
  // docs/PROTOCOL.md §8.2 / README "Known bugs": a socket error on the first connection closes
  // the tunnel (CLOSED, error 3001); the original stays CONNECTING.
  socketErrorCloses: {
    ref: 'docs/PROTOCOL.md §8.2 / README "Known bugs" — a socket error on the first connection → CLOSED + error 3001',
    original: (trace) => {
      const i = trace.findIndex((l) => /event error \{"code":3001/.test(l));
      if (i < 0) return trace;
      const n = /socket#(\d+) error/.exec(trace[i - 1])[1];
      const at = trace[i].slice(0, 5);
      return [
        ...trace.slice(0, i),
        trace[i].replace(/\(status in listener: CONNECTING\)$/, '(status in listener: CLOSED)'),
        `${at} socket#${n} server sees the SDK close it`,
        ...trace.slice(i + 1).map((l) => l.replace(/ status CONNECTING /, ' status CLOSED ')),
      ];
    },
  },
  // docs/PROTOCOL.md §8.4 / README "Known bugs": concurrent logins are single-flight.
  singleFlight: {
    ref: 'docs/PROTOCOL.md §8.4 / README "Known bugs" — N concurrent logins share one wx.login and one login request',
    original: (trace) => {
      // Keep the first wx.login / getUserInfo / login request / storage.set of a burst.
      const seen = new Set();
      return trace.filter((l) => {
        const key = /(wx\.login|wx\.getUserInfo|wx\.request GET https:\/\/example\.com\/login|storage\.set SESSION)/.exec(l);
        if (!key) return true;
        if (seen.has(key[1])) return false;
        seen.add(key[1]);
        return true;
      }).map((l) => l.replace(/"code-\d+"/, '"code-1"').replace(/(id|skey)-\d+/g, '$1-1'));
    },
  },
  // Scenario-specific documented differences are in their tests (`expect`): login({loginUrl})
  // (docs/PROTOCOL.md §3.1), login({complete}) (§2), request(non-object) (README "Also:").
};

/** A trace line of the server receiving a frame of the resume extension (docs/RESUME.md). */
const EXTENSION_FRAME_IN = / server receives "(resumable|ack|resume)[:"]/;

/** Message texts may be worded differently where `@@` stands in an expected line. */
function matchLines(ours, expected) {
  if (ours.length !== expected.length) return false;
  return ours.every((l, i) => {
    const e = expected[i];
    if (!e.includes('@@')) return l === e;
    const re = new RegExp('^' + e.split('@@').map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('[^"]*') + '$');
    return re.test(l);
  });
}

/**
 * Runs `scenario` on both SDKs and compares the traces: ours must equal the original's, once
 * the scenario's documented differences (`fixes`: keys of FIXES) are applied, and
 * `scenario.expect(trace)` if given (a scenario-specific documented difference).
 */
async function same(scenario) {
  const original = await runOn('original', scenario);
  const ours = await runOn('ours', scenario);
  if (SHOW) {
    console.log(`--- ${scenario.name || ''} original\n${original.trace.join('\n')}\n--- ours\n${ours.trace.join('\n')}`);
  }
  let expected = original.trace;
  let actual = ours.trace;
  for (const key of scenario.fixes || []) {
    const fix = FIXES[key];
    assert.ok(fix, 'unknown fix ' + key);
    const e = fix.original ? fix.original(expected) : expected;
    const a = fix.ours ? fix.ours(actual) : actual;
    assert.ok(!(util.isDeepStrictEqual(e, expected) && util.isDeepStrictEqual(a, actual)),
      `documented difference "${key}" (${fix.ref}) no longer shows up: update FIXES`);
    expected = e;
    actual = a;
  }
  if (scenario.expect) {
    const next = scenario.expect(expected.slice());
    assert.notDeepEqual(next, expected, 'the scenario\'s documented difference no longer shows up');
    expected = next;
  }
  if (!matchLines(actual, expected)) {
    assert.deepEqual(actual, expected, 'ours (actual) differs from the original (expected, with documented fixes)');
  }
  assert.deepEqual(ours.errors, [], 'ours logged errors');
  return { original, ours };
}

// ------------------------------------------------------------------ session scenarios

/** Lines of a v1 login as both SDKs make it (session n, default user). */
const loginLines = (n, at = '    0') => [
  `${at} wx.login`,
  `${at} wx.getUserInfo`,
  `${at} wx.request GET ${LOGIN_URL} header={"X-WX-Code":"code-${n}","X-WX-Encrypted-Data":"ENC","X-WX-IV":"IV"}`,
  `${at} storage.set SESSION {"id":"id-${n}","skey":"skey-${n}","userInfo":${show(USER)}}`,
];

describe('login', () => {
  test('login success (v1 magic body); a second login with the stored session only checks it', () => same({
    run: async (env) => {
      const { q } = env;
      q.setLoginUrl(LOGIN_URL);
      q.login(env.cb('login#1', { complete: false }));
      await env.flush();
      env.rec('buildSessionHeader', show(q.buildSessionHeader()));
      q.login(env.cb('login#2', { complete: false }));
      await env.flush();
    },
  }));

  test('login with method and data: passed to the login request', () => same({
    run: async (env) => {
      env.q.setLoginUrl(LOGIN_URL);
      env.q.login(Object.assign(env.cb('login', { complete: false }), { method: 'POST', data: { a: 1, b: ['x'] } }));
      await env.flush();
    },
  }));

  test('stored session but wx.checkSession fails → cleared, fresh login', () => same({
    storage: { [SESSION_KEY]: { id: 'old', skey: 'old', userInfo: USER } },
    server: (s) => { s.checkSession = () => false; },
    run: async (env) => {
      env.q.setLoginUrl(LOGIN_URL);
      env.q.login(env.cb('login', { complete: false }));
      await env.flush();
    },
  }));

  for (const [name, server, fixes] of [
    ['wx.login fails → ERR_WX_LOGIN_FAILED', (s) => { s.login = () => ({ fail: { errMsg: 'login:fail' } }); }, ['errMsgCopy']],
    ['getUserInfo fails → ERR_WX_GET_USER_INFO', (s) => { s.getUserInfo = () => ({ fail: { errMsg: 'getUserInfo:fail auth deny' } }); }, ['errMsgCopy']],
    ['no magic id → ERR_LOGIN_MISSING_SESSION', (s) => {
      s.request = () => ({ statusCode: 200, data: { session: { id: 'i', skey: 's' } } });
    }, ['errorDetail']],
    ['magic id without session → ERR_LOGIN_MISSING_SESSION with the server error and message', (s) => {
      s.request = () => ({ statusCode: 200, data: { [MAGIC]: 1, error: 'ERR_SOMETHING', message: '出错了' } });
    }, ['errorDetail']],
    ['network failure → ERR_LOGIN_FAILED', (s) => { s.request = () => ({ fail: { errMsg: 'request:fail timeout' } }); }, ['errorDetail']],
  ]) {
    test(`login failure: ${name}; fail is called`, () => same({
      server,
      fixes,
      run: async (env) => {
        env.q.setLoginUrl(LOGIN_URL);
        env.q.login(env.cb('login', { complete: false }));
        await env.flush();
        env.rec('buildSessionHeader', show(env.q.buildSessionHeader()));
      },
    }));
  }

  test('no login URL → ERR_INVALID_PARAMS, nothing called', () => same({
    run: async (env) => {
      env.q.login(env.cb('login', { complete: false }));
      await env.flush();
    },
  }));

  test('login({loginUrl}) without setLoginUrl: the original fails, ours logs in there (documented fix)', () => same({
    // docs/PROTOCOL.md §3.1 (bug) / README "Also:": `options.loginUrl` is honoured.
    expect: (trace) => {
      assert.match(trace[0], /login fail .*ERR_INVALID_PARAMS/);
      return [...loginLines(1), `    0 login success ${show(USER)}`];
    },
    run: async (env) => {
      env.q.login(Object.assign(env.cb('login', { complete: false }), { loginUrl: LOGIN_URL }));
      await env.flush();
    },
  }));

  test('login({complete}): the original never calls complete, ours does (wx convention)', () => same({
    fixes: ['errMsgCopy'],
    // docs/PROTOCOL.md §2: callbacks follow the wx convention (success, fail, complete).
    expect: (trace) => trace.flatMap((l) => (/ login (success|fail) /.test(l) ? [l, l.replace(/ login (success|fail) .*/, ' login complete (same value)')] : [l])),
    run: async (env) => {
      env.q.setLoginUrl(LOGIN_URL);
      env.q.login(env.cb('login'));
      await env.flush();
      env.q.clearSession();
      env.world.server.login = () => ({ fail: { errMsg: 'login:fail' } });
      env.q.login(env.cb('login'));
      await env.flush();
    },
  }));
});

describe('request', () => {
  test('with a stored session: X-WX-Id/X-WX-Skey added to the page headers; options passed through; success + complete', () => same({
    storage: { [SESSION_KEY]: { id: 'sid', skey: 'sk', userInfo: USER } },
    run: async (env) => {
      env.q.request(Object.assign(env.cb('request#1'), {
        url: API_URL, method: 'POST', data: { x: 1 }, header: { 'X-Trace': 't1' }, dataType: 'json', responseType: 'text',
      }));
      await env.flush();
      env.q.request(Object.assign(env.cb('request#2'), { url: API_URL }));
      await env.flush();
    },
  }));

  test('without a session: no session headers; statusCode other than 200 is still success', () => same({
    server: (s) => { s.request = () => ({ statusCode: 500, data: 'server error' }); },
    run: async (env) => {
      env.q.request(Object.assign(env.cb('request'), { url: API_URL, header: { 'X-Trace': 't1' } }));
      await env.flush();
    },
  }));

  test('login: true on a cold start → login, then the request with the new session', () => same({
    run: async (env) => {
      env.q.setLoginUrl(LOGIN_URL);
      env.q.request(Object.assign(env.cb('request'), { url: API_URL, login: true }));
      await env.flush();
    },
  }));

  test('login: true whose login fails → fail + complete with the LoginError; no request', () => same({
    fixes: ['errMsgCopy'],
    server: (s) => { s.login = () => ({ fail: { errMsg: 'login:fail' } }); },
    run: async (env) => {
      env.q.setLoginUrl(LOGIN_URL);
      env.q.request(Object.assign(env.cb('request'), { url: API_URL, login: true }));
      await env.flush();
    },
  }));

  test('login: true without a login URL → fail + complete with LoginError ERR_INVALID_PARAMS', () => same({
    run: async (env) => {
      env.q.request(Object.assign(env.cb('request'), { url: API_URL, login: true }));
      await env.flush();
    },
  }));

  test('two concurrent login: true on a cold start: the original logs in twice, ours once (documented fix)', () => same({
    fixes: ['singleFlight'],
    run: async (env) => {
      env.q.setLoginUrl(LOGIN_URL);
      env.q.request(Object.assign(env.cb('request#1'), { url: API_URL, login: true }));
      env.q.request(Object.assign(env.cb('request#2'), { url: API_URL, login: true }));
      await env.flush();
    },
  }));

  const expiring = (answers) => (s) => {
    let n = 0;
    const request = s.request;
    s.request = (o) => (o.url === API_URL ? answers(++n, o) : request(o));
  };

  test('ERR_INVALID_SESSION → session cleared, one re-login, one retry with the new session', () => same({
    storage: { [SESSION_KEY]: { id: 'old', skey: 'old', userInfo: USER } },
    server: expiring((n) => (n === 1 ? { statusCode: 200, data: invalidSession } : { statusCode: 200, data: { ok: n } })),
    run: async (env) => {
      env.q.setLoginUrl(LOGIN_URL);
      env.q.request(Object.assign(env.cb('request'), { url: API_URL }));
      await env.flush();
    },
  }));

  test('ERR_INVALID_SESSION twice → RequestError ERR_INVALID_SESSION after one retry', () => same({
    storage: { [SESSION_KEY]: { id: 'old', skey: 'old', userInfo: USER } },
    fixes: ['errorDetail'],
    server: expiring(() => ({ statusCode: 200, data: invalidSession })),
    run: async (env) => {
      env.q.setLoginUrl(LOGIN_URL);
      env.q.request(Object.assign(env.cb('request'), { url: API_URL }));
      await env.flush();
    },
  }));

  test('ERR_INVALID_SESSION and the re-login fails → fail with the LoginError', () => same({
    fixes: ['errMsgCopy'],
    storage: { [SESSION_KEY]: { id: 'old', skey: 'old', userInfo: USER } },
    server: (s) => {
      expiring(() => ({ statusCode: 200, data: invalidSession }))(s);
      s.getUserInfo = () => ({ fail: { errMsg: 'getUserInfo:fail' } });
    },
    run: async (env) => {
      env.q.setLoginUrl(LOGIN_URL);
      env.q.request(Object.assign(env.cb('request'), { url: API_URL }));
      await env.flush();
    },
  }));

  test('another magic error → RequestError ERR_CHECK_LOGIN_FAILED, session cleared, no retry', () => same({
    storage: { [SESSION_KEY]: { id: 'sid', skey: 'sk', userInfo: USER } },
    fixes: ['errorDetail'],
    server: expiring(() => ({ statusCode: 200, data: { [MAGIC]: 1, error: 'ERR_DECRYPT', message: '解密失败' } })),
    run: async (env) => {
      env.q.setLoginUrl(LOGIN_URL);
      env.q.request(Object.assign(env.cb('request'), { url: API_URL }));
      await env.flush();
    },
  }));

  test('network failure → fail then complete (ours: a typed RequestError, documented)', () => same({
    fixes: ['requestFailTyped'],
    server: expiring(() => ({ fail: { errMsg: 'request:fail' } })),
    run: async (env) => {
      env.q.request(Object.assign(env.cb('request'), { url: API_URL }));
      await env.flush();
    },
  }));

  test('request(non-object): the original throws, ours fails with a RequestError ERR_INVALID_PARAMS (documented fix)', () => same({
    // README "Also:": bad `request` options fail with ERR_INVALID_PARAMS instead of throwing.
    expect: (trace) => {
      assert.match(trace[0], /request threw .*ERR_INVALID_PARAMS/);
      return [trace[0].replace(/ threw .*/, ' rejected {"error":"RequestError(ERR_INVALID_PARAMS): @@"}')];
    },
    run: async (env) => {
      env.call('request', () => env.q.request('https://example.com/api'));
      await env.flush();
    },
  }));

  test('calls made right after require (before ours is ready): request(non-object), login, request', () => same({
    early: true,
    run: async (env) => {
      let bad;
      if (env.kind === 'original') {
        assert.throws(() => env.q.request('https://example.com/api'), (e) => e instanceof env.q.RequestError && e.type === 'ERR_INVALID_PARAMS');
      } else {
        // README "Also:": bad `request` options fail with ERR_INVALID_PARAMS instead of throwing.
        bad = assert.rejects(env.q.request('https://example.com/api'), (e) => e instanceof env.q.RequestError && e.type === 'ERR_INVALID_PARAMS');
      }
      env.q.setLoginUrl(LOGIN_URL);
      env.q.login(env.cb('login', { complete: false }));
      env.q.request(Object.assign(env.cb('request'), { url: API_URL }));
      if (env.q.ready) await env.q.ready;
      await env.flush();
      await bad;
    },
  }));

  test('a session written to storage by the page is used by the next request; clearing storage logs out', () => same({
    run: async (env) => {
      env.q.request(Object.assign(env.cb('request#1'), { url: API_URL }));
      await env.flush();
      env.world.storage.set(SESSION_KEY, JSON.stringify({ id: 'page-id', skey: 'page-skey' }));
      env.rec('page writes a session');
      env.q.request(Object.assign(env.cb('request#2'), { url: API_URL }));
      await env.flush();
      env.rec('buildSessionHeader', show(env.q.buildSessionHeader()));
      env.world.storage.delete(SESSION_KEY);
      env.rec('page clears storage');
      env.q.request(Object.assign(env.cb('request#3'), { url: API_URL }));
      await env.flush();
    },
  }));

  test('login: true with a stored session → wx.checkSession, then the request (no login)', () => same({
    storage: { [SESSION_KEY]: { id: 'sid', skey: 'sk', userInfo: USER } },
    run: async (env) => {
      env.q.setLoginUrl(LOGIN_URL);
      env.q.request(Object.assign(env.cb('request'), { url: API_URL, login: true }));
      await env.flush();
    },
  }));

  test('login: true after login() in the same run → wx.checkSession, then the request', () => same({
    run: async (env) => {
      env.q.setLoginUrl(LOGIN_URL);
      env.q.login(env.cb('login', { complete: false }));
      await env.flush();
      env.q.request(Object.assign(env.cb('request'), { url: API_URL, login: true }));
      await env.flush();
    },
  }));

  test('login: true, stored session, wx.checkSession fails → session cleared, login, request with the new session', () => same({
    storage: { [SESSION_KEY]: { id: 'sid', skey: 'sk', userInfo: USER } },
    server: (s) => { s.checkSession = () => false; },
    run: async (env) => {
      env.q.setLoginUrl(LOGIN_URL);
      env.q.request(Object.assign(env.cb('request'), { url: API_URL, login: true }));
      await env.flush();
    },
  }));

  test('clearSession() then request: no session headers', () => same({
    storage: { [SESSION_KEY]: { id: 'sid', skey: 'sk', userInfo: USER } },
    run: async (env) => {
      env.q.clearSession();
      await env.flush();
      env.q.request(Object.assign(env.cb('request'), { url: API_URL }));
      await env.flush();
    },
  }));
});

// ------------------------------------------------------------------ tunnel scenarios

/** Opens `t` and lets it connect (the fake server opens sockets at once). */
async function connect(env, label, t) {
  t.open();
  env.status(label, t);
  await env.flush();
  env.status(label, t);
}

describe('tunnel', () => {
  test('open → GET serviceUrl with the session → connect; queued emits, exact frames, server messages, user close', () => same({
    storage: { [SESSION_KEY]: { id: 'sid', skey: 'sk', userInfo: USER } },
    run: async (env) => {
      const t = env.tunnel('T', TUNNEL_URL, ['speak', '@close', '@connect', '@error', 'empty', 'pong']);
      env.status('T', t);
      t.emit('queued', { n: 1 });
      t.emit('queued', 'two');
      await connect(env, 'T', t);
      t.emit('speak', { word: 'hi', list: [1, 'a', null], nested: { 中文: true } });
      t.emit('nocontent');
      t.emit('zero', 0);
      t.emit('str', 'a:b');
      t.emit('falsy', false);
      t.emit('null', null);
      await env.flush();
      const s = env.world.socket(1);
      s.frame('message:{"type":"speak","content":{"who":"u","word":"a:b"}}');
      s.frame('message:{"type":"close","content":1}');
      s.frame('message:{"type":"connect","content":{"x":[1]}}');
      s.frame('message:{"type":"error","content":"e"}');
      s.frame('message:{"type":"empty"}');
      s.frame('pong');
      s.frame('whatever:{"a":1}');
      s.frame('message:{"type":"speak","content":"after unknown"}');
      await env.flush();
      t.close();
      env.status('T', t);
      await env.flush();
      env.status('T', t);
    },
  }));

  test('frames of the resume extension from a server: both SDKs ignore them; ours announces (docs/RESUME.md)', async () => {
    const { ours } = await same({
      run: async (env) => {
        const t = env.tunnel('T', TUNNEL_URL, ['speak']);
        await connect(env, 'T', t);
        const s = env.world.socket(1);
        s.frame('resume-token:30:abcdef0123456789');
        for (let i = 0; i < 40; i++) s.frame(`message:{"type":"speak","content":${i}}`);
        s.frame('ack:0');
        s.frame('ack:not-a-number');
        s.frame('resumed:1');
        s.frame('resume-refused');
        s.frame('resumable:1');
        s.frame('resume:3:abc');
        t.emit('speak', 'still here');
        s.frame('message:{"type":"speak","content":"last"}');
        await env.flush();
        env.status('T', t);
        t.close();
        await env.flush();
      },
    });
    // What ours wrote besides (filtered from the comparison): the announce first, and an
    // `ack` after 32 messages of the token's stream.
    const ext = ours.frames.filter((l) => EXTENSION_FRAME_IN.test(l)).map((l) => l.replace(/^.* server receives /, ''));
    assert.deepEqual(ext, ['"resumable:1"', '"ack:32"']);
  });

  test("'*' listener gets (type, payload) for events and messages; non-function listeners are ignored", () => same({
    run: async (env) => {
      const t = new env.q.Tunnel(TUNNEL_URL);
      t.on('*', (type, p) => env.rec('*', type, show(p, env.q)));
      t.on('speak', 'not a function');
      t.on('speak', (p) => env.rec('speak listener', show(p)));
      await connect(env, 'T', t);
      env.world.socket(1).frame('message:{"type":"speak","content":"x"}');
      env.world.socket(1).frame('message:{"type":"reconnect","content":"y"}');
      await env.flush();
      t.close();
      await env.flush();
    },
  }));

  test('one open tunnel at a time: new Tunnel throws while one is open; after close a new one works', () => same({
    run: async (env) => {
      const a = env.tunnel('A');
      await connect(env, 'A', a);
      env.tunnel('B');
      a.close();
      await env.flush();
      const c = env.tunnel('C');
      await connect(env, 'C', c);
      c.emit('hello', 'c');
      await env.flush();
    },
  }));

  test('a tunnel made right after require (before ours is ready): on, emit, open work as usual', () => same({
    early: true,
    run: async (env) => {
      const t = env.tunnel('T', TUNNEL_URL, ['speak']);
      t.emit('early', 1);
      t.open();
      if (env.q.ready) await env.q.ready;
      await env.flush();
      env.status('T', t);
      env.world.socket(1).frame('message:{"type":"speak","content":"hi"}');
      t.close();
      await env.flush();
    },
  }));

  test('a second open() while opening does nothing', () => same({
    run: async (env) => {
      const t = env.tunnel('T');
      t.open();
      t.open();
      await env.flush();
      env.status('T', t);
    },
  }));

  test('the socket drops while active → reconnecting, a new URL and socket, reconnect; emits in between are sent', () => same({
    storage: { [SESSION_KEY]: { id: 'sid', skey: 'sk', userInfo: USER } },
    run: async (env) => {
      const t = env.tunnel('T');
      await connect(env, 'T', t);
      env.world.socket(1).drop();
      env.status('T', t);
      t.emit('meanwhile', 1);
      await env.flush();
      env.status('T', t);
      await env.advance(100);
      env.status('T', t);
      t.emit('after', 2);
      await env.flush();
      env.world.socket(2).drop(); // a second drop: the wait starts over at RECONNECT_TIME_INCREASE
      await env.advance(100);
      env.status('T', t);
    },
  }));

  test('reconnect tries wait 100, 200, … ms; a failed URL request is a failed try; a success resets the count', () => same({
    run: async (env) => {
      let fail = false;
      const request = env.world.server.request;
      env.world.server.request = (o) => (fail ? { statusCode: 502, data: 'bad gateway' } : request(o));
      const t = env.tunnel('T');
      await connect(env, 'T', t);
      fail = true;
      env.world.socket(1).drop();
      await env.advance(100 + 200);
      env.status('T', t);
      fail = false;
      await env.advance(300);
      env.status('T', t);
    },
  }));

  test('gives up after MAX_RECONNECT_TRY_TIMES failed tries: close, then error 2001 (documented: no spurious reconnecting)', () => same({
    tries: 2,
    fixes: ['noReconnectingAfterGivingUp'],
    run: async (env) => {
      let fail = false;
      const request = env.world.server.request;
      env.world.server.request = (o) => (fail ? { statusCode: 503, data: { error: 'busy' } } : request(o));
      const t = env.tunnel('T');
      await connect(env, 'T', t);
      fail = true;
      env.world.socket(1).drop();
      await env.advance(100 + 200 + 300);
      env.status('T', t);
    },
  }));

  test('the URL request fails on the first connection → CLOSED, error 1001; open() again works', () => same({
    server: (s) => {
      let n = 0;
      const request = s.request;
      s.request = (o) => (++n === 1 ? { statusCode: 500, data: 'oops' } : n === 2 ? { statusCode: 200, data: { nope: 1 } } : request(o));
    },
    run: async (env) => {
      const t = env.tunnel('T');
      await connect(env, 'T', t);
      await connect(env, 'T', t);
      await connect(env, 'T', t);
    },
  }));

  test('a socket error on the first connection: error 3001; ours also closes (documented fix)', () => same({
    fixes: ['socketErrorCloses'],
    server: (s) => { s.autoOpen = false; },
    run: async (env) => {
      const t = env.tunnel('T');
      await connect(env, 'T', t);
      env.world.socket(1).error();
      await env.flush();
      env.status('T', t);
    },
  }));

  test('a session written to storage by the page is sent with the tunnel URL request', () => same({
    run: async (env) => {
      env.world.storage.set(SESSION_KEY, JSON.stringify({ id: 'page-id', skey: 'page-skey' }));
      env.rec('page writes a session');
      const t = env.tunnel('T');
      await connect(env, 'T', t);
      t.close();
      await env.flush();
    },
  }));

  test('no login URL and no session: the URL request goes without session headers', () => same({
    run: async (env) => {
      const t = env.tunnel('T');
      await connect(env, 'T', t);
    },
  }));

  test('no login URL, stored session refused (ERR_INVALID_SESSION): cleared, login fails → CLOSED, error 1001 with the LoginError', () => same({
    storage: { [SESSION_KEY]: { id: 'old', skey: 'old', userInfo: USER } },
    server: (s) => {
      const request = s.request;
      s.request = (o) => (o.url === TUNNEL_URL ? { statusCode: 200, data: invalidSession } : request(o));
    },
    run: async (env) => {
      const t = env.tunnel('T');
      await connect(env, 'T', t);
    },
  }));

  test('the URL request fails on the network → error 1001 whose detail keeps the wx errMsg', () => same({
    expect: (trace) => trace.map((l) => l.replace(/"detail":\{"errMsg":"request:fail"\}/,
      '"detail":{"error":"RequestError(ERR_REQUEST_FAILED): @@","detail":{"errMsg":"request:fail"},"errMsg":"(= detail.errMsg)"}')),
    server: (s) => { s.request = () => ({ fail: { errMsg: 'request:fail' } }); },
    run: async (env) => {
      const t = env.tunnel('T');
      await connect(env, 'T', t);
    },
  }));

  test('a server close frame: the original answers with a close frame before closing the socket (docs/PROTOCOL.md §5)', () => same({
    run: async (env) => {
      const t = env.tunnel('T');
      await connect(env, 'T', t);
      env.world.socket(1).frame('close');
      await env.flush();
      env.status('T', t);
      await env.advance(20000); // nothing else happens: no reconnect, no ping
    },
  }));

  // Documented difference (docs/PROTOCOL.md §5, docs/MIGRATING.md): ours is ACTIVE when
  // `connect`/`reconnect` listeners run (an `emit` there is sent at once); the original still
  // said CONNECTING/RECONNECTING. The frames reach the server in the same order.
  test('the status connect/reconnect listeners see: ACTIVE (the original: CONNECTING/RECONNECTING), frames in the same order', () => same({
      expect: (trace) => trace.map((l) => l.replace(/(event (?:connect|reconnect) .*)\(status in listener: (?:CONNECTING|RECONNECTING)\)$/, '$1(status in listener: ACTIVE)')),
      statusInOpenListeners: true,
      run: async (env) => {
        const t = env.tunnel('T');
        t.on('connect', () => env.call('emit in connect listener', () => t.emit('from-listener', 1)));
        t.emit('queued', 0);
        await connect(env, 'T', t);
        env.world.socket(1).drop();
        await env.advance(100);
      },
    }));

  test('timeout:2 → ping at once, then every 2000 ms after each pong; a missing pong reconnects after 2000 ms', () => same(heartbeat(2, 2000)));
  for (const [n, ms] of [[0.5, 500], [0.04, 40]]) {
    test(`timeout:${n} → ping at once, then every ${ms} ms; a missing pong reconnects after ${ms} ms`, () => same(heartbeat(n, ms)));
  }

  test('without a timeout frame: the first ping comes after 15 s', () => same({
    run: async (env) => {
      const t = env.tunnel('T');
      await connect(env, 'T', t);
      await env.advance(15000 * 2 + 10);
      t.close();
      await env.flush();
    },
  }));
});

/** A heartbeat scenario for `timeout:n` (ms = n seconds). */
function heartbeat(n, ms) {
  return {
    name: 'timeout:' + n,
    step: 10,
    run: async (env) => {
      const t = env.tunnel('T');
      await connect(env, 'T', t);
      const s = env.world.socket(1);
      s.frame('timeout:' + n);
      await env.flush();
      await env.advance(ms * 3 + ms / 2); // pings at ms, 2ms, 3ms; each answered
      env.world.server.pong = false;
      await env.advance(ms); // the ping at 4ms is not answered
      await env.advance(ms); // … for ms: reconnect
      env.status('T', t);
      env.world.server.pong = true;
      await env.advance(10 + ms * 2 + ms / 2); // the reconnect wait (step 10) → new socket; its heartbeat
      env.status('T', t);
      t.close();
      await env.flush();
    },
  };
}

// ------------------------------------------------------------------ fixed bugs of the original (docs/PROTOCOL.md §8)

describe('documented fixes of the original', () => {
  test('§8.1: a reconnect socket that fails before opening is a failed try (the original stays RECONNECTING)', async () => {
    // README "Known bugs": "A reconnect try whose URL request succeeds but whose socket fails
    // before opening counts as a failed try; the original stayed RECONNECTING forever".
    const { original, ours } = await both({
      run: async (env) => {
        const t = env.tunnel('T');
        await connect(env, 'T', t);
        env.world.server.autoOpen = false;
        env.world.socket(1).drop();
        await env.advance(100);
        env.world.socket(2).drop(); // closes before it ever opened
        env.world.server.autoOpen = true;
        await env.advance(1000);
        env.status('T', t);
        env.tunnel('U');
      },
    });
    const cut = (trace) => trace.slice(0, trace.findIndex((l) => / socket#2 server drops/.test(l)) + 1);
    assert.deepEqual(cut(ours.trace), cut(original.trace));
    const after = (trace) => trace.slice(cut(trace).length);
    // The original: nothing more happens, stuck; no new tunnel can be created.
    assert.deepEqual(after(original.trace), [
      ' 1100 T status RECONNECTING socketUrl=wss://ws.example.com/tunnel/2',
      ' 1100 new U threw 当前有未关闭的信道，请先关闭之前的信道，再打开新信道',
    ]);
    // Ours: the next try (after 200 ms) gets a new URL and socket and reconnects.
    assert.deepEqual(after(ours.trace), [
      '  300 wx.request GET https://example.com/tunnel header={}',
      '  300 socket#3 connect wss://ws.example.com/tunnel/3',
      '  300 socket#3 server opens',
      '  300 T event reconnect undefined ',
      ' 1100 T status ACTIVE socketUrl=wss://ws.example.com/tunnel/3',
      ' 1100 new U threw 当前有未关闭的信道，请先关闭之前的信道，再打开新信道',
    ]);
  });

  test('§8.5: a late close of the old socket does not reach the new connection (the original reconnects again)', async () => {
    // README "Known bugs": each connection uses its own SocketTask; events of an old socket
    // never reach the current one (the original used the global wx.onSocket* handlers).
    const { original, ours } = await both({
      step: 10,
      run: async (env) => {
        const t = env.tunnel('T');
        await connect(env, 'T', t);
        env.world.server.closeDelay = 100; // the old socket's close event comes late
        env.world.server.pong = false;
        env.world.socket(1).frame('timeout:1');
        await env.flush();
        await env.advance(1000); // no pong: reconnect; the new socket opens at 1010
        env.world.server.pong = true;
        await env.advance(20);
        env.status('T', t);
        await env.advance(200); // the old socket's close event arrives at 1100
        env.status('T', t);
        t.close();
        await env.flush();
      },
    });
    const stale = (trace) => trace.findIndex((l) => /socket#1 close event delivered/.test(l));
    assert.ok(stale(original.trace) > 0 && stale(ours.trace) > 0);
    assert.deepEqual(ours.trace.slice(0, stale(ours.trace) + 1), original.trace.slice(0, stale(original.trace) + 1));
    // The original takes the stale close for its live socket: reconnecting again.
    assert.ok(original.trace.slice(stale(original.trace)).some((l) => / T event reconnecting /.test(l)), original.trace.join('\n'));
    // Ours: nothing happens until the page closes the tunnel.
    assert.deepEqual(ours.trace.slice(stale(ours.trace) + 1), [
      ' 1220 T status ACTIVE socketUrl=wss://ws.example.com/tunnel/2',
      ' 1220 T event close undefined (status in listener: CLOSED)',
      ' 1220 socket#2 server receives "close"',
      ' 1220 socket#2 server sees the SDK close it',
    ]);
  });
});

/** Runs a scenario on both SDKs; returns both traces (for hand-written comparisons). */
async function both(scenario) {
  const original = await runOn('original', scenario);
  const ours = await runOn('ours', scenario);
  if (SHOW) console.log(`--- original\n${original.trace.join('\n')}\n--- ours\n${ours.trace.join('\n')}`);
  assert.deepEqual(ours.errors, [], 'ours logged errors');
  return { original, ours };
}

// ------------------------------------------------------------------ issue 8

describe('issue 8', () => {
  test('8.1: A opened and closed, B opened, then a.emit() does not throw (nothing else changes, or error 4002 on A)', async () => {
    const { original, ours } = await both({
      run: async (env) => {
        const a = env.tunnel('A');
        await connect(env, 'A', a);
        a.close();
        await env.flush();
        const b = env.tunnel('B');
        await connect(env, 'B', b);
        env.call('a.emit', () => a.emit('hi', 1));
        await env.flush();
        env.status('A', a);
        env.status('B', b);
        b.emit('still', 'works');
        await env.flush();
      },
    });
    assert.ok(!ours.trace.some((l) => /threw/.test(l)), ours.trace.join('\n'));
    // README "Known bugs": no silent loss — ours may report the packet with error 4002.
    const without4002 = ours.trace.filter((l) => !/ A event error \{"code":4002,/.test(l));
    assert.deepEqual(without4002, original.trace);
  });

  test('8.2: login()/request() without callbacks that fail: silent, as the original (no unhandled rejection)', async () => {
    const unhandled = [];
    const onUnhandled = (reason) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    const returned = { original: [], ours: [] };
    try {
      await same({
        server: (s) => {
          const request = s.request;
          s.request = (o) => (o.url === API_URL ? { fail: { errMsg: 'request:fail' } } : request(o));
        },
        run: async (env) => {
          const keep = (r) => returned[env.kind].push(r);
          keep(env.q.login()); // no login URL
          await env.flush();
          env.q.setLoginUrl(LOGIN_URL);
          env.world.server.login = () => ({ fail: { errMsg: 'login:fail' } });
          keep(env.q.login());
          await env.flush();
          keep(env.q.request({ url: API_URL }));
          await env.flush();
          keep(env.q.request({ url: API_URL, login: true }));
          await env.flush();
          env.rec('done');
        },
      });
      await new Promise((resolve) => setTimeout(resolve, 20));
    } finally {
      process.removeListener('unhandledRejection', onUnhandled);
    }
    assert.deepEqual(returned.original, [undefined, undefined, undefined, undefined]);
    // README "Also:": every call has a Promise form (ours returns a Promise).
    assert.ok(returned.ours.every((p) => p && typeof p.then === 'function'));
    assert.deepEqual(unhandled.map((e) => show(e)), [], 'unhandled rejections');
  });

  test('8.2: a caller who awaits (or uses .then/.catch) still gets the result or the rejection', async () => {
    await runOn('ours', {
      run: async (env) => {
        const { q, world } = env;
        const settle = async (p) => { const r = p.then((v) => ['ok', v], (e) => ['err', e]); await env.flush(); return r; };
        let [how, e] = await settle(q.login());
        assert.equal(how, 'err');
        assert.ok(e instanceof q.LoginError);
        assert.equal(e.type, q.ERR_INVALID_PARAMS);
        q.setLoginUrl(LOGIN_URL);
        world.server.login = () => ({ fail: { errMsg: 'login:fail' } });
        const caught = [];
        const c = q.login().catch((err) => caught.push(err.type));
        await env.flush();
        await c;
        assert.deepEqual(caught, [q.ERR_WX_LOGIN_FAILED]);
        const rejected = assert.rejects(q.login(), (err) => err.type === q.ERR_WX_LOGIN_FAILED);
        await env.flush();
        await rejected;
        world.server.login = () => ({ code: 'ok' });
        [how, e] = await settle(q.login());
        assert.deepEqual([how, show(e)], ['ok', show(USER)]);
        [how, e] = await settle(q.request({ url: API_URL }));
        assert.equal(how, 'ok');
        assert.deepEqual(show(e.data), '{"ok":true}');
        world.server.request = () => ({ fail: { errMsg: 'request:fail' } });
        [how, e] = await settle(q.request({ url: API_URL }));
        assert.equal(how, 'err');
        assert.ok(e instanceof q.RequestError);
        assert.equal(e.type, 'ERR_REQUEST_FAILED');
      },
    });
  });

  const staleSession = { [SESSION_KEY]: { id: 'old', skey: 'old', userInfo: USER } };
  const tunnelRefuses = (session) => (s) => {
    const request = s.request;
    s.request = (o) => (o.url === TUNNEL_URL && o.header['X-WX-Skey'] === session ? { statusCode: 200, data: invalidSession } : request(o));
  };

  test('8.4: a session stored before loading (not by this SDK), refused by the tunnel URL endpoint: ONE re-login, the retry carries the new session', () => same({
    storage: staleSession,
    server: tunnelRefuses('old'),
    run: async (env) => {
      env.q.setLoginUrl(LOGIN_URL);
      const t = env.tunnel('T');
      await connect(env, 'T', t);
    },
  }));

  test('8.4: a session written by the page after loading, refused by the tunnel URL endpoint: ONE re-login', () => same({
    server: tunnelRefuses('page-skey'),
    run: async (env) => {
      env.q.setLoginUrl(LOGIN_URL);
      env.world.storage.set(SESSION_KEY, JSON.stringify({ id: 'page-id', skey: 'page-skey' }));
      env.rec('page writes a session');
      const t = env.tunnel('T');
      await connect(env, 'T', t);
    },
  }));

  test('8.4: a session from login(), then another written by the page and refused by the tunnel URL endpoint: ONE re-login', () => same({
    server: tunnelRefuses('page-skey'),
    run: async (env) => {
      env.q.setLoginUrl(LOGIN_URL);
      env.q.login(env.cb('login', { complete: false }));
      await env.flush();
      env.world.storage.set(SESSION_KEY, JSON.stringify({ id: 'page-id', skey: 'page-skey' }));
      env.rec('page writes a session');
      const t = env.tunnel('T');
      await connect(env, 'T', t);
    },
  }));

  test('8.4: login URL set, no session: the tunnel URL request goes without a session (no login first)', () => same({
    run: async (env) => {
      env.q.setLoginUrl(LOGIN_URL);
      const t = env.tunnel('T');
      await connect(env, 'T', t);
    },
  }));

  test('8.4: login URL set, session from login(): the tunnel URL request carries it, no other login', () => same({
    run: async (env) => {
      env.q.setLoginUrl(LOGIN_URL);
      env.q.login(env.cb('login', { complete: false }));
      await env.flush();
      const t = env.tunnel('T');
      await connect(env, 'T', t);
    },
  }));

  test('8.4: login URL set, session from login() refused by the tunnel URL endpoint: one re-login, retry with the new session', () => same({
    server: tunnelRefuses('skey-1'),
    run: async (env) => {
      env.q.setLoginUrl(LOGIN_URL);
      env.q.login(env.cb('login', { complete: false }));
      await env.flush();
      const t = env.tunnel('T');
      await connect(env, 'T', t);
    },
  }));

  test('8.5: every export of wafer2-client-sdk 2.1.0 is on our module with the same constant values', async () => {
    const { wafer2, ours } = await exportsOf();
    const missing = Object.keys(wafer2).filter((k) => !(k in ours));
    assert.deepEqual(missing, [], 'missing exports');
    assert.equal(ours.ERR_SESSION_INVALID, 'ERR_SESSION_INVALID');
    assert.deepEqual(compareExports(wafer2, ours), []);
  });

  test('every export of wafer-client-sdk 0.8.4 is on our module with the same constant values', async () => {
    const { original, ours } = await exportsOf();
    assert.deepEqual(Object.keys(original).filter((k) => !(k in ours)), [], 'missing exports');
    assert.deepEqual(compareExports(original, ours), []);
  });
});

/** The module objects of the original, wafer2 and ours, each loaded in its own runtime. */
async function exportsOf() {
  const load = async (dir, file) => {
    const world = createWorld();
    const mp = createMiniProgram(dir, { wx: world.wx });
    const q = mp.require(file);
    if (q.ready) await q.ready;
    mp.dispose();
    return q;
  };
  return {
    original: await load(ORIGINAL_DIR, '/index.js'),
    wafer2: await load(WAFER2_DIR, '/index.js'),
    ours: await load(oursDir, `/${SDK}/index.js`),
  };
}

/** Differences of `theirs` → `ours`: constants by value, functions by kind, objects by member. */
function compareExports(theirs, ours) {
  const diffs = [];
  for (const k of Object.keys(theirs)) {
    const a = theirs[k];
    const b = ours[k];
    if (typeof a === 'function' || (a && typeof a === 'object')) {
      if (typeof b !== typeof a) diffs.push(`${k}: ${typeof a} vs ${typeof b}`);
      for (const m of Object.keys(a)) {
        const x = a[m];
        const y = b && b[m];
        if (typeof x === 'function' ? typeof y !== 'function' : x !== y) diffs.push(`${k}.${m}: ${show(x)} vs ${show(y)}`);
      }
      // Methods of Tunnel instances.
      if (k === 'Tunnel') {
        for (const m of ['open', 'on', 'emit', 'close', 'isClosed', 'isConnecting', 'isActive', 'isReconnecting']) {
          if (typeof b.prototype[m] !== 'function') diffs.push(`Tunnel#${m} missing`);
        }
      }
    } else if (a !== b) {
      diffs.push(`${k}: ${show(a)} vs ${show(b)}`);
    }
  }
  return diffs;
}
