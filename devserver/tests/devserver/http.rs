//! Login, checked endpoints, dev hooks, errors, static files, the binary.

use std::time::Duration;

use serde_json::json;
use wafer_devserver::Config;

use crate::common::*;

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit())
}

#[tokio::test]
async fn login_v1_shape_get_and_post() {
    let (server, addr) = start(quiet()).await;
    for method in ["GET", "POST"] {
        let r = http(
            addr,
            method,
            "/login",
            &[("X-WX-Code", "dev:alice"), ("X-WX-Encrypted-Data", "abc"), ("X-WX-IV", "iv")],
            "",
        )
        .await;
        assert_eq!(r.status, 200);
        assert!(r.header("content-type").starts_with("application/json"));
        let v = r.json();
        assert_eq!(v[MAGIC], 1);
        assert!(is_hex(v["session"]["id"].as_str().unwrap(), 32));
        assert!(is_hex(v["session"]["skey"].as_str().unwrap(), 40));
        let user = &v["userInfo"];
        assert_eq!(user["nickName"], "alice");
        assert_eq!(user["openId"].as_str().unwrap().len(), 28);
        assert!(user["avatarUrl"].as_str().unwrap().starts_with("data:"));
        assert_eq!(user["gender"], 0);
        assert_eq!(user["language"], "zh_CN");
        for key in ["city", "province", "country"] {
            assert_eq!(user[key], "");
        }
    }
    // Any other code is a user too.
    let (_, _, user) = login(addr, "071abcDEF").await;
    assert!(user["nickName"].as_str().unwrap().starts_with("user-"));
    stop(server).await;
}

#[tokio::test]
async fn login_without_code_is_a_400() {
    let (server, addr) = start(quiet()).await;
    for headers in [&[][..], &[("X-WX-Code", "  ")]] {
        let r = get(addr, "/login", headers).await;
        assert_eq!(r.status, 400);
        let v = r.json();
        assert_eq!(v["error"], "ERR_LOGIN_FAILED");
        assert!(v["message"].as_str().unwrap().contains("X-WX-Code"));
        assert!(v.get("session").is_none());
    }
    let long = "x".repeat(600);
    assert_eq!(get(addr, "/login", &[("X-WX-Code", &long)]).await.status, 400);
    stop(server).await;
}

#[tokio::test]
async fn dev_names_have_stable_ids() {
    let (server, addr) = start(quiet()).await;
    let (id1, skey1, a1) = login(addr, "dev:alice").await;
    let (id2, skey2, a2) = login(addr, "dev:alice").await;
    let (_, _, b) = login(addr, "dev:bob").await;
    assert_eq!(a1, a2);
    assert_ne!((id1, skey1), (id2, skey2), "every login is a new session");
    assert_ne!(a1["openId"], b["openId"]);
    stop(server).await;
    // Same id from another server instance.
    let (server, addr) = start(quiet()).await;
    let (_, _, a3) = login(addr, "dev:alice").await;
    assert_eq!(a1["openId"], a3["openId"]);
    stop(server).await;
}

#[tokio::test]
async fn user_checks_the_session() {
    let (server, addr) = start(quiet()).await;
    let (id, skey, user) = login(addr, "dev:carol").await;

    let r = get(addr, "/user", &[("X-WX-Id", &id), ("X-WX-Skey", &skey)]).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json(), json!({"code": 0, "message": "ok", "data": {"userInfo": user}}));

    for headers in
        [vec![("X-WX-Id", id.as_str()), ("X-WX-Skey", "0000")], vec![("X-WX-Id", "0000"), ("X-WX-Skey", skey.as_str())]]
    {
        let r = get(addr, "/user", &headers).await;
        assert_eq!(r.status, 200);
        let v = r.json();
        assert_eq!(v[MAGIC], 1);
        assert_eq!(v["error"], "ERR_INVALID_SESSION");
        assert!(v["message"].is_string());
    }

    for headers in [vec![], vec![("X-WX-Id", id.as_str())], vec![("X-WX-Skey", skey.as_str())]] {
        let r = get(addr, "/user", &headers).await;
        assert_eq!(r.status, 200);
        let v = r.json();
        assert_eq!(v[MAGIC], 1);
        assert_eq!(v["error"], "ERR_CHECK_LOGIN_FAILED");
    }
    stop(server).await;
}

#[tokio::test]
async fn sessions_expire_after_the_ttl() {
    let (server, addr) = start(Config { session_ttl: Duration::from_millis(300), ..quiet() }).await;
    let (id, skey, _) = login(addr, "dev:dave").await;
    let h = [("X-WX-Id", id.as_str()), ("X-WX-Skey", skey.as_str())];
    assert_eq!(get(addr, "/user", &h).await.json()["code"], 0);
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert_eq!(get(addr, "/user", &h).await.json()["error"], "ERR_INVALID_SESSION");
    stop(server).await;
}

#[tokio::test]
async fn expire_hook_and_stats() {
    let (server, addr) = start(quiet()).await;
    let (id, skey, _) = login(addr, "dev:erin").await;
    login(addr, "dev:frank").await;
    let stats = get(addr, "/dev/stats", &[]).await.json();
    assert_eq!((stats["sessions"].as_u64(), stats["sockets"].as_u64()), (Some(2), Some(0)));

    let r = http(addr, "POST", "/dev/expire-sessions", &[], "").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["expired"], 2);
    let h = [("X-WX-Id", id.as_str()), ("X-WX-Skey", skey.as_str())];
    assert_eq!(get(addr, "/user", &h).await.json()["error"], "ERR_INVALID_SESSION");
    assert_eq!(get(addr, "/dev/stats", &[]).await.json()["sessions"], 0);
    // A new login works again.
    let (id, skey, _) = login(addr, "dev:erin").await;
    let h = [("X-WX-Id", id.as_str()), ("X-WX-Skey", skey.as_str())];
    assert_eq!(get(addr, "/user", &h).await.json()["code"], 0);
    stop(server).await;
}

#[tokio::test]
async fn echo_api() {
    let (server, addr) = start(quiet()).await;
    let (id, skey, user) = login(addr, "dev:gina").await;
    let h = [("X-WX-Id", id.as_str()), ("X-WX-Skey", skey.as_str()), ("content-type", "application/json")];

    let r = http(addr, "POST", "/api/echo", &h, r#"{"a":[1,"two",null]}"#).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json(), json!({"code": 0, "data": {"userInfo": user, "echo": {"a": [1, "two", null]}}}));

    let r = http(addr, "POST", "/api/echo", &h, "").await;
    assert_eq!(r.json()["data"]["echo"], json!(null));

    let r = http(addr, "POST", "/api/echo", &h, "{not json").await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"], "ERR_INVALID_PARAMS");

    let big = format!("\"{}\"", "x".repeat(300 * 1024));
    let r = http(addr, "POST", "/api/echo", &h, &big).await;
    assert_eq!(r.status, 413);
    assert_eq!(r.json()["error"], "ERR_INVALID_PARAMS");

    let r = http(addr, "POST", "/api/echo", &[], "{}").await;
    assert_eq!(r.json()["error"], "ERR_CHECK_LOGIN_FAILED");
    stop(server).await;
}

#[tokio::test]
async fn v2_shapes() {
    let (server, addr) = start(Config { v2: true, ..quiet() }).await;
    let r = get(addr, "/login", &[("X-WX-Code", "dev:hank")]).await;
    assert_eq!(r.status, 200);
    let v = r.json();
    assert_eq!(v["code"], 0);
    assert!(v.get(MAGIC).is_none());
    let skey = v["data"]["skey"].as_str().unwrap().to_owned();
    assert!(is_hex(&skey, 40));
    let user = v["data"]["userinfo"].clone();
    assert_eq!(user["nickName"], "hank");

    let r = get(addr, "/user", &[("X-WX-Skey", &skey)]).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["data"]["userInfo"], user);

    for headers in [vec![("X-WX-Skey", "0000")], vec![]] {
        let r = get(addr, "/user", &headers).await;
        assert_eq!(r.status, 401);
        let v = r.json();
        assert_eq!((v["code"].as_i64(), v["error"].as_str()), (Some(-1), Some("ERR_SESSION_INVALID")));
    }

    let r = get(addr, "/tunnel", &[("X-WX-Skey", &skey)]).await;
    assert_eq!(r.status, 200);
    let v = r.json();
    assert_eq!(v["code"], 0);
    let tunnel_id = v["data"]["tunnelId"].as_str().unwrap();
    assert_eq!(v["data"]["connectUrl"], format!("ws://{addr}/ws/{tunnel_id}"));

    let r = get(addr, "/login", &[]).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["code"], -1);
    stop(server).await;
}

#[tokio::test]
async fn unknown_paths_and_methods_are_json_errors() {
    let (server, addr) = start(quiet()).await;
    let r = get(addr, "/nope/deeper", &[]).await;
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["error"], "ERR_NOT_FOUND");

    let r = http(addr, "DELETE", "/user", &[], "").await;
    assert_eq!(r.status, 405);
    assert_eq!(r.json()["error"], "ERR_METHOD_NOT_ALLOWED");
    assert_eq!(http(addr, "GET", "/dev/drop-sockets", &[], "").await.status, 405);

    let r = get(addr, "/ws/0123456789abcdef", &[]).await;
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["error"], "ERR_TUNNEL_NOT_FOUND");

    // Garbage in headers never panics the server.
    let r = get(addr, "/user", &[("X-WX-Id", "é"), ("X-WX-Skey", "k")]).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["error"], "ERR_CHECK_LOGIN_FAILED");
    let r = get(addr, "/login", &[("X-WX-Code", "é")]).await;
    assert_eq!(r.status, 400);
    assert_eq!(get(addr, "/user", &[("X-WX-Id", "\u{7f}")]).await.status, 400);
    assert_eq!(get(addr, "/dev/stats", &[]).await.status, 200);
    stop(server).await;
}

#[tokio::test]
async fn static_and_sdk_dirs() {
    let root = std::env::temp_dir().join(format!("wafer-devserver-test-{}", std::process::id()));
    let www = root.join("www");
    let sdk = root.join("sdk");
    std::fs::create_dir_all(www.join("sub")).unwrap();
    std::fs::create_dir_all(&sdk).unwrap();
    std::fs::write(www.join("index.html"), "<h1>hi</h1>").unwrap();
    std::fs::write(www.join("sub/index.html"), "<p>sub</p>").unwrap();
    std::fs::write(www.join("app.js"), "let a = 1;").unwrap();
    std::fs::write(sdk.join("qcloud_bg.wasm"), b"\0asm\x01\0\0\0").unwrap();
    std::fs::write(sdk.join("qcloud.js"), "export {}").unwrap();

    let (server, addr) = start(Config { static_dir: Some(www), sdk_dir: Some(sdk), ..quiet() }).await;
    let r = get(addr, "/", &[]).await;
    assert_eq!((r.status, r.body.as_slice()), (200, &b"<h1>hi</h1>"[..]));
    assert!(r.header("content-type").starts_with("text/html"));
    assert_eq!(r.header("cache-control"), "no-cache");
    assert_eq!(get(addr, "/sub/", &[]).await.body, b"<p>sub</p>");
    assert!(get(addr, "/app.js", &[]).await.header("content-type").contains("javascript"));

    let r = get(addr, "/sdk/qcloud_bg.wasm", &[]).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), "application/wasm");
    assert_eq!(r.header("cache-control"), "no-cache");
    assert_eq!(r.body, b"\0asm\x01\0\0\0");
    assert!(get(addr, "/sdk/qcloud.js", &[]).await.header("content-type").contains("javascript"));

    for path in ["/missing.txt", "/sdk/missing.js", "/sdk/../www/index.html", "/%2e%2e/etc/passwd"] {
        let r = get(addr, path, &[]).await;
        assert!(r.status == 404 || r.status == 400, "{path}: {}", r.status);
    }
    let r = get(addr, "/missing.txt", &[]).await;
    assert_eq!(r.json()["error"], "ERR_NOT_FOUND");
    let r = http(addr, "POST", "/index.html", &[], "").await;
    assert_eq!(r.status, 404);
    // Routes still win over files.
    assert_eq!(get(addr, "/login", &[("X-WX-Code", "dev:x")]).await.json()[MAGIC], 1);
    stop(server).await;
    let _ = std::fs::remove_dir_all(root);
}

#[tokio::test]
async fn binary_prints_its_address_and_stops_on_sigterm() {
    use std::io::BufRead;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_wafer-devserver"))
        .args(["--port", "0", "--quiet", "--heartbeat", "3"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (line, mut lines) = tokio::task::spawn_blocking(move || {
        let mut lines = std::io::BufReader::new(stdout).lines();
        (lines.next().unwrap().unwrap(), lines)
    })
    .await
    .unwrap();
    let port = line.strip_prefix("Wafer dev server listening on http://127.0.0.1:").expect(&line);
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port.parse::<u16>().unwrap()));
    assert_eq!(get(addr, "/dev/stats", &[]).await.json()["sockets"], 0);

    let (mut ws, _) = connect_as(addr, "dev:bin").await;
    assert_eq!(next_text(&mut ws).await, "timeout:3");
    assert_eq!(next_message(&mut ws).await.0, "people");

    // The socket gets a going-away close frame.
    let client = tokio::spawn(async move {
        match next(&mut ws).await {
            Some(Ok(tokio_tungstenite::tungstenite::Message::Close(Some(f)))) => {
                assert_eq!(u16::from(f.code), 1001)
            }
            other => panic!("expected close 1001, got {other:?}"),
        }
        let _ = next(&mut ws).await;
    });
    let killed = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(killed.success());
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(3) {
            let _ = child.kill();
            panic!("the server did not stop on SIGTERM");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert!(status.success(), "{status:?}");
    assert!(started.elapsed() < Duration::from_millis(800), "{:?}", started.elapsed());
    let rest = tokio::task::spawn_blocking(move || lines.next()).await.unwrap();
    assert!(rest.is_none(), "exactly one line on stdout");
    client.await.unwrap();
}

/// Found by tests/js/faults.test.js, which left a server running after its test process
/// died: with its stderr pipe closed (the parent gone), the "shutting down" line failed,
/// `eprintln!` panicked in the signal task, and SIGTERM was ignored for good.
#[tokio::test]
async fn binary_stops_on_sigterm_with_its_stderr_closed() {
    use std::io::BufRead;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_wafer-devserver"))
        .args(["--port", "0", "--quiet"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let line = tokio::task::spawn_blocking(move || std::io::BufReader::new(stdout).lines().next().unwrap().unwrap())
        .await
        .unwrap();
    assert!(line.starts_with("Wafer dev server listening on"), "{line}");
    drop(child.stderr.take()); // the reading end goes away, as when the parent dies
                               // The signal handler is installed by a task started after the line is printed.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let killed = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(killed.success());
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(5) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the server did not stop on SIGTERM with its stderr closed");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert!(status.success(), "{status:?}");
}
