//! HTTP surface: thin handlers over [`Hub`] and [`AuthService`], the background tasks,
//! and graceful shutdown.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{Utf8Bytes, WebSocketUpgrade};
use axum::extract::{DefaultBodyLimit, Path, RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::auth::AuthService;
use crate::cluster::Cluster;
use crate::config::Settings;
use crate::metrics::Metrics;
use crate::redis_store::{Redis, RedisStore, RedisTimeouts};
use crate::sign::{secret_eq, signature, verify};
use crate::store::{SessionStore, SqliteStore};
use crate::tunnel::{format_id, parse_id, ClaimError, Hub, IssueError, TunnelEvent};

/// Answer codes of the tunnel API (non-zero: refused, nothing done).
pub mod codes {
    /// The body is not the expected JSON envelope.
    pub const BAD_REQUEST: i64 = 1001;
    /// Unknown `tcId`, or a `tcKey` that does not match.
    pub const UNKNOWN_APP: i64 = 1002;
    /// Missing or wrong signature.
    pub const BAD_SIGNATURE: i64 = 1003;
    /// `data` is not what the call expects.
    pub const BAD_DATA: i64 = 1004;
    /// `receiveUrl` names a host other than the `tcId`'s.
    pub const CALLBACK_REFUSED: i64 = 1005;
    /// A limit was reached (tunnels per app).
    pub const LIMIT: i64 = 1006;
    /// The body is larger than allowed.
    pub const BODY_TOO_LARGE: i64 = 1007;
    /// The service is shutting down.
    pub const UNAVAILABLE: i64 = 1008;
    /// The cluster's Redis is unreachable: the tunnel was not issued, or tunnels on other
    /// nodes were not reached (those on this node were).
    pub const CLUSTER_UNAVAILABLE: i64 = 1009;
    /// Internal error.
    pub const INTERNAL: i64 = 1500;
}

struct AppState {
    hub: Option<Arc<Hub>>,
    redis: Option<Redis>,
    cluster: Option<Arc<Cluster>>,
    auth: Option<AuthService>,
    metrics: Arc<Metrics>,
    settings: Arc<Settings>,
}

/// A running service.
pub struct Server {
    addr: SocketAddr,
    urls: String,
    stop: watch::Sender<bool>,
    task: JoinHandle<io::Result<()>>,
    hub: Option<Arc<Hub>>,
    metrics: Arc<Metrics>,
}

impl Server {
    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// One line naming the URLs served (printed when ready).
    pub fn ready_line(&self) -> &str {
        &self.urls
    }

    /// The metrics (tests).
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// Tunnels known and open (tests).
    pub fn tunnel_counts(&self) -> (usize, usize) {
        self.hub.as_ref().map_or((0, 0), |h| h.counts())
    }

    /// Asks the server to stop (clients get `close`, business servers `close` callbacks).
    pub fn stop(&self) {
        let _ = self.stop.send(true);
    }

    /// Stops and waits until the server has ended (bounded by the shutdown grace).
    pub async fn shutdown(self) -> io::Result<()> {
        self.stop();
        self.task.await.map_err(io::Error::other)?
    }

    /// Waits until the server ends (after [`Server::stop`] or a signal handled elsewhere).
    pub async fn wait(self) -> io::Result<()> {
        self.task.await.map_err(io::Error::other)?
    }
}

/// Errors of [`serve`] before anything is served.
#[derive(Debug)]
pub struct StartError(pub String);

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StartError {}

/// Serves the configured services on `listener` until stopped.
pub async fn serve(listener: TcpListener, settings: Settings) -> Result<Server, StartError> {
    let addr = listener.local_addr().map_err(|e| StartError(format!("listener: {e}")))?;
    let settings = Arc::new(settings);
    let metrics = Arc::new(Metrics::default());
    metrics.redis_up.store(if settings.redis.is_some() { 0 } else { -1 }, std::sync::atomic::Ordering::Relaxed);
    let http = reqwest::Client::builder()
        .timeout(settings.http_timeout)
        .pool_idle_timeout(Duration::from_secs(60))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| StartError(format!("HTTP client: {e}")))?;
    let http_base = format!("http://{addr}");
    let connect_base = settings.public_url.clone().unwrap_or_else(|| format!("ws://{addr}"));
    let hub = settings.tunnel.then(|| Hub::new(settings.clone(), http.clone(), metrics.clone(), connect_base.clone()));
    let redis = match &settings.redis {
        Some(url) => Some(Redis::open(url, RedisTimeouts::default()).map_err(|e| StartError(format!("--store: {e}")))?),
        None => None,
    };
    let mut cluster_tasks = Vec::new();
    let cluster = match (&redis, &hub) {
        (Some(r), Some(h)) => {
            let (c, tasks) = Cluster::start(r.clone(), h.clone(), settings.lease).map_err(StartError)?;
            cluster_tasks = tasks;
            Some(c)
        }
        _ => None,
    };
    let auth = match &settings.wechat {
        Some(w) => {
            let store: Arc<dyn SessionStore> = match (&redis, &settings.data) {
                (Some(r), _) => Arc::new(RedisStore::new(r.clone())),
                (None, Some(dir)) => {
                    Arc::new(SqliteStore::open(dir).map_err(|e| StartError(format!("--data {}: {e}", dir.display())))?)
                }
                (None, None) => Arc::new(crate::store::MemoryStore::default()),
            };
            Some(AuthService::new(store, w.clone(), http.clone(), settings.login_duration, metrics.clone()))
        }
        None => None,
    };
    let mut urls = String::from("wafer-services ready:");
    if hub.is_some() {
        urls.push_str(&format!(" TunnelServerUrl={http_base} sockets={connect_base}/socket/"));
    }
    if auth.is_some() {
        urls.push_str(&format!(" AuthServerUrl={http_base}/mina_auth/"));
    }
    urls.push_str(&format!(" health={http_base}/healthz metrics={http_base}/metrics"));

    let state = Arc::new(AppState {
        hub: hub.clone(),
        redis,
        cluster: cluster.clone(),
        auth,
        metrics: metrics.clone(),
        settings: settings.clone(),
    });
    let router = router(state.clone());
    let (stop, mut stopped) = watch::channel(false);
    let mut background = spawn_background(&state, stop.subscribe());
    background.extend(cluster_tasks);
    let grace = settings.shutdown_grace;
    let hub2 = hub.clone();
    let hub_handle = hub.clone();
    let task = tokio::spawn(async move {
        let signal = async move {
            let _ = stopped.wait_for(|s| *s).await;
            if let Some(h) = &hub2 {
                h.begin_shutdown();
            }
        };
        let served = axum::serve(listener, router).with_graceful_shutdown(signal);
        // Sockets end as soon as they wrote `close`; only callbacks may take time.
        let result = served.await;
        if let Some(h) = &hub {
            let deadline = Instant::now() + grace;
            while h.pending_callbacks() > 0 && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            let left = h.pending_callbacks();
            if left > 0 {
                state.metrics.callbacks_dropped.fetch_add(left as u64, std::sync::atomic::Ordering::Relaxed);
                tracing::warn!(pending = left, "shutdown: callbacks still pending were dropped");
            }
        }
        if let Some(c) = &cluster {
            c.leave().await;
        }
        for t in background {
            t.abort();
        }
        result
    });
    Ok(Server { addr, urls, stop, task, hub: hub_handle, metrics })
}

fn spawn_background(state: &Arc<AppState>, stop: watch::Receiver<bool>) -> Vec<JoinHandle<()>> {
    let mut tasks = Vec::new();
    if let Some(hub) = &state.hub {
        let hub = hub.clone();
        let every = (state.settings.id_ttl / 4).clamp(Duration::from_millis(50), Duration::from_secs(5));
        tasks.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                let n = hub.expire(Instant::now());
                if n > 0 {
                    tracing::debug!(expired = n, "unconnected tunnel ids expired");
                }
            }
        }));
    }
    if let Some(redis) = state.redis.clone() {
        // Keeps the health of Redis current, and reconnects it, without traffic.
        let metrics = state.metrics.clone();
        tasks.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let up = redis.ping().await.is_ok();
                metrics.redis_up.store(i64::from(up), std::sync::atomic::Ordering::Relaxed);
            }
        }));
    }
    if let Some(auth) = &state.auth {
        let store = auth.store();
        tasks.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(3600));
            loop {
                tick.tick().await;
                let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
                let store = store.clone();
                if let Ok(Err(e)) = tokio::task::spawn_blocking(move || store.purge(now)).await {
                    tracing::error!(error = %e, "session purge");
                }
            }
        }));
    }
    drop(stop);
    tasks
}

fn router(state: Arc<AppState>) -> Router {
    let mut r = Router::new().route("/healthz", get(health)).route("/metrics", get(metrics));
    if state.hub.is_some() {
        // A broadcast names every tunnel it goes to: `/ws/push` has a limit of its own.
        let push_limit = DefaultBodyLimit::max(state.settings.limits.max_push_body);
        r = r
            .route("/get/wsurl", post(get_wsurl))
            .route("/ws/push", post(push).layer(push_limit))
            .route("/socket/{id}", get(socket));
    }
    if state.auth.is_some() {
        r = r.route("/mina_auth/", post(mina_auth)).route("/mina_auth", post(mina_auth));
    }
    let limit = state.settings.limits.max_body;
    r.fallback(|| async { (StatusCode::NOT_FOUND, Json(json!({"code": 404, "message": "not found"}))) })
        .layer(DefaultBodyLimit::max(limit))
        .with_state(state)
}

/// `200 ok`, or `503` naming what is unreachable (the shared store).
async fn health(State(s): State<Arc<AppState>>) -> Response {
    if s.redis.as_ref().is_some_and(|r| !r.is_up()) {
        return (StatusCode::SERVICE_UNAVAILABLE, "redis unreachable\n").into_response();
    }
    (StatusCode::OK, "ok\n").into_response()
}

async fn metrics(State(s): State<Arc<AppState>>) -> Response {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], s.metrics.render()).into_response()
}

/// A refused tunnel API call: HTTP 200 (the SDKs read `code`), counted.
fn refuse(s: &AppState, code: i64, message: &str) -> Response {
    s.metrics.api_refused(code);
    tracing::info!(code, message, "tunnel API call refused");
    Json(json!({"code": code, "message": message})).into_response()
}

/// The signed envelope of a tunnel API call.
#[derive(Deserialize)]
struct Envelope {
    data: Option<String>,
    #[serde(rename = "tcId")]
    tc_id: Option<String>,
    #[serde(rename = "tcKey")]
    tc_key: Option<String>,
    signature: Option<String>,
}

/// Reads the body (size-limited) and the envelope.
#[allow(clippy::result_large_err)] // the error is the answer, built once per refused call
fn envelope(s: &AppState, body: Result<Bytes, BytesRejection>, limit: usize) -> Result<Envelope, Response> {
    let body = match body {
        Ok(b) => b,
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            s.metrics.limit_hit("body_size");
            s.metrics.api_refused(codes::BODY_TOO_LARGE);
            let msg = format!("request body larger than {limit} bytes");
            return Err((StatusCode::PAYLOAD_TOO_LARGE, Json(json!({"code": codes::BODY_TOO_LARGE, "message": msg})))
                .into_response());
        }
        Err(_) => return Err(refuse(s, codes::BAD_REQUEST, "unreadable request body")),
    };
    serde_json::from_slice(&body)
        .map_err(|_| refuse(s, codes::BAD_REQUEST, "request body is not a JSON envelope {data, tcId, signature}"))
}

async fn get_wsurl(State(s): State<Arc<AppState>>, body: Result<Bytes, BytesRejection>) -> Response {
    let Some(hub) = &s.hub else { return refuse(&s, codes::INTERNAL, "tunnel service off") };
    let env = match envelope(&s, body, s.settings.limits.max_body) {
        Ok(e) => e,
        Err(r) => return r,
    };
    let (Some(data), Some(tc_id)) = (env.data, env.tc_id) else {
        return refuse(&s, codes::BAD_REQUEST, "data and tcId are required");
    };
    let app = match hub.app(&tc_id) {
        Some(app) if env.tc_key.as_deref().is_some_and(|k| secret_eq(&app.key, k)) => app,
        _ => return refuse(&s, codes::UNKNOWN_APP, "unknown tcId or wrong tcKey"),
    };
    if !env.signature.as_deref().is_some_and(|sig| verify(&data, &app.key, sig)) {
        return refuse(&s, codes::BAD_SIGNATURE, "signature check failed");
    }
    let Some(receive_url) = serde_json::from_str::<Value>(&data)
        .ok()
        .and_then(|v| v.get("receiveUrl").and_then(Value::as_str).map(str::to_owned))
    else {
        return refuse(&s, codes::BAD_DATA, "data must be JSON with a receiveUrl");
    };
    let Some(callback_url) = callback_url(&receive_url, &app.server_host, &app.callback_origin) else {
        return refuse(&s, codes::CALLBACK_REFUSED, "receiveUrl must be on the host the tcId names");
    };
    let issued = hub.issue(&tc_id, callback_url.clone(), Instant::now());
    if let (Ok((tunnel_id, _)), Some(c)) = (&issued, &s.cluster) {
        if let Err(e) = c.register(tunnel_id, &tc_id, &callback_url, s.settings.id_ttl).await {
            hub.discard(tunnel_id);
            tracing::warn!(error = %e, "tunnel not registered in the cluster");
            return refuse(&s, codes::CLUSTER_UNAVAILABLE, "cluster store (Redis) unavailable");
        }
    }
    match issued {
        Ok((tunnel_id, connect_url)) => {
            let data = json!({"tunnelId": tunnel_id, "connectUrl": connect_url}).to_string();
            let sig = signature(&data, &app.key);
            tracing::debug!(tunnel = %tunnel_id, app = %app.server_host, "tunnel issued");
            Json(json!({"code": 0, "message": "OK", "data": data, "signature": sig})).into_response()
        }
        Err(IssueError::TooMany) => refuse(&s, codes::LIMIT, "too many tunnels for this app"),
        Err(IssueError::ShuttingDown) => refuse(&s, codes::UNAVAILABLE, "shutting down"),
        Err(IssueError::Internal) => refuse(&s, codes::INTERNAL, "internal error"),
    }
}

/// Where callbacks of a tunnel go: the configured origin (`https://server_host` unless
/// configured) and the path (and query) of `receiveUrl`, whose host must be the app's
/// `ServerHost` (the SDK's `serverPort`, if any, is ignored: the origin decides where the
/// request goes). `None` for another host: callbacks never go where the tcId does not name.
pub fn callback_url(receive_url: &str, server_host: &str, origin: &str) -> Option<String> {
    let url = reqwest::Url::parse(receive_url).ok()?;
    if !matches!(url.scheme(), "http" | "https") || !url.username().is_empty() || url.password().is_some() {
        return None;
    }
    let host = url.host_str()?;
    let with_port = url.port().map(|p| format!("{host}:{p}"));
    let named =
        host.eq_ignore_ascii_case(server_host) || with_port.is_some_and(|h| h.eq_ignore_ascii_case(server_host));
    if !named {
        return None;
    }
    let mut out = format!("{origin}{}", url.path());
    if let Some(q) = url.query() {
        out.push('?');
        out.push_str(q);
    }
    Some(out)
}

/// One packet of `/ws/push`.
#[derive(Deserialize)]
struct Packet {
    #[serde(rename = "tunnelIds")]
    tunnel_ids: Vec<String>,
    #[serde(rename = "type")]
    kind: String,
    content: Option<String>,
}

async fn push(State(s): State<Arc<AppState>>, body: Result<Bytes, BytesRejection>) -> Response {
    let Some(hub) = &s.hub else { return refuse(&s, codes::INTERNAL, "tunnel service off") };
    let env = match envelope(&s, body, s.settings.limits.max_push_body) {
        Ok(e) => e,
        Err(r) => return r,
    };
    let (Some(data), Some(tc_id)) = (env.data, env.tc_id) else {
        return refuse(&s, codes::BAD_REQUEST, "data and tcId are required");
    };
    let Some(app) = hub.app(&tc_id) else { return refuse(&s, codes::UNKNOWN_APP, "unknown tcId or wrong tcKey") };
    // wafer-node-sdk also sends tcKey here; when present it must match.
    if env.tc_key.as_deref().is_some_and(|k| !secret_eq(&app.key, k)) {
        return refuse(&s, codes::UNKNOWN_APP, "unknown tcId or wrong tcKey");
    }
    if !env.signature.as_deref().is_some_and(|sig| verify(&data, &app.key, sig)) {
        return refuse(&s, codes::BAD_SIGNATURE, "signature check failed");
    }
    let Ok(packets) = serde_json::from_str::<Vec<Packet>>(&data) else {
        return refuse(&s, codes::BAD_DATA, "data must be a JSON array of {tunnelIds, type, content}");
    };
    for p in &packets {
        match p.kind.as_str() {
            "message" if p.content.is_some() => {}
            "close" => {}
            "message" => return refuse(&s, codes::BAD_DATA, "a message packet needs content"),
            _ => return refuse(&s, codes::BAD_DATA, "packet type must be message or close"),
        }
    }
    let mut invalid: Vec<String> = Vec::new();
    let mut cluster_failed = false;
    for p in packets {
        let text = p
            .content
            .as_deref()
            .filter(|_| p.kind == "message")
            .map(|c| Utf8Bytes::from(wafer_core::frame::encode_message(c)));
        let (local, remote): (Vec<String>, Vec<String>) = match &s.cluster {
            Some(_) => p.tunnel_ids.into_iter().partition(|id| hub.holds(id)),
            None => (p.tunnel_ids, Vec::new()),
        };
        let mut not_reached = hub.push(&tc_id, &local, text.as_ref());
        if let (Some(c), false) = (&s.cluster, remote.is_empty()) {
            match c.push(&tc_id, &remote, text.as_ref().map(|t| t.as_str())).await {
                Ok(ids) => not_reached.extend(ids),
                Err(e) => {
                    tracing::warn!(error = %e, "cross-node push failed");
                    cluster_failed = true;
                }
            }
        }
        for id in not_reached {
            if !invalid.contains(&id) {
                invalid.push(id);
            }
        }
    }
    if cluster_failed {
        return refuse(
            &s,
            codes::CLUSTER_UNAVAILABLE,
            "cluster store (Redis) unavailable: tunnels on other nodes were not reached",
        );
    }
    Json(json!({"code": 0, "message": "OK", "data": {"invalidTunnelIds": invalid}})).into_response()
}

/// Whether a socket URL's query asks for a resume (`?resume`, `&resume`, docs/RESUME.md).
fn wants_resume(query: Option<&str>) -> bool {
    query.is_some_and(|q| q.split('&').any(|p| p == "resume" || p.starts_with("resume=")))
}

async fn socket(
    State(s): State<Arc<AppState>>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let Some(hub) = s.hub.clone() else { return StatusCode::NOT_FOUND.into_response() };
    let ws = match ws {
        Ok(ws) => ws,
        Err(e) => {
            return (e.status(), Json(json!({"code": 400, "message": "a WebSocket upgrade is expected"})))
                .into_response()
        }
    };
    let max = s.settings.limits.max_frame;
    let ws = ws.max_message_size(max).max_frame_size(max).read_buffer_size(1024).write_buffer_size(0);
    let ws = ws.max_write_buffer_size(1 << 20);
    if wants_resume(query.as_deref()) {
        // Any id: the answer (`resumed` or `resume-refused`) is given on the socket. A node
        // that does not hold the tunnel refuses (the client then reconnects fully).
        let key = parse_id(&id);
        return ws.on_upgrade(move |socket| hub.run_resume(key, socket));
    }
    let Some(key) = parse_id(&id) else {
        return (StatusCode::NOT_FOUND, Json(json!({"code": 404, "message": "unknown tunnel"}))).into_response();
    };
    // (Not while Redis is known down: the socket would wait for the call's timeout; the
    // mirror writes it when Redis is back.)
    let redis_up = s.redis.as_ref().is_some_and(Redis::is_up);
    if let Some(c) = s.cluster.as_ref().filter(|_| redis_up && hub.holds(&id)) {
        // Open in the registry before the `connect` callback: the business server may push
        // through another node as soon as it has it.
        if let Err(e) = c.record(TunnelEvent::Opened(key)).await {
            tracing::debug!(error = %e, "registry: open not recorded yet (retried by the mirror)");
        }
    }
    let outbox = match hub.claim(key) {
        Ok(rx) => rx,
        Err(ClaimError::Unknown) => {
            if let Some(c) = s.cluster.clone().filter(|_| !hub.holds(&id)) {
                // It expired meanwhile: undo the registry entry.
                tokio::spawn(async move { c.record(TunnelEvent::Closed(key)).await });
            }
            return (
                StatusCode::NOT_FOUND,
                Json(json!({"code": 404, "message": "unknown, expired or already used tunnel"})),
            )
                .into_response();
        }
        Err(ClaimError::ShuttingDown) => {
            return (StatusCode::SERVICE_UNAVAILABLE, Json(json!({"code": 503, "message": "shutting down"})))
                .into_response()
        }
    };
    let failed_hub = hub.clone();
    ws.on_failed_upgrade(move |_| {
        failed_hub.close(key, crate::tunnel::CloseReason::SocketLost);
    })
    .on_upgrade(move |socket| {
        tracing::debug!(tunnel = %format_id(key), "socket open");
        hub.run_socket(key, socket, outbox)
    })
}

async fn mina_auth(State(s): State<Arc<AppState>>, body: Result<Bytes, BytesRejection>) -> Response {
    let Some(auth) = &s.auth else { return StatusCode::NOT_FOUND.into_response() };
    match body {
        Ok(b) => Json(auth.handle(&b).await).into_response(),
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            s.metrics.limit_hit("body_size");
            (StatusCode::PAYLOAD_TOO_LARGE, Json(json!({"version": 1, "componentName": "MA", "returnCode": crate::auth::codes::BAD_PARAMETER, "returnMessage": "request body too large"}))).into_response()
        }
        Err(_) => Json(json!({"version": 1, "componentName": "MA", "returnCode": crate::auth::codes::NOT_JSON, "returnMessage": "unreadable request body"})).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::{callback_url, wants_resume};

    #[test]
    fn resume_sockets_are_named_by_a_query_parameter() {
        assert!(wants_resume(Some("resume")));
        assert!(wants_resume(Some("a=1&resume")));
        assert!(wants_resume(Some("resume=1&a=2")));
        assert!(!wants_resume(None));
        assert!(!wants_resume(Some("")));
        assert!(!wants_resume(Some("resumed&x=resume")));
    }

    #[test]
    fn callbacks_go_only_where_the_tc_id_names() {
        let o = "https://app.example.com";
        assert_eq!(
            callback_url("https://app.example.com/tunnel", "app.example.com", o).as_deref(),
            Some("https://app.example.com/tunnel")
        );
        // The scheme of receiveUrl is not trusted: the origin decides.
        assert_eq!(
            callback_url("http://APP.example.com/t?x=1", "app.example.com", o).as_deref(),
            Some("https://app.example.com/t?x=1")
        );
        assert_eq!(callback_url("https://evil.example/tunnel", "app.example.com", o), None);
        // A port in receiveUrl (wafer-node-sdk's serverPort) does not choose the target.
        assert_eq!(
            callback_url("https://app.example.com:8443/t", "app.example.com", o).as_deref(),
            Some("https://app.example.com/t")
        );
        assert_eq!(
            callback_url("http://app.example.com:8080/t", "app.example.com:8080", "http://10.0.0.2:8080").as_deref(),
            Some("http://10.0.0.2:8080/t")
        );
        assert_eq!(callback_url("http://app.example.com.evil.example/t", "app.example.com", o), None);
        assert_eq!(callback_url("https://app.example.com@evil.example/t", "app.example.com", o), None);
        assert_eq!(callback_url("file:///etc/passwd", "app.example.com", o), None);
        assert_eq!(callback_url("not a url", "app.example.com", o), None);
        assert_eq!(
            callback_url("http://127.0.0.1/tunnel", "127.0.0.1", "http://127.0.0.1:8080").as_deref(),
            Some("http://127.0.0.1:8080/tunnel")
        );
    }
}
