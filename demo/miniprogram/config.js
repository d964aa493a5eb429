// Where the Wafer server runs. For the local dev server:
//   cargo run -p wafer-devserver -- --port 8700
// (in WeChat DevTools, tick 不校验合法域名 / urlCheck is already off in project.config.json).
// A phone cannot reach 127.0.0.1 of your computer: use the computer's LAN address and
// start the dev server with --host 0.0.0.0 to preview on a device.
var host = 'http://127.0.0.1:8700';

module.exports = {
  service: {
    host: host,
    // Login: wx.login code (+ user info) → a session.
    loginUrl: host + '/login',
    // A checked endpoint: who the session belongs to.
    userUrl: host + '/user',
    // The tunnel service: answers the WebSocket address of a new tunnel.
    tunnelUrl: host + '/tunnel',
  },
};
