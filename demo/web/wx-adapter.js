// A small `wx` for browsers: just what the Wafer SDK calls, over fetch, WebSocket and
// sessionStorage. `login` answers the dev server's `dev:<name>` codes, so a name typed
// into the page is the user the server sees (percent-encoded: headers are ASCII only).
//
//   var wx = createWxAdapter({ storagePrefix: 'wafer-demo/' });
//   wx.setUser('小明');
//   qcloud.init({ wx: wx, bytes: … });
'use strict';

(function (global) {
  /** Runs a wx-style callback set: success or fail, then complete. */
  function settle(options, ok, result) {
    var o = options || {};
    var fn = ok ? o.success : o.fail;
    if (typeof fn === 'function') fn(result);
    if (typeof o.complete === 'function') o.complete(result);
  }

  /** Later, as wx callbacks always are. */
  function later(fn) {
    setTimeout(fn, 0);
  }

  /** wx.request's `data` as a query string (GET) — objects only, like wx. */
  function addQuery(url, data) {
    if (!data || typeof data !== 'object') return url;
    var parts = [];
    Object.keys(data).forEach(function (k) {
      parts.push(encodeURIComponent(k) + '=' + encodeURIComponent(String(data[k])));
    });
    if (!parts.length) return url;
    return url + (url.indexOf('?') < 0 ? '?' : '&') + parts.join('&');
  }

  /** wx.request over fetch: `{data, statusCode, header}`; JSON bodies parsed like dataType 'json'. */
  function request(options) {
    var method = String(options.method || 'GET').toUpperCase();
    var headers = {};
    var h = options.header || {};
    Object.keys(h).forEach(function (k) { headers[k] = String(h[k]); });
    var url = options.url;
    var init = { method: method, headers: headers };
    if (method === 'GET' || method === 'HEAD') {
      url = addQuery(url, options.data);
    } else if (options.data !== undefined) {
      if (typeof options.data === 'string' || options.data instanceof ArrayBuffer) {
        init.body = options.data;
      } else {
        init.body = JSON.stringify(options.data);
        var typed = Object.keys(headers).some(function (k) { return k.toLowerCase() === 'content-type'; });
        if (!typed) headers['Content-Type'] = 'application/json';
      }
    }
    var controller = typeof AbortController === 'function' ? new AbortController() : null;
    if (controller) init.signal = controller.signal;
    var timer = setTimeout(function () { if (controller) controller.abort(); }, options.timeout || 60000);
    var status = 0;
    var header = {};
    fetch(url, init).then(function (res) {
      status = res.status;
      res.headers.forEach(function (value, name) { header[name] = value; });
      return options.responseType === 'arraybuffer' ? res.arrayBuffer() : res.text();
    }).then(function (body) {
      clearTimeout(timer);
      var data = body;
      if (typeof body === 'string' && (options.dataType || 'json') === 'json') {
        try { data = JSON.parse(body); } catch (e) { /* not JSON: keep the text, as wx does */ }
      }
      settle(options, true, { data: data, statusCode: status, header: header, errMsg: 'request:ok' });
    }, function (err) {
      clearTimeout(timer);
      settle(options, false, { errMsg: 'request:fail ' + (err && err.message ? err.message : String(err)) });
    });
    return { abort: function () { if (controller) controller.abort(); } };
  }

  /** wx.connectSocket: a SocketTask over one WebSocket. */
  function connectSocket(options) {
    var ws = new WebSocket(options.url);
    var handlers = { open: [], message: [], close: [], error: [] };
    var fire = function (kind, arg) {
      handlers[kind].slice().forEach(function (fn) { fn(arg); });
    };
    ws.onopen = function () { fire('open', { header: {} }); };
    ws.onmessage = function (e) { fire('message', { data: e.data }); };
    ws.onerror = function () { fire('error', { errMsg: 'socket error' }); };
    ws.onclose = function (e) { fire('close', { code: e.code, reason: e.reason }); };
    later(function () { settle(options, true, { errMsg: 'connectSocket:ok' }); });
    return {
      send: function (o) {
        o = o || {};
        if (ws.readyState !== WebSocket.OPEN) {
          later(function () { settle(o, false, { errMsg: 'sendSocketMessage:fail socket is not open' }); });
          return;
        }
        try {
          ws.send(o.data);
        } catch (e) {
          later(function () { settle(o, false, { errMsg: 'sendSocketMessage:fail ' + e.message }); });
          return;
        }
        later(function () { settle(o, true, { errMsg: 'sendSocketMessage:ok' }); });
      },
      close: function (o) {
        o = o || {};
        try {
          ws.close(o.code || 1000, o.reason || '');
        } catch (e) {
          ws.close(); // a code the browser refuses (1001, 1006, …): close without one
        }
        later(function () { settle(o, true, { errMsg: 'closeSocket:ok' }); });
      },
      onOpen: function (fn) { handlers.open.push(fn); },
      onMessage: function (fn) { handlers.message.push(fn); },
      onClose: function (fn) { handlers.close.push(fn); },
      onError: function (fn) { handlers.error.push(fn); },
    };
  }

  /**
   * Creates the adapter. Options: `storage` (default sessionStorage: one user per tab),
   * `storagePrefix` (default 'wx/'), `onCall(name)` (told of every wx.login / request, for
   * the page's counters).
   */
  function createWxAdapter(opts) {
    opts = opts || {};
    var storage = opts.storage || global.sessionStorage;
    var prefix = opts.storagePrefix || 'wx/';
    var user = { name: '', avatarUrl: '' };
    var onCall = typeof opts.onCall === 'function' ? opts.onCall : function () {};

    var wx = {
      /** Who `login` / `getUserInfo` say the user is. */
      setUser: function (name, avatarUrl) {
        user = { name: String(name), avatarUrl: avatarUrl || '' };
      },
      login: function (o) {
        onCall('login');
        later(function () {
          if (!user.name) settle(o, false, { errMsg: 'login:fail no user name' });
          else settle(o, true, { code: 'dev:' + encodeURIComponent(user.name), errMsg: 'login:ok' });
        });
      },
      getUserInfo: function (o) {
        later(function () {
          settle(o, true, {
            userInfo: { nickName: user.name, avatarUrl: user.avatarUrl },
            rawData: '', signature: '', encryptedData: '', iv: '',
            errMsg: 'getUserInfo:ok',
          });
        });
      },
      checkSession: function (o) {
        later(function () { settle(o, true, { errMsg: 'checkSession:ok' }); });
      },
      request: function (o) {
        onCall('request', o.url);
        return request(o);
      },
      connectSocket: function (o) {
        onCall('connectSocket', o.url);
        return connectSocket(o);
      },
      getStorageSync: function (key) {
        var text = storage.getItem(prefix + key);
        if (text === null) return '';
        try { return JSON.parse(text); } catch (e) { return ''; }
      },
      setStorageSync: function (key, value) {
        storage.setItem(prefix + key, JSON.stringify(value));
      },
      removeStorageSync: function (key) {
        storage.removeItem(prefix + key);
      },
      onNetworkStatusChange: function (fn) {
        var tell = function () {
          fn({ isConnected: navigator.onLine, networkType: navigator.onLine ? 'unknown' : 'none' });
        };
        global.addEventListener('online', tell);
        global.addEventListener('offline', tell);
      },
      getNetworkType: function (o) {
        later(function () {
          settle(o, true, { networkType: navigator.onLine ? 'unknown' : 'none', errMsg: 'getNetworkType:ok' });
        });
      },
    };
    return wx;
  }

  global.createWxAdapter = createWxAdapter;
})(window);
