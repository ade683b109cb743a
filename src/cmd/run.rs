//! `privtrail run`: the daemon (see `privtrail_app::daemon`). This module only builds the runtime,
//! installs the signal handlers and turns the outcome into an exit status.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use privtrail_api::Listener;
use privtrail_app::App;
use privtrail_app::daemon::{self, RunOptions, Shutdown};

use crate::cli::RunArgs;

pub fn run(app: App, args: &RunArgs) -> Result<ExitCode> {
    // What is pushed or collected before the first rules run is not read back by it.
    app.feed_rules()?;
    let app = Arc::new(app);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("privtrail-rt")
        .enable_all()
        .build()?;
    let shutdown = Arc::new(Shutdown::new());
    let stats = rt.block_on(async {
        let s = Arc::clone(&shutdown);
        tokio::spawn(async move {
            wait_for_signal().await;
            s.trigger();
        });
        tracing::info!(
            data_dir = %app.data_dir().display(),
            pid = std::process::id(),
            once = args.once,
            "privtrail daemon"
        );
        // The API, the UI and the bulk endpoint, before the jobs start: a port in use is an
        // error at once, not after the first collection.
        let servers = if args.once {
            Vec::new()
        } else {
            start_http(&app, &shutdown).await?
        };
        let stats = daemon::run(
            Arc::clone(&app),
            Arc::clone(&shutdown),
            RunOptions { once: args.once },
        )
        .await;
        shutdown.trigger();
        let deadline = app
            .config()
            .daemon
            .shutdown_timeout
            .0
            .to_std()
            .unwrap_or_default();
        for s in servers {
            if tokio::time::timeout(deadline, s).await.is_err() {
                tracing::warn!(
                    "HTTP connections still open at the shutdown deadline; closing them"
                );
            }
        }
        anyhow::Ok(stats)
    });
    // Whatever happened, drain the writer (the batch in flight commits) and release the lock.
    app.close();
    rt.shutdown_timeout(Duration::from_secs(1));
    let stats = stats??;
    if args.once {
        for (job, s) in stats.snapshot() {
            match &s.last_error {
                Some(e) if s.failing => {
                    println!("{job}: FAILED: {}", crate::output::terminal_safe(e))
                }
                _ => println!("{job}: ok"),
            }
        }
        if stats.any_failed() {
            return Ok(ExitCode::from(1));
        }
    } else {
        tracing::info!("daemon stopped");
    }
    Ok(ExitCode::SUCCESS)
}

/// Binds the API/UI listener (and the Elasticsearch one when configured) and serves them until
/// the shutdown; the admin token is made on the first start.
async fn start_http(
    app: &Arc<App>,
    shutdown: &Arc<Shutdown>,
) -> Result<Vec<tokio::task::JoinHandle<()>>> {
    let http = &app.config().http;
    if !http.enabled {
        return Ok(Vec::new());
    }
    let tokens = privtrail_app::tokens::Tokens::new(app.data_dir());
    tokens.ensure_admin()?;
    let state = privtrail_api::ApiState::new(Arc::clone(app));
    let mut out = Vec::new();
    let l = Listener::bind(
        "the API",
        http.listen,
        http.cert.as_deref(),
        http.key.as_deref(),
    )
    .await
    .map_err(anyhow::Error::msg)?;
    let scheme = if l.is_tls() { "https" } else { "http" };
    tracing::info!(
        url = %format!("{scheme}://{}/", l.addr),
        "web UI and API listening (the token: privtrail token show)"
    );
    let s = Arc::clone(shutdown);
    out.push(tokio::spawn(privtrail_api::serve(
        l,
        privtrail_api::router(state.clone()),
        async move { s.wait().await },
    )));
    if let Some(es) = &http.elasticsearch {
        let l = Listener::bind(
            "the Elasticsearch bulk endpoint",
            es.listen,
            es.cert.as_deref(),
            es.key.as_deref(),
        )
        .await
        .map_err(anyhow::Error::msg)?;
        let scheme = if l.is_tls() { "https" } else { "http" };
        tracing::info!(url = %format!("{scheme}://{}/", l.addr), "Elasticsearch bulk endpoint listening");
        let s = Arc::clone(shutdown);
        out.push(tokio::spawn(privtrail_api::serve(
            l,
            privtrail_api::es_router(state),
            async move { s.wait().await },
        )));
    }
    Ok(out)
}

#[cfg(unix)]
async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => tracing::info!("SIGTERM"),
                _ = int.recv() => tracing::info!("SIGINT"),
            }
        }
        _ => {
            tracing::error!("cannot install the signal handlers; stop the daemon with SIGKILL");
            std::future::pending::<()>().await;
        }
    }
}

#[cfg(not(unix))]
async fn wait_for_signal() {
    let _ = tokio::signal::ctrl_c().await;
}
