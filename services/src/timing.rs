//! Rules that involve time, as sans-IO state machines: the caller passes `now` in, so
//! they are tested on a simulated clock; small tokio tasks drive them (logic keeps no
//! clock or I/O of its own, so its tests never sleep).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Heartbeat watch of one socket: silent for longer than `window` means lost.
#[derive(Debug, Clone)]
pub struct Heartbeat {
    window: Option<Duration>,
    last_seen: Instant,
}

impl Heartbeat {
    /// A watch that considers the socket lost after `window` of silence (`None`: never).
    pub fn new(window: Option<Duration>, now: Instant) -> Self {
        Heartbeat { window, last_seen: now }
    }

    /// The peer sent something.
    pub fn seen(&mut self, now: Instant) {
        self.last_seen = now;
    }

    /// When the socket counts as lost if nothing arrives before.
    pub fn deadline(&self) -> Option<Instant> {
        self.window.map(|w| self.last_seen + w)
    }

    /// Whether the socket has been silent for longer than the window at `now`.
    pub fn is_lost(&self, now: Instant) -> bool {
        self.deadline().is_some_and(|d| now >= d)
    }
}

/// Token bucket: at most `rate` frames per second on average, bursts of `rate`.
#[derive(Debug, Clone)]
pub struct RateLimit {
    rate: f64,
    tokens: f64,
    last: Instant,
}

impl RateLimit {
    /// A full bucket allowing `per_second` frames per second (0 = unlimited).
    pub fn new(per_second: u32, now: Instant) -> Self {
        let rate = f64::from(per_second);
        RateLimit { rate, tokens: rate, last: now }
    }

    /// Takes one token; `false` when the rate is exceeded.
    pub fn take(&mut self, now: Instant) -> bool {
        if self.rate <= 0.0 {
            return true;
        }
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.rate).min(self.rate);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Retry policy of callbacks: exponential backoff from `base`, capped at `max`, giving up
/// after `attempts` tries of the same callback.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    /// Delay after the first failure.
    pub base: Duration,
    /// Longest delay between two tries.
    pub max: Duration,
    /// Tries of one callback before it is dropped (at least 1).
    pub attempts: u32,
}

impl Backoff {
    /// Delay before try `failures + 1` after `failures` failed tries.
    pub fn delay(&self, failures: u32) -> Duration {
        let shift = failures.saturating_sub(1).min(20);
        self.base.saturating_mul(1u32 << shift).min(self.max)
    }
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff { base: Duration::from_millis(500), max: Duration::from_secs(30), attempts: 8 }
    }
}

/// One callback to the business server (docs/SERVICES.md §3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Callback {
    /// The client's socket opened.
    Connect,
    /// A client `message:` frame, content verbatim.
    Message(String),
    /// The tunnel ended (sent exactly once).
    Close,
}

/// How a delivery try ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// 2xx with `code: 0`.
    Delivered,
    /// The business server refused the packet for good (400 with `code` 9001–9004):
    /// retrying cannot help.
    Rejected,
    /// Unreachable, timeout, non-2xx or garbage: retry later.
    Failed,
}

/// What the driver of a queue does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Send this callback now.
    Send(Callback),
    /// Wait until then, then ask again.
    RetryAt(Instant),
    /// Nothing to send: the driver stops.
    Idle,
}

/// The queue is full: the callback was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueFull;

/// What [`CallbackQueue::finish`] did with the head callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Report {
    /// The head will be tried again.
    pub retried: bool,
    /// The head was given up (tries exhausted or rejected): counted and logged.
    pub dropped: bool,
}

/// Per-tunnel ordered queue of callbacks with retry and backoff. One callback is in flight
/// at a time, so they arrive in order. `close` is always admitted (once), even when full.
#[derive(Debug, Clone)]
pub struct CallbackQueue {
    items: VecDeque<Callback>,
    cap: usize,
    failures: u32,
    retry_at: Option<Instant>,
    in_flight: bool,
    close_queued: bool,
}

impl CallbackQueue {
    /// An empty queue holding at most `cap` pending callbacks besides `close`.
    pub fn new(cap: usize) -> Self {
        CallbackQueue {
            items: VecDeque::new(),
            cap: cap.max(1),
            failures: 0,
            retry_at: None,
            in_flight: false,
            close_queued: false,
        }
    }

    /// Queues a callback. `Ok(true)` when the queue was idle and needs a driver.
    /// A second `close` is ignored (`Ok(false)`); nothing is queued after `close`.
    pub fn push(&mut self, cb: Callback) -> Result<bool, QueueFull> {
        if self.close_queued {
            return Ok(false);
        }
        if cb == Callback::Close {
            self.close_queued = true;
        } else if self.items.len() >= self.cap {
            return Err(QueueFull);
        }
        let idle = self.items.is_empty() && !self.in_flight;
        self.items.push_back(cb);
        Ok(idle)
    }

    /// Callbacks waiting or in flight.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Whether `close` has been queued (the tunnel has ended).
    pub fn close_queued(&self) -> bool {
        self.close_queued
    }

    /// The next step at `now`; marks the head in flight when it is to be sent.
    pub fn next(&mut self, now: Instant) -> Next {
        if self.in_flight {
            // The driver asks again only after `finish`; treat a repeat as a resend.
            return self.items.front().cloned().map_or(Next::Idle, Next::Send);
        }
        let Some(head) = self.items.front() else { return Next::Idle };
        if let Some(at) = self.retry_at {
            if now < at {
                return Next::RetryAt(at);
            }
        }
        self.retry_at = None;
        self.in_flight = true;
        Next::Send(head.clone())
    }

    /// Records how the try of the head ended at `now`.
    pub fn finish(&mut self, outcome: Outcome, now: Instant, policy: &Backoff) -> Report {
        self.in_flight = false;
        let mut report = Report::default();
        match outcome {
            Outcome::Delivered => {
                self.items.pop_front();
                self.failures = 0;
            }
            Outcome::Rejected => {
                self.items.pop_front();
                self.failures = 0;
                report.dropped = true;
            }
            Outcome::Failed => {
                self.failures += 1;
                if self.failures >= policy.attempts.max(1) {
                    self.items.pop_front();
                    self.failures = 0;
                    report.dropped = true;
                } else {
                    self.retry_at = Some(now + policy.delay(self.failures));
                    report.retried = true;
                }
            }
        }
        report
    }
}

/// Deadlines of issued but not yet connected tunnel ids. The time to live is fixed, so
/// deadlines arrive in order and a FIFO is enough.
#[derive(Debug, Default)]
pub struct IdExpiry<K> {
    queue: VecDeque<(Instant, K)>,
}

impl<K> IdExpiry<K> {
    /// An empty schedule.
    pub fn new() -> Self {
        IdExpiry { queue: VecDeque::new() }
    }

    /// Schedules `id` to expire at `deadline` (not earlier than the previous one).
    pub fn schedule(&mut self, deadline: Instant, id: K) {
        self.queue.push_back((deadline, id));
    }

    /// Ids whose deadline is at or before `now`, in order. The caller ignores ids that
    /// were connected meanwhile.
    pub fn due(&mut self, now: Instant) -> Vec<K> {
        let mut out = Vec::new();
        while self.queue.front().is_some_and(|(d, _)| *d <= now) {
            if let Some((_, id)) = self.queue.pop_front() {
                out.push(id);
            }
        }
        out
    }

    /// Entries still scheduled.
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// Whether nothing is scheduled.
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn heartbeat_lost_after_window_of_silence() {
        let t0 = Instant::now();
        let mut h = Heartbeat::new(Some(ms(2000)), t0);
        assert!(!h.is_lost(t0 + ms(1999)));
        h.seen(t0 + ms(1500));
        assert!(!h.is_lost(t0 + ms(3000)));
        assert_eq!(h.deadline(), Some(t0 + ms(3500)));
        assert!(h.is_lost(t0 + ms(3500)));
        let never = Heartbeat::new(None, t0);
        assert!(!never.is_lost(t0 + Duration::from_secs(86_400)));
        assert_eq!(never.deadline(), None);
    }

    #[test]
    fn rate_limit_refills_over_time() {
        let t0 = Instant::now();
        let mut r = RateLimit::new(3, t0);
        assert!(r.take(t0) && r.take(t0) && r.take(t0));
        assert!(!r.take(t0));
        assert!(!r.take(t0 + ms(300)));
        // 0.9 tokens at 300 ms, 2.1 at 700 ms.
        assert!(r.take(t0 + ms(700)) && r.take(t0 + ms(700)));
        assert!(!r.take(t0 + ms(700)));
        // A long pause refills at most a full bucket.
        let later = t0 + Duration::from_secs(60);
        assert!((0..3).all(|_| r.take(later)));
        assert!(!r.take(later));
        let mut free = RateLimit::new(0, t0);
        assert!((0..10_000).all(|_| free.take(t0)));
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let b = Backoff { base: ms(100), max: ms(1000), attempts: 5 };
        let delays: Vec<_> = (1..=6).map(|f| b.delay(f)).collect();
        assert_eq!(delays, [ms(100), ms(200), ms(400), ms(800), ms(1000), ms(1000)]);
        assert_eq!(b.delay(u32::MAX), ms(1000));
    }

    #[test]
    fn queue_sends_in_order_one_at_a_time() {
        let t0 = Instant::now();
        let p = Backoff::default();
        let mut q = CallbackQueue::new(4);
        assert_eq!(q.push(Callback::Connect), Ok(true));
        assert_eq!(q.push(Callback::Message("a".into())), Ok(false));
        assert_eq!(q.next(t0), Next::Send(Callback::Connect));
        assert_eq!(q.push(Callback::Message("b".into())), Ok(false));
        assert_eq!(q.finish(Outcome::Delivered, t0, &p), Report::default());
        assert_eq!(q.next(t0), Next::Send(Callback::Message("a".into())));
        q.finish(Outcome::Delivered, t0, &p);
        assert_eq!(q.next(t0), Next::Send(Callback::Message("b".into())));
        q.finish(Outcome::Delivered, t0, &p);
        assert_eq!(q.next(t0), Next::Idle);
        assert_eq!(q.push(Callback::Close), Ok(true));
    }

    #[test]
    fn queue_retries_with_backoff_then_drops() {
        let t0 = Instant::now();
        let p = Backoff { base: ms(100), max: ms(250), attempts: 3 };
        let mut q = CallbackQueue::new(4);
        q.push(Callback::Message("x".into())).unwrap();
        q.push(Callback::Close).unwrap();
        assert_eq!(q.next(t0), Next::Send(Callback::Message("x".into())));
        assert_eq!(q.finish(Outcome::Failed, t0, &p), Report { retried: true, dropped: false });
        assert_eq!(q.next(t0 + ms(99)), Next::RetryAt(t0 + ms(100)));
        assert_eq!(q.next(t0 + ms(100)), Next::Send(Callback::Message("x".into())));
        let t1 = t0 + ms(100);
        q.finish(Outcome::Failed, t1, &p);
        assert_eq!(q.next(t1 + ms(150)), Next::RetryAt(t1 + ms(200)));
        assert_eq!(q.next(t1 + ms(200)), Next::Send(Callback::Message("x".into())));
        let t2 = t1 + ms(200);
        assert_eq!(q.finish(Outcome::Failed, t2, &p), Report { retried: false, dropped: true });
        // The next callback starts fresh, right away.
        assert_eq!(q.next(t2), Next::Send(Callback::Close));
        assert_eq!(q.finish(Outcome::Failed, t2, &p), Report { retried: true, dropped: false });
        assert_eq!(q.next(t2 + ms(100)), Next::Send(Callback::Close));
        q.finish(Outcome::Delivered, t2 + ms(100), &p);
        assert!(q.is_empty());
    }

    #[test]
    fn rejected_callbacks_are_dropped_without_retry() {
        let t0 = Instant::now();
        let mut q = CallbackQueue::new(2);
        q.push(Callback::Connect).unwrap();
        q.next(t0);
        let r = q.finish(Outcome::Rejected, t0, &Backoff::default());
        assert_eq!(r, Report { retried: false, dropped: true });
        assert_eq!(q.next(t0), Next::Idle);
    }

    #[test]
    fn queue_is_bounded_but_close_always_fits_once() {
        let mut q = CallbackQueue::new(2);
        q.push(Callback::Connect).unwrap();
        q.push(Callback::Message("1".into())).unwrap();
        assert_eq!(q.push(Callback::Message("2".into())), Err(QueueFull));
        assert_eq!(q.push(Callback::Close), Ok(false));
        assert!(q.close_queued());
        assert_eq!(q.len(), 3);
        assert_eq!(q.push(Callback::Close), Ok(false));
        assert_eq!(q.push(Callback::Message("3".into())), Ok(false));
        assert_eq!(q.len(), 3);
    }

    #[test]
    fn ids_expire_in_order() {
        let t0 = Instant::now();
        let mut e = IdExpiry::new();
        e.schedule(t0 + ms(100), "a");
        e.schedule(t0 + ms(100), "b");
        e.schedule(t0 + ms(200), "c");
        assert!(e.due(t0 + ms(99)).is_empty());
        assert_eq!(e.due(t0 + ms(100)), ["a", "b"]);
        assert_eq!(e.len(), 1);
        assert_eq!(e.due(t0 + ms(1000)), ["c"]);
        assert!(e.is_empty());
    }
}
