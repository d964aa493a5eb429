//! The JavaScript the driver touches: host functions of the shim (`js/host.js`) and a
//! few engine built-ins, bound directly so no Rust string is copied on the hot path.

use wasm_bindgen::prelude::*;

#[wasm_bindgen(module = "/js/host.js")]
extern "C" {
    /// `Date.now()`.
    pub fn now() -> f64;
    /// Arms (delay ≥ 0) or clears (delay < 0) the one timer of `slot`; it calls `on_timer(slot)`.
    pub fn set_timer(slot: u32, delay: f64);
    /// `wx.checkSession`, answered by `on_check_session(flow, ok)`.
    pub fn wx_check_session(flow: u32);
    /// `wx.login`, answered by `on_wx_login(flow, ok, res)`.
    pub fn wx_login(flow: u32);
    /// `wx.getUserInfo`, answered by `on_user_info(flow, ok, res)`.
    pub fn wx_get_user_info(flow: u32);
    /// `wx.request` for a login flow, answered by `on_login_response(flow, ok, res)`.
    pub fn wx_request_login(flow: u32, url: &str, method: &str, header: &JsValue, data: &JsValue);
    /// `wx.request` with `options` (`undefined`: the options of the shim's user op `op`)
    /// plus `header` (ours win), answered by `on_request_response(op, attempt, ok, res)`.
    pub fn wx_request(op: u32, attempt: u32, options: &JsValue, header: &JsValue);
    /// `wx.getStorageSync` (undefined when missing or failing).
    pub fn storage_get(key: &str) -> JsValue;
    /// The session stored under `key` against `skey`: 0 none, 1 the same skey, 2 another.
    pub fn stored_session_is(key: &JsValue, skey: &JsValue) -> u32;
    /// `wx.setStorageSync`; `false` when it failed (storage full).
    pub fn storage_set(key: &str, value: &JsValue) -> bool;
    /// `wx.removeStorageSync`.
    pub fn storage_remove(key: &str);
    /// A `login`/`request` call succeeded: `success(value)`, `complete(value)`.
    pub fn op_done(op: u32, value: JsValue);
    /// A call failed: a `LoginError` (`request == false`) or `RequestError` goes to `fail`.
    pub fn op_fail(op: u32, request: bool, kind: &str, message: &str, detail: &JsValue);
    /// Hands a debug line to the logger set with `qcloud.setLogger`.
    pub fn log_line(line: &str);
    /// A `RequestError` (`request == true`) or `LoginError` object.
    pub fn make_error(request: bool, kind: &str, message: &str, detail: &JsValue) -> JsValue;
    /// `wx.connectSocket`; the task's events call `on_socket_*(tid, conn, …)`.
    pub fn socket_connect(tid: u32, conn: u32, url: &str);
    /// `SocketTask.send` (the host takes `data`); a failure calls `on_send_failed(tid, conn, data)`.
    pub fn socket_send(tid: u32, conn: u32, data: JsValue);
    /// `SocketTask.send` of a control frame (`ping`, `close`); a failure is not reported.
    pub fn socket_send_control(tid: u32, conn: u32, data: JsValue);
    /// `SocketTask.close` and forget the task.
    pub fn socket_close(tid: u32, conn: u32);
    /// Calls the tunnel's listeners of `name` and `*` (the host takes both values); a
    /// listener that throws is reported with `on_listener_error(tid, name, exception)`.
    pub fn tunnel_event(tid: u32, name: JsValue, payload: JsValue);
    /// The host may drop its reference to the listeners of tunnel `tid` (re-attached when
    /// the page uses the handle again).
    pub fn tunnel_release(tid: u32);
    /// Whether `obj[key]` is truthy.
    pub fn truthy_prop(obj: &JsValue, key: &JsValue) -> bool;
    /// `obj[key]` as a number (numeric strings too); NaN otherwise.
    pub fn number_prop(obj: &JsValue, key: &JsValue) -> f64;
    /// A wx response's body as an object (JSON text parsed), else undefined.
    pub fn response_body(res: &JsValue) -> JsValue;
    /// What the driver checks of `request` options, in one number (see host.js).
    pub fn request_shape(options: &JsValue) -> u32;
    /// Status, body kind, magic flag and v2 code of a wx response in one number (see host.js).
    pub fn response_shape(res: &JsValue, magic: &JsValue) -> u32;
    /// `s.length` of a string.
    pub fn string_length(s: &Text) -> u32;
    /// An inbound frame in one call: -1 not a message frame, -2 a body that is not JSON,
    /// -3 no string `type`; else the type's `length << 16 | first UTF-16 unit`, the message kept.
    pub fn message_in(data: &JsValue, prefix: &JsValue) -> f64;
    /// The `type` of the message kept by `message_in`.
    pub fn message_type() -> JsValue;
    /// Dispatches the kept message's `content` under `name` (undefined: its own type) and
    /// forgets it; tunnel id 0 (no tunnel: ids start at 1) only forgets it.
    pub fn message_dispatch(tid: u32, name: JsValue);
    /// `JSON.parse(text.slice(start))`, `None` when it is not JSON (or is `null`).
    pub fn parse_after(text: &JsValue, start: u32) -> Option<JsValue>;
    /// `prefix + JSON.stringify({type, content})`, `None` when it throws (see `json_error`).
    pub fn encode_packet(prefix: &JsValue, ty: &JsValue, content: &JsValue) -> Option<JsValue>;
    /// Starts following `wx.onNetworkStatusChange` (once); it calls `on_network(online)`.
    pub fn watch_network();
    /// `obj[key]`; `undefined` when `obj` is not an object or the getter throws.
    pub fn prop(obj: &JsValue, key: &JsValue) -> JsValue;
    /// `obj[key] = value` on an object of the driver's own.
    pub fn put(obj: &JsValue, key: &JsValue, value: &JsValue);
    /// The exception of the last failed `encode_packet`.
    pub fn json_error() -> JsValue;
    /// Points the host at an object with the driver's exports (tests; index.js does it itself).
    pub fn bind(exports: &JsValue);
    /// The host's state object (tests).
    pub fn host_state() -> JsValue;
}

// rustfmt would drop the initializers of the static strings (not Rust syntax outside
// the wasm_bindgen macro).
#[rustfmt::skip]
#[wasm_bindgen]
extern "C" {
    /// `Number(value)`.
    #[wasm_bindgen(js_name = Number)]
    pub fn js_number(value: &JsValue) -> f64;

    /// A JS string, handled without copying it into wasm memory.
    #[wasm_bindgen(extends = js_sys::Object, typescript_type = "string")]
    pub type Text;

    /// The storage key of the session.
    #[wasm_bindgen(thread_local_v2, static_string)]
    pub static SESSION_STORAGE_KEY: js_sys::JsString = "weapp_session_F2C224D4-2BCE-4C64-AF9F-A6D872000D1A";
    /// `"message:"`, the prefix of a message frame.
    #[wasm_bindgen(thread_local_v2, static_string)]
    pub static MESSAGE_PREFIX: js_sys::JsString = "message:";
}

/// Declares property names, each a JS string made once (no Rust string crosses the
/// boundary for it): the core's [`Field`]s plus the names of objects the driver builds.
macro_rules! keys {
    ($($name:ident = $text:tt),* $(,)?) => {
        #[allow(non_upper_case_globals)]
        mod key_strings {
            use wasm_bindgen::prelude::*;
            #[wasm_bindgen]
            extern "C" {
                $(
                    #[wasm_bindgen(thread_local_v2, static_string)]
                    pub static $name: js_sys::JsString = $text;
                )*
            }
        }
        /// A property name the driver uses.
        #[derive(Clone, Copy, Debug)]
        #[allow(non_camel_case_types)]
        pub enum Key { $($name),* }
        impl Key {
            /// Runs `f` with the cached JS string of the key.
            #[inline(always)] // a hot path (measured: the module no bigger, inbound no slower)
            pub fn with<R>(self, f: impl FnOnce(&JsValue) -> R) -> R {
                match self { $(Key::$name => key_strings::$name.with(|k| f(k)),)* }
            }
        }
    };
}

keys! {
    backoff = "backoff", backoffCap = "backoffCap", code = "code", codeOnly = "codeOnly",
    connectUrl = "connectUrl", data = "data", detail = "detail",
    encryptedData = "encryptedData", error = "error", heartbeat = "heartbeat",
    id = "id", iv = "iv", jitter = "jitter", loginUrl = "loginUrl",
    magic = "F2C224D4-2BCE-4C64-AF9F-A6D872000D1A", maxQueue = "maxQueue", maxUnacked = "maxUnacked", resume = "resume",
    maxReconnectTryTimes = "maxReconnectTryTimes", message = "message", method = "method",
    openTimeout = "openTimeout", reconnectTimeIncrease = "reconnectTimeIncrease", seed = "seed",
    session = "session", skey = "skey", statusCode = "statusCode", timeout = "timeout",
    r#type = "type", url = "url", userInfo = "userInfo", userinfo = "userinfo",
    hCode = "X-WX-Code", hEncryptedData = "X-WX-Encrypted-Data", hIv = "X-WX-IV",
    hId = "X-WX-Id", hSkey = "X-WX-Skey", get = "GET",
}

use wafer_core::value::{Field, HostValue, ResponseSummary};

/// The key of a core field.
fn field_key(f: Field) -> Key {
    match f {
        Field::backoff => Key::backoff,
        Field::backoffCap => Key::backoffCap,
        Field::code => Key::code,
        Field::codeOnly => Key::codeOnly,
        Field::connectUrl => Key::connectUrl,
        Field::data => Key::data,
        Field::detail => Key::detail,
        Field::encryptedData => Key::encryptedData,
        Field::error => Key::error,
        Field::heartbeat => Key::heartbeat,
        Field::id => Key::id,
        Field::iv => Key::iv,
        Field::jitter => Key::jitter,
        Field::loginUrl => Key::loginUrl,
        Field::magic => Key::magic,
        Field::maxQueue => Key::maxQueue,
        Field::maxUnacked => Key::maxUnacked,
        Field::resume => Key::resume,
        Field::maxReconnectTryTimes => Key::maxReconnectTryTimes,
        Field::message => Key::message,
        Field::method => Key::method,
        Field::openTimeout => Key::openTimeout,
        Field::reconnectTimeIncrease => Key::reconnectTimeIncrease,
        Field::seed => Key::seed,
        Field::session => Key::session,
        Field::skey => Key::skey,
        Field::statusCode => Key::statusCode,
        Field::timeout => Key::timeout,
        Field::r#type => Key::r#type,
        Field::url => Key::url,
        Field::userInfo => Key::userInfo,
        Field::userinfo => Key::userinfo,
    }
}

/// The key of a protocol header name.
pub fn header_key(name: &str) -> Option<Key> {
    use wafer_core::session as s;
    Some(match name {
        s::HEADER_CODE => Key::hCode,
        s::HEADER_ENCRYPTED_DATA => Key::hEncryptedData,
        s::HEADER_IV => Key::hIv,
        s::HEADER_ID => Key::hId,
        s::HEADER_SKEY => Key::hSkey,
        _ => return None,
    })
}

/// `obj[key] = value` on an object of the driver's own.
pub fn set(obj: &JsValue, key: Key, value: &JsValue) {
    key.with(|k| put(obj, k, value));
}

/// A fresh `{}`.
pub fn object() -> JsValue {
    js_sys::Object::new().into()
}

/// A JS value as the core reads it.
#[derive(Clone, Debug)]
pub struct Js(pub JsValue);

impl HostValue for Js {
    fn undefined() -> Self {
        Js(JsValue::UNDEFINED)
    }
    fn from_string(s: &str) -> Self {
        Js(JsValue::from_str(s))
    }
    fn get(&self, field: Field) -> Self {
        Js(field_key(field).with(|k| prop(&self.0, k)))
    }
    fn as_string(&self) -> Option<String> {
        self.0.as_string()
    }
    fn as_number(&self) -> Option<f64> {
        let n = if let Some(n) = self.0.as_f64() {
            n
        } else if self.0.as_string().is_some_and(|s| s.len() <= 32 && !s.trim().is_empty()) {
            js_number(&self.0)
        } else {
            return None;
        };
        n.is_finite().then_some(n)
    }
    fn as_bool(&self) -> Option<bool> {
        self.0.as_bool()
    }
    fn is_truthy(&self) -> bool {
        self.0.is_truthy()
    }
    fn is_object(&self) -> bool {
        self.0.is_object()
    }
    fn is_undefined(&self) -> bool {
        self.0.is_undefined()
    }
    fn response_body(&self) -> Self {
        Js(response_body(&self.0))
    }
    fn response_summary(&self) -> ResponseSummary {
        ResponseSummary::from_bits(Key::magic.with(|m| response_shape(&self.0, m)))
    }
    fn request_shape(&self) -> u32 {
        request_shape(&self.0)
    }
}
