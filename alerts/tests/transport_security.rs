//! Where channel secrets may travel and who may read what a channel writes (SPEC §8): `http://`
//! only to loopback for Teams, Splunk HEC and webhooks; the file channel's output 0600 in folders
//! it creates 0700.
#![allow(clippy::unwrap_used)]
mod common;

use common::{alert_msg, channel};
use privtrail_alerts::build;

/// A channel table of `kind` at `url`, with that kind's secret.
fn http_channel(kind: &str, url: &str) -> String {
    match kind {
        "teams" => format!("[[channels]]\nname = \"c\"\ntype = \"teams\"\nurl = \"{url}\"\n"),
        "splunk_hec" => format!(
            "[[channels]]\nname = \"c\"\ntype = \"splunk_hec\"\nurl = \"{url}\"\ntoken = \"hec-token\"\n"
        ),
        _ => format!(
            "[[channels]]\nname = \"c\"\ntype = \"webhook\"\nurl = \"{url}\"\nsecret = \"hook-key\"\n"
        ),
    }
}

#[test]
fn plain_http_to_a_remote_host_is_refused_for_every_http_channel() {
    for kind in ["teams", "splunk_hec", "webhook"] {
        for url in [
            "http://hooks.example.com/workflows/x?sig=SIGNATURE-SECRET",
            "http://10.0.0.5:8088",
            "HTTP://Splunk.Example.com",
            "ftp://files.example.com/x?sig=SIGNATURE-SECRET",
        ] {
            let err = build(&channel(&http_channel(kind, url)))
                .err()
                .unwrap_or_else(|| panic!("{kind} accepted {url}"));
            let text = err.to_string();
            assert!(text.contains("`url`"), "{kind}: {text}");
            assert!(
                !text.contains("SIGNATURE-SECRET"),
                "{kind} echoed the URL: {text}"
            );
        }
        for url in [
            "https://hooks.example.com/x?sig=s",
            "http://127.0.0.1:9000/x",
            "http://localhost:8088",
            "http://[::1]:8088",
        ] {
            assert!(
                build(&channel(&http_channel(kind, url))).is_ok(),
                "{kind} refused {url}"
            );
        }
    }
}

#[cfg(unix)]
#[tokio::test]
async fn the_file_channel_creates_its_output_0600_in_a_0700_folder() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("new/alerts.jsonl");
    let n = build(&channel(&format!(
        "[[channels]]\nname = \"f\"\ntype = \"file\"\npath = {:?}\n",
        path.to_str().unwrap()
    )))
    .unwrap();
    n.send(&[alert_msg(1)]).await.unwrap();
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(&dir.path().join("new")), 0o700);
    n.send(&[alert_msg(2)]).await.unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 2);
}
