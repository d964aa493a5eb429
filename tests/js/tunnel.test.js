// The tunnel through the public API (new Tunnel, open, on/off, emit, close, status), in the
// simulated mini-program runtime with a fake wx and its SocketTasks.
'use strict';
const { test, describe, before, after } = require('node:test');
const assert = require('node:assert/strict');
const path = require('path');
const { ROOT, bowerInstall, remove } = require('./sim/install');
const { MAGIC, loadSdk, plain } = require('./sim/sdk');

const SERVICE_URL = 'https://example.com/tunnel';
const LOGIN_URL = 'https://example.com/login';
const ONE_TUNNEL = '当前有未关闭的信道，请先关闭之前的信道，再打开新信道';

let dir;
before(() => { dir = bowerInstall(path.join(ROOT, 'pkg')); });
after(() => remove(dir));

const isLogin = (o) => o.url === LOGIN_URL;
const urlRequests = (fake) => fake.calls.request.filter((o) => o.url === SERVICE_URL);
const wsUrl = (n) => 'wss://ws.example.com/tunnel/' + n;

/**
 * Loads the SDK on a simulated clock (`env.clock`) with a tunnel service: `srv.answer(o, n)`
 * answers the n-th service-URL request (default: v1 `{url}` with a new URL each time);
 * logins get v1 session n. Tunnel.RECONNECT_TIME_INCREASE is 5 ms unless `step` says otherwise.
 */
async function setup(t, { step = 5, tries, handlers = {} } = {}) {
  const srv = {
    n: 0,
    logins: 0,
    answer: (o, n) => ({ statusCode: 200, data: { url: wsUrl(n) } }),
  };
  srv.handlers = Object.assign({
    request: (o) => (isLogin(o)
      ? { statusCode: 200, data: { [MAGIC]: 1, session: { id: 'id-' + ++srv.logins, skey: 'skey-' + srv.logins } } }
      : srv.answer(o, ++srv.n)),
  }, handlers);
  const env = await loadSdk(t, dir, { clock: true, handlers: srv.handlers });
  env.srv = srv;
  env.Tunnel = env.qcloud.Tunnel;
  env.Tunnel.RECONNECT_TIME_INCREASE = step;
  if (tries !== undefined) env.Tunnel.MAX_RECONNECT_TRY_TIMES = tries;
  return env;
}

/** Records the tunnel's own events as strings (`error:CODE`). */
function record(tunnel) {
  const events = [];
  for (const name of ['connect', 'close', 'reconnecting', 'reconnect', 'error']) {
    tunnel.on(name, (p) => events.push(name === 'error' ? 'error:' + p.code : name));
  }
  return events;
}

/** Lets the fake's clock run until socket number `n` (1-based) is created; returns it. */
async function socketNo(fake, n) {
  await fake.clock.waitFor(() => fake.sockets.length >= n, 2000, 'socket ' + n);
  assert.equal(fake.sockets.length, n, 'exactly ' + n + ' sockets');
  return fake.sockets[n - 1];
}

/** open() and open the first socket: the tunnel is ACTIVE. Returns the socket. */
async function connect(env, tunnel) {
  tunnel.open();
  const socket = await socketNo(env.fake, 1);
  socket.open();
  assert.equal(tunnel.status, 'ACTIVE');
  return socket;
}

/** Collects the payload of every event `type` of a tunnel. */
function collect(tunnel, type) {
  const got = [];
  tunnel.on(type, (p) => got.push(p));
  return got;
}

describe('opening', () => {
  test('open → GET serviceUrl with the session headers → wx.connectSocket(url) → connect, ACTIVE', async (t) => {
    const env = await setup(t);
    env.qcloud.Session.set({ id: 'sid', skey: 'sk' });
    const tunnel = new env.Tunnel(SERVICE_URL);
    const events = record(tunnel);
    assert.equal(tunnel.serviceUrl, SERVICE_URL);
    assert.equal(tunnel.status, 'CLOSED');
    assert.ok(tunnel.isClosed());
    tunnel.open();
    assert.equal(tunnel.status, 'CONNECTING');
    assert.ok(tunnel.isConnecting());
    const socket = await socketNo(env.fake, 1);
    const [req] = urlRequests(env.fake);
    assert.equal(req.method, 'GET');
    assert.deepEqual(plain(req.header), { 'X-WX-Id': 'sid', 'X-WX-Skey': 'sk' });
    assert.equal(socket.url, wsUrl(1));
    assert.equal(tunnel.socketUrl, wsUrl(1));
    assert.equal(tunnel.status, 'CONNECTING', 'not active before the socket opens');
    assert.deepEqual(events, []);
    socket.open();
    assert.deepEqual(events, ['connect']);
    assert.equal(tunnel.status, 'ACTIVE');
    assert.ok(tunnel.isActive() && !tunnel.isConnecting() && !tunnel.isClosed() && !tunnel.isReconnecting());
  });

  test('with a login URL and no session, open() does not log in first: the URL request goes without a session, as in the original', async (t) => {
    const env = await setup(t);
    env.qcloud.setLoginUrl(LOGIN_URL);
    const tunnel = new env.Tunnel(SERVICE_URL);
    tunnel.open();
    await socketNo(env.fake, 1);
    assert.equal(env.fake.calls.login, 0);
    assert.deepEqual(plain(urlRequests(env.fake)[0].header), {});
  });

  test('a session the page wrote to storage is sent; when refused, one login and one retry with the new session', async (t) => {
    const env = await setup(t);
    env.qcloud.setLoginUrl(LOGIN_URL);
    env.fake.storage.set('weapp_session_' + MAGIC, { id: 'page', skey: 'page', userInfo: {} });
    env.srv.answer = (o, n) => (n === 1
      ? { statusCode: 200, data: { [MAGIC]: 1, error: 'ERR_INVALID_SESSION', message: '' } }
      : { statusCode: 200, data: { url: wsUrl(n) } });
    const tunnel = new env.Tunnel(SERVICE_URL);
    tunnel.open();
    const socket = await socketNo(env.fake, 1);
    assert.equal(socket.url, wsUrl(2));
    assert.equal(env.fake.calls.login, 1, 'one wx.login');
    assert.equal(env.fake.calls.request.filter(isLogin).length, 1, 'one login request');
    assert.deepEqual(urlRequests(env.fake).map((o) => o.header['X-WX-Skey']), ['page', 'skey-1']);
  });

  test('the service-URL request re-logs in once on an invalid session', async (t) => {
    const env = await setup(t);
    env.qcloud.setLoginUrl(LOGIN_URL);
    env.qcloud.Session.set({ id: 'old', skey: 'old' });
    env.srv.answer = (o, n) => (n === 1
      ? { statusCode: 200, data: { [MAGIC]: 1, error: 'ERR_INVALID_SESSION', message: '' } }
      : { statusCode: 200, data: { url: wsUrl(n) } });
    const tunnel = new env.Tunnel(SERVICE_URL);
    tunnel.open();
    const socket = await socketNo(env.fake, 1);
    assert.equal(socket.url, wsUrl(2));
    assert.deepEqual(urlRequests(env.fake).map((o) => o.header['X-WX-Skey']), ['old', 'skey-1']);
  });

  for (const [name, answer] of [
    ['v1 {url}, statusCode 200', { statusCode: 200, data: { url: 'wss://v1.example.com/a' } }],
    ['v1 {url}, statusCode "200"', { statusCode: '200', data: { url: 'wss://v1.example.com/a' } }],
    ['v2 {code:0, data:{connectUrl}}, statusCode 200', { statusCode: 200, data: { code: 0, data: { tunnelId: 't1', connectUrl: 'wss://v1.example.com/a' } } }],
    ['v2 {code:0, data:{connectUrl}}, statusCode "200"', { statusCode: '200', data: { code: 0, data: { tunnelId: 't1', connectUrl: 'wss://v1.example.com/a' } } }],
  ]) {
    test(`service answer ${name} → wx.connectSocket(that url)`, async (t) => {
      const env = await setup(t);
      env.srv.answer = () => answer;
      const tunnel = new env.Tunnel(SERVICE_URL);
      tunnel.open();
      const socket = await socketNo(env.fake, 1);
      assert.equal(socket.url, 'wss://v1.example.com/a');
      assert.equal(env.fake.calls.connectSocket[0].url, 'wss://v1.example.com/a');
    });
  }

  test('a second open() while opening does nothing', async (t) => {
    const env = await setup(t);
    const tunnel = new env.Tunnel(SERVICE_URL);
    tunnel.open();
    tunnel.open();
    const socket = await socketNo(env.fake, 1);
    tunnel.open();
    socket.open();
    tunnel.open();
    await env.clock.advance(20);
    assert.equal(urlRequests(env.fake).length, 1);
    assert.equal(env.fake.sockets.length, 1);
    assert.equal(tunnel.status, 'ACTIVE');
  });

  test('emits queued before open are flushed in order before connect listeners run', async (t) => {
    const env = await setup(t);
    const tunnel = new env.Tunnel(SERVICE_URL);
    tunnel.emit('first', 1);
    tunnel.open();
    tunnel.emit('second', { word: 'hi' });
    tunnel.emit('third');
    let sentAtConnect = null;
    tunnel.on('connect', () => { sentAtConnect = env.fake.lastSocket().sent.slice(); });
    const socket = await socketNo(env.fake, 1);
    assert.deepEqual(socket.sent, [], 'nothing is sent before the socket opens');
    socket.open();
    assert.deepEqual(sentAtConnect, [
      'message:{"type":"first","content":1}',
      'message:{"type":"second","content":{"word":"hi"}}',
      'message:{"type":"third"}',
    ]);
    tunnel.emit('fourth', 4);
    assert.deepEqual(socket.sent.slice(3), ['message:{"type":"fourth","content":4}'], 'active: sent at once');
  });

  test('emit encodes exactly message:{"type":T,"content":C}, no content key when undefined', async (t) => {
    const env = await setup(t);
    const tunnel = new env.Tunnel(SERVICE_URL);
    const socket = await connect(env, tunnel);
    const cases = [
      [['speak', { word: '你好 "quoted" \\ \n', n: 1.5, list: [1, null, true] }]],
      [['t', undefined], 'message:{"type":"t"}'],
      [['t'], 'message:{"type":"t"}'],
      [['t', null], 'message:{"type":"t","content":null}'],
      [['t', 0], 'message:{"type":"t","content":0}'],
      [['t', false], 'message:{"type":"t","content":false}'],
      [['t', ''], 'message:{"type":"t","content":""}'],
      [['a:b', 'c:d'], 'message:{"type":"a:b","content":"c:d"}'],
    ];
    for (const [args, expected] of cases) {
      const before = socket.sent.length;
      tunnel.emit(...args);
      const want = expected || 'message:' + JSON.stringify({ type: args[0], content: args[1] });
      assert.deepEqual(socket.sent.slice(before), [want]);
    }
  });

  test('emit of content JSON cannot encode throws and sends nothing; the tunnel goes on', async (t) => {
    const env = await setup(t);
    const tunnel = new env.Tunnel(SERVICE_URL);
    const socket = await connect(env, tunnel);
    const cyclic = {};
    cyclic.self = cyclic;
    assert.throws(() => tunnel.emit('bad', cyclic));
    tunnel.emit('good', 1);
    assert.deepEqual(socket.sent, ['message:{"type":"good","content":1}']);
  });

  test('a Tunnel built before the SDK is ready queues its calls and then works', async (t) => {
    const { createMiniProgram } = require('./sim/miniprogram');
    const { createFakeWx } = require('./sim/fake-wx');
    const { createClock } = require('./sim/clock');
    const clock = createClock();
    const fake = createFakeWx({ request: () => ({ statusCode: 200, data: { url: wsUrl(1) } }) }, { clock });
    const mp = createMiniProgram(dir, { wx: fake.wx });
    t.after(() => { mp.dispose(); clock.dispose(); });
    const qcloud = mp.require('/bower_components/qcloud-weapp-client-sdk/index.js');
    qcloud.init({ clock });
    const tunnel = new qcloud.Tunnel(SERVICE_URL);
    const events = record(tunnel);
    tunnel.emit('early', 1);
    tunnel.open();
    assert.equal(tunnel.status, 'CLOSED');
    await qcloud.ready; // loading is real work, not time: the calls made meanwhile run now
    const socket = await socketNo(fake, 1);
    socket.open();
    assert.deepEqual(events, ['connect']);
    assert.deepEqual(socket.sent, ['message:{"type":"early","content":1}']);
    tunnel.close();
    assert.equal(tunnel.status, 'CLOSED');
  });
});

describe('inbound messages', () => {
  test('message frames reach the listeners of their type with the content', async (t) => {
    const env = await setup(t);
    const tunnel = new env.Tunnel(SERVICE_URL);
    const speak = collect(tunnel, 'speak');
    const people = collect(tunnel, 'people');
    const socket = await connect(env, tunnel);
    socket.message('message:{"type":"speak","content":{"who":{"nickName":"甲"},"word":"a:b:c"}}');
    socket.message('message:{"type":"people","content":{"total":2}}');
    socket.message('message:{"type":"speak"}');
    assert.equal(speak.length, 2);
    assert.deepEqual(plain(speak[0]), { who: { nickName: '甲' }, word: 'a:b:c' });
    assert.equal(speak[1], undefined, 'no content: undefined');
    assert.deepEqual(plain(people), [{ total: 2 }]);
  });

  test('server messages named like tunnel events arrive as @type', async (t) => {
    const env = await setup(t);
    const tunnel = new env.Tunnel(SERVICE_URL);
    const events = record(tunnel);
    const got = [];
    for (const name of ['connect', 'close', 'reconnecting', 'reconnect', 'error']) {
      tunnel.on('@' + name, (c) => got.push([name, c]));
    }
    const socket = await connect(env, tunnel);
    for (const name of ['connect', 'close', 'reconnecting', 'reconnect', 'error']) {
      socket.message(`message:{"type":"${name}","content":"${name}!"}`);
    }
    assert.deepEqual(got, [['connect', 'connect!'], ['close', 'close!'], ['reconnecting', 'reconnecting!'],
      ['reconnect', 'reconnect!'], ['error', 'error!']]);
    assert.deepEqual(events, ['connect'], 'none of them fired a tunnel event');
    assert.equal(tunnel.status, 'ACTIVE');
  });

  test("'*' gets (type, payload) of everything; listeners run in registration order; off removes", async (t) => {
    const env = await setup(t);
    const tunnel = new env.Tunnel(SERVICE_URL);
    const order = [];
    const all = [];
    const a = (c) => order.push(['a', c]);
    const b = (c) => order.push(['b', c]);
    tunnel.on('m', a);
    tunnel.on('*', (type, payload) => { all.push([type, payload]); order.push(['*', type]); });
    tunnel.on('m', b);
    tunnel.on('m', 'not a function');
    tunnel.on('m', null);
    const socket = await connect(env, tunnel);
    socket.message('message:{"type":"m","content":1}');
    assert.deepEqual(order, [['*', 'connect'], ['a', 1], ['*', 'm'], ['b', 1]]);
    assert.deepEqual(all, [['connect', undefined], ['m', 1]]);
    tunnel.off('m', a);
    socket.message('message:{"type":"m","content":2}');
    assert.deepEqual(order.slice(4), [['*', 'm'], ['b', 2]]);
    tunnel.off('m');
    socket.message('message:{"type":"m","content":3}');
    assert.deepEqual(order.slice(6), [['*', 'm']]);
  });

  test('a listener added or removed while dispatching takes effect from the next event', async (t) => {
    const env = await setup(t);
    const tunnel = new env.Tunnel(SERVICE_URL);
    const got = [];
    const late = (c) => got.push(['late', c]);
    const second = (c) => got.push(['second', c]);
    tunnel.on('m', (c) => { got.push(['first', c]); tunnel.on('m', late); tunnel.off('m', second); });
    tunnel.on('m', second);
    const socket = await connect(env, tunnel);
    socket.message('message:{"type":"m","content":1}');
    socket.message('message:{"type":"m","content":2}');
    assert.deepEqual(got.slice(0, 3), [['first', 1], ['second', 1], ['first', 2]]);
    assert.ok(!got.some(([n, c]) => n === 'second' && c === 2));
    assert.ok(got.some(([n, c]) => n === 'late' && c === 2));
  });

  test('a throwing listener does not stop the others; an error event 5001 reports it', async (t) => {
    const env = await setup(t);
    const tunnel = new env.Tunnel(SERVICE_URL);
    const errors = collect(tunnel, 'error');
    const got = [];
    const boom = new Error('listener bug');
    tunnel.on('m', () => { throw boom; });
    tunnel.on('m', (c) => got.push(c));
    const socket = await connect(env, tunnel);
    socket.message('message:{"type":"m","content":1}');
    assert.deepEqual(got, [1]);
    assert.equal(errors.length, 1);
    assert.equal(errors[0].code, 5001);
    assert.equal(errors[0].detail, boom);
    assert.equal(tunnel.status, 'ACTIVE');
    // A throwing error listener does not loop.
    tunnel.on('error', () => { throw new Error('error listener bug'); });
    socket.message('message:{"type":"m","content":2}');
    assert.deepEqual(got, [1, 2]);
    assert.equal(errors.length, 2);
    socket.message('message:{"type":"m","content":3}');
    assert.deepEqual(got, [1, 2, 3], 'still delivering');
  });

  test('invalid frames are dropped: bad JSON, no type, non-string type, binary, unknown frame types', async (t) => {
    const env = await setup(t);
    const tunnel = new env.Tunnel(SERVICE_URL);
    const events = record(tunnel);
    const all = [];
    tunnel.on('*', (type, p) => all.push(type));
    const ok = collect(tunnel, 'ok');
    const socket = await connect(env, tunnel);
    for (const frame of [
      'message:{"type":"ok",',
      'message:not json',
      'message:',
      'message',
      'message:{"content":1}',
      'message:{"type":1,"content":1}',
      'message:{"type":null}',
      'message:null',
      'message:[1,2]',
      'message:"ok"',
      'hello:world',
      'ping',
      '',
      new ArrayBuffer(8),
      new Uint8Array([109, 101, 115]).buffer,
      undefined,
    ]) socket.message(frame);
    socket.message('message:{"type":"ok","content":true}');
    assert.deepEqual(ok, [true]);
    assert.deepEqual(all, ['connect', 'ok']);
    assert.deepEqual(events, ['connect']);
    assert.equal(tunnel.status, 'ACTIVE');
    assert.deepEqual(socket.sent, [], 'nothing answered');
  });

  test('a 1 MB frame is delivered whole', async (t) => {
    const env = await setup(t);
    const tunnel = new env.Tunnel(SERVICE_URL);
    const big = collect(tunnel, 'big');
    const socket = await connect(env, tunnel);
    const text = '数据'.repeat(1 << 19);
    socket.message('message:' + JSON.stringify({ type: 'big', content: { text } }));
    assert.equal(big.length, 1);
    assert.equal(big[0].text, text);
    socket.message('message:' + JSON.stringify({ type: 'big', content: 'x'.repeat(1 << 20) }));
    assert.equal(big[1].length, 1 << 20);
  });

  test('a close frame from the server closes the tunnel (close event, socket closed, no reconnect)', async (t) => {
    const env = await setup(t);
    const tunnel = new env.Tunnel(SERVICE_URL);
    const events = record(tunnel);
    const socket = await connect(env, tunnel);
    socket.message('close');
    assert.equal(tunnel.status, 'CLOSED');
    assert.deepEqual(events, ['connect', 'close']);
    assert.ok(socket.closed, 'the SDK closed its socket');
    await env.clock.advance(30);
    assert.deepEqual(events, ['connect', 'close']);
    assert.equal(urlRequests(env.fake).length, 1);
    // A new tunnel can be opened.
    const next = new env.Tunnel(SERVICE_URL);
    next.open();
    await socketNo(env.fake, 2);
  });
});

describe('first connection failures', () => {
  for (const [name, answer] of [
    ['a network failure', { fail: { errMsg: 'request:fail' } }],
    ['HTTP 500', { statusCode: 500, data: { url: 'wss://x' } }],
    ['HTTP "404"', { statusCode: '404', data: '' }],
    ['a body without url', { statusCode: 200, data: { error: 'no tunnel' } }],
    ['v2 code != 0', { statusCode: 200, data: { code: 1, data: { connectUrl: 'wss://x' } } }],
    ['a non-JSON body', { statusCode: 200, data: '<html>' }],
    ['url: 42', { statusCode: 200, data: { url: 42 } }],
  ]) {
    test(`URL request failure (${name}) → CLOSED, error 1001, no socket`, async (t) => {
      const env = await setup(t);
      env.srv.answer = () => answer;
      const tunnel = new env.Tunnel(SERVICE_URL);
      const events = record(tunnel);
      const errors = collect(tunnel, 'error');
      tunnel.open();
      await env.clock.waitFor(() => events.length > 0, 2000, 'an event');
      await env.clock.advance(20);
      assert.deepEqual(events, ['error:1001']);
      assert.equal(errors[0].code, env.Tunnel.ERR_CONNECT_SERVICE);
      assert.equal(typeof errors[0].message, 'string');
      assert.ok(errors[0].detail, 'detail says why');
      assert.equal(tunnel.status, 'CLOSED');
      assert.equal(env.fake.sockets.length, 0);
      assert.equal(urlRequests(env.fake).length, 1, 'no retry on the first connection');
      new env.Tunnel(SERVICE_URL); // not stuck: a new tunnel may be created
    });
  }

  for (const [name, fail] of [['error', (s) => s.error({ errMsg: 'connectSocket:fail' })], ['close', (s) => s.drop()]]) {
    test(`socket ${name} while connecting → CLOSED + error 3001`, async (t) => {
      const env = await setup(t);
      const tunnel = new env.Tunnel(SERVICE_URL);
      const events = record(tunnel);
      tunnel.open();
      const socket = await socketNo(env.fake, 1);
      fail(socket);
      assert.equal(tunnel.status, 'CLOSED');
      assert.deepEqual(events, ['error:3001']);
      await env.clock.advance(30);
      assert.deepEqual(events, ['error:3001']);
      assert.equal(urlRequests(env.fake).length, 1);
      assert.equal(env.fake.sockets.length, 1);
      new env.Tunnel(SERVICE_URL);
    });
  }

  test('wx.connectSocket throwing → CLOSED + error 3001', async (t) => {
    const env = await setup(t);
    env.fake.wx.connectSocket = () => { throw new Error('too many sockets'); };
    const tunnel = new env.Tunnel(SERVICE_URL);
    const events = record(tunnel);
    tunnel.open();
    await env.clock.waitFor(() => events.length > 0);
    assert.deepEqual(events, ['error:3001']);
    assert.equal(tunnel.status, 'CLOSED');
  });
});

describe('reconnecting', () => {
  test('the active socket drops → reconnecting, a NEW URL, a new socket, reconnect; emits in between are kept', async (t) => {
    const env = await setup(t);
    const tunnel = new env.Tunnel(SERVICE_URL);
    const events = record(tunnel);
    const first = await connect(env, tunnel);
    first.drop();
    assert.deepEqual(events, ['connect', 'reconnecting']);
    assert.equal(tunnel.status, 'RECONNECTING');
    assert.ok(tunnel.isReconnecting());
    tunnel.emit('while', 'away');
    const second = await socketNo(env.fake, 2);
    assert.equal(urlRequests(env.fake).length, 2);
    assert.equal(second.url, wsUrl(2), 'a new URL for the new connection');
    assert.equal(tunnel.socketUrl, wsUrl(2));
    let sentAtReconnect = null;
    tunnel.on('reconnect', () => { sentAtReconnect = second.sent.slice(); });
    second.open();
    assert.deepEqual(events, ['connect', 'reconnecting', 'reconnect']);
    assert.deepEqual(sentAtReconnect, ['message:{"type":"while","content":"away"}']);
    assert.equal(tunnel.status, 'ACTIVE');
    assert.deepEqual(first.sent, []);
  });

  test('a socket error while active reconnects too', async (t) => {
    const env = await setup(t);
    const tunnel = new env.Tunnel(SERVICE_URL);
    const events = record(tunnel);
    const first = await connect(env, tunnel);
    first.error();
    assert.deepEqual(events, ['connect', 'reconnecting']);
    (await socketNo(env.fake, 2)).open();
    assert.deepEqual(events, ['connect', 'reconnecting', 'reconnect']);
  });

  test('the wait before each try grows by RECONNECT_TIME_INCREASE', async (t) => {
    const env = await setup(t, { step: 40, tries: 3 });
    const times = [];
    env.srv.answer = (o, n) => { times.push(env.clock.now()); return n === 1 ? { statusCode: 200, data: { url: wsUrl(1) } } : { statusCode: 500 }; };
    const tunnel = new env.Tunnel(SERVICE_URL);
    const events = record(tunnel);
    const socket = await connect(env, tunnel);
    const dropped = env.clock.now();
    socket.drop();
    await env.clock.waitFor(() => events.includes('error:2001'), 3000, 'giving up');
    assert.equal(times.length, 4);
    // Tries at +40, then +80 and +120 after each failure (the failures answer at once).
    assert.equal(times[1] - dropped, 40, 'first try after 40 ms');
    assert.equal(times[2] - times[1], 80, 'second after 80 ms');
    assert.equal(times[3] - times[2], 120, 'third after 120 ms');
  });

  test(`gives up after MAX_RECONNECT_TRY_TIMES failed tries: close, then error 2001, nothing after`, async (t) => {
    const env = await setup(t, { tries: 3 });
    env.srv.answer = (o, n) => (n === 1 ? { statusCode: 200, data: { url: wsUrl(1) } } : { fail: { errMsg: 'request:fail' } });
    const tunnel = new env.Tunnel(SERVICE_URL);
    const events = record(tunnel);
    const errors = collect(tunnel, 'error');
    const socket = await connect(env, tunnel);
    socket.drop();
    await env.clock.waitFor(() => events.includes('error:2001'), 3000, 'giving up');
    assert.deepEqual(events, ['connect', 'reconnecting', 'close', 'error:2001']);
    assert.equal(errors[0].code, env.Tunnel.ERR_RECONNECT);
    assert.equal(urlRequests(env.fake).length, 1 + 3);
    assert.equal(tunnel.status, 'CLOSED');
    await env.clock.advance(100);
    assert.deepEqual(events, ['connect', 'reconnecting', 'close', 'error:2001'], 'no spurious reconnecting');
    assert.equal(urlRequests(env.fake).length, 4);
    assert.equal(env.fake.sockets.length, 1);
    new env.Tunnel(SERVICE_URL);
  });

  for (const [name, fail] of [
    ['errors', (task) => task.error({ errMsg: 'connect fail' })],
    ['closes', (task) => task.drop()],
  ]) {
    test(`a reconnect socket that ${name} before opening counts as a failed try; the tunnel ends CLOSED`, async (t) => {
      const env = await setup(t, { tries: 3 });
      const tunnel = new env.Tunnel(SERVICE_URL);
      const events = record(tunnel);
      const socket = await connect(env, tunnel);
      env.fake.handlers.connectSocket = fail;
      socket.drop();
      await env.clock.waitFor(() => events.includes('error:2001'), 3000, 'giving up');
      assert.deepEqual(events, ['connect', 'reconnecting', 'close', 'error:2001']);
      assert.equal(urlRequests(env.fake).length, 1 + 3);
      assert.equal(env.fake.sockets.length, 1 + 3);
      assert.equal(tunnel.status, 'CLOSED');
      await env.clock.advance(50);
      assert.equal(tunnel.status, 'CLOSED');
      assert.equal(env.fake.sockets.length, 4);
      env.fake.handlers.connectSocket = null;
      const next = new env.Tunnel(SERVICE_URL);
      next.open();
      (await socketNo(env.fake, 5)).open();
      assert.equal(next.status, 'ACTIVE');
    });
  }

  test('a successful reconnect resets the try count', async (t) => {
    const env = await setup(t, { tries: 2 });
    const tunnel = new env.Tunnel(SERVICE_URL);
    const events = record(tunnel);
    const s1 = await connect(env, tunnel);
    env.srv.answer = (o, n) => (n === 2 ? { fail: { errMsg: 'request:fail' } } : { statusCode: 200, data: { url: wsUrl(n) } });
    s1.drop();
    const s2 = await socketNo(env.fake, 2); // try 1 failed (URL), try 2 got a socket
    s2.open();
    assert.deepEqual(events, ['connect', 'reconnecting', 'reconnect']);
    env.srv.answer = (o, n) => (n === 4 ? { fail: { errMsg: 'request:fail' } } : { statusCode: 200, data: { url: wsUrl(n) } });
    s2.drop();
    const s3 = await socketNo(env.fake, 3);
    s3.open();
    assert.deepEqual(events, ['connect', 'reconnecting', 'reconnect', 'reconnecting', 'reconnect']);
  });

  test('only one SocketTask at a time, and events of stale SocketTasks are ignored', async (t) => {
    const env = await setup(t, { tries: 3 });
    const overlaps = [];
    const connectSocket = env.fake.wx.connectSocket;
    env.fake.wx.connectSocket = (o) => {
      const open = env.fake.sockets.filter((s) => !s.closed);
      if (open.length) overlaps.push(open.map((s) => s.url));
      return connectSocket(o);
    };
    const tunnel = new env.Tunnel(SERVICE_URL);
    const events = record(tunnel);
    const got = collect(tunnel, 'm');
    const s1 = await connect(env, tunnel);
    s1.message('message:{"type":"m","content":1}');
    s1.error(); // → reconnect; s1 is closed by the SDK
    assert.ok(s1.closed, 'the old socket is closed before a new one is made');
    const s2 = await socketNo(env.fake, 2);
    // s2 fails before opening (a failed try); s3 opens.
    s2.error();
    assert.ok(s2.closed);
    const s3 = await socketNo(env.fake, 3);
    s3.open();
    assert.deepEqual(events, ['connect', 'reconnecting', 'reconnect']);
    // Stale SocketTasks: nothing they do reaches the tunnel.
    for (const stale of [s1, s2]) {
      stale.open();
      stale.message('message:{"type":"m","content":"stale"}');
      stale.message('close');
      stale.error();
      stale.drop();
    }
    await env.clock.advance(30);
    assert.deepEqual(got, [1]);
    assert.deepEqual(events, ['connect', 'reconnecting', 'reconnect']);
    assert.equal(tunnel.status, 'ACTIVE');
    assert.equal(env.fake.sockets.length, 3);
    assert.deepEqual(overlaps, []);
    s3.message('message:{"type":"m","content":3}');
    assert.deepEqual(got, [1, 3]);
    tunnel.close();
    assert.ok(s3.closed);
    assert.ok(env.fake.sockets.every((s) => s.closed));
  });

  test('close() while reconnecting stops it for good', async (t) => {
    const env = await setup(t, { step: 30 });
    const tunnel = new env.Tunnel(SERVICE_URL);
    const events = record(tunnel);
    const socket = await connect(env, tunnel);
    socket.drop();
    tunnel.close();
    assert.equal(tunnel.status, 'CLOSED');
    await env.clock.advance(120);
    assert.deepEqual(events, ['connect', 'reconnecting', 'close']);
    assert.equal(urlRequests(env.fake).length, 1);
    assert.equal(env.fake.sockets.length, 1);
  });

  test('close() while the URL request runs: its late answer opens no socket', async (t) => {
    const env = await setup(t);
    let answer;
    env.srv.answer = () => new Promise((r) => { answer = r; });
    const tunnel = new env.Tunnel(SERVICE_URL);
    const events = record(tunnel);
    tunnel.open();
    await env.clock.waitFor(() => answer);
    tunnel.close();
    assert.deepEqual(events, ['close']);
    answer({ statusCode: 200, data: { url: wsUrl(1) } });
    await env.clock.advance(30);
    assert.equal(env.fake.sockets.length, 0);
    assert.equal(tunnel.status, 'CLOSED');
    assert.deepEqual(events, ['close']);
  });
});

describe('one open tunnel at a time', () => {
  test('new Tunnel while another is not CLOSED throws; after close() a new one works', async (t) => {
    const env = await setup(t);
    const a = new env.Tunnel(SERVICE_URL);
    a.open();
    assert.throws(() => new env.Tunnel(SERVICE_URL), (e) => Object.prototype.toString.call(e) === '[object Error]' && e.message === ONE_TUNNEL);
    const socket = await socketNo(env.fake, 1);
    socket.open();
    assert.throws(() => new env.Tunnel(SERVICE_URL), { message: ONE_TUNNEL });
    socket.drop();
    assert.equal(a.status, 'RECONNECTING');
    assert.throws(() => new env.Tunnel(SERVICE_URL), { message: ONE_TUNNEL });
    a.close();
    const c = new env.Tunnel(SERVICE_URL);
    const events = record(c);
    c.open();
    (await socketNo(env.fake, 2)).open();
    assert.deepEqual(events, ['connect']);
    assert.equal(a.status, 'CLOSED', 'the old tunnel stays closed');
  });

  test('a closed Tunnel stays usable after another Tunnel was created', async (t) => {
    const env = await setup(t);
    const a = new env.Tunnel(SERVICE_URL);
    const aEvents = record(a);
    const b = new env.Tunnel(SERVICE_URL); // `a` is CLOSED: allowed
    const bEvents = record(b);
    assert.equal(b.status, 'CLOSED');
    a.emit('queued', 1);
    a.open();
    assert.equal(a.status, 'CONNECTING');
    const s1 = await socketNo(env.fake, 1);
    s1.open();
    assert.deepEqual(aEvents, ['connect']);
    assert.deepEqual(s1.sent, ['message:{"type":"queued","content":1}']);
    // While `a` is open, `b` may not open a second channel.
    b.open();
    await env.clock.advance(30);
    assert.equal(env.fake.sockets.length, 1);
    assert.equal(b.status, 'CLOSED');
    assert.ok(bEvents.length > 0 && bEvents.every((e) => e === 'error:1001'), 'b was told: ' + bEvents);
    a.close();
    b.open();
    (await socketNo(env.fake, 2)).open();
    assert.equal(b.status, 'ACTIVE');
    assert.ok(bEvents.includes('connect'));
    b.close();
    // And `a` again, after `b`.
    a.open();
    (await socketNo(env.fake, 3)).open();
    assert.equal(a.status, 'ACTIVE');
    assert.deepEqual(aEvents, ['connect', 'close', 'connect']);
  });

  test('new Tunnel with a serviceUrl that is not a string throws', async (t) => {
    const env = await setup(t);
    for (const bad of [undefined, null, 42, {}]) assert.throws(() => new env.Tunnel(bad));
    const ok = new env.Tunnel(SERVICE_URL);
    ok.open();
    await socketNo(env.fake, 1);
  });

  test('a closed tunnel can be opened again', async (t) => {
    const env = await setup(t);
    const tunnel = new env.Tunnel(SERVICE_URL);
    const events = record(tunnel);
    await connect(env, tunnel);
    tunnel.close();
    tunnel.open();
    (await socketNo(env.fake, 2)).open();
    assert.deepEqual(events, ['connect', 'close', 'connect']);
    assert.equal(tunnel.status, 'ACTIVE');
  });
});

describe('close, queue and send failures', () => {
  test('close() when active sends close, closes the socket, CLOSED, close event', async (t) => {
    const env = await setup(t);
    const tunnel = new env.Tunnel(SERVICE_URL);
    const events = record(tunnel);
    const socket = await connect(env, tunnel);
    tunnel.emit('bye', 1);
    tunnel.close();
    assert.deepEqual(socket.sent, ['message:{"type":"bye","content":1}', 'close']);
    assert.ok(socket.closed);
    assert.equal(tunnel.status, 'CLOSED');
    assert.deepEqual(events, ['connect', 'close']);
    tunnel.close();
    await env.clock.advance(20);
    assert.deepEqual(events, ['connect', 'close'], 'a second close() does nothing');
    assert.deepEqual(socket.sent, ['message:{"type":"bye","content":1}', 'close']);
  });

  test('packets still queued at close() are reported in error 4002 with their {type, content}', async (t) => {
    const env = await setup(t);
    const tunnel = new env.Tunnel(SERVICE_URL);
    const events = record(tunnel);
    const errors = collect(tunnel, 'error');
    tunnel.open();
    tunnel.emit('a', { n: 1 });
    tunnel.emit('b');
    tunnel.close();
    assert.equal(tunnel.status, 'CLOSED');
    assert.deepEqual(events.slice().sort(), ['close', 'error:4002']);
    assert.equal(errors[0].code, env.Tunnel.ERR_UNSENT);
    assert.deepEqual(plain(errors[0].detail), [{ type: 'a', content: { n: 1 } }, { type: 'b' }]);
    await env.clock.advance(20);
    assert.equal(env.fake.sockets.length, 0);
  });

  test('queue overflow (maxQueue: 2) → error 4001 with the refused packet; the queued ones are sent', async (t) => {
    const env = await setup(t);
    const tunnel = new env.Tunnel(SERVICE_URL, { maxQueue: 2 });
    const errors = collect(tunnel, 'error');
    tunnel.emit('a', 1);
    tunnel.emit('b', 2);
    tunnel.emit('c', 3);
    assert.equal(errors.length, 1);
    assert.equal(errors[0].code, env.Tunnel.ERR_QUEUE_FULL);
    assert.deepEqual(plain(errors[0].detail), { type: 'c', content: 3 });
    const socket = await connect(env, tunnel);
    assert.deepEqual(socket.sent, ['message:{"type":"a","content":1}', 'message:{"type":"b","content":2}']);
    tunnel.emit('d', 4);
    tunnel.emit('e', 5);
    tunnel.emit('f', 6);
    assert.equal(errors.length, 1, 'no limit while active');
    assert.equal(socket.sent.length, 5);
  });

  test('a send failure while active requeues the packet, reconnects, and sends it on the new socket', async (t) => {
    const env = await setup(t);
    const tunnel = new env.Tunnel(SERVICE_URL);
    const events = record(tunnel);
    const first = await connect(env, tunnel);
    first.failSends = true;
    tunnel.emit('precious', { n: 1 });
    tunnel.emit('second', 2);
    await env.clock.waitFor(() => events.includes('reconnecting'), 2000, 'reconnecting');
    assert.ok(first.closed);
    const second = await socketNo(env.fake, 2);
    tunnel.emit('third', 3);
    second.open();
    assert.deepEqual(events, ['connect', 'reconnecting', 'reconnect']);
    assert.deepEqual(second.sent, [
      'message:{"type":"precious","content":{"n":1}}',
      'message:{"type":"second","content":2}',
      'message:{"type":"third","content":3}',
    ]);
  });

  test('a send that fails after close() is reported as unsent (error 4002)', async (t) => {
    const env = await setup(t);
    const tunnel = new env.Tunnel(SERVICE_URL);
    const errors = collect(tunnel, 'error');
    const socket = await connect(env, tunnel);
    socket.failSends = true;
    tunnel.emit('last', 1);
    tunnel.close();
    await env.clock.waitFor(() => errors.length > 0, 2000, 'error 4002');
    assert.equal(errors[0].code, 4002);
    assert.deepEqual(plain(errors[0].detail), [{ type: 'last', content: 1 }]);
  });

  test('listeners may call emit/close on the tunnel while it dispatches', async (t) => {
    const env = await setup(t);
    const tunnel = new env.Tunnel(SERVICE_URL);
    const events = record(tunnel);
    tunnel.on('connect', () => tunnel.emit('hello', 'from connect'));
    tunnel.on('bye', () => tunnel.close());
    const socket = await connect(env, tunnel);
    assert.deepEqual(socket.sent, ['message:{"type":"hello","content":"from connect"}']);
    socket.message('message:{"type":"bye"}');
    assert.equal(tunnel.status, 'CLOSED');
    assert.deepEqual(events, ['connect', 'close']);
    assert.equal(socket.sent[socket.sent.length - 1], 'close');
  });
});

describe('network and heartbeat', () => {
  test('offline burns no tries; back online it reconnects at once', async (t) => {
    const env = await setup(t, { tries: 2 });
    const tunnel = new env.Tunnel(SERVICE_URL);
    const events = record(tunnel);
    const socket = await connect(env, tunnel);
    env.fake.setOnline(false);
    socket.drop();
    await env.clock.advance(150); // 2 tries would take 5 + 10 ms
    assert.equal(tunnel.status, 'RECONNECTING');
    assert.deepEqual(events, ['connect', 'reconnecting']);
    assert.equal(urlRequests(env.fake).length, 1, 'no URL request while offline');
    env.fake.setOnline(true);
    (await socketNo(env.fake, 2)).open();
    assert.deepEqual(events, ['connect', 'reconnecting', 'reconnect']);
  });

  test('back online, the next try runs at once instead of waiting', async (t) => {
    const env = await setup(t, { step: 60000 });
    const tunnel = new env.Tunnel(SERVICE_URL);
    const socket = await connect(env, tunnel);
    env.fake.setOnline(false);
    socket.drop();
    await env.clock.advance(20);
    assert.equal(urlRequests(env.fake).length, 1);
    env.fake.setOnline(true);
    assert.equal(urlRequests(env.fake).length, 2, 'the URL request starts right away');
    (await socketNo(env.fake, 2)).open();
    assert.equal(tunnel.status, 'ACTIVE');
  });

  test('{heartbeat: 1000}: ping about every second; answered pongs keep the tunnel up', async (t) => {
    const env = await setup(t);
    const tunnel = new env.Tunnel(SERVICE_URL, { heartbeat: 1000 });
    const events = record(tunnel);
    const socket = await connect(env, tunnel);
    const pings = () => socket.sent.filter((f) => f === 'ping').length;
    await env.clock.advance(999);
    assert.equal(pings(), 0, 'not before the interval');
    await env.clock.advance(1);
    assert.equal(pings(), 1, 'first ping one interval after connect');
    socket.message('pong');
    await env.clock.advance(999);
    assert.equal(pings(), 1, 'not before the next interval');
    await env.clock.advance(1);
    assert.equal(pings(), 2, 'second ping one interval after the first');
    socket.message('pong');
    assert.deepEqual(events, ['connect']);
    assert.equal(tunnel.status, 'ACTIVE');
    tunnel.close();
  });

  test('a timeout:1 frame pings at once; a missing pong triggers a reconnect', async (t) => {
    const env = await setup(t);
    const tunnel = new env.Tunnel(SERVICE_URL);
    const events = record(tunnel);
    const socket = await connect(env, tunnel);
    socket.message('timeout:1');
    assert.deepEqual(socket.sent, ['ping']);
    await env.clock.advance(999);
    assert.deepEqual(events, ['connect'], 'waits one interval for the pong');
    assert.ok(!socket.closed);
    await env.clock.advance(1);
    assert.deepEqual(events, ['connect', 'reconnecting'], 'reconnects when the pong is a full interval late');
    assert.ok(socket.closed);
    (await socketNo(env.fake, 2)).open();
    assert.deepEqual(events, ['connect', 'reconnecting', 'reconnect']);
    tunnel.close();
  });

  test('exponential backoff option: waits double from RECONNECT_TIME_INCREASE', async (t) => {
    const env = await setup(t, { step: 10, tries: 4 });
    const times = [];
    env.srv.answer = (o, n) => { times.push(env.clock.now()); return n === 1 ? { statusCode: 200, data: { url: wsUrl(1) } } : { statusCode: 500 }; };
    const tunnel = new env.Tunnel(SERVICE_URL, { backoff: 'exponential', jitter: false, backoffCap: 100000 });
    const events = record(tunnel);
    const socket = await connect(env, tunnel);
    const dropped = env.clock.now();
    socket.drop();
    await env.clock.waitFor(() => events.includes('error:2001'), 3000, 'giving up');
    assert.equal(times.length, 5);
    const gaps = [times[1] - dropped, times[2] - times[1], times[3] - times[2], times[4] - times[3]];
    // 10, 20, 40, 80 ms (linear would be 10, 20, 30, 40).
    assert.deepEqual(gaps, [10, 20, 40, 80]);
  });

  test('exponential backoff with jitter stays within [d/2, d] and gives up as usual', async (t) => {
    const env = await setup(t, { step: 40, tries: 2 });
    const times = [];
    env.srv.answer = (o, n) => { times.push(env.clock.now()); return n === 1 ? { statusCode: 200, data: { url: wsUrl(1) } } : { statusCode: 500 }; };
    const tunnel = new env.Tunnel(SERVICE_URL, { backoff: 'exponential' });
    const events = record(tunnel);
    const socket = await connect(env, tunnel);
    const dropped = env.clock.now();
    socket.drop();
    await env.clock.waitFor(() => events.includes('error:2001'), 3000, 'giving up');
    assert.equal(times.length, 3);
    const first = times[1] - dropped;
    const second = times[2] - times[1];
    assert.ok(first >= 20 && first <= 40, 'first try waits between half of 40 ms and 40 ms: ' + first);
    assert.ok(second >= 40 && second <= 80, 'second try waits between half of 80 ms and 80 ms: ' + second);
  });
});

describe('the simulated clock', () => {
  test('given qcloud.init({clock}), login deadlines, heartbeats, reconnect waits and open deadlines all run on it', async (t) => {
    const env = await setup(t);
    env.qcloud.setLoginUrl(LOGIN_URL);
    const request = env.fake.handlers.request;
    env.fake.handlers.request = (o) => (isLogin(o) ? 'hang' : request(o));
    const late = env.qcloud.login({ timeout: 100 }).then(() => 'ok', (e) => e.type);
    await env.clock.advance(100);
    assert.equal(await late, 'ERR_LOGIN_TIMEOUT');
    env.fake.handlers.request = request;
    await env.qcloud.login();
    const tunnel = new env.Tunnel(SERVICE_URL, { heartbeat: 50, openTimeout: 200 });
    const events = record(tunnel);
    const s1 = await connect(env, tunnel);
    await env.clock.advance(50);
    assert.deepEqual(s1.sent, ['ping']);
    await env.clock.advance(50); // no pong
    assert.deepEqual(events, ['connect', 'reconnecting']);
    await socketNo(env.fake, 2); // after 5 ms; it never opens
    const opened = env.clock.now();
    const s3 = await socketNo(env.fake, 3);
    assert.equal(env.clock.now() - opened, 200 + 10, 'the open deadline, then the second try\'s wait');
    s3.open();
    assert.deepEqual(events, ['connect', 'reconnecting', 'reconnect']);
    tunnel.close();
    // Nothing used the runtime's own setTimeout/setInterval or Date.now.
    assert.deepEqual(env.runtime, { timers: 0, dateNow: 0 });
  });
});

describe('the resume extension (docs/RESUME.md), through the package', () => {
  /** Opens a tunnel (options `opts`) to ACTIVE on socket 1. */
  async function active(t, opts) {
    const env = await setup(t);
    const tunnel = new env.Tunnel(SERVICE_URL, opts);
    const events = record(tunnel);
    const got = [];
    tunnel.on('speak', (p) => got.push(p));
    tunnel.open();
    const socket = await socketNo(env.fake, 1);
    socket.open();
    return { env, tunnel, events, got, socket };
  }

  test('announced first by default; `resume: false` leaves it out (frames exactly as the original)', async (t) => {
    const on = await active(t);
    on.tunnel.emit('speak', 1);
    assert.deepEqual(on.socket.frames, ['resumable:1', 'message:{"type":"speak","content":1}']);
    on.tunnel.close();
    const off = await active(t, { resume: false });
    off.tunnel.emit('speak', 1);
    assert.deepEqual(off.socket.frames, ['message:{"type":"speak","content":1}']);
    off.tunnel.close();
  });

  test('with a token: a dropped socket resumes on the same URL (no URL request), replays what the service lacks, acks every 32 messages', async (t) => {
    const { env, tunnel, events, got, socket } = await active(t);
    socket.message('resume-token:30:tok-1');
    for (let i = 0; i < 33; i++) socket.message(`message:{"type":"speak","content":${i}}`);
    assert.deepEqual(socket.extension, ['resumable:1', 'ack:32']);
    tunnel.emit('speak', 'a');
    tunnel.emit('speak', 'b');
    socket.message('ack:1');
    socket.drop();
    assert.equal(tunnel.status, 'RECONNECTING');
    tunnel.emit('speak', 'c');
    const resume = await socketNo(env.fake, 2);
    assert.equal(resume.url, wsUrl(1) + '?resume');
    assert.equal(urlRequests(env.fake).length, 1, 'no new tunnel-URL request');
    resume.open();
    assert.deepEqual(resume.frames, ['resume:33:tok-1']);
    assert.equal(tunnel.status, 'RECONNECTING', 'not active before resumed');
    resume.message('resumed:1');
    assert.deepEqual(resume.sent, ['message:{"type":"speak","content":"b"}', 'message:{"type":"speak","content":"c"}']);
    assert.equal(tunnel.status, 'ACTIVE');
    assert.equal(tunnel.socketUrl, wsUrl(1));
    assert.deepEqual(events, ['connect', 'reconnecting', 'reconnect']);
    resume.message('message:{"type":"speak","content":"after"}');
    assert.equal(got.length, 34);
    assert.equal(got[33], 'after');
    tunnel.close();
  });

  test('a refused resume opens a new tunnel and writes the unacknowledged messages again, before the queued ones', async (t) => {
    const { env, tunnel, events, socket } = await active(t);
    socket.message('resume-token:30:tok-1');
    tunnel.emit('speak', 'a');
    socket.drop();
    tunnel.emit('speak', 'b');
    const resume = await socketNo(env.fake, 2);
    resume.open();
    resume.message('resume-refused');
    const fresh = await socketNo(env.fake, 3);
    assert.equal(fresh.url, wsUrl(2));
    assert.equal(urlRequests(env.fake).length, 2);
    fresh.open();
    assert.deepEqual(fresh.frames, ['resumable:1', 'message:{"type":"speak","content":"a"}', 'message:{"type":"speak","content":"b"}']);
    assert.deepEqual(events, ['connect', 'reconnecting', 'reconnect']);
    tunnel.close();
  });
});
