//! The `wafer-services` binary: configuration errors, the ready line, and no secret in its
//! logs at the most verbose level.

#![allow(clippy::field_reassign_with_default)]

mod common;

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};

use common::*;
use serde_json::json;

const BIN: &str = env!("CARGO_BIN_EXE_wafer-services");

/// Kills the child if the test fails before it exits.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn bad_configurations_exit_non_zero_with_a_message() {
    for (args, needle) in [
        (vec![], "--app"),
        (vec!["--app", "h=k", "--listen", "nowhere"], "--listen"),
        (vec!["--app", "h=k", "--wechat-appid", "wx1"], "--wechat-secret"),
        (vec!["--app", "h=k", "--config", "/nonexistent/wafer.toml"], "--config"),
        (vec!["--app", "h=k", "--heartbeat", "soon"], "heartbeat"),
    ] {
        let out = Command::new(BIN).args(&args).env_clear().output().unwrap();
        assert!(!out.status.success(), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{args:?}: {err}");
    }
}

#[tokio::test]
async fn runs_from_flags_and_environment_and_never_logs_secrets() {
    let mut biz = Business::start().await;
    let wechat = FakeWechat::start().await;
    let data = std::env::temp_dir().join(format!("wafer-bin-{}", std::process::id()));
    let mut child = Child(
        Command::new(BIN)
            .env_clear()
            .env("WAFER_WECHAT_SECRET", SECRET)
            .env("WAFER_HEARTBEAT", "99")
            .args([
                "--listen",
                "127.0.0.1:0",
                "--app",
                &format!("{HOST}={KEY}"),
                "--callback",
                &format!("{HOST}={}", biz.origin()),
            ])
            .args(["--wechat-appid", APPID, "--wechat-api", &format!("http://{}", wechat.addr), "--heartbeat", "5"])
            .args(["--data", data.to_str().unwrap(), "--log", "trace"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut stdout = BufReader::new(child.0.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    assert!(line.starts_with("wafer-services ready: TunnelServerUrl=http://127.0.0.1:"), "{line}");
    let base = line.split_whitespace().find_map(|w| w.strip_prefix("TunnelServerUrl=")).unwrap().to_owned();
    assert!(line.contains(&format!("AuthServerUrl={base}/mina_auth/")), "{line}");
    let api = Api { base: base.clone(), http: reqwest::Client::new() };

    let (id, url) = api.wsurl().await;
    let mut ws = connect(&url).await;
    assert_eq!(next_text(&mut ws).await.as_deref(), Some("timeout:5"), "the flag wins over the environment");
    assert_eq!(biz.next().await.kind, "connect");
    send(&mut ws, "message:{\"type\":\"t\",\"content\":1}").await;
    biz.next().await;
    api.push(&[&id], "t", json!(2)).await;
    next_text(&mut ws).await;
    let (enc, iv) = encrypted_user_info("oBin", "n", APPID, &[1u8; 16]);
    let v = api.post("/mina_auth/", json!({"interface": {"interfaceName": "qcloud.cam.id_skey", "para": {"code": "c-oBin", "encrypt_data": enc, "iv": iv}}})).await;
    assert_eq!(v["returnCode"], 0, "{v}");
    let skey = v["returnData"]["skey"].as_str().unwrap().to_owned();
    let sid = v["returnData"]["id"].as_str().unwrap();
    let c = api
        .post(
            "/mina_auth/",
            json!({"interface": {"interfaceName": "qcloud.cam.auth", "para": {"id": sid, "skey": skey}}}),
        )
        .await;
    assert_eq!(c["returnCode"], 0);
    let forged = api.post("/get/wsurl", signed_wsurl("http://127.0.0.1/tunnel", "guess")).await;
    assert_ne!(forged["code"], 0);

    // SIGTERM: graceful shutdown, the client gets `close`, the business server `close`.
    let pid = child.0.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    assert_eq!(next_text(&mut ws).await.as_deref(), Some("close"));
    assert_eq!(biz.next().await.kind, "close");
    let status = child.0.wait().unwrap();
    assert!(status.success(), "{status:?}");
    let mut logs = String::new();
    child.0.stderr.take().unwrap().read_to_string(&mut logs).unwrap();
    assert!(logs.contains("shutting down"), "{logs}");
    for secret in [SECRET, KEY, SESSION_KEY, skey.as_str()] {
        assert!(!logs.contains(secret), "a secret leaked into the logs: {secret}");
    }
    let _ = std::fs::remove_dir_all(&data);
}
