#![allow(clippy::unwrap_used)]
//! Values an attacker shapes (a user name is whatever the attacker called the account), rendered
//! for each receiver: email HTML and subject, CEF.
mod common;

use common::notice;
use privtrail_alerts::email::render;
use privtrail_alerts::{AlertNotice, cef};

const LINK: &str = "[Approve](https://evil.example)";
const HTML: &str = "<img src=x onerror=alert(1)>";
const FORMULA: &str = "=cmd|' /C calc'!A0";
const ESCAPE: &str = "\u{1b}[31mred";

fn hostile() -> AlertNotice {
    let mut a = notice("a-1");
    a.principal = Some(LINK.into());
    a.summary = format!("{HTML} holds it\r\nBcc: victim@example.com");
    a.privilege = Some(FORMULA.into());
    a.scope = Some(ESCAPE.into());
    a
}

/// In the HTML part every value is text: no element, attribute or link of the attacker's.
#[test]
fn email_html_escapes_every_value_from_an_alert() {
    let a = hostile();
    let html = render::html(&[&a], None);
    assert!(!html.contains("<img"), "{html}");
    assert!(
        html.contains("&lt;img src=x onerror=alert(1)&gt; holds it"),
        "{html}"
    );
    assert!(
        html.contains("[Approve](https://evil.example)"),
        "shown as typed: {html}"
    );
    assert!(!html.contains("href=\"https://evil"), "{html}");
    assert!(html.contains("=cmd|&#39; /C calc&#39;!A0"), "{html}");
    // The only link is privtrail's own.
    assert_eq!(html.matches("<a ").count(), 1, "{html}");
    assert_eq!(
        html.matches("<tr>").count(),
        11,
        "one row per field: {html}"
    );
}

/// The subject is one line: a CR/LF in a value cannot add a header, an escape cannot colour.
#[test]
fn email_subject_is_one_line_without_control_characters() {
    let mut a = hostile();
    a.rule = format!("rule{ESCAPE}");
    let s = render::subject(&a);
    assert!(!s.chars().any(char::is_control), "{s:?}");
    assert!(s.contains("holds it  Bcc: victim@example.com"), "{s:?}");
}

/// CEF (syslog): `=`, `\`, `|` and line breaks of a value cannot start a field or a line.
#[test]
fn cef_escapes_hostile_values() {
    let line = cef::alert_line(&hostile(), "k");
    assert!(!line.contains('\n') && !line.contains('\r'), "{line}");
    assert!(line.contains("cs2=\\=cmd|' /C calc'!A0 "), "{line}");
    assert!(
        line.contains("duser=[Approve](https://evil.example) "),
        "{line}"
    );
    assert!(
        line.contains("holds it\\r\\nBcc: victim@example.com"),
        "{line}"
    );
    // Header fields escape `|`: the privilege cannot add a header field.
    let mut a = hostile();
    a.summary = FORMULA.into();
    let head = cef::alert_line(&a, "k");
    assert!(head.contains("|=cmd\\|' /C calc'!A0|8|"), "{head}");
}
