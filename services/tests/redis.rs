//! The Redis store against a real `redis-server` (Debian's, installed by `script/setup`),
//! started by each test on a free 127.0.0.1 port with a temporary directory and no
//! persistence, and stopped at the end (also when the test panics).

#![allow(clippy::field_reassign_with_default)]

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use serde_json::{json, Value};
use wafer_services::redis_store::{Redis, RedisStore, RedisTimeouts};
use wafer_services::store::{behaviour, SessionStore};
use wafer_services::Settings;

const BIN: &str = env!("CARGO_BIN_EXE_wafer-services");

/// A `redis-server` on 127.0.0.1, killed when dropped.
struct RedisServer {
    port: u16,
    dir: PathBuf,
    password: Option<&'static str>,
    child: Option<std::process::Child>,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// `PING` over a raw socket: whether Redis answers `+PONG` within a second.
fn pong(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_secs(1)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(1)));
    let mut buf = [0u8; 7];
    // Without the password, a server with requirepass answers -NOAUTH: up all the same.
    s.write_all(b"PING\r\n").is_ok() && s.read_exact(&mut buf).is_ok() && (&buf == b"+PONG\r\n" || buf[0] == b'-')
}

impl RedisServer {
    fn start() -> RedisServer {
        Self::start_with(None)
    }

    /// With `requirepass` (clients must give it).
    fn start_with(password: Option<&'static str>) -> RedisServer {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("wafer-redis-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut r = RedisServer { port: free_port(), dir, password, child: None };
        r.run();
        r
    }

    /// Starts it (again) on its port; waits until it answers (bounded).
    fn run(&mut self) {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .args(["--dir", self.dir.to_str().unwrap(), "--daemonize", "no", "--loglevel", "warning"])
            .args(self.password.map(|p| ["--requirepass", p]).into_iter().flatten())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server (Debian package redis-server, installed by script/setup)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while !pong(self.port) {
            assert!(Instant::now() < deadline, "redis-server did not answer on port {} within 30 s", self.port);
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Kills it (SIGKILL) and waits for its end.
    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn url(&self) -> String {
        match self.password {
            Some(p) => format!("redis://:{p}@127.0.0.1:{}", self.port),
            None => format!("redis://127.0.0.1:{}", self.port),
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn redis_store_passes_the_store_behaviour_and_sets_ttls() {
    let server = RedisServer::start();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let store = {
        let _g = rt.enter();
        RedisStore::new(Redis::open(&server.url(), RedisTimeouts::default()).unwrap())
    };
    behaviour::all(&store);
    assert_eq!(store.available(), Some(true));
    store.check().unwrap();

    // The keys' TTL: the session's life plus an hour.
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let id = store.login("ttl-user", "ttl-id", "k", "{}", now + 100).unwrap();
    let ttls: (i64, i64) = rt.block_on(async {
        let client = redis::Client::open(server.url()).unwrap();
        let mut c = client.get_multiplexed_async_connection().await.unwrap();
        let a: i64 = redis::cmd("TTL").arg(format!("wafer:session:{id}")).query_async(&mut c).await.unwrap();
        let b: i64 = redis::cmd("TTL").arg("wafer:openid:ttl-user").query_async(&mut c).await.unwrap();
        (a, b)
    });
    for ttl in [ttls.0, ttls.1] {
        assert!((3600 + 90..=3600 + 100).contains(&ttl), "TTL {ttl}");
    }
}

#[test]
fn an_unreachable_redis_fails_calls_within_the_timeout() {
    let mut server = RedisServer::start();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let store = {
        let _g = rt.enter();
        RedisStore::new(Redis::open(&server.url(), RedisTimeouts::default()).unwrap())
    };
    store.login("u", "id-u", "k", "{}", u64::MAX / 2).unwrap();
    server.stop();
    for _ in 0..3 {
        let t0 = Instant::now();
        assert!(store.find("id-u").is_err(), "no answer without Redis");
        assert!(t0.elapsed() < Duration::from_secs(10), "bounded: {:?}", t0.elapsed());
        assert_eq!(store.available(), Some(false));
    }
    server.run();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match store.find("id-u") {
            // Nothing persisted: the restarted Redis is empty; the point is it answers.
            Ok(found) => {
                assert!(found.is_none());
                break;
            }
            Err(e) => assert!(Instant::now() < deadline, "no recovery: {e}"),
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(store.available(), Some(true));
}

/// A `wafer-services` process with the session service only, on Redis; killed when dropped.
struct Node {
    child: std::process::Child,
    api: Api,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn node(redis: &str, wechat: &FakeWechat) -> Node {
    node_logging(redis, wechat, "warn", Stdio::null())
}

fn node_logging(redis: &str, wechat: &FakeWechat, log: &str, stderr: Stdio) -> Node {
    let mut child = Command::new(BIN)
        .env_clear()
        .env("WAFER_WECHAT_SECRET", SECRET)
        .env("WAFER_STORE", redis)
        .args(["--listen", "127.0.0.1:0", "--tunnel", "false", "--wechat-appid", APPID])
        .args(["--wechat-api", &format!("http://{}", wechat.addr), "--log", log])
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let mut node = Node { child, api: Api { base: String::new(), http: reqwest::Client::new() } };
    let line = rx.recv_timeout(Duration::from_secs(60)).expect("the ready line within 60 s");
    let base = line.split_whitespace().find_map(|w| w.strip_prefix("AuthServerUrl=")).expect(&line);
    node.api.base = base.trim_end_matches("/mina_auth/").to_owned();
    node
}

async fn login(api: &Api, open_id: &str) -> Value {
    let (data, iv) = encrypted_user_info(open_id, "n", APPID, &[5u8; 16]);
    let body = json!({"interface": {"interfaceName": "qcloud.cam.id_skey", "para": {"code": format!("c-{open_id}"), "encrypt_data": data, "iv": iv}}});
    api.post("/mina_auth/", body).await
}

async fn check(api: &Api, id: &str, skey: &str) -> Value {
    api.post(
        "/mina_auth/",
        json!({"interface": {"interfaceName": "qcloud.cam.auth", "para": {"id": id, "skey": skey}}}),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_created_through_node_a_checks_on_node_b() {
    let redis = RedisServer::start();
    let wechat = FakeWechat::start().await;
    let (a, b) = (node(&redis.url(), &wechat), node(&redis.url(), &wechat));
    assert_ne!(a.api.base, b.api.base);
    let v = login(&a.api, "oCluster").await;
    assert_eq!(v["returnCode"], 0, "{v}");
    let (id, skey) = (v["returnData"]["id"].as_str().unwrap(), v["returnData"]["skey"].as_str().unwrap());
    let ok = check(&b.api, id, skey).await;
    assert_eq!(ok["returnCode"], 0, "{ok}");
    assert_eq!(ok["returnData"]["user_info"]["openId"], "oCluster");
    // A login on B keeps the id and replaces the skey everywhere.
    let again = login(&b.api, "oCluster").await;
    assert_eq!(again["returnData"]["id"].as_str(), Some(id));
    assert_eq!(check(&a.api, id, skey).await["returnCode"], 60012, "the old skey is invalid on A too");
    let skey2 = again["returnData"]["skey"].as_str().unwrap();
    assert_eq!(check(&a.api, id, skey2).await["returnCode"], 0);
    let m = a.api.metrics().await;
    assert_eq!(metric(&m, "wafer_redis_up"), 1.0, "{m}");
}

fn auth_settings(redis: &str, wechat: &FakeWechat) -> Settings {
    let mut s = Settings::default();
    s.listen = "127.0.0.1:0".parse().unwrap();
    s.tunnel = false;
    s.redis = Some(redis.to_owned());
    s.wechat = Some(wafer_services::config::WechatConfig {
        appid: APPID.into(),
        secret: SECRET.into(),
        api: format!("http://{}", wechat.addr),
    });
    s
}

async fn health(api: &Api) -> u16 {
    api.http.get(format!("{}/healthz", api.base)).send().await.unwrap().status().as_u16()
}

/// Polls `f` every 100 ms until it holds (fails after 30 s).
async fn eventually<F: AsyncFnMut() -> bool>(what: &str, mut f: F) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !f().await {
        assert!(Instant::now() < deadline, "not within 30 s: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_redis_is_down_checks_fail_clearly_and_recover_without_restart() {
    let mut redis = RedisServer::start();
    let wechat = FakeWechat::start().await;
    let server = start(auth_settings(&redis.url(), &wechat)).await;
    let api = Arc::new(Api::new(&server));
    let v = login(&api, "oDown").await;
    assert_eq!(v["returnCode"], 0, "{v}");
    let (id, skey) = (v["returnData"]["id"].as_str().unwrap(), v["returnData"]["skey"].as_str().unwrap());
    assert_eq!(check(&api, id, skey).await["returnCode"], 0);
    assert_eq!(health(&api).await, 200);

    redis.stop();
    for _ in 0..3 {
        let t0 = Instant::now();
        let c = check(&api, id, skey).await;
        assert_eq!(c["returnCode"], 1501, "a clear code, never ok: {c}");
        assert_eq!(c["returnMessage"], "session store unavailable");
        assert!(t0.elapsed() < Duration::from_secs(10), "bounded: {:?}", t0.elapsed());
    }
    let l = login(&api, "oDown2").await;
    assert_eq!(l["returnCode"], 1501, "{l}");
    assert_eq!(health(&api).await, 503);
    let m = api.metrics().await;
    assert_eq!(metric(&m, "wafer_redis_up"), 0.0, "{m}");
    assert!(metric(&m, "wafer_store_errors_total") >= 4.0, "{m}");
    assert!(!m.contains(SECRET) && !m.contains(skey));

    redis.run();
    let a = api.clone();
    eventually("health recovers", async || health(&a).await == 200).await;
    // The restarted Redis kept nothing (no persistence): the old session is invalid, never ok.
    assert_eq!(check(&api, id, skey).await["returnCode"], 60012);
    let v = login(&api, "oDown").await;
    assert_eq!(v["returnCode"], 0, "{v}");
    let (id, skey) = (v["returnData"]["id"].as_str().unwrap(), v["returnData"]["skey"].as_str().unwrap());
    assert_eq!(check(&api, id, skey).await["returnCode"], 0);
    assert_eq!(metric(&api.metrics().await, "wafer_redis_up"), 1.0);
    server.shutdown().await.unwrap();
}

fn node_settings(business: &Business, redis: &str) -> Settings {
    let mut s = settings(business);
    s.redis = Some(redis.to_owned());
    s.lease = Duration::from_secs(3);
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushes_through_any_node_reach_tunnels_on_every_node() {
    let redis = RedisServer::start();
    let mut biz = Business::start().await;
    let a = start(node_settings(&biz, &redis.url())).await;
    let b = start(node_settings(&biz, &redis.url())).await;
    let (api_a, api_b) = (Api::new(&a), Api::new(&b));
    let (id_a, url_a) = api_a.wsurl().await;
    let (id_b, url_b) = api_b.wsurl().await;
    let (mut ws_a, mut ws_b) = (connect(&url_a).await, connect(&url_b).await);
    let mut connected = [biz.next().await, biz.next().await].map(|r| (r.kind, r.tunnel_id));
    connected.sort();
    let mut expected = [("connect".to_owned(), id_a.clone()), ("connect".to_owned(), id_b.clone())];
    expected.sort();
    assert_eq!(connected, expected);

    // Through B to A's tunnel, through A to B's, and one push to both from each node.
    assert!(api_b.push(&[&id_a], "t", json!("b→a")).await.is_empty());
    assert!(next_text(&mut ws_a).await.unwrap().contains("b→a"));
    assert!(api_a.push(&[&id_b], "t", json!("a→b")).await.is_empty());
    assert!(next_text(&mut ws_b).await.unwrap().contains("a→b"));
    for api in [&api_a, &api_b] {
        assert!(api.push(&[&id_a, &id_b], "t", json!("all")).await.is_empty());
        assert!(next_text(&mut ws_a).await.unwrap().contains("all"));
        assert!(next_text(&mut ws_b).await.unwrap().contains("all"));
    }

    // Unknown ids, and ids of a tunnel closed on A, are invalid on every node.
    let unknown = "0123456789abcdef0123456789abcdef";
    assert_eq!(api_b.push(&[unknown, &id_a], "t", json!(1)).await, vec![unknown.to_owned()]);
    assert!(next_text(&mut ws_a).await.is_some());
    send(&mut ws_a, "close").await;
    let closed = biz.next().await;
    assert_eq!((closed.kind.as_str(), closed.tunnel_id.as_str()), ("close", id_a.as_str()));
    let a_ = &api_b;
    let id_a2 = id_a.clone();
    eventually("the closed tunnel is invalid through B", async || {
        a_.push(&[&id_a2], "t", json!(2)).await == vec![id_a2.clone()]
    })
    .await;
    assert_eq!(api_a.push(&[&id_a, &id_b], "t", json!(3)).await, vec![id_a.clone()]);
    assert!(next_text(&mut ws_b).await.unwrap().contains('3'));

    // A server `close` pushed through A closes B's tunnel; B reports it.
    let packets = json!([{"tunnelIds": [id_b.clone()], "type": "close"}]);
    assert!(api_a.push_packets(packets).await.is_empty());
    assert_eq!(next_text(&mut ws_b).await.as_deref(), Some("close"));
    let closed = biz.next().await;
    assert_eq!((closed.kind.as_str(), closed.tunnel_id.as_str()), ("close", id_b.as_str()));

    // Callbacks came from the node holding each socket: one connect and one close each.
    for api in [&api_a, &api_b] {
        assert_eq!(metric(&api.metrics().await, "wafer_callbacks_ok_total"), 2.0);
    }
    biz.none_within(300).await;
    a.shutdown().await.unwrap();
    b.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_restart_fails_cross_node_pushes_clearly_and_the_cluster_recovers() {
    let mut redis = RedisServer::start();
    let mut biz = Business::start().await;
    let a = start(node_settings(&biz, &redis.url())).await;
    let b = start(node_settings(&biz, &redis.url())).await;
    let (api_a, api_b) = (Api::new(&a), Api::new(&b));
    let (id_a, url_a) = api_a.wsurl().await;
    let mut ws_a = connect(&url_a).await;
    assert_eq!(biz.next().await.kind, "connect");
    assert!(api_b.push(&[&id_a], "t", json!("before")).await.is_empty());
    assert!(next_text(&mut ws_a).await.unwrap().contains("before"));

    redis.stop();
    let data = json!([{"tunnelIds": [id_a.clone()], "type": "message", "content": "{\"type\":\"t\",\"content\":1}"}])
        .to_string();
    let envelope = json!({"data": data, "tcId": wafer_services::sign::tc_id(HOST), "signature": wafer_services::sign::signature(&data, KEY)});
    let t0 = Instant::now();
    let v = api_b.post("/ws/push", envelope.clone()).await;
    assert_eq!(v["code"], 1009, "a clear code, never ok: {v}");
    assert!(t0.elapsed() < Duration::from_secs(10), "bounded: {:?}", t0.elapsed());
    let w = api_b.post("/get/wsurl", signed_wsurl("http://127.0.0.1/tunnel", KEY)).await;
    assert_eq!(w["code"], 1009, "no tunnel issued that other nodes could not find: {w}");
    // A keeps serving the socket it holds: a local push and a client message still work.
    assert!(api_a.push(&[&id_a], "t", json!("local")).await.is_empty());
    assert!(next_text(&mut ws_a).await.unwrap().contains("local"));
    send(&mut ws_a, "message:{\"type\":\"t\",\"content\":2}").await;
    assert_eq!(biz.next().await.kind, "message");
    for api in [&api_a, &api_b] {
        eventually("health shows Redis down", async || health(api).await == 503).await;
    }

    redis.run();
    for api in [&api_a, &api_b] {
        eventually("health recovers", async || health(api).await == 200).await;
    }
    // The restarted Redis is empty: A writes its open tunnels again, and B reaches them.
    let b_ = &api_b;
    eventually("a push through B reaches A's tunnel again", async || {
        b_.post("/ws/push", envelope.clone()).await["data"]["invalidTunnelIds"] == json!([])
    })
    .await;
    assert!(next_text(&mut ws_a).await.is_some());
    let (_id_b, url_b) = api_b.wsurl().await;
    let _ws_b = connect(&url_b).await;
    assert_eq!(biz.next().await.kind, "connect");
    biz.none_within(300).await;
    a.shutdown().await.unwrap();
    b.shutdown().await.unwrap();
}

/// A `wafer-services` process serving tunnels on Redis with a 3 s lease; killed when dropped.
fn tunnel_node(redis: &str, business: &Business) -> Node {
    let mut child = Command::new(BIN)
        .env_clear()
        .args(["--listen", "127.0.0.1:0", "--app", &format!("{HOST}={KEY}")])
        .args(["--callback", &format!("{HOST}={}", business.origin()), "--heartbeat", "0"])
        .args(["--store", redis, "--lease", "3", "--log", "warn"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let mut node = Node { child, api: Api { base: String::new(), http: reqwest::Client::new() } };
    let line = rx.recv_timeout(Duration::from_secs(60)).expect("the ready line within 60 s");
    node.api.base = line.split_whitespace().find_map(|w| w.strip_prefix("TunnelServerUrl=")).expect(&line).to_owned();
    node
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_node_s_tunnels_are_reported_closed_once_by_a_survivor() {
    let redis = RedisServer::start();
    let mut biz = Business::start().await;
    let mut a = tunnel_node(&redis.url(), &biz);
    // Two survivors compete for A's tunnels.
    let b = start(node_settings(&biz, &redis.url())).await;
    let c = start(node_settings(&biz, &redis.url())).await;
    let (api_b, api_c) = (Api::new(&b), Api::new(&c));
    let mut on_a: Vec<String> = Vec::new();
    let mut sockets = Vec::new();
    for _ in 0..3 {
        let (id, url) = a.api.wsurl().await;
        sockets.push(connect(&url).await);
        on_a.push(id);
    }
    let (id_b, url_b) = api_b.wsurl().await;
    let mut ws_b = connect(&url_b).await;
    for _ in 0..4 {
        assert_eq!(biz.next().await.kind, "connect");
    }
    let ids: Vec<&str> = on_a.iter().map(String::as_str).collect();
    assert!(api_c.push(&ids, "t", json!("hi")).await.is_empty());
    for ws in &mut sockets {
        assert!(next_text(ws).await.unwrap().contains("hi"));
    }

    a.child.kill().unwrap(); // SIGKILL: no shutdown, no close from A.
    a.child.wait().unwrap();
    let killed = Instant::now();
    // Its clients lose their sockets and come back through the business server: new
    // tunnels, on B.
    for ws in &mut sockets {
        assert!(next_text(ws).await.is_none());
    }
    let (id_new, url_new) = api_b.wsurl().await;
    let mut ws_new = connect(&url_new).await;
    let mut closed = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut connects = 0;
    while closed.len() < 3 {
        let left = deadline.saturating_duration_since(Instant::now());
        let r = tokio::time::timeout(left, biz.rx.recv()).await.expect("close reported within 30 s").unwrap();
        match r.kind.as_str() {
            "close" => closed.push(r.tunnel_id),
            "connect" if r.tunnel_id == id_new => connects += 1,
            other => panic!("unexpected {other} callback for {}", r.tunnel_id),
        }
    }
    // The lease (3 s) was renewed at most a second before the kill.
    assert!(killed.elapsed() >= Duration::from_millis(1800), "not before the lease expired: {:?}", killed.elapsed());
    closed.sort();
    let mut held = on_a.clone();
    held.sort();
    assert_eq!(closed, held, "close once for each tunnel A held");
    if connects == 0 {
        assert_eq!(biz.next().await.kind, "connect");
    }
    // Nothing more: no second close, by either survivor; the dead tunnels are invalid.
    biz.none_within(5000).await;
    let mut both: Vec<&str> = ids.clone();
    both.push(&id_b);
    assert_eq!(api_c.push(&both, "t", json!("again")).await, on_a);
    assert!(next_text(&mut ws_b).await.unwrap().contains("again"));
    assert!(api_c.push(&[&id_new], "t", json!("new")).await.is_empty());
    assert!(next_text(&mut ws_new).await.unwrap().contains("new"));
    b.shutdown().await.unwrap();
    c.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_redis_password_never_reaches_the_logs() {
    const PASSWORD: &str = "redis-password-never-logged-5e1f";
    let mut redis = RedisServer::start_with(Some(PASSWORD));
    let wechat = FakeWechat::start().await;
    let mut n = node_logging(&redis.url(), &wechat, "trace", Stdio::piped());
    // Drained as it comes: a full pipe would block the node.
    let mut stderr = n.child.stderr.take().unwrap();
    let drain = std::thread::spawn(move || {
        let mut logs = String::new();
        let _ = stderr.read_to_string(&mut logs);
        logs
    });
    let v = login(&n.api, "oPw").await;
    assert_eq!(v["returnCode"], 0, "{v}");
    let (id, skey) = (v["returnData"]["id"].as_str().unwrap(), v["returnData"]["skey"].as_str().unwrap());
    assert_eq!(check(&n.api, id, skey).await["returnCode"], 0);
    redis.stop();
    assert_eq!(check(&n.api, id, skey).await["returnCode"], 1501);
    redis.run();
    let api = &n.api;
    eventually("recovery", async || health(api).await == 200).await;
    n.child.kill().unwrap();
    n.child.wait().unwrap();
    let logs = drain.join().unwrap();
    assert!(logs.contains("redis: unreachable"), "{logs}");
    for secret in [PASSWORD, SECRET, skey] {
        assert!(!logs.contains(secret), "a secret leaked into the logs: {secret}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_shut_down_reports_its_own_closes_and_nobody_reports_them_again() {
    let redis = RedisServer::start();
    let mut biz = Business::start().await;
    let a = start(node_settings(&biz, &redis.url())).await;
    let b = start(node_settings(&biz, &redis.url())).await;
    let (api_a, api_b) = (Api::new(&a), Api::new(&b));
    let (id_a, url_a) = api_a.wsurl().await;
    let mut ws_a = connect(&url_a).await;
    assert_eq!(biz.next().await.kind, "connect");
    assert!(api_b.push(&[&id_a], "t", json!(1)).await.is_empty());
    assert!(next_text(&mut ws_a).await.is_some());
    a.shutdown().await.unwrap();
    assert_eq!(next_text(&mut ws_a).await.as_deref(), Some("close"));
    let closed = biz.next().await;
    assert_eq!((closed.kind.as_str(), closed.tunnel_id.as_str()), ("close", id_a.as_str()));
    // Longer than A's lease (3 s) and a reaper round of B: no second close.
    biz.none_within(5000).await;
    assert_eq!(api_b.push(&[&id_a], "t", json!(2)).await, vec![id_a.clone()]);
    b.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_refusing_the_credentials_counts_as_unreachable() {
    let redis = RedisServer::start_with(Some("the-right-password"));
    let wechat = FakeWechat::start().await;
    let wrong = format!("redis://:the-wrong-password@127.0.0.1:{}", redis.port);
    for url in [wrong, format!("redis://127.0.0.1:{}", redis.port)] {
        let server = start(auth_settings(&url, &wechat)).await;
        let api = Api::new(&server);
        let t0 = Instant::now();
        let v = login(&api, "oAuth").await;
        assert_eq!(v["returnCode"], 1501, "{v}");
        assert!(t0.elapsed() < Duration::from_secs(10), "bounded: {:?}", t0.elapsed());
        let a = &api;
        eventually("health shows Redis unusable", async || health(a).await == 503).await;
        assert_eq!(metric(&api.metrics().await, "wafer_redis_up"), 0.0);
        server.shutdown().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tunnel_in_grace_stays_on_its_node_and_its_node_reports_close_once() {
    let redis = RedisServer::start();
    let mut biz = Business::start().await;
    let mut s = node_settings(&biz, &redis.url());
    s.resume_grace = 4; // longer than the lease (3 s)
    let a = start(s.clone()).await;
    let b = start(s).await;
    let (api_a, api_b) = (Api::new(&a), Api::new(&b));
    let (id, url) = api_a.wsurl().await;
    let mut ws = connect(&url).await;
    assert_eq!(biz.next().await.kind, "connect");
    let token = announce(&mut ws, 4).await;
    assert!(api_b.push(&[&id], "t", json!("p1")).await.is_empty());
    assert_eq!(next_text(&mut ws).await, Some(pushed("p1")));

    // Lost: still open in the registry, so a push through B reaches A and is kept.
    drop(ws);
    let a_ = &api_a;
    eventually("A has the tunnel in grace", async || metric(&a_.metrics().await, "wafer_tunnels_in_grace") == 1.0)
        .await;
    assert!(api_b.push(&[&id], "t", json!("p2")).await.is_empty(), "valid through B");
    // B does not hold it: refused there; A accepts and replays what B pushed.
    refused(&format!("ws://{}/socket/{id}", b.local_addr()), 1, &token).await;
    let (mut ws, first) = resume(&url, 1, &token).await;
    assert_eq!(first.as_deref(), Some("resumed:0"));
    assert_eq!(next_text(&mut ws).await, Some(pushed("p2")));
    assert_eq!(metric(&api_b.metrics().await, "wafer_resumes_refused_total"), 1.0);

    // Lost again, for good: A reports `close` once, when the grace period ends.
    drop(ws);
    let lost = Instant::now();
    let closed = tokio::time::timeout(Duration::from_secs(15), biz.rx.recv()).await.unwrap().unwrap();
    assert_eq!((closed.kind.as_str(), closed.tunnel_id.as_str()), ("close", id.as_str()));
    assert!(lost.elapsed() >= Duration::from_millis(3500), "not before the grace period: {:?}", lost.elapsed());
    // Longer than a lease and a reaper round: nobody reports it again.
    biz.none_within(5000).await;
    assert_eq!(api_b.push(&[&id], "t", json!("late")).await, vec![id.clone()]);
    assert_eq!(metric(&api_a.metrics().await, "wafer_callbacks_ok_total"), 2.0);
    a.shutdown().await.unwrap();
    b.shutdown().await.unwrap();
}
