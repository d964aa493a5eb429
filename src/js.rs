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
    /// `wx.request` with the caller's options plus `header` (ours win), answered by
    /// `on_request_response(op, attempt, ok, res)`.
    pub fn wx_request(op: u32, attempt: u32, options: &JsValue, header: &JsValue);
    /// `wx.getStorageSync` (undefined when missing or failing).
    pub fn storage_get(key: &str) -> JsValue;
    /// `wx.setStorageSync`.
    pub fn storage_set(key: &str, value: &JsValue);
    /// `wx.removeStorageSync`.
    pub fn storage_remove(key: &str);
    /// A `login`/`request` call succeeded: `success(value)`, `complete(value)`.
    pub fn op_done(op: u32, value: &JsValue);
    /// A call failed: a `LoginError` (`request == false`) or `RequestError` goes to `fail`.
    pub fn op_fail(op: u32, request: bool, kind: &str, message: &str, detail: &JsValue);
    /// `wx.connectSocket`; the task's events call `on_socket_*(tid, conn, …)`.
    pub fn socket_connect(tid: u32, conn: u32, url: &str);
    /// `SocketTask.send`; a failure calls `on_send_failed(tid, conn, data)`.
    pub fn socket_send(tid: u32, conn: u32, data: &JsValue);
    /// `SocketTask.close` and forget the task.
    pub fn socket_close(tid: u32, conn: u32);
    /// Calls the tunnel's listeners of `name` and `*`.
    pub fn tunnel_event(tid: u32, name: &JsValue, payload: &JsValue);
    /// Starts following `wx.onNetworkStatusChange` (once); it calls `on_network(online)`.
    pub fn watch_network();
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
    /// `JSON.parse(text)` on a JS string (no copy into wasm).
    #[wasm_bindgen(js_namespace = JSON, js_name = parse, catch)]
    pub fn json_parse(text: &JsValue) -> Result<JsValue, JsValue>;
    /// `JSON.stringify(value)`; `undefined` for values JSON cannot represent.
    #[wasm_bindgen(js_namespace = JSON, js_name = stringify, catch)]
    pub fn json_stringify(value: &JsValue) -> Result<JsValue, JsValue>;

    /// A JS string, handled without copying it into wasm memory.
    #[wasm_bindgen(extends = js_sys::Object, typescript_type = "string")]
    pub type Text;
    /// `s.length` (UTF-16 units).
    #[wasm_bindgen(method, getter, structural)]
    pub fn length(this: &Text) -> u32;
    /// `s.startsWith(prefix)`.
    #[wasm_bindgen(method, js_name = startsWith)]
    pub fn starts_with(this: &Text, prefix: &JsValue) -> bool;
    /// `s.indexOf(needle)`.
    #[wasm_bindgen(method, js_name = indexOf)]
    pub fn index_of(this: &Text, needle: &JsValue) -> i32;
    /// `s.slice(start)`.
    #[wasm_bindgen(method, js_name = slice)]
    pub fn slice_from(this: &Text, start: u32) -> JsValue;
    /// `s.concat(other)`.
    #[wasm_bindgen(method, js_name = concat)]
    pub fn concat(this: &Text, other: &JsValue) -> JsValue;

    /// `"message:"`, the prefix of a message frame.
    #[wasm_bindgen(thread_local_v2, static_string)]
    pub static MESSAGE_PREFIX: js_sys::JsString = "message:";
    /// `":"`.
    #[wasm_bindgen(thread_local_v2, static_string)]
    pub static COLON: js_sys::JsString = ":";
    /// `"type"`.
    #[wasm_bindgen(thread_local_v2, static_string)]
    pub static TYPE: js_sys::JsString = "type";
    /// `"content"`.
    #[wasm_bindgen(thread_local_v2, static_string)]
    pub static CONTENT: js_sys::JsString = "content";
}

/// `obj[key]` for a plain string key; `undefined` when `obj` is not an object or the
/// getter throws.
pub fn get(obj: &JsValue, key: &str) -> JsValue {
    if !obj.is_object() {
        return JsValue::UNDEFINED;
    }
    js_sys::Reflect::get(obj, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

/// `obj[key]` with a cached key.
pub fn get_with(obj: &JsValue, key: &JsValue) -> JsValue {
    if !obj.is_object() {
        return JsValue::UNDEFINED;
    }
    js_sys::Reflect::get(obj, key).unwrap_or(JsValue::UNDEFINED)
}

/// `obj[key]` as a Rust string, when it is a string.
pub fn get_string(obj: &JsValue, key: &str) -> Option<String> {
    get(obj, key).as_string()
}

/// `obj[key]` as a number: a finite number, or a string holding one (Android once sent
/// `statusCode: "200"`).
pub fn get_number(obj: &JsValue, key: &str) -> Option<f64> {
    let v = get(obj, key);
    let n = match v.as_f64() {
        Some(n) => n,
        // Short numeric strings only: `Number("")` is 0, and long strings are not numbers we use.
        None if v.is_string() && v.unchecked_ref::<Text>().length() <= 32 => {
            if v.as_string()?.trim().is_empty() {
                return None;
            }
            js_number(&v)
        }
        None => return None,
    };
    n.is_finite().then_some(n)
}

/// `obj[key] = value` (ignores failures: the objects are our own).
pub fn set(obj: &JsValue, key: &str, value: &JsValue) {
    let _ = js_sys::Reflect::set(obj, &JsValue::from_str(key), value);
}

/// A fresh `{}`.
pub fn object() -> JsValue {
    js_sys::Object::new().into()
}

/// Whether `v` is truthy in the JS sense.
pub fn truthy(v: &JsValue) -> bool {
    v.is_truthy()
}
