//! `GET /metrics`: Prometheus text exposition (format 0.0.4). Counters and histograms since the
//! daemon started come from the writer's telemetry; gauges (open alerts, outbox, collectors,
//! watchers) are read from the store at scrape time.

use std::fmt::Write as _;

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use privtrail_app::App;
use privtrail_app::telemetry::Histogram;

use crate::ApiState;
use crate::auth::Caller;
use crate::error::ApiResult;

pub async fn metrics(State(state): State<ApiState>, caller: Caller) -> ApiResult<Response> {
    caller.require_read()?;
    let text = state.blocking(|app| Ok(render(app))).await?;
    let mut resp = text.into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    Ok(resp)
}

/// A label value as Prometheus wants it (backslash, quote and newline escaped).
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn head(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn histogram(out: &mut String, name: &str, help: &str, h: &Histogram) {
    head(out, name, "histogram", help);
    let (buckets, count, sum) = h.snapshot();
    for (le, n) in buckets {
        let _ = writeln!(out, "{name}_bucket{{le=\"{le}\"}} {n}");
    }
    let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
    let _ = writeln!(out, "{name}_sum {sum}");
    let _ = writeln!(out, "{name}_count {count}");
}

/// Every metric, in text; a part that cannot be read is left out (and logged), never failing the
/// scrape.
pub fn render(app: &App) -> String {
    let mut out = String::new();
    if let Ok(w) = app.writer() {
        let t = w.telemetry();
        head(
            &mut out,
            "privtrail_events_stored_total",
            "counter",
            "Events stored since the daemon started, by source.",
        );
        let per = t.per_source();
        for (s, n, _, _) in &per {
            let _ = writeln!(
                out,
                "privtrail_events_stored_total{{source=\"{}\"}} {n}",
                s.as_str()
            );
        }
        head(
            &mut out,
            "privtrail_events_duplicates_total",
            "counter",
            "Events received again (same id), by source.",
        );
        for (s, _, n, _) in &per {
            let _ = writeln!(
                out,
                "privtrail_events_duplicates_total{{source=\"{}\"}} {n}",
                s.as_str()
            );
        }
        head(
            &mut out,
            "privtrail_events_rejected_total",
            "counter",
            "Records kept as rejects, by source of their batch.",
        );
        for (s, _, _, n) in &per {
            let _ = writeln!(
                out,
                "privtrail_events_rejected_total{{source=\"{}\"}} {n}",
                s.as_str()
            );
        }
        head(
            &mut out,
            "privtrail_deliveries_failed_total",
            "counter",
            "Failed delivery attempts, by channel.",
        );
        for (ch, n) in t.deliveries_failed() {
            let _ = writeln!(
                out,
                "privtrail_deliveries_failed_total{{channel=\"{}\"}} {n}",
                label(&ch)
            );
        }
        histogram(
            &mut out,
            "privtrail_ingest_batch_seconds",
            "Time to store one batch of events.",
            &t.ingest_batch,
        );
        histogram(
            &mut out,
            "privtrail_search_seconds",
            "Time to answer one API search.",
            &t.search,
        );
    }
    match app.status() {
        Ok(s) => {
            head(
                &mut out,
                "privtrail_alerts_open",
                "gauge",
                "Alerts not resolved, by severity.",
            );
            for (sev, n) in &s.open_alerts {
                let _ = writeln!(out, "privtrail_alerts_open{{severity=\"{sev}\"}} {n}");
            }
            head(
                &mut out,
                "privtrail_outbox_messages",
                "gauge",
                "Outbox messages by channel and status (pending is the depth, dead the dead letters).",
            );
            for (ch, st, n) in &s.outbox {
                let _ = writeln!(
                    out,
                    "privtrail_outbox_messages{{channel=\"{}\",status=\"{st}\"}} {n}",
                    label(ch)
                );
            }
            head(
                &mut out,
                "privtrail_collector_last_success_timestamp_seconds",
                "gauge",
                "When each collector last succeeded (unix seconds; 0: never).",
            );
            for c in &s.collectors {
                let _ = writeln!(
                    out,
                    "privtrail_collector_last_success_timestamp_seconds{{collector=\"{}\"}} {}",
                    label(&c.collector),
                    c.last_success.map_or(0, |t| t.timestamp())
                );
            }
            head(
                &mut out,
                "privtrail_collector_failures",
                "gauge",
                "Failures of each collector since its last success.",
            );
            for c in &s.collectors {
                let _ = writeln!(
                    out,
                    "privtrail_collector_failures{{collector=\"{}\"}} {}",
                    label(&c.collector),
                    c.failures
                );
            }
            head(
                &mut out,
                "privtrail_watcher_lag_bytes",
                "gauge",
                "Bytes of each watched file not yet read.",
            );
            for (path, lag) in &s.watch_lag {
                let _ = writeln!(
                    out,
                    "privtrail_watcher_lag_bytes{{file=\"{}\"}} {lag}",
                    label(path)
                );
            }
            head(
                &mut out,
                "privtrail_rules_cursor_lag_events",
                "gauge",
                "Stored events the rules have not judged yet.",
            );
            let _ = writeln!(out, "privtrail_rules_cursor_lag_events {}", s.rules_lag);
        }
        Err(e) => tracing::error!(error = %e, "metrics: store state unreadable"),
    }
    out
}
