//! Reading host values: wx responses, call options and stored sessions stay in the
//! host's own representation (a `JsValue` in the wasm driver); the core reads the few
//! fields it decides on through [`HostValue`]. [`Value`] implements it natively, so
//! every rule that reads a response is tested with `cargo test`.

/// Property names the core reads off host values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[allow(non_camel_case_types)]
pub enum Field {
    /// `backoff` (tunnel option).
    backoff,
    /// `backoffCap` (tunnel option).
    backoffCap,
    /// `code`: wx.login's code, a v2 body's code.
    code,
    /// `codeOnly` (login option).
    codeOnly,
    /// `connectUrl` (v2 tunnel body).
    connectUrl,
    /// `data`: a wx response's body, a v2 body's payload, a login option.
    data,
    /// `detail` (login option: a button event's detail).
    detail,
    /// `encryptedData`.
    encryptedData,
    /// `error` (magic-id body).
    error,
    /// `heartbeat` (tunnel option).
    heartbeat,
    /// `id` (session).
    id,
    /// `iv`.
    iv,
    /// `jitter` (tunnel option).
    jitter,
    /// `loginUrl` (login and request option).
    loginUrl,
    /// The magic id (a body written by the Wafer server SDK).
    magic,
    /// `maxQueue` (tunnel option).
    maxQueue,
    /// `maxUnacked` (tunnel option: messages kept for a resume).
    maxUnacked,
    /// `maxReconnectTryTimes` (tunnel option, from `Tunnel.MAX_RECONNECT_TRY_TIMES`).
    maxReconnectTryTimes,
    /// `message`.
    message,
    /// `method`.
    method,
    /// `openTimeout` (tunnel option).
    openTimeout,
    /// `reconnectTimeIncrease` (tunnel option, from `Tunnel.RECONNECT_TIME_INCREASE`).
    reconnectTimeIncrease,
    /// `resume` (tunnel option: announce the resume extension).
    resume,
    /// `seed` (tunnel option: jitter seed).
    seed,
    /// `session` (v1 login body).
    session,
    /// `skey`.
    skey,
    /// `statusCode`.
    statusCode,
    /// `timeout` (login option).
    timeout,
    /// `type`.
    r#type,
    /// `url`.
    url,
    /// `userInfo`.
    userInfo,
    /// `userinfo` (v2).
    userinfo,
}

impl Field {
    /// Every field, for hosts that cache the names.
    pub const ALL: [Field; 32] = [
        Field::backoff,
        Field::backoffCap,
        Field::code,
        Field::codeOnly,
        Field::connectUrl,
        Field::data,
        Field::detail,
        Field::encryptedData,
        Field::error,
        Field::heartbeat,
        Field::id,
        Field::iv,
        Field::jitter,
        Field::loginUrl,
        Field::magic,
        Field::maxQueue,
        Field::maxUnacked,
        Field::maxReconnectTryTimes,
        Field::message,
        Field::method,
        Field::openTimeout,
        Field::reconnectTimeIncrease,
        Field::resume,
        Field::seed,
        Field::session,
        Field::skey,
        Field::statusCode,
        Field::timeout,
        Field::r#type,
        Field::url,
        Field::userInfo,
        Field::userinfo,
    ];

    /// The property name.
    pub fn name(self) -> &'static str {
        match self {
            Field::backoff => "backoff",
            Field::backoffCap => "backoffCap",
            Field::code => "code",
            Field::codeOnly => "codeOnly",
            Field::connectUrl => "connectUrl",
            Field::data => "data",
            Field::detail => "detail",
            Field::encryptedData => "encryptedData",
            Field::error => "error",
            Field::heartbeat => "heartbeat",
            Field::id => "id",
            Field::iv => "iv",
            Field::jitter => "jitter",
            Field::loginUrl => "loginUrl",
            Field::magic => crate::session::MAGIC_ID,
            Field::maxQueue => "maxQueue",
            Field::maxUnacked => "maxUnacked",
            Field::resume => "resume",
            Field::maxReconnectTryTimes => "maxReconnectTryTimes",
            Field::message => "message",
            Field::method => "method",
            Field::openTimeout => "openTimeout",
            Field::reconnectTimeIncrease => "reconnectTimeIncrease",
            Field::seed => "seed",
            Field::session => "session",
            Field::skey => "skey",
            Field::statusCode => "statusCode",
            Field::timeout => "timeout",
            Field::r#type => "type",
            Field::url => "url",
            Field::userInfo => "userInfo",
            Field::userinfo => "userinfo",
        }
    }
}

/// The bits of the one-number summary a host may give of a session-request response
/// (`response_shape` in `js/host.js`; generated into `js/constants.js`).
pub mod response_bits {
    /// Bits 0-9: the HTTP status (0 when not a number in 0..1024).
    pub const STATUS_MASK: u32 = 0x3FF;
    /// The body is an object (or JSON text of one).
    pub const BODY_OBJECT: u32 = 1 << 10;
    /// The body's magic-id property is truthy.
    pub const MAGIC: u32 = 1 << 11;
    /// The body's `code` is -1 (v2: session invalid).
    pub const CODE_MINUS_ONE: u32 = 1 << 12;
    /// The body's `code` is 0 (v2: ok).
    pub const CODE_ZERO: u32 = 1 << 13;
}

/// What the session service checks of a session-request response.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ResponseSummary {
    /// HTTP status (numeric strings converted).
    pub status: Option<f64>,
    /// The body carries the magic id.
    pub magic: bool,
    /// The body's `code`, when it is -1 or 0.
    pub code: Option<f64>,
}

impl ResponseSummary {
    /// Decodes the [`response_bits`] summary.
    pub fn from_bits(bits: u32) -> Self {
        use response_bits as b;
        ResponseSummary {
            status: Some(f64::from(bits & b::STATUS_MASK)).filter(|s| *s > 0.0),
            magic: bits & b::MAGIC != 0,
            code: if bits & b::CODE_MINUS_ONE != 0 {
                Some(-1.0)
            } else if bits & b::CODE_ZERO != 0 {
                Some(0.0)
            } else {
                None
            },
        }
    }
}

/// Read access to a host value. Every method is total: a missing property, a value of
/// another kind or a hostile object (a throwing getter) reads as undefined.
pub trait HostValue: Clone {
    /// `undefined`.
    fn undefined() -> Self;
    /// A string value.
    fn from_string(s: &str) -> Self;
    /// `self[field]`, undefined when `self` is not an object or has no such property.
    fn get(&self, field: Field) -> Self;
    /// The string, when this is one.
    fn as_string(&self) -> Option<String>;
    /// A finite number, or a short string holding one (Android once sent `statusCode: "200"`).
    fn as_number(&self) -> Option<f64>;
    /// The boolean, when this is one.
    fn as_bool(&self) -> Option<bool>;
    /// Truthy in the JS sense.
    fn is_truthy(&self) -> bool;
    /// An object (arrays and functions included).
    fn is_object(&self) -> bool;
    /// `undefined`.
    fn is_undefined(&self) -> bool;
    /// A wx response's `data` as an object: itself, or parsed when it is JSON text of one;
    /// undefined otherwise.
    fn response_body(&self) -> Self;
    /// What the session service checks of a response (a host may answer it in one call).
    fn response_summary(&self) -> ResponseSummary {
        let body = self.response_body();
        let code = body.get(Field::code).as_number().filter(|c| *c == 0.0 || *c == -1.0);
        ResponseSummary {
            status: self.get(Field::statusCode).as_number().filter(|s| *s > 0.0 && *s < 1024.0).map(f64::trunc),
            magic: body.is_object() && body.get(Field::magic).is_truthy(),
            code: if body.is_object() { code } else { None },
        }
    }
    /// The [`request_bits`] summary of `request` options (one host call in the driver).
    fn request_shape(&self) -> u32;
    /// A non-empty string property.
    fn get_text(&self, field: Field) -> Option<String> {
        self.get(field).as_string().filter(|s| !s.is_empty())
    }
    /// `Some(self)` unless undefined.
    fn defined(self) -> Option<Self> {
        (!self.is_undefined()).then_some(self)
    }
}

/// A plain value tree implementing [`HostValue`]: the host value of native tests.
#[derive(Clone, Debug, PartialEq, Default)]
pub enum Value {
    /// `undefined`.
    #[default]
    Undefined,
    /// `null`.
    Null,
    /// A boolean.
    Bool(bool),
    /// A number.
    Number(f64),
    /// A string.
    String(String),
    /// An object, properties in order.
    Object(Vec<(String, Value)>),
}

impl Value {
    /// An object from `(name, value)` pairs.
    pub fn object<const N: usize>(pairs: [(&str, Value); N]) -> Value {
        Value::Object(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
    }

    /// A string.
    pub fn str(s: &str) -> Value {
        Value::String(s.to_owned())
    }

    /// A wx response `{statusCode, data}`.
    pub fn response(status: f64, data: Value) -> Value {
        Value::object([("statusCode", Value::Number(status)), ("data", data)])
    }

    /// `self[name]` by any property name.
    pub fn prop(&self, name: &str) -> Value {
        match self {
            Value::Object(props) => props.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap_or_default(),
            _ => Value::Undefined,
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::str(s)
    }
}

impl From<f64> for Value {
    fn from(n: f64) -> Value {
        Value::Number(n)
    }
}

impl HostValue for Value {
    fn undefined() -> Self {
        Value::Undefined
    }
    fn from_string(s: &str) -> Self {
        Value::str(s)
    }
    fn get(&self, field: Field) -> Self {
        self.prop(field.name())
    }
    fn as_string(&self) -> Option<String> {
        match self {
            Value::String(s) => Some(s.clone()),
            _ => None,
        }
    }
    fn as_number(&self) -> Option<f64> {
        match self {
            Value::Number(n) if n.is_finite() => Some(*n),
            Value::String(s) if s.len() <= 32 => s.trim().parse::<f64>().ok().filter(|n| n.is_finite()),
            _ => None,
        }
    }
    fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }
    fn is_truthy(&self) -> bool {
        match self {
            Value::Undefined | Value::Null => false,
            Value::Bool(b) => *b,
            Value::Number(n) => *n != 0.0 && !n.is_nan(),
            Value::String(s) => !s.is_empty(),
            Value::Object(_) => true,
        }
    }
    fn is_object(&self) -> bool {
        matches!(self, Value::Object(_))
    }
    fn is_undefined(&self) -> bool {
        matches!(self, Value::Undefined)
    }
    fn request_shape(&self) -> u32 {
        Value::request_shape(self)
    }
    fn response_body(&self) -> Self {
        match self.get(Field::data) {
            v @ Value::Object(_) => v,
            _ => Value::Undefined,
        }
    }
}

/// The bits of the one-number summary of `request` options (`request_shape` in
/// `js/host.js`; generated into `js/constants.js`).
pub mod request_bits {
    /// Bits 0-2: the kind of the options value ([`super::kind`]).
    pub const KIND_MASK: u32 = 0x7;
    /// Bits 3-5: the kind of `options.header`.
    pub const HEADER_KIND_SHIFT: u32 = 3;
    /// `url` is a non-empty string.
    pub const URL: u32 = 1 << 6;
    /// `login` is truthy.
    pub const LOGIN: u32 = 1 << 7;
    /// `loginUrl` is a non-empty string.
    pub const LOGIN_URL: u32 = 1 << 8;
    /// `timeout` is a number.
    pub const TIMEOUT: u32 = 1 << 9;
    /// The header has a `Referer` (any letter case), which wx.request refuses.
    pub const REFERER: u32 = 1 << 10;
}

/// Value kinds as numbered in the host summaries.
pub mod kind {
    /// `undefined`.
    pub const UNDEFINED: u32 = 0;
    /// `null`.
    pub const NULL: u32 = 1;
    /// A boolean.
    pub const BOOLEAN: u32 = 2;
    /// A number.
    pub const NUMBER: u32 = 3;
    /// A string.
    pub const STRING: u32 = 4;
    /// An array.
    pub const ARRAY: u32 = 5;
    /// Any other object, or a function.
    pub const OBJECT: u32 = 6;
    /// Anything else (a symbol, a bigint), or an object whose keys cannot be read.
    pub const OTHER: u32 = 7;
}

impl Value {
    fn kind(&self) -> u32 {
        match self {
            Value::Undefined => kind::UNDEFINED,
            Value::Null => kind::NULL,
            Value::Bool(_) => kind::BOOLEAN,
            Value::Number(_) => kind::NUMBER,
            Value::String(_) => kind::STRING,
            Value::Object(_) => kind::OBJECT,
        }
    }

    /// The [`request_bits`] summary of request options.
    pub fn request_shape(&self) -> u32 {
        use request_bits as b;
        let k = self.kind();
        if k != kind::OBJECT {
            return k;
        }
        let header = self.prop("header");
        let mut shape = k | header.kind() << b::HEADER_KIND_SHIFT;
        if self.get_text(Field::url).is_some() {
            shape |= b::URL;
        }
        if self.prop("login").is_truthy() {
            shape |= b::LOGIN;
        }
        if self.get_text(Field::loginUrl).is_some() {
            shape |= b::LOGIN_URL;
        }
        if matches!(self.prop("timeout"), Value::Number(_)) {
            shape |= b::TIMEOUT;
        }
        if let Value::Object(props) = &header {
            if props.iter().any(|(k, _)| k.eq_ignore_ascii_case("referer")) {
                shape |= b::REFERER;
            }
        }
        shape
    }
}
