//! Signatures and ids of the Wafer tunnel protocol (docs/SERVICES.md §1).

use md5::Md5;
use sha1::{Digest, Sha1};
use subtle::ConstantTimeEq;

/// Lowercase hex of a digest.
fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 15)] as char);
    }
    s
}

/// `md5` hex of a business server's `ServerHost`: its `tcId`.
pub fn tc_id(server_host: &str) -> String {
    hex(&Md5::digest(server_host.as_bytes()))
}

/// `sha1(data + key)` in lowercase hex: the signature of `data`.
pub fn signature(data: &str, key: &str) -> String {
    let mut h = Sha1::new();
    h.update(data.as_bytes());
    h.update(key.as_bytes());
    hex(&h.finalize())
}

/// Whether `given` is the signature of `data` under `key` (constant-time comparison).
pub fn verify(data: &str, key: &str, given: &str) -> bool {
    secret_eq(&signature(data, key), given)
}

/// Constant-time equality of two secrets (the length is not hidden).
pub fn secret_eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// A fresh 128-bit random id in lowercase hex (32 characters), from the OS generator.
pub fn random_id() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)?;
    Ok(hex(&bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_digests() {
        assert_eq!(tc_id(""), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(tc_id("127.0.0.1"), "f528764d624db129b32c21fbca0cb8d6");
        assert_eq!(signature("abc", ""), "a9993e364706816aba3e25717850c26c9cd0d89d");
        assert_eq!(signature("ab", "c"), signature("abc", ""));
    }

    #[test]
    fn verify_is_exact() {
        let s = signature("{\"a\":1}", "k");
        assert!(verify("{\"a\":1}", "k", &s));
        assert!(!verify("{\"a\":1}", "k", &s.to_uppercase()));
        assert!(!verify("{\"a\":1}", "k", &s[1..]));
        assert!(!verify("{\"a\": 1}", "k", &s));
        assert!(!verify("{\"a\":1}", "K", &s));
        assert!(!verify("{\"a\":1}", "k", ""));
    }

    #[test]
    fn ids_are_random_128_bit_hex() {
        let a = random_id().unwrap();
        let b = random_id().unwrap();
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_ne!(a, b);
    }
}
