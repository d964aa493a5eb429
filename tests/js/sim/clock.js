// A simulated clock for tests: `now()`, `setTimeout`/`clearTimeout` and
// `setInterval`/`clearInterval` on virtual time that moves only when the test says so
// (`advance`, `waitFor`). Give it to the SDK (`qcloud.init({ clock })`) and to the fake wx
// (`createFakeWx(handlers, { clock })`), and a test runs heartbeats, reconnect waits and
// deadlines without sleeping, every timer firing at its exact virtual time, in order.
//
// Tasks due now (wx answers, 0 ms timers) run by themselves, one per real macrotask with
// every microtask drained in between, as an event loop runs them when no time passes; so
// `await qcloud.login()` completes without help. `autoFlush: false` leaves them for
// `flush()` too.
'use strict';

/** A fixed start (2023-11-14T22:13:20Z): runs do not depend on the real date. */
const START = 1_700_000_000_000;

/** Resolves once every microtask queued so far (the vm contexts' too) has run. */
const drain = () => new Promise((resolve) => setImmediate(resolve));

function createClock({ start = START, autoFlush = true } = {}) {
  let now = start;
  let seq = 0;
  let disposed = false;
  let scheduled = false;
  /** id → { at, seq, fn, args, every } */
  const timers = new Map();
  /** Moves of time run one after the other (an `advance` called while one runs waits). */
  let lock = Promise.resolve();

  /** The timer that runs next among those due at or before `limit`, or null. */
  function next(limit) {
    let best = null;
    for (const [id, t] of timers) {
      if (t.at <= limit && (!best || t.at < best.t.at || (t.at === best.t.at && t.seq < best.t.seq))) best = { id, t };
    }
    return best;
  }

  /** Runs one timer at its time (time never goes back). */
  function run({ id, t }) {
    if (t.at > now) now = t.at;
    if (t.every) {
      t.at = now + t.every;
      t.seq = ++seq;
    } else {
      timers.delete(id);
    }
    t.fn(...t.args);
  }

  /** Runs the tasks due now on real macrotasks, one each, while there are any. */
  function kick() {
    if (!autoFlush || scheduled || disposed || !next(now)) return;
    scheduled = true;
    setImmediate(() => {
      scheduled = false;
      if (disposed) return;
      const due = next(now);
      try {
        if (due) run(due);
      } finally {
        kick();
      }
    });
  }

  function add(fn, ms, args, every) {
    if (typeof fn !== 'function') throw new TypeError('clock: the callback must be a function');
    const id = ++seq;
    if (disposed) return id;
    const delay = Math.max(every ? 1 : 0, Number(ms) || 0);
    timers.set(id, { at: now + delay, seq: id, fn, args, every: every ? delay : 0 });
    kick();
    return id;
  }

  /** Runs `step` once the moves of time queued before it are done. */
  function serial(step) {
    const result = lock.then(step);
    lock = result.catch(() => {});
    return result;
  }

  /** Runs every timer due up to `target`, in order, draining microtasks after each. */
  async function runTo(target) {
    await drain();
    for (let guard = 0; ; guard++) {
      if (guard > 1_000_000) throw new Error('clock: runaway timers (a timer re-arming itself at 0 ms?)');
      const due = next(target);
      if (!due) break;
      run(due);
      await drain();
    }
    if (target > now) now = target;
    await drain();
  }

  // Functions that do not use `this`: the SDK calls them unbound.
  const clock = {
    start,
    now: () => now,
    /** Virtual milliseconds since the clock was made. */
    elapsed: () => now - start,
    setTimeout: (fn, ms, ...args) => add(fn, ms, args, false),
    clearTimeout: (id) => { timers.delete(id); },
    setInterval: (fn, ms, ...args) => add(fn, ms, args, true),
    clearInterval: (id) => { timers.delete(id); },
    /** Armed timers, soonest first: [{ in: ms from now, every }] (diagnostics). */
    pending: () => [...timers.values()].sort((a, b) => a.at - b.at || a.seq - b.seq)
      .map((t) => ({ in: t.at - now, every: t.every })),
    /** Runs every task due now (and those they add for now) and their microtasks; no time passes. */
    flush: () => serial(() => runTo(now)),
    /** Moves time `ms` forward, running each timer due on the way at its time, in order. */
    advance: (ms) => serial(() => runTo(now + Math.max(0, Number(ms) || 0))),
    /**
     * Runs timers in order, as long as needed and at most `within` virtual ms, until
     * `check()` is truthy; returns its value, time standing at the timer that made it so.
     * Throws when it is not so within that time.
     */
    waitFor: (check, within = 2000, what = 'condition') => serial(async () => {
      const deadline = now + within;
      await drain();
      for (let guard = 0; ; guard++) {
        const v = check();
        if (v) return v;
        const due = guard > 1_000_000 ? null : next(deadline);
        if (!due) throw new Error(`timed out waiting for ${what} (${within} virtual ms; armed: ${JSON.stringify(clock.pending())})`);
        run(due);
        await drain();
      }
    }),
    /** Forgets every timer and ignores new ones: nothing runs on this clock any more. */
    dispose: () => {
      disposed = true;
      timers.clear();
    },
  };
  return clock;
}

module.exports = { createClock, drain, START };
