//! OAuth 2.0 client credentials against the Microsoft identity platform: the client secret or a
//! certificate-signed JWT assertion, and the cached access token.
//!
//! The assertion is signed with aws-lc-rs, the crypto provider reqwest's rustls already builds, so
//! certificate auth adds no second crypto library (no ring, no OpenSSL) and uses constant-time RSA.

use std::time::Duration;

use aws_lc_rs::{digest, rand as lc_rand, signature};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::time::Instant;

use super::error::{ErrorKind, GraphError, from_token_response};
use privtrail_model::Secret;

/// How long a client assertion is valid: Entra accepts up to 10 minutes.
const ASSERTION_LIFETIME: i64 = 600;
/// Refresh this long before the token expires, so a request never starts with a token about to die.
const REFRESH_MARGIN: Duration = Duration::from_secs(300);
/// The longest a token is cached, whatever `expires_in` says: Entra's tokens live 1 to 24 hours,
/// and a server's absurd value (2^63 s) must neither overflow the clock nor pin a revoked token.
pub const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// A certificate credential: the RSA key that signs assertions and the certificate's thumbprints,
/// which tell Entra which uploaded certificate to check the signature against.
pub struct ClientCertificate {
    key: signature::RsaKeyPair,
    /// base64url SHA-1 of the certificate DER (`x5t`).
    x5t: String,
    /// base64url SHA-256 of the certificate DER (`x5t#S256`).
    x5t_s256: String,
}

impl std::fmt::Debug for ClientCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCertificate")
            .field("x5t", &self.x5t)
            .field("key", &"[redacted]")
            .finish()
    }
}

impl ClientCertificate {
    /// Reads one PEM holding the private key (PKCS#8 `PRIVATE KEY` or PKCS#1 `RSA PRIVATE KEY`) and
    /// the certificate (the first `CERTIFICATE` section). Errors name what is missing, never the key.
    pub fn from_pem(pem: &Secret) -> Result<Self, String> {
        let bytes = pem.expose().as_bytes();
        let key = match PrivateKeyDer::from_pem_slice(bytes) {
            Ok(PrivateKeyDer::Pkcs8(k)) => signature::RsaKeyPair::from_pkcs8(k.secret_pkcs8_der()),
            Ok(PrivateKeyDer::Pkcs1(k)) => signature::RsaKeyPair::from_der(k.secret_pkcs1_der()),
            Ok(_) => return Err("the private key is not an RSA key (Entra needs RSA)".into()),
            Err(e) => return Err(format!("no readable private key in the PEM ({e})")),
        }
        .map_err(|e| format!("the private key is not a usable RSA key (2048-8192 bits): {e}"))?;
        let cert = CertificateDer::from_pem_slice(bytes)
            .map_err(|e| format!("no readable certificate in the PEM ({e})"))?;
        let sha1 = digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, cert.as_ref());
        let sha256 = digest::digest(&digest::SHA256, cert.as_ref());
        Ok(ClientCertificate {
            key,
            x5t: URL_SAFE_NO_PAD.encode(sha1.as_ref()),
            x5t_s256: URL_SAFE_NO_PAD.encode(sha256.as_ref()),
        })
    }

    /// The `x5t` header value: base64url SHA-1 thumbprint of the certificate.
    pub fn x5t(&self) -> &str {
        &self.x5t
    }

    /// A signed client assertion (RS256 JWT) for `client_id` at the token URL `audience`, valid
    /// from `now` for 10 minutes.
    pub fn assertion(
        &self,
        client_id: &str,
        audience: &str,
        now: DateTime<Utc>,
    ) -> Result<String, String> {
        let rng = lc_rand::SystemRandom::new();
        let mut jti = [0u8; 16];
        lc_rand::SecureRandom::fill(&rng, &mut jti).map_err(|_| "no randomness for jti")?;
        let header = serde_json::json!({
            "alg": "RS256", "typ": "JWT", "x5t": self.x5t, "x5t#S256": self.x5t_s256,
        });
        let iat = now.timestamp();
        let claims = serde_json::json!({
            "aud": audience, "iss": client_id, "sub": client_id,
            "jti": hex_lower(&jti), "nbf": iat, "iat": iat, "exp": iat + ASSERTION_LIFETIME,
        });
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let mut sig = vec![0u8; self.key.public_modulus_len()];
        self.key
            .sign(
                &signature::RSA_PKCS1_SHA256,
                &rng,
                signing_input.as_bytes(),
                &mut sig,
            )
            .map_err(|_| "RSA signing failed")?;
        Ok(format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(sig)))
    }
}

fn hex_lower(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// How the client proves who it is, parsed once at start-up so a bad PEM fails early.
#[derive(Debug)]
pub(crate) enum Signer {
    Secret(Secret),
    Certificate(ClientCertificate),
}

/// An access token and when to stop using it.
#[derive(Debug, Clone)]
pub(crate) struct Token {
    pub value: Secret,
    pub refresh_at: Instant,
}

/// What a token request needs from the settings.
pub(crate) struct TokenRequest<'a> {
    pub http: &'a reqwest::Client,
    pub token_url: &'a str,
    pub client_id: &'a str,
    pub scope: &'a str,
    pub tenant: &'a str,
    pub timeout: Duration,
}

/// One token request (no retry here: the caller's retry loop covers token and Graph requests alike).
pub(crate) async fn fetch(req: &TokenRequest<'_>, signer: &Signer) -> Result<Token, GraphError> {
    let endpoint = "oauth2/v2.0/token";
    let assertion;
    let mut form: Vec<(&str, &str)> = vec![
        ("grant_type", "client_credentials"),
        ("client_id", req.client_id),
        ("scope", req.scope),
    ];
    match signer {
        Signer::Secret(s) => form.push(("client_secret", s.expose())),
        Signer::Certificate(c) => {
            assertion = c
                .assertion(req.client_id, req.token_url, Utc::now())
                .map_err(|m| GraphError::new(ErrorKind::Config, endpoint, req.tenant, m))?;
            form.push((
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ));
            form.push(("client_assertion", &assertion));
        }
    }
    let started = Instant::now();
    let resp = req
        .http
        .post(req.token_url)
        .form(&form)
        .timeout(req.timeout)
        .send()
        .await
        .map_err(|e| super::client::network_error(&e, endpoint, req.tenant))?;
    let status = resp.status().as_u16();
    let retry_after = super::client::retry_after(resp.headers(), Utc::now());
    let body = super::client::read_body(resp, endpoint, req.tenant).await?;
    if status != 200 {
        return Err(from_token_response(status, &body, req.tenant, retry_after));
    }
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    let (Some(token), Some(expires_in)) = (
        v["access_token"].as_str(),
        v["expires_in"]
            .as_u64()
            .or_else(|| v["expires_in"].as_str().and_then(|s| s.parse().ok())),
    ) else {
        return Err(GraphError::new(
            ErrorKind::Malformed,
            endpoint,
            req.tenant,
            "token response lacks access_token or expires_in",
        ));
    };
    Ok(Token {
        value: Secret::new(token),
        refresh_at: refresh_at(started, expires_in),
    })
}

/// When to stop using a token issued at `started` for `expires_in` seconds.
fn refresh_at(started: Instant, expires_in: u64) -> Instant {
    let lifetime = Duration::from_secs(expires_in).min(MAX_TOKEN_LIFETIME);
    // Short-lived tokens (tests, odd clouds) still get half their life before a refresh.
    let margin = REFRESH_MARGIN.min(lifetime / 2);
    started
        .checked_add(lifetime.saturating_sub(margin))
        .unwrap_or(started)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_huge_expires_in_is_capped_not_overflowed() {
        let now = Instant::now();
        for huge in [1u64 << 63, u64::MAX] {
            let at = refresh_at(now, huge);
            assert_eq!(at, now + MAX_TOKEN_LIFETIME - REFRESH_MARGIN, "{huge}");
        }
        assert_eq!(refresh_at(now, 3600), now + Duration::from_secs(3300));
        assert_eq!(refresh_at(now, 60), now + Duration::from_secs(30));
        assert_eq!(refresh_at(now, 0), now);
    }
}
