//! Sessions and pending tunnel ids: small maps with expiry, bounded in size.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::users::{random_id, UserInfo};

/// A login session.
#[derive(Clone, Debug)]
pub struct Session {
    pub id: String,
    pub skey: String,
    pub user: Arc<UserInfo>,
}

/// Why a session check failed.
#[derive(Debug, PartialEq, Eq)]
pub enum Lookup {
    /// Unknown skey, id mismatch or expired.
    Invalid,
}

/// Why an entry could not be stored.
#[derive(Debug)]
pub enum StoreError {
    /// The OS random source failed.
    Random(getrandom::Error),
    /// The map is full of live entries.
    Full,
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreError::Random(e) => write!(f, "random source failed: {e}"),
            StoreError::Full => f.write_str("too many entries, try again later"),
        }
    }
}

/// A map from key to value with a per-entry deadline and a size bound.
struct Expiring<V> {
    map: HashMap<String, (V, Instant)>,
    cap: usize,
}

impl<V> Expiring<V> {
    fn new(cap: usize) -> Self {
        Expiring { map: HashMap::new(), cap }
    }

    fn prune(&mut self, now: Instant) {
        self.map.retain(|_, (_, exp)| *exp > now);
    }

    fn insert(&mut self, key: String, value: V, expires: Instant, now: Instant) -> Result<(), StoreError> {
        if self.map.len() >= self.cap {
            self.prune(now);
            if self.map.len() >= self.cap {
                return Err(StoreError::Full);
            }
        }
        self.map.insert(key, (value, expires));
        Ok(())
    }

    fn live(&mut self, now: Instant) -> usize {
        self.prune(now);
        self.map.len()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock cannot leave these maps inconsistent.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Sessions by skey.
pub struct Sessions {
    inner: Mutex<Expiring<Session>>,
    ttl: Duration,
}

impl Sessions {
    pub fn new(ttl: Duration, cap: usize) -> Self {
        Sessions { inner: Mutex::new(Expiring::new(cap)), ttl }
    }

    /// Opens a session for `user` with a fresh random id and skey.
    pub fn create(&self, user: UserInfo) -> Result<Session, StoreError> {
        let id = random_id(16).map_err(StoreError::Random)?;
        let skey = random_id(20).map_err(StoreError::Random)?;
        let now = Instant::now();
        let expires = now + self.ttl;
        let session = Session { id, skey: skey.clone(), user: Arc::new(user) };
        lock(&self.inner).insert(skey, session.clone(), expires, now)?;
        Ok(session)
    }

    /// The session with this skey (and this id, when given), if it has not expired.
    pub fn check(&self, id: Option<&str>, skey: &str) -> Result<Arc<UserInfo>, Lookup> {
        let now = Instant::now();
        let mut inner = lock(&self.inner);
        let Some((session, expires)) = inner.map.get(skey) else {
            return Err(Lookup::Invalid);
        };
        if *expires <= now {
            inner.map.remove(skey);
            return Err(Lookup::Invalid);
        }
        if id.is_some_and(|id| id != session.id) {
            return Err(Lookup::Invalid);
        }
        Ok(session.user.clone())
    }

    /// Ends every session; returns how many were live.
    pub fn expire_all(&self) -> usize {
        let mut inner = lock(&self.inner);
        let n = inner.live(Instant::now());
        inner.map.clear();
        n
    }

    /// Live sessions.
    pub fn count(&self) -> usize {
        lock(&self.inner).live(Instant::now())
    }
}

/// Tunnel ids handed out by `GET /tunnel` and not yet claimed by a socket.
pub struct Tunnels {
    inner: Mutex<Expiring<Arc<UserInfo>>>,
    ttl: Duration,
}

impl Tunnels {
    pub fn new(ttl: Duration, cap: usize) -> Self {
        Tunnels { inner: Mutex::new(Expiring::new(cap)), ttl }
    }

    /// A fresh tunnel id remembered for `user`.
    pub fn create(&self, user: Arc<UserInfo>) -> Result<String, StoreError> {
        let id = random_id(16).map_err(StoreError::Random)?;
        let now = Instant::now();
        lock(&self.inner).insert(id.clone(), user, now + self.ttl, now)?;
        Ok(id)
    }

    /// Whether `id` is waiting for its socket.
    pub fn contains(&self, id: &str) -> bool {
        let now = Instant::now();
        lock(&self.inner).map.get(id).is_some_and(|(_, exp)| *exp > now)
    }

    /// Takes the user of a pending tunnel id; each id can be claimed once.
    pub fn claim(&self, id: &str) -> Option<Arc<UserInfo>> {
        let now = Instant::now();
        let (user, expires) = lock(&self.inner).map.remove(id)?;
        (expires > now).then_some(user)
    }

    /// Pending (unclaimed, unexpired) tunnel ids.
    pub fn count(&self) -> usize {
        lock(&self.inner).live(Instant::now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_check_id_skey_and_expiry() {
        let s = Sessions::new(Duration::from_secs(60), 10);
        let a = s.create(UserInfo::named("a")).unwrap();
        assert_eq!(s.check(Some(&a.id), &a.skey).unwrap().nick_name, "a");
        assert_eq!(s.check(None, &a.skey).unwrap().nick_name, "a");
        assert_eq!(s.check(Some("nope"), &a.skey), Err(Lookup::Invalid));
        assert_eq!(s.check(Some(&a.id), "nope"), Err(Lookup::Invalid));
        assert_eq!(s.count(), 1);
        assert_eq!(s.expire_all(), 1);
        assert_eq!(s.check(Some(&a.id), &a.skey), Err(Lookup::Invalid));

        let s = Sessions::new(Duration::ZERO, 10);
        let a = s.create(UserInfo::named("a")).unwrap();
        assert_eq!(s.check(None, &a.skey), Err(Lookup::Invalid));
    }

    #[test]
    fn bounded_maps_refuse_when_full_of_live_entries() {
        let s = Sessions::new(Duration::from_secs(60), 2);
        s.create(UserInfo::named("a")).unwrap();
        s.create(UserInfo::named("b")).unwrap();
        assert!(matches!(s.create(UserInfo::named("c")), Err(StoreError::Full)));

        let t = Tunnels::new(Duration::ZERO, 1);
        t.create(Arc::new(UserInfo::named("a"))).unwrap();
        // The expired one is pruned to make room.
        let id = t.create(Arc::new(UserInfo::named("b"))).unwrap();
        assert!(!t.contains(&id));
        assert!(t.claim(&id).is_none());
    }

    #[test]
    fn tunnel_ids_are_claimed_once() {
        let t = Tunnels::new(Duration::from_secs(60), 10);
        let id = t.create(Arc::new(UserInfo::named("a"))).unwrap();
        assert!(t.contains(&id));
        assert_eq!(t.count(), 1);
        assert_eq!(t.claim(&id).unwrap().nick_name, "a");
        assert!(t.claim(&id).is_none());
        assert_eq!(t.count(), 0);
    }
}
