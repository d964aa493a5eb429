// The chat room: log in, open a tunnel, show who enters and leaves, speak.
var qcloud = require('../../bower_components/qcloud-weapp-client-sdk/index.js');
var config = require('../../config');

var nextId = 1;

Page({
  data: {
    /** Tunnel status: CLOSED, CONNECTING, ACTIVE, RECONNECTING. */
    status: 'CLOSED',
    /** The logged-in user ({nickName, avatarUrl, openId}), or null. */
    me: null,
    /** [{id, kind: 'system' | 'speak', event?, text?, who?, word?, avatarUrl?, mine?}] */
    messages: [],
    inputContent: '',
    reconnects: 0,
    /** Scrolls the list to the newest message. */
    lastId: '',
  },

  onLoad: function () {
    this.tunnel = null;
    this.join();
  },

  onUnload: function () {
    this.quit();
  },

  /** Logs in (the session request logs in first when needed), then opens the tunnel. */
  join: function () {
    var page = this;
    page.pushSystem('正在登录…');
    page.whoAmI(function (info) {
      page.pushSystem('登录成功：' + info.nickName, 'login');
      page.openTunnel();
    });
  },

  /** GET /user with the session; an expired session logs in again and retries once. */
  whoAmI: function (then) {
    var page = this;
    qcloud.request({
      url: config.service.userUrl,
      login: true,
      success: function (res) {
        var info = res.data && res.data.data && res.data.data.userInfo;
        if (!info) {
          page.pushSystem('服务器的回答不对：' + JSON.stringify(res.data), 'error');
          return;
        }
        page.setData({ me: info });
        if (then) then(info);
      },
      fail: function (err) {
        page.pushSystem('登录失败：' + err.message, 'error');
      },
    });
  },

  openTunnel: function () {
    var page = this;
    var tunnel = page.tunnel = new qcloud.Tunnel(config.service.tunnelUrl);
    var show = function () { page.setData({ status: tunnel.status }); };
    tunnel.on('connect', function () { show(); page.pushSystem('信道已连接', 'connect'); });
    tunnel.on('reconnecting', function () { show(); page.pushSystem('连接断开，正在重连…', 'reconnecting'); });
    tunnel.on('reconnect', function () {
      page.setData({ status: tunnel.status, reconnects: page.data.reconnects + 1 });
      page.pushSystem('已重新连接', 'reconnect');
    });
    tunnel.on('close', function () { show(); page.pushSystem('信道已关闭', 'close'); });
    tunnel.on('error', function (e) { show(); page.pushSystem('信道错误 ' + e.code + '：' + e.message, 'error'); });
    tunnel.on('people', function (people) {
      var user = people.enter || people.leave || {};
      page.pushSystem(user.nickName + (people.enter ? ' 进入' : ' 离开') + '了聊天室，当前共 ' + people.total + ' 人',
        people.enter ? 'enter' : 'leave', user.nickName);
    });
    tunnel.on('speak', function (speak) {
      var who = speak.who || {};
      page.pushMessage({
        kind: 'speak',
        who: who.nickName,
        avatarUrl: who.avatarUrl,
        word: String(speak.word),
        mine: !!(page.data.me && who.openId === page.data.me.openId),
      });
    });
    tunnel.open();
    show();
  },

  quit: function () {
    if (this.tunnel) this.tunnel.close();
    this.tunnel = null;
  },

  pushMessage: function (message) {
    message.id = nextId++;
    this.setData({ messages: this.data.messages.concat([message]), lastId: 'msg-' + message.id });
  },

  pushSystem: function (text, event, who) {
    this.pushMessage({ kind: 'system', text: text, event: event || '', who: who || '' });
  },

  onInput: function (e) {
    this.setData({ inputContent: e.detail.value });
  },

  onSend: function () {
    var word = this.data.inputContent.trim();
    if (!word || !this.tunnel) return;
    // Queued by the SDK while the tunnel reconnects, sent once it is back.
    this.tunnel.emit('speak', { word: word });
    this.setData({ inputContent: '' });
  },

  onWhoAmI: function () {
    var page = this;
    page.whoAmI(function (info) {
      page.pushSystem('我是 ' + info.nickName + '（openId ' + info.openId + '）', 'whoami');
    });
  },
});
