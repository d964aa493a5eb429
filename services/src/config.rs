//! Configuration: a TOML file (`--config FILE`), every key also a flag and an environment
//! variable `WAFER_<KEY>` (upper case, `-` → `_`). Precedence: flag, then environment,
//! then file, then the default. A list given by flag or environment replaces the file's.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use serde::Deserialize;

use crate::timing::Backoff;

/// Command line of `wafer-services` (each flag also reads `WAFER_<NAME>`).
#[derive(Parser, Debug, Default)]
#[command(name = "wafer-services", version, about = "Self-hosted Wafer tunnel and session services")]
pub struct Args {
    /// TOML configuration file (keys are the flag names without `--`).
    #[arg(long, env = "WAFER_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:5757].
    #[arg(long, env = "WAFER_LISTEN", value_name = "ADDR:PORT")]
    pub listen: Option<String>,
    /// Base of `connectUrl`, as clients reach the service (e.g. wss://tunnel.example.com)
    /// [default: ws://<listen address>].
    #[arg(long, env = "WAFER_PUBLIC_URL", value_name = "URL")]
    pub public_url: Option<String>,
    /// A registered business server and its TunnelSignatureKey (repeatable).
    #[arg(long, env = "WAFER_APP", value_name = "SERVER_HOST=KEY", value_delimiter = ',')]
    pub app: Vec<String>,
    /// Where callbacks for SERVER_HOST go instead of https://SERVER_HOST (repeatable).
    #[arg(long, env = "WAFER_CALLBACK", value_name = "SERVER_HOST=ORIGIN", value_delimiter = ',')]
    pub callback: Vec<String>,
    /// Mini-program appid (enables the session service).
    #[arg(long, env = "WAFER_WECHAT_APPID")]
    pub wechat_appid: Option<String>,
    /// Mini-program appsecret (never logged).
    #[arg(long, env = "WAFER_WECHAT_SECRET", hide_env_values = true)]
    pub wechat_secret: Option<String>,
    /// WeChat API base [default: https://api.weixin.qq.com].
    #[arg(long, env = "WAFER_WECHAT_API", value_name = "URL")]
    pub wechat_api: Option<String>,
    /// Heartbeat sent as `timeout:N`; a socket silent for two intervals is dropped
    /// (0 = none) [default: 30].
    #[arg(long, env = "WAFER_HEARTBEAT", value_name = "SECONDS")]
    pub heartbeat: Option<u64>,
    /// Directory of the embedded session store, created when missing [default: wafer-data].
    #[arg(long, env = "WAFER_DATA", value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Session store: `sqlite` (the embedded one, in --data) or `redis://[:PASSWORD@]HOST:PORT[/DB]`
    /// for a cluster [default: sqlite].
    #[arg(long, env = "WAFER_STORE", value_name = "sqlite|redis://HOST:PORT", hide_env_values = true)]
    pub store: Option<String>,
    /// With a Redis store: seconds a node's liveness lease lasts; the tunnels of a node
    /// silent that long are reported closed by another node [default: 10].
    #[arg(long, env = "WAFER_LEASE", value_name = "SECONDS")]
    pub lease: Option<u64>,
    /// Serve the tunnel service [default: true].
    #[arg(long, env = "WAFER_TUNNEL", value_name = "BOOL")]
    pub tunnel: Option<bool>,
    /// Serve the session service [default: true when --wechat-appid is set].
    #[arg(long, env = "WAFER_AUTH", value_name = "BOOL")]
    pub auth: Option<bool>,
    /// Seconds an issued tunnel id may wait for its socket [default: 60].
    #[arg(long, env = "WAFER_ID_TTL", value_name = "SECONDS")]
    pub id_ttl: Option<u64>,
    /// Seconds a login session lives [default: 2592000, 30 days].
    #[arg(long, env = "WAFER_LOGIN_DURATION", value_name = "SECONDS")]
    pub login_duration: Option<u64>,
    /// Largest HTTP request body in bytes [default: 65536].
    #[arg(long, env = "WAFER_MAX_BODY", value_name = "BYTES")]
    pub max_body: Option<usize>,
    /// Largest `/ws/push` body in bytes: a broadcast names every tunnel (~37 bytes each)
    /// [default: 8388608].
    #[arg(long, env = "WAFER_MAX_PUSH_BODY", value_name = "BYTES")]
    pub max_push_body: Option<usize>,
    /// Largest WebSocket message in bytes [default: 65536].
    #[arg(long, env = "WAFER_MAX_FRAME", value_name = "BYTES")]
    pub max_frame: Option<usize>,
    /// Frames per second a socket may send, bursts included (0 = unlimited) [default: 50].
    #[arg(long, env = "WAFER_MAX_FRAMES_PER_SEC", value_name = "N")]
    pub max_frames_per_sec: Option<u32>,
    /// Tunnels (issued or open) per business server [default: 100000].
    #[arg(long, env = "WAFER_MAX_SOCKETS_PER_APP", value_name = "N")]
    pub max_sockets_per_app: Option<usize>,
    /// Callbacks waiting per tunnel before its socket is closed [default: 256].
    #[arg(long, env = "WAFER_MAX_PENDING_CALLBACKS", value_name = "N")]
    pub max_pending_callbacks: Option<usize>,
    /// Tries of one callback before it is dropped [default: 8].
    #[arg(long, env = "WAFER_CALLBACK_ATTEMPTS", value_name = "N")]
    pub callback_attempts: Option<u32>,
    /// First retry delay of a callback in milliseconds, doubled each try [default: 500].
    #[arg(long, env = "WAFER_CALLBACK_BACKOFF_MS", value_name = "MS")]
    pub callback_backoff_ms: Option<u64>,
    /// Longest retry delay in milliseconds [default: 30000].
    #[arg(long, env = "WAFER_CALLBACK_MAX_BACKOFF_MS", value_name = "MS")]
    pub callback_max_backoff_ms: Option<u64>,
    /// Timeout of one callback or WeChat request in milliseconds [default: 10000].
    #[arg(long, env = "WAFER_HTTP_TIMEOUT_MS", value_name = "MS")]
    pub http_timeout_ms: Option<u64>,
    /// Seconds a shutdown waits for close callbacks [default: 10].
    #[arg(long, env = "WAFER_SHUTDOWN_GRACE", value_name = "SECONDS")]
    pub shutdown_grace: Option<u64>,
    /// Seconds a resumable tunnel waits for its client after losing its socket
    /// (docs/RESUME.md; 0 = the resume extension off) [default: 30].
    #[arg(long, env = "WAFER_RESUME_GRACE", value_name = "SECONDS")]
    pub resume_grace: Option<u64>,
    /// Messages kept per resumable tunnel until the client acknowledges them [default: 1024].
    #[arg(long, env = "WAFER_RESUME_MAX_UNACKED", value_name = "N")]
    pub resume_max_unacked: Option<usize>,
    /// Log filter (tracing's EnvFilter syntax, e.g. `info` or `wafer_services=debug`)
    /// [default: info].
    #[arg(long, env = "WAFER_LOG", value_name = "FILTER")]
    pub log: Option<String>,
}

/// The TOML file: the same keys as the flags.
#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct FileConfig {
    listen: Option<String>,
    public_url: Option<String>,
    app: Option<Vec<String>>,
    callback: Option<Vec<String>>,
    wechat_appid: Option<String>,
    wechat_secret: Option<String>,
    wechat_api: Option<String>,
    heartbeat: Option<u64>,
    data: Option<PathBuf>,
    store: Option<String>,
    lease: Option<u64>,
    tunnel: Option<bool>,
    auth: Option<bool>,
    id_ttl: Option<u64>,
    login_duration: Option<u64>,
    max_body: Option<usize>,
    max_push_body: Option<usize>,
    max_frame: Option<usize>,
    max_frames_per_sec: Option<u32>,
    max_sockets_per_app: Option<usize>,
    max_pending_callbacks: Option<usize>,
    callback_attempts: Option<u32>,
    callback_backoff_ms: Option<u64>,
    callback_max_backoff_ms: Option<u64>,
    http_timeout_ms: Option<u64>,
    shutdown_grace: Option<u64>,
    resume_grace: Option<u64>,
    resume_max_unacked: Option<usize>,
    log: Option<String>,
}

/// A registered business server.
#[derive(Clone, Debug)]
pub struct AppConfig {
    /// Its `ServerHost` (what its `tcId` is the md5 of).
    pub server_host: String,
    /// Its `TunnelSignatureKey`.
    pub key: String,
    /// Origin its callbacks go to (`https://<server_host>` unless configured).
    pub callback_origin: String,
}

/// WeChat credentials of the session service.
#[derive(Clone, Debug)]
pub struct WechatConfig {
    /// Mini-program appid (also the expected `watermark.appid`).
    pub appid: String,
    /// Appsecret (never logged).
    pub secret: String,
    /// API base, `https://api.weixin.qq.com` in production.
    pub api: String,
}

/// Limits that protect the service.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Largest HTTP request body (but `/ws/push`).
    pub max_body: usize,
    /// Largest `/ws/push` body (a broadcast to many tunnels).
    pub max_push_body: usize,
    /// Largest WebSocket message.
    pub max_frame: usize,
    /// Frames per second per socket (0 = unlimited).
    pub frames_per_sec: u32,
    /// Tunnels (issued or open) per business server.
    pub sockets_per_app: usize,
    /// Pending callbacks per tunnel.
    pub pending_callbacks: usize,
}

/// Resolved configuration of a running service.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Listen address.
    pub listen: SocketAddr,
    /// Base of `connectUrl` (`None`: `ws://` + the bound address).
    pub public_url: Option<String>,
    /// Registered business servers, by `tcId`.
    pub apps: HashMap<String, AppConfig>,
    /// Session service credentials (`None`: session service off).
    pub wechat: Option<WechatConfig>,
    /// Redis URL of the shared store (`None`: the embedded store). May hold a password:
    /// never logged.
    pub redis: Option<String>,
    /// A cluster node's liveness lease (with a Redis store).
    pub lease: Duration,
    /// Whether the tunnel service is served.
    pub tunnel: bool,
    /// `timeout:N` heartbeat in seconds (0 = none).
    pub heartbeat: u64,
    /// Directory of the embedded store (`None`: sessions in memory only).
    pub data: Option<PathBuf>,
    /// Life of an issued, unconnected tunnel id.
    pub id_ttl: Duration,
    /// Life of a login session.
    pub login_duration: Duration,
    /// Protection limits.
    pub limits: Limits,
    /// Callback retry policy.
    pub backoff: Backoff,
    /// Timeout of one outgoing HTTP request.
    pub http_timeout: Duration,
    /// How long a shutdown waits for close callbacks.
    pub shutdown_grace: Duration,
    /// Grace period of a resumable tunnel after a loss, in seconds (0 = extension off).
    pub resume_grace: u64,
    /// Messages kept per resumable tunnel until acknowledged.
    pub resume_max_unacked: usize,
    /// Log filter.
    pub log: String,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            listen: SocketAddr::from(([127, 0, 0, 1], 5757)),
            public_url: None,
            apps: HashMap::new(),
            wechat: None,
            tunnel: true,
            heartbeat: 30,
            data: None,
            redis: None,
            lease: Duration::from_secs(10),
            id_ttl: Duration::from_secs(60),
            login_duration: Duration::from_secs(30 * 86_400),
            limits: Limits {
                max_body: 64 * 1024,
                max_push_body: 8 * 1024 * 1024,
                max_frame: 64 * 1024,
                frames_per_sec: 50,
                sockets_per_app: 100_000,
                pending_callbacks: 256,
            },
            backoff: Backoff::default(),
            http_timeout: Duration::from_secs(10),
            shutdown_grace: Duration::from_secs(10),
            resume_grace: 30,
            resume_max_unacked: 1024,
            log: "info".into(),
        }
    }
}

impl Settings {
    /// Registers a business server (`server_host`, `key`), callbacks to `https://server_host`.
    pub fn add_app(&mut self, server_host: &str, key: &str) {
        let app = AppConfig {
            server_host: server_host.to_owned(),
            key: key.to_owned(),
            callback_origin: format!("https://{server_host}"),
        };
        self.apps.insert(crate::sign::tc_id(server_host), app);
    }

    /// Sends callbacks for `server_host` to `origin` (an `http(s)://host[:port]` origin).
    pub fn set_callback(&mut self, server_host: &str, origin: &str) -> Result<(), String> {
        let origin = check_origin(origin)?;
        match self.apps.get_mut(&crate::sign::tc_id(server_host)) {
            Some(app) => {
                app.callback_origin = origin;
                Ok(())
            }
            None => Err(format!("--callback {server_host}=…: {server_host} is not registered with --app")),
        }
    }

    /// Resolves flags (with their environment variables) over the `--config` file.
    pub fn from_args(args: Args) -> Result<Settings, String> {
        let file = match &args.config {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| format!("--config {}: {e}", path.display()))?;
                toml::from_str::<FileConfig>(&text).map_err(|e| format!("--config {}: {e}", path.display()))?
            }
            None => FileConfig::default(),
        };
        let mut s = Settings::default();
        if let Some(l) = args.listen.or(file.listen) {
            s.listen = l.trim().parse().map_err(|_| format!("--listen: not an ADDR:PORT: {l}"))?;
        }
        s.public_url = args.public_url.or(file.public_url).map(|u| u.trim_end_matches('/').to_owned());
        if let Some(u) = &s.public_url {
            if !(u.starts_with("ws://") || u.starts_with("wss://")) || reqwest::Url::parse(u).is_err() {
                return Err(format!("--public-url: not a ws:// or wss:// URL: {u}"));
            }
        }
        let apps = if args.app.is_empty() { file.app.unwrap_or_default() } else { args.app };
        for entry in &apps {
            let (host, key) = entry
                .split_once('=')
                .ok_or_else(|| format!("--app: expected SERVER_HOST=KEY, got {:?}", redact(entry)))?;
            let host = host.trim();
            if host.is_empty() || host.contains('/') || key.is_empty() {
                return Err(format!("--app: expected SERVER_HOST=KEY, got {:?}", redact(entry)));
            }
            s.add_app(host, key);
        }
        let callbacks = if args.callback.is_empty() { file.callback.unwrap_or_default() } else { args.callback };
        for entry in &callbacks {
            let (host, origin) = entry
                .split_once('=')
                .ok_or_else(|| format!("--callback: expected SERVER_HOST=ORIGIN, got {entry:?}"))?;
            s.set_callback(host.trim(), origin.trim()).map_err(|e| format!("--callback: {e}"))?;
        }
        let appid = args.wechat_appid.or(file.wechat_appid).filter(|a| !a.is_empty());
        let secret = args.wechat_secret.or(file.wechat_secret).filter(|a| !a.is_empty());
        let api = args.wechat_api.or(file.wechat_api).unwrap_or_else(|| "https://api.weixin.qq.com".into());
        let api = api.trim_end_matches('/').to_owned();
        if !(api.starts_with("http://") || api.starts_with("https://")) || reqwest::Url::parse(&api).is_err() {
            return Err(format!("--wechat-api: not an http(s) URL: {api}"));
        }
        let auth = args.auth.or(file.auth).unwrap_or(appid.is_some());
        if auth {
            match (appid, secret) {
                (Some(appid), Some(secret)) => s.wechat = Some(WechatConfig { appid, secret, api }),
                _ => {
                    return Err("the session service needs --wechat-appid and --wechat-secret (or --auth false)".into())
                }
            }
        }
        s.tunnel = args.tunnel.or(file.tunnel).unwrap_or(true);
        if s.tunnel && s.apps.is_empty() {
            return Err("the tunnel service needs at least one --app SERVER_HOST=KEY (or --tunnel false)".into());
        }
        if !s.tunnel && s.wechat.is_none() {
            return Err("nothing to serve: both --tunnel and --auth are off".into());
        }
        if let Some(h) = args.heartbeat.or(file.heartbeat) {
            if h > 3600 {
                return Err(format!("--heartbeat: at most 3600 seconds, got {h}"));
            }
            s.heartbeat = h;
        }
        s.data = Some(args.data.or(file.data).unwrap_or_else(|| PathBuf::from("wafer-data")));
        match args.store.or(file.store).as_deref().map(str::trim) {
            None | Some("") | Some("sqlite") => {}
            Some(url) if url.starts_with("redis://") => {
                crate::redis_store::check_url(url).map_err(|e| format!("--store: {e}"))?;
                s.redis = Some(url.to_owned());
            }
            // The value may be a mistyped URL with a password: not repeated.
            Some(_) => return Err("--store: expected sqlite or redis://HOST:PORT".into()),
        }
        // Bounded so that deadlines computed from them cannot overflow.
        let secs = |v: Option<u64>, name: &str, max: u64, d: Duration| -> Result<Duration, String> {
            match v {
                Some(0) => Err(format!("--{name}: must be positive")),
                Some(n) if n > max => Err(format!("--{name}: at most {max} seconds, got {n}")),
                Some(n) => Ok(Duration::from_secs(n)),
                None => Ok(d),
            }
        };
        const DAY: u64 = 86_400;
        s.id_ttl = secs(args.id_ttl.or(file.id_ttl), "id-ttl", DAY, s.id_ttl)?;
        s.lease = secs(args.lease.or(file.lease), "lease", 3600, s.lease)?;
        s.login_duration =
            secs(args.login_duration.or(file.login_duration), "login-duration", 3650 * DAY, s.login_duration)?;
        s.shutdown_grace = match args.shutdown_grace.or(file.shutdown_grace) {
            Some(0) => Duration::ZERO,
            v => secs(v, "shutdown-grace", 3600, s.shutdown_grace)?,
        };
        let millis = |v: Option<u64>, name: &str, d: Duration| -> Result<Duration, String> {
            match v {
                Some(n) if n > 3_600_000 => Err(format!("--{name}: at most 3600000 ms, got {n}")),
                Some(n) => Ok(Duration::from_millis(n)),
                None => Ok(d),
            }
        };
        let positive = |v: Option<usize>, name: &str, d: usize| -> Result<usize, String> {
            match v {
                Some(0) => Err(format!("--{name}: must be positive")),
                Some(n) => Ok(n),
                None => Ok(d),
            }
        };
        let l = &mut s.limits;
        l.max_body = positive(args.max_body.or(file.max_body), "max-body", l.max_body)?;
        l.max_push_body = positive(args.max_push_body.or(file.max_push_body), "max-push-body", l.max_push_body)?;
        l.max_frame = positive(args.max_frame.or(file.max_frame), "max-frame", l.max_frame)?;
        l.frames_per_sec = args.max_frames_per_sec.or(file.max_frames_per_sec).unwrap_or(l.frames_per_sec);
        l.sockets_per_app =
            positive(args.max_sockets_per_app.or(file.max_sockets_per_app), "max-sockets-per-app", l.sockets_per_app)?;
        l.pending_callbacks = positive(
            args.max_pending_callbacks.or(file.max_pending_callbacks),
            "max-pending-callbacks",
            l.pending_callbacks,
        )?;
        let b = &mut s.backoff;
        b.attempts = args.callback_attempts.or(file.callback_attempts).unwrap_or(b.attempts).max(1);
        b.base = millis(args.callback_backoff_ms.or(file.callback_backoff_ms), "callback-backoff-ms", b.base)?;
        b.max =
            millis(args.callback_max_backoff_ms.or(file.callback_max_backoff_ms), "callback-max-backoff-ms", b.max)?;
        if args.http_timeout_ms.or(file.http_timeout_ms) == Some(0) {
            return Err("--http-timeout-ms: must be positive".into());
        }
        s.http_timeout = millis(args.http_timeout_ms.or(file.http_timeout_ms), "http-timeout-ms", s.http_timeout)?;
        if let Some(g) = args.resume_grace.or(file.resume_grace) {
            if g > 3600 {
                return Err(format!("--resume-grace: at most 3600 seconds, got {g}"));
            }
            s.resume_grace = g;
        }
        s.resume_max_unacked = match args.resume_max_unacked.or(file.resume_max_unacked) {
            Some(n) if n > 1_000_000 => return Err(format!("--resume-max-unacked: at most 1000000, got {n}")),
            v => positive(v, "resume-max-unacked", s.resume_max_unacked)?,
        };
        if let Some(log) = args.log.or(file.log) {
            s.log = log;
        }
        Ok(s)
    }
}

/// `host=…` with the key hidden, for error messages.
fn redact(entry: &str) -> String {
    match entry.split_once('=') {
        Some((h, _)) => format!("{h}=<hidden>"),
        None => entry.to_owned(),
    }
}

/// Checks an `http(s)://host[:port]` origin (no path) and returns it without a trailing `/`.
fn check_origin(origin: &str) -> Result<String, String> {
    let o = origin.trim_end_matches('/');
    let url = reqwest::Url::parse(o).map_err(|_| format!("not an origin: {origin}"))?;
    let ok = matches!(url.scheme(), "http" | "https")
        && url.host_str().is_some()
        && url.path() == "/"
        && url.query().is_none()
        && url.username().is_empty();
    if ok {
        Ok(o.to_owned())
    } else {
        Err(format!("not an http(s)://host[:port] origin: {origin}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Settings, String> {
        let args = Args::try_parse_from(std::iter::once("wafer-services").chain(args.iter().copied()))
            .map_err(|e| e.to_string())?;
        Settings::from_args(args)
    }

    #[test]
    fn flags_build_settings() {
        let s = parse(&[
            "--listen",
            "127.0.0.1:0",
            "--app",
            "app.example.com=k1",
            "--app",
            "127.0.0.1=k2",
            "--callback",
            "127.0.0.1=http://127.0.0.1:8080/",
            "--heartbeat",
            "5",
            "--auth",
            "false",
        ])
        .unwrap();
        assert_eq!(s.apps.len(), 2);
        let local = &s.apps[&crate::sign::tc_id("127.0.0.1")];
        assert_eq!(local.callback_origin, "http://127.0.0.1:8080");
        assert_eq!(s.apps[&crate::sign::tc_id("app.example.com")].callback_origin, "https://app.example.com");
        assert_eq!(s.heartbeat, 5);
        assert!(s.wechat.is_none() && s.tunnel);
        assert_eq!((s.resume_grace, s.resume_max_unacked), (30, 1024));
        let s = parse(&["--app", "h=k", "--resume-grace", "0", "--resume-max-unacked", "8"]).unwrap();
        assert_eq!((s.resume_grace, s.resume_max_unacked), (0, 8));
    }

    #[test]
    fn file_then_flags_win() {
        let dir = std::env::temp_dir().join(format!("wafer-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("c.toml");
        std::fs::write(
            &path,
            "listen = \"127.0.0.1:9\"\napp = [\"a.example=k\"]\nheartbeat = 7\nwechat-appid = \"wx1\"\nwechat-secret = \"s\"\nmax-frame = 100\nresume-grace = 12\n",
        )
        .unwrap();
        let p = path.to_str().unwrap();
        let s = parse(&["--config", p, "--heartbeat", "9"]).unwrap();
        assert_eq!(s.listen.port(), 9);
        assert_eq!(s.heartbeat, 9);
        assert_eq!(s.limits.max_frame, 100);
        assert_eq!(s.resume_grace, 12);
        assert_eq!(s.wechat.as_ref().unwrap().appid, "wx1");
        std::fs::write(&path, "lisen = \"x\"\n").unwrap();
        assert!(parse(&["--config", p]).unwrap_err().contains("unknown field"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn bad_configurations_are_explained() {
        assert!(parse(&[]).unwrap_err().contains("--app"));
        assert!(parse(&["--app", "nokey"]).unwrap_err().contains("SERVER_HOST=KEY"));
        let e = parse(&["--app", "h=secretkey", "--listen", "nowhere"]).unwrap_err();
        assert!(e.contains("--listen"));
        let e = parse(&["--app", "h"]).unwrap_err();
        assert!(!e.contains("secretkey"));
        assert!(parse(&["--app", "h=k", "--callback", "other=http://x"]).unwrap_err().contains("not registered"));
        assert!(parse(&["--app", "h=k", "--callback", "h=http://x/path"]).unwrap_err().contains("origin"));
        assert!(parse(&["--app", "h=k", "--auth", "true"]).unwrap_err().contains("--wechat-appid"));
        assert!(parse(&["--app", "h=k", "--public-url", "http://x"]).unwrap_err().contains("--public-url"));
        assert!(parse(&["--app", "h=k", "--id-ttl", "0"]).unwrap_err().contains("positive"));
        assert!(parse(&["--app", "h=k", "--lease", "0"]).unwrap_err().contains("positive"));
        assert!(parse(&["--tunnel", "false"]).unwrap_err().contains("nothing to serve"));
        // Values that would overflow a deadline are refused, not a panic later.
        assert!(parse(&["--app", "h=k", "--id-ttl", "18446744073709551615"]).unwrap_err().contains("at most"));
        assert!(parse(&["--app", "h=k", "--callback-max-backoff-ms", "18446744073709551615"])
            .unwrap_err()
            .contains("at most"));
        assert!(parse(&["--app", "h=k", "--shutdown-grace", "99999999"]).unwrap_err().contains("at most"));
        assert!(parse(&["--app", "h=k", "--resume-grace", "99999999"]).unwrap_err().contains("at most"));
        assert!(parse(&["--app", "h=k", "--resume-max-unacked", "0"]).unwrap_err().contains("positive"));
        assert!(parse(&["--app", "h=k", "--login-duration", "99999999999"]).unwrap_err().contains("at most"));
        let e = parse(&["--app", "h=k", "--store", "redis//:hunter2@h:1"]).unwrap_err();
        assert!(e.contains("--store") && !e.contains("hunter2"), "{e}");
        let e = parse(&["--app", "h=k", "--store", "redis://:hunter2@h:notaport"]).unwrap_err();
        assert!(e.contains("--store") && !e.contains("hunter2"), "{e}");
    }

    #[test]
    fn store_is_sqlite_or_redis() {
        assert!(parse(&["--app", "h=k"]).unwrap().redis.is_none());
        assert!(parse(&["--app", "h=k", "--store", "sqlite"]).unwrap().redis.is_none());
        let s = parse(&["--app", "h=k", "--store", "redis://127.0.0.1:6379"]).unwrap();
        assert_eq!(s.redis.as_deref(), Some("redis://127.0.0.1:6379"));
        assert_eq!(s.lease, Duration::from_secs(10));
        // A cluster node's own socket path behind a shared proxy (README "A cluster").
        let s = parse(&["--app", "h=k", "--public-url", "wss://t.example.com/n1/", "--lease", "3"]).unwrap();
        assert_eq!(s.public_url.as_deref(), Some("wss://t.example.com/n1"));
        assert_eq!(s.lease, Duration::from_secs(3));
    }
}
