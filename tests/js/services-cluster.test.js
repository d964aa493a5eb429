// A wafer-services cluster (two nodes sharing a redis-server this test starts on loopback)
// against the REAL qcloud-weapp-server-sdk 0.8.2 and mini-program clients running our
// built package (fixtures from sim/services-world.js): clients on different nodes chat through one business server, a session
// created through one node checks on the other, a blip resumes the tunnel on its node
// (docs/RESUME.md), and a node killed with SIGKILL: its client
// comes back through the business server on the other node and its tunnel is reported
// `close` exactly once, after its lease.
//
//   cargo build -p wafer-services && script/build   # once; redis-server from script/setup
//   node --test tests/js/services-cluster.test.js
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawn } = require('child_process');
const {
  APPID, SECRET, KEY, skip: skipServices, sleep, until, startFakeWechat, startServices, metric, startBusiness, configureV1, startClient, removeInstalled,
} = require('./sim/services-world');

const hasRedis = require('child_process').spawnSync('redis-server', ['--version']).status === 0;
const skip = skipServices || (hasRedis ? false : 'redis-server is missing: run script/setup');

/** A free 127.0.0.1 port. */
function freePort() {
  return new Promise((resolve) => {
    const s = require('net').createServer();
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

/** redis-server on a free loopback port, no persistence, in a temporary directory. */
async function startRedis() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wafer-redis-'));
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
    { stdio: 'ignore' });
  const kill = () => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); };
  process.once('exit', kill);
  await until('redis-server answers', () => new Promise((resolve) => {
    const sock = require('net').connect(port, '127.0.0.1');
    sock.on('connect', () => sock.write('PING\r\n'));
    sock.on('data', (d) => { sock.destroy(); resolve(d.toString().startsWith('+PONG')); });
    sock.on('error', () => resolve(false));
  }), 20000);
  return {
    url: `redis://127.0.0.1:${port}`,
    stop: async () => { kill(); fs.rmSync(dir, { recursive: true, force: true }); },
  };
}

// ------------------------------------------------------------------ the suite

test('a wafer-services cluster with the real server SDK and our package', { skip, timeout: 120000 }, async (t) => {
  t.after(removeInstalled);
  const redis = await startRedis();
  t.after(() => redis.stop());
  const wechat = await startFakeWechat();
  t.after(() => wechat.close());
  const business = await startBusiness();
  t.after(() => business.close());
  const node = () => startServices([
    '--app', `127.0.0.1=${KEY}`, '--callback', `127.0.0.1=${business.url}`,
    '--wechat-appid', APPID, '--wechat-secret', SECRET, '--wechat-api', wechat.url,
    '--heartbeat', '2', '--store', redis.url, '--lease', '3',
  ]);
  const nodeA = await node();
  t.after(() => nodeA.stop());
  const nodeB = await node();
  t.after(() => nodeB.stop());
  assert.notEqual(nodeA.url, nodeB.url);

  // Alice logs in and opens her tunnel through node A; Bob through node B.
  const a = await startClient(t, business, 'oAlice', '爱丽丝');
  const b = await startClient(t, business, 'oBob', '鲍勃');
  configureV1(business.sdk, nodeA);
  await a.login();
  a.open();
  await until('A connected', () => a.tunnel.status === 'ACTIVE' && a.events('people').length === 1);
  assert.ok(a.tunnel.socketUrl.startsWith(nodeA.url.replace(/^http/, 'ws') + '/socket/'));
  configureV1(business.sdk, nodeB);
  // Alice's session, created through A, checks on B.
  const res = await a.request(business.url + '/user');
  assert.equal(res.data.code, 0);
  assert.equal(res.data.data.nickName, '爱丽丝');
  assert.equal(a.net.calls.login, 1, 'no new login: B knew the session');
  await b.login();
  b.open();
  await until('B connected', () => b.events('people').length === 1 && a.events('people').length === 2);
  assert.ok(b.tunnel.socketUrl.startsWith(nodeB.url.replace(/^http/, 'ws') + '/socket/'));
  assert.equal(a.events('people')[1].payload.enter.nickName, '鲍勃', 'a broadcast through B reached A');

  // They chat: Alice's message reaches the business server from A, its broadcast goes
  // through B to both nodes.
  a.tunnel.emit('speak', { word: '你好，鲍勃' });
  await until('B hears A', () => b.events('speak').length === 1);
  await until('A hears herself', () => a.events('speak').length === 1);
  b.tunnel.emit('speak', { word: '你好' });
  await until('A hears B', () => a.events('speak').length === 2);
  assert.equal(a.events('speak')[1].payload.who.nickName, '鲍勃');
  assert.equal(metric(await nodeA.metrics(), 'wafer_tunnels_open'), 1);
  assert.equal(metric(await nodeB.metrics(), 'wafer_tunnels_open'), 1);

  // A blip (Bob's socket cut, his node alive): with the Redis store too, the tunnel resumes
  // on its node (docs/RESUME.md): the same id, nobody sees Bob leave, and a word said while
  // he was away reaches him.
  const bobUrl = b.tunnel.socketUrl;
  for (const ws of b.net.sockets) ws.terminate();
  a.tunnel.emit('speak', { word: '还在吗' });
  await until('B resumed', () => b.events('reconnect').length === 1 && b.tunnel.status === 'ACTIVE', 10000);
  assert.equal(b.tunnel.socketUrl, bobUrl, 'the same tunnel');
  await until('B hears the word said during the blip', () => b.events('speak').some((e) => e.payload.word === '还在吗'));
  assert.ok(!a.events('people').some((e) => e.payload.leave), 'A never saw B leave');
  assert.equal(business.events.filter((e) => e.type === 'connect').length, 2, 'no new tunnel');

  // Node A is killed. Alice's client reconnects through the business server (now on B);
  // A's tunnel is reported closed once, by B, after A's lease expired.
  const oldId = business.events.find((e) => e.type === 'connect').tunnelId;
  const killed = Date.now();
  nodeA.kill();
  await until('A reconnects on B', () => a.events('reconnect').length === 1 && a.tunnel.status === 'ACTIVE', 20000);
  assert.ok(a.tunnel.socketUrl.startsWith(nodeB.url.replace(/^http/, 'ws') + '/socket/'));
  await until('the close of the lost tunnel', () => business.events.some((e) => e.type === 'close' && e.tunnelId === oldId), 20000);
  assert.ok(Date.now() - killed >= 1500, 'not before the lease expired');
  await until('the leave reached B', () => b.events('people').some((e) => e.payload.leave && e.payload.leave.nickName === '爱丽丝'));
  b.tunnel.emit('speak', { word: '欢迎回来' });
  await until('A hears B after the failover', () => a.events('speak').some((e) => e.payload.word === '欢迎回来'));
  await sleep(4000);
  assert.equal(business.events.filter((e) => e.type === 'close' && e.tunnelId === oldId).length, 1, 'close exactly once');
  assert.equal(business.events.filter((e) => e.type === 'close').length, 1, 'no other tunnel was closed');
  assert.equal(metric(await nodeB.metrics(), 'wafer_tunnels_open'), 2);
});
