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
    /// `wx.connectSocket`; the task's events call `on_socket_*(tid, conn, …)`.
    pub fn socket_connect(tid: u32, conn: u32, url: &str);
    /// `SocketTask.send` (the host takes `data`); a failure calls `on_send_failed(tid, conn, data)`.
    pub fn socket_send(tid: u32, conn: u32, data: JsValue);
    /// `SocketTask.send` of a control frame (`ping`, `close`); a failure is not reported.
    pub fn socket_send_control(tid: u32, conn: u32, data: JsValue);
    /// `SocketTask.close` and forget the task.
    pub fn socket_close(tid: u32, conn: u32);
    /// Calls the tunnel's listeners of `name` and `*` (the host takes both values).
    pub fn tunnel_event(tid: u32, name: JsValue, payload: JsValue);
    /// Dispatches a parsed server message's `content` under `name`.
    pub fn tunnel_message(tid: u32, name: JsValue, message: JsValue);
    /// `obj[key]` when it is a string.
    pub fn prop_string(obj: &JsValue, key: &JsValue) -> Option<Text>;
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
    /// `length << 16 | first UTF-16 unit` of a string (lengths above 65535 saturate).
    pub fn string_shape(s: &Text) -> u32;
    /// Whether `data` is a string starting with `prefix`.
    pub fn has_prefix(data: &JsValue, prefix: &JsValue) -> bool;
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

/// Declares the property names the driver reads and writes, each a JS string made once.
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
        /// A property name the driver uses (no Rust string crosses the boundary for it).
        #[derive(Clone, Copy, Debug)]
        #[allow(non_camel_case_types)]
        pub enum Key { $($name),* }
        impl Key {
            /// Runs `f` with the cached JS string of the key.
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
    magic = "F2C224D4-2BCE-4C64-AF9F-A6D872000D1A", maxQueue = "maxQueue",
    maxReconnectTryTimes = "maxReconnectTryTimes", message = "message", method = "method",
    reconnectTimeIncrease = "reconnectTimeIncrease", seed = "seed", session = "session",
    skey = "skey", statusCode = "statusCode", timeout = "timeout", r#type = "type", url = "url",
    userInfo = "userInfo", userinfo = "userinfo",
    hCode = "X-WX-Code", hEncryptedData = "X-WX-Encrypted-Data", hIv = "X-WX-IV",
    hId = "X-WX-Id", hSkey = "X-WX-Skey",
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

/// `obj[key]`; `undefined` when `obj` is not an object or the getter throws.
pub fn get(obj: &JsValue, key: Key) -> JsValue {
    key.with(|k| prop(obj, k))
}

/// `obj[key]` as a Rust string, when it is a string (copied only then).
pub fn get_string(obj: &JsValue, key: Key) -> Option<String> {
    key.with(|k| prop_string(obj, k))?.as_string()
}

/// `obj[key]` as a finite number: a number, or a short string holding one (Android once
/// sent `statusCode: "200"`).
pub fn get_number(obj: &JsValue, key: Key) -> Option<f64> {
    let n = key.with(|k| number_prop(obj, k));
    n.is_finite().then_some(n)
}

/// Whether `obj[key]` is truthy.
pub fn get_truthy(obj: &JsValue, key: Key) -> bool {
    key.with(|k| truthy_prop(obj, k))
}

/// Value kinds as the host's `kind()` numbers them (in `request_shape`).
pub mod kinds {
    /// `undefined`.
    pub const UNDEFINED: u32 = 0;
    /// `null`.
    pub const NULL: u32 = 1;
    /// Any other object, or a function.
    pub const OBJECT: u32 = 6;
}

/// `obj[key] = value` on an object of the driver's own.
pub fn set(obj: &JsValue, key: Key, value: &JsValue) {
    key.with(|k| put(obj, k, value));
}

/// A fresh `{}`.
pub fn object() -> JsValue {
    js_sys::Object::new().into()
}

/// Whether `v` is truthy in the JS sense.
pub fn truthy(v: &JsValue) -> bool {
    v.is_truthy()
}
