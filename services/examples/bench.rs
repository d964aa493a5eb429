//! Load generator for `wafer-services` (run by `script/bench-services`), beside a floor
//! measured in the same run: a bare tokio + tungstenite relay that only forwards frames.
//!
//! Measures, over loopback:
//! - memory per idle open tunnel with N open (RSS of the server process, /proc);
//! - fan-out: one `/ws/push` to F tunnels, R rounds: deliveries/s, p50/p99 of
//!   push-to-last-receive latency (the floor: one frame sent to the relay's push socket);
//! - client → business server throughput: F tunnels each send M messages; callbacks/s
//!   reaching a business server (the floor: the relay POSTs each frame, unordered, unsigned).
//!
//! `bench [--idle N] [--fanout F] [--rounds R] [--messages M]`, with `WAFER_SERVICES_BIN`
//! naming the release binary. `bench relay` is the floor relay (started by the bench).

#![allow(clippy::result_large_err)] // tungstenite's handshake callback signature

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::routing::post;
use axum::Router;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::io::AsyncBufReadExt;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, Notify, Semaphore};
use tokio::task::JoinSet;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use wafer_services::sign::{signature, tc_id};

const HOST: &str = "127.0.0.1";
const KEY: &str = "bench-signature-key";

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

struct Opts {
    idle: usize,
    fanout: usize,
    rounds: usize,
    messages: usize,
    /// The service's clients announce the resume extension and acknowledge every 32
    /// messages, as this repository's SDK does (docs/RESUME.md).
    resumable: bool,
}

fn opts() -> Opts {
    let mut o = Opts { idle: 10_000, fanout: 1_000, rounds: 200, messages: 20, resumable: false };
    let args: Vec<String> = std::env::args().skip(1).collect();
    for pair in args.chunks(2) {
        let n = pair.get(1).and_then(|v| v.parse().ok()).unwrap_or_else(|| panic!("{}: a number", pair[0]));
        match pair[0].as_str() {
            "--idle" => o.idle = n,
            "--fanout" => o.fanout = n,
            "--rounds" => o.rounds = n,
            "--messages" => o.messages = n,
            "--resumable" => o.resumable = n != 0,
            other => panic!("unknown argument {other}"),
        }
    }
    o.fanout = o.fanout.min(o.idle);
    o
}

/// CPU seconds (user + system) a process has used.
fn cpu(pid: u32) -> f64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = s.rsplit(')').next().unwrap_or("").split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

/// Resident memory of a process, in bytes.
fn rss(pid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

struct Guard(Child);

/// Children to kill if the bench panics (release builds abort: no unwinding, no Drop).
static CHILDREN: Mutex<Vec<u32>> = Mutex::new(Vec::new());

fn guard(child: Child) -> Guard {
    CHILDREN.lock().unwrap().push(child.id());
    Guard(child)
}

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Counts what clients receive; wakes the waiter when `target` is reached.
#[derive(Default)]
struct Counter {
    n: AtomicUsize,
    target: AtomicUsize,
    done: Notify,
}

impl Counter {
    fn hit(&self) {
        let n = self.n.fetch_add(1, Relaxed) + 1;
        if n == self.target.load(Relaxed) {
            self.done.notify_one();
        }
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

    fn arm(&self, target: usize) {
        self.n.store(0, Relaxed);
        self.target.store(target, Relaxed);
    }
}

fn small_buffers() -> WebSocketConfig {
    WebSocketConfig::default().read_buffer_size(4096).write_buffer_size(0)
}

/// A client socket: counts `message:` frames; sends what it is told to. `resumable`: it
/// announces the resume extension first and acknowledges every 32 messages.
struct Client {
    tx: mpsc::UnboundedSender<Message>,
    task: tokio::task::JoinHandle<()>,
}

fn run_client(ws: Ws, counter: Arc<Counter>, resumable: bool) -> Client {
    let (tx, mut rx) = mpsc::unbounded_channel::<Message>();
    let task = tokio::spawn(async move {
        let (mut sink, mut stream) = ws.split();
        if resumable && sink.send(Message::text("resumable:1")).await.is_err() {
            return;
        }
        let mut received = 0u64;
        loop {
            tokio::select! {
                m = stream.next() => match m {
                    Some(Ok(Message::Text(t))) if t.starts_with("message:") => {
                        counter.hit();
                        received += 1;
                        if resumable && received.is_multiple_of(32) && sink.send(Message::text(format!("ack:{received}"))).await.is_err() {
                            return;
                        }
                    }
                    Some(Ok(_)) => {}
                    _ => return,
                },
                out = rx.recv() => match out {
                    Some(m) => { if sink.send(m).await.is_err() { return; } }
                    None => { let _ = sink.close().await; return; }
                },
            }
        }
    });
    Client { tx, task }
}

async fn connect(url: String) -> Ws {
    for _ in 0..5 {
        if let Ok((ws, _)) = tokio_tungstenite::connect_async_with_config(&url, Some(small_buffers()), false).await {
            return ws;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("cannot connect {url}");
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// A business server that counts message callbacks.
async fn business() -> (SocketAddr, Arc<Counter>) {
    let counter = Arc::new(Counter::default());
    let c = counter.clone();
    let app = Router::new().route(
        "/tunnel",
        post(move |body: axum::body::Bytes| {
            let c = c.clone();
            async move {
                if memchr(&body, b"\\\"message\\\"") || memchr(&body, b"\"message\"") {
                    c.hit();
                }
                r#"{"code":0,"message":"ok"}"#
            }
        }),
    );
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    (addr, counter)
}

async fn post_json(http: &reqwest::Client, url: &str, body: String) -> Value {
    let r = http.post(url).header("content-type", "application/json").body(body).send().await.unwrap();
    serde_json::from_slice(&r.bytes().await.unwrap()).unwrap()
}

fn memchr(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

struct Figures {
    rss_base: u64,
    rss_open: u64,
    idle: usize,
    fanout_rate: f64,
    p50: Duration,
    p99: Duration,
    callbacks_rate: f64,
    /// Server CPU per fan-out delivery and per callback, in microseconds (service only).
    cpu_us: Option<(f64, f64)>,
}

/// The service under test.
async fn bench_service(o: &Opts) -> Figures {
    let bin = std::env::var("WAFER_SERVICES_BIN").unwrap_or_else(|_| "target/release/wafer-services".into());
    let (biz, callbacks) = business().await;
    let mut child = Command::new(&bin)
        .args([
            "--listen",
            "127.0.0.1:0",
            "--app",
            &format!("{HOST}={KEY}"),
            "--callback",
            &format!("{HOST}=http://{biz}"),
        ])
        .args(["--heartbeat", "0", "--max-frames-per-sec", "0", "--id-ttl", "600", "--log", "warn", "--tunnel", "true"])
        .args(["--max-sockets-per-app", "1000000", "--shutdown-grace", "1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("{bin}: {e}"));
    let stdout = child.stdout.take().unwrap();
    let guard = guard(child);
    let pid = guard.0.id();
    let mut lines = tokio::io::BufReader::new(tokio::process::ChildStdout::from_std(stdout).unwrap()).lines();
    let line = lines.next_line().await.unwrap().unwrap();
    let base = line.split_whitespace().find_map(|w| w.strip_prefix("TunnelServerUrl=")).unwrap().to_owned();
    let http = reqwest::Client::new();

    // Warm up one tunnel, then the baseline.
    let counter = Arc::new(Counter::default());
    let ids = Arc::new(Mutex::new(Vec::new()));
    let mut clients = Vec::new();
    let resumable = o.resumable;
    let open = |n: usize| {
        let (http, base, counter, ids) = (http.clone(), base.clone(), counter.clone(), ids.clone());
        async move {
            let sem = Arc::new(Semaphore::new(64));
            let mut set = JoinSet::new();
            for _ in 0..n {
                let permit = sem.clone().acquire_owned().await.unwrap();
                let (http, base, counter) = (http.clone(), base.clone(), counter.clone());
                set.spawn(async move {
                    let data = json!({"receiveUrl": "http://127.0.0.1/tunnel", "protocolType": "wss"}).to_string();
                    let body =
                        json!({"data": data, "tcId": tc_id(HOST), "tcKey": KEY, "signature": signature(&data, KEY)});
                    let v = post_json(&http, &format!("{base}/get/wsurl"), body.to_string()).await;
                    let d: Value = serde_json::from_str(v["data"].as_str().expect("issued")).unwrap();
                    let ws = connect(d["connectUrl"].as_str().unwrap().to_owned()).await;
                    drop(permit);
                    (d["tunnelId"].as_str().unwrap().to_owned(), run_client(ws, counter, resumable))
                });
            }
            let mut out = Vec::new();
            while let Some(c) = set.join_next().await {
                let (id, client) = c.unwrap();
                ids.lock().unwrap().push(id);
                out.push(client);
            }
            out
        }
    };
    clients.extend(open(1).await);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_base = rss(pid);
    clients.extend(open(o.idle - 1).await);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_open = rss(pid);
    eprintln!("service: {} tunnels open, RSS {} → {} KB", o.idle, rss_base / 1024, rss_open / 1024);

    // Keep F tunnels for the rest.
    let keep: Vec<String> = ids.lock().unwrap().iter().take(o.fanout).cloned().collect();
    for c in clients.drain(o.fanout..) {
        drop(c.tx);
        let _ = c.task.await;
    }
    // Let the close callbacks drain.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let data = json!([{"tunnelIds": keep, "type": "message", "content": json!({"type": "speak", "content": {"who": "bench", "word": "hello, everyone"}}).to_string()}]).to_string();
    let push = json!({"data": data, "tcId": tc_id(HOST), "signature": signature(&data, KEY)}).to_string();
    let mut lat = Vec::with_capacity(o.rounds);
    let cpu0 = cpu(pid);
    for round in 0..o.rounds + 5 {
        counter.arm(o.fanout);
        let t = Instant::now();
        let r = post_json(&http, &format!("{base}/ws/push"), push.clone()).await;
        assert_eq!(r["code"], 0, "{r}");
        counter.wait_for(o.fanout).await;
        if round >= 5 {
            lat.push(t.elapsed());
        }
    }
    lat.sort();
    let total: Duration = lat.iter().sum();
    let fanout_rate = (o.fanout * o.rounds) as f64 / total.as_secs_f64();

    let fanout_cpu = cpu(pid) - cpu0;
    eprintln!("service fan-out: {fanout_cpu:.2} s CPU in the server, {:.2} s wall", total.as_secs_f64());
    // Client → callback throughput.
    callbacks.arm(o.fanout * o.messages);
    let (cpu0, me0) = (cpu(pid), cpu(std::process::id()));
    let t = Instant::now();
    for c in &clients {
        for i in 0..o.messages {
            let _ =
                c.tx.send(Message::text(format!("message:{{\"type\":\"speak\",\"content\":{{\"word\":\"w{i}\"}}}}")));
        }
    }
    callbacks.wait_for(o.fanout * o.messages).await;
    let callbacks_rate = (o.fanout * o.messages) as f64 / t.elapsed().as_secs_f64();
    let callbacks_cpu = cpu(pid) - cpu0;
    eprintln!(
        "service callbacks: {callbacks_cpu:.2} s CPU in the server, {:.2} s in the load generator, {:.2} s wall",
        cpu(std::process::id()) - me0,
        t.elapsed().as_secs_f64()
    );
    for c in clients {
        drop(c.tx);
        let _ = c.task.await;
    }
    drop(guard);
    let per_delivery = fanout_cpu * 1e6 / (o.fanout * (o.rounds + 5)) as f64;
    let per_callback = callbacks_cpu * 1e6 / (o.fanout * o.messages) as f64;
    Figures {
        rss_base,
        rss_open,
        idle: o.idle,
        fanout_rate,
        p50: percentile(&lat, 0.5),
        p99: percentile(&lat, 0.99),
        callbacks_rate,
        cpu_us: Some((per_delivery, per_callback)),
    }
}

/// The floor relay: `relay <business url>`; prints its address; `/push` sockets' frames go
/// to every `/client` socket; client frames are POSTed to the business url.
async fn relay() {
    let biz = std::env::args().nth(2).expect("relay <business url>");
    // The bench holds our stdin: when it goes away, so do we.
    tokio::spawn(async {
        let mut buf = [0u8; 64];
        let mut stdin = tokio::io::stdin();
        while tokio::io::AsyncReadExt::read(&mut stdin, &mut buf).await.is_ok_and(|n| n > 0) {}
        std::process::exit(0);
    });
    let http = reqwest::Client::new();
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    println!("{}", l.local_addr().unwrap());
    let clients: Arc<Mutex<Vec<mpsc::UnboundedSender<Message>>>> = Arc::default();
    loop {
        let (tcp, _) = l.accept().await.unwrap();
        let (clients, http, biz) = (clients.clone(), http.clone(), biz.clone());
        tokio::spawn(async move {
            let mut path = String::new();
            let cb = |req: &tokio_tungstenite::tungstenite::handshake::server::Request, resp| {
                path = req.uri().path().to_owned();
                Ok(resp)
            };
            let Ok(ws) = tokio_tungstenite::accept_hdr_async(tcp, cb).await else { return };
            let (mut sink, mut stream) = ws.split();
            if path == "/push" {
                while let Some(Ok(m)) = stream.next().await {
                    if m.is_text() {
                        for c in clients.lock().unwrap().iter() {
                            let _ = c.send(m.clone());
                        }
                    }
                }
                return;
            }
            let (tx, mut rx) = mpsc::unbounded_channel::<Message>();
            clients.lock().unwrap().push(tx);
            tokio::spawn(async move {
                while let Some(m) = rx.recv().await {
                    if sink.send(m).await.is_err() {
                        return;
                    }
                }
            });
            while let Some(Ok(m)) = stream.next().await {
                if let Message::Text(t) = m {
                    let (http, biz) = (http.clone(), biz.clone());
                    let body = format!("{{\"type\":\"message\",\"content\":{}}}", Value::from(t.as_str()));
                    tokio::spawn(async move {
                        let _ = http.post(biz).body(body).send().await;
                    });
                }
            }
        });
    }
}

async fn bench_floor(o: &Opts) -> Figures {
    let (biz, callbacks) = business().await;
    let exe = std::env::current_exe().unwrap();
    let mut child = Command::new(exe)
        .args(["relay", &format!("http://{biz}/tunnel")])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let guard = guard(child);
    let pid = guard.0.id();
    let mut lines = tokio::io::BufReader::new(tokio::process::ChildStdout::from_std(stdout).unwrap()).lines();
    let addr = lines.next_line().await.unwrap().unwrap();
    let counter = Arc::new(Counter::default());
    let open = |n: usize| {
        let (addr, counter) = (addr.clone(), counter.clone());
        async move {
            let sem = Arc::new(Semaphore::new(64));
            let mut set = JoinSet::new();
            for _ in 0..n {
                let permit = sem.clone().acquire_owned().await.unwrap();
                let (addr, counter) = (addr.clone(), counter.clone());
                set.spawn(async move {
                    let ws = connect(format!("ws://{addr}/client")).await;
                    drop(permit);
                    run_client(ws, counter, false)
                });
            }
            let mut out = Vec::new();
            while let Some(c) = set.join_next().await {
                out.push(c.unwrap());
            }
            out
        }
    };
    let mut clients = open(1).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_base = rss(pid);
    clients.extend(open(o.idle - 1).await);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_open = rss(pid);
    eprintln!("floor relay: {} sockets open, RSS {} → {} KB", o.idle, rss_base / 1024, rss_open / 1024);
    // The relay forwards to every registered client; keep F (it drops the closed ones' sends).
    for c in clients.drain(o.fanout..) {
        drop(c.tx);
        let _ = c.task.await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut pusher = connect(format!("ws://{addr}/push")).await;
    let frame = format!("message:{}", json!({"type": "speak", "content": {"who": "bench", "word": "hello, everyone"}}));
    let mut lat = Vec::with_capacity(o.rounds);
    let relay_cpu0 = cpu(pid);
    for round in 0..o.rounds + 5 {
        counter.arm(o.fanout);
        let t = Instant::now();
        pusher.send(Message::text(frame.clone())).await.unwrap();
        counter.wait_for(o.fanout).await;
        if round >= 5 {
            lat.push(t.elapsed());
        }
    }
    lat.sort();
    let total: Duration = lat.iter().sum();
    let fanout_rate = (o.fanout * o.rounds) as f64 / total.as_secs_f64();
    let per_delivery = (cpu(pid) - relay_cpu0) * 1e6 / (o.fanout * (o.rounds + 5)) as f64;
    callbacks.arm(o.fanout * o.messages);
    let t = Instant::now();
    for c in &clients {
        for i in 0..o.messages {
            let _ =
                c.tx.send(Message::text(format!("message:{{\"type\":\"speak\",\"content\":{{\"word\":\"w{i}\"}}}}")));
        }
    }
    callbacks.wait_for(o.fanout * o.messages).await;
    let callbacks_rate = (o.fanout * o.messages) as f64 / t.elapsed().as_secs_f64();
    drop(guard);
    Figures {
        rss_base,
        rss_open,
        idle: o.idle,
        fanout_rate,
        p50: percentile(&lat, 0.5),
        p99: percentile(&lat, 0.99),
        callbacks_rate,
        cpu_us: Some((per_delivery, f64::NAN)),
    }
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

#[tokio::main]
async fn main() {
    if std::env::args().nth(1).as_deref() == Some("relay") {
        relay().await;
        return;
    }
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        for pid in CHILDREN.lock().map(|c| c.clone()).unwrap_or_default() {
            let _ = Command::new("kill").arg(pid.to_string()).status();
        }
        hook(info);
    }));
    let o = opts();
    let run = async { (bench_service(&o).await, bench_floor(&o).await) };
    let (svc, floor) = tokio::select! {
        r = run => r,
        _ = tokio::signal::ctrl_c() => {
            for pid in CHILDREN.lock().map(|c| c.clone()).unwrap_or_default() {
                let _ = Command::new("kill").arg(pid.to_string()).status();
            }
            std::process::exit(130);
        }
    };
    let per = |f: &Figures| (f.rss_open.saturating_sub(f.rss_base)) as f64 / (f.idle - 1) as f64 / 1024.0;
    println!("| measure | wafer-services | floor: bare tokio + tungstenite relay | target |");
    println!("|---|---|---|---|");
    println!(
        "| memory per idle open tunnel ({} open; server RSS {} MB → {} MB) | {:.1} KB | {:.1} KB (RSS {} MB → {} MB) | ≤ 8 KB |",
        o.idle,
        svc.rss_base / 1_048_576,
        svc.rss_open / 1_048_576,
        per(&svc),
        per(&floor),
        floor.rss_base / 1_048_576,
        floor.rss_open / 1_048_576
    );
    println!(
        "| fan-out: one push to {} tunnels, deliveries/s ({} rounds) | {:.0}/s ({:.2} of the floor) | {:.0}/s | ≥ 0.7 of the floor, ≥ 120,000/s |",
        o.fanout,
        o.rounds,
        svc.fanout_rate,
        svc.fanout_rate / floor.fanout_rate,
        floor.fanout_rate
    );
    println!(
        "| fan-out latency, push to last receive, p50 / p99 | {} / {} | {} / {} | p99 ≤ 20 ms |",
        ms(svc.p50),
        ms(svc.p99),
        ms(floor.p50),
        ms(floor.p99)
    );
    println!(
        "| client messages reaching the business server ({} tunnels × {}) | {:.0}/s (signed, ordered per tunnel) | {:.0}/s (unsigned, unordered) | ≥ 18,000/s |",
        o.fanout, o.messages, svc.callbacks_rate, floor.callbacks_rate
    );
    if let (Some((d, c)), Some((fd, _))) = (svc.cpu_us, floor.cpu_us) {
        println!("| server CPU per fan-out delivery / per callback (user + system) | {d:.1} µs / {c:.1} µs | {fd:.1} µs / – | |");
    }
}
