// The world of the services tests: the wafer-services binary, a fake WeChat code2Session,
// a v1 business server written with the real qcloud-weapp-server-sdk, and mini-program
// clients running our built package over the real loopback network (all on 127.0.0.1,
// each stopped by the test that started it). Used by services.test.js and resume.test.js.
const crypto = require('crypto');
const fs = require('fs');
const http = require('http');
const os = require('os');
const path = require('path');
const { spawn } = require('child_process');
const WebSocket = require('ws');
const { createMiniProgram } = require('./miniprogram');
const { createNetWx } = require('./net-wx');
const { ROOT, bowerInstall, remove } = require('./install');

const BINARY = path.join(ROOT, 'target', 'debug', 'wafer-services');
const SDK = 'bower_components/qcloud-weapp-client-sdk';
const ORIGINAL_DIR = path.join(ROOT, 'node_modules', 'wafer-client-sdk');
const APPID = 'wx5ca1ab1ec0ffee00';
const SECRET = 'appsecret-never-logged-41d7';
const KEY = 'v1-tunnel-signature-key-3b8e';
const KEY2 = 'wafer2-tunnel-signature-key-90c2';

const skip = (fs.existsSync(BINARY) ? false : 'target/debug/wafer-services is missing: run `cargo build -p wafer-services`')
  || (fs.existsSync(path.join(ROOT, 'pkg', 'lib', 'qcloud.wasm.br')) ? false : 'pkg/ is not built: run `script/build`');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const md5 = (s) => crypto.createHash('md5').update(s, 'utf8').digest('hex');
const sha1 = (s) => crypto.createHash('sha1').update(s, 'utf8').digest('hex');

/** Polls `check` until it returns a truthy value. */
async function until(what, check, timeout = 8000) {
  const end = Date.now() + timeout;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > end) throw new Error('timed out waiting for ' + what);
    await sleep(20);
  }
}

/** An HTTP server on 127.0.0.1:0 running `handler`; resolves to { port, url, close() }. */
function listen(handler) {
  const server = http.createServer(handler);
  const sockets = new Set();
  server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => {
    const { port } = server.address();
    resolve({
      port,
      url: `http://127.0.0.1:${port}`,
      close: () => new Promise((r) => { for (const s of sockets) s.destroy(); server.close(() => r()); }),
    });
  }));
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

// ------------------------------------------------------------------ fake WeChat

/** The session_key WeChat gives a user (base64 of 16 bytes), fixed per openid here. */
const sessionKeyOf = (openId) => crypto.createHash('md5').update('session:' + openId).digest().toString('base64');

/** What wx.getUserInfo's `encryptedData`/`iv` are: AES-128-CBC/PKCS#7 of the user JSON. */
function encryptUserInfo(openId, nickName, appid = APPID) {
  const iv = crypto.randomBytes(16);
  const plain = JSON.stringify({
    openId, nickName, gender: 1, language: 'zh_CN', city: '', province: '', country: 'CN', avatarUrl: '',
    watermark: { appid, timestamp: Math.floor(Date.now() / 1000) },
  });
  const cipher = crypto.createCipheriv('aes-128-cbc', Buffer.from(sessionKeyOf(openId), 'base64'), iv);
  const data = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
  return { encryptedData: data.toString('base64'), iv: iv.toString('base64') };
}

/** GET /sns/jscode2session as WeChat answers it; codes are `code:<openid>:<n>`, single use. */
async function startFakeWechat() {
  const used = new Set();
  const calls = [];
  const server = await listen((req, res) => {
    const url = new URL(req.url, 'http://x');
    const q = Object.fromEntries(url.searchParams);
    calls.push(q.js_code);
    const send = (obj) => { res.writeHead(200, { 'Content-Type': 'application/json' }); res.end(JSON.stringify(obj)); };
    if (url.pathname !== '/sns/jscode2session') { res.writeHead(404); res.end(); return; }
    if (q.appid !== APPID || q.secret !== SECRET) return send({ errcode: 40125, errmsg: 'invalid appsecret' });
    if (q.grant_type !== 'authorization_code') return send({ errcode: 40002, errmsg: 'invalid grant_type' });
    const m = /^code:([^:]+):\d+$/.exec(q.js_code || '');
    if (!m) return send({ errcode: 40029, errmsg: 'invalid code' });
    if (used.has(q.js_code)) return send({ errcode: 40163, errmsg: 'code been used' });
    used.add(q.js_code);
    return send({ openid: m[1], session_key: sessionKeyOf(m[1]) });
  });
  return Object.assign(server, { calls });
}

// ------------------------------------------------------------------ the binary

/** Starts wafer-services with `args`; resolves to { url, stop(), stderr(), metrics() }. */
function startServices(args) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('WAFER_')) env[k] = v;
  const child = spawn(BINARY, ['--listen', '127.0.0.1:0', '--log', 'info', ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (s) => { stderr += s; });
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return exited;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 8000);
    const result = await exited;
    clearTimeout(timer);
    return result;
  };
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => { stop(); reject(new Error('wafer-services: no ready line\n' + stderr)); }, 10000);
    exited.then(({ code, signal }) => { clearTimeout(timer); reject(new Error(`wafer-services exited (${code ?? signal})\n${stderr}`)); });
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (s) => {
      out += s;
      const m = /TunnelServerUrl=(http:\/\/\S+)/.exec(out) || /AuthServerUrl=(http:\/\/\S+)\/mina_auth\//.exec(out);
      if (!m || !out.includes('\n')) return;
      clearTimeout(timer);
      const url = m[1];
      resolve({
        url,
        readyLine: out.trim(),
        stop,
        /** SIGKILL: a node that dies without a word. */
        kill: () => child.kill('SIGKILL'),
        stderr: () => stderr,
        metrics: async () => (await fetch(url + '/metrics')).text(),
      });
    });
  });
}

/** A metric's value from the Prometheus text (0 when absent). */
function metric(text, name) {
  const line = text.split('\n').find((l) => l.startsWith(name + ' '));
  return line ? Number(line.slice(name.length + 1)) : 0;
}

// ------------------------------------------------------------------ the v1 business server

/**
 * A business server written with qcloud-weapp-server-sdk 0.8.2 the way its demo is: /login,
 * /user (a checked request), /tunnel (a chat room). Records what its handler sees.
 */
async function startBusiness() {
  const sdk = require('qcloud-weapp-server-sdk');
  const { LoginService, TunnelService } = sdk;
  const events = [];
  const users = new Map();
  const room = new Set();
  const handler = {
    onRequest(tunnelId, userInfo) {
      events.push({ type: 'request', tunnelId });
      users.set(tunnelId, userInfo);
    },
    onConnect(tunnelId) {
      events.push({ type: 'connect', tunnelId });
      if (!users.has(tunnelId)) { TunnelService.closeTunnel(tunnelId); return; }
      room.add(tunnelId);
      TunnelService.broadcast([...room], 'people', { total: room.size, enter: users.get(tunnelId) }).catch(() => {});
    },
    onMessage(tunnelId, type, content) {
      events.push({ type: 'message', tunnelId, messageType: type, content });
      if (type === 'speak' && room.has(tunnelId)) {
        TunnelService.broadcast([...room], 'speak', { who: users.get(tunnelId), word: content.word }).catch(() => {});
      }
    },
    onClose(tunnelId) {
      events.push({ type: 'close', tunnelId });
      if (!room.delete(tunnelId)) return;
      TunnelService.broadcast([...room], 'people', { total: room.size, leave: users.get(tunnelId) }).catch(() => {});
    },
  };
  const server = await listen(async (req, res) => {
    const { pathname } = new URL(req.url, 'http://x');
    if (req.method === 'POST') {
      const text = await readBody(req);
      try { req.body = JSON.parse(text); } catch (e) { req.body = text; }
    }
    if (pathname === '/login') {
      LoginService.create(req, res).login().catch(() => { /* the SDK answered the error */ });
    } else if (pathname === '/user') {
      LoginService.create(req, res).check().then(({ userInfo }) => {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ code: 0, data: userInfo }));
      }, () => { /* the SDK answered the error */ });
    } else if (pathname === '/tunnel') {
      TunnelService.create(req, res).handle(handler, { checkLogin: true });
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  return Object.assign(server, { sdk, events, room, users });
}

/** Points the v1 SDK's (process-wide) configuration at the services. */
function configureV1(sdk, services, overrides = {}) {
  sdk.config(Object.assign({
    ServerHost: '127.0.0.1',
    AuthServerUrl: services.url + '/mina_auth/',
    TunnelServerUrl: services.url,
    TunnelSignatureKey: KEY,
    TunnelCheckSignature: true,
    NetworkTimeout: 5000,
  }, overrides));
}

// ------------------------------------------------------------------ mini-program clients

let installed = null;
let codes = 0;

/**
 * A mini-program running our built package with its own wx (real network), logged in as
 * `openId`/`nickName` through the fake WeChat. Disposed after test `t`.
 */
async function startClient(t, business, openId, nickName, { original = false } = {}) {
  if (!installed && !original) installed = bowerInstall(path.join(ROOT, 'pkg'));
  const net = createNetWx({ user: nickName });
  const wx = net.wx;
  wx.login = (o) => {
    net.calls.login++;
    const code = `code:${openId}:${++codes}`;
    setTimeout(() => { o.success && o.success({ code, errMsg: 'login:ok' }); o.complete && o.complete(); }, 0);
  };
  wx.getUserInfo = (o) => {
    net.calls.getUserInfo++;
    const { encryptedData, iv } = encryptUserInfo(openId, nickName);
    const res = { userInfo: { nickName, avatarUrl: '' }, rawData: '', signature: '', encryptedData, iv, errMsg: 'getUserInfo:ok' };
    setTimeout(() => { o.success && o.success(res); o.complete && o.complete(); }, 0);
  };
  const errors = [];
  const log = { log() {}, info() {}, debug() {}, warn() {}, error: (...a) => errors.push(a) };
  // `original`: the original SDK (npm wafer-client-sdk 0.8.4) instead of our package.
  const mp = createMiniProgram(original ? ORIGINAL_DIR : installed, { wx, log });
  const qcloud = mp.require(original ? '/index.js' : `/${SDK}/index.js`);
  await qcloud.ready;
  qcloud.setLoginUrl(business.url + '/login');
  const client = { net, mp, qcloud, errors, tunnel: null, got: [] };
  t.after(async () => {
    if (client.tunnel && client.tunnel.status !== 'CLOSED') client.tunnel.close();
    net.dispose();
    mp.dispose();
    await sleep(5);
    mp.dispose();
  });
  client.login = () => new Promise((resolve, reject) => qcloud.login({ success: resolve, fail: reject }));
  client.request = (url) => new Promise((resolve, reject) => qcloud.request({ url, login: true, success: resolve, fail: reject }));
  /** Opens a tunnel to the business server, recording every event in `got`. */
  client.open = () => {
    const tunnel = new qcloud.Tunnel(business.url + '/tunnel');
    client.tunnel = tunnel;
    for (const type of ['connect', 'close', 'reconnecting', 'reconnect', 'error', 'people', 'speak']) {
      tunnel.on(type, (payload) => client.got.push({ type, payload: payload === undefined ? undefined : JSON.parse(JSON.stringify(payload)) }));
    }
    tunnel.open();
    return tunnel;
  };
  client.events = (type) => client.got.filter((e) => e.type === type);
  return client;
}

// ------------------------------------------------------------------ the suite

/** Removes the bower-installed package (once the suite is done). */
function removeInstalled() {
  if (installed) { remove(installed); installed = null; }
}

module.exports = {
  BINARY, SDK, APPID, SECRET, KEY, KEY2, skip, sleep, md5, sha1, until, listen, readBody,
  sessionKeyOf, encryptUserInfo, startFakeWechat, startServices, metric, startBusiness,
  configureV1, startClient, removeInstalled,
};
