// qcloud-weapp-client-sdk: the Wafer client SDK for WeChat mini-programs.
//
//   var qcloud = require('./bower_components/qcloud-weapp-client-sdk/index.js');
//
// The protocol runs in WebAssembly (lib/qcloud.wasm); this file loads it and exposes the
// API of the original SDK. Instantiation is asynchronous in a mini-program, so calls
// made before the module is ready wait and then run; `qcloud.ready` resolves once it is.
'use strict';

var glue = require('./lib/wasm.js');
var host = require('./lib/host.js');
var state = host.state;

/**
 * Where the module sits in a mini-program's code package: here the bower layout's path. A
 * mini-program module cannot find its own location (no __dirname), so script/build writes
 * the npm layout's path (/miniprogram_npm/qcloud-weapp-client-sdk/…) into that layout's copy
 * of this file, miniprogram_dist/index.js. Any other place: qcloud.init({ wasmPath }).
 */
var DEFAULT_WASM_PATH = '/bower_components/qcloud-weapp-client-sdk/lib/qcloud.wasm.br';

var C = host.C;
var ERR = C.ERR;

function defineError(name) {
  function E(type, message, detail) {
    var e = new Error(message);
    Object.setPrototypeOf(e, E.prototype);
    e.name = name;
    e.type = type;
    e.message = message;
    if (detail !== undefined) {
      e.detail = detail;
      if (detail && typeof detail === 'object' && typeof detail.errMsg === 'string') e.errMsg = detail.errMsg;
    }
    return e;
  }
  E.prototype = Object.create(Error.prototype, {
    constructor: { value: E, writable: true, configurable: true },
    name: { value: name, writable: true, configurable: true },
  });
  return E;
}

/** Errors of `login` / `loginWithCode`, and of a `request`'s login. */
var LoginError = defineError('LoginError');
/** Errors of `request`. */
var RequestError = defineError('RequestError');

state.makeError = function (request, type, message, detail) {
  return request ? new RequestError(type, message, detail) : new LoginError(type, message, detail);
};

// ------------------------------------------------------------------ loading
var waiting = [];
var loadError = null;
var started = false;
var settle;
var ready = new Promise(function (resolve, reject) { settle = { resolve: resolve, reject: reject }; });
ready.catch(function () { /* reported to each waiting call; avoid an unhandled rejection */ });

function whenReady(run, failed) {
  if (state.exports) return run(state.exports);
  if (loadError) return failed(loadError);
  waiting.push([run, failed]);
  start();
  return undefined;
}

function instantiate(options) {
  var imports = glue.__wbg_get_imports();
  if (options.module || options.bytes) {
    // `bytes` may also be a Promise of them (a browser fetching the .wasm file).
    return Promise.resolve(options.module || options.bytes).then(function (source) {
      return WebAssembly.instantiate(source, imports);
    }).then(function (r) {
      return r.instance ? r : { instance: r, module: options.module };
    });
  }
  if (typeof WXWebAssembly !== 'undefined') { // eslint-disable-line no-undef
    var path = options.wasmPath || DEFAULT_WASM_PATH;
    // .wasm.br needs base library 2.14.0; fall back to the plain file on older ones.
    return WXWebAssembly.instantiate(path, imports).catch(function (e) { // eslint-disable-line no-undef
      if (!/\.br$/.test(path)) throw e;
      return WXWebAssembly.instantiate(path.slice(0, -3), imports); // eslint-disable-line no-undef
    });
  }
  if (typeof WebAssembly !== 'undefined' && typeof require === 'function' && typeof __dirname === 'string') {
    var fs = require('fs');
    var file = options.wasmPath || require('path').join(__dirname, 'lib', 'qcloud.wasm');
    return WebAssembly.instantiate(fs.readFileSync(file), imports);
  }
  return Promise.reject(new Error('no way to load the wasm module here: pass qcloud.init({ wasmPath | bytes | module })'));
}

/**
 * Starts loading now (it starts by itself on the first call). Options, all optional:
 * `wasmPath` (a path in the code package, `.wasm` or `.wasm.br`; default DEFAULT_WASM_PATH,
 * the bower or the npm layout's), `bytes` (a BufferSource,
 * or a Promise of one) / `module` (for browsers), `wx` (the wx API object to use instead
 * of the global one), `clock` (`{now, setTimeout, clearTimeout}` used instead of the
 * global ones: tests run the SDK on a simulated clock). Call it right after `require`,
 * in the same tick.
 */
function init(options) {
  options = options || {};
  if (options.wx) state.wx = options.wx;
  if (options.clock) state.clock = options.clock;
  if (started) return ready;
  started = true;
  var p;
  try {
    p = instantiate(options);
  } catch (e) {
    p = Promise.reject(e);
  }
  p.then(function (r) {
    glue.__wbg_finalize_init(r.instance, r.module);
    state.instance = r.instance; // diagnostics: the linear memory's size (bench/)
    state.exports = glue;
    var list = waiting;
    waiting = [];
    settle.resolve(api);
    for (var i = 0; i < list.length; i++) runWaiting(list[i]);
  }, function (e) {
    loadError = new LoginError(ERR.ERR_SDK_LOAD_FAILED, C.MSG.SDK_LOAD_FAILED + (e && e.message ? e.message : String(e)), e);
    var list = waiting;
    waiting = [];
    settle.reject(loadError);
    for (var i = 0; i < list.length; i++) list[i][1](loadError);
  });
  return ready;
}

/** Runs a call that waited for the module; if it throws, that call fails, not the others. */
function runWaiting(entry) {
  try {
    entry[0](state.exports);
  } catch (e) {
    entry[1](new LoginError(ERR.ERR_INVALID_PARAMS, (e && e.message) || String(e), e));
  }
}

function start() {
  if (!started) init();
}

// ------------------------------------------------------------------ session service
var lastOp = 0;

/** A pending call: its callbacks (or its Promise's), and its options. */
function Op(options) {
  var o = options && typeof options === 'object' ? options : {};
  this.success = o.success;
  this.fail = o.fail;
  this.complete = o.complete;
  this.options = o;
  this.resolve = undefined;
  this.reject = undefined;
}

/**
 * Registers a call and runs `run(exports, op)` now, or once the module is ready. Returns
 * a Promise when the call has no callback (the wx convention), else undefined. A call
 * made without callbacks and never awaited stays silent on failure, as the original's
 * did: its Promise is marked handled, while a caller who awaits it still gets the error.
 */
function call(options, request, run) {
  var op = ++lastOp;
  var entry = new Op(options);
  var promise;
  if (typeof entry.success !== 'function' && typeof entry.fail !== 'function' && typeof entry.complete !== 'function') {
    promise = new Promise(function (resolve, reject) { entry.resolve = resolve; entry.reject = reject; });
    promise.catch(noop);
  }
  state.ops.set(op, entry);
  if (state.exports) {
    run(state.exports, op);
  } else {
    whenReady(function (x) { run(x, op); }, function (err) {
      host.op_fail(op, request, err.type, err.message, err.detail);
    });
  }
  return promise;
}

function noop() {}

/** Sets the login URL used by `login` and `request({ login: true })`. */
function setLoginUrl(url) {
  if (typeof url !== 'string' || !url) {
    throw new LoginError(ERR.ERR_INVALID_PARAMS, C.MSG.LOGIN_URL);
  }
  whenReady(function (x) { x.session_set_login_url(url); }, function () {});
}

/** Logs in (wx.login + user info → the login URL) and stores the session. */
function login(options) {
  return call(options, false, function (x, op) { x.session_login(op, options, false); });
}

/** Logs in with the wx.login code only (a user the server already knows; wafer2 API). */
function loginWithCode(options) {
  return call(options, false, function (x, op) { x.session_login(op, options, true); });
}

/** `wx.request` carrying the session; `login: true` logs in first; re-logs in once on an expired session. */
function request(options) {
  return call(options, true, function (x, op) { x.session_request(op, options); });
}

function readySync(name) {
  if (!state.exports) {
    throw new Error('qcloud.' + name + '() needs the SDK to be loaded: wait for qcloud.ready');
  }
  return state.exports;
}

/**
 * Turns the debug log on: `logger` gets one line per protocol step (login stages, request
 * retries, tunnel states, reconnect tries and delays, frames in and out by type), with the
 * session key, codes and encrypted data masked. A function, or an object with `info` (as
 * `console` or `wx.getRealtimeLogManager()`: the log then shows in the mini-program admin's
 * realtime logs). `null` turns it off (the default: nothing is formatted then).
 */
function setLogger(logger) {
  state.logger = logger && (typeof logger === 'function' || typeof logger === 'object') ? logger : null;
  var on = !!state.logger;
  whenReady(function (x) { x.set_debug(on); }, noop);
}

/** Forgets the stored session. */
function clearSession() {
  whenReady(function (x) { x.session_clear(); }, function () {});
}

/** The session headers `{X-WX-Id, X-WX-Skey}` for a request of your own, or `{}`. */
function buildSessionHeader() {
  return readySync('buildSessionHeader').session_header();
}

/** The stored session (wafer2 `Session` API). */
var Session = {
  get: function () { return readySync('Session.get').session_get(); },
  set: function (session) {
    if (!readySync('Session.set').session_set(session)) {
      throw new LoginError(ERR.ERR_INVALID_PARAMS, C.MSG.SESSION_VALUE);
    }
  },
  clear: clearSession,
};

// ------------------------------------------------------------------ tunnel service
/**
 * A WebSocket channel to the tunnel service at `serviceUrl`. Options (all optional):
 * `backoff: 'linear' | 'exponential'`, `backoffCap` (ms), `jitter` (default true),
 * `maxQueue` (packets queued while not connected), `heartbeat` (ms), `openTimeout` (ms).
 */
function Tunnel(serviceUrl, options) {
  if (!(this instanceof Tunnel)) return new Tunnel(serviceUrl, options);
  var me = this;
  var o = {};
  if (options && typeof options === 'object') for (var k in options) o[k] = options[k];
  o.maxReconnectTryTimes = Tunnel.MAX_RECONNECT_TRY_TIMES;
  o.reconnectTimeIncrease = Tunnel.RECONNECT_TIME_INCREASE;
  this.serviceUrl = serviceUrl;
  this._tid = 0;
  this._listeners = [];
  this._pending = null;
  if (state.exports) {
    this._tid = state.exports.tunnel_create(serviceUrl, o, false);
    host.tunnel_attach(this._tid, this);
    return;
  }
  // Made before the module is ready: created then (it can no longer throw), with the
  // calls made meanwhile run after it in order.
  this._pending = [];
  whenReady(function (x) {
    var list = me._pending;
    me._pending = null;
    me._tid = x.tunnel_create(serviceUrl, o, true);
    host.tunnel_attach(me._tid, me);
    for (var i = 0; i < list.length; i++) list[i](x);
  }, function (err) {
    var list = me._pending;
    me._pending = null;
    host.tunnel_attach(0, me);
    host.tunnel_event(0, 'error', { code: Tunnel.ERR_CONNECT_SERVICE, message: err.message, detail: err });
    host.tunnel_release(0);
    for (var i = 0; i < list.length; i++) list[i](null);
  });
}

Tunnel.STATUS_CLOSED = C.STATUS[0];
Tunnel.STATUS_CONNECTING = C.STATUS[1];
Tunnel.STATUS_ACTIVE = C.STATUS[2];
Tunnel.STATUS_RECONNECTING = C.STATUS[3];
/** 1001 the service URL request failed; 1002 the socket could not open; 2001 reconnecting
 * gave up; 3001 socket error while connecting; 4001 `emit` while the send queue is full
 * (detail: `{type, content}`); 4002 packets still queued when the tunnel closed (detail:
 * `[{type, content}, …]`); 5001 a listener threw (detail: the exception). */
for (var code in C.TUNNEL_ERR) Tunnel[code] = C.TUNNEL_ERR[code];
Tunnel.MAX_RECONNECT_TRY_TIMES = C.MAX_RECONNECT_TRY_TIMES;
Tunnel.RECONNECT_TIME_INCREASE = C.RECONNECT_TIME_INCREASE;

/** Runs `fn(exports, tid)` now, or after the tunnel is created (module loading). */
Tunnel.prototype._run = function (fn) {
  var me = this;
  if (this._pending) {
    this._pending.push(function (x) { if (x) fn(x, me._tid); });
    return;
  }
  if (!this._tid) return; // the module failed to load: reported as error 1001
  host.tunnel_attach(this._tid, this);
  fn(state.exports, this._tid);
};

/** Connects: fetches the socket URL from `serviceUrl` (with the session), then opens the socket. */
Tunnel.prototype.open = function () {
  this._run(function (x, tid) { x.tunnel_open(tid); });
};

/** Adds a listener for an event (`connect`, `close`, `reconnecting`, `reconnect`, `error`, a server message type, or `*`). */
Tunnel.prototype.on = function (type, listener) {
  if (typeof listener === 'function') this._listeners = this._listeners.concat([[String(type), listener]]);
  return this;
};

/** Removes a listener added with `on` (all listeners of `type` when `listener` is omitted). */
Tunnel.prototype.off = function (type, listener) {
  type = String(type);
  this._listeners = this._listeners.filter(function (l) {
    return !(l[0] === type && (listener === undefined || l[1] === listener));
  });
  return this;
};

/** Sends a message `{type, content}`; queued while the tunnel is not active. */
Tunnel.prototype.emit = function (type, content) {
  if (!this._tid || this._pending) {
    JSON.stringify({ type: type, content: content }); // throws now for content JSON cannot encode
    this._run(function (x, tid) { x.tunnel_emit(tid, type, content); });
    return;
  }
  host.tunnel_attach(this._tid, this);
  if (state.exports.tunnel_emit(this._tid, type, content) === 1) throw host.json_error();
};

/** Closes the tunnel; packets still queued are reported with an `error` (4002). */
Tunnel.prototype.close = function () {
  this._run(function (x, tid) { x.tunnel_close(tid); });
};

Object.defineProperty(Tunnel.prototype, 'status', {
  get: function () { return C.STATUS[this._tid && !this._pending ? state.exports.tunnel_status(this._tid) : 0]; },
});
Object.defineProperty(Tunnel.prototype, 'socketUrl', {
  get: function () { return this._tid && !this._pending ? state.exports.tunnel_socket_url(this._tid) : null; },
});
Tunnel.prototype.isClosed = function () { return this.status === Tunnel.STATUS_CLOSED; };
Tunnel.prototype.isConnecting = function () { return this.status === Tunnel.STATUS_CONNECTING; };
Tunnel.prototype.isActive = function () { return this.status === Tunnel.STATUS_ACTIVE; };
Tunnel.prototype.isReconnecting = function () { return this.status === Tunnel.STATUS_RECONNECTING; };

// ------------------------------------------------------------------ exports
var api = {
  init: init,
  ready: ready,
  setLoginUrl: setLoginUrl,
  setLogger: setLogger,
  login: login,
  loginWithCode: loginWithCode,
  request: request,
  clearSession: clearSession,
  buildSessionHeader: buildSessionHeader,
  Session: Session,
  Tunnel: Tunnel,
  LoginError: LoginError,
  RequestError: RequestError,
  DEFAULT_WASM_PATH: DEFAULT_WASM_PATH,
};
for (var name in ERR) api[name] = ERR[name];

// Start loading right after this module's caller has had a chance to call init().
Promise.resolve().then(start);

module.exports = api;
