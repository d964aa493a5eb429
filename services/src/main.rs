//! `wafer-services`: the self-hosted Wafer tunnel and session services (see the library docs).

use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;
use wafer_services::{serve, Args, Settings};

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
        () = ctrl_c => {}
        () = term => {}
    }
}

fn main() -> ExitCode {
    let settings = match Settings::from_args(Args::parse()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("wafer-services: bad configuration: {e}");
            return ExitCode::from(2);
        }
    };
    let filter = match EnvFilter::try_new(&settings.log) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("wafer-services: bad configuration: --log: {e}");
            return ExitCode::from(2);
        }
    };
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt().with_env_filter(filter).with_ansi(ansi).with_writer(std::io::stderr).init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("wafer-services: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        let listener = match tokio::net::TcpListener::bind(settings.listen).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("wafer-services: cannot listen on {}: {e}", settings.listen);
                return ExitCode::FAILURE;
            }
        };
        let server = match serve(listener, settings).await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("wafer-services: {e}");
                return ExitCode::FAILURE;
            }
        };
        println!("{}", server.ready_line());
        let signal = async {
            shutdown_signal().await;
            tracing::info!("shutting down");
        };
        signal.await;
        match server.shutdown().await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("wafer-services: {e}");
                ExitCode::FAILURE
            }
        }
    })
}
