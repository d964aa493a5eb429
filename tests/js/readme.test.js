// Every code snippet of the package README (pkg-template/README.md) runs against the real
// dev server: the ```js blocks in a simulated mini-program (bower and npm layouts, the
// `packOptions` of the ```json block applied) or, for the Node.js / browser ones, in Node;
// the ```ts block is compiled with tsc --strict under the mini-program tsconfig, then run;
// the ```xml page's handlers exist in its page; the ```sh install commands are the ones
// tests/js/package.test.js and npm.test.js run. The size/speed table quotes BENCHMARKS.md.
// A snippet added to the README without a step here fails the test.
//
//   cargo build -p wafer-devserver && script/build   # once
//   node --test tests/js/readme.test.js
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('fs');
const path = require('path');
const vm = require('vm');
const { createRequire } = require('module');
const { execFileSync } = require('child_process');
const { createMiniProgram } = require('./sim/miniprogram');
const { createNetWx } = require('./sim/net-wx');
const { ROOT, bowerInstall, remove } = require('./sim/install');
const { devServerMissing, startDevServer } = require('./sim/devserver');

const README = path.join(ROOT, 'pkg-template', 'README.md');
const NAME = 'qcloud-weapp-client-sdk';
const BOWER_WASM = `/bower_components/${NAME}/lib/qcloud.wasm.br`;
const NPM_WASM = `/miniprogram_npm/${NAME}/lib/qcloud.wasm.br`;
const TSC = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');

const skip = devServerMissing()
  || (fs.existsSync(path.join(ROOT, 'pkg', 'miniprogram_dist', 'index.js')) ? false : 'pkg/ is not built: run `script/build`')
  || (fs.existsSync(TSC) ? false : 'typescript is not installed: run `npm ci`');

/** The fenced code blocks of a Markdown text: [{lang, code}], indented fences included. */
function codeBlocks(text) {
  const out = [];
  const re = /^( *)```(\w*)\n([\s\S]*?)^\1```$/gm;
  for (let m; (m = re.exec(text));) {
    const indent = m[1].length;
    out.push({ lang: m[2], code: m[3].split('\n').map((l) => l.slice(Math.min(indent, l.length - l.trimStart().length))).join('\n') });
  }
  return out;
}

/** Polls `check` until it returns a truthy value. */
async function until(what, check, timeout = 8000) {
  const end = Date.now() + timeout;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > end) throw new Error('timed out waiting for ' + what);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A page instance the way the runtime makes one: the Page() object, its own data, setData. */
function instantiate(def) {
  const page = { data: JSON.parse(JSON.stringify(def.data || {})) };
  for (const [k, v] of Object.entries(def)) if (k !== 'data') page[k] = v;
  page.setData = function (patch) {
    for (const [k, v] of Object.entries(patch)) this.data[k] = v === undefined ? undefined : JSON.parse(JSON.stringify(v));
  };
  return page;
}

const plain = (v) => (v === undefined ? undefined : JSON.parse(JSON.stringify(v)));

test('the README size/speed table quotes BENCHMARKS.md', () => {
  const readme = fs.readFileSync(README, 'utf8');
  const bench = fs.readFileSync(path.join(ROOT, 'BENCHMARKS.md'), 'utf8');
  const table = readme.slice(readme.indexOf('## 性能与体积'), readme.indexOf('## 安装'));
  const figures = table.match(/\d[\d,]*k?(?= (?:条|次|B)\/?)|\d+%/g);
  assert.ok(figures && figures.length >= 9, 'the table has its figures');
  for (const f of figures) assert.ok(bench.includes(f), f + ' is in BENCHMARKS.md');
});

test('README snippets run against the dev server', { skip, timeout: 90000 }, async (t) => {
  const readme = fs.readFileSync(README, 'utf8');
  const blocks = codeBlocks(readme);
  const server = await startDevServer(['--session-ttl', '3600', '--sdk', 'pkg']);
  t.after(() => server.stop());
  const host = (src) => src.split('https://example.com').join(server.url);

  // The mini-program: the package bower-installed, npm-built, and bower-installed under libs/.
  const dir = bowerInstall(path.join(ROOT, 'pkg'));
  t.after(() => remove(dir));
  fs.cpSync(path.join(ROOT, 'pkg', 'miniprogram_dist'), path.join(dir, 'miniprogram_npm', NAME), { recursive: true });
  fs.cpSync(path.join(dir, 'bower_components', NAME), path.join(dir, 'libs', 'bower_components', NAME), { recursive: true });

  // ```json: project.config.json's packOptions: the ignored files exist and are left out of the package.
  const jsonBlocks = blocks.filter((b) => b.lang === 'json');
  assert.equal(jsonBlocks.length, 1);
  const ignored = JSON.parse(jsonBlocks[0].code).packOptions.ignore;
  assert.ok(ignored.length >= 2);
  for (const rule of ignored) {
    assert.equal(rule.type, 'file');
    assert.match(rule.value, /\/lib\/qcloud\.wasm$/, 'only the uncompressed module is left out');
    assert.ok(fs.existsSync(path.join(dir, rule.value)), rule.value + ' exists');
    fs.rmSync(path.join(dir, rule.value));
  }

  // ```sh: the install commands that package.test.js (bower) and npm.test.js (npm) run.
  const commands = blocks.filter((b) => b.lang === 'sh')
    .flatMap((b) => b.code.split('\n')).map((l) => l.replace(/\s+#.*$/, '').trim()).filter(Boolean);
  for (const c of commands) {
    assert.match(c, /^(npm install -g bower|bower install qcloud-weapp-client-sdk=<[^>]+>#main|npm install <[^>]+>#main|npm install \.\/qcloud-weapp-client-sdk-\d+\.\d+\.\d+\.tgz)$/, c);
  }
  const version = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version;
  assert.ok(commands.includes(`npm install ./qcloud-weapp-client-sdk-${version}.tgz`), 'the tarball name npm pack gives');

  // The runtime, with a wx over the real network (plus getUserProfile and showModal).
  const net = createNetWx({ user: 'README' });
  t.after(() => net.dispose());
  const profile = { nickName: 'README', avatarUrl: 'https://example.com/a.png' };
  const modals = [];
  net.wx.getUserProfile = (o) => setTimeout(() => o.success({ userInfo: profile, encryptedData: 'ENC', iv: 'IV', rawData: '', signature: '' }), 0);
  net.wx.showModal = (o) => { modals.push(o); };
  const logs = [];
  const errors = [];
  const log = { log: (...a) => logs.push(a), info() {}, debug() {}, warn() {}, error: (...a) => errors.push(a) };
  const mp = createMiniProgram(dir, { wx: net.wx, log });
  t.after(() => mp.dispose());
  const logged = (what, pred) => until(what, () => logs.find(pred));
  const said = (text) => logged(text, (a) => a[0] === text);

  let n = 0;
  /** Runs a snippet as a file of the code package (its `// path.js` line, else a root file). */
  function runFile(code, prefix = '') {
    const named = /^\/\/ ([\w/.-]+\.js)/.exec(code);
    const file = named ? named[1] : `readme-${++n}.js`;
    fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    fs.writeFileSync(path.join(dir, file), prefix + host(code) +
      '\n;if (typeof qcloud !== "undefined") module.exports = qcloud;\n');
    return { file, exports: named && /Page\(/.test(code) ? null : mp.require('/' + file) };
  }
  const withSdk = "var qcloud = require('/bower_components/qcloud-weapp-client-sdk/index.js');\n";

  /** Runs a snippet in Node (not a mini-program): `require` from `nodeDir`, a `wx` of its own. */
  const nodeDir = path.join(dir, '.node');
  fs.cpSync(path.join(ROOT, 'pkg'), path.join(nodeDir, 'bower_components', NAME), { recursive: true });
  fs.cpSync(path.join(ROOT, 'pkg'), path.join(nodeDir, 'node_modules', NAME), { recursive: true });
  async function runInNode(code) {
    const myWx = createNetWx({ user: 'Node' });
    t.after(() => myWx.dispose());
    // A page served by the dev server: relative URLs are the server's.
    const pageFetch = (url, init) => fetch(new URL(url, server.url + '/'), init);
    const fn = vm.runInThisContext(`(function (require, console, fetch, myWx) {${host(code)}\nreturn qcloud;\n})`);
    const qcloud = fn(createRequire(path.join(nodeDir, 'page.js')), log, pageFetch, myWx.wx);
    await qcloud.ready;
    qcloud.setLoginUrl(server.url + '/login');
    assert.equal((await qcloud.login()).nickName, 'Node', 'logs in against the dev server');
    const res = await qcloud.request({ url: server.url + '/user' });
    assert.equal(res.data.data.userInfo.nickName, 'Node');
    return qcloud;
  }

  // ```ts: compiles under the strict mini-program tsconfig, then runs (as tsc emits it).
  const tsBlocks = blocks.filter((b) => b.lang === 'ts');
  assert.equal(tsBlocks.length, 1);
  const tmp = fs.mkdtempSync(path.join(ROOT, 'tests', 'typings', '.tmp-'));
  t.after(() => remove(tmp));
  const config = JSON.parse(fs.readFileSync(path.join(ROOT, 'tests', 'typings', 'tsconfig.json'), 'utf8'));
  config.compilerOptions.paths[NAME] = ['../../../pkg-template/index.d.ts'];
  delete config.compilerOptions.noEmit;
  config.compilerOptions.outDir = 'out';
  config.files = ['readme.ts'];
  fs.writeFileSync(path.join(tmp, 'tsconfig.json'), JSON.stringify(config));
  fs.writeFileSync(path.join(tmp, 'readme.ts'), tsBlocks[0].code);
  try {
    execFileSync(process.execPath, [TSC, '-p', tmp, '--pretty', 'false'], { cwd: ROOT, encoding: 'utf8', stdio: 'pipe' });
  } catch (e) {
    assert.fail('the README TypeScript snippet does not compile:\n' + e.stdout + e.stderr);
  }
  const tsOut = fs.readFileSync(path.join(tmp, 'out', 'readme.js'), 'utf8');

  // ```js, in README order: each with what it must do.
  const steps = [
    ['npm require', /^var qcloud = require\('qcloud-weapp-client-sdk'\);\s*$/, async (code) => {
      const q = runFile(code).exports;
      await q.ready;
      assert.equal(q.DEFAULT_WASM_PATH, NPM_WASM);
      assert.ok(mp.wasmLoads.includes(NPM_WASM), 'no wasm path configured');
      // The TypeScript snippet (npm import) runs on this copy.
      fs.writeFileSync(path.join(dir, 'readme-ts.js'), host(tsOut));
      mp.require('/readme-ts.js');
      await logged('the TypeScript request', (a) => a[0] === 201 && a[1] === 'world');
    }],
    ['bower require', /^var qcloud = require\('\.\/bower_components/, async (code) => {
      const q = runFile(code).exports;
      await q.ready;
      assert.equal(q.DEFAULT_WASM_PATH, BOWER_WASM);
      assert.ok(mp.wasmLoads.includes(BOWER_WASM));
    }],
    ['app.js', /^\/\/ app\.js/, async (code) => {
      runFile(code);
      mp.app.onLaunch({});
    }],
    ['quick start page', /^\/\/ pages\/index\/index\.js/, async (code) => {
      runFile(code);
      const [status, data] = await logged('the /user answer', (a) => a[0] === 200 && a[1] && a[1].data);
      assert.equal(status, 200);
      assert.equal(data.data.userInfo.nickName, 'README');
    }],
    ['login', /^\/\/ 回调形式/, async (code) => {
      runFile(code, withSdk);
      assert.equal(plain((await said('登录成功'))[1]).nickName, 'README');
      assert.equal((await said('Promise 登录成功'))[1], 'README');
    }],
    ['login page', /^\/\/ pages\/login\/login\.js/, async (code) => {
      runFile(code);
      const page = instantiate(mp.loadPage('pages/login/login'));
      // Every handler the ```xml page binds is a method of this page.
      const xml = blocks.find((b) => b.lang === 'xml').code;
      const handlers = [...xml.matchAll(/bind\w+="(\w+)"/g)].map((m) => m[1]);
      assert.deepEqual(handlers.sort(), ['onGetUserInfo', 'onLoginTap', 'onWhoAmI']);
      for (const h of handlers) assert.equal(typeof page[h], 'function', h);
      page.onGetUserInfo({ detail: { errMsg: 'getUserInfo:fail auth deny' } });
      assert.equal(page.data.error, '已拒绝授权');
      page.onLoginTap();
      await until('the login', () => page.data.userInfo);
      assert.deepEqual(page.data.userInfo, profile);
      assert.equal(page.data.error, '');
      page.onWhoAmI();
      const modal = await until('the modal', () => modals[0]);
      assert.equal(JSON.parse(modal.content).data.userInfo.nickName, 'README');
    }],
    ['loginWithCode', /^qcloud\.loginWithCode/, async (code) => {
      runFile(code, withSdk);
      await said('code 登录成功');
      await said('codeOnly 登录成功');
    }],
    ['request', /^qcloud\.request\(\{\n\s+url: 'https:\/\/example\.com\/api\/echo'/, async (code) => {
      runFile(code, withSdk);
      const [, data, header] = await logged('the echo', (a) => a[0] === 200 && a[1] && a[1].data && a[1].data.echo);
      assert.deepEqual(plain(data.data.echo), { hello: 'world' });
      assert.equal(typeof header, 'object');
      assert.equal((await said('我是'))[1], 'README');
    }],
    ['tunnel page', /^\/\/ pages\/chat\/chat\.js/, async (code) => {
      runFile(code);
      const page = instantiate(mp.loadPage('pages/chat/chat'));
      page.onLoad();
      await said('WebSocket 信道已连接');
      const [, speak] = await said('收到 speak 消息：');
      assert.deepEqual(plain(speak).word, 'hello');
      assert.equal(plain(speak).who.nickName, 'README');
      page.onUnload();
      await said('WebSocket 信道已断开');
      assert.equal(page.tunnel.status, 'CLOSED');
    }],
    ['session header', /^qcloud\.ready\.then/, async (code) => {
      runFile(code, withSdk);
      const [, header] = await said('会话头');
      assert.equal(typeof plain(header)['X-WX-Skey'], 'string');
    }],
    ['init wasmPath', /^var qcloud = require\('\.\/libs\/bower_components/, async (code) => {
      const q = runFile(code).exports;
      await q.ready;
      assert.ok(mp.wasmLoads.includes(`/libs/bower_components/${NAME}/lib/qcloud.wasm.br`));
    }],
    ['Node.js', /^\/\/ Node\.js/, async (code) => {
      await runInNode(code);
      await said('Node.js 中已加载');
    }],
    ['browser', /^\/\/ 浏览器/, async (code) => {
      await runInNode(code);
      await said('浏览器中已加载');
    }],
  ];
  const js = blocks.filter((b) => b.lang === 'js');
  assert.deepEqual(js.map((b, i) => (steps[i] && steps[i][1].test(b.code) ? steps[i][0] : 'unexpected: ' + b.code.split('\n')[0])),
    steps.map((s) => s[0]), 'each ```js block has its step, in README order');
  for (let i = 0; i < js.length; i++) {
    await t.test(steps[i][0], () => steps[i][2](js[i].code));
  }
  assert.deepEqual(errors.map((a) => a.map(String).join(' ')), [], 'no snippet reported an error');
  assert.deepEqual(blocks.map((b) => b.lang).filter((l) => !['js', 'ts', 'json', 'sh', 'xml'].includes(l)), [], 'no block of another kind');
});
