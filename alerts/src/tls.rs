//! rustls client settings for TLS syslog, with the aws-lc-rs provider given explicitly (never the
//! process default, so no second provider can make rustls panic).

use std::path::Path;
use std::sync::Arc;

use rustls::ClientConfig;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

use crate::{ChannelConfig, ConfigError};

/// With `ca_file`: trust only the certificates in it. Without: the platform verifier.
pub(crate) fn client_config(
    config: &ChannelConfig,
    ca_file: Option<&Path>,
) -> Result<Arc<ClientConfig>, ConfigError> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| config.err("ca_file", format!("TLS set-up: {e}")))?;
    let tls = match ca_file {
        Some(path) => {
            let pem = crate::config::read_file(config, "ca_file", path)?;
            let mut roots = rustls::RootCertStore::empty();
            for cert in CertificateDer::pem_slice_iter(&pem) {
                let cert = cert.map_err(|e| config.err("ca_file", format!("not PEM: {e}")))?;
                roots
                    .add(cert)
                    .map_err(|e| config.err("ca_file", format!("bad certificate: {e}")))?;
            }
            if roots.is_empty() {
                return Err(config.err("ca_file", "holds no certificate"));
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        }
        None => {
            let verifier = rustls_platform_verifier::Verifier::new(provider)
                .map_err(|e| config.err("ca_file", format!("platform verifier: {e}")))?;
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(verifier))
                .with_no_client_auth()
        }
    };
    Ok(Arc::new(tls))
}
