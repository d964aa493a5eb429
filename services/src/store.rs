//! Session storage: a trait with an embedded SQLite implementation (the default: one file,
//! nothing to install, sessions survive restarts) and an in-memory one; the Redis store of a
//! cluster is [`crate::redis_store::RedisStore`]. [`behaviour`] holds the tests every store
//! must pass.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

use rusqlite::{params, Connection, OptionalExtension};

/// Seconds an expired session stays findable (so that a check answers "expired", 60011,
/// rather than "invalid"): the embedded store purges hourly, Redis keys expire this long
/// after their session.
pub const EXPIRED_KEPT: u64 = 3600;

/// A stored login session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    /// Session id (stable per openId).
    pub id: String,
    /// WeChat openId.
    pub open_id: String,
    /// Current skey (replaced at each login).
    pub skey: String,
    /// JSON text of the decrypted user info.
    pub user_info: String,
    /// Unix time (seconds) when the session stops being valid.
    pub expires_at: u64,
}

/// A storage failure (already logged-safe: no secrets in it).
#[derive(Debug)]
pub struct StoreError(pub String);

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "session store: {}", self.0)
    }
}

impl std::error::Error for StoreError {}

/// Where sessions live. Calls are short and blocking; async callers wrap them in
/// `spawn_blocking`.
pub trait SessionStore: Send + Sync + 'static {
    /// Records a login of `open_id`: keeps its session id when it has one (else stores
    /// `new_id`), sets `skey`, `user_info` and `expires_at`. Returns the session id.
    fn login(
        &self,
        open_id: &str,
        new_id: &str,
        skey: &str,
        user_info: &str,
        expires_at: u64,
    ) -> Result<String, StoreError>;
    /// The session with this id.
    fn find(&self, id: &str) -> Result<Option<Session>, StoreError>;
    /// Removes sessions expired before `now` (Unix seconds); returns how many (a store
    /// whose entries expire by themselves returns 0).
    fn purge(&self, now: u64) -> Result<usize, StoreError>;
    /// Whether the store's server was reachable at the last call (`None`: an embedded
    /// store, always there).
    fn available(&self) -> Option<bool> {
        None
    }
    /// Checks that the store answers (a `PING` for a server; nothing for an embedded one).
    fn check(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

/// Sessions in an SQLite file (`rusqlite`, SQLite bundled and statically linked).
pub struct SqliteStore {
    conn: Mutex<Connection>,
}

fn db(e: rusqlite::Error) -> StoreError {
    StoreError(e.to_string())
}

impl SqliteStore {
    /// Opens (creating when missing) `dir/sessions.sqlite3`; `dir` is created too.
    pub fn open(dir: &Path) -> Result<SqliteStore, StoreError> {
        std::fs::create_dir_all(dir).map_err(|e| StoreError(format!("{}: {e}", dir.display())))?;
        let conn = Connection::open(dir.join("sessions.sqlite3")).map_err(db)?;
        Self::init(conn)
    }

    /// A store in memory (tests).
    pub fn in_memory() -> Result<SqliteStore, StoreError> {
        Self::init(Connection::open_in_memory().map_err(db)?)
    }

    fn init(conn: Connection) -> Result<SqliteStore, StoreError> {
        conn.execute_batch(
            "PRAGMA journal_mode = WAL;
             PRAGMA synchronous = NORMAL;
             CREATE TABLE IF NOT EXISTS sessions (
                 id TEXT PRIMARY KEY,
                 open_id TEXT NOT NULL UNIQUE,
                 skey TEXT NOT NULL,
                 user_info TEXT NOT NULL,
                 expires_at INTEGER NOT NULL
             );
             CREATE INDEX IF NOT EXISTS sessions_expiry ON sessions (expires_at);",
        )
        .map_err(db)?;
        Ok(SqliteStore { conn: Mutex::new(conn) })
    }

    fn conn(&self) -> Result<std::sync::MutexGuard<'_, Connection>, StoreError> {
        self.conn.lock().map_err(|_| StoreError("poisoned lock".into()))
    }
}

impl SessionStore for SqliteStore {
    fn login(
        &self,
        open_id: &str,
        new_id: &str,
        skey: &str,
        user_info: &str,
        expires_at: u64,
    ) -> Result<String, StoreError> {
        let conn = self.conn()?;
        conn.query_row(
            "INSERT INTO sessions (id, open_id, skey, user_info, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (open_id) DO UPDATE SET skey = excluded.skey, user_info = excluded.user_info,
                 expires_at = excluded.expires_at
             RETURNING id",
            params![new_id, open_id, skey, user_info, expires_at as i64],
            |row| row.get(0),
        )
        .map_err(db)
    }

    fn find(&self, id: &str) -> Result<Option<Session>, StoreError> {
        let conn = self.conn()?;
        conn.query_row(
            "SELECT id, open_id, skey, user_info, expires_at FROM sessions WHERE id = ?1",
            params![id],
            |row| {
                Ok(Session {
                    id: row.get(0)?,
                    open_id: row.get(1)?,
                    skey: row.get(2)?,
                    user_info: row.get(3)?,
                    expires_at: row.get::<_, i64>(4)?.max(0) as u64,
                })
            },
        )
        .optional()
        .map_err(db)
    }

    fn purge(&self, now: u64) -> Result<usize, StoreError> {
        let conn = self.conn()?;
        conn.execute("DELETE FROM sessions WHERE expires_at < ?1", params![now as i64]).map_err(db)
    }
}

/// Sessions in a process-local map (lost at exit).
#[derive(Default)]
pub struct MemoryStore {
    inner: Mutex<(HashMap<String, Session>, HashMap<String, String>)>,
}

impl SessionStore for MemoryStore {
    fn login(
        &self,
        open_id: &str,
        new_id: &str,
        skey: &str,
        user_info: &str,
        expires_at: u64,
    ) -> Result<String, StoreError> {
        let mut g = self.inner.lock().map_err(|_| StoreError("poisoned lock".into()))?;
        let (by_id, by_open_id) = &mut *g;
        let id = by_open_id.entry(open_id.to_owned()).or_insert_with(|| new_id.to_owned()).clone();
        by_id.insert(
            id.clone(),
            Session {
                id: id.clone(),
                open_id: open_id.to_owned(),
                skey: skey.to_owned(),
                user_info: user_info.to_owned(),
                expires_at,
            },
        );
        Ok(id)
    }

    fn find(&self, id: &str) -> Result<Option<Session>, StoreError> {
        let g = self.inner.lock().map_err(|_| StoreError("poisoned lock".into()))?;
        Ok(g.0.get(id).cloned())
    }

    fn purge(&self, now: u64) -> Result<usize, StoreError> {
        let mut g = self.inner.lock().map_err(|_| StoreError("poisoned lock".into()))?;
        let (by_id, by_open_id) = &mut *g;
        let before = by_id.len();
        by_id.retain(|_, s| s.expires_at >= now);
        by_open_id.retain(|_, id| by_id.contains_key(id));
        Ok(before - by_id.len())
    }
}

/// Behaviour every [`SessionStore`] must show (run against each implementation). Times
/// are relative to the real clock (a Redis store expires keys by it). A store may hold
/// other tests' sessions: each test uses its own openIds and ids.
///
/// Test assertions only: every function here panics on a failed expectation by design
/// (`unwrap`, `assert!`), and only tests call them (this crate's unit tests and
/// `services/tests/redis.rs`, which cannot reach a `#[cfg(test)]` module); no service code
/// path does.
#[doc(hidden)]
pub mod behaviour {
    use super::*;

    fn now() -> u64 {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
    }

    /// One session per openId: a new login keeps the id and replaces skey and user info.
    pub fn one_session_per_open_id(store: &dyn SessionStore) {
        let t = now();
        let id = store.login("o1", "id-a", "skey1", "{\"n\":1}", t + 100).unwrap();
        assert_eq!(id, "id-a");
        let again = store.login("o1", "id-b", "skey2", "{\"n\":2}", t + 200).unwrap();
        assert_eq!(again, "id-a");
        let s = store.find("id-a").unwrap().unwrap();
        assert_eq!((s.skey.as_str(), s.user_info.as_str(), s.expires_at), ("skey2", "{\"n\":2}", t + 200));
        assert_eq!(s.open_id, "o1");
        assert!(store.find("id-b").unwrap().is_none());
        let other = store.login("o2", "id-c", "skey3", "{}", t + 100).unwrap();
        assert_eq!(other, "id-c");
        assert!(store.find("id-unknown").unwrap().is_none());
    }

    /// A session expired moments ago is still found, with its expiry (the service answers
    /// "expired"); one expired longer than [`EXPIRED_KEPT`] ago is gone once purged, and
    /// its openId logs in again with a new id.
    pub fn expired_sessions_are_kept_then_purged(store: &dyn SessionStore) {
        let t = now();
        store.login("p1", "pid1", "k", "{}", t - 2 * EXPIRED_KEPT).unwrap();
        store.login("p2", "pid2", "k", "{}", t - 10).unwrap();
        store.login("p3", "pid3", "k", "{}", t + 1000).unwrap();
        assert_eq!(store.find("pid2").unwrap().map(|s| s.expires_at), Some(t - 10));
        store.purge(t - EXPIRED_KEPT).unwrap();
        assert!(store.find("pid1").unwrap().is_none());
        assert!(store.find("pid2").unwrap().is_some());
        assert!(store.find("pid3").unwrap().is_some());
        assert_eq!(store.login("p1", "pid9", "k", "{}", t + 50).unwrap(), "pid9");
    }

    /// Text is kept as given (user info is JSON with any Unicode; ids are opaque).
    pub fn keeps_text_exactly(store: &dyn SessionStore) {
        let info = "{\"nickName\":\"小明 🐟\",\"q\":\"a\\\"b\"}";
        let id = store.login("o-text:1", "id:text 1", "sk", info, now() + 100).unwrap();
        assert_eq!(store.find(&id).unwrap().unwrap().user_info, info);
        // The farthest expiry a store must keep (it is stored as a signed 64-bit number).
        let far = i64::MAX as u64;
        let id = store.login("o-far", "id-far", "sk", "{}", far).unwrap();
        assert_eq!(store.find(&id).unwrap().unwrap().expires_at, far);
    }

    /// Every behaviour, in order.
    pub fn all(store: &dyn SessionStore) {
        one_session_per_open_id(store);
        expired_sessions_are_kept_then_purged(store);
        keeps_text_exactly(store);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_behaviour() {
        behaviour::all(&SqliteStore::in_memory().unwrap());
        let s = SqliteStore::in_memory().unwrap();
        s.login("p1", "pid1", "k", "{}", 10).unwrap();
        s.login("p2", "pid2", "k", "{}", 30).unwrap();
        assert_eq!(s.purge(20).unwrap(), 1, "the embedded store counts what it purged");
    }

    #[test]
    fn memory_behaviour() {
        behaviour::all(&MemoryStore::default());
    }

    #[test]
    fn sqlite_file_survives_reopen() {
        let dir = std::env::temp_dir().join(format!("wafer-store-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        {
            let s = SqliteStore::open(&dir.join("nested")).unwrap();
            s.login("o", "id1", "sk", "{}", 99).unwrap();
        }
        let s = SqliteStore::open(&dir.join("nested")).unwrap();
        assert_eq!(s.find("id1").unwrap().unwrap().skey, "sk");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
