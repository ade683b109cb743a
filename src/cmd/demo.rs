//! `privtrail demo`: the embedded default. Simulates an estate, writes its events in the real
//! formats, imports them with the real importer, and shows what privtrail finds.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use chrono::Utc;
use privtrail_app::collect::{CollectOptions, collect_tenant};
use privtrail_app::deliver::{channels, deliver_due};
use privtrail_app::import::{self, Progress};
use privtrail_app::{App, Config};
use privtrail_model::Action;
use privtrail_sim::{EstateSpec, generate_estate};
use privtrail_store::SearchRequest;

use crate::UsageError;
use crate::cli::DemoArgs;

/// The file that marks a data directory as a demo's: `demo --data-dir` reuses only those.
const DEMO_MARKER: &str = "privtrail-demo";

/// Runs the demo in its own temporary folder, with its own config: never the configured store or
/// channels. `data_dir` is a `--data-dir` typed on the command line, which must be new, empty, or
/// a previous demo's.
pub fn run(args: &DemoArgs, data_dir: Option<PathBuf>) -> Result<ExitCode> {
    if let Some(d) = &data_dir {
        check_demo_dir(d)?;
    }
    let work = tempfile::Builder::new()
        .prefix("privtrail-demo-")
        .tempdir()
        .context("cannot create a temporary folder for the demo")?
        .keep();
    let events_dir = work.join("events");
    std::fs::create_dir_all(&events_dir)
        .with_context(|| format!("cannot create {}", events_dir.display()))?;
    let data = data_dir.unwrap_or_else(|| work.join("data"));
    // A previous demo's store still holds its estate: this run's counts include it.
    let reused = data.join(DEMO_MARKER).is_file() && data.join(privtrail_store::DB_FILE).exists();
    privtrail_app::lock::create_private_dir(&data)
        .with_context(|| format!("cannot create {}", data.display()))?;
    std::fs::write(
        data.join(DEMO_MARKER),
        "This data directory was made by `privtrail demo`, which may reuse it.\n",
    )
    .with_context(|| format!("cannot write into {}", data.display()))?;

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

    // The simulated tenant: a local server that behaves like Microsoft Graph.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let sim = privtrail_sim::scenario(Utc::now(), args.seed);
    let sim_facts = privtrail_sim::scenario_facts(&sim);
    let listen = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    let running = rt
        .block_on(privtrail_sim::start(
            sim,
            privtrail_sim::Faults::default(),
            listen,
        ))
        .context("cannot start the simulated Entra tenant")?;

    // The demo's own configuration (never the user's, whose channels are real): the simulated
    // tenant, its emergency account as an administrator would configure it, and a file channel
    // that every alert is routed to. Written beside the events for the commands printed below.
    let alerts_file = work.join("alerts.jsonl");
    let config_text = format!(
        "[policy]\nbreak_glass = [\"breakglass@contoso.com\"]\n\n\
         [[tenants]]\nname = \"contoso\"\ntenant_id = \"{}\"\nclient_id = \"{}\"\nclient_secret = \"{}\"\n\
         login_url = \"{url}\"\ngraph_url = \"{url}\"\nrate_requests = 100\nrate_window = \"1s\"\n\n\
         [[channels]]\nname = \"demo-file\"\ntype = \"file\"\npath = {:?}\n\n\
         [[routes]]\nchannels = [\"demo-file\"]\n\n\
         [[channels]]\nname = \"demo-rmm\"\ntype = \"webhook\"\n\
         url = \"http://127.0.0.1:9/privtrail-remediation\"\nsecret = \"demo-rmm-hmac-key\"\n\n\
         [remediation]\nmode = \"propose\"\nwebhook = \"demo-rmm\"\n\n\
         [rules.activation-notice]\nenabled = true\n",
        privtrail_sim::SIM_TENANT_ID,
        privtrail_sim::SIM_CLIENT_ID,
        privtrail_sim::SIM_CLIENT_SECRET,
        alerts_file.display().to_string(),
        url = running.base_url
    );
    let config_file = work.join("privtrail-demo.toml");
    write_private(&config_file, &config_text)?;
    let config = Config::parse(&config_text, |_| None)?;
    let tenant = config
        .tenant("contoso")
        .cloned()
        .context("the demo's config names its tenant")?;
    let app = std::sync::Arc::new(App::open_writer(&data, config, "demo")?);

    let opts = app.config().ingest_options(&[]);
    let bar = super::ingest::Bar::new(std::io::stderr().is_terminal());
    let start = |paths: &[PathBuf]| bar.start(paths);
    let bytes = |idx: usize, n: u64| bar.at(idx, n);
    let (summary, searchable) = import::import(
        app.writer()?,
        &[events_dir.display().to_string()],
        &opts,
        &Progress {
            start: &start,
            bytes: &bytes,
            stop: &|| false,
        },
        None,
        app.forward(),
    )?;
    searchable.wait()?;
    bar.done();
    println!("Imported with the real importer:");
    super::ingest::print_summary(&summary, &mut std::io::stdout().lock())?;

    println!("\nEvents by action:");
    for (action, name) in Action::ALL {
        let n = count(&app, &format!("action:{}", action.as_str()))?;
        if n > 0 {
            println!("  {name:<28} {n:>8}");
        }
    }

    println!("\nWhat privtrail found (each checked against what the simulation wrote):");
    let mut all_hold = true;
    for fact in &estate.facts {
        let n = count(&app, &fact.query)?;
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

    println!(
        "\nSimulated Entra tenant \"contoso\" at {} (Microsoft Graph and its token endpoint);\n\
         the real collector pulls its audit log and PIM state:",
        running.base_url
    );
    let report = collect_tenant(
        rt.handle(),
        app.store(),
        app.writer()?,
        &tenant,
        &CollectOptions::default(),
        app.forward(),
        &|| false,
    )?;
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
    let collected = report.errors.is_empty();
    for e in &report.errors {
        println!("  error: {e}");
    }
    for (description, query, expected) in sim_facts {
        let n = count(&app, &query)?;
        all_hold &= n == expected;
        println!(
            "  [{}] {description}: {n} (expected {expected})\n        privtrail search '{query}'",
            if n == expected { "ok" } else { "MISMATCH" },
        );
    }
    rt.block_on(running.stop());

    // The rules, as after every ingest and collection: elevations and the alerts they raise.
    let evaluation = app.rules(Utc::now())?;
    println!("\nRules (SPEC §4) over both sources:");
    super::print_evaluation(&evaluation);
    // Remediation in `propose` mode: actions wait for a reviewer (nothing is sent here; the
    // `demo-rmm` webhook stands for the RMM that would run the Windows actions).
    let remediation = privtrail_app::remediate::run::run(
        &app,
        &privtrail_app::remediate::receiver::Receivers::default(),
        Utc::now(),
        false,
    )?;
    println!(
        "\nRemediation ([remediation] mode = \"propose\"): actions wait for a reviewer's approval"
    );
    for l in &remediation.lines {
        println!(
            "  {:<16} {:<8} {} (alert {})",
            l.id,
            l.step,
            crate::output::terminal_safe(&l.detail),
            l.alert_id
        );
    }
    let chans = channels(rt.handle(), &app.config().channels, &app.config().delivery)?;
    let delivery = deliver_due(
        rt.handle(),
        app.store(),
        app.writer()?,
        &chans,
        &app.config().delivery,
        Utc::now(),
        &|| false,
    )?;
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
    for (ch, status, n) in app.store().outbox_counts()? {
        println!("  {ch}: {n} {}", status.as_str());
    }
    println!("  alerts as JSON lines: {}", alerts_file.display());
    let now = Utc::now();
    println!("\nOpen elevations:");
    for e in &evaluation.open_elevations {
        // The one definition of overdue, as `elevations --overdue` and the rule use it.
        let overdue = app.engine().is_overdue(e, now);
        println!(
            "  {:<30} {:<26} since {}{}  {}",
            e.privilege,
            e.scope,
            e.started_at.format("%Y-%m-%d %H:%M"),
            if overdue { "  OVERDUE" } else { "         " },
            e.who_short(),
        );
    }

    let grants = app.search(&SearchRequest {
        query: "action:group.member.added OR action:group.member.removed".into(),
        since: None,
        until: None,
        limit: 12,
        after: None,
    })?;
    println!("\nLatest group membership changes:");
    for e in &grants {
        println!(
            "  {}  {}",
            e.time.format("%Y-%m-%d %H:%M:%S"),
            crate::output::terminal_safe(&e.message)
        );
    }

    let dir_arg = format!(
        "--data-dir {} --config {}",
        data.display(),
        config_file.display()
    );
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
        "privtrail {dir} remediate list",
        "privtrail {dir} verify",
    ] {
        println!("  {}", q.replace("{dir}", &dir_arg));
    }
    if reused && !all_hold {
        println!(
            "\nThis data directory already held a previous demo's estate, which the counts above \
             include: a MISMATCH is expected (use a new folder for exact counts)."
        );
    }
    let code = if (all_hold || reused) && collected && summary.failed_inputs() == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    };
    if !args.no_serve {
        serve(&rt, &app)?;
    }
    Ok(code)
}

/// Serves the web UI and the API over the demo's store on a free port until Ctrl-C.
fn serve(rt: &tokio::runtime::Runtime, app: &std::sync::Arc<App>) -> Result<()> {
    let token = privtrail_app::tokens::Tokens::new(app.data_dir()).ensure_admin()?;
    rt.block_on(async {
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
        let l = privtrail_api::Listener::bind("the web UI", addr, None, None)
            .await
            .map_err(anyhow::Error::msg)?;
        println!("\nThe web UI over this estate: http://{}/", l.addr);
        println!("  token (paste it into the login form): {token}");
        println!("  Ctrl-C to stop.");
        let state = privtrail_api::ApiState::new(std::sync::Arc::clone(app));
        privtrail_api::serve(l, privtrail_api::router(state), async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await;
        anyhow::Ok(())
    })
}

fn count(app: &App, query: &str) -> Result<u64> {
    Ok(app.count(&SearchRequest {
        query: query.to_owned(),
        since: None,
        until: None,
        limit: 0,
        after: None,
    })?)
}

/// Refuses a folder that holds anything but a previous demo's data: the demo must not write into
/// a real store.
fn check_demo_dir(dir: &Path) -> Result<()> {
    let mut entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", dir.display())),
    };
    if entries.next().is_none() || dir.join(DEMO_MARKER).is_file() {
        return Ok(());
    }
    Err(UsageError(format!(
        "refusing to run the demo in {}: it is neither empty nor a previous demo's data directory, \
         and the demo never writes into a real store (pass a new or empty folder, or no --data-dir)",
        dir.display()
    ))
    .into())
}

/// Writes `text` to a new file only its owner may read.
fn write_private(path: &Path, text: &str) -> Result<()> {
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    let mut f = o
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    std::io::Write::write_all(&mut f, text.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))
}
