// The mini-program demo (demo/miniprogram) with the bower-installed package, run in the
// simulated mini-program runtime against the real dev server over loopback: the chat page
// logs in, joins, hears its own entry and its own words, survives an expired session and
// a dropped socket.
//
//   cargo build -p wafer-devserver && script/build   # once
//   node --test tests/js/demo-miniprogram.test.js
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('fs');
const path = require('path');
const { createMiniProgram } = require('./sim/miniprogram');
const { createNetWx } = require('./sim/net-wx');
const { ROOT, bowerInstall, remove } = require('./sim/install');
const { devServerMissing, startDevServer } = require('./sim/devserver');

const DEMO = path.join(ROOT, 'demo', 'miniprogram');
const SDK = 'bower_components/qcloud-weapp-client-sdk';
const DEFAULT_HOST = 'http://127.0.0.1:8700';

const skip = devServerMissing()
  || (fs.existsSync(path.join(ROOT, 'pkg', 'lib', 'qcloud.wasm.br')) ? false : 'pkg/ is not built: run `script/build`');

/** Polls `check` until it returns a truthy value. */
async function until(what, check, timeout = 8000) {
  const end = Date.now() + timeout;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > end) throw new Error('timed out waiting for ' + what);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A page instance the way the runtime makes one: the Page() object, its own data, setData. */
function instantiate(def, route) {
  const page = { route, data: JSON.parse(JSON.stringify(def.data || {})), updates: [] };
  for (const [k, v] of Object.entries(def)) if (k !== 'data') page[k] = v;
  page.setData = function (patch, callback) {
    for (const [k, v] of Object.entries(patch)) {
      // Path keys ('a.b', 'a[0]') are legal in wx; this demo does not use them.
      assert.doesNotMatch(k, /[.[]/, 'setData path keys are not simulated: ' + k);
      // setData copies: the view never shares objects with the logic layer.
      this.data[k] = v === undefined ? undefined : JSON.parse(JSON.stringify(v));
    }
    this.updates.push(Object.keys(patch));
    if (typeof callback === 'function') setTimeout(callback, 0);
  };
  return page;
}

test('demo mini-program: chat page logs in, joins, speaks, re-logs in and reconnects', { skip, timeout: 30000 }, async (t) => {
  // The demo with the package bower-installed into it, in a temporary folder.
  const dir = bowerInstall(path.join(ROOT, 'pkg'));
  t.after(() => remove(dir));
  fs.cpSync(DEMO, dir, {
    recursive: true,
    filter: (src) => !/(^|[\\/])bower_components([\\/]|$)/.test(path.relative(DEMO, src)),
  });

  // The package ships what project.config.json keeps: the .wasm is ignored, the .wasm.br stays.
  const project = JSON.parse(fs.readFileSync(path.join(dir, 'project.config.json'), 'utf8'));
  assert.equal(project.appid, 'touristappid');
  assert.equal(project.setting.urlCheck, false);
  assert.ok(project.packOptions.ignore.some((r) => r.type === 'suffix' && r.value === '.wasm'));
  assert.ok(fs.existsSync(path.join(dir, SDK, 'lib', 'qcloud.wasm.br')));
  assert.deepEqual(JSON.parse(fs.readFileSync(path.join(dir, 'app.json'), 'utf8')).pages, ['pages/chat/chat']);

  const server = await startDevServer(['--session-ttl', '3600']);
  t.after(() => server.stop());
  const stats = async () => (await fetch(server.url + '/dev/stats')).json();
  const post = async (p) => (await fetch(server.url + p, { method: 'POST' })).json();

  // Point the demo's config at this server.
  const configFile = path.join(dir, 'config.js');
  const config = fs.readFileSync(configFile, 'utf8');
  assert.ok(config.includes(`'${DEFAULT_HOST}'`), 'config.js names the default dev server host');
  fs.writeFileSync(configFile, config.replace(`'${DEFAULT_HOST}'`, `'${server.url}'`));

  const net = createNetWx({ user: '小程序' });
  t.after(() => net.dispose());
  const mp = createMiniProgram(dir, { wx: net.wx });
  t.after(() => mp.dispose());

  mp.require('/app.js');
  assert.equal(typeof mp.app.onLaunch, 'function');
  mp.app.onLaunch({ path: 'pages/chat/chat' });
  const def = mp.loadPage('pages/chat/chat');
  assert.ok(def && typeof def.onLoad === 'function', 'pages/chat/chat calls Page()');
  const page = instantiate(def, 'pages/chat/chat');
  t.after(() => { if (page.tunnel) page.onUnload(); });

  const messages = (pred) => page.data.messages.filter(pred);
  const system = (event) => messages((m) => m.kind === 'system' && m.event === event);

  // onLoad: logs in (through GET /user with login: true), opens the tunnel, enters the room.
  page.onLoad({});
  await until('the tunnel to be active', () => page.data.status === 'ACTIVE');
  assert.equal(page.data.me.nickName, '小程序');
  assert.equal(net.calls.login, 1);
  await until('our own entry', () => system('enter').length === 1);
  assert.equal(system('enter')[0].who, '小程序');
  assert.match(system('enter')[0].text, /共 1 人/);
  assert.deepEqual(mp.wasmLoads, ['/' + SDK + '/lib/qcloud.wasm.br']);
  assert.ok(net.calls.connectSocket[0].startsWith(server.url.replace(/^http/, 'ws') + '/ws/'));
  assert.equal((await stats()).roomMembers, 1);

  // Speak: the room sends our words back with our name.
  page.onInput({ detail: { value: '  你好，小程序  ' } });
  assert.equal(page.data.inputContent, '  你好，小程序  ');
  page.onSend();
  assert.equal(page.data.inputContent, '', 'the input is cleared');
  const spoken = await until('our words', () => messages((m) => m.kind === 'speak')[0]);
  assert.deepEqual({ who: spoken.who, word: spoken.word, mine: spoken.mine }, { who: '小程序', word: '你好，小程序', mine: true });

  // Every session expires: "who am I" logs in again and retries.
  assert.deepEqual(await post('/dev/expire-sessions'), { expired: 1 });
  page.onWhoAmI();
  await until('who am I', () => system('whoami').length === 1);
  assert.equal(net.calls.login, 2, 'logged in again');
  assert.equal((await stats()).sessions, 1);

  // The socket drops: the tunnel reconnects and the chat goes on.
  assert.deepEqual(await post('/dev/drop-sockets'), { dropped: 1 });
  await until('a reconnect', () => page.data.reconnects === 1 && page.data.status === 'ACTIVE');
  assert.equal(system('reconnecting').length, 1);
  assert.equal(system('reconnect').length, 1);
  page.onInput({ detail: { value: '又回来了' } });
  page.onSend();
  await until('words after the reconnect', () => messages((m) => m.kind === 'speak' && m.word === '又回来了').length === 1);

  // Leaving the page closes the tunnel; the server sees the socket go.
  page.onUnload();
  assert.equal(page.data.status, 'CLOSED');
  assert.equal(system('close').length, 1);
  await until('the server to see the socket close', async () => (await stats()).sockets === 0);
  assert.ok(page.updates.length > 5, 'the page updated through setData');
});
