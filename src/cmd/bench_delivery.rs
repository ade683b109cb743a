//! `privtrail bench delivery`: delivery throughput through the outbox to a local syslog TCP
//! receiver and a local Splunk HEC stand-in, and the latency from an event entering ingest to its
//! alert being in the outbox.

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use anyhow::{Result, bail};
use chrono::Utc;
use privtrail_app::config::DeliveryConfig;
use privtrail_app::import::{self, Progress};
use privtrail_app::{App, Config, WriteHandle};
use privtrail_store::OutboxEntry;

use crate::cli::BenchDeliveryArgs;

pub fn run(args: &BenchDeliveryArgs, config: &Config) -> Result<ExitCode> {
    let tmp = tempfile::Builder::new()
        .prefix("privtrail-bench-delivery-")
        .tempdir()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let syslog_addr = match &args.syslog {
        Some(a) => a.clone(),
        None => rt.block_on(tcp_sink())?,
    };
    let (hec_url, hec_count) = rt.block_on(hec_stand_in())?;
    println!(
        "{:<44} {:>9} {:>9} {:>12}",
        "channel", "messages", "seconds", "messages/s"
    );
    for (name, toml_text) in [
        (
            format!("syslog TCP, CEF ({syslog_addr})"),
            format!(
                "name = \"siem\"\ntype = \"syslog\"\ntransport = \"tcp\"\nhost = {:?}\nport = {}\nformat = \"cef\"\n",
                syslog_addr
                    .rsplit_once(':')
                    .map(|(h, _)| h)
                    .unwrap_or("127.0.0.1"),
                syslog_addr.rsplit_once(':').map(|(_, p)| p).unwrap_or("0")
            ),
        ),
        (
            format!("Splunk HEC stand-in ({hec_url})"),
            format!(
                "name = \"siem\"\ntype = \"splunk_hec\"\nurl = {hec_url:?}\ntoken = \"bench\"\nindex = \"main\"\n"
            ),
        ),
    ] {
        let channel: privtrail_alerts::ChannelConfig = toml::from_str(&toml_text)?;
        let dir = tmp.path().join(format!("store-{}", channel.type_name()));
        let app = App::open_writer(&dir, Config::default(), "bench")?;
        enqueue(app.writer()?, args.messages)?;
        let chans = privtrail_app::deliver::channels(
            rt.handle(),
            std::slice::from_ref(&channel),
            &config.delivery,
        )?;
        let started = Instant::now();
        let mut delivered = 0;
        while delivered < args.messages {
            let r = privtrail_app::deliver::deliver_due(
                rt.handle(),
                app.store(),
                app.writer()?,
                &chans,
                &DeliveryConfig::default(),
                Utc::now(),
                &|| false,
            )?;
            if r.delivered == 0 {
                bail!("delivery stalled: {:?}", r.errors);
            }
            delivered += r.delivered;
        }
        let secs = started.elapsed().as_secs_f64();
        println!(
            "{name:<44} {delivered:>9} {secs:>9.2} {:>12.0}",
            delivered as f64 / secs
        );
    }
    let _ = hec_count.load(Ordering::Relaxed);
    latency(args, config, tmp.path())?;
    Ok(ExitCode::SUCCESS)
}

/// Outbox entries as alerts would make them (a realistic payload), enqueued in batches.
fn enqueue(w: &WriteHandle, n: u64) -> Result<()> {
    let now = Utc::now();
    let mut batch = Vec::new();
    for i in 0..n {
        let notice = privtrail_alerts::AlertNotice {
            id: format!("bench-{i}"),
            rule: "overdue-elevation".into(),
            severity: "high".into(),
            status: "open".into(),
            principal: Some(format!("user{}@contoso.com", i % 500)),
            privilege: Some("Global Administrator".into()),
            scope: Some("/".into()),
            opened_at: now,
            updated_at: now,
            summary: format!(
                "user{}@contoso.com holds Global Administrator at / past its expected end",
                i % 500
            ),
            event_ids: vec![format!("{i:032x}")],
            elevation_id: Some(format!("el-{i}")),
            link: None,
        };
        batch.push(OutboxEntry {
            channel: "siem".into(),
            idempotency_key: format!("alert:bench-{i}"),
            payload: serde_json::to_string(&privtrail_alerts::Payload::Alert(notice))?,
        });
        if batch.len() == 1000 || i + 1 == n {
            let entries = std::mem::take(&mut batch);
            w.call(move |w| w.save_alerts_with_outbox(&[], &entries))??;
        }
    }
    Ok(())
}

/// A TCP receiver that reads and discards (what a SIEM's syslog input does, minus parsing).
async fn tcp_sink() -> Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?.to_string();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut sink = tokio::io::sink();
                let _ = tokio::io::copy(&mut s, &mut sink).await;
            });
        }
    });
    Ok(addr)
}

/// An HTTP server that answers `/services/collector/event` as Splunk does on success.
async fn hec_stand_in() -> Result<(String, Arc<AtomicU64>)> {
    let count = Arc::new(AtomicU64::new(0));
    let c = Arc::clone(&count);
    let app = axum::Router::new().route(
        "/services/collector/event",
        axum::routing::post(move |body: String| {
            let c = Arc::clone(&c);
            async move {
                c.fetch_add(body.matches("\"event\"").count() as u64, Ordering::Relaxed);
                axum::Json(serde_json::json!({"text": "Success", "code": 0}))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok((url, count))
}

/// From an event entering ingest (a file handed to the importer) to its alert in the outbox.
fn latency(args: &BenchDeliveryArgs, config: &Config, dir: &std::path::Path) -> Result<()> {
    let mut config = config.clone();
    config.channels.push(toml::from_str(&format!(
        "name = \"siem\"\ntype = \"file\"\npath = {:?}\n",
        dir.join("latency-alerts.jsonl").display().to_string()
    ))?);
    config.routes.push(toml::from_str("channels = [\"siem\"]")?);
    let app = App::open_writer(&dir.join("store-latency"), config, "bench")?;
    let opts = app.config().ingest_options(&[]);
    let mut samples = Vec::new();
    for i in 0..args.latency_runs {
        // A Security log cleared on host i: audit-tampering, one alert per host.
        let file = dir.join(format!("cleared-{i}.jsonl"));
        let mut f = std::fs::File::create(&file)?;
        writeln!(
            f,
            "{}",
            serde_json::json!({
                "@timestamp": privtrail_model::format_time(Utc::now()),
                "event": {"code": "1102", "provider": "Microsoft-Windows-Eventlog"},
                "winlog": {"channel": "Security", "computer_name": format!("WS-{i:04}"), "event_id": "1102",
                           "provider_name": "Microsoft-Windows-Eventlog", "record_id": i + 1,
                           "user_data": {"SubjectUserName": "adm-frank", "SubjectDomainName": "CONTOSO",
                                         "SubjectUserSid": "S-1-5-21-1-2-3-1105", "SubjectLogonId": "0x3e7"}}
            })
        )?;
        drop(f);
        let started = Instant::now();
        import::import(
            app.writer()?,
            &[file.display().to_string()],
            &opts,
            &Progress::none(),
            None,
            app.forward(),
        )?
        .1
        .wait()?;
        let ev = app.rules(Utc::now())?;
        let elapsed = started.elapsed();
        if ev.enqueued == 0 {
            bail!("run {i}: the event raised no alert in the outbox");
        }
        samples.push(elapsed.as_secs_f64() * 1000.0);
    }
    samples.sort_by(f64::total_cmp);
    let pct = |p: f64| samples[((samples.len() as f64 - 1.0) * p).round() as usize];
    println!(
        "event → alert in outbox ({} runs): p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        samples.len(),
        pct(0.5),
        pct(0.99),
        pct(1.0)
    );
    Ok(())
}
