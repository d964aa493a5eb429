//! The v1 session service (docs/SERVICES.md §5): `qcloud.cam.id_skey` and `qcloud.cam.auth`
//! at `POST /mina_auth/`.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aes::cipher::{block_padding::Pkcs7, BlockDecryptMut, KeyIvInit};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use serde_json::{json, Value};

use crate::config::WechatConfig;
use crate::metrics::Metrics;
use crate::sign::{random_id, secret_eq};
use crate::store::SessionStore;

/// Return codes of the session service.
pub mod codes {
    /// Success.
    pub const OK: i64 = 0;
    /// No interface name.
    pub const NO_INTERFACE: i64 = 1002;
    /// A parameter is missing or malformed.
    pub const BAD_PARAMETER: i64 = 1003;
    /// The request is not JSON.
    pub const NOT_JSON: i64 = 1009;
    /// Unknown interface name.
    pub const UNKNOWN_INTERFACE: i64 = 1010;
    /// No `para`.
    pub const NO_PARA: i64 = 1011;
    /// WeChat could not be reached or answered garbage.
    pub const WECHAT_UNAVAILABLE: i64 = -1;
    /// Internal error.
    pub const INTERNAL: i64 = 1500;
    /// The session store could not be reached or failed (Redis down): nothing was checked
    /// or stored; the client may retry.
    pub const STORE_UNAVAILABLE: i64 = 1501;
    /// Session expired (the client logs in again).
    pub const SESSION_EXPIRED: i64 = 60011;
    /// Session invalid: unknown id or wrong skey (the client logs in again).
    pub const SESSION_INVALID: i64 = 60012;
    /// `encrypt_data` could not be decrypted, or its watermark is another app's.
    pub const DECRYPT_FAILED: i64 = 60021;
}

type Aes128CbcDec = cbc::Decryptor<aes::Aes128>;

/// Decrypts WeChat's `encryptedData` (AES-128-CBC, PKCS#7; key and iv base64) and checks
/// `watermark.appid`. Returns the user info JSON.
pub fn decrypt_user_info(session_key: &str, iv: &str, data: &str, appid: &str) -> Result<Value, &'static str> {
    let key: [u8; 16] = B64.decode(session_key).ok().and_then(|k| k.try_into().ok()).ok_or("bad session_key")?;
    let iv: [u8; 16] = B64.decode(iv).ok().and_then(|k| k.try_into().ok()).ok_or("bad iv")?;
    let data = B64.decode(data).map_err(|_| "encrypt_data is not base64")?;
    let plain = Aes128CbcDec::new(&key.into(), &iv.into())
        .decrypt_padded_vec_mut::<Pkcs7>(&data)
        .map_err(|_| "decryption failed")?;
    let info: Value = serde_json::from_slice(&plain).map_err(|_| "decrypted data is not JSON")?;
    if info.pointer("/watermark/appid").and_then(Value::as_str) != Some(appid) {
        return Err("watermark appid mismatch");
    }
    Ok(info)
}

/// The session service.
pub struct AuthService {
    store: Arc<dyn SessionStore>,
    wechat: WechatConfig,
    http: reqwest::Client,
    login_duration: Duration,
    metrics: Arc<Metrics>,
}

fn now_unix() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn answer(code: i64, message: &str, data: Option<Value>) -> Value {
    let mut v = json!({"version": 1, "componentName": "MA", "returnCode": code, "returnMessage": message});
    if let Some(d) = data {
        v["returnData"] = d;
    }
    v
}

struct Failure(i64, String);

impl AuthService {
    /// A service over `store`, exchanging codes at `wechat.api`.
    pub fn new(
        store: Arc<dyn SessionStore>,
        wechat: WechatConfig,
        http: reqwest::Client,
        login_duration: Duration,
        metrics: Arc<Metrics>,
    ) -> Self {
        AuthService { store, wechat, http, login_duration, metrics }
    }

    /// Counts and logs a store failure; the answer says the store is unavailable.
    fn store_failed(&self, e: crate::store::StoreError) -> Failure {
        self.metrics.store_errors.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if self.store.available().is_some() {
            self.metrics.redis_up.store(0, std::sync::atomic::Ordering::Relaxed);
        }
        tracing::error!(error = %e, "session store");
        Failure(codes::STORE_UNAVAILABLE, "session store unavailable".into())
    }

    /// The store (for the purge task).
    pub fn store(&self) -> Arc<dyn SessionStore> {
        self.store.clone()
    }

    /// Answers one `/mina_auth/` request body (always HTTP 200 with a `returnCode`).
    pub async fn handle(&self, body: &[u8]) -> Value {
        let Ok(req) = serde_json::from_slice::<Value>(body) else {
            return answer(codes::NOT_JSON, "request is not JSON", None);
        };
        let Some(name) = req.pointer("/interface/interfaceName").and_then(Value::as_str) else {
            return answer(codes::NO_INTERFACE, "no interface name", None);
        };
        let Some(para) = req.pointer("/interface/para").filter(|p| p.is_object()) else {
            return answer(codes::NO_PARA, "no para", None);
        };
        let text = |k: &str| para.get(k).and_then(Value::as_str).filter(|s| !s.is_empty());
        match name {
            "qcloud.cam.id_skey" => {
                let (Some(code), Some(data), Some(iv)) = (text("code"), text("encrypt_data"), text("iv")) else {
                    self.metrics.login(codes::BAD_PARAMETER);
                    return answer(codes::BAD_PARAMETER, "code, encrypt_data and iv are required", None);
                };
                let result = self.login(code, data, iv).await;
                match result {
                    Ok(d) => {
                        self.metrics.login(codes::OK);
                        answer(codes::OK, "NEW_SESSION_SUCCESS", Some(d))
                    }
                    Err(Failure(c, m)) => {
                        self.metrics.login(c);
                        tracing::info!(code = c, reason = %m, "login refused");
                        answer(c, &m, None)
                    }
                }
            }
            "qcloud.cam.auth" => {
                let (Some(id), Some(skey)) = (text("id"), text("skey")) else {
                    self.metrics.auth_check(codes::BAD_PARAMETER);
                    return answer(codes::BAD_PARAMETER, "id and skey are required", None);
                };
                match self.check(id, skey).await {
                    Ok(d) => {
                        self.metrics.auth_check(codes::OK);
                        answer(codes::OK, "AUTH_SUCCESS", Some(d))
                    }
                    Err(Failure(c, m)) => {
                        self.metrics.auth_check(c);
                        answer(c, &m, None)
                    }
                }
            }
            _ => answer(codes::UNKNOWN_INTERFACE, "unknown interface", None),
        }
    }

    async fn code2session(&self, code: &str) -> Result<(String, String), Failure> {
        let url = format!("{}/sns/jscode2session", self.wechat.api);
        let query = [
            ("appid", self.wechat.appid.as_str()),
            ("secret", self.wechat.secret.as_str()),
            ("js_code", code),
            ("grant_type", "authorization_code"),
        ];
        let unavailable =
            |what: String| Failure(codes::WECHAT_UNAVAILABLE, format!("WeChat code2Session failed: {what}"));
        // `without_url`: the URL carries the appsecret and must not reach a log or an answer.
        let resp =
            self.http.get(url).query(&query).send().await.map_err(|e| unavailable(e.without_url().to_string()))?;
        let bytes = resp.bytes().await.map_err(|e| unavailable(e.without_url().to_string()))?;
        let body: Value = serde_json::from_slice(&bytes).map_err(|_| unavailable("the answer is not JSON".into()))?;
        if let Some(code) = body.get("errcode").and_then(Value::as_i64).filter(|c| *c != 0) {
            let msg = body.get("errmsg").and_then(Value::as_str).unwrap_or("");
            return Err(Failure(code, format!("WeChat code2Session: {code} {msg}")));
        }
        match (body.get("openid").and_then(Value::as_str), body.get("session_key").and_then(Value::as_str)) {
            (Some(o), Some(k)) if !o.is_empty() => Ok((o.to_owned(), k.to_owned())),
            _ => Err(unavailable("no openid or session_key in the answer".into())),
        }
    }

    async fn login(&self, code: &str, data: &str, iv: &str) -> Result<Value, Failure> {
        let (open_id, session_key) = self.code2session(code).await?;
        let info = decrypt_user_info(&session_key, iv, data, &self.wechat.appid)
            .map_err(|m| Failure(codes::DECRYPT_FAILED, format!("encrypt_data: {m}")))?;
        let internal = |_| Failure(codes::INTERNAL, "internal error".into());
        let (new_id, skey) = (random_id().map_err(internal)?, random_id().map_err(internal)?);
        let expires = now_unix().saturating_add(self.login_duration.as_secs());
        let store = self.store.clone();
        let (info_text, sk) = (info.to_string(), skey.clone());
        let id = tokio::task::spawn_blocking(move || store.login(&open_id, &new_id, &sk, &info_text, expires))
            .await
            .map_err(|e| Failure(codes::INTERNAL, format!("internal error: {e}")))?
            .map_err(|e| self.store_failed(e))?;
        Ok(json!({"id": id, "skey": skey, "user_info": info, "duration": self.login_duration.as_secs()}))
    }

    async fn check(&self, id: &str, skey: &str) -> Result<Value, Failure> {
        let store = self.store.clone();
        let key = id.to_owned();
        let found = tokio::task::spawn_blocking(move || store.find(&key))
            .await
            .map_err(|e| Failure(codes::INTERNAL, format!("internal error: {e}")))?
            .map_err(|e| self.store_failed(e))?;
        let Some(s) = found.filter(|s| secret_eq(&s.skey, skey)) else {
            return Err(Failure(codes::SESSION_INVALID, "invalid session".into()));
        };
        if now_unix() >= s.expires_at {
            return Err(Failure(codes::SESSION_EXPIRED, "session expired".into()));
        }
        let info: Value = serde_json::from_str(&s.user_info).unwrap_or(Value::Null);
        Ok(json!({"user_info": info}))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aes::cipher::BlockEncryptMut;

    type Enc = cbc::Encryptor<aes::Aes128>;

    fn encrypt(key: &[u8; 16], iv: &[u8; 16], plain: &str) -> String {
        B64.encode(Enc::new(key.into(), iv.into()).encrypt_padded_vec_mut::<Pkcs7>(plain.as_bytes()))
    }

    #[test]
    fn decrypts_and_checks_the_watermark() {
        let (key, iv) = ([7u8; 16], [9u8; 16]);
        let plain = r#"{"openId":"o1","nickName":"名","watermark":{"appid":"wx1","timestamp":1}}"#;
        let data = encrypt(&key, &iv, plain);
        let (k, i) = (B64.encode(key), B64.encode(iv));
        let info = decrypt_user_info(&k, &i, &data, "wx1").unwrap();
        assert_eq!(info["nickName"], "名");
        assert_eq!(decrypt_user_info(&k, &i, &data, "wx2"), Err("watermark appid mismatch"));
        assert!(decrypt_user_info(&B64.encode([1u8; 16]), &i, &data, "wx1").is_err());
        assert_eq!(decrypt_user_info("short", &i, &data, "wx1"), Err("bad session_key"));
        assert_eq!(decrypt_user_info(&k, &i, "@@", "wx1"), Err("encrypt_data is not base64"));
        assert!(decrypt_user_info(&k, &i, &B64.encode([0u8; 15]), "wx1").is_err());
    }
}
