//! Secrets in the config file (SPEC §8): `${NAME}` expanded in parsed values (a secret holding
//! `"`, `\` or a newline works and never shows in an error), the world-readable-file warning for
//! every secret-bearing key, and no plain `http://` to a remote host where a secret travels.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use privtrail_app::Config;

/// A secret that would break (or rewrite) TOML if it were pasted into the text.
const HOSTILE: &str = "a\"b\\c\nd = \"injected\"";

fn env(name: &str) -> Option<String> {
    match name {
        "S" => Some(HOSTILE.to_owned()),
        "HOOK" => Some("https://x.webhook.office.com/wf?sig=SIGSECRET".to_owned()),
        "PW" => Some("hunter2-password".to_owned()),
        _ => None,
    }
}

const TENANT: &str = "[[tenants]]\nname = \"contoso\"\ntenant_id = \"t\"\nclient_id = \"c\"\n";

/// The forms a value can take in a message: as is, and escaped for `Debug` and TOML.
fn leaks(message: &str, value: &str) -> bool {
    let debug = format!("{value:?}");
    [
        value.to_owned(),
        debug[1..debug.len() - 1].to_owned(),
        value.escape_default().to_string(),
        "b\\c".to_owned(),
        "injected".to_owned(),
    ]
    .iter()
    .any(|f| message.contains(f.as_str()))
}

#[test]
fn a_secret_with_a_quote_a_backslash_and_a_newline_from_the_environment_is_taken_as_is() {
    let text = format!(
        "{TENANT}client_secret = \"${{S}}\"\n\
         [[channels]]\nname = \"hook\"\ntype = \"webhook\"\nurl = \"https://h.example.com\"\nsecret = \"${{S}}\"\n\
         [integrity]\nkey = \"${{S}}${{S}}\"\n"
    );
    let c = Config::parse(&text, env).unwrap();
    assert_eq!(
        c.tenants[0].client_secret.as_ref().unwrap().expose(),
        HOSTILE
    );
    assert_eq!(
        c.integrity.key.as_ref().unwrap().expose(),
        format!("{HOSTILE}{HOSTILE}")
    );
    let secrets: Vec<String> = c.secrets().iter().map(|(k, _)| k.clone()).collect();
    assert!(
        secrets.contains(&"[[channels]] \"hook\" secret".to_owned()),
        "{secrets:?}"
    );
    // The value did not become TOML: no key `d` appeared anywhere.
    assert!(!format!("{c:?}").contains("injected"));
}

#[test]
fn an_interpolated_secret_never_appears_in_an_error_message() {
    let cases = [
        // A type error (serde quotes the string).
        format!("{TENANT}client_secret = \"x\"\nrate_requests = \"${{S}}\"\n"),
        // A parse error of a typed value (the duration reader quotes it).
        "[daemon]\nshutdown_timeout = \"${S}\"\n".to_owned(),
        // An unknown enum value (serde names it in backticks).
        "[[channels]]\nname = \"c\"\ntype = \"${S}\"\n".to_owned(),
        // A validation error (the URL check quotes the URL).
        format!("{TENANT}client_secret = \"x\"\ngraph_url = \"${{S}}\"\n"),
        // A schedule, quoted by its own reader.
        "[daemon]\nsweep_schedule = \"${S}\"\n".to_owned(),
    ];
    for text in cases {
        let err = Config::parse(&text, env).expect_err(&text).to_string();
        assert!(!leaks(&err, HOSTILE), "{text}\n→ {err}");
        assert!(
            err.contains("${S}"),
            "the message says where the value came from: {err}"
        );
    }
}

#[test]
fn a_missing_variable_is_named_with_its_key_and_line() {
    let err = Config::parse(&format!("{TENANT}client_secret = \"${{NOPE}}\"\n"), env)
        .expect_err("unset")
        .to_string();
    assert!(err.contains("NOPE is not set"), "{err}");
    assert!(err.contains("tenants.0.client_secret"), "{err}");
    assert!(err.contains("line 5"), "{err}");
}

#[test]
fn references_in_comments_and_keys_are_not_expanded() {
    let c = Config::parse(
        &format!("# set ${{NOT_SET}} before starting\n{TENANT}client_secret = \"lit $${{S}}\"\n"),
        env,
    )
    .unwrap();
    assert_eq!(
        c.tenants[0].client_secret.as_ref().unwrap().expose(),
        "lit ${S}"
    );
}

fn write(dir: &Path, name: &str, text: &str, mode: u32) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    p
}

#[cfg(unix)]
#[test]
fn a_config_readable_by_all_holding_any_secret_bearing_key_draws_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let mail = "[[channels]]\nname = \"mail\"\ntype = \"email\"\nhost = \"smtp.example.com\"\n\
                from = \"p@example.com\"\nto = [\"soc@example.com\"]\nusername = \"u\"\n";
    let cases = [
        (
            "[[channels]]\nname = \"t\"\ntype = \"teams\"\nurl = \"https://x.webhook.office.com/wf?sig=SIGSECRET\"\n".to_owned(),
            "[[channels]] \"t\" url",
        ),
        (format!("{mail}password = \"hunter2-password\"\n"), "[[channels]] \"mail\" password"),
        (
            "[[channels]]\nname = \"h\"\ntype = \"splunk_hec\"\nurl = \"https://s.example.com\"\ntoken = \"hec-token-1\"\n".to_owned(),
            "[[channels]] \"h\" token",
        ),
        (
            "[[channels]]\nname = \"w\"\ntype = \"webhook\"\nurl = \"https://w.example.com\"\nsecret = \"hook-key-1\"\n".to_owned(),
            "[[channels]] \"w\" secret",
        ),
        (format!("{TENANT}client_secret = \"graph-secret\"\n"), "[[tenants]] \"contoso\" client_secret"),
        ("[integrity]\nkey = \"0123456789abcdef-key\"\n".to_owned(), "[integrity] key"),
        // Text around a reference is written in the file too.
        (format!("{mail}password = \"pre-${{PW}}\"\n"), "[[channels]] \"mail\" password"),
    ];
    for (i, (text, key)) in cases.iter().enumerate() {
        let path = write(dir.path(), &format!("c{i}.toml"), text, 0o644);
        let (_, warnings) = Config::load_with_warnings(&path, env).unwrap();
        assert_eq!(warnings.len(), 1, "{text}: {warnings:?}");
        assert!(warnings[0].contains(key), "{key}: {}", warnings[0]);
        for secret in [
            "SIGSECRET",
            "hunter2",
            "hec-token",
            "hook-key",
            "graph-secret",
            "0123456789",
        ] {
            assert!(!warnings[0].contains(secret), "{}", warnings[0]);
        }
        // Only its owner may read it: nothing to say.
        let private = write(dir.path(), &format!("p{i}.toml"), text, 0o600);
        assert_eq!(
            Config::load_with_warnings(&private, env).unwrap().1,
            Vec::<String>::new()
        );
    }
    // The same keys taken from the environment: nothing written in the file, nothing to say.
    let from_env = format!(
        "[[channels]]\nname = \"t\"\ntype = \"teams\"\nurl = \"${{HOOK}}\"\n{mail}password = \"${{PW}}\"\n"
    );
    let path = write(dir.path(), "env.toml", &from_env, 0o644);
    assert_eq!(
        Config::load_with_warnings(&path, env).unwrap().1,
        Vec::<String>::new()
    );
}

#[cfg(unix)]
#[test]
fn a_certificate_key_readable_by_all_draws_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let pem = write(
        dir.path(),
        "contoso.pem",
        "-----BEGIN PRIVATE KEY-----\n",
        0o644,
    );
    let text = format!("{TENANT}certificate = {:?}\n", pem.to_str().unwrap());
    let path = write(dir.path(), "c.toml", &text, 0o600);
    let (_, warnings) = Config::load_with_warnings(&path, env).unwrap();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("contoso.pem"), "{}", warnings[0]);
}

#[test]
fn plain_http_to_a_remote_host_is_refused_for_graph_hec_webhooks_and_teams() {
    let cases = [
        format!("{TENANT}client_secret = \"x\"\ngraph_url = \"http://graph.example.com\"\n"),
        format!("{TENANT}client_secret = \"x\"\nlogin_url = \"http://login.example.com\"\n"),
        "[[channels]]\nname = \"h\"\ntype = \"splunk_hec\"\nurl = \"http://splunk.example.com:8088\"\ntoken = \"t\"\n".to_owned(),
        "[[channels]]\nname = \"w\"\ntype = \"webhook\"\nurl = \"http://hooks.example.com/x\"\nsecret = \"k\"\n".to_owned(),
        "[[channels]]\nname = \"t\"\ntype = \"teams\"\nurl = \"http://x.webhook.office.com/wf?sig=SIGSECRET\"\n".to_owned(),
    ];
    for text in &cases {
        let err = Config::parse(text, env).expect_err(text).to_string();
        assert!(err.contains("https://"), "{text}\n→ {err}");
        assert!(!err.contains("SIGSECRET"), "{err}");
    }
    for text in cases {
        let local = text
            .replace("graph.example.com", "127.0.0.1:9000")
            .replace("login.example.com", "localhost")
            .replace("splunk.example.com:8088", "127.0.0.1:8088")
            .replace("hooks.example.com", "[::1]:9")
            .replace("x.webhook.office.com", "localhost:9");
        Config::parse(&local, env).unwrap_or_else(|e| panic!("{local}\n→ {e}"));
    }
}
