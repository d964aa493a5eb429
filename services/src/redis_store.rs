//! Sessions in Redis (`store = "redis://HOST:PORT"`), so that every node of a cluster checks
//! every session. The `redis` crate's tokio [`ConnectionManager`] keeps one multiplexed
//! connection and reconnects it with backoff; every call is bounded by a timeout, so an
//! unreachable Redis fails a call quickly instead of hanging it.
//!
//! Layout (a standalone Redis; the login script names a key it computes, which Redis
//! Cluster would refuse):
//! - `wafer:session:<id>`: a hash `open_id`, `skey`, `user_info`, `expires_at`;
//! - `wafer:openid:<open_id>`: the session id of that openId.
//!
//! Both keys expire [`EXPIRED_KEPT`](crate::store::EXPIRED_KEPT) seconds after the session,
//! so that a recently expired session still answers "expired" (60011) like the embedded
//! store's does until its hourly purge; Redis removes them itself, so `purge` does nothing.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{AsyncCommands, Script};

use crate::store::{Session, SessionStore, StoreError, EXPIRED_KEPT};

/// Key prefix of everything this service keeps in Redis.
pub const PREFIX: &str = "wafer:";

/// Timeouts of the Redis connection.
#[derive(Clone, Copy, Debug)]
pub struct RedisTimeouts {
    /// One connection attempt.
    pub connect: Duration,
    /// One command's answer.
    pub response: Duration,
    /// A whole store call, reconnection attempts included (the bound a caller waits).
    pub call: Duration,
}

impl Default for RedisTimeouts {
    fn default() -> Self {
        RedisTimeouts {
            connect: Duration::from_secs(1),
            response: Duration::from_secs(2),
            call: Duration::from_secs(3),
        }
    }
}

/// A connection to Redis shared by the session store and the health checks.
#[derive(Clone)]
pub struct Redis {
    client: redis::Client,
    conn: ConnectionManager,
    rt: tokio::runtime::Handle,
    timeouts: RedisTimeouts,
    up: Arc<AtomicBool>,
}

/// The error text of a Redis URL that does not parse, without the URL (it may hold a
/// password).
fn bad_url(e: &redis::RedisError) -> String {
    format!("not a usable redis:// URL ({:?})", e.kind())
}

/// Checks a `redis://` URL without connecting; the error never repeats the URL.
pub fn check_url(url: &str) -> Result<(), String> {
    if !url.starts_with("redis://") {
        return Err("expected a redis://HOST:PORT URL".into());
    }
    redis::Client::open(url).map(|_| ()).map_err(|e| bad_url(&e))
}

impl Redis {
    /// Prepares a connection to `url` on the current tokio runtime. It connects lazily:
    /// a node may start before Redis does; [`Redis::is_up`] tells whether the last call
    /// reached it.
    pub fn open(url: &str, timeouts: RedisTimeouts) -> Result<Redis, StoreError> {
        let client = redis::Client::open(url).map_err(|e| StoreError(bad_url(&e)))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeouts.connect))
            .set_response_timeout(Some(timeouts.response))
            .set_number_of_retries(2)
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(Duration::from_millis(500));
        let conn =
            ConnectionManager::new_lazy_with_config(client.clone(), config).map_err(|e| StoreError(e.to_string()))?;
        let rt = tokio::runtime::Handle::try_current().map_err(|_| StoreError("no tokio runtime".into()))?;
        Ok(Redis { client, conn, rt, timeouts, up: Arc::new(AtomicBool::new(false)) })
    }

    /// A new subscriber connection (pub/sub needs its own), bounded by the connect timeout.
    pub async fn pubsub(&self) -> Result<redis::aio::PubSub, StoreError> {
        match tokio::time::timeout(self.timeouts.connect, self.client.get_async_pubsub()).await {
            Ok(Ok(p)) => Ok(p),
            Ok(Err(e)) => Err(StoreError(format!("redis: {}", describe(&e)))),
            Err(_) => Err(StoreError("redis: no connection within the timeout".into())),
        }
    }

    /// The timeouts in force.
    pub fn timeouts(&self) -> RedisTimeouts {
        self.timeouts
    }

    /// Whether the last call reached Redis.
    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Relaxed)
    }

    /// Runs `f` on a clone of the connection, bounded by the call timeout; records whether
    /// Redis answered.
    pub async fn call<T, F, Fut>(&self, f: F) -> Result<T, StoreError>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: std::future::Future<Output = redis::RedisResult<T>>,
    {
        // `reached`: whether Redis served the call; `None` for an error of Redis's own
        // (bad data, or refused credentials: the next `PING` decides).
        let (result, reached) = match tokio::time::timeout(self.timeouts.call, f(self.conn.clone())).await {
            Ok(Ok(v)) => (Ok(v), Some(true)),
            Ok(Err(e)) => {
                (Err(StoreError(format!("redis: {}", describe(&e)))), is_connection_error(&e).then_some(false))
            }
            Err(_) => {
                (Err(StoreError(format!("redis: no answer within {} ms", self.timeouts.call.as_millis()))), Some(false))
            }
        };
        if let Some(reached) = reached {
            self.set_up(reached, &result);
        }
        result
    }

    fn set_up<T>(&self, reached: bool, result: &Result<T, StoreError>) {
        if self.up.swap(reached, Ordering::Relaxed) != reached {
            if reached {
                tracing::info!("redis: reachable");
            } else if let Err(e) = result {
                tracing::warn!(error = %e, "redis: unreachable");
            }
        }
    }

    /// `PING`, bounded: `Ok` when Redis answers it. Any failure (unreachable, credentials
    /// refused, loading) marks Redis down until a call succeeds.
    pub async fn ping(&self) -> Result<(), StoreError> {
        let r =
            self.call(|mut c| async move { redis::cmd("PING").query_async::<String>(&mut c).await.map(|_| ()) }).await;
        self.set_up(r.is_ok(), &r);
        r
    }

    /// Runs an async call from blocking code (a `spawn_blocking` thread or a thread outside
    /// the runtime); never from a runtime worker.
    fn block_on<T>(&self, fut: impl std::future::Future<Output = T>) -> T {
        self.rt.block_on(fut)
    }
}

/// Whether Redis could not be reached at all.
fn is_connection_error(e: &redis::RedisError) -> bool {
    e.is_io_error() || e.is_connection_dropped() || e.is_connection_refusal() || e.is_timeout()
}

/// A Redis error's kind and detail, never the command's arguments.
fn describe(e: &redis::RedisError) -> String {
    if is_connection_error(e) {
        format!("connection failed ({:?})", e.kind())
    } else {
        format!("{:?}", e.kind())
    }
}

/// Sessions in Redis with their TTL (see the module documentation).
pub struct RedisStore {
    redis: Redis,
    login: Script,
}

/// KEYS[1] the openId key; ARGV: session key prefix, new id, open_id, skey, user_info,
/// expires_at, keep_until. Keeps the openId's session id when it has one.
const LOGIN: &str = r"
local id = redis.call('GET', KEYS[1])
if not id then id = ARGV[2] end
local key = ARGV[1] .. id
redis.call('HSET', key, 'open_id', ARGV[3], 'skey', ARGV[4], 'user_info', ARGV[5], 'expires_at', ARGV[6])
redis.call('EXPIREAT', key, ARGV[7])
redis.call('SET', KEYS[1], id)
redis.call('EXPIREAT', KEYS[1], ARGV[7])
return id
";

impl RedisStore {
    /// A session store on `redis`.
    pub fn new(redis: Redis) -> RedisStore {
        RedisStore { redis, login: Script::new(LOGIN) }
    }

    /// The connection (for health checks).
    pub fn redis(&self) -> &Redis {
        &self.redis
    }
}

fn session_key(id: &str) -> String {
    format!("{PREFIX}session:{id}")
}

impl SessionStore for RedisStore {
    fn login(
        &self,
        open_id: &str,
        new_id: &str,
        skey: &str,
        user_info: &str,
        expires_at: u64,
    ) -> Result<String, StoreError> {
        // Redis refuses expiry times whose milliseconds overflow; 2^50 s is far enough.
        let keep_until = expires_at.saturating_add(EXPIRED_KEPT).min(1 << 50);
        let mut inv = self.login.key(format!("{PREFIX}openid:{open_id}"));
        inv.arg(session_key("")).arg(new_id).arg(open_id).arg(skey).arg(user_info).arg(expires_at).arg(keep_until);
        self.redis.block_on(self.redis.call(|mut c| async move { inv.invoke_async::<String>(&mut c).await }))
    }

    fn find(&self, id: &str) -> Result<Option<Session>, StoreError> {
        let key = session_key(id);
        let fields: std::collections::HashMap<String, String> =
            self.redis.block_on(self.redis.call(|mut c| async move { c.hgetall(key).await }))?;
        if fields.is_empty() {
            return Ok(None);
        }
        let field =
            |name: &str| fields.get(name).cloned().ok_or_else(|| StoreError(format!("redis: session without {name}")));
        let expires_at = field("expires_at")?
            .parse::<u64>()
            .map_err(|_| StoreError("redis: session with a bad expires_at".into()))?;
        Ok(Some(Session {
            id: id.to_owned(),
            open_id: field("open_id")?,
            skey: field("skey")?,
            user_info: field("user_info")?,
            expires_at,
        }))
    }

    fn purge(&self, _now: u64) -> Result<usize, StoreError> {
        // Keys carry their expiry; Redis removes them.
        Ok(0)
    }

    fn available(&self) -> Option<bool> {
        Some(self.redis.is_up())
    }

    fn check(&self) -> Result<(), StoreError> {
        self.redis.block_on(self.redis.ping())
    }
}
