//! The directory audit pull: pages of `auditLogs/directoryAudits` since the stored watermark.
//!
//! Crash safety rests on the page contract: the caller stores each page's events and checkpoint in
//! one transaction. Graph returns newest first, so a page in the middle of a pull says nothing
//! about older records still to come: its checkpoint keeps the OLD watermark, and only the last page
//! moves it. A crash between pages re-pulls the window; the store dedupes on event id.

use std::collections::HashSet;

use chrono::{DateTime, SecondsFormat, Utc};
use privtrail_model::{Event, Reject};
use serde::{Deserialize, Serialize};

use super::MAX_CLOCK_SKEW;
use super::client::GraphClient;
use super::error::{ErrorKind, GraphError};
use super::paging::Pager;
use crate::IngestError;
use crate::windows::record::{REJECT_RAW_MAX, cut};

/// The path, and the `origin` of rejects (without query: skip tokens are never persisted).
const AUDIT_PATH: &str = "/auditLogs/directoryAudits";

/// What the collector remembers between pulls (stored as JSON).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditCheckpoint {
    /// The latest `activityDateTime` of a completely pulled window. `None` before the first
    /// complete pull (the next one backfills).
    #[serde(default)]
    pub watermark: Option<DateTime<Utc>>,
    /// When the last complete pull finished, for status reports.
    #[serde(default)]
    pub completed_at: Option<DateTime<Utc>>,
}

/// One page of a pull.
#[derive(Debug, Clone)]
pub struct AuditPage {
    pub events: Vec<Event>,
    /// Records that could not be normalized; they never abort the page.
    pub rejects: Vec<Reject>,
    /// JSON to save in the SAME transaction as these events and rejects.
    pub checkpoint: String,
    /// No page follows; `checkpoint` carries the new watermark.
    pub last: bool,
}

/// A pull in progress. Call [`AuditPull::next_page`] until it returns `Ok(None)` (or `last`).
///
/// After an error, calling `next_page` again retries the same page; dropping the pull is also safe
/// (the stored checkpoint still holds the old watermark).
#[derive(Debug)]
pub struct AuditPull<'a> {
    client: &'a GraphClient,
    old: AuditCheckpoint,
    since: DateTime<Utc>,
    now: DateTime<Utc>,
    next_url: Option<String>,
    /// The links followed so far: the page cap and cycle detection.
    pager: Pager,
    /// Graph may repeat a record across pages while new ones arrive; one copy per pull is enough.
    seen: HashSet<String>,
    /// The latest `activityDateTime` seen that is not after [`latest`]`(now)`.
    newest: Option<DateTime<Utc>>,
    /// Records dated after [`latest`]`(now)`: stored, but kept out of the watermark.
    future: u64,
}

impl<'a> AuditPull<'a> {
    /// Starts from the stored checkpoint JSON (`None`, or unreadable: a first run, which backfills).
    /// The first request asks for `activityDateTime ge` watermark − overlap, or now − backfill.
    ///
    /// A stored watermark later than now + [`MAX_CLOCK_SKEW`] (left by a record dated in the
    /// future) is read as now + that skew: a bad record must not stop collection.
    pub fn start(client: &'a GraphClient, checkpoint: Option<&str>, now: DateTime<Utc>) -> Self {
        let old = read_checkpoint(client, checkpoint, now);
        let s = client.settings();
        let since = match old.watermark {
            Some(w) => w.checked_sub_signed(s.overlap),
            None => now.checked_sub_signed(s.backfill),
        };
        Self::new(client, old, since, now)
    }

    /// Starts at `since` (`collect entra --since`) instead of the stored watermark; the stored
    /// checkpoint still decides the new watermark, which never moves back.
    pub fn start_from(
        client: &'a GraphClient,
        checkpoint: Option<&str>,
        since: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Self {
        let old = read_checkpoint(client, checkpoint, now);
        Self::new(client, old, Some(since), now)
    }

    /// `since` is `None` when the duration that produced it overflowed: the window then starts at
    /// the floor, as it would for any duration reaching past it.
    fn new(
        client: &'a GraphClient,
        old: AuditCheckpoint,
        since: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Self {
        let since = since.map_or(FLOOR, |t| t.clamp(FLOOR, latest(now)));
        let url = client.url(&format!(
            "{AUDIT_PATH}?$filter=activityDateTime%20ge%20{}&$top=999",
            since.to_rfc3339_opts(SecondsFormat::Secs, true)
        ));
        AuditPull {
            client,
            old,
            since,
            now,
            pager: Pager::new(AUDIT_PATH, &url, client.settings().max_pages),
            next_url: Some(url),
            seen: HashSet::new(),
            newest: None,
            future: 0,
        }
    }

    /// The lower bound of this pull's `$filter`.
    pub fn since(&self) -> DateTime<Utc> {
        self.since
    }

    /// The next page, `Ok(None)` once the last one was handed out.
    pub async fn next_page(&mut self) -> Result<Option<AuditPage>, GraphError> {
        let Some(url) = self.next_url.clone() else {
            return Ok(None);
        };
        let body = self.client.get_json(&url).await?;
        let tenant = &self.client.settings().name;
        let Some(records) = body.get("value").and_then(|v| v.as_array()) else {
            let msg = format!("Graph response from {AUDIT_PATH} has no \"value\" array");
            return Err(GraphError::new(
                ErrorKind::Malformed,
                AUDIT_PATH,
                tenant,
                msg,
            ));
        };
        let next = self.pager.next(&body, tenant)?;
        let page = self.pager.pages();
        let origin = self.client.url(AUDIT_PATH);
        let mut events = Vec::with_capacity(records.len());
        let mut rejects = Vec::new();
        let limit = latest(self.now);
        for (i, record) in records.iter().enumerate() {
            if let Some(id) = record.get("id").and_then(|v| v.as_str())
                && !self.seen.insert(id.to_owned())
            {
                continue;
            }
            match record_time(record) {
                Some(t) if t > limit => self.future += 1,
                Some(t) => self.newest = self.newest.max(Some(t)),
                None => {}
            }
            match crate::entra::normalize_directory_audit(record, tenant) {
                Ok(e) => events.push(e),
                Err(err) => rejects.push(Reject {
                    origin: origin.clone(),
                    location: format!("page {page} record {}", i + 1),
                    reason: match err {
                        IngestError::Malformed { reason, .. } => reason,
                        other => other.to_string(),
                    },
                    raw: cut(&record.to_string(), REJECT_RAW_MAX),
                }),
            }
        }
        let last = next.is_none();
        self.next_url = next;
        if last && self.future > 0 {
            tracing::warn!(
                tenant = %tenant,
                records = self.future,
                limit = %limit,
                "audit records dated in the future: stored, but kept out of the watermark"
            );
        }
        let checkpoint = if last {
            AuditCheckpoint {
                watermark: self.old.watermark.max(self.newest),
                completed_at: Some(self.now),
            }
        } else {
            self.old.clone()
        };
        let checkpoint = serde_json::to_string(&checkpoint).map_err(|e| {
            GraphError::new(
                ErrorKind::Malformed,
                AUDIT_PATH,
                tenant,
                format!("checkpoint: {e}"),
            )
        })?;
        Ok(Some(AuditPage {
            events,
            rejects,
            checkpoint,
            last,
        }))
    }
}

/// The earliest start of a window: nothing in an audit log precedes it, and a `$filter` Graph can
/// read (a duration reaching further back saturates here instead of overflowing).
const FLOOR: DateTime<Utc> = DateTime::<Utc>::UNIX_EPOCH;

/// The latest watermark a pull at `now` may store.
fn latest(now: DateTime<Utc>) -> DateTime<Utc> {
    now.checked_add_signed(MAX_CLOCK_SKEW).unwrap_or(now)
}

/// The stored checkpoint, with a watermark from the future pulled back to [`latest`]`(now)`.
fn read_checkpoint(
    client: &GraphClient,
    checkpoint: Option<&str>,
    now: DateTime<Utc>,
) -> AuditCheckpoint {
    let mut old = match checkpoint.map(serde_json::from_str::<AuditCheckpoint>) {
        None => AuditCheckpoint::default(),
        Some(Ok(c)) => c,
        Some(Err(e)) => {
            // Backfilling again is safe (the store dedupes); refusing to run is not.
            tracing::warn!(tenant = %client.settings().name, error = %e, "unreadable audit checkpoint, backfilling");
            AuditCheckpoint::default()
        }
    };
    let limit = latest(now);
    if let Some(w) = old.watermark.filter(|w| *w > limit) {
        tracing::warn!(tenant = %client.settings().name, watermark = %w, %limit, "stored audit watermark is in the future, resuming from now");
        old.watermark = Some(limit);
    }
    old
}

/// A record's `activityDateTime` (key matched without regard to case, as everywhere in Entra input).
fn record_time(record: &serde_json::Value) -> Option<DateTime<Utc>> {
    let obj = record.as_object()?;
    let (_, v) = obj
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("activityDateTime"))?;
    DateTime::parse_from_rfc3339(v.as_str()?)
        .ok()
        .map(|d| d.with_timezone(&Utc))
}
