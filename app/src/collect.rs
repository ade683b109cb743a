//! The Entra collection job: one audit pull and one PIM snapshot for a tenant, written to the
//! store. Used by `collect entra`, the daemon's schedules and `demo`.
//!
//! HTTP runs on a tokio runtime (`Handle::block_on`: call this from a blocking thread, never from
//! the executor); each page goes to the writer thread with its checkpoint in one transaction
//! (`AuditPull`'s contract), so a crash at any point loses nothing and duplicates nothing: the next
//! pull starts again from the last complete watermark and the store dedupes.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use privtrail_ingest::Batch;
use privtrail_ingest::graph::{
    AuditCheckpoint, AuditPull, Credential, GraphClient, GraphError, PimSnapshot, RetryPolicy,
    TenantSettings, collector_error_event, fetch_pim_snapshot, lookup_users,
};
use privtrail_store::{DirectoryUser, Snapshot, Store, WriteStats};
use serde::Serialize;
use tokio::runtime::Handle;

use crate::config::TenantConfig;
use crate::engine::{ForwardFn, record_run};
use crate::error::{AppError, Result};
use crate::import::{Commit, settle, store_batch};
use crate::writer::WriteHandle;

/// What one run did for one tenant.
#[derive(Debug, Default, Serialize)]
pub struct CollectReport {
    pub tenant: String,
    pub pages: u32,
    pub records: u64,
    pub stored: u64,
    pub duplicates: u64,
    pub rejected: u64,
    /// Records linked to their PIM/Core Directory partner (they count once).
    pub linked: u64,
    pub watermark: Option<DateTime<Utc>>,
    pub assignments: Option<usize>,
    pub eligibilities: Option<usize>,
    pub users: Option<usize>,
    /// Failures, each also stored as a `collector.error` event.
    pub errors: Vec<String>,
}

/// Graph client settings from the config.
pub fn settings(t: &TenantConfig) -> Result<TenantSettings> {
    let credential = match (&t.client_secret, &t.certificate) {
        (Some(s), _) => Credential::Secret(s.clone()),
        (None, Some(path)) => {
            let pem = std::fs::read_to_string(path).map_err(|e| {
                AppError::Config(format!(
                    "tenant {:?}: cannot read certificate {}: {e}",
                    t.name,
                    path.display()
                ))
            })?;
            Credential::Certificate { pem: pem.into() }
        }
        (None, None) => {
            return Err(AppError::Config(format!(
                "tenant {:?}: no credential",
                t.name
            )));
        }
    };
    let std = |d: chrono::Duration| d.to_std().unwrap_or_default();
    let mut s = TenantSettings::new(&t.name, &t.tenant_id, &t.client_id, credential);
    s.login_url = t.login_url.trim_end_matches('/').to_owned();
    s.graph_url = t.graph_url.trim_end_matches('/').to_owned();
    s.overlap = t.overlap.0;
    s.backfill = t.backfill.0;
    s.rate_limit = (t.rate_requests, std(t.rate_window.0));
    s.timeout = std(t.timeout.0);
    s.retry = RetryPolicy {
        base: std(t.retry_base.0),
        max_attempts: t.retry_attempts,
        ..RetryPolicy::default()
    };
    Ok(s)
}

/// Options of one run.
#[derive(Debug, Clone, Default)]
pub struct CollectOptions {
    /// Start the audit window here instead of at the stored watermark.
    pub since: Option<DateTime<Utc>>,
    /// Skip the audit pull.
    pub no_audit: bool,
    /// Skip the PIM snapshot.
    pub no_pim: bool,
}

/// Runs one audit pull and one PIM snapshot for `tenant` (as `opts` selects). Graph failures are
/// stored as `collector.error` events and listed in the report; only a store failure is an
/// `Err`. `stop` is polled between pages.
pub fn collect_tenant(
    rt: &Handle,
    store: &Arc<Store>,
    writer: &WriteHandle,
    tenant: &TenantConfig,
    opts: &CollectOptions,
    forward: &ForwardFn,
    stop: &dyn Fn() -> bool,
) -> Result<CollectReport> {
    let settings = settings(tenant)?;
    let client = {
        let _guard = rt.enter();
        GraphClient::new(settings).map_err(|e| AppError::Config(e.to_string()))?
    };
    let mut report = CollectReport {
        tenant: tenant.name.clone(),
        ..CollectReport::default()
    };
    let key = tenant.audit_collector_id();
    if !opts.no_audit {
        let stored_cp = store.checkpoint(&key)?;
        let now = Utc::now();
        let mut pull = match opts.since {
            Some(t) => AuditPull::start_from(&client, stored_cp.as_deref(), t, now),
            None => AuditPull::start(&client, stored_cp.as_deref(), now),
        };
        tracing::info!(tenant = %tenant.name, since = %pull.since(), "audit pull");
        let mut failed = None;
        loop {
            if stop() {
                return Err(AppError::Cancelled);
            }
            match rt.block_on(pull.next_page()) {
                Ok(Some(page)) => {
                    report.pages += 1;
                    report.records += (page.events.len() + page.rejects.len()) as u64;
                    let batch = Batch {
                        events: page.events,
                        rejects: page.rejects,
                    };
                    let rx = store_batch(
                        writer,
                        batch,
                        Some((key.clone(), page.checkpoint.clone())),
                        &format!("Microsoft Graph audit pull of tenant {}", tenant.name),
                        Commit::Own,
                        forward,
                    )?;
                    let (s, linked) = settle(&rx)?;
                    report.linked += linked;
                    add(&mut report, s);
                    if page.last {
                        if let Ok(cp) = serde_json::from_str::<AuditCheckpoint>(&page.checkpoint) {
                            report.watermark = cp.watermark;
                        }
                        break;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    failed = Some(e.to_string());
                    record_error(writer, &tenant.name, &e, &mut report, forward)?;
                    break;
                }
            }
        }
        writer.notify_stored();
        record_run(
            store,
            writer,
            &format!("entra:{}:audit", tenant.name),
            Utc::now(),
            failed,
        )?;
    }
    if !opts.no_pim {
        if stop() {
            return Err(AppError::Cancelled);
        }
        // Users not stored yet are looked up first: lookups are capped per run, and this way every
        // run makes progress even when a new process forgets the previous one's cache.
        let known: HashSet<String> = store
            .directory_users(&tenant.name)?
            .into_iter()
            .map(|u| u.id)
            .collect();
        match rt.block_on(snapshot(&client, &known)) {
            Ok((snap, users)) => {
                report.assignments = Some(snap.assignments.len());
                report.eligibilities = Some(snap.eligibilities.len());
                let row = Snapshot {
                    tenant: tenant.name.clone(),
                    kind: "pim".into(),
                    taken_at: snap.taken_at,
                    body: serde_json::to_string(&snap).map_err(AppError::json("PIM snapshot"))?,
                };
                let rows: Vec<DirectoryUser> = users
                    .into_iter()
                    .map(|u| DirectoryUser {
                        id: u.id,
                        upn: u.user_principal_name,
                        display_name: u.display_name,
                        on_prem_sid: u.on_premises_security_identifier,
                    })
                    .collect();
                report.users = Some(rows.len());
                let name = tenant.name.clone();
                writer.call(move |w| {
                    w.save_snapshot(&row)?;
                    w.save_users(&name, &rows)
                })??;
                // A new snapshot can open and close elevations: the rules job should look.
                writer.notify_stored();
                record_run(
                    store,
                    writer,
                    &format!("entra:{}:pim", tenant.name),
                    Utc::now(),
                    None,
                )?;
            }
            Err(e) => {
                record_error(writer, &tenant.name, &e, &mut report, forward)?;
                record_run(
                    store,
                    writer,
                    &format!("entra:{}:pim", tenant.name),
                    Utc::now(),
                    Some(e.to_string()),
                )?;
            }
        }
    }
    // Everything collected is searchable when this returns.
    writer.call(|w| w.commit())??;
    Ok(report)
}

async fn snapshot(
    client: &GraphClient,
    known: &HashSet<String>,
) -> std::result::Result<(PimSnapshot, Vec<privtrail_ingest::graph::DirectoryUser>), GraphError> {
    let snap = fetch_pim_snapshot(client).await?;
    let mut ids: Vec<String> = snap
        .assignments
        .iter()
        .chain(&snap.eligibilities)
        .map(|i| i.principal_id.clone())
        .collect();
    ids.sort_by(|a, b| (known.contains(a), a).cmp(&(known.contains(b), b)));
    ids.dedup();
    let users = lookup_users(client, &ids).await?;
    Ok((snap, users))
}

fn add(report: &mut CollectReport, s: WriteStats) {
    report.stored += s.stored;
    report.duplicates += s.duplicates;
    report.rejected += s.rejected;
}

/// Stores the failure as a `collector.error` event (the watermark stays where it was).
fn record_error(
    writer: &WriteHandle,
    tenant: &str,
    err: &GraphError,
    report: &mut CollectReport,
    forward: &ForwardFn,
) -> Result<()> {
    tracing::warn!(tenant, error = %err, "Entra collection failed");
    let event = collector_error_event(tenant, err, Utc::now());
    report.errors.push(event.message.clone());
    let forward = Arc::clone(forward);
    writer.call(move |w| w.write_batch_with_outbox(&[event], &[], None, &*forward))??;
    writer.notify_stored();
    Ok(())
}
