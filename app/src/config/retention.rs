//! `[retention]`: how long events are kept, in all and per source.

use std::collections::BTreeMap;

use privtrail_model::{Source, Span};
use serde::Deserialize;

use super::invalid;
use super::tenant::{Schedule, schedule};
use crate::error::Result;

/// `[retention]` (off unless `events` or a source is set).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionConfig {
    /// Keep events this long (e.g. `400d`); older ones are purged.
    pub events: Option<Span>,
    /// Per source (`windows`, `entra`, `endpoint`, `privtrail`), overriding `events`.
    #[serde(default)]
    pub sources: BTreeMap<String, Span>,
    /// When the daemon purges. Default daily at 03:00 UTC.
    #[serde(default = "d_schedule")]
    pub schedule: Schedule,
}

fn d_schedule() -> Schedule {
    schedule("0 0 3 * * *")
}

impl Default for RetentionConfig {
    fn default() -> Self {
        RetentionConfig {
            events: None,
            sources: BTreeMap::new(),
            schedule: d_schedule(),
        }
    }
}

impl RetentionConfig {
    pub fn validate(&self) -> Result<()> {
        for (name, span) in self
            .sources
            .iter()
            .map(|(n, s)| (n.as_str(), s))
            .chain(self.events.as_ref().map(|s| ("events", s)))
        {
            if name != "events" && Source::parse(name).is_none() {
                invalid!("[retention.sources] {name:?}: windows, entra, endpoint or privtrail");
            }
            if span.0 < chrono::Duration::days(1) {
                invalid!("[retention] {name}: keep events at least 1d");
            }
        }
        Ok(())
    }

    /// Whether anything is ever purged.
    pub fn enabled(&self) -> bool {
        self.events.is_some() || !self.sources.is_empty()
    }

    /// How long events of `source` are kept (`None`: for ever).
    pub fn keep(&self, source: Source) -> Option<chrono::Duration> {
        self.sources
            .get(source.as_str())
            .or(self.events.as_ref())
            .map(|s| s.0)
    }
}
