//! `close()` on a closed tunnel does nothing: no events, and packets emitted before the
//! first `open()` stay queued for it.

mod common;

use common::tunnel_harness::*;
use wafer_core::tunnel::{Event, TunnelStatus};

#[test]
fn close_on_closed_tunnel_is_silent() {
    let mut h = TunnelHarness::new();
    h.close();
    assert_eq!(h.take(), vec![]);
    h.emit("early");
    h.close();
    assert_eq!(h.take(), vec![]);
    assert_eq!(h.tunnel.queued(), 1);

    h.open();
    let conn = h.answer_url();
    h.socket_open(conn);
    assert_eq!(h.take(), vec![send(conn, "early"), event(Event::Connect)]);
    h.close();
    h.take();
    h.close();
    assert_eq!(h.take(), vec![]);
    assert_eq!(h.status(), TunnelStatus::Closed);
}
