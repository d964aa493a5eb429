//! Local Wafer dev server: login, checked endpoints, the tunnel relay and the chat room
//! of the original demo (docs/PROTOCOL.md §3, §5, §6), with hooks for end-to-end tests.
//!
//! ```no_run
//! # async fn run() -> std::io::Result<()> {
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let server = wafer_devserver::serve(listener, wafer_devserver::Config::default()).await?;
//! println!("on {}", server.local_addr());
//! server.shutdown().await // or keep it: server.wait().await
//! # }
//! ```

mod room;
mod store;
mod users;

use std::io;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinHandle;
use tower_http::services::ServeDir;

pub use room::{CLOSE_GOING_AWAY, CLOSE_NORMAL, CLOSE_TOO_BIG};
pub use users::{UserInfo, DEV_CODE_PREFIX};

/// The key v1 servers put in every session-layer answer (docs/PROTOCOL.md §1): the core's.
pub use wafer_core::session::MAGIC_ID;

/// Login request headers (lowercase: the names `http` matches on; the core spells them
/// `X-WX-…`).
pub const HEADER_CODE: &str = "x-wx-code";
pub const HEADER_ENCRYPTED_DATA: &str = "x-wx-encrypted-data";
pub const HEADER_IV: &str = "x-wx-iv";
/// Session headers.
pub const HEADER_ID: &str = "x-wx-id";
pub const HEADER_SKEY: &str = "x-wx-skey";

/// Longest login code accepted.
const MAX_CODE_LEN: usize = 512;
/// Largest request body (`/api/echo`).
const MAX_BODY: usize = 256 * 1024;
/// How long graceful shutdown waits for sockets to finish their close handshake.
const SOCKET_DRAIN: Duration = Duration::from_secs(3);
/// How long graceful shutdown waits for in-flight HTTP requests.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Server settings. `Default` gives the CLI defaults (with logging on).
#[derive(Clone, Debug)]
pub struct Config {
    /// Sessions expire this long after login.
    pub session_ttl: Duration,
    /// N of the `timeout:N` frame sent when a socket opens; 0 sends none (and never
    /// drops idle sockets).
    pub heartbeat: u64,
    /// Answer in wafer2 shapes (`{"code":0,"data":…}`, skey-only sessions).
    pub v2: bool,
    /// Serve this directory at `/`.
    pub static_dir: Option<PathBuf>,
    /// Serve this directory at `/sdk/`.
    pub sdk_dir: Option<PathBuf>,
    /// Unclaimed tunnel ids expire after this.
    pub tunnel_ttl: Duration,
    /// Open sockets at most; more get HTTP 503.
    pub max_sockets: usize,
    /// Frames queued for one socket at most; a socket whose queue is full is dropped.
    pub queue_len: usize,
    /// Largest inbound text frame in bytes; larger closes the socket with 1009.
    pub max_frame: usize,
    /// A socket that sends nothing for this long is dropped. `None`: max(4·heartbeat,
    /// 30 s) when `heartbeat > 0`, else never.
    pub idle_timeout: Option<Duration>,
    /// Live sessions at most (expired ones are pruned first).
    pub max_sessions: usize,
    /// One stderr line per request.
    pub log: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            session_ttl: Duration::from_secs(7200),
            heartbeat: 15,
            v2: false,
            static_dir: None,
            sdk_dir: None,
            tunnel_ttl: Duration::from_secs(60),
            max_sockets: 1000,
            queue_len: 256,
            max_frame: 64 * 1024,
            idle_timeout: None,
            max_sessions: 100_000,
            log: true,
        }
    }
}

impl Config {
    /// How long a silent socket lives, if it is bounded at all.
    fn idle_limit(&self) -> Option<Duration> {
        // A client that pings as told is never silent this long.
        self.idle_timeout
            .or_else(|| (self.heartbeat > 0).then(|| Duration::from_secs(self.heartbeat.saturating_mul(4).max(30))))
    }
}

/// Shared state of a running server.
struct App {
    config: Config,
    addr: SocketAddr,
    sessions: store::Sessions,
    tunnels: store::Tunnels,
    room: room::Room,
    sockets: Arc<Semaphore>,
    /// Bumped by `/dev/drop-sockets`: every socket task aborts its connection.
    drop_tx: watch::Sender<u64>,
    /// Becomes true when the server stops.
    stop_rx: watch::Receiver<bool>,
}

impl App {
    fn open_sockets(&self) -> usize {
        self.config.max_sockets - self.sockets.available_permits()
    }
}

/// Stops a running server (cloneable; usable from a signal handler task).
#[derive(Clone, Debug)]
pub struct StopHandle(Arc<watch::Sender<bool>>);

impl StopHandle {
    /// Starts a graceful shutdown: no new connections, open sockets get a close frame
    /// (1001), in-flight requests finish.
    pub fn stop(&self) {
        self.0.send_replace(true);
    }
}

/// A running server. Dropping it stops the server too.
#[derive(Debug)]
pub struct Server {
    addr: SocketAddr,
    stop: StopHandle,
    task: JoinHandle<io::Result<()>>,
}

impl Server {
    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// A handle that stops the server.
    pub fn stop_handle(&self) -> StopHandle {
        self.stop.clone()
    }

    /// Waits until the server has stopped (through a [`StopHandle`]).
    pub async fn wait(self) -> io::Result<()> {
        let Server { stop, task, .. } = self;
        let result = task.await.unwrap_or_else(|e| Err(io::Error::other(e)));
        drop(stop);
        result
    }

    /// Stops the server gracefully and waits until it has stopped.
    pub async fn shutdown(self) -> io::Result<()> {
        self.stop.stop();
        self.wait().await
    }
}

/// Starts serving on `listener` (on the current tokio runtime) and returns at once;
/// the [`Server`] handle stops it.
pub async fn serve(listener: TcpListener, config: Config) -> io::Result<Server> {
    let addr = listener.local_addr()?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let max_sockets = config.max_sockets.clamp(1, Semaphore::MAX_PERMITS);
    let app = Arc::new(App {
        sessions: store::Sessions::new(config.session_ttl, config.max_sessions.max(1)),
        tunnels: store::Tunnels::new(config.tunnel_ttl, 10_000),
        room: room::Room::default(),
        sockets: Arc::new(Semaphore::new(max_sockets)),
        drop_tx: watch::channel(0).0,
        stop_rx: stop_rx.clone(),
        addr,
        config: Config { max_sockets, ..config },
    });
    let router = router(app.clone());
    let mut signal = stop_rx.clone();
    let mut grace = stop_rx;
    let task = tokio::spawn(async move {
        let graceful = axum::serve(listener, router).with_graceful_shutdown(async move {
            // Also ends when every StopHandle is gone.
            let _ = signal.wait_for(|stopped| *stopped).await;
        });
        let result = tokio::select! {
            result = std::future::IntoFuture::into_future(graceful) => result,
            // Requests that never finish (a stalled client) do not hold the stop up forever.
            _ = async {
                let _ = grace.wait_for(|stopped| *stopped).await;
                tokio::time::sleep(SHUTDOWN_GRACE).await;
            } => Ok(()),
        };
        // Sockets were told to close; give them a moment to finish the handshake.
        let all = u32::try_from(app.config.max_sockets).unwrap_or(u32::MAX);
        let _ = tokio::time::timeout(SOCKET_DRAIN, app.sockets.acquire_many(all)).await;
        result
    });
    Ok(Server { addr, stop: StopHandle(Arc::new(stop_tx)), task })
}

fn router(app: Arc<App>) -> Router {
    let mut router = Router::new()
        .route("/login", get(login).post(login))
        .route("/user", get(user))
        .route("/api/echo", post(echo))
        .route("/tunnel", get(tunnel))
        .route("/ws/{tunnel_id}", get(socket))
        .route("/dev/expire-sessions", post(expire_sessions))
        .route("/dev/drop-sockets", post(drop_sockets))
        .route("/dev/stats", get(stats))
        .method_not_allowed_fallback(method_not_allowed);
    if let Some(dir) = &app.config.sdk_dir {
        router = router.nest_service("/sdk", static_files(dir.clone()));
    }
    router = match &app.config.static_dir {
        Some(dir) => router.fallback_service(static_files(dir.clone())),
        None => router.fallback(not_found),
    };
    let log = app.config.log;
    let router = router.layer(DefaultBodyLimit::max(MAX_BODY)).with_state(app);
    if log {
        router.layer(middleware::from_fn(log_request))
    } else {
        router
    }
}

fn static_files(dir: PathBuf) -> Router {
    use axum::handler::HandlerWithoutStateExt;
    let files = ServeDir::new(dir)
        .append_index_html_on_directories(true)
        .call_fallback_on_method_not_allowed(true)
        .not_found_service(not_found.into_service());
    Router::new().fallback_service(files).layer(middleware::map_response(no_cache))
}

async fn no_cache(mut response: Response) -> Response {
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

async fn log_request(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let start = Instant::now();
    let response = next.run(request).await;
    // Not `eprintln!`, which panics once stderr is gone.
    let _ =
        writeln!(std::io::stderr(), "{method} {path} {} {}ms", response.status().as_u16(), start.elapsed().as_millis());
    response
}

// ---------------------------------------------------------------------------------------
// Answers

fn error(status: StatusCode, error: &str, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": error, "message": message.into() }))).into_response()
}

/// A session-layer error the way the v1 server SDK writes it: HTTP 200 and the magic id.
fn magic_error(error: &str, message: impl Into<String>) -> Response {
    Json(json!({ MAGIC_ID: 1, "error": error, "message": message.into() })).into_response()
}

async fn not_found(method: Method, uri: Uri) -> Response {
    error(StatusCode::NOT_FOUND, "ERR_NOT_FOUND", format!("no route for {method} {}", uri.path()))
}

async fn method_not_allowed(method: Method, uri: Uri) -> Response {
    error(
        StatusCode::METHOD_NOT_ALLOWED,
        "ERR_METHOD_NOT_ALLOWED",
        format!("{method} is not allowed on {}", uri.path()),
    )
}

fn store_error(e: store::StoreError) -> Response {
    let status = match e {
        store::StoreError::Full => StatusCode::SERVICE_UNAVAILABLE,
        store::StoreError::Random(_) => StatusCode::INTERNAL_SERVER_ERROR,
    };
    error(status, "ERR_SERVER", e.to_string())
}

/// A header as text: `Ok(None)` when absent, `Err` when not visible ASCII.
fn header_text<'a>(headers: &'a HeaderMap, name: &str) -> Result<Option<&'a str>, String> {
    match headers.get(name) {
        None => Ok(None),
        Some(v) => v.to_str().map(Some).map_err(|_| format!("header {name} is not valid text")),
    }
}

// ---------------------------------------------------------------------------------------
// Login and session checks

async fn login(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    let code = match header_text(&headers, HEADER_CODE) {
        Ok(Some(code)) if !code.trim().is_empty() => code.trim(),
        Ok(_) => return login_error(&app, StatusCode::BAD_REQUEST, "missing header X-WX-Code"),
        Err(e) => return login_error(&app, StatusCode::BAD_REQUEST, e),
    };
    if code.len() > MAX_CODE_LEN {
        return login_error(&app, StatusCode::BAD_REQUEST, "X-WX-Code is too long");
    }
    // X-WX-Encrypted-Data / X-WX-IV (or 0.7.x's X-WX-Encrypt-Data) are optional: without
    // WeChat's session key there is nothing to decrypt them with.
    let session = match app.sessions.create(UserInfo::from_code(code)) {
        Ok(s) => s,
        Err(e) => return store_error(e),
    };
    if app.config.v2 {
        Json(json!({ "code": 0, "data": { "skey": session.skey, "userinfo": *session.user } })).into_response()
    } else {
        Json(json!({
            MAGIC_ID: 1,
            "session": { "id": session.id, "skey": session.skey },
            "userInfo": *session.user,
        }))
        .into_response()
    }
}

/// A failed login. v1 keeps the magic id so the SDK can show the server's message.
fn login_error(app: &App, status: StatusCode, message: impl Into<String>) -> Response {
    let message = message.into();
    let body = if app.config.v2 {
        json!({ "code": -1, "error": "ERR_LOGIN_FAILED", "message": message })
    } else {
        json!({ MAGIC_ID: 1, "error": "ERR_LOGIN_FAILED", "message": message })
    };
    (status, Json(body)).into_response()
}

/// Why a session check failed; answers the way each server generation does.
enum Denied {
    /// v1, unknown or expired session: HTTP 200, magic id, `ERR_INVALID_SESSION`.
    Invalid,
    /// v1, missing or unreadable headers: HTTP 200, magic id, `ERR_CHECK_LOGIN_FAILED`.
    CheckFailed(String),
    /// v2, any failure: HTTP 401, `{"code":-1,"error":"ERR_SESSION_INVALID"}`.
    V2(String),
}

impl IntoResponse for Denied {
    fn into_response(self) -> Response {
        match self {
            Denied::Invalid => magic_error("ERR_INVALID_SESSION", "invalid or expired session"),
            Denied::CheckFailed(message) => magic_error("ERR_CHECK_LOGIN_FAILED", message),
            Denied::V2(message) => (
                StatusCode::UNAUTHORIZED,
                Json(json!({ "code": -1, "error": "ERR_SESSION_INVALID", "message": message })),
            )
                .into_response(),
        }
    }
}

/// The user of the request's session.
fn check_session(app: &App, headers: &HeaderMap) -> Result<Arc<UserInfo>, Denied> {
    if app.config.v2 {
        return match header_text(headers, HEADER_SKEY) {
            Ok(Some(skey)) if !skey.is_empty() => {
                app.sessions.check(None, skey).map_err(|_| Denied::V2("invalid or expired session".to_owned()))
            }
            Ok(_) => Err(Denied::V2("missing header X-WX-Skey".to_owned())),
            Err(e) => Err(Denied::V2(e)),
        };
    }
    let id = header_text(headers, HEADER_ID).map_err(Denied::CheckFailed)?;
    let skey = header_text(headers, HEADER_SKEY).map_err(Denied::CheckFailed)?;
    match (id, skey) {
        (Some(id), Some(skey)) if !id.is_empty() && !skey.is_empty() => {
            app.sessions.check(Some(id), skey).map_err(|_| Denied::Invalid)
        }
        _ => Err(Denied::CheckFailed("missing session headers X-WX-Id and X-WX-Skey".to_owned())),
    }
}

async fn user(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    match check_session(&app, &headers) {
        Ok(user) => Json(json!({ "code": 0, "message": "ok", "data": { "userInfo": *user } })).into_response(),
        Err(denied) => denied.into_response(),
    }
}

async fn echo(State(app): State<Arc<App>>, headers: HeaderMap, body: Result<Bytes, BytesRejection>) -> Response {
    let user = match check_session(&app, &headers) {
        Ok(user) => user,
        Err(denied) => return denied.into_response(),
    };
    let body = match body {
        Ok(body) => body,
        Err(e) => return error(e.status(), "ERR_INVALID_PARAMS", e.body_text()),
    };
    let echo: Value = if body.iter().all(u8::is_ascii_whitespace) {
        Value::Null
    } else {
        match serde_json::from_slice(&body) {
            Ok(v) => v,
            Err(e) => return error(StatusCode::BAD_REQUEST, "ERR_INVALID_PARAMS", format!("body is not JSON: {e}")),
        }
    };
    Json(json!({ "code": 0, "data": { "userInfo": *user, "echo": echo } })).into_response()
}

// ---------------------------------------------------------------------------------------
// Tunnel

/// The request's `Host` when it looks like a plain host[:port], else the listen address.
fn public_host(app: &App, headers: &HeaderMap) -> String {
    let ok = |h: &&str| {
        !h.is_empty() && h.len() <= 255 && h.bytes().all(|b| b.is_ascii_alphanumeric() || b".-:[]_".contains(&b))
    };
    match headers.get(header::HOST).and_then(|v| v.to_str().ok()).filter(ok) {
        Some(host) => host.to_owned(),
        None => app.addr.to_string(),
    }
}

async fn tunnel(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    let user = match check_session(&app, &headers) {
        Ok(user) => user,
        Err(denied) => return denied.into_response(),
    };
    let id = match app.tunnels.create(user) {
        Ok(id) => id,
        Err(e) => return store_error(e),
    };
    let url = format!("ws://{}/ws/{id}", public_host(&app, &headers));
    if app.config.v2 {
        Json(json!({ "code": 0, "data": { "tunnelId": id, "connectUrl": url } })).into_response()
    } else {
        Json(json!({ "url": url })).into_response()
    }
}

async fn socket(
    State(app): State<Arc<App>>,
    Path(tunnel_id): Path<String>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    if !app.tunnels.contains(&tunnel_id) {
        return error(StatusCode::NOT_FOUND, "ERR_TUNNEL_NOT_FOUND", "unknown or expired tunnel id");
    }
    let upgrade = match upgrade {
        Ok(upgrade) => upgrade,
        Err(e) => return error(e.status(), "ERR_INVALID_PARAMS", e.body_text()),
    };
    if *app.stop_rx.borrow() {
        return error(StatusCode::SERVICE_UNAVAILABLE, "ERR_SERVER", "server is shutting down");
    }
    let Ok(permit) = app.sockets.clone().try_acquire_owned() else {
        return error(StatusCode::SERVICE_UNAVAILABLE, "ERR_TOO_MANY_SOCKETS", "too many open sockets");
    };
    let Some(user) = app.tunnels.claim(&tunnel_id) else {
        return error(StatusCode::NOT_FOUND, "ERR_TUNNEL_NOT_FOUND", "unknown or expired tunnel id");
    };
    let max = app.config.max_frame;
    upgrade.max_frame_size(max).max_message_size(max).on_upgrade(move |ws| room::run_socket(app, ws, user, permit))
}

// ---------------------------------------------------------------------------------------
// Dev hooks

async fn expire_sessions(State(app): State<Arc<App>>) -> Response {
    Json(json!({ "expired": app.sessions.expire_all() })).into_response()
}

async fn drop_sockets(State(app): State<Arc<App>>) -> Response {
    let dropped = app.open_sockets();
    app.drop_tx.send_modify(|generation| *generation = generation.wrapping_add(1));
    Json(json!({ "dropped": dropped })).into_response()
}

async fn stats(State(app): State<Arc<App>>) -> Response {
    Json(json!({
        "sessions": app.sessions.count(),
        "sockets": app.open_sockets(),
        "roomMembers": app.room.len(),
        "pendingTunnels": app.tunnels.count(),
    }))
    .into_response()
}
