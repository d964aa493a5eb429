// Resumable tunnels end to end (docs/RESUME.md, issue 13): our built package in the
// simulated mini-program runtime, wafer-services, and a v1 business server written with the
// real qcloud-weapp-server-sdk 0.8.2, with a fault-injecting proxy between the client's
// sockets and the service (the service's public URL is the proxy). All on 127.0.0.1.
//
//   cargo build -p wafer-services && script/build   # once
//   node --test tests/js/resume.test.js
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { startFaultProxy } = require('./sim/fault-proxy');
const {
  APPID, SECRET, KEY, skip, sleep, until, startFakeWechat, startServices, metric, startBusiness, configureV1,
  startClient, removeInstalled,
} = require('./sim/services-world');

const N = 1000;
const portOf = (url) => Number(new URL(url).port);

/**
 * The fake WeChat, the business server, wafer-services (extra `args`) whose public URL is a
 * fault proxy in front of it. Everything is stopped after test `t`.
 */
async function world(t, args = []) {
  const w = {};
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'wafer-resume-'));
  t.after(() => fs.rmSync(dataDir, { recursive: true, force: true }));
  w.wechat = await startFakeWechat();
  t.after(() => w.wechat.close());
  w.business = await startBusiness();
  t.after(() => w.business.close());
  // The proxy learns the service's port once it runs; until then it points nowhere.
  w.proxy = await startFaultProxy({ target: 9 });
  t.after(() => w.proxy.stop());
  w.services = await startServices([
    '--app', `127.0.0.1=${KEY}`, '--callback', `127.0.0.1=${w.business.url}`,
    '--wechat-appid', APPID, '--wechat-secret', SECRET, '--wechat-api', w.wechat.url,
    '--heartbeat', '2', '--data', dataDir, '--public-url', w.proxy.url.replace(/^http/, 'ws'),
    // A burst of 1,000 emits is over the default limits (50 frames/s per socket, 256
    // callbacks waiting per tunnel): both would end the tunnel, as they should.
    '--max-frames-per-sec', '100000', '--max-pending-callbacks', '10000', ...args,
  ]);
  t.after(() => w.services.stop());
  w.proxy.setTarget(portOf(w.services.url));
  configureV1(w.business.sdk, w.services);
  /** The business server's events of one tunnel. */
  w.of = (id, type) => w.business.events.filter((e) => e.tunnelId === id && (!type || e.type === type));
  return w;
}

/** Logs in, opens the tunnel, waits for the business server's `connect`; the tunnel id. */
async function connect(w, c) {
  await c.login();
  c.open();
  await until('connected', () => c.tunnel.status === 'ACTIVE' && c.events('people').length >= 1);
  return w.business.events.filter((e) => e.type === 'connect').slice(-1)[0].tunnelId;
}

test.after(removeInstalled);

test('a blip in the middle of 1,000 pushes and 1,000 emits: every message once, in order, the same tunnel, the business server undisturbed', { skip, timeout: 120000 }, async (t) => {
  const w = await world(t);
  const c = await startClient(t, w.business, 'oAlice', '爱丽丝');
  const id = await connect(w, c);
  const url = c.tunnel.socketUrl;
  const pushes = [];
  c.tunnel.on('push', (p) => pushes.push(p.n));
  const { TunnelService } = w.business.sdk;

  // Each step: the client emits, the business server pushes (a /ws/push call each). The
  // sockets are cut at step 300 (mid-burst: the emits queue, the pushes are kept by the
  // service during its grace period) and again at step 700, once the first resume is done.
  const invalid = [];
  for (let n = 0; n < N; n++) {
    if (n === 300) w.proxy.dropSockets();
    if (n === 700) {
      await until('the first resume', () => c.events('reconnect').length === 1);
      w.proxy.dropSockets();
    }
    c.tunnel.emit('count', { n });
    const r = await TunnelService.emit(id, 'push', { n });
    if (r && r.data && r.data.invalidTunnelIds && r.data.invalidTunnelIds.length) invalid.push(n);
  }
  try {
    await until('every emit at the business server', () => w.of(id, 'message').length >= N, 30000);
  } finally {
    if (process.env.SHOW) {
      const got = w.of(id, 'message').map((e) => e.content.n);
      console.log('emits', got.length, 'first gap', got.findIndex((n, i) => n !== i), 'pushes', pushes.length,
        'events', JSON.stringify(c.got.filter((e) => e.type !== 'people').map((e) => e.type)),
        'status', c.tunnel.status, 'ids', JSON.stringify(w.business.events.filter((e) => e.type !== 'message')));
      console.log(w.services.stderr().split('\n').slice(-30).join('\n'));
    }
  }
  await until('every push at the client', () => pushes.length >= N, 30000);
  await sleep(300); // anything doubled would show up now

  const got = w.of(id, 'message').map((e) => e.content.n);
  assert.deepEqual(got, [...Array(N).keys()], 'the business server got every emit once, in order');
  assert.deepEqual(pushes, [...Array(N).keys()], 'the client got every push once, in order');
  assert.deepEqual(invalid, [], '/ws/push answered the tunnel valid throughout');
  assert.equal(c.tunnel.socketUrl, url, 'the same tunnel id');
  assert.equal(w.of(id, 'connect').length, 1, 'one connect');
  assert.equal(w.of(id, 'close').length, 0, 'no close');
  assert.equal(w.business.events.filter((e) => e.type === 'connect').length, 1, 'no other tunnel');
  assert.ok(c.events('reconnecting').length >= 2, 'two blips seen');
  assert.equal(c.events('reconnect').length, c.events('reconnecting').length);
  assert.deepEqual(c.events('error'), []);
  assert.deepEqual(c.events('close'), []);
  const m = await w.services.metrics();
  assert.ok(metric(m, 'wafer_resumes_accepted_total') >= 2);
  assert.equal(w.proxy.count(new URL(url).pathname), 3, 'the first socket and two resume sockets, on the same URL');

  c.tunnel.close();
  await until('close once', () => w.of(id, 'close').length === 1);
  await sleep(100);
  assert.equal(w.of(id, 'close').length, 1);
  assert.deepEqual(c.errors, []);
});

test('the client does not come back within the grace period: close once; it then reconnects fully', { skip, timeout: 60000 }, async (t) => {
  const w = await world(t, ['--resume-grace', '2']);
  const c = await startClient(t, w.business, 'oAlice', '爱丽丝');
  const id = await connect(w, c);
  // Cut and refuse every connection for longer than the grace period.
  await w.proxy.refuse(true);
  await until('the business server hears close', () => w.of(id, 'close').length === 1, 10000);
  const pushed = await w.business.sdk.TunnelService.emit(id, 'push', { n: 1 });
  assert.deepEqual(pushed.data.invalidTunnelIds, [id], 'after the grace period the id is gone');
  await w.proxy.refuse(false);
  await until('a new tunnel', () => c.tunnel.status === 'ACTIVE' && w.business.events.filter((e) => e.type === 'connect').length === 2, 20000);
  await sleep(200);
  assert.equal(w.of(id, 'close').length, 1, 'close exactly once');
  const newId = w.business.events.filter((e) => e.type === 'connect')[1].tunnelId;
  assert.notEqual(newId, id);
  assert.equal(c.events('reconnect').length, 1);
  c.tunnel.emit('count', { n: 7 });
  await until('the new tunnel carries messages', () => w.of(newId, 'message').length === 1);
  assert.ok(metric(await w.services.metrics(), 'wafer_resume_grace_expired_total') >= 1);
});

test('the original client against our service: no extension frame reaches it; a drop is a new tunnel as before', { skip, timeout: 60000 }, async (t) => {
  const w = await world(t);
  const c = await startClient(t, w.business, 'oBob', '鲍勃', { original: true });
  const frames = [];
  const watch = (ws) => ws.on('message', (d) => frames.push(String(d)));
  const id = await connect(w, c);
  for (const ws of c.net.sockets) watch(ws);
  const pushes = [];
  c.tunnel.on('push', (p) => pushes.push(p.n));
  c.tunnel.emit('count', { n: 1 });
  await w.business.sdk.TunnelService.emit(id, 'push', { n: 1 });
  await until('the message arrived', () => w.of(id, 'message').length === 1);
  await until('the push arrived', () => pushes.length === 1);
  w.proxy.dropSockets();
  // The original reconnects with a new tunnel; the service ends the old one at once (no
  // token was issued: no grace period).
  await until('the old tunnel closed', () => w.of(id, 'close').length === 1, 10000);
  await until('a new tunnel', () => w.business.events.filter((e) => e.type === 'connect').length === 2, 15000);
  for (const ws of c.net.sockets) watch(ws);
  const newId = w.business.events.filter((e) => e.type === 'connect')[1].tunnelId;
  await w.business.sdk.TunnelService.emit(newId, 'push', { n: 2 });
  await until('the push on the new tunnel', () => pushes.length === 2);
  await sleep(300);
  assert.ok(frames.filter((f) => f.startsWith('message:')).length >= 2, frames.join('\n'));
  assert.deepEqual(frames.filter((f) => /^(resume|resumed|resume-token|resume-refused|ack)(:|$)/.test(f)), [],
    'no extension frame for a client that never announced');
  assert.equal(metric(await w.services.metrics(), 'wafer_resume_tokens_total'), 0);
  c.tunnel.close();
});

test('our client against a service with the extension off: the announce is ignored, a drop is a new tunnel as before', { skip, timeout: 60000 }, async (t) => {
  const w = await world(t, ['--resume-grace', '0']);
  const c = await startClient(t, w.business, 'oAlice', '爱丽丝');
  const id = await connect(w, c);
  c.tunnel.emit('count', { n: 1 });
  await until('the message arrived', () => w.of(id, 'message').length === 1);
  w.proxy.dropSockets();
  await until('reconnected', () => c.events('reconnect').length === 1 && c.tunnel.status === 'ACTIVE', 15000);
  await until('close then a new connect', () => w.of(id, 'close').length === 1
    && w.business.events.filter((e) => e.type === 'connect').length === 2);
  const newId = w.business.events.filter((e) => e.type === 'connect')[1].tunnelId;
  c.tunnel.emit('count', { n: 2 });
  await until('the new tunnel carries messages', () => w.of(newId, 'message').length === 1);
  assert.deepEqual(w.of(id, 'message').map((e) => e.content.n), [1], 'nothing written twice');
  assert.equal(metric(await w.services.metrics(), 'wafer_resume_tokens_total'), 0);
  c.tunnel.close();
});
