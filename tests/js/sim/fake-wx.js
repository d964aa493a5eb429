// A scriptable fake `wx` for tests: storage, login, user info, checkSession, request and
// SocketTasks, each recording its calls and answering as the test says.
'use strict';

/** Runs `fn` on a later macrotask, as wx does for callbacks (on `clock` when given one). */
const laterOn = (clock) => (clock ? (fn) => clock.setTimeout(fn, 0) : (fn) => setTimeout(fn, 0));

/** Whether a frame belongs to the resume extension (`resumable:1`, `ack:n`, `resume:n:token`). */
const isExtensionFrame = (data) => typeof data === 'string' && /^(resumable|ack|resume)(:|$)/.test(data);

class FakeSocketTask {
  constructor(wx, options) {
    this.wx = wx;
    this.url = options.url;
    /** Frames of the base protocol (docs/PROTOCOL.md §5) the client wrote, in order. */
    this.sent = [];
    /** Frames of the resume extension (docs/RESUME.md) the client wrote, in order. */
    this.extension = [];
    /** Every frame the client wrote, in order. */
    this.frames = [];
    this.closed = null;
    this.handlers = { open: [], message: [], close: [], error: [] };
    this.failSends = false;
  }
  onOpen(fn) { this.handlers.open.push(fn); }
  onMessage(fn) { this.handlers.message.push(fn); }
  onClose(fn) { this.handlers.close.push(fn); }
  onError(fn) { this.handlers.error.push(fn); }
  send(options) {
    const later = this.wx.later;
    if (this.failSends || this.closed) {
      later(() => options.fail && options.fail({ errMsg: 'sendSocketMessage:fail' }));
      return;
    }
    this.frames.push(options.data);
    (isExtensionFrame(options.data) ? this.extension : this.sent).push(options.data);
    later(() => options.success && options.success({ errMsg: 'sendSocketMessage:ok' }));
  }
  close(options) {
    if (this.closed) return;
    this.closed = options || {};
    this.wx.later(() => this.fire('close', { code: (options && options.code) || 1000, reason: '' }));
  }
  /** Server side: the socket opens. */
  open() { this.fire('open', {}); }
  /** Server side: a frame arrives. */
  message(data) { this.fire('message', { data }); }
  /** Server side: the connection drops. */
  drop() { this.closed = this.closed || { dropped: true }; this.fire('close', { code: 1006, reason: 'dropped' }); }
  /** Server side: an error. */
  error(detail) { this.fire('error', detail || { errMsg: 'socket error' }); }
  fire(kind, arg) { for (const h of this.handlers[kind]) h(arg); }
}

/**
 * Creates a fake wx. Handlers (all optional, replaceable at any time on `fake.handlers`):
 *   login(options) -> {code} | {fail: err}         default: codes 'code-1', 'code-2', …
 *   getUserInfo(options) -> {userInfo, encryptedData, iv} | {fail: err}
 *   checkSession() -> true | false                  default: true
 *   request(options) -> {data, statusCode, header} | {fail: err} | Promise of those | 'hang'
 * `clock` (a sim/clock.js clock): callbacks are answered on it instead of real timers.
 */
function createFakeWx(handlers = {}, { clock } = {}) {
  let codes = 0;
  const later = laterOn(clock);
  const fake = {
    clock: clock || null,
    /** Runs `fn` on a later macrotask (on the clock when there is one). */
    later,
    storage: new Map(),
    calls: { login: 0, getUserInfo: 0, checkSession: 0, request: [], connectSocket: [] },
    sockets: [],
    networkListeners: [],
    networkType: 'wifi',
    handlers: Object.assign({
      login: () => ({ code: 'code-' + ++codes }),
      getUserInfo: () => ({ userInfo: { nickName: '测试用户' }, encryptedData: 'ENC', iv: 'IV' }),
      checkSession: () => true,
      request: () => ({ data: {}, statusCode: 200, header: {} }),
    }, handlers),
    async: true,
  };
  const answer = (options, result, okMsg) => {
    const run = () => {
      Promise.resolve(result).then((r) => {
        if (r === 'hang') return;
        if (r && r.fail) options.fail && options.fail(r.fail);
        else options.success && options.success(Object.assign({ errMsg: okMsg }, r));
        options.complete && options.complete(r);
      });
    };
    if (fake.async) later(run); else run();
  };
  fake.wx = {
    login(o) { fake.calls.login++; answer(o, fake.handlers.login(o), 'login:ok'); },
    getUserInfo(o) { fake.calls.getUserInfo++; answer(o, fake.handlers.getUserInfo(o), 'getUserInfo:ok'); },
    checkSession(o) {
      fake.calls.checkSession++;
      answer(o, fake.handlers.checkSession(o) ? {} : { fail: { errMsg: 'checkSession:fail' } }, 'checkSession:ok');
    },
    request(o) { fake.calls.request.push(o); answer(o, fake.handlers.request(o), 'request:ok'); },
    getStorageSync(k) { return fake.storage.has(k) ? fake.storage.get(k) : ''; },
    setStorageSync(k, v) { fake.storage.set(k, JSON.parse(JSON.stringify(v))); },
    removeStorageSync(k) { fake.storage.delete(k); },
    connectSocket(o) {
      const task = new FakeSocketTask(fake, o);
      fake.calls.connectSocket.push(o);
      fake.sockets.push(task);
      if (fake.handlers.connectSocket) later(() => fake.handlers.connectSocket(task));
      return task;
    },
    onNetworkStatusChange(fn) { fake.networkListeners.push(fn); },
    getNetworkType(o) { later(() => o.success && o.success({ networkType: fake.networkType })); },
  };
  /** Reports a network change to the SDK. */
  fake.setOnline = (online) => {
    fake.networkType = online ? 'wifi' : 'none';
    for (const fn of fake.networkListeners) fn({ isConnected: online, networkType: fake.networkType });
  };
  /** The last SocketTask opened. */
  fake.lastSocket = () => fake.sockets[fake.sockets.length - 1];
  return fake;
}

/** Resolves after `ms` real milliseconds (tests use short delays). */
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls `check` until it returns truthy (or fails after `ms`). */
async function waitFor(check, ms = 2000, what = 'condition') {
  const end = Date.now() + ms;
  for (;;) {
    const v = check();
    if (v) return v;
    if (Date.now() > end) throw new Error('timed out waiting for ' + what);
    await sleep(2);
  }
}

module.exports = { createFakeWx, FakeSocketTask, isExtensionFrame, sleep, waitFor };
