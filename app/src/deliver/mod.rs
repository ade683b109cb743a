//! Delivery through the durable outbox (SPEC §5).
//!
//! Enqueueing: alerts to notify become one outbox entry per routed channel, saved in the
//! transaction that saves the alerts; forwarded events become entries in the transaction that
//! stores the events. The idempotency key is per (alert notification or event, channel), so
//! enqueueing twice stores once and a receiver can recognise a resend.
//!
//! Delivering ([`worker`]): [`deliver_due`] sends what is due per channel in batches, marks what
//! was accepted, charges a failure to the message it is about or pauses the channel it is about
//! (exponential backoff and jitter; `Retry-After` wins, capped), and dead-letters a message only
//! when refused for good, out of attempts of its own or older than `max_age`. Sending happens on a
//! tokio runtime (`Handle::block_on`: call it from a blocking thread); state changes go through
//! the writer. Each channel's state ([`health`]) feeds the `delivery-failure` rule, whose alerts
//! are routed away from the channel they are about ([`alert_entries`]).

mod channel;
pub mod health;
pub mod worker;

use std::sync::Arc;

use privtrail_alerts::{AlertNotice, Payload};
use privtrail_model::Event;
use privtrail_rules::Alert;
use privtrail_rules::builtin::DELIVERY_FAILURE;
use privtrail_store::OutboxEntry;

pub use channel::{Channel, channels};
pub use health::{ChannelState, channel_health};
pub use worker::{DeliveryReport, deliver_due};

use crate::config::{Config, RouteConfig};
use crate::engine::ForwardFn;
use crate::error::{AppError, Result};

/// What an alert looks like to a channel.
pub fn notice(a: &Alert, ui_url: Option<&str>) -> AlertNotice {
    AlertNotice {
        id: a.id.clone(),
        rule: a.rule.clone(),
        severity: a.severity.as_str().to_owned(),
        status: a.status.as_str().to_owned(),
        principal: a.principal.clone(),
        privilege: a.privilege.clone(),
        scope: a.scope.clone(),
        opened_at: a.opened_at,
        updated_at: a.updated_at,
        summary: a.summary.clone(),
        event_ids: a.event_ids.iter().map(|e| e.to_string()).collect(),
        elevation_id: a.elevation_id.clone(),
        link: ui_url.map(|u| format!("{}/alerts/{}", u.trim_end_matches('/'), a.id)),
    }
}

/// Outbox entries for the alerts to notify now, by the configured routes. A `delivery-failure`
/// alert never goes to the channel it is about (it would wait behind the failure it reports):
/// it takes its routes' other channels, or, when its routes name no other, every other
/// configured channel — someone must hear that alerts are not getting through.
pub fn alert_entries(
    routes: &[RouteConfig],
    configured: &[String],
    ui_url: Option<&str>,
    alerts: &[&Alert],
) -> Result<Vec<OutboxEntry>> {
    let mut out = Vec::new();
    for a in alerts {
        let mut channels: Vec<&str> = routes
            .iter()
            .filter(|r| r.takes(&a.rule, a.severity))
            .flat_map(|r| r.channels.iter().map(String::as_str))
            .collect();
        if a.rule == DELIVERY_FAILURE {
            let failing = a.scope.as_deref();
            channels.retain(|c| Some(*c) != failing);
            if channels.is_empty() {
                channels = configured
                    .iter()
                    .map(String::as_str)
                    .filter(|c| Some(*c) != failing)
                    .collect();
            }
        }
        channels.sort_unstable();
        channels.dedup();
        if channels.is_empty() {
            // Built only for alerts that go somewhere: an import's rules run may open tens of
            // thousands (59,317 after a million bench Graph records), and with no route taking
            // them their notices were over 2 % of its instructions, all thrown away.
            continue;
        }
        // One notification per (alert, moment): a re-notification gets a new key.
        let moment = a.last_notified_at.unwrap_or(a.updated_at);
        let key = format!("alert:{}:{}", a.id, privtrail_model::format_time(moment));
        let payload = serde_json::to_string(&Payload::Alert(notice(a, ui_url)))
            .map_err(AppError::json("alert notification"))?;
        for ch in channels {
            out.push(OutboxEntry {
                channel: ch.to_owned(),
                idempotency_key: key.clone(),
                payload: payload.clone(),
            });
        }
    }
    Ok(out)
}

/// The forwarding function of a configuration, for the writers that store events.
pub fn forward_fn(config: &Arc<Config>) -> ForwardFn {
    let config = Arc::clone(config);
    Arc::new(move |e: &Event| event_entries(&config, e))
}

/// The outbox entries of one stored event (`[[forward]]`).
pub fn event_entries(config: &Config, e: &Event) -> Vec<OutboxEntry> {
    let mut channels: Vec<&str> = config
        .forward
        .iter()
        .filter(|f| f.takes(e))
        .flat_map(|f| f.channels.iter().map(String::as_str))
        .collect();
    if channels.is_empty() {
        return Vec::new();
    }
    channels.sort_unstable();
    channels.dedup();
    let Ok(payload) = serde_json::to_string(&Payload::Event(e.clone())) else {
        return Vec::new();
    };
    channels
        .into_iter()
        .map(|ch| OutboxEntry {
            channel: ch.to_owned(),
            idempotency_key: format!("event:{}", e.id),
            payload: payload.clone(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use privtrail_rules::{AlertStatus, Severity};

    fn alert(rule: &str, scope: &str) -> Alert {
        let t =
            chrono::DateTime::<chrono::Utc>::from_timestamp(1_700_000_000, 0).unwrap_or_default();
        Alert {
            id: format!("{rule}-1"),
            rule: rule.into(),
            severity: Severity::High,
            status: AlertStatus::Open,
            principal: None,
            privilege: None,
            scope: Some(scope.into()),
            opened_at: t,
            updated_at: t,
            resolved_at: None,
            summary: String::new(),
            event_ids: vec![],
            elevation_id: None,
            subject: format!("channel|{scope}"),
            last_notified_at: None,
            condition: true,
            history: vec![],
        }
    }

    fn route(channels: &[&str]) -> RouteConfig {
        toml::from_str(&format!("channels = {channels:?}")).unwrap_or_else(|e| panic!("{e}"))
    }

    fn targets(routes: &[RouteConfig], a: &Alert) -> Vec<String> {
        let configured: Vec<String> = ["hec", "mail", "teams"].map(String::from).to_vec();
        alert_entries(routes, &configured, None, &[a])
            .unwrap_or_else(|e| panic!("{e}"))
            .into_iter()
            .map(|e| e.channel)
            .collect()
    }

    #[test]
    fn a_delivery_failure_alert_goes_to_the_other_channels_never_the_failing_one() {
        let failing = alert(DELIVERY_FAILURE, "hec");
        assert_eq!(targets(&[route(&["hec", "mail"])], &failing), ["mail"]);
        // Its routes name no other channel: every other configured channel hears it.
        assert_eq!(targets(&[route(&["hec"])], &failing), ["mail", "teams"]);
        // Other alerts follow their routes as they are.
        assert_eq!(
            targets(&[route(&["hec"])], &alert("standing-access", "hec")),
            ["hec"]
        );
        // No route takes it: nothing to notify.
        assert!(targets(&[], &alert("standing-access", "hec")).is_empty());
    }

    #[test]
    fn each_channel_gets_the_alerts_notice_under_one_key() {
        let a = alert("standing-access", "hec");
        let entries = alert_entries(
            &[route(&["mail", "hec"])],
            &[],
            Some("https://privtrail.example"),
            &[&a],
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let channels: Vec<&str> = entries.iter().map(|e| e.channel.as_str()).collect();
        assert_eq!(channels, ["hec", "mail"]);
        assert_eq!(entries[0].idempotency_key, entries[1].idempotency_key);
        assert!(
            entries[0]
                .idempotency_key
                .starts_with(&format!("alert:{}:", a.id))
        );
        assert_eq!(entries[0].payload, entries[1].payload);
        assert!(entries[0].payload.contains(&a.id), "{}", entries[0].payload);
    }
}
