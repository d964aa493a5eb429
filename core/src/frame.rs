//! The tunnel frame codec (docs/PROTOCOL.md §5).
//!
//! A frame is text: `type` or `type:body`, split at the **first** colon only.
//! Client → server: `message:{"type":T,"content":C}`, `ping`, `close`.
//! Server → client: `message:{...}`, `pong`, `timeout:N` (N seconds), `close`.

use std::borrow::Cow;

/// Frame type `message`: a JSON `{type, content}` body follows the colon.
pub const MESSAGE: &str = "message";
/// Frame type `ping`: client heartbeat.
pub const PING: &str = "ping";
/// Frame type `pong`: server answer to `ping`.
pub const PONG: &str = "pong";
/// Frame type `timeout`: the server sets the heartbeat interval to N seconds.
pub const TIMEOUT: &str = "timeout";
/// Frame type `close`: either side ends the tunnel.
pub const CLOSE: &str = "close";
/// Extension frame `resumable:1`: the client can resume (docs/RESUME.md).
pub const RESUMABLE: &str = "resumable";
/// Extension frame `resume-token:<grace>:<token>`: the service's answer to `resumable`.
pub const RESUME_TOKEN: &str = "resume-token";
/// Extension frame `ack:<n>`: messages received of the other side's stream.
pub const ACK: &str = "ack";
/// Extension frame `resume:<n>:<token>`: the first frame on a resume socket.
pub const RESUME: &str = "resume";
/// Extension frame `resumed:<m>`: the service accepted a resume.
pub const RESUMED: &str = "resumed";
/// Extension frame `resume-refused`: the service refused a resume.
pub const RESUME_REFUSED: &str = "resume-refused";
/// The announce frame the client writes first on a new tunnel's socket.
pub const RESUMABLE_V1: &str = "resumable:1";
/// Longest resume token (docs/RESUME.md).
pub const MAX_TOKEN_LEN: usize = 128;
/// Longest control frame either side reads (the longest is `resume:<n>:<token>`).
pub const MAX_CONTROL_LEN: usize = 192;

/// Prefix of an encoded message frame, up to and including the colon.
pub const MESSAGE_PREFIX: &str = "message:";

/// Event names the SDK itself emits; a server message with one of these types is
/// delivered as `@type`.
pub const RESERVED_EVENTS: [&str; 5] = ["connect", "close", "reconnecting", "reconnect", "error"];

/// Shortest heartbeat interval, in milliseconds: the server decides (`timeout:0.04` is
/// 40 ms, as in the original); the floor only keeps a timer from spinning.
pub const MIN_HEARTBEAT_MS: u64 = 5;
/// Upper bound of a `timeout:N` interval (one hour).
pub const MAX_HEARTBEAT_MS: u64 = 3_600_000;

/// What kind of frame a head (the text before the first colon) names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameKind {
    /// `message:{json}`.
    Message,
    /// `ping`.
    Ping,
    /// `pong`.
    Pong,
    /// `timeout:N`.
    Timeout,
    /// `close`.
    Close,
    /// `resumable:1` (client → service).
    Resumable,
    /// `resume-token:<grace>:<token>` (service → client).
    ResumeToken,
    /// `ack:<n>`.
    Ack,
    /// `resume:<n>:<token>` (client → service).
    Resume,
    /// `resumed:<m>` (service → client).
    Resumed,
    /// `resume-refused` (service → client).
    ResumeRefused,
    /// Anything else: ignored by the client.
    Unknown,
}

impl FrameKind {
    /// Classifies a frame head (the text before the first colon, or the whole frame).
    pub fn from_head(head: &str) -> FrameKind {
        match head {
            MESSAGE => FrameKind::Message,
            PING => FrameKind::Ping,
            PONG => FrameKind::Pong,
            TIMEOUT => FrameKind::Timeout,
            CLOSE => FrameKind::Close,
            RESUMABLE => FrameKind::Resumable,
            RESUME_TOKEN => FrameKind::ResumeToken,
            ACK => FrameKind::Ack,
            RESUME => FrameKind::Resume,
            RESUMED => FrameKind::Resumed,
            RESUME_REFUSED => FrameKind::ResumeRefused,
            _ => FrameKind::Unknown,
        }
    }

    /// The frame type as written on the wire (`""` for unknown frames).
    pub fn as_str(self) -> &'static str {
        match self {
            FrameKind::Message => MESSAGE,
            FrameKind::Ping => PING,
            FrameKind::Pong => PONG,
            FrameKind::Timeout => TIMEOUT,
            FrameKind::Close => CLOSE,
            FrameKind::Resumable => RESUMABLE,
            FrameKind::ResumeToken => RESUME_TOKEN,
            FrameKind::Ack => ACK,
            FrameKind::Resume => RESUME,
            FrameKind::Resumed => RESUMED,
            FrameKind::ResumeRefused => RESUME_REFUSED,
            FrameKind::Unknown => "",
        }
    }
}

/// A decoded frame, borrowing its body from the text.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Frame<'a> {
    /// `message:` and its JSON body (not yet parsed).
    Message(&'a str),
    /// `ping`.
    Ping,
    /// `pong`.
    Pong,
    /// `timeout:N`: the heartbeat interval in milliseconds, `None` when N is not a usable number.
    Timeout(Option<u64>),
    /// `close`.
    Close,
    /// `resumable:<version>`: the client announces the extension (`None`: not a number).
    Resumable(Option<u64>),
    /// `resume-token:<grace>:<token>`, the grace period in milliseconds.
    ResumeToken { grace_ms: u64, token: &'a str },
    /// `ack:<n>`.
    Ack(u64),
    /// `resume:<n>:<token>`.
    Resume { received: u64, token: &'a str },
    /// `resumed:<m>`.
    Resumed(u64),
    /// `resume-refused`.
    ResumeRefused,
    /// A frame of another type, or an extension frame that does not parse; the head is
    /// kept for logging.
    Unknown(&'a str),
}

/// Splits a frame at its first colon: `(head, body)`.
pub fn split(text: &str) -> (&str, Option<&str>) {
    match text.find(':') {
        Some(i) => (&text[..i], Some(&text[i + 1..])),
        None => (text, None),
    }
}

/// Decodes a text frame. Never fails: unknown heads become [`Frame::Unknown`].
pub fn parse(text: &str) -> Frame<'_> {
    let (head, body) = split(text);
    match FrameKind::from_head(head) {
        FrameKind::Message => Frame::Message(body.unwrap_or("")),
        FrameKind::Ping => Frame::Ping,
        FrameKind::Pong => Frame::Pong,
        FrameKind::Timeout => Frame::Timeout(body.and_then(parse_timeout)),
        FrameKind::Close => Frame::Close,
        FrameKind::Resumable => Frame::Resumable(body.and_then(parse_count)),
        FrameKind::ResumeToken => body
            .and_then(|b| b.split_once(':'))
            .and_then(|(g, t)| {
                Some(Frame::ResumeToken { grace_ms: parse_count(g)?.saturating_mul(1000), token: token(t)? })
            })
            .unwrap_or(Frame::Unknown(head)),
        FrameKind::Ack => body.and_then(parse_count).map_or(Frame::Unknown(head), Frame::Ack),
        FrameKind::Resume => body
            .and_then(|b| b.split_once(':'))
            .and_then(|(n, t)| Some(Frame::Resume { received: parse_count(n)?, token: token(t)? }))
            .unwrap_or(Frame::Unknown(head)),
        FrameKind::Resumed => body.and_then(parse_count).map_or(Frame::Unknown(head), Frame::Resumed),
        FrameKind::ResumeRefused => Frame::ResumeRefused,
        FrameKind::Unknown => Frame::Unknown(head),
    }
}

/// Parses an extension count: 1–19 decimal digits (no sign, no fraction).
pub fn parse_count(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 19 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(s.bytes().fold(0u64, |n, b| n * 10 + u64::from(b - b'0')))
}

/// A resume token as written: 1–[`MAX_TOKEN_LEN`] characters of `[A-Za-z0-9_-]`.
pub fn token(s: &str) -> Option<&str> {
    let ok = !s.is_empty()
        && s.len() <= MAX_TOKEN_LEN
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    ok.then_some(s)
}

/// Writes a control frame `head:<n>` (`ack`, `resumed`).
pub fn encode_count(head: &str, n: u64) -> String {
    let mut s = String::with_capacity(head.len() + 21);
    s.push_str(head);
    s.push(':');
    push_count(&mut s, n);
    s
}

/// Writes `resume:<n>:<token>` (client) or `resume-token:<grace s>:<token>` (service).
pub fn encode_with_token(head: &str, n: u64, token: &str) -> String {
    let mut s = encode_count(head, n);
    s.push(':');
    s.push_str(token);
    s
}

/// Appends `n` in decimal (without `format!`, which would add to the wasm module).
fn push_count(s: &mut String, n: u64) {
    let mut digits = Vec::with_capacity(20);
    let mut n = n;
    loop {
        digits.push(b'0' + (n % 10) as u8);
        n /= 10;
        if n == 0 {
            break;
        }
    }
    s.extend(digits.iter().rev().map(|&d| char::from(d)));
}

/// Parses the body of `timeout:N` (seconds as decimal digits with an optional fraction,
/// optionally a JSON string) into a heartbeat interval in milliseconds, clamped to
/// [`MIN_HEARTBEAT_MS`, `MAX_HEARTBEAT_MS`]. `None` for anything that is not a positive
/// decimal number. (Hand-written: float parsing would add kilobytes to the wasm module.)
pub fn parse_timeout(body: &str) -> Option<u64> {
    let t = body.trim();
    let t = t.strip_prefix('"').and_then(|s| s.strip_suffix('"')).unwrap_or(t).trim();
    if t.is_empty() || t.len() > 32 {
        return None;
    }
    let (int, frac) = t.split_once('.').unwrap_or((t, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if (int.is_empty() && frac.is_empty()) || !digits(int) || !digits(frac) {
        return None;
    }
    let secs = int.bytes().fold(0u64, |n, b| n.saturating_mul(10).saturating_add(u64::from(b - b'0')));
    let mut ms = secs.saturating_mul(1000);
    let mut scale = 100;
    for b in frac.bytes().take(3) {
        ms = ms.saturating_add(u64::from(b - b'0') * scale);
        scale /= 10;
    }
    if frac.as_bytes().get(3).is_some_and(|b| *b >= b'5') {
        ms = ms.saturating_add(1);
    }
    // Any positive number counts, however small (it gets the floor).
    let positive = int.bytes().chain(frac.bytes()).any(|b| b != b'0');
    positive.then(|| ms.clamp(MIN_HEARTBEAT_MS, MAX_HEARTBEAT_MS))
}

/// Encodes a message frame from the JSON text of `{"type":T,"content":C}`.
pub fn encode_message(json: &str) -> String {
    let mut s = String::with_capacity(MESSAGE_PREFIX.len() + json.len());
    s.push_str(MESSAGE_PREFIX);
    s.push_str(json);
    s
}

/// Encodes a `timeout:N` frame for an interval given in seconds (server side).
pub fn encode_timeout(secs: u64) -> String {
    format!("{TIMEOUT}:{secs}")
}

/// Whether a message type of `len` UTF-16 units starting with unit `first` may be one of
/// [`RESERVED_EVENTS`] (a cheap test before the type is copied to be compared).
#[inline(always)] // a hot path (measured: the module no bigger, inbound no slower)
pub fn could_be_reserved(len: u32, first: u32) -> bool {
    RESERVED_EVENTS.iter().any(|name| name.len() as u32 == len && name.bytes().next().map(u32::from) == Some(first))
}

/// Whether an event name is one the SDK emits itself.
pub fn is_reserved(name: &str) -> bool {
    RESERVED_EVENTS.contains(&name)
}

/// The event name under which a server message of type `server_type` is delivered:
/// the type itself, or `@type` when it clashes with a reserved event.
pub fn event_name(server_type: &str) -> Cow<'_, str> {
    if is_reserved(server_type) {
        Cow::Owned(format!("@{server_type}"))
    } else {
        Cow::Borrowed(server_type)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_at_first_colon_only() {
        assert_eq!(
            parse(r#"message:{"type":"a:b","content":"x:y"}"#),
            Frame::Message(r#"{"type":"a:b","content":"x:y"}"#)
        );
        assert_eq!(split("a:b:c"), ("a", Some("b:c")));
        assert_eq!(split("pong"), ("pong", None));
    }

    #[test]
    fn known_and_unknown_heads() {
        assert_eq!(parse("pong"), Frame::Pong);
        assert_eq!(parse("ping"), Frame::Ping);
        assert_eq!(parse("close"), Frame::Close);
        assert_eq!(parse("close:whatever"), Frame::Close);
        assert_eq!(parse("hello:1"), Frame::Unknown("hello"));
        assert_eq!(parse(""), Frame::Unknown(""));
        assert_eq!(parse("message"), Frame::Message(""));
    }

    #[test]
    fn timeout_bodies() {
        assert_eq!(parse("timeout:15"), Frame::Timeout(Some(15_000)));
        assert_eq!(parse("timeout:2.5"), Frame::Timeout(Some(2_500)));
        assert_eq!(parse("timeout:\"30\""), Frame::Timeout(Some(30_000)));
        assert_eq!(parse("timeout:0"), Frame::Timeout(None));
        assert_eq!(parse("timeout:-3"), Frame::Timeout(None));
        assert_eq!(parse("timeout:abc"), Frame::Timeout(None));
        assert_eq!(parse("timeout:NaN"), Frame::Timeout(None));
        assert_eq!(parse("timeout:inf"), Frame::Timeout(None));
        assert_eq!(parse("timeout"), Frame::Timeout(None));
        assert_eq!(parse("timeout:0.01"), Frame::Timeout(Some(10)));
        assert_eq!(parse("timeout:0.04"), Frame::Timeout(Some(40)));
        assert_eq!(parse("timeout:0.5"), Frame::Timeout(Some(500)));
        assert_eq!(parse("timeout:0.001"), Frame::Timeout(Some(MIN_HEARTBEAT_MS)));
        assert_eq!(parse("timeout:0.0004"), Frame::Timeout(Some(MIN_HEARTBEAT_MS)));
        assert_eq!(parse("timeout:0.000"), Frame::Timeout(None));
        assert_eq!(parse("timeout:999999999"), Frame::Timeout(Some(MAX_HEARTBEAT_MS)));
        assert_eq!(parse("timeout:99999999999999999999999999"), Frame::Timeout(Some(MAX_HEARTBEAT_MS)));
        assert_eq!(parse("timeout:1.0005"), Frame::Timeout(Some(1_001)));
        assert_eq!(parse("timeout:.5"), Frame::Timeout(Some(500)));
        assert_eq!(parse("timeout:1e3"), Frame::Timeout(None));
        assert_eq!(parse("timeout:."), Frame::Timeout(None));
        assert_eq!(parse("timeout:+5"), Frame::Timeout(None));
    }

    #[test]
    fn escapes_reserved_event_names() {
        for name in RESERVED_EVENTS {
            assert_eq!(event_name(name), format!("@{name}"));
        }
        assert_eq!(event_name("speak"), "speak");
        assert_eq!(event_name("@connect"), "@connect");
        assert_eq!(event_name("*"), "*");
    }

    #[test]
    fn extension_frames() {
        assert_eq!(parse("resumable:1"), Frame::Resumable(Some(1)));
        assert_eq!(parse("resumable"), Frame::Resumable(None));
        assert_eq!(parse("resume-token:30:abc_D-9"), Frame::ResumeToken { grace_ms: 30_000, token: "abc_D-9" });
        assert_eq!(parse("resume-token:30:"), Frame::Unknown("resume-token"));
        assert_eq!(parse("resume-token:x:abc"), Frame::Unknown("resume-token"));
        assert_eq!(parse("resume-token:30:a b"), Frame::Unknown("resume-token"));
        assert_eq!(parse(&format!("resume-token:1:{}", "a".repeat(129))), Frame::Unknown("resume-token"));
        assert_eq!(parse("ack:0"), Frame::Ack(0));
        assert_eq!(parse("ack:18446744073709551615"), Frame::Unknown("ack"));
        assert_eq!(parse("ack:9999999999999999999"), Frame::Ack(9_999_999_999_999_999_999));
        assert_eq!(parse("ack:-1"), Frame::Unknown("ack"));
        assert_eq!(parse("ack:1.5"), Frame::Unknown("ack"));
        assert_eq!(parse("ack"), Frame::Unknown("ack"));
        assert_eq!(parse("resume:12:tok"), Frame::Resume { received: 12, token: "tok" });
        assert_eq!(parse("resume:12"), Frame::Unknown("resume"));
        assert_eq!(parse("resumed:7"), Frame::Resumed(7));
        assert_eq!(parse("resumed:"), Frame::Unknown("resumed"));
        assert_eq!(parse("resume-refused"), Frame::ResumeRefused);
        assert_eq!(encode_count(ACK, 0), "ack:0");
        assert_eq!(encode_count(RESUMED, 1234567890), "resumed:1234567890");
        assert_eq!(encode_with_token(RESUME, u64::MAX, "t"), "resume:18446744073709551615:t");
        assert_eq!(encode_with_token(RESUME_TOKEN, 30, "t"), "resume-token:30:t");
        assert!(RESUMABLE_V1.len() + encode_with_token(RESUME, u64::MAX, &"a".repeat(128)).len() < 400);
        assert!(encode_with_token(RESUME, u64::MAX, &"a".repeat(MAX_TOKEN_LEN)).len() <= MAX_CONTROL_LEN);
    }

    #[test]
    fn encodes_message_frames() {
        assert_eq!(encode_message(r#"{"type":"t"}"#), r#"message:{"type":"t"}"#);
        assert_eq!(encode_timeout(10), "timeout:10");
    }
}
