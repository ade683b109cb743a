//! Jobs running concurrently in one process through the one writer: an import, Entra collections
//! from a simulated tenant, the rules job, delivery and alert acknowledgements, all at once on
//! one `App` — none waits on a busy store, none loses or doubles anything.
#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::Utc;
use privtrail_app::collect::{CollectOptions, collect_tenant};
use privtrail_app::deliver::{channels, deliver_due};
use privtrail_app::{App, Config};
use privtrail_store::{OutboxStatus, SearchRequest};

#[test]
fn import_collect_rules_and_delivery_run_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let sim = privtrail_sim::scenario(Utc::now(), 3);
    let sim_records = sim.audits.len() as u64;
    let running = rt
        .block_on(privtrail_sim::start(
            sim,
            privtrail_sim::Faults::default(),
            std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        ))
        .unwrap();

    let input = dir.path().join("bulk.ndjson");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&input).unwrap());
    privtrail_sim::write_bulk_jsonl(20_000, 5, &mut f).unwrap();
    f.flush().unwrap();
    drop(f);

    let delivered_file = dir.path().join("alerts.jsonl");
    let config = Config::parse(
        &format!(
            "[[tenants]]\nname = \"contoso\"\ntenant_id = \"{}\"\nclient_id = \"{}\"\nclient_secret = \"{}\"\n\
             login_url = \"{url}\"\ngraph_url = \"{url}\"\nrate_requests = 100\nrate_window = \"1s\"\n\
             [[channels]]\nname = \"f\"\ntype = \"file\"\npath = {:?}\n[[routes]]\nchannels = [\"f\"]\n\
             [[forward]]\ncategories = [\"group_management\"]\nchannels = [\"f\"]\n",
            privtrail_sim::SIM_TENANT_ID,
            privtrail_sim::SIM_CLIENT_ID,
            privtrail_sim::SIM_CLIENT_SECRET,
            delivered_file.display().to_string(),
            url = running.base_url
        ),
        |_| None,
    )
    .unwrap();
    let app = Arc::new(App::open_writer(&dir.path().join("data"), config, "test").unwrap());
    let done = Arc::new(AtomicBool::new(false));

    let handle = rt.handle().clone();
    let chans = channels(&handle, &app.config().channels, &app.config().delivery).unwrap();
    let deliver = || {
        let r = deliver_due(
            &handle,
            app.store(),
            app.writer().unwrap(),
            &chans,
            &app.config().delivery,
            Utc::now(),
            &|| false,
        )
        .unwrap();
        assert!(r.errors.is_empty(), "{:?}", r.errors);
        r.delivered
    };
    let (summary, collected, rules_runs, delivered) = std::thread::scope(|s| {
        let importer = s.spawn(|| app.import(&[input.display().to_string()]));
        let collector = s.spawn(|| {
            let tenant = app.config().tenants[0].clone();
            let mut stored = 0;
            for _ in 0..3 {
                let r = collect_tenant(
                    &handle,
                    app.store(),
                    app.writer().unwrap(),
                    &tenant,
                    &CollectOptions::default(),
                    app.forward(),
                    &|| false,
                )
                .unwrap();
                assert!(r.errors.is_empty(), "{:?}", r.errors);
                stored += r.stored;
            }
            stored
        });
        let rules = s.spawn(|| {
            let mut runs = 0;
            while !done.load(Ordering::Acquire) {
                app.rules(Utc::now()).unwrap();
                runs += 1;
            }
            runs
        });
        let deliverer = s.spawn(|| {
            let mut delivered = 0;
            while !done.load(Ordering::Acquire) {
                delivered += deliver();
                // Acknowledge whatever is open meanwhile: a transition through the same writer.
                for a in app
                    .alerts(Some(privtrail_rules::AlertStatus::Open))
                    .unwrap()
                {
                    // The rules job may resolve it between the listing and this call: then
                    // the acknowledgement is refused, which is right.
                    match app.ack_alert(&a.id, Utc::now(), "test", Some("seen")) {
                        Ok(_) => {}
                        Err(e) if e.to_string().contains("is already resolved") => {}
                        Err(e) => panic!("acknowledge {}: {e}", a.id),
                    }
                }
            }
            delivered
        });
        let summary = importer.join().unwrap().unwrap();
        let collected = collector.join().unwrap();
        done.store(true, Ordering::Release);
        (
            summary,
            collected,
            rules.join().unwrap(),
            deliverer.join().unwrap(),
        )
    });
    assert_eq!(summary.total.stored, 20_000);
    assert!(rules_runs >= 1);
    // Every Entra record once (the second and third pulls find duplicates only).
    assert!(
        collected > 0 && collected <= sim_records,
        "{collected} of {sim_records}"
    );
    let entra = app.count(&SearchRequest::new("source:entra", 0)).unwrap();
    assert_eq!(entra, collected);

    // One more rules run and a last delivery round: everything judged, everything delivered.
    let ev = app.rules(Utc::now()).unwrap();
    assert_eq!(ev.cursor, app.store().last_seq().unwrap());
    let last = deliver();
    let counts = app.store().outbox_counts().unwrap();
    assert!(
        counts
            .iter()
            .all(|(_, st, _)| *st == OutboxStatus::Delivered),
        "{counts:?}"
    );
    let total: u64 = counts.iter().map(|(_, _, n)| n).sum();
    assert_eq!(total, delivered + last);
    assert!(total > 0);
    let lines = std::fs::read_to_string(&delivered_file)
        .unwrap()
        .lines()
        .count() as u64;
    assert_eq!(lines, total, "each message delivered once");
    let report = app.store().verify().unwrap();
    assert!(report.first_broken.is_none(), "{report:?}");
    app.close();
    rt.block_on(running.stop());
}
