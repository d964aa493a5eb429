// wasm-bindgen tests of the bindings, shared by tests/web.rs (headless Chromium) and
// tests/node.rs (Node). They drive the exported functions directly with a fake `wx` and
// check what crosses the boundary: options read off JS objects, wx calls made,
// callbacks' values, error types, frames sent, events dispatched, and bad input.

use js_sys::{Array, Object, Promise, Reflect};
use qcloud::bindings as b;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

#[wasm_bindgen(inline_js = r#"
const MAGIC = 'F2C224D4-2BCE-4C64-AF9F-A6D872000D1A';
export function install_fake_wx() {
  const later = (f) => setTimeout(f, 0);
  const fake = { calls: [], storage: {}, sockets: [], requests: [] };
  fake.wx = {
    login(o) { fake.calls.push('login'); later(() => o.success({ code: 'c' + fake.calls.length })); },
    getUserInfo(o) { fake.calls.push('getUserInfo'); later(() => o.success({ userInfo: { nickName: '小明' }, encryptedData: 'E', iv: 'I' })); },
    checkSession(o) { fake.calls.push('checkSession'); later(() => o.success({})); },
    request(o) {
      fake.requests.push(o);
      later(() => {
        if (o.url === 'https://x.test/login') o.success({ statusCode: 200, data: { [MAGIC]: 1, session: { id: 'ID', skey: 'SK' } } });
        else if (o.url === 'https://x.test/tunnel') o.success({ statusCode: '200', data: { url: 'wss://x.test/ws/1' } });
        else o.success({ statusCode: 200, data: { echo: o.header } });
      });
    },
    getStorageSync(k) { return k in fake.storage ? fake.storage[k] : ''; },
    setStorageSync(k, v) { fake.storage[k] = v; },
    removeStorageSync(k) { delete fake.storage[k]; },
    connectSocket(o) {
      const h = { open: [], message: [], close: [], error: [] };
      const task = {
        url: o.url, sent: [], closed: false,
        onOpen: (f) => h.open.push(f), onMessage: (f) => h.message.push(f),
        onClose: (f) => h.close.push(f), onError: (f) => h.error.push(f),
        send(x) { task.sent.push(x.data); }, close() { task.closed = true; },
        fire(kind, arg) { h[kind].forEach((f) => f(arg)); },
      };
      fake.sockets.push(task);
      return task;
    },
  };
  globalThis.wx = fake.wx;
  return fake;
}
export function await_op(state, op, options) {
  return new Promise((resolve, reject) => { state.ops.set(op, { resolve, reject, options }); });
}
export function record_events(state, tid) {
  const seen = [];
  state.tunnels[tid] = { _listeners: [["*", (type, payload) => seen.push([type, payload])]] };
  return seen;
}
export function tick() { return new Promise((r) => setTimeout(r, 5)); }
"#)]
extern "C" {
    fn install_fake_wx() -> JsValue;
    fn await_op(state: &JsValue, op: u32, options: &JsValue) -> Promise;
    fn record_events(state: &JsValue, tid: u32) -> Array;
    fn tick() -> Promise;
}

fn get(v: &JsValue, k: &str) -> JsValue {
    Reflect::get(v, &JsValue::from_str(k)).unwrap()
}

fn obj(pairs: &[(&str, JsValue)]) -> JsValue {
    let o = Object::new();
    for (k, v) in pairs {
        Reflect::set(&o, &JsValue::from_str(k), v).unwrap();
    }
    o.into()
}

/// Binds the host module to the Rust exports and installs a fresh fake wx.
fn setup() -> JsValue {
    let x = Object::new();
    macro_rules! export {
        ($name:ident: $($t:ty),*) => {{
            let c = Closure::<dyn Fn($($t),*)>::new(|$(a: $t),*| { let _ = b::$name(a); });
            Reflect::set(&x, &JsValue::from_str(stringify!($name)), &c.into_js_value()).unwrap();
        }};
    }
    macro_rules! export_n {
        ($name:ident, |$($a:ident: $t:ty),*|) => {{
            let c = Closure::<dyn Fn($($t),*)>::new(|$($a: $t),*| { b::$name($($a),*); });
            Reflect::set(&x, &JsValue::from_str(stringify!($name)), &c.into_js_value()).unwrap();
        }};
    }
    export!(on_timer: u32);
    export!(on_network: bool);
    export_n!(on_check_session, |f: u32, ok: bool|);
    export_n!(on_wx_login, |f: u32, ok: bool, r: JsValue|);
    export_n!(on_user_info, |f: u32, ok: bool, r: JsValue|);
    export_n!(on_login_response, |f: u32, ok: bool, r: JsValue|);
    export_n!(on_request_response, |op: u32, at: u32, ok: bool, r: JsValue|);
    export_n!(on_socket_open, |t: u32, c: u32|);
    export_n!(on_socket_close, |t: u32, c: u32|);
    export_n!(on_socket_error, |t: u32, c: u32, d: JsValue|);
    {
        let c = Closure::<dyn Fn(u32, u32, JsValue)>::new(|t: u32, c: u32, d: JsValue| b::on_socket_message(t, c, &d));
        Reflect::set(&x, &JsValue::from_str("on_socket_message"), &c.into_js_value()).unwrap();
    }
    export_n!(on_send_failed, |t: u32, c: u32, d: JsValue|);
    b::bind_host(&x.into());
    let fake = install_fake_wx();
    // A fresh start for every test: no session, no open tunnel.
    b::session_clear();
    fake
}

async fn settle() {
    for _ in 0..4 {
        JsFuture::from(tick()).await.unwrap();
    }
}

#[wasm_bindgen_test]
async fn login_then_request_carries_the_session() {
    let fake = setup();
    let state = b::host_state();
    assert!(b::session_set_login_url("https://x.test/login".into()));
    let pending = await_op(&state, 1, &JsValue::UNDEFINED);
    b::session_login(1, obj(&[("method", "POST".into())]), false);
    let user = JsFuture::from(pending).await.unwrap();
    assert_eq!(get(&user, "nickName"), "小明");
    let login_req = Array::from(&get(&fake, "requests")).get(0);
    assert_eq!(get(&login_req, "method"), "POST");
    let header = get(&login_req, "header");
    assert_eq!(get(&header, "X-WX-Encrypted-Data"), "E");
    assert_eq!(get(&header, "X-WX-IV"), "I");
    let stored = get(&get(&fake, "storage"), "weapp_session_F2C224D4-2BCE-4C64-AF9F-A6D872000D1A");
    assert_eq!(get(&stored, "skey"), "SK");

    let mine = obj(&[("x-wx-skey", "theirs".into()), ("X-Mine", "1".into())]);
    let options = obj(&[("url", "https://x.test/api".into()), ("header", mine)]);
    let pending = await_op(&state, 2, &options);
    b::session_request(2, options.clone());
    let res = JsFuture::from(pending).await.unwrap();
    let echo = get(&get(&res, "data"), "echo");
    assert_eq!(get(&echo, "X-WX-Id"), "ID");
    assert_eq!(get(&echo, "X-WX-Skey"), "SK");
    assert_eq!(get(&echo, "X-Mine"), "1");
    assert!(get(&echo, "x-wx-skey").is_undefined(), "ours win on a clash, in any letter case");
    let h = b::session_header();
    assert_eq!(get(&h, "X-WX-Skey"), "SK");
}

#[wasm_bindgen_test]
async fn bad_request_options_fail_with_invalid_params() {
    setup();
    let state = b::host_state();
    for (i, bad) in [JsValue::from(42), JsValue::NULL, obj(&[]), obj(&[("url", 1.into())])].into_iter().enumerate() {
        let id = 100 + i as u32;
        let p = await_op(&state, id, &bad);
        b::session_request(id, bad.clone());
        let err = JsFuture::from(p).await.unwrap_err();
        assert_eq!(get(&err, "type"), "ERR_INVALID_PARAMS");
    }
    let referer = obj(&[("Referer", "https://evil".into())]);
    let options = obj(&[("url", "https://x.test/a".into()), ("header", referer)]);
    let p = await_op(&state, 110, &options);
    b::session_request(110, options.clone());
    assert_eq!(get(&JsFuture::from(p).await.unwrap_err(), "type"), "ERR_INVALID_PARAMS");
    assert!(!b::session_set_login_url(JsValue::from(7)));
}

#[wasm_bindgen_test]
async fn login_with_non_object_options_is_invalid_params() {
    setup();
    let state = b::host_state();
    let p = await_op(&state, 200, &JsValue::UNDEFINED);
    b::session_login(200, JsValue::from("not an object"), false);
    let err = JsFuture::from(p).await.unwrap_err();
    assert_eq!(get(&err, "type"), "ERR_INVALID_PARAMS");
    assert!(err.is_instance_of::<js_sys::Error>());
}

#[wasm_bindgen_test]
async fn tunnel_round_trip_through_the_bindings() {
    let fake = setup();
    let state = b::host_state();
    let tid = b::tunnel_create("https://x.test/tunnel".into(), obj(&[]), false).unwrap();
    let seen = record_events(&state, tid);
    assert_eq!(b::tunnel_emit(tid, &"early".into(), &JsValue::UNDEFINED), 0);
    b::tunnel_open(tid);
    assert_eq!(b::tunnel_status(tid), 1, "CONNECTING");
    // A second tunnel while this one is not closed: refused with the original's message.
    let err = b::tunnel_create("https://x.test/tunnel".into(), obj(&[]), false).unwrap_err();
    assert_eq!(get(&err, "message"), "当前有未关闭的信道，请先关闭之前的信道，再打开新信道");
    settle().await;
    let task = Array::from(&get(&fake, "sockets")).get(0);
    assert_eq!(get(&task, "url"), "wss://x.test/ws/1");
    assert_eq!(b::tunnel_socket_url(tid), "wss://x.test/ws/1");
    b::on_socket_open(tid, 1);
    assert_eq!(b::tunnel_status(tid), 2, "ACTIVE");
    assert_eq!(b::tunnel_emit(tid, &"speak".into(), &obj(&[("word", "你好".into())])), 0);
    let sent = Array::from(&get(&task, "sent"));
    // The resume extension's announce first (docs/RESUME.md), then the packets in order.
    assert_eq!(sent.get(0), "resumable:1");
    assert_eq!(sent.get(1), r#"message:{"type":"early"}"#);
    assert_eq!(sent.get(2), r#"message:{"type":"speak","content":{"word":"你好"}}"#);
    assert_eq!(seen.get(0).dyn_into::<Array>().unwrap().get(0), "connect");

    b::on_socket_message(tid, 1, &r#"message:{"type":"speak","content":{"a":"b:c"}}"#.into());
    b::on_socket_message(tid, 1, &r#"message:{"type":"close","content":1}"#.into());
    // Garbage: none of it may trap, none of it is an event.
    b::on_socket_message(tid, 1, &"message:{not json".into());
    b::on_socket_message(tid, 1, &r#"message:{"content":1}"#.into());
    b::on_socket_message(tid, 1, &js_sys::ArrayBuffer::new(8).into());
    b::on_socket_message(tid, 1, &JsValue::from_str(&"x".repeat(1 << 20)));
    b::on_socket_message(tid, 1, &JsValue::from_str(&format!("message:{}", "[".repeat(100_000))));
    b::on_socket_message(tid, 7, &r#"message:{"type":"stale"}"#.into());
    b::on_socket_message(tid, 1, &"timeout:abc".into());
    let names: Vec<String> =
        seen.iter().map(|e| e.dyn_into::<Array>().unwrap().get(0).as_string().unwrap()).collect();
    assert_eq!(names, ["connect", "speak", "@close"]);
    let speak = seen.get(1).dyn_into::<Array>().unwrap().get(1);
    assert_eq!(get(&speak, "a"), "b:c");

    b::on_socket_message(tid, 1, &"close".into());
    assert_eq!(b::tunnel_status(tid), 0, "the server's close frame closes the tunnel");
    let last = seen.get(seen.length() - 1).dyn_into::<Array>().unwrap();
    assert_eq!(last.get(0), "close");
    // A new tunnel can be created once the old one is closed.
    let next = b::tunnel_create("https://x.test/tunnel".into(), obj(&[]), false).unwrap();
    assert_ne!(next, tid);
    b::tunnel_close(next);
}

#[wasm_bindgen_test]
fn emit_reports_unencodable_content_and_unknown_tunnels() {
    setup();
    let tid = b::tunnel_create("https://x.test/tunnel".into(), obj(&[]), false).unwrap();
    let cyclic = Object::new();
    Reflect::set(&cyclic, &"self".into(), &cyclic).unwrap();
    assert_eq!(b::tunnel_emit(tid, &"t".into(), &cyclic.into()), 1, "JSON cannot encode a cycle");
    assert_eq!(b::tunnel_emit(tid + 1000, &"t".into(), &JsValue::UNDEFINED), 2, "unknown tunnel");
    b::tunnel_close(tid);
}

#[wasm_bindgen_test]
async fn resume_extension_counts_and_acknowledges_through_the_bindings() {
    let fake = setup();
    let tid = b::tunnel_create("https://x.test/tunnel".into(), obj(&[]), false).unwrap();
    b::tunnel_open(tid);
    settle().await;
    let task = Array::from(&get(&fake, "sockets")).get(0);
    b::on_socket_open(tid, 1);
    b::on_socket_message(tid, 1, &"resume-token:30:tok".into());
    for i in 0..32 {
        b::on_socket_message(tid, 1, &JsValue::from_str(&format!(r#"message:{{"type":"n","content":{i}}}"#)));
    }
    // A message of a stale connection is neither dispatched nor counted.
    b::on_socket_message(tid, 9, &r#"message:{"type":"n"}"#.into());
    let sent = Array::from(&get(&task, "sent"));
    assert_eq!(sent.get(0), "resumable:1");
    assert_eq!(sent.get(1), "ack:32", "an ack after 32 messages of the token's stream");
    assert_eq!(sent.length(), 2);
    b::tunnel_close(tid);
}
