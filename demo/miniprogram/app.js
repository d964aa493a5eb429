// The Wafer chat-room demo, as a mini-program.
var qcloud = require('./bower_components/qcloud-weapp-client-sdk/index.js');
var config = require('./config');

App({
  onLaunch: function () {
    qcloud.setLoginUrl(config.service.loginUrl);
  },
});
