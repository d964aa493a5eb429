//! The resume extension on the client (docs/RESUME.md): announce, token, acks, resume on
//! the same URL with the replay of what the service lacks, and every fallback to a full
//! reconnect that loses nothing.

mod common;

use common::tunnel_harness::*;
use wafer_core::tunnel::{ConnId, Event, Output, TunnelConfig, TunnelError, TunnelStatus};

/// Open, announce, get token `tok` with a 30 s grace period; the connection.
fn resumable_active(h: &mut TunnelHarness) -> ConnId {
    h.open();
    let conn = h.answer_url();
    h.socket_open(conn);
    assert_eq!(h.take(), vec![control(conn, "resumable:1"), event(Event::Connect)]);
    h.frame(conn, "resume-token:30:tok");
    assert_eq!(h.take(), vec![]);
    conn
}

/// After a loss: the first try (after 1 s) opens a resume socket on the last URL.
fn resume_socket(h: &mut TunnelHarness, attempt: u32) -> ConnId {
    h.advance(1000);
    match h.take().as_slice() {
        [Output::Connect { conn, url, resume: true }] if *url == format!("{}?resume", url_for(attempt)) => *conn,
        other => panic!("expected a resume socket, got {other:?}"),
    }
}

#[test]
fn a_blip_resumes_the_same_tunnel_and_replays_only_what_the_service_lacks() {
    let mut h = TunnelHarness::with_config(resumable());
    let c1 = resumable_active(&mut h);
    for p in ["a", "b", "c"] {
        h.emit(p);
    }
    assert_eq!(h.take(), vec![send(c1, "a"), send(c1, "b"), send(c1, "c")]);
    h.frame(c1, "ack:1");
    h.messages_in(3);
    assert_eq!(h.take(), vec![]);

    h.lose_connection(c1);
    let c2 = resume_socket(&mut h, 1);
    h.emit("d");
    assert_eq!(h.take(), vec![], "queued while resuming");
    h.socket_open(c2);
    assert_eq!(h.take(), vec![control(c2, "resume:3:tok")]);
    assert_eq!(h.status(), TunnelStatus::Reconnecting, "not active before `resumed`");
    // The service got a and b: c is written again, then d; no new announce.
    h.frame(c2, "resumed:2");
    assert_eq!(h.take(), vec![send(c2, "c"), send(c2, "d"), event(Event::Reconnect)]);
    assert_eq!(h.status(), TunnelStatus::Active);
    assert_eq!(h.tunnel.socket_url(), Some(url_for(1).as_str()), "the same tunnel");

    // A second blip: the token still holds; d and c are still unacknowledged.
    h.messages_in(1);
    h.lose_connection(c2);
    let c3 = resume_socket(&mut h, 1);
    h.socket_open(c3);
    assert_eq!(h.take(), vec![control(c3, "resume:4:tok")]);
    h.frame(c3, "resumed:4");
    assert_eq!(h.take(), vec![event(Event::Reconnect)], "the service had everything");
}

#[test]
fn acks_every_32_messages_and_before_a_ping() {
    let mut h = TunnelHarness::with_config(resumable());
    let c = resumable_active(&mut h);
    h.messages_in(31);
    assert_eq!(h.take(), vec![]);
    h.messages_in(1);
    assert_eq!(h.take(), vec![control(c, "ack:32")]);
    h.messages_in(5);
    h.advance(PING);
    assert_eq!(h.take(), vec![control(c, "ack:37"), ping(c)]);
    h.frame(c, "pong");
    h.advance(PING);
    assert_eq!(h.take(), vec![ping(c)], "no ack when nothing new came");
}

#[test]
fn a_refused_resume_starts_a_new_tunnel_with_the_unacknowledged_messages_first() {
    let mut h = TunnelHarness::with_config(resumable());
    let c1 = resumable_active(&mut h);
    h.emit("a");
    h.emit("b");
    h.frame(c1, "ack:1");
    h.take();
    h.lose_connection(c1);
    let c2 = resume_socket(&mut h, 1);
    h.emit("c");
    h.socket_open(c2);
    h.take();
    h.frame(c2, "resume-refused");
    assert_eq!(h.take(), vec![close_socket(c2), request_url(2)], "at once, not a failed try");
    h.url_ok(2);
    let c3 = h.expect_connect(2);
    h.socket_open(c3);
    assert_eq!(
        h.take(),
        vec![control(c3, "resumable:1"), send(c3, "b"), send(c3, "c"), event(Event::Reconnect)],
        "b may not have arrived: written again (at least once), never lost"
    );
}

#[test]
fn resumed_with_a_count_the_client_cannot_meet_is_a_refusal() {
    let mut h = TunnelHarness::with_config(resumable());
    let c1 = resumable_active(&mut h);
    h.emit("a");
    h.take();
    h.lose_connection(c1);
    let c2 = resume_socket(&mut h, 1);
    h.socket_open(c2);
    h.take();
    h.frame(c2, "resumed:5");
    assert_eq!(h.take(), vec![close_frame(c2), close_socket(c2), request_url(2)]);
}

#[test]
fn after_two_failed_resume_sockets_or_the_grace_period_a_try_is_a_full_reconnect() {
    let config = TunnelConfig { max_reconnect_tries: 20, ..resumable() };
    let mut h = TunnelHarness::with_config(config);
    let c1 = resumable_active(&mut h);
    h.lose_connection(c1);
    // A node that died refuses connections: two resume sockets, then a new tunnel.
    let c2 = resume_socket(&mut h, 1);
    h.socket_error(c2, "refused");
    assert_eq!(h.take(), vec![close_socket(c2)]);
    h.advance(2000);
    let c3 = match h.take().as_slice() {
        [Output::Connect { conn, resume: true, .. }] => *conn,
        other => panic!("{other:?}"),
    };
    h.socket_error(c3, "refused");
    h.take();
    h.advance(3000);
    assert_eq!(h.take(), vec![request_url(2)]);

    // A later loss may resume again (the new tunnel got its own token).
    h.url_ok(2);
    let c4 = h.expect_connect(2);
    h.socket_open(c4);
    h.take();
    h.frame(c4, "resume-token:2:tok2");
    h.lose_connection(c4);
    let c5 = resume_socket(&mut h, 2);
    h.socket_open(c5);
    assert_eq!(h.take(), vec![control(c5, "resume:0:tok2")]);
    // The resume socket closes unanswered; the next try (1 s + 2 s after the loss) is past
    // the 2 s grace period: a full reconnect.
    h.socket_close(c5);
    h.take();
    h.advance(2000);
    assert_eq!(h.take(), vec![request_url(3)]);
}

#[test]
fn a_service_that_ignores_the_announce_changes_nothing() {
    let mut h = TunnelHarness::with_config(resumable());
    h.open();
    let c1 = h.answer_url();
    h.socket_open(c1);
    h.take();
    h.emit("a");
    h.advance(PING);
    assert_eq!(h.take(), vec![send(c1, "a"), ping(c1)]);
    h.frame(c1, "pong");
    // Nothing is kept any more: a loss is a full reconnect with nothing written twice.
    h.lose_connection(c1);
    h.advance(1000);
    assert_eq!(h.take(), vec![request_url(2)]);
    h.url_ok(2);
    let c2 = h.expect_connect(2);
    h.socket_open(c2);
    assert_eq!(h.take(), vec![control(c2, "resumable:1"), event(Event::Reconnect)]);
}

#[test]
fn over_the_bound_nothing_is_kept_and_a_loss_reconnects_fully() {
    let config = TunnelConfig { max_unacked: 2, ..resumable() };
    let mut h = TunnelHarness::with_config(config);
    let c1 = resumable_active(&mut h);
    for p in ["a", "b", "c"] {
        h.emit(p);
    }
    h.take();
    h.lose_connection(c1);
    h.advance(1000);
    assert_eq!(h.take(), vec![request_url(2)]);
}

#[test]
fn giving_up_reports_the_unacknowledged_messages_as_unsent() {
    let config = TunnelConfig { max_reconnect_tries: 1, ..resumable() };
    let mut h = TunnelHarness::with_config(config);
    let c1 = resumable_active(&mut h);
    h.emit("a");
    h.emit("b");
    h.frame(c1, "ack:1");
    h.take();
    h.lose_connection(c1);
    let c2 = resume_socket(&mut h, 1);
    h.emit("c");
    h.socket_error(c2, "down");
    assert_eq!(
        h.take(),
        vec![close_socket(c2), unsent(&["b", "c"]), event(Event::Close), error(TunnelError::Reconnect, Some("down"))]
    );
}

#[test]
fn closing_while_resuming_reports_the_unacknowledged_messages() {
    let mut h = TunnelHarness::with_config(resumable());
    let c1 = resumable_active(&mut h);
    h.emit("a");
    h.take();
    h.lose_connection(c1);
    h.close();
    assert_eq!(h.take(), vec![unsent(&["a"]), event(Event::Close)]);
    assert_eq!(h.status(), TunnelStatus::Closed);
}

#[test]
fn a_send_failure_before_any_token_requeues_the_packet() {
    let mut h = TunnelHarness::with_config(resumable());
    h.open();
    let c1 = h.answer_url();
    h.socket_open(c1);
    h.emit("a");
    h.take();
    h.send_failed(c1, "a");
    h.take();
    h.advance(1000);
    let attempt = h.expect_request_url();
    h.url_ok(attempt);
    let c2 = h.expect_connect(2);
    h.socket_open(c2);
    assert_eq!(h.take(), vec![control(c2, "resumable:1"), send(c2, "a"), event(Event::Reconnect)]);
}

#[test]
fn a_late_send_failure_of_a_kept_packet_is_not_written_twice() {
    let mut h = TunnelHarness::with_config(resumable());
    let c1 = resumable_active(&mut h);
    h.emit("a");
    h.take();
    h.send_failed(c1, "a");
    assert_eq!(h.take(), vec![event(Event::Reconnecting), close_socket(c1)]);
    let c2 = resume_socket(&mut h, 1);
    h.socket_open(c2);
    h.take();
    h.frame(c2, "resumed:0");
    assert_eq!(h.take(), vec![send(c2, "a"), event(Event::Reconnect)], "once, from the kept messages");
}

#[test]
fn extension_frames_are_ignored_when_the_client_did_not_announce() {
    let mut h = TunnelHarness::new();
    let c1 = h.open_active();
    h.frame(c1, "resume-token:30:tok");
    h.messages_in(40);
    h.emit("a");
    assert_eq!(h.take(), vec![send(c1, "a")]);
    h.lose_connection(c1);
    h.advance(1000);
    assert_eq!(h.take(), vec![request_url(2)]);
}

#[test]
fn without_a_token_a_reconnect_writes_nothing_twice() {
    let mut h = TunnelHarness::with_config(resumable());
    h.open();
    let c1 = h.answer_url();
    h.socket_open(c1);
    h.emit("a");
    h.take();
    // No token and no pong yet: the service may simply not know the extension.
    h.lose_connection(c1);
    h.advance(1000);
    assert_eq!(h.take(), vec![request_url(2)]);
    h.url_ok(2);
    let c2 = h.expect_connect(2);
    h.socket_open(c2);
    assert_eq!(h.take(), vec![control(c2, "resumable:1"), event(Event::Reconnect)], "as without the extension");
}

#[test]
fn a_direct_emit_is_numbered_and_kept_like_emit() {
    let mut h = TunnelHarness::with_config(resumable());
    let c1 = resumable_active(&mut h);
    assert_eq!(h.tunnel.emit_direct(&"a".to_string()), Some(c1), "the driver writes it itself");
    h.emit("b");
    assert_eq!(h.take(), vec![send(c1, "b")]);
    h.lose_connection(c1);
    let c2 = resume_socket(&mut h, 1);
    h.socket_open(c2);
    h.take();
    h.frame(c2, "resumed:0");
    assert_eq!(h.take(), vec![send(c2, "a"), send(c2, "b"), event(Event::Reconnect)]);
    assert_eq!(h.tunnel.emit_direct(&"c".to_string()), Some(c2));
    h.tunnel.close(h.now);
    assert_eq!(h.tunnel.emit_direct(&"d".to_string()), None, "closed: emit queues");
}
