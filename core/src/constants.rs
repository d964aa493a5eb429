//! The values the JS shim shares with the core (`ERR_*` types, tunnel statuses and codes,
//! messages, the bits of the host summaries), written out as the generated block of
//! `js/host.js`. `core/tests/constants_in_js.rs` fails when the block drifts from this;
//! `UPDATE_CONSTANTS=1 cargo test -p wafer-core --test constants_in_js` rewrites it.

use crate::client::{messages, AnotherTunnelOpen};
use crate::session::{ErrorKind, MAGIC_ID, SESSION_KEY};
use crate::tunnel::{TunnelConfig, TunnelError, TunnelStatus};
use crate::value::{kind, request_bits, response_bits};

/// First line of the generated block.
pub const BEGIN: &str = "// BEGIN GENERATED from wafer-core (core/src/constants.rs): do not edit by hand.";
/// Last line of the generated block.
pub const END: &str = "// END GENERATED";

/// The `wafer2-client-sdk` name of the invalid-session type (exported with its own value;
/// the SDK reports `ERR_INVALID_SESSION`, as the v1 servers and the original v1 SDK do).
pub const WAFER2_ERR_SESSION_INVALID: &str = "ERR_SESSION_INVALID";

/// Request options that belong to the SDK and are not passed to `wx.request`.
pub const SDK_REQUEST_OPTIONS: [&str; 8] =
    ["success", "fail", "complete", "login", "loginUrl", "header", "codeOnly", "detail"];

/// The exported statuses, in the order of `TunnelStatus as u32`.
pub const STATUSES: [TunnelStatus; 4] =
    [TunnelStatus::Closed, TunnelStatus::Connecting, TunnelStatus::Active, TunnelStatus::Reconnecting];

/// `Tunnel.ERR_*` statics.
pub const TUNNEL_ERRORS: [(&str, TunnelError); 7] = [
    ("ERR_CONNECT_SERVICE", TunnelError::ConnectService),
    ("ERR_CONNECT_SOCKET", TunnelError::ConnectSocket),
    ("ERR_RECONNECT", TunnelError::Reconnect),
    ("ERR_SOCKET_ERROR", TunnelError::SocketError),
    ("ERR_QUEUE_FULL", TunnelError::QueueFull),
    ("ERR_UNSENT", TunnelError::Unsent),
    ("ERR_LISTENER", TunnelError::ListenerThrew),
];

fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        match c {
            '\'' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// The generated block of `js/host.js`, `BEGIN` and `END` lines included.
pub fn js_block() -> String {
    let mut s = String::new();
    let mut line = |text: String| {
        s.push_str(&text);
        s.push('\n');
    };
    line(BEGIN.to_owned());
    line("export const C = {".to_owned());
    line("  /** `ERR_*` exports: key → `.type` value. */".to_owned());
    line("  ERR: {".to_owned());
    for k in ErrorKind::ALL.iter().chain(ErrorKind::EXTENSIONS.iter()) {
        line(format!("    {}: {},", k.key(), quote(k.type_str())));
    }
    line(format!("    {WAFER2_ERR_SESSION_INVALID}: {},", quote(WAFER2_ERR_SESSION_INVALID)));
    line("  },".to_owned());
    let statuses: Vec<String> = STATUSES.iter().map(|s| quote(s.as_str())).collect();
    line(format!(
        "  /** `Tunnel.STATUS_*` values by `tunnel_status()` index. */\n  STATUS: [{}],",
        statuses.join(", ")
    ));
    line("  /** `Tunnel.ERR_*` codes. */".to_owned());
    line("  TUNNEL_ERR: {".to_owned());
    for (name, e) in TUNNEL_ERRORS {
        line(format!("    {name}: {},", e.code()));
    }
    line("  },".to_owned());
    let defaults = TunnelConfig::default();
    let step = match defaults.backoff {
        crate::tunnel::Backoff::Linear { step } => step,
        crate::tunnel::Backoff::Exponential { base, .. } => base,
    };
    line(format!("  MAX_RECONNECT_TRY_TIMES: {},", defaults.max_reconnect_tries));
    line(format!("  RECONNECT_TIME_INCREASE: {step},"));
    line("  /** Messages of errors the shim raises itself. */".to_owned());
    line("  MSG: {".to_owned());
    line(format!("    LOGIN_URL: {},", quote(messages::LOGIN_URL)));
    line(format!("    SESSION_VALUE: {},", quote(messages::SESSION_VALUE)));
    line(format!("    ANOTHER_TUNNEL_OPEN: {},", quote(AnotherTunnelOpen::MESSAGE)));
    line(format!("    SDK_LOAD_FAILED: {},", quote("SDK 加载失败：")));
    line("  },".to_owned());
    let options: Vec<String> = SDK_REQUEST_OPTIONS.iter().map(|o| quote(o)).collect();
    line(format!(
        "  /** Request options the SDK keeps for itself. */\n  SDK_REQUEST_OPTIONS: [{}],",
        options.join(", ")
    ));
    line(format!("  MAGIC_ID: {},", quote(MAGIC_ID)));
    line(format!("  SESSION_KEY: {},", quote(SESSION_KEY)));
    line("  /** Value kinds of the summaries. */".to_owned());
    line(format!(
        "  KIND: {{ UNDEFINED: {}, NULL: {}, BOOLEAN: {}, NUMBER: {}, STRING: {}, ARRAY: {}, OBJECT: {}, OTHER: {} }},",
        kind::UNDEFINED,
        kind::NULL,
        kind::BOOLEAN,
        kind::NUMBER,
        kind::STRING,
        kind::ARRAY,
        kind::OBJECT,
        kind::OTHER
    ));
    line("  /** Bits of `response_shape()`. */".to_owned());
    line(format!(
        "  RESPONSE: {{ STATUS_MASK: {}, BODY_OBJECT: {}, MAGIC: {}, CODE_MINUS_ONE: {}, CODE_ZERO: {} }},",
        response_bits::STATUS_MASK,
        response_bits::BODY_OBJECT,
        response_bits::MAGIC,
        response_bits::CODE_MINUS_ONE,
        response_bits::CODE_ZERO
    ));
    line("  /** Bits of `request_shape()`. */".to_owned());
    line(format!(
        "  REQUEST: {{ KIND_MASK: {}, HEADER_KIND_SHIFT: {}, URL: {}, LOGIN: {}, LOGIN_URL: {}, TIMEOUT: {}, REFERER: {} }},",
        request_bits::KIND_MASK,
        request_bits::HEADER_KIND_SHIFT,
        request_bits::URL,
        request_bits::LOGIN,
        request_bits::LOGIN_URL,
        request_bits::TIMEOUT,
        request_bits::REFERER
    ));
    line("};".to_owned());
    line(END.to_owned());
    s
}
