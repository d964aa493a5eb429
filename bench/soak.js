// Soak: one SDK instance (the built package, bower-installed, in the simulated mini-program
// runtime with the real-network wx) against the dev server over loopback, through the
// fault proxy (tests/js/sim/fault-proxy.js): N reconnect cycles (the proxy cuts the socket,
// the tunnel reconnects), then M chat messages emitted and heard back from the room, in
// batches. Samples, after a GC: the wasm linear memory (pages), the JS heap, the sockets
// still open (net-wx's WebSockets and the SDK's SocketTasks), the SDK's live timers, its
// pending calls, and the server's own counts. Prints a Markdown report.
//
//   node --expose-gc bench/soak.js [--cycles 10000] [--messages 1000000] [--batch 500]
//   (script/soak runs it; --write there stores the report in BENCHMARKS.md)
'use strict';
const path = require('path');
const fs = require('fs');
const { createMiniProgram } = require('../tests/js/sim/miniprogram');
const { createNetWx } = require('../tests/js/sim/net-wx');
const { ROOT, bowerInstall, remove } = require('../tests/js/sim/install');
const { startDevServer } = require('../tests/js/sim/devserver');
const { startFaultProxy } = require('../tests/js/sim/fault-proxy');

const SDK = 'bower_components/qcloud-weapp-client-sdk';

function arg(name, dflt) {
  const i = process.argv.indexOf('--' + name);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
}
const CYCLES = arg('cycles', 10000);
const MESSAGES = arg('messages', 1000000);
const BATCH = arg('batch', 500);
const SAMPLES = 10;

async function main() {
  if (typeof global.gc !== 'function') throw new Error('run with node --expose-gc');
  for (const f of [path.join(ROOT, 'pkg', 'lib', 'qcloud.wasm.br'), path.join(ROOT, 'target', 'debug', 'wafer-devserver')]) {
    if (!fs.existsSync(f)) throw new Error(f + ' is missing (script/build; cargo build -p wafer-devserver)');
  }
  const dir = bowerInstall(path.join(ROOT, 'pkg'));
  const server = await startDevServer(['--heartbeat', '15']);
  const proxy = await startFaultProxy({ target: Number(new URL(server.url).port) });
  const net = createNetWx({ user: 'soak', requestTimeout: 10000 });
  const quiet = { log() {}, info() {}, debug() {}, warn() {}, error: (...a) => console.error('[sdk]', ...a) };
  const mp = createMiniProgram(dir, { wx: net.wx, log: quiet });
  const cleanup = async () => {
    mp.dispose();
    net.dispose();
    await proxy.stop();
    await server.stop();
    remove(dir);
  };

  // The SDK's live timers: the runtime's timer functions, wrapped before the SDK loads.
  const ctx = mp.context;
  const live = new Set();
  const { setTimeout: st, clearTimeout: ct, setInterval: si, clearInterval: ci } = ctx;
  ctx.setTimeout = (fn, ms, ...a) => {
    const id = st(() => { live.delete(id); fn(...a); }, ms);
    live.add(id);
    return id;
  };
  ctx.clearTimeout = (id) => { live.delete(id); ct(id); };
  ctx.setInterval = (fn, ms) => { const id = si(fn, ms); live.add(id); return id; };
  ctx.clearInterval = (id) => { live.delete(id); ci(id); };

  const qcloud = mp.require('/' + SDK + '/index.js');
  await qcloud.ready;
  const host = mp.require('/' + SDK + '/lib/host.js');
  qcloud.setLoginUrl(proxy.url + '/login');
  await qcloud.login();

  qcloud.Tunnel.MAX_RECONNECT_TRY_TIMES = 5;
  qcloud.Tunnel.RECONNECT_TIME_INCREASE = 0; // the next try 1 ms after a drop
  const tunnel = new qcloud.Tunnel(proxy.url + '/tunnel');
  const counts = { connect: 0, reconnecting: 0, reconnect: 0, close: 0, error: 0 };
  let wake = null;
  const poke = () => { if (wake) { const w = wake; wake = null; w(); } };
  for (const name of Object.keys(counts)) tunnel.on(name, () => { counts[name]++; poke(); });
  const errors = [];
  tunnel.on('error', (e) => errors.push(e.code));
  let heard = 0;
  let misordered = 0;
  tunnel.on('speak', (c) => {
    if (!c.who || c.who.nickName !== 'soak') return;
    if (c.word !== heard) misordered++;
    heard++;
    poke();
  });
  const waitFor = async (what, check, ms = 10000) => {
    const end = Date.now() + ms;
    while (!check()) {
      if (Date.now() > end) throw new Error('soak: timed out waiting for ' + what + ' ' + JSON.stringify(counts));
      await new Promise((resolve) => { wake = resolve; setTimeout(poke, 50); });
    }
  };

  const rows = [];
  const sample = async (phase, n) => {
    // The test wx lists every URL it was asked for: harness bookkeeping, not the SDK's.
    net.calls.request.length = 0;
    net.calls.connectSocket.length = 0;
    await new Promise((r) => setImmediate(r));
    global.gc();
    if (process.argv.includes('--snapshots')) {
      console.error('snapshot', require('v8').writeHeapSnapshot(`/tmp/soak-${phase}-${n}.heapsnapshot`));
    }
    const stats = await (await fetch(server.url + '/dev/stats')).json();
    rows.push({
      phase,
      n,
      pages: host.state.instance.exports.memory.buffer.byteLength / 65536,
      heap: process.memoryUsage().heapUsed / 1048576,
      sockets: net.sockets.size,
      tasks: host.state.tasks.size,
      timers: live.size,
      ops: host.state.ops.size,
      serverSockets: stats.sockets,
      pendingTunnels: stats.pendingTunnels,
      status: tunnel.status,
    });
  };

  const t0 = Date.now();
  tunnel.open();
  await waitFor('the first connect', () => tunnel.status === 'ACTIVE');
  await sample('start', 0);

  // 1. Reconnect cycles: cut, wait until the tunnel is active again.
  const every = Math.max(1, Math.floor(CYCLES / SAMPLES));
  for (let i = 1; i <= CYCLES; i++) {
    proxy.dropSockets();
    await waitFor('reconnect ' + i, () => counts.reconnect >= i && tunnel.status === 'ACTIVE');
    if (i % every === 0) await sample('reconnects', i);
  }
  const t1 = Date.now();

  // 2. Messages: emitted in batches, each batch heard back from the room before the next
  // (the server queues at most 256 frames per socket).
  const everyM = Math.max(BATCH, Math.floor(MESSAGES / SAMPLES / BATCH) * BATCH);
  let sent = 0;
  while (sent < MESSAGES) {
    const n = Math.min(BATCH, MESSAGES - sent);
    for (let k = 0; k < n; k++) tunnel.emit('speak', { word: sent + k });
    sent += n;
    await waitFor('echo of ' + sent, () => heard >= sent);
    if (sent % everyM === 0 || sent === MESSAGES) await sample('messages', sent);
  }
  const t2 = Date.now();
  tunnel.close();
  await new Promise((r) => setTimeout(r, 200));
  await sample('closed', 0);
  await cleanup();

  const after = rows.filter((r) => r.phase !== 'start');
  const first = rows[1];
  const last = rows[rows.length - 2];
  const flat = (k, tol) => Math.abs(last[k] - first[k]) <= tol;
  const verdict = {
    'wasm pages': flat('pages', 0),
    'JS heap (±1 MB)': flat('heap', 1),
    'open sockets': after.every((r) => r.phase === 'closed' ? r.sockets === 0 : r.sockets === 1),
    'SocketTasks': after.every((r) => r.phase === 'closed' ? r.tasks === 0 : r.tasks === 1),
    'SDK timers': flat('timers', 0),
    'pending calls': after.every((r) => r.ops === 0),
  };
  const out = [];
  out.push(`Node ${process.version}, ${require('os').cpus().length} cores; dev server (debug build) on 127.0.0.1 behind the fault proxy; one SDK instance throughout.`);
  out.push('');
  out.push(`- ${CYCLES.toLocaleString('en')} reconnect cycles (socket cut by the proxy, next try after 1 ms): ${((t1 - t0) / 1000).toFixed(1)} s, ${((t1 - t0) / CYCLES).toFixed(2)} ms a cycle; events: ${counts.reconnecting} reconnecting, ${counts.reconnect} reconnect, ${counts.close} close, errors ${JSON.stringify(errors)}`);
  out.push(`- ${MESSAGES.toLocaleString('en')} messages emitted and heard back from the room in batches of ${BATCH}: ${((t2 - t1) / 1000).toFixed(1)} s (${Math.round(MESSAGES / ((t2 - t1) / 1000)).toLocaleString('en')} round trips/s); heard ${heard.toLocaleString('en')}, out of order ${misordered}`);
  out.push('');
  out.push('| phase | n | wasm pages | JS heap MB | sockets | SocketTasks | SDK timers | pending calls | server sockets | server pending tunnels | status |');
  out.push('|---|---|---|---|---|---|---|---|---|---|---|');
  for (const r of rows) {
    out.push(`| ${r.phase} | ${r.n.toLocaleString('en')} | ${r.pages} | ${r.heap.toFixed(2)} | ${r.sockets} | ${r.tasks} | ${r.timers} | ${r.ops} | ${r.serverSockets} | ${r.pendingTunnels} | ${r.status} |`);
  }
  out.push('');
  out.push('Flat (first sample after the start vs the last before closing): ' +
    Object.entries(verdict).map(([k, v]) => `${k} ${v ? 'yes' : '**NO**'}`).join(', ') + '.');
  console.log(out.join('\n'));
  const ok = Object.values(verdict).every(Boolean) && misordered === 0 && heard === MESSAGES && counts.reconnect === CYCLES;
  process.exitCode = ok ? 0 : 1;
}

main().catch((e) => { console.error(e); process.exit(1); });
