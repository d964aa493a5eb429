//! Several nodes behind one load balancer, sharing a Redis (`store = "redis://…"`): a
//! tunnel registry, cross-node pushes, node liveness leases, and the `close` of the tunnels
//! of a node that died.
//!
//! Keys (prefix `wafer:`):
//! - `tunnel:<id>`: a hash `node`, `tc`, `url` (its callback URL), `state` (`issued`, with
//!   the id's expiry as TTL, then `open`, without TTL); deleted when the tunnel ends;
//! - `held:<node>`: the set of tunnel ids open on a node;
//! - `lease:<node>`: present while the node lives (refreshed every lease/3, expires after
//!   the lease); `nodes`: the set of node ids.
//!
//! Each node subscribes to its channel `node:<node>`. A push for tunnels of another node
//! is published there as a request; the owner pushes to its sockets and publishes the
//! tunnels it could not reach to the asking node's channel. Callbacks are always sent by
//! the node holding the socket (its hub), in order.
//!
//! When a node's lease has expired, any surviving node pops its `held` set (`SPOP`: each
//! id goes to one node only) and reports `close` for each id once.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::ws::Utf8Bytes;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::redis_store::{Redis, PREFIX};
use crate::sign::random_id;
use crate::store::StoreError;
use crate::tunnel::{format_id, Hub, TunnelEvent};

/// How long a node waits for the owner of a tunnel to answer a push.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(3);

fn tunnel_key(id: &str) -> String {
    format!("{PREFIX}tunnel:{id}")
}

fn held_key(node: &str) -> String {
    format!("{PREFIX}held:{node}")
}

fn lease_key(node: &str) -> String {
    format!("{PREFIX}lease:{node}")
}

fn channel(node: &str) -> String {
    format!("{PREFIX}node:{node}")
}

fn nodes_key() -> String {
    format!("{PREFIX}nodes")
}

/// A message on a node's channel.
#[derive(Serialize, Deserialize, Debug)]
#[serde(tag = "op", rename_all = "lowercase")]
enum Wire {
    /// Push `text` (an encoded frame; `None`: close) to these tunnels of app `tc`.
    Push { from: String, req: u64, tc: String, ids: Vec<String>, text: Option<String> },
    /// The answer to request `req`: the tunnels not reached.
    Reply { req: u64, invalid: Vec<String> },
    /// Sent by a node to itself with each lease renewal: a subscription that stops hearing
    /// it is dead (a connection that vanished without a reset) and is made again.
    Ping,
}

/// This node's membership of the cluster.
pub struct Cluster {
    redis: Redis,
    node: String,
    hub: Arc<Hub>,
    lease: Duration,
    pending: Mutex<HashMap<u64, oneshot::Sender<Vec<String>>>>,
    next_req: AtomicU64,
}

impl Cluster {
    /// Joins the cluster on `redis` with a new node id; starts the registry mirror, the
    /// subscriber, the lease and the reaper. Returns the tasks (aborted at shutdown).
    pub fn start(redis: Redis, hub: Arc<Hub>, lease: Duration) -> Result<(Arc<Cluster>, Vec<JoinHandle<()>>), String> {
        let events = hub.events().ok_or("the hub already has a registry")?;
        let node = random_id().map_err(|e| format!("node id: {e}"))?;
        let c = Arc::new(Cluster {
            redis,
            node,
            hub,
            lease,
            pending: Mutex::new(HashMap::new()),
            next_req: AtomicU64::new(1),
        });
        tracing::info!(node = %c.node, lease_s = lease.as_secs_f64(), "cluster node");
        let tasks = vec![
            tokio::spawn(c.clone().mirror(events)),
            tokio::spawn(c.clone().subscribe()),
            tokio::spawn(c.clone().keep_lease()),
            tokio::spawn(c.clone().reap()),
        ];
        Ok((c, tasks))
    }

    /// This node's id.
    pub fn node(&self) -> &str {
        &self.node
    }

    /// Records an issued tunnel id as this node's, expiring after `ttl` unless its socket
    /// connects.
    pub async fn register(&self, id: &str, tc: &str, url: &str, ttl: Duration) -> Result<(), StoreError> {
        let (key, node, tc, url) = (tunnel_key(id), self.node.clone(), tc.to_owned(), url.to_owned());
        let ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX).min(i64::MAX / 2) + 5000;
        self.redis
            .call(|mut c| async move {
                redis::pipe()
                    .atomic()
                    .hset_multiple(&key, &[("node", node), ("tc", tc), ("url", url), ("state", "issued".into())])
                    .ignore()
                    .pexpire(&key, ms)
                    .ignore()
                    .query_async::<()>(&mut c)
                    .await
            })
            .await
    }

    /// Mirrors the hub's opened/closed tunnels into the registry, in order; a write that
    /// fails (Redis down) is retried until it succeeds.
    async fn mirror(self: Arc<Self>, mut events: mpsc::UnboundedReceiver<TunnelEvent>) {
        while let Some(event) = events.recv().await {
            let mut delay = Duration::from_millis(100);
            while let Err(e) = self.apply(&event).await {
                tracing::debug!(error = %e, ?event, "registry write failed; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(2));
            }
        }
    }

    /// Writes an event to the registry now (the socket handler marks a tunnel open before
    /// its `connect` callback can go out, so that a push through any node finds it).
    pub async fn record(&self, event: TunnelEvent) -> Result<(), StoreError> {
        self.apply(&event).await
    }

    async fn apply(&self, event: &TunnelEvent) -> Result<(), StoreError> {
        let held = held_key(&self.node);
        let node = self.node.clone();
        match *event {
            TunnelEvent::Opened(k) => {
                let (id, key) = (format_id(k), tunnel_key(&format_id(k)));
                self.redis
                    .call(|mut c| async move {
                        redis::pipe()
                            .atomic()
                            .hset_multiple(&key, &[("node", node.as_str()), ("state", "open")])
                            .ignore()
                            .persist(&key)
                            .ignore()
                            .sadd(&held, &id)
                            .ignore()
                            .query_async::<()>(&mut c)
                            .await
                    })
                    .await
            }
            TunnelEvent::Closed(k) => {
                let (id, key) = (format_id(k), tunnel_key(&format_id(k)));
                self.redis
                    .call(|mut c| async move {
                        redis::pipe()
                            .atomic()
                            .del(&key)
                            .ignore()
                            .srem(&held, &id)
                            .ignore()
                            .query_async::<()>(&mut c)
                            .await
                    })
                    .await
            }
        }
    }

    /// Pushes `text` (`None`: close) to tunnels of app `tc` that this node does not hold:
    /// each goes to its owner. Returns the ids not reached (unknown, another app's, not
    /// open, or whose node did not answer in time); an error when Redis is unreachable.
    pub async fn push(&self, tc: &str, ids: &[String], text: Option<&str>) -> Result<Vec<String>, StoreError> {
        let mut invalid = Vec::new();
        if ids.is_empty() {
            return Ok(invalid);
        }
        let keys: Vec<String> = ids.iter().map(|id| tunnel_key(id)).collect();
        let rows: Vec<(Option<String>, Option<String>, Option<String>)> = self
            .redis
            .call(|mut c| async move {
                let mut p = redis::pipe();
                for k in &keys {
                    p.cmd("HMGET").arg(k).arg("node").arg("tc").arg("state");
                }
                p.query_async(&mut c).await
            })
            .await?;
        let mut by_owner: HashMap<String, Vec<String>> = HashMap::new();
        for (id, (node, owner_tc, state)) in ids.iter().zip(rows) {
            match (node, owner_tc, state.as_deref()) {
                (Some(n), Some(t), Some("open")) if t == tc && n != self.node => {
                    by_owner.entry(n).or_default().push(id.clone())
                }
                _ => invalid.push(id.clone()),
            }
        }
        let mut waits = Vec::new();
        for (owner, ids) in by_owner {
            let req = self.next_req.fetch_add(1, Relaxed);
            let (tx, rx) = oneshot::channel();
            self.lock_pending().insert(req, tx);
            let msg = Wire::Push {
                from: self.node.clone(),
                req,
                tc: tc.to_owned(),
                ids: ids.clone(),
                text: text.map(str::to_owned),
            };
            let body = serde_json::to_string(&msg).map_err(|e| StoreError(e.to_string()))?;
            let chan = channel(&owner);
            let receivers: Result<i64, StoreError> = self
                .redis
                .call(|mut c| async move { redis::cmd("PUBLISH").arg(chan).arg(body).query_async(&mut c).await })
                .await;
            match receivers {
                // Nobody listens on that node's channel: it is gone (its lease will expire).
                Ok(0) => {
                    self.lock_pending().remove(&req);
                    invalid.extend(ids);
                }
                Ok(_) => waits.push((req, ids, rx)),
                Err(e) => {
                    self.lock_pending().remove(&req);
                    return Err(e);
                }
            }
        }
        for (req, ids, rx) in waits {
            match tokio::time::timeout(REPLY_TIMEOUT, rx).await {
                Ok(Ok(not_reached)) => invalid.extend(not_reached),
                _ => {
                    self.lock_pending().remove(&req);
                    tracing::warn!(tunnels = ids.len(), "no answer from the node holding them: reported invalid");
                    invalid.extend(ids);
                }
            }
        }
        Ok(invalid)
    }

    fn lock_pending(&self) -> std::sync::MutexGuard<'_, HashMap<u64, oneshot::Sender<Vec<String>>>> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Listens on this node's channel, reconnecting (with a pause) whenever the
    /// subscription ends.
    async fn subscribe(self: Arc<Self>) {
        let chan = channel(&self.node);
        let mut pause = Duration::from_millis(100);
        loop {
            match self.redis.pubsub().await {
                Ok(mut ps) => match ps.subscribe(&chan).await {
                    Ok(()) => {
                        tracing::debug!("subscribed to the node channel");
                        pause = Duration::from_millis(100);
                        let mut stream = ps.on_message();
                        let silence = self.lease * 2;
                        while let Ok(Some(msg)) = tokio::time::timeout(silence, stream.next()).await {
                            match serde_json::from_slice::<Wire>(msg.get_payload_bytes()) {
                                Ok(w) => self.clone().handle(w),
                                Err(_) => tracing::warn!("unreadable message on the node channel"),
                            }
                        }
                        tracing::warn!("node channel subscription ended or went silent; resubscribing");
                    }
                    Err(e) => tracing::debug!(error = ?e.kind(), "subscribe failed"),
                },
                Err(e) => tracing::debug!(error = %e, "no subscriber connection"),
            }
            // Reconnect with backoff, at most a third of a lease apart.
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min((self.lease / 3).max(Duration::from_millis(100)));
        }
    }

    fn handle(self: Arc<Self>, w: Wire) {
        match w {
            Wire::Ping => {}
            Wire::Reply { req, invalid } => {
                if let Some(tx) = self.lock_pending().remove(&req) {
                    let _ = tx.send(invalid);
                }
            }
            Wire::Push { from, req, tc, ids, text } => {
                let text = text.map(Utf8Bytes::from);
                let invalid = self.hub.push(&tc, &ids, text.as_ref());
                tokio::spawn(async move {
                    let Ok(body) = serde_json::to_string(&Wire::Reply { req, invalid }) else { return };
                    let chan = channel(&from);
                    let sent: Result<i64, _> = self
                        .redis
                        .call(
                            |mut c| async move { redis::cmd("PUBLISH").arg(chan).arg(body).query_async(&mut c).await },
                        )
                        .await;
                    if let Err(e) = sent {
                        tracing::debug!(error = %e, "push reply not sent");
                    }
                });
            }
        }
    }

    /// Keeps this node's lease (every lease/3).
    async fn keep_lease(self: Arc<Self>) {
        let every = (self.lease / 3).max(Duration::from_millis(100));
        let ms = i64::try_from(self.lease.as_millis()).unwrap_or(i64::MAX);
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let (lease, nodes, node) = (lease_key(&self.node), nodes_key(), self.node.clone());
            let r: Result<(Option<String>,), StoreError> = self
                .redis
                .call(|mut c| async move {
                    redis::pipe()
                        .cmd("SET")
                        .arg(&lease)
                        .arg(1)
                        .arg("PX")
                        .arg(ms)
                        .arg("GET")
                        .sadd(&nodes, &node)
                        .ignore()
                        .cmd("PUBLISH")
                        .arg(channel(&node))
                        .arg(r#"{"op":"ping"}"#)
                        .ignore()
                        .query_async(&mut c)
                        .await
                })
                .await;
            match r {
                // No lease before: a first start, or a Redis that lost its data (restarted
                // without persistence): write this node's open tunnels again.
                Ok((None,)) => {
                    if let Err(e) = self.resync().await {
                        tracing::debug!(error = %e, "registry resync failed");
                        // Without the lease, the next tick tries again.
                        let lease = lease_key(&self.node);
                        let _ = self
                            .redis
                            .call(|mut c| async move { redis::cmd("DEL").arg(lease).query_async::<()>(&mut c).await })
                            .await;
                    }
                }
                Ok(_) => {}
                Err(e) => tracing::debug!(error = %e, "lease not renewed"),
            }
        }
    }

    /// Writes every tunnel open on this node to the registry.
    async fn resync(&self) -> Result<(), StoreError> {
        let open = self.hub.open_tunnels();
        if open.is_empty() {
            return Ok(());
        }
        let (held, node) = (held_key(&self.node), self.node.clone());
        let n = open.len();
        self.redis
            .call(|mut c| async move {
                let mut p = redis::pipe();
                for (id, tc, url) in &open {
                    let key = tunnel_key(id);
                    p.hset_multiple(
                        &key,
                        &[("node", node.as_str()), ("tc", tc.as_str()), ("url", url.as_str()), ("state", "open")],
                    )
                    .ignore()
                    .persist(&key)
                    .ignore()
                    .sadd(&held, id)
                    .ignore();
                }
                p.query_async::<()>(&mut c).await
            })
            .await?;
        tracing::info!(tunnels = n, "registry: this node's open tunnels written again");
        Ok(())
    }

    /// Every lease/2: reports `close` for the tunnels of nodes whose lease expired.
    async fn reap(self: Arc<Self>) {
        let every = (self.lease / 2).max(Duration::from_millis(100));
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // After an outage of Redis every lease may have expired meanwhile: give the other
        // nodes one lease to renew theirs before taking their tunnels for dead.
        let mut quiet_until = tokio::time::Instant::now();
        loop {
            tick.tick().await;
            if tokio::time::Instant::now() < quiet_until {
                continue;
            }
            if let Err(e) = self.reap_once().await {
                tracing::debug!(error = %e, "reaper: redis unreachable");
                quiet_until = tokio::time::Instant::now() + self.lease;
            }
        }
    }

    async fn reap_once(&self) -> Result<(), StoreError> {
        let nodes_set = nodes_key();
        let nodes: Vec<String> = self
            .redis
            .call(|mut c| async move { redis::cmd("SMEMBERS").arg(nodes_set).query_async(&mut c).await })
            .await?;
        for node in nodes.into_iter().filter(|n| *n != self.node) {
            let lease = lease_key(&node);
            let alive: bool = self
                .redis
                .call(|mut c| async move { redis::cmd("EXISTS").arg(lease).query_async(&mut c).await })
                .await?;
            if alive {
                continue;
            }
            let mut reported = 0usize;
            loop {
                let held = held_key(&node);
                // SPOP: each id is taken by exactly one surviving node.
                let id: Option<String> = self
                    .redis
                    .call(|mut c| async move { redis::cmd("SPOP").arg(held).query_async(&mut c).await })
                    .await?;
                let Some(id) = id else { break };
                let key = tunnel_key(&id);
                let ((tc, url),): ((Option<String>, Option<String>),) = self
                    .redis
                    .call(|mut c| async move {
                        redis::pipe()
                            .cmd("HMGET")
                            .arg(&key)
                            .arg("tc")
                            .arg("url")
                            .del(&key)
                            .ignore()
                            .query_async(&mut c)
                            .await
                    })
                    .await?;
                match (tc, url) {
                    (Some(tc), Some(url)) if self.hub.report_orphan_close(&id, &tc, &url) => reported += 1,
                    _ => tracing::warn!(tunnel = %id, "tunnel of a dead node without a usable registry entry"),
                }
            }
            let (held, nodes_set, lease_node) = (held_key(&node), nodes_key(), node.clone());
            // Forget the node once its set is empty (a node that comes back re-adds itself).
            self.redis
                .call(|mut c| async move {
                    let left: i64 = redis::cmd("SCARD").arg(&held).query_async(&mut c).await?;
                    if left == 0 {
                        redis::cmd("SREM").arg(&nodes_set).arg(&lease_node).query_async::<()>(&mut c).await?;
                    }
                    Ok(())
                })
                .await?;
            if reported > 0 {
                tracing::warn!(node = %node, tunnels = reported, "node lease expired: close reported for its tunnels");
            }
        }
        Ok(())
    }

    /// Leaves the cluster at a graceful shutdown (this node reported its closes itself):
    /// removes its registry entries and lease, so that no other node reports them again.
    pub async fn leave(&self) {
        let (held, lease, nodes, node) = (held_key(&self.node), lease_key(&self.node), nodes_key(), self.node.clone());
        let r = self
            .redis
            .call(|mut c| async move {
                let ids: Vec<String> = redis::cmd("SMEMBERS").arg(&held).query_async(&mut c).await?;
                let mut p = redis::pipe();
                for id in &ids {
                    p.del(tunnel_key(id)).ignore();
                }
                p.del(&held).ignore().del(&lease).ignore().srem(&nodes, &node).ignore();
                p.query_async::<()>(&mut c).await
            })
            .await;
        if let Err(e) = r {
            tracing::warn!(error = %e, "could not leave the cluster cleanly: other nodes will report close again");
        }
    }
}
