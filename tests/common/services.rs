//! Real services for delivery tests: an SMTP server (Python's aiosmtpd, storing mail in a Maildir)
//! and rsyslog (TCP and TLS inputs writing what they receive to a file), started on 127.0.0.1 on
//! free ports and stopped when dropped. CI installs them (`.ci/run`) and sets
//! `PRIVTRAIL_REQUIRE_SERVICES=1`, which turns a missing tool into a failure instead of a skip.
#![allow(dead_code, clippy::unwrap_used)]

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Whether the tools exist; panics when they are required but missing.
pub fn available() -> bool {
    let python = Command::new("/usr/bin/python3")
        .args(["-c", "import aiosmtpd"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    let rsyslog = Path::new("/usr/sbin/rsyslogd").exists();
    let openssl = Command::new("openssl")
        .arg("version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    let ok = python && rsyslog && openssl;
    if !ok {
        let required = std::env::var("PRIVTRAIL_REQUIRE_SERVICES").is_ok_and(|v| v == "1");
        assert!(
            !required,
            "aiosmtpd {python}, rsyslogd {rsyslog}, openssl {openssl}: required by PRIVTRAIL_REQUIRE_SERVICES=1"
        );
        eprintln!("skipping: aiosmtpd, rsyslogd or openssl missing (install them as .ci/run does)");
    }
    ok
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_for_port(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("nothing listens on 127.0.0.1:{port}");
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// aiosmtpd with a Maildir.
pub struct Smtp {
    _child: Killed,
    pub port: u16,
    pub maildir: PathBuf,
}

impl Smtp {
    pub fn start(dir: &Path, port: u16) -> Smtp {
        let maildir = dir.join(format!("maildir-{port}"));
        let child = Command::new("/usr/bin/python3")
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
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let s = Smtp {
            _child: Killed(child),
            port,
            maildir,
        };
        wait_for_port(port);
        s
    }

    /// Every received message, as raw text.
    pub fn messages(&self) -> Vec<String> {
        let mut out = Vec::new();
        for sub in ["new", "cur"] {
            if let Ok(rd) = std::fs::read_dir(self.maildir.join(sub)) {
                for f in rd.flatten() {
                    out.push(std::fs::read_to_string(f.path()).unwrap());
                }
            }
        }
        out
    }
}

/// rsyslogd in the foreground with a TCP and a TLS input.
pub struct Rsyslog {
    _child: Killed,
    pub tcp_port: u16,
    pub tls_port: u16,
    pub ca: PathBuf,
    pub received: PathBuf,
}

impl Rsyslog {
    pub fn start(dir: &Path, tcp_port: u16, tls_port: u16) -> Rsyslog {
        let d = dir.join(format!("rsyslog-{tcp_port}"));
        std::fs::create_dir_all(d.join("work")).unwrap();
        // rustls refuses a self-signed certificate as the server's own ("CA used as end entity"):
        // make a small CA and a leaf certificate signed by it.
        let (ca, cert, key) = (d.join("ca.pem"), d.join("cert.pem"), d.join("key.pem"));
        std::fs::write(
            d.join("ext.cnf"),
            "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
        )
        .unwrap();
        // A restart (outage tests) keeps the certificates the clients were configured with.
        let fresh = !ca.exists();
        for args in [
            "req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=privtrail-test-ca -keyout ca.key -out ca.pem",
            "req -newkey rsa:2048 -nodes -subj /CN=localhost -keyout key.pem -out leaf.csr",
            "x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile ext.cnf -out cert.pem",
        ]
        .into_iter()
        .filter(|_| fresh)
        {
            let ok = Command::new("openssl")
                .args(args.split(' '))
                .current_dir(&d)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .unwrap();
            assert!(ok.success(), "openssl {args} failed");
        }
        let received = d.join("received.log");
        let conf = d.join("rsyslog.conf");
        std::fs::write(
            &conf,
            format!(
                r#"global(workDirectory="{w}" DefaultNetstreamDriverCAFile="{a}"
       DefaultNetstreamDriverCertFile="{c}" DefaultNetstreamDriverKeyFile="{k}")
module(load="imtcp")
template(name="raw" type="string" string="%rawmsg%\n")
ruleset(name="remote") {{ action(type="omfile" file="{r}" template="raw") }}
input(type="imtcp" address="127.0.0.1" port="{tcp}" ruleset="remote")
input(type="imtcp" address="127.0.0.1" port="{tls}" ruleset="remote"
      streamDriver.name="gtls" streamDriver.mode="1" streamDriver.authMode="anon")
"#,
                w = d.join("work").display(),
                a = ca.display(),
                c = cert.display(),
                k = key.display(),
                r = received.display(),
                tcp = tcp_port,
                tls = tls_port
            ),
        )
        .unwrap();
        let child = Command::new("/usr/sbin/rsyslogd")
            .args(["-n", "-f"])
            .arg(&conf)
            .arg("-i")
            .arg(d.join("rsyslog.pid"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let r = Rsyslog {
            _child: Killed(child),
            tcp_port,
            tls_port,
            ca,
            received,
        };
        wait_for_port(tcp_port);
        wait_for_port(tls_port);
        r
    }

    /// The received lines, waiting up to 10 s for at least `n` (rsyslog writes asynchronously).
    pub fn lines(&self, n: usize) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let text = std::fs::read_to_string(&self.received).unwrap_or_default();
            let lines: Vec<String> = text.lines().map(str::to_owned).collect();
            if lines.len() >= n || Instant::now() > deadline {
                return lines;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}
