//! Tunnel test harness: a `Tunnel<String, String>` on a simulated clock.
//!
//! Every input is fed at `now` and the outputs are drained at once into a log, each
//! stamped with the time it was produced. `advance(ms)` moves the clock, calling
//! `handle_timeout` at each deadline in order, exactly as a driver's timer would.

use wafer_core::frame;
use wafer_core::tunnel::{Backoff, ConnId, Event, Outbound, Output, Tunnel, TunnelConfig, TunnelError, TunnelStatus};
use wafer_core::Millis;

/// The tunnel under test: packets and error details are strings.
pub type TestTunnel = Tunnel<String, String>;
/// One output of the tunnel under test.
pub type Out = Output<String, String>;
/// One event of the tunnel under test.
pub type Ev = Event<String, String>;

/// Default heartbeat interval.
pub const PING: Millis = 15_000;

/// The URL the harness answers for attempt `n`.
pub fn url_for(attempt: u32) -> String {
    format!("wss://tunnel.test/{attempt}")
}

/// A config with linear backoff.
pub fn linear(step: Millis, tries: u32) -> TunnelConfig {
    TunnelConfig { max_reconnect_tries: tries, backoff: Backoff::Linear { step }, ..TunnelConfig::default() }
}

/// A tunnel driven on a simulated clock, with its outputs collected.
pub struct TunnelHarness {
    /// The machine under test.
    pub tunnel: TestTunnel,
    /// The simulated clock.
    pub now: Millis,
    log: Vec<(Millis, Out)>,
}

impl Default for TunnelHarness {
    fn default() -> Self {
        Self::new()
    }
}

impl TunnelHarness {
    /// A closed tunnel with the default config, at time 0.
    pub fn new() -> Self {
        Self::with_config(TunnelConfig::default())
    }

    /// A closed tunnel with `config`, at time 0.
    pub fn with_config(config: TunnelConfig) -> Self {
        TunnelHarness { tunnel: Tunnel::new(config), now: 0, log: Vec::new() }
    }

    /// Drains `poll_output` into the log.
    pub fn drain(&mut self) {
        while let Some(out) = self.tunnel.poll_output() {
            self.log.push((self.now, out));
        }
    }

    /// The outputs collected since the last take.
    pub fn take(&mut self) -> Vec<Out> {
        self.drain();
        self.log.drain(..).map(|(_, out)| out).collect()
    }

    /// The outputs collected since the last take, with the time each was produced.
    pub fn take_timed(&mut self) -> Vec<(Millis, Out)> {
        self.drain();
        std::mem::take(&mut self.log)
    }

    /// Current status.
    pub fn status(&self) -> TunnelStatus {
        self.tunnel.status()
    }

    /// Moves the clock `ms` forward, firing every deadline on the way, in order.
    pub fn advance(&mut self, ms: Millis) {
        let target = self.now + ms;
        let mut fired = 0;
        while let Some(at) = self.tunnel.poll_timeout() {
            if at > target {
                break;
            }
            fired += 1;
            assert!(fired < 100_000, "timer loop: deadline {at} never moves");
            self.now = self.now.max(at);
            self.tunnel.handle_timeout(self.now);
            self.drain();
        }
        self.now = target;
    }

    /// `open()`.
    pub fn open(&mut self) {
        self.tunnel.open(self.now);
        self.drain();
    }

    /// `close()`.
    pub fn close(&mut self) {
        self.tunnel.close(self.now);
        self.drain();
    }

    /// `emit()` of packet `p`.
    pub fn emit(&mut self, p: &str) {
        self.tunnel.emit(self.now, p.to_string());
        self.drain();
    }

    /// Answers URL request `attempt` with `url_for(attempt)`.
    pub fn url_ok(&mut self, attempt: u32) {
        self.tunnel.handle_url(self.now, attempt, Ok(url_for(attempt)));
        self.drain();
    }

    /// Fails URL request `attempt` with `detail`.
    pub fn url_err(&mut self, attempt: u32, detail: &str) {
        self.tunnel.handle_url(self.now, attempt, Err(Some(detail.to_string())));
        self.drain();
    }

    /// The socket of `conn` opened.
    pub fn socket_open(&mut self, conn: ConnId) {
        self.tunnel.handle_socket_open(self.now, conn);
        self.drain();
    }

    /// The socket of `conn` closed.
    pub fn socket_close(&mut self, conn: ConnId) {
        self.tunnel.handle_socket_close(self.now, conn);
        self.drain();
    }

    /// The socket of `conn` failed with `detail`.
    pub fn socket_error(&mut self, conn: ConnId, detail: &str) {
        self.tunnel.handle_socket_error(self.now, conn, Some(detail.to_string()));
        self.drain();
    }

    /// A text frame arrived on `conn`.
    pub fn frame(&mut self, conn: ConnId, text: &str) {
        self.tunnel.handle_frame(self.now, conn, frame::parse(text));
        self.drain();
    }

    /// Sending `p` on `conn` failed.
    pub fn send_failed(&mut self, conn: ConnId, p: &str) {
        self.tunnel.handle_send_failed(self.now, conn, p.to_string());
        self.drain();
    }

    /// The network went online or offline.
    pub fn network(&mut self, online: bool) {
        self.tunnel.handle_network(self.now, online);
        self.drain();
    }

    /// Takes the outputs and asserts they are exactly one `RequestUrl`; its attempt.
    pub fn expect_request_url(&mut self) -> u32 {
        match self.take().as_slice() {
            [Output::RequestUrl { attempt }] => *attempt,
            other => panic!("expected one RequestUrl, got {other:?}"),
        }
    }

    /// Takes the outputs and asserts they are exactly one `Connect` to `url_for(attempt)`.
    pub fn expect_connect(&mut self, attempt: u32) -> ConnId {
        match self.take().as_slice() {
            [Output::Connect { conn, url, .. }] if *url == url_for(attempt) => *conn,
            other => panic!("expected Connect to {}, got {other:?}", url_for(attempt)),
        }
    }

    /// Answers the pending URL request with success; the new connection.
    pub fn answer_url(&mut self) -> ConnId {
        let attempt = self.expect_request_url();
        self.url_ok(attempt);
        self.expect_connect(attempt)
    }

    /// Walks a closed tunnel with an empty queue to Active; the open connection.
    pub fn open_active(&mut self) -> ConnId {
        self.open();
        let conn = self.answer_url();
        self.socket_open(conn);
        assert_eq!(self.take(), vec![event(Event::Connect)]);
        assert_eq!(self.status(), TunnelStatus::Active);
        conn
    }

    /// From Active: the socket of `conn` closes; asserts the start of a reconnect
    /// sequence (the first try is then due after the first backoff delay).
    pub fn lose_connection(&mut self, conn: ConnId) {
        self.socket_close(conn);
        assert_eq!(self.take(), vec![event(Event::Reconnecting), close_socket(conn)]);
        assert_eq!(self.status(), TunnelStatus::Reconnecting);
    }
}

/// `Output::Event(e)`.
pub fn event(e: Ev) -> Out {
    Output::Event(e)
}

/// `Output::Send` of packet `p` on `conn`.
pub fn send(conn: ConnId, p: &str) -> Out {
    Output::Send { conn, frame: Outbound::Packet(p.to_string()) }
}

/// `Output::Send` of `ping` on `conn`.
pub fn ping(conn: ConnId) -> Out {
    Output::Send { conn, frame: Outbound::Ping }
}

/// `Output::Send` of `close` on `conn`.
pub fn close_frame(conn: ConnId) -> Out {
    Output::Send { conn, frame: Outbound::Close }
}

/// `Output::CloseSocket` of `conn`.
pub fn close_socket(conn: ConnId) -> Out {
    Output::CloseSocket { conn }
}

/// `Output::RequestUrl` of `attempt`.
pub fn request_url(attempt: u32) -> Out {
    Output::RequestUrl { attempt }
}

/// `Output::Connect` of `conn` to `url_for(attempt)`.
pub fn connect(conn: ConnId, attempt: u32) -> Out {
    Output::Connect { conn, url: url_for(attempt), resume: false }
}

/// An `error` event.
pub fn error(error: TunnelError, detail: Option<&str>) -> Out {
    event(Event::Error { error, detail: detail.map(str::to_string) })
}

/// An `Unsent` event with `packets`, in order.
pub fn unsent(packets: &[&str]) -> Out {
    event(Event::Unsent(packets.iter().map(|p| p.to_string()).collect()))
}

/// An `Overflow` event for `p`.
pub fn overflow(p: &str) -> Out {
    event(Event::Overflow(p.to_string()))
}

/// `Output::Send` of the extension frame `text` on `conn`.
pub fn control(conn: ConnId, text: &str) -> Out {
    Output::Send { conn, frame: Outbound::Control(text.to_string()) }
}

/// A config with the resume extension on (and linear 1 s backoff, 5 tries).
pub fn resumable() -> TunnelConfig {
    TunnelConfig { resume: true, ..TunnelConfig::default() }
}

impl TunnelHarness {
    /// `n` message frames arrive on the live connection (counted by the tunnel).
    pub fn messages_in(&mut self, n: u64) {
        for _ in 0..n {
            self.tunnel.handle_message();
        }
        self.drain();
    }
}
