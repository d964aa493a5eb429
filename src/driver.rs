//! The driver: one [`Client`] per wasm instance, fed by the exports, its outputs
//! performed as host calls, its one timer re-armed after every input.

use std::cell::RefCell;
use std::rc::Rc;

use wafer_core::client::{listener_error_message, Client, Detail, Host, Output, StoredView, TunnelEvent, TunnelId};
use wafer_core::session::{Error, Headers, StoredSession, SESSION_KEY};
use wafer_core::tunnel::{Event, Outbound, TunnelError};
use wafer_core::{frame, Millis};
use wasm_bindgen::JsValue;

use crate::js::{self, Js, Key};

/// The one host timer slot of the client.
const TIMER_SLOT: u32 = 0;

/// All state of this wasm instance (one per loaded copy of the SDK).
pub struct Driver {
    /// The session service and the tunnels.
    pub client: Client<Js>,
    /// The deadline the host timer is armed for.
    armed: Option<Millis>,
    /// Outputs are being performed: an input made from inside one (a listener calling
    /// `emit`, a callback calling `request`) only queues its outputs, which the running
    /// loop performs after the current one, so they keep the order they were made in.
    pub pumping: bool,
}

thread_local! {
    static DRIVER: RefCell<Driver> =
        RefCell::new(Driver { client: Client::new(), armed: None, pumping: false });
}

/// The client's host for one input: the clock (read once, on first use: `Date.now()` is
/// not free) and session storage through `wx.*StorageSync`.
#[derive(Default)]
pub struct WxHost {
    now: Option<Millis>,
}

impl Host<Js> for WxHost {
    fn now(&mut self) -> Millis {
        *self.now.get_or_insert_with(now)
    }

    fn read(&mut self, current: Option<&StoredSession<Js>>) -> StoredView<Js> {
        let skey = current.map_or(JsValue::UNDEFINED, |s| skey_value(&s.skey));
        match js::SESSION_STORAGE_KEY.with(|k| js::stored_session_is(k, &skey)) {
            0 => StoredView::Empty,
            1 => StoredView::Same,
            _ => StoredView::Other(Js(js::storage_get(SESSION_KEY))),
        }
    }

    fn write(&mut self, session: &StoredSession<Js>) -> bool {
        js::storage_set(SESSION_KEY, &stored_value(session))
    }

    fn remove(&mut self) {
        js::storage_remove(SESSION_KEY);
    }
}

/// The skey as a JS string, made again only when the session changes.
fn skey_value(skey: &str) -> JsValue {
    thread_local! {
        static CACHE: RefCell<Option<(String, JsValue)>> = const { RefCell::new(None) };
    }
    CACHE.with(|c| {
        let Ok(mut c) = c.try_borrow_mut() else { return JsValue::from_str(skey) };
        if !matches!(c.as_ref(), Some((k, _)) if k == skey) {
            *c = Some((skey.to_owned(), JsValue::from_str(skey)));
        }
        c.as_ref().map_or(JsValue::UNDEFINED, |(_, v)| v.clone())
    })
}

/// The JS object stored for a session (the value it was read from, when there is one).
pub fn stored_value(s: &StoredSession<Js>) -> JsValue {
    if let Some(v) = &s.stored {
        return v.0.clone();
    }
    let obj = js::object();
    if let Some(id) = &s.id {
        js::set(&obj, Key::id, &JsValue::from_str(id));
    }
    js::set(&obj, Key::skey, &JsValue::from_str(&s.skey));
    if let Some(u) = &s.user_info {
        js::set(&obj, Key::userInfo, &u.0);
    }
    obj
}

/// The host clock in milliseconds.
pub fn now() -> Millis {
    let t = js::now();
    if t.is_finite() && t > 0.0 {
        t as Millis
    } else {
        0
    }
}

/// Runs `f` on the driver state. `None` only if called while the state is borrowed,
/// which the pump design rules out (no JS runs inside `f` but wx storage calls).
#[inline(always)] // a hot path (measured: the module no bigger, inbound no slower)
pub fn with<R>(f: impl FnOnce(&mut Driver) -> R) -> Option<R> {
    DRIVER.with(|d| d.try_borrow_mut().ok().map(|mut d| f(&mut d)))
}

/// Feeds one input to the client (inside `f`), then performs every output and re-arms
/// the timer.
pub fn input<R>(f: impl FnOnce(&mut Client<Js>, &mut WxHost) -> R) -> Option<R> {
    let mut host = WxHost::default();
    let r = with(|d| f(&mut d.client, &mut host))?;
    perform_outputs();
    rearm(&mut host);
    Some(r)
}

/// Performs outputs until none is left; inside an output, does nothing (the running loop
/// gets to them).
pub fn perform_outputs() {
    if with(|d| !std::mem::replace(&mut d.pumping, true)) != Some(true) {
        return;
    }
    while let Some(out) = with(|d| d.client.poll_output()).flatten() {
        perform(out);
    }
    with(|d| d.pumping = false);
}

/// Re-arms the host timer when the client's deadline moved.
pub fn rearm(host: &mut WxHost) {
    let changed = with(|d| {
        let next = d.client.poll_timeout();
        (next != d.armed).then(|| {
            d.armed = next;
            next
        })
    });
    if let Some(Some(next)) = changed {
        let delay = next.map_or(-1.0, |at| at.saturating_sub(host.now()) as f64);
        js::set_timer(TIMER_SLOT, delay);
    }
}

/// The timer armed by the driver fired.
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn on_timer(slot: u32) {
    let _ = slot;
    with(|d| d.armed = None);
    input(|c, h| c.handle_timeout(h));
}

fn header_object(pairs: &[(&'static str, String)]) -> JsValue {
    let obj = js::object();
    for (name, value) in pairs {
        if let Some(k) = js::header_key(name) {
            js::set(&obj, k, &JsValue::from_str(value));
        }
    }
    obj
}

/// Runs `f` with the session headers as a JS object, made once per session (the core
/// shares one `Headers` value while the session stays the same; the host copies the object
/// into each request and never modifies it).
fn with_session_headers(headers: Headers, f: impl FnOnce(&JsValue)) {
    thread_local! {
        static CACHE: RefCell<Option<(Headers, JsValue)>> = const { RefCell::new(None) };
    }
    CACHE.with(|c| {
        // Busy only when a request is made from inside a request's callback: build afresh.
        let Ok(mut c) = c.try_borrow_mut() else { return f(&header_object(&headers)) };
        if !matches!(c.as_ref(), Some((cached, _)) if Rc::ptr_eq(cached, &headers)) {
            let obj = header_object(&headers);
            *c = Some((headers, obj));
        }
        if let Some((_, obj)) = c.as_ref() {
            f(obj);
        }
    })
}

/// `op_fail` for a call's error.
pub fn fail(op: u32, request: bool, e: &Error<Js>) {
    let detail = e.detail.as_ref().map_or(JsValue::UNDEFINED, |d| d.0.clone());
    js::op_fail(op, request, e.kind.type_str(), &e.message, &detail);
}

/// The `LoginError` / `RequestError` of a failed service-URL request, for the detail of
/// tunnel `error` 1001.
fn error_value(e: &Error<Js>) -> JsValue {
    let detail = e.detail.as_ref().map_or(JsValue::UNDEFINED, |d| d.0.clone());
    js::make_error(e.kind.raised_by_request(), e.kind.type_str(), &e.message, &detail)
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

fn dispatch(tunnel: TunnelId, event: TunnelEvent<Js>) {
    let tid = tunnel.0;
    match event {
        Event::Connect => emit_event(tid, "connect", JsValue::UNDEFINED),
        Event::Reconnecting => emit_event(tid, "reconnecting", JsValue::UNDEFINED),
        Event::Reconnect => emit_event(tid, "reconnect", JsValue::UNDEFINED),
        Event::Close => emit_event(tid, "close", JsValue::UNDEFINED),
        Event::Error { error, detail } => {
            let detail = match detail {
                Some(Detail::Host(v)) => v.0,
                Some(Detail::Session(e)) => error_value(&e),
                None => JsValue::NULL,
            };
            emit_event(tid, "error", error_payload(error.code(), error.message(), &detail));
        }
        Event::Overflow(p) => {
            let e = TunnelError::QueueFull;
            emit_event(tid, "error", error_payload(e.code(), e.message(), &packet_detail(&p.0)));
        }
        Event::Unsent(packets) => {
            let list = js_sys::Array::new();
            for p in &packets {
                list.push(&packet_detail(&p.0));
            }
            let e = TunnelError::Unsent;
            emit_event(tid, "error", error_payload(e.code(), e.message(), &list.into()));
        }
    }
}

/// Performs one output of the client.
fn perform(out: Output<Js>) {
    match out {
        Output::CheckSession { flow } => js::wx_check_session(flow.0),
        Output::WxLogin { flow } => js::wx_login(flow.0),
        Output::GetUserInfo { flow } => js::wx_get_user_info(flow.0),
        Output::LoginRequest { flow, url, method, headers, data } => {
            let data = data.map_or(JsValue::UNDEFINED, |d| d.0);
            js::wx_request_login(flow.0, &url, &method, &header_object(&headers), &data);
        }
        Output::LoginDone { op, result } => match result {
            Ok(user_info) => js::op_done(op.0, user_info.map_or(JsValue::UNDEFINED, |u| u.0)),
            Err(e) => fail(op.0, false, &e),
        },
        Output::Send { op, attempt, headers } => {
            with_session_headers(headers, |h| js::wx_request(op.0, attempt, &JsValue::UNDEFINED, h));
        }
        Output::SendTunnelUrl { op, attempt, url, headers, .. } => {
            let options = js::object();
            js::set(&options, Key::url, &JsValue::from_str(&url));
            Key::get.with(|get| js::set(&options, Key::method, get));
            with_session_headers(headers, |h| js::wx_request(op.0, attempt, &options, h));
        }
        Output::RequestDone { op, result, request_error } => match result {
            Ok(res) => js::op_done(op.0, res.0),
            Err(e) => fail(op.0, request_error, &e),
        },
        Output::Connect { tunnel, conn, url } => js::socket_connect(tunnel.0, conn.0, &url),
        Output::SendFrame { tunnel, conn, frame: f } => match f {
            Outbound::Ping => js::socket_send_control(tunnel.0, conn.0, JsValue::from_str(frame::PING)),
            Outbound::Close => js::socket_send_control(tunnel.0, conn.0, JsValue::from_str(frame::CLOSE)),
            Outbound::Packet(p) => js::socket_send(tunnel.0, conn.0, p.0),
            Outbound::Control(text) => js::socket_send_control(tunnel.0, conn.0, JsValue::from_str(&text)),
        },
        Output::CloseSocket { tunnel, conn } => js::socket_close(tunnel.0, conn.0),
        Output::Event { tunnel, event } => dispatch(tunnel, event),
        Output::ListenerError { tunnel, name, detail } => {
            let e = TunnelError::ListenerThrew;
            emit_event(tunnel.0, "error", error_payload(e.code(), &listener_error_message(&name), &detail.0));
        }
        Output::Release { tunnel } => js::tunnel_release(tunnel.0),
        Output::WatchNetwork => js::watch_network(),
        Output::Log(line) => js::log_line(&line),
    }
}
