//! Randomized: random calls, answers (right, stale, duplicated, bogus), session changes
//! and clock jumps never panic, never finish an op twice, and once every deadline has
//! passed and every outstanding output is answered, every op has finished exactly once.
mod common;

use std::collections::BTreeMap;

use common::session_harness::*;
use wafer_core::session::{LoginMode, LoginOptions, LoginResponse, Output, RequestResponse, StoredSession, UserDetail};

/// xorshift64*: a tiny deterministic generator.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// An output of the service the fake driver still has to answer.
#[derive(Clone, Copy, Debug)]
enum Task {
    Check(u32),
    WxLogin(u32),
    UserInfo(u32),
    LoginRequest(u32),
    Send(u32, u32),
}

struct World {
    h: Harness,
    rng: Rng,
    tasks: Vec<Task>,
    answered: Vec<Task>,
    done: BTreeMap<u32, usize>,
    next_op: u32,
}

impl World {
    fn absorb(&mut self, outs: Vec<Out>) {
        for out in outs {
            match out {
                Output::CheckSession { flow } => self.tasks.push(Task::Check(flow.0)),
                Output::WxLogin { flow } => self.tasks.push(Task::WxLogin(flow.0)),
                Output::GetUserInfo { flow } => self.tasks.push(Task::UserInfo(flow.0)),
                Output::LoginRequest { flow, headers, .. } => {
                    assert_eq!(headers.first().map(|h| h.0), Some("X-WX-Code"));
                    self.tasks.push(Task::LoginRequest(flow.0));
                }
                Output::Send { op, attempt, .. } => {
                    assert!(attempt <= 1, "at most one retry");
                    self.tasks.push(Task::Send(op.0, attempt));
                }
                Output::LoginDone { op, .. } | Output::RequestDone { op, .. } => {
                    let count = self.done.entry(op.0).or_insert(0);
                    *count += 1;
                    assert_eq!(*count, 1, "op {} finished twice", op.0);
                    assert!(op.0 < self.next_op, "unknown op {}", op.0);
                }
                Output::StoreSession(session) => assert_eq!(self.h.svc.session(), Some(&session)),
                Output::RemoveSession => assert_eq!(self.h.svc.session(), None),
            }
        }
    }

    fn random_options(&mut self) -> LoginOptions<V> {
        let mode = match self.rng.below(3) {
            0 => LoginMode::GetUserInfo,
            1 => LoginMode::CodeOnly,
            _ => LoginMode::Detail(user_detail()),
        };
        LoginOptions {
            login_url: if self.rng.chance(20) { Some("https://o.example.com/l".to_owned()) } else { None },
            method: if self.rng.chance(30) { Some("post".to_owned()) } else { None },
            data: None,
            mode,
            timeout: if self.rng.chance(50) { Some(self.rng.below(5_000)) } else { None },
        }
    }

    fn random_login_response(&mut self) -> Result<LoginResponse<V>, &'static str> {
        match self.rng.below(6) {
            0 => Err("net"),
            1 => Ok(v1_login_ok("sid", "skey")),
            2 => Ok(v2_login_ok("k2", "u2")),
            3 => Ok(LoginResponse { magic: true, error: Some("E".to_owned()), ..login_body("m") }),
            4 => Ok(login_body("no magic")),
            _ => Ok(LoginResponse { magic: true, ..v2_login_ok("k", "u") }),
        }
    }

    fn random_request_response(&mut self) -> Result<RequestResponse<V>, &'static str> {
        match self.rng.below(7) {
            0 => Err("net"),
            1 | 2 => Ok(ok_response("ok")),
            3 => Ok(invalid_session()),
            4 => Ok(magic_response("ERR_OTHER", "m")),
            5 => Ok(RequestResponse { code: Some(-1.0), ..ok_response("c") }),
            _ => Ok(RequestResponse { status: Some(401.0), ..ok_response("s") }),
        }
    }

    /// Answers `task` at random (or with success when `succeed`).
    fn answer(&mut self, task: Task, succeed: bool) {
        let outs = match task {
            Task::Check(flow) => {
                let ok = succeed || self.rng.chance(50);
                self.h.check_session(flow, ok)
            }
            Task::WxLogin(flow) => {
                let result = if succeed || self.rng.chance(80) { Ok("code") } else { Err("wx fail") };
                self.h.wx_login(flow, result)
            }
            Task::UserInfo(flow) => {
                let result = if succeed || self.rng.chance(80) {
                    Ok(UserDetail { iv: None, ..user_detail() })
                } else {
                    Err("deny")
                };
                self.h.user_info(flow, result)
            }
            Task::LoginRequest(flow) => {
                let result = if succeed { Ok(v1_login_ok("sid", "skey")) } else { self.random_login_response() };
                self.h.login_response(flow, result)
            }
            Task::Send(op, attempt) => {
                let result = if succeed { Ok(ok_response("ok")) } else { self.random_request_response() };
                self.h.request_response(op, attempt, result)
            }
        };
        self.absorb(outs);
    }

    fn step(&mut self) {
        match self.rng.below(12) {
            0 => {
                let op = self.next_op;
                self.next_op += 1;
                let options = self.random_options();
                let outs = self.h.login(op, options);
                self.absorb(outs);
            }
            1 => {
                let op = self.next_op;
                self.next_op += 1;
                let options = self.random_options();
                let login = self.rng.chance(70);
                let outs = self.h.request_with(op, login, options);
                self.absorb(outs);
            }
            2..=5 if !self.tasks.is_empty() => {
                let i = self.rng.below(self.tasks.len() as u64) as usize;
                let task = self.tasks.swap_remove(i);
                self.answered.push(task);
                self.answer(task, false);
            }
            6 if !self.answered.is_empty() => {
                let i = self.rng.below(self.answered.len() as u64) as usize;
                let task = self.answered[i];
                self.answer(task, false);
            }
            7 => {
                let id = self.rng.below(50) as u32;
                let task = match self.rng.below(5) {
                    0 => Task::Check(id),
                    1 => Task::WxLogin(id),
                    2 => Task::UserInfo(id),
                    3 => Task::LoginRequest(id),
                    _ => Task::Send(id, self.rng.below(3) as u32),
                };
                self.answer(task, false);
            }
            8 | 9 => {
                let ms = self.rng.below(3_000);
                let outs = self.h.advance(ms);
                self.absorb(outs);
            }
            10 => {
                match self.rng.below(3) {
                    0 => self.h.svc.clear_session(),
                    1 => self.h.svc.set_session(v1_session("set", "set-skey", "u")),
                    _ => self.h.svc.set_session(StoredSession {
                        id: None,
                        skey: "v2".to_owned(),
                        user_info: None,
                        stored: None,
                    }),
                }
                let outs = self.h.drain();
                assert_eq!(outs, vec![], "session setters have no output");
            }
            _ => {
                let now = self.h.now;
                self.h.svc.handle_timeout(now);
                let outs = self.h.drain();
                self.absorb(outs);
            }
        }
    }

    /// Lets every deadline pass and answers everything with success until quiet.
    fn settle(&mut self) {
        for _ in 0..100 {
            let outs = self.h.advance(1_000_000);
            self.absorb(outs);
            if self.tasks.is_empty() {
                return;
            }
            for task in std::mem::take(&mut self.tasks) {
                self.answer(task, true);
            }
        }
        panic!("did not settle: {:?}", self.tasks);
    }
}

#[test]
fn random_inputs_never_panic_and_finish_every_op_once() {
    for seed in 1..=400u64 {
        let mut h = if seed % 7 == 0 { Harness::without_url() } else { Harness::new() };
        if seed % 3 == 0 {
            h.svc.restore(v1_session("restored", "r-skey", "u"));
        }
        let mut world = World {
            h,
            rng: Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1),
            tasks: Vec::new(),
            answered: Vec::new(),
            done: BTreeMap::new(),
            next_op: 0,
        };
        for _ in 0..300 {
            world.step();
        }
        world.settle();
        assert_eq!(world.h.svc.poll_timeout(), None, "seed {seed}");
        for op in 0..world.next_op {
            assert_eq!(world.done.get(&op), Some(&1), "seed {seed}: op {op} not finished exactly once");
        }
        assert!(world.next_op > 0, "seed {seed} made no call");
    }
}
