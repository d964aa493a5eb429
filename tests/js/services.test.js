// The self-hosted Wafer services (target/debug/wafer-services) against the REAL server SDKs
// from npm, unchanged: a v1 business server written with qcloud-weapp-server-sdk 0.8.2
// (AuthServerUrl and TunnelServerUrl pointing at the binary), the tunnel API of
// wafer-node-sdk 1.4.5 (lib/tunnel), a local fake of WeChat's code2Session producing real
// AES-128-CBC user info, and mini-program clients running our built package (pkg/) in the
// simulated runtime over the real loopback network.
//
//   cargo build -p wafer-services && script/build   # once
//   node --test tests/js/services.test.js
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('fs');
const os = require('os');
const path = require('path');
const WebSocket = require('ws');
const {
  APPID, SECRET, KEY, KEY2, skip, sleep, sessionKeyOf, md5, sha1, until, listen, readBody, startFakeWechat, startServices,
  metric, startBusiness, configureV1, startClient, removeInstalled,
} = require('./sim/services-world');


test('wafer-services with the real server SDKs and our package', { skip, timeout: 120000 }, async (t) => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'wafer-services-'));
  t.after(() => fs.rmSync(dataDir, { recursive: true, force: true }));
  t.after(removeInstalled);
  const wechat = await startFakeWechat();
  t.after(() => wechat.close());
  const business = await startBusiness();
  t.after(() => business.close());
  // The wafer2 business server's callback receiver (filled in by its subtest).
  const wafer2Packets = [];
  let wafer2OnBody = null;
  const wafer2 = await listen(async (req, res) => {
    const body = JSON.parse(await readBody(req));
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ code: 0, message: 'ok' }));
    if (wafer2OnBody) wafer2OnBody(body);
  });
  t.after(() => wafer2.close());

  const services = await startServices([
    '--app', `127.0.0.1=${KEY}`, '--app', `localhost=${KEY2}`,
    '--callback', `127.0.0.1=${business.url}`, '--callback', `localhost=${wafer2.url}`,
    '--wechat-appid', APPID, '--wechat-secret', SECRET, '--wechat-api', wechat.url,
    '--heartbeat', '2', '--data', dataDir,
  ]);
  t.after(() => services.stop());
  assert.match(services.readyLine, /^wafer-services ready: TunnelServerUrl=http:\/\/127\.0\.0\.1:\d+ .*AuthServerUrl=http:\/\/127\.0\.0\.1:\d+\/mina_auth\//);
  configureV1(business.sdk, services);

  await t.test('login through the session service, then a checked request', async (t) => {
    const c = await startClient(t, business, 'oAlice', '爱丽丝');
    await c.login();
    assert.equal(c.net.calls.login, 1);
    assert.deepEqual(wechat.calls.slice(-1), ['code:oAlice:1']);
    const res = await c.request(business.url + '/user');
    assert.equal(res.statusCode, 200);
    assert.equal(res.data.code, 0);
    assert.equal(res.data.data.nickName, '爱丽丝', 'the user info the session service decrypted');
    assert.equal(res.data.data.openId, 'oAlice');
    assert.equal(res.data.data.watermark.appid, APPID);
    assert.equal(c.net.calls.login, 1, 'the session was reused');
    const m = await services.metrics();
    assert.equal(metric(m, 'wafer_logins_total{code="0"}'), 1);
    assert.equal(metric(m, 'wafer_auth_checks_total{code="0"}'), 1);
  });

  await t.test('two clients chat through the tunnel service; heartbeat; a dropped socket reconnects', async (t) => {
    const a = await startClient(t, business, 'oAlice', '爱丽丝');
    const b = await startClient(t, business, 'oBob', '鲍勃');
    // As the original demo does: log in, then open the tunnel (a tunnel GET without a
    // session fails with ERR_CHECK_LOGIN_FAILED and no retry, as in the original).
    await a.login();
    await b.login();
    a.open();
    await until('A connected', () => a.tunnel.status === 'ACTIVE' && a.events('people').length === 1);
    assert.deepEqual(a.events('people')[0].payload, { total: 1, enter: a.events('people')[0].payload.enter });
    assert.equal(a.events('people')[0].payload.enter.nickName, '爱丽丝');
    b.open();
    await until('B connected', () => b.events('people').length === 1 && a.events('people').length === 2);
    assert.equal(a.events('people')[1].payload.total, 2);
    assert.equal(a.events('people')[1].payload.enter.nickName, '鲍勃');
    assert.match(a.tunnel.socketUrl, new RegExp('^' + services.url.replace(/^http/, 'ws') + '/socket/[0-9a-f]{32}$'));

    a.tunnel.emit('speak', { word: '你好，鲍勃' });
    await until('B hears A', () => b.events('speak').length === 1);
    assert.deepEqual({ who: b.events('speak')[0].payload.who.nickName, word: b.events('speak')[0].payload.word }, { who: '爱丽丝', word: '你好，鲍勃' });
    await until('A hears itself', () => a.events('speak').length === 1);
    const said = business.events.find((e) => e.type === 'message');
    assert.deepEqual({ type: said.messageType, content: said.content }, { type: 'speak', content: { word: '你好，鲍勃' } });

    // Heartbeat: the service sent timeout:2 and drops a socket silent for 4 s; the
    // clients ping every 2 s, so both stay connected (the client default is 15 s).
    const before = metric(await services.metrics(), 'wafer_frames_in_total');
    await sleep(5000);
    assert.equal(a.tunnel.status, 'ACTIVE');
    assert.equal(b.tunnel.status, 'ACTIVE');
    assert.equal(a.events('reconnecting').length + b.events('reconnecting').length, 0);
    const m = await services.metrics();
    assert.ok(metric(m, 'wafer_frames_in_total') - before >= 4, 'pings arrived');
    assert.equal(metric(m, 'wafer_tunnels_open'), 2);

    // A's socket drops: the tunnel resumes (docs/RESUME.md): the same tunnel id, no
    // close or connect at the business server, so the room never sees A leave; the chat
    // goes on, and a word B says while A is away reaches A after the resume.
    const oldId = business.events.filter((e) => e.type === 'connect')[0].tunnelId;
    const urlBefore = a.tunnel.socketUrl;
    for (const ws of a.net.sockets) ws.terminate();
    await until('A reconnects', () => a.events('reconnect').length === 1 && a.tunnel.status === 'ACTIVE');
    assert.equal(a.events('reconnecting').length, 1);
    assert.equal(a.tunnel.socketUrl, urlBefore, 'the same tunnel');
    b.tunnel.emit('speak', { word: '欢迎回来' });
    await until('A hears B after the resume', () => a.events('speak').some((e) => e.payload.word === '欢迎回来'));
    assert.ok(!b.events('people').some((e) => e.payload.leave), 'B never saw A leave');
    assert.equal(business.events.filter((e) => e.tunnelId === oldId && (e.type === 'close' || e.type === 'connect')).length, 1,
      'one connect, no close');
    assert.equal(metric(await services.metrics(), 'wafer_resumes_accepted_total'), 1);

    // Server-side close: the business server closes B's tunnel.
    const bId = [...business.room].find((id) => business.users.get(id).nickName === '鲍勃');
    await business.sdk.TunnelService.closeTunnel(bId);
    await until('B closed', () => b.tunnel.status === 'CLOSED' && b.events('close').length === 1);
    await until('the close callback', () => business.events.some((e) => e.type === 'close' && e.tunnelId === bId));

    a.tunnel.close();
    await until('every tunnel reported closed', async () => metric(await services.metrics(), 'wafer_tunnels_open') === 0
      && business.room.size === 0);
    const ids = new Set(business.events.filter((e) => e.type === 'connect').map((e) => e.tunnelId));
    assert.equal(ids.size, 2, 'A (resumed, the same id) and B');
    for (const id of ids) {
      assert.equal(business.events.filter((e) => e.type === 'close' && e.tunnelId === id).length, 1, 'close exactly once for ' + id);
    }
    assert.deepEqual(a.errors.concat(b.errors), []);
  });

  await t.test('forged, unsigned and misdirected tunnel API calls are refused', async (t) => {
    const post = async (p, body) => (await fetch(services.url + p, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) })).json();
    const data = JSON.stringify({ receiveUrl: 'http://127.0.0.1/tunnel', protocolType: 'wss' });
    const tcId = md5('127.0.0.1');
    const issued = metric(await services.metrics(), 'wafer_tunnels_issued_total');
    assert.notEqual((await post('/get/wsurl', { data, tcId, tcKey: 'guess', signature: sha1(data + 'guess') })).code, 0, 'wrong tcKey');
    assert.notEqual((await post('/get/wsurl', { data, tcId, tcKey: KEY })).code, 0, 'unsigned');
    assert.notEqual((await post('/get/wsurl', { data, tcId, tcKey: KEY, signature: sha1(data + 'guess') })).code, 0, 'forged signature');
    const evil = JSON.stringify({ receiveUrl: 'http://169.254.169.254/latest/meta-data', protocolType: 'wss' });
    const refused = await post('/get/wsurl', { data: evil, tcId, tcKey: KEY, signature: sha1(evil + KEY) });
    assert.notEqual(refused.code, 0, 'callbacks only to the host the tcId names');
    assert.match(refused.message, /host/);
    const push = JSON.stringify([{ tunnelIds: ['0'.repeat(32)], type: 'close' }]);
    assert.notEqual((await post('/ws/push', { data: push, tcId })).code, 0, 'unsigned push');
    assert.notEqual((await post('/ws/push', { data: push, tcId, signature: sha1(push + 'guess') })).code, 0, 'forged push');
    assert.equal(metric(await services.metrics(), 'wafer_tunnels_issued_total'), issued, 'nothing created');

    // Through the real SDK: a business server with the wrong key, and one on an
    // unregistered host, cannot get a tunnel; the client sees error 1001.
    for (const [what, overrides] of [['wrong key', { TunnelSignatureKey: 'not-the-key' }], ['unregistered host', { ServerHost: 'evil.example' }]]) {
      configureV1(business.sdk, services, overrides);
      try {
        const c = await startClient(t, business, 'oMallory', 'mallory');
        await c.login();
        c.open();
        await until(what + ': the tunnel fails', () => c.tunnel.status === 'CLOSED' && c.events('error').length === 1);
        assert.equal(c.events('error')[0].payload.code, 1001, what);
      } finally {
        configureV1(business.sdk, services);
      }
    }
    assert.equal(metric(await services.metrics(), 'wafer_tunnels_issued_total'), issued, 'nothing created');
  });

  await t.test('an expired session logs in again (login duration 1 s)', async (t) => {
    const short = await startServices([
      '--tunnel', 'false', '--wechat-appid', APPID, '--wechat-secret', SECRET, '--wechat-api', wechat.url,
      '--login-duration', '1', '--data', path.join(dataDir, 'short'),
    ]);
    t.after(() => short.stop());
    assert.doesNotMatch(short.readyLine, /TunnelServerUrl/);
    configureV1(business.sdk, services, { AuthServerUrl: short.url + '/mina_auth/' });
    t.after(() => configureV1(business.sdk, services));
    const c = await startClient(t, business, 'oCarol', '卡罗尔');
    assert.equal((await c.request(business.url + '/user')).data.data.nickName, '卡罗尔');
    assert.equal(c.net.calls.login, 1);
    await sleep(2100);
    const res = await c.request(business.url + '/user');
    assert.equal(res.data.data.nickName, '卡罗尔');
    assert.equal(c.net.calls.login, 2, 'ERR_INVALID_SESSION (60011) → logged in again, request retried');
    const m = await short.metrics();
    assert.equal(metric(m, 'wafer_auth_checks_total{code="60011"}'), 1);
    const stopped = await short.stop();
    assert.equal(stopped.code, 0);
  });

  await t.test('the tunnel API of wafer-node-sdk 1.4.5 (lib/tunnel)', async () => {
    const config = require('wafer-node-sdk/config');
    // lib/tunnel pulls in the SDK's auth module, which builds a (lazy) MySQL client.
    config.set({
      serverHost: 'localhost', tunnelServerUrl: services.url, tunnelSignatureKey: KEY2,
      mysql: { host: '127.0.0.1', port: 9, user: 'u', pass: 'p', db: 'd', char: 'utf8mb4' },
    });
    const tunnel = require('wafer-node-sdk/lib/tunnel');
    const api = require('wafer-node-sdk/lib/tunnel/api');
    const { receiveUrl } = require('wafer-node-sdk/lib/tunnel/service');
    const signature = require('wafer-node-sdk/lib/tunnel/signature');
    wafer2OnBody = (body) => tunnel.onTunnelMessage(body).then((p) => wafer2Packets.push(p), (e) => wafer2Packets.push({ error: e.message }));

    const url = receiveUrl('/weapp/tunnel');
    assert.equal(url, 'http://localhost/weapp/tunnel');
    const answer = await api.requestConnect(url);
    assert.equal(answer.code, 0);
    assert.ok(signature.check(answer.data, answer.signature), 'the answer is signed with the app key');
    const { tunnelId, connectUrl } = JSON.parse(answer.data);

    const ws = new WebSocket(connectUrl);
    const frames = [];
    ws.on('message', (d) => frames.push(d.toString('utf8')));
    await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
    await until('connect packet', () => wafer2Packets.length === 1);
    assert.deepEqual(wafer2Packets[0], { tunnelId, type: 'connect' });
    ws.send('message:' + JSON.stringify({ type: 'speak', content: { word: 'hi' } }));
    await until('message packet', () => wafer2Packets.length === 2);
    assert.deepEqual(wafer2Packets[1], { tunnelId, type: 'message', content: { messageType: 'speak', messageContent: { word: 'hi' } } });

    await tunnel.broadcast([tunnelId], 'speak', { who: 'server', word: 'hello' });
    await until('the pushed message', () => frames.some((f) => f.startsWith('message:')));
    assert.deepEqual(JSON.parse(frames.find((f) => f.startsWith('message:')).slice(8)), { type: 'speak', content: { who: 'server', word: 'hello' } });
    assert.equal(frames[0], 'timeout:2');

    const closed = new Promise((resolve) => ws.once('close', resolve));
    await tunnel.closeTunnel(tunnelId);
    await closed;
    assert.equal(frames[frames.length - 1], 'close');
    await until('close packet', () => wafer2Packets.length === 3);
    assert.deepEqual(wafer2Packets[2], { tunnelId, type: 'close' });
    // A receiveUrl on a host other than the app's own is refused (the SDK throws).
    await assert.rejects(api.requestConnect('http://127.0.0.1/weapp/tunnel'));
  });

  await t.test('graceful shutdown; no secret in the logs', async (t) => {
    const c = await startClient(t, business, 'oDave', '戴夫');
    await c.login();
    c.open();
    await until('connected', () => c.tunnel.status === 'ACTIVE' && c.events('people').length === 1);
    const closes = business.events.filter((e) => e.type === 'close').length;
    const result = await services.stop();
    assert.equal(result.code, 0);
    await until('the business server got close', () => business.events.filter((e) => e.type === 'close').length === closes + 1);
    await until('the client got close', () => c.tunnel.status === 'CLOSED' && c.events('close').length === 1);
    assert.equal(c.events('reconnecting').length, 0);
    const logs = services.stderr();
    assert.match(logs, /shutting down/);
    for (const secret of [SECRET, KEY, KEY2, sessionKeyOf('oAlice')]) assert.ok(!logs.includes(secret), 'secret in the logs');
  });
});
