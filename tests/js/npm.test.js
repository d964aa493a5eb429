// The npm package: `npm pack` of the repository ships only the runtime files; `npm install`
// of the tarball (and of the repository itself, the `npm install <repo>#main` path) into a
// temporary mini-program, then WeChat DevTools' "build npm" emulated (the package.json
// `miniprogram` folder copied to miniprogram_npm/<name>/, node_modules left out of the
// code package), and `require('qcloud-weapp-client-sdk')` in page code with no wasm path
// configured: login, request and a tunnel against a fake wx in the simulated runtime.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { execFileSync } = require('child_process');
const { createMiniProgram } = require('./sim/miniprogram');
const { createFakeWx, waitFor } = require('./sim/fake-wx');
const { ROOT, remove } = require('./sim/install');

const NAME = 'qcloud-weapp-client-sdk';
const MAGIC = 'F2C224D4-2BCE-4C64-AF9F-A6D872000D1A';
const NPM_WASM = `/miniprogram_npm/${NAME}/lib/qcloud.wasm.br`;
const RUNTIME = ['index.js', 'lib/host.js', 'lib/qcloud.wasm', 'lib/qcloud.wasm.br', 'lib/utf8.js', 'lib/wasm.js'];
const pkgJson = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
const built = fs.existsSync(path.join(ROOT, 'miniprogram_dist', 'index.js')) ? false : 'miniprogram_dist/ is not built: run script/build';

/** npm with its cache and config in `dir` (no user config, nothing from the network needed). */
function npm(args, cwd, home) {
  return execFileSync('npm', [...args, '--cache', path.join(home, 'cache'), '--userconfig', path.join(home, 'npmrc'),
    '--no-audit', '--no-fund', '--loglevel=error'], {
    cwd,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    env: Object.assign({}, process.env, { HOME: home, npm_config_update_notifier: 'false' }),
  });
}

/** A temporary mini-program folder with a package.json, as DevTools' npm support wants. */
function tempMiniProgram() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'miniprogram-npm-'));
  const home = path.join(dir, '.home');
  fs.mkdirSync(home);
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'test-miniprogram', version: '1.0.0', private: true }));
  return { dir, home };
}

/** `npm pack` of the repository into `dest`; returns the tarball's path and its file list. */
function pack(dest, home) {
  const [info] = JSON.parse(npm(['pack', '--json', '--pack-destination', dest], ROOT, home));
  return { file: path.join(dest, info.filename), files: info.files.map((f) => f.path).sort() };
}

/**
 * DevTools' "build npm" for a package with a `miniprogram` field: that folder becomes
 * miniprogram_npm/<name>/. node_modules is not part of the code package: removed.
 */
function buildNpm(dir) {
  const installed = path.join(dir, 'node_modules', NAME);
  const manifest = JSON.parse(fs.readFileSync(path.join(installed, 'package.json'), 'utf8'));
  assert.equal(typeof manifest.miniprogram, 'string', 'package.json names its mini-program folder');
  fs.cpSync(path.join(installed, manifest.miniprogram), path.join(dir, 'miniprogram_npm', NAME), { recursive: true });
  fs.rmSync(path.join(dir, 'node_modules'), { recursive: true, force: true });
}

/**
 * A TypeScript page in the installed project finds the package's types by its name (the
 * `types` field) and compiles under a strict mini-program tsconfig.
 */
function typecheck(dir) {
  const tsc = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  const typings = path.join(ROOT, 'node_modules', 'miniprogram-api-typings');
  if (!fs.existsSync(tsc) || !fs.existsSync(typings)) return; // typings.test.js says why
  fs.symlinkSync(typings, path.join(dir, 'node_modules', 'miniprogram-api-typings'), 'dir');
  fs.writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify({
    compilerOptions: { target: 'es2017', lib: ['es2017'], module: 'commonjs', moduleResolution: 'node', strict: true,
      types: ['miniprogram-api-typings'], noEmit: true, skipLibCheck: false },
    files: ['page.ts'],
  }));
  fs.writeFileSync(path.join(dir, 'page.ts'), [
    `import qcloud = require('${NAME}');`,
    "qcloud.request<{ code: number }>({ url: 'https://example.com/api', login: true })",
    '  .then((res) => { const status: number = res.statusCode; const code: number = res.data.code; console.log(status, code); });',
    '',
  ].join('\n'));
  try {
    execFileSync(process.execPath, [tsc, '-p', dir, '--pretty', 'false'], { cwd: dir, encoding: 'utf8', stdio: 'pipe' });
  } catch (e) {
    assert.fail('the installed package does not type-check:\n' + e.stdout + e.stderr);
  }
}

/** A fake wx whose server logs in (v1), echoes request headers and hands out tunnel URLs. */
function serverWx() {
  const fake = createFakeWx({
    request(o) {
      if (o.url.endsWith('/login')) {
        return { statusCode: 200, data: { [MAGIC]: 1, session: { id: 'sid-' + o.header['X-WX-Code'], skey: 'skey-1' } } };
      }
      if (o.url.endsWith('/tunnel')) return { statusCode: 200, data: { url: 'wss://example.com/ws/1' } };
      return { statusCode: 200, data: { code: 0, headers: o.header } };
    },
    connectSocket(task) { task.open(); },
  });
  return fake;
}

/** The page a user writes: requires the package by name and uses login, request and a tunnel. */
const PAGE = `
var qcloud = require('${NAME}');
Page({
  qcloud: qcloud,
  events: [],
  heard: [],
  onLoad: function () {
    var page = this;
    qcloud.setLoginUrl('https://example.com/login');
    return qcloud.login().then(function (userInfo) {
      page.userInfo = userInfo;
      return qcloud.request({ url: 'https://example.com/api/echo' });
    }).then(function (res) {
      page.response = res;
      var tunnel = page.tunnel = new qcloud.Tunnel('https://example.com/tunnel');
      tunnel.on('connect', function () { page.events.push('connect'); tunnel.emit('speak', { word: 'hello' }); });
      tunnel.on('speak', function (speak) { page.heard.push(speak); });
      tunnel.on('close', function () { page.events.push('close'); });
      tunnel.on('error', function (e) { page.events.push('error ' + e.code); });
      tunnel.open();
    });
  },
});
`;

/** Loads pages/index/index.js of `dir` in the runtime and runs it against a fake wx. */
async function runPage(dir) {
  fs.mkdirSync(path.join(dir, 'pages', 'index'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'pages', 'index', 'index.js'), PAGE);
  const fake = serverWx();
  const mp = createMiniProgram(dir, { wx: fake.wx });
  try {
    const page = mp.loadPage('pages/index/index');
    await page.onLoad();
    assert.equal(page.qcloud.DEFAULT_WASM_PATH, NPM_WASM);
    assert.deepEqual(mp.wasmLoads, [NPM_WASM], 'loaded from the npm layout, no path configured');
    assert.equal(page.userInfo.nickName, '测试用户');
    assert.equal(page.response.statusCode, 200);
    assert.equal(page.response.data.headers['X-WX-Id'], 'sid-code-1');
    assert.equal(page.response.data.headers['X-WX-Skey'], 'skey-1');

    await waitFor(() => page.events.includes('connect'), 2000, 'connect');
    const socket = fake.lastSocket();
    assert.equal(socket.url, 'wss://example.com/ws/1');
    assert.equal(page.tunnel.status, 'ACTIVE');
    await waitFor(() => socket.sent.includes('message:{"type":"speak","content":{"word":"hello"}}'), 2000, 'the emitted frame');
    socket.message('message:{"type":"speak","content":{"who":{"nickName":"测试用户"},"word":"hello"}}');
    assert.deepEqual(JSON.parse(JSON.stringify(page.heard)), [{ who: { nickName: '测试用户' }, word: 'hello' }]);
    page.tunnel.close();
    assert.deepEqual([...page.events], ['connect', 'close']);
    assert.equal(page.tunnel.status, 'CLOSED');
  } finally {
    mp.dispose();
  }
}

test('package.json: the real package (name, version and layout), with nothing for npm to build on install', () => {
  const bower = JSON.parse(fs.readFileSync(path.join(ROOT, 'pkg-template', 'bower.json'), 'utf8'));
  assert.equal(pkgJson.name, NAME);
  assert.equal(pkgJson.name, bower.name);
  assert.equal(pkgJson.version, bower.version);
  assert.equal(pkgJson.main, 'index.js');
  assert.equal(pkgJson.types, 'index.d.ts');
  assert.equal(pkgJson.miniprogram, 'miniprogram_dist');
  assert.equal(pkgJson.dependencies, undefined, 'no runtime dependencies');
  // npm runs these (and installs the dev dependencies first, for `prepare`) when it installs
  // a git dependency; the runtime files are committed instead, as for bower.
  for (const s of ['preinstall', 'install', 'postinstall', 'prepare', 'prepack', 'postpack', 'build']) {
    assert.equal((pkgJson.scripts || {})[s], undefined, 'scripts.' + s);
  }
});

test('miniprogram_dist/ holds the root runtime files; only its default wasm path differs', { skip: built }, () => {
  // Both are committed build output (script/build): a build that refreshed one and not the
  // other, or a commit of one without the other, fails here without a rebuild.
  for (const f of RUNTIME.filter((r) => r !== 'index.js')) {
    assert.ok(fs.readFileSync(path.join(ROOT, f)).equals(fs.readFileSync(path.join(ROOT, 'miniprogram_dist', f))), f);
  }
  const bower = fs.readFileSync(path.join(ROOT, 'index.js'), 'utf8').split('\n');
  const npmEntry = fs.readFileSync(path.join(ROOT, 'miniprogram_dist', 'index.js'), 'utf8').split('\n');
  assert.equal(npmEntry.length, bower.length);
  const differ = bower.map((line, i) => (line === npmEntry[i] ? null : [line, npmEntry[i]])).filter(Boolean);
  assert.deepEqual(differ, [
    ['// Generated by script/build from js/index.js: do not edit.', '// Generated by script/build from js/index.js (npm layout): do not edit.'],
    [`var DEFAULT_WASM_PATH = '/bower_components/${NAME}/lib/qcloud.wasm.br';`, `var DEFAULT_WASM_PATH = '${NPM_WASM}';`],
  ]);
});

test('npm pack ships only the runtime files', { skip: built }, () => {
  const { dir, home } = tempMiniProgram();
  try {
    const { files } = pack(dir, home);
    const expected = ['README.md', 'package.json', 'index.d.ts']
      .concat(RUNTIME, RUNTIME.map((f) => 'miniprogram_dist/' + f)).sort();
    assert.deepEqual(files, expected);
  } finally {
    remove(dir);
  }
});

test('npm install of the packed tarball, "build npm", require by name: login, request and tunnel work', { skip: built, timeout: 60000 }, async () => {
  const { dir, home } = tempMiniProgram();
  try {
    const { file } = pack(home, home);
    npm(['install', '--offline', file], dir, home);
    const installed = path.join(dir, 'node_modules', NAME);
    assert.ok(fs.existsSync(path.join(installed, 'index.d.ts')), 'types installed');
    assert.ok(!fs.existsSync(path.join(installed, 'node_modules')), 'no dependencies, no dev dependencies');
    typecheck(dir);
    buildNpm(dir);
    const out = path.join(dir, 'miniprogram_npm', NAME);
    assert.deepEqual(fs.readdirSync(out, { recursive: true }).filter((f) => f.includes('.')).sort(), RUNTIME);
    await runPage(dir);
  } finally {
    remove(dir);
  }
});

test('npm install of the repository itself (`npm install <repo>#<commit>`) gives the same working package', { skip: built || (!fs.existsSync(path.join(ROOT, '.git')) && 'not a git checkout'), timeout: 120000 }, async () => {
  // npm clones a git dependency and packs it; with no prepare/build script it runs nothing.
  const head = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: ROOT }).toString().trim();
  const committed = JSON.parse(execFileSync('git', ['show', 'HEAD:package.json'], { cwd: ROOT }).toString());
  if (committed.name !== NAME) return; // HEAD predates the npm package (the commit adding it runs this)
  const { dir, home } = tempMiniProgram();
  try {
    npm(['install', '--offline', `git+file://${ROOT}#${head}`], dir, home);
    const installed = path.join(dir, 'node_modules', NAME);
    assert.ok(fs.existsSync(path.join(installed, 'miniprogram_dist', 'lib', 'qcloud.wasm.br')));
    for (const f of ['src', 'core', 'tests', 'js', 'services', 'Cargo.toml', 'bower.json']) {
      assert.ok(!fs.existsSync(path.join(installed, f)), f + ' is not installed');
    }
    buildNpm(dir);
    await runPage(dir);
  } finally {
    remove(dir);
  }
});

test('bower and npm layouts side by side: each copy loads its own module', { skip: built }, async () => {
  // A project migrating from bower to npm may have both for a while: two independent copies.
  const { dir, home } = tempMiniProgram();
  try {
    fs.cpSync(path.join(ROOT, 'miniprogram_dist'), path.join(dir, 'miniprogram_npm', NAME), { recursive: true });
    fs.cpSync(path.join(ROOT, 'pkg'), path.join(dir, 'bower_components', NAME), {
      recursive: true, filter: (src) => !src.includes('miniprogram_dist'),
    });
    const mp = createMiniProgram(dir, { wx: serverWx().wx });
    try {
      const viaNpm = mp.require(NAME);
      const viaBower = mp.require(`/bower_components/${NAME}/index.js`);
      assert.notEqual(viaNpm, viaBower);
      await Promise.all([viaNpm.ready, viaBower.ready]);
      assert.deepEqual(mp.wasmLoads.sort(), [`/bower_components/${NAME}/lib/qcloud.wasm.br`, NPM_WASM]);
    } finally {
      mp.dispose();
    }
  } finally {
    void home;
    remove(dir);
  }
});
