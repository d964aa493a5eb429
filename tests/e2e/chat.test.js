// End to end in a real browser: the demo chat page (demo/web) served by the dev server,
// two users in two browser contexts, through the built SDK (pkg/).
//
//   cargo build -p wafer-devserver && script/build   # once
//   node --test tests/e2e/
//
// Builds nothing itself: skips when the dev server binary, pkg/ or Chromium is missing.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('fs');
const path = require('path');
const { startDevServer } = require('../js/sim/devserver');

const ROOT = path.resolve(__dirname, '..', '..');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const ARTIFACTS = path.join(ROOT, 'target', 'artifacts');

function missing() {
  const need = [
    [path.join(ROOT, 'target', 'debug', 'wafer-devserver'), 'run `cargo build -p wafer-devserver`'],
    [path.join(ROOT, 'pkg', 'lib', 'qcloud.wasm'), 'run `script/build`'],
    [CHROMIUM, 'install Debian chromium (or set CHROMIUM)'],
  ];
  for (const [file, hint] of need) {
    if (!fs.existsSync(file)) return `${file.startsWith(ROOT) ? path.relative(ROOT, file) : file} is missing: ${hint}`;
  }
  try {
    require.resolve('playwright-core');
  } catch (e) {
    return 'playwright-core is not installed: run `npm install`';
  }
  return null;
}

const skip = missing() || false;

test('chat demo: two users chat, survive expired sessions and dropped sockets', { skip, timeout: 60000 }, async (t) => {
  const { chromium } = require('playwright-core');
  const server = await startDevServer(['--static', 'demo/web', '--sdk', 'pkg', '--session-ttl', '3600']);
  t.after(() => server.stop());
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    // Playwright gives each launch a new empty profile (its own --user-data-dir).
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  t.after(() => browser.close());

  const problems = [];
  async function open(name) {
    const context = await browser.newContext({ viewport: { width: 720, height: 760 } });
    const page = await context.newPage();
    page.setDefaultTimeout(10000);
    page.on('pageerror', (e) => problems.push(`${name}: ${e.message}`));
    page.on('console', (m) => { if (m.type() === 'error') problems.push(`${name} console: ${m.text()}`); });
    await page.goto(server.url + '/');
    await page.locator('body[data-sdk="ready"]').waitFor();
    await page.getByTestId('name').fill(name);
    await page.getByTestId('join').click();
    await waitStatus(page, 'ACTIVE');
    return page;
  }
  const waitStatus = (page, status) => page.locator(`[data-testid="tunnel-status"][data-status="${status}"]`).waitFor();
  const count = async (page, id) => Number(await page.getByTestId(id).textContent());
  const waitCount = (page, id, n) => page.waitForFunction(([id, n]) => {
    return Number(document.querySelector(`[data-testid="${id}"]`).textContent) >= n;
  }, [id, n]);
  const speak = async (page, word) => {
    await page.getByTestId('word').fill(word);
    await page.getByTestId('send').click();
  };
  const heard = (page, who, word) => page.locator(`li[data-kind="speak"][data-who="${who}"] .word`, { hasText: word }).waitFor();
  const post = async (p) => (await fetch(server.url + p, { method: 'POST' })).json();
  const stats = async () => (await fetch(server.url + '/dev/stats')).json();

  // Two users join; each sees the other enter.
  const alice = await open('alice');
  const xiaoming = await open('小明');
  await alice.locator('li[data-event="enter"]', { hasText: '小明 进入' }).waitFor();
  await xiaoming.locator('li[data-event="enter"]', { hasText: '小明 进入' }).filter({ hasText: '共 2 人' }).waitFor();
  assert.equal((await stats()).roomMembers, 2);

  // Alice speaks; 小明 hears it with her name.
  await speak(alice, '你好，我是 alice');
  await heard(xiaoming, 'alice', '你好，我是 alice');
  await heard(alice, 'alice', '你好，我是 alice');
  assert.equal(await alice.locator('li.speak.mine').count(), 1, 'own words are marked as mine');

  // Every session expires; "who am I" still works: the SDK logs in again and retries.
  assert.equal(await count(alice, 'logins'), 1);
  assert.deepEqual(await post('/dev/expire-sessions'), { expired: 2 });
  assert.equal((await stats()).sessions, 0);
  await alice.getByTestId('whoami').click();
  await alice.locator('li[data-event="whoami"]', { hasText: '我是 alice' }).waitFor();
  assert.equal(await count(alice, 'logins'), 2, 'alice logged in again');
  assert.equal((await stats()).sessions, 1, 'the server saw a new login');

  // Every socket drops; both tunnels reconnect (小明's session is still expired, so his
  // tunnel URL request logs in again first) and the chat goes on.
  const { dropped } = await post('/dev/drop-sockets');
  assert.equal(dropped, 2);
  for (const page of [alice, xiaoming]) {
    await waitCount(page, 'reconnects', 1);
    await waitStatus(page, 'ACTIVE');
    await page.locator('li[data-event="reconnect"]').first().waitFor();
  }
  assert.equal(await count(xiaoming, 'logins'), 2, '小明 logged in again for the new tunnel');
  const after = await stats();
  assert.equal(after.sockets, 2);
  assert.equal(after.roomMembers, 2);

  await speak(xiaoming, '重连之后还能聊天');
  await heard(alice, '小明', '重连之后还能聊天');
  await heard(xiaoming, '小明', '重连之后还能聊天');

  fs.mkdirSync(ARTIFACTS, { recursive: true });
  await alice.screenshot({ path: path.join(ARTIFACTS, 'chat.png'), fullPage: true });

  assert.deepEqual(problems, [], 'no page errors');
});
