//! Simulated WeChat users and random identifiers.
//!
//! WeChat is not reachable from a dev machine, so the `code → openId` exchange is
//! simulated: a code `dev:<name>` is user `<name>` with an openId derived from the name
//! (stable across restarts); any other code is a user derived from the code itself.

use serde::Serialize;
use sha1::{Digest, Sha1};

/// Prefix of a login code that names its user: `dev:alice` logs in as `alice`.
pub const DEV_CODE_PREFIX: &str = "dev:";

/// The user info the server hands out (the shape of WeChat's decrypted user info).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserInfo {
    pub open_id: String,
    pub nick_name: String,
    pub avatar_url: String,
    pub gender: u8,
    pub city: String,
    pub province: String,
    pub country: String,
    pub language: String,
}

impl UserInfo {
    /// The user a login code stands for. Never fails: every code is a user.
    /// The name in `dev:<name>` may be percent-encoded (a header value is ASCII only):
    /// `dev:%E5%B0%8F%E6%98%8E` is user `小明`.
    pub fn from_code(code: &str) -> UserInfo {
        match code.strip_prefix(DEV_CODE_PREFIX) {
            Some(name) if !name.is_empty() => UserInfo::named(&percent_decode(name)),
            _ => {
                let digest = hash("code", code);
                let nick = format!("user-{}", &hex(&digest)[..6]);
                UserInfo::build(nick, &digest)
            }
        }
    }

    /// User `name`, with an openId that depends on the name only.
    pub fn named(name: &str) -> UserInfo {
        UserInfo::build(name.to_owned(), &hash("name", name))
    }

    fn build(nick_name: String, digest: &[u8; 20]) -> UserInfo {
        // WeChat openIds are 28 characters; ours are `o` + 27 hex digits.
        let open_id = format!("o{}", &hex(digest)[..27]);
        let avatar_url = format!(
            "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' width='64' height='64'%3E\
             %3Crect width='64' height='64' fill='%23{:02x}{:02x}{:02x}'/%3E%3C/svg%3E",
            digest[0] | 0x40,
            digest[1] | 0x40,
            digest[2] | 0x40
        );
        UserInfo {
            open_id,
            nick_name,
            avatar_url,
            gender: 0,
            city: String::new(),
            province: String::new(),
            country: String::new(),
            language: "zh_CN".to_owned(),
        }
    }
}

/// `%XX` escapes decoded; the text as it is when that is not valid UTF-8.
fn percent_decode(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        match (b[i], b.get(i + 1).copied().and_then(hex), b.get(i + 2).copied().and_then(hex)) {
            (b'%', Some(hi), Some(lo)) => {
                out.push((hi * 16 + lo) as u8);
                i += 3;
            }
            (c, _, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap_or_else(|_| text.to_owned())
}

fn hash(kind: &str, value: &str) -> [u8; 20] {
    let mut h = Sha1::new();
    h.update(b"wafer-devserver:");
    h.update(kind.as_bytes());
    h.update(b":");
    h.update(value.as_bytes());
    h.finalize().into()
}

/// Lowercase hex of some bytes.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

/// `n` bytes from the OS random source, as hex: an unguessable identifier.
pub fn random_id(n: usize) -> Result<String, getrandom::Error> {
    let mut buf = vec![0u8; n];
    getrandom::fill(&mut buf)?;
    Ok(hex(&buf))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dev_names_are_stable_and_distinct() {
        let a = UserInfo::from_code("dev:alice");
        assert_eq!(a, UserInfo::from_code("dev:alice"));
        assert_eq!(a.nick_name, "alice");
        assert_eq!(a.open_id.len(), 28);
        assert!(a.open_id.starts_with('o'));
        assert_ne!(a.open_id, UserInfo::from_code("dev:bob").open_id);
        assert!(a.avatar_url.starts_with("data:image/svg+xml,"));
    }

    #[test]
    fn dev_names_may_be_percent_encoded() {
        assert_eq!(UserInfo::from_code("dev:%E5%B0%8F%E6%98%8E"), UserInfo::named("小明"));
        assert_eq!(UserInfo::from_code("dev:a%20b").nick_name, "a b");
        // Not an escape, or not UTF-8 once decoded: the name as written.
        assert_eq!(UserInfo::from_code("dev:100%").nick_name, "100%");
        assert_eq!(UserInfo::from_code("dev:%zz").nick_name, "%zz");
        assert_eq!(UserInfo::from_code("dev:%FF").nick_name, "%FF");
    }

    #[test]
    fn other_codes_make_a_user_too() {
        let u = UserInfo::from_code("0a1b2c");
        assert!(u.nick_name.starts_with("user-"));
        assert_eq!(u, UserInfo::from_code("0a1b2c"));
        assert_ne!(u.open_id, UserInfo::from_code("dev:0a1b2c").open_id);
        assert!(UserInfo::from_code("dev:").nick_name.starts_with("user-"));
    }

    #[test]
    fn random_ids_are_hex_and_differ() {
        let a = random_id(16).unwrap();
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(a, random_id(16).unwrap());
        assert_eq!(hex(&[0, 255, 16]), "00ff10");
    }
}
