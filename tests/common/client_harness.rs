//! Client test harness: a [`Client`] over [`Value`] host values, a fake session storage
//! and a simulated clock. Every input drains the outputs so a test asserts each step.

use wafer_core::client::{Client, Host, Output, StoredView, TunnelId};
use wafer_core::session::{FlowId, OpId, StoredSession, MAGIC_ID};
use wafer_core::tunnel::ConnId;
use wafer_core::value::Value;
use wafer_core::Millis;

/// An output of the client under test.
pub type Out = Output<Value>;

/// The login URL the harness sets.
pub const LOGIN_URL: &str = "https://app.example.com/login";
/// The tunnel service URL of the harness's tunnels.
pub const SERVICE_URL: &str = "https://app.example.com/tunnel";

/// Session storage as wx keeps it: one value, compared by `skey`.
#[derive(Default)]
pub struct FakeStorage {
    /// What is stored under the session key.
    pub value: Option<Value>,
    /// Writes fail (storage full).
    pub full: bool,
    /// Reads so far.
    pub reads: usize,
    /// The simulated clock's time, as the client reads it.
    pub now: Millis,
}

impl FakeStorage {
    /// The host at the time `now`.
    pub fn at(&mut self, now: Millis) -> &mut Self {
        self.now = now;
        self
    }
}

impl Host<Value> for FakeStorage {
    fn now(&mut self) -> Millis {
        self.now
    }
    fn read(&mut self, current: Option<&StoredSession<Value>>) -> StoredView<Value> {
        self.reads += 1;
        let Some(v) = &self.value else { return StoredView::Empty };
        match v.prop("skey") {
            Value::String(s) if !s.is_empty() => {
                if current.is_some_and(|c| c.skey == s) {
                    StoredView::Same
                } else {
                    StoredView::Other(v.clone())
                }
            }
            _ => StoredView::Empty,
        }
    }
    fn write(&mut self, session: &StoredSession<Value>) -> bool {
        if self.full {
            return false;
        }
        self.value = Some(session.stored.clone().unwrap_or_else(|| {
            let id = session.id.as_deref().map_or(Value::Undefined, Value::str);
            Value::object([("id", id), ("skey", Value::str(&session.skey))])
        }));
        true
    }
    fn remove(&mut self) {
        self.value = None;
    }
}

/// The client under test, its storage and clock.
pub struct ClientHarness {
    /// The client under test.
    pub client: Client<Value>,
    /// Its session storage.
    pub storage: FakeStorage,
    /// The simulated clock.
    pub now: Millis,
    next_op: u32,
}

impl Default for ClientHarness {
    fn default() -> Self {
        Self::new()
    }
}

impl ClientHarness {
    /// A client with [`LOGIN_URL`] set, empty storage, at time 0.
    pub fn new() -> Self {
        let mut client = Client::new();
        assert!(client.set_login_url(&Value::str(LOGIN_URL)));
        ClientHarness { client, storage: FakeStorage::default(), now: 0, next_op: 0 }
    }

    /// Every output since the last call.
    pub fn drain(&mut self) -> Vec<Out> {
        std::iter::from_fn(|| self.client.poll_output()).collect()
    }

    /// A fresh user op id.
    pub fn op(&mut self) -> OpId {
        self.next_op += 1;
        OpId(self.next_op)
    }

    /// `request(options)`; returns its op and the outputs.
    pub fn request(&mut self, options: Value) -> (OpId, Vec<Out>) {
        let op = self.op();
        self.client.request(op, &options, self.storage.at(self.now));
        (op, self.drain())
    }

    /// `login()`.
    pub fn login(&mut self) -> (OpId, Vec<Out>) {
        let op = self.op();
        self.client.login(op, &Value::Undefined, false, self.storage.at(self.now));
        (op, self.drain())
    }

    /// `new Tunnel(SERVICE_URL, options)`.
    pub fn create(&mut self, options: Value) -> TunnelId {
        self.client
            .create_tunnel(&Value::str(SERVICE_URL), &options, false, self.storage.at(self.now))
            .expect("no other tunnel open")
    }

    /// `tunnel.open()`.
    pub fn open(&mut self, id: TunnelId) -> Vec<Out> {
        self.client.open_tunnel(id, self.storage.at(self.now));
        self.drain()
    }

    /// `tunnel.close()`.
    pub fn close(&mut self, id: TunnelId) -> Vec<Out> {
        self.client.close_tunnel(id, self.storage.at(self.now));
        self.drain()
    }

    /// `tunnel.emit(packet)` with the host not performing anything.
    pub fn emit(&mut self, id: TunnelId, packet: &str) -> (wafer_core::client::Emitted<Value>, Vec<Out>) {
        let e = self.client.emit(id, Value::str(packet), true, self.storage.at(self.now));
        (e, self.drain())
    }

    /// Answers a session request (user or tunnel URL) with `res`.
    pub fn answer(&mut self, op: OpId, attempt: u32, res: Value) -> Vec<Out> {
        self.client.handle_request_response(op, attempt, true, res, self.storage.at(self.now));
        self.drain()
    }

    /// Answers `wx.login` with code `code`.
    pub fn wx_login(&mut self, flow: FlowId, code: &str) -> Vec<Out> {
        let res = Value::object([("code", Value::str(code))]);
        self.client.handle_wx_login(flow, true, res, self.storage.at(self.now));
        self.drain()
    }

    /// Answers `wx.getUserInfo`.
    pub fn user_info(&mut self, flow: FlowId) -> Vec<Out> {
        let res = Value::object([
            ("userInfo", Value::object([("nickName", Value::str("alice"))])),
            ("encryptedData", Value::str("ENC")),
            ("iv", Value::str("IV")),
        ]);
        self.client.handle_user_info(flow, true, res, self.storage.at(self.now));
        self.drain()
    }

    /// Answers the login request with v1 session `(id, skey)`.
    pub fn login_ok(&mut self, flow: FlowId, id: &str, skey: &str) -> Vec<Out> {
        let body = Value::object([
            (MAGIC_ID, Value::Number(1.0)),
            ("session", Value::object([("id", Value::str(id)), ("skey", Value::str(skey))])),
        ]);
        self.client.handle_login_response(flow, true, Value::response(200.0, body), self.storage.at(self.now));
        self.drain()
    }

    /// Runs a whole login flow started by `first` (its `WxLogin` output) with session `(id, skey)`.
    pub fn complete_login(&mut self, first: &[Out], id: &str, skey: &str) -> Vec<Out> {
        let flow = wx_login_flow(first).expect("a wx.login output");
        let out = self.wx_login(flow, "code");
        assert!(matches!(out.as_slice(), [Output::GetUserInfo { .. }]), "{out:?}");
        let out = self.user_info(flow);
        assert!(matches!(out.as_slice(), [Output::LoginRequest { .. }]), "{out:?}");
        self.login_ok(flow, id, skey)
    }

    /// The socket of `conn` opens.
    pub fn socket_open(&mut self, id: TunnelId, conn: ConnId) -> Vec<Out> {
        self.client.handle_socket_open(id, conn, self.storage.at(self.now));
        self.drain()
    }

    /// Moves the clock to `at`, firing the timer at each deadline on the way.
    pub fn advance_to(&mut self, at: Millis) -> Vec<(Millis, Out)> {
        let mut log = Vec::new();
        while let Some(t) = self.client.poll_timeout().filter(|t| *t <= at) {
            self.now = self.now.max(t);
            self.client.handle_timeout(self.storage.at(self.now));
            log.extend(self.drain().into_iter().map(|o| (self.now, o)));
        }
        self.now = at;
        log
    }

    /// Opens tunnel `id` through its URL request answered with `wss://…/n`: returns the
    /// connection, after `connect`.
    pub fn connect(&mut self, id: TunnelId, n: u32) -> ConnId {
        let out = self.open(id);
        let (op, attempt) = tunnel_url_request(&out).expect("a tunnel URL request");
        let out = self.answer(op, attempt, url_response(n));
        let conn = connect_of(&out).expect("a Connect output");
        self.socket_open(id, conn);
        conn
    }
}

/// A v1 tunnel URL response for socket `n`.
pub fn url_response(n: u32) -> Value {
    Value::response(200.0, Value::object([("url", Value::str(&format!("wss://ws.example.com/{n}")))]))
}

/// A magic-id body with `error`.
pub fn magic_error(error: &str) -> Value {
    Value::response(
        200.0,
        Value::object([(MAGIC_ID, Value::Number(1.0)), ("error", Value::str(error)), ("message", Value::str("m"))]),
    )
}

/// The flow of the first `WxLogin` output.
pub fn wx_login_flow(outs: &[Out]) -> Option<FlowId> {
    outs.iter().find_map(|o| match o {
        Output::WxLogin { flow } => Some(*flow),
        _ => None,
    })
}

/// The op and attempt of the first tunnel URL request.
pub fn tunnel_url_request(outs: &[Out]) -> Option<(OpId, u32)> {
    outs.iter().find_map(|o| match o {
        Output::SendTunnelUrl { op, attempt, .. } => Some((*op, *attempt)),
        _ => None,
    })
}

/// The headers of the first tunnel URL request.
pub fn tunnel_url_headers(outs: &[Out]) -> Option<Vec<(&'static str, String)>> {
    outs.iter().find_map(|o| match o {
        Output::SendTunnelUrl { headers, .. } => Some(headers.to_vec()),
        _ => None,
    })
}

/// The connection of the first `Connect` output.
pub fn connect_of(outs: &[Out]) -> Option<ConnId> {
    outs.iter().find_map(|o| match o {
        Output::Connect { conn, .. } => Some(*conn),
        _ => None,
    })
}

/// v1 session headers.
pub fn headers(id: &str, skey: &str) -> Vec<(&'static str, String)> {
    vec![("X-WX-Id", id.to_owned()), ("X-WX-Skey", skey.to_owned())]
}

/// A v1 session as the page (or another copy of the SDK) stores it.
pub fn stored(id: &str, skey: &str) -> Value {
    Value::object([("id", Value::str(id)), ("skey", Value::str(skey)), ("userInfo", Value::object([]))])
}
