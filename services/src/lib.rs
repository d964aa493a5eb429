//! `wafer-services`: a self-hosted replacement for Tencent's retired Wafer tunnel service
//! (信道服务) and v1 session service (鉴权服务), speaking the contract the existing server
//! SDKs call (`docs/SERVICES.md`; README "Deploying the services").
//!
//! - [`server::serve`] runs everything on a listener: `/get/wsurl`, `/ws/push`, the client
//!   sockets at `/socket/{id}`, `POST /mina_auth/`, `/healthz`, `/metrics`.
//! - [`tunnel::Hub`] is the tunnel registry, the socket loop and the callback delivery.
//! - [`timing`] holds the time rules (id expiry, heartbeat, frame rate, callback retry) as
//!   sans-IO state machines.
//! - [`auth::AuthService`] is the session service over a [`store::SessionStore`]: the
//!   embedded SQLite one, or [`redis_store::RedisStore`] shared by the nodes of a cluster.
//! - [`cluster::Cluster`] (with a Redis store): the tunnel registry shared by the nodes,
//!   cross-node pushes, node leases, and `close` for the tunnels of a dead node.
//!
//! The frame codec is `wafer_core::frame`, shared with the client SDK and the dev server.

pub mod auth;
pub mod cluster;
pub mod config;
pub mod metrics;
pub mod redis_store;
pub mod server;
pub mod sign;
pub mod store;
pub mod timing;
pub mod tunnel;

pub use config::{Args, Settings};
pub use server::{serve, Server};
