//! Session test harness: a [`SessionService`] over `String` host values, a simulated
//! clock, and a fake wx that answers each output by hand.
//!
//! Every input method feeds one input at `now` and returns every output drained after
//! it, so a test can assert the exact outputs of each step.

use wafer_core::session::{
    Error, ErrorKind, FlowId, LoginMode, LoginOptions, LoginResponse, OpId, Output, RequestResponse, SessionService,
    StoredSession, UserDetail,
};
use wafer_core::Millis;

/// The host value used by the tests.
pub type V = String;
/// An output of the service under test.
pub type Out = Output<V>;

/// The URL set with `setLoginUrl` by [`Harness::new`].
pub const LOGIN_URL: &str = "https://app.example.com/weapp/login";
/// The user info returned by the fake `wx.getUserInfo`.
pub const USER: &str = "user:alice";
/// The `encryptedData` returned by the fake `wx.getUserInfo`.
pub const ENCRYPTED: &str = "ENCRYPTED-DATA";
/// The `iv` returned by the fake `wx.getUserInfo`.
pub const IV: &str = "IV-123";

/// The service under test and its simulated clock.
pub struct Harness {
    /// The service under test.
    pub svc: SessionService<V>,
    /// The simulated clock.
    pub now: Millis,
}

impl Harness {
    /// A service with [`LOGIN_URL`] set and no session, at time 0.
    pub fn new() -> Self {
        let mut h = Self::without_url();
        h.svc.set_login_url(LOGIN_URL.to_owned());
        h
    }

    /// A service with no login URL and no session.
    pub fn without_url() -> Self {
        Harness { svc: SessionService::new(), now: 0 }
    }

    /// A service with [`LOGIN_URL`] set and `session` restored from storage.
    pub fn with_session(session: StoredSession<V>) -> Self {
        let mut h = Self::new();
        h.svc.restore(session);
        assert_eq!(h.drain(), vec![], "restore has no output");
        h
    }

    /// Drains every pending output.
    pub fn drain(&mut self) -> Vec<Out> {
        std::iter::from_fn(|| self.svc.poll_output()).collect()
    }

    /// `login(options)` as op `op`.
    pub fn login(&mut self, op: u32, options: LoginOptions<V>) -> Vec<Out> {
        self.svc.login(self.now, OpId(op), options);
        self.drain()
    }

    /// `request({login})` as op `op`, with default login options.
    pub fn request(&mut self, op: u32, login: bool) -> Vec<Out> {
        self.request_with(op, login, opts())
    }

    /// `request({login, ...login_options})` as op `op`.
    pub fn request_with(&mut self, op: u32, login: bool, options: LoginOptions<V>) -> Vec<Out> {
        let now = self.now;
        self.svc.request(move || now, OpId(op), login, options);
        self.drain()
    }

    /// Answers `CheckSession{flow}`.
    pub fn check_session(&mut self, flow: u32, ok: bool) -> Vec<Out> {
        self.svc.handle_check_session(self.now, FlowId(flow), ok);
        self.drain()
    }

    /// Answers `WxLogin{flow}` with a code (`Ok`) or a wx error (`Err`).
    pub fn wx_login(&mut self, flow: u32, result: Result<&str, &str>) -> Vec<Out> {
        let result = result.map(str::to_owned).map_err(str::to_owned);
        self.svc.handle_wx_login(self.now, FlowId(flow), result);
        self.drain()
    }

    /// Answers `GetUserInfo{flow}` with [`user_detail`].
    pub fn user_info_ok(&mut self, flow: u32) -> Vec<Out> {
        self.user_info(flow, Ok(user_detail()))
    }

    /// Answers `GetUserInfo{flow}`.
    pub fn user_info(&mut self, flow: u32, result: Result<UserDetail<V>, &str>) -> Vec<Out> {
        self.svc.handle_user_info(self.now, FlowId(flow), result.map_err(str::to_owned));
        self.drain()
    }

    /// Answers `LoginRequest{flow}`.
    pub fn login_response(&mut self, flow: u32, result: Result<LoginResponse<V>, &str>) -> Vec<Out> {
        self.svc.handle_login_response(self.now, FlowId(flow), result.map_err(str::to_owned));
        self.drain()
    }

    /// Answers `Send{op, attempt}`.
    pub fn request_response(&mut self, op: u32, attempt: u32, result: Result<RequestResponse<V>, &str>) -> Vec<Out> {
        let now = self.now;
        self.svc.handle_request_response(move || now, OpId(op), attempt, result.map_err(str::to_owned));
        self.drain()
    }

    /// Runs a `GetUserInfo` flow that has just output `WxLogin{flow}` up to its login
    /// request (asserting each step), and returns the outputs of the v1 login response.
    pub fn finish_v1_login(&mut self, flow: u32, code: &str, id: &str, skey: &str) -> Vec<Out> {
        assert_eq!(self.wx_login(flow, Ok(code)), vec![Output::GetUserInfo { flow: FlowId(flow) }]);
        assert_eq!(self.user_info_ok(flow), vec![login_request(flow, code)]);
        self.login_response(flow, Ok(v1_login_ok(id, skey)))
    }

    /// Moves the clock to `now + ms`, firing the timer at each deadline on the way as a
    /// real host timer would; returns every output.
    pub fn advance(&mut self, ms: Millis) -> Vec<Out> {
        let target = self.now + ms;
        let mut outs = Vec::new();
        while let Some(deadline) = self.svc.poll_timeout() {
            if deadline > target {
                break;
            }
            assert!(deadline >= self.now, "deadline {deadline} in the past (now {})", self.now);
            self.now = deadline;
            self.svc.handle_timeout(deadline);
            outs.extend(self.drain());
        }
        self.now = target;
        outs
    }
}

impl Default for Harness {
    fn default() -> Self {
        Self::new()
    }
}

/// Login options with nothing set: the `setLoginUrl` URL, `GET`, `wx.getUserInfo`.
pub fn opts() -> LoginOptions<V> {
    LoginOptions { login_url: None, method: None, data: None, mode: LoginMode::GetUserInfo, timeout: None }
}

/// [`opts`] with a timeout.
pub fn opts_timeout(timeout: Millis) -> LoginOptions<V> {
    LoginOptions { timeout: Some(timeout), ..opts() }
}

/// What the fake `wx.getUserInfo` answers.
pub fn user_detail() -> UserDetail<V> {
    UserDetail { user_info: Some(USER.to_owned()), encrypted_data: Some(ENCRYPTED.to_owned()), iv: Some(IV.to_owned()) }
}

/// The login request a default-options `GetUserInfo` flow sends after [`user_detail`].
pub fn login_request(flow: u32, code: &str) -> Out {
    Output::LoginRequest {
        flow: FlowId(flow),
        url: LOGIN_URL.to_owned(),
        method: "GET".to_owned(),
        headers: vec![
            ("X-WX-Code", code.to_owned()),
            ("X-WX-Encrypted-Data", ENCRYPTED.to_owned()),
            ("X-WX-IV", IV.to_owned()),
        ],
        data: None,
    }
}

/// A login response with nothing set; `raw` is the raw wx response.
pub fn login_body(raw: &str) -> LoginResponse<V> {
    LoginResponse {
        status: Some(200.0),
        magic: false,
        session_id: None,
        session_skey: None,
        error: None,
        message: None,
        code: None,
        v2_skey: None,
        v2_user_info: None,
        v2_data: None,
        raw: raw.to_owned(),
    }
}

/// A v1 login success `{"<magic>":1,"session":{"id","skey"}}`.
pub fn v1_login_ok(id: &str, skey: &str) -> LoginResponse<V> {
    LoginResponse {
        magic: true,
        session_id: Some(id.to_owned()),
        session_skey: Some(skey.to_owned()),
        ..login_body("v1-login-ok")
    }
}

/// A v2 login success `{"code":0,"data":{"skey","userinfo"}}`.
pub fn v2_login_ok(skey: &str, user: &str) -> LoginResponse<V> {
    LoginResponse {
        code: Some(0.0),
        v2_skey: Some(skey.to_owned()),
        v2_user_info: Some(user.to_owned()),
        v2_data: Some(format!("data:{skey}:{user}")),
        ..login_body("v2-login-ok")
    }
}

/// A successful response to a session request.
pub fn ok_response(raw: &str) -> RequestResponse<V> {
    RequestResponse { status: Some(200.0), magic: false, error: None, message: None, code: None, raw: raw.to_owned() }
}

/// A magic-id body `{"<magic>":1,"error","message"}` of a checked endpoint.
pub fn magic_response(error: &str, message: &str) -> RequestResponse<V> {
    RequestResponse {
        magic: true,
        error: Some(error.to_owned()),
        message: Some(message.to_owned()),
        ..ok_response(&format!("magic:{error}"))
    }
}

/// The server's invalid-session answer (v1).
pub fn invalid_session() -> RequestResponse<V> {
    magic_response("ERR_INVALID_SESSION", "session expired")
}

/// A v1 session with user info.
pub fn v1_session(id: &str, skey: &str, user: &str) -> StoredSession<V> {
    StoredSession { id: Some(id.to_owned()), skey: skey.to_owned(), user_info: Some(user.to_owned()), stored: None }
}

/// The v1 session headers.
pub fn v1_headers(id: &str, skey: &str) -> Vec<(&'static str, String)> {
    vec![("X-WX-Id", id.to_owned()), ("X-WX-Skey", skey.to_owned())]
}

/// An error value.
pub fn err(kind: ErrorKind, message: &str, detail: Option<&str>) -> Error<V> {
    Error { kind, message: message.to_owned(), detail: detail.map(str::to_owned) }
}

/// `LoginDone{op, Ok(user)}`.
pub fn login_ok(op: u32, user: Option<&str>) -> Out {
    Output::LoginDone { op: OpId(op), result: Ok(user.map(str::to_owned)) }
}

/// `LoginDone{op, Err(error)}`.
pub fn login_err(op: u32, error: Error<V>) -> Out {
    Output::LoginDone { op: OpId(op), result: Err(error) }
}

/// `Send{op, attempt, headers}`.
pub fn send(op: u32, attempt: u32, headers: Vec<(&'static str, String)>) -> Out {
    Output::Send { op: OpId(op), attempt, headers: headers.into() }
}

/// `RequestDone{op, Ok(raw)}`.
pub fn request_ok(op: u32, raw: &str) -> Out {
    Output::RequestDone { op: OpId(op), result: Ok(raw.to_owned()) }
}

/// `RequestDone{op, Err(error)}`.
pub fn request_err(op: u32, error: Error<V>) -> Out {
    Output::RequestDone { op: OpId(op), result: Err(error) }
}

/// `WxLogin{flow}`.
pub fn wx_login(flow: u32) -> Out {
    Output::WxLogin { flow: FlowId(flow) }
}

/// The text of `ERR_LOGIN_TIMEOUT`.
pub const MSG_LOGIN_TIMEOUT: &str = "登录超时，请检查网络状态后重试";
/// The text of `ERR_INVALID_SESSION` (the original's).
pub const MSG_SESSION_EXPIRED: &str = "登录态已过期";
/// The text of `ERR_LOGIN_FAILED` (the original's).
pub const MSG_LOGIN_FAILED: &str = "登录失败，可能是网络错误或者服务器发生异常";
/// The text of `ERR_INVALID_PARAMS` for a missing login URL (the original's).
pub const MSG_NO_LOGIN_URL: &str = "登录错误：缺少登录地址，请通过 setLoginUrl() 方法设置登录地址";
/// The text of `ERR_WX_LOGIN_FAILED` (the original's).
pub const MSG_WX_LOGIN_FAILED: &str = "微信登录失败，请检查网络状态";
/// The text of `ERR_WX_GET_USER_INFO` (the original's).
pub const MSG_WX_GET_USER_INFO: &str = "获取微信用户信息失败，请检查网络状态";
/// The text of `ERR_REQUEST_FAILED`.
pub const MSG_REQUEST_FAILED: &str = "请求失败，可能是网络错误或者服务器发生异常";
