//! The v1 session service over loopback, against a fake WeChat `code2Session` that
//! answers as WeChat does (real AES-128-CBC user info).

#![allow(clippy::field_reassign_with_default)]

mod common;

use std::time::Duration;

use common::*;
use serde_json::{json, Value};
use wafer_services::Settings;

fn auth_settings(wechat: &FakeWechat) -> Settings {
    let mut s = Settings::default();
    s.listen = "127.0.0.1:0".parse().unwrap();
    s.tunnel = false;
    s.wechat = Some(wafer_services::config::WechatConfig {
        appid: APPID.into(),
        secret: SECRET.into(),
        api: format!("http://{}", wechat.addr),
    });
    s
}

fn login_body(code: &str, data: &str, iv: &str) -> Value {
    json!({"version": 1, "componentName": "MA", "interface": {"interfaceName": "qcloud.cam.id_skey", "para": {"code": code, "encrypt_data": data, "iv": iv}}})
}

fn check_body(id: &str, skey: &str) -> Value {
    json!({"version": 1, "componentName": "MA", "interface": {"interfaceName": "qcloud.cam.auth", "para": {"id": id, "skey": skey}}})
}

async fn login(api: &Api, open_id: &str, nick: &str) -> Value {
    let (data, iv) = encrypted_user_info(open_id, nick, APPID, &[3u8; 16]);
    api.post("/mina_auth/", login_body(&format!("c-{open_id}"), &data, &iv)).await
}

#[tokio::test]
async fn login_check_and_relogin_keep_one_session_per_open_id() {
    let wechat = FakeWechat::start().await;
    let server = start(auth_settings(&wechat)).await;
    let api = Api::new(&server);
    let first = login(&api, "oUser1", "小明").await;
    assert_eq!(first["returnCode"], 0, "{first}");
    assert_eq!(first["returnMessage"], "NEW_SESSION_SUCCESS");
    assert_eq!((first["version"].clone(), first["componentName"].clone()), (json!(1), json!("MA")));
    let d = &first["returnData"];
    assert_eq!(d["user_info"]["nickName"], "小明");
    assert_eq!(d["user_info"]["openId"], "oUser1");
    assert_eq!(d["duration"], 2_592_000);
    let (id, skey) = (d["id"].as_str().unwrap(), d["skey"].as_str().unwrap());
    assert_eq!((id.len(), skey.len()), (32, 32));
    assert!(!first.to_string().contains(SESSION_KEY) && !first.to_string().contains(SECRET));

    let ok = api.post("/mina_auth/", check_body(id, skey)).await;
    assert_eq!((ok["returnCode"].as_i64(), ok["returnMessage"].as_str()), (Some(0), Some("AUTH_SUCCESS")));
    assert_eq!(ok["returnData"]["user_info"]["nickName"], "小明");

    let again = login(&api, "oUser1", "小明2").await;
    assert_eq!(again["returnData"]["id"].as_str(), Some(id), "same id");
    let skey2 = again["returnData"]["skey"].as_str().unwrap();
    assert_ne!(skey2, skey, "new skey");
    assert_eq!(api.post("/mina_auth/", check_body(id, skey)).await["returnCode"], 60012, "old skey invalid");
    let ok2 = api.post("/mina_auth/", check_body(id, skey2)).await;
    assert_eq!(ok2["returnData"]["user_info"]["nickName"], "小明2");

    let other = login(&api, "oUser2", "b").await;
    assert_ne!(other["returnData"]["id"].as_str(), Some(id));
    assert_eq!(api.post("/mina_auth/", check_body("nope", skey2)).await["returnCode"], 60012);
    let m = api.metrics().await;
    assert_eq!(metric(&m, "wafer_logins_total{code=\"0\"}"), 3.0);
    assert_eq!(metric(&m, "wafer_auth_checks_total{code=\"60012\"}"), 2.0);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn sessions_expire() {
    let wechat = FakeWechat::start().await;
    let mut s = auth_settings(&wechat);
    s.login_duration = Duration::from_secs(1);
    let server = start(s).await;
    let api = Api::new(&server);
    let v = login(&api, "oExp", "e").await;
    let (id, skey) = (v["returnData"]["id"].as_str().unwrap(), v["returnData"]["skey"].as_str().unwrap());
    assert_eq!(api.post("/mina_auth/", check_body(id, skey)).await["returnCode"], 0);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(api.post("/mina_auth/", check_body(id, skey)).await["returnCode"], 60011);
    // A new login revives the same session id.
    let again = login(&api, "oExp", "e").await;
    assert_eq!(again["returnData"]["id"].as_str(), Some(id));
    assert_eq!(
        api.post("/mina_auth/", check_body(id, again["returnData"]["skey"].as_str().unwrap())).await["returnCode"],
        0
    );
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn return_codes_of_bad_requests_and_wechat_errors() {
    let wechat = FakeWechat::start().await;
    let server = start(auth_settings(&wechat)).await;
    let api = Api::new(&server);
    let (data, iv) = encrypted_user_info("oX", "x", APPID, &[5u8; 16]);
    let (foreign, fiv) = encrypted_user_info("oX", "x", "wxsomeoneelse", &[5u8; 16]);
    let cases: Vec<(&str, Value, i64)> = vec![
        ("invalid code", login_body("bad", &data, &iv), 40029),
        ("code used", login_body("c-used", &data, &iv), 40163),
        ("watermark of another app", login_body("c-oX", &foreign, &fiv), 60021),
        ("wrong iv", login_body("c-oX", &data, "AAAAAAAAAAAAAAAAAAAAAA=="), 60021),
        ("garbage data", login_body("c-oX", "bm90IGVuY3J5cHRlZA==", &iv), 60021),
        ("missing code", json!({"interface": {"interfaceName": "qcloud.cam.id_skey", "para": {"iv": iv}}}), 1003),
        ("missing skey", json!({"interface": {"interfaceName": "qcloud.cam.auth", "para": {"id": "x"}}}), 1003),
        ("no interface name", json!({"interface": {"para": {}}}), 1002),
        ("no para", json!({"interface": {"interfaceName": "qcloud.cam.auth"}}), 1011),
        ("unknown interface", json!({"interface": {"interfaceName": "qcloud.cam.nope", "para": {}}}), 1010),
    ];
    for (what, body, code) in cases {
        let v = api.post("/mina_auth/", body).await;
        assert_eq!(v["returnCode"], code, "{what}: {v}");
        assert!(v["returnMessage"].as_str().is_some_and(|m| !m.is_empty()), "{what}");
        assert!(v.get("returnData").is_none(), "{what}");
    }
    let (status, v) = api.post_raw("/mina_auth/", "{not json".into()).await;
    assert_eq!((status, v["returnCode"].as_i64()), (200, Some(1009)));
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn an_unreachable_wechat_is_a_clear_failure() {
    let wechat = FakeWechat::start().await;
    let mut s = auth_settings(&wechat);
    let probe = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    s.wechat.as_mut().unwrap().api = format!("http://{}", probe.local_addr().unwrap());
    drop(probe);
    let server = start(s).await;
    let api = Api::new(&server);
    let v = login(&api, "oY", "y").await;
    assert_eq!(v["returnCode"], -1);
    let text = v.to_string();
    assert!(!text.contains(SECRET) && !text.contains("secret="), "{text}");
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn sessions_survive_a_restart() {
    let wechat = FakeWechat::start().await;
    let dir = std::env::temp_dir().join(format!("wafer-auth-restart-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut s = auth_settings(&wechat);
    s.data = Some(dir.join("created"));
    let server = start(s.clone()).await;
    let v = login(&Api::new(&server), "oR", "r").await;
    server.shutdown().await.unwrap();
    let (id, skey) = (v["returnData"]["id"].as_str().unwrap(), v["returnData"]["skey"].as_str().unwrap());
    let server = start(s).await;
    let ok = Api::new(&server).post("/mina_auth/", check_body(id, skey)).await;
    assert_eq!(ok["returnCode"], 0);
    assert_eq!(ok["returnData"]["user_info"]["nickName"], "r");
    server.shutdown().await.unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}
