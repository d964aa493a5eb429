//! Counters and gauges, rendered in the Prometheus text format at `/metrics`.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;

/// Every metric of the service (README "Deploying the services" says what each means).
#[derive(Debug, Default)]
pub struct Metrics {
    /// Tunnel ids issued by `/get/wsurl`.
    pub tunnels_issued: AtomicU64,
    /// Tunnels whose socket is open now.
    pub tunnels_open: AtomicI64,
    /// Issued ids that expired unconnected.
    pub tunnels_expired: AtomicU64,
    /// Resumable tunnels waiting for their client (in their grace period) now.
    pub tunnels_in_grace: AtomicI64,
    /// Resume tokens issued (tunnels made resumable).
    pub resume_tokens: AtomicU64,
    /// Resume sockets accepted.
    pub resumes_accepted: AtomicU64,
    /// Resume sockets refused.
    pub resumes_refused: AtomicU64,
    /// Grace periods that ended without a resume.
    pub grace_expired: AtomicU64,
    /// Client sockets connected now (upgraded, not yet closed).
    pub sockets: AtomicI64,
    /// Frames received from clients.
    pub frames_in: AtomicU64,
    /// Frames sent to clients.
    pub frames_out: AtomicU64,
    /// Callbacks the business server accepted.
    pub callbacks_ok: AtomicU64,
    /// Callback tries that failed and were scheduled again.
    pub callbacks_retried: AtomicU64,
    /// Callbacks given up (tries exhausted, refused by the business server, or shutdown).
    pub callbacks_dropped: AtomicU64,
    /// Whether Redis answers: -1 no Redis configured, 0 unreachable, 1 reachable.
    pub redis_up: AtomicI64,
    /// Store calls that failed (Redis unreachable or erroring, SQLite errors).
    pub store_errors: AtomicU64,
    /// Requests or sockets refused by a limit, by limit name.
    limits: Mutex<BTreeMap<&'static str, u64>>,
    /// Tunnel API calls refused, by answer code.
    api_refused: Mutex<BTreeMap<i64, u64>>,
    /// Logins (`qcloud.cam.id_skey`) by return code.
    logins: Mutex<BTreeMap<i64, u64>>,
    /// Session checks (`qcloud.cam.auth`) by return code.
    auth_checks: Mutex<BTreeMap<i64, u64>>,
}

fn bump<K: Ord>(map: &Mutex<BTreeMap<K, u64>>, key: K) {
    if let Ok(mut m) = map.lock() {
        *m.entry(key).or_insert(0) += 1;
    }
}

impl Metrics {
    /// Counts a refusal by the limit `name`.
    pub fn limit_hit(&self, name: &'static str) {
        bump(&self.limits, name);
    }

    /// Counts a refused tunnel API call.
    pub fn api_refused(&self, code: i64) {
        bump(&self.api_refused, code);
    }

    /// Counts a login answer.
    pub fn login(&self, code: i64) {
        bump(&self.logins, code);
    }

    /// Counts a session check answer.
    pub fn auth_check(&self, code: i64) {
        bump(&self.auth_checks, code);
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(2048);
        let mut one = |name: &str, kind: &str, help: &str, value: String| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}");
        };
        one(
            "wafer_tunnels_issued_total",
            "counter",
            "Tunnel ids issued by /get/wsurl.",
            self.tunnels_issued.load(Relaxed).to_string(),
        );
        one(
            "wafer_tunnels_open",
            "gauge",
            "Tunnels whose client socket is open.",
            self.tunnels_open.load(Relaxed).to_string(),
        );
        one(
            "wafer_tunnels_expired_total",
            "counter",
            "Issued tunnel ids that expired before a socket connected.",
            self.tunnels_expired.load(Relaxed).to_string(),
        );
        one(
            "wafer_tunnels_in_grace",
            "gauge",
            "Resumable tunnels whose socket was lost, waiting for a resume.",
            self.tunnels_in_grace.load(Relaxed).to_string(),
        );
        one(
            "wafer_resume_tokens_total",
            "counter",
            "Resume tokens issued (tunnels made resumable).",
            self.resume_tokens.load(Relaxed).to_string(),
        );
        one(
            "wafer_resumes_accepted_total",
            "counter",
            "Resume sockets accepted.",
            self.resumes_accepted.load(Relaxed).to_string(),
        );
        one(
            "wafer_resumes_refused_total",
            "counter",
            "Resume sockets refused (unknown or ended tunnel, wrong token, counts not met, no resume frame).",
            self.resumes_refused.load(Relaxed).to_string(),
        );
        one(
            "wafer_resume_grace_expired_total",
            "counter",
            "Grace periods that ended without a resume (the tunnel closed).",
            self.grace_expired.load(Relaxed).to_string(),
        );
        one("wafer_sockets", "gauge", "Client WebSocket connections.", self.sockets.load(Relaxed).to_string());
        one(
            "wafer_frames_in_total",
            "counter",
            "Frames received from clients.",
            self.frames_in.load(Relaxed).to_string(),
        );
        one("wafer_frames_out_total", "counter", "Frames sent to clients.", self.frames_out.load(Relaxed).to_string());
        one(
            "wafer_callbacks_ok_total",
            "counter",
            "Callbacks accepted by the business server.",
            self.callbacks_ok.load(Relaxed).to_string(),
        );
        one(
            "wafer_callbacks_retried_total",
            "counter",
            "Callback tries that failed and were retried.",
            self.callbacks_retried.load(Relaxed).to_string(),
        );
        one(
            "wafer_callbacks_dropped_total",
            "counter",
            "Callbacks given up (tries exhausted, refused, or shutdown).",
            self.callbacks_dropped.load(Relaxed).to_string(),
        );
        let redis = self.redis_up.load(Relaxed);
        if redis >= 0 {
            one("wafer_redis_up", "gauge", "1 when Redis answered the last call, 0 when not.", redis.to_string());
        }
        one(
            "wafer_store_errors_total",
            "counter",
            "Session store calls that failed (Redis unreachable, storage errors).",
            self.store_errors.load(Relaxed).to_string(),
        );
        let mut labelled = |name: &str, help: &str, label: &str, rows: Vec<(String, u64)>| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            for (k, v) in rows {
                let _ = writeln!(out, "{name}{{{label}=\"{k}\"}} {v}");
            }
        };
        let rows = |m: &Mutex<BTreeMap<i64, u64>>| -> Vec<(String, u64)> {
            m.lock().map(|m| m.iter().map(|(k, v)| (k.to_string(), *v)).collect()).unwrap_or_default()
        };
        let limits =
            self.limits.lock().map(|m| m.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()).unwrap_or_default();
        labelled("wafer_limit_refusals_total", "Requests, frames or sockets refused by a limit.", "limit", limits);
        labelled(
            "wafer_api_refused_total",
            "Tunnel API calls answered with a non-zero code.",
            "code",
            rows(&self.api_refused),
        );
        labelled(
            "wafer_logins_total",
            "qcloud.cam.id_skey answers by returnCode (0 = ok).",
            "code",
            rows(&self.logins),
        );
        labelled(
            "wafer_auth_checks_total",
            "qcloud.cam.auth answers by returnCode (0 = ok).",
            "code",
            rows(&self.auth_checks),
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_text() {
        let m = Metrics::default();
        m.frames_in.fetch_add(3, Relaxed);
        m.login(0);
        m.login(40029);
        m.login(0);
        m.limit_hit("frame_rate");
        let text = m.render();
        assert!(text.contains("# TYPE wafer_frames_in_total counter\nwafer_frames_in_total 3\n"));
        assert!(text.contains("wafer_logins_total{code=\"0\"} 2\n"));
        assert!(text.contains("wafer_logins_total{code=\"40029\"} 1\n"));
        assert!(text.contains("wafer_limit_refusals_total{limit=\"frame_rate\"} 1\n"));
        assert!(text.contains("# TYPE wafer_tunnels_open gauge\nwafer_tunnels_open 0\n"));
    }
}
