//! The text of `reg query` as Windows prints it: for each key a line with its path
//! (`HKEY_LOCAL_MACHINE\SOFTWARE\Org\AdminAccessAudit`, or `\\HOST\HKEY_LOCAL_MACHINE\…` when a
//! remote key was queried), then its values as `    Name    REG_SZ    Value` lines; subkeys listed
//! without values; `/s` repeats that for every subkey.
//!
//! Besides that, header lines name the host for the keys after them: `# host: WS-0142`,
//! `Host: WS-0142`, `ComputerName=WS-0142` (also after `;` or `//`); other comment lines, the echoed
//! `reg query …` command and `End of search: …` are ignored.

/// One key with its values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RegKey {
    /// 1-based line of the key path.
    pub line: usize,
    /// The key path as printed.
    pub path: String,
    /// The host of a remote key path (`\\HOST\…`), else of the last header line before it.
    pub host: Option<String>,
    pub values: Vec<RegValue>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RegValue {
    pub line: usize,
    pub name: String,
    pub kind: String,
    pub data: String,
}

/// What a `reg query` text holds: keys, and lines that fit nowhere (1-based line, text).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct RegQuery {
    pub keys: Vec<RegKey>,
    pub unrecognized: Vec<(usize, String)>,
}

const ROOTS: [&str; 2] = ["HKEY_LOCAL_MACHINE\\", "HKLM\\"];

fn starts_with_ci(s: &str, p: &str) -> bool {
    s.len() >= p.len() && s.is_char_boundary(p.len()) && s[..p.len()].eq_ignore_ascii_case(p)
}

/// A key path line: `(remote host, path)`.
pub(crate) fn key_line(line: &str) -> Option<(Option<String>, &str)> {
    let t = line.trim_end();
    if t.starts_with(char::is_whitespace) {
        return None;
    }
    if let Some(rest) = t.strip_prefix("\\\\") {
        let (host, after) = rest.split_once('\\')?;
        let host = host.trim();
        if host.is_empty() || !ROOTS.iter().any(|r| starts_with_ci(after, r)) {
            return None;
        }
        return Some((Some(host.to_owned()), t));
    }
    ROOTS
        .iter()
        .any(|r| starts_with_ci(t, r))
        .then_some((None, t))
}

/// A value line: `(name, type, data)`. Indented; the type is `REG_…` between runs of blanks.
pub(crate) fn value_line(line: &str) -> Option<(String, String, String)> {
    if !line.starts_with([' ', '\t']) {
        return None;
    }
    let t = line.trim();
    let mut search = 0;
    while let Some(i) = t[search..].find("REG_").map(|i| i + search) {
        search = i + 4;
        let before = &t[..i];
        if !before.ends_with([' ', '\t']) {
            continue;
        }
        let rest = &t[i..];
        let end = rest
            .find(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
            .unwrap_or(rest.len());
        let after = &rest[end..];
        if end <= 4 || !(after.is_empty() || after.starts_with([' ', '\t'])) {
            continue;
        }
        let name = before.trim();
        if name.is_empty() {
            continue;
        }
        return Some((
            name.to_owned(),
            rest[..end].to_owned(),
            after.trim().to_owned(),
        ));
    }
    None
}

/// A header or ignorable line: `Some(Some(host))` when it names a host, `Some(None)` when it is a
/// comment, the echoed command or a trailer; `None` for anything else.
pub(crate) fn header_line(line: &str) -> Option<Option<String>> {
    let t = line.trim();
    let (comment, body) = match ["#", ";", "//"].iter().find_map(|c| t.strip_prefix(c)) {
        Some(rest) => (true, rest.trim()),
        None => (false, t),
    };
    let lower = body.to_ascii_lowercase();
    for k in ["computername", "hostname", "computer", "machine", "host"] {
        if let Some(rest) = lower.strip_prefix(k) {
            let rest = rest.trim_start();
            if rest.starts_with([':', '=']) {
                let value = &body[body.len() - rest.len() + 1..];
                return Some(super::normalize::clean_host(value));
            }
        }
    }
    let ignorable = comment
        || lower.starts_with("end of search:")
        || lower.contains("reg query ")
        || lower.contains("reg.exe query ");
    ignorable.then_some(None)
}

/// Parse the whole text (BOM and CR already harmless: lines are trimmed at their end).
pub(crate) fn parse(text: &str) -> RegQuery {
    let mut out = RegQuery::default();
    let mut header_host: Option<String> = None;
    for (i, line) in text.trim_start_matches('\u{feff}').lines().enumerate() {
        let n = i + 1;
        let line = line.trim_end();
        if line.trim().is_empty() {
            continue;
        }
        if let Some((remote, path)) = key_line(line) {
            out.keys.push(RegKey {
                line: n,
                path: path.to_owned(),
                host: remote.or_else(|| header_host.clone()),
                values: Vec::new(),
            });
        } else if let Some((name, kind, data)) = value_line(line)
            && let Some(key) = out.keys.last_mut()
        {
            key.values.push(RegValue {
                line: n,
                name,
                kind,
                data,
            });
        } else if let Some(h) = header_line(line) {
            if let Some(h) = h {
                header_host = Some(h);
            }
        } else {
            out.unrecognized.push((n, line.to_owned()));
        }
    }
    out
}

/// Whether the head of a file is `reg query` text: after blank and header lines, a key path line,
/// then (after more key lines, for subkeys) a value line.
pub(crate) fn looks_like(head: &[u8]) -> bool {
    let text = String::from_utf8_lossy(head);
    let mut saw_key = false;
    for line in text.trim_start_matches('\u{feff}').lines().take(500) {
        let line = line.trim_end();
        if line.trim().is_empty() {
            continue;
        }
        if key_line(line).is_some() {
            saw_key = true;
        } else if saw_key && value_line(line).is_some() {
            return true;
        } else if saw_key || header_line(line).is_none() {
            return false;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines() {
        assert_eq!(
            value_line("    LastAdminGranted    REG_SZ    2026-11-20T08:00:00Z"),
            Some((
                "LastAdminGranted".into(),
                "REG_SZ".into(),
                "2026-11-20T08:00:00Z".into()
            ))
        );
        assert_eq!(
            value_line("    Granted At    REG_DWORD    0x6afffe00\r"),
            Some(("Granted At".into(), "REG_DWORD".into(), "0x6afffe00".into()))
        );
        assert_eq!(
            value_line("    Ticket    REG_SZ    "),
            Some(("Ticket".into(), "REG_SZ".into(), String::new()))
        );
        assert_eq!(
            value_line("\tNote\tREG_EXPAND_SZ\tsee REG_SZ docs"),
            Some((
                "Note".into(),
                "REG_EXPAND_SZ".into(),
                "see REG_SZ docs".into()
            ))
        );
        assert_eq!(value_line("LastAdminGranted    REG_SZ    x"), None);
        assert_eq!(value_line("    REG_SZ    x"), None);
        assert_eq!(
            key_line("HKEY_LOCAL_MACHINE\\SOFTWARE\\Org\\AdminAccessAudit"),
            Some((None, "HKEY_LOCAL_MACHINE\\SOFTWARE\\Org\\AdminAccessAudit"))
        );
        assert_eq!(
            key_line("\\\\WS-0142\\HKLM\\SOFTWARE\\Org"),
            Some((Some("WS-0142".into()), "\\\\WS-0142\\HKLM\\SOFTWARE\\Org"))
        );
        assert_eq!(key_line("\\\\WS-0142\\share\\x"), None);
        assert_eq!(key_line("HKEY_CURRENT_USER\\x"), None);
        assert_eq!(
            header_line("# host: WS-0142.contoso.local"),
            Some(Some("WS-0142.contoso.local".into()))
        );
        assert_eq!(header_line("Host: WS-1"), Some(Some("WS-1".into())));
        assert_eq!(
            header_line("; ComputerName = \\\\WS-2"),
            Some(Some("WS-2".into()))
        );
        assert_eq!(header_line("# exported by script"), Some(None));
        assert_eq!(
            header_line("C:\\> reg query HKLM\\SOFTWARE\\Org"),
            Some(None)
        );
        assert_eq!(header_line("hello"), None);
    }

    #[test]
    fn parses_keys_hosts_and_strays() {
        let text = "\u{feff}# host: A\r\n\r\nHKEY_LOCAL_MACHINE\\SOFTWARE\\Org\\AdminAccessAudit\r\n    GrantedTo    REG_SZ    x\r\n\r\nHKEY_LOCAL_MACHINE\\SOFTWARE\\Org\\AdminAccessAudit\\sub\r\n\r\n\\\\B\\HKLM\\SOFTWARE\\Org\r\n    Ticket    REG_SZ    T\r\nstray\r\n# host: C\r\nHKLM\\SOFTWARE\\Org\r\n";
        let q = parse(text);
        let hosts: Vec<_> = q.keys.iter().map(|k| k.host.as_deref()).collect();
        assert_eq!(hosts, vec![Some("A"), Some("A"), Some("B"), Some("C")]);
        assert_eq!(q.keys[0].line, 3);
        assert_eq!(q.keys[0].values[0].line, 4);
        assert_eq!(q.keys[2].values[0].data, "T");
        assert_eq!(q.unrecognized, vec![(10, "stray".to_owned())]);
        assert!(looks_like(text.as_bytes()));
        assert!(looks_like(
            b"\r\nHKLM\\X\r\nHKLM\\X\\Y\r\n    A    REG_SZ    b\r\n"
        ));
        assert!(!looks_like(b"HKLM\\X\r\nhello\r\n    A    REG_SZ    b\r\n"));
        assert!(!looks_like(b"hello\r\nHKLM\\X\r\n    A    REG_SZ    b\r\n"));
        assert!(!looks_like(b"HKLM\\X\r\n"));
    }
}
