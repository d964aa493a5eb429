//! Loopback fixtures: the service, a fake business server that records callbacks, a fake
//! WeChat, a WebSocket client. Everything binds 127.0.0.1:0 and stops when dropped.

#![allow(dead_code, clippy::field_reassign_with_default)]

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use wafer_services::sign::{signature, tc_id};
use wafer_services::{serve, Server, Settings};

/// The registered business server of the tests.
pub const HOST: &str = "127.0.0.1";
/// Its TunnelSignatureKey.
pub const KEY: &str = "test-signature-key-7f3a";

/// A server task stopped when dropped.
pub struct Task(pub JoinHandle<()>);

impl Drop for Task {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A received callback, signature already checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Received {
    pub tunnel_id: String,
    pub kind: String,
    pub content: Option<String>,
}

/// How the fake business server answers the next callbacks (then `200 {code:0}`).
#[derive(Clone, Copy, Debug)]
pub enum Answer {
    Ok,
    Status(u16),
    Garbage,
    Reject9003,
    Hang(u64),
}

/// A fake business server at `http://127.0.0.1:<port>/tunnel`.
pub struct Business {
    pub addr: SocketAddr,
    pub rx: mpsc::UnboundedReceiver<Received>,
    pub script: Arc<Mutex<VecDeque<Answer>>>,
    pub tries: Arc<Mutex<usize>>,
    _task: Task,
}

#[derive(Clone)]
struct BizState {
    tx: mpsc::UnboundedSender<Received>,
    script: Arc<Mutex<VecDeque<Answer>>>,
    tries: Arc<Mutex<usize>>,
}

async fn receive(State(s): State<BizState>, Json(body): Json<Value>) -> axum::response::Response {
    *s.tries.lock().unwrap() += 1;
    let data = body["data"].as_str().expect("data is a string").to_owned();
    assert_eq!(body["signature"].as_str(), Some(signature(&data, KEY).as_str()), "callback signature");
    let answer = s.script.lock().unwrap().pop_front().unwrap_or(Answer::Ok);
    match answer {
        Answer::Ok => {}
        Answer::Status(code) => return (StatusCode::from_u16(code).unwrap(), "down").into_response(),
        Answer::Garbage => return (StatusCode::OK, "<html>").into_response(),
        Answer::Reject9003 => {
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({"code": 9003, "message": "Bad request - check signature failed"})),
            )
                .into_response()
        }
        Answer::Hang(ms) => tokio::time::sleep(Duration::from_millis(ms)).await,
    }
    let v: Value = serde_json::from_str(&data).unwrap();
    let _ = s.tx.send(Received {
        tunnel_id: v["tunnelId"].as_str().unwrap().to_owned(),
        kind: v["type"].as_str().unwrap().to_owned(),
        content: v.get("content").and_then(Value::as_str).map(str::to_owned),
    });
    Json(json!({"code": 0, "message": "ok"})).into_response()
}

impl Business {
    pub async fn start() -> Business {
        let (tx, rx) = mpsc::unbounded_channel();
        let script = Arc::new(Mutex::new(VecDeque::new()));
        let tries = Arc::new(Mutex::new(0));
        let state = BizState { tx, script: script.clone(), tries: tries.clone() };
        let app = Router::new().route("/tunnel", post(receive)).with_state(state);
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let task = Task(tokio::spawn(async move {
            let _ = axum::serve(l, app).await;
        }));
        Business { addr, rx, script, tries, _task: task }
    }

    pub fn origin(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn answer(&self, answers: &[Answer]) {
        self.script.lock().unwrap().extend(answers.iter().copied());
    }

    /// The next callback (fails after 5 s).
    pub async fn next(&mut self) -> Received {
        tokio::time::timeout(Duration::from_secs(5), self.rx.recv()).await.expect("a callback in time").expect("open")
    }

    /// Asserts no callback arrives within `ms`.
    pub async fn none_within(&mut self, ms: u64) {
        if let Ok(Some(r)) = tokio::time::timeout(Duration::from_millis(ms), self.rx.recv()).await {
            panic!("unexpected callback {r:?}");
        }
    }
}

/// Settings for a loopback service whose callbacks for [`HOST`] go to `business`.
pub fn settings(business: &Business) -> Settings {
    let mut s = Settings::default();
    s.listen = "127.0.0.1:0".parse().unwrap();
    s.add_app(HOST, KEY);
    s.set_callback(HOST, &business.origin()).unwrap();
    s.heartbeat = 0;
    s.backoff.base = Duration::from_millis(30);
    s.backoff.max = Duration::from_millis(200);
    s.backoff.attempts = 4;
    s.http_timeout = Duration::from_secs(2);
    s.shutdown_grace = Duration::from_secs(3);
    s
}

pub async fn start(settings: Settings) -> Server {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    serve(l, settings).await.unwrap()
}

/// The tunnel API client of a business server.
pub struct Api {
    pub base: String,
    pub http: reqwest::Client,
}

impl Api {
    pub fn new(server: &Server) -> Api {
        Api { base: format!("http://{}", server.local_addr()), http: reqwest::Client::new() }
    }

    pub async fn post_raw(&self, path: &str, body: String) -> (u16, Value) {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    pub async fn post(&self, path: &str, body: Value) -> Value {
        let (status, v) = self.post_raw(path, body.to_string()).await;
        assert_eq!(status, 200, "{path}: {v}");
        v
    }

    /// `/get/wsurl` as the SDK signs it; returns (tunnelId, connectUrl).
    pub async fn wsurl(&self) -> (String, String) {
        let v = self.post("/get/wsurl", signed_wsurl("http://127.0.0.1/tunnel", KEY)).await;
        assert_eq!(v["code"], 0, "{v}");
        let data = v["data"].as_str().unwrap();
        assert_eq!(v["signature"].as_str(), Some(signature(data, KEY).as_str()));
        let d: Value = serde_json::from_str(data).unwrap();
        (d["tunnelId"].as_str().unwrap().to_owned(), d["connectUrl"].as_str().unwrap().to_owned())
    }

    /// `/ws/push` of a message `{type, content}` to `ids`; returns invalidTunnelIds.
    pub async fn push(&self, ids: &[&str], kind: &str, content: Value) -> Vec<String> {
        let packet = json!([{"tunnelIds": ids, "type": "message", "content": json!({"type": kind, "content": content}).to_string()}]);
        self.push_packets(packet).await
    }

    pub async fn push_packets(&self, packets: Value) -> Vec<String> {
        let data = packets.to_string();
        let v =
            self.post("/ws/push", json!({"data": data, "tcId": tc_id(HOST), "signature": signature(&data, KEY)})).await;
        assert_eq!(v["code"], 0, "{v}");
        serde_json::from_value(v["data"]["invalidTunnelIds"].clone()).unwrap()
    }

    pub async fn metrics(&self) -> String {
        self.http.get(format!("{}/metrics", self.base)).send().await.unwrap().text().await.unwrap()
    }
}

/// A `/get/wsurl` envelope signed with `key`.
pub fn signed_wsurl(receive_url: &str, key: &str) -> Value {
    let data = json!({"receiveUrl": receive_url, "protocolType": "wss"}).to_string();
    json!({"data": data, "tcId": tc_id(HOST), "tcKey": key, "signature": signature(&data, key)})
}

/// The value of a metric line `name` (labels included in `name`).
pub fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix(' ')))
        .map_or(0.0, |v| v.trim().parse().unwrap())
}

pub type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub async fn connect(url: &str) -> Ws {
    tokio_tungstenite::connect_async(url).await.expect("socket connects").0
}

/// The next text frame (pings/pongs skipped); `None` when the socket ended.
pub async fn next_text(ws: &mut Ws) -> Option<String> {
    loop {
        match tokio::time::timeout(Duration::from_secs(5), ws.next()).await.expect("a frame in time") {
            Some(Ok(Message::Text(t))) => return Some(t.to_string()),
            Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return None,
            Some(Ok(_)) => {}
        }
    }
}

/// Waits for the end of the socket and returns its close code, if any.
pub async fn close_code(ws: &mut Ws) -> Option<u16> {
    loop {
        match tokio::time::timeout(Duration::from_secs(5), ws.next()).await.expect("socket ends in time") {
            Some(Ok(Message::Close(f))) => return f.map(|f| u16::from(f.code)),
            None | Some(Err(_)) => return None,
            Some(Ok(_)) => {}
        }
    }
}

pub async fn send(ws: &mut Ws, text: &str) {
    ws.send(Message::text(text)).await.unwrap();
}

/// A fake WeChat `code2Session`: code `c-<openid>` → that openid and `SESSION_KEY`.
pub struct FakeWechat {
    pub addr: SocketAddr,
    _task: Task,
}

/// The session_key the fake WeChat gives (base64 of 16 bytes).
pub const SESSION_KEY: &str = "MTIzNDU2Nzg5MGFiY2RlZg==";
pub const APPID: &str = "wx0123456789abcdef";
pub const SECRET: &str = "appsecret-do-not-log-9c1e";

impl FakeWechat {
    pub async fn start() -> FakeWechat {
        async fn code2session(uri: axum::http::Uri) -> Json<Value> {
            let url = reqwest::Url::parse(&format!("http://x{uri}")).unwrap();
            let q: std::collections::HashMap<String, String> = url.query_pairs().into_owned().collect();
            if q.get("appid").map(String::as_str) != Some(APPID) || q.get("secret").map(String::as_str) != Some(SECRET)
            {
                return Json(json!({"errcode": 40125, "errmsg": "invalid appsecret"}));
            }
            if q.get("grant_type").map(String::as_str) != Some("authorization_code") {
                return Json(json!({"errcode": 40002, "errmsg": "invalid grant_type"}));
            }
            let code = q.get("js_code").cloned().unwrap_or_default();
            match code.strip_prefix("c-") {
                Some("used") => Json(json!({"errcode": 40163, "errmsg": "code been used"})),
                Some(open_id) if !open_id.is_empty() => Json(json!({"openid": open_id, "session_key": SESSION_KEY})),
                _ => Json(json!({"errcode": 40029, "errmsg": "invalid code"})),
            }
        }
        let app = Router::new().route("/sns/jscode2session", get(code2session));
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let task = Task(tokio::spawn(async move {
            let _ = axum::serve(l, app).await;
        }));
        FakeWechat { addr, _task: task }
    }
}

/// WeChat's `encryptedData` for a user: AES-128-CBC/PKCS#7 under [`SESSION_KEY`].
pub fn encrypted_user_info(open_id: &str, nick: &str, appid: &str, iv: &[u8; 16]) -> (String, String) {
    use aes::cipher::{block_padding::Pkcs7, BlockEncryptMut, KeyIvInit};
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let key: [u8; 16] = b64.decode(SESSION_KEY).unwrap().try_into().unwrap();
    let plain = json!({"openId": open_id, "nickName": nick, "gender": 1, "watermark": {"appid": appid, "timestamp": 1_700_000_000}}).to_string();
    let enc =
        cbc::Encryptor::<aes::Aes128>::new(&key.into(), iv.into()).encrypt_padded_vec_mut::<Pkcs7>(plain.as_bytes());
    (b64.encode(enc), b64.encode(iv))
}

/// Announces the extension on a fresh socket; returns the token.
pub async fn announce(ws: &mut Ws, grace: u64) -> String {
    send(ws, "resumable:1").await;
    let frame = next_text(ws).await.expect("resume-token");
    let token = frame.strip_prefix(&format!("resume-token:{grace}:")).unwrap_or_else(|| panic!("{frame}"));
    assert_eq!(token.len(), 32, "{frame}");
    assert!(token.bytes().all(|b| b.is_ascii_hexdigit()), "{frame}");
    token.to_owned()
}

/// Opens a resume socket for `url` and sends `resume:<n>:<token>`; returns the socket and
/// its first frame.
pub async fn resume(url: &str, n: u64, token: &str) -> (Ws, Option<String>) {
    let mut ws = connect(&format!("{url}?resume")).await;
    send(&mut ws, &format!("resume:{n}:{token}")).await;
    let first = next_text(&mut ws).await;
    (ws, first)
}

/// Asserts that a resume is refused: `resume-refused`, then the socket closes.
pub async fn refused(url: &str, n: u64, token: &str) {
    let (mut ws, first) = resume(url, n, token).await;
    assert_eq!(first.as_deref(), Some("resume-refused"), "resume:{n} on {url}");
    assert_eq!(next_text(&mut ws).await, None, "the refused socket is closed");
}

/// The frame of a pushed message `{"type":"t","content":word}`.
pub fn pushed(word: &str) -> String {
    format!(r#"message:{{"content":"{word}","type":"t"}}"#)
}
