//! The tunnel service: the registry of tunnels, the client sockets, the ordered callbacks
//! to business servers (docs/SERVICES.md §2–§4).
//!
//! One mutex guards the registry; it is held only for map updates, never across an
//! await. Each open tunnel has one socket task; callbacks of a tunnel are delivered by a
//! task spawned when its queue stops being empty and ending when it is empty again.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use serde_json::{json, Value};
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;
use wafer_core::frame::{self, Frame};

use crate::config::{AppConfig, Settings};
use crate::metrics::Metrics;
use crate::sign::{random_id, secret_eq, signature};
use crate::timing::{Callback, CallbackQueue, Heartbeat, IdExpiry, Next, Outcome, QueueFull, RateLimit};

/// Frames waiting to be written to one socket; a push to a full one closes the tunnel
/// (a client that does not read is dropped rather than buffered without bound).
const OUTBOX: usize = 256;

/// How long a resume socket may take to send its `resume:<n>:<token>` frame.
pub const RESUME_WAIT: Duration = Duration::from_secs(10);
/// Resume sockets that may wait for their first frame at once; more are refused at once.
pub const MAX_WAITING_RESUMES: usize = 4096;

/// A side acknowledges after this many messages since its last `ack` (docs/RESUME.md).
const ACK_EVERY: u64 = 32;

/// WebSocket close code: normal closure (the client sent `close`).
pub const CLOSE_NORMAL: u16 = 1000;
/// WebSocket close code: policy violation (frame rate).
pub const CLOSE_POLICY: u16 = 1008;
/// WebSocket close code: message too big.
pub const CLOSE_TOO_BIG: u16 = 1009;
/// WebSocket close code: try again later (callback queue full).
pub const CLOSE_TRY_LATER: u16 = 1013;
/// WebSocket close code: going away (shutdown, server close).
pub const CLOSE_GOING_AWAY: u16 = 1001;

/// A tunnel id: 128 random bits, written as 32 lowercase hex digits.
pub type TunnelKey = u128;

/// Parses a tunnel id as written in URLs and API calls.
pub fn parse_id(id: &str) -> Option<TunnelKey> {
    (id.len() == 32 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
        .then(|| u128::from_str_radix(id, 16).ok())
        .flatten()
}

/// Writes a tunnel id.
pub fn format_id(key: TunnelKey) -> String {
    format!("{key:032x}")
}

enum State {
    /// Issued by `/get/wsurl`, waiting for its socket.
    Issued,
    /// Its socket is open; frames for it go through the sender.
    Open(mpsc::Sender<Utf8Bytes>),
    /// Resumable, its socket lost: waiting for a resume until its grace period ends.
    Grace,
    /// Ended; kept while callbacks are pending.
    Closed,
}

struct Tunnel {
    tc_id: Arc<str>,
    key: Arc<str>,
    callback_url: Arc<reqwest::Url>,
    state: State,
    queue: CallbackQueue,
    /// The number of the socket serving it: frames and ends of an older socket (replaced
    /// by a resume) change nothing.
    socket: u64,
    /// The resume extension's state, once the client announced it and got a token.
    resume: Option<Box<Resumable>>,
}

/// The service's side of a resumable tunnel (docs/RESUME.md).
struct Resumable {
    /// Proves the client's right to resume (never logged).
    token: String,
    /// Messages written to the client's stream: the number of the last one.
    written: u64,
    /// The messages not acknowledged yet, numbered `written - kept.len() + 1 ..= written`.
    kept: VecDeque<Utf8Bytes>,
    /// Client messages received after the announce.
    received: u64,
}

impl Resumable {
    /// Numbers and keeps a message written to the client; `false` (nothing changed) when
    /// `max` are kept already.
    fn keep(&mut self, text: &Utf8Bytes, max: usize) -> bool {
        if self.kept.len() >= max {
            return false;
        }
        self.written += 1;
        self.kept.push_back(text.clone());
        true
    }

    /// The number before the first kept message (what the client has at least received).
    fn base(&self) -> u64 {
        self.written.saturating_sub(self.kept.len() as u64)
    }

    /// Drops the kept messages up to `n` (an `ack:<n>`); a count above `written` is ignored.
    fn ack(&mut self, n: u64) {
        if n <= self.written {
            let drop = usize::try_from(n.saturating_sub(self.base())).unwrap_or(usize::MAX).min(self.kept.len());
            self.kept.drain(..drop);
        }
    }
}

#[derive(Default)]
struct Inner {
    tunnels: HashMap<TunnelKey, Tunnel>,
    /// Tunnels issued or open, per tcId.
    per_app: HashMap<Arc<str>, usize>,
    expiry: IdExpiry<TunnelKey>,
    shutting_down: bool,
    /// The number of the last socket given to a tunnel.
    last_socket: u64,
}

/// The frames to write to one socket of a tunnel, and that socket's number.
#[derive(Debug)]
pub struct Outbox {
    frames: mpsc::Receiver<Utf8Bytes>,
    socket: u64,
}

/// An accepted resume: the new socket's outbox, then what it writes first.
struct Resumed {
    outbox: Outbox,
    /// `resumed:<received>`.
    received: u64,
    /// The kept messages the client has not received, in order.
    replay: Vec<Utf8Bytes>,
}

/// How a socket starts.
enum Start {
    /// The first socket of a tunnel: `timeout:N`, and the client may announce `resumable:1`.
    Fresh,
    /// A resume socket: `resumed:<m>` and the replay.
    Resumed { received: u64, replay: Vec<Utf8Bytes> },
}

/// Why `/get/wsurl` refused to issue a tunnel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IssueError {
    /// The app has as many tunnels as it may.
    TooMany,
    /// The service is shutting down.
    ShuttingDown,
    /// No randomness available.
    Internal,
}

/// Why a socket could not claim its tunnel id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimError {
    /// Unknown, expired, or already used.
    Unknown,
    /// The service is shutting down.
    ShuttingDown,
}

/// Why a tunnel ended (logged).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// The client sent `close`.
    Client,
    /// The socket was lost (closed, error).
    SocketLost,
    /// No frame for longer than the heartbeat allows.
    Heartbeat,
    /// The business server pushed `close`.
    Server,
    /// The client sent frames faster than allowed.
    FrameRate,
    /// The client sent a frame larger than allowed.
    FrameSize,
    /// The callback queue of the tunnel was full.
    CallbackQueue,
    /// The client did not read its frames.
    SlowClient,
    /// The service is shutting down.
    Shutdown,
    /// A resumable tunnel's grace period ended without a resume.
    GraceExpired,
    /// More messages than `resume-max-unacked` would be kept during a grace period.
    UnackedOverflow,
    /// Its socket was replaced by a resume socket (the tunnel goes on).
    Replaced,
}

/// A change of a tunnel that a cluster registry mirrors (in order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TunnelEvent {
    /// Its socket connected: the tunnel is open on this node.
    Opened(TunnelKey),
    /// It ended on this node (its `close` callback is queued here).
    Closed(TunnelKey),
}

/// The tunnel service state shared by handlers and tasks.
pub struct Hub {
    inner: Mutex<Inner>,
    events: std::sync::OnceLock<mpsc::UnboundedSender<TunnelEvent>>,
    settings: Arc<Settings>,
    http: reqwest::Client,
    metrics: Arc<Metrics>,
    connect_base: String,
    /// Resume sockets waiting for their first frame.
    waiting_resumes: std::sync::atomic::AtomicUsize,
}

impl Hub {
    /// A hub issuing `connectUrl`s under `connect_base` (`ws(s)://host[:port]`).
    pub fn new(
        settings: Arc<Settings>,
        http: reqwest::Client,
        metrics: Arc<Metrics>,
        connect_base: String,
    ) -> Arc<Hub> {
        Arc::new(Hub {
            inner: Mutex::new(Inner::default()),
            events: std::sync::OnceLock::new(),
            settings,
            http,
            metrics,
            connect_base,
            waiting_resumes: std::sync::atomic::AtomicUsize::new(0),
        })
    }

    /// The tunnels' opened/closed events from now on (one receiver per hub: `None` for a
    /// second call).
    pub fn events(&self) -> Option<mpsc::UnboundedReceiver<TunnelEvent>> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.events.set(tx).ok().map(|()| rx)
    }

    fn emit(&self, event: TunnelEvent) {
        if let Some(tx) = self.events.get() {
            let _ = tx.send(event);
        }
    }

    /// Whether this node knows the tunnel (issued, open, or closed with callbacks pending).
    pub fn holds(&self, id: &str) -> bool {
        parse_id(id).is_some_and(|k| self.lock().tunnels.contains_key(&k))
    }

    /// Forgets an issued id whose socket has not connected (its registration failed).
    pub fn discard(&self, id: &str) {
        let Some(key) = parse_id(id) else { return };
        let mut g = self.lock();
        if matches!(g.tunnels.get(&key).map(|t| &t.state), Some(State::Issued)) {
            if let Some(t) = g.tunnels.remove(&key) {
                if let Some(c) = g.per_app.get_mut(&t.tc_id) {
                    *c = c.saturating_sub(1);
                }
            }
        }
    }

    /// Reports `close` for a tunnel another node held (that node died): one `close`
    /// callback to `callback_url`, retried like any other. `false` when the app is not
    /// registered here or the URL does not parse.
    pub fn report_orphan_close(self: &Arc<Self>, id: &str, tc_id: &str, callback_url: &str) -> bool {
        let (Some(key), Some(app), Ok(url)) = (parse_id(id), self.app(tc_id), reqwest::Url::parse(callback_url)) else {
            return false;
        };
        // Only where this node's configuration sends that app's callbacks.
        if !callback_url.starts_with(&format!("{}/", app.callback_origin)) {
            return false;
        }
        let mut queue = CallbackQueue::new(self.settings.limits.pending_callbacks);
        let spawn = queue.push(Callback::Close).unwrap_or(false);
        let tunnel = Tunnel {
            tc_id: Arc::from(tc_id),
            key: Arc::from(app.key.as_str()),
            callback_url: Arc::new(url),
            state: State::Closed,
            queue,
            socket: 0,
            resume: None,
        };
        {
            let mut g = self.lock();
            if g.tunnels.contains_key(&key) {
                return false;
            }
            g.tunnels.insert(key, tunnel);
        }
        if spawn {
            tokio::spawn(self.clone().deliver(key));
        }
        true
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave the maps half-updated in a way that
        // matters more than stopping service; keep serving.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The registered app with this tcId.
    pub fn app(&self, tc_id: &str) -> Option<&AppConfig> {
        self.settings.apps.get(tc_id)
    }

    /// Issues a tunnel id for `tc_id` whose callbacks go to `callback_url`; returns the id
    /// and its `connectUrl`.
    pub fn issue(&self, tc_id: &str, callback_url: String, now: Instant) -> Result<(String, String), IssueError> {
        let app = self.app(tc_id).ok_or(IssueError::Internal)?;
        // Parsed once here, not at every callback.
        let callback_url = reqwest::Url::parse(&callback_url).map_err(|_| IssueError::Internal)?;
        let id = random_id().map_err(|_| IssueError::Internal)?;
        let key = parse_id(&id).ok_or(IssueError::Internal)?;
        let mut g = self.lock();
        if g.shutting_down {
            return Err(IssueError::ShuttingDown);
        }
        let tc: Arc<str> = match g.per_app.get_key_value(tc_id) {
            Some((k, n)) => {
                if *n >= self.settings.limits.sockets_per_app {
                    drop(g);
                    self.metrics.limit_hit("sockets_per_app");
                    return Err(IssueError::TooMany);
                }
                k.clone()
            }
            None => Arc::from(tc_id),
        };
        *g.per_app.entry(tc.clone()).or_insert(0) += 1;
        g.tunnels.insert(
            key,
            Tunnel {
                tc_id: tc,
                key: Arc::from(app.key.as_str()),
                callback_url: Arc::new(callback_url),
                state: State::Issued,
                queue: CallbackQueue::new(self.settings.limits.pending_callbacks),
                socket: 0,
                resume: None,
            },
        );
        g.expiry.schedule(now + self.settings.id_ttl, key);
        drop(g);
        self.metrics.tunnels_issued.fetch_add(1, Relaxed);
        let url = format!("{}/socket/{id}", self.connect_base);
        Ok((id, url))
    }

    /// Claims an issued id for a socket (once); queues the `connect` callback.
    pub fn claim(self: &Arc<Self>, key: TunnelKey) -> Result<Outbox, ClaimError> {
        let mut g = self.lock();
        if g.shutting_down {
            return Err(ClaimError::ShuttingDown);
        }
        g.last_socket += 1;
        let socket = g.last_socket;
        let t = g.tunnels.get_mut(&key).ok_or(ClaimError::Unknown)?;
        if !matches!(t.state, State::Issued) {
            return Err(ClaimError::Unknown);
        }
        let (tx, frames) = mpsc::channel(OUTBOX);
        t.state = State::Open(tx);
        t.socket = socket;
        let spawn = t.queue.push(Callback::Connect).unwrap_or(false);
        drop(g);
        self.metrics.tunnels_open.fetch_add(1, Relaxed);
        self.emit(TunnelEvent::Opened(key));
        if spawn {
            tokio::spawn(self.clone().deliver(key));
        }
        Ok(Outbox { frames, socket })
    }

    /// Queues the `message` callback of a client frame read on socket `socket`; returns the
    /// count of the client's stream when the tunnel is resumable. A frame of a socket that
    /// no longer serves the tunnel is dropped.
    fn client_message(self: &Arc<Self>, key: TunnelKey, socket: u64, content: &str) -> Result<Option<u64>, QueueFull> {
        let mut g = self.lock();
        let Some(t) = g.tunnels.get_mut(&key) else { return Ok(None) };
        if !matches!(t.state, State::Open(_)) || t.socket != socket {
            return Ok(None);
        }
        let spawn = t.queue.push(Callback::Message(content.to_owned()))?;
        let count = t.resume.as_mut().map(|r| {
            r.received += 1;
            r.received
        });
        drop(g);
        if spawn {
            tokio::spawn(self.clone().deliver(key));
        }
        Ok(count)
    }

    /// Answers `resumable:1`, the first frame of the tunnel's first socket: issues a token
    /// and queues `resume-token:<grace>:<token>` before any numbered message; returns that
    /// frame. `None` when the extension is off or the tunnel cannot be made resumable
    /// (nothing is sent).
    fn make_resumable(&self, key: TunnelKey, socket: u64) -> Option<Utf8Bytes> {
        let grace = self.settings.resume_grace;
        if grace == 0 {
            return None;
        }
        let token = random_id().ok()?;
        let text = Utf8Bytes::from(frame::encode_with_token(frame::RESUME_TOKEN, grace, &token));
        let mut g = self.lock();
        let t = g.tunnels.get_mut(&key)?;
        let State::Open(tx) = &t.state else { return None };
        if t.socket != socket || t.resume.is_some() {
            return None;
        }
        // Through the outbox: the pushes numbered from now on are written after it.
        tx.try_send(text.clone()).ok()?;
        t.resume = Some(Box::new(Resumable { token, written: 0, kept: VecDeque::new(), received: 0 }));
        drop(g);
        self.metrics.resume_tokens.fetch_add(1, Relaxed);
        tracing::debug!(tunnel = %format_id(key), "tunnel resumable");
        Some(text)
    }

    /// An `ack:<n>` from the client on socket `socket`.
    fn ack(&self, key: TunnelKey, socket: u64, n: u64) {
        let mut g = self.lock();
        if let Some(r) = g.tunnels.get_mut(&key).filter(|t| t.socket == socket).and_then(|t| t.resume.as_mut()) {
            r.ack(n);
        }
    }

    /// Whether socket `socket` no longer serves the tunnel (a resume replaced it).
    fn replaced(&self, key: TunnelKey, socket: u64) -> bool {
        self.lock().tunnels.get(&key).is_some_and(|t| t.socket != socket)
    }

    /// A resume socket's `resume:<n>:<token>` for tunnel `key`: accepted when the tunnel is
    /// open or in its grace period, `token` is its token and every message after `n` is
    /// kept. The socket serving it until now, if any, is replaced (no callback). A refusal
    /// changes nothing.
    /// Whether the tunnel is open or in its grace period, with a token issued.
    fn may_resume(&self, key: TunnelKey) -> bool {
        let g = self.lock();
        g.tunnels.get(&key).is_some_and(|t| matches!(t.state, State::Open(_) | State::Grace) && t.resume.is_some())
    }

    fn resume(&self, key: TunnelKey, n: u64, token: &str) -> Option<Resumed> {
        let mut g = self.lock();
        if g.shutting_down {
            return None;
        }
        let socket = g.last_socket + 1;
        let t = g.tunnels.get_mut(&key)?;
        if !matches!(t.state, State::Open(_) | State::Grace) {
            return None;
        }
        let r = t.resume.as_mut()?;
        if !secret_eq(&r.token, token) || n < r.base() || n > r.written {
            return None;
        }
        r.ack(n);
        let replay: Vec<Utf8Bytes> = r.kept.iter().cloned().collect();
        let received = r.received;
        let (tx, frames) = mpsc::channel(OUTBOX);
        let was_grace = matches!(t.state, State::Grace);
        // Dropping the old sender ends the old socket (it finds itself replaced).
        t.state = State::Open(tx);
        t.socket = socket;
        g.last_socket = socket;
        drop(g);
        if was_grace {
            self.metrics.tunnels_in_grace.fetch_sub(1, Relaxed);
            self.metrics.tunnels_open.fetch_add(1, Relaxed);
        }
        tracing::debug!(tunnel = %format_id(key), replayed = replay.len(), was_grace, "tunnel resumed");
        Some(Resumed { outbox: Outbox { frames, socket }, received, replay })
    }

    /// Socket `socket` of a tunnel ended for `reason`: a resumable tunnel that lost it
    /// enters its grace period, any other ends. Nothing happens when it was replaced.
    fn socket_ended(self: &Arc<Self>, key: TunnelKey, socket: u64, reason: CloseReason) {
        let grace = self.settings.resume_grace;
        let lost = matches!(reason, CloseReason::SocketLost | CloseReason::Heartbeat);
        let entered = {
            let mut g = self.lock();
            let shutting_down = g.shutting_down;
            match g.tunnels.get_mut(&key) {
                Some(t)
                    if lost
                        && grace > 0
                        && !shutting_down
                        && t.socket == socket
                        && t.resume.is_some()
                        && matches!(t.state, State::Open(_)) =>
                {
                    t.state = State::Grace;
                    true
                }
                _ => false,
            }
        };
        if !entered {
            self.close_if(key, reason, |t| t.socket == socket);
            return;
        }
        self.metrics.tunnels_open.fetch_sub(1, Relaxed);
        self.metrics.tunnels_in_grace.fetch_add(1, Relaxed);
        tracing::debug!(tunnel = %format_id(key), ?reason, grace_s = grace, "socket lost: tunnel in its grace period");
        let hub = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(grace)).await;
            // Still the same grace period (no resume since), then it ends.
            if hub.close_if(key, CloseReason::GraceExpired, |t| t.socket == socket && matches!(t.state, State::Grace)) {
                hub.metrics.grace_expired.fetch_add(1, Relaxed);
            }
        });
    }

    /// Ends a tunnel (idempotent): its socket gets `close` and the business server one
    /// `close` callback. Returns whether this call ended it.
    pub fn close(self: &Arc<Self>, key: TunnelKey, reason: CloseReason) -> bool {
        self.close_if(key, reason, |_| true)
    }

    /// [`Hub::close`] when `cond` holds for the tunnel (checked under the same lock).
    fn close_if(self: &Arc<Self>, key: TunnelKey, reason: CloseReason, cond: impl FnOnce(&Tunnel) -> bool) -> bool {
        let mut g = self.lock();
        let Some(t) = g.tunnels.get_mut(&key) else { return false };
        if !matches!(t.state, State::Open(_) | State::Grace) || !cond(t) {
            return false;
        }
        let was_grace = matches!(t.state, State::Grace);
        // Dropping the sender ends the socket task after it wrote what was queued.
        t.state = State::Closed;
        t.resume = None;
        let spawn = t.queue.push(Callback::Close).unwrap_or(false);
        let tc = t.tc_id.clone();
        if let Some(n) = g.per_app.get_mut(&tc) {
            *n = n.saturating_sub(1);
        }
        drop(g);
        if was_grace {
            self.metrics.tunnels_in_grace.fetch_sub(1, Relaxed);
        } else {
            self.metrics.tunnels_open.fetch_sub(1, Relaxed);
        }
        self.emit(TunnelEvent::Closed(key));
        tracing::debug!(tunnel = %format_id(key), ?reason, "tunnel closed");
        if spawn {
            tokio::spawn(self.clone().deliver(key));
        }
        true
    }

    /// Sends `text` to each open tunnel of `tc_id` in `ids`, or closes them when `close`.
    /// A resumable tunnel numbers and keeps the message (in the order written), also in
    /// its grace period. Returns the ids that are unknown, another app's, or not open.
    pub fn push(self: &Arc<Self>, tc_id: &str, ids: &[String], text: Option<&Utf8Bytes>) -> Vec<String> {
        let max = self.settings.resume_max_unacked;
        let mut invalid = Vec::new();
        let mut to_close = Vec::new();
        {
            let mut g = self.lock();
            for id in ids {
                let found = parse_id(id)
                    .and_then(|k| g.tunnels.get_mut(&k).map(|t| (k, t)))
                    .filter(|(_, t)| &*t.tc_id == tc_id);
                let Some((key, t)) = found else {
                    invalid.push(id.clone());
                    continue;
                };
                match (&t.state, text) {
                    (State::Open(_) | State::Grace, None) => to_close.push((key, CloseReason::Server)),
                    (State::Open(tx), Some(text)) => {
                        if t.resume.as_mut().is_some_and(|r| !r.keep(text, max)) {
                            // Too many unacknowledged: it could not replay any more.
                            t.resume = None;
                            tracing::debug!(tunnel = %id, "too many unacknowledged messages: no longer resumable");
                        }
                        match tx.try_send(text.clone()) {
                            Ok(()) => {}
                            Err(TrySendError::Full(_)) => {
                                invalid.push(id.clone());
                                to_close.push((key, CloseReason::SlowClient));
                            }
                            Err(TrySendError::Closed(_)) => invalid.push(id.clone()),
                        }
                    }
                    (State::Grace, Some(text)) => {
                        if !t.resume.as_mut().is_some_and(|r| r.keep(text, max)) {
                            invalid.push(id.clone());
                            to_close.push((key, CloseReason::UnackedOverflow));
                        }
                    }
                    _ => invalid.push(id.clone()),
                }
            }
        }
        for (key, reason) in to_close {
            if reason == CloseReason::SlowClient {
                self.metrics.limit_hit("outbox");
                tracing::warn!(tunnel = %format_id(key), "client does not read its frames: tunnel closed");
            }
            self.close(key, reason);
        }
        invalid
    }

    /// Forgets issued ids whose socket did not come in time; returns how many.
    pub fn expire(&self, now: Instant) -> usize {
        let mut g = self.lock();
        let due = g.expiry.due(now);
        let mut n = 0;
        for key in due {
            if matches!(g.tunnels.get(&key).map(|t| &t.state), Some(State::Issued)) {
                if let Some(t) = g.tunnels.remove(&key) {
                    if let Some(c) = g.per_app.get_mut(&t.tc_id) {
                        *c = c.saturating_sub(1);
                    }
                    n += 1;
                }
            }
        }
        drop(g);
        self.metrics.tunnels_expired.fetch_add(n as u64, Relaxed);
        n
    }

    /// The open tunnels, those in their grace period included: id, tcId, callback URL.
    pub fn open_tunnels(&self) -> Vec<(String, String, String)> {
        let g = self.lock();
        g.tunnels
            .iter()
            .filter(|(_, t)| matches!(t.state, State::Open(_) | State::Grace))
            .map(|(k, t)| (format_id(*k), t.tc_id.to_string(), t.callback_url.to_string()))
            .collect()
    }

    /// Tunnels known (issued, open, in grace, or closed with pending callbacks), and those
    /// whose socket is open.
    pub fn counts(&self) -> (usize, usize) {
        let g = self.lock();
        let open = g.tunnels.values().filter(|t| matches!(t.state, State::Open(_))).count();
        (g.tunnels.len(), open)
    }

    /// Stops issuing and accepting, closes every open tunnel (clients get `close`,
    /// business servers a `close` callback each).
    pub fn begin_shutdown(self: &Arc<Self>) {
        let open: Vec<TunnelKey> = {
            let mut g = self.lock();
            g.shutting_down = true;
            g.tunnels
                .iter()
                .filter(|(_, t)| matches!(t.state, State::Open(_) | State::Grace))
                .map(|(k, _)| *k)
                .collect()
        };
        for key in open {
            self.close(key, CloseReason::Shutdown);
        }
    }

    /// Callbacks still pending, over all tunnels.
    pub fn pending_callbacks(&self) -> usize {
        self.lock().tunnels.values().map(|t| t.queue.len()).sum()
    }

    /// Delivers the callback queue of one tunnel until it is empty.
    async fn deliver(self: Arc<Self>, key: TunnelKey) {
        loop {
            let (cb, url, sign_key) = match self.next_callback(key) {
                Step::Stop => return,
                Step::Wait(at) => {
                    tokio::time::sleep_until(at.into()).await;
                    continue;
                }
                Step::Send(cb, url, sign_key) => (cb, url, sign_key),
            };
            let outcome = self.post(key, &cb, &url, &sign_key).await;
            let Some(report) = self.finish_callback(key, outcome) else { return };
            if outcome == Outcome::Delivered {
                self.metrics.callbacks_ok.fetch_add(1, Relaxed);
            }
            if report.retried {
                self.metrics.callbacks_retried.fetch_add(1, Relaxed);
            }
            if report.dropped {
                self.metrics.callbacks_dropped.fetch_add(1, Relaxed);
                let kind = callback_type(&cb);
                tracing::warn!(tunnel = %format_id(key), callback = kind, ?outcome, "callback dropped");
            }
        }
    }

    fn finish_callback(&self, key: TunnelKey, outcome: Outcome) -> Option<crate::timing::Report> {
        let mut g = self.lock();
        let t = g.tunnels.get_mut(&key)?;
        Some(t.queue.finish(outcome, Instant::now(), &self.settings.backoff))
    }

    /// The next step of a tunnel's callback driver (under the lock, never across an await).
    fn next_callback(&self, key: TunnelKey) -> Step {
        let mut g = self.lock();
        let Some(t) = g.tunnels.get_mut(&key) else { return Step::Stop };
        match t.queue.next(Instant::now()) {
            Next::Idle => {
                if matches!(t.state, State::Closed) {
                    g.tunnels.remove(&key);
                }
                Step::Stop
            }
            Next::RetryAt(at) => Step::Wait(at),
            Next::Send(cb) => Step::Send(cb, t.callback_url.clone(), t.key.clone()),
        }
    }

    /// One try of a callback.
    async fn post(&self, key: TunnelKey, cb: &Callback, url: &reqwest::Url, sign_key: &str) -> Outcome {
        let id = format_id(key);
        let data = match cb {
            Callback::Message(content) => json!({"tunnelId": id, "type": "message", "content": content}),
            other => json!({"tunnelId": id, "type": callback_type(other)}),
        }
        .to_string();
        let body = json!({"data": data, "signature": signature(&data, sign_key)}).to_string();
        let sent = self
            .http
            .post(url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await;
        let resp = match sent {
            Ok(r) => r,
            Err(e) => {
                tracing::debug!(tunnel = %id, error = %e, "callback failed");
                return Outcome::Failed;
            }
        };
        let status = resp.status();
        let code = resp
            .bytes()
            .await
            .ok()
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
            .and_then(|v| v.get("code").and_then(Value::as_i64));
        match code {
            Some(0) if status.is_success() => Outcome::Delivered,
            Some(9001..=9004) => Outcome::Rejected,
            _ => {
                tracing::debug!(tunnel = %id, status = status.as_u16(), ?code, "callback not accepted");
                Outcome::Failed
            }
        }
    }

    /// Runs the first socket of a tunnel until it ends, then reports the tunnel closed (or
    /// in its grace period, when resumable).
    pub async fn run_socket(self: Arc<Self>, key: TunnelKey, ws: WebSocket, outbox: Outbox) {
        self.metrics.sockets.fetch_add(1, Relaxed);
        self.drive(key, ws, outbox, Start::Fresh).await;
        self.metrics.sockets.fetch_sub(1, Relaxed);
    }

    /// Runs a resume socket (`/socket/<id>?resume`, docs/RESUME.md): its first frame must
    /// be `resume:<n>:<token>` within [`RESUME_WAIT`]; then it serves the tunnel, or is
    /// answered `resume-refused` and closed. `key` is `None` for an id that does not parse.
    pub async fn run_resume(self: Arc<Self>, key: Option<TunnelKey>, mut ws: WebSocket) {
        let m = &self.metrics;
        m.sockets.fetch_add(1, Relaxed);
        // Only a tunnel that may resume waits for the client's frame (bounded); for an
        // unknown, ended or not resumable one the answer is given at once.
        let waiting = &self.waiting_resumes;
        let resumable = key.is_some_and(|k| self.may_resume(k));
        let first = if resumable && waiting.fetch_add(1, Relaxed) < MAX_WAITING_RESUMES {
            let first = tokio::time::timeout(RESUME_WAIT, first_text(&mut ws)).await.ok().flatten();
            waiting.fetch_sub(1, Relaxed);
            first
        } else {
            if resumable {
                // Over the bound: the count taken above is given back.
                waiting.fetch_sub(1, Relaxed);
                m.limit_hit("waiting_resumes");
            }
            None
        };
        if first.is_some() {
            m.frames_in.fetch_add(1, Relaxed);
        }
        let resumed = match (key, first.as_ref().map(|t| frame::parse(t.as_str()))) {
            (Some(key), Some(Frame::Resume { received, token })) => self.resume(key, received, token).map(|r| (key, r)),
            _ => None,
        };
        match resumed {
            Some((key, r)) => {
                m.resumes_accepted.fetch_add(1, Relaxed);
                self.drive(key, ws, r.outbox, Start::Resumed { received: r.received, replay: r.replay }).await;
            }
            None => {
                m.resumes_refused.fetch_add(1, Relaxed);
                if let Some(key) = key {
                    tracing::debug!(tunnel = %format_id(key), "resume refused");
                }
                if ws.send(Message::text(frame::RESUME_REFUSED)).await.is_ok() {
                    m.frames_out.fetch_add(1, Relaxed);
                }
                let close = CloseFrame { code: CLOSE_NORMAL, reason: Utf8Bytes::from_static("") };
                let _ = ws.send(Message::Close(Some(close))).await;
            }
        }
        m.sockets.fetch_sub(1, Relaxed);
    }

    /// The loop of one socket serving a tunnel, until it ends.
    async fn drive(self: &Arc<Self>, key: TunnelKey, mut ws: WebSocket, outbox: Outbox, start: Start) {
        let m = &self.metrics;
        let Outbox { frames: mut outbox, socket } = outbox;
        let hb = self.settings.heartbeat;
        let now = Instant::now();
        let mut heartbeat = Heartbeat::new((hb > 0).then(|| Duration::from_secs(hb * 2)), now);
        let timer = tokio::time::sleep_until(heartbeat.deadline().unwrap_or(now).into());
        tokio::pin!(timer);
        let mut rate = RateLimit::new(self.settings.limits.frames_per_sec, now);
        let mut reason = CloseReason::SocketLost;
        let mut close_frame: Option<(u16, &'static str)> = None;
        // The first frame of a fresh socket may announce the resume extension.
        let mut first = matches!(start, Start::Fresh);
        // The client's stream (resumable tunnels): messages received, and the last `ack`.
        let mut received: Option<u64> = None;
        let mut acked = 0u64;
        let mut alive = true;
        match start {
            Start::Fresh => {
                if hb > 0 && ws.send(Message::text(frame::encode_timeout(hb))).await.is_ok() {
                    m.frames_out.fetch_add(1, Relaxed);
                }
            }
            Start::Resumed { received: n, replay } => {
                (received, acked) = (Some(n), n);
                // `resumed:<m>`, then the kept messages the client has not received.
                let first = Message::text(frame::encode_count(frame::RESUMED, n));
                for frame in std::iter::once(first).chain(replay.into_iter().map(Message::Text)) {
                    alive = ws.send(frame).await.is_ok();
                    if !alive {
                        break;
                    }
                    m.frames_out.fetch_add(1, Relaxed);
                }
            }
        }
        loop {
            if !alive {
                break;
            }
            tokio::select! {
                incoming = ws.recv() => {
                    let now = Instant::now();
                    let text = match incoming {
                        Some(Ok(Message::Text(t))) => t,
                        Some(Ok(Message::Close(_))) | None => break,
                        Some(Ok(_)) => {
                            heartbeat.seen(now);
                            continue;
                        }
                        Some(Err(e)) => {
                            if is_too_big(e) {
                                m.limit_hit("frame_size");
                                reason = CloseReason::FrameSize;
                                close_frame = Some((CLOSE_TOO_BIG, "frame too large"));
                            }
                            break;
                        }
                    };
                    heartbeat.seen(now);
                    m.frames_in.fetch_add(1, Relaxed);
                    if !rate.take(now) {
                        m.limit_hit("frame_rate");
                        reason = CloseReason::FrameRate;
                        close_frame = Some((CLOSE_POLICY, "too many frames per second"));
                        break;
                    }
                    let parsed = frame::parse(text.as_str());
                    if std::mem::take(&mut first) && parsed == Frame::Resumable(Some(1)) {
                        if let Some(token) = self.make_resumable(key, socket) {
                            (received, acked) = (Some(0), 0);
                            // The token is written before the answer to any later frame (a
                            // `pong` without it would tell the client the extension is
                            // unknown), after the pushes queued before it.
                            while let Some(text) = outbox.recv().await {
                                let is_token = text == token;
                                if ws.send(Message::Text(text)).await.is_err() {
                                    alive = false;
                                    break;
                                }
                                m.frames_out.fetch_add(1, Relaxed);
                                if is_token {
                                    break;
                                }
                            }
                        }
                        continue;
                    }
                    match parsed {
                        Frame::Message(body) => match self.client_message(key, socket, body) {
                            Err(_) => {
                                m.limit_hit("pending_callbacks");
                                reason = CloseReason::CallbackQueue;
                                close_frame = Some((CLOSE_TRY_LATER, "too many pending callbacks"));
                                tracing::warn!(tunnel = %format_id(key), "callback queue full: tunnel closed");
                                break;
                            }
                            Ok(Some(n)) => {
                                received = Some(n);
                                if n.saturating_sub(acked) >= ACK_EVERY {
                                    if ws.send(Message::text(frame::encode_count(frame::ACK, n))).await.is_err() {
                                        break;
                                    }
                                    m.frames_out.fetch_add(1, Relaxed);
                                    acked = n;
                                }
                            }
                            Ok(None) => {}
                        },
                        Frame::Ping => {
                            if ws.send(Message::text(frame::PONG)).await.is_err() {
                                break;
                            }
                            m.frames_out.fetch_add(1, Relaxed);
                            if let Some(n) = received.filter(|n| *n != acked) {
                                if ws.send(Message::text(frame::encode_count(frame::ACK, n))).await.is_err() {
                                    break;
                                }
                                m.frames_out.fetch_add(1, Relaxed);
                                acked = n;
                            }
                        }
                        Frame::Ack(n) => self.ack(key, socket, n),
                        Frame::Close => {
                            reason = CloseReason::Client;
                            close_frame = Some((CLOSE_NORMAL, ""));
                            break;
                        }
                        _ => {}
                    }
                }
                out = outbox.recv() => match out {
                    Some(text) => {
                        if ws.send(Message::Text(text)).await.is_err() {
                            break;
                        }
                        m.frames_out.fetch_add(1, Relaxed);
                    }
                    None if self.replaced(key, socket) => {
                        // A resume socket serves the tunnel now: this one just ends.
                        reason = CloseReason::Replaced;
                        close_frame = Some((CLOSE_GOING_AWAY, "replaced by a resume"));
                        break;
                    }
                    None => {
                        // Closed by the service (push close, slow client, shutdown).
                        reason = CloseReason::Server;
                        if ws.send(Message::text(frame::CLOSE)).await.is_ok() {
                            m.frames_out.fetch_add(1, Relaxed);
                        }
                        close_frame = Some((CLOSE_GOING_AWAY, ""));
                        break;
                    }
                },
                () = &mut timer, if heartbeat.deadline().is_some() => {
                    // The timer is not moved at each frame: when it fires early (frames came
                    // meanwhile), it is set to the current deadline.
                    if heartbeat.is_lost(Instant::now()) {
                        reason = CloseReason::Heartbeat;
                        break;
                    }
                    if let Some(d) = heartbeat.deadline() {
                        timer.as_mut().reset(d.into());
                    }
                }
            }
        }
        if let Some((code, text)) = close_frame {
            let _ = ws.send(Message::Close(Some(CloseFrame { code, reason: Utf8Bytes::from_static(text) }))).await;
        }
        drop(ws);
        self.socket_ended(key, socket, reason);
    }
}

/// The first text frame of a socket (`None` when it ends first); other frames are skipped.
async fn first_text(ws: &mut WebSocket) -> Option<Utf8Bytes> {
    loop {
        match ws.recv().await {
            Some(Ok(Message::Text(t))) => return Some(t),
            Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return None,
            Some(Ok(_)) => {}
        }
    }
}

enum Step {
    Stop,
    Wait(Instant),
    Send(Callback, Arc<reqwest::Url>, Arc<str>),
}

fn callback_type(cb: &Callback) -> &'static str {
    match cb {
        Callback::Connect => "connect",
        Callback::Message(_) => "message",
        Callback::Close => "close",
    }
}

fn is_too_big(e: axum::Error) -> bool {
    match e.into_inner().downcast::<tungstenite::Error>() {
        Ok(e) => matches!(*e, tungstenite::Error::Capacity(_)),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hub(limit: usize) -> Arc<Hub> {
        let mut s = Settings::default();
        s.add_app("a.example", "ka");
        s.add_app("b.example", "kb");
        s.limits.sockets_per_app = limit;
        s.id_ttl = Duration::from_secs(60);
        Hub::new(Arc::new(s), reqwest::Client::new(), Arc::default(), "ws://t".into())
    }

    #[test]
    fn ids_round_trip() {
        let k = 0x0123_4567_89ab_cdef_0011_2233_4455_6677u128;
        assert_eq!(parse_id(&format_id(k)), Some(k));
        assert_eq!(parse_id(&format_id(1)), Some(1));
        assert_eq!(parse_id("0123456789ABCDEF0011223344556677"), None);
        assert_eq!(parse_id("123"), None);
        assert_eq!(parse_id("+123456789abcdef0011223344556677"), None);
    }

    #[tokio::test]
    async fn issued_ids_expire_unless_claimed_and_claim_once() {
        let h = hub(10);
        let a = crate::sign::tc_id("a.example");
        let t0 = Instant::now();
        let (id1, url1) = h.issue(&a, "http://x/t".into(), t0).unwrap();
        let (id2, _) = h.issue(&a, "http://x/t".into(), t0).unwrap();
        assert!(url1.starts_with("ws://t/socket/") && url1.ends_with(&id1));
        let k1 = parse_id(&id1).unwrap();
        let k2 = parse_id(&id2).unwrap();
        let _rx = h.claim(k1).unwrap();
        assert_eq!(h.claim(k1).unwrap_err(), ClaimError::Unknown);
        assert_eq!(h.expire(t0 + Duration::from_secs(59)), 0);
        assert_eq!(h.expire(t0 + Duration::from_secs(60)), 1);
        assert_eq!(h.claim(k2).unwrap_err(), ClaimError::Unknown);
        assert_eq!(h.counts(), (1, 1));
    }

    #[tokio::test]
    async fn tunnels_per_app_are_limited_and_freed() {
        let h = hub(2);
        let (a, b) = (crate::sign::tc_id("a.example"), crate::sign::tc_id("b.example"));
        let t0 = Instant::now();
        let (id1, _) = h.issue(&a, "http://x/t".into(), t0).unwrap();
        h.issue(&a, "http://x/t".into(), t0).unwrap();
        assert_eq!(h.issue(&a, "http://x/t".into(), t0).unwrap_err(), IssueError::TooMany);
        h.issue(&b, "http://x/t".into(), t0).unwrap();
        let k1 = parse_id(&id1).unwrap();
        let _rx = h.claim(k1).unwrap();
        assert!(h.close(k1, CloseReason::Client));
        assert!(!h.close(k1, CloseReason::Client));
        h.issue(&a, "http://x/t".into(), t0).unwrap();
    }

    #[tokio::test]
    async fn push_reaches_only_the_apps_open_tunnels() {
        let h = hub(10);
        let (a, b) = (crate::sign::tc_id("a.example"), crate::sign::tc_id("b.example"));
        let t0 = Instant::now();
        let (id1, _) = h.issue(&a, "http://x/t".into(), t0).unwrap();
        let (id2, _) = h.issue(&a, "http://x/t".into(), t0).unwrap();
        let mut rx = h.claim(parse_id(&id1).unwrap()).unwrap().frames;
        let text = Utf8Bytes::from_static("message:{}");
        let ids = vec![id1.clone(), id2.clone(), "nope".into()];
        assert_eq!(h.push(&a, &ids, Some(&text)), vec![id2.clone(), "nope".into()]);
        assert_eq!(rx.try_recv().unwrap().as_str(), "message:{}");
        assert_eq!(h.push(&b, std::slice::from_ref(&id1), Some(&text)), vec![id1.clone()]);
        assert!(rx.try_recv().is_err());
        assert!(h.push(&a, std::slice::from_ref(&id1), None).is_empty());
        assert!(rx.recv().await.is_none());
        assert_eq!(h.push(&a, std::slice::from_ref(&id1), Some(&text)), vec![id1]);
    }

    #[test]
    fn kept_messages_are_numbered_acked_and_bounded() {
        let mut r = Resumable { token: "t".into(), written: 0, kept: VecDeque::new(), received: 0 };
        let m = |s: &'static str| Utf8Bytes::from_static(s);
        assert!(r.keep(&m("1"), 3) && r.keep(&m("2"), 3) && r.keep(&m("3"), 3));
        assert!(!r.keep(&m("4"), 3), "over the bound");
        assert_eq!((r.written, r.base()), (3, 0));
        r.ack(2);
        assert_eq!((r.base(), r.kept.front().map(|t| t.as_str())), (2, Some("3")));
        r.ack(1); // older: nothing
        r.ack(9); // more than written: ignored
        assert_eq!((r.base(), r.kept.len()), (2, 1));
        r.ack(3);
        assert!(r.kept.is_empty() && r.base() == 3);
        assert!(r.keep(&m("4"), 3));
        assert_eq!((r.written, r.base()), (4, 3));
    }

    #[tokio::test]
    async fn the_token_goes_before_every_numbered_push() {
        let h = hub(10);
        let a = crate::sign::tc_id("a.example");
        let (id, _) = h.issue(&a, "http://x/t".into(), Instant::now()).unwrap();
        let key = parse_id(&id).unwrap();
        let mut out = h.claim(key).unwrap();
        let text = |s: &'static str| Utf8Bytes::from_static(s);
        assert!(h.push(&a, std::slice::from_ref(&id), Some(&text("message:before"))).is_empty());
        assert!(h.make_resumable(key, out.socket).is_some());
        assert!(h.make_resumable(key, out.socket).is_none(), "once");
        assert!(h.push(&a, std::slice::from_ref(&id), Some(&text("message:1"))).is_empty());
        assert_eq!(out.frames.try_recv().unwrap().as_str(), "message:before");
        let token_frame = out.frames.try_recv().unwrap();
        let token = token_frame.as_str().strip_prefix("resume-token:30:").unwrap().to_owned();
        assert_eq!(out.frames.try_recv().unwrap().as_str(), "message:1");
        // Messages 1 and 2 are the stream; the one before the token is not.
        assert!(h.push(&a, std::slice::from_ref(&id), Some(&text("message:2"))).is_empty());
        assert_eq!(h.client_message(key, out.socket, "c").unwrap(), Some(1));
        assert!(h.resume(key, 3, &token).is_none(), "more than written");
        assert!(h.resume(key, 0, "wrong").is_none());
        let r = h.resume(key, 1, &token).unwrap();
        assert_eq!(r.received, 1);
        assert_eq!(r.replay.iter().map(|t| t.as_str()).collect::<Vec<_>>(), ["message:2"]);
        assert!(h.replaced(key, out.socket) && !h.replaced(key, r.outbox.socket));
        // The old socket's frames no longer count; its end changes nothing.
        assert_eq!(h.client_message(key, out.socket, "late").unwrap(), None);
        h.socket_ended(key, out.socket, CloseReason::SocketLost);
        assert_eq!(h.counts(), (1, 1));
        assert!(h.resume(key, 0, &token).is_none(), "message 1 is acknowledged by the last resume");
    }
}
