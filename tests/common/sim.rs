//! The simulated Entra tenant (`privtrail sim graph`) as a child process, killed on drop.
#![allow(dead_code, clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::Env;

const SECRET: &str = "sim~Q8f.Zx3-privtrail-demo-secret";

/// A running simulator; killed on drop.
pub struct Sim {
    child: Child,
    pub url: String,
}

impl Sim {
    pub fn start(env: &Env, faults: serde_json::Value) -> Sim {
        let path = env
            .dir
            .path()
            .join(format!("faults-{}.json", rand_suffix()));
        std::fs::write(&path, faults.to_string()).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_privtrail"))
            .args(["sim", "graph", "--listen", "127.0.0.1:0", "--faults"])
            .arg(&path)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap()
            .to_owned();
        Sim { child, url }
    }

    /// `GET /_sim/stats`.
    pub fn stats(&self) -> serde_json::Value {
        let addr = self.url.trim_start_matches("http://");
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        write!(s, "GET /_sim/stats HTTP/1.0\r\nHost: {addr}\r\n\r\n").unwrap();
        let mut resp = String::new();
        s.read_to_string(&mut resp).unwrap();
        let body = resp.split("\r\n\r\n").nth(1).unwrap();
        serde_json::from_str(body).unwrap()
    }

    /// The `[[tenants]]` table of this tenant (named `contoso`).
    pub fn tenant_toml(&self) -> String {
        format!(
            "[[tenants]]\nname = \"contoso\"\ntenant_id = \"c0a7b1e2-5f3d-4e8a-9b6c-2d1e0f9a8b7c\"\n\
             client_id = \"4d2c9e1b-7a3f-4b5e-8c6d-1e0f2a3b4c5d\"\nclient_secret = \"{SECRET}\"\n\
             login_url = \"{u}\"\ngraph_url = \"{u}\"\nrate_requests = 1000\nrate_window = \"1s\"\n\
             retry_base = \"100ms\"\ntimeout = \"10s\"\n",
            u = self.url
        )
    }

    /// A config file holding only this tenant; its path.
    pub fn config(&self, env: &Env) -> String {
        let path = env
            .dir
            .path()
            .join(format!("privtrail-{}.toml", rand_suffix()));
        std::fs::write(&path, self.tenant_toml()).unwrap();
        path.display().to_string()
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}
