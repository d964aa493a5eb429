//! `/tunnel`, the socket frames and the chat room.

use std::time::Duration;

use serde_json::json;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use wafer_devserver::Config;

use crate::common::*;

async fn tunnel_url(addr: std::net::SocketAddr, code: &str, host: Option<&str>) -> String {
    let (id, skey, _) = login(addr, code).await;
    let mut headers = vec![("X-WX-Id", id.as_str()), ("X-WX-Skey", skey.as_str())];
    if let Some(host) = host {
        headers.push(("Host", host));
    }
    let r = get(addr, "/tunnel", &headers).await;
    assert_eq!(r.status, 200);
    r.json()["url"].as_str().unwrap().to_owned()
}

/// Expects a close frame with `code`, then finishes the closing handshake.
async fn expect_close(ws: &mut Ws, code: u16) {
    match next(ws).await {
        Some(Ok(Message::Close(Some(frame)))) => assert_eq!(u16::from(frame.code), code),
        other => panic!("expected close {code}, got {other:?}"),
    }
    // Reading again sends our answer; then the server hangs up.
    assert!(matches!(next(ws).await, None | Some(Err(_))));
}

#[tokio::test]
async fn tunnel_gives_a_ws_url_checked_like_user() {
    let (server, addr) = start(quiet()).await;
    let url = tunnel_url(addr, "dev:alice", None).await;
    let id = url.strip_prefix(&format!("ws://{addr}/ws/")).expect(&url);
    assert_eq!(id.len(), 32);
    assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_ne!(url, tunnel_url(addr, "dev:alice", None).await);

    // The Host header names the host, so it works behind any loopback port.
    let url = tunnel_url(addr, "dev:alice", Some("localhost:9999")).await;
    assert!(url.starts_with("ws://localhost:9999/ws/"), "{url}");
    // A Host that is not a plain host[:port] falls back to the listen address.
    let url = tunnel_url(addr, "dev:alice", Some("evil/path?x")).await;
    assert!(url.starts_with(&format!("ws://{addr}/ws/")), "{url}");

    assert_eq!(get(addr, "/tunnel", &[]).await.json()["error"], "ERR_CHECK_LOGIN_FAILED");
    let r = get(addr, "/tunnel", &[("X-WX-Id", "1"), ("X-WX-Skey", "2")]).await;
    assert_eq!(r.json()["error"], "ERR_INVALID_SESSION");
    assert_eq!(get(addr, "/dev/stats", &[]).await.json()["pendingTunnels"], 4);
    stop(server).await;
}

#[tokio::test]
async fn timeout_frame_then_ping_pong() {
    let (server, addr) = start(Config { heartbeat: 7, ..quiet() }).await;
    let (mut ws, user) = connect_as(addr, "dev:alice").await;
    assert_eq!(next_text(&mut ws).await, "timeout:7");
    assert_eq!(next_message(&mut ws).await, ("people".into(), json!({"total": 1, "enter": user})));
    // Unknown and invalid frames are ignored.
    for junk in ["hello", "hello:1", "message", "message:{not json", "message:[1]", "pong", "timeout:3", ""] {
        send(&mut ws, junk).await;
    }
    send(&mut ws, r#"message:{"type":"other","content":1}"#).await;
    send(&mut ws, r#"message:{"type":"speak","content":"no word"}"#).await;
    ws.send_binary().await;
    send(&mut ws, "ping").await;
    assert_eq!(next_text(&mut ws).await, "pong");
    send(&mut ws, "ping").await;
    assert_eq!(next_text(&mut ws).await, "pong");
    stop(server).await;
}

/// Sends a binary frame (not part of the protocol).
trait SendBinary {
    async fn send_binary(&mut self);
}

impl SendBinary for Ws {
    async fn send_binary(&mut self) {
        use futures_util::SinkExt;
        self.send(Message::binary(vec![1, 2, 3])).await.unwrap();
    }
}

#[tokio::test]
async fn heartbeat_zero_sends_no_timeout_frame() {
    let (server, addr) = start(Config { heartbeat: 0, ..quiet() }).await;
    let (mut ws, _) = connect_as(addr, "dev:alice").await;
    assert_eq!(next_message(&mut ws).await.0, "people");
    stop(server).await;
}

#[tokio::test]
async fn two_clients_chat() {
    let (server, addr) = start(quiet()).await;
    let (mut a, alice) = connect_as(addr, "dev:alice").await;
    assert_eq!(next_text(&mut a).await, "timeout:15");
    assert_eq!(next_message(&mut a).await, ("people".into(), json!({"total": 1, "enter": alice})));

    let (mut b, bob) = connect_as(addr, "dev:bob").await;
    assert_eq!(next_text(&mut b).await, "timeout:15");
    let bob_enters = ("people".to_owned(), json!({"total": 2, "enter": bob}));
    assert_eq!(next_message(&mut b).await, bob_enters);
    assert_eq!(next_message(&mut a).await, bob_enters);

    send(&mut a, r#"message:{"type":"speak","content":{"word":"hi: there"}}"#).await;
    let said = ("speak".to_owned(), json!({"who": alice, "word": "hi: there"}));
    assert_eq!(next_message(&mut a).await, said);
    assert_eq!(next_message(&mut b).await, said);

    send(&mut b, r#"message:{"type":"speak","content":{"word":"你好"}}"#).await;
    let said = ("speak".to_owned(), json!({"who": bob, "word": "你好"}));
    assert_eq!(next_message(&mut a).await, said);
    assert_eq!(next_message(&mut b).await, said);

    // `close` from bob: the server closes his socket, alice sees him leave.
    send(&mut b, "close").await;
    expect_close(&mut b, 1000).await;
    assert_eq!(next_message(&mut a).await, ("people".into(), json!({"total": 1, "leave": bob})));
    wait_stat(addr, "sockets", 1).await;

    // A WebSocket close from alice counts as leaving too.
    a.close(None).await.unwrap();
    wait_stat(addr, "sockets", 0).await;
    assert_eq!(get(addr, "/dev/stats", &[]).await.json()["roomMembers"], 0);
    stop(server).await;
}

#[tokio::test]
async fn oversized_frame_closes_with_1009() {
    let (server, addr) = start(quiet()).await;
    let (mut ws, _) = connect_as(addr, "dev:alice").await;
    next_text(&mut ws).await;
    next_message(&mut ws).await;
    // Exactly at the limit is fine.
    let word = "x".repeat(64 * 1024 - r#"message:{"type":"speak","content":{"word":""}}"#.len());
    send(&mut ws, &format!(r#"message:{{"type":"speak","content":{{"word":"{word}"}}}}"#)).await;
    assert_eq!(next_message(&mut ws).await.1["word"].as_str().unwrap().len(), word.len());

    send(&mut ws, &"y".repeat(64 * 1024 + 1)).await;
    expect_close(&mut ws, 1009).await;
    wait_stat(addr, "sockets", 0).await;
    stop(server).await;
}

#[tokio::test]
async fn drop_sockets_hook_closes_without_close_frame() {
    let (server, addr) = start(quiet()).await;
    let (mut a, _) = connect_as(addr, "dev:alice").await;
    let (mut b, _) = connect_as(addr, "dev:bob").await;
    wait_stat(addr, "sockets", 2).await;
    let r = http(addr, "POST", "/dev/drop-sockets", &[], "").await;
    assert_eq!(r.json()["dropped"], 2);
    for ws in [&mut a, &mut b] {
        loop {
            match next(ws).await {
                Some(Ok(Message::Text(_))) => continue, // frames sent before the drop
                Some(Ok(Message::Close(f))) => panic!("got a close frame {f:?}"),
                Some(Err(_)) | None => break,
                Some(Ok(_)) => continue,
            }
        }
    }
    wait_stat(addr, "sockets", 0).await;
    // New sockets still work afterwards.
    let (mut c, _) = connect_as(addr, "dev:carol").await;
    assert_eq!(next_text(&mut c).await, "timeout:15");
    drop(c);
    wait_stat(addr, "sockets", 0).await;
    stop(server).await;
}

#[tokio::test]
async fn tunnel_ids_are_single_use_and_expire() {
    let (server, addr) = start(Config { tunnel_ttl: Duration::from_millis(300), ..quiet() }).await;
    let url = tunnel_url(addr, "dev:alice", None).await;
    let ws = ws_connect(&url).await;
    let again = tokio_tungstenite::connect_async(&url).await;
    match again {
        Err(WsError::Http(res)) => assert_eq!(res.status(), 404),
        other => panic!("second use of a tunnel id: {other:?}"),
    }
    drop(ws);

    let stale = tunnel_url(addr, "dev:alice", None).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    match tokio_tungstenite::connect_async(&stale).await {
        Err(WsError::Http(res)) => assert_eq!(res.status(), 404),
        other => panic!("expired tunnel id: {other:?}"),
    }
    match tokio_tungstenite::connect_async(format!("ws://{addr}/ws/nope")).await {
        Err(WsError::Http(res)) => assert_eq!(res.status(), 404),
        other => panic!("unknown tunnel id: {other:?}"),
    }
    // A plain GET on a live id is a 400 and does not use the id up.
    let url = tunnel_url(addr, "dev:alice", None).await;
    let path = url.strip_prefix(&format!("ws://{addr}")).unwrap();
    assert_eq!(get(addr, path, &[]).await.status, 400);
    ws_connect(&url).await;
    stop(server).await;
}

#[tokio::test]
async fn socket_limit_answers_503() {
    let (server, addr) = start(Config { max_sockets: 2, ..quiet() }).await;
    let (_a, _) = connect_as(addr, "dev:a").await;
    let (_b, _) = connect_as(addr, "dev:b").await;
    let url = tunnel_url(addr, "dev:c", None).await;
    match tokio_tungstenite::connect_async(&url).await {
        Err(WsError::Http(res)) => assert_eq!(res.status(), 503),
        other => panic!("third socket: {other:?}"),
    }
    drop(_a);
    wait_stat(addr, "sockets", 1).await;
    // The refused id was not used up.
    let c = ws_connect(&url).await;
    drop((_b, c));
    wait_stat(addr, "sockets", 0).await;
    stop(server).await;
}

#[tokio::test]
async fn slow_reader_is_dropped_when_its_queue_fills() {
    let (server, addr) = start(Config { queue_len: 4, ..quiet() }).await;
    let (_slow, _) = connect_as(addr, "dev:slow").await; // never reads
    let (mut fast, _) = connect_as(addr, "dev:fast").await;
    let word = "z".repeat(60 * 1024);
    let frame = format!(r#"message:{{"type":"speak","content":{{"word":"{word}"}}}}"#);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        send(&mut fast, &frame).await;
        // Drain our own copies (and the people frames).
        loop {
            let (kind, content) = match next_text(&mut fast).await {
                t if t.starts_with("message:") => {
                    let v: serde_json::Value = serde_json::from_str(&t["message:".len()..]).unwrap();
                    (v["type"].as_str().unwrap().to_owned(), v["content"].clone())
                }
                _ => continue,
            };
            if kind == "speak" {
                break;
            }
            if kind == "people" && content.get("leave").is_some() {
                assert_eq!(content["leave"]["nickName"], "slow");
                stop(server).await;
                return;
            }
        }
        assert!(tokio::time::Instant::now() < deadline, "slow reader never dropped");
    }
}

#[tokio::test]
async fn shutdown_sends_going_away() {
    let (server, addr) = start(quiet()).await;
    let (mut ws, _) = connect_as(addr, "dev:alice").await;
    next_text(&mut ws).await;
    next_message(&mut ws).await;
    let client = tokio::spawn(async move { expect_close(&mut ws, 1001).await });
    let started = std::time::Instant::now();
    stop(server).await;
    assert!(started.elapsed() < Duration::from_millis(500), "{:?}", started.elapsed());
    client.await.unwrap();
    assert!(tokio::net::TcpStream::connect(addr).await.is_err(), "listener closed");
}

#[tokio::test]
async fn silent_sockets_are_dropped() {
    let config = Config { idle_timeout: Some(Duration::from_millis(300)), ..quiet() };
    let (server, addr) = start(config).await;
    let (mut silent, _) = connect_as(addr, "dev:silent").await;
    let (mut talker, _) = connect_as(addr, "dev:talker").await;
    for _ in 0..6 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        send(&mut talker, "ping").await;
    }
    // The silent one is gone (no close frame), the talker is still there.
    loop {
        match next(&mut silent).await {
            Some(Ok(Message::Text(_))) => continue,
            Some(Ok(Message::Close(f))) => panic!("got a close frame {f:?}"),
            Some(Err(_)) | None => break,
            Some(Ok(_)) => continue,
        }
    }
    wait_stat(addr, "sockets", 1).await;
    send(&mut talker, "ping").await;
    loop {
        if next_text(&mut talker).await == "pong" {
            break;
        }
    }
    drop(talker);
    wait_stat(addr, "sockets", 0).await;
    stop(server).await;
}
