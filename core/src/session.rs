//! The session service state machine: login (single-flight, with a deadline), session
//! requests with re-login and retry (docs/PROTOCOL.md §3–4, v1 and v2 servers).
//!
//! `V` is an opaque host value the core never inspects (user info, wx error details,
//! raw responses, request data): a `JsValue` in the driver, anything `Clone` in tests.
//!
//! How it runs:
//!
//! - At most one login flow runs at a time (`CheckSession` → `WxLogin` → `GetUserInfo`
//!   → `LoginRequest`). A `login` call, a `request(login: true)` without a session, and a
//!   request re-logging in after an invalid session all *join* the running flow and get
//!   its result; each waits until its own deadline (`ERR_LOGIN_TIMEOUT`). A flow left
//!   with no waiter is abandoned: late answers for it change nothing.
//! - Every session change bumps a generation counter. A server verdict on a session
//!   (magic-id body, v2 `code: -1`, HTTP 401) clears the session only if it is still the
//!   one the request was sent with; a request sent with an older session is simply
//!   retried with the current one, so concurrent failures share one re-login.
//! - Answers for unknown, finished or superseded flows and requests are ignored.
//! - The driver allocates `OpId`s, unique among pending calls; a `request` whose id is
//!   still pending is refused with `ERR_INVALID_PARAMS`.

use std::collections::VecDeque;

use crate::Millis;

/// Session headers as `(name, value)` pairs, shared while the session stays the same.
pub type Headers = std::rc::Rc<[(&'static str, String)]>;

/// The magic id that marks a body written by the Wafer server SDK.
pub const MAGIC_ID: &str = "F2C224D4-2BCE-4C64-AF9F-A6D872000D1A";
/// The storage key of the session.
pub const SESSION_KEY: &str = "weapp_session_F2C224D4-2BCE-4C64-AF9F-A6D872000D1A";
/// Login request header: the `wx.login` code.
pub const HEADER_CODE: &str = "X-WX-Code";
/// Login request header: `encryptedData` of the user info.
pub const HEADER_ENCRYPTED_DATA: &str = "X-WX-Encrypted-Data";
/// Login request header: `iv` of the user info.
pub const HEADER_IV: &str = "X-WX-IV";
/// Session header: session id (v1 only).
pub const HEADER_ID: &str = "X-WX-Id";
/// Session header: session key.
pub const HEADER_SKEY: &str = "X-WX-Skey";
/// Default overall login deadline.
pub const DEFAULT_LOGIN_TIMEOUT: Millis = 30_000;

/// `ERR_*` error types of `LoginError` / `RequestError`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// `ERR_INVALID_PARAMS`.
    InvalidParams,
    /// `ERR_WX_LOGIN_FAILED`.
    WxLoginFailed,
    /// `ERR_WX_GET_USER_INFO`.
    WxGetUserInfo,
    /// `ERR_LOGIN_TIMEOUT`.
    LoginTimeout,
    /// `ERR_LOGIN_FAILED`.
    LoginFailed,
    /// `ERR_LOGIN_SESSION_NOT_RECEIVED` (value `ERR_LOGIN_MISSING_SESSION`).
    LoginMissingSession,
    /// `ERR_INVALID_SESSION`.
    InvalidSession,
    /// `ERR_CHECK_LOGIN_FAILED`.
    CheckLoginFailed,
    /// `ERR_REQUEST_FAILED`: a session request failed on the network (added by this SDK;
    /// the original handed the bare wx error to `fail`).
    RequestFailed,
    /// `ERR_SDK_LOAD_FAILED`: the wasm module could not be loaded (raised by the shim; added
    /// by this SDK).
    SdkLoadFailed,
}

impl ErrorKind {
    /// Every kind, in the order of docs/PROTOCOL.md §1.
    pub const ALL: [ErrorKind; 8] = [
        ErrorKind::InvalidParams,
        ErrorKind::WxLoginFailed,
        ErrorKind::WxGetUserInfo,
        ErrorKind::LoginTimeout,
        ErrorKind::LoginFailed,
        ErrorKind::LoginMissingSession,
        ErrorKind::InvalidSession,
        ErrorKind::CheckLoginFailed,
    ];

    /// Kinds this SDK adds beyond the protocol's eight (exported on the module object too).
    pub const EXTENSIONS: [ErrorKind; 2] = [ErrorKind::RequestFailed, ErrorKind::SdkLoadFailed];

    /// The export key on the module object (`ERR_…`).
    pub fn key(self) -> &'static str {
        match self {
            ErrorKind::InvalidParams => "ERR_INVALID_PARAMS",
            ErrorKind::WxLoginFailed => "ERR_WX_LOGIN_FAILED",
            ErrorKind::WxGetUserInfo => "ERR_WX_GET_USER_INFO",
            ErrorKind::LoginTimeout => "ERR_LOGIN_TIMEOUT",
            ErrorKind::LoginFailed => "ERR_LOGIN_FAILED",
            ErrorKind::LoginMissingSession => "ERR_LOGIN_SESSION_NOT_RECEIVED",
            ErrorKind::InvalidSession => "ERR_INVALID_SESSION",
            ErrorKind::CheckLoginFailed => "ERR_CHECK_LOGIN_FAILED",
            ErrorKind::RequestFailed => "ERR_REQUEST_FAILED",
            ErrorKind::SdkLoadFailed => "ERR_SDK_LOAD_FAILED",
        }
    }

    /// The `.type` value of the error (equals the key except for `LoginMissingSession`).
    pub fn type_str(self) -> &'static str {
        match self {
            ErrorKind::LoginMissingSession => "ERR_LOGIN_MISSING_SESSION",
            other => other.key(),
        }
    }
}

/// A `LoginError` / `RequestError`: `.type`, `.message`, `.detail`.
#[derive(Clone, Debug, PartialEq)]
pub struct Error<V> {
    /// The `ERR_*` type.
    pub kind: ErrorKind,
    /// Clear Chinese text.
    pub message: String,
    /// The wx error or server response behind it, when there is one.
    pub detail: Option<V>,
}

/// A stored session: `{id, skey, userInfo}` (v1) or the v2 `data` object (`skey`, `userinfo`).
#[derive(Clone, Debug, PartialEq)]
pub struct StoredSession<V> {
    /// `id` (v1 servers); `None` for a v2 session.
    pub id: Option<String>,
    /// `skey`.
    pub skey: String,
    /// The user info to hand to `login`'s `success`.
    pub user_info: Option<V>,
    /// The whole object to write to storage (the driver builds it; the core only passes it on).
    pub stored: Option<V>,
}

/// Identifies a user call (`login`, `loginWithCode` or `request`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OpId(pub u32);

/// Identifies one login flow (one `wx.login` and one login request).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FlowId(pub u32);

/// What a page hands in from a `<button open-type="getUserInfo">` / `getUserProfile` event.
#[derive(Clone, Debug, PartialEq)]
pub struct UserDetail<V> {
    /// `userInfo`.
    pub user_info: Option<V>,
    /// `encryptedData` (sent as `X-WX-Encrypted-Data`).
    pub encrypted_data: Option<String>,
    /// `iv` (sent as `X-WX-IV`).
    pub iv: Option<String>,
}

/// How a login gets the user's data.
#[derive(Clone, Debug, PartialEq)]
pub enum LoginMode<V> {
    /// Call `wx.getUserInfo` after `wx.login` (v1 default).
    GetUserInfo,
    /// Use what the page handed in (no `wx.getUserInfo` call).
    Detail(UserDetail<V>),
    /// Send `X-WX-Code` only (`loginWithCode`, or a code-only login).
    CodeOnly,
}

/// The options of one `login` / `loginWithCode` call.
#[derive(Clone, Debug, PartialEq)]
pub struct LoginOptions<V> {
    /// `options.loginUrl`, else the URL from `setLoginUrl`.
    pub login_url: Option<String>,
    /// `options.method` (default `GET`).
    pub method: Option<String>,
    /// `options.data`, passed through to the login request.
    pub data: Option<V>,
    /// Where the user data comes from.
    pub mode: LoginMode<V>,
    /// Overall deadline for this call (default [`DEFAULT_LOGIN_TIMEOUT`]).
    pub timeout: Option<Millis>,
}

/// The fields of a login response body the core looks at (the driver reads them off
/// the parsed body; everything else stays in `raw`).
#[derive(Clone, Debug, PartialEq)]
pub struct LoginResponse<V> {
    /// HTTP status (a numeric string already converted).
    pub status: Option<f64>,
    /// The body carries the magic id with a truthy value.
    pub magic: bool,
    /// v1 `session.id`.
    pub session_id: Option<String>,
    /// v1 `session.skey`.
    pub session_skey: Option<String>,
    /// `error` (string) of a magic-id body, or a v2 `error`.
    pub error: Option<String>,
    /// `message` of the body.
    pub message: Option<String>,
    /// v2 `code`.
    pub code: Option<f64>,
    /// v2 `data.skey`.
    pub v2_skey: Option<String>,
    /// v2 `data.userinfo` (or `data.userInfo`).
    pub v2_user_info: Option<V>,
    /// v2 `data` (stored whole).
    pub v2_data: Option<V>,
    /// The raw wx response, for error details.
    pub raw: V,
}

/// The fields of a session-request response the core looks at.
#[derive(Clone, Debug, PartialEq)]
pub struct RequestResponse<V> {
    /// HTTP status (a numeric string already converted).
    pub status: Option<f64>,
    /// The body carries the magic id with a truthy value.
    pub magic: bool,
    /// `error` of a magic-id body.
    pub error: Option<String>,
    /// `message` of a magic-id body.
    pub message: Option<String>,
    /// v2 `code`.
    pub code: Option<f64>,
    /// The raw wx response, handed to `success`/`complete`.
    pub raw: V,
}

/// What the driver must do, in order.
#[derive(Clone, Debug, PartialEq)]
pub enum Output<V> {
    /// Call `wx.checkSession`; answer with `handle_check_session`.
    CheckSession { flow: FlowId },
    /// Call `wx.login`; answer with `handle_wx_login`.
    WxLogin { flow: FlowId },
    /// Call `wx.getUserInfo`; answer with `handle_user_info`.
    GetUserInfo { flow: FlowId },
    /// Send the login request; answer with `handle_login_response`.
    LoginRequest { flow: FlowId, url: String, method: String, headers: Vec<(&'static str, String)>, data: Option<V> },
    /// Write the session to storage.
    StoreSession(StoredSession<V>),
    /// Remove the session from storage.
    RemoveSession,
    /// A `login` / `loginWithCode` call finished: `success(userInfo)` or `fail(error)`.
    LoginDone { op: OpId, result: Result<Option<V>, Error<V>> },
    /// Send the user's request for `op` with these session headers added (ours win);
    /// the headers are shared while the session stays the same (no copy per request);
    /// answer with `handle_request_response(op, attempt, …)`.
    Send { op: OpId, attempt: u32, headers: Headers },
    /// A `request` call finished: `success(raw response)` or `fail(error)`.
    RequestDone { op: OpId, result: Result<V, Error<V>> },
}

// Texts of the errors. Those of the original SDK (wafer-client-sdk 0.8, lib/login.js and
// lib/request.js) are copied verbatim; the others are ours.
const MSG_NO_LOGIN_URL: &str = "登录错误：缺少登录地址，请通过 setLoginUrl() 方法设置登录地址";
const MSG_WX_LOGIN_FAILED: &str = "微信登录失败，请检查网络状态";
const MSG_WX_GET_USER_INFO: &str = "获取微信用户信息失败，请检查网络状态";
const MSG_LOGIN_FAILED: &str = "登录失败，可能是网络错误或者服务器发生异常";
const MSG_LOGIN_TIMEOUT: &str = "登录超时，请检查网络状态后重试";
const MSG_SESSION_EXPIRED: &str = "登录态已过期";
const MSG_REQUEST_FAILED: &str = "请求失败，可能是网络错误或者服务器发生异常";
const MSG_DUPLICATE_OP: &str = "参数错误：该请求编号仍在处理中，不能重复使用";
const MSG_UNKNOWN: &str = "未知错误";
/// The `error` a Wafer server writes for an invalid or expired session.
const SERVER_ERR_INVALID_SESSION: &str = "ERR_INVALID_SESSION";

impl<V> Error<V> {
    fn new(kind: ErrorKind, message: impl Into<String>, detail: Option<V>) -> Self {
        Error { kind, message: message.into(), detail }
    }
}

/// Who waits for a login flow.
#[derive(Clone, Copy, Debug)]
enum Caller {
    /// A `login` / `loginWithCode` call: gets `LoginDone`.
    Login(OpId),
    /// A `request` that needs a session first: gets `Send` or `RequestDone`.
    Request(OpId),
}

/// One caller waiting for the running flow, until its own deadline.
#[derive(Debug)]
struct Waiter {
    caller: Caller,
    deadline: Millis,
}

/// Where a login flow stands: the answer it waits for.
enum Stage<V> {
    /// `wx.checkSession` is running.
    CheckSession,
    /// `wx.login` is running.
    WxLogin,
    /// `wx.getUserInfo` is running, with the code of `wx.login`.
    GetUserInfo { code: String },
    /// The login request is running; `user_info` becomes the session's user info (v1).
    LoginRequest { user_info: Option<V> },
}

/// The one running login flow.
struct Flow<V> {
    id: FlowId,
    url: String,
    method: String,
    data: Option<V>,
    mode: LoginMode<V>,
    stage: Stage<V>,
    /// In the order they joined; never empty while the flow is stored.
    waiters: Vec<Waiter>,
}

/// Where a pending `request` stands.
#[derive(Clone, Copy, Debug)]
enum Phase {
    /// Waits for the running login flow.
    AwaitingLogin,
    /// `Send` was output with the session of this generation; waits for the answer.
    Sent { generation: u64 },
}

/// A `request` call not finished yet.
struct PendingRequest<V> {
    attempt: u32,
    phase: Phase,
    login_options: LoginOptions<V>,
}

/// The session service.
pub struct SessionService<V> {
    login_url: Option<String>,
    session: Option<StoredSession<V>>,
    /// Bumped on every change of `session`.
    generation: u64,
    /// The headers of `session`, made once per session.
    headers: Headers,
    flow: Option<Flow<V>>,
    next_flow: u32,
    requests: OpMap<PendingRequest<V>>,
    outputs: VecDeque<Output<V>>,
}

impl<V: Clone> SessionService<V> {
    /// A service with no login URL and no session.
    pub fn new() -> Self {
        SessionService {
            login_url: None,
            session: None,
            generation: 0,
            headers: Headers::from(Vec::new()),
            flow: None,
            next_flow: 0,
            requests: OpMap(Vec::new()),
            outputs: VecDeque::new(),
        }
    }

    /// `setLoginUrl(url)`.
    pub fn set_login_url(&mut self, url: String) {
        self.login_url = if url.is_empty() { None } else { Some(url) };
    }

    /// The session in memory (the driver restores it from storage with `restore`).
    pub fn session(&self) -> Option<&StoredSession<V>> {
        self.session.as_ref()
    }

    /// Loads a session read from storage at start-up (no output).
    pub fn restore(&mut self, session: StoredSession<V>) {
        self.replace_session(Some(session));
    }

    /// `Session.set` / a session written by the page: store and use it.
    pub fn set_session(&mut self, session: StoredSession<V>) {
        self.replace_session(Some(session));
    }

    /// `clearSession()`.
    pub fn clear_session(&mut self) {
        self.replace_session(None);
    }

    /// `buildSessionHeader()`: `[(X-WX-Id, id), (X-WX-Skey, skey)]` (v2: skey only), or empty.
    pub fn session_headers(&self) -> Vec<(&'static str, String)> {
        match &self.session {
            Some(StoredSession { id: Some(id), skey, .. }) => {
                vec![(HEADER_ID, id.clone()), (HEADER_SKEY, skey.clone())]
            }
            Some(StoredSession { id: None, skey, .. }) => vec![(HEADER_SKEY, skey.clone())],
            None => Vec::new(),
        }
    }

    /// `login(options)` / `loginWithCode(options)` (mode `CodeOnly`).
    pub fn login(&mut self, now: Millis, op: OpId, options: LoginOptions<V>) {
        if let Err(error) = self.join_login(now, Caller::Login(op), &options) {
            self.outputs.push_back(Output::LoginDone { op, result: Err(error) });
        }
    }

    /// `request(options)`: `login` is `options.login`; `login_options` is used when a
    /// login is needed (the page's `loginUrl`, etc.).
    ///
    /// `now` is read only when a login starts (the host's clock may be slow to read).
    pub fn request(&mut self, now: impl FnOnce() -> Millis, op: OpId, login: bool, login_options: LoginOptions<V>) {
        if self.requests.contains_key(&op) {
            let error = Error::new(ErrorKind::InvalidParams, MSG_DUPLICATE_OP, None);
            self.outputs.push_back(Output::RequestDone { op, result: Err(error) });
            return;
        }
        self.requests.insert(op, PendingRequest { attempt: 0, phase: Phase::AwaitingLogin, login_options });
        // `login: true` logs in first, as `login()` does: with a session that is one
        // `wx.checkSession` (shared by concurrent callers), as in the original.
        if login {
            self.await_login(now(), op);
        } else {
            self.send(op);
        }
    }

    /// Answer to `CheckSession`.
    pub fn handle_check_session(&mut self, now: Millis, flow: FlowId, ok: bool) {
        let _ = now;
        if self.flow_at(flow, |stage| matches!(stage, Stage::CheckSession)).is_none() {
            return;
        }
        if ok {
            if let Some(session) = &self.session {
                let user_info = session.user_info.clone();
                self.finish_flow(Ok(user_info));
                return;
            }
            // The session went away while wx.checkSession ran: a fresh login is needed.
        } else if self.session.is_some() {
            self.replace_session(None);
            self.outputs.push_back(Output::RemoveSession);
        }
        if let Some(running) = &mut self.flow {
            running.stage = Stage::WxLogin;
        }
        self.outputs.push_back(Output::WxLogin { flow });
    }

    /// Answer to `WxLogin`: the code, or the wx error.
    pub fn handle_wx_login(&mut self, now: Millis, flow: FlowId, result: Result<String, V>) {
        let _ = now;
        let Some(running) = self.flow_at(flow, |stage| matches!(stage, Stage::WxLogin)) else {
            return;
        };
        let code = match result {
            Ok(code) => code,
            Err(detail) => {
                let error = Error::new(ErrorKind::WxLoginFailed, MSG_WX_LOGIN_FAILED, Some(detail));
                self.finish_flow(Err(error));
                return;
            }
        };
        match &running.mode {
            LoginMode::GetUserInfo => {
                running.stage = Stage::GetUserInfo { code };
                let id = running.id;
                self.outputs.push_back(Output::GetUserInfo { flow: id });
            }
            LoginMode::Detail(detail) => {
                let detail = detail.clone();
                self.send_login_request(code, detail);
            }
            LoginMode::CodeOnly => {
                let detail = UserDetail { user_info: None, encrypted_data: None, iv: None };
                self.send_login_request(code, detail);
            }
        }
    }

    /// Answer to `GetUserInfo`.
    pub fn handle_user_info(&mut self, now: Millis, flow: FlowId, result: Result<UserDetail<V>, V>) {
        let _ = now;
        let Some(running) = self.flow_at(flow, |stage| matches!(stage, Stage::GetUserInfo { .. })) else {
            return;
        };
        let code = match &mut running.stage {
            Stage::GetUserInfo { code } => std::mem::take(code),
            // Unreachable: `flow_at` checked the stage.
            _ => return,
        };
        match result {
            Ok(detail) => self.send_login_request(code, detail),
            Err(detail) => {
                let error = Error::new(ErrorKind::WxGetUserInfo, MSG_WX_GET_USER_INFO, Some(detail));
                self.finish_flow(Err(error));
            }
        }
    }

    /// Answer to `LoginRequest`: the response summary, or the network failure.
    pub fn handle_login_response(&mut self, now: Millis, flow: FlowId, result: Result<LoginResponse<V>, V>) {
        let _ = now;
        let Some(running) = self.flow_at(flow, |stage| matches!(stage, Stage::LoginRequest { .. })) else {
            return;
        };
        let user_info = match &mut running.stage {
            Stage::LoginRequest { user_info } => user_info.take(),
            // Unreachable: `flow_at` checked the stage.
            _ => return,
        };
        let url = running.url.clone();
        let response = match result {
            Ok(response) => response,
            Err(detail) => {
                let error = Error::new(ErrorKind::LoginFailed, MSG_LOGIN_FAILED, Some(detail));
                self.finish_flow(Err(error));
                return;
            }
        };
        match classify_login_response(response, user_info, &url) {
            Ok(session) => {
                let user_info = session.user_info.clone();
                self.replace_session(Some(session.clone()));
                self.outputs.push_back(Output::StoreSession(session));
                self.finish_flow(Ok(user_info));
            }
            Err(error) => self.finish_flow(Err(error)),
        }
    }

    /// Answer to `Send`: the response summary, or the network failure. `now` is read only
    /// when a re-login starts.
    pub fn handle_request_response(
        &mut self,
        now: impl FnOnce() -> Millis,
        op: OpId,
        attempt: u32,
        result: Result<RequestResponse<V>, V>,
    ) {
        let generation = match self.requests.get(&op) {
            Some(PendingRequest { attempt: current, phase: Phase::Sent { generation }, .. }) if *current == attempt => {
                *generation
            }
            // Unknown op, a superseded attempt, or a request waiting for a login: stale.
            _ => return,
        };
        let response = match result {
            Ok(response) => response,
            Err(detail) => {
                let error = Error::new(ErrorKind::RequestFailed, MSG_REQUEST_FAILED, Some(detail));
                self.finish_request(op, Err(error));
                return;
            }
        };
        if response.magic {
            self.drop_session_of(generation);
            if response.error.as_deref() == Some(SERVER_ERR_INVALID_SESSION) {
                self.on_invalid_session(now(), op, attempt, response.raw);
            } else {
                let message = format!(
                    "鉴权服务器检查登录态发生错误({})：{}",
                    non_empty(response.error.as_deref()).unwrap_or("OTHER"),
                    non_empty(response.message.as_deref()).unwrap_or(MSG_UNKNOWN),
                );
                let error = Error::new(ErrorKind::CheckLoginFailed, message, Some(response.raw));
                self.finish_request(op, Err(error));
            }
        } else if response.code == Some(-1.0) || response.status == Some(401.0) {
            self.drop_session_of(generation);
            self.on_invalid_session(now(), op, attempt, response.raw);
        } else {
            self.finish_request(op, Ok(response.raw));
        }
    }

    /// The timer armed for `poll_timeout()` fired.
    pub fn handle_timeout(&mut self, now: Millis) {
        let Some(flow) = &mut self.flow else {
            return;
        };
        let (mut expired, waiting): (Vec<Waiter>, Vec<Waiter>) =
            std::mem::take(&mut flow.waiters).into_iter().partition(|w| w.deadline <= now);
        flow.waiters = waiting;
        if flow.waiters.is_empty() {
            // Nobody waits any more: abandon the flow; its late answers are ignored.
            self.flow = None;
        }
        // Stable: equal deadlines keep the order of joining.
        expired.sort_by_key(|w| w.deadline);
        for waiter in expired {
            let error = Error::new(ErrorKind::LoginTimeout, MSG_LOGIN_TIMEOUT, None);
            self.complete(waiter.caller, Err(error));
        }
    }

    /// Next output, in order.
    pub fn poll_output(&mut self) -> Option<Output<V>> {
        self.outputs.pop_front()
    }

    /// The earliest deadline, if any.
    pub fn poll_timeout(&self) -> Option<Millis> {
        self.flow.as_ref().and_then(|flow| flow.waiters.iter().map(|w| w.deadline).min())
    }

    /// Adds `caller` to the running flow, or starts one. Fails when there is no login URL.
    fn join_login(&mut self, now: Millis, caller: Caller, options: &LoginOptions<V>) -> Result<(), Error<V>> {
        let Some(url) = non_empty(options.login_url.as_deref()).or(self.login_url.as_deref()) else {
            return Err(Error::new(ErrorKind::InvalidParams, MSG_NO_LOGIN_URL, None));
        };
        let deadline = now.saturating_add(options.timeout.unwrap_or(DEFAULT_LOGIN_TIMEOUT));
        let waiter = Waiter { caller, deadline };
        if let Some(flow) = &mut self.flow {
            flow.waiters.push(waiter);
            return Ok(());
        }
        let id = FlowId(self.next_flow);
        self.next_flow = self.next_flow.wrapping_add(1);
        let check_first = self.session.is_some() && !matches!(options.mode, LoginMode::Detail(_));
        let method = match non_empty(options.method.as_deref()) {
            Some(method) => method.to_ascii_uppercase(),
            None => "GET".to_owned(),
        };
        self.flow = Some(Flow {
            id,
            url: url.to_owned(),
            method,
            data: options.data.clone(),
            mode: options.mode.clone(),
            stage: if check_first { Stage::CheckSession } else { Stage::WxLogin },
            waiters: vec![waiter],
        });
        let first = if check_first { Output::CheckSession { flow: id } } else { Output::WxLogin { flow: id } };
        self.outputs.push_back(first);
        Ok(())
    }

    /// The running flow if it is `flow` and at a stage `at` accepts; `None` for a stale answer.
    fn flow_at(&mut self, flow: FlowId, at: impl Fn(&Stage<V>) -> bool) -> Option<&mut Flow<V>> {
        self.flow.as_mut().filter(|running| running.id == flow && at(&running.stage))
    }

    /// Moves the running flow to its login request and outputs it.
    fn send_login_request(&mut self, code: String, detail: UserDetail<V>) {
        let Some(flow) = &mut self.flow else {
            return;
        };
        let mut headers = vec![(HEADER_CODE, code)];
        if let Some(data) = detail.encrypted_data.filter(|s| !s.is_empty()) {
            headers.push((HEADER_ENCRYPTED_DATA, data));
        }
        if let Some(iv) = detail.iv.filter(|s| !s.is_empty()) {
            headers.push((HEADER_IV, iv));
        }
        flow.stage = Stage::LoginRequest { user_info: detail.user_info };
        let output = Output::LoginRequest {
            flow: flow.id,
            url: flow.url.clone(),
            method: flow.method.clone(),
            headers,
            data: flow.data.clone(),
        };
        self.outputs.push_back(output);
    }

    /// Ends the running flow: every waiter, in the order of joining, gets `result`.
    fn finish_flow(&mut self, result: Result<Option<V>, Error<V>>) {
        let Some(flow) = self.flow.take() else {
            return;
        };
        for waiter in flow.waiters {
            self.complete(waiter.caller, result.clone());
        }
    }

    /// Hands a login result to one caller.
    fn complete(&mut self, caller: Caller, result: Result<Option<V>, Error<V>>) {
        match (caller, result) {
            (Caller::Login(op), result) => self.outputs.push_back(Output::LoginDone { op, result }),
            (Caller::Request(op), Ok(_)) => self.send(op),
            (Caller::Request(op), Err(error)) => self.finish_request(op, Err(error)),
        }
    }

    /// Outputs `Send` for a pending request with the current session headers.
    fn send(&mut self, op: OpId) {
        let headers = self.headers.clone();
        let generation = self.generation;
        let Some(request) = self.requests.get_mut(&op) else {
            return;
        };
        request.phase = Phase::Sent { generation };
        let attempt = request.attempt;
        self.outputs.push_back(Output::Send { op, attempt, headers });
    }

    /// Makes a pending request wait for a login (joining or starting the flow).
    fn await_login(&mut self, now: Millis, op: OpId) {
        let Some(request) = self.requests.get_mut(&op) else {
            return;
        };
        request.phase = Phase::AwaitingLogin;
        let options = request.login_options.clone();
        if let Err(error) = self.join_login(now, Caller::Request(op), &options) {
            self.finish_request(op, Err(error));
        }
    }

    /// The server said the session of a request is invalid: retry once after a login.
    fn on_invalid_session(&mut self, now: Millis, op: OpId, attempt: u32, raw: V) {
        if attempt >= 1 {
            let error = Error::new(ErrorKind::InvalidSession, MSG_SESSION_EXPIRED, Some(raw));
            self.finish_request(op, Err(error));
            return;
        }
        let Some(request) = self.requests.get_mut(&op) else {
            return;
        };
        request.attempt = attempt.saturating_add(1);
        if self.session.is_some() {
            // A newer session replaced the one this request was sent with: use it.
            self.send(op);
        } else {
            self.await_login(now, op);
        }
    }

    /// Clears the session if it is still the one of `generation` (a server verdict on it).
    fn drop_session_of(&mut self, generation: u64) {
        if generation == self.generation && self.session.is_some() {
            self.replace_session(None);
            self.outputs.push_back(Output::RemoveSession);
        }
    }

    /// Removes a pending request and outputs its `RequestDone`.
    fn finish_request(&mut self, op: OpId, result: Result<V, Error<V>>) {
        if self.requests.remove(&op).is_some() {
            self.outputs.push_back(Output::RequestDone { op, result });
        }
    }

    fn replace_session(&mut self, session: Option<StoredSession<V>>) {
        self.session = session;
        self.generation = self.generation.wrapping_add(1);
        self.headers = Headers::from(self.session_headers());
    }
}

impl<V: Clone> Default for SessionService<V> {
    fn default() -> Self {
        Self::new()
    }
}

/// Reads a login response: the session to store, or the error (docs/PROTOCOL.md §3 step 5).
fn classify_login_response<V>(
    response: LoginResponse<V>,
    user_info: Option<V>,
    url: &str,
) -> Result<StoredSession<V>, Error<V>> {
    let LoginResponse {
        magic,
        session_id,
        session_skey,
        error,
        message,
        code,
        v2_skey,
        v2_user_info,
        v2_data,
        raw,
        ..
    } = response;
    if magic {
        // An empty skey is no session: storage would not keep it (docs/PROTOCOL.md §4).
        if let (Some(id), Some(skey)) = (session_id, non_empty_owned(session_skey)) {
            return Ok(StoredSession { id: Some(id), skey, user_info, stored: None });
        }
    }
    if code == Some(0.0) {
        if let Some(skey) = non_empty_owned(v2_skey) {
            return Ok(StoredSession { id: None, skey, user_info: v2_user_info, stored: v2_data });
        }
    }
    let text = if magic {
        format!(
            "登录失败({})：{}",
            non_empty(error.as_deref()).unwrap_or("OTHER"),
            non_empty(message.as_deref()).unwrap_or(MSG_UNKNOWN),
        )
    } else {
        format!("登录请求没有包含会话响应，请确保服务器处理 `{url}` 的时候正确使用了 SDK 输出登录结果")
    };
    Err(Error::new(ErrorKind::LoginMissingSession, text, Some(raw)))
}

/// `Some(s)` unless `s` is absent or empty.
fn non_empty_owned(s: Option<String>) -> Option<String> {
    s.filter(|s| !s.is_empty())
}

/// `Some(s)` unless `s` is absent or empty.
fn non_empty(s: Option<&str>) -> Option<&str> {
    s.filter(|s| !s.is_empty())
}

/// Requests in flight by op id: a handful at a time (wx allows ten concurrent requests),
/// so a vector kept in id order beats a tree (no node allocation per request).
#[derive(Debug)]
struct OpMap<T>(Vec<(OpId, T)>);

impl<T> OpMap<T> {
    fn find(&self, op: &OpId) -> Result<usize, usize> {
        self.0.binary_search_by(|(k, _)| k.cmp(op))
    }

    fn contains_key(&self, op: &OpId) -> bool {
        self.find(op).is_ok()
    }

    fn insert(&mut self, op: OpId, value: T) {
        match self.find(&op) {
            Ok(i) => {
                if let Some(slot) = self.0.get_mut(i) {
                    slot.1 = value;
                }
            }
            Err(i) => self.0.insert(i, (op, value)),
        }
    }

    fn get(&self, op: &OpId) -> Option<&T> {
        self.find(op).ok().and_then(|i| self.0.get(i)).map(|(_, v)| v)
    }

    fn get_mut(&mut self, op: &OpId) -> Option<&mut T> {
        let i = self.find(op).ok()?;
        self.0.get_mut(i).map(|(_, v)| v)
    }

    fn remove(&mut self, op: &OpId) -> Option<T> {
        let i = self.find(op).ok()?;
        Some(self.0.remove(i).1)
    }
}
