// Loads the installed SDK fresh in a simulated mini-program for one test, with a fake wx.
'use strict';
const vm = require('vm');
const { createMiniProgram } = require('./miniprogram');
const { createFakeWx, sleep } = require('./fake-wx');
const { createClock } = require('./clock');

const SDK = 'bower_components/qcloud-weapp-client-sdk';
const MAGIC = 'F2C224D4-2BCE-4C64-AF9F-A6D872000D1A';
const SESSION_KEY = 'weapp_session_' + MAGIC;

/**
 * Puts the runtime's own timers and `Date.now` on `clock` too, counting their uses: an
 * SDK given a clock should need none of them (`runtime.timers`, `runtime.dateNow`).
 */
function simulateRuntime(context, clock) {
  const runtime = { timers: 0, dateNow: 0 };
  const counted = (fn) => (...args) => { runtime.timers++; return fn(...args); };
  context.setTimeout = counted(clock.setTimeout);
  context.setInterval = counted(clock.setInterval);
  context.clearTimeout = clock.clearTimeout;
  context.clearInterval = clock.clearInterval;
  context.__now = () => { runtime.dateNow++; return clock.now(); };
  vm.runInContext('(function (now) { Date.now = function () { return now(); }; })(__now); delete globalThis.__now;', context);
  return runtime;
}

/**
 * A fresh runtime and SDK copy for test `t` (disposed after it). `handlers` go to the fake
 * wx; `storage` pre-fills its storage. `clock`: a sim/clock.js clock, or `true` for a new
 * one; the SDK (`qcloud.init({ clock })`, right after require), the fake wx and the
 * runtime's timers then all run on it. Without one everything runs in real time.
 * Returns { fake, mp, qcloud, errors, clock, runtime } once the SDK is ready; `errors`
 * collects the runtime's console.error calls; `runtime` counts the SDK's uses of the
 * runtime's own timers and Date.now (with a clock).
 */
async function loadSdk(t, dir, { handlers = {}, storage = {}, clock = null } = {}) {
  if (clock === true) clock = createClock();
  const fake = createFakeWx(handlers, { clock });
  for (const [k, v] of Object.entries(storage)) fake.storage.set(k, v);
  const errors = [];
  const log = { log() {}, info() {}, debug() {}, warn() {}, error: (...a) => errors.push(a) };
  const mp = createMiniProgram(dir, { wx: fake.wx, log });
  const runtime = clock ? simulateRuntime(mp.context, clock) : null;
  t.after(async () => {
    mp.dispose();
    // wx callbacks still queued (0 ms) may call into the SDK once more: let them run,
    // then stop whatever they armed.
    if (clock) {
      await clock.flush();
      clock.dispose();
    } else {
      await sleep(5);
    }
    mp.dispose();
  });
  const qcloud = mp.require(`/${SDK}/index.js`);
  // In the same tick: the SDK starts loading on the next microtask, with what init gave it.
  if (clock) qcloud.init({ clock });
  await qcloud.ready;
  return { fake, mp, qcloud, errors, clock, runtime };
}

/** A value of the page's realm as plain JSON data (for deepStrictEqual). */
const plain = (v) => (v === undefined ? undefined : JSON.parse(JSON.stringify(v)));

module.exports = { SDK, MAGIC, SESSION_KEY, loadSdk, plain };
