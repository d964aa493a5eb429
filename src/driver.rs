//! The driver state shared by the session and tunnel bindings, and the effect pump.

use std::cell::RefCell;
use std::collections::VecDeque;

use wafer_core::session::{self, SessionService};
use wafer_core::tunnel::{self, Tunnel};
use wafer_core::Millis;
use wasm_bindgen::JsValue;

use crate::js;

/// Timer slot of the session service; tunnels use their id (≥ 1).
pub const SESSION_SLOT: u32 = 0;
/// Op ids the driver allocates itself (tunnel URL requests) start here; the shim's
/// user ops count up from 1 and never reach it.
const INTERNAL_OP_BASE: u32 = 0x8000_0000;

/// Who waits for a session request.
#[derive(Clone, Copy)]
pub enum Route {
    /// A user `request()` call: answer through `op_done` / `op_fail`.
    User,
    /// The service-URL request of a tunnel's connection attempt.
    TunnelUrl { tid: u32, attempt: u32 },
}

/// A session request in flight.
pub struct Pending {
    /// The `wx.request` options to send: the tunnel's GET; `None` for a user call,
    /// whose options the shim keeps with its callbacks.
    pub options: Option<JsValue>,
    /// Where the result goes.
    pub route: Route,
}

/// One tunnel and its armed timer.
pub struct TunnelSlot {
    /// The state machine.
    pub machine: Tunnel<JsValue, JsValue>,
    /// `serviceUrl`.
    pub service_url: String,
    /// The deadline the host timer is armed for.
    pub armed: Option<Millis>,
    /// Outputs that already have a marker in the effect FIFO.
    pub marked: usize,
}

/// A small map by id: a few live entries, so a vector beats a hash map in code size.
pub struct Slots<T>(Vec<(u32, T)>);

impl<T> Default for Slots<T> {
    fn default() -> Self {
        Slots(Vec::new())
    }
}

impl<T> Slots<T> {
    /// The entry of `id`.
    pub fn get(&self, id: &u32) -> Option<&T> {
        self.0.iter().find(|(k, _)| k == id).map(|(_, v)| v)
    }
    /// The entry of `id`, mutably.
    pub fn get_mut(&mut self, id: &u32) -> Option<&mut T> {
        self.0.iter_mut().find(|(k, _)| k == id).map(|(_, v)| v)
    }
    /// Sets the entry of `id`.
    pub fn insert(&mut self, id: u32, value: T) {
        match self.get_mut(&id) {
            Some(v) => *v = value,
            None => self.0.push((id, value)),
        }
    }
    /// Takes the entry of `id` out.
    pub fn remove(&mut self, id: &u32) -> Option<T> {
        let i = self.0.iter().position(|(k, _)| k == id)?;
        Some(self.0.swap_remove(i).1)
    }
    /// All entries.
    pub fn values(&self) -> impl Iterator<Item = &T> {
        self.0.iter().map(|(_, v)| v)
    }
    /// All ids.
    pub fn keys(&self) -> impl Iterator<Item = &u32> {
        self.0.iter().map(|(k, _)| k)
    }
    /// All entries, mutably.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&u32, &mut T)> {
        self.0.iter_mut().map(|(k, v)| (&*k, v))
    }
    /// Keeps only the entries for which `keep` holds.
    pub fn retain(&mut self, mut keep: impl FnMut(&T) -> bool) {
        self.0.retain(|(_, v)| keep(v));
    }
}

/// A place in the order of effects: "perform the next output of this machine". The
/// outputs stay in the machines' own queues until performed, so the FIFO holds small
/// markers, not the outputs themselves.
#[derive(Clone, Copy)]
pub enum Effect {
    /// The next output of the session service.
    Session,
    /// The next output of tunnel `tid`.
    Tunnel(u32),
}

/// An output taken off a machine's queue to be performed.
enum Output {
    Session(session::Output<JsValue>),
    Tunnel(u32, tunnel::Output<JsValue, JsValue>),
}

/// All state of this wasm instance (one per loaded copy of the SDK).
pub struct Driver {
    /// The session service.
    pub session: SessionService<JsValue>,
    /// The deadline the session timer is armed for.
    pub session_armed: Option<Millis>,
    /// Session requests in flight, by op id.
    pub pending: Slots<Pending>,
    /// Tunnels by id.
    pub tunnels: Slots<TunnelSlot>,
    /// Last tunnel id handed out.
    pub last_tid: u32,
    /// Last internal op id handed out.
    pub last_internal_op: u32,
    /// Effects not yet performed.
    pub effects: VecDeque<Effect>,
    /// Session outputs that already have a marker in `effects`.
    pub session_marked: usize,
    /// Effects are being performed: an input made from inside one (a listener calling
    /// `emit`, a callback calling `request`) only queues its effects, which the running
    /// loop performs after the current one, so effects keep the order they were made in.
    pub pumping: bool,
    /// Whether the stored session was read from storage.
    pub restored: bool,
    /// The time of the last input.
    pub last_now: Millis,
    /// Whether storage holds the session in memory (false after a failed write, storage
    /// full: then memory is the only copy and storage is not followed).
    pub session_in_storage: bool,
}

impl Driver {
    fn new() -> Self {
        Driver {
            session: SessionService::new(),
            session_armed: None,
            pending: Slots::default(),
            tunnels: Slots::default(),
            last_tid: 0,
            last_internal_op: INTERNAL_OP_BASE,
            effects: VecDeque::new(),
            session_marked: 0,
            pumping: false,
            restored: false,
            last_now: 0,
            session_in_storage: true,
        }
    }

    /// Puts a marker in the effect FIFO for every new session output.
    pub fn drain_session(&mut self) {
        let n = self.session.output_len();
        while self.session_marked < n {
            self.effects.push_back(Effect::Session);
            self.session_marked += 1;
        }
    }

    /// Puts a marker in the effect FIFO for every new output of tunnel `tid`.
    pub fn drain_tunnel(&mut self, tid: u32) {
        if let Some(slot) = self.tunnels.get_mut(&tid) {
            let n = slot.machine.output_len();
            while slot.marked < n {
                self.effects.push_back(Effect::Tunnel(tid));
                slot.marked += 1;
            }
        }
    }

    /// Takes the output the next marker stands for (`None` when the FIFO is empty;
    /// `Some(None)` for a marker of a tunnel forgotten since).
    fn next_output(&mut self) -> Option<Option<Output>> {
        Some(match self.effects.pop_front()? {
            Effect::Session => {
                self.session_marked = self.session_marked.saturating_sub(1);
                self.session.poll_output().map(Output::Session)
            }
            Effect::Tunnel(tid) => self.tunnels.get_mut(&tid).and_then(|slot| {
                slot.marked = slot.marked.saturating_sub(1);
                slot.machine.poll_output().map(|out| Output::Tunnel(tid, out))
            }),
        })
    }

    /// A fresh internal op id.
    pub fn internal_op(&mut self) -> u32 {
        self.last_internal_op = self.last_internal_op.wrapping_add(1).max(INTERNAL_OP_BASE + 1);
        self.last_internal_op
    }

    /// Re-arms the host timers whose deadline changed.
    fn rearm(&mut self, now: Millis) -> Vec<(u32, f64)> {
        let mut changes = Vec::new();
        let next = self.session.poll_timeout();
        if next != self.session_armed {
            self.session_armed = next;
            changes.push((SESSION_SLOT, delay(next, now)));
        }
        for (tid, slot) in self.tunnels.iter_mut() {
            let next = slot.machine.poll_timeout();
            if next != slot.armed {
                slot.armed = next;
                changes.push((*tid, delay(next, now)));
            }
        }
        changes
    }
}

fn delay(deadline: Option<Millis>, now: Millis) -> f64 {
    match deadline {
        Some(at) => at.saturating_sub(now) as f64,
        None => -1.0,
    }
}

thread_local! {
    static DRIVER: RefCell<Driver> = RefCell::new(Driver::new());
}

/// The host clock in milliseconds.
pub fn now() -> Millis {
    let t = js::now();
    if t.is_finite() && t > 0.0 {
        t as Millis
    } else {
        0
    }
}

/// Runs `f` on the driver state. `None` only if called while the state is borrowed,
/// which the pump design rules out (no JS runs inside `f`).
pub fn with<R>(f: impl FnOnce(&mut Driver) -> R) -> Option<R> {
    DRIVER.with(|d| d.try_borrow_mut().ok().map(|mut d| f(&mut d)))
}

/// Feeds one input (inside `f`), then performs every effect and re-arms the timers.
pub fn input<R>(f: impl FnOnce(&mut Driver, Millis) -> R) -> Option<R> {
    let now = now();
    let r = with(|d| {
        d.last_now = now;
        if !d.restored {
            d.restored = true;
            crate::session::restore(d);
        }
        f(d, now)
    })?;
    perform_effects();
    rearm(now);
    Some(r)
}

/// Feeds one input to the session service.
pub fn session_input(f: impl FnOnce(&mut SessionService<JsValue>, Millis)) {
    input(|d, now| {
        f(&mut d.session, now);
        d.drain_session();
    });
}

/// Feeds one input to tunnel `tid` (nothing when the id is unknown).
pub fn tunnel_input(tid: u32, f: impl FnOnce(&mut Tunnel<JsValue, JsValue>, Millis)) {
    input(|d, now| {
        if let Some(t) = d.tunnels.get_mut(&tid) {
            f(&mut t.machine, now);
        }
        d.drain_tunnel(tid);
    });
}

/// Performs queued effects until none is left; inside an effect, does nothing (the
/// running loop will get to them).
pub fn perform_effects() {
    let starts = with(|d| !std::mem::replace(&mut d.pumping, true));
    if starts != Some(true) {
        return;
    }
    while let Some(next) = with(|d| d.next_output()).flatten() {
        match next {
            Some(Output::Session(out)) => crate::session::perform(out),
            Some(Output::Tunnel(tid, out)) => crate::tunnel::perform(tid, out),
            None => {}
        }
    }
    with(|d| d.pumping = false);
}

/// Re-arms the host timers whose deadline moved (delays relative to `now`).
fn rearm(now: Millis) {
    if let Some(changes) = with(|d| d.rearm(now)) {
        for (slot, delay) in changes {
            js::set_timer(slot, delay);
        }
    }
}

/// A timer armed by the driver fired.
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn on_timer(slot: u32) {
    input(|d, now| {
        if slot == SESSION_SLOT {
            d.session_armed = None;
            d.session.handle_timeout(now);
            d.drain_session();
        } else if let Some(t) = d.tunnels.get_mut(&slot) {
            t.armed = None;
            t.machine.handle_timeout(now);
            d.drain_tunnel(slot);
        }
    });
}
