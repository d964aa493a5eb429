//! The client: the session service and the tunnels of one SDK instance, and every rule
//! that joins them (docs/PROTOCOL.md §2–§5).
//!
//! A [`Client`] owns the rules the two services share: a tunnel's service-URL request is
//! an ordinary session request (the stored session, or none; one re-login and one retry
//! on an invalid session), the stored session is followed before every decision that uses
//! it (a page, another copy of the SDK or an older app version may have written or
//! removed it), only one tunnel is open at a time, and a tunnel handle stays valid after
//! `close` (re-open works, `emit` queues for the next open). It reads host values (wx
//! responses, call options, stored sessions) through [`HostValue`], and reaches session
//! storage through [`SessionStorage`], the one synchronous host API the rules need.
//!
//! Run loop, as for the machines inside it: feed one input (`now` passed in), drain
//! [`Client::poll_output`] until `None`, arm one timer for [`Client::poll_timeout`] and
//! call [`Client::handle_timeout`] when it fires.

use std::collections::VecDeque;

use crate::session::{
    self, Error, ErrorKind, FlowId, LoginMode, LoginOptions, LoginResponse, OpId, RequestResponse, SessionService,
    StoredSession, UserDetail,
};
use crate::tunnel::{self, Backoff, ConnId, Event, Outbound, Tunnel, TunnelConfig, TunnelError, TunnelStatus};
use crate::value::{kind, request_bits, Field, HostValue};
use crate::{frame, Millis};

/// User op ids (allocated by the host, counting up from 1) stay below this; the client's
/// own requests (tunnel service URLs) use ids from here up.
pub const INTERNAL_OP_BASE: u32 = 0x8000_0000;

/// Longest login deadline an option may ask for (a day).
const MAX_LOGIN_TIMEOUT: Millis = 86_400_000;
/// Longest delay a tunnel option may ask for (an hour).
const MAX_TUNNEL_DELAY: f64 = 3_600_000.0;

/// Identifies a tunnel handle (`new Tunnel()`); valid for the life of the client.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TunnelId(pub u32);

/// The detail of a tunnel `error` event.
#[derive(Clone, Debug, PartialEq)]
pub enum Detail<V> {
    /// A host value: a wx error, the service's response, an exception.
    Host(V),
    /// The session request for the service URL failed (a `LoginError`/`RequestError`).
    Session(Error<V>),
}

/// A tunnel event, with the client's error details.
pub type TunnelEvent<V> = Event<V, Detail<V>>;

/// What session storage holds, compared with the session in memory.
#[derive(Clone, Debug, PartialEq)]
pub enum StoredView<V> {
    /// No session (nothing stored, or not an object with a non-empty `skey`).
    Empty,
    /// The session in memory (same `skey`).
    Same,
    /// Another session: the stored value.
    Other(V),
}

/// What the client asks of its host synchronously: the clock, read only when a rule needs
/// the time (a host reading a slow clock may cache it for the duration of one input), and
/// session storage (`wx.getStorageSync` / `setStorageSync` / `removeStorageSync` under
/// [`session::SESSION_KEY`]), synchronous as wx's is.
pub trait Host<V> {
    /// The current time on the host's monotonic clock.
    fn now(&mut self) -> Millis;
    /// What is stored, compared with `current` (the session in memory).
    fn read(&mut self, current: Option<&StoredSession<V>>) -> StoredView<V>;
    /// Stores `session` (its `stored` value when it has one); `false` when the write failed.
    fn write(&mut self, session: &StoredSession<V>) -> bool;
    /// Removes the stored session.
    fn remove(&mut self);
}

/// `new Tunnel()` while another tunnel is not closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AnotherTunnelOpen;

impl AnotherTunnelOpen {
    /// The message of the exception (the original's text).
    pub const MESSAGE: &'static str = "当前有未关闭的信道，请先关闭之前的信道，再打开新信道";
}

/// What `emit` did.
#[derive(Clone, Debug, PartialEq)]
pub enum Emitted<V> {
    /// Send `packet` on `conn` now (an active tunnel with nothing queued and nothing else
    /// waiting): the caller sends it itself, with the effect `emit` would have had.
    Direct(ConnId, V),
    /// Queued, sent or refused through the outputs.
    Done,
    /// No such tunnel.
    Unknown,
}

/// What the host must do, in order.
#[derive(Clone, Debug, PartialEq)]
pub enum Output<V> {
    /// Call `wx.checkSession`; answer with [`Client::handle_check_session`].
    CheckSession { flow: FlowId },
    /// Call `wx.login`; answer with [`Client::handle_wx_login`].
    WxLogin { flow: FlowId },
    /// Call `wx.getUserInfo`; answer with [`Client::handle_user_info`].
    GetUserInfo { flow: FlowId },
    /// `wx.request` to the login URL; answer with [`Client::handle_login_response`].
    LoginRequest { flow: FlowId, url: String, method: String, headers: Vec<(&'static str, String)>, data: Option<V> },
    /// A `login` / `loginWithCode` call finished: `success(userInfo)` or `fail(LoginError)`.
    LoginDone { op: OpId, result: Result<Option<V>, Error<V>> },
    /// `wx.request` with the options of user op `op` plus `headers` (ours win on a clash);
    /// answer with [`Client::handle_request_response`].
    Send { op: OpId, attempt: u32, headers: session::Headers },
    /// `wx.request` GET `url` with `headers` (a tunnel's service URL); answer with
    /// [`Client::handle_request_response`].
    SendTunnelUrl { tunnel: TunnelId, op: OpId, attempt: u32, url: String, headers: session::Headers },
    /// A `request` call finished: `success(response)`, or `fail` with a `RequestError` when
    /// `request_error` (the request's own failure), else a `LoginError` (its login failed).
    RequestDone { op: OpId, result: Result<V, Error<V>>, request_error: bool },
    /// `wx.connectSocket(url)` for connection `conn` of `tunnel`.
    Connect { tunnel: TunnelId, conn: ConnId, url: String },
    /// `SocketTask.send`; a failure of a packet is answered with
    /// [`Client::handle_send_failed`], of a control frame not at all.
    SendFrame { tunnel: TunnelId, conn: ConnId, frame: Outbound<V> },
    /// `SocketTask.close` and forget the task.
    CloseSocket { tunnel: TunnelId, conn: ConnId },
    /// Dispatch an event to the tunnel's listeners.
    Event { tunnel: TunnelId, event: TunnelEvent<V> },
    /// A listener of `name` threw `detail`: dispatch `error` 5001
    /// ([`TunnelError::ListenerThrew`], message from [`listener_error_message`]).
    ListenerError { tunnel: TunnelId, name: String, detail: V },
    /// The tunnel is closed with nothing left to report, and a newer tunnel exists: the host
    /// may drop its reference to the tunnel's listeners until the page uses the handle again.
    Release { tunnel: TunnelId },
    /// Start following `wx.onNetworkStatusChange` (once); answer with [`Client::handle_network`].
    WatchNetwork,
    /// A protocol step, for the debug log (only with [`Client::set_debug`] on). Secrets
    /// (`skey`, codes, encrypted data) never appear in it.
    Log(String),
}

/// The message of `error` 5001 for a listener of `name` that threw.
pub fn listener_error_message(name: &str) -> String {
    format!("{}：{name}", TunnelError::ListenerThrew.message())
}

/// Texts of `ERR_INVALID_PARAMS` errors of bad call arguments.
pub mod messages {
    /// `login` options that are not an object.
    pub const LOGIN_OPTIONS: &str = "登录参数错误：options 必须是对象";
    /// `request` options that are not an object.
    pub const REQUEST_OPTIONS: &str = "请求参数错误：options 必须是对象";
    /// `request` without a URL.
    pub const REQUEST_URL: &str = "请求参数错误：缺少 url";
    /// `request` with a `header` that is not an object.
    pub const REQUEST_HEADER: &str = "请求参数错误：header 必须是对象";
    /// `request` with a `Referer` header (wx.request refuses it).
    pub const REQUEST_REFERER: &str = "请求参数错误：不能设置 Referer 请求头";
    /// `setLoginUrl` with something else than a non-empty string.
    pub const LOGIN_URL: &str = "登录地址必须是非空字符串";
    /// `Session.set` with a value that has no `skey`.
    pub const SESSION_VALUE: &str = "会话必须是包含 skey 的对象";
    /// `new Tunnel(url)` with a URL that is not a string.
    pub const TUNNEL_URL: &str = "信道服务地址必须是字符串";
    /// A user op id the client reserves for itself.
    pub const OP_ID: &str = "参数错误：请求编号超出范围";
}

/// Who waits for a request the client made itself.
#[derive(Clone, Copy, Debug)]
struct UrlRoute {
    op: OpId,
    tunnel: TunnelId,
    /// The tunnel's connection attempt the URL is for.
    attempt: u32,
}

/// A tunnel's status and next reconnect try, compared around an input for the debug log.
type Progress = (TunnelStatus, Option<(u32, Millis)>);

/// One tunnel handle.
struct TunnelSlot<V> {
    id: TunnelId,
    service_url: String,
    machine: Tunnel<V, Detail<V>>,
    /// A [`Output::Release`] was output and the handle not used since.
    released: bool,
}

/// The session service and the tunnels of one SDK instance.
pub struct Client<V> {
    session: SessionService<V>,
    /// By id, ascending (ids only grow).
    tunnels: Vec<TunnelSlot<V>>,
    last_tunnel: u32,
    routes: Vec<UrlRoute>,
    last_internal_op: u32,
    outputs: VecDeque<Output<V>>,
    /// Storage was read once (the session of an earlier run restored).
    restored: bool,
    /// Storage holds the session in memory (false after a failed write, storage full:
    /// memory is then the only copy and storage is not followed until it is written again).
    session_in_storage: bool,
    network_watched: bool,
    /// The last network status the host reported (online until told otherwise).
    online: bool,
    /// The debug log is on.
    debug: bool,
}

impl<V: HostValue> Default for Client<V> {
    fn default() -> Self {
        Self::new()
    }
}

impl<V: HostValue> Client<V> {
    /// A client with no login URL, no session read yet and no tunnel.
    pub fn new() -> Self {
        Client {
            session: SessionService::new(),
            tunnels: Vec::new(),
            last_tunnel: 0,
            routes: Vec::new(),
            last_internal_op: INTERNAL_OP_BASE,
            outputs: VecDeque::new(),
            restored: false,
            session_in_storage: true,
            network_watched: false,
            online: true,
            debug: false,
        }
    }

    /// Turns the debug log on or off: with it on, every protocol step is preceded by an
    /// [`Output::Log`] line. Off (the default), nothing is formatted.
    pub fn set_debug(&mut self, on: bool) {
        self.debug = on;
    }

    /// Whether the debug log is on (the host logs the message frames it dispatches itself).
    #[inline(always)] // a hot path (measured: the module no bigger, inbound no slower)
    pub fn debug(&self) -> bool {
        self.debug
    }

    // ------------------------------------------------------------ session service

    /// `setLoginUrl(url)`: `false` (nothing changed) unless `url` is a non-empty string.
    pub fn set_login_url(&mut self, url: &V) -> bool {
        match url.as_string().filter(|s| !s.is_empty()) {
            Some(url) => {
                self.session.set_login_url(url);
                true
            }
            None => false,
        }
    }

    /// `login(options)` / `loginWithCode(options)` (`code_only`) for user op `op`.
    pub fn login(&mut self, op: OpId, options: &V, code_only: bool, host: &mut impl Host<V>) {
        if op.0 >= INTERNAL_OP_BASE {
            self.push(Output::LoginDone { op, result: Err(invalid(messages::OP_ID)) });
            return;
        }
        if !(options.is_undefined() || options.is_object()) {
            self.push(Output::LoginDone { op, result: Err(invalid(messages::LOGIN_OPTIONS)) });
            return;
        }
        let options = login_options(options, code_only);
        self.follow_storage(host);
        self.session.login(host.now(), op, options);
        self.drain_session(host);
    }

    /// `request(options)` for user op `op` (the host keeps `options` with the op and sends
    /// them on [`Output::Send`]).
    pub fn request(&mut self, op: OpId, options: &V, host: &mut impl Host<V>) {
        if op.0 >= INTERNAL_OP_BASE {
            self.push(Output::RequestDone { op, result: Err(invalid(messages::OP_ID)), request_error: true });
            return;
        }
        let shape = options.request_shape();
        if let Err(message) = check_request(shape) {
            self.push(Output::RequestDone { op, result: Err(invalid(message)), request_error: true });
            return;
        }
        // A login the request needs takes its URL and deadline from the request's options;
        // `method` and `data` are the request's own.
        let login_options = LoginOptions {
            login_url: if shape & request_bits::LOGIN_URL != 0 { options.get_text(Field::loginUrl) } else { None },
            method: None,
            data: None,
            mode: LoginMode::GetUserInfo,
            timeout: if shape & request_bits::TIMEOUT != 0 { timeout_option(options) } else { None },
        };
        self.follow_storage(host);
        self.session.request(|| host.now(), op, shape & request_bits::LOGIN != 0, login_options);
        self.drain_session(host);
    }

    /// `clearSession()` / `Session.clear()`.
    pub fn clear_session(&mut self, host: &mut impl Host<V>) {
        self.restored = true;
        self.session.clear_session();
        host.remove();
        self.session_in_storage = true;
    }

    /// `buildSessionHeader()`: `[(X-WX-Id, id), (X-WX-Skey, skey)]` (v2: skey only), or none.
    pub fn session_headers(&mut self, host: &mut impl Host<V>) -> Vec<(&'static str, String)> {
        self.follow_storage(host);
        self.session.session_headers()
    }

    /// `Session.get()`: the session (its stored value, when it came from storage or `Session.set`).
    pub fn stored_session(&mut self, host: &mut impl Host<V>) -> Option<&StoredSession<V>> {
        self.follow_storage(host);
        self.session.session()
    }

    /// `Session.set(value)`: `false` (nothing changed) unless it is an object with a
    /// non-empty string `skey`.
    pub fn set_session(&mut self, value: &V, host: &mut impl Host<V>) -> bool {
        let Some(session) = parse_stored(value) else {
            return false;
        };
        self.restored = true;
        self.session_in_storage = host.write(&session);
        self.session.set_session(session);
        true
    }

    /// `wx.checkSession` answered.
    pub fn handle_check_session(&mut self, flow: FlowId, ok: bool, host: &mut impl Host<V>) {
        self.session.handle_check_session(host.now(), flow, ok);
        self.drain_session(host);
    }

    /// `wx.login` answered: `res.code` on success, the wx error otherwise.
    pub fn handle_wx_login(&mut self, flow: FlowId, ok: bool, res: V, host: &mut impl Host<V>) {
        let result = match res.get_text(Field::code).filter(|_| ok) {
            Some(code) => Ok(code),
            None => Err(res),
        };
        self.session.handle_wx_login(host.now(), flow, result);
        self.drain_session(host);
    }

    /// `wx.getUserInfo` answered.
    pub fn handle_user_info(&mut self, flow: FlowId, ok: bool, res: V, host: &mut impl Host<V>) {
        let result = if ok && res.is_object() {
            Ok(UserDetail {
                user_info: res.get(Field::userInfo).defined(),
                encrypted_data: res.get(Field::encryptedData).as_string(),
                iv: res.get(Field::iv).as_string(),
            })
        } else {
            Err(res)
        };
        self.session.handle_user_info(host.now(), flow, result);
        self.drain_session(host);
    }

    /// The login request answered (`ok`: the wx `success` callback).
    pub fn handle_login_response(&mut self, flow: FlowId, ok: bool, res: V, host: &mut impl Host<V>) {
        let result = if ok { Ok(read_login_response(res)) } else { Err(res) };
        self.session.handle_login_response(host.now(), flow, result);
        self.drain_session(host);
    }

    /// A session request answered (a user `request` or a tunnel's service URL).
    pub fn handle_request_response(&mut self, op: OpId, attempt: u32, ok: bool, res: V, host: &mut impl Host<V>) {
        let result = if ok { Ok(read_request_response(res)) } else { Err(res) };
        self.session.handle_request_response(|| host.now(), op, attempt, result);
        self.drain_session(host);
    }

    // ------------------------------------------------------------ tunnels

    /// `new Tunnel(serviceUrl, options)`. While another tunnel is not closed it is refused,
    /// unless `deferred` (the call was made before the SDK was ready and can no longer
    /// throw): then the handle is made closed and reports `error` 1001 instead.
    pub fn create_tunnel(
        &mut self,
        service_url: &V,
        options: &V,
        deferred: bool,
        host: &mut impl Host<V>,
    ) -> Result<TunnelId, AnotherTunnelOpen> {
        let another_open = self.another_open(None);
        if another_open && !deferred {
            return Err(AnotherTunnelOpen);
        }
        // Closed tunnels with nothing left to report are superseded by this one.
        let mut released = Vec::new();
        for slot in &mut self.tunnels {
            if !slot.released && slot.machine.status() == TunnelStatus::Closed && slot.machine.queued() == 0 {
                slot.released = true;
                released.push(slot.id);
            }
        }
        for tunnel in released {
            self.push(Output::Release { tunnel });
        }
        self.last_tunnel = self.last_tunnel.wrapping_add(1).max(1);
        let id = TunnelId(self.last_tunnel);
        let config = tunnel_config(options, host.now());
        // A URL that is not a string is refused by the host before it gets here; read
        // defensively all the same (an empty URL fails the first connection with 1001).
        let service_url = service_url.as_string().unwrap_or_default();
        let mut machine = Tunnel::new(config);
        // Made while the device is offline, it starts offline (§5: tries wait for the network).
        if !self.online {
            machine.handle_network(host.now(), false);
        }
        self.tunnels.push(TunnelSlot { id, service_url, machine, released: false });
        if another_open {
            self.report_another_open(id);
        }
        Ok(id)
    }

    /// `tunnel.open()`: connects, unless another tunnel is open (then `error` 1001 and the
    /// tunnel stays closed, its queued packets kept for a later `open`).
    pub fn open_tunnel(&mut self, id: TunnelId, host: &mut impl Host<V>) {
        let Some(slot) = self.find(id) else { return };
        let closed = slot.machine.status() == TunnelStatus::Closed;
        if closed && self.another_open(Some(id)) {
            self.report_another_open(id);
            return;
        }
        if closed && !self.network_watched {
            self.network_watched = true;
            self.push(Output::WatchNetwork);
        }
        self.tunnel_input(id, host, |t, now| t.open(now));
    }

    /// `tunnel.close()`: packets still queued are reported (`error` 4002).
    pub fn close_tunnel(&mut self, id: TunnelId, host: &mut impl Host<V>) {
        self.tunnel_input(id, host, |t, now| t.close(now));
    }

    /// `tunnel.emit(type, content)` with the encoded `packet`. `idle`: the host performs
    /// no output right now (then an active tunnel may send directly).
    #[inline(always)] // a hot path (measured: the module no bigger, inbound no slower)
    pub fn emit(&mut self, id: TunnelId, packet: V, idle: bool, host: &mut impl Host<V>) -> Emitted<V> {
        // With the debug log on, every send goes through the outputs (and is logged).
        let direct = idle && !self.debug && self.outputs.is_empty();
        let Some(slot) = self.find_mut(id) else { return Emitted::Unknown };
        if direct {
            if let Some(conn) = slot.machine.emit_direct(&packet) {
                return Emitted::Direct(conn, packet);
            }
        }
        // The host re-attaches a released handle on use.
        slot.released = false;
        slot.machine.emit(host.now(), packet);
        self.drain_tunnel(id, host);
        Emitted::Done
    }

    /// The status of a tunnel (`CLOSED` for an unknown id).
    pub fn tunnel_status(&self, id: TunnelId) -> TunnelStatus {
        self.find(id).map_or(TunnelStatus::Closed, |s| s.machine.status())
    }

    /// `tunnel.socketUrl` (`None` before the first URL).
    pub fn socket_url(&self, id: TunnelId) -> Option<&str> {
        self.find(id).and_then(|s| s.machine.socket_url())
    }

    /// Whether `conn` is the live connection of `tunnel` (its frames may be dispatched).
    #[inline(always)] // a hot path (measured: the module no bigger, inbound no slower)
    pub fn is_current(&self, id: TunnelId, conn: ConnId) -> bool {
        self.find(id).is_some_and(|s| s.machine.is_current(conn))
    }

    /// A message frame arrived on `conn`: `None` for a stale connection (not dispatched),
    /// else whether counting it for the resume extension queued an output (an `ack`:
    /// then call [`Client::flush_tunnel`]).
    #[inline(always)] // a hot path (measured: the module no bigger, inbound no slower)
    pub fn handle_message(&mut self, id: TunnelId, conn: ConnId) -> Option<bool> {
        let slot = self.find_mut(id)?;
        slot.machine.is_current(conn).then(|| slot.machine.handle_message())
    }

    /// Moves a tunnel's pending outputs to the client's (after [`Client::handle_message`]).
    pub fn flush_tunnel(&mut self, id: TunnelId, host: &mut impl Host<V>) {
        self.drain_tunnel(id, host);
    }

    /// A socket opened.
    pub fn handle_socket_open(&mut self, id: TunnelId, conn: ConnId, host: &mut impl Host<V>) {
        self.tunnel_input(id, host, |t, now| t.handle_socket_open(now, conn));
    }

    /// A socket closed.
    pub fn handle_socket_close(&mut self, id: TunnelId, conn: ConnId, host: &mut impl Host<V>) {
        self.tunnel_input(id, host, |t, now| t.handle_socket_close(now, conn));
    }

    /// A socket reported an error (or `wx.connectSocket` its `fail`).
    pub fn handle_socket_error(&mut self, id: TunnelId, conn: ConnId, detail: V, host: &mut impl Host<V>) {
        self.tunnel_input(id, host, |t, now| t.handle_socket_error(now, conn, Some(Detail::Host(detail))));
    }

    /// Sending `packet` failed: it goes back to the queue (or is reported when closed).
    pub fn handle_send_failed(&mut self, id: TunnelId, conn: ConnId, packet: V, host: &mut impl Host<V>) {
        self.tunnel_input(id, host, |t, now| t.handle_send_failed(now, conn, packet));
    }

    /// A control frame arrived (`pong`, `timeout:N`, `close`; message frames are
    /// dispatched by the host, see [`Client::is_current`] and [`frame::event_name`]).
    pub fn handle_frame(&mut self, id: TunnelId, conn: ConnId, frame: frame::Frame<'_>, host: &mut impl Host<V>) {
        if self.debug && self.is_current(id, conn) {
            let line = Line::tunnel(id.0).s("frame in: ");
            let line = match frame {
                frame::Frame::Timeout(Some(ms)) => line.s("timeout (").n(ms).s(" ms)"),
                frame::Frame::Timeout(None) => line.s("timeout (unreadable)"),
                frame::Frame::Pong => line.s("pong"),
                frame::Frame::Close => line.s("close"),
                frame::Frame::Ping => line.s("ping"),
                frame::Frame::Message(_) => line.s("message"),
                frame::Frame::Unknown(_) => line.s("unknown"),
                // The token is a secret: only the numbers are logged.
                frame::Frame::Resumable(_) => line.s("resumable"),
                frame::Frame::ResumeToken { grace_ms, .. } => line.s("resume-token (grace ").n(grace_ms).s(" ms)"),
                frame::Frame::Ack(n) => line.s("ack ").n(n),
                frame::Frame::Resume { received, .. } => line.s("resume ").n(received),
                frame::Frame::Resumed(m) => line.s("resumed ").n(m),
                frame::Frame::ResumeRefused => line.s("resume-refused"),
            };
            self.log(line.0);
        }
        self.tunnel_input(id, host, |t, now| t.handle_frame(now, conn, frame));
    }

    /// A listener of event `name` threw `detail`: reported as `error` 5001, except for a
    /// listener of `error` itself (no loop).
    pub fn handle_listener_error(&mut self, id: TunnelId, name: &str, detail: V) {
        if name != "error" && self.slot(id).is_some() {
            self.push(Output::ListenerError { tunnel: id, name: name.to_owned(), detail });
        }
    }

    /// The network went offline or came back.
    pub fn handle_network(&mut self, online: bool, host: &mut impl Host<V>) {
        self.online = online;
        // A closed tunnel learns it too (no output): opened again later, it must not wait
        // for a network that came back while it was closed.
        for slot in self.tunnels.iter_mut().filter(|s| s.machine.status() == TunnelStatus::Closed) {
            slot.machine.handle_network(host.now(), online);
        }
        let ids: Vec<TunnelId> =
            self.tunnels.iter().filter(|s| s.machine.status() != TunnelStatus::Closed).map(|s| s.id).collect();
        for id in ids {
            self.tunnel_input(id, host, |t, now| t.handle_network(now, online));
        }
    }

    /// The timer armed for `poll_timeout()` fired (calling it early is harmless).
    pub fn handle_timeout(&mut self, host: &mut impl Host<V>) {
        let now = host.now();
        if self.session.poll_timeout().is_some_and(|t| t <= now) {
            self.session.handle_timeout(now);
            self.drain_session(host);
        }
        let due: Vec<TunnelId> =
            self.tunnels.iter().filter(|s| s.machine.poll_timeout().is_some_and(|t| t <= now)).map(|s| s.id).collect();
        for id in due {
            self.tunnel_input(id, host, |t, now| t.handle_timeout(now));
        }
    }

    /// Next output, in order.
    pub fn poll_output(&mut self) -> Option<Output<V>> {
        self.outputs.pop_front()
    }

    /// The earliest deadline of the session service and the tunnels.
    pub fn poll_timeout(&self) -> Option<Millis> {
        let tunnels = self.tunnels.iter().filter_map(|s| s.machine.poll_timeout());
        self.session.poll_timeout().into_iter().chain(tunnels).min()
    }

    // ------------------------------------------------------------ internals

    #[inline(always)] // a hot path (measured: the module no bigger, inbound no slower)
    fn find(&self, id: TunnelId) -> Option<&TunnelSlot<V>> {
        self.slot(id).and_then(|i| self.tunnels.get(i))
    }

    #[inline(always)] // a hot path (measured: the module no bigger, inbound no slower)
    fn find_mut(&mut self, id: TunnelId) -> Option<&mut TunnelSlot<V>> {
        self.slot(id).and_then(|i| self.tunnels.get_mut(i))
    }

    /// The index of tunnel `id` (ids ascend with the index).
    fn slot(&self, id: TunnelId) -> Option<usize> {
        self.tunnels.binary_search_by(|s| s.id.cmp(&id)).ok()
    }

    /// Whether a tunnel other than `except` is not closed.
    fn another_open(&self, except: Option<TunnelId>) -> bool {
        self.tunnels.iter().any(|s| Some(s.id) != except && s.machine.status() != TunnelStatus::Closed)
    }

    fn report_another_open(&mut self, id: TunnelId) {
        let event = Event::Error { error: TunnelError::AnotherTunnelOpen, detail: None };
        self.push(Output::Event { tunnel: id, event });
    }

    /// Feeds one input to a tunnel (with the time) and collects what it did.
    fn tunnel_input(
        &mut self,
        id: TunnelId,
        host: &mut impl Host<V>,
        f: impl FnOnce(&mut Tunnel<V, Detail<V>>, Millis),
    ) {
        let now = host.now();
        let Some(slot) = self.find_mut(id) else { return };
        slot.released = false;
        let machine = &mut slot.machine;
        let before = (machine.status(), machine.next_try());
        f(machine, now);
        let after = (machine.status(), machine.next_try());
        self.drain_tunnel(id, host);
        if self.debug && before != after {
            self.log_transition(id, before, after, now);
        }
    }

    /// Logs a tunnel's status change and its next reconnect try.
    #[cold]
    #[inline(never)]
    fn log_transition(&mut self, id: TunnelId, before: Progress, after: Progress, now: Millis) {
        if before.0 != after.0 {
            self.log(Line::tunnel(id.0).s(before.0.as_str()).s(" -> ").s(after.0.as_str()).0);
        }
        if let Some((n, at)) = after.1.filter(|_| before.1 != after.1) {
            let line = Line::tunnel(id.0).s("reconnect try ").n(u64::from(n)).s(" in ");
            self.log(line.n(at.saturating_sub(now)).s(" ms").0);
        }
    }

    /// Adds an output (after its debug line, when the log is on).
    fn push(&mut self, out: Output<V>) {
        if self.debug {
            self.log_output(&out);
        }
        self.outputs.push_back(out);
    }

    /// Adds the debug line of an output (out of line: the log is off on the hot paths).
    #[cold]
    #[inline(never)]
    fn log_output(&mut self, out: &Output<V>) {
        if let Some(line) = describe(out) {
            self.outputs.push_back(Output::Log(line));
        }
    }

    /// Adds a debug line.
    #[cold]
    #[inline(never)]
    fn log(&mut self, line: String) {
        self.outputs.push_back(Output::Log(line));
    }

    /// Follows the stored session before a decision that uses it: restores the session of
    /// an earlier run on first use, then takes whatever the page (or another copy of the
    /// SDK) wrote or removed since. Only the `skey` is compared.
    fn follow_storage(&mut self, host: &mut impl Host<V>) {
        if !self.restored {
            self.restored = true;
            if let StoredView::Other(v) = host.read(None) {
                if let Some(s) = parse_stored(&v) {
                    self.session.restore(s);
                }
            }
            return;
        }
        if !self.session_in_storage {
            return;
        }
        match host.read(self.session.session()) {
            StoredView::Same => {}
            StoredView::Empty => {
                if self.session.session().is_some() {
                    self.session.clear_session();
                }
            }
            StoredView::Other(v) => match parse_stored(&v) {
                Some(s) => self.session.restore(s),
                None => self.session.clear_session(),
            },
        }
    }

    /// Moves the session service's outputs to the client's, routing the client's own
    /// requests to their tunnels.
    fn drain_session(&mut self, host: &mut impl Host<V>) {
        while let Some(out) = self.session.poll_output() {
            let out = match out {
                session::Output::CheckSession { flow } => Output::CheckSession { flow },
                session::Output::WxLogin { flow } => Output::WxLogin { flow },
                session::Output::GetUserInfo { flow } => Output::GetUserInfo { flow },
                session::Output::LoginRequest { flow, url, method, headers, data } => {
                    Output::LoginRequest { flow, url, method, headers, data }
                }
                session::Output::StoreSession(s) => {
                    self.session_in_storage = host.write(&s);
                    continue;
                }
                session::Output::RemoveSession => {
                    host.remove();
                    self.session_in_storage = true;
                    continue;
                }
                session::Output::LoginDone { op, result } => Output::LoginDone { op, result },
                session::Output::Send { op, attempt, headers } => match self.route(op) {
                    Some(route) => match self.find(route.tunnel) {
                        Some(slot) => Output::SendTunnelUrl {
                            tunnel: route.tunnel,
                            op,
                            attempt,
                            url: slot.service_url.clone(),
                            headers,
                        },
                        None => continue,
                    },
                    // A tunnel URL request superseded by a newer one (the tunnel was closed
                    // and opened again): nobody waits for it; end it without sending.
                    None if op.0 >= INTERNAL_OP_BASE => {
                        self.session.handle_request_response(|| host.now(), op, attempt, Err(V::undefined()));
                        continue;
                    }
                    None => Output::Send { op, attempt, headers },
                },
                session::Output::RequestDone { op, result } => match self.take_route(op) {
                    Some(route) => {
                        self.url_answered(route, result, host);
                        continue;
                    }
                    // The answer to a superseded tunnel URL request is no user's.
                    None if op.0 >= INTERNAL_OP_BASE => continue,
                    None => {
                        let request_error = result.as_ref().is_err_and(|e| e.kind.raised_by_request());
                        Output::RequestDone { op, result, request_error }
                    }
                },
            };
            self.push(out);
        }
    }

    /// Moves a tunnel's outputs to the client's; a service-URL request becomes a session
    /// request of the client's own.
    fn drain_tunnel(&mut self, id: TunnelId, host: &mut impl Host<V>) {
        loop {
            let Some(out) = self.find_mut(id).and_then(|s| s.machine.poll_output()) else { return };
            let out = match out {
                tunnel::Output::RequestUrl { attempt } => {
                    self.request_url(id, attempt, host);
                    continue;
                }
                tunnel::Output::Connect { conn, url, .. } => Output::Connect { tunnel: id, conn, url },
                tunnel::Output::Send { conn, frame } => Output::SendFrame { tunnel: id, conn, frame },
                tunnel::Output::CloseSocket { conn } => Output::CloseSocket { tunnel: id, conn },
                tunnel::Output::Event(event) => Output::Event { tunnel: id, event },
            };
            self.push(out);
        }
    }

    /// Starts the session request for a tunnel's service URL: an ordinary session request
    /// (no login first; one re-login and one retry on an invalid session).
    fn request_url(&mut self, tunnel: TunnelId, attempt: u32, host: &mut impl Host<V>) {
        // A tunnel has at most one URL request in flight: an older one is superseded.
        self.routes.retain(|r| r.tunnel != tunnel);
        self.last_internal_op = self.last_internal_op.wrapping_add(1).max(INTERNAL_OP_BASE + 1);
        let op = OpId(self.last_internal_op);
        self.routes.push(UrlRoute { op, tunnel, attempt });
        let options =
            LoginOptions { login_url: None, method: None, data: None, mode: LoginMode::GetUserInfo, timeout: None };
        self.follow_storage(host);
        self.session.request(|| host.now(), op, false, options);
        self.drain_session(host);
    }

    fn route(&self, op: OpId) -> Option<UrlRoute> {
        self.routes.iter().copied().find(|r| r.op == op)
    }

    fn take_route(&mut self, op: OpId) -> Option<UrlRoute> {
        let i = self.routes.iter().position(|r| r.op == op)?;
        Some(self.routes.swap_remove(i))
    }

    /// The answer to a tunnel's service-URL request.
    fn url_answered(&mut self, route: UrlRoute, result: Result<V, Error<V>>, host: &mut impl Host<V>) {
        let result = match result {
            Ok(res) => socket_url_of(&res).ok_or(Some(Detail::Host(res))),
            Err(e) => Err(Some(Detail::Session(e))),
        };
        self.tunnel_input(route.tunnel, host, |t, now| t.handle_url(now, route.attempt, result));
    }
}

impl ErrorKind {
    /// Whether a `request` that failed with this kind in the session service reports a
    /// `RequestError` (the request's own failure) rather than a `LoginError` (its login
    /// failed).
    pub fn raised_by_request(self) -> bool {
        matches!(self, ErrorKind::InvalidSession | ErrorKind::CheckLoginFailed | ErrorKind::RequestFailed)
    }
}

fn invalid<V>(message: &str) -> Error<V> {
    Error { kind: ErrorKind::InvalidParams, message: message.to_owned(), detail: None }
}

/// Checks `request` options by their [`request_bits`] summary.
fn check_request(shape: u32) -> Result<(), &'static str> {
    use request_bits as b;
    if shape & b::KIND_MASK != kind::OBJECT {
        return Err(messages::REQUEST_OPTIONS);
    }
    if shape & b::URL == 0 {
        return Err(messages::REQUEST_URL);
    }
    if !matches!(shape >> b::HEADER_KIND_SHIFT & b::KIND_MASK, kind::UNDEFINED | kind::NULL | kind::OBJECT) {
        return Err(messages::REQUEST_HEADER);
    }
    if shape & b::REFERER != 0 {
        return Err(messages::REQUEST_REFERER);
    }
    Ok(())
}

/// `options.timeout` in milliseconds (at most a day), when positive.
fn timeout_option<V: HostValue>(options: &V) -> Option<Millis> {
    options.get(Field::timeout).as_number().filter(|t| *t > 0.0).map(|t| (t as Millis).clamp(1, MAX_LOGIN_TIMEOUT))
}

/// The login-related options of a `login` / `loginWithCode` call.
fn login_options<V: HostValue>(options: &V, code_only: bool) -> LoginOptions<V> {
    let detail = match options.get(Field::detail) {
        d if d.is_object() => d,
        _ => options.clone(),
    };
    let user_info = detail.get(Field::userInfo);
    let mode = if code_only || options.get(Field::codeOnly).is_truthy() {
        LoginMode::CodeOnly
    } else if user_info.is_object() {
        LoginMode::Detail(UserDetail {
            user_info: Some(user_info),
            encrypted_data: detail.get(Field::encryptedData).as_string(),
            iv: detail.get(Field::iv).as_string(),
        })
    } else {
        LoginMode::GetUserInfo
    };
    LoginOptions {
        login_url: options.get_text(Field::loginUrl),
        method: options.get(Field::method).as_string(),
        data: options.get(Field::data).defined(),
        mode,
        timeout: timeout_option(options),
    }
}

/// A tunnel's tunables from its options (the shim adds `maxReconnectTryTimes` and
/// `reconnectTimeIncrease` from the `Tunnel` statics at construction). `now` seeds the
/// jitter together with `options.seed`.
pub fn tunnel_config<V: HostValue>(options: &V, now: Millis) -> TunnelConfig {
    let mut c = TunnelConfig::default();
    let num = |f: Field| options.get(f).as_number().filter(|n| *n >= 0.0);
    if let Some(n) = num(Field::maxReconnectTryTimes) {
        c.max_reconnect_tries = n.min(1_000.0) as u32;
    }
    let step = num(Field::reconnectTimeIncrease).map_or(1000, |n| n.min(MAX_TUNNEL_DELAY) as Millis);
    c.backoff = match options.get(Field::backoff).as_string().as_deref() {
        Some("exponential") => Backoff::Exponential {
            base: step.max(1),
            cap: num(Field::backoffCap).map_or(30_000, |n| n.min(MAX_TUNNEL_DELAY) as Millis),
            jitter: options.get(Field::jitter).as_bool().unwrap_or(true),
        },
        _ => Backoff::Linear { step },
    };
    if let Some(n) = num(Field::maxQueue).filter(|n| *n >= 1.0) {
        c.max_queue = n.min(1e9) as usize;
    }
    if let Some(n) = num(Field::heartbeat).filter(|n| *n > 0.0) {
        c.ping_interval = (n as Millis).clamp(frame::MIN_HEARTBEAT_MS, frame::MAX_HEARTBEAT_MS);
    }
    if let Some(n) = num(Field::openTimeout).filter(|n| *n >= 1.0) {
        c.open_timeout = n.min(MAX_TUNNEL_DELAY) as Millis;
    }
    c.resume = options.get(Field::resume).as_bool().unwrap_or(true);
    if let Some(n) = num(Field::maxUnacked).filter(|n| *n >= 1.0) {
        c.max_unacked = n.min(1e6) as usize;
    }
    let seed = num(Field::seed).map_or(0, |n| n as u64);
    c.seed = seed ^ now.rotate_left(17) ^ 0x9E37_79B9;
    c
}

/// A stored session: v1 `{id, skey, userInfo}` or a v2 `data` object (`skey`, `userinfo`);
/// `None` unless it has a non-empty string `skey`.
pub fn parse_stored<V: HostValue>(v: &V) -> Option<StoredSession<V>> {
    let skey = v.get_text(Field::skey)?;
    let user_info = v.get(Field::userInfo).defined().or_else(|| v.get(Field::userinfo).defined());
    Some(StoredSession { id: v.get_text(Field::id), skey, user_info, stored: Some(v.clone()) })
}

/// What the session service checks of a login response (v1 and v2 shapes).
pub fn read_login_response<V: HostValue>(res: V) -> LoginResponse<V> {
    let body = res.response_body();
    let session = body.get(Field::session);
    let data = body.get(Field::data);
    let v2_user = data.get(Field::userinfo).defined().or_else(|| data.get(Field::userInfo).defined());
    LoginResponse {
        status: res.get(Field::statusCode).as_number(),
        magic: body.get(Field::magic).is_truthy(),
        session_id: session.get(Field::id).as_string(),
        session_skey: session.get(Field::skey).as_string(),
        error: body.get(Field::error).as_string(),
        message: body.get(Field::message).as_string(),
        code: body.get(Field::code).as_number(),
        v2_skey: data.get(Field::skey).as_string(),
        v2_user_info: v2_user,
        v2_data: data.is_object().then_some(data),
        raw: res,
    }
}

/// What the session service checks of a session-request response.
pub fn read_request_response<V: HostValue>(res: V) -> RequestResponse<V> {
    let summary = res.response_summary();
    let (error, message) = if summary.magic {
        let body = res.response_body();
        (body.get(Field::error).as_string(), body.get(Field::message).as_string())
    } else {
        (None, None)
    };
    RequestResponse { status: summary.status, magic: summary.magic, error, message, code: summary.code, raw: res }
}

/// The socket URL of a service-URL response: v1 `{url}` or v2 `{code:0, data:{connectUrl}}`,
/// only with status 200 (a number or a numeric string).
pub fn socket_url_of<V: HostValue>(res: &V) -> Option<String> {
    let body = res.response_body();
    let data = body.get(Field::data);
    let v1 = body.get(Field::url).as_string();
    let v2 = data.get(Field::connectUrl).as_string();
    let status = res.get(Field::statusCode).as_number();
    let code = body.get(Field::code).as_number();
    tunnel::socket_url_from_response(status, v1.as_deref(), code, v2.as_deref()).map(str::to_owned)
}

/// A debug line, built without the formatting machinery (it would add kilobytes to the
/// wasm module).
#[derive(Default)]
pub struct Line(pub String);

impl Line {
    /// Appends text.
    pub fn s(mut self, text: &str) -> Self {
        self.0.push_str(text);
        self
    }

    /// Appends a number in decimal.
    pub fn n(mut self, value: u64) -> Self {
        let mut digits = [0u8; 20];
        let mut i = digits.len();
        let mut v = value;
        loop {
            i -= 1;
            // `i` stays in bounds: a u64 has at most 20 digits.
            if let Some(d) = digits.get_mut(i) {
                *d = b'0' + (v % 10) as u8;
            }
            v /= 10;
            if v == 0 || i == 0 {
                break;
            }
        }
        for &d in digits.get(i..).unwrap_or(&[]) {
            self.0.push(char::from(d));
        }
        self
    }

    /// Starts a line about tunnel `id`.
    pub fn tunnel(id: u32) -> Self {
        Line::default().s("tunnel #").n(u64::from(id)).s(": ")
    }
}

/// The debug line of an output; secrets are masked (`***`).
#[inline(never)]
fn describe<V>(out: &Output<V>) -> Option<String> {
    fn headers(mut line: Line, h: &[(&'static str, String)]) -> Line {
        line = line.s(" {");
        for (i, (name, value)) in h.iter().enumerate() {
            if i > 0 {
                line = line.s(", ");
            }
            line = line.s(name).s(": ").s(if *name == session::HEADER_ID { value } else { "***" });
        }
        line.s("}")
    }
    fn result<T, V>(line: Line, r: &Result<T, Error<V>>) -> Line {
        match r {
            Ok(_) => line.s("ok"),
            Err(e) => line.s("failed: ").s(e.kind.type_str()).s(" ").s(&e.message),
        }
    }
    let login = |flow: FlowId| Line::default().s("login #").n(u64::from(flow.0)).s(": ");
    let retry = |attempt: u32| if attempt > 0 { " (retry after a re-login)" } else { "" };
    let line = match out {
        Output::CheckSession { flow } => login(*flow).s("wx.checkSession"),
        Output::WxLogin { flow } => login(*flow).s("wx.login"),
        Output::GetUserInfo { flow } => login(*flow).s("wx.getUserInfo"),
        Output::LoginRequest { flow, url, method, headers: h, .. } => headers(login(*flow).s(method).s(" ").s(url), h),
        Output::LoginDone { op, result: r } => result(Line::default().s("login call ").n(u64::from(op.0)).s(": "), r),
        Output::Send { op, attempt, headers: h } => {
            headers(Line::default().s("request ").n(u64::from(op.0)).s(": send").s(retry(*attempt)), h)
        }
        Output::SendTunnelUrl { tunnel, attempt, url, headers: h, .. } => {
            headers(Line::tunnel(tunnel.0).s("service URL request: GET ").s(url).s(retry(*attempt)), h)
        }
        Output::RequestDone { op, result: r, .. } => {
            result(Line::default().s("request ").n(u64::from(op.0)).s(": "), r)
        }
        Output::Connect { tunnel, conn, url } => {
            Line::tunnel(tunnel.0).s("connect socket ").n(u64::from(conn.0)).s(" to ").s(url)
        }
        Output::SendFrame { tunnel, frame: f, .. } => Line::tunnel(tunnel.0).s("frame out: ").s(match f {
            Outbound::Ping => "ping",
            Outbound::Close => "close",
            Outbound::Packet(_) => "message",
            // The head only: a `resume` frame carries the token.
            Outbound::Control(text) => frame::split(text).0,
        }),
        Output::CloseSocket { tunnel, conn } => Line::tunnel(tunnel.0).s("close socket ").n(u64::from(conn.0)),
        Output::Event { tunnel, event } => {
            let line = Line::tunnel(tunnel.0).s("event ");
            match event {
                Event::Connect => line.s("connect"),
                Event::Reconnecting => line.s("reconnecting"),
                Event::Reconnect => line.s("reconnect"),
                Event::Close => line.s("close"),
                Event::Error { error, .. } => line.s("error ").n(u64::from(error.code())).s(" ").s(error.message()),
                Event::Overflow(_) => line.s("error ").n(u64::from(TunnelError::QueueFull.code())).s(" (one packet)"),
                Event::Unsent(p) => {
                    line.s("error ").n(u64::from(TunnelError::Unsent.code())).s(" (").n(p.len() as u64).s(" packets)")
                }
            }
        }
        Output::ListenerError { tunnel, name, .. } => Line::tunnel(tunnel.0)
            .s("a listener of ")
            .s(name)
            .s(" threw (error ")
            .n(u64::from(TunnelError::ListenerThrew.code()))
            .s(")"),
        Output::Release { .. } | Output::WatchNetwork | Output::Log(_) => return None,
    };
    Some(line.0)
}
