// Re-entrancy and robustness: SDK calls made from listeners and callbacks keep events in
// order, a closed tunnel keeps what it still has to report, control frames are never
// requeued as packets, a throwing getter in options cannot break the wasm instance, the
// stored session is followed, connectSocket's `fail` counts, and a server type `*`
// reaches `*` listeners as (type, payload).
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const path = require('path');
const { ROOT, bowerInstall, remove } = require('./sim/install');
const { MAGIC, SESSION_KEY, loadSdk, plain } = require('./sim/sdk');

const SERVICE_URL = 'https://example.com/tunnel';
const LOGIN_URL = 'https://example.com/login';
const API_URL = 'https://example.com/api';

let dir;
before(() => { dir = bowerInstall(path.join(ROOT, 'pkg')); });
after(() => remove(dir));

/** The SDK on a simulated clock with a tunnel service giving a new URL per request and v1 logins. */
async function setup(t, handlers = {}) {
  let n = 0;
  let logins = 0;
  const env = await loadSdk(t, dir, {
    clock: true,
    handlers: Object.assign({
      request: (o) => (o.url === LOGIN_URL
        ? { statusCode: 200, data: { [MAGIC]: 1, session: { id: 'id-' + ++logins, skey: 'skey-' + logins } } }
        : o.url === API_URL
          ? { statusCode: 200, data: { header: o.header } }
          : { statusCode: 200, data: { url: 'wss://ws.example.com/' + ++n } }),
    }, handlers),
  });
  env.qcloud.Tunnel.RECONNECT_TIME_INCREASE = 5;
  return env;
}

async function active(env, tunnel) {
  const before = env.fake.sockets.length;
  tunnel.open();
  await env.clock.waitFor(() => env.fake.sockets.length > before, 2000, 'a socket');
  env.fake.lastSocket().open();
  assert.equal(tunnel.status, 'ACTIVE');
  return env.fake.lastSocket();
}

test('a listener that emits while giving up: every close listener runs before the error', async (t) => {
  const env = await setup(t);
  env.qcloud.Tunnel.MAX_RECONNECT_TRY_TIMES = 0;
  const tunnel = new env.qcloud.Tunnel(SERVICE_URL);
  const log = [];
  tunnel.on('close', () => { log.push('L1 close'); tunnel.emit('bye', 1); });
  tunnel.on('close', () => log.push('L2 close'));
  tunnel.on('error', (e) => log.push('error ' + e.code));
  const socket = await active(env, tunnel);
  socket.drop();
  await env.clock.waitFor(() => log.some((l) => l.startsWith('error 2001')), 2000, 'error 2001');
  assert.deepEqual(log.slice(0, 3), ['L1 close', 'L2 close', 'error 2001']);
});

test('a callback that makes a request runs its own complete before the next callback', async (t) => {
  const env = await setup(t);
  env.qcloud.setLoginUrl(LOGIN_URL);
  const log = [];
  await new Promise((resolve) => {
    let done = 0;
    const finish = () => { if (++done === 2) resolve(); };
    env.qcloud.request({ url: API_URL, login: true,
      success: () => { log.push('a success'); env.qcloud.request({ url: API_URL, complete: finish }); },
      complete: () => { log.push('a complete'); finish(); } });
    env.qcloud.request({ url: API_URL, login: true, success: () => log.push('b success') });
  });
  await env.clock.advance(10);
  assert.deepEqual(log.slice(0, 2), ['a success', 'a complete']);
});

test('creating a tunnel in a close listener does not lose the old one\'s error 2001', async (t) => {
  const env = await setup(t);
  env.qcloud.Tunnel.MAX_RECONNECT_TRY_TIMES = 0;
  const tunnel = new env.qcloud.Tunnel(SERVICE_URL);
  const errors = [];
  let next = null;
  tunnel.on('close', () => { next = new env.qcloud.Tunnel(SERVICE_URL); });
  tunnel.on('error', (e) => errors.push(e.code));
  const socket = await active(env, tunnel);
  socket.drop();
  await env.clock.waitFor(() => errors.length > 0, 2000, 'error 2001');
  assert.deepEqual(errors, [2001]);
  assert.ok(next, 'the new tunnel was created');
});

test('packets emitted to a closed tunnel survive another tunnel\'s creation and go out on open', async (t) => {
  const env = await setup(t);
  const first = new env.qcloud.Tunnel(SERVICE_URL);
  first.emit('kept', 1);
  const second = new env.qcloud.Tunnel(SERVICE_URL);
  assert.equal(second.status, 'CLOSED');
  const socket = await active(env, first);
  assert.deepEqual(socket.sent, ['message:{"type":"kept","content":1}']);
});

test('a failing send of a control frame is not requeued as a packet', async (t) => {
  const env = await setup(t);
  const tunnel = new env.qcloud.Tunnel(SERVICE_URL);
  const errors = [];
  tunnel.on('error', (e) => errors.push(e));
  const socket = await active(env, tunnel);
  socket.failSends = true;
  tunnel.close();
  await env.clock.advance(20);
  assert.deepEqual(errors, [], 'no 4002 for the close frame');
  const again = await active(env, tunnel);
  assert.ok(!again.sent.includes('close'), 'the close frame is not sent on the next socket');
});

test('throwing getters in request options fail the call, and the SDK keeps working', async (t) => {
  const env = await setup(t);
  const hostile = {};
  Object.defineProperty(hostile, 'url', { enumerable: true, get() { return API_URL; } });
  Object.defineProperty(hostile, 'dataType', { enumerable: true, get() { throw new Error('getter'); } });
  for (let i = 0; i < 5000; i++) {
    const err = await env.qcloud.request(hostile).then(() => null, (e) => e);
    assert.ok(err && err.type === 'ERR_REQUEST_FAILED' && /getter/.test(err.detail.errMsg), 'typed failure ' + i);
  }
  const res = await env.qcloud.request({ url: API_URL });
  assert.equal(res.statusCode, 200);
});

test('a session removed from storage by the page is not sent any more', async (t) => {
  const env = await setup(t);
  env.qcloud.setLoginUrl(LOGIN_URL);
  await env.qcloud.login();
  let res = await env.qcloud.request({ url: API_URL });
  assert.equal(res.data.header['X-WX-Skey'], 'skey-1');
  env.fake.wx.removeStorageSync(SESSION_KEY); // e.g. wx.clearStorageSync() on logout
  res = await env.qcloud.request({ url: API_URL });
  assert.equal(res.data.header['X-WX-Skey'], undefined);
  assert.deepEqual(plain(env.qcloud.buildSessionHeader()), {});
  // A session written by another copy of the SDK is picked up.
  env.fake.wx.setStorageSync(SESSION_KEY, { id: 'other', skey: 'skey-other', userInfo: {} });
  res = await env.qcloud.request({ url: API_URL });
  assert.equal(res.data.header['X-WX-Skey'], 'skey-other');
});

test('wx.connectSocket reporting through fail ends the first connection with 3001', async (t) => {
  const env = await setup(t);
  env.fake.wx.connectSocket = (o) => { env.fake.later(() => o.fail({ errMsg: 'connectSocket:fail url not in domain list' })); };
  const tunnel = new env.qcloud.Tunnel(SERVICE_URL);
  const errors = [];
  tunnel.on('error', (e) => errors.push(e.code));
  tunnel.open();
  await env.clock.waitFor(() => errors.length > 0, 2000, 'an error');
  assert.deepEqual(errors, [3001]);
  assert.equal(tunnel.status, 'CLOSED');
});

test('a server message of type "*" reaches a `*` listener as (type, payload)', async (t) => {
  const env = await setup(t);
  const tunnel = new env.qcloud.Tunnel(SERVICE_URL);
  const got = [];
  tunnel.on('*', (type, payload) => got.push([type, payload]));
  const socket = await active(env, tunnel);
  socket.message('message:{"type":"*","content":7}');
  assert.deepEqual(got.filter((g) => g[0] === '*'), [['*', 7]]);
});
