//! `delivery-failure`: a delivery channel that cannot deliver.

use chrono::Duration;
use privtrail_model::format_time;

use crate::rule::{Context, Finding, Rule, Severity};
use crate::time::format_duration;

/// The rule id; the outbox routes its alerts away from the channel they are about.
pub const DELIVERY_FAILURE: &str = "delivery-failure";

/// `delivery-failure`: a channel whose receiver refuses its credentials (at once), or whose sends
/// have failed for longer than `after`. A condition (subject = `channel|` + the channel name,
/// scope = the channel name): it resolves itself when the channel delivers again. Its messages are
/// not lost meanwhile: the outbox keeps retrying them until their `max_age`.
#[derive(Debug, Clone)]
pub struct DeliveryFailure {
    pub severity: Severity,
    pub after: Duration,
}

impl Rule for DeliveryFailure {
    fn id(&self) -> &str {
        DELIVERY_FAILURE
    }
    fn severity(&self) -> Severity {
        self.severity
    }
    fn inputs(&self) -> Option<Vec<privtrail_model::Action>> {
        Some(vec![])
    }
    fn description(&self) -> String {
        format!(
            "a delivery channel's receiver refuses its credentials, or its sends have failed for {}",
            format_duration(self.after)
        )
    }
    fn evaluate(&self, ctx: &Context<'_>) -> Vec<Finding> {
        ctx.channels
            .iter()
            .filter_map(|c| {
                let since = c.failing_since?;
                if !c.auth_failure && ctx.now - since < self.after {
                    return None;
                }
                let why = c.last_error.as_deref().unwrap_or("no reason given");
                let summary = if c.auth_failure {
                    format!(
                        "channel {} cannot deliver: its receiver refuses the credentials ({why}); \
                         its messages are kept and retried",
                        c.channel
                    )
                } else {
                    format!(
                        "channel {} has failed to deliver since {} ({why}); its messages are kept \
                         and retried",
                        c.channel,
                        format_time(since)
                    )
                };
                Some(Finding {
                    rule: self.id().to_owned(),
                    severity: self.severity,
                    subject: format!("channel|{}", c.channel),
                    principal: None,
                    privilege: None,
                    scope: Some(c.channel.clone()),
                    summary,
                    event_ids: Vec::new(),
                    elevation_id: None,
                    condition: true,
                })
            })
            .collect()
    }
}
