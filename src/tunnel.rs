//! Bindings of the tunnel service: `new Tunnel(url)`, `open`, `emit`, `close`, the
//! socket events, and the inbound message hot path (frames stay JS strings; only the
//! frame head and the message type are looked at).

use wafer_core::frame::{self, Frame};
use wafer_core::session::{Error, LoginOptions, LoginMode, OpId};
use wafer_core::tunnel::{
    socket_url_from_response, Backoff, ConnId, Event, Outbound, Output, TunnelConfig, TunnelError, TunnelStatus,
};
use wasm_bindgen::prelude::*;

use crate::driver::{self, Pending, Route, TunnelSlot};
use crate::js::{self, Key};

/// Message of the exception thrown by `new Tunnel()` while another tunnel is open.
const ONE_TUNNEL: &str = "当前有未关闭的信道，请先关闭之前的信道，再打开新信道";

fn config_from(options: &JsValue) -> TunnelConfig {
    let mut c = TunnelConfig::default();
    let num = |k: Key| js::get_number(options, k).filter(|n| *n >= 0.0);
    if let Some(n) = num(Key::maxReconnectTryTimes) {
        c.max_reconnect_tries = n.min(1_000.0) as u32;
    }
    let step = num(Key::reconnectTimeIncrease).map(|n| n.min(3_600_000.0) as u64).unwrap_or(1000);
    c.backoff = match js::get_string(options, Key::backoff).as_deref() {
        Some("exponential") => Backoff::Exponential {
            base: step.max(1),
            cap: num(Key::backoffCap).map(|n| n.min(3_600_000.0) as u64).unwrap_or(30_000),
            jitter: js::get(options, Key::jitter).as_bool().unwrap_or(true),
        },
        _ => Backoff::Linear { step },
    };
    if let Some(n) = num(Key::maxQueue).filter(|n| *n >= 1.0) {
        c.max_queue = n.min(1e9) as usize;
    }
    if let Some(n) = num(Key::heartbeat).filter(|n| *n >= 1000.0) {
        c.ping_interval = n.min(3_600_000.0) as u64;
    }
    c.seed = (js::get_number(options, Key::seed).unwrap_or(0.0) as u64) ^ driver::now().rotate_left(17) ^ 0x9E37_79B9;
    c
}

/// `new Tunnel(serviceUrl, options)`: the tunnel id, or throws while another tunnel is
/// not closed (or when `serviceUrl` is not a string).
#[wasm_bindgen]
pub fn tunnel_create(service_url: JsValue, options: JsValue) -> Result<u32, JsValue> {
    let Some(url) = service_url.as_string() else {
        return Err(js_sys::TypeError::new("信道服务地址必须是字符串").into());
    };
    let config = config_from(&options);
    let created = driver::input(|d, _| {
        if d.tunnels.values().any(|t| t.machine.status() != TunnelStatus::Closed) {
            return None;
        }
        // Closed tunnels are done: forget them so memory stays flat; but not one with
        // packets still queued (emitted while closed, for a later open) or events not yet
        // delivered (a listener creating this tunnel while the old one reports its close).
        d.tunnels.retain(|t| t.marked > 0 || t.machine.output_len() > 0 || t.machine.queued() > 0);
        d.last_tid = d.last_tid.wrapping_add(1).max(1);
        let tid = d.last_tid;
        d.tunnels.insert(tid, TunnelSlot { machine: wafer_core::tunnel::Tunnel::new(config), service_url: url, armed: None, marked: 0 });
        Some(tid)
    })
    .flatten();
    created.ok_or_else(|| js_sys::Error::new(ONE_TUNNEL).into())
}

/// Whether tunnel `tid` is still known (closed tunnels are forgotten by `tunnel_create`).
#[wasm_bindgen]
pub fn tunnel_alive(tid: u32) -> bool {
    driver::with(|d| d.tunnels.get(&tid).is_some()).unwrap_or(false)
}

/// `tunnel.open()`.
#[wasm_bindgen]
pub fn tunnel_open(tid: u32) {
    js::watch_network();
    driver::tunnel_input(tid, |t, now| t.open(now));
}

/// `tunnel.close()`.
#[wasm_bindgen]
pub fn tunnel_close(tid: u32) {
    driver::tunnel_input(tid, |t, now| t.close(now));
}

/// `tunnel.emit(type, content)`: encodes `message:{"type":…,"content":…}` (no `content`
/// key when it is undefined) and sends or queues it. Returns 0 when done, 1 when the
/// content cannot be encoded as JSON (a cycle, a BigInt: the shim throws the host's
/// `json_error()`), 2 when the tunnel id is unknown (a forgotten closed tunnel).
#[wasm_bindgen]
pub fn tunnel_emit(tid: u32, ty: &JsValue, content: &JsValue) -> u32 {
    let Some(frame) = js::MESSAGE_PREFIX.with(|p| js::encode_packet(p, ty, content)) else {
        return 1;
    };
    // The common case, an active tunnel and no other effect waiting, sends at once
    // (what `emit` would ask for), without a trip through the core's output queue.
    let direct = driver::with(|d| {
        let idle = d.effects.is_empty() && !d.pumping;
        let now = d.last_now;
        let t = d.tunnels.get_mut(&tid)?;
        if idle && t.marked == 0 {
            if let Some(conn) = t.machine.active_conn() {
                return Some(Ok((conn, frame)));
            }
        }
        t.machine.emit(now, frame);
        d.drain_tunnel(tid);
        Some(Err(()))
    });
    match direct {
        Some(Some(Ok((conn, frame)))) => js::socket_send(tid, conn.0, frame),
        Some(Some(Err(()))) => driver::perform_effects(),
        _ => return 2,
    }
    0
}

/// `tunnel.status` as an index: 0 closed, 1 connecting, 2 active, 3 reconnecting.
#[wasm_bindgen]
pub fn tunnel_status(tid: u32) -> u32 {
    let status = driver::with(|d| d.tunnels.get(&tid).map(|t| t.machine.status())).flatten();
    match status.unwrap_or(TunnelStatus::Closed) {
        TunnelStatus::Closed => 0,
        TunnelStatus::Connecting => 1,
        TunnelStatus::Active => 2,
        TunnelStatus::Reconnecting => 3,
    }
}

/// `tunnel.socketUrl` (`null` before the first URL).
#[wasm_bindgen]
pub fn tunnel_socket_url(tid: u32) -> JsValue {
    driver::with(|d| d.tunnels.get(&tid).and_then(|t| t.machine.socket_url().map(JsValue::from_str)))
        .flatten()
        .unwrap_or(JsValue::NULL)
}

/// A socket of the tunnel opened.
#[wasm_bindgen]
pub fn on_socket_open(tid: u32, conn: u32) {
    driver::tunnel_input(tid, |t, now| t.handle_socket_open(now, ConnId(conn)));
}

/// A socket of the tunnel closed.
#[wasm_bindgen]
pub fn on_socket_close(tid: u32, conn: u32) {
    driver::tunnel_input(tid, |t, now| t.handle_socket_close(now, ConnId(conn)));
}

/// A socket of the tunnel reported an error.
#[wasm_bindgen]
pub fn on_socket_error(tid: u32, conn: u32, detail: JsValue) {
    driver::tunnel_input(tid, |t, now| t.handle_socket_error(now, ConnId(conn), Some(detail)));
}

/// `SocketTask.send` failed for `data`: it goes back to the queue.
#[wasm_bindgen]
pub fn on_send_failed(tid: u32, conn: u32, data: JsValue) {
    driver::tunnel_input(tid, |t, now| t.handle_send_failed(now, ConnId(conn), data));
}

/// `wx.onNetworkStatusChange` / `wx.getNetworkType`: online or not.
#[wasm_bindgen]
pub fn on_network(online: bool) {
    driver::input(|d, now| {
        let tids: Vec<u32> = d.tunnels.keys().copied().collect();
        for tid in tids {
            if let Some(t) = d.tunnels.get_mut(&tid) {
                t.machine.handle_network(now, online);
            }
            d.drain_tunnel(tid);
        }
    });
}

/// A frame arrived. Message frames are decoded without copying them into wasm: the
/// prefix is checked in place, the body goes to the engine's `JSON.parse`, and only
/// the message type is read to pick the event name.
#[wasm_bindgen]
pub fn on_socket_message(tid: u32, conn: u32, data: &JsValue) {
    let current = driver::with(|d| d.tunnels.get(&tid).is_some_and(|t| t.machine.is_current(ConnId(conn))));
    if current != Some(true) {
        return; // a stale socket
    }
    if js::MESSAGE_PREFIX.with(|p| js::has_prefix(data, p)) {
        dispatch_message(tid, data);
        return;
    }
    // Binary frames are not part of the protocol; control frames are short.
    if !data.is_string() || js::string_length(data.unchecked_ref()) > 64 {
        return;
    }
    let Some(s) = data.as_string() else { return };
    let parsed = frame::parse(&s);
    if matches!(parsed, Frame::Message(_) | Frame::Ping | Frame::Unknown(_)) {
        return;
    }
    driver::tunnel_input(tid, |t, now| t.handle_frame(now, ConnId(conn), parsed));
}

fn dispatch_message(tid: u32, text: &JsValue) {
    let Some(message) = js::parse_after(text, frame::MESSAGE_PREFIX.len() as u32) else {
        return; // an unparsable body is dropped (PROTOCOL.md §5)
    };
    let Some(ty) = Key::r#type.with(|k| js::prop_string(&message, k)) else {
        return; // a message without a string type names no event
    };
    // Only a type that could be reserved (by length and first letter) is copied to be
    // compared; chat traffic like `speak` never is.
    let shape = js::string_shape(&ty);
    if matches!(shape >> 16, 5 | 7 | 9 | 12) && could_be_reserved(shape & 0xFFFF) {
        if let Some(name) = ty.as_string().filter(|n| frame::is_reserved(n)) {
            js::tunnel_message(tid, JsValue::from_str(&frame::event_name(&name)), message);
            return;
        }
    }
    js::tunnel_message(tid, ty.into(), message);
}

/// Whether a type starting with UTF-16 unit `first` may be a reserved event name.
fn could_be_reserved(first: u32) -> bool {
    frame::RESERVED_EVENTS.iter().any(|name| name.bytes().next().map(u32::from) == Some(first))
}

/// The answer to a tunnel's service-URL request.
pub fn url_answered(tid: u32, attempt: u32, result: Result<JsValue, Error<JsValue>>) {
    let result = match result {
        Ok(res) => {
            let body = js::get(&res, Key::data);
            let data = js::get(&body, Key::data);
            let v1 = js::get_string(&body, Key::url);
            let v2 = js::get_string(&data, Key::connectUrl);
            let status = js::get_number(&res, Key::statusCode);
            let code = js::get_number(&body, Key::code);
            match socket_url_from_response(status, v1.as_deref(), code, v2.as_deref()) {
                Some(url) => Ok(url.to_owned()),
                None => Err(Some(res)),
            }
        }
        Err(e) => Err(Some(crate::session::error_value(&e))),
    };
    driver::tunnel_input(tid, |t, now| t.handle_url(now, attempt, result));
}

/// Starts the session request for the service URL of connection attempt `attempt`.
fn request_url(tid: u32, attempt: u32) {
    driver::input(|d, now| {
        let Some(url) = d.tunnels.get(&tid).map(|t| t.service_url.clone()) else { return };
        let op = d.internal_op();
        let options = js::object();
        js::set(&options, Key::url, &JsValue::from_str(&url));
        js::set(&options, Key::method, &JsValue::from_str("GET"));
        d.pending.insert(op, Pending { options: Some(options), route: Route::TunnelUrl { tid, attempt } });
        let login = d.session.login_url().is_some();
        let login_options =
            LoginOptions { login_url: None, method: None, data: None, mode: LoginMode::GetUserInfo, timeout: None };
        d.session.request(now, OpId(op), login, login_options);
        d.drain_session();
    });
}

/// `{code, message, detail}` of an `error` event.
fn error_payload(code: u32, message: &str, detail: &JsValue) -> JsValue {
    let obj = js::object();
    js::set(&obj, Key::code, &JsValue::from(code));
    js::set(&obj, Key::message, &JsValue::from_str(message));
    js::set(&obj, Key::detail, detail);
    obj
}

/// `{type, content}` of an encoded packet, for error details.
fn packet_detail(frame_text: &JsValue) -> JsValue {
    js::parse_after(frame_text, frame::MESSAGE_PREFIX.len() as u32).unwrap_or_else(|| frame_text.clone())
}

fn emit_event(tid: u32, name: &str, payload: JsValue) {
    js::tunnel_event(tid, JsValue::from_str(name), payload);
}

/// Performs one tunnel output.
pub fn perform(tid: u32, out: Output<JsValue, JsValue>) {
    match out {
        Output::RequestUrl { attempt } => request_url(tid, attempt),
        Output::Connect { conn, url } => js::socket_connect(tid, conn.0, &url),
        Output::Send { conn, frame: f } => match f {
            Outbound::Ping => js::socket_send_control(tid, conn.0, JsValue::from_str(frame::PING)),
            Outbound::Close => js::socket_send_control(tid, conn.0, JsValue::from_str(frame::CLOSE)),
            Outbound::Packet(p) => js::socket_send(tid, conn.0, p),
        },
        Output::CloseSocket { conn } => js::socket_close(tid, conn.0),
        Output::Event(e) => match e {
            Event::Connect => emit_event(tid, "connect", JsValue::UNDEFINED),
            Event::Reconnecting => emit_event(tid, "reconnecting", JsValue::UNDEFINED),
            Event::Reconnect => emit_event(tid, "reconnect", JsValue::UNDEFINED),
            Event::Close => emit_event(tid, "close", JsValue::UNDEFINED),
            Event::Error { error, detail } => {
                let detail = detail.unwrap_or(JsValue::NULL);
                emit_event(tid, "error", error_payload(error.code(), error.message(), &detail));
            }
            Event::Overflow(p) => {
                let e = TunnelError::QueueFull;
                emit_event(tid, "error", error_payload(e.code(), e.message(), &packet_detail(&p)));
            }
            Event::Unsent(packets) => {
                let list = js_sys::Array::new();
                for p in &packets {
                    list.push(&packet_detail(p));
                }
                let e = TunnelError::Unsent;
                emit_event(tid, "error", error_payload(e.code(), e.message(), &list.into()));
            }
        },
    }
}
