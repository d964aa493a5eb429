// UTF-8 codec for the wasm glue: the engine's TextEncoder/TextDecoder when the runtime
// has them (Node, browsers), a small module-local implementation when it does not (the
// WeChat mini-program runtime). Nothing is put on the global object.
'use strict';

var g = typeof globalThis !== 'undefined' ? globalThis : {};

/** Encodes a JS string as UTF-8 (lone surrogates become U+FFFD, as TextEncoder does). */
function encodeUtf8(str) {
  var out = [];
  for (var i = 0; i < str.length; i++) {
    var c = str.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < str.length) {
      var d = str.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        i++;
      } else {
        c = 0xfffd;
      }
    } else if (c >= 0xd800 && c <= 0xdfff) {
      c = 0xfffd;
    }
    if (c < 0x80) out.push(c);
    else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 63));
    else if (c < 0x10000) out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
    else out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
  }
  return new Uint8Array(out);
}

/** Decodes UTF-8 bytes (invalid sequences become U+FFFD). */
function decodeUtf8(bytes) {
  var s = '';
  var chunk = [];
  for (var i = 0; i < bytes.length;) {
    var b = bytes[i++];
    var c = 0xfffd;
    var need = b < 0x80 ? 0 : b >= 0xc2 && b < 0xe0 ? 1 : b >= 0xe0 && b < 0xf0 ? 2 : b >= 0xf0 && b < 0xf5 ? 3 : -1;
    if (need === 0) c = b;
    else if (need > 0 && i + need <= bytes.length) {
      c = b & (need === 1 ? 0x1f : need === 2 ? 0x0f : 0x07);
      var ok = true;
      for (var k = 0; k < need; k++) {
        var n = bytes[i + k];
        if ((n & 0xc0) !== 0x80) { ok = false; break; }
        c = (c << 6) | (n & 63);
      }
      if (ok && ((need === 2 && c < 0x800) || (need === 3 && (c < 0x10000 || c > 0x10ffff)) || (c >= 0xd800 && c <= 0xdfff))) ok = false;
      if (ok) i += need; else c = 0xfffd;
    }
    if (c >= 0x10000) {
      c -= 0x10000;
      chunk.push(0xd800 + (c >> 10), 0xdc00 + (c & 0x3ff));
    } else chunk.push(c);
    if (chunk.length > 4096) { s += String.fromCharCode.apply(null, chunk); chunk = []; }
  }
  return s + String.fromCharCode.apply(null, chunk);
}

function Utf8Encoder() {}
Utf8Encoder.prototype.encode = function (str) { return encodeUtf8(str === undefined ? '' : String(str)); };
Utf8Encoder.prototype.encodeInto = function (str, view) {
  var buf = encodeUtf8(str);
  view.set(buf.subarray(0, view.length));
  return { read: str.length, written: Math.min(buf.length, view.length) };
};

function Utf8Decoder() {}
Utf8Decoder.prototype.decode = function (bytes) { return bytes === undefined ? '' : decodeUtf8(bytes); };

exports.encodeUtf8 = encodeUtf8;
exports.decodeUtf8 = decodeUtf8;
exports.TextEncoder = typeof g.TextEncoder === 'function' ? g.TextEncoder : Utf8Encoder;
exports.TextDecoder = typeof g.TextDecoder === 'function' ? g.TextDecoder : Utf8Decoder;
