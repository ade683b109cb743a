//! Command-line interface (SPEC §7). Only this module and `main` know about clap.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "privtrail",
    version,
    about = "Audit temporary admin access: Entra ID PIM and Windows local admin, one searchable trail",
    propagate_version = true
)]
pub struct Cli {
    /// Where the store lives (SQLite database and search index).
    #[arg(long, global = true, env = "PRIVTRAIL_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// Configuration file (TOML).
    #[arg(long, global = true, env = "PRIVTRAIL_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Whether `--data-dir` was on the command line (not from `PRIVTRAIL_DATA_DIR`).
    #[arg(skip)]
    pub data_dir_typed: bool,

    /// Log output format (logs go to stderr; level from PRIVTRAIL_LOG, default `warn`).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Import event files: Windows (EVTX, Winlogbeat/NXLog JSON lines, Event XML), exported Entra
    /// audit logs (Graph JSON, Log Analytics JSON/CSV, Azure Monitor) and endpoint admin tags
    /// (`reg query` text or JSON); plain or gzipped.
    Ingest(IngestArgs),
    /// Search stored events (tantivy query syntax over the event fields; `*` matches all).
    Search(SearchArgs),
    /// Collect from a source now (one pull), as the daemon would on its schedule.
    #[command(subcommand)]
    Collect(CollectCommand),
    /// Who held which privilege, where, from when to when (SPEC §3).
    Elevations(ElevationsArgs),
    /// List, show, acknowledge and resolve alerts.
    Alerts(AlertsArgs),
    /// List, check, test (backtest) and sweep the rules.
    #[command(subcommand)]
    Rules(RulesCommand),
    /// The delivery outbox: list messages, deliver what is due, retry dead letters.
    Outbox(OutboxArgs),
    /// Remediation actions (`[remediation]`): list, show, approve, reject, and run what is due.
    Remediate(RemediateArgs),
    /// Run the daemon: scheduled collection, watched folders, rules and delivery, the API and web UI
    /// (SPEC §7).
    Run(RunArgs),
    /// API tokens: show the admin token, rotate one, add named tokens with a role.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Check the integrity chain from its start, its keyed links and its anchors (or, with
    /// `--export DIR`, an export offline), and report the first broken link.
    Verify(VerifyArgs),
    /// Drop the events past their retention (`[retention]`): the oldest part of the chain, with a
    /// chained record of what went.
    Purge {
        /// Say what would go, change nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Write a period's events (with raw), elevations and alerts and a manifest to a folder, for
    /// an auditor (`verify --export DIR` checks it without the store).
    Export(ExportArgs),
    /// Access review for a period: per privilege who held it, how often and how long, overdue
    /// and standing access, the alerts and how they were resolved, and the chain that backs it
    /// (`html`: one self-contained printable file; `md`; `csv`: one row per holder).
    Report(ReportArgs),
    /// Rebuild the search index from the database.
    Reindex,
    /// Simulate an estate, import it with the real importer and show what privtrail finds.
    Demo(DemoArgs),
    /// Measure performance.
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Configuration file commands.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Simulators for end-to-end tests.
    #[command(subcommand, hide = true)]
    Sim(SimCommand),
}

#[derive(Debug, Args)]
pub struct IngestArgs {
    /// Files, folders (read recursively) or glob patterns.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<String>,

    /// Input format; `auto` detects it per file from its content.
    #[arg(long, default_value = "auto")]
    pub format: privtrail_ingest::Format,

    /// Event log channels to keep (repeatable); records of other channels are counted as skipped.
    /// Default: the config's `[ingest] channels`, else Security, System and ForwardedEvents.
    #[arg(long = "channel", value_name = "NAME")]
    pub channels: Vec<String>,

    /// Tenant label for Entra records (imports of exported history); default the record's own
    /// tenant id. Use the `name` of a configured tenant so imports dedupe with collected events.
    #[arg(long, value_name = "NAME")]
    pub tenant: Option<String>,

    /// Host of endpoint tags (`--format regtag`) that do not name one themselves.
    #[arg(long, value_name = "HOST")]
    pub host: Option<String>,

    /// Print the summary as one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum CollectCommand {
    /// Pull Entra ID audit logs and a PIM snapshot from Microsoft Graph for the configured tenants.
    Entra(CollectEntraArgs),
}

#[derive(Debug, Args)]
pub struct CollectEntraArgs {
    /// Only this tenant (its `name` in the config); default every configured tenant.
    #[arg(long, value_name = "NAME")]
    pub tenant: Option<String>,

    /// Start the audit window at T instead of at the stored watermark (RFC 3339, date, or `7d`).
    #[arg(long, value_name = "T")]
    pub since: Option<String>,

    /// Skip the PIM snapshot.
    #[arg(long)]
    pub no_pim: bool,

    /// Print the report as JSON (one object per tenant and line).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Table,
    Json,
    Csv,
}

#[derive(Debug, Args)]
pub struct SearchArgs {
    /// The query, e.g. `action:group.member.added AND privilege_id:"S-1-5-32-544"`.
    pub query: String,

    /// Only events at or after T (RFC 3339, a date, or relative like `24h`, `7d`).
    #[arg(long, value_name = "T")]
    pub since: Option<String>,

    /// Only events before T (same forms as --since).
    #[arg(long, value_name = "T")]
    pub until: Option<String>,

    /// At most N events (newest first).
    #[arg(long, default_value_t = 50, value_name = "N")]
    pub limit: usize,

    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,

    /// Print only the number of matching events.
    #[arg(long)]
    pub count: bool,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Exit when done instead of serving the web UI.
    #[arg(long)]
    pub no_serve: bool,

    /// Seed of the simulated estate (the same seed gives the same estate).
    #[arg(long, default_value_t = 7)]
    pub seed: u64,

    /// Number of simulated Windows machines.
    #[arg(long, default_value_t = 6)]
    pub machines: usize,

    /// Days of simulated activity, ending now.
    #[arg(long, default_value_t = 5)]
    pub days: u32,
}

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// End-to-end ingest throughput (read, parse, normalize, SQLite, tantivy committed) and peak RSS.
    Ingest(BenchIngestArgs),
    /// Delivery throughput through the outbox, and event-to-outbox latency.
    Delivery(BenchDeliveryArgs),
    /// The daemon (`privtrail run` as a child process): peak RSS during a sustained ingest from a
    /// watched folder, and the latency from a line appended to a watched file to its alert in
    /// the outbox.
    Daemon(BenchDaemonArgs),
    /// The HTTP side of the daemon: search latency through the API (idle and during ingest) and
    /// `/_bulk` throughput with concurrent clients.
    Api(BenchApiArgs),
}

#[derive(Debug, Args)]
pub struct BenchApiArgs {
    /// Events in the store searched (built once per --work-dir and reused).
    #[arg(long, default_value_t = 1_000_000)]
    pub events: u64,
    /// Requests per query and condition (latency samples).
    #[arg(long, default_value_t = 200)]
    pub searches: u64,
    /// Concurrent `/_bulk` clients.
    #[arg(long, default_value_t = 4)]
    pub bulk_clients: usize,
    /// How long the clients push (the searches "during ingest" run meanwhile).
    #[arg(long, default_value_t = 30.0)]
    pub bulk_seconds: f64,
    /// Push events dated inside the stored events' time range (an agent shipping old history)
    /// instead of live ones (newer than everything stored, moving forward as agents' events do).
    #[arg(long)]
    pub backfill: bool,
    /// Working folder; keeps the store for the next run (default: a temporary folder).
    #[arg(long)]
    pub work_dir: Option<PathBuf>,
    /// Print the results as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct BenchDaemonArgs {
    /// Generated Winlogbeat lines appended to the watched folder (the sustained ingest).
    #[arg(long, default_value_t = 1_000_000)]
    pub events: u64,
    /// Latency samples: one line appended, then waited for until its alert is in the outbox.
    #[arg(long, default_value_t = 200)]
    pub latency_runs: u64,
    /// The daemon's `[daemon] watch_interval` (default the config's default, 1s).
    #[arg(long, default_value = "1s")]
    pub watch_interval: String,
    /// Working folder (default: a temporary folder, removed afterwards).
    #[arg(long)]
    pub work_dir: Option<PathBuf>,
    /// Print the results as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct BenchDeliveryArgs {
    /// Messages per channel.
    #[arg(long, default_value_t = 20_000)]
    pub messages: u64,
    /// A running syslog receiver (`HOST:PORT`, TCP) instead of the built-in sink.
    #[arg(long)]
    pub syslog: Option<String>,
    /// Latency samples (one ingest + rules run each).
    #[arg(long, default_value_t = 200)]
    pub latency_runs: u64,
}

#[derive(Debug, Args)]
pub struct BenchIngestArgs {
    /// Number of generated events (Winlogbeat 8 JSON lines).
    #[arg(long, default_value_t = 1_000_000)]
    pub events: u64,

    /// Number of generated Entra audit records (Graph `directoryAudits` pages, the simulated
    /// tenant's records with fresh ids), imported as Graph JSON.
    #[arg(long, default_value_t = 200_000)]
    pub graph: u64,

    /// EVTX file to import repeatedly (each copy under another host name, so nothing dedupes).
    #[arg(long, default_value = "../shared/data/evtx/security.evtx")]
    pub evtx: PathBuf,

    /// How many copies of the EVTX file to import.
    #[arg(long, default_value_t = 200)]
    pub evtx_repeat: u32,

    /// Events in the store before each measured import (generated Winlogbeat events, not
    /// measured): the throughput at that store size.
    #[arg(long, default_value_t = 0)]
    pub stored: u64,

    /// Date the `--stored` events before the measured ones (each pass a year earlier), as a
    /// store that has run for a while holds them; by default they share the measured events'
    /// time range (a backfill of overlapping history, the harder case for the time index).
    #[arg(long)]
    pub stored_older: bool,

    /// Also measure the components alone on the same inputs: the `evtx` crate's parse,
    /// privtrail's parse + normalize without storing, a bare SQLite insert and a bare tantivy
    /// index of generated events (Winlogbeat, and Graph with `--graph`).
    #[arg(long)]
    pub reference: bool,

    /// Working folder (default: a temporary folder, removed afterwards).
    #[arg(long)]
    pub work_dir: Option<PathBuf>,

    /// Print the results as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate the configuration file without touching the network or the store.
    Check,
}

#[derive(Debug, Subcommand)]
pub enum SimCommand {
    /// Serve a simulated Entra tenant (Microsoft Graph + token endpoint); prints
    /// `listening on http://127.0.0.1:PORT`, then serves until killed or a piped stdin closes.
    Graph(SimGraphArgs),
}

#[derive(Debug, Args)]
pub struct SimGraphArgs {
    /// Address to listen on (port 0: any free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: std::net::SocketAddr,

    /// Fault injection, a JSON file (see `privtrail_sim::Faults`).
    #[arg(long, value_name = "FILE.json")]
    pub faults: Option<PathBuf>,

    /// Seed of the simulated tenant.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,

    /// The scenario's "now" (RFC 3339; default the current time).
    #[arg(long, value_name = "RFC3339")]
    pub now: Option<String>,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// An anchor file to hold the chain to (besides `[integrity] anchor_file` and the anchors the
    /// store recorded).
    #[arg(long, value_name = "FILE")]
    pub anchors: Option<PathBuf>,
    /// Check the export in DIR instead of the store (offline: the store is not needed).
    #[arg(long, value_name = "DIR")]
    pub export: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Only events matching this query (search syntax); default every event of the period.
    pub query: Option<String>,
    /// Start of the period (RFC 3339, date, or `30d` ago).
    #[arg(long, value_name = "T")]
    pub since: String,
    /// End of the period (default now).
    #[arg(long, value_name = "T")]
    pub until: Option<String>,
    /// `jsonl` (one event per line) or `csv`.
    #[arg(long, default_value = "jsonl")]
    pub format: String,
    /// The folder to write (must not exist or be empty).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Start of the period (RFC 3339, date, or `30d` ago).
    #[arg(long, value_name = "T")]
    pub since: String,
    /// End of the period (default now).
    #[arg(long, value_name = "T")]
    pub until: Option<String>,
    /// `html`, `md`, `csv` or `json`.
    #[arg(long, default_value = "html")]
    pub format: String,
    /// Write to FILE (mode 0600) instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Do not walk the chain to state in the footer that it verified.
    #[arg(long)]
    pub no_verify: bool,
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Print the admin token alone on its line (made when missing).
    Show,
    /// Replace a token (default the admin token) and print the new one.
    Rotate {
        /// The token's name (default `admin`).
        name: Option<String>,
    },
    /// Make a named token with a role and print it (it is shown only now).
    Add {
        name: String,
        /// `reader` (search, list), `reviewer` (also acknowledge and resolve), `ingest` (only push
        /// events).
        #[arg(long)]
        role: String,
    },
    /// List the tokens' names and roles.
    List,
    /// Remove a named token.
    Remove { name: String },
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Run every job once (collect each tenant, scan each watched path, rules, delivery) and
    /// exit: 0 when every job succeeded, 1 otherwise.
    #[arg(long)]
    pub once: bool,
}

#[derive(Debug, Args)]
pub struct ElevationsArgs {
    /// Who held what at T (RFC 3339, date, or `24h` ago).
    #[arg(long, value_name = "T")]
    pub at: Option<String>,
    /// Only elevations still open.
    #[arg(long)]
    pub open: bool,
    /// Only open elevations past their expected end plus the grace period.
    #[arg(long)]
    pub overdue: bool,
    /// Only principals containing this text (case-insensitive).
    #[arg(long, value_name = "P")]
    pub principal: Option<String>,
    /// Only privileges (name or id) containing this text (case-insensitive).
    #[arg(long, value_name = "P")]
    pub privilege: Option<String>,
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,
}

#[derive(Debug, Args)]
pub struct AlertsArgs {
    #[command(subcommand)]
    pub command: Option<AlertsCommand>,
    /// `list`: only alerts with this status (open, acknowledged, resolved).
    #[arg(long, global = true)]
    pub status: Option<String>,
    #[arg(long, value_enum, default_value_t = OutputFormat::Table, global = true)]
    pub format: OutputFormat,
}

#[derive(Debug, Subcommand)]
pub enum AlertsCommand {
    /// List alerts, newest first (the default).
    List,
    /// Show one alert with the events behind it.
    Show { id: String },
    /// Acknowledge an open alert (recorded with your user name and the note).
    Ack {
        id: String,
        /// Why, for the alert's history.
        #[arg(long)]
        note: Option<String>,
    },
    /// Resolve an alert (recorded with your user name and the note).
    Resolve {
        id: String,
        /// Why, for the alert's history.
        #[arg(long)]
        note: Option<String>,
    },
    /// Silence a rule (for one principal, or everyone) for a while: its findings open no alert
    /// and notify no one. Recorded as a chained `alert.silenced` event with your user name.
    Silence {
        /// The rule (`privtrail rules list`), or `*` for every rule.
        #[arg(long)]
        rule: String,
        /// Only this principal (as alerts name it); default everyone.
        #[arg(long)]
        principal: Option<String>,
        /// How long (`4h`, `7d`).
        #[arg(long = "for", value_name = "DURATION")]
        duration: String,
        /// Why, for the record.
        #[arg(long)]
        note: Option<String>,
    },
    /// The silences in force.
    Silences,
}

#[derive(Debug, Args)]
pub struct RemediateArgs {
    #[command(subcommand)]
    pub command: Option<RemediateCommand>,
    #[arg(long, value_enum, default_value_t = OutputFormat::Table, global = true)]
    pub format: OutputFormat,
}

#[derive(Debug, Subcommand)]
pub enum RemediateCommand {
    /// List actions, newest first (the default).
    List,
    /// Show one action (by its id, a prefix of it, or its alert's id) with its history.
    Show { id: String },
    /// Approve a proposed (or failed) action: the next run sends it. Recorded with your user name.
    Approve {
        id: String,
        /// Why, for the record.
        #[arg(long)]
        note: Option<String>,
    },
    /// Reject a proposed (or failed) action: it is never sent. Recorded with your user name.
    Reject {
        id: String,
        #[arg(long)]
        note: Option<String>,
    },
    /// Plan new actions from the open alerts and send the approved ones, as the daemon does.
    Run {
        /// Say what would be proposed and sent; store and send nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// The enabled rules with their severity.
    List {
        #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
        format: OutputFormat,
    },
    /// Validate the rule configuration.
    Check,
    /// Replay stored history through the rules as if live and print what would have fired.
    /// Changes nothing and sends nothing.
    Test(RulesTestArgs),
    /// Evaluate the rules now with no new events (overdue elevations fire without new events).
    Sweep,
}

#[derive(Debug, Args)]
pub struct RulesTestArgs {
    /// Start of the replay (RFC 3339, date, or `7d` ago).
    #[arg(long, value_name = "T")]
    pub since: String,
    /// End of the replay (default now).
    #[arg(long, value_name = "T")]
    pub until: Option<String>,
    /// How often the replay sweeps between events (overdue fires in sweeps), e.g. `15m`, `1h`.
    #[arg(long, default_value = "1h")]
    pub step: String,
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,
}

#[derive(Debug, Args)]
pub struct OutboxArgs {
    #[command(subcommand)]
    pub command: Option<OutboxCommand>,
    /// `list`: only messages with this status (pending, delivered, dead).
    #[arg(long, global = true)]
    pub status: Option<String>,
    #[arg(long, value_enum, default_value_t = OutputFormat::Table, global = true)]
    pub format: OutputFormat,
}

#[derive(Debug, Subcommand)]
pub enum OutboxCommand {
    /// List messages, newest first (the default).
    List {
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Put a message (or, with --dead, every dead letter) back in the queue.
    Retry {
        /// The message id (see `outbox list`).
        id: Option<i64>,
        /// Every dead letter.
        #[arg(long)]
        dead: bool,
    },
    /// Deliver what is due now; with --wait, keep delivering until nothing is pending or the time
    /// is up (retries wait for their backoff).
    Deliver {
        /// Keep going for up to this long, e.g. `30s` (default: one round).
        #[arg(long, value_name = "DURATION")]
        wait: Option<String>,
    },
}
