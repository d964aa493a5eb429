// The package's TypeScript definitions in a TypeScript mini-program: tests/typings/page.ts
// and imports.ts compile with `tsc --strict` under a mini-program tsconfig (lib es2017, no
// DOM, `types: ["miniprogram-api-typings"]`), with npm `typescript` and
// `miniprogram-api-typings` from the dev dependencies. Any error fails, including an
// unused `@ts-expect-error` (the lines that must not compile).
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');

const ROOT = path.resolve(__dirname, '..', '..');
const TSC = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
const SOURCE = path.join(ROOT, 'pkg-template', 'index.d.ts');
const missing = fs.existsSync(TSC) && fs.existsSync(path.join(ROOT, 'node_modules', 'miniprogram-api-typings'))
  ? false : 'typescript / miniprogram-api-typings are not installed: run `npm ci`';

function tsc(args) {
  try {
    return { code: 0, out: execFileSync(process.execPath, [TSC, ...args], { cwd: ROOT, encoding: 'utf8', stdio: 'pipe' }) };
  } catch (e) {
    return { code: e.status, out: String(e.stdout) + String(e.stderr) };
  }
}

test('index.d.ts compiles in a strict TypeScript mini-program, with the WeChat types and no DOM', { skip: missing }, () => {
  const config = JSON.parse(fs.readFileSync(path.join(ROOT, 'tests', 'typings', 'tsconfig.json'), 'utf8')).compilerOptions;
  assert.deepEqual(config.lib, ['es2017'], 'no DOM lib');
  assert.deepEqual(config.types, ['miniprogram-api-typings']);
  assert.equal(config.strict, true);
  assert.equal(config.skipLibCheck, false, 'the definitions themselves are checked');
  const { code, out } = tsc(['-p', 'tests/typings', '--pretty', 'false']);
  assert.equal(out.trim(), '', 'tsc reports no error');
  assert.equal(code, 0);
});

test('tsc does fail on a type error in the sample page (the check is real)', { skip: missing }, () => {
  // The same project with one wrong line added: a status code is not a string.
  const dir = fs.mkdtempSync(path.join(ROOT, 'tests', 'typings', '.tmp-'));
  try {
    const config = JSON.parse(fs.readFileSync(path.join(ROOT, 'tests', 'typings', 'tsconfig.json'), 'utf8'));
    config.compilerOptions.paths['qcloud-weapp-client-sdk'] = ['../../../pkg-template/index.d.ts'];
    config.files = ['page.ts'];
    fs.writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify(config));
    fs.writeFileSync(path.join(dir, 'page.ts'), fs.readFileSync(path.join(ROOT, 'tests', 'typings', 'page.ts'), 'utf8') +
      '\nqcloud.request({ url: "u", success: (res) => { const s: string = res.statusCode; console.log(s); } });\n');
    const { code, out } = tsc(['-p', path.relative(ROOT, dir), '--pretty', 'false']);
    assert.notEqual(code, 0);
    assert.match(out, /error TS2322: Type 'number' is not assignable to type 'string'/);
    assert.equal(out.trim().split('\n').length, 1, 'exactly that one error:\n' + out);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('the definitions name nothing of the DOM or the global WebAssembly', () => {
  const src = fs.readFileSync(SOURCE, 'utf8').replace(/\/\/.*$|\/\*[\s\S]*?\*\//gm, '');
  for (const name of ['BufferSource', 'WebAssembly', 'Window', 'Document', 'Response', 'RequestInfo']) {
    assert.doesNotMatch(src, new RegExp('\\b' + name + '\\b'), name);
  }
});

test('the shipped index.d.ts is pkg-template/index.d.ts', { skip: fs.existsSync(path.join(ROOT, 'pkg', 'index.d.ts')) ? false : 'pkg/ is not built' }, () => {
  const built = fs.readFileSync(path.join(ROOT, 'pkg', 'index.d.ts'), 'utf8');
  assert.equal(built.slice(built.indexOf('\n') + 1), fs.readFileSync(SOURCE, 'utf8'), 'run script/build');
});
