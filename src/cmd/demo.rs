//! `privtrail demo`: the embedded default. Simulates an estate, writes its events in the real
//! formats, imports them with the real importer, and shows what privtrail finds.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use chrono::Utc;
use privtrail_model::Action;
use privtrail_store::{SearchRequest, Store};

use crate::cli::DemoArgs;
use crate::config::Config;
use crate::demo::{EstateSpec, generate_estate};
use crate::import;

pub fn run(args: &DemoArgs, config: &Config, data_dir: Option<PathBuf>) -> Result<ExitCode> {
    let work = tempfile::Builder::new()
        .prefix("privtrail-demo-")
        .tempdir()
        .context("cannot create a temporary folder for the demo")?
        .keep();
    let events_dir = work.join("events");
    std::fs::create_dir_all(&events_dir)
        .with_context(|| format!("cannot create {}", events_dir.display()))?;
    let data = data_dir.unwrap_or_else(|| work.join("data"));

    let spec = EstateSpec {
        seed: args.seed,
        machines: args.machines,
        days: args.days,
        end: Utc::now(),
    };
    let estate = generate_estate(&spec, &events_dir).with_context(|| {
        format!(
            "cannot write the simulated events to {}",
            events_dir.display()
        )
    })?;
    println!(
        "Simulated estate: {} Windows machines, {} days, {} events in {} files (Event XML and Winlogbeat JSON lines)\n  under {}\n",
        spec.machines,
        spec.days,
        estate.events,
        estate.files.len(),
        events_dir.display()
    );

    let store = super::open_store(&data)?;
    let before = store.last_seq()?;
    let opts = super::ingest_options(config, &[]);
    let summary = import::import(
        &store,
        &[events_dir.display().to_string()],
        &opts,
        true,
        None,
        &|e| crate::deliver::event_entries(config, e),
    )?;
    println!("Imported with the real importer:");
    import::print_summary(&summary, &mut std::io::stdout().lock())?;

    println!("\nEvents by action:");
    for (action, name) in Action::ALL {
        let n = count(&store, &format!("action:{}", action.as_str()))?;
        if n > 0 {
            println!("  {name:<28} {n:>8}");
        }
    }

    println!("\nWhat privtrail found (each checked against what the simulation wrote):");
    let mut all_hold = true;
    for fact in &estate.facts {
        let n = count(&store, &fact.query)?;
        let ok = n == fact.expected;
        all_hold &= ok;
        println!(
            "  [{}] {}: {} (expected {})\n        privtrail search '{}'",
            if ok { "ok" } else { "MISMATCH" },
            fact.description,
            n,
            fact.expected,
            fact.query
        );
    }

    all_hold &= entra(&store, args.seed)?;

    // The rules, as after every ingest and collection: elevations and the alerts they raise.
    let mut engine = crate::engine::Engine::from_config(config)?;
    engine.tenants.push("contoso".into());
    // Delivery: every alert also goes to a file channel in the demo folder (plus whatever the
    // config routes, e.g. to an SMTP server).
    let alerts_file = work.join("alerts.jsonl");
    let demo_channel: privtrail_alerts::ChannelConfig = toml::from_str(&format!(
        "name = \"demo-file\"\ntype = \"file\"\npath = {:?}\n",
        alerts_file.display().to_string()
    ))?;
    engine.routes.push(crate::config::RouteConfig {
        min_severity: None,
        rules: Vec::new(),
        channels: vec!["demo-file".into()],
    });
    // The simulated tenant's emergency account, as an administrator would configure it.
    engine
        .policy
        .break_glass
        .push("breakglass@contoso.com".into());
    let evaluation = {
        let mut writer = store.writer()?;
        crate::engine::evaluate(&store, &mut writer, &engine, Some(before), Utc::now())?
    };
    println!("\nRules (SPEC §4) over both sources:");
    super::print_evaluation(&evaluation);
    let mut channel_list = config.channels.clone();
    channel_list.push(demo_channel);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let chans = crate::deliver::channels(&rt, &channel_list, &config.delivery)?;
    let delivery = crate::deliver::deliver_due(&rt, &store, &chans, &config.delivery, Utc::now())?;
    println!(
        "\nDelivered through the outbox: {} messages ({} to retry, {} dead){}",
        delivery.delivered,
        delivery.retried,
        delivery.dead,
        if delivery.errors.is_empty() {
            String::new()
        } else {
            format!("; {}", delivery.errors.join("; "))
        }
    );
    for (ch, status, n) in store.outbox_counts()? {
        println!("  {ch}: {n} {}", status.as_str());
    }
    println!("  alerts as JSON lines: {}", alerts_file.display());
    let now = Utc::now();
    let grace = engine.policy.grace;
    println!("\nOpen elevations:");
    for e in evaluation.elevations.iter().filter(|e| e.is_open()) {
        let overdue = e.expected_end.is_some_and(|x| now > x + grace);
        println!(
            "  {:<44} {:<30} {:<26} since {}{}",
            e.principal,
            e.privilege,
            e.scope,
            e.started_at.format("%Y-%m-%d %H:%M"),
            if overdue { "  OVERDUE" } else { "" }
        );
    }

    let grants = store.search(&SearchRequest {
        query: "action:group.member.added OR action:group.member.removed".into(),
        since: None,
        until: None,
        limit: 12,
    })?;
    println!("\nLatest group membership changes:");
    for e in &grants {
        println!("  {}  {}", e.time.format("%Y-%m-%d %H:%M:%S"), e.message);
    }

    let dir_arg = format!("--data-dir {}", data.display());
    println!("\nTry:");
    for q in [
        "privtrail {dir} search 'action:role.activated' --format json",
        "privtrail {dir} search 'source:entra AND NOT linked_to:*' --count",
        "privtrail {dir} search 'action:group.member.added AND privilege_id:\"S-1-5-32-544\"'",
        "privtrail {dir} search 'action:audit.log_cleared' --format json",
        "privtrail {dir} search 'event_code:4672' --since 24h --count",
        "privtrail {dir} search 'target:*1601' --format csv",
        "privtrail {dir} elevations --overdue",
        "privtrail {dir} alerts",
        "privtrail {dir} rules test --since 7d",
        "privtrail {dir} verify",
    ] {
        println!("  {}", q.replace("{dir}", &dir_arg));
    }
    if !args.no_serve {
        println!("\n(The web UI is not part of this version yet; the demo exits here.)");
    }
    Ok(if all_hold && summary.failed_inputs() == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn count(store: &Store, query: &str) -> Result<u64> {
    Ok(store.count(&SearchRequest {
        query: query.to_owned(),
        since: None,
        until: None,
        limit: 0,
    })?)
}

/// The simulated tenant: a local server that behaves like Microsoft Graph, and the real collector
/// pulling from it.
fn entra(store: &Store, seed: u64) -> Result<bool> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let sim = crate::sim::scenario(Utc::now(), seed);
    let facts = crate::sim::scenario_facts(&sim);
    let listen = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    let running = rt
        .block_on(crate::sim::start(
            sim,
            crate::sim::Faults::default(),
            listen,
        ))
        .context("cannot start the simulated Entra tenant")?;
    let toml_text = format!(
        "name = \"contoso\"\ntenant_id = \"{}\"\nclient_id = \"{}\"\nclient_secret = \"{}\"\n\
         login_url = \"{url}\"\ngraph_url = \"{url}\"\nrate_requests = 100\nrate_window = \"1s\"\n",
        crate::sim::SIM_TENANT_ID,
        crate::sim::SIM_CLIENT_ID,
        crate::sim::SIM_CLIENT_SECRET,
        url = running.base_url
    );
    let tenant: crate::config::TenantConfig = toml::from_str(&toml_text)?;
    println!(
        "\nSimulated Entra tenant \"contoso\" at {} (Microsoft Graph and its token endpoint);\n\
         the real collector pulls its audit log and PIM state:",
        running.base_url
    );
    let mut writer = store.writer()?;
    let report = crate::collect::collect_tenant(
        &rt,
        store,
        &mut writer,
        &tenant,
        &crate::collect::CollectOptions::default(),
        &|_| Vec::new(),
    )?;
    drop(writer);
    println!(
        "  {} pages, {} audit records, {} stored, {} PIM/Core Directory pairs linked (they count once)",
        report.pages, report.records, report.stored, report.linked
    );
    println!(
        "  PIM snapshot: {} active assignments, {} eligibilities, {} users",
        report.assignments.unwrap_or(0),
        report.eligibilities.unwrap_or(0),
        report.users.unwrap_or(0)
    );
    let mut all_hold = report.errors.is_empty();
    for e in &report.errors {
        println!("  error: {e}");
    }
    for (description, query, expected) in facts {
        let n = count(store, &query)?;
        all_hold &= n == expected;
        println!(
            "  [{}] {description}: {n} (expected {expected})\n        privtrail search '{query}'",
            if n == expected { "ok" } else { "MISMATCH" },
        );
    }
    rt.block_on(running.stop());
    Ok(all_hold)
}
