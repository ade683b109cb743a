//! Which values of the config are secrets, and the warning when a file every user can read holds
//! one (SPEC §8).

use std::path::Path;

use privtrail_alerts::ChannelKind;

use super::Config;
use super::env::Expansion;
use crate::config::Secret;

impl Config {
    /// Every secret the config holds, with the key it is under. The channel match names every
    /// channel type, so a new one cannot be added without deciding what its secret is.
    pub fn secrets(&self) -> Vec<(String, &Secret)> {
        let mut out = Vec::new();
        for t in &self.tenants {
            if let Some(s) = &t.client_secret {
                out.push((format!("[[tenants]] {:?} client_secret", t.name), s));
            }
        }
        if let Some(k) = &self.integrity.key {
            out.push(("[integrity] key".to_owned(), k));
        }
        for c in &self.channels {
            let (key, secret) = match &c.kind {
                ChannelKind::Email(e) => ("password", e.password.as_ref()),
                // The Workflows URL's `sig=` is what lets anyone post into the channel.
                ChannelKind::Teams(t) => ("url", Some(&t.url)),
                ChannelKind::SplunkHec(h) => ("token", Some(&h.token)),
                ChannelKind::Webhook(w) => ("secret", Some(&w.secret)),
                ChannelKind::Syslog(_) | ChannelKind::File(_) => continue,
            };
            if let Some(s) = secret {
                out.push((format!("[[channels]] {:?} {key}", c.name), s));
            }
        }
        out
    }

    /// Files named by the config that hold private keys.
    pub fn key_files(&self) -> Vec<(String, &Path)> {
        let mut out: Vec<(String, &Path)> = Vec::new();
        for t in &self.tenants {
            if let Some(p) = &t.certificate {
                out.push((format!("[[tenants]] {:?} certificate", t.name), p));
            }
        }
        let es = self.http.elasticsearch.as_ref();
        for (what, p) in [
            ("[http] key", self.http.key.as_ref()),
            ("[http.elasticsearch] key", es.and_then(|e| e.key.as_ref())),
        ] {
            if let Some(p) = p {
                out.push((what.to_owned(), p.as_path()));
            }
        }
        out
    }
}

/// What is unsafe about the config file at `path`: secrets written in it (rather than taken from
/// `${NAME}`s) while every user can read it, and private key files every user can read. Names
/// keys and files, never values.
pub(super) fn warnings(config: &Config, expansion: &Expansion, path: &Path) -> Vec<String> {
    let mut out = Vec::new();
    if world_readable(path) {
        let written: Vec<String> = config
            .secrets()
            .into_iter()
            .filter(|(_, s)| expansion.is_written(s.expose()))
            .map(|(key, _)| key)
            .collect();
        if !written.is_empty() {
            out.push(format!(
                "the config file holds secrets ({}) and is readable by every user: chmod 600 it, \
                 or take them from the environment with \"${{NAME}}\"",
                written.join(", ")
            ));
        }
    }
    for (key, file) in config.key_files() {
        if world_readable(file) {
            out.push(format!(
                "{key} {} holds a private key and is readable by every user: chmod 600 it",
                file.display()
            ));
        }
    }
    out
}

#[cfg(unix)]
fn world_readable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o004 != 0)
}

#[cfg(not(unix))]
fn world_readable(_: &Path) -> bool {
    false
}
