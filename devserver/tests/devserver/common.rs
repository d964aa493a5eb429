//! Helpers: start a server on 127.0.0.1:0, a tiny HTTP/1.1 client, a WebSocket
//! client (tokio-tungstenite).

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use wafer_devserver::{serve, Config, Server};

pub const MAGIC: &str = "F2C224D4-2BCE-4C64-AF9F-A6D872000D1A";
/// Longest wait for anything the server should do promptly.
pub const PROMPT: Duration = Duration::from_secs(3);

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

pub fn quiet() -> Config {
    Config { log: false, ..Config::default() }
}

pub async fn start(config: Config) -> (Server, SocketAddr) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = serve(listener, config).await.unwrap();
    let addr = server.local_addr();
    (server, addr)
}

pub async fn stop(server: Server) {
    tokio::time::timeout(Duration::from_secs(5), server.shutdown())
        .await
        .expect("server stops promptly")
        .expect("server stops cleanly");
}

pub struct Resp {
    pub status: u16,
    /// Header names lowercased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    pub fn header(&self, name: &str) -> &str {
        let name = name.to_ascii_lowercase();
        self.headers.iter().find(|(k, _)| *k == name).map_or("", |(_, v)| v.as_str())
    }
}

/// One HTTP/1.1 request on a fresh connection (`Connection: close`, body read to EOF).
/// Hand-rolled on purpose: the only peer is our own server, and a client crate would
/// rebuild hyper and axum a second time with client features.
pub async fn http(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Resp {
    let fut = async {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let mut req = format!("{method} {path} HTTP/1.1\r\nconnection: close\r\ncontent-length: {}\r\n", body.len());
        if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
            req.push_str(&format!("host: {addr}\r\n"));
        }
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str("\r\n");
        req.push_str(body);
        stream.write_all(req.as_bytes()).await.unwrap();
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await.unwrap();
        parse_response(&raw)
    };
    tokio::time::timeout(PROMPT, fut).await.expect("HTTP answer in time")
}

fn parse_response(raw: &[u8]) -> Resp {
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("end of headers");
    let head = std::str::from_utf8(&raw[..split]).unwrap();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap();
    let status = status_line.split(' ').nth(1).unwrap().parse().unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    if headers.iter().any(|(k, v)| k == "transfer-encoding" && v.contains("chunked")) {
        body = dechunk(&body);
    }
    Resp { status, headers, body }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let eol = data.windows(2).position(|w| w == b"\r\n").expect("chunk size line");
        let size_text = std::str::from_utf8(&data[..eol]).unwrap();
        let size = usize::from_str_radix(size_text.split(';').next().unwrap().trim(), 16).unwrap();
        data = &data[eol + 2..];
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}

pub async fn get(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Resp {
    http(addr, "GET", path, headers, "").await
}

/// A v1 login: `(id, skey, userInfo)`.
pub async fn login(addr: SocketAddr, code: &str) -> (String, String, Value) {
    let r = get(addr, "/login", &[("X-WX-Code", code)]).await;
    assert_eq!(r.status, 200);
    let v = r.json();
    (
        v["session"]["id"].as_str().unwrap().to_owned(),
        v["session"]["skey"].as_str().unwrap().to_owned(),
        v["userInfo"].clone(),
    )
}

/// Logs `code` in and opens a tunnel socket: `(socket, userInfo)`.
pub async fn connect_as(addr: SocketAddr, code: &str) -> (Ws, Value) {
    let (id, skey, user) = login(addr, code).await;
    let r = get(addr, "/tunnel", &[("X-WX-Id", &id), ("X-WX-Skey", &skey)]).await;
    assert_eq!(r.status, 200);
    let url = r.json()["url"].as_str().unwrap().to_owned();
    (ws_connect(&url).await, user)
}

pub async fn ws_connect(url: &str) -> Ws {
    let (ws, _) = tokio::time::timeout(PROMPT, tokio_tungstenite::connect_async(url))
        .await
        .expect("socket opens in time")
        .expect("socket opens");
    ws
}

/// The next text frame (control frames skipped); panics on close or error.
pub async fn next_text(ws: &mut Ws) -> String {
    loop {
        match next(ws).await {
            Some(Ok(Message::Text(t))) => return t.to_string(),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            other => panic!("expected a text frame, got {other:?}"),
        }
    }
}

pub async fn next(ws: &mut Ws) -> Option<Result<Message, tokio_tungstenite::tungstenite::Error>> {
    tokio::time::timeout(PROMPT, ws.next()).await.expect("a frame in time")
}

/// The next `message:` frame as `(type, content)`.
pub async fn next_message(ws: &mut Ws) -> (String, Value) {
    let text = next_text(ws).await;
    let body = text.strip_prefix("message:").unwrap_or_else(|| panic!("not a message frame: {text}"));
    let v: Value = serde_json::from_str(body).unwrap();
    (v["type"].as_str().unwrap().to_owned(), v["content"].clone())
}

pub async fn send(ws: &mut Ws, text: &str) {
    ws.send(Message::text(text)).await.unwrap();
}

/// Polls `/dev/stats` until `key` equals `want`.
pub async fn wait_stat(addr: SocketAddr, key: &str, want: u64) {
    let deadline = tokio::time::Instant::now() + PROMPT;
    loop {
        let v = get(addr, "/dev/stats", &[]).await.json();
        if v[key] == want {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "stats {key} stuck at {} (want {want})", v[key]);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
