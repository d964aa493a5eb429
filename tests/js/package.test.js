// The installable package: bower install (from pkg/ and from the repository itself),
// loading in a simulated mini-program runtime, exports, a round trip through wasm, load
// failures, and the shape of the wasm module (MVP only, no exported Global).
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');
const { createMiniProgram } = require('./sim/miniprogram');
const { createFakeWx } = require('./sim/fake-wx');
const { ROOT, bowerInstall, remove } = require('./sim/install');

const SDK = 'bower_components/qcloud-weapp-client-sdk';
const MAGIC = 'F2C224D4-2BCE-4C64-AF9F-A6D872000D1A';

/** A fake wx whose login server answers a v1 session and whose API echoes the headers. */
function serverWx() {
  return createFakeWx({
    request(o) {
      if (o.url.endsWith('/login')) {
        return { statusCode: 200, data: { [MAGIC]: 1, session: { id: 'sid-' + o.header['X-WX-Code'], skey: 'skey-1' } } };
      }
      return { statusCode: 200, data: { code: 0, headers: o.header } };
    },
  });
}

async function loadAndRoundTrip(dir) {
  const fake = serverWx();
  const mp = createMiniProgram(dir, { wx: fake.wx });
  try {
    const qcloud = mp.require(`/${SDK}/index.js`);
    // Calls made before the module is ready wait, then run.
    qcloud.setLoginUrl('https://example.com/login');
    const userInfo = await qcloud.login();
    assert.equal(userInfo.nickName, '测试用户');
    await qcloud.ready;
    assert.deepEqual(mp.wasmLoads, ['/' + SDK + '/lib/qcloud.wasm.br']);
    const res = await qcloud.request({ url: 'https://example.com/api', header: { 'X-Mine': '1' } });
    assert.equal(res.statusCode, 200);
    assert.equal(res.data.headers['X-WX-Id'], 'sid-code-1');
    assert.equal(res.data.headers['X-WX-Skey'], 'skey-1');
    assert.equal(res.data.headers['X-Mine'], '1');
    assert.deepEqual({ ...qcloud.buildSessionHeader() }, { 'X-WX-Id': 'sid-code-1', 'X-WX-Skey': 'skey-1' });
    return qcloud;
  } finally {
    mp.dispose();
  }
}

test('pkg/ holds the bower package files', () => {
  for (const f of ['bower.json', 'index.js', 'index.d.ts', 'README.md', 'lib/wasm.js', 'lib/host.js', 'lib/utf8.js',
    'lib/qcloud.wasm', 'lib/qcloud.wasm.br', 'miniprogram_dist/index.js', 'miniprogram_dist/lib/qcloud.wasm.br']) {
    assert.ok(fs.existsSync(path.join(ROOT, 'pkg', f)), 'pkg/' + f);
  }
  const bower = JSON.parse(fs.readFileSync(path.join(ROOT, 'pkg', 'bower.json'), 'utf8'));
  assert.equal(bower.name, 'qcloud-weapp-client-sdk');
  assert.equal(bower.main, 'index.js');
});

test('bower-installed package loads in a mini-program runtime and exports the v1 API', async () => {
  const dir = bowerInstall(path.join(ROOT, 'pkg'));
  try {
    const qcloud = await loadAndRoundTrip(dir);
    for (const fn of ['setLoginUrl', 'login', 'loginWithCode', 'request', 'clearSession', 'buildSessionHeader', 'Tunnel']) {
      assert.equal(typeof qcloud[fn], 'function', fn);
    }
    for (const k of ['get', 'set', 'clear']) assert.equal(typeof qcloud.Session[k], 'function');
    const expected = {
      ERR_INVALID_PARAMS: 'ERR_INVALID_PARAMS',
      ERR_WX_LOGIN_FAILED: 'ERR_WX_LOGIN_FAILED',
      ERR_WX_GET_USER_INFO: 'ERR_WX_GET_USER_INFO',
      ERR_LOGIN_TIMEOUT: 'ERR_LOGIN_TIMEOUT',
      ERR_LOGIN_FAILED: 'ERR_LOGIN_FAILED',
      ERR_LOGIN_SESSION_NOT_RECEIVED: 'ERR_LOGIN_MISSING_SESSION',
      ERR_INVALID_SESSION: 'ERR_INVALID_SESSION',
      ERR_CHECK_LOGIN_FAILED: 'ERR_CHECK_LOGIN_FAILED',
    };
    for (const [k, v] of Object.entries(expected)) assert.equal(qcloud[k], v, k);
    const T = qcloud.Tunnel;
    assert.deepEqual(
      [T.STATUS_CLOSED, T.STATUS_CONNECTING, T.STATUS_ACTIVE, T.STATUS_RECONNECTING],
      ['CLOSED', 'CONNECTING', 'ACTIVE', 'RECONNECTING']);
    assert.deepEqual([T.ERR_CONNECT_SERVICE, T.ERR_CONNECT_SOCKET, T.ERR_RECONNECT, T.ERR_SOCKET_ERROR], [1001, 1002, 2001, 3001]);
    assert.equal(T.MAX_RECONNECT_TRY_TIMES, 5);
    assert.equal(T.RECONNECT_TIME_INCREASE, 1000);
    const e = new qcloud.LoginError(qcloud.ERR_LOGIN_FAILED, '登录失败');
    assert.ok(e instanceof qcloud.LoginError);
    assert.equal(Object.prototype.toString.call(e), '[object Error]', 'a real Error of the page\'s realm');
    assert.ok(e.stack.length > 0);
    assert.equal(e.type, 'ERR_LOGIN_FAILED');
    assert.equal(e.message, '登录失败');
    assert.equal(Object.prototype.toString.call(new qcloud.RequestError('X', 'y')), '[object Error]');
  } finally {
    remove(dir);
  }
});

test('bower install of the repository itself gives a working SDK', { skip: !fs.existsSync(path.join(ROOT, '.git')) }, async () => {
  // bower takes the committed files of a git endpoint; `#<commit>` pins this commit
  // (users write `#main` or a release tag).
  const head = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: ROOT }).toString().trim();
  const dir = bowerInstall(ROOT + '#' + head);
  try {
    const installed = path.join(dir, SDK);
    assert.ok(fs.existsSync(path.join(installed, 'lib', 'qcloud.wasm.br')));
    assert.ok(!fs.existsSync(path.join(installed, 'src')), 'bower.json ignore keeps the sources out');
    assert.ok(!fs.existsSync(path.join(installed, 'tests')));
    assert.ok(!fs.existsSync(path.join(installed, 'miniprogram_dist')), 'the npm layout stays out of a bower install');
    // Only the runtime files reach the code package (a new top-level file or folder of the
    // repository needs an entry in pkg-template/bower.json's `ignore`).
    assert.deepEqual(fs.readdirSync(installed, { recursive: true }).filter((f) => f !== 'lib').sort(),
      ['.bower.json', 'README.md', 'bower.json', 'index.d.ts', 'index.js', 'lib/host.js', 'lib/qcloud.wasm',
        'lib/qcloud.wasm.br', 'lib/utf8.js', 'lib/wasm.js'].map((f) => f.split('/').join(path.sep)));
    await loadAndRoundTrip(dir);
  } finally {
    remove(dir);
  }
});

test('a failed load rejects qcloud.ready and fails every waiting call with a clear error', async () => {
  const dir = bowerInstall(path.join(ROOT, 'pkg'));
  const fake = serverWx();
  const mp = createMiniProgram(dir, { wx: fake.wx });
  try {
    const qcloud = mp.require(`/${SDK}/index.js`);
    qcloud.init({ wasmPath: '/nowhere/qcloud.wasm' });
    const waiting = qcloud.login();
    let failed = null;
    qcloud.request({ url: 'https://example.com/x', fail: (err) => { failed = err; } });
    await assert.rejects(qcloud.ready, (err) => err.type === 'ERR_SDK_LOAD_FAILED' && /SDK 加载失败/.test(err.message));
    await assert.rejects(waiting, (err) => err.type === 'ERR_SDK_LOAD_FAILED');
    assert.equal(failed && failed.type, 'ERR_SDK_LOAD_FAILED');
    assert.ok(failed instanceof qcloud.RequestError);
  } finally {
    mp.dispose();
    remove(dir);
  }
});

test('the wasm path can be overridden, and .wasm works where .wasm.br is not supported', async () => {
  const dir = bowerInstall(path.join(ROOT, 'pkg'));
  const mp = createMiniProgram(dir, { wx: serverWx().wx });
  try {
    const qcloud = mp.require(`/${SDK}/index.js`);
    qcloud.init({ wasmPath: `/${SDK}/lib/qcloud.wasm` });
    await qcloud.ready;
    assert.deepEqual(mp.wasmLoads, [`/${SDK}/lib/qcloud.wasm`]);
  } finally {
    mp.dispose();
    remove(dir);
  }
});

test('two loaded copies of the SDK share no state', async () => {
  const dir = bowerInstall(path.join(ROOT, 'pkg'));
  fs.cpSync(path.join(dir, SDK), path.join(dir, 'copy'), { recursive: true });
  const mp = createMiniProgram(dir, { wx: serverWx().wx });
  try {
    const a = mp.require(`/${SDK}/index.js`);
    const b = mp.require('/copy/index.js');
    b.init({ wasmPath: '/copy/lib/qcloud.wasm.br' });
    a.setLoginUrl('https://a.example.com/login');
    await Promise.all([a.ready, b.ready]);
    await a.login();
    assert.notDeepEqual({ ...a.buildSessionHeader() }, {});
    // b shares the storage (one wx) but not the login URL or any in-memory state.
    await assert.rejects(b.login({ timeout: 1000 }).then(() => b.clearSession()), (e) => e.type === 'ERR_INVALID_PARAMS');
  } finally {
    mp.dispose();
    remove(dir);
  }
});

test('the wasm module uses MVP features only and exports no Global', () => {
  const file = path.join(ROOT, 'pkg', 'lib', 'qcloud.wasm');
  const mod = new WebAssembly.Module(fs.readFileSync(file));
  const globals = WebAssembly.Module.exports(mod).filter((e) => e.kind === 'global');
  assert.deepEqual(globals, []);
  // wabt's validator with every post-MVP feature switched off (sign-ext and mutable
  // globals are allowed: every WeChat engine has them).
  execFileSync('wasm-validate', ['--disable-bulk-memory', '--disable-reference-types', '--disable-multi-value',
    '--disable-saturating-float-to-int', '--disable-simd', file], { stdio: 'pipe' });
});

test('the shim needs none of TextEncoder, TextDecoder, fetch, import.meta, eval, new Function', () => {
  for (const f of ['index.js', 'lib/host.js', 'lib/wasm.js', 'lib/utf8.js']) {
    const src = fs.readFileSync(path.join(ROOT, 'pkg', f), 'utf8');
    assert.ok(!/import\.meta|\bfetch\(|\beval\(|new Function|^\s*(import|export)\s/m.test(src), f);
  }
});

test('the committed package files equal a fresh build (the build is reproducible)', { skip: !fs.existsSync(path.join(ROOT, '.git')) }, () => {
  // script/test builds pkg/ from the committed sources first; the runtime files committed
  // at the root (what `bower install <repo>` takes) must be byte-identical to it.
  const stale = [];
  const runtime = ['index.js', 'lib/wasm.js', 'lib/host.js', 'lib/utf8.js', 'lib/qcloud.wasm', 'lib/qcloud.wasm.br'];
  // miniprogram_dist/: the npm layout (package.json `miniprogram`), the same files.
  for (const f of ['index.d.ts', 'bower.json', ...runtime, ...runtime.map((r) => 'miniprogram_dist/' + r)]) {
    let committed;
    try {
      committed = execFileSync('git', ['show', 'HEAD:' + f], { cwd: ROOT, maxBuffer: 1 << 26 });
    } catch (e) {
      stale.push(f + ' (not committed)');
      continue;
    }
    if (!committed.equals(fs.readFileSync(path.join(ROOT, 'pkg', f)))) stale.push(f);
  }
  assert.deepEqual(stale, [], 'committed files differ from pkg/: run script/build and commit them');
});
