//! The tunnel state machine (docs/PROTOCOL.md §5, without the bugs of §8).
//!
//! `P` is an outbound packet as the host holds it (the driver: the encoded frame text;
//! tests: `String`). `D` is an opaque error detail from the host.
//!
//! The machine asks for a service URL (`RequestUrl`), opens one socket per answer
//! (`Connect`, each with a fresh [`ConnId`]), and goes Active when that socket opens:
//! queued packets are flushed in order, then `connect`/`reconnect` is emitted and the
//! heartbeat starts (`ping` every interval; no `pong` within the interval, the socket
//! closing or failing, or a failed send start a reconnect sequence). A reconnect
//! sequence closes the old socket, waits [`Backoff`] before each try, fetches a new URL
//! for every try, and counts a try as failed when the URL request fails or its socket
//! fails before opening; after `max_reconnect_tries` failed tries it gives up (`close`,
//! then `error` 2001). While the host reports the network offline, tries wait and
//! failures are not counted. Events of any connection but the current one are ignored.
//! Whenever the tunnel becomes Closed, packets still queued are handed back in
//! `Unsent`, so no packet is ever dropped silently.

use std::collections::VecDeque;

use crate::frame::{self, Frame};
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
    /// 1001: `open` (or a `new Tunnel()` made before the SDK was ready) while another
    /// tunnel is not closed.
    AnotherTunnelOpen,
    /// 5001: a listener threw (the message is followed by the event name).
    ListenerThrew,
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
            TunnelError::AnotherTunnelOpen => 1001,
            TunnelError::ListenerThrew => 5001,
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
            TunnelError::AnotherTunnelOpen => "当前有未关闭的信道，请先关闭之前的信道，再打开新信道",
            TunnelError::ListenerThrew => "信道事件监听函数抛出异常",
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
    /// How long a socket may take to open before it counts as failed (default 15000 ms):
    /// a `wx.connectSocket` that never answers must not leave the tunnel connecting forever.
    pub open_timeout: Millis,
    /// Seed of the jitter generator (the driver passes a random number).
    pub seed: u64,
    /// Announce the resume extension on a new tunnel's socket (docs/RESUME.md; off by
    /// default here, on by default for the SDK's tunnels).
    pub resume: bool,
    /// Most messages kept for a replay after a resume (default 1024).
    pub max_unacked: usize,
}

impl Default for TunnelConfig {
    fn default() -> Self {
        TunnelConfig {
            max_reconnect_tries: 5,
            backoff: Backoff::Linear { step: 1000 },
            ping_interval: 15_000,
            max_queue: 10_000,
            open_timeout: 15_000,
            seed: 0x9E37_79B9_7F4A_7C15,
            resume: false,
            max_unacked: 1024,
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
    /// A frame of the resume extension (`resumable:1`, `ack:<n>`, `resume:<n>:<token>`).
    Control(String),
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
    /// Open a socket (`wx.connectSocket`) for connection `conn` (`resume`: a resume
    /// socket, the tunnel's last socket URL with the `resume` parameter).
    Connect { conn: ConnId, url: String, resume: bool },
    /// Send a frame on connection `conn`.
    Send { conn: ConnId, frame: Outbound<P> },
    /// Close the socket of connection `conn` (and forget it).
    CloseSocket { conn: ConnId },
    /// Dispatch an event to the listeners.
    Event(Event<P, D>),
}

/// A side sends `ack:<n>` after this many messages received since its last `ack`.
pub const ACK_EVERY: u64 = 32;
/// Resume sockets tried after one loss; later tries are full reconnects (a node that died
/// refuses connections rather than answering `resume-refused`).
pub const RESUME_TRIES: u32 = 2;

/// The resume extension's state of a tunnel (docs/RESUME.md).
#[derive(Debug)]
struct Resume<P> {
    /// `resumable:1` was written on this stream: messages written are numbered and kept.
    announced: bool,
    /// No more keeping on this stream: the service ignored the announce, or more than
    /// `max_unacked` messages waited for an `ack` (no replay possible).
    spent: bool,
    /// The service's token, once it answered.
    token: Option<String>,
    /// The service's grace period.
    grace: Millis,
    /// Number of the last message written on the client stream.
    sent: u64,
    /// Messages written and not acknowledged: numbers `sent - kept.len() + 1 ..= sent`.
    kept: VecDeque<P>,
    /// Messages of the service stream received (counted once the token came).
    received: u64,
    /// `received` as last acknowledged to the service.
    acked: u64,
    /// Until when a try may resume (the loss plus the grace period).
    until: Option<Millis>,
    /// The live connection is a resume socket waiting for `resumed`.
    resuming: bool,
    /// Resume sockets opened since the loss.
    tries: u32,
}

impl<P> Resume<P> {
    fn new() -> Self {
        Resume {
            announced: false,
            spent: false,
            token: None,
            grace: 0,
            sent: 0,
            kept: VecDeque::new(),
            received: 0,
            acked: 0,
            until: None,
            resuming: false,
            tries: 0,
        }
    }

    /// Whether messages written now are kept for a replay.
    fn keeping(&self) -> bool {
        self.announced && !self.spent
    }

    /// The number of the oldest kept message, minus one (what an `ack` may not go below).
    fn floor(&self) -> u64 {
        self.sent.saturating_sub(self.kept.len() as u64)
    }

    /// Drops the kept messages up to number `n`; `false` when `n` is out of range.
    fn trim(&mut self, n: u64) -> bool {
        if n < self.floor() || n > self.sent {
            return false;
        }
        let drop = (n - self.floor()) as usize;
        self.kept.drain(..drop.min(self.kept.len()));
        true
    }
}

/// Seed used when the configured one is zero (xorshift64 must not start at zero).
const FALLBACK_SEED: u64 = 0x9E37_79B9_7F4A_7C15;

/// One tunnel.
#[derive(Debug)]
pub struct Tunnel<P, D> {
    /// Tunables from construction.
    config: TunnelConfig,
    /// Current status.
    status: TunnelStatus,
    /// Packets waiting for an active socket, oldest first.
    queue: VecDeque<P>,
    /// Where the next failed packet is put back in `queue` (keeps failed packets in order).
    requeue_at: usize,
    /// Outputs not yet polled.
    outputs: VecDeque<Output<P, D>>,
    /// URL of the current (or last) connection.
    socket_url: Option<String>,
    /// The live connection: opening (Connecting/Reconnecting) or open (Active).
    conn: Option<ConnId>,
    /// Last connection id handed out.
    last_conn: u32,
    /// Last URL request attempt handed out.
    last_attempt: u32,
    /// The URL request whose answer is awaited, if any.
    pending_attempt: Option<u32>,
    /// Heartbeat interval and pong deadline (ms, at least 1).
    interval: Millis,
    /// When to send the next `ping` (armed only while Active).
    ping_at: Option<Millis>,
    /// When a missing `pong` starts a reconnect (armed only while Active).
    pong_at: Option<Millis>,
    /// When the next reconnect try runs (armed only while Reconnecting and waiting).
    retry_at: Option<Millis>,
    /// Deadline for the current socket to open.
    open_at: Option<Millis>,
    /// Failed tries of the running reconnect sequence.
    failed_tries: u32,
    /// Last network status reported by the host (initially online).
    online: bool,
    /// xorshift64 state for the backoff jitter.
    rng: u64,
    /// The resume extension.
    resume: Resume<P>,
    /// The first connection of the current stream.
    stream_start: ConnId,
    /// Streams that ended lately, oldest first: their first connection, and whether every
    /// packet written on them and not acknowledged went back to the queue (a late send
    /// failure there is then covered already).
    ended: VecDeque<(ConnId, bool)>,
}

impl<P: Clone, D> Tunnel<P, D> {
    /// A closed tunnel.
    pub fn new(config: TunnelConfig) -> Self {
        let rng = if config.seed == 0 { FALLBACK_SEED } else { config.seed };
        let interval = config.ping_interval.max(1);
        Tunnel {
            config,
            status: TunnelStatus::Closed,
            queue: VecDeque::new(),
            requeue_at: 0,
            outputs: VecDeque::new(),
            socket_url: None,
            conn: None,
            last_conn: 0,
            last_attempt: 0,
            pending_attempt: None,
            interval,
            ping_at: None,
            pong_at: None,
            retry_at: None,
            open_at: None,
            failed_tries: 0,
            online: true,
            rng,
            resume: Resume::new(),
            stream_start: ConnId(0),
            ended: VecDeque::new(),
        }
    }

    /// Current status.
    pub fn status(&self) -> TunnelStatus {
        self.status
    }

    /// The socket URL of the current (or last) connection.
    pub fn socket_url(&self) -> Option<&str> {
        self.socket_url.as_deref()
    }

    /// Whether `conn` is the live connection (its frames may be dispatched).
    #[inline(always)] // a hot path (measured: the module no bigger, inbound no slower)
    pub fn is_current(&self, conn: ConnId) -> bool {
        self.conn == Some(conn)
    }

    /// The next reconnect try, when one is scheduled: its number (1-based) and its time.
    pub fn next_try(&self) -> Option<(u32, Millis)> {
        self.retry_at.map(|at| (self.failed_tries.saturating_add(1), at))
    }

    /// Number of packets waiting for an active socket.
    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    /// `open()`.
    pub fn open(&mut self, now: Millis) {
        // No timer depends on the time of this input.
        let _ = now;
        if self.status != TunnelStatus::Closed {
            return;
        }
        self.status = TunnelStatus::Connecting;
        self.interval = self.config.ping_interval.max(1);
        self.failed_tries = 0;
        self.request_url();
    }

    /// `close()` by the user (nothing on a closed tunnel: packets emitted to it wait for
    /// its next `open`).
    pub fn close(&mut self, now: Millis) {
        // No timer depends on the time of this input.
        let _ = now;
        if self.status == TunnelStatus::Closed {
            return;
        }
        if self.status == TunnelStatus::Active {
            if let Some(conn) = self.conn {
                self.push(Output::Send { conn, frame: Outbound::Close });
            }
        } else {
            // Kept messages of a lost socket may not have arrived: reported with the queue.
            self.abandon_resume();
        }
        self.shut_down();
        self.report_unsent();
        self.push_event(Event::Close);
    }

    /// `emit()`: send now when active, else queue (bounded).
    pub fn emit(&mut self, now: Millis, packet: P) {
        // No timer depends on the time of this input.
        let _ = now;
        match (self.status, self.conn) {
            (TunnelStatus::Active, Some(conn)) => self.send_packet(conn, packet),
            _ if self.queue.len() >= self.config.max_queue => {
                self.push_event(Event::Overflow(packet));
            }
            _ => self.queue.push_back(packet),
        }
    }

    /// The answer to `RequestUrl { attempt }`: the socket URL, or the failure detail.
    pub fn handle_url(&mut self, now: Millis, attempt: u32, result: Result<String, Option<D>>) {
        if self.pending_attempt != Some(attempt) {
            return;
        }
        self.pending_attempt = None;
        match (self.status, result) {
            (TunnelStatus::Connecting | TunnelStatus::Reconnecting, Ok(url)) => {
                // Never two sockets at once: forget any earlier one first.
                self.close_conn();
                self.last_conn = self.last_conn.wrapping_add(1);
                let conn = ConnId(self.last_conn);
                self.conn = Some(conn);
                self.socket_url = Some(url.clone());
                self.open_at = Some(now.saturating_add(self.config.open_timeout.max(1)));
                self.resume.resuming = false;
                self.push(Output::Connect { conn, url, resume: false });
            }
            (TunnelStatus::Connecting, Err(detail)) => {
                self.fail_first(TunnelError::ConnectService, detail);
            }
            (TunnelStatus::Reconnecting, Err(detail)) => self.try_failed(now, detail),
            // A URL request is only outstanding while connecting or reconnecting.
            (TunnelStatus::Active | TunnelStatus::Closed, _) => {}
        }
    }

    /// The socket of `conn` opened.
    pub fn handle_socket_open(&mut self, now: Millis, conn: ConnId) {
        if !self.is_current(conn) {
            return;
        }
        let event = match self.status {
            TunnelStatus::Connecting => Event::Connect,
            TunnelStatus::Reconnecting => Event::Reconnect,
            TunnelStatus::Active | TunnelStatus::Closed => return,
        };
        if self.resume.resuming {
            // A resume socket: `resume:<n>:<token>` first, then wait for `resumed`
            // (within the open deadline) before anything else is written.
            if let Some(token) = &self.resume.token {
                let text = frame::encode_with_token(frame::RESUME, self.resume.received, token);
                self.open_at = Some(now.saturating_add(self.config.open_timeout.max(1)));
                self.push(Output::Send { conn, frame: Outbound::Control(text) });
                return;
            }
        }
        // A new tunnel: messages kept from an earlier stream go first, then the announce.
        self.abandon_resume();
        self.stream_start = conn;
        if self.config.resume {
            self.resume.announced = true;
            self.push(Output::Send { conn, frame: Outbound::Control(frame::RESUMABLE_V1.to_owned()) });
        }
        self.activate(now, conn, event);
    }

    /// The socket of `conn` is open and may carry messages: flush the queue, emit `event`,
    /// start the heartbeat.
    fn activate(&mut self, now: Millis, conn: ConnId, event: Event<P, D>) {
        self.status = TunnelStatus::Active;
        self.open_at = None;
        while let Some(packet) = self.queue.pop_front() {
            self.send_packet(conn, packet);
        }
        self.requeue_at = 0;
        self.push_event(event);
        self.failed_tries = 0;
        self.retry_at = None;
        self.pong_at = None;
        self.ping_at = Some(now.saturating_add(self.interval));
    }

    /// A frame arrived on `conn` (message frames are dispatched by the driver; the core
    /// handles `pong`, `timeout:N` and `close`).
    pub fn handle_frame(&mut self, now: Millis, conn: ConnId, frame: Frame<'_>) {
        if !self.is_current(conn) {
            return;
        }
        if self.resume.resuming {
            match frame {
                Frame::Resumed(m) if self.status == TunnelStatus::Reconnecting && self.resume.trim(m) => {
                    self.resume.resuming = false;
                    self.resume.until = None;
                    self.resume.acked = self.resume.received;
                    // The service lacks the kept messages above `m`: written again, in order.
                    let replay: Vec<P> = self.resume.kept.iter().cloned().collect();
                    for packet in replay {
                        self.push(Output::Send { conn, frame: Outbound::Packet(packet) });
                    }
                    self.activate(now, conn, Event::Reconnect);
                }
                // A count the client cannot meet: the service resumed a stream the client
                // cannot continue; `close` ends it there at once (no grace period).
                Frame::Resumed(_) => {
                    self.push(Output::Send { conn, frame: Outbound::Close });
                    self.refused();
                }
                // Refused, or the tunnel ended: a new tunnel.
                Frame::ResumeRefused | Frame::Close => self.refused(),
                _ => {}
            }
            return;
        }
        if self.status != TunnelStatus::Active {
            return;
        }
        match frame {
            Frame::Pong => {
                self.pong_at = None;
                if self.resume.announced && self.resume.token.is_none() {
                    // The service answered a ping sent after the announce, and not the
                    // announce: it does not know the extension.
                    self.resume.spent = true;
                    self.resume.kept.clear();
                }
            }
            Frame::ResumeToken { grace_ms, token } => {
                if self.resume.keeping() && self.resume.token.is_none() {
                    self.resume.token = Some(token.to_owned());
                    self.resume.grace = grace_ms;
                }
            }
            Frame::Ack(n) => {
                if self.resume.token.is_some() {
                    // An ack out of range (a confused service) is ignored.
                    let _ = self.resume.trim(n);
                }
            }
            Frame::Timeout(Some(ms)) => {
                self.interval = ms.max(1);
                self.ping(now);
            }
            Frame::Close => {
                // Answered with `close`, as the original does, then closed.
                self.push(Output::Send { conn, frame: Outbound::Close });
                self.shut_down();
                self.report_unsent();
                self.push_event(Event::Close);
            }
            Frame::Timeout(None)
            | Frame::Message(_)
            | Frame::Ping
            | Frame::Unknown(_)
            | Frame::Resumable(_)
            | Frame::Resume { .. }
            | Frame::Resumed(_)
            | Frame::ResumeRefused => {}
        }
    }

    /// A message frame arrived on the live connection (counted for the resume extension);
    /// `true` when that added an output (an `ack`).
    #[inline(always)] // a hot path (measured: the module no bigger, inbound no slower)
    pub fn handle_message(&mut self) -> bool {
        if self.resume.token.is_none() || self.status != TunnelStatus::Active {
            return false;
        }
        self.resume.received = self.resume.received.saturating_add(1);
        if self.resume.received - self.resume.acked >= ACK_EVERY {
            self.send_ack();
            return true;
        }
        false
    }

    /// The socket of `conn` closed.
    pub fn handle_socket_close(&mut self, now: Millis, conn: ConnId) {
        self.socket_failed(now, conn, None);
    }

    /// The socket of `conn` reported an error.
    pub fn handle_socket_error(&mut self, now: Millis, conn: ConnId, detail: Option<D>) {
        self.socket_failed(now, conn, detail);
    }

    /// Sending `packet` on `conn` failed: requeue it (front) and reconnect.
    pub fn handle_send_failed(&mut self, now: Millis, conn: ConnId, packet: P) {
        // A kept packet of a resumable stream is replayed after a resume, or requeued (or
        // reported) when its stream ends; without a token, kept packets are forgotten.
        let kept = self.covered(conn);
        match (self.status, self.conn) {
            (TunnelStatus::Closed, _) if kept => {}
            (TunnelStatus::Closed, _) => self.push_event(Event::Unsent(vec![packet])),
            (TunnelStatus::Active, Some(current)) if current == conn => {
                if !kept {
                    self.requeue(packet);
                }
                self.start_reconnect(now);
            }
            _ if kept => {}
            // A late failure of an old socket while a newer one is open: resend at once
            // rather than leave the packet queued until the next reconnect.
            (TunnelStatus::Active, Some(current)) => self.send_packet(current, packet),
            _ => self.requeue(packet),
        }
    }

    /// `wx.onNetworkStatusChange`: offline pauses reconnect tries, online resumes at once.
    pub fn handle_network(&mut self, now: Millis, online: bool) {
        self.online = online;
        if online && self.status == TunnelStatus::Reconnecting && self.retry_at.is_some() {
            self.retry_at = None;
            self.start_try(now);
        }
    }

    /// The timer armed for `poll_timeout()` fired (calling it early is harmless).
    pub fn handle_timeout(&mut self, now: Millis) {
        if self.open_at.is_some_and(|t| t <= now) {
            self.open_at = None;
            // The socket never opened: the same as an error before it opened.
            if let Some(conn) = self.conn {
                self.socket_failed(now, conn, None);
            }
        }
        if self.pong_at.is_some_and(|t| t <= now) {
            self.pong_at = None;
            self.start_reconnect(now);
        }
        if self.ping_at.is_some_and(|t| t <= now) && self.status == TunnelStatus::Active {
            self.ping(now);
        }
        if self.retry_at.is_some_and(|t| t <= now) {
            self.retry_at = None;
            if self.online {
                self.start_try(now);
            } else {
                // Offline: the try waits (re-armed, not counted) until `online` or later.
                self.schedule_try(now);
            }
        }
    }

    /// Next output, in order.
    pub fn poll_output(&mut self) -> Option<Output<P, D>> {
        self.outputs.pop_front()
    }

    /// The connection an `emit` would send on at once (active, nothing queued): a driver
    /// may send there itself instead of calling `emit`, with the same effect.
    #[inline(always)] // a hot path (measured: the module no bigger, inbound no slower)
    pub fn active_conn(&self) -> Option<ConnId> {
        match (self.status, self.conn) {
            (TunnelStatus::Active, Some(conn)) if self.queue.is_empty() => Some(conn),
            _ => None,
        }
    }

    /// `emit` of `packet` by a driver that sends it itself on the returned connection
    /// ([`Tunnel::active_conn`]): numbered and kept for the resume extension as `emit`
    /// would. `None` (nothing done) when `emit` would not send at once.
    #[inline(always)] // a hot path (measured: the module no bigger, inbound no slower)
    pub fn emit_direct(&mut self, packet: &P) -> Option<ConnId> {
        let conn = self.active_conn()?;
        self.keep(packet);
        Some(conn)
    }

    /// The earliest deadline, if any timer is armed.
    pub fn poll_timeout(&self) -> Option<Millis> {
        [self.ping_at, self.pong_at, self.retry_at, self.open_at].into_iter().flatten().min()
    }

    fn push(&mut self, output: Output<P, D>) {
        self.outputs.push_back(output);
    }

    fn push_event(&mut self, event: Event<P, D>) {
        self.outputs.push_back(Output::Event(event));
    }

    /// Asks the driver for a (new) socket URL.
    fn request_url(&mut self) {
        self.last_attempt = self.last_attempt.wrapping_add(1);
        self.pending_attempt = Some(self.last_attempt);
        self.push(Output::RequestUrl { attempt: self.last_attempt });
    }

    /// Closes and forgets the live socket, if any.
    fn close_conn(&mut self) {
        self.open_at = None;
        if let Some(conn) = self.conn.take() {
            self.push(Output::CloseSocket { conn });
        }
    }

    /// Writes a user packet on `conn`, numbered and kept while the stream keeps them.
    fn send_packet(&mut self, conn: ConnId, packet: P) {
        self.keep(&packet);
        self.push(Output::Send { conn, frame: Outbound::Packet(packet) });
    }

    /// Numbers and keeps a packet being written, while the stream keeps them.
    #[inline(always)] // a hot path (measured: the module no bigger, inbound no slower)
    fn keep(&mut self, packet: &P) {
        let r = &mut self.resume;
        if r.keeping() {
            r.sent = r.sent.saturating_add(1);
            if r.kept.len() >= self.config.max_unacked {
                // Over the bound: no replay possible any more on this stream (what was
                // written counts as sent, as without the extension).
                r.spent = true;
                r.kept.clear();
            } else {
                r.kept.push_back(packet.clone());
            }
        }
    }

    /// Writes `ack:<n>` for the messages received of the service's stream.
    fn send_ack(&mut self) {
        if let Some(conn) = self.conn {
            self.resume.acked = self.resume.received;
            let text = frame::encode_count(frame::ACK, self.resume.received);
            self.push(Output::Send { conn, frame: Outbound::Control(text) });
        }
    }

    /// Starts a reconnect try: a resume socket while the tunnel may resume, else a
    /// tunnel-URL request (docs/RESUME.md rule 3).
    fn start_try(&mut self, now: Millis) {
        let r = &self.resume;
        let resumable =
            r.token.is_some() && !r.spent && r.tries < RESUME_TRIES && r.until.is_some_and(|until| now < until);
        match self.socket_url.as_deref().filter(|_| resumable) {
            Some(url) => {
                let sep = if url.contains('?') { '&' } else { '?' };
                let mut url = String::from(url);
                url.push(sep);
                url.push_str(frame::RESUME);
                self.close_conn();
                self.last_conn = self.last_conn.wrapping_add(1);
                let conn = ConnId(self.last_conn);
                self.conn = Some(conn);
                self.resume.resuming = true;
                self.resume.tries += 1;
                self.open_at = Some(now.saturating_add(self.config.open_timeout.max(1)));
                self.push(Output::Connect { conn, url, resume: true });
            }
            None => self.request_url(),
        }
    }

    /// The service refused the resume: a new tunnel at once (not a failed try).
    fn refused(&mut self) {
        self.close_conn();
        self.abandon_resume();
        self.request_url();
    }

    /// Records the end of the current stream, if one was announced (`covered`: what it
    /// kept went back to the queue or was reported).
    fn end_stream(&mut self, covered: bool) {
        if self.resume.announced {
            // Recent streams only: a send failure comes soon after its socket's end.
            if self.ended.len() >= 4 {
                self.ended.pop_front();
            }
            self.ended.push_back((self.stream_start, covered));
            self.resume.announced = false;
        }
    }

    /// Whether a packet written on `conn` and not acknowledged is taken care of by the
    /// resume extension: kept by the current resumable stream, or requeued (or reported)
    /// when its stream ended.
    fn covered(&self, conn: ConnId) -> bool {
        let r = &self.resume;
        if r.announced && conn >= self.stream_start {
            return r.keeping() && r.token.is_some();
        }
        self.ended.iter().rev().find(|(start, _)| *start <= conn).is_some_and(|(_, covered)| *covered)
    }

    /// Ends the resume state: the next socket starts a new stream. Messages kept on a
    /// resumable stream go in front of the queue (written again on a new tunnel, or
    /// reported); without a token the service never promised anything and the tunnel
    /// behaves as without the extension (PROTOCOL.md §5: what was written counts as sent).
    fn abandon_resume(&mut self) {
        let covered = self.resume.token.is_some() && !self.resume.spent;
        self.end_stream(covered);
        let kept = std::mem::take(&mut self.resume.kept);
        let kept = if self.resume.token.is_some() { kept } else { VecDeque::new() };
        self.requeue_at = self.requeue_at.saturating_add(kept.len());
        for packet in kept.into_iter().rev() {
            self.queue.push_front(packet);
        }
        self.resume = Resume::new();
    }

    /// Sends `ping` and arms the pong deadline and the next ping.
    fn ping(&mut self, now: Millis) {
        if self.resume.token.is_some() && self.resume.received != self.resume.acked {
            self.send_ack();
        }
        if let Some(conn) = self.conn {
            self.push(Output::Send { conn, frame: Outbound::Ping });
        }
        let at = now.saturating_add(self.interval);
        self.pong_at = Some(at);
        self.ping_at = Some(at);
    }

    /// Puts a packet whose send failed back in the queue, ahead of newer packets but
    /// after earlier failed ones; never refused, whatever `max_queue` says.
    fn requeue(&mut self, packet: P) {
        let at = self.requeue_at.min(self.queue.len());
        // `at <= len`, so `insert` cannot panic.
        self.queue.insert(at, packet);
        self.requeue_at = at.saturating_add(1);
    }

    /// Closes the socket, forgets the URL request, stops all timers: status Closed.
    fn shut_down(&mut self) {
        self.close_conn();
        self.pending_attempt = None;
        self.ping_at = None;
        self.pong_at = None;
        self.retry_at = None;
        self.failed_tries = 0;
        self.status = TunnelStatus::Closed;
        // Closed while its stream was live (`close()`, a server `close`): what it wrote
        // counts as sent, and a late send failure there is reported.
        self.end_stream(false);
        self.resume = Resume::new();
    }

    /// Reports every queued packet as unsent (nothing when the queue is empty).
    fn report_unsent(&mut self) {
        self.requeue_at = 0;
        if !self.queue.is_empty() {
            let packets: Vec<P> = self.queue.drain(..).collect();
            self.push_event(Event::Unsent(packets));
        }
    }

    /// The first connection failed: closed, with `error`.
    fn fail_first(&mut self, error: TunnelError, detail: Option<D>) {
        self.shut_down();
        self.push_event(Event::Error { error, detail });
        self.report_unsent();
    }

    /// The socket of `conn` failed or closed.
    fn socket_failed(&mut self, now: Millis, conn: ConnId, detail: Option<D>) {
        if !self.is_current(conn) {
            return;
        }
        match self.status {
            TunnelStatus::Connecting => self.fail_first(TunnelError::SocketError, detail),
            TunnelStatus::Active => self.start_reconnect(now),
            // The socket of a try failed before it opened: a failed try.
            TunnelStatus::Reconnecting => self.try_failed(now, detail),
            TunnelStatus::Closed => {}
        }
    }

    /// Starts a reconnect sequence from Active.
    fn start_reconnect(&mut self, now: Millis) {
        let r = &mut self.resume;
        r.until = (r.token.is_some() && !r.spent).then(|| now.saturating_add(r.grace));
        r.tries = 0;
        self.status = TunnelStatus::Reconnecting;
        self.push_event(Event::Reconnecting);
        self.close_conn();
        self.pending_attempt = None;
        self.ping_at = None;
        self.pong_at = None;
        self.failed_tries = 0;
        if self.config.max_reconnect_tries == 0 {
            self.give_up(None);
        } else {
            self.schedule_try(now);
        }
    }

    /// A reconnect try failed: count it (when online) and wait for the next, or give up.
    fn try_failed(&mut self, now: Millis, detail: Option<D>) {
        self.close_conn();
        self.pending_attempt = None;
        if self.online {
            self.failed_tries = self.failed_tries.saturating_add(1);
        }
        if self.failed_tries >= self.config.max_reconnect_tries {
            self.give_up(detail);
        } else {
            self.schedule_try(now);
        }
    }

    /// Arms the timer of the next try.
    fn schedule_try(&mut self, now: Millis) {
        let delay = self.delay(self.failed_tries.saturating_add(1));
        self.retry_at = Some(now.saturating_add(delay));
    }

    /// Reconnecting failed for good: closed, `close`, then `error` 2001.
    fn give_up(&mut self, detail: Option<D>) {
        self.abandon_resume();
        self.shut_down();
        self.report_unsent();
        self.push_event(Event::Close);
        self.push_event(Event::Error { error: TunnelError::Reconnect, detail });
    }

    /// The wait before try `n` (1-based), at least 1 ms.
    fn delay(&mut self, n: u32) -> Millis {
        let n = n.max(1);
        let delay = match self.config.backoff {
            Backoff::Linear { step } => step.saturating_mul(u64::from(n)),
            Backoff::Exponential { base, cap, jitter } => {
                // `n >= 1`; a shift of 64 or more saturates (`unwrap_or`, not a panic).
                let factor = 1u64.checked_shl(n - 1).unwrap_or(u64::MAX);
                let full = base.saturating_mul(factor).min(cap);
                if jitter {
                    let low = full / 2;
                    // `full - low + 1 <= 2^63 + 1`: no overflow, never zero; the sum is `<= full`.
                    low + self.next_random() % (full - low + 1)
                } else {
                    full
                }
            }
        };
        delay.max(1)
    }

    /// xorshift64.
    fn next_random(&mut self) -> u64 {
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng = x;
        x
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
    if status != Some(200.0) {
        return None;
    }
    if let Some(url) = v1_url.filter(|u| !u.is_empty()) {
        return Some(url);
    }
    if v2_code == Some(0.0) {
        return v2_connect_url.filter(|u| !u.is_empty());
    }
    None
}
