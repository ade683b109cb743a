//! [`Emitter`]: what every reader hands its results to. It applies the channel filter, normalizes,
//! batches, counts into the [`FileReport`], and stops the reader when the sink says so.

use std::ops::ControlFlow;

use chrono::Utc;
use privtrail_model::{Event, Reject};

use crate::windows::normalize::{channel_selected, normalize};
use crate::windows::record::{REJECT_RAW_MAX, WinRecord, cut};
use crate::{Batch, FileReport, Options};

/// How many error messages a [`FileReport`] keeps.
pub const MAX_ERROR_MESSAGES: usize = 10;

pub(crate) struct Emitter<'a> {
    origin: String,
    opts: &'a Options,
    sink: &'a mut dyn FnMut(Batch) -> ControlFlow<()>,
    batch: Batch,
    /// Bytes of `raw` (and messages) in `batch`, against `[ingest] max_batch_bytes`.
    batch_bytes: usize,
    pub(crate) report: FileReport,
    stopped: bool,
}

impl<'a> Emitter<'a> {
    pub(crate) fn new(
        report: FileReport,
        opts: &'a Options,
        sink: &'a mut dyn FnMut(Batch) -> ControlFlow<()>,
    ) -> Self {
        Emitter {
            origin: report.path.display().to_string(),
            opts,
            sink,
            batch: Batch::default(),
            batch_bytes: 0,
            report,
            stopped: false,
        }
    }

    pub(crate) fn opts(&self) -> &Options {
        self.opts
    }

    /// Whether the sink asked to stop; readers return as soon as they see it.
    pub(crate) fn stopped(&self) -> bool {
        self.stopped
    }

    /// One record read: skipped when its channel is not selected, else normalized and emitted.
    pub(crate) fn record(&mut self, rec: WinRecord) {
        if !channel_selected(&self.opts.channels, &rec.channel) {
            self.skipped();
            return;
        }
        let e = normalize(rec, &self.opts.extra_privileged_groups, Utc::now());
        self.event(e);
    }

    /// One record read and already normalized (by a parallel worker).
    pub(crate) fn event(&mut self, e: Event) {
        self.report.records += 1;
        self.batch_bytes = self
            .batch_bytes
            .saturating_add(e.raw.len() + e.message.len() + 512);
        self.batch.events.push(e);
        self.maybe_flush();
    }

    /// One record read whose channel is not selected.
    pub(crate) fn skipped(&mut self) {
        self.report.records += 1;
        self.report.skipped += 1;
    }

    /// One record read that could not be parsed or normalized.
    pub(crate) fn reject(&mut self, location: String, reason: String, raw: &str) {
        self.report.records += 1;
        self.report.rejected += 1;
        self.batch_bytes = self
            .batch_bytes
            .saturating_add(raw.len().min(REJECT_RAW_MAX) + 512);
        self.batch.rejects.push(Reject {
            origin: self.origin.clone(),
            location,
            reason,
            raw: cut(raw, REJECT_RAW_MAX),
        });
        self.maybe_flush();
    }

    /// Damage in the file (a chunk, a truncated stream): counted, the first few messages kept.
    pub(crate) fn damage(&mut self, location: &str, message: impl std::fmt::Display) {
        self.report.error_count += 1;
        let msg = format!("{}: {location}: {message}", self.origin);
        // The report carries it to the user; the log keeps it for daemons at info level.
        tracing::info!(file = %self.origin, %location, error = %message, "damaged input");
        if self.report.errors.len() < MAX_ERROR_MESSAGES {
            self.report.errors.push(msg);
        }
    }

    fn maybe_flush(&mut self) {
        let size = self.opts.batch_size.max(1);
        if self.batch.events.len() + self.batch.rejects.len() >= size
            || self.batch_bytes >= self.opts.limits.max_batch_bytes
        {
            self.flush();
        }
    }

    pub(crate) fn flush(&mut self) {
        if self.stopped || (self.batch.events.is_empty() && self.batch.rejects.is_empty()) {
            return;
        }
        let batch = std::mem::take(&mut self.batch);
        // The next batch is about as long as this one: one allocation instead of a dozen
        // doublings, each a copy into memory touched for the first time.
        self.batch.events = Vec::with_capacity(batch.events.len());
        self.batch_bytes = 0;
        if (self.sink)(batch).is_break() {
            self.stopped = true;
        }
    }

    pub(crate) fn finish(mut self) -> FileReport {
        self.flush();
        self.report
    }
}
