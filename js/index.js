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

/** Where the package sits in a mini-program's code package (bower layout). */
var DEFAULT_WASM_PATH = '/bower_components/qcloud-weapp-client-sdk/lib/qcloud.wasm.br';

var ERR = {
  ERR_INVALID_PARAMS: 'ERR_INVALID_PARAMS',
  ERR_WX_LOGIN_FAILED: 'ERR_WX_LOGIN_FAILED',
  ERR_WX_GET_USER_INFO: 'ERR_WX_GET_USER_INFO',
  ERR_LOGIN_TIMEOUT: 'ERR_LOGIN_TIMEOUT',
  ERR_LOGIN_FAILED: 'ERR_LOGIN_FAILED',
  ERR_LOGIN_SESSION_NOT_RECEIVED: 'ERR_LOGIN_MISSING_SESSION',
  ERR_INVALID_SESSION: 'ERR_INVALID_SESSION',
  ERR_CHECK_LOGIN_FAILED: 'ERR_CHECK_LOGIN_FAILED',
  /** Network failure of a session request (`fail` gets a RequestError with the wx error as detail). */
  ERR_REQUEST_FAILED: 'ERR_REQUEST_FAILED',
  /** The wasm module could not be loaded. */
  ERR_SDK_LOAD_FAILED: 'ERR_SDK_LOAD_FAILED',
};

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
 * `wasmPath` (a path in the code package, `.wasm` or `.wasm.br`), `bytes` (a BufferSource,
 * or a Promise of one) / `module` (for browsers), `wx` (the wx API object to use instead
 * of the global one). Call it right after `require`, in the same tick.
 */
function init(options) {
  options = options || {};
  if (options.wx) state.wx = options.wx;
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
    loadError = new LoginError(ERR.ERR_SDK_LOAD_FAILED, 'SDK 加载失败：' + (e && e.message ? e.message : String(e)), e);
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
 * a Promise when the call has no callback (the wx convention), else undefined.
 */
function call(options, request, run) {
  var op = ++lastOp;
  var entry = new Op(options);
  var promise;
  if (typeof entry.success !== 'function' && typeof entry.fail !== 'function' && typeof entry.complete !== 'function') {
    promise = new Promise(function (resolve, reject) { entry.resolve = resolve; entry.reject = reject; });
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

/** Sets the login URL used by `login` and `request({ login: true })`. */
function setLoginUrl(url) {
  if (typeof url !== 'string' || !url) {
    throw new LoginError(ERR.ERR_INVALID_PARAMS, '登录地址必须是非空字符串');
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
      throw new LoginError(ERR.ERR_INVALID_PARAMS, '会话必须是包含 skey 的对象');
    }
  },
  clear: clearSession,
};

// ------------------------------------------------------------------ tunnel service
var STATUS = ['CLOSED', 'CONNECTING', 'ACTIVE', 'RECONNECTING'];

/**
 * A WebSocket channel to the tunnel service at `serviceUrl`. Options (all optional):
 * `backoff: 'linear' | 'exponential'`, `backoffCap` (ms), `jitter` (default true),
 * `maxQueue` (packets queued while not connected), `heartbeat` (ms).
 */
function Tunnel(serviceUrl, options) {
  if (!(this instanceof Tunnel)) return new Tunnel(serviceUrl, options);
  var me = this;
  var o = {};
  var k;
  if (options && typeof options === 'object') for (k in options) o[k] = options[k];
  o.maxReconnectTryTimes = Tunnel.MAX_RECONNECT_TRY_TIMES;
  o.reconnectTimeIncrease = Tunnel.RECONNECT_TIME_INCREASE;
  this.serviceUrl = serviceUrl;
  this._options = o;
  this._tid = 0;
  this._listeners = [];
  this._pending = [];
  var create = function (x) {
    me._tid = x.tunnel_create(serviceUrl, o);
    // The driver forgets closed tunnels on creation; so do their listener lists.
    for (var k in state.listeners) if (!x.tunnel_alive(+k)) delete state.listeners[k];
    state.listeners[me._tid] = me._listeners;
  };
  if (state.exports) {
    this._pending = null;
    create(state.exports);
  } else {
    whenReady(function (x) {
      var list = me._pending;
      me._pending = null;
      try {
        create(x);
      } catch (e) {
        // Another tunnel is open: report it; the calls made meanwhile retry creating
        // this tunnel when they run (see _run), and fail the same way if it is still open.
        me._dispatchLocal('error', { code: Tunnel.ERR_CONNECT_SERVICE, message: e.message, detail: e });
      }
      for (var i = 0; i < list.length; i++) {
        try {
          list[i](x);
        } catch (e) {
          if (typeof console !== 'undefined') console.error('qcloud: a deferred tunnel call threw', e);
        }
      }
    }, function (err) {
      me._dispatchLocal('error', { code: Tunnel.ERR_CONNECT_SERVICE, message: err.message, detail: err });
    });
  }
}

Tunnel.STATUS_CLOSED = 'CLOSED';
Tunnel.STATUS_CONNECTING = 'CONNECTING';
Tunnel.STATUS_ACTIVE = 'ACTIVE';
Tunnel.STATUS_RECONNECTING = 'RECONNECTING';
Tunnel.ERR_CONNECT_SERVICE = 1001;
Tunnel.ERR_CONNECT_SOCKET = 1002;
Tunnel.ERR_RECONNECT = 2001;
Tunnel.ERR_SOCKET_ERROR = 3001;
/** `emit` while the send queue is full: the packet was not queued (detail: `{type, content}`). */
Tunnel.ERR_QUEUE_FULL = 4001;
/** Packets still queued when the tunnel closed (detail: `[{type, content}, …]`). */
Tunnel.ERR_UNSENT = 4002;
/** A listener threw (detail: the exception). */
Tunnel.ERR_LISTENER = 5001;
Tunnel.MAX_RECONNECT_TRY_TIMES = 5;
Tunnel.RECONNECT_TIME_INCREASE = 1000;

/**
 * Runs `fn(exports, tid)` now, or once the module is ready. A tunnel whose creation was
 * refused (another one was open) tries again here; `_revive` reports a new refusal with
 * an `error` event, and `refused` (if given) runs.
 */
Tunnel.prototype._run = function (fn, refused) {
  var me = this;
  var go = function (x) {
    if (me._tid || me._revive(x)) fn(x, me._tid);
    else if (refused) refused();
  };
  if (this._pending) this._pending.push(go);
  else go(state.exports);
};

/**
 * The driver forgets closed tunnels when a new one is created (memory stays flat); a
 * forgotten tunnel used again gets a new id. `false` (and an `error` event) when that
 * is refused because another tunnel is open.
 */
Tunnel.prototype._revive = function (x) {
  if (x.tunnel_alive(this._tid)) return true;
  var tid;
  try {
    tid = x.tunnel_create(this.serviceUrl, this._options);
  } catch (e) {
    this._dispatchLocal('error', { code: Tunnel.ERR_CONNECT_SERVICE, message: e.message, detail: e });
    return false;
  }
  delete state.listeners[this._tid];
  this._tid = tid;
  state.listeners[tid] = this._listeners;
  return true;
};

Tunnel.prototype._dispatchLocal = function (name, payload) {
  host.state.listeners[0] = this._listeners;
  host.tunnel_event(0, name, payload);
  delete host.state.listeners[0];
};

/** Connects: fetches the socket URL from `serviceUrl` (with the session), then opens the socket. */
Tunnel.prototype.open = function () {
  var me = this;
  this._run(function (x) { if (me._revive(x)) x.tunnel_open(me._tid); });
};

/** Adds a listener for an event (`connect`, `close`, `reconnecting`, `reconnect`, `error`, a server message type, or `*`). */
Tunnel.prototype.on = function (type, listener) {
  if (typeof listener !== 'function') return this;
  this._listeners = this._listeners.concat([[String(type), listener]]);
  if (this._tid) state.listeners[this._tid] = this._listeners;
  return this;
};

/** Removes a listener added with `on` (all listeners of `type` when `listener` is omitted). */
Tunnel.prototype.off = function (type, listener) {
  type = String(type);
  this._listeners = this._listeners.filter(function (l) {
    return !(l[0] === type && (listener === undefined || l[1] === listener));
  });
  if (this._tid) state.listeners[this._tid] = this._listeners;
  return this;
};

/** Sends a message `{type, content}`; queued while the tunnel is not active. */
Tunnel.prototype.emit = function (type, content) {
  if (this._tid) {
    var r = state.exports.tunnel_emit(this._tid, type, content);
    if (r !== 0) this._emitFailed(state.exports, r, type, content);
    return;
  }
  JSON.stringify({ type: type, content: content }); // throws now for content JSON cannot encode
  var me = this;
  this._run(function (x) {
    var r = x.tunnel_emit(me._tid, type, content);
    if (r !== 0) me._emitFailed(x, r, type, content);
  }, function () { me._reportUnsent(type, content); });
};

/** Reports a packet that no tunnel took (error 4002). */
Tunnel.prototype._reportUnsent = function (type, content) {
  this._reportUnsent(type, content);
};

/** `tunnel_emit` said 1 (content JSON cannot encode) or 2 (a forgotten tunnel). */
Tunnel.prototype._emitFailed = function (x, r, type, content) {
  if (r === 1) throw host.json_error();
  // A closed tunnel forgotten by the driver: revive it and send, or report the packet.
  if (this._revive(x)) {
    var again = x.tunnel_emit(this._tid, type, content);
    if (again === 1) throw host.json_error();
    return;
  }
  this._reportUnsent(type, content);
};

/** Closes the tunnel; packets still queued are reported with an `error` (4002). */
Tunnel.prototype.close = function () {
  this._run(function (x, tid) { x.tunnel_close(tid); });
};

Object.defineProperty(Tunnel.prototype, 'status', {
  get: function () { return STATUS[this._tid ? state.exports.tunnel_status(this._tid) : 0]; },
});
Object.defineProperty(Tunnel.prototype, 'socketUrl', {
  get: function () { return this._tid ? state.exports.tunnel_socket_url(this._tid) : null; },
});
Tunnel.prototype.isClosed = function () { return this.status === 'CLOSED'; };
Tunnel.prototype.isConnecting = function () { return this.status === 'CONNECTING'; };
Tunnel.prototype.isActive = function () { return this.status === 'ACTIVE'; };
Tunnel.prototype.isReconnecting = function () { return this.status === 'RECONNECTING'; };

// ------------------------------------------------------------------ exports
var api = {
  init: init,
  ready: ready,
  setLoginUrl: setLoginUrl,
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
