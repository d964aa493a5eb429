// tests/js/sim/clock.js, the simulated clock the SDK suites run on: timers fire at their
// virtual time in order, time moves only when told, waiting has a virtual budget.
'use strict';
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { createClock } = require('./sim/clock');

test('advance fires due timers in time order (same time: in arming order), each at its time', async () => {
  const clock = createClock({ autoFlush: false });
  const log = [];
  const at = (name) => () => log.push([name, clock.elapsed()]);
  clock.setTimeout(at('b30'), 30);
  clock.setTimeout(at('a10'), 10);
  clock.setTimeout(at('c10'), 10);
  const gone = clock.setTimeout(at('cleared'), 5);
  clock.clearTimeout(gone);
  clock.setTimeout(() => { at('d10')(); clock.setTimeout(at('e10+0'), 0); }, 10);
  await clock.advance(29);
  assert.deepEqual(log, [['a10', 10], ['c10', 10], ['d10', 10], ['e10+0', 10]]);
  assert.equal(clock.elapsed(), 29);
  await clock.advance(1);
  assert.deepEqual(log.slice(4), [['b30', 30]]);
  assert.deepEqual(clock.pending(), []);
});

test('flush runs what is due now and its microtasks, and no time passes', async () => {
  const clock = createClock({ autoFlush: false });
  const log = [];
  clock.setTimeout(() => Promise.resolve().then(() => log.push('microtask')), 0);
  clock.setTimeout(() => log.push('later'), 1);
  await clock.flush();
  assert.deepEqual(log, ['microtask']);
  assert.equal(clock.elapsed(), 0);
});

test('autoFlush runs 0 ms tasks by itself; delayed ones wait for advance', async () => {
  const clock = createClock();
  const ran = await new Promise((resolve) => clock.setTimeout(() => resolve(clock.elapsed()), 0));
  assert.equal(ran, 0);
  let fired = false;
  clock.setTimeout(() => { fired = true; }, 1);
  await new Promise((r) => setTimeout(r, 5)); // real time does not move it
  assert.equal(fired, false);
  await clock.advance(1);
  assert.equal(fired, true);
});

test('setInterval repeats every interval; clearInterval stops it', async () => {
  const clock = createClock({ autoFlush: false });
  const times = [];
  const id = clock.setInterval(() => times.push(clock.elapsed()), 10);
  await clock.advance(35);
  clock.clearInterval(id);
  await clock.advance(100);
  assert.deepEqual(times, [10, 20, 30]);
});

test('waitFor runs timers until the check holds (time stands there) or throws after its budget', async () => {
  const clock = createClock({ autoFlush: false });
  let n = 0;
  clock.setInterval(() => n++, 7);
  assert.equal(await clock.waitFor(() => n === 3 && 'three', 100), 'three');
  assert.equal(clock.elapsed(), 21);
  await assert.rejects(clock.waitFor(() => n === 100, 50, 'a hundred'), /timed out waiting for a hundred \(50 virtual ms/);
});

test('moves of time run one after the other; time never goes back', async () => {
  const clock = createClock({ autoFlush: false });
  const seen = [];
  clock.setTimeout(() => seen.push(clock.elapsed()), 40);
  await Promise.all([clock.advance(50), clock.advance(5)]);
  assert.equal(clock.elapsed(), 55);
  assert.deepEqual(seen, [40]);
  clock.dispose();
  clock.setTimeout(() => seen.push('after dispose'), 0);
  await clock.flush();
  assert.deepEqual(seen, [40]);
});
