//! Bindings of the session service: `setLoginUrl`, `login`, `loginWithCode`,
//! `request`, `clearSession`, `buildSessionHeader`, `Session.get/set/clear`.

use wafer_core::session::{
    Error, ErrorKind, FlowId, LoginMode, LoginOptions, LoginResponse, OpId, Output, RequestResponse,
    StoredSession, UserDetail, SESSION_KEY,
};
use wafer_core::Millis;
use wasm_bindgen::prelude::*;

use crate::driver::{self, Driver, Pending, Route};
use crate::js::{self, kinds, Key};

/// Reads the stored session (v1 `{id, skey, userInfo}` or a v2 `data` object) into the core.
pub fn restore(d: &mut Driver) {
    if let Some(s) = parse_stored(&js::storage_get(SESSION_KEY)) {
        d.session.restore(s);
    }
}

/// Follows the stored session before the core decides with it: the page, or another copy
/// of the SDK, may have removed or replaced it (`wx.clearStorageSync()` on logout), and
/// the original SDK read storage for every call. Only the `skey` is compared.
fn sync_from_storage(d: &mut Driver) {
    if !d.session_in_storage {
        return;
    }
    let skey = match d.session.session() {
        Some(s) => skey_value(&s.skey),
        None => JsValue::UNDEFINED,
    };
    let stored = js::SESSION_STORAGE_KEY.with(|k| js::stored_session_is(k, &skey));
    match (stored, d.session.session().is_some()) {
        (0, true) => d.session.clear_session(),
        (0, false) | (1, true) => {}
        _ => restore(d),
    }
}

/// The skey as a JS string, made again only when the session changes.
fn skey_value(skey: &str) -> JsValue {
    thread_local! {
        static CACHE: std::cell::RefCell<Option<(String, JsValue)>> = const { std::cell::RefCell::new(None) };
    }
    CACHE.with(|c| {
        let Ok(mut c) = c.try_borrow_mut() else { return JsValue::from_str(skey) };
        if !matches!(c.as_ref(), Some((k, _)) if k == skey) {
            *c = Some((skey.to_owned(), JsValue::from_str(skey)));
        }
        c.as_ref().map(|(_, v)| v.clone()).unwrap_or(JsValue::UNDEFINED)
    })
}

fn parse_stored(v: &JsValue) -> Option<StoredSession<JsValue>> {
    let skey = js::get_string(v, Key::skey).filter(|s| !s.is_empty())?;
    let mut user_info = js::get(v, Key::userInfo);
    if user_info.is_undefined() {
        user_info = js::get(v, Key::userinfo);
    }
    Some(StoredSession {
        id: js::get_string(v, Key::id).filter(|s| !s.is_empty()),
        skey,
        user_info: (!user_info.is_undefined()).then_some(user_info),
        stored: Some(v.clone()),
    })
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

/// Runs `f` with the session headers as a JS object, reused while the session stays
/// the same (the host copies it into each request and never modifies it).
fn with_session_headers(pairs: Vec<(&'static str, String)>, f: impl FnOnce(&JsValue)) {
    thread_local! {
        static CACHE: std::cell::RefCell<Option<(Vec<(&'static str, String)>, JsValue)>> =
            const { std::cell::RefCell::new(None) };
    }
    CACHE.with(|c| {
        // Busy only when a request is made from inside a request's callback: build afresh.
        let Ok(mut c) = c.try_borrow_mut() else { return f(&header_object(&pairs)) };
        if !matches!(c.as_ref(), Some((cached, _)) if *cached == pairs) {
            let obj = header_object(&pairs);
            *c = Some((pairs, obj));
        }
        match c.as_ref() {
            Some((_, obj)) => f(obj),
            None => {}
        }
    })
}

/// The JS object stored for a session.
fn stored_value(s: &StoredSession<JsValue>) -> JsValue {
    if let Some(v) = &s.stored {
        return v.clone();
    }
    let obj = js::object();
    if let Some(id) = &s.id {
        js::set(&obj, Key::id, &JsValue::from_str(id));
    }
    js::set(&obj, Key::skey, &JsValue::from_str(&s.skey));
    if let Some(u) = &s.user_info {
        js::set(&obj, Key::userInfo, u);
    }
    obj
}

/// Errors that belong to the request itself (the others come from its login).
fn is_request_error(kind: ErrorKind) -> bool {
    matches!(kind, ErrorKind::InvalidSession | ErrorKind::CheckLoginFailed | ErrorKind::RequestFailed)
}

fn fail(op: u32, request: bool, e: &Error<JsValue>) {
    let detail = e.detail.clone().unwrap_or(JsValue::UNDEFINED);
    js::op_fail(op, request, e.kind.type_str(), &e.message, &detail);
}

/// A `LoginError` / `RequestError` shaped value for places with no callback (tunnel details).
pub fn error_value(e: &Error<JsValue>) -> JsValue {
    let err: JsValue = js_sys::Error::new(&e.message).into();
    js::set(&err, Key::r#type, &JsValue::from_str(e.kind.type_str()));
    if let Some(d) = &e.detail {
        js::set(&err, Key::detail, d);
    }
    err
}

/// Performs one session output.
pub fn perform(out: Output<JsValue>) {
    match out {
        Output::CheckSession { flow } => js::wx_check_session(flow.0),
        Output::WxLogin { flow } => js::wx_login(flow.0),
        Output::GetUserInfo { flow } => js::wx_get_user_info(flow.0),
        Output::LoginRequest { flow, url, method, headers, data } => {
            let data = data.unwrap_or(JsValue::UNDEFINED);
            js::wx_request_login(flow.0, &url, &method, &header_object(&headers), &data);
        }
        Output::StoreSession(s) => {
            let stored = js::storage_set(SESSION_KEY, &stored_value(&s));
            driver::with(|d| d.session_in_storage = stored);
        }
        Output::RemoveSession => {
            js::storage_remove(SESSION_KEY);
            driver::with(|d| d.session_in_storage = true);
        }
        Output::LoginDone { op, result } => match result {
            Ok(user_info) => js::op_done(op.0, user_info.unwrap_or(JsValue::UNDEFINED)),
            Err(e) => fail(op.0, false, &e),
        },
        Output::Send { op, attempt, headers } => {
            let options = driver::with(|d| d.pending.get(&op.0).map(|p| p.options.clone())).flatten();
            if let Some(options) = options {
                let options = options.unwrap_or(JsValue::UNDEFINED);
                with_session_headers(headers, |h| js::wx_request(op.0, attempt, &options, h));
            }
        }
        Output::RequestDone { op, result } => {
            let route = driver::with(|d| d.pending.remove(&op.0).map(|p| p.route)).flatten();
            match route {
                Some(Route::User) | None => match result {
                    Ok(res) => js::op_done(op.0, res),
                    Err(e) => fail(op.0, is_request_error(e.kind), &e),
                },
                Some(Route::TunnelUrl { tid, attempt }) => crate::tunnel::url_answered(tid, attempt, result),
            }
        }
    }
}

fn invalid(message: &str) -> Error<JsValue> {
    Error { kind: ErrorKind::InvalidParams, message: message.to_owned(), detail: None }
}

/// Reads the login-related options of a `login` / `request` call.
pub fn login_options(options: &JsValue, code_only: bool) -> LoginOptions<JsValue> {
    let data = js::get(options, Key::data);
    let detail_obj = {
        let d = js::get(options, Key::detail);
        if d.is_object() { d } else { options.clone() }
    };
    let user_info = js::get(&detail_obj, Key::userInfo);
    let mode = if code_only || js::truthy(&js::get(options, Key::codeOnly)) {
        LoginMode::CodeOnly
    } else if user_info.is_object() {
        LoginMode::Detail(UserDetail {
            user_info: Some(user_info),
            encrypted_data: js::get_string(&detail_obj, Key::encryptedData),
            iv: js::get_string(&detail_obj, Key::iv),
        })
    } else {
        LoginMode::GetUserInfo
    };
    let timeout = timeout_option(options);
    LoginOptions {
        login_url: js::get_string(options, Key::loginUrl).filter(|s| !s.is_empty()),
        method: js::get_string(options, Key::method),
        data: (!data.is_undefined()).then_some(data),
        mode,
        timeout,
    }
}

/// `options.timeout` in milliseconds (at most a day), when positive.
fn timeout_option(options: &JsValue) -> Option<Millis> {
    js::get_number(options, Key::timeout).filter(|t| *t > 0.0).map(|t| t.min(86_400_000.0) as Millis)
}

/// `setLoginUrl(url)`: `false` when `url` is not a non-empty string.
#[wasm_bindgen]
pub fn session_set_login_url(url: JsValue) -> bool {
    match url.as_string().filter(|s| !s.is_empty()) {
        Some(url) => driver::input(|d, _| d.session.set_login_url(url)).is_some(),
        None => false,
    }
}

/// `login(options)` / `loginWithCode(options)` for the shim's op `op`.
#[wasm_bindgen]
pub fn session_login(op: u32, options: JsValue, code_only: bool) {
    if !(options.is_undefined() || options.is_object()) {
        fail(op, false, &invalid("登录参数错误：options 必须是对象"));
        return;
    }
    let opts = login_options(&options, code_only);
    let fed = driver::input(|d, now| {
        sync_from_storage(d);
        d.session.login(now, OpId(op), opts);
        d.drain_session();
    });
    if fed.is_none() {
        fail(op, false, &busy());
    }
}

/// The error of a call that found the driver busy (cannot happen while every host call
/// returns normally; reported rather than dropped all the same).
fn busy() -> Error<JsValue> {
    Error { kind: ErrorKind::InvalidParams, message: "SDK 内部状态忙，请稍后重试".to_owned(), detail: None }
}

/// Checks a request's options (their shape from `request_shape`); the message of the
/// `ERR_INVALID_PARAMS` error otherwise.
fn check_request(shape: u32) -> Result<(), &'static str> {
    if shape & 7 != kinds::OBJECT {
        return Err("请求参数错误：options 必须是对象");
    }
    if shape & 64 == 0 {
        return Err("请求参数错误：缺少 url");
    }
    if !matches!(shape >> 3 & 7, kinds::UNDEFINED | kinds::NULL | kinds::OBJECT) {
        return Err("请求参数错误：header 必须是对象");
    }
    if shape & 1024 != 0 {
        return Err("请求参数错误：不能设置 Referer 请求头");
    }
    Ok(())
}

/// `request(options)` for the shim's op `op` (the shim keeps `options` with the op).
#[wasm_bindgen]
pub fn session_request(op: u32, options: &JsValue) {
    let shape = js::request_shape(options);
    if let Err(message) = check_request(shape) {
        fail(op, true, &invalid(message));
        return;
    }
    // A login the request needs takes its URL and deadline from the request's options;
    // `method` and `data` are the request's own.
    let opts = LoginOptions {
        login_url: if shape & 256 != 0 { js::get_string(options, Key::loginUrl) } else { None },
        method: None,
        data: None,
        mode: LoginMode::GetUserInfo,
        timeout: if shape & 512 != 0 { timeout_option(options) } else { None },
    };
    let login = shape & 128 != 0;
    let fed = driver::input(|d, now| {
        sync_from_storage(d);
        d.pending.insert(op, Pending { options: None, route: Route::User });
        d.session.request(now, OpId(op), login, opts);
        d.drain_session();
    });
    if fed.is_none() {
        fail(op, true, &busy());
    }
}

/// `clearSession()` / `Session.clear()`.
#[wasm_bindgen]
pub fn session_clear() {
    driver::input(|d, _| {
        d.session.clear_session();
        d.session_in_storage = true;
    });
    js::storage_remove(SESSION_KEY);
}

/// `buildSessionHeader()`: `{X-WX-Id, X-WX-Skey}` (v2: `{X-WX-Skey}`) or `{}`.
#[wasm_bindgen]
pub fn session_header() -> JsValue {
    let pairs = driver::input(|d, _| {
        sync_from_storage(d);
        d.session.session_headers()
    })
    .unwrap_or_default();
    header_object(&pairs)
}

/// `Session.get()`: the stored session object, or `null`.
#[wasm_bindgen]
pub fn session_get() -> JsValue {
    driver::input(|d, _| {
        sync_from_storage(d);
        d.session.session().map(stored_value)
    })
        .flatten()
        .unwrap_or(JsValue::NULL)
}

/// `Session.set(session)`: `false` when it has no string `skey`.
#[wasm_bindgen]
pub fn session_set(value: JsValue) -> bool {
    let Some(s) = parse_stored(&value) else {
        return false;
    };
    driver::input(|d, _| d.session.set_session(s));
    let stored = js::storage_set(SESSION_KEY, &value);
    driver::with(|d| d.session_in_storage = stored);
    true
}

/// `wx.checkSession` answered.
#[wasm_bindgen]
pub fn on_check_session(flow: u32, ok: bool) {
    driver::session_input(|s, now| s.handle_check_session(now, FlowId(flow), ok));
}

/// `wx.login` answered: `res.code` on success, the wx error otherwise.
#[wasm_bindgen]
pub fn on_wx_login(flow: u32, ok: bool, res: JsValue) {
    let result = match js::get_string(&res, Key::code).filter(|c| ok && !c.is_empty()) {
        Some(code) => Ok(code),
        None => Err(res),
    };
    driver::session_input(|s, now| s.handle_wx_login(now, FlowId(flow), result));
}

/// `wx.getUserInfo` answered.
#[wasm_bindgen]
pub fn on_user_info(flow: u32, ok: bool, res: JsValue) {
    let result = if ok && res.is_object() {
        let user_info = js::get(&res, Key::userInfo);
        Ok(UserDetail {
            user_info: (!user_info.is_undefined()).then_some(user_info),
            encrypted_data: js::get_string(&res, Key::encryptedData),
            iv: js::get_string(&res, Key::iv),
        })
    } else {
        Err(res)
    };
    driver::session_input(|s, now| s.handle_user_info(now, FlowId(flow), result));
}

/// `wx.request` of a login flow answered.
#[wasm_bindgen]
pub fn on_login_response(flow: u32, ok: bool, res: JsValue) {
    let result = if ok {
        let body = js::response_body(&res);
        let session = js::get(&body, Key::session);
        let data = js::get(&body, Key::data);
        let mut v2_user = js::get(&data, Key::userinfo);
        if v2_user.is_undefined() {
            v2_user = js::get(&data, Key::userInfo);
        }
        Ok(LoginResponse {
            status: js::get_number(&res, Key::statusCode),
            magic: js::get_truthy(&body, Key::magic),
            session_id: js::get_string(&session, Key::id),
            session_skey: js::get_string(&session, Key::skey),
            error: js::get_string(&body, Key::error),
            message: js::get_string(&body, Key::message),
            code: js::get_number(&body, Key::code),
            v2_skey: js::get_string(&data, Key::skey),
            v2_user_info: (!v2_user.is_undefined()).then_some(v2_user),
            v2_data: data.is_object().then_some(data),
            raw: res,
        })
    } else {
        Err(res)
    };
    driver::session_input(|s, now| s.handle_login_response(now, FlowId(flow), result));
}

/// `wx.request` of a session request answered.
#[wasm_bindgen]
pub fn on_request_response(op: u32, attempt: u32, ok: bool, res: JsValue) {
    let result = if ok {
        let shape = Key::magic.with(|m| js::response_shape(&res, m));
        let magic = shape & 2048 != 0;
        let (error, message) = if magic {
            let body = js::response_body(&res);
            (js::get_string(&body, Key::error), js::get_string(&body, Key::message))
        } else {
            (None, None)
        };
        Ok(RequestResponse {
            status: Some(f64::from(shape & 1023)).filter(|s| *s > 0.0),
            magic,
            error,
            message,
            code: match shape >> 12 & 3 {
                1 => Some(-1.0),
                2 => Some(0.0),
                _ => None,
            },
            raw: res,
        })
    } else {
        Err(res)
    };
    driver::session_input(|s, now| s.handle_request_response(now, OpId(op), attempt, result));
}
