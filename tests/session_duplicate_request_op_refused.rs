//! A `request` whose op id is still pending is refused with `ERR_INVALID_PARAMS`; the
//! pending one carries on.
mod common;

use common::session_harness::*;
use wafer_core::session::{ErrorKind, OpId, Output};

#[test]
fn duplicate_pending_op_is_refused() {
    let mut h = Harness::new();
    h.request(1, false);
    let outs = h.request(1, false);
    assert!(
        matches!(outs.as_slice(), [Output::RequestDone { op: OpId(1), result: Err(e) }] if e.kind == ErrorKind::InvalidParams),
        "{outs:?}"
    );
    assert_eq!(h.request_response(1, 0, Ok(ok_response("x"))), vec![request_ok(1, "x")]);
    // Once finished, the id may be used again.
    assert_eq!(h.request(1, false), vec![send(1, 0, vec![])]);
}
