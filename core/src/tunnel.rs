//! The tunnel state machine (PROTOCOL.md §5, without the bugs of §8).
//!
//! SPEC FOR THE IMPLEMENTER (keep the public API below; fill in the bodies, add private
//! items freely; remove this paragraph when done).
//!
//! `P` is an outbound packet as the host holds it (the driver: the encoded frame text as
//! a JsValue; tests: `String`). `D` is an opaque error detail from the host.

use crate::frame::Frame;
use crate::Millis;

/// `Tunnel.STATUS_*`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TunnelStatus {
    /// Not open (initial state, after `close()`, after giving up).
    Closed,
    /// First connection in progress (URL request or socket opening).
    Connecting,
    /// Socket open; packets flow.
    Active,
    /// A reconnect sequence is running.
    Reconnecting,
}

impl TunnelStatus {
    /// The JS value of the status (`'CLOSED'`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            TunnelStatus::Closed => "CLOSED",
            TunnelStatus::Connecting => "CONNECTING",
            TunnelStatus::Active => "ACTIVE",
            TunnelStatus::Reconnecting => "RECONNECTING",
        }
    }
}

/// Tunnel error codes delivered in `error` events (`Tunnel.ERR_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TunnelError {
    /// 1001: the service URL request failed on the first connection.
    ConnectService,
    /// 1002: the socket could not be opened (reserved by the original; kept for compatibility).
    ConnectSocket,
    /// 2001: reconnecting gave up after `max_reconnect_tries`.
    Reconnect,
    /// 3001: the socket failed while connecting.
    SocketError,
    /// 4001: `emit` while the send queue is full; the packet was not accepted.
    QueueFull,
    /// 4002: packets still queued when the tunnel was closed; they were not sent.
    Unsent,
}

impl TunnelError {
    /// The numeric code.
    pub fn code(self) -> u32 {
        match self {
            TunnelError::ConnectService => 1001,
            TunnelError::ConnectSocket => 1002,
            TunnelError::Reconnect => 2001,
            TunnelError::SocketError => 3001,
            TunnelError::QueueFull => 4001,
            TunnelError::Unsent => 4002,
        }
    }

    /// The user-facing message (Chinese, as in the original where it has one).
    pub fn message(self) -> &'static str {
        match self {
            TunnelError::ConnectService => "连接信道服务失败，网络错误或者信道服务没有正确响应",
            TunnelError::ConnectSocket => "连接信道失败，网络错误或者信道服务不可用",
            TunnelError::Reconnect => "重连失败",
            TunnelError::SocketError => "连接信道失败，网络错误或者信道服务不可用",
            TunnelError::QueueFull => "发送队列已满，消息未能加入队列",
            TunnelError::Unsent => "信道已关闭，队列中的消息未发送",
        }
    }
}

/// How long to wait before reconnect try `n` (1-based).
#[derive(Clone, Debug, PartialEq)]
pub enum Backoff {
    /// `n * step` (the original: `RECONNECT_TIME_INCREASE`, 1000 ms).
    Linear { step: Millis },
    /// `min(cap, base * 2^(n-1))`, with full jitter when `jitter` (a uniform draw in
    /// `[delay/2, delay]` from the config's seed).
    Exponential { base: Millis, cap: Millis, jitter: bool },
}

/// Tunables, read once at construction.
#[derive(Clone, Debug)]
pub struct TunnelConfig {
    /// `Tunnel.MAX_RECONNECT_TRY_TIMES` (default 5).
    pub max_reconnect_tries: u32,
    /// Delay before each reconnect try (default linear 1000 ms).
    pub backoff: Backoff,
    /// Heartbeat interval and pong deadline (default 15000 ms; `timeout:N` overrides).
    pub ping_interval: Millis,
    /// Maximum packets queued while not active (default 10_000).
    pub max_queue: usize,
    /// Seed of the jitter generator (the driver passes a random number).
    pub seed: u64,
}

impl Default for TunnelConfig {
    fn default() -> Self {
        TunnelConfig {
            max_reconnect_tries: 5,
            backoff: Backoff::Linear { step: 1000 },
            ping_interval: 15_000,
            max_queue: 10_000,
            seed: 0x9E37_79B9_7F4A_7C15,
        }
    }
}

/// Identifies one socket connection; events of other connections are stale.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ConnId(pub u32);

/// A frame the driver must send on a socket.
#[derive(Clone, Debug, PartialEq)]
pub enum Outbound<P> {
    /// `ping`.
    Ping,
    /// `close`.
    Close,
    /// A user packet (already encoded as `message:{…}`).
    Packet(P),
}

/// Events for the tunnel's listeners.
#[derive(Clone, Debug, PartialEq)]
pub enum Event<P, D> {
    /// `connect`: first connection open.
    Connect,
    /// `reconnecting`: a reconnect sequence starts.
    Reconnecting,
    /// `reconnect`: a reconnect succeeded.
    Reconnect,
    /// `close`: the tunnel is closed.
    Close,
    /// `error`: `{code, message, detail}`.
    Error { error: TunnelError, detail: Option<D> },
    /// `error` 4001 for one packet `emit` could not queue (returned, not dropped).
    Overflow(P),
    /// `error` 4002: packets still queued at `close()`, in order.
    Unsent(Vec<P>),
}

/// What the driver must do, in order.
#[derive(Clone, Debug, PartialEq)]
pub enum Output<P, D> {
    /// GET the service URL through the session request; answer with `handle_url`.
    RequestUrl { attempt: u32 },
    /// Open a socket (`wx.connectSocket`) for connection `conn`.
    Connect { conn: ConnId, url: String },
    /// Send a frame on connection `conn`.
    Send { conn: ConnId, frame: Outbound<P> },
    /// Close the socket of connection `conn` (and forget it).
    CloseSocket { conn: ConnId },
    /// Dispatch an event to the listeners.
    Event(Event<P, D>),
}

/// One tunnel.
pub struct Tunnel<P, D> {
    _todo: std::marker::PhantomData<(P, D)>,
}

impl<P, D> Tunnel<P, D> {
    /// A closed tunnel.
    pub fn new(config: TunnelConfig) -> Self {
        let _ = config;
        todo!()
    }

    /// Current status.
    pub fn status(&self) -> TunnelStatus {
        todo!()
    }

    /// The socket URL of the current (or last) connection.
    pub fn socket_url(&self) -> Option<&str> {
        todo!()
    }

    /// Whether `conn` is the live connection (its frames may be dispatched).
    pub fn is_current(&self, conn: ConnId) -> bool {
        let _ = conn;
        todo!()
    }

    /// Number of packets waiting for an active socket.
    pub fn queued(&self) -> usize {
        todo!()
    }

    /// `open()`.
    pub fn open(&mut self, now: Millis) {
        let _ = now;
        todo!()
    }

    /// `close()` by the user.
    pub fn close(&mut self, now: Millis) {
        let _ = now;
        todo!()
    }

    /// `emit()`: send now when active, else queue (bounded).
    pub fn emit(&mut self, now: Millis, packet: P) {
        let _ = (now, packet);
        todo!()
    }

    /// The answer to `RequestUrl { attempt }`: the socket URL, or the failure detail.
    pub fn handle_url(&mut self, now: Millis, attempt: u32, result: Result<String, Option<D>>) {
        let _ = (now, attempt, result);
        todo!()
    }

    /// The socket of `conn` opened.
    pub fn handle_socket_open(&mut self, now: Millis, conn: ConnId) {
        let _ = (now, conn);
        todo!()
    }

    /// A frame arrived on `conn` (message frames are dispatched by the driver; the core
    /// handles `pong`, `timeout:N` and `close`).
    pub fn handle_frame(&mut self, now: Millis, conn: ConnId, frame: Frame<'_>) {
        let _ = (now, conn, frame);
        todo!()
    }

    /// The socket of `conn` closed.
    pub fn handle_socket_close(&mut self, now: Millis, conn: ConnId) {
        let _ = (now, conn);
        todo!()
    }

    /// The socket of `conn` reported an error.
    pub fn handle_socket_error(&mut self, now: Millis, conn: ConnId, detail: Option<D>) {
        let _ = (now, conn, detail);
        todo!()
    }

    /// Sending `packet` on `conn` failed: requeue it (front) and reconnect.
    pub fn handle_send_failed(&mut self, now: Millis, conn: ConnId, packet: P) {
        let _ = (now, conn, packet);
        todo!()
    }

    /// `wx.onNetworkStatusChange`: offline pauses reconnect tries, online resumes at once.
    pub fn handle_network(&mut self, now: Millis, online: bool) {
        let _ = (now, online);
        todo!()
    }

    /// The timer armed for `poll_timeout()` fired (calling it early is harmless).
    pub fn handle_timeout(&mut self, now: Millis) {
        let _ = now;
        todo!()
    }

    /// Next output, in order.
    pub fn poll_output(&mut self) -> Option<Output<P, D>> {
        todo!()
    }

    /// The earliest deadline, if any timer is armed.
    pub fn poll_timeout(&self) -> Option<Millis> {
        todo!()
    }
}

/// Picks the socket URL out of a service-URL response: v1 `{url}` or v2
/// `{code:0, data:{connectUrl}}`, only when the status code is 200 (number or numeric
/// string, already converted by the caller to `status`).
pub fn socket_url_from_response<'a>(
    status: Option<f64>,
    v1_url: Option<&'a str>,
    v2_code: Option<f64>,
    v2_connect_url: Option<&'a str>,
) -> Option<&'a str> {
    let _ = (status, v1_url, v2_code, v2_connect_url);
    todo!()
}
