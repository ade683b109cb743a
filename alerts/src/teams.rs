//! Microsoft Teams through a Workflows webhook URL: one Adaptive Card 1.4 per message.
//!
//! The card ([`card`]) shows the severity (coloured), rule, summary, a fact set (principal,
//! privilege, scope, opened and updated in UTC), the event ids and an "Open in privtrail" button.
//! Teams renders the texts as Markdown: every value is escaped ([`escape_markdown`]). A card is
//! kept under [`MAX_CARD_BYTES`] by shortening the summary, the facts and the event id list, and
//! then says `truncated=true` in its last block. `429` is retried after its `Retry-After`, `408`
//! and `5xx` are retried, so are `401`/`403` (the workflow refuses the URL's signature: an
//! authentication failure of the channel) and `404`/`410`; other `4xx` are not. Teams takes about
//! four posts a second: [`ChannelConfig::effective_rate`] defaults to 4.

use std::path::PathBuf;

use serde::Deserialize;
use serde_json::{Value, json};

use crate::{
    AlertNotice, ChannelConfig, ConfigError, DeliveryError, Message, Notifier, Payload, Secret,
    clip,
};

/// Teams refuses messages over 28 KB; stay under it.
pub const MAX_CARD_BYTES: usize = 27 * 1024;

/// `type = "teams"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeamsConfig {
    /// The Workflows "When a Teams webhook request is received" URL (its `sig=` is a secret).
    pub url: Secret,
    /// PEM file of the only CA to trust (default: the platform's roots).
    pub ca_file: Option<PathBuf>,
}

#[derive(Debug)]
pub(crate) struct TeamsNotifier {
    name: String,
    url: reqwest::Url,
    http: reqwest::Client,
}

impl TeamsNotifier {
    pub(crate) fn new(config: &ChannelConfig, c: &TeamsConfig) -> Result<Self, ConfigError> {
        Ok(TeamsNotifier {
            name: config.name.clone(),
            url: crate::http::check_url(config, "url", c.url.expose())?,
            http: crate::http::client(config, c.ca_file.as_deref())?,
        })
    }

    async fn send_one(&self, m: &Message) -> Result<(), DeliveryError> {
        let body = card(&m.payload).to_string();
        let resp = self
            .http
            .post(self.url.clone())
            .header("Content-Type", "application/json")
            .body(body)
            .send()
            .await
            .map_err(|e| crate::http::transport_error("teams", &e))?;
        let status = resp.status();
        if status.is_success() {
            return Ok(());
        }
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap_or_default();
        Err(crate::http::status_error("teams", status, &headers, &text))
    }
}

#[async_trait::async_trait]
impl Notifier for TeamsNotifier {
    fn name(&self) -> &str {
        &self.name
    }

    async fn send(&self, batch: &[Message]) -> Result<(), DeliveryError> {
        crate::send_each(batch, |m| self.send_one(m)).await
    }
}

/// The whole webhook body for `payload`, under [`MAX_CARD_BYTES`] serialized.
///
/// A card that does not fit is shortened (summary and facts cut to 4000, then 1000, 300 and 80
/// characters; then as many event ids as fit) and says so: its last block reads
/// `truncated=true`. Every value from an alert or event is Markdown-escaped ([`escape_markdown`]).
pub fn card(payload: &Payload) -> Value {
    let ids: &[String] = match payload {
        Payload::Alert(a) => &a.event_ids,
        Payload::Event(_) | Payload::Anchor(_) => &[],
    };
    let fits = |v: &Value| v.to_string().len() <= MAX_CARD_BYTES;
    let whole = envelope(payload, ids.len(), usize::MAX, false);
    if fits(&whole) {
        return whole;
    }
    for text_limit in [4000, 1000, 300, 80] {
        let at = |n: usize| {
            let v = envelope(payload, n, text_limit, true);
            fits(&v).then_some(v)
        };
        if let Some(all) = at(ids.len()) {
            return all;
        }
        let Some(mut best) = at(0) else {
            continue;
        };
        // The largest number of ids that fits: binary search over 0..ids.len().
        let (mut lo, mut hi) = (0, ids.len());
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            match at(mid) {
                Some(v) => {
                    best = v;
                    lo = mid;
                }
                None => hi = mid,
            }
        }
        return best;
    }
    // Only a pathological payload gets here (an id or link of many kilobytes): the kind, the
    // severity and the mark, nothing the receiver could not take.
    let title = match payload {
        Payload::Alert(a) => format!("privtrail alert: {}", a.severity.to_uppercase()),
        Payload::Event(_) => "privtrail event".to_owned(),
        Payload::Anchor(_) => "privtrail chain anchor".to_owned(),
    };
    wrap(
        vec![
            text_block(&escape_markdown(&clip(&title, 80)), "Default", true),
            truncated_block(),
        ],
        None,
    )
}

/// Escapes `s` for a TextBlock or fact, whose text Teams renders as Markdown: `*`, `_`, `[`, `]`,
/// `` ` ``, `~`, `<`, `>` and `\` get a backslash (so `[Approve](https://evil)` stays text, not a
/// link), a list marker at the start (`-`, `+`, `1.`) is escaped too, and line breaks become
/// spaces (a new line could start a list).
pub fn escape_markdown(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    let digits = s.chars().take_while(char::is_ascii_digit).count();
    for (i, c) in s.chars().enumerate() {
        match c {
            '\\' | '*' | '_' | '[' | ']' | '`' | '~' | '<' | '>' => {
                out.push('\\');
                out.push(c);
            }
            '-' | '+' if i == 0 => {
                out.push('\\');
                out.push(c);
            }
            '.' | ')' if i == digits && digits > 0 => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// `text` cut to `limit` characters, then escaped.
fn show(text: &str, limit: usize) -> String {
    escape_markdown(&clip(text, limit))
}

fn truncated_block() -> Value {
    json!({"type": "TextBlock", "text": "truncated=true (shortened to fit the Teams message limit)", "wrap": true, "isSubtle": true, "size": "Small"})
}

fn envelope(payload: &Payload, max_ids: usize, text_limit: usize, truncated: bool) -> Value {
    let (mut body, link) = match payload {
        Payload::Alert(a) => (alert_body(a, max_ids, text_limit), a.link.clone()),
        Payload::Event(e) => {
            let facts = [
                ("Action", Some(e.action.as_str().to_owned())),
                ("Outcome", Some(e.outcome.as_str().to_owned())),
                ("Actor", e.actor.clone()),
                ("Target", e.target.clone()),
                ("Privilege", e.privilege.clone()),
                (
                    "Where",
                    e.host.clone().or(e.tenant.clone()).or(e.scope.clone()),
                ),
                ("Time (UTC)", Some(utc(e.time))),
                ("Event id", Some(e.id.as_str().to_owned())),
            ];
            let body = vec![
                text_block(
                    &show(&format!("privtrail event: {}", e.action), 200),
                    "Default",
                    true,
                ),
                text_block(&show(&e.message, text_limit), "Default", false),
                fact_set(&facts, text_limit),
            ];
            (body, None)
        }
        Payload::Anchor(a) => {
            let facts = [
                ("Store", Some(a.store.clone())),
                ("Sequence", Some(a.seq.to_string())),
                ("Hash", Some(a.hash.clone())),
                ("Time (UTC)", Some(utc(a.at))),
            ];
            let body = vec![
                text_block("privtrail chain anchor", "Default", true),
                fact_set(&facts, text_limit),
            ];
            (body, None)
        }
    };
    if truncated {
        body.push(truncated_block());
    }
    wrap(body, link)
}

/// The message around a card body (and its button, when there is a link).
fn wrap(body: Vec<Value>, link: Option<String>) -> Value {
    let mut content = json!({
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
    });
    if let Some(url) = link {
        content["actions"] =
            json!([{"type": "Action.OpenUrl", "title": "Open in privtrail", "url": url}]);
    }
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": content,
        }],
    })
}

fn alert_body(a: &AlertNotice, max_ids: usize, text_limit: usize) -> Vec<Value> {
    let color = match a.severity.as_str() {
        "critical" | "high" => "Attention",
        "medium" => "Warning",
        "info" => "Default",
        _ => "Accent",
    };
    let facts = [
        ("Principal", a.principal.clone()),
        ("Privilege", a.privilege.clone()),
        ("Scope", a.scope.clone()),
        ("Opened (UTC)", Some(utc(a.opened_at))),
        ("Updated (UTC)", Some(utc(a.updated_at))),
        ("Status", Some(a.status.clone())),
        ("Alert id", Some(a.id.clone())),
    ];
    let mut body = vec![
        text_block(&show(&a.severity.to_uppercase(), 20), color, true),
        text_block(&show(&a.rule, 200), "Default", true),
        text_block(&show(&a.summary, text_limit), "Default", false),
        fact_set(&facts, text_limit),
    ];
    if !a.event_ids.is_empty() {
        let shown = max_ids.min(a.event_ids.len());
        let mut ids = escape_markdown(&a.event_ids[..shown].join(", "));
        if shown < a.event_ids.len() {
            ids.push_str(&format!(" … and {} more", a.event_ids.len() - shown));
        }
        body.push(json!({"type": "TextBlock", "text": format!("Events: {ids}"), "wrap": true, "isSubtle": true, "size": "Small"}));
    }
    body
}

fn text_block(text: &str, color: &str, bold: bool) -> Value {
    let mut v = json!({"type": "TextBlock", "text": text, "wrap": true, "color": color});
    if bold {
        v["weight"] = json!("Bolder");
    }
    v
}

/// A fact set of the facts that have a value; values are cut to `limit` and escaped (titles are
/// privtrail's own).
fn fact_set(facts: &[(&str, Option<String>)], limit: usize) -> Value {
    let facts: Vec<Value> = facts
        .iter()
        .filter_map(|(t, v)| {
            v.as_ref()
                .map(|v| json!({"title": t, "value": show(v, limit)}))
        })
        .collect();
    json!({"type": "FactSet", "facts": facts})
}

fn utc(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}
