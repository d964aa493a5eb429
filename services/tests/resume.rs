//! The resume extension (docs/RESUME.md) over loopback: tokens, numbered streams and acks,
//! the grace period, resume sockets, and what the business server sees (nothing).

#![allow(clippy::field_reassign_with_default)]

mod common;

use std::time::{Duration, Instant};

use common::*;
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;
use wafer_services::Settings;

/// Settings for these tests: no frame-rate limit (bursts of messages), the given grace.
fn resume_settings(biz: &Business, grace: u64) -> Settings {
    let mut s = settings(biz);
    s.limits.frames_per_sec = 0;
    s.resume_grace = grace;
    s
}

/// Pushes a message whose content is `word`; returns invalidTunnelIds.
async fn push(api: &Api, id: &str, word: &str) -> Vec<String> {
    api.push(&[id], "t", json!(word)).await
}

/// Waits (5 s at most) until the metric has the value.
async fn metric_becomes(api: &Api, name: &str, value: f64) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let m = api.metrics().await;
        if metric(&m, name) == value {
            return;
        }
        assert!(Instant::now() < deadline, "{name} is not {value}:\n{m}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The next callbacks are these client messages, in order.
async fn messages(biz: &mut Business, id: &str, words: &[String]) {
    for w in words {
        let r = biz.next().await;
        assert_eq!((r.tunnel_id.as_str(), r.kind.as_str(), r.content.as_deref()), (id, "message", Some(w.as_str())));
    }
}

#[tokio::test]
async fn a_resumable_tunnel_survives_a_lost_socket_without_losing_or_doubling() {
    let mut biz = Business::start().await;
    let server = start(resume_settings(&biz, 30)).await;
    let api = Api::new(&server);
    let (id, url) = api.wsurl().await;
    let mut ws = connect(&url).await;
    assert_eq!(biz.next().await.kind, "connect");
    let token = announce(&mut ws, 30).await;

    // The client's stream: an `ack` every 32 messages, and after a `pong` when it changed.
    let words: Vec<String> = (1..=40).map(|i| format!("c{i}")).collect();
    for w in &words[..32] {
        send(&mut ws, &format!("message:{w}")).await;
    }
    assert_eq!(next_text(&mut ws).await.as_deref(), Some("ack:32"));
    for w in &words[32..] {
        send(&mut ws, &format!("message:{w}")).await;
    }
    send(&mut ws, "ping").await;
    assert_eq!(next_text(&mut ws).await.as_deref(), Some("pong"));
    assert_eq!(next_text(&mut ws).await.as_deref(), Some("ack:40"));
    send(&mut ws, "ping").await;
    assert_eq!(next_text(&mut ws).await.as_deref(), Some("pong"));
    messages(&mut biz, &id, &words).await;

    // The service's stream: p1..p5 written, the client acknowledges 3.
    for i in 1..=5 {
        assert!(push(&api, &id, &format!("p{i}")).await.is_empty());
        assert_eq!(next_text(&mut ws).await, Some(pushed(&format!("p{i}"))));
    }
    send(&mut ws, "ack:3").await;
    // (A ping makes sure the ack was read before the loss.)
    send(&mut ws, "ping").await;
    assert_eq!(next_text(&mut ws).await.as_deref(), Some("pong"));

    // The socket is lost: grace, no callback; a push meanwhile is answered valid.
    drop(ws);
    metric_becomes(&api, "wafer_tunnels_in_grace", 1.0).await;
    assert_eq!(metric(&api.metrics().await, "wafer_tunnels_open"), 0.0);
    assert!(push(&api, &id, "p6").await.is_empty(), "a tunnel in grace is valid");
    biz.none_within(300).await;

    // Back, having received p1..p3 only: exactly p4..p6 again, then live traffic.
    let (mut ws, first) = resume(&url, 3, &token).await;
    assert_eq!(first.as_deref(), Some("resumed:40"));
    for w in ["p4", "p5", "p6"] {
        assert_eq!(next_text(&mut ws).await, Some(pushed(w)));
    }
    assert!(push(&api, &id, "p7").await.is_empty());
    assert_eq!(next_text(&mut ws).await, Some(pushed("p7")));
    let after: Vec<String> = vec!["after1".into(), "after2".into()];
    for w in &after {
        send(&mut ws, &format!("message:{w}")).await;
    }
    messages(&mut biz, &id, &after).await;
    send(&mut ws, "ping").await;
    assert_eq!(next_text(&mut ws).await.as_deref(), Some("pong"));
    assert_eq!(next_text(&mut ws).await.as_deref(), Some("ack:42"));
    biz.none_within(200).await;

    // The token stays valid: a second loss and resume.
    send(&mut ws, "ack:7").await;
    drop(ws);
    metric_becomes(&api, "wafer_tunnels_in_grace", 1.0).await;
    let (mut ws, first) = resume(&url, 7, &token).await;
    assert_eq!(first.as_deref(), Some("resumed:42"));
    assert!(push(&api, &id, "p8").await.is_empty());
    assert_eq!(next_text(&mut ws).await, Some(pushed("p8")), "nothing replayed before it");

    let m = api.metrics().await;
    assert_eq!(metric(&m, "wafer_resume_tokens_total"), 1.0);
    assert_eq!(metric(&m, "wafer_resumes_accepted_total"), 2.0);
    assert_eq!(metric(&m, "wafer_resumes_refused_total"), 0.0);
    assert_eq!(metric(&m, "wafer_tunnels_in_grace"), 0.0);
    assert_eq!(metric(&m, "wafer_tunnels_open"), 1.0);
    // A `close` from the client ends it at once: no grace.
    send(&mut ws, "close").await;
    assert_eq!(close_code(&mut ws).await, Some(1000));
    assert_eq!(biz.next().await, Received { tunnel_id: id.clone(), kind: "close".into(), content: None });
    biz.none_within(300).await;
    assert_eq!(push(&api, &id, "late").await, vec![id.clone()]);
    refused(&url, 8, &token).await;
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_grace_period_without_resume_ends_with_one_close() {
    let mut biz = Business::start().await;
    let server = start(resume_settings(&biz, 1)).await;
    let api = Api::new(&server);
    let (id, url) = api.wsurl().await;
    let mut ws = connect(&url).await;
    assert_eq!(biz.next().await.kind, "connect");
    let token = announce(&mut ws, 1).await;
    send(&mut ws, "message:m").await;
    assert_eq!(biz.next().await.content.as_deref(), Some("m"));
    drop(ws);
    let lost = Instant::now();
    metric_becomes(&api, "wafer_tunnels_in_grace", 1.0).await;
    assert_eq!(biz.next().await, Received { tunnel_id: id.clone(), kind: "close".into(), content: None });
    let waited = lost.elapsed();
    assert!(waited >= Duration::from_millis(900) && waited < Duration::from_secs(4), "{waited:?}");
    biz.none_within(500).await;
    assert_eq!(push(&api, &id, "late").await, vec![id.clone()]);
    refused(&url, 0, &token).await;
    let m = api.metrics().await;
    assert_eq!(metric(&m, "wafer_resume_grace_expired_total"), 1.0);
    assert_eq!(metric(&m, "wafer_tunnels_in_grace"), 0.0);
    assert_eq!(metric(&m, "wafer_tunnels_open"), 0.0);
    assert_eq!(server.tunnel_counts(), (0, 0));

    // A `close` pushed during the grace period ends it now, once.
    let (id, url) = api.wsurl().await;
    let mut ws = connect(&url).await;
    assert_eq!(biz.next().await.kind, "connect");
    announce(&mut ws, 1).await;
    drop(ws);
    metric_becomes(&api, "wafer_tunnels_in_grace", 1.0).await;
    assert!(api.push_packets(json!([{"tunnelIds": [id], "type": "close"}])).await.is_empty());
    assert_eq!(biz.next().await, Received { tunnel_id: id.clone(), kind: "close".into(), content: None });
    biz.none_within(1500).await;
    assert_eq!(metric(&api.metrics().await, "wafer_resume_grace_expired_total"), 1.0);
    let _ = url;
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn forged_foreign_and_unmeetable_resumes_are_refused_and_change_nothing() {
    let mut biz = Business::start().await;
    let mut s = resume_settings(&biz, 30);
    // Another business server (same key, to keep the fake's signature check simple).
    s.add_app("other.example", KEY);
    s.set_callback("other.example", &biz.origin()).unwrap();
    let server = start(s).await;
    let api = Api::new(&server);
    let (id, url) = api.wsurl().await;
    let mut ws = connect(&url).await;
    assert_eq!(biz.next().await.kind, "connect");
    let token = announce(&mut ws, 30).await;
    // A tunnel of the same app, and one of the other app, each with its token.
    let (_, url_same) = api.wsurl().await;
    let mut ws_same = connect(&url_same).await;
    biz.next().await;
    let token_same = announce(&mut ws_same, 30).await;
    let data = json!({"receiveUrl": "http://other.example/tunnel", "protocolType": "wss"}).to_string();
    let other_sig = wafer_services::sign::signature(&data, KEY);
    let tc = wafer_services::sign::tc_id("other.example");
    let v = api.post("/get/wsurl", json!({"data": data, "tcId": tc, "tcKey": KEY, "signature": other_sig})).await;
    let d: serde_json::Value = serde_json::from_str(v["data"].as_str().unwrap()).unwrap();
    let mut ws_other = connect(d["connectUrl"].as_str().unwrap()).await;
    biz.next().await;
    let token_other = announce(&mut ws_other, 30).await;

    assert!(push(&api, &id, "p1").await.is_empty());
    assert_eq!(next_text(&mut ws).await, Some(pushed("p1")));
    let forged = "0123456789abcdef0123456789abcdef";
    let mut ws = Some(ws);
    // While its socket is open (1 message written), then in grace (2 written, 2 acknowledged).
    for written in [1, 2] {
        refused(&url, 1, forged).await;
        refused(&url, 1, &token_same).await;
        refused(&url, 1, &token_other).await;
        refused(&url, written + 1, &token).await; // more than was written
        if let Some(ws) = &mut ws {
            // Nothing changed: the socket still serves the tunnel both ways.
            assert!(push(&api, &id, "p2").await.is_empty());
            assert_eq!(next_text(ws).await, Some(pushed("p2")));
            send(ws, "message:still").await;
            messages(&mut biz, &id, &["still".into()]).await;
            send(ws, "ack:2").await;
            send(ws, "ping").await;
            assert_eq!(next_text(ws).await.as_deref(), Some("pong"));
            assert_eq!(next_text(ws).await.as_deref(), Some("ack:1"));
        }
        refused(&url, 1, &token).await; // message 2 is no longer kept (after the ack)
        if ws.take().is_some() {
            metric_becomes(&api, "wafer_tunnels_in_grace", 1.0).await;
        }
    }
    // An unknown id, an id that does not parse, and a first frame that is not `resume`.
    let base = format!("ws://{}/socket", server.local_addr());
    refused(&format!("{base}/{forged}"), 0, forged).await;
    refused(&format!("{base}/nope"), 0, forged).await;
    let mut ws_bad = connect(&format!("{url}?resume")).await;
    send(&mut ws_bad, "ping").await;
    assert_eq!(next_text(&mut ws_bad).await.as_deref(), Some("resume-refused"));
    assert_eq!(next_text(&mut ws_bad).await, None);
    // Without `?resume`, an id in use (or in grace) is refused as before.
    assert!(tokio_tungstenite::connect_async(&url).await.is_err());
    biz.none_within(300).await;

    // The right token and count still resume it, after all that.
    let (mut ws2, first) = resume(&url, 2, &token).await;
    assert_eq!(first.as_deref(), Some("resumed:1"));
    assert!(push(&api, &id, "p3").await.is_empty());
    assert_eq!(next_text(&mut ws2).await, Some(pushed("p3")));
    let m = api.metrics().await;
    assert_eq!(metric(&m, "wafer_resumes_refused_total"), 13.0);
    assert_eq!(metric(&m, "wafer_resumes_accepted_total"), 1.0);
    biz.none_within(200).await;
    drop((ws_same, ws_other));
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn with_the_extension_off_the_announce_is_ignored() {
    let mut biz = Business::start().await;
    let server = start(resume_settings(&biz, 0)).await;
    let api = Api::new(&server);
    let (id, url) = api.wsurl().await;
    let mut ws = connect(&url).await;
    assert_eq!(biz.next().await.kind, "connect");
    send(&mut ws, "resumable:1").await;
    for i in 0..40 {
        send(&mut ws, &format!("message:{i}")).await;
    }
    send(&mut ws, "ping").await;
    assert_eq!(next_text(&mut ws).await.as_deref(), Some("pong"), "no token, no ack");
    assert!(push(&api, &id, "p").await.is_empty());
    assert_eq!(next_text(&mut ws).await, Some(pushed("p")));
    messages(&mut biz, &id, &(0..40).map(|i| i.to_string()).collect::<Vec<_>>()).await;
    // A loss ends the tunnel at once, as without the extension.
    drop(ws);
    assert_eq!(biz.next().await, Received { tunnel_id: id.clone(), kind: "close".into(), content: None });
    refused(&url, 0, "0123456789abcdef0123456789abcdef").await;
    assert_eq!(metric(&api.metrics().await, "wafer_resume_tokens_total"), 0.0);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_client_that_never_announces_sees_no_extension_frame() {
    let mut biz = Business::start().await;
    let mut s = resume_settings(&biz, 30);
    s.heartbeat = 5;
    let server = start(s).await;
    let api = Api::new(&server);
    let (id, url) = api.wsurl().await;
    let mut ws = connect(&url).await;
    assert_eq!(next_text(&mut ws).await.as_deref(), Some("timeout:5"));
    assert_eq!(biz.next().await.kind, "connect");
    // An announce that is not the first frame does not count either.
    send(&mut ws, "message:first").await;
    send(&mut ws, "resumable:1").await;
    for i in 0..40 {
        send(&mut ws, &format!("message:{i}")).await;
    }
    send(&mut ws, "ack:1").await;
    send(&mut ws, "ping").await;
    assert_eq!(next_text(&mut ws).await.as_deref(), Some("pong"));
    assert!(push(&api, &id, "p").await.is_empty());
    assert_eq!(next_text(&mut ws).await, Some(pushed("p")), "nothing but pong and the push");
    let mut words = vec!["first".to_owned()];
    words.extend((0..40).map(|i| i.to_string()));
    messages(&mut biz, &id, &words).await;
    drop(ws);
    assert_eq!(biz.next().await, Received { tunnel_id: id, kind: "close".into(), content: None });
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_still_open_socket_is_replaced_without_callbacks() {
    let mut biz = Business::start().await;
    let server = start(resume_settings(&biz, 30)).await;
    let api = Api::new(&server);
    let (id, url) = api.wsurl().await;
    let mut ws1 = connect(&url).await;
    assert_eq!(biz.next().await.kind, "connect");
    let token = announce(&mut ws1, 30).await;
    send(&mut ws1, "message:before").await;
    messages(&mut biz, &id, &["before".into()]).await;
    assert!(push(&api, &id, "p1").await.is_empty());
    assert_eq!(next_text(&mut ws1).await, Some(pushed("p1")));
    assert!(push(&api, &id, "p2").await.is_empty());
    // The client believes the socket lost (its heartbeat ran out); the service does not.
    let (mut ws2, first) = resume(&url, 1, &token).await;
    assert_eq!(first.as_deref(), Some("resumed:1"));
    assert_eq!(next_text(&mut ws2).await, Some(pushed("p2")));
    // The old socket ends without a `close` frame (the tunnel did not end).
    let code = loop {
        match tokio::time::timeout(Duration::from_secs(5), ws1.next()).await.expect("the old socket ends") {
            Some(Ok(Message::Text(t))) => assert_ne!(t.as_str(), "close"),
            Some(Ok(Message::Close(f))) => break f.map(|f| u16::from(f.code)),
            Some(Ok(_)) => {}
            None | Some(Err(_)) => break None,
        }
    };
    assert_eq!(code, Some(1001));
    assert!(push(&api, &id, "p3").await.is_empty());
    assert_eq!(next_text(&mut ws2).await, Some(pushed("p3")));
    send(&mut ws2, "message:after").await;
    messages(&mut biz, &id, &["after".into()]).await;
    biz.none_within(300).await;
    metric_becomes(&api, "wafer_sockets", 1.0).await;
    let m = api.metrics().await;
    assert_eq!((metric(&m, "wafer_tunnels_open"), metric(&m, "wafer_tunnels_in_grace")), (1.0, 0.0));
    // The service's shutdown ends it like any tunnel: `close` to the client, one callback.
    server.shutdown().await.unwrap();
    assert_eq!(next_text(&mut ws2).await.as_deref(), Some("close"));
    assert_eq!(biz.next().await, Received { tunnel_id: id, kind: "close".into(), content: None });
    biz.none_within(200).await;
}

#[tokio::test]
async fn too_many_unacknowledged_messages_end_the_resume() {
    let mut biz = Business::start().await;
    let mut s = resume_settings(&biz, 30);
    s.resume_max_unacked = 3;
    let server = start(s).await;
    let api = Api::new(&server);

    // In the grace period: the 4th push cannot be kept; the tunnel ends, once.
    let (id, url) = api.wsurl().await;
    let mut ws = connect(&url).await;
    assert_eq!(biz.next().await.kind, "connect");
    let token = announce(&mut ws, 30).await;
    assert!(push(&api, &id, "p1").await.is_empty());
    assert_eq!(next_text(&mut ws).await, Some(pushed("p1")));
    drop(ws);
    metric_becomes(&api, "wafer_tunnels_in_grace", 1.0).await;
    assert!(push(&api, &id, "p2").await.is_empty());
    assert!(push(&api, &id, "p3").await.is_empty());
    assert_eq!(push(&api, &id, "p4").await, vec![id.clone()]);
    assert_eq!(biz.next().await, Received { tunnel_id: id.clone(), kind: "close".into(), content: None });
    biz.none_within(300).await;
    refused(&url, 0, &token).await;

    // With the socket open: over the bound, the tunnel is no longer resumable, and its
    // loss ends it at once.
    let (id, url) = api.wsurl().await;
    let mut ws = connect(&url).await;
    assert_eq!(biz.next().await.kind, "connect");
    let token = announce(&mut ws, 30).await;
    for i in 1..=4 {
        assert!(push(&api, &id, &format!("q{i}")).await.is_empty());
        assert_eq!(next_text(&mut ws).await, Some(pushed(&format!("q{i}"))));
    }
    drop(ws);
    assert_eq!(biz.next().await, Received { tunnel_id: id.clone(), kind: "close".into(), content: None });
    refused(&url, 4, &token).await;
    assert_eq!(metric(&api.metrics().await, "wafer_tunnels_in_grace"), 0.0);

    // Acknowledged in time, the same traffic stays resumable.
    let (id, url) = api.wsurl().await;
    let mut ws = connect(&url).await;
    assert_eq!(biz.next().await.kind, "connect");
    let token = announce(&mut ws, 30).await;
    for i in 1..=6 {
        assert!(push(&api, &id, &format!("r{i}")).await.is_empty());
        assert_eq!(next_text(&mut ws).await, Some(pushed(&format!("r{i}"))));
        send(&mut ws, &format!("ack:{i}")).await;
        send(&mut ws, "ping").await;
        assert_eq!(next_text(&mut ws).await.as_deref(), Some("pong"));
    }
    drop(ws);
    metric_becomes(&api, "wafer_tunnels_in_grace", 1.0).await;
    let (_ws, first) = resume(&url, 6, &token).await;
    assert_eq!(first.as_deref(), Some("resumed:0"));
    biz.none_within(200).await;
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_lost_heartbeat_starts_the_grace_period() {
    let mut biz = Business::start().await;
    let mut s = resume_settings(&biz, 30);
    s.heartbeat = 1;
    let server = start(s).await;
    let api = Api::new(&server);
    let (id, url) = api.wsurl().await;
    let mut ws = connect(&url).await;
    assert_eq!(next_text(&mut ws).await.as_deref(), Some("timeout:1"));
    assert_eq!(biz.next().await.kind, "connect");
    let token = announce(&mut ws, 30).await;
    // Silent for two intervals: dropped by the service, but not ended.
    assert_eq!(close_code(&mut ws).await, None);
    metric_becomes(&api, "wafer_tunnels_in_grace", 1.0).await;
    assert!(push(&api, &id, "p1").await.is_empty());
    let (mut ws, first) = resume(&url, 0, &token).await;
    assert_eq!(first.as_deref(), Some("resumed:0"));
    assert_eq!(next_text(&mut ws).await, Some(pushed("p1")));
    send(&mut ws, "ping").await;
    assert_eq!(next_text(&mut ws).await.as_deref(), Some("pong"));
    biz.none_within(200).await;
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_token_comes_before_the_pong_of_a_ping_sent_right_after_the_announce() {
    let biz = Business::start().await;
    let server = start(resume_settings(&biz, 30)).await;
    let api = Api::new(&server);
    for _ in 0..20 {
        let (id, url) = api.wsurl().await;
        let mut ws = connect(&url).await;
        // A push before the announce is outside the stream, and written before the token.
        assert!(push(&api, &id, "pre").await.is_empty());
        // Both in one write: the service has the ping as soon as it has read the announce.
        ws.feed(Message::text("resumable:1")).await.unwrap();
        ws.feed(Message::text("ping")).await.unwrap();
        ws.flush().await.unwrap();
        assert_eq!(next_text(&mut ws).await, Some(pushed("pre")));
        let token = next_text(&mut ws).await.unwrap();
        assert!(token.starts_with("resume-token:30:"), "{token}");
        assert_eq!(next_text(&mut ws).await.as_deref(), Some("pong"));
        assert!(push(&api, &id, "p1").await.is_empty());
        assert_eq!(next_text(&mut ws).await, Some(pushed("p1")));
        send(&mut ws, "close").await;
        assert_eq!(close_code(&mut ws).await, Some(1000));
    }
    server.shutdown().await.unwrap();
}
