//! The module's exports, called by the JS shim: user calls and host answers, each fed to
//! the client as one input. No rule lives here; each export reads its arguments and
//! hands them over.

use wafer_core::client::{Emitted, Line, TunnelId};
use wafer_core::frame::{self, Frame};
use wafer_core::session::{FlowId, OpId};
use wafer_core::tunnel::{ConnId, TunnelStatus};
use wasm_bindgen::prelude::*;

use crate::driver::{self, fail, stored_value, WxHost};
use crate::js::{self, Js};

// ------------------------------------------------------------------ session service

/// `setLoginUrl(url)`: `false` when `url` is not a non-empty string.
#[wasm_bindgen]
pub fn session_set_login_url(url: JsValue) -> bool {
    driver::input(|c, _| c.set_login_url(&Js(url))).unwrap_or(false)
}

/// `login(options)` / `loginWithCode(options)` for the shim's op `op`.
#[wasm_bindgen]
pub fn session_login(op: u32, options: JsValue, code_only: bool) {
    if driver::input(|c, s| c.login(OpId(op), &Js(options), code_only, s)).is_none() {
        fail(op, false, &busy());
    }
}

/// `request(options)` for the shim's op `op` (the shim keeps `options` with the op).
#[wasm_bindgen]
pub fn session_request(op: u32, options: JsValue) {
    let options = Js(options);
    if driver::input(|c, s| c.request(OpId(op), &options, s)).is_none() {
        fail(op, true, &busy());
    }
}

/// The error of a call that found the driver busy (cannot happen while every host call
/// returns normally; reported rather than dropped all the same).
fn busy() -> wafer_core::session::Error<Js> {
    wafer_core::session::Error {
        kind: wafer_core::session::ErrorKind::InvalidParams,
        message: "SDK 内部状态忙，请稍后重试".to_owned(),
        detail: None,
    }
}

/// `clearSession()` / `Session.clear()`.
#[wasm_bindgen]
pub fn session_clear() {
    driver::input(|c, s| c.clear_session(s));
}

/// `buildSessionHeader()`: `{X-WX-Id, X-WX-Skey}` (v2: `{X-WX-Skey}`) or `{}`.
#[wasm_bindgen]
pub fn session_header() -> JsValue {
    let pairs = driver::input(|c, s| c.session_headers(s)).unwrap_or_default();
    let obj = js::object();
    for (name, value) in pairs {
        if let Some(k) = js::header_key(name) {
            js::set(&obj, k, &JsValue::from_str(&value));
        }
    }
    obj
}

/// `Session.get()`: the stored session object, or `null`.
#[wasm_bindgen]
pub fn session_get() -> JsValue {
    driver::input(|c, s| c.stored_session(s).map(stored_value)).flatten().unwrap_or(JsValue::NULL)
}

/// `Session.set(session)`: `false` when it has no non-empty string `skey`.
#[wasm_bindgen]
pub fn session_set(value: JsValue) -> bool {
    driver::input(|c, s| c.set_session(&Js(value), s)).unwrap_or(false)
}

/// `wx.checkSession` answered.
#[wasm_bindgen]
pub fn on_check_session(flow: u32, ok: bool) {
    driver::input(|c, s| c.handle_check_session(FlowId(flow), ok, s));
}

/// `wx.login` answered.
#[wasm_bindgen]
pub fn on_wx_login(flow: u32, ok: bool, res: JsValue) {
    driver::input(|c, s| c.handle_wx_login(FlowId(flow), ok, Js(res), s));
}

/// `wx.getUserInfo` answered.
#[wasm_bindgen]
pub fn on_user_info(flow: u32, ok: bool, res: JsValue) {
    driver::input(|c, s| c.handle_user_info(FlowId(flow), ok, Js(res), s));
}

/// `wx.request` of a login flow answered.
#[wasm_bindgen]
pub fn on_login_response(flow: u32, ok: bool, res: JsValue) {
    driver::input(|c, s| c.handle_login_response(FlowId(flow), ok, Js(res), s));
}

/// `wx.request` of a session request answered.
#[wasm_bindgen]
pub fn on_request_response(op: u32, attempt: u32, ok: bool, res: JsValue) {
    driver::input(|c, s| c.handle_request_response(OpId(op), attempt, ok, Js(res), s));
}

// ------------------------------------------------------------------ tunnel service

/// `new Tunnel(serviceUrl, options)`: the tunnel id. Throws when `serviceUrl` is not a
/// string, and while another tunnel is not closed, unless `deferred` (a tunnel made
/// before the SDK was ready: it reports `error` 1001 instead).
#[wasm_bindgen]
pub fn tunnel_create(service_url: JsValue, options: JsValue, deferred: bool) -> Result<u32, JsValue> {
    use wafer_core::client::{messages, AnotherTunnelOpen};
    if !service_url.is_string() && !deferred {
        return Err(js_sys::TypeError::new(messages::TUNNEL_URL).into());
    }
    match driver::input(|c, h| c.create_tunnel(&Js(service_url), &Js(options), deferred, h)) {
        Some(Ok(id)) => Ok(id.0),
        _ => Err(js_sys::Error::new(AnotherTunnelOpen::MESSAGE).into()),
    }
}

/// `tunnel.open()`.
#[wasm_bindgen]
pub fn tunnel_open(tid: u32) {
    driver::input(|c, s| c.open_tunnel(TunnelId(tid), s));
}

/// `tunnel.close()`.
#[wasm_bindgen]
pub fn tunnel_close(tid: u32) {
    driver::input(|c, s| c.close_tunnel(TunnelId(tid), s));
}

/// `tunnel.emit(type, content)`: encodes `message:{"type":…,"content":…}` (no `content`
/// key when it is undefined) and sends or queues it. Returns 0 when done, 1 when the
/// content cannot be encoded as JSON (a cycle, a BigInt: the shim throws the host's
/// `json_error()`), 2 for an id no `tunnel_create` returned.
#[wasm_bindgen]
pub fn tunnel_emit(tid: u32, ty: &JsValue, content: &JsValue) -> u32 {
    let Some(frame) = js::MESSAGE_PREFIX.with(|p| js::encode_packet(p, ty, content)) else {
        return 1;
    };
    // The common case, an active tunnel and no other output waiting, sends at once.
    let mut host = WxHost::default();
    let emitted = driver::with(|d| {
        let idle = !d.pumping;
        d.client.emit(TunnelId(tid), Js(frame), idle, &mut host)
    });
    match emitted {
        Some(Emitted::Direct(conn, frame)) => js::socket_send(tid, conn.0, frame.0),
        Some(Emitted::Unknown) => return 2,
        _ => {
            driver::perform_outputs();
            driver::rearm(&mut host);
        }
    }
    0
}

/// `tunnel.status` as an index of `STATUS` in `js/constants.js`.
#[wasm_bindgen]
pub fn tunnel_status(tid: u32) -> u32 {
    let status = driver::with(|d| d.client.tunnel_status(TunnelId(tid))).unwrap_or(TunnelStatus::Closed);
    status as u32
}

/// `tunnel.socketUrl` (`null` before the first URL).
#[wasm_bindgen]
pub fn tunnel_socket_url(tid: u32) -> JsValue {
    driver::with(|d| d.client.socket_url(TunnelId(tid)).map(JsValue::from_str)).flatten().unwrap_or(JsValue::NULL)
}

/// A socket of the tunnel opened.
#[wasm_bindgen]
pub fn on_socket_open(tid: u32, conn: u32) {
    driver::input(|c, s| c.handle_socket_open(TunnelId(tid), ConnId(conn), s));
}

/// A socket of the tunnel closed.
#[wasm_bindgen]
pub fn on_socket_close(tid: u32, conn: u32) {
    driver::input(|c, s| c.handle_socket_close(TunnelId(tid), ConnId(conn), s));
}

/// A socket of the tunnel reported an error.
#[wasm_bindgen]
pub fn on_socket_error(tid: u32, conn: u32, detail: JsValue) {
    driver::input(|c, s| c.handle_socket_error(TunnelId(tid), ConnId(conn), Js(detail), s));
}

/// `SocketTask.send` failed for `data`.
#[wasm_bindgen]
pub fn on_send_failed(tid: u32, conn: u32, data: JsValue) {
    driver::input(|c, s| c.handle_send_failed(TunnelId(tid), ConnId(conn), Js(data), s));
}

/// `wx.onNetworkStatusChange` / `wx.getNetworkType`: online or not.
#[wasm_bindgen]
pub fn on_network(online: bool) {
    driver::input(|c, s| c.handle_network(online, s));
}

/// A listener of `name` threw `exception`.
#[wasm_bindgen]
pub fn on_listener_error(tid: u32, name: JsValue, exception: JsValue) {
    let name = name.as_string().unwrap_or_default();
    driver::input(|c, _| c.handle_listener_error(TunnelId(tid), &name, Js(exception)));
}

/// `qcloud.setLogger(logger)`: the debug log on (a logger) or off (`null`).
#[wasm_bindgen]
pub fn set_debug(on: bool) {
    driver::input(|c, _| c.set_debug(on));
}

/// A frame arrived. A message frame is read by the host in one call (prefix, the
/// engine's `JSON.parse`, the type's length and first letter) without entering wasm
/// memory; the driver decides whether it is dispatched and under which name.
#[wasm_bindgen]
pub fn on_socket_message(tid: u32, conn: u32, data: &JsValue) {
    let (id, conn) = (TunnelId(tid), ConnId(conn));
    let shape = js::MESSAGE_PREFIX.with(|p| js::message_in(data, p));
    let is_message = shape != NOT_MESSAGE;
    let state = driver::with(|d| {
        let live =
            if is_message { d.client.handle_message(id, conn) } else { d.client.is_current(id, conn).then_some(false) };
        (live, d.client.debug())
    });
    let Some((Some(ack), debug)) = state else {
        if is_message {
            // A stale socket: tunnel id 0 names no tunnel, so the kept message is only forgotten.
            js::message_dispatch(0, JsValue::UNDEFINED);
        }
        return;
    };
    if is_message {
        dispatch_message(tid, shape, debug);
        if ack {
            driver::input(|c, h| c.flush_tunnel(id, h));
        }
        return;
    }
    // Binary frames are not part of the protocol; control frames are short.
    if !data.is_string() || js::string_length(data.unchecked_ref()) > frame::MAX_CONTROL_LEN as u32 {
        return;
    }
    let Some(s) = data.as_string() else { return };
    let parsed = frame::parse(&s);
    if matches!(parsed, Frame::Message(_) | Frame::Ping | Frame::Unknown(_)) {
        return;
    }
    driver::input(|c, st| c.handle_frame(id, conn, parsed, st));
}

/// `message_in`: not a message frame.
const NOT_MESSAGE: f64 = -1.0;
/// `message_in`: a body that is not JSON.
const NOT_JSON: f64 = -2.0;

fn dispatch_message(tid: u32, shape: f64, debug: bool) {
    if shape < 0.0 {
        if debug {
            let why = if shape == NOT_JSON { "not JSON" } else { "no type" };
            js::log_line(&Line::tunnel(tid).s("frame in: message (").s(why).s(": dropped)").0);
        }
        return; // dropped (docs/PROTOCOL.md §5): nothing was kept
    }
    let shape = shape as u32;
    // Only a type that could be reserved (by length and first letter) is copied to be
    // compared; chat traffic like `speak` never is.
    let reserved = frame::could_be_reserved(shape >> 16, shape & 0xFFFF) || debug;
    let name = reserved.then(|| js::message_type().as_string()).flatten();
    if debug {
        js::log_line(&Line::tunnel(tid).s("frame in: message ").s(name.as_deref().unwrap_or("")).0);
    }
    match name.filter(|n| frame::is_reserved(n)) {
        Some(name) => js::message_dispatch(tid, JsValue::from_str(&frame::event_name(&name))),
        None => js::message_dispatch(tid, JsValue::UNDEFINED),
    }
}
