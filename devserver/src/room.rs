//! The tunnel socket and the chat room of the original demo (docs/PROTOCOL.md §5, §6).

use std::collections::HashMap;
use std::io::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use futures_util::SinkExt;
use serde_json::{json, Value};
use tokio::sync::{mpsc, oneshot, OwnedSemaphorePermit};
use tokio::time::{sleep, timeout, Instant};
use wafer_core::frame::{self, Frame};

use crate::users::UserInfo;
use crate::App;

/// WebSocket close code: normal closure.
pub const CLOSE_NORMAL: u16 = 1000;
/// WebSocket close code: the server is going away.
pub const CLOSE_GOING_AWAY: u16 = 1001;
/// WebSocket close code: message too big.
pub const CLOSE_TOO_BIG: u16 = 1009;

/// How long one outbound frame may take to reach the socket before the client is dropped.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// How long to wait for the client's answer to our close frame.
const CLOSE_LINGER: Duration = Duration::from_secs(1);

struct Client {
    tx: mpsc::Sender<Utf8Bytes>,
    /// Dropped with the client: tells its socket task it was removed from the room.
    _kick: oneshot::Sender<()>,
}

/// Everyone connected through a tunnel.
#[derive(Default)]
pub struct Room {
    clients: Mutex<HashMap<u64, Client>>,
    next_id: AtomicU64,
}

fn message_frame(kind: &str, content: Value) -> Utf8Bytes {
    let body = json!({ "type": kind, "content": content }).to_string();
    Utf8Bytes::from(frame::encode_message(&body))
}

impl Room {
    fn lock(&self) -> MutexGuard<'_, HashMap<u64, Client>> {
        self.clients.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Connected clients.
    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }

    /// Queues `frame` to every client; a client whose queue is full is dropped (its
    /// kick channel closes, and its socket task drops the connection).
    fn broadcast_locked(clients: &mut HashMap<u64, Client>, frame: Utf8Bytes) {
        clients.retain(|id, c| match c.tx.try_send(frame.clone()) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                // Not `eprintln!`, which panics (here: with the room locked) once stderr is gone.
                let _ = writeln!(std::io::stderr(), "wafer-devserver: socket {id} is too slow, dropping it");
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        });
    }

    /// Adds a client and tells everyone (the newcomer too): `people {total, enter}`.
    fn enter(&self, tx: mpsc::Sender<Utf8Bytes>, kick: oneshot::Sender<()>, user: &UserInfo) -> u64 {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut clients = self.lock();
        clients.insert(id, Client { tx, _kick: kick });
        let total = clients.len();
        let frame = message_frame("people", json!({ "total": total, "enter": user }));
        Room::broadcast_locked(&mut clients, frame);
        id
    }

    /// Removes a client (if still there) and tells the rest: `people {total, leave}`.
    fn leave(&self, id: u64, user: &UserInfo) {
        let mut clients = self.lock();
        clients.remove(&id);
        let total = clients.len();
        let frame = message_frame("people", json!({ "total": total, "leave": user }));
        Room::broadcast_locked(&mut clients, frame);
    }

    /// `speak {who, word}` to everyone.
    fn speak(&self, who: &UserInfo, word: Value) {
        let frame = message_frame("speak", json!({ "who": who, "word": word }));
        Room::broadcast_locked(&mut self.lock(), frame);
    }
}

/// How a socket's life ended.
enum End {
    /// Send a close frame with this code, then let go.
    Close(u16),
    /// Drop the connection without a close frame.
    Abort,
    /// The client closed; answer its close frame.
    ClosedByClient,
}

fn is_too_big(err: axum::Error) -> bool {
    matches!(err.into_inner().downcast_ref::<tungstenite::Error>(), Some(tungstenite::Error::Capacity(_)))
}

/// Serves one tunnel socket until it ends. `_permit` counts it against the socket limit.
pub async fn run_socket(app: Arc<App>, mut socket: WebSocket, user: Arc<UserInfo>, _permit: OwnedSemaphorePermit) {
    let mut drop_rx = app.drop_tx.subscribe();
    let mut stop_rx = app.stop_rx.clone();
    if *stop_rx.borrow() {
        return;
    }
    let heartbeat = app.config.heartbeat;
    if heartbeat > 0 {
        let timeout_frame = frame::encode_timeout(heartbeat);
        if !matches!(timeout(SEND_TIMEOUT, socket.send(Message::Text(timeout_frame.into()))).await, Ok(Ok(()))) {
            return;
        }
    }
    let idle_limit = app.config.idle_limit();
    let idle = sleep(idle_limit.unwrap_or(Duration::ZERO));
    tokio::pin!(idle);

    let (tx, mut rx) = mpsc::channel(app.config.queue_len.max(1));
    let (kick_tx, mut kicked) = oneshot::channel::<()>();
    let id = app.room.enter(tx, kick_tx, &user);
    let max_frame = app.config.max_frame;

    let end = loop {
        let incoming = tokio::select! {
            _ = drop_rx.changed() => break End::Abort,
            _ = &mut kicked => break End::Abort,
            _ = stopped(&mut stop_rx) => break End::Close(CLOSE_GOING_AWAY),
            _ = &mut idle, if idle_limit.is_some() => break End::Abort,
            out = rx.recv() => {
                let Some(out) = out else { break End::Abort };
                let sent = tokio::select! {
                    r = timeout(SEND_TIMEOUT, socket.send(Message::Text(out))) => matches!(r, Ok(Ok(()))),
                    _ = drop_rx.changed() => false,
                    _ = &mut kicked => false,
                };
                if !sent {
                    break End::Abort;
                }
                continue;
            }
            incoming = socket.recv() => incoming,
        };
        if let Some(limit) = idle_limit {
            idle.as_mut().reset(Instant::now() + limit);
        }
        let text = match incoming {
            None => break End::Abort,
            Some(Err(err)) => break if is_too_big(err) { End::Close(CLOSE_TOO_BIG) } else { End::Abort },
            Some(Ok(Message::Close(_))) => break End::ClosedByClient,
            Some(Ok(Message::Text(text))) => text,
            // Binary frames are not part of the protocol; control frames are handled below us.
            Some(Ok(_)) => continue,
        };
        if text.len() > max_frame {
            break End::Close(CLOSE_TOO_BIG);
        }
        match frame::parse(text.as_str()) {
            Frame::Ping => {
                let sent = timeout(SEND_TIMEOUT, socket.send(Message::Text(frame::PONG.into()))).await;
                if !matches!(sent, Ok(Ok(()))) {
                    break End::Abort;
                }
            }
            Frame::Close => break End::Close(CLOSE_NORMAL),
            Frame::Message(body) => on_message(&app.room, &user, body),
            // The dev server does not implement the resume extension (docs/RESUME.md): it
            // ignores its frames, as every service without it does.
            Frame::Pong
            | Frame::Timeout(_)
            | Frame::Unknown(_)
            | Frame::Resumable(_)
            | Frame::ResumeToken { .. }
            | Frame::Ack(_)
            | Frame::Resume { .. }
            | Frame::Resumed(_)
            | Frame::ResumeRefused => {}
        }
    };

    app.room.leave(id, &user);
    match end {
        End::Abort => {}
        End::Close(code) => {
            let close = Message::Close(Some(CloseFrame { code, reason: Utf8Bytes::default() }));
            if let Ok(Ok(())) = timeout(SEND_TIMEOUT, socket.send(close)).await {
                linger(&mut socket).await;
            }
        }
        // Flush our answer to the client's close frame; the server closes TCP first.
        End::ClosedByClient => {
            let _ = timeout(CLOSE_LINGER, socket.flush()).await;
        }
    }
}

/// Resolves when the server stops (or its stop handle is gone).
async fn stopped(rx: &mut tokio::sync::watch::Receiver<bool>) {
    let _ = rx.wait_for(|s| *s).await;
}

/// Reads until the peer finishes the closing handshake (bounded in time and count).
async fn linger(socket: &mut WebSocket) {
    let deadline = Instant::now() + CLOSE_LINGER;
    for _ in 0..16 {
        match tokio::time::timeout_at(deadline, socket.recv()).await {
            Ok(Some(Ok(Message::Close(_)))) | Ok(Some(Err(_))) | Ok(None) | Err(_) => return,
            Ok(Some(Ok(_))) => {}
        }
    }
}

/// A `message:{"type":T,"content":C}` frame from a client. Only `speak {word}` means
/// something to the chat room; anything else, or anything unparsable, is ignored.
fn on_message(room: &Room, user: &UserInfo, body: &str) {
    let Ok(Value::Object(mut msg)) = serde_json::from_str::<Value>(body) else {
        return;
    };
    if msg.get("type").and_then(Value::as_str) != Some("speak") {
        return;
    }
    let word = match msg.get_mut("content") {
        Some(Value::Object(content)) => content.remove("word"),
        _ => None,
    };
    if let Some(word) = word {
        room.speak(user, word);
    }
}
