#![allow(clippy::unwrap_used)]
//! Against real servers when the machine has them: aiosmtpd (SMTP) and rsyslog (TCP + TLS).
//! With `PRIVTRAIL_REQUIRE_SERVICES=1` a missing tool fails the test; otherwise it is skipped.
mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{alert_msg, channel, event_msg, free_port, have};
use privtrail_alerts::build;

struct Kill(Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_port(port: u16) {
    let until = Instant::now() + Duration::from_secs(15);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < until, "port {port} never opened");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let until = Instant::now() + Duration::from_secs(15);
    while !f() {
        assert!(Instant::now() < until, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn email_through_aiosmtpd() {
    let ok = Command::new("/usr/bin/python3")
        .args(["-c", "import aiosmtpd"])
        .status()
        .is_ok_and(|s| s.success());
    if !have("python3-aiosmtpd", ok) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let maildir = dir.path().join("maildir");
    let port = free_port();
    let _server = Kill(
        Command::new("/usr/bin/python3")
            .args([
                "-m",
                "aiosmtpd",
                "-n",
                "-l",
                &format!("127.0.0.1:{port}"),
                "-c",
                "aiosmtpd.handlers.Mailbox",
            ])
            .arg(&maildir)
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_port(port);
    let n = build(&channel(&format!(
        "[[channels]]\nname = \"mail\"\ntype = \"email\"\nhost = \"127.0.0.1\"\nport = {port}\nsecurity = \"none\"\nfrom = \"privtrail <privtrail@example.com>\"\nto = [\"soc@example.com\"]\ncc = [\"lead@example.com\"]\ntimezone = \"Europe/Berlin\"\n"
    )))
    .unwrap();
    n.send(&[alert_msg(1)]).await.unwrap();
    let e = n.send(&[event_msg(2)]).await.unwrap_err();
    assert!(!e.retriable);
    let new = maildir.join("new");
    wait_for("a mail", || {
        std::fs::read_dir(&new).is_ok_and(|d| d.count() == 1)
    });
    let file = std::fs::read_dir(&new)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let mail = std::fs::read_to_string(file).unwrap();
    let unfolded = mail.replace("\r\n ", " ").replace("\n ", " ");
    assert!(unfolded.contains("Subject: [privtrail] HIGH standing-access: alice holds <Global Administrator> & never gave it back"), "{mail}");
    assert!(
        mail.contains("To: soc@example.com") && mail.contains("Cc: lead@example.com"),
        "{mail}"
    );
    assert!(
        mail.contains(&format!(
            "Message-ID: {}",
            privtrail_alerts::email::message_id(&["key-1"])
        )),
        "{mail}"
    );
    assert!(mail.contains("multipart/alternative"), "{mail}");
    assert!(
        mail.contains("Content-Type: text/plain") && mail.contains("Content-Type: text/html"),
        "{mail}"
    );
    // Undo quoted-printable soft breaks and `=3D` before looking into the HTML part.
    let decoded = mail
        .replace("=\r\n", "")
        .replace("=\n", "")
        .replace("=3D", "=");
    assert!(
        decoded.contains("&lt;Global Administrator&gt; &amp; never"),
        "HTML escaped: {mail}"
    );
    assert!(
        decoded.contains("2026-11-26 10:00:00 UTC (2026-11-26 11:00:00 CET)"),
        "{mail}"
    );
}

fn rsyslog_conf(dir: &Path, plain: u16, tls: u16) -> String {
    let d = dir.display();
    format!(
        r#"global(workDirectory="{d}/work" DefaultNetstreamDriverCAFile="{d}/ca.pem"
       DefaultNetstreamDriverCertFile="{d}/cert.pem" DefaultNetstreamDriverKeyFile="{d}/key.pem")
module(load="imtcp")
template(name="raw" type="string" string="%rawmsg%\n")
ruleset(name="remote") {{ action(type="omfile" file="{d}/received.log" template="raw") }}
input(type="imtcp" address="127.0.0.1" port="{plain}" ruleset="remote")
input(type="imtcp" address="127.0.0.1" port="{tls}" ruleset="remote"
      streamDriver.name="gtls" streamDriver.mode="1" streamDriver.authMode="anon")
"#
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn syslog_tcp_and_tls_through_rsyslog() {
    let ok = Command::new("rsyslogd")
        .arg("-v")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
        && Command::new("openssl")
            .arg("version")
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
    if !have("rsyslog + openssl", ok) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir(d.join("work")).unwrap();
    // A test CA and a leaf for 127.0.0.1 signed by it (rustls refuses a CA certificate as the leaf).
    let openssl = |args: &str| {
        let st = Command::new("openssl")
            .args(args.split(' '))
            .current_dir(d)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert!(st.success(), "openssl {args}");
    };
    openssl(
        "req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=privtrail-test-ca -keyout ca.key -out ca.pem",
    );
    openssl("req -newkey rsa:2048 -nodes -subj /CN=localhost -keyout key.pem -out leaf.csr");
    std::fs::write(
        d.join("ext.cnf"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
    )
    .unwrap();
    openssl(
        "x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile ext.cnf -out cert.pem",
    );
    let (plain, tls) = (free_port(), free_port());
    std::fs::write(d.join("rsyslog.conf"), rsyslog_conf(d, plain, tls)).unwrap();
    let _server = Kill(
        Command::new("rsyslogd")
            .arg("-n")
            .arg("-f")
            .arg(d.join("rsyslog.conf"))
            .arg("-i")
            .arg(d.join("rsyslog.pid"))
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_port(plain);
    // This probe is a plain TCP connect to the TLS port: rsyslog logs a handshake error for it.
    wait_port(tls);
    let conf = |transport: &str, port: u16, extra: &str| {
        build(&channel(&format!(
            "[[channels]]\nname = \"s\"\ntype = \"syslog\"\ntransport = \"{transport}\"\nhost = \"127.0.0.1\"\nport = {port}\nhostname = \"collector1\"\n{extra}"
        )))
        .unwrap()
    };
    conf("tcp", plain, "")
        .send(&[alert_msg(1), event_msg(2)])
        .await
        .unwrap();
    let ca = format!("ca_file = {:?}\n", d.join("ca.pem").to_str().unwrap());
    conf("tls", tls, &ca).send(&[alert_msg(3)]).await.unwrap();
    let log = d.join("received.log");
    wait_for("3 lines in received.log", || {
        std::fs::read_to_string(&log).is_ok_and(|t| t.lines().count() >= 3)
    });
    let text = std::fs::read_to_string(&log).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines.sort_by_key(|l| l.contains("key-3"));
    assert_eq!(lines.len(), 3, "{text}");
    assert!(
        lines[0].starts_with("<83>1 2026-11-26T10:05:00.500Z collector1 privtrail "),
        "{text}"
    );
    assert!(
        lines[0].contains(" alert [privtrail@32473 id=\"a-1\"] CEF:0|privtrail|privtrail|"),
        "{text}"
    );
    assert!(lines[0].ends_with("externalId=key-1"), "{text}");
    assert!(
        lines[1].starts_with("<86>1 2026-11-26T09:00:00.000Z collector1 privtrail "),
        "{text}"
    );
    assert!(
        lines[1].ends_with("outcome=success externalId=key-2"),
        "{text}"
    );
    assert!(
        lines[2].contains(" alert [privtrail@32473 id=\"a-3\"] CEF:0|"),
        "TLS: {text}"
    );
    // A proper TLS close: rsyslog's own log would otherwise show GnuTLS error -110.
}
