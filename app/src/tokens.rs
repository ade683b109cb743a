//! API tokens: `tokens.json` in the data directory (mode 0600).
//!
//! The `admin` token is created on the daemon's first start and kept in the file itself, so that
//! `privtrail token show` can print it for scripts; `token rotate` replaces it. Named tokens with a
//! [`Role`] (`token add NAME --role reader|reviewer|ingest`) are shown once when made and kept only
//! as SHA-256 digests. A presented token is hashed and compared in constant time with every
//! digest. The file is re-read when it changes, so a rotation takes effect in a running daemon.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{AppError, Result};

/// The file's name in the data directory.
pub const TOKENS_FILE: &str = "tokens.json";

/// What a token may do. Ordered by what each includes: `Reader < Reviewer < Admin`; `Ingest` may only
/// push events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Search and list.
    Reader,
    /// Also acknowledge and resolve alerts.
    Reviewer,
    /// Only push events (agents).
    Ingest,
    /// Everything.
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Reader => "reader",
            Role::Reviewer => "reviewer",
            Role::Ingest => "ingest",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s.trim() {
            "reader" => Some(Role::Reader),
            "reviewer" => Some(Role::Reviewer),
            "ingest" => Some(Role::Ingest),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }

    /// Whether this role may read (search, list, export).
    pub fn can_read(self) -> bool {
        matches!(self, Role::Reader | Role::Reviewer | Role::Admin)
    }

    /// Whether this role may acknowledge and resolve alerts.
    pub fn can_review(self) -> bool {
        matches!(self, Role::Reviewer | Role::Admin)
    }

    /// Whether this role may push events.
    pub fn can_ingest(self) -> bool {
        matches!(self, Role::Ingest | Role::Admin)
    }
}

/// One token as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredToken {
    name: String,
    role: Role,
    /// SHA-256 of the token, hex.
    sha256: String,
    /// The token itself: kept for `admin` only (`token show`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    token: Option<String>,
    created_at: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct File {
    tokens: Vec<StoredToken>,
}

/// Who a presented token belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenOwner {
    pub name: String,
    pub role: Role,
}

/// A token's owner and the SHA-256 of the token.
type Digest32 = (String, Role, [u8; 32]);

/// The digests as read, with the file's bytes they were read from.
type Cache = (Option<Vec<u8>>, Vec<Digest32>);

/// The tokens of a data directory, re-read when the file changes.
#[derive(Debug)]
pub struct Tokens {
    path: PathBuf,
    /// The digests, with the file's bytes they were read from (compared on every check: a
    /// rotation takes effect at once, whatever the file system's time stamps).
    cache: Mutex<Cache>,
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// A new random token: `pt_` and 32 random bytes in hex.
fn new_token() -> Result<String> {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).map_err(|e| AppError::failed("no random source for a token", e))?;
    Ok(format!("pt_{}", hex::encode(b)))
}

/// Constant-time equality of two digests (no early exit on the first difference).
fn same(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl Tokens {
    /// The tokens of `data_dir` (the file need not exist yet).
    pub fn new(data_dir: &Path) -> Tokens {
        Tokens {
            path: data_dir.join(TOKENS_FILE),
            cache: Mutex::new((None, Vec::new())),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn read(&self) -> Result<File> {
        match std::fs::read_to_string(&self.path) {
            Ok(text) => serde_json::from_str(&text).map_err(AppError::json(format!(
                "{} is not a privtrail tokens file",
                self.path.display()
            ))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(File::default()),
            Err(e) => Err(AppError::io("read", &self.path)(e)),
        }
    }

    /// Writes the file atomically with mode 0600.
    fn write(&self, f: &File) -> Result<()> {
        let text = serde_json::to_string_pretty(f).map_err(AppError::json("tokens"))?;
        let tmp = self.path.with_extension("json.tmp");
        let mut o = std::fs::OpenOptions::new();
        o.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            o.mode(0o600);
        }
        let mut file = o.open(&tmp).map_err(AppError::io("create", &tmp))?;
        // `mode` applies only when the file is created: a leftover temporary file keeps its own.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            file.set_permissions(std::fs::Permissions::from_mode(0o600))
                .map_err(AppError::io("chmod", &tmp))?;
        }
        std::io::Write::write_all(&mut file, text.as_bytes())
            .map_err(AppError::io("write", &tmp))?;
        file.sync_all().map_err(AppError::io("sync", &tmp))?;
        std::fs::rename(&tmp, &self.path).map_err(AppError::io("replace", &self.path))?;
        Ok(())
    }

    /// The admin token, created (and saved) when there is none yet.
    pub fn ensure_admin(&self) -> Result<String> {
        let mut f = self.read()?;
        if let Some(t) = f
            .tokens
            .iter()
            .find(|t| t.role == Role::Admin && t.name == "admin")
            .and_then(|t| t.token.clone())
        {
            return Ok(t);
        }
        let token = new_token()?;
        f.tokens.retain(|t| t.name != "admin");
        f.tokens.push(stored("admin", Role::Admin, &token, true));
        self.write(&f)?;
        Ok(token)
    }

    /// The admin token, if one was made.
    pub fn admin(&self) -> Result<Option<String>> {
        Ok(self
            .read()?
            .tokens
            .into_iter()
            .find(|t| t.name == "admin")
            .and_then(|t| t.token))
    }

    /// Replaces the token named `name` (default `admin`) with a new one, which is returned.
    pub fn rotate(&self, name: &str) -> Result<String> {
        let mut f = self.read()?;
        let role = match f.tokens.iter().find(|t| t.name == name) {
            Some(t) => t.role,
            None if name == "admin" => Role::Admin,
            None => return Err(AppError::NotFound(format!("no token named {name:?}"))),
        };
        let token = new_token()?;
        f.tokens.retain(|t| t.name != name);
        f.tokens.push(stored(name, role, &token, name == "admin"));
        self.write(&f)?;
        Ok(token)
    }

    /// Makes a named token with `role`; it is returned once and kept only as a digest.
    pub fn add(&self, name: &str, role: Role) -> Result<String> {
        let ok = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.@".contains(c));
        if !ok || name == "admin" {
            return Err(AppError::Usage(format!(
                "token name {name:?}: letters, digits and - _ . @ only (and not `admin`)"
            )));
        }
        let mut f = self.read()?;
        if f.tokens.iter().any(|t| t.name == name) {
            return Err(AppError::Usage(format!(
                "a token named {name:?} exists (rotate it, or remove it first)"
            )));
        }
        let token = new_token()?;
        f.tokens.push(stored(name, role, &token, false));
        self.write(&f)?;
        Ok(token)
    }

    /// Removes the token named `name`; `false` when there is none.
    pub fn remove(&self, name: &str) -> Result<bool> {
        let mut f = self.read()?;
        let before = f.tokens.len();
        f.tokens.retain(|t| t.name != name);
        if f.tokens.len() == before {
            return Ok(false);
        }
        self.write(&f)?;
        Ok(true)
    }

    /// `(name, role, created_at)` of every token.
    pub fn list(&self) -> Result<Vec<(String, Role, String)>> {
        Ok(self
            .read()?
            .tokens
            .into_iter()
            .map(|t| (t.name, t.role, t.created_at))
            .collect())
    }

    /// Who `presented` belongs to, if anyone (the file is re-read when it changed).
    pub fn verify(&self, presented: &str) -> Option<TokenOwner> {
        let d = digest(presented.trim());
        let bytes = std::fs::read(&self.path).ok();
        let mut cache = self
            .cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if cache.0 != bytes {
            let parsed = bytes
                .as_deref()
                .map(serde_json::from_slice::<File>)
                .transpose();
            match parsed {
                Ok(f) => {
                    let list = f
                        .unwrap_or_default()
                        .tokens
                        .into_iter()
                        .filter_map(|t| {
                            let mut h = [0u8; 32];
                            hex::decode_to_slice(&t.sha256, &mut h).ok()?;
                            Some((t.name, t.role, h))
                        })
                        .collect();
                    *cache = (bytes, list);
                }
                Err(e) => {
                    tracing::error!(error = %e, "tokens file unreadable: every token is refused");
                    *cache = (bytes, Vec::new());
                }
            }
        }
        // Compare with every digest, not stopping at the first match.
        let mut found = None;
        for (name, role, h) in &cache.1 {
            if same(h, &d) && found.is_none() {
                found = Some(TokenOwner {
                    name: name.clone(),
                    role: *role,
                });
            }
        }
        found
    }
}

fn stored(name: &str, role: Role, token: &str, keep: bool) -> StoredToken {
    StoredToken {
        name: name.to_owned(),
        role,
        sha256: hex::encode(digest(token)),
        token: keep.then(|| token.to_owned()),
        created_at: chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_is_made_once_rotated_and_named_tokens_have_roles() {
        let dir = tempfile::tempdir().expect("tempdir");
        let t = Tokens::new(dir.path());
        assert_eq!(t.admin().ok().flatten(), None);
        let a = t.ensure_admin().expect("admin");
        assert_eq!(t.ensure_admin().ok(), Some(a.clone()), "made once");
        assert_eq!(t.verify(&a).map(|o| o.role), Some(Role::Admin));
        let r = t.add("winlogbeat", Role::Ingest).expect("add");
        assert_eq!(t.verify(&r).map(|o| o.name), Some("winlogbeat".into()));
        assert!(
            t.add("winlogbeat", Role::Reader).is_err(),
            "names are unique"
        );
        assert!(t.add("bad name", Role::Reader).is_err());
        let b = t.rotate("admin").expect("rotate");
        assert_ne!(a, b);
        assert_eq!(t.verify(&a), None, "the old token no longer works");
        assert_eq!(t.verify(&b).map(|o| o.role), Some(Role::Admin));
        assert_eq!(t.verify("pt_wrong"), None);
        assert!(t.remove("winlogbeat").expect("remove"));
        assert_eq!(t.verify(&r), None);
        // Only the admin token is kept in clear.
        let text = std::fs::read_to_string(t.path()).expect("file");
        assert!(text.contains(&b));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(t.path())
                .expect("meta")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[cfg(unix)]
    #[test]
    fn the_token_file_is_0600_even_over_a_leftover_world_readable_temporary_file() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let t = Tokens::new(dir.path());
        let tmp = t.path().with_extension("json.tmp");
        std::fs::write(&tmp, "{}").expect("leftover");
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        t.ensure_admin().expect("admin");
        let mode = std::fs::metadata(t.path())
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
