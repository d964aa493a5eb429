// A fault-injecting TCP proxy for tests over the real loopback network: the SDK (net-wx)
// talks to the proxy, the proxy to the dev server. It understands just enough HTTP/1.1 to
// pick requests by method and path (one request at a time per connection, as fetch sends
// them; bodies by Content-Length), and just enough WebSocket framing to drop the server's
// `pong` frames. Faults:
//
//   proxy.rule((req) => action)   per request: 'pass' (default), {status, body, headers},
//                                 'garbage' (a 200 whose body is not JSON), 'junk' (bytes
//                                 that are not HTTP), 'silence' (never answer), 'hangup'
//                                 (close the connection without an answer), or
//                                 {delay: ms, then: action}; req = {method, path, headers}
//   proxy.refuse(true|false)      stop listening (connections refused) / listen again on
//                                 the same port; refusing also cuts every open connection
//   proxy.dropSockets()           cuts every WebSocket connection (no close frame)
//   proxy.withholdPongs(on)       server `pong` frames are dropped while on
//   proxy.inject(data)            sends a server frame (a string: text; a Buffer: binary)
//                                 to every WebSocket client, between the server's frames
//   proxy.setTarget(port)         where new connections go (a restarted server)
//   proxy.count(path)             requests seen for a path (query stripped; '/ws/*' for
//                                 every socket upgrade)
//   proxy.stop()                  closes everything
//
// 127.0.0.1 only. An upstream that cannot be reached closes the client's connection.
'use strict';
const net = require('net');

/** Starts a proxy to 127.0.0.1:`target`; resolves once it listens. */
async function startFaultProxy({ target }) {
  let upstreamPort = target;
  let rule = () => 'pass';
  let pongsWithheld = false;
  const counts = new Map();
  const conns = new Set();
  let port = 0;
  let server = null;

  function listen() {
    server = net.createServer(onConnection);
    server.on('error', () => {});
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.removeListener('error', reject);
        port = server.address().port;
        resolve();
      });
    });
  }

  function onConnection(client) {
    const conn = { client, upstream: null, ws: false, open: false, closed: false, timers: new Set() };
    conns.add(conn);
    client.setNoDelay(true);
    let buf = Buffer.alloc(0);
    let busy = false; // a request is being handled (fetch sends the next one after the answer)

    const close = () => {
      if (conn.closed) return;
      conn.closed = true;
      conns.delete(conn);
      for (const t of conn.timers) clearTimeout(t);
      client.destroy();
      if (conn.upstream) conn.upstream.destroy();
    };
    conn.close = close;
    client.on('error', close);
    client.on('close', close);

    const later = (ms, fn) => {
      const t = setTimeout(() => { conn.timers.delete(t); if (!conn.closed) fn(); }, ms);
      conn.timers.add(t);
    };

    function upstream() {
      if (conn.upstream) return conn.upstream;
      const up = net.connect(upstreamPort, '127.0.0.1');
      up.setNoDelay(true);
      conn.upstream = up;
      up.on('error', close);
      up.on('close', close);
      let head = null; // WebSocket: the 101 response head is passed before frames are read
      let frames = Buffer.alloc(0);
      up.on('data', (chunk) => {
        if (!conn.ws) {
          client.write(chunk);
          return;
        }
        if (head === null) head = Buffer.alloc(0);
        if (head !== true) {
          head = Buffer.concat([head, chunk]);
          const end = head.indexOf('\r\n\r\n');
          if (end < 0) return;
          client.write(head.subarray(0, end + 4));
          chunk = head.subarray(end + 4);
          head = true;
          conn.open = true;
        }
        frames = Buffer.concat([frames, chunk]);
        frames = forwardFrames(frames, (frame, opcode, payload) => {
          if (pongsWithheld && opcode === 1 && payload.toString('utf8') === 'pong') return;
          client.write(frame);
        });
      });
      return up;
    }

    function answer(action, raw, req) {
      if (conn.closed) return;
      if (action && typeof action === 'object' && 'delay' in action) {
        later(action.delay, () => answer(action.then === undefined ? 'pass' : action.then, raw, req));
        return;
      }
      if (action === 'pass' || action === undefined) {
        if (req.upgrade) conn.ws = true;
        upstream().write(raw);
        // The answer comes back through upstream(); the next request follows it.
        busy = false;
        if (conn.ws) busy = true; // from now on: frames, piped below
        return;
      }
      if (action === 'silence') return;
      if (action === 'hangup') { close(); return; }
      if (action === 'junk') {
        client.end('\x00\x01 not http at all \xff\r\n\r\n');
        return;
      }
      const a = action === 'garbage' ? { status: 200, body: '<html>%%% garbage', headers: { 'Content-Type': 'text/html' } } : action;
      const body = Buffer.from(typeof a.body === 'string' ? a.body : JSON.stringify(a.body === undefined ? {} : a.body));
      const headers = Object.assign({ 'Content-Type': 'application/json' }, a.headers || {});
      let head = `HTTP/1.1 ${a.status || 200} Fault\r\n`;
      for (const [k, v] of Object.entries(headers)) head += `${k}: ${v}\r\n`;
      head += `Content-Length: ${body.length}\r\nConnection: close\r\n\r\n`;
      client.end(Buffer.concat([Buffer.from(head), body]));
    }

    client.on('data', (chunk) => {
      if (conn.ws) {
        upstream().write(chunk);
        return;
      }
      buf = Buffer.concat([buf, chunk]);
      while (!busy && !conn.closed) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const headText = buf.subarray(0, end).toString('latin1');
        const lines = headText.split('\r\n');
        const [method, target] = lines[0].split(' ');
        const headers = {};
        for (const line of lines.slice(1)) {
          const i = line.indexOf(':');
          if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
        }
        const length = Number(headers['content-length'] || 0);
        if (buf.length < end + 4 + length) return;
        let raw = buf.subarray(0, end + 4 + length);
        buf = buf.subarray(end + 4 + length);
        const upgrade = /websocket/i.test(headers.upgrade || '');
        if (upgrade) {
          // No compression: the pong filter reads frames as they are.
          raw = Buffer.from(raw.toString('latin1').replace(/\r\nSec-WebSocket-Extensions:[^\r]*/i, ''), 'latin1');
        }
        const path = (target || '/').split('?')[0];
        // Socket paths carry a fresh id each time: counted together (a bounded map).
        const key = path.startsWith('/ws/') ? '/ws/*' : path;
        counts.set(key, (counts.get(key) || 0) + 1);
        const req = { method, path, headers, upgrade };
        busy = true;
        let action;
        try {
          action = rule(req);
        } catch (e) {
          action = 'hangup';
        }
        answer(action, raw, req);
        if (conn.ws && buf.length) {
          upstream().write(buf);
          buf = Buffer.alloc(0);
        }
      }
    });
  }

  await listen();

  return {
    get port() { return port; },
    get url() { return `http://127.0.0.1:${port}`; },
    rule(fn) { rule = fn || (() => 'pass'); },
    count(path) { return counts.get(path) || 0; },
    withholdPongs(on) { pongsWithheld = !!on; },
    setTarget(p) { upstreamPort = p; },
    inject(data) {
      const payload = Buffer.isBuffer(data) ? data : Buffer.from(String(data), 'utf8');
      const frame = serverFrame(Buffer.isBuffer(data) ? 2 : 1, payload);
      let n = 0;
      for (const c of conns) if (c.ws && c.open && !c.closed) { c.client.write(frame); n++; }
      return n;
    },
    dropSockets() {
      let n = 0;
      for (const c of [...conns]) if (c.ws) { c.close(); n++; }
      return n;
    },
    async refuse(on) {
      if (on) {
        if (!server) return;
        const s = server;
        server = null;
        await new Promise((resolve) => { s.close(() => resolve()); for (const c of [...conns]) c.close(); });
      } else if (!server) {
        await listen();
      }
    },
    async stop() {
      rule = () => 'hangup';
      for (const c of [...conns]) c.close();
      if (server) {
        const s = server;
        server = null;
        await new Promise((resolve) => s.close(() => resolve()));
      }
    },
  };
}

/** An unmasked, final server-to-client WebSocket frame. */
function serverFrame(opcode, payload) {
  let head;
  if (payload.length < 126) {
    head = Buffer.from([0x80 | opcode, payload.length]);
  } else if (payload.length < 65536) {
    head = Buffer.alloc(4);
    head[0] = 0x80 | opcode;
    head[1] = 126;
    head.writeUInt16BE(payload.length, 2);
  } else {
    head = Buffer.alloc(10);
    head[0] = 0x80 | opcode;
    head[1] = 127;
    head.writeBigUInt64BE(BigInt(payload.length), 2);
  }
  return Buffer.concat([head, payload]);
}

/**
 * Calls `each(frame, opcode, payload)` for every complete server-to-client WebSocket frame
 * at the start of `buf` (unmasked, as a server sends them) and returns what is left.
 */
function forwardFrames(buf, each) {
  for (;;) {
    if (buf.length < 2) return buf;
    const opcode = buf[0] & 0x0f;
    const masked = (buf[1] & 0x80) !== 0;
    let len = buf[1] & 0x7f;
    let at = 2;
    if (len === 126) {
      if (buf.length < 4) return buf;
      len = buf.readUInt16BE(2);
      at = 4;
    } else if (len === 127) {
      if (buf.length < 10) return buf;
      len = Number(buf.readBigUInt64BE(2));
      at = 10;
    }
    const maskAt = at;
    if (masked) at += 4;
    if (buf.length < at + len) return buf;
    let payload = buf.subarray(at, at + len);
    if (masked) {
      const mask = buf.subarray(maskAt, maskAt + 4);
      payload = Buffer.from(payload.map((b, i) => b ^ mask[i % 4]));
    }
    each(buf.subarray(0, at + len), opcode, payload);
    buf = buf.subarray(at + len);
  }
}

module.exports = { startFaultProxy, forwardFrames };
