//! Fuzz checks of the protocol core (`wafer-core`), one module per cargo-fuzz target:
//!
//! - [`frame`]: the frame codec (`frame::parse`, `parse_timeout`, `split`, event names);
//! - [`classify`]: every response classification (`read_login_response`,
//!   `read_request_response`, `socket_url_of`, `parse_stored`, `tunnel_config`) on value
//!   trees built from the input, v1 and v2 shapes, each also run through a [`Client`];
//! - [`client`]: the client state machine driven by a sequence of user calls, host answers,
//!   socket events, network changes and time steps decoded from the input, with the
//!   invariants of issue 12 checked after every step and at the end.
//!
//! A violated invariant panics (libFuzzer reports it as a crash). Nothing here depends on
//! libFuzzer: `tests/fuzz_replay.rs` includes this file and replays every input under
//! `fuzz/regressions/` with `cargo test`.

use std::collections::BTreeMap;

use wafer_core::client::{
    parse_stored, read_login_response, read_request_response, socket_url_of, tunnel_config, Client, Emitted, Host,
    Output, StoredView, TunnelId, INTERNAL_OP_BASE,
};
use wafer_core::session::{FlowId, OpId, StoredSession, MAGIC_ID};
use wafer_core::tunnel::{Backoff, ConnId, Event, Outbound, TunnelError, TunnelStatus};
use wafer_core::value::{Field, HostValue, Value};
use wafer_core::Millis;

/// Reads choices off the fuzz input; zeros once it is exhausted.
pub struct Bytes<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Bytes<'a> {
    /// A reader at the start of `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Bytes { data, pos: 0 }
    }

    /// Whether every byte was read.
    pub fn is_empty(&self) -> bool {
        self.pos >= self.data.len()
    }

    /// The next byte (0 past the end).
    pub fn byte(&mut self) -> u8 {
        let b = self.data.get(self.pos).copied().unwrap_or(0);
        self.pos = self.pos.saturating_add(1);
        b
    }

    /// A little-endian u16.
    pub fn u16(&mut self) -> u16 {
        u16::from(self.byte()) | u16::from(self.byte()) << 8
    }

    /// A little-endian u32.
    pub fn u32(&mut self) -> u32 {
        u32::from(self.u16()) | u32::from(self.u16()) << 16
    }

    /// A little-endian u64.
    pub fn u64(&mut self) -> u64 {
        u64::from(self.u32()) | u64::from(self.u32()) << 32
    }

    /// A number below `n` (0 when `n` is 0 or 1).
    pub fn below(&mut self, n: usize) -> usize {
        match n {
            0 | 1 => 0,
            2..=256 => usize::from(self.byte()) % n,
            _ => (self.u32() as usize) % n,
        }
    }

    /// True with probability `p`/256.
    pub fn chance(&mut self, p: u8) -> bool {
        self.byte() < p
    }

    /// One of `items` (which must not be empty).
    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }

    /// Raw text of at most `max` bytes (lossy UTF-8).
    pub fn text(&mut self, max: usize) -> String {
        let len = self.below(max + 1).min(self.data.len().saturating_sub(self.pos));
        let start = self.pos.min(self.data.len());
        let end = (start + len).min(self.data.len());
        self.pos = self.pos.saturating_add(len);
        String::from_utf8_lossy(&self.data[start..end]).into_owned()
    }
}

/// Value trees biased towards what the core reads (field names, statuses, codes).
pub mod gen {
    use super::*;

    /// Property names worth producing.
    pub const KEYS: &[&str] = &[
        "statusCode",
        "data",
        "code",
        "session",
        "id",
        "skey",
        "error",
        "message",
        "url",
        "connectUrl",
        "tunnelId",
        "userInfo",
        "userinfo",
        "encryptedData",
        "iv",
        "timeout",
        "login",
        "loginUrl",
        "header",
        "method",
        "codeOnly",
        "detail",
        "maxReconnectTryTimes",
        "reconnectTimeIncrease",
        "backoff",
        "backoffCap",
        "jitter",
        "maxQueue",
        "heartbeat",
        "openTimeout",
        "seed",
        "type",
        "Referer",
        "REFERER",
        MAGIC_ID,
    ];

    /// Strings worth producing.
    pub const STRINGS: &[&str] = &[
        "",
        "200",
        " 200 ",
        "200.0",
        "401",
        "0",
        "-1",
        "1e3",
        "0x10",
        "NaN",
        "Infinity",
        "ERR_INVALID_SESSION",
        "ERR_CHECK_LOGIN_FAILED",
        "ERR_SESSION_INVALID",
        "wss://ws.example.com/1",
        "ws://127.0.0.1:8700/ws/2",
        "exponential",
        "linear",
        "get",
        "POST",
        "{\"code\":0}",
        "{",
        "skey",
        "dev:alice",
        "99999999999999999999999999999999999",
    ];

    /// Numbers worth producing.
    pub const NUMBERS: &[f64] = &[
        0.0,
        -0.0,
        1.0,
        -1.0,
        2.0,
        5.0,
        200.0,
        200.5,
        401.0,
        500.0,
        1023.0,
        1024.0,
        0.5,
        0.004,
        1e9,
        1e300,
        -1e300,
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::MAX,
        f64::MIN_POSITIVE,
        3_600_000.0,
        86_400_000.0,
        4_294_967_296.0,
        18_446_744_073_709_551_616.0,
    ];

    /// A number: from [`NUMBERS`], small, or any bit pattern.
    pub fn number(b: &mut Bytes) -> f64 {
        match b.below(4) {
            0 | 1 => b.pick(NUMBERS),
            2 => f64::from(b.u16()) - 100.0,
            _ => f64::from_bits(b.u64()),
        }
    }

    /// A string: from [`STRINGS`], or raw.
    pub fn string(b: &mut Bytes) -> String {
        if b.chance(192) {
            b.pick(STRINGS).to_owned()
        } else {
            b.text(24)
        }
    }

    /// A property name: from [`KEYS`], or raw.
    pub fn key(b: &mut Bytes) -> String {
        if b.chance(224) {
            b.pick(KEYS).to_owned()
        } else {
            b.text(12)
        }
    }

    /// Any value, objects nested at most `depth` deep.
    pub fn value(b: &mut Bytes, depth: u32) -> Value {
        match b.below(if depth == 0 { 5 } else { 8 }) {
            0 => Value::Undefined,
            1 => Value::Null,
            2 => Value::Bool(b.chance(128)),
            3 => Value::Number(number(b)),
            4 => Value::String(string(b)),
            _ => {
                let n = b.below(6);
                Value::Object((0..n).map(|_| (key(b), value(b, depth - 1))).collect())
            }
        }
    }

    /// A value that is usually like `typical`, sometimes anything.
    pub fn mostly(b: &mut Bytes, typical: Value) -> Value {
        if b.chance(208) {
            typical
        } else {
            value(b, 2)
        }
    }

    /// An object from pairs, each kept with high probability, plus maybe a random pair.
    pub fn object(b: &mut Bytes, pairs: Vec<(&str, Value)>) -> Value {
        let mut props: Vec<(String, Value)> = Vec::new();
        for (k, v) in pairs {
            if b.chance(240) {
                let v = mostly(b, v);
                props.push((k.to_owned(), v));
            }
        }
        if b.chance(32) {
            props.push((key(b), value(b, 2)));
        }
        if props.len() > 1 && b.chance(32) {
            props.swap(0, 1);
        }
        Value::Object(props)
    }

    /// A wx response: `{statusCode, data}` with a body of one of the protocol's shapes.
    pub fn response(b: &mut Bytes) -> Value {
        if b.chance(24) {
            return value(b, 4);
        }
        let status = match b.below(6) {
            0..=2 => Value::Number(200.0),
            3 => Value::str("200"),
            4 => Value::Number(b.pick(&[401.0, 500.0, 404.0, 0.0])),
            _ => value(b, 0),
        };
        let body = body(b);
        object(b, vec![("statusCode", status), ("data", body)])
    }

    /// A response body of one of the protocol's shapes (v1, v2, tunnel, errors), or garbage.
    pub fn body(b: &mut Bytes) -> Value {
        let skey = Value::String(if b.chance(224) { format!("s{}", b.byte()) } else { string(b) });
        let magic = Value::Number(1.0);
        match b.below(9) {
            0 => {
                let session = object(b, vec![("id", Value::str("i")), ("skey", skey)]);
                object(b, vec![(MAGIC_ID, magic), ("session", session), ("userInfo", Value::object([]))])
            }
            1 => {
                let error = Value::str(b.pick(&["ERR_INVALID_SESSION", "ERR_CHECK_LOGIN_FAILED", "ERR_LOGIN_FAILED"]));
                object(b, vec![(MAGIC_ID, magic), ("error", error), ("message", Value::str("m"))])
            }
            2 => {
                let data = object(b, vec![("skey", skey), ("userinfo", Value::object([]))]);
                object(b, vec![("code", Value::Number(0.0)), ("data", data)])
            }
            3 => object(b, vec![("code", Value::Number(-1.0)), ("error", Value::str("ERR_SESSION_INVALID"))]),
            4 => object(b, vec![("url", Value::str("wss://ws.example.com/t"))]),
            5 => {
                let data = object(b, vec![("tunnelId", Value::str("t")), ("connectUrl", Value::str("wss://ws/v2"))]);
                object(b, vec![("code", Value::Number(0.0)), ("data", data)])
            }
            6 => Value::String(string(b)),
            _ => value(b, 3),
        }
    }
}

/// Session storage and clock of a simulated host (wx storage compared by `skey`).
#[derive(Default)]
pub struct SimHost {
    /// What is stored under the session key.
    pub value: Option<Value>,
    /// Writes fail (storage full).
    pub full: bool,
    /// The clock.
    pub now: Millis,
}

impl Host<Value> for SimHost {
    fn now(&mut self) -> Millis {
        self.now
    }
    fn read(&mut self, current: Option<&StoredSession<Value>>) -> StoredView<Value> {
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

/// Structural equality that takes NaN as equal to itself (a response passed through).
pub fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.to_bits() == y.to_bits() || x == y,
        (Value::Object(p), Value::Object(q)) => {
            p.len() == q.len() && p.iter().zip(q).all(|((k, v), (l, w))| k == l && same(v, w))
        }
        _ => a == b,
    }
}

/// Drains every output of `client`.
pub fn drain(client: &mut Client<Value>) -> Vec<Output<Value>> {
    std::iter::from_fn(|| client.poll_output()).collect()
}

/// The frame codec.
pub mod frame {
    use wafer_core::frame::*;

    /// An exact decimal reference for `timeout:N` (at most 32 characters): milliseconds,
    /// rounded half up at the fourth decimal, clamped; `None` unless positive.
    fn reference_timeout(body: &str) -> Option<u64> {
        let t = body.trim();
        let t = t.strip_prefix('"').and_then(|s| s.strip_suffix('"')).unwrap_or(t).trim();
        if t.is_empty() || t.len() > 32 {
            return None;
        }
        let (int, frac) = match t.find('.') {
            Some(i) => (&t[..i], &t[i + 1..]),
            None => (t, ""),
        };
        if int.is_empty() && frac.is_empty() {
            return None;
        }
        if !int.chars().all(|c| c.is_ascii_digit()) || !frac.chars().all(|c| c.is_ascii_digit()) {
            return None;
        }
        // Exact: up to 32 digits fit in u128 (10^32 < 2^107).
        let int_v: u128 = if int.is_empty() { 0 } else { int.parse().ok()? };
        let mut f: Vec<u8> = frac.bytes().map(|c| c - b'0').collect();
        f.resize(4, 0);
        let ms =
            int_v * 1000 + u128::from(f[0]) * 100 + u128::from(f[1]) * 10 + u128::from(f[2]) + u128::from(f[3] >= 5);
        let positive = int_v > 0 || frac.bytes().any(|c| c != b'0');
        positive.then(|| ms.clamp(u128::from(MIN_HEARTBEAT_MS), u128::from(MAX_HEARTBEAT_MS)) as u64)
    }

    /// Decodes `data` as a frame (and as a timeout body) and checks the codec's promises.
    pub fn check(data: &[u8]) {
        let text = String::from_utf8_lossy(data);
        let text: &str = &text;
        let (head, body) = split(text);
        match body {
            Some(b) => assert_eq!(format!("{head}:{b}"), text),
            None => assert_eq!(head, text),
        }
        assert!(!head.contains(':'), "the head ends at the first colon");
        let frame = parse(text);
        match frame {
            Frame::Message(b) => {
                assert_eq!(head, MESSAGE);
                assert_eq!(b, body.unwrap_or(""));
            }
            Frame::Ping => assert_eq!(head, PING),
            Frame::Pong => assert_eq!(head, PONG),
            Frame::Close => assert_eq!(head, CLOSE),
            Frame::Timeout(ms) => {
                assert_eq!(head, TIMEOUT);
                assert_eq!(ms, body.and_then(parse_timeout));
            }
            // An unknown head, or an extension frame whose body does not parse.
            Frame::Unknown(h) => {
                assert_eq!(h, head);
                assert!(!matches!(
                    FrameKind::from_head(h),
                    FrameKind::Message | FrameKind::Ping | FrameKind::Pong | FrameKind::Close | FrameKind::Timeout
                ));
            }
            Frame::Resumable(v) => {
                assert_eq!(head, RESUMABLE);
                assert_eq!(v, body.and_then(parse_count));
            }
            Frame::ResumeToken { grace_ms, token } => {
                assert_eq!(head, RESUME_TOKEN);
                assert_eq!(parse(&encode_with_token(RESUME_TOKEN, grace_ms / 1000, token)), frame);
            }
            // Encoding what was read reads back the same (numbers may lose leading zeros).
            Frame::Resume { received, token } => assert_eq!(parse(&encode_with_token(RESUME, received, token)), frame),
            Frame::Ack(n) => assert_eq!(parse(&encode_count(ACK, n)), frame),
            Frame::Resumed(m) => assert_eq!(parse(&encode_count(RESUMED, m)), frame),
            Frame::ResumeRefused => assert_eq!(head, RESUME_REFUSED),
        }
        for t in [text, body.unwrap_or("")] {
            let ms = parse_timeout(t);
            if let Some(ms) = ms {
                assert!((MIN_HEARTBEAT_MS..=MAX_HEARTBEAT_MS).contains(&ms), "{t:?} -> {ms}");
            }
            assert_eq!(ms, reference_timeout(t), "parse_timeout({t:?})");
        }
        // Encoding a message and parsing it gives the body back.
        assert_eq!(parse(&encode_message(text)), Frame::Message(text));
        // Event names: reserved ones are escaped, and the cheap pre-test never misses one.
        let name = event_name(text);
        if is_reserved(text) {
            assert_eq!(name, format!("@{text}"));
            let units: Vec<u16> = text.encode_utf16().collect();
            assert!(could_be_reserved(units.len() as u32, u32::from(units[0])));
        } else {
            assert_eq!(name, text);
        }
    }
}

/// Response classification, alone and through a [`Client`].
pub mod classify {
    use super::*;

    const LOGIN_URL: &str = "https://app.example.com/login";

    fn client() -> (Client<Value>, SimHost) {
        let mut c = Client::new();
        assert!(c.set_login_url(&Value::str(LOGIN_URL)));
        (c, SimHost::default())
    }

    /// The one `LoginDone` / `RequestDone` of `op` in `outs` (panics on two).
    fn dones(outs: &[Output<Value>], op: OpId) -> usize {
        let n = outs
            .iter()
            .filter(|o| matches!(o, Output::LoginDone { op: o, .. } | Output::RequestDone { op: o, .. } if *o == op))
            .count();
        assert!(n <= 1, "two completions of {op:?}: {outs:?}");
        n
    }

    /// Classifies a value built from `data` every way the core can.
    pub fn check(data: &[u8]) {
        let mut b = Bytes::new(data);
        let v = if b.chance(176) { gen::response(&mut b) } else { gen::value(&mut b, 4) };
        let body = v.response_body();
        assert!(body.is_undefined() || body.is_object());

        // The tunnel URL: only with status 200 and a non-empty v1 url or v2 connectUrl.
        let url = socket_url_of(&v);
        if let Some(u) = &url {
            assert!(!u.is_empty());
            assert_eq!(v.get(Field::statusCode).as_number(), Some(200.0));
            let v1 = body.get(Field::url).as_string();
            let v2 = body.get(Field::data).get(Field::connectUrl).as_string();
            assert!(
                v1.as_deref() == Some(u.as_str())
                    || (body.get(Field::code).as_number() == Some(0.0) && v2.as_deref() == Some(u.as_str())),
                "{u:?} from {v:?}"
            );
        }

        // A stored session needs a non-empty string skey, and keeps the value it came from.
        match parse_stored(&v) {
            Some(s) => {
                assert!(!s.skey.is_empty());
                assert_eq!(Some(s.skey.clone()), v.get_text(Field::skey));
                assert!(s.stored.is_some());
            }
            None => assert_eq!(v.get_text(Field::skey), None),
        }

        // Request responses: the summary's status is an integer in 1..1024, code 0 or -1.
        let r = read_request_response(v.clone());
        if let Some(s) = r.status {
            assert!((0.0..1024.0).contains(&s) && s.fract() == 0.0, "status {s}");
        }
        assert!(matches!(r.code, None | Some(0.0) | Some(-1.0)), "code {:?}", r.code);
        assert_eq!(r.magic, body.is_object() && body.get(Field::magic).is_truthy());
        assert!(r.magic || (r.error.is_none() && r.message.is_none()));

        // Login responses: the fields come from the body.
        let l = read_login_response(v.clone());
        assert_eq!(l.magic, body.get(Field::magic).is_truthy());
        assert_eq!(l.session_skey, body.get(Field::session).get(Field::skey).as_string());
        assert_eq!(l.v2_skey, body.get(Field::data).get(Field::skey).as_string());

        // Tunnel options: every tunable within its documented bounds.
        let now = b.u64();
        let c = tunnel_config(&v, now);
        assert!(c.max_reconnect_tries <= 1000);
        assert!((5..=3_600_000).contains(&c.ping_interval), "ping {}", c.ping_interval);
        assert!((1..=3_600_000).contains(&c.open_timeout), "open {}", c.open_timeout);
        assert!(c.max_queue >= 1);
        match c.backoff {
            Backoff::Linear { step } => assert!(step <= 3_600_000),
            Backoff::Exponential { base, cap, .. } => assert!((1..=3_600_000).contains(&base) && cap <= 3_600_000),
        }

        // Through a client: the value as login options, request options and tunnel options.
        let (mut cl, mut host) = client();
        let code_only = b.chance(128);
        cl.login(OpId(1), &v, code_only, &mut host);
        cl.request(OpId(2), &v, &mut host);
        let outs = drain(&mut cl);
        assert!(dones(&outs, OpId(1)) + dones(&outs, OpId(2)) <= 2);
        if let Ok(id) = cl.create_tunnel(&Value::str("https://svc"), &v, false, &mut host) {
            cl.open_tunnel(id, &mut host);
            drain(&mut cl);
        }

        // As a login response (v1 and v2): exactly one LoginDone; a success leaves a
        // session that storage keeps.
        let (mut cl, mut host) = client();
        let ok = b.chance(224);
        cl.login(OpId(1), &Value::Undefined, true, &mut host);
        let outs = drain(&mut cl);
        let Some(Output::WxLogin { flow }) = outs.first().cloned() else { panic!("{outs:?}") };
        cl.handle_wx_login(flow, true, Value::object([("code", Value::str("c"))]), &mut host);
        let outs = drain(&mut cl);
        assert!(matches!(outs.as_slice(), [Output::LoginRequest { .. }]), "{outs:?}");
        cl.handle_login_response(flow, ok, v.clone(), &mut host);
        let outs = drain(&mut cl);
        assert_eq!(dones(&outs, OpId(1)), 1, "{outs:?}");
        let logged_in = outs.iter().any(|o| matches!(o, Output::LoginDone { result: Ok(_), .. }));
        if logged_in {
            assert!(!cl.session_headers(&mut host).is_empty(), "a login that succeeded left no session: {v:?}");
        }

        // As a request response, with a session: one RequestDone, or one re-login.
        let (mut cl, mut host) = client();
        host.value = Some(Value::object([("id", Value::str("i")), ("skey", Value::str("s"))]));
        let options = Value::object([("url", Value::str("https://app/x"))]);
        cl.request(OpId(1), &options, &mut host);
        let outs = drain(&mut cl);
        assert!(matches!(outs.as_slice(), [Output::Send { attempt: 0, .. }]), "{outs:?}");
        cl.handle_request_response(OpId(1), 0, ok, v.clone(), &mut host);
        let outs = drain(&mut cl);
        let relogin = outs.iter().any(|o| matches!(o, Output::WxLogin { .. } | Output::CheckSession { .. }));
        assert_eq!(dones(&outs, OpId(1)) + usize::from(relogin), 1, "{outs:?}");
        if let Some(Output::RequestDone { result: Ok(raw), .. }) = outs.last() {
            assert!(ok && !r.magic && r.code != Some(-1.0) && r.status != Some(401.0));
            assert!(same(raw, &v), "success with another value: {raw:?}");
        }

        // As a tunnel URL response: a socket, or error 1001 and closed.
        let (mut cl, mut host) = client();
        let id = cl.create_tunnel(&Value::str("https://svc"), &Value::Undefined, false, &mut host).expect("first");
        cl.open_tunnel(id, &mut host);
        let outs = drain(&mut cl);
        let Some((op, attempt)) = outs.iter().find_map(|o| match o {
            Output::SendTunnelUrl { op, attempt, .. } => Some((*op, *attempt)),
            _ => None,
        }) else {
            panic!("{outs:?}")
        };
        cl.handle_request_response(op, attempt, ok, v.clone(), &mut host);
        let outs = drain(&mut cl);
        let connect = outs.iter().any(|o| matches!(o, Output::Connect { .. }));
        let failed = outs
            .iter()
            .any(|o| matches!(o, Output::Event { event: Event::Error { error: TunnelError::ConnectService, .. }, .. }));
        let relogin = outs.iter().any(|o| matches!(o, Output::WxLogin { .. } | Output::CheckSession { .. }));
        assert_eq!(usize::from(connect) + usize::from(failed) + usize::from(relogin), 1, "{outs:?}");
        if connect {
            assert!(ok && url.is_some());
            assert_eq!(cl.tunnel_status(id), TunnelStatus::Connecting);
        }
        if failed {
            assert_eq!(cl.tunnel_status(id), TunnelStatus::Closed);
        }
    }
}

/// The client state machine under arbitrary input sequences.
pub mod client {
    use super::*;
    use wafer_core::frame::{Frame, RESUMABLE_V1};

    /// Steps per input at most (an input of n bytes makes at most about n/2 steps).
    const MAX_STEPS: usize = 400;

    #[derive(Clone, Copy, Debug, PartialEq)]
    enum OpKind {
        Login,
        Request,
    }

    #[derive(Debug)]
    struct OpState {
        kind: OpKind,
        done: bool,
        /// Attempts sent (`Send`).
        attempts: Vec<u32>,
        /// Marker of the last response given to it.
        last_answer: Option<f64>,
        /// A login call's deadline (its `timeout` option, else 30 s, from the call).
        deadline: Option<Millis>,
    }

    #[derive(Clone, Copy, Debug, PartialEq)]
    enum Sock {
        /// `wx.connectSocket` called, not open yet.
        Pending,
        /// Open.
        Open,
        /// Closed by the core, or reported closed/failed by the host.
        Dead,
    }

    #[derive(Debug)]
    struct TunnelModel {
        id: TunnelId,
        url: String,
        conns: Vec<(ConnId, Sock)>,
        /// The connection the core has not closed yet.
        live: Option<ConnId>,
        /// URL-request attempts seen.
        url_attempts: Vec<(OpId, u32)>,
        /// `maxReconnectTryTimes` as its options give it.
        max_tries: u32,
        /// The `resume` option (the extension announced on a new tunnel's socket).
        resume_on: bool,
        /// The `maxUnacked` option.
        max_unacked: usize,
        /// The socket URL of the last `Connect` that was not a resume socket.
        socket_url: Option<String>,
        /// The client stream (index in `Sim::streams`) of the current tunnel, from its
        /// announce until a socket to a new URL opens.
        stream: Option<usize>,
        /// Connections that are resume sockets.
        resume_conns: Vec<ConnId>,
        /// Connections some frame was written on.
        written: Vec<ConnId>,
        /// When the last loss (`reconnecting`) happened, and the resume sockets since.
        loss_at: Millis,
        resume_tries: u32,
    }

    /// A client stream of the resume extension (docs/RESUME.md): the messages written
    /// after one announce, over the sockets of one service-side tunnel.
    #[derive(Debug, Default)]
    struct Stream {
        /// The `resume-token` delivered while the tunnel was active (and its grace, ms).
        token: Option<String>,
        grace: Millis,
        /// No keeping any more: a `pong` came before a token, or more than `maxUnacked`
        /// messages waited for an `ack` (nothing can be replayed).
        spent: bool,
        /// Refused, or the tunnel closed: no resume socket any more.
        ended: bool,
        /// The packets numbered on this stream, in order (number = index + 1).
        sent: Vec<usize>,
        /// The client keeps the packets numbered above this: the service acknowledged up
        /// to here (`ack`, `resumed`).
        floor: usize,
        /// Messages of the service's stream counted by the client, and as last written in
        /// an `ack` or `resume` frame.
        received: u64,
        acked_out: u64,
    }

    #[derive(Clone, Copy, Debug, PartialEq)]
    enum Fate {
        InCore,
        WithDriver(ConnId),
        Returned,
    }

    #[derive(Debug)]
    struct Packet {
        tunnel: TunnelId,
        fate: Fate,
        /// The stream it was last written on (while that stream kept messages).
        stream: Option<usize>,
        /// An `ack` or `resumed` of that stream covered it (the service has it: its send
        /// cannot fail, and the client no longer keeps it).
        acked: bool,
    }

    /// A check that can only be made once a step's outputs were read.
    #[derive(Debug)]
    enum Expect {
        /// `resumed:<m>` accepted on `conn`: the packets of the stream above `m` are written
        /// again there, first and in order, and the tunnel is active.
        Replay { tunnel: TunnelId, conn: ConnId, packets: Vec<usize> },
    }

    #[derive(Clone, Copy, Debug, PartialEq)]
    enum Call {
        CheckSession(FlowId),
        WxLogin(FlowId),
        UserInfo(FlowId),
        LoginRequest(FlowId),
        Request(OpId, u32),
        TunnelUrl(OpId, u32),
    }

    /// The client, the simulated host and the model of what the host was asked.
    struct Sim {
        client: Client<Value>,
        host: SimHost,
        next_op: u32,
        ops: BTreeMap<u32, OpState>,
        /// Host calls the client made and the host has not answered.
        pending: Vec<Call>,
        /// Host calls answered already (answering again must change nothing).
        answered: Vec<Call>,
        last_flow: Option<FlowId>,
        tunnels: Vec<TunnelModel>,
        packets: Vec<Packet>,
        streams: Vec<Stream>,
        /// What the outputs of the current step must show.
        expect: Option<Expect>,
        network_watched: bool,
        online: bool,
        markers: f64,
        /// Steps so far (for messages).
        step: usize,
        log: Vec<String>,
    }

    /// Panics with the step log.
    macro_rules! violation {
        ($sim:expr, $($arg:tt)*) => {{
            let log = if verbose() { $sim.log.join("\n") } else { "(set WAFER_FUZZ_LOG=1 to log the steps)".to_owned() };
            panic!("invariant violated at step {}: {}\nsteps:\n{}", $sim.step, format!($($arg)*), log)
        }};
    }

    /// Whether steps are logged (set `WAFER_FUZZ_LOG=1` to see them in a crash report).
    fn verbose() -> bool {
        static V: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        *V.get_or_init(|| std::env::var_os("WAFER_FUZZ_LOG").is_some())
    }

    /// Logs a step (only when [`verbose`]).
    macro_rules! log {
        ($sim:expr, $($arg:tt)*) => {
            if verbose() {
                $sim.log.push(format!($($arg)*));
            }
        };
    }

    macro_rules! check {
        ($sim:expr, $cond:expr, $($arg:tt)*) => {
            if !$cond {
                violation!($sim, $($arg)*);
            }
        };
    }

    impl Sim {
        fn new() -> Self {
            let mut client = Client::new();
            client.set_login_url(&Value::str("https://app.example.com/login"));
            Sim {
                client,
                host: SimHost::default(),
                next_op: 0,
                ops: BTreeMap::new(),
                pending: Vec::new(),
                answered: Vec::new(),
                last_flow: None,
                tunnels: Vec::new(),
                packets: Vec::new(),
                streams: Vec::new(),
                expect: None,
                network_watched: false,
                online: true,
                markers: 0.0,
                step: 0,
                log: Vec::new(),
            }
        }

        fn new_op(&mut self, kind: OpKind) -> OpId {
            self.next_op += 1;
            self.ops.insert(
                self.next_op,
                OpState { kind, done: false, attempts: Vec::new(), last_answer: None, deadline: None },
            );
            OpId(self.next_op)
        }

        fn tunnel(&self, id: TunnelId) -> Option<usize> {
            self.tunnels.iter().position(|t| t.id == id)
        }

        fn statuses(&self) -> Vec<TunnelStatus> {
            self.tunnels.iter().map(|t| self.client.tunnel_status(t.id)).collect()
        }

        /// A marked response (its `__n` tells which answer a `RequestDone` carries).
        fn mark(&mut self, v: Value) -> (Value, f64) {
            self.markers += 1.0;
            let n = self.markers;
            match v {
                Value::Object(mut props) => {
                    props.insert(0, ("__n".to_owned(), Value::Number(n)));
                    (Value::Object(props), n)
                }
                other => (other, -1.0),
            }
        }

        /// Drains and checks the outputs of one input. `before`: tunnel statuses before it.
        /// `stale`: the input was stale (nothing may come out). `bad_op`: a user op the
        /// client must refuse at once.
        fn settle(&mut self, before: &[TunnelStatus], stale: bool, bad_op: Option<(OpId, OpKind)>) {
            let outs = drain(&mut self.client);
            if stale && !outs.is_empty() {
                violation!(self, "output for a stale input: {outs:?}");
            }
            let mut bad_done = false;
            // Packets written on the socket of an expected replay, in order.
            let mut replayed: Vec<Value> = Vec::new();
            // Per tunnel: a `close` event was output in this step.
            let mut closed: BTreeMap<u32, bool> = BTreeMap::new();
            for out in &outs {
                log!(self, "    -> {out:?}");
                match out {
                    Output::CheckSession { flow } | Output::WxLogin { flow } => {
                        self.flow_output(*flow);
                        let call = match out {
                            Output::CheckSession { .. } => Call::CheckSession(*flow),
                            _ => Call::WxLogin(*flow),
                        };
                        self.pending.push(call);
                    }
                    Output::GetUserInfo { flow } => {
                        self.flow_output(*flow);
                        self.pending.push(Call::UserInfo(*flow));
                    }
                    Output::LoginRequest { flow, .. } => {
                        self.flow_output(*flow);
                        self.pending.push(Call::LoginRequest(*flow));
                    }
                    Output::LoginDone { op, .. } | Output::RequestDone { op, .. } => {
                        let kind =
                            if matches!(out, Output::LoginDone { .. }) { OpKind::Login } else { OpKind::Request };
                        if let Some((bad, bad_kind)) = bad_op {
                            if bad == *op {
                                check!(self, kind == bad_kind && !bad_done, "refused op completed wrongly: {out:?}");
                                bad_done = true;
                                continue;
                            }
                        }
                        let Some(state) = self.ops.get_mut(&op.0) else {
                            violation!(self, "completion of an unknown op: {out:?}");
                        };
                        if state.kind != kind || state.done {
                            violation!(self, "completion of a done or other op ({state:?}): {out:?}");
                        }
                        state.done = true;
                        let expected = state.last_answer;
                        if let Output::RequestDone { result: Ok(raw), .. } = out {
                            // Objects carry the marker of the answer they were given in.
                            let got = raw.prop("__n").as_number().unwrap_or(-1.0);
                            check!(self, Some(got) == expected, "success with another response: {out:?}");
                        }
                    }
                    Output::Send { op, attempt, .. } => {
                        let Some(state) = self.ops.get_mut(&op.0) else {
                            violation!(self, "send of an unknown op: {out:?}");
                        };
                        if state.kind != OpKind::Request || state.done || state.attempts.contains(attempt) {
                            violation!(self, "send of a done op or a repeated attempt ({state:?}): {out:?}");
                        }
                        check!(self, *attempt <= 1, "more than one re-login for a request: {out:?}");
                        state.attempts.push(*attempt);
                        self.pending.push(Call::Request(*op, *attempt));
                    }
                    Output::SendTunnelUrl { op, attempt, url, .. } => {
                        check!(self, op.0 > INTERNAL_OP_BASE, "tunnel URL request with a user op id: {out:?}");
                        check!(self, *attempt <= 1, "more than one re-login for a tunnel URL: {out:?}");
                        let same_url = self.tunnels.iter().filter(|t| t.url == *url).count();
                        if let Some(t) =
                            self.tunnels.iter_mut().find(|t| !t.url.is_empty() && t.url == *url && same_url == 1)
                        {
                            let seen = t.url_attempts.contains(&(*op, *attempt));
                            if seen {
                                violation!(self, "tunnel URL attempt sent twice: {out:?}");
                            }
                            t.url_attempts.push((*op, *attempt));
                        }
                        self.pending.push(Call::TunnelUrl(*op, *attempt));
                    }
                    Output::Connect { tunnel, conn, url } => {
                        let Some(i) = self.tunnel(*tunnel) else { violation!(self, "connect of unknown tunnel") };
                        let was = before.get(i).copied().unwrap_or(TunnelStatus::Closed);
                        let status = self.client.tunnel_status(*tunnel);
                        // A socket to a new URL sets the tunnel's socket URL; a resume socket
                        // goes to the last one plus `resume` and leaves it as it was.
                        let resume = self.client.socket_url(*tunnel) != Some(url.as_str());
                        let t = &mut self.tunnels[i];
                        if t.live.is_some() || t.conns.last().is_some_and(|(c, _)| c >= conn) {
                            violation!(self, "second socket or conn id not increasing: {out:?} ({t:?})");
                        }
                        t.live = Some(*conn);
                        t.conns.push((*conn, Sock::Pending));
                        if resume {
                            t.resume_conns.push(*conn);
                            t.resume_tries += 1;
                            let tries = t.resume_tries;
                            let expected = t.socket_url.as_ref().map(|u| {
                                let sep = if u.contains('?') { '&' } else { '?' };
                                format!("{u}{sep}resume")
                            });
                            let loss_at = t.loss_at;
                            let stream = t.stream.map(|s| &self.streams[s]);
                            check!(self, expected.as_ref() == Some(url), "resume socket to {url:?}, not {expected:?}");
                            check!(
                                self,
                                was == TunnelStatus::Reconnecting && status == TunnelStatus::Reconnecting,
                                "resume socket from {was:?} to {status:?}: {out:?}"
                            );
                            let Some(s) = stream else { violation!(self, "resume socket without a stream: {out:?}") };
                            check!(
                                self,
                                s.token.is_some() && !s.spent && !s.ended,
                                "resume socket for a stream that cannot resume ({s:?}): {out:?}"
                            );
                            check!(
                                self,
                                self.host.now < loss_at.saturating_add(s.grace),
                                "resume socket at {} after the grace period (loss at {loss_at}, {s:?})",
                                self.host.now
                            );
                            check!(self, tries <= 2, "resume socket {tries} after one loss: {out:?}");
                        } else {
                            t.socket_url = Some(url.clone());
                        }
                    }
                    Output::SendFrame { tunnel, conn, frame } => {
                        let Some(i) = self.tunnel(*tunnel) else { violation!(self, "send on unknown tunnel") };
                        let t = &self.tunnels[i];
                        let open = t.conns.iter().any(|(c, s)| c == conn && *s == Sock::Open);
                        if t.live != Some(*conn) || !open {
                            violation!(self, "frame for a stale or unopened socket: {out:?} ({t:?})");
                        }
                        let first = !t.written.contains(conn);
                        let resume_conn = t.resume_conns.contains(conn);
                        self.tunnels[i].written.push(*conn);
                        if resume_conn && first {
                            let resume = matches!(frame, Outbound::Control(c) if c.starts_with("resume:"));
                            check!(self, resume, "the first frame on a resume socket is not `resume`: {out:?}");
                        }
                        if !resume_conn && first && self.tunnels[i].resume_on {
                            let announce = matches!(frame, Outbound::Control(c) if c == RESUMABLE_V1);
                            check!(
                                self,
                                announce,
                                "the first frame on a new tunnel's socket is not the announce: {out:?}"
                            );
                        }
                        match frame {
                            Outbound::Packet(p) => {
                                self.packet_written(p, i, *conn);
                                if let Some(Expect::Replay { conn: c, .. }) = &self.expect {
                                    if c == conn {
                                        replayed.push(p.clone());
                                    }
                                }
                            }
                            Outbound::Control(text) => self.control_written(text, i, *conn, first, resume_conn),
                            Outbound::Ping | Outbound::Close => {}
                        }
                    }
                    Output::CloseSocket { tunnel, conn } => {
                        let Some(i) = self.tunnel(*tunnel) else { violation!(self, "close of unknown tunnel") };
                        if self.tunnels[i].live != Some(*conn) {
                            violation!(self, "close of a socket that is not live: {out:?}");
                        }
                        let t = &mut self.tunnels[i];
                        t.live = None;
                        for (c, s) in &mut t.conns {
                            if c == conn {
                                *s = Sock::Dead;
                            }
                        }
                    }
                    Output::Event { tunnel, event } => {
                        let Some(i) = self.tunnel(*tunnel) else { violation!(self, "event of unknown tunnel") };
                        let was = before.get(i).copied().unwrap_or(TunnelStatus::Closed);
                        let is_closed = closed.get(&tunnel.0).copied().unwrap_or(false);
                        match event {
                            Event::Error { error: TunnelError::Reconnect, .. } => {
                                check!(self, is_closed, "2001 without a close event first: {out:?}");
                                let max = self.tunnels[i].max_tries;
                                check!(self, self.online || max == 0, "gave up while offline (tries wait): {out:?}");
                            }
                            _ if is_closed => violation!(self, "event after close: {out:?}"),
                            Event::Connect => check!(self, was == TunnelStatus::Connecting, "connect from {was:?}"),
                            Event::Reconnect => {
                                check!(self, was == TunnelStatus::Reconnecting, "reconnect from {was:?}")
                            }
                            Event::Reconnecting => {
                                check!(self, was == TunnelStatus::Active, "reconnecting from {was:?}");
                                let t = &mut self.tunnels[i];
                                t.loss_at = self.host.now;
                                t.resume_tries = 0;
                            }
                            Event::Close => {
                                check!(self, was != TunnelStatus::Closed, "close of a closed tunnel");
                                closed.insert(tunnel.0, true);
                                if let Some(s) = self.tunnels[i].stream.take() {
                                    self.streams[s].ended = true;
                                }
                            }
                            Event::Error { error: TunnelError::ConnectService | TunnelError::SocketError, .. } => {
                                check!(self, was == TunnelStatus::Connecting, "{event:?} from {was:?}")
                            }
                            Event::Error { error, .. } => {
                                check!(self, *error == TunnelError::AnotherTunnelOpen, "unexpected {event:?}")
                            }
                            Event::Overflow(p) => {
                                self.move_packet(p, *tunnel, Fate::Returned);
                            }
                            Event::Unsent(ps) => {
                                check!(self, !ps.is_empty(), "empty 4002");
                                for p in ps {
                                    self.move_packet(p, *tunnel, Fate::Returned);
                                }
                            }
                        }
                    }
                    Output::ListenerError { tunnel, name, .. } => {
                        check!(self, self.tunnel(*tunnel).is_some() && name != "error", "{out:?}");
                    }
                    Output::Release { tunnel } => {
                        let held = self.packets.iter().any(|p| p.tunnel == *tunnel && p.fate == Fate::InCore);
                        let closed = self.client.tunnel_status(*tunnel) == TunnelStatus::Closed;
                        check!(self, closed && !held, "release of a tunnel with something to report: {out:?}");
                    }
                    Output::WatchNetwork => {
                        check!(self, !self.network_watched, "WatchNetwork twice");
                        self.network_watched = true;
                    }
                    // Outputs added later (a debug log line) change nothing the model follows.
                    #[allow(unreachable_patterns)]
                    _ => {}
                }
            }
            if let Some((op, _)) = bad_op {
                check!(self, bad_done, "op {op:?} with a reserved id was not refused");
            }
            if let Some(Expect::Replay { tunnel, conn, packets }) = self.expect.take() {
                let status = self.client.tunnel_status(tunnel);
                check!(self, status == TunnelStatus::Active, "{status:?} after an accepted `resumed`");
                let expected: Vec<String> = packets.iter().map(|n| format!("p{n}")).collect();
                let got: Vec<String> =
                    replayed.iter().take(expected.len()).map(|p| p.as_string().unwrap_or_default()).collect();
                check!(
                    self,
                    got == expected,
                    "replay on {conn:?} after `resumed`: {got:?}, expected {expected:?} first"
                );
            }
            self.after_step();
        }

        fn flow_output(&mut self, flow: FlowId) {
            if let Some(last) = self.last_flow {
                check!(self, flow >= last, "output of an old login flow {flow:?} after {last:?}");
            }
            self.last_flow = Some(flow);
        }

        /// Moves a packet from the core to the driver or back to the page: from the core
        /// (queued, or its send failed), or again from the driver when its stream may still
        /// need it (written again after a resume, on a new tunnel after a refusal, or
        /// reported when the tunnel closed while it was lost).
        fn move_packet(&mut self, p: &Value, tunnel: TunnelId, to: Fate) -> usize {
            let Some(n) = p.as_string().and_then(|s| s.strip_prefix('p').and_then(|n| n.parse::<usize>().ok())) else {
                violation!(self, "not a packet: {p:?}");
            };
            let resendable = self.resendable(n);
            let Some(packet) = self.packets.get_mut(n) else { violation!(self, "unknown packet {p:?}") };
            let again = match (packet.fate, to) {
                (Fate::WithDriver(_), Fate::Returned) => resendable,
                (Fate::WithDriver(old), Fate::WithDriver(new)) => resendable && new > old,
                _ => false,
            };
            if packet.tunnel != tunnel || (packet.fate != Fate::InCore && !again) {
                violation!(self, "packet {p:?} moved from {packet:?} to {to:?} by tunnel {tunnel:?}");
            }
            packet.fate = to;
            n
        }

        /// Whether packet `n`, handed to the driver, may be handed out again: it was written
        /// on a stream that got a token and still keeps messages, and no `ack` covered it.
        fn resendable(&self, n: usize) -> bool {
            let Some(packet) = self.packets.get(n) else { return false };
            let kept = packet.stream.is_some_and(|s| self.streams[s].token.is_some() && !self.streams[s].spent);
            kept && !packet.acked
        }

        /// A packet written on connection `conn` of tunnel `i`: numbered and kept on the
        /// tunnel's stream (unless it is a replay there); over `maxUnacked` the stream stops
        /// keeping.
        fn packet_written(&mut self, p: &Value, i: usize, conn: ConnId) {
            let t = &self.tunnels[i];
            let (tunnel, stream, max_unacked) = (t.id, t.stream, t.max_unacked);
            let resume_conn = t.resume_conns.contains(&conn);
            let n = self.move_packet(p, tunnel, Fate::WithDriver(conn));
            if let Some(s) = stream.filter(|s| !self.streams[*s].spent) {
                let st = &mut self.streams[s];
                if st.sent.contains(&n) {
                    check!(self, resume_conn, "p{n} written twice on stream {s} (not a replay after a resume)");
                } else if st.sent.len() - st.floor >= max_unacked {
                    st.spent = true;
                } else {
                    st.sent.push(n);
                    self.packets[n].acked = false;
                }
            }
            self.packets[n].stream = stream;
        }

        /// A control frame of the extension written on connection `conn` of tunnel `i`.
        fn control_written(&mut self, text: &str, i: usize, conn: ConnId, first: bool, resume_conn: bool) {
            let stream = self.tunnels[i].stream;
            match wafer_core::frame::parse(text) {
                Frame::Resumable(Some(1)) if text == RESUMABLE_V1 => {
                    let on = self.tunnels[i].resume_on;
                    check!(self, first && !resume_conn && on, "announce on {conn:?} (first={first}, resume on={on})");
                    self.streams.push(Stream::default());
                    self.tunnels[i].stream = Some(self.streams.len() - 1);
                }
                Frame::Ack(n) => {
                    let Some(s) = stream.filter(|s| self.streams[*s].token.is_some()) else {
                        violation!(self, "{text:?} on a stream without a token");
                    };
                    let st = &self.streams[s];
                    let ok = n == st.received && n != st.acked_out;
                    check!(self, ok, "{text:?} with {} messages received, {} acknowledged", st.received, st.acked_out);
                    self.streams[s].acked_out = n;
                }
                Frame::Resume { received, token } => {
                    let Some(s) = stream else { violation!(self, "{text:?} without a stream") };
                    let st = &self.streams[s];
                    let ok = first && resume_conn && st.token.as_deref() == Some(token) && received == st.received;
                    check!(self, ok, "{text:?} on {conn:?} (first={first}, resume socket={resume_conn}, {st:?})");
                    self.streams[s].acked_out = received;
                }
                _ => violation!(self, "control frame {text:?} is none the client writes"),
            }
        }

        /// The model's side of a frame the service sends on the live, open connection `conn`
        /// of tunnel `i` (status `status` before it); `false` when the service could not
        /// have sent it (an `ack` or `resumed` counting a message whose send failed).
        fn frame_in(&mut self, i: usize, conn: ConnId, status: TunnelStatus, frame: &Frame) -> bool {
            let Some(s) = self.tunnels[i].stream else { return true };
            let resuming = status == TunnelStatus::Reconnecting && self.tunnels[i].resume_conns.contains(&conn);
            let failed_before = |sim: &Sim, n: u64| {
                let st = &sim.streams[s];
                let n = usize::try_from(n).unwrap_or(usize::MAX).min(st.sent.len());
                st.sent[..n].iter().any(|p| sim.packets[*p].fate == Fate::InCore)
            };
            let in_range = |st: &Stream, n: u64| n >= st.floor as u64 && n <= st.sent.len() as u64;
            match (status, frame) {
                (TunnelStatus::Active, Frame::ResumeToken { grace_ms, token }) => {
                    let st = &mut self.streams[s];
                    if !st.spent && st.token.is_none() {
                        st.token = Some((*token).to_owned());
                        st.grace = *grace_ms;
                    }
                }
                (TunnelStatus::Active, Frame::Pong) => {
                    let st = &mut self.streams[s];
                    if st.token.is_none() {
                        st.spent = true;
                    }
                }
                (TunnelStatus::Active, Frame::Ack(n)) => {
                    let st = &self.streams[s];
                    if st.token.is_some() && !st.spent && in_range(st, *n) {
                        if failed_before(self, *n) {
                            return false;
                        }
                        self.acked(s, *n as usize);
                    }
                }
                (TunnelStatus::Reconnecting, Frame::Resumed(m)) if resuming => {
                    if in_range(&self.streams[s], *m) {
                        if failed_before(self, *m) {
                            return false;
                        }
                        self.acked(s, *m as usize);
                        let packets = self.streams[s].sent[*m as usize..].to_vec();
                        self.expect = Some(Expect::Replay { tunnel: self.tunnels[i].id, conn, packets });
                    } else {
                        self.streams[s].ended = true;
                    }
                }
                (TunnelStatus::Reconnecting, Frame::ResumeRefused | Frame::Close) if resuming => {
                    self.streams[s].ended = true;
                }
                _ => {}
            }
            true
        }

        /// The service acknowledged the first `n` messages of stream `s` (`n` at or above
        /// the floor).
        fn acked(&mut self, s: usize, n: usize) {
            let st = &mut self.streams[s];
            for p in &st.sent[..n] {
                self.packets[*p].acked = true;
            }
            st.floor = n;
        }

        /// Invariants after every step.
        fn after_step(&mut self) {
            let now = self.host.now;
            if let Some(t) = self.client.poll_timeout() {
                check!(self, t > now, "deadline {t} not after now {now} once due timers ran");
            }
            for (op, state) in &self.ops {
                let late = state.deadline.is_some_and(|d| d <= now);
                check!(self, state.done || !late, "login op {op} past its deadline at {now}: {state:?}");
            }
            let mut not_closed = 0;
            for t in &self.tunnels {
                let status = self.client.tunnel_status(t.id);
                for (c, _) in &t.conns {
                    if self.client.is_current(t.id, *c) != (t.live == Some(*c)) {
                        violation!(self, "is_current({c:?}) disagrees with the outputs ({t:?})");
                    }
                }
                match status {
                    TunnelStatus::Closed => {
                        check!(self, t.live.is_none(), "closed tunnel with a live socket: {t:?}");
                    }
                    TunnelStatus::Active => {
                        let open = t.live.is_some_and(|l| t.conns.iter().any(|(c, s)| *c == l && *s == Sock::Open));
                        check!(self, open, "active without an open socket: {t:?}");
                        not_closed += 1;
                    }
                    TunnelStatus::Connecting | TunnelStatus::Reconnecting => {
                        not_closed += 1;
                        let asked = self
                            .pending
                            .iter()
                            .any(|c| matches!(c, Call::TunnelUrl(op, a) if t.url_attempts.contains(&(*op, *a))));
                        let anonymous = t.url.is_empty() || self.tunnels.iter().filter(|u| u.url == t.url).count() > 1;
                        check!(
                            self,
                            self.client.poll_timeout().is_some() || asked || anonymous,
                            "{status:?} with no deadline and no request outstanding: {t:?}"
                        );
                    }
                }
            }
            check!(self, not_closed <= 1, "{not_closed} tunnels open at once");
        }

        /// Moves the clock to `at`, firing the timer at each deadline on the way.
        fn advance_to(&mut self, at: Millis) {
            let mut guard = 0;
            while let Some(t) = self.client.poll_timeout().filter(|t| *t <= at) {
                guard += 1;
                if !self.online && guard > 1_000 {
                    // Offline, a reconnect try re-arms its wait until the network is back
                    // (docs/PROTOCOL.md §5): a long step would only repeat that. The clock
                    // stays at the last firing.
                    return;
                }
                check!(self, guard < 100_000, "timer keeps firing");
                self.host.now = self.host.now.max(t);
                log!(self, "  timer at {}", self.host.now);
                let before = self.statuses();
                self.client.handle_timeout(&mut self.host);
                self.settle(&before, false, None);
            }
            self.host.now = self.host.now.max(at);
        }

        fn take_pending(&mut self, i: usize) -> Call {
            let call = self.pending.swap_remove(i);
            self.answered.push(call);
            call
        }

        /// One input decoded from `b`.
        fn step(&mut self, b: &mut Bytes) {
            self.step += 1;
            let before = self.statuses();
            let choice = b.below(20);
            let mut stale = false;
            let mut bad_op = None;
            match choice {
                // login / loginWithCode
                0 => {
                    let options = match b.below(4) {
                        0 => Value::Undefined,
                        1 => Value::object([("timeout", Value::Number(gen::number(b)))]),
                        2 => {
                            let pairs = vec![
                                ("codeOnly", Value::Bool(true)),
                                ("timeout", Value::Number(f64::from(b.u16()))),
                                ("loginUrl", Value::str("https://other/login")),
                            ];
                            gen::object(b, pairs)
                        }
                        _ => gen::value(b, 3),
                    };
                    let code_only = b.chance(64);
                    let op = if b.chance(8) {
                        let op = OpId(u32::MAX - u32::from(b.byte()));
                        bad_op = Some((op, OpKind::Login));
                        op
                    } else {
                        self.new_op(OpKind::Login)
                    };
                    log!(self, "login {op:?} {options:?} code_only={code_only}");
                    if let Some(state) = self.ops.get_mut(&op.0) {
                        let timeout = options.get(Field::timeout).as_number().filter(|t| *t > 0.0);
                        let timeout = timeout.map_or(30_000, |t| (t as Millis).clamp(1, 86_400_000));
                        state.deadline = Some(self.host.now.saturating_add(timeout));
                    }
                    self.client.login(op, &options, code_only, &mut self.host);
                }
                // request
                1 | 2 => {
                    let options = if b.chance(224) {
                        let pairs = vec![
                            ("url", Value::str("https://app.example.com/x")),
                            ("login", Value::Bool(b.chance(128))),
                            ("timeout", Value::Number(f64::from(b.u16()))),
                        ];
                        gen::object(b, pairs)
                    } else {
                        gen::value(b, 3)
                    };
                    let op = if b.chance(8) {
                        let op = OpId(INTERNAL_OP_BASE + 1 + u32::from(b.byte()));
                        bad_op = Some((op, OpKind::Request));
                        op
                    } else {
                        self.new_op(OpKind::Request)
                    };
                    log!(self, "request {op:?} {options:?}");
                    self.client.request(op, &options, &mut self.host);
                }
                // new Tunnel
                3 => {
                    let n = self.tunnels.len();
                    let url = if b.chance(240) { format!("https://svc.example.com/t{n}") } else { String::new() };
                    let options = if b.chance(200) {
                        let backoff = if b.chance(128) { "exponential" } else { "linear" };
                        let pairs = vec![
                            ("maxReconnectTryTimes", Value::Number(f64::from(b.below(6) as u8))),
                            ("reconnectTimeIncrease", Value::Number(f64::from(b.u16()))),
                            ("openTimeout", Value::Number(f64::from(b.u16()))),
                            ("heartbeat", Value::Number(f64::from(b.u16()))),
                            ("maxQueue", Value::Number(f64::from(b.below(8) as u8))),
                            ("backoff", Value::str(backoff)),
                            ("backoffCap", Value::Number(f64::from(b.u16()))),
                            ("jitter", Value::Bool(b.chance(128))),
                            ("seed", Value::Number(f64::from(b.byte()))),
                            ("resume", Value::Bool(b.chance(224))),
                            ("maxUnacked", Value::Number(b.pick(&[1.0, 2.0, 3.0, 1024.0]))),
                        ];
                        gen::object(b, pairs)
                    } else {
                        gen::value(b, 2)
                    };
                    let deferred = b.chance(64);
                    log!(self, "new Tunnel {url:?} {options:?} deferred={deferred}");
                    let another = before.iter().any(|s| *s != TunnelStatus::Closed);
                    let url_value = if url.is_empty() { gen::value(b, 1) } else { Value::str(&url) };
                    let url = url_value.as_string().unwrap_or_default();
                    match self.client.create_tunnel(&url_value, &options, deferred, &mut self.host) {
                        Ok(id) => {
                            check!(self, !another || deferred, "a second tunnel was made while one is open");
                            check!(self, self.tunnel(id).is_none(), "tunnel id reused");
                            let config = tunnel_config(&options, 0);
                            self.tunnels.push(TunnelModel {
                                id,
                                url,
                                conns: Vec::new(),
                                live: None,
                                url_attempts: Vec::new(),
                                max_tries: config.max_reconnect_tries,
                                resume_on: config.resume,
                                max_unacked: config.max_unacked,
                                socket_url: None,
                                stream: None,
                                resume_conns: Vec::new(),
                                written: Vec::new(),
                                loss_at: 0,
                                resume_tries: 0,
                            });
                        }
                        Err(_) => check!(self, another && !deferred, "a tunnel was refused with none open"),
                    }
                }
                // open / close
                4 | 5 => {
                    let Some(id) = self.pick_tunnel(b) else { return };
                    log!(self, "{} {id:?}", if choice == 4 { "open" } else { "close" });
                    if choice == 4 {
                        self.client.open_tunnel(id, &mut self.host);
                    } else {
                        self.client.close_tunnel(id, &mut self.host);
                    }
                }
                // emit
                6 | 7 => {
                    let Some(id) = self.pick_tunnel(b) else { return };
                    let n = self.packets.len();
                    let packet = Value::String(format!("p{n}"));
                    let idle = b.chance(192);
                    log!(self, "emit {id:?} p{n} idle={idle}");
                    self.packets.push(Packet { tunnel: id, fate: Fate::InCore, stream: None, acked: false });
                    match self.client.emit(id, packet, idle, &mut self.host) {
                        Emitted::Direct(conn, p) => {
                            check!(self, p.as_string() == Some(format!("p{n}")), "direct send of another packet");
                            let Some(i) = self.tunnel(id) else { violation!(self, "direct send on unknown tunnel") };
                            let t = &self.tunnels[i];
                            let open = t.conns.iter().any(|(c, s)| *c == conn && *s == Sock::Open);
                            check!(self, t.live == Some(conn) && open, "direct send on a stale socket {conn:?}");
                            // Numbered and kept as if `emit` had written it.
                            self.packet_written(&p, i, conn);
                        }
                        Emitted::Done => {}
                        Emitted::Unknown => violation!(self, "emit on a known tunnel answered Unknown"),
                    }
                }
                // answer a host call
                8..=11 => {
                    if self.pending.is_empty() {
                        return;
                    }
                    let i = b.below(self.pending.len());
                    let call = self.take_pending(i);
                    self.answer(call, b);
                }
                // a socket event
                12 | 13 => self.socket_event(b, &mut stale),
                // time
                14 | 15 => {
                    let dt = match b.below(4) {
                        0 => u64::from(b.byte()),
                        1 => u64::from(b.u16()),
                        2 => u64::from(b.u32() % 100_000_000),
                        _ => self.client.poll_timeout().map_or(0, |t| t.saturating_sub(self.host.now)),
                    };
                    log!(self, "time +{dt}");
                    let at = self.host.now.saturating_add(dt);
                    self.advance_to(at);
                    return;
                }
                // network
                16 => {
                    self.online = b.chance(128);
                    log!(self, "network online={}", self.online);
                    self.client.handle_network(self.online, &mut self.host);
                }
                // the page and storage
                17 => {
                    let what = b.below(8);
                    log!(self, "storage {what}");
                    match what {
                        0 => self.host.value = None,
                        1 => {
                            let skey = format!("page{}", b.byte());
                            self.host.value =
                                Some(Value::object([("id", Value::str("pid")), ("skey", Value::str(&skey))]));
                        }
                        2 => self.host.value = Some(gen::value(b, 2)),
                        3 => self.host.full = b.chance(128),
                        4 => self.client.clear_session(&mut self.host),
                        5 => {
                            let v = gen::value(b, 2);
                            self.client.set_session(&v, &mut self.host);
                        }
                        6 => {
                            let _ = self.client.session_headers(&mut self.host);
                        }
                        _ => {
                            let url = if b.chance(200) {
                                Value::str("https://app.example.com/login2")
                            } else {
                                gen::value(b, 1)
                            };
                            self.client.set_login_url(&url);
                        }
                    }
                }
                // a listener threw
                18 => {
                    let Some(id) = self.pick_tunnel(b) else { return };
                    let name = b.pick(&["error", "connect", "close", "speak", "reconnect"]);
                    log!(self, "listener of {name} threw on {id:?}");
                    self.client.handle_listener_error(id, name, Value::str("boom"));
                }
                // a host call answered again (stale)
                _ => {
                    if self.answered.is_empty() {
                        return;
                    }
                    let i = b.below(self.answered.len());
                    let call = self.answered[i];
                    log!(self, "again: {call:?}");
                    self.answer_call(call, b);
                    stale = true;
                }
            }
            self.settle(&before, stale, bad_op);
        }

        fn pick_tunnel(&mut self, b: &mut Bytes) -> Option<TunnelId> {
            if self.tunnels.is_empty() {
                return None;
            }
            let i = b.below(self.tunnels.len());
            Some(self.tunnels[i].id)
        }

        fn answer(&mut self, call: Call, b: &mut Bytes) {
            log!(self, "answer {call:?}");
            self.answer_call(call, b);
        }

        fn answer_call(&mut self, call: Call, b: &mut Bytes) {
            let ok = b.chance(208);
            match call {
                Call::CheckSession(flow) => self.client.handle_check_session(flow, ok, &mut self.host),
                Call::WxLogin(flow) => {
                    let res = gen::mostly(b, Value::object([("code", Value::str("c"))]));
                    self.client.handle_wx_login(flow, ok, res, &mut self.host);
                }
                Call::UserInfo(flow) => {
                    let res = gen::mostly(
                        b,
                        Value::object([
                            ("userInfo", Value::object([])),
                            ("encryptedData", Value::str("E")),
                            ("iv", Value::str("I")),
                        ]),
                    );
                    self.client.handle_user_info(flow, ok, res, &mut self.host);
                }
                Call::LoginRequest(flow) => {
                    let res = gen::response(b);
                    self.client.handle_login_response(flow, ok, res, &mut self.host);
                }
                Call::Request(op, attempt) => {
                    let (res, n) = self.mark(gen::response(b));
                    if let Some(state) = self.ops.get_mut(&op.0) {
                        if !state.done && state.attempts.last() == Some(&attempt) {
                            state.last_answer = ok.then_some(n);
                        }
                    }
                    log!(self, "    with ok={ok} {res:?}");
                    self.client.handle_request_response(op, attempt, ok, res, &mut self.host);
                }
                Call::TunnelUrl(op, attempt) => {
                    let res = gen::response(b);
                    log!(self, "    with ok={ok} {res:?}");
                    self.client.handle_request_response(op, attempt, ok, res, &mut self.host);
                }
            }
        }

        fn socket_event(&mut self, b: &mut Bytes, stale: &mut bool) {
            let Some(id) = self.pick_tunnel(b) else { return };
            let Some(i) = self.tunnel(id) else { return };
            if self.tunnels[i].conns.is_empty() {
                return;
            }
            // Mostly the live socket.
            let (conn, sock) = match self.tunnels[i].live {
                Some(l) if b.chance(200) => {
                    let s = self.tunnels[i].conns.iter().find(|(c, _)| *c == l).map_or(Sock::Dead, |(_, s)| *s);
                    (l, s)
                }
                _ => {
                    let j = b.below(self.tunnels[i].conns.len());
                    self.tunnels[i].conns[j]
                }
            };
            let live = self.tunnels[i].live == Some(conn);
            let kind = b.below(7);
            log!(self, "socket {id:?} {conn:?} ({sock:?}, live={live}) event {kind}");
            match kind {
                0 => {
                    // The host reports open once, for a socket that is opening.
                    if live && sock != Sock::Pending {
                        return;
                    }
                    if live {
                        self.set_sock(i, conn, Sock::Open);
                        // A socket to a new URL ends the stream (the core puts what it kept
                        // in front of its queue); its announce starts the next one.
                        if !self.tunnels[i].resume_conns.contains(&conn) {
                            if let Some(s) = self.tunnels[i].stream.take() {
                                self.streams[s].ended = true;
                            }
                        }
                    }
                    *stale = !live;
                    self.client.handle_socket_open(id, conn, &mut self.host);
                }
                1 | 2 => {
                    if live {
                        self.set_sock(i, conn, Sock::Dead);
                    }
                    *stale = !live;
                    if kind == 1 {
                        self.client.handle_socket_close(id, conn, &mut self.host);
                    } else {
                        self.client.handle_socket_error(id, conn, Value::str("err"), &mut self.host);
                    }
                }
                3 | 4 => {
                    // Control frames reach the core only from an open socket.
                    if live && sock != Sock::Open {
                        return;
                    }
                    let text = match b.below(8) {
                        0..=2 => b
                            .pick(&[
                                "pong",
                                "pong",
                                "close",
                                "timeout:0.04",
                                "timeout:15",
                                "timeout:\"2\"",
                                "timeout:0",
                                "timeout:x",
                                "timeout:99999",
                            ])
                            .to_owned(),
                        // The resume extension (docs/RESUME.md).
                        3..=6 => b
                            .pick(&[
                                "resume-token:30:tok",
                                "resume-token:30:tok",
                                "resume-token:1:t2",
                                "resume-token:0:t0",
                                "ack:0",
                                "ack:1",
                                "ack:1",
                                "ack:3",
                                "ack:99",
                                "resumed:0",
                                "resumed:0",
                                "resumed:1",
                                "resumed:2",
                                "resumed:99",
                                "resume-refused",
                                "resume-token:x:tok",
                                "ack:-1",
                            ])
                            .to_owned(),
                        _ => b.text(16),
                    };
                    let frame = wafer_core::frame::parse(&text);
                    log!(self, "    frame {text:?}");
                    if live {
                        let status = self.client.tunnel_status(id);
                        if !self.frame_in(i, conn, status, &frame) {
                            log!(self, "    (not sent: it counts a message whose send failed)");
                            return;
                        }
                    }
                    *stale = !live;
                    self.client.handle_frame(id, conn, frame, &mut self.host);
                }
                5 => {
                    // A send of a packet handed to the driver on this socket failed (never
                    // one the service acknowledged: it received that one).
                    let Some(n) = self
                        .packets
                        .iter()
                        .position(|p| p.tunnel == id && p.fate == Fate::WithDriver(conn) && !p.acked)
                    else {
                        return;
                    };
                    // tests/fuzz_late_send_failure_on_an_older_stream_is_not_lost.rs
                    self.packets[n].fate = Fate::InCore;
                    log!(self, "    send of p{n} failed");
                    self.client.handle_send_failed(id, conn, Value::String(format!("p{n}")), &mut self.host);
                }
                _ => {
                    // Message frames from the service (the host dispatches them after
                    // `handle_message`, and flushes the tunnel when that queued an `ack`).
                    if live && sock != Sock::Open {
                        return;
                    }
                    let count = b.pick(&[1usize, 2, 5, 31, 32, 33, 64]);
                    log!(self, "    {count} message frames");
                    let status = self.client.tunnel_status(id);
                    let stream = self.tunnels[i].stream.filter(|s| self.streams[*s].token.is_some());
                    for _ in 0..count {
                        let got = self.client.handle_message(id, conn);
                        let expected = match stream {
                            _ if !live => None,
                            Some(s) if status == TunnelStatus::Active => {
                                let st = &mut self.streams[s];
                                st.received += 1;
                                Some(st.received - st.acked_out >= 32)
                            }
                            _ => Some(false),
                        };
                        check!(self, got == expected, "handle_message on {conn:?}: {got:?}, expected {expected:?}");
                        if got == Some(true) {
                            let before = self.statuses();
                            self.client.flush_tunnel(id, &mut self.host);
                            self.settle(&before, false, None);
                        }
                    }
                    // Nothing else is waiting in the tunnel.
                    self.client.flush_tunnel(id, &mut self.host);
                    *stale = true;
                }
            }
        }

        fn set_sock(&mut self, i: usize, conn: ConnId, to: Sock) {
            for (c, s) in &mut self.tunnels[i].conns {
                if *c == conn {
                    *s = to;
                }
            }
        }

        /// No more answers but wx.request ones (which always end: wx times out at 60 s),
        /// failing; sockets silent; time runs. Every op must end, every tunnel close, no
        /// timer remain; then every packet still queued comes back when its tunnel is
        /// opened and closed again.
        fn silence(&mut self) {
            log!(self, "--- silence");
            self.step += 1;
            if !self.online {
                self.online = true;
                let before = self.statuses();
                self.client.handle_network(true, &mut self.host);
                self.settle(&before, false, None);
            }
            for round in 0..20_000 {
                let requests: Vec<usize> = (0..self.pending.len())
                    .rev()
                    .filter(|i| matches!(self.pending[*i], Call::Request(..) | Call::TunnelUrl(..)))
                    .collect();
                for i in requests {
                    let call = self.take_pending(i);
                    log!(self, "fail {call:?}");
                    let before = self.statuses();
                    let detail = Value::object([("errMsg", Value::str("request:fail timeout"))]);
                    match call {
                        Call::Request(op, a) | Call::TunnelUrl(op, a) => {
                            self.client.handle_request_response(op, a, false, detail, &mut self.host)
                        }
                        _ => {}
                    }
                    self.settle(&before, false, None);
                }
                match self.client.poll_timeout() {
                    Some(t) => self.advance_to(t),
                    None if self.pending.iter().any(|c| matches!(c, Call::Request(..) | Call::TunnelUrl(..))) => {}
                    None => break,
                }
                check!(self, round < 19_999, "the client never settles");
            }
            for (op, state) in &self.ops {
                check!(self, state.done, "op {op} ({state:?}) never completed");
            }
            for t in &self.tunnels {
                let status = self.client.tunnel_status(t.id);
                check!(self, status == TunnelStatus::Closed, "tunnel stuck {status:?} with time and no answers: {t:?}");
            }
            check!(self, self.client.poll_timeout().is_none(), "a timer remains with nothing running");
            let ids: Vec<TunnelId> = self.tunnels.iter().map(|t| t.id).collect();
            for id in ids {
                log!(self, "open+close {id:?}");
                let before = self.statuses();
                self.client.open_tunnel(id, &mut self.host);
                self.settle(&before, false, None);
                let before = self.statuses();
                self.client.close_tunnel(id, &mut self.host);
                self.settle(&before, false, None);
                let held = self.packets.iter().enumerate().find(|(_, p)| p.tunnel == id && p.fate == Fate::InCore);
                if let Some((n, _)) = held {
                    violation!(self, "packet p{n} accepted by {id:?} was neither sent nor reported");
                }
            }
        }
    }

    /// Runs the input as a sequence of steps, then the silent end.
    pub fn check(data: &[u8]) {
        let mut sim = Sim::new();
        let mut b = Bytes::new(data);
        // The debug log (`Output::Log` lines, ignored by the model) on for a quarter of runs.
        sim.client.set_debug(b.chance(64));
        let mut steps = 0;
        while !b.is_empty() && steps < MAX_STEPS {
            sim.step(&mut b);
            steps += 1;
        }
        sim.silence();
    }
}
