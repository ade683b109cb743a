//! Certificate credentials: the client assertion is an RS256 JWT that the certificate's public key
//! verifies, with the thumbprint Entra looks the certificate up by.

mod graph_mock;

use aws_lc_rs::{digest, signature};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::Utc;
use graph_mock::{Mock, Resp, TEST_LIMIT};
use privtrail_ingest::graph::{ClientCertificate, Credential, ErrorKind, GraphClient, Secret};
use serde_json::{Value, json};

struct TestCert {
    key_pkcs8_pem: String,
    key_pkcs1_pem: String,
    cert_pem: String,
    cert_der: Vec<u8>,
    /// PKCS#1 RSAPublicKey DER.
    public_key: Vec<u8>,
}

fn make_cert() -> TestCert {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).expect("RSA key");
    let cert = rcgen::CertificateParams::new(vec!["privtrail-test".to_owned()])
        .expect("params")
        .self_signed(&key)
        .expect("cert");
    let pkcs1 = pkcs8_inner(&key.serialize_der());
    TestCert {
        key_pkcs8_pem: key.serialize_pem(),
        key_pkcs1_pem: pem("RSA PRIVATE KEY", &pkcs1),
        cert_pem: cert.pem(),
        cert_der: cert.der().to_vec(),
        public_key: key.public_key_raw().to_vec(),
    }
}

fn pem(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).expect("ascii"))
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

/// One DER TLV: (tag, content, rest).
fn tlv(b: &[u8]) -> (u8, &[u8], &[u8]) {
    let (tag, first) = (b[0], b[1] as usize);
    let (len, hdr) = if first < 0x80 {
        (first, 2)
    } else {
        let n = first & 0x7f;
        (
            b[2..2 + n]
                .iter()
                .fold(0usize, |a, x| (a << 8) | *x as usize),
            2 + n,
        )
    };
    (tag, &b[hdr..hdr + len], &b[hdr + len..])
}

/// The RSAPrivateKey (PKCS#1) inside a PKCS#8 PrivateKeyInfo.
fn pkcs8_inner(der: &[u8]) -> Vec<u8> {
    let (_, seq, _) = tlv(der);
    let (_, _version, rest) = tlv(seq);
    let (_, _alg, rest) = tlv(rest);
    let (tag, key, _) = tlv(rest);
    assert_eq!(tag, 0x04, "OCTET STRING");
    key.to_vec()
}

fn decode_part(s: &str) -> Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(s).expect("base64url")).expect("json")
}

/// Checks a client assertion as Entra would, returning its claims.
fn verify(jwt: &str, cert: &TestCert, client_id: &str, audience: &str) -> Value {
    let parts: Vec<&str> = jwt.split('.').collect();
    assert_eq!(parts.len(), 3);
    let header = decode_part(parts[0]);
    assert_eq!(header["alg"], "RS256");
    assert_eq!(header["typ"], "JWT");
    let sha1 = digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, &cert.cert_der);
    assert_eq!(header["x5t"], URL_SAFE_NO_PAD.encode(sha1.as_ref()));
    let sha256 = digest::digest(&digest::SHA256, &cert.cert_der);
    assert_eq!(header["x5t#S256"], URL_SAFE_NO_PAD.encode(sha256.as_ref()));
    // The certificate carries this public key (its SPKI wraps the PKCS#1 key)…
    assert!(
        cert.cert_der
            .windows(cert.public_key.len())
            .any(|w| w == cert.public_key)
    );
    // …and the key verifies the signature over `header.claims`.
    let sig = URL_SAFE_NO_PAD.decode(parts[2]).expect("sig");
    let signed = format!("{}.{}", parts[0], parts[1]);
    signature::UnparsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, &cert.public_key)
        .verify(signed.as_bytes(), &sig)
        .expect("signature verifies with the certificate's key");
    let claims = decode_part(parts[1]);
    assert_eq!(claims["aud"], audience);
    assert_eq!(claims["iss"], client_id);
    assert_eq!(claims["sub"], client_id);
    assert!(claims["jti"].as_str().is_some_and(|j| j.len() >= 16));
    let iat = claims["iat"].as_i64().expect("iat");
    assert_eq!(claims["nbf"].as_i64(), Some(iat));
    assert_eq!(claims["exp"].as_i64(), Some(iat + 600));
    assert!((iat - Utc::now().timestamp()).abs() < 60);
    // A tampered payload does not verify.
    let forged = format!(
        "{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(b"{\"aud\":\"x\"}")
    );
    assert!(
        signature::UnparsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, &cert.public_key)
            .verify(forged.as_bytes(), &sig)
            .is_err()
    );
    claims
}

#[tokio::test]
async fn certificate_assertion_reaches_the_token_endpoint_and_verifies() {
    tokio::time::timeout(TEST_LIMIT, async {
        let cert = make_cert();
        let mock = Mock::start(|r| {
            if r.is_token() {
                Resp::token("t1")
            } else {
                Resp::json(200, json!({"value": []}))
            }
        })
        .await;
        for key in [&cert.key_pkcs8_pem, &cert.key_pkcs1_pem] {
            let pem = Secret::new(format!("{key}{}", cert.cert_pem));
            let client = GraphClient::new(mock.settings_with(Credential::Certificate { pem }))
                .expect("client");
            client
                .get_json("/roleManagement/directory/roleDefinitions")
                .await
                .expect("get");
        }
        let tokens = mock.token_requests();
        assert_eq!(tokens.len(), 2);
        let audience = format!("{}/tenant-1/oauth2/v2.0/token", mock.base);
        let mut jtis = Vec::new();
        for t in &tokens {
            assert_eq!(t.form("client_secret"), None);
            assert_eq!(
                t.form("client_assertion_type").as_deref(),
                Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
            );
            let jwt = t.form("client_assertion").expect("assertion");
            jtis.push(verify(&jwt, &cert, "client-1", &audience)["jti"].clone());
        }
        assert_ne!(jtis[0], jtis[1], "jti is fresh per assertion");
    })
    .await
    .expect("test timed out");
}

#[test]
fn bad_pems_are_config_errors_that_do_not_echo_the_key() {
    let cert = make_cert();
    let only_key = Secret::new(cert.key_pkcs8_pem.clone());
    let err = ClientCertificate::from_pem(&only_key).unwrap_err();
    assert!(err.contains("certificate"), "{err}");
    let only_cert = Secret::new(cert.cert_pem.clone());
    assert!(
        ClientCertificate::from_pem(&only_cert)
            .unwrap_err()
            .contains("private key")
    );

    let mut s = privtrail_ingest::graph::TenantSettings::new(
        "t",
        "tenant-1",
        "c",
        Credential::Certificate { pem: only_key },
    );
    s.login_url = "http://127.0.0.1:9".into();
    let err = GraphClient::new(s).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Config);
    assert!(!err.message.contains("PRIVATE KEY"));

    let ok = ClientCertificate::from_pem(&Secret::new(format!(
        "{}{}",
        cert.cert_pem, cert.key_pkcs8_pem
    )))
    .expect("order does not matter");
    assert!(!format!("{ok:?}").contains("PRIVATE"));
    let jwt = ok.assertion("c", "aud", Utc::now()).expect("jwt");
    verify(&jwt, &cert, "c", "aud");
}
