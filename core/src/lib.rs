//! Sans-IO core of the Wafer client protocol.
//!
//! Nothing here does IO or reads a clock. Each state machine takes inputs with the
//! current time passed in (`handle_*(now, …)`), and the caller drains its outputs
//! (`poll_output()`) until it returns `None`, then arms one timer for
//! `poll_timeout()` and calls `handle_timeout(now)` when it fires:
//!
//! ```text
//! loop {
//!     feed one input:   machine.handle_xxx(now, …)
//!     drain outputs:    while let Some(out) = machine.poll_output() { perform(out) }
//!     re-arm the timer: timer.set(machine.poll_timeout())
//! }
//! ```
//!
//! Host values the core never inspects (user payloads, wx responses, error details)
//! stay opaque: every machine is generic over them.

pub mod client;
pub mod constants;
pub mod frame;
pub mod session;
pub mod tunnel;
pub mod value;

/// Milliseconds on the caller's clock (any monotonic origin).
pub type Millis = u64;
