//! The `ERR_*` keys and `.type` values of docs/PROTOCOL.md §1, plus `ERR_REQUEST_FAILED`.
mod common;

use wafer_core::session::ErrorKind;

#[test]
fn protocol_kinds_keys_and_types() {
    let keys: Vec<_> = ErrorKind::ALL.iter().map(|k| k.key()).collect();
    assert_eq!(
        keys,
        [
            "ERR_INVALID_PARAMS",
            "ERR_WX_LOGIN_FAILED",
            "ERR_WX_GET_USER_INFO",
            "ERR_LOGIN_TIMEOUT",
            "ERR_LOGIN_FAILED",
            "ERR_LOGIN_SESSION_NOT_RECEIVED",
            "ERR_INVALID_SESSION",
            "ERR_CHECK_LOGIN_FAILED",
        ]
    );
    for kind in ErrorKind::ALL {
        let expected = if kind == ErrorKind::LoginMissingSession { "ERR_LOGIN_MISSING_SESSION" } else { kind.key() };
        assert_eq!(kind.type_str(), expected);
    }
}

#[test]
fn request_failed_is_an_extension() {
    assert_eq!(ErrorKind::EXTENSIONS, [ErrorKind::RequestFailed, ErrorKind::SdkLoadFailed]);
    assert!(!ErrorKind::ALL.contains(&ErrorKind::RequestFailed));
    assert_eq!(ErrorKind::RequestFailed.key(), "ERR_REQUEST_FAILED");
    assert_eq!(ErrorKind::RequestFailed.type_str(), "ERR_REQUEST_FAILED");
}
