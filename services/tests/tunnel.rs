//! The tunnel service over loopback: the API, the sockets, the callbacks, each security
//! rule and limit.

#![allow(clippy::field_reassign_with_default)]

mod common;

use std::time::Duration;

use common::*;
use serde_json::json;
use wafer_services::sign::{signature, tc_id};

#[tokio::test]
async fn a_tunnel_end_to_end() {
    let mut biz = Business::start().await;
    let mut s = settings(&biz);
    s.heartbeat = 7;
    let server = start(s).await;
    let api = Api::new(&server);
    let (id, url) = api.wsurl().await;
    assert_eq!(id.len(), 32);
    assert_eq!(url, format!("ws://{}/socket/{id}", server.local_addr()));
    let mut ws = connect(&url).await;
    assert_eq!(next_text(&mut ws).await.as_deref(), Some("timeout:7"));
    assert_eq!(biz.next().await, Received { tunnel_id: id.clone(), kind: "connect".into(), content: None });

    send(&mut ws, "ping").await;
    assert_eq!(next_text(&mut ws).await.as_deref(), Some("pong"));
    let body = r#"{"type":"speak","content":{"word":"a:b"}}"#;
    send(&mut ws, &format!("message:{body}")).await;
    send(&mut ws, "message:second").await;
    let m = biz.next().await;
    assert_eq!((m.kind.as_str(), m.content.as_deref()), ("message", Some(body)));
    assert_eq!(biz.next().await.content.as_deref(), Some("second"));

    let invalid = api.push(&[&id, "0123456789abcdef0123456789abcdef"], "speak", json!({"who": "x"})).await;
    assert_eq!(invalid, ["0123456789abcdef0123456789abcdef"]);
    assert_eq!(next_text(&mut ws).await.as_deref(), Some(r#"message:{"content":{"who":"x"},"type":"speak"}"#));

    send(&mut ws, "close").await;
    assert_eq!(close_code(&mut ws).await, Some(1000));
    assert_eq!(biz.next().await.kind, "close");
    biz.none_within(200).await;
    let m = api.metrics().await;
    assert_eq!(metric(&m, "wafer_tunnels_open"), 0.0);
    assert_eq!(metric(&m, "wafer_callbacks_ok_total"), 4.0);
    assert_eq!(metric(&m, "wafer_frames_in_total"), 4.0);
    assert_eq!(api.push(&[&id], "speak", json!(1)).await, [id]);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn get_wsurl_refuses_unknown_forged_and_unsigned_calls() {
    let biz = Business::start().await;
    let server = start(settings(&biz)).await;
    let api = Api::new(&server);
    let good = signed_wsurl("http://127.0.0.1/tunnel", KEY);
    let cases = [
        (
            "unknown tcId",
            {
                let mut v = good.clone();
                v["tcId"] = json!(tc_id("other.example"));
                v
            },
            1002,
        ),
        (
            "wrong tcKey",
            {
                let mut v = signed_wsurl("http://127.0.0.1/tunnel", KEY);
                v["tcKey"] = json!("guess");
                v
            },
            1002,
        ),
        (
            "missing tcKey",
            {
                let mut v = good.clone();
                v.as_object_mut().unwrap().remove("tcKey");
                v
            },
            1002,
        ),
        (
            "forged signature",
            {
                let mut v = good.clone();
                v["signature"] = json!(signature(v["data"].as_str().unwrap(), "guess"));
                v
            },
            1003,
        ),
        (
            "missing signature",
            {
                let mut v = good.clone();
                v.as_object_mut().unwrap().remove("signature");
                v
            },
            1003,
        ),
        (
            "data changed after signing",
            {
                let mut v = good.clone();
                v["data"] = json!(r#"{"receiveUrl":"http://127.0.0.1/x"}"#);
                v
            },
            1003,
        ),
        ("callback to another host", signed_wsurl("https://evil.example/tunnel", KEY), 1005),
        ("callback to a look-alike host", signed_wsurl("http://127.0.0.1.evil.example/tunnel", KEY), 1005),
        (
            "no receiveUrl",
            {
                let d = "{}";
                json!({"data": d, "tcId": tc_id(HOST), "tcKey": KEY, "signature": signature(d, KEY)})
            },
            1004,
        ),
        ("not an envelope", json!([1, 2]), 1001),
    ];
    for (what, body, code) in cases {
        let v = api.post("/get/wsurl", body).await;
        assert_eq!(v["code"], code, "{what}: {v}");
        assert!(v["message"].as_str().is_some_and(|m| !m.is_empty()), "{what}");
        assert!(!v.to_string().contains(KEY), "{what}: the key leaked");
    }
    let (status, v) = api.post_raw("/get/wsurl", "not json".into()).await;
    assert_eq!((status, v["code"].as_i64()), (200, Some(1001)));
    assert_eq!(server.tunnel_counts(), (0, 0), "nothing created");
    assert_eq!(metric(&api.metrics().await, "wafer_tunnels_issued_total"), 0.0);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn push_refuses_forgeries_and_other_apps_tunnels() {
    let mut biz = Business::start().await;
    let mut s = settings(&biz);
    s.add_app("other.example", "other-key");
    let server = start(s).await;
    let api = Api::new(&server);
    let (id, url) = api.wsurl().await;
    let mut ws = connect(&url).await;
    biz.next().await;
    let data = json!([{"tunnelIds": [id], "type": "message", "content": "{\"type\":\"t\"}"}]).to_string();
    let forged =
        api.post("/ws/push", json!({"data": data, "tcId": tc_id(HOST), "signature": signature(&data, "guess")})).await;
    assert_eq!(forged["code"], 1003);
    let unsigned = api.post("/ws/push", json!({"data": data, "tcId": tc_id(HOST)})).await;
    assert_eq!(unsigned["code"], 1003);
    let wrong_key = api
        .post("/ws/push", json!({"data": data, "tcId": tc_id(HOST), "tcKey": "x", "signature": signature(&data, KEY)}))
        .await;
    assert_eq!(wrong_key["code"], 1002);
    // Another registered app, correctly signed, cannot reach this app's tunnel.
    let other = api
        .post(
            "/ws/push",
            json!({"data": data, "tcId": tc_id("other.example"), "signature": signature(&data, "other-key")}),
        )
        .await;
    assert_eq!(other["code"], 0);
    assert_eq!(other["data"]["invalidTunnelIds"], json!([id]));
    let bad_type = json!([{"tunnelIds": [id], "type": "explode"}]).to_string();
    let v = api
        .post("/ws/push", json!({"data": bad_type, "tcId": tc_id(HOST), "signature": signature(&bad_type, KEY)}))
        .await;
    assert_eq!(v["code"], 1004);
    // None of these reached the client: the next frame is the legitimate one.
    assert!(api.push(&[&id], "ok", json!(1)).await.is_empty());
    assert_eq!(next_text(&mut ws).await.as_deref(), Some(r#"message:{"content":1,"type":"ok"}"#));
    // wafer-node-sdk sends tcKey with push too: accepted when it matches.
    let with_key = api
        .post("/ws/push", json!({"data": data, "tcId": tc_id(HOST), "tcKey": KEY, "signature": signature(&data, KEY)}))
        .await;
    assert_eq!(with_key["code"], 0);
    assert_eq!(next_text(&mut ws).await.as_deref(), Some("message:{\"type\":\"t\"}"));
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn connect_urls_are_single_use_and_expire() {
    let mut biz = Business::start().await;
    let mut s = settings(&biz);
    s.id_ttl = Duration::from_millis(300);
    let server = start(s).await;
    let api = Api::new(&server);
    let (_, url) = api.wsurl().await;
    let _ws = connect(&url).await;
    assert_eq!(biz.next().await.kind, "connect");
    let second = tokio_tungstenite::connect_async(&url).await;
    assert!(second.is_err(), "a second socket for an open id is refused");
    let guessed = format!("ws://{}/socket/{}", server.local_addr(), "0".repeat(32));
    assert!(tokio_tungstenite::connect_async(&guessed).await.is_err());
    let (_, late) = api.wsurl().await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(tokio_tungstenite::connect_async(&late).await.is_err(), "expired id refused");
    assert_eq!(server.tunnel_counts(), (1, 1));
    assert_eq!(metric(&api.metrics().await, "wafer_tunnels_expired_total"), 1.0);
    biz.none_within(100).await;
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn oversized_bodies_are_refused() {
    let biz = Business::start().await;
    let mut s = settings(&biz);
    s.limits.max_body = 1024;
    let server = start(s).await;
    let api = Api::new(&server);
    let mut v = signed_wsurl("http://127.0.0.1/tunnel", KEY);
    v["pad"] = json!("x".repeat(2000));
    let (status, answer) = api.post_raw("/get/wsurl", v.to_string()).await;
    assert_eq!(status, 413);
    assert_eq!(answer["code"], 1007);
    assert!(answer["message"].as_str().unwrap().contains("1024"));
    assert_eq!(server.tunnel_counts(), (0, 0));
    // Normal calls still work.
    api.wsurl().await;
    assert_eq!(metric(&api.metrics().await, "wafer_limit_refusals_total{limit=\"body_size\"}"), 1.0);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_broadcast_to_thousands_of_tunnels_fits_the_push_limit() {
    let biz = Business::start().await;
    let server = start(settings(&biz)).await;
    let api = Api::new(&server);
    // 3,000 ids make a body of over 100 KB: more than `max-body`, within `max-push-body`.
    let ids: Vec<String> = (0..3000).map(|i| format!("{i:032x}")).collect();
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let invalid = api.push(&refs, "speak", json!({"word": "hi"})).await;
    assert_eq!(invalid.len(), 3000, "unknown ids are answered invalid, the push is not refused");
    server.shutdown().await.unwrap();

    let mut s = settings(&biz);
    s.limits.max_push_body = 4096;
    let server = start(s).await;
    let api = Api::new(&server);
    let data = json!([{"tunnelIds": refs, "type": "message", "content": "{}"}]).to_string();
    let envelope = json!({"data": data, "tcId": tc_id(HOST), "signature": signature(&data, KEY)});
    let (status, answer) = api.post_raw("/ws/push", envelope.to_string()).await;
    assert_eq!((status, answer["code"].as_i64()), (413, Some(1007)));
    assert!(answer["message"].as_str().unwrap().contains("4096"));
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn oversized_frames_close_only_that_socket() {
    let mut biz = Business::start().await;
    let mut s = settings(&biz);
    s.limits.max_frame = 1000;
    let server = start(s).await;
    let api = Api::new(&server);
    let (id1, url1) = api.wsurl().await;
    let (id2, url2) = api.wsurl().await;
    let mut ws1 = connect(&url1).await;
    biz.next().await;
    let mut ws2 = connect(&url2).await;
    biz.next().await;
    send(&mut ws1, &format!("message:{}", "x".repeat(2000))).await;
    assert_eq!(close_code(&mut ws1).await, Some(1009));
    assert_eq!(biz.next().await, Received { tunnel_id: id1, kind: "close".into(), content: None });
    send(&mut ws2, "message:still here").await;
    let m = biz.next().await;
    assert_eq!((m.tunnel_id, m.content.as_deref()), (id2, Some("still here")));
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn frame_rate_is_limited_per_socket() {
    let mut biz = Business::start().await;
    let mut s = settings(&biz);
    s.limits.frames_per_sec = 5;
    let server = start(s).await;
    let api = Api::new(&server);
    let (_, url1) = api.wsurl().await;
    let (_, url2) = api.wsurl().await;
    let mut ws1 = connect(&url1).await;
    let mut ws2 = connect(&url2).await;
    for _ in 0..20 {
        if futures_util::SinkExt::send(&mut ws1, tokio_tungstenite::tungstenite::Message::text("ping")).await.is_err() {
            break;
        }
    }
    assert_eq!(close_code(&mut ws1).await, Some(1008));
    send(&mut ws2, "ping").await;
    assert_eq!(next_text(&mut ws2).await.as_deref(), Some("pong"));
    let kinds: Vec<String> =
        [biz.next().await, biz.next().await, biz.next().await].into_iter().map(|r| r.kind).collect();
    assert_eq!(kinds.iter().filter(|k| *k == "close").count(), 1);
    assert!(metric(&api.metrics().await, "wafer_limit_refusals_total{limit=\"frame_rate\"}") >= 1.0);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn tunnels_per_app_are_limited() {
    let biz = Business::start().await;
    let mut s = settings(&biz);
    s.limits.sockets_per_app = 2;
    let server = start(s).await;
    let api = Api::new(&server);
    api.wsurl().await;
    api.wsurl().await;
    let v = api.post("/get/wsurl", signed_wsurl("http://127.0.0.1/tunnel", KEY)).await;
    assert_eq!(v["code"], 1006);
    assert!(v["message"].as_str().unwrap().contains("too many"));
    assert_eq!(server.tunnel_counts(), (2, 0));
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_full_callback_queue_closes_the_tunnel_and_close_is_still_reported() {
    let mut biz = Business::start().await;
    let mut s = settings(&biz);
    s.limits.pending_callbacks = 3;
    let server = start(s).await;
    let api = Api::new(&server);
    let (id, url) = api.wsurl().await;
    // The business server is slow on the connect callback: the queue fills behind it.
    biz.answer(&[Answer::Hang(400)]);
    let mut ws = connect(&url).await;
    for i in 0..6 {
        if futures_util::SinkExt::send(&mut ws, tokio_tungstenite::tungstenite::Message::text(format!("message:{i}")))
            .await
            .is_err()
        {
            break;
        }
    }
    assert_eq!(close_code(&mut ws).await, Some(1013));
    let got: Vec<(String, Option<String>)> = {
        let mut v = Vec::new();
        loop {
            let r = biz.next().await;
            assert_eq!(r.tunnel_id, id);
            let end = r.kind == "close";
            v.push((r.kind, r.content));
            if end {
                break;
            }
        }
        v
    };
    // connect, the two messages that fit, then close, in order.
    assert_eq!(
        got,
        vec![
            ("connect".into(), None),
            ("message".into(), Some("0".into())),
            ("message".into(), Some("1".into())),
            ("close".into(), None),
        ]
    );
    biz.none_within(200).await;
    assert_eq!(metric(&api.metrics().await, "wafer_limit_refusals_total{limit=\"pending_callbacks\"}"), 1.0);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn callbacks_are_retried_in_order_and_dropped_when_hopeless() {
    let mut biz = Business::start().await;
    let server = start(settings(&biz)).await;
    let api = Api::new(&server);
    let (id, url) = api.wsurl().await;
    // connect: 500, garbage, then accepted; message "a": 3 failures then accepted (4 tries);
    // message "b": 4 failures, dropped; message "c": rejected for good (9003), not retried.
    biz.answer(&[Answer::Status(500), Answer::Garbage]);
    let mut ws = connect(&url).await;
    assert_eq!(biz.next().await.kind, "connect");
    biz.answer(&[Answer::Status(502), Answer::Status(503), Answer::Status(500)]);
    send(&mut ws, "message:a").await;
    assert_eq!(biz.next().await.content.as_deref(), Some("a"));
    biz.answer(&[Answer::Status(500); 4]);
    biz.answer(&[Answer::Reject9003]);
    send(&mut ws, "message:b").await;
    send(&mut ws, "message:c").await;
    send(&mut ws, "message:d").await;
    let r = biz.next().await;
    assert_eq!(r.content.as_deref(), Some("d"), "b dropped after 4 tries, c rejected");
    let m = api.metrics().await;
    assert_eq!(metric(&m, "wafer_callbacks_retried_total"), 2.0 + 3.0 + 3.0);
    assert_eq!(metric(&m, "wafer_callbacks_dropped_total"), 2.0);
    assert_eq!(*biz.tries.lock().unwrap(), 3 + 4 + 4 + 1 + 1);
    drop(ws);
    assert_eq!(biz.next().await, Received { tunnel_id: id, kind: "close".into(), content: None });
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn callbacks_wait_for_a_business_server_that_is_down() {
    // Nothing listens at the callback origin at first.
    let probe = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = probe.local_addr().unwrap().port();
    drop(probe);
    let mut biz = Business::start().await;
    let mut s = settings(&biz);
    s.set_callback(HOST, &format!("http://127.0.0.1:{port}")).unwrap();
    s.backoff.attempts = 30;
    let server = start(s).await;
    let api = Api::new(&server);
    let (id, url) = api.wsurl().await;
    let mut ws = connect(&url).await;
    send(&mut ws, "message:kept").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    // The business server comes up on that port: a proxy to the recording server.
    let target = biz.addr;
    let l = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.unwrap();
    let _proxy = Task(tokio::spawn(async move {
        loop {
            let Ok((mut a, _)) = l.accept().await else { return };
            tokio::spawn(async move {
                if let Ok(mut b) = tokio::net::TcpStream::connect(target).await {
                    let _ = tokio::io::copy_bidirectional(&mut a, &mut b).await;
                }
            });
        }
    }));
    assert_eq!(biz.next().await.kind, "connect");
    assert_eq!(biz.next().await.content.as_deref(), Some("kept"));
    assert!(metric(&api.metrics().await, "wafer_callbacks_retried_total") >= 1.0);
    send(&mut ws, "close").await;
    assert_eq!(biz.next().await, Received { tunnel_id: id, kind: "close".into(), content: None });
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_silent_socket_is_dropped_after_two_heartbeats() {
    let mut biz = Business::start().await;
    let mut s = settings(&biz);
    s.heartbeat = 1;
    let server = start(s).await;
    let api = Api::new(&server);
    let (id, url) = api.wsurl().await;
    let mut ws = connect(&url).await;
    assert_eq!(next_text(&mut ws).await.as_deref(), Some("timeout:1"));
    assert_eq!(biz.next().await.kind, "connect");
    // Pinging keeps it alive past two intervals…
    for _ in 0..5 {
        tokio::time::sleep(Duration::from_millis(600)).await;
        send(&mut ws, "ping").await;
        assert_eq!(next_text(&mut ws).await.as_deref(), Some("pong"));
    }
    // …silence does not.
    let t = std::time::Instant::now();
    assert_eq!(close_code(&mut ws).await, None);
    let waited = t.elapsed();
    assert!(waited >= Duration::from_millis(1500) && waited < Duration::from_millis(3500), "{waited:?}");
    assert_eq!(biz.next().await, Received { tunnel_id: id, kind: "close".into(), content: None });
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn server_side_close_reaches_the_client_and_is_reported_once() {
    let mut biz = Business::start().await;
    let server = start(settings(&biz)).await;
    let api = Api::new(&server);
    let (id, url) = api.wsurl().await;
    let mut ws = connect(&url).await;
    biz.next().await;
    assert!(api.push_packets(json!([{"tunnelIds": [id], "type": "close"}])).await.is_empty());
    assert_eq!(next_text(&mut ws).await.as_deref(), Some("close"));
    assert_eq!(close_code(&mut ws).await, Some(1001));
    assert_eq!(biz.next().await.kind, "close");
    assert_eq!(api.push_packets(json!([{"tunnelIds": [id], "type": "close"}])).await, [id]);
    biz.none_within(200).await;
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn shutdown_closes_clients_and_reports_every_close() {
    let mut biz = Business::start().await;
    let server = start(settings(&biz)).await;
    let api = Api::new(&server);
    let mut sockets = Vec::new();
    let mut ids = Vec::new();
    for _ in 0..3 {
        let (id, url) = api.wsurl().await;
        sockets.push(connect(&url).await);
        biz.next().await;
        ids.push(id);
    }
    let t = std::time::Instant::now();
    server.shutdown().await.unwrap();
    assert!(t.elapsed() < Duration::from_secs(3));
    for ws in &mut sockets {
        assert_eq!(next_text(ws).await.as_deref(), Some("close"));
    }
    let mut closed: Vec<String> = Vec::new();
    for _ in 0..3 {
        let r = biz.next().await;
        assert_eq!(r.kind, "close");
        closed.push(r.tunnel_id);
    }
    closed.sort();
    ids.sort();
    assert_eq!(closed, ids);
}

#[tokio::test]
async fn healthz_and_metrics() {
    let biz = Business::start().await;
    let server = start(settings(&biz)).await;
    let api = Api::new(&server);
    let r = api.http.get(format!("{}/healthz", api.base)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = api.http.get(format!("{}/metrics", api.base)).send().await.unwrap();
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
    let text = r.text().await.unwrap();
    for name in [
        "wafer_tunnels_open",
        "wafer_sockets",
        "wafer_frames_in_total",
        "wafer_frames_out_total",
        "wafer_callbacks_ok_total",
        "wafer_callbacks_retried_total",
        "wafer_callbacks_dropped_total",
        "wafer_logins_total",
    ] {
        assert!(text.contains(&format!("# TYPE {name} ")), "{name}");
    }
    server.shutdown().await.unwrap();
}
