//! Cluster load test (run by `script/bench-services --cluster`): `/ws/push` fan-out to F
//! tunnels on one node vs spread over two nodes sharing a Redis, and all on the other node
//! (every delivery crosses nodes), over loopback with a `redis-server` it starts.
//!
//! `bench_cluster [--fanout F] [--rounds R]`, with `WAFER_SERVICES_BIN` naming the release
//! binary; prints a Markdown table.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::routing::post;
use axum::Router;
use futures_util::StreamExt;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinSet;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use wafer_services::sign::{signature, tc_id};

const HOST: &str = "127.0.0.1";
const KEY: &str = "bench-signature-key";

/// Children to kill on a panic (release builds abort: no Drop).
static CHILDREN: Mutex<Vec<u32>> = Mutex::new(Vec::new());

struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn guard(child: Child) -> Guard {
    CHILDREN.lock().unwrap().push(child.id());
    Guard(child)
}

fn kill_children() {
    for pid in CHILDREN.lock().map(|c| c.clone()).unwrap_or_default() {
        let _ = Command::new("kill").arg(pid.to_string()).status();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn pong(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_secs(1)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(1)));
    let mut buf = [0u8; 7];
    s.write_all(b"PING\r\n").is_ok() && s.read_exact(&mut buf).is_ok() && &buf == b"+PONG\r\n"
}

/// A `redis-server` on a free loopback port, no persistence, in a temporary directory.
fn redis_server(dir: &std::path::Path) -> (Guard, u16) {
    let port = free_port();
    let child = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
        .args(["--dir", dir.to_str().unwrap(), "--loglevel", "warning"])
        .stdout(Stdio::null())
        .spawn()
        .expect("redis-server (script/setup installs it)");
    let g = guard(child);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !pong(port) {
        assert!(Instant::now() < deadline, "redis-server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    (g, port)
}

/// A node; `redis`: its store. Returns the guard and its base URL.
fn node(biz: std::net::SocketAddr, redis: Option<u16>) -> (Guard, String) {
    let bin = std::env::var("WAFER_SERVICES_BIN").unwrap_or_else(|_| "target/release/wafer-services".into());
    let mut cmd = Command::new(&bin);
    cmd.args([
        "--listen",
        "127.0.0.1:0",
        "--app",
        &format!("{HOST}={KEY}"),
        "--callback",
        &format!("{HOST}=http://{biz}"),
    ])
    .args(["--heartbeat", "0", "--max-frames-per-sec", "0", "--id-ttl", "600", "--log", "warn"])
    .args(["--max-sockets-per-app", "1000000", "--shutdown-grace", "1"]);
    if let Some(p) = redis {
        cmd.args(["--store", &format!("redis://127.0.0.1:{p}")]);
    }
    let mut child =
        cmd.stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn().unwrap_or_else(|e| panic!("{bin}: {e}"));
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let base = line.split_whitespace().find_map(|w| w.strip_prefix("TunnelServerUrl=")).expect(&line).to_owned();
    (guard(child), base)
}

/// Counts `message:` frames received; wakes the waiter at the target.
#[derive(Default)]
struct Counter {
    n: AtomicUsize,
    target: AtomicUsize,
    done: Notify,
}

impl Counter {
    fn hit(&self) {
        if self.n.fetch_add(1, Relaxed) + 1 == self.target.load(Relaxed) {
            self.done.notify_one();
        }
    }

    fn arm(&self, target: usize) {
        self.n.store(0, Relaxed);
        self.target.store(target, Relaxed);
    }

    async fn wait_for(&self, target: usize) {
        loop {
            let notified = self.done.notified();
            if self.n.load(Relaxed) >= target {
                return;
            }
            if tokio::time::timeout(Duration::from_secs(30), notified).await.is_err() {
                panic!("timed out: {} of {target}", self.n.load(Relaxed));
            }
        }
    }
}

async fn post_json(http: &reqwest::Client, url: &str, body: String) -> Value {
    let r = http.post(url).header("content-type", "application/json").body(body).send().await.unwrap();
    serde_json::from_slice(&r.bytes().await.unwrap()).unwrap()
}

/// Opens `n` tunnels on `base`; returns their ids (the sockets count into `counter`).
async fn open(http: &reqwest::Client, base: &str, n: usize, counter: &Arc<Counter>) -> Vec<String> {
    let sem = Arc::new(Semaphore::new(64));
    let mut set = JoinSet::new();
    for _ in 0..n {
        let permit = sem.clone().acquire_owned().await.unwrap();
        let (http, base, counter) = (http.clone(), base.to_owned(), counter.clone());
        set.spawn(async move {
            let data = json!({"receiveUrl": "http://127.0.0.1/tunnel", "protocolType": "wss"}).to_string();
            let body = json!({"data": data, "tcId": tc_id(HOST), "tcKey": KEY, "signature": signature(&data, KEY)});
            let v = post_json(&http, &format!("{base}/get/wsurl"), body.to_string()).await;
            let d: Value = serde_json::from_str(v["data"].as_str().expect("issued")).unwrap();
            let config = WebSocketConfig::default().read_buffer_size(4096).write_buffer_size(0);
            let url = d["connectUrl"].as_str().unwrap().to_owned();
            let (ws, _) = tokio_tungstenite::connect_async_with_config(&url, Some(config), false).await.unwrap();
            drop(permit);
            tokio::spawn(async move {
                let (_sink, mut stream) = ws.split();
                while let Some(Ok(m)) = stream.next().await {
                    if matches!(&m, Message::Text(t) if t.starts_with("message:")) {
                        counter.hit();
                    }
                }
            });
            d["tunnelId"].as_str().unwrap().to_owned()
        });
    }
    let mut ids = Vec::with_capacity(n);
    while let Some(id) = set.join_next().await {
        ids.push(id.unwrap());
    }
    ids
}

struct Run {
    rate: f64,
    p50: Duration,
    p99: Duration,
}

/// `rounds` pushes (after 5 warm-up ones) of one message to `ids` through `base`.
async fn fanout(http: &reqwest::Client, base: &str, ids: &[String], counter: &Counter, rounds: usize) -> Run {
    let content = json!({"type": "speak", "content": {"who": "bench", "word": "hello, everyone"}}).to_string();
    let data = json!([{"tunnelIds": ids, "type": "message", "content": content}]).to_string();
    let push = json!({"data": data, "tcId": tc_id(HOST), "signature": signature(&data, KEY)}).to_string();
    let mut lat = Vec::with_capacity(rounds);
    for round in 0..rounds + 5 {
        counter.arm(ids.len());
        let t = Instant::now();
        let r = post_json(http, &format!("{base}/ws/push"), push.clone()).await;
        assert_eq!(r["code"], 0, "{r}");
        assert_eq!(r["data"]["invalidTunnelIds"], json!([]), "{r}");
        counter.wait_for(ids.len()).await;
        if round >= 5 {
            lat.push(t.elapsed());
        }
    }
    lat.sort();
    let total: Duration = lat.iter().sum();
    let at = |p: f64| lat[(((lat.len() - 1) as f64) * p).round() as usize];
    Run { rate: (ids.len() * rounds) as f64 / total.as_secs_f64(), p50: at(0.5), p99: at(0.99) }
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

async fn bench(fanout_n: usize, rounds: usize) {
    let dir = std::env::temp_dir().join(format!("wafer-bench-cluster-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (_redis, port) = redis_server(&dir);
    let app = Router::new().route("/tunnel", post(|| async { r#"{"code":0,"message":"ok"}"# }));
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let biz = l.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    let http = reqwest::Client::new();
    let mut rows = Vec::new();

    // One node without Redis: the reference.
    {
        let (_g, base) = node(biz, None);
        let counter = Arc::new(Counter::default());
        let ids = open(&http, &base, fanout_n, &counter).await;
        rows.push(("one node, no Redis", fanout(&http, &base, &ids, &counter, rounds).await));
    }
    let (_a, base_a) = node(biz, Some(port));
    let (_b, base_b) = node(biz, Some(port));
    let counter = Arc::new(Counter::default());
    let on_a = open(&http, &base_a, fanout_n, &counter).await;
    rows.push((
        "cluster: all on node A, push through A (local)",
        fanout(&http, &base_a, &on_a, &counter, rounds).await,
    ));
    let on_b = open(&http, &base_b, fanout_n / 2, &counter).await;
    let spread: Vec<String> = on_a.iter().take(fanout_n - on_b.len()).cloned().chain(on_b.iter().cloned()).collect();
    rows.push((
        "cluster: half on A, half on B, push through A",
        fanout(&http, &base_a, &spread, &counter, rounds).await,
    ));
    let on_b_more = open(&http, &base_b, fanout_n - on_b.len(), &counter).await;
    let all_b: Vec<String> = on_b.iter().chain(on_b_more.iter()).cloned().collect();
    // The tunnels of A not in this push still receive nothing: only `all_b` counts.
    rows.push((
        "cluster: all on node B, push through A (cross-node)",
        fanout(&http, &base_a, &all_b, &counter, rounds).await,
    ));

    println!("| {fanout_n} tunnels, {rounds} pushes | deliveries/s | p50 | p99 |");
    println!("|---|---|---|---|");
    for (name, r) in &rows {
        println!("| {name} | {:.0}/s | {} | {} |", r.rate, ms(r.p50), ms(r.p99));
    }
    let (local, spread, cross) = (&rows[1].1, &rows[2].1, &rows[3].1);
    println!();
    println!(
        "Cross-node vs local (cluster): p99 {} → {} (+{}), {:.2}× (target ≤ 2×); spread over two nodes: {:.2} of one node's deliveries/s (target ≥ 1).",
        ms(local.p99),
        ms(cross.p99),
        ms(cross.p99.saturating_sub(local.p99)),
        cross.p99.as_secs_f64() / local.p99.as_secs_f64(),
        spread.rate / rows[0].1.rate
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::main]
async fn main() {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        kill_children();
        hook(info);
    }));
    let (mut fanout_n, mut rounds) = (1000usize, 100usize);
    let args: Vec<String> = std::env::args().skip(1).collect();
    for pair in args.chunks(2) {
        let n = pair.get(1).and_then(|v| v.parse().ok()).unwrap_or_else(|| panic!("{}: a number", pair[0]));
        match pair[0].as_str() {
            "--fanout" => fanout_n = n,
            "--rounds" => rounds = n,
            other => panic!("unknown argument {other}"),
        }
    }
    tokio::select! {
        () = bench(fanout_n.max(2), rounds.max(1)) => {}
        _ = tokio::signal::ctrl_c() => {
            kill_children();
            std::process::exit(130);
        }
    }
}
