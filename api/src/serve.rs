//! Serving a router on a TCP listener, plain or with rustls (the one aws-lc-rs provider), until a
//! shutdown future resolves. Connections in flight get the daemon's shutdown deadline to finish.

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::service::TowerToHyperService;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

/// A bound listener, with TLS when configured.
pub struct Listener {
    tcp: TcpListener,
    tls: Option<TlsAcceptor>,
    /// The address it is bound to (port 0 resolved).
    pub addr: SocketAddr,
}

impl std::fmt::Debug for Listener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Listener")
            .field("addr", &self.addr)
            .field("tls", &self.tls.is_some())
            .finish()
    }
}

impl Listener {
    /// Binds `addr`; with `cert` and `key` (PEM files) it speaks TLS. A non-loopback address
    /// without TLS is allowed but warned about (tokens would cross the network in clear).
    pub async fn bind(
        what: &str,
        addr: SocketAddr,
        cert: Option<&Path>,
        key: Option<&Path>,
    ) -> Result<Listener, String> {
        let tls = match (cert, key) {
            (Some(c), Some(k)) => Some(acceptor(c, k).map_err(|e| format!("{what}: {e}"))?),
            _ => None,
        };
        if tls.is_none() && !addr.ip().is_loopback() {
            tracing::warn!(
                listen = %addr,
                "{what} listens beyond this machine without TLS: tokens and events cross the network in clear (set cert and key)"
            );
        }
        let tcp = TcpListener::bind(addr)
            .await
            .map_err(|e| format!("{what}: cannot listen on {addr}: {e}"))?;
        let addr = tcp.local_addr().map_err(|e| format!("{what}: {e}"))?;
        Ok(Listener { tcp, tls, addr })
    }

    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }
}

fn acceptor(cert: &Path, key: &Path) -> Result<TlsAcceptor, String> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| format!("cannot read certificate {}: {e}", cert.display()))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("certificate {}: {e}", cert.display()))?;
    if certs.is_empty() {
        return Err(format!("{} holds no certificate", cert.display()));
    }
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| format!("private key {}: {e}", key.display()))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| format!("certificate and key do not go together: {e}"))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// Serves `router` on `listener` until `shutdown` resolves; then stops accepting and lets the
/// connections in flight finish (the caller bounds how long it waits for this future).
pub async fn serve(
    listener: Listener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let Some(tls) = listener.tls else {
        let r = axum::serve(listener.tcp, router)
            .with_graceful_shutdown(shutdown)
            .await;
        if let Err(e) = r {
            tracing::error!(error = %e, "HTTP server stopped");
        }
        return;
    };
    let tcp = listener.tcp;
    let mut shutdown = std::pin::pin!(shutdown);
    let mut conns = tokio::task::JoinSet::new();
    loop {
        let (stream, peer) = tokio::select! {
            r = tcp.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let tls = tls.clone();
        let service = TowerToHyperService::new(router.clone());
        conns.spawn(async move {
            // A client that never finishes its handshake is dropped.
            let handshake =
                tokio::time::timeout(std::time::Duration::from_secs(10), tls.accept(stream)).await;
            let stream = match handshake {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => {
                    tracing::debug!(%peer, error = %e, "TLS handshake failed");
                    return;
                }
                Err(_) => return,
            };
            let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            if let Err(e) = builder
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
        });
        // Reap finished connections as we go.
        while conns.try_join_next().is_some() {}
    }
    while conns.join_next().await.is_some() {}
}
