//! The Entra collection job: one audit pull and one PIM snapshot for a tenant, written to the
//! store. Used by `collect entra` and `demo` (and the daemon's schedule, later).
//!
//! HTTP runs on a tokio runtime; each page is written to SQLite on the calling thread between
//! `block_on` calls, never on the executor. Every page is stored with its checkpoint in one
//! transaction (`AuditPull`'s contract), so a crash at any point loses nothing and duplicates
//! nothing: the next pull starts again from the last complete watermark and the store dedupes.

use anyhow::{Context, Result, anyhow};
use chrono::{DateTime, Utc};
use privtrail_ingest::graph::{
    AuditCheckpoint, AuditPull, Credential, GraphClient, GraphError, PimSnapshot, RetryPolicy,
    Secret, TenantSettings, collector_error_event, fetch_pim_snapshot, lookup_users,
};
use privtrail_store::{DirectoryUser, Snapshot, Store, WriteStats, Writer};
use serde::Serialize;

use crate::config::TenantConfig;
use crate::link::link_pim_pairs;
use crate::time::parse_duration;

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

/// The checkpoint key of a tenant's audit pull.
pub fn audit_collector_id(tenant: &str) -> String {
    format!("entra:{tenant}:audit")
}

/// Graph client settings from the config.
pub fn settings(t: &TenantConfig) -> Result<TenantSettings> {
    let credential = match (&t.client_secret, &t.certificate) {
        (Some(s), _) => Credential::Secret(Secret::new(s.expose())),
        (None, Some(path)) => {
            let pem = std::fs::read_to_string(path).with_context(|| {
                format!(
                    "tenant {:?}: cannot read certificate {}",
                    t.name,
                    path.display()
                )
            })?;
            Credential::Certificate {
                pem: Secret::new(pem),
            }
        }
        (None, None) => return Err(anyhow!("tenant {:?}: no credential", t.name)),
    };
    let mut s = TenantSettings::new(&t.name, &t.tenant_id, &t.client_id, credential);
    s.login_url = t.login_url.trim_end_matches('/').to_owned();
    s.graph_url = t.graph_url.trim_end_matches('/').to_owned();
    s.overlap = parse_duration(&t.overlap)?;
    s.backfill = parse_duration(&t.backfill)?;
    s.rate_limit = (t.rate_requests, parse_duration(&t.rate_window)?.to_std()?);
    s.timeout = parse_duration(&t.timeout)?.to_std()?;
    s.retry = RetryPolicy {
        base: parse_duration(&t.retry_base)?.to_std()?,
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
    /// Skip the PIM snapshot.
    pub no_pim: bool,
}

/// Runs one audit pull and one PIM snapshot for `tenant`.
pub fn collect_tenant(
    rt: &tokio::runtime::Runtime,
    store: &Store,
    writer: &mut Writer,
    tenant: &TenantConfig,
    opts: &CollectOptions,
    forward: crate::import::Forward<'_>,
) -> Result<CollectReport> {
    let settings = settings(tenant)?;
    let overlap = settings.overlap;
    let client = {
        let _guard = rt.enter();
        GraphClient::new(settings).map_err(|e| anyhow!(e))?
    };
    let mut report = CollectReport {
        tenant: tenant.name.clone(),
        ..CollectReport::default()
    };
    let key = audit_collector_id(&tenant.name);
    let stored_cp = writer.checkpoint(&key)?;
    // `--since T`: a checkpoint whose window starts at T (the pull subtracts the overlap).
    let start_cp = match opts.since {
        Some(t) => Some(serde_json::to_string(&AuditCheckpoint {
            watermark: Some(t + overlap),
            completed_at: None,
        })?),
        None => stored_cp,
    };
    let now = Utc::now();
    let mut pull = AuditPull::start(&client, start_cp.as_deref(), now);
    tracing::info!(tenant = %tenant.name, since = %pull.since(), "audit pull");
    loop {
        match rt.block_on(pull.next_page()) {
            Ok(Some(mut page)) => {
                report.pages += 1;
                report.records += (page.events.len() + page.rejects.len()) as u64;
                report.linked += link_pim_pairs(store, &mut page.events)? as u64;
                let s = writer.write_batch_with_outbox(
                    &page.events,
                    &page.rejects,
                    Some((&key, &page.checkpoint)),
                    forward,
                )?;
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
                record_error(writer, &tenant.name, &e, &mut report, forward)?;
                break;
            }
        }
    }
    if !opts.no_pim {
        match rt.block_on(snapshot(&client)) {
            Ok((snap, users)) => {
                report.assignments = Some(snap.assignments.len());
                report.eligibilities = Some(snap.eligibilities.len());
                writer.save_snapshot(&Snapshot {
                    tenant: tenant.name.clone(),
                    kind: "pim".into(),
                    taken_at: snap.taken_at,
                    body: serde_json::to_string(&snap)?,
                })?;
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
                writer.save_users(&tenant.name, &rows)?;
            }
            Err(e) => record_error(writer, &tenant.name, &e, &mut report, forward)?,
        }
    }
    writer.commit()?;
    Ok(report)
}

async fn snapshot(
    client: &GraphClient,
) -> Result<(PimSnapshot, Vec<privtrail_ingest::graph::DirectoryUser>), GraphError> {
    let snap = fetch_pim_snapshot(client).await?;
    let mut ids: Vec<String> = snap
        .assignments
        .iter()
        .chain(&snap.eligibilities)
        .map(|i| i.principal_id.clone())
        .collect();
    ids.sort();
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
    writer: &mut Writer,
    tenant: &str,
    err: &GraphError,
    report: &mut CollectReport,
    forward: crate::import::Forward<'_>,
) -> Result<()> {
    tracing::warn!(tenant, error = %err, "Entra collection failed");
    let event = collector_error_event(tenant, err, Utc::now());
    report.errors.push(event.message.clone());
    writer.write_batch_with_outbox(&[event], &[], None, forward)?;
    Ok(())
}
