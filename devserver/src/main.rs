//! `wafer-devserver`: the local Wafer dev server (see the library docs).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use wafer_devserver::{serve, Config};

const USAGE: &str = "\
Usage: wafer-devserver [OPTIONS]

Options:
  --port N            port to listen on (env PORT; default 8700; 0 = any free port)
  --host HOST         address to listen on (default 127.0.0.1)
  --session-ttl SECS  sessions expire after SECS seconds (default 7200)
  --heartbeat SECS    N of the `timeout:N` frame sent on each socket connect
                      (default 15; 0 = send none)
  --v2                answer in wafer2 shapes
  --static DIR        serve DIR at / (index.html for directories)
  --sdk DIR           serve DIR at /sdk/
  --quiet             no request log on stderr
  -h, --help          print this help
  -V, --version       print the version";

struct Cli {
    host: String,
    port: u16,
    config: Config,
}

fn parse_args(args: impl IntoIterator<Item = String>, env_port: Option<String>) -> Result<Option<Cli>, String> {
    let mut host = "127.0.0.1".to_owned();
    let mut port: Option<u16> = None;
    let mut config = Config::default();
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n.to_owned(), Some(v.to_owned())),
            _ => (arg.clone(), None),
        };
        let mut value = |what: &str| -> Result<String, String> {
            inline.clone().or_else(|| args.next()).ok_or_else(|| format!("{name} needs {what}"))
        };
        let number = |text: String, name: &str| -> Result<u64, String> {
            text.trim().parse::<u64>().map_err(|_| format!("{name}: not a number: {text}"))
        };
        match name.as_str() {
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(None);
            }
            "-V" | "--version" => {
                println!("wafer-devserver {}", env!("CARGO_PKG_VERSION"));
                return Ok(None);
            }
            "--port" => port = Some(parse_port(&value("a port")?)?),
            "--host" => host = value("a host")?,
            "--session-ttl" => config.session_ttl = Duration::from_secs(number(value("seconds")?, &name)?),
            "--heartbeat" => config.heartbeat = number(value("seconds")?, &name)?,
            "--static" => config.static_dir = Some(dir(value("a directory")?)?),
            "--sdk" => config.sdk_dir = Some(dir(value("a directory")?)?),
            "--v2" if inline.is_none() => config.v2 = true,
            "--quiet" if inline.is_none() => config.log = false,
            _ => return Err(format!("unknown argument: {arg}")),
        }
    }
    let port = match (port, env_port) {
        (Some(p), _) => p,
        (None, Some(p)) if !p.trim().is_empty() => parse_port(&p).map_err(|e| format!("PORT: {e}"))?,
        _ => 8700,
    };
    Ok(Some(Cli { host, port, config }))
}

fn parse_port(text: &str) -> Result<u16, String> {
    text.trim().parse().map_err(|_| format!("not a port: {text}"))
}

fn dir(path: String) -> Result<PathBuf, String> {
    let path = PathBuf::from(path);
    if path.is_dir() {
        Ok(path)
    } else {
        Err(format!("not a directory: {}", path.display()))
    }
}

/// Ctrl-C, or SIGTERM on Unix.
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = match parse_args(std::env::args().skip(1), std::env::var("PORT").ok()) {
        Ok(Some(cli)) => cli,
        Ok(None) => return ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("wafer-devserver: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let listener = match tokio::net::TcpListener::bind((cli.host.as_str(), cli.port)).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("wafer-devserver: cannot listen on {}:{}: {e}", cli.host, cli.port);
            return ExitCode::FAILURE;
        }
    };
    let server = match serve(listener, cli.config).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("wafer-devserver: {e}");
            return ExitCode::FAILURE;
        }
    };
    let port = server.local_addr().port();
    let host = if cli.host.contains(':') { format!("[{}]", cli.host) } else { cli.host };
    {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "Wafer dev server listening on http://{host}:{port}");
        let _ = out.flush();
    }
    let stop = server.stop_handle();
    tokio::spawn(async move {
        shutdown_signal().await;
        // Never `eprintln!`: with stderr gone (the parent died) it panics, and the stop with it.
        let _ = writeln!(std::io::stderr(), "wafer-devserver: shutting down");
        stop.stop();
    });
    match server.wait().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("wafer-devserver: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn defaults_and_env_port() {
        let cli = parse_args(args(&[]), None).unwrap().unwrap();
        assert_eq!((cli.host.as_str(), cli.port), ("127.0.0.1", 8700));
        assert_eq!(cli.config.heartbeat, 15);
        assert_eq!(cli.config.session_ttl, Duration::from_secs(7200));
        assert!(!cli.config.v2);
        assert_eq!(parse_args(args(&[]), Some("9000".into())).unwrap().unwrap().port, 9000);
        assert_eq!(parse_args(args(&["--port", "1"]), Some("9000".into())).unwrap().unwrap().port, 1);
    }

    #[test]
    fn options() {
        let cli = parse_args(
            args(&["--port=0", "--host", "::1", "--session-ttl", "5", "--heartbeat=0", "--v2", "--static", "."]),
            None,
        )
        .unwrap()
        .unwrap();
        assert_eq!((cli.host.as_str(), cli.port), ("::1", 0));
        assert_eq!(cli.config.session_ttl, Duration::from_secs(5));
        assert_eq!(cli.config.heartbeat, 0);
        assert!(cli.config.v2);
        assert_eq!(cli.config.static_dir, Some(PathBuf::from(".")));
    }

    #[test]
    fn errors() {
        for bad in [
            &["--port"][..],
            &["--port", "x"],
            &["--port", "70000"],
            &["--heartbeat", "-1"],
            &["--nope"],
            &["--v2=1"],
            &["--static", "/definitely/not/here"],
        ] {
            assert!(parse_args(args(bad), None).is_err(), "{bad:?}");
        }
        assert!(parse_args(args(&[]), Some("abc".into())).is_err());
    }
}
