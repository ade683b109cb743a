#![allow(clippy::unwrap_used)]
mod common;

use common::channel;
use privtrail_alerts::{ChannelKind, ConfigError, build};

fn parse(text: &str) -> Result<privtrail_alerts::ChannelConfig, String> {
    #[derive(serde::Deserialize)]
    #[allow(dead_code)]
    struct Root {
        channels: Vec<privtrail_alerts::ChannelConfig>,
    }
    toml::from_str::<Root>(text)
        .map(|mut r| r.channels.remove(0))
        .map_err(|e| e.to_string())
}

#[test]
fn spec_shape_parses_with_common_keys() {
    let c = channel(
        r#"[[channels]]
name = "soc-mail"
type = "email"
host = "smtp.example.com"
from = "privtrail@example.com"
to = ["soc@example.com"]
password = "hunter2"
username = "u"
timezone = "Europe/Berlin"
digest = "1h"
max_attempts = 5
max_age = "2d"
rate_per_sec = 2.5
"#,
    );
    assert_eq!(c.name, "soc-mail");
    assert_eq!(c.max_attempts, Some(5));
    assert_eq!(
        c.digest_interval().unwrap(),
        Some(std::time::Duration::from_secs(3600))
    );
    let ChannelKind::Email(e) = &c.kind else {
        panic!()
    };
    assert!(!format!("{c:?}").contains("hunter2"));
    assert_eq!(e.password.as_ref().unwrap().expose(), "hunter2");
    let n = build(&c).unwrap();
    assert_eq!(n.name(), "soc-mail");
    assert_eq!(n.max_batch(), 1000);
}

#[test]
fn unknown_keys_and_types_are_rejected() {
    let e = parse("[[channels]]\nname = \"x\"\ntype = \"file\"\npath = \"/tmp/x\"\ncolour = 1\n")
        .unwrap_err();
    assert!(e.contains("colour"), "{e}");
    let e = parse("[[channels]]\nname = \"x\"\ntype = \"pager\"\n").unwrap_err();
    assert!(e.contains("pager"), "{e}");
}

fn build_err(text: &str) -> ConfigError {
    build(&channel(text)).err().expect("should be refused")
}

#[test]
fn validation_names_channel_and_field() {
    let e = build_err(
        "[[channels]]\nname = \"m\"\ntype = \"email\"\nhost = \"mail.example.com\"\nsecurity = \"none\"\nfrom = \"a@b.c\"\nto = [\"d@e.f\"]\n",
    );
    assert!(
        e.to_string().contains("\"m\"") && e.to_string().contains("security"),
        "{e}"
    );
    // Plain SMTP to a loopback host is fine.
    build(&channel("[[channels]]\nname = \"m\"\ntype = \"email\"\nhost = \"127.0.0.1\"\nsecurity = \"none\"\nfrom = \"a@b.c\"\nto = [\"d@e.f\"]\n")).unwrap();
    let e = build_err(
        "[[channels]]\nname = \"m\"\ntype = \"email\"\nhost = \"h\"\nfrom = \"not an address\"\nto = [\"d@e.f\"]\n",
    );
    assert!(e.to_string().contains("from"), "{e}");
    let e = build_err(
        "[[channels]]\nname = \"m\"\ntype = \"email\"\nhost = \"h\"\nfrom = \"a@b.c\"\nto = [\"d@e.f\"]\ntimezone = \"Mars/Olympus\"\n",
    );
    assert!(e.to_string().contains("timezone"), "{e}");
    let e = build_err(
        "[[channels]]\nname = \"w\"\ntype = \"webhook\"\nurl = \"ftp://x\"\nsecret = \"s\"\n",
    );
    assert!(e.to_string().contains("url"), "{e}");
    let e = build_err(
        "[[channels]]\nname = \"h\"\ntype = \"splunk_hec\"\nurl = \"https://splunk:8088\"\ntoken = \"t\"\nca_file = \"/nonexistent/ca.pem\"\n",
    );
    assert!(
        matches!(
            e,
            ConfigError::Unreadable {
                field: "ca_file",
                ..
            }
        ),
        "{e}"
    );
    let e = build_err(
        "[[channels]]\nname = \"s\"\ntype = \"syslog\"\nhost = \"h\"\ntransport = \"tcp\"\nca_file = \"/x\"\n",
    );
    assert!(e.to_string().contains("ca_file"), "{e}");
    let e = build_err(
        "[[channels]]\nname = \"s\"\ntype = \"syslog\"\nhost = \"h\"\nfacility = \"local9\"\n",
    );
    assert!(e.to_string().contains("facility"), "{e}");
    // Durations are typed when the file is read: a bad one never reaches `build`.
    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Root {
        channels: Vec<privtrail_alerts::ChannelConfig>,
    }
    let e = toml::from_str::<Root>(
        "[[channels]]\nname = \"f\"\ntype = \"file\"\npath = \"x\"\ntimeout = \"soon\"\n",
    )
    .expect_err("not a duration");
    assert!(e.to_string().contains("soon"), "{e}");
}

#[test]
fn teams_url_is_secret_and_rate_defaults_to_four() {
    let c = channel(
        "[[channels]]\nname = \"t\"\ntype = \"teams\"\nurl = \"https://example.com/wf?sig=SECRETSIG\"\n",
    );
    assert!(!format!("{c:?}").contains("SECRETSIG"));
    assert_eq!(c.effective_rate(), Some(4.0));
    build(&c).unwrap();
}
