//! The session service state machine: login (single-flight, with a deadline), session
//! requests with re-login and retry (PROTOCOL.md §3–4, v1 and v2 servers).
//!
//! SPEC FOR THE IMPLEMENTER (keep the public API below; fill in the bodies, add private
//! items freely; remove this paragraph when done).
//!
//! `V` is an opaque host value the core never inspects (user info, wx error details,
//! raw responses, request data): a `JsValue` in the driver, anything `Clone` in tests.

use crate::Millis;

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
}

impl ErrorKind {
    /// Every kind, in the order of PROTOCOL.md §1.
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
    LoginRequest {
        flow: FlowId,
        url: String,
        method: String,
        headers: Vec<(&'static str, String)>,
        data: Option<V>,
    },
    /// Write the session to storage.
    StoreSession(StoredSession<V>),
    /// Remove the session from storage.
    RemoveSession,
    /// A `login` / `loginWithCode` call finished: `success(userInfo)` or `fail(error)`.
    LoginDone { op: OpId, result: Result<Option<V>, Error<V>> },
    /// Send the user's request for `op` with these session headers added (ours win);
    /// answer with `handle_request_response(op, attempt, …)`.
    Send { op: OpId, attempt: u32, headers: Vec<(&'static str, String)> },
    /// A `request` call finished: `success(raw response)` or `fail(error)`.
    RequestDone { op: OpId, result: Result<V, Error<V>> },
}

/// The session service.
pub struct SessionService<V> {
    _todo: std::marker::PhantomData<V>,
}

impl<V: Clone> SessionService<V> {
    /// A service with no login URL and no session.
    pub fn new() -> Self {
        todo!()
    }

    /// `setLoginUrl(url)`.
    pub fn set_login_url(&mut self, url: String) {
        let _ = url;
        todo!()
    }

    /// The login URL set by `setLoginUrl`.
    pub fn login_url(&self) -> Option<&str> {
        todo!()
    }

    /// The session in memory (the driver restores it from storage with `restore`).
    pub fn session(&self) -> Option<&StoredSession<V>> {
        todo!()
    }

    /// Loads a session read from storage at start-up (no output).
    pub fn restore(&mut self, session: StoredSession<V>) {
        let _ = session;
        todo!()
    }

    /// `Session.set` / a session written by the page: store and use it.
    pub fn set_session(&mut self, session: StoredSession<V>) {
        let _ = session;
        todo!()
    }

    /// `clearSession()`.
    pub fn clear_session(&mut self) {
        todo!()
    }

    /// `buildSessionHeader()`: `[(X-WX-Id, id), (X-WX-Skey, skey)]` (v2: skey only), or empty.
    pub fn session_headers(&self) -> Vec<(&'static str, String)> {
        todo!()
    }

    /// `login(options)` / `loginWithCode(options)` (mode `CodeOnly`).
    pub fn login(&mut self, now: Millis, op: OpId, options: LoginOptions<V>) {
        let _ = (now, op, options);
        todo!()
    }

    /// `request(options)`: `login` is `options.login`; `login_options` is used when a
    /// login is needed (the page's `loginUrl`, etc.).
    pub fn request(&mut self, now: Millis, op: OpId, login: bool, login_options: LoginOptions<V>) {
        let _ = (now, op, login, login_options);
        todo!()
    }

    /// Answer to `CheckSession`.
    pub fn handle_check_session(&mut self, now: Millis, flow: FlowId, ok: bool) {
        let _ = (now, flow, ok);
        todo!()
    }

    /// Answer to `WxLogin`: the code, or the wx error.
    pub fn handle_wx_login(&mut self, now: Millis, flow: FlowId, result: Result<String, V>) {
        let _ = (now, flow, result);
        todo!()
    }

    /// Answer to `GetUserInfo`.
    pub fn handle_user_info(&mut self, now: Millis, flow: FlowId, result: Result<UserDetail<V>, V>) {
        let _ = (now, flow, result);
        todo!()
    }

    /// Answer to `LoginRequest`: the response summary, or the network failure.
    pub fn handle_login_response(&mut self, now: Millis, flow: FlowId, result: Result<LoginResponse<V>, V>) {
        let _ = (now, flow, result);
        todo!()
    }

    /// Answer to `Send`: the response summary, or the network failure.
    pub fn handle_request_response(
        &mut self,
        now: Millis,
        op: OpId,
        attempt: u32,
        result: Result<RequestResponse<V>, V>,
    ) {
        let _ = (now, op, attempt, result);
        todo!()
    }

    /// The timer armed for `poll_timeout()` fired.
    pub fn handle_timeout(&mut self, now: Millis) {
        let _ = now;
        todo!()
    }

    /// Next output, in order.
    pub fn poll_output(&mut self) -> Option<Output<V>> {
        todo!()
    }

    /// The earliest deadline, if any.
    pub fn poll_timeout(&self) -> Option<Millis> {
        todo!()
    }
}

impl<V: Clone> Default for SessionService<V> {
    fn default() -> Self {
        Self::new()
    }
}
