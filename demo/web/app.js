// The chat room of the original Wafer demo, in a browser: log in as a name, open a
// tunnel, see who enters and leaves, speak. Served by the dev server:
//
//   cargo run -p wafer-devserver -- --static demo/web --sdk pkg
'use strict';

(function () {
  var ORIGIN = location.origin;
  var SDK_FILES = ['index.js', 'lib/wasm.js', 'lib/host.js', 'lib/utf8.js'];
  var NAME_KEY = 'wafer-demo/name';

  var $ = function (id) { return document.getElementById(id); };
  var ui = {
    joinForm: $('join-form'), name: $('name'), join: $('join'), leave: $('leave'), whoami: $('whoami'),
    sdk: $('sdk-state'), status: $('tunnel-status'), reconnects: $('reconnects'), logins: $('logins'), me: $('me'),
    messages: $('messages'), sendForm: $('send-form'), word: $('word'), send: $('send'),
  };

  var counts = { logins: 0, reconnects: 0 };
  var wx = createWxAdapter({
    storagePrefix: 'wafer-demo/',
    onCall: function (name) {
      if (name === 'login') {
        counts.logins++;
        render();
      }
    },
  });
  var qcloud = null;
  var tunnel = null;
  var me = null;

  // ------------------------------------------------------------ loading the SDK
  /**
   * A tiny CommonJS loader: fetches the package's files, then runs each as a function of
   * (module, exports, require). Only relative requires inside the package are allowed.
   */
  function loadCommonJs(base, files) {
    return Promise.all(files.map(function (f) {
      return fetch(base + f).then(function (r) {
        if (!r.ok) throw new Error(base + f + ': HTTP ' + r.status);
        return r.text();
      });
    })).then(function (texts) {
      var sources = {};
      files.forEach(function (f, i) { sources[f] = texts[i]; });
      var cache = {};
      function resolve(from, p) {
        var parts = from.split('/').slice(0, -1);
        p.split('/').forEach(function (s) {
          if (s === '..') parts.pop();
          else if (s !== '.') parts.push(s);
        });
        var path = parts.join('/');
        return /\.js$/.test(path) ? path : path + '.js';
      }
      function load(path) {
        if (cache[path]) return cache[path].exports;
        if (!(path in sources)) throw new Error('SDK module not found: ' + path);
        var module = { exports: {} };
        cache[path] = module;
        var fn = new Function('module', 'exports', 'require', sources[path] + '\n//# sourceURL=' + ORIGIN + base + path);
        fn(module, module.exports, function (p) { return load(resolve(path, p)); });
        return module.exports;
      }
      return function (p) { return load(resolve('', p)); };
    });
  }

  loadCommonJs('/sdk/', SDK_FILES).then(function (require) {
    qcloud = require('./index.js');
    // In the same tick as require: the SDK starts loading on the next microtask.
    qcloud.init({ wx: wx, bytes: fetch('/sdk/lib/qcloud.wasm').then(function (r) { return r.arrayBuffer(); }) });
    qcloud.setLoginUrl(ORIGIN + '/login');
    return qcloud.ready;
  }).then(function () {
    document.body.dataset.sdk = 'ready';
    ui.sdk.textContent = 'SDK 已就绪';
    ui.join.disabled = false;
    var last = sessionStorage.getItem(NAME_KEY);
    if (last && !ui.name.value) ui.name.value = last;
    ui.name.focus();
  }).catch(function (e) {
    document.body.dataset.sdk = 'failed';
    ui.sdk.textContent = 'SDK 加载失败：' + e.message;
  });

  // ------------------------------------------------------------ the page
  function render() {
    var status = tunnel ? tunnel.status : 'CLOSED';
    ui.status.textContent = status;
    ui.status.dataset.status = status;
    ui.reconnects.textContent = String(counts.reconnects);
    ui.logins.textContent = String(counts.logins);
    var active = status === 'ACTIVE';
    ui.word.disabled = !tunnel;
    ui.send.disabled = !tunnel;
    ui.sendForm.dataset.active = active ? '1' : '0';
  }
  setInterval(render, 200); // the SDK has no status-change event; connect/close/… also render

  function addItem(kind, build) {
    var li = document.createElement('li');
    li.className = kind;
    li.dataset.kind = kind;
    li.dataset.testid = 'message';
    build(li);
    var atBottom = ui.messages.scrollHeight - ui.messages.scrollTop - ui.messages.clientHeight < 40;
    ui.messages.appendChild(li);
    if (atBottom) ui.messages.scrollTop = ui.messages.scrollHeight;
    return li;
  }

  function system(text, kind) {
    return addItem('system', function (li) {
      li.textContent = text;
      if (kind) li.dataset.event = kind;
    });
  }

  function avatar(user) {
    var img = document.createElement('img');
    img.className = 'avatar';
    img.alt = '';
    if (user && user.avatarUrl) img.src = user.avatarUrl;
    return img;
  }

  function speak(msg) {
    var who = msg.who || {};
    addItem('speak', function (li) {
      if (me && who.openId === me.openId) li.classList.add('mine');
      li.dataset.who = who.nickName || '';
      var bubble = document.createElement('div');
      bubble.className = 'bubble';
      var name = document.createElement('span');
      name.className = 'who';
      name.textContent = who.nickName || '?';
      var word = document.createElement('span');
      word.className = 'word';
      word.textContent = String(msg.word);
      bubble.appendChild(name);
      bubble.appendChild(word);
      li.appendChild(avatar(who));
      li.appendChild(bubble);
    });
  }

  function errorText(e) {
    return (e && (e.type || e.code) ? '[' + (e.type || e.code) + '] ' : '') + (e && e.message ? e.message : String(e));
  }

  function whoAmI() {
    return qcloud.request({ url: ORIGIN + '/user', login: true }).then(function (res) {
      var info = res.data && res.data.data && res.data.data.userInfo;
      if (!info) throw new Error('unexpected answer: ' + JSON.stringify(res.data));
      me = info;
      ui.me.textContent = '· 我是 ' + info.nickName;
      return info;
    });
  }

  function openTunnel() {
    tunnel = new qcloud.Tunnel(ORIGIN + '/tunnel');
    tunnel.on('connect', function () { system('信道已连接', 'connect'); render(); });
    tunnel.on('reconnecting', function () { system('连接断开，正在重连…', 'reconnecting'); render(); });
    tunnel.on('reconnect', function () {
      counts.reconnects++;
      system('已重新连接', 'reconnect');
      render();
    });
    tunnel.on('close', function () { system('信道已关闭', 'close'); render(); });
    tunnel.on('error', function (e) { system('信道错误 ' + errorText(e), 'error'); render(); });
    tunnel.on('people', function (p) {
      var user = p.enter || p.leave || {};
      system((user.nickName || '?') + (p.enter ? ' 进入' : ' 离开') + '了聊天室，当前共 ' + p.total + ' 人',
        p.enter ? 'enter' : 'leave');
    });
    tunnel.on('speak', speak);
    tunnel.open();
    render();
  }

  function setJoined(joined) {
    ui.name.disabled = joined;
    ui.join.hidden = joined;
    ui.leave.hidden = !joined;
    ui.whoami.disabled = !joined;
    render();
  }

  ui.joinForm.addEventListener('submit', function (e) {
    e.preventDefault();
    var name = ui.name.value.trim();
    if (!name || !qcloud || tunnel) return;
    // One user per tab: a session stored for another name is not ours.
    if (sessionStorage.getItem(NAME_KEY) !== name) qcloud.clearSession();
    sessionStorage.setItem(NAME_KEY, name);
    wx.setUser(name);
    ui.join.disabled = true;
    system('正在以 ' + name + ' 登录…');
    whoAmI().then(function (info) {
      system('登录成功：' + info.nickName, 'login');
      setJoined(true);
      openTunnel();
      ui.word.focus();
    }, function (err) {
      system('登录失败 ' + errorText(err), 'error');
    }).then(function () { ui.join.disabled = false; });
  });

  ui.leave.addEventListener('click', function () {
    if (tunnel) tunnel.close();
    tunnel = null;
    setJoined(false);
  });

  ui.whoami.addEventListener('click', function () {
    whoAmI().then(function (info) {
      system('我是 ' + info.nickName + '（openId ' + info.openId + '）', 'whoami');
    }, function (err) {
      system('查询失败 ' + errorText(err), 'error');
    });
  });

  ui.sendForm.addEventListener('submit', function (e) {
    e.preventDefault();
    var word = ui.word.value.trim();
    if (!word || !tunnel) return;
    // Queued by the SDK while the tunnel reconnects; sent once it is back.
    tunnel.emit('speak', { word: word });
    ui.word.value = '';
  });

  render();
})();
