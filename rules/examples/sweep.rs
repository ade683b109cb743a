//! Micro benchmark: one overdue sweep over 1,000,000 open elevations.
//!
//! `cargo run --release -p privtrail-rules --example sweep [count] [overdue-percent]`

use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use privtrail_model::EventId;
use privtrail_rules::{
    Context, Elevation, ElevationKind, Policy, Rule, RulesConfig, Severity,
    builtin::OverdueElevation, evaluate_all,
};

fn main() {
    let mut args = std::env::args().skip(1);
    let count: usize = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let overdue_pct: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1);
    let now = DateTime::parse_from_rfc3339("2024-06-01T12:00:00Z")
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default();
    let elevations: Vec<Elevation> = (0..count)
        .map(|i| {
            let overdue = overdue_pct > 0 && i % (100 / overdue_pct.min(100)) == 0;
            let started_at = now - Duration::hours(if overdue { 10 } else { 1 });
            Elevation {
                id: format!("{i:032x}"),
                principal: format!("user{}@contoso.com", i % 50_000),
                principal_name: None,
                privilege: "Administrators".into(),
                privilege_id: Some("S-1-5-32-544".into()),
                scope: format!("host{}", i % 20_000),
                kind: ElevationKind::Membership,
                source: privtrail_model::Source::Windows,
                tenant: None,
                host: Some(format!("host{}", i % 20_000)),
                started_at,
                expected_end: Some(started_at + Duration::hours(8)),
                ended_at: None,
                end_reason: None,
                opened_by: EventId::from_stored(format!("{i:032x}")),
                closed_by: None,
                via_pim: None,
                duplicates: Vec::new(),
                tagged_by: None,
                tagged_at: None,
            }
        })
        .collect();
    let policy = Policy::default();
    let ctx = Context {
        elevations: &elevations,
        ..Context::new(now, &policy)
    };
    let overdue = OverdueElevation {
        severity: Severity::High,
        grace: None,
    };
    let mut best = f64::MAX;
    let mut found = 0;
    for _ in 0..5 {
        let t0 = Instant::now();
        found = overdue.evaluate(&ctx).len();
        best = best.min(t0.elapsed().as_secs_f64());
    }
    println!(
        "overdue-elevation sweep: {count} open elevations, {found} overdue: best of 5 {:.1} ms",
        best * 1e3
    );
    let rules: Vec<Box<dyn Rule>> = RulesConfig::default().build().unwrap_or_default();
    let t0 = Instant::now();
    let (findings, _) = evaluate_all(&rules, &ctx);
    println!(
        "all built-in rules (time sweep, no new events): {} findings in {:.1} ms",
        findings.len(),
        t0.elapsed().as_secs_f64() * 1e3
    );
}
