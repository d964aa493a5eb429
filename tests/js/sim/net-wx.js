// A `wx` for Node tests over the REAL loopback network: `request` over fetch,
// `connectSocket` over the `ws` package, storage in a Map (JSON, as wx stores it),
// `login` answering the dev server's `dev:<name>` codes. Pair it with the dev server
// (sim/devserver.js) and the simulated runtime (sim/miniprogram.js).
'use strict';
const WebSocket = require('ws');

function settle(options, ok, result) {
  const o = options || {};
  const fn = ok ? o.success : o.fail;
  if (typeof fn === 'function') fn(result);
  if (typeof o.complete === 'function') o.complete(result);
}

const later = (fn) => setTimeout(fn, 0);

function withQuery(url, data) {
  if (!data || typeof data !== 'object') return url;
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(data)) q.append(k, String(v));
  const s = q.toString();
  return s ? url + (url.includes('?') ? '&' : '?') + s : url;
}

/**
 * Creates the wx. Options: `user` (the name `login` logs in as; `setUser` changes it),
 * `avatarUrl`, `requestTimeout` (ms before a `request` fails with `request:fail`, as
 * app.json's networkTimeout.request; default 60000). Returns { wx, storage, calls, sockets, setUser(name), setOnline(bool), dispose() }:
 * `calls` counts login / getUserInfo / checkSession and lists request and connectSocket URLs;
 * `dispose()` closes every socket still open and aborts pending requests.
 */
function createNetWx(options = {}) {
  let user = { name: options.user || 'tester', avatarUrl: options.avatarUrl || '' };
  // wx.request's own deadline (app.json networkTimeout.request; 60 s by default).
  const requestTimeout = options.requestTimeout || 60000;
  const storage = new Map();
  const calls = { login: 0, getUserInfo: 0, checkSession: 0, request: [], connectSocket: [] };
  const sockets = new Set();
  const aborts = new Set();
  const networkListeners = [];
  let online = true;

  function request(o) {
    calls.request.push(o.url);
    const method = String(o.method || 'GET').toUpperCase();
    const headers = {};
    for (const [k, v] of Object.entries(o.header || {})) headers[k] = String(v);
    let url = o.url;
    const init = { method, headers };
    if (method === 'GET' || method === 'HEAD') {
      url = withQuery(url, o.data);
    } else if (o.data !== undefined) {
      if (typeof o.data === 'string' || o.data instanceof ArrayBuffer) {
        init.body = o.data;
      } else {
        init.body = JSON.stringify(o.data);
        if (!Object.keys(headers).some((k) => k.toLowerCase() === 'content-type')) headers['Content-Type'] = 'application/json';
      }
    }
    const controller = new AbortController();
    init.signal = controller.signal;
    aborts.add(controller);
    const timer = setTimeout(() => controller.abort(), o.timeout || requestTimeout);
    const done = () => { clearTimeout(timer); aborts.delete(controller); };
    if (!online) {
      done();
      later(() => settle(o, false, { errMsg: 'request:fail offline' }));
      return { abort() {} };
    }
    let statusCode = 0;
    const header = {};
    fetch(url, init).then((res) => {
      statusCode = res.status;
      res.headers.forEach((value, name) => { header[name] = value; });
      return o.responseType === 'arraybuffer' ? res.arrayBuffer() : res.text();
    }).then((body) => {
      done();
      let data = body;
      if (typeof body === 'string' && (o.dataType || 'json') === 'json') {
        try { data = JSON.parse(body); } catch (e) { /* not JSON: the text, as wx gives it */ }
      }
      settle(o, true, { data, statusCode, header, errMsg: 'request:ok' });
    }, (err) => {
      done();
      settle(o, false, { errMsg: 'request:fail ' + (err && err.message ? err.message : String(err)) });
    });
    return { abort: () => controller.abort() };
  }

  // The global socket API of old base libraries (wx.onSocketOpen, wx.sendSocketMessage, …,
  // which the original SDK 0.8.x uses): it acts on the socket of the latest connectSocket.
  const globalHandlers = { open: [], message: [], close: [], error: [] };
  let latest = null;

  function connectSocket(o) {
    calls.connectSocket.push(o.url);
    const handlers = { open: [], message: [], close: [], error: [] };
    let task = null;
    const fire = (kind, arg) => {
      for (const fn of handlers[kind].slice()) fn(arg);
      if (task === latest) for (const fn of globalHandlers[kind].slice()) fn(arg);
    };
    const ws = new WebSocket(o.url);
    sockets.add(ws);
    ws.on('open', () => fire('open', { header: {} }));
    ws.on('message', (data, isBinary) => fire('message', { data: isBinary ? data : data.toString('utf8') }));
    ws.on('error', (e) => fire('error', { errMsg: 'socket error: ' + e.message }));
    ws.on('close', (code, reason) => {
      sockets.delete(ws);
      fire('close', { code, reason: reason.toString('utf8') });
    });
    later(() => settle(o, true, { errMsg: 'connectSocket:ok' }));
    task = {
      send(s = {}) {
        if (ws.readyState !== WebSocket.OPEN) {
          later(() => settle(s, false, { errMsg: 'sendSocketMessage:fail socket is not open' }));
          return;
        }
        ws.send(s.data, (err) => settle(s, !err, { errMsg: err ? 'sendSocketMessage:fail ' + err.message : 'sendSocketMessage:ok' }));
      },
      close(c = {}) {
        try {
          ws.close(c.code || 1000, c.reason || '');
        } catch (e) {
          ws.terminate();
        }
        later(() => settle(c, true, { errMsg: 'closeSocket:ok' }));
      },
      onOpen: (fn) => handlers.open.push(fn),
      onMessage: (fn) => handlers.message.push(fn),
      onClose: (fn) => handlers.close.push(fn),
      onError: (fn) => handlers.error.push(fn),
    };
    latest = task;
    return task;
  }

  const wx = {
    login(o) {
      calls.login++;
      // Percent-encoded: the code travels in a header, which is ASCII only.
      later(() => settle(o, true, { code: 'dev:' + encodeURIComponent(user.name), errMsg: 'login:ok' }));
    },
    getUserInfo(o) {
      calls.getUserInfo++;
      later(() => settle(o, true, {
        userInfo: { nickName: user.name, avatarUrl: user.avatarUrl },
        rawData: '', signature: '', encryptedData: '', iv: '', errMsg: 'getUserInfo:ok',
      }));
    },
    checkSession(o) {
      calls.checkSession++;
      later(() => settle(o, true, { errMsg: 'checkSession:ok' }));
    },
    request,
    connectSocket,
    onSocketOpen: (fn) => globalHandlers.open.push(fn),
    onSocketMessage: (fn) => globalHandlers.message.push(fn),
    onSocketClose: (fn) => globalHandlers.close.push(fn),
    onSocketError: (fn) => globalHandlers.error.push(fn),
    sendSocketMessage(o = {}) {
      if (latest) latest.send(o);
      else later(() => settle(o, false, { errMsg: 'sendSocketMessage:fail no socket' }));
    },
    closeSocket(o = {}) {
      if (latest) latest.close(o);
    },
    getStorageSync(key) {
      return storage.has(key) ? JSON.parse(storage.get(key)) : '';
    },
    setStorageSync(key, value) {
      storage.set(key, JSON.stringify(value));
    },
    removeStorageSync(key) {
      storage.delete(key);
    },
    onNetworkStatusChange(fn) {
      networkListeners.push(fn);
    },
    getNetworkType(o) {
      later(() => settle(o, true, { networkType: online ? 'wifi' : 'none', errMsg: 'getNetworkType:ok' }));
    },
  };

  return {
    wx,
    storage,
    calls,
    sockets,
    setUser(name, avatarUrl = '') { user = { name, avatarUrl }; },
    setOnline(value) {
      online = !!value;
      for (const fn of networkListeners.slice()) fn({ isConnected: online, networkType: online ? 'wifi' : 'none' });
    },
    dispose() {
      for (const c of aborts) c.abort();
      aborts.clear();
      for (const ws of sockets) ws.terminate();
      sockets.clear();
    },
  };
}

module.exports = { createNetWx };
