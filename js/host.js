// Host functions imported by the wasm module: the only place that touches `wx`, timers
// and SocketTasks. Each one adapts a call of the Rust driver to a wx API, and each wx
// callback to an export of the driver. No protocol logic lives here.
// State is per loaded copy of the SDK (this module's own scope), never on the global object.
//
// Written as an ES module so wasm-bindgen can import it (`module = "/js/host.js"`);
// script/build turns it into CommonJS for the package.

// BEGIN GENERATED from wafer-core (core/src/constants.rs): do not edit by hand.
export const C = {
  /** `ERR_*` exports: key → `.type` value. */
  ERR: {
    ERR_INVALID_PARAMS: 'ERR_INVALID_PARAMS',
    ERR_WX_LOGIN_FAILED: 'ERR_WX_LOGIN_FAILED',
    ERR_WX_GET_USER_INFO: 'ERR_WX_GET_USER_INFO',
    ERR_LOGIN_TIMEOUT: 'ERR_LOGIN_TIMEOUT',
    ERR_LOGIN_FAILED: 'ERR_LOGIN_FAILED',
    ERR_LOGIN_SESSION_NOT_RECEIVED: 'ERR_LOGIN_MISSING_SESSION',
    ERR_INVALID_SESSION: 'ERR_INVALID_SESSION',
    ERR_CHECK_LOGIN_FAILED: 'ERR_CHECK_LOGIN_FAILED',
    ERR_REQUEST_FAILED: 'ERR_REQUEST_FAILED',
    ERR_SDK_LOAD_FAILED: 'ERR_SDK_LOAD_FAILED',
    ERR_SESSION_INVALID: 'ERR_SESSION_INVALID',
  },
  /** `Tunnel.STATUS_*` values by `tunnel_status()` index. */
  STATUS: ['CLOSED', 'CONNECTING', 'ACTIVE', 'RECONNECTING'],
  /** `Tunnel.ERR_*` codes. */
  TUNNEL_ERR: {
    ERR_CONNECT_SERVICE: 1001,
    ERR_CONNECT_SOCKET: 1002,
    ERR_RECONNECT: 2001,
    ERR_SOCKET_ERROR: 3001,
    ERR_QUEUE_FULL: 4001,
    ERR_UNSENT: 4002,
    ERR_LISTENER: 5001,
  },
  MAX_RECONNECT_TRY_TIMES: 5,
  RECONNECT_TIME_INCREASE: 1000,
  /** Messages of errors the shim raises itself. */
  MSG: {
    LOGIN_URL: '登录地址必须是非空字符串',
    SESSION_VALUE: '会话必须是包含 skey 的对象',
    ANOTHER_TUNNEL_OPEN: '当前有未关闭的信道，请先关闭之前的信道，再打开新信道',
    SDK_LOAD_FAILED: 'SDK 加载失败：',
  },
  /** Request options the SDK keeps for itself. */
  SDK_REQUEST_OPTIONS: ['success', 'fail', 'complete', 'login', 'loginUrl', 'header', 'codeOnly', 'detail'],
  MAGIC_ID: 'F2C224D4-2BCE-4C64-AF9F-A6D872000D1A',
  SESSION_KEY: 'weapp_session_F2C224D4-2BCE-4C64-AF9F-A6D872000D1A',
  /** Value kinds of the summaries. */
  KIND: { UNDEFINED: 0, NULL: 1, BOOLEAN: 2, NUMBER: 3, STRING: 4, ARRAY: 5, OBJECT: 6, OTHER: 7 },
  /** Bits of `response_shape()`. */
  RESPONSE: { STATUS_MASK: 1023, BODY_OBJECT: 1024, MAGIC: 2048, CODE_MINUS_ONE: 4096, CODE_ZERO: 8192 },
  /** Bits of `request_shape()`. */
  REQUEST: { KIND_MASK: 7, HEADER_KIND_SHIFT: 3, URL: 64, LOGIN: 128, LOGIN_URL: 256, TIMEOUT: 512, REFERER: 1024 },
};
// END GENERATED

export const state = {
  /** The wx API object in use (the runtime's `wx`, or one given to `qcloud.init`). */
  wx: null,
  /** The wasm exports, once instantiated. */
  exports: null,
  /** The wasm instance (diagnostics). */
  instance: null,
  /** Pending user calls by op id: {success, fail, complete, resolve, reject}. */
  ops: new Map(),
  /** Tunnel handles by tunnel id (their `_listeners`: [[type, fn], …] in registration order). */
  tunnels: {},
  /** The server message `message_in` parsed, until `message_dispatch`. */
  message: undefined,
  /** Live SocketTasks by socketKey(tid, conn). */
  tasks: new Map(),
  /** Armed timers by slot. */
  timers: {},
  /** The clock and timers (`qcloud.init({ clock })`; tests run on a simulated one). */
  clock: null,
  /** The debug logger (`qcloud.setLogger`): a function, or an object with `info` / `log`. */
  logger: null,
  /** Whether wx.onNetworkStatusChange is followed. */
  networkWatched: false,
  /** Builds LoginError / RequestError objects (index.js sets its classes' builder). */
  makeError: function (request, type, message, detail) {
    var e = new Error(message);
    e.name = request ? 'RequestError' : 'LoginError';
    e.type = type;
    if (detail !== undefined) e.detail = detail;
    return e;
  },
}

function wxApi() {
  if (state.wx) return state.wx;
  if (typeof wx !== 'undefined') return wx; // eslint-disable-line no-undef
  throw new Error('qcloud: no wx API in this runtime; pass one with qcloud.init({ wx: … })');
}

function callWx(name, options, onFail) {
  try {
    var api = wxApi();
    if (typeof api[name] !== 'function') throw new Error('wx.' + name + ' is not available');
    return api[name](options);
  } catch (e) {
    onFail({ errMsg: name + ':fail ' + (e && e.message ? e.message : String(e)) });
    return undefined;
  }
}

/** Calls a user callback; an exception there never reaches the driver. */
function safeCall(fn, arg) {
  if (typeof fn !== 'function') return;
  try {
    fn(arg);
  } catch (e) {
    if (typeof console !== 'undefined') console.error('qcloud: callback threw', e);
  }
}

var clockLast = 0;
var clockOffset = 0;

/** Milliseconds that never go backwards: a wall clock set back is absorbed into an offset. */
export function now() {
  var t = (state.clock ? state.clock.now() : Date.now()) + clockOffset; // methods called on the clock object
  if (t < clockLast) {
    clockOffset += clockLast - t;
    t = clockLast;
  }
  clockLast = t;
  return t;
}

export function set_timer(slot, delay) {
  var clock = state.clock;
  var old = state.timers[slot];
  if (old !== undefined) {
    if (clock) clock.clearTimeout(old);
    else clearTimeout(old);
  }
  delete state.timers[slot];
  if (delay >= 0) {
    var fire = function () {
      delete state.timers[slot];
      state.exports.on_timer(slot);
    };
    var ms = Math.min(delay, 2147483647);
    state.timers[slot] = clock ? clock.setTimeout(fire, ms) : setTimeout(fire, ms);
  }
}

/** Calls `wx[name]({success, fail})` and answers `state.exports[answer](flow, ok, res)`. */
function callWxFor(name, answer, flow) {
  var x = state.exports;
  var fail = function (err) { x[answer](flow, false, err); };
  callWx(name, { success: function (res) { x[answer](flow, true, res); }, fail: fail }, fail);
}

export function wx_check_session(flow) {
  callWxFor('checkSession', 'on_check_session', flow);
}

export function wx_login(flow) {
  callWxFor('login', 'on_wx_login', flow);
}

export function wx_get_user_info(flow) {
  callWxFor('getUserInfo', 'on_user_info', flow);
}

export function wx_request_login(flow, url, method, header, data) {
  var x = state.exports;
  var options = { url: url, method: method, header: header };
  if (data !== undefined) options.data = data;
  options.success = function (res) { x.on_login_response(flow, true, res); };
  options.fail = function (err) { x.on_login_response(flow, false, err); };
  callWx('request', options, options.fail);
}

var SKIP = {};
for (var skip = 0; skip < C.SDK_REQUEST_OPTIONS.length; skip++) SKIP[C.SDK_REQUEST_OPTIONS[skip]] = 1;

export function wx_request(op, attempt, base, header) {
  var x = state.exports;
  var options;
  try {
    options = requestOptions(op, base, header);
  } catch (e) {
    // A throwing getter or proxy in the caller's options: the request fails, typed.
    options = null;
    x.on_request_response(op, attempt, false, { errMsg: 'request:fail ' + (e && e.message ? e.message : String(e)) });
  }
  if (!options) return;
  options.success = function (res) { x.on_request_response(op, attempt, true, res); };
  options.fail = function (err) { x.on_request_response(op, attempt, false, err); };
  callWx('request', options, options.fail);
}

/** The wx.request options of a call: the caller's (but ours), headers merged. */
function requestOptions(op, base, header) {
  if (base === undefined) {
    // A user call: its options stay here, with its callbacks.
    var entry = state.ops.get(op);
    base = entry && entry.options;
    if (!base) return null;
  }
  var options = {};
  var keys = Object.keys(base);
  for (var i = 0; i < keys.length; i++) {
    var k = keys[i];
    if (SKIP[k] !== 1) options[k] = base[k];
  }
  // The caller's headers, then ours: a clash (in any letter case) is won by ours.
  var user = base.header;
  var merged = {};
  if (user && typeof user === 'object') {
    var ours = [];
    for (var s in header) ours.push(s.toLowerCase());
    var names = Object.keys(user);
    for (var j = 0; j < names.length; j++) {
      var h = names[j];
      if (ours.indexOf(h.toLowerCase()) < 0) merged[h] = user[h];
    }
  }
  for (var n in header) merged[n] = header[n];
  options.header = merged;
  return options;
}

export function storage_get(key) {
  try {
    var v = wxApi().getStorageSync(key);
    return v === '' ? undefined : v;
  } catch (e) {
    return undefined;
  }
}

/**
 * Compares the session stored under `key` with the skey in memory: 0 no stored session,
 * 1 the same skey, 2 another session.
 */
export function stored_session_is(key, skey) {
  var v = storage_get(key);
  if (v === null || typeof v !== 'object' || typeof v.skey !== 'string' || v.skey === '') return 0;
  return v.skey === skey ? 1 : 2;
}

/** `wx.setStorageSync`; false when it fails (storage full: the session stays in memory). */
export function storage_set(key, value) {
  try {
    wxApi().setStorageSync(key, value);
    return true;
  } catch (e) {
    return false;
  }
}

export function storage_remove(key) {
  try { wxApi().removeStorageSync(key); } catch (e) { /* nothing stored */ }
}

function finish(op) {
  var entry = state.ops.get(op);
  state.ops.delete(op);
  return entry;
}

export function op_done(op, value) {
  var e = finish(op);
  if (!e) return;
  safeCall(e.success, value);
  safeCall(e.complete, value);
  if (e.resolve) e.resolve(value);
}

/** A debug line to the logger (a function, or `console` / `wx.getRealtimeLogManager()`). */
export function log_line(line) {
  var l = state.logger;
  if (!l) return;
  try {
    var text = '[qcloud] ' + line;
    if (typeof l === 'function') l(text);
    else if (typeof l.info === 'function') l.info(text);
    else if (typeof l.log === 'function') l.log(text);
  } catch (e) { /* a failing logger never breaks the SDK */ }
}

/** A `RequestError` (`request`) or `LoginError` with `.type`, `.message` and `.detail`. */
export function make_error(request, type, message, detail) {
  try {
    return state.makeError(request, type, message, detail);
  } catch (e) {
    var err = new Error(message);
    err.type = type;
    if (detail !== undefined) err.detail = detail;
    return err;
  }
}

export function op_fail(op, request, type, message, detail) {
  var e = finish(op);
  if (!e) return;
  var err = make_error(request, type, message, detail);
  safeCall(e.fail, err);
  safeCall(e.complete, err);
  if (e.reject) e.reject(err);
}

function socketKey(tid, conn) {
  return tid * 4294967296 + conn;
}

export function socket_connect(tid, conn, url) {
  var x = state.exports;
  var key = socketKey(tid, conn);
  var failed = false;
  var fail = function (err) {
    if (failed) return;
    failed = true;
    state.tasks.delete(key);
    x.on_socket_error(tid, conn, err);
  };
  // `fail` also covers what wx reports only there (too many sockets, a domain not allowed).
  var task = callWx('connectSocket', { url: url, fail: fail }, fail);
  if (failed) return;
  try {
    if (!task || typeof task.onOpen !== 'function') throw new Error('no SocketTask (base library too old)');
    state.tasks.set(key, task);
    task.onOpen(function () { x.on_socket_open(tid, conn); });
    task.onMessage(function (res) { x.on_socket_message(tid, conn, res && res.data); });
    task.onClose(function () { state.tasks.delete(key); x.on_socket_close(tid, conn); });
    task.onError(function (err) { x.on_socket_error(tid, conn, err); });
  } catch (e) {
    fail({ errMsg: 'connectSocket:fail ' + (e && e.message ? e.message : String(e)) });
  }
}

export function socket_send(tid, conn, data) {
  var task = state.tasks.get(socketKey(tid, conn));
  var x = state.exports;
  if (!task) {
    x.on_send_failed(tid, conn, data);
    return;
  }
  try {
    task.send({ data: data, fail: function () { x.on_send_failed(tid, conn, data); } });
  } catch (e) {
    x.on_send_failed(tid, conn, data);
  }
}

/** Sends a control frame (`ping`, `close`): a failure is not the user's packet to requeue. */
export function socket_send_control(tid, conn, data) {
  var task = state.tasks.get(socketKey(tid, conn));
  if (!task) return;
  try {
    task.send({ data: data });
  } catch (e) {
    /* a dead socket: its close or error event follows */
  }
}

export function socket_close(tid, conn) {
  var key = socketKey(tid, conn);
  var task = state.tasks.get(key);
  state.tasks.delete(key);
  if (task) {
    try { task.close({ code: 1000, reason: 'closed by client' }); } catch (e) { /* already closed */ }
  }
}

export function tunnel_event(tid, name, payload) {
  var tunnel = state.tunnels[tid];
  var list = tunnel && tunnel._listeners;
  if (!list) return;
  for (var i = 0; i < list.length; i++) {
    var l = list[i];
    try {
      if (l[0] === '*') l[1](name, payload);
      else if (l[0] === name) l[1](payload);
    } catch (e) {
      if (typeof console !== 'undefined') console.error('qcloud: tunnel listener for "' + name + '" threw', e);
      if (state.exports) state.exports.on_listener_error(tid, name, e);
    }
  }
}

/** The page's tunnel handle `tunnel` is `tid`: its listeners get the tunnel's events. */
export function tunnel_attach(tid, tunnel) {
  if (state.tunnels[tid] !== tunnel) state.tunnels[tid] = tunnel;
}

/** Tunnel `tid` is closed and superseded: drop the reference (re-attached on next use). */
export function tunnel_release(tid) {
  delete state.tunnels[tid];
}

export function watch_network() {
  if (state.networkWatched) return;
  state.networkWatched = true;
  var api;
  try { api = wxApi(); } catch (e) { return; }
  var x = state.exports;
  if (typeof api.onNetworkStatusChange === 'function') {
    try {
      api.onNetworkStatusChange(function (res) { x.on_network(!!(res && res.isConnected)); });
    } catch (e) { /* not supported */ }
  }
  if (typeof api.getNetworkType === 'function') {
    try {
      api.getNetworkType({ success: function (res) { if (res && res.networkType === 'none') x.on_network(false); } });
    } catch (e) { /* not supported */ }
  }
}

/** `obj[key]`; undefined for non-objects and throwing getters (hostile responses). */
export function prop(obj, key) {
  if (obj === null || (typeof obj !== 'object' && typeof obj !== 'function')) return undefined;
  try {
    return obj[key];
  } catch (e) {
    return undefined;
  }
}

/** `obj[key] = value` (the driver's own objects). */
export function put(obj, key, value) {
  obj[key] = value;
}

var jsonError = null;

/** The exception of the last failed `encode_packet`. */
export function json_error() {
  var e = jsonError;
  jsonError = null;
  return e;
}

/** The kind of a value, as `C.KIND` numbers it. */
function kind(v) {
  var K = C.KIND;
  switch (typeof v) {
    case 'undefined': return K.UNDEFINED;
    case 'boolean': return K.BOOLEAN;
    case 'number': return K.NUMBER;
    case 'string': return K.STRING;
    case 'object': return v === null ? K.NULL : Array.isArray(v) ? K.ARRAY : K.OBJECT;
    case 'function': return K.OBJECT;
    default: return K.OTHER;
  }
}

/** Whether `obj[key]` is truthy. */
export function truthy_prop(obj, key) {
  return !!prop(obj, key);
}

/** `obj[key]` as a number: a number, or a short numeric string (Android once sent `"200"`); NaN otherwise. */
export function number_prop(obj, key) {
  var v = prop(obj, key);
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && v.length <= 32 && v.trim() !== '') return Number(v);
  return NaN;
}

/** A wx response's body as an object: `data` itself, or `data` parsed when wx left JSON text. */
export function response_body(res) {
  var data = prop(res, 'data');
  if (data !== null && typeof data === 'object') return data;
  if (typeof data === 'string' && data.length <= 1048576 && /^\s*\{/.test(data)) {
    try {
      return JSON.parse(data);
    } catch (e) {
      return undefined;
    }
  }
  return undefined;
}

/**
 * What the driver checks of a wx response, in one number: bits 0-9 the HTTP status
 * (0 when not a number in 0-1023), bit 10 the body is an object, bit 11 the body's
 * `magic` property is truthy, bits 12-13 the body's `code`: 1 when -1, 2 when 0.
 */
export function response_shape(res, magic) {
  var R = C.RESPONSE;
  var status = number_prop(res, 'statusCode');
  var shape = status >= 0 && status <= R.STATUS_MASK ? status | 0 : 0;
  var body = response_body(res);
  if (body !== undefined && body !== null && typeof body === 'object') {
    shape |= R.BODY_OBJECT;
    if (prop(body, magic)) shape |= R.MAGIC;
    var code = number_prop(body, 'code');
    if (code === -1) shape |= R.CODE_MINUS_ONE;
    else if (code === 0) shape |= R.CODE_ZERO;
  }
  return shape;
}

/**
 * What the driver checks of `request` options, in one number: bits 0-2 `kind(options)`,
 * bits 3-5 `kind(options.header)`, bit 6 `url` is a non-empty string, bit 7 `login` is
 * truthy, bit 8 `loginUrl` is a non-empty string, bit 9 `timeout` is a number, bit 10
 * the header has a `Referer` (any letter case).
 */
export function request_shape(options) {
  var R = C.REQUEST;
  var k = kind(options);
  if (k !== C.KIND.OBJECT) return k;
  var header, url, login, loginUrl, timeout;
  try {
    header = options.header;
    url = options.url;
    login = options.login;
    loginUrl = options.loginUrl;
    timeout = options.timeout;
  } catch (e) {
    // A throwing getter: read property by property (the throwing ones read as undefined).
    header = prop(options, 'header');
    url = prop(options, 'url');
    login = prop(options, 'login');
    loginUrl = prop(options, 'loginUrl');
    timeout = prop(options, 'timeout');
  }
  var shape = k | (kind(header) << R.HEADER_KIND_SHIFT);
  if (typeof url === 'string' && url.length > 0) shape |= R.URL;
  if (login) shape |= R.LOGIN;
  if (typeof loginUrl === 'string' && loginUrl.length > 0) shape |= R.LOGIN_URL;
  if (typeof timeout === 'number') shape |= R.TIMEOUT;
  if (header !== null && typeof header === 'object') {
    try {
      for (var h in header) if (h.length === 7 && h.toLowerCase() === 'referer') shape |= R.REFERER;
    } catch (e) {
      // A header whose keys cannot be read is not a header object.
      shape = (shape & ~(R.KIND_MASK << R.HEADER_KIND_SHIFT)) | (C.KIND.OTHER << R.HEADER_KIND_SHIFT);
    }
  }
  return shape;
}

/** The length of a string (UTF-16 units). */
export function string_length(s) {
  return s.length;
}

/**
 * An inbound frame, read in one call: -1 when `data` is not a string starting with
 * `prefix` (not a message frame), -2 when its body is not JSON (or is null), -3 when the
 * body has no string `type`; otherwise the type's `length << 16 | first UTF-16 unit`,
 * and the parsed message is kept for `message_dispatch`.
 */
export function message_in(data, prefix) {
  if (typeof data !== 'string' || !data.startsWith(prefix)) return -1;
  var m;
  try {
    m = JSON.parse(data.slice(prefix.length));
  } catch (e) {
    return -2;
  }
  var t = m !== null && typeof m === 'object' ? m.type : undefined;
  if (typeof t !== 'string') return -3;
  state.message = m;
  return ((Math.min(t.length, 65535) << 16) | (t.charCodeAt(0) | 0)) >>> 0;
}

/** The `type` of the message kept by `message_in`. */
export function message_type() {
  return state.message ? state.message.type : undefined;
}

/**
 * Dispatches the message kept by `message_in` under `name` (undefined: its own type), and
 * forgets it. Tunnel id 0 names no tunnel (ids start at 1): the message is only forgotten.
 */
export function message_dispatch(tid, name) {
  var m = state.message;
  state.message = undefined;
  if (m) tunnel_event(tid, name === undefined ? m.type : name, m.content);
}

/** `JSON.parse(text.slice(start))`; undefined when it is not JSON. */
export function parse_after(text, start) {
  try {
    return JSON.parse(text.slice(start));
  } catch (e) {
    return undefined;
  }
}

/**
 * `prefix + JSON.stringify({type, content})` (JSON leaves `content` out when it is
 * undefined); undefined when the content cannot be encoded (see `json_error`).
 */
export function encode_packet(prefix, type, content) {
  try {
    return prefix + JSON.stringify({ type: type, content: content });
  } catch (e) {
    jsonError = e;
    return undefined;
  }
}

/** This copy's state (for the wasm-bindgen tests of the bindings). */
export function host_state() {
  return state;
}

/** Points the host at the wasm exports (index.js does it after instantiation). */
export function bind(exports) {
  state.exports = exports;
}
