// Loads the installed SDK fresh in a simulated mini-program for one test, with a fake wx.
'use strict';
const { createMiniProgram } = require('./miniprogram');
const { createFakeWx, sleep } = require('./fake-wx');

const SDK = 'bower_components/qcloud-weapp-client-sdk';
const MAGIC = 'F2C224D4-2BCE-4C64-AF9F-A6D872000D1A';
const SESSION_KEY = 'weapp_session_' + MAGIC;

/**
 * A fresh runtime and SDK copy for test `t` (disposed after it). `handlers` go to the fake
 * wx; `storage` pre-fills its storage. Returns { fake, mp, qcloud, errors } once the SDK
 * is ready; `errors` collects the runtime's console.error calls.
 */
async function loadSdk(t, dir, { handlers = {}, storage = {} } = {}) {
  const fake = createFakeWx(handlers);
  for (const [k, v] of Object.entries(storage)) fake.storage.set(k, v);
  const errors = [];
  const log = { log() {}, info() {}, debug() {}, warn() {}, error: (...a) => errors.push(a) };
  const mp = createMiniProgram(dir, { wx: fake.wx, log });
  t.after(async () => {
    mp.dispose();
    // wx callbacks still queued (0 ms) may call into the SDK once more: let them run,
    // then stop whatever they armed.
    await sleep(5);
    mp.dispose();
  });
  const qcloud = mp.require(`/${SDK}/index.js`);
  await qcloud.ready;
  return { fake, mp, qcloud, errors };
}

/** A value of the page's realm as plain JSON data (for deepStrictEqual). */
const plain = (v) => (v === undefined ? undefined : JSON.parse(JSON.stringify(v)));

module.exports = { SDK, MAGIC, SESSION_KEY, loadSdk, plain };
