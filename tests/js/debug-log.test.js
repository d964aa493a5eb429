// The debug log (`qcloud.setLogger`): one line per protocol step, secrets masked, off by
// default.
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const path = require('path');
const { waitFor } = require('./sim/fake-wx');
const { ROOT, bowerInstall, remove } = require('./sim/install');
const { MAGIC, loadSdk } = require('./sim/sdk');

const LOGIN_URL = 'https://example.com/login';
const SERVICE_URL = 'https://example.com/tunnel';
const SECRETS = { code: 'CODE-9f8e7d', encryptedData: 'ENCRYPTED-5a4b3c', iv: 'IV-77x', skey: 'SKEY-0123456789abcdef' };

let dir;
before(() => { dir = bowerInstall(path.join(ROOT, 'pkg')); });
after(() => remove(dir));

/** A fake wx whose login yields the secrets above; the tunnel endpoint refuses the first session once. */
function handlers() {
  let tunnelCalls = 0;
  return {
    login: () => ({ code: SECRETS.code }),
    getUserInfo: () => ({ userInfo: { nickName: 'u' }, encryptedData: SECRETS.encryptedData, iv: SECRETS.iv }),
    request: (o) => {
      if (o.url === LOGIN_URL) return { statusCode: 200, data: { [MAGIC]: 1, session: { id: 'sid-1', skey: SECRETS.skey } } };
      if (o.url === SERVICE_URL) {
        tunnelCalls++;
        return tunnelCalls === 1
          ? { statusCode: 200, data: { [MAGIC]: 1, error: 'ERR_INVALID_SESSION', message: 'expired' } }
          : { statusCode: 200, data: { url: 'wss://ws.example.com/t/' + tunnelCalls } };
      }
      return { statusCode: 200, data: { ok: 1 } };
    },
  };
}

async function run(qcloud, fake) {
  qcloud.setLoginUrl(LOGIN_URL);
  await qcloud.login();
  await qcloud.request({ url: 'https://example.com/api', header: { 'X-Custom': '1' } });
  const tunnel = new qcloud.Tunnel(SERVICE_URL);
  const speaks = [];
  tunnel.on('speak', (c) => speaks.push(c));
  tunnel.open();
  await waitFor(() => fake.sockets.length === 1, 2000, 'socket');
  const socket = fake.lastSocket();
  socket.open();
  tunnel.emit('speak', { word: 'hi' });
  socket.message('timeout:0.5');
  socket.message('pong');
  socket.message('message:' + JSON.stringify({ type: 'speak', content: { word: 'yo' } }));
  socket.drop();
  await waitFor(() => tunnel.status === 'ACTIVE' || fake.sockets.length === 2, 3000, 'reconnect try');
  tunnel.close();
  assert.deepEqual(JSON.parse(JSON.stringify(speaks)), [{ word: 'yo' }]);
}

test('every protocol step is logged, and no secret ever is', async (t) => {
  const env = await loadSdk(t, dir, { handlers: handlers() });
  env.qcloud.Tunnel.RECONNECT_TIME_INCREASE = 5;
  const lines = [];
  env.qcloud.setLogger((line) => lines.push(line));
  await run(env.qcloud, env.fake);
  const log = lines.join('\n');
  for (const step of [
    'login #0: wx.login', 'login #0: wx.getUserInfo', 'login #0: GET https://example.com/login',
    'X-WX-Code: ***', 'X-WX-Encrypted-Data: ***', 'X-WX-IV: ***', ': ok',
    'request 2: send {X-WX-Id: sid-1, X-WX-Skey: ***}',
    'tunnel #1: service URL request: GET https://example.com/tunnel', '(retry after a re-login)', 'tunnel #1: CLOSED -> CONNECTING',
    'tunnel #1: connect socket 1 to wss://ws.example.com/t/', 'tunnel #1: CONNECTING -> ACTIVE',
    'tunnel #1: event connect', 'tunnel #1: frame out: message', 'tunnel #1: frame in: timeout (500 ms)',
    'tunnel #1: frame out: ping', 'tunnel #1: frame in: pong', 'tunnel #1: frame in: message speak',
    'tunnel #1: ACTIVE -> RECONNECTING', 'tunnel #1: reconnect try 1 in 5 ms', 'tunnel #1: event close',
  ]) {
    assert.ok(log.includes(step), `the log has "${step}":\n${log}`);
  }
  for (const line of lines) assert.ok(line.startsWith('[qcloud] '), line);
  for (const [name, secret] of Object.entries(SECRETS)) {
    assert.ok(!log.includes(secret), `the ${name} never appears in the log`);
  }
  // The secrets did go where they belong.
  assert.equal(env.fake.calls.request.find((o) => o.url === 'https://example.com/api').header['X-WX-Skey'], SECRETS.skey);
});

test('an object logger (console, wx.getRealtimeLogManager()) gets info(); null turns the log off', async (t) => {
  const env = await loadSdk(t, dir, { handlers: handlers() });
  const infos = [];
  env.qcloud.setLogger({ info: (line) => infos.push(line), warn() {}, error() {} });
  env.qcloud.setLoginUrl(LOGIN_URL);
  await env.qcloud.login();
  assert.ok(infos.some((l) => l.includes('wx.login')), infos.join('\n'));
  env.qcloud.setLogger(null);
  const before = infos.length;
  await env.qcloud.request({ url: 'https://example.com/api' });
  assert.equal(infos.length, before, 'nothing logged once off');
});

test('off by default: nothing is logged, and a logger that throws never breaks the SDK', async (t) => {
  const env = await loadSdk(t, dir, { handlers: handlers() });
  env.qcloud.setLoginUrl(LOGIN_URL);
  await env.qcloud.login();
  env.qcloud.setLogger(() => { throw new Error('logger down'); });
  const res = await env.qcloud.request({ url: 'https://example.com/api' });
  assert.deepEqual(JSON.parse(JSON.stringify(res.data)), { ok: 1 });
});
