//! The report as one self-contained printable HTML page: inline CSS, no script, every value
//! escaped by maud, and a CSP that forbids anything else (a name holding `<script>` stays text).

use maud::{DOCTYPE, Markup, PreEscaped, html};

use super::render::{place, plural, span, when};
use super::{ActionLine, Holder, Report};

const STYLE: &str = r#"
:root { --ink:#1d232b; --muted:#5b6673; --line:#d5dbe2; --bad:#a4161a; --warn:#8a5a00; --ok:#1e6b34; --head:#f2f5f8; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", sans-serif; color: var(--ink); margin: 2rem auto; max-width: 78rem; padding: 0 1.5rem; }
h1 { font-size: 1.7rem; margin: 0 0 .2rem; }
h2 { font-size: 1.25rem; margin: 2rem 0 .6rem; padding-bottom: .25rem; border-bottom: 2px solid var(--ink); }
h3 { font-size: 1.05rem; margin: 1.4rem 0 .4rem; }
.muted, .kind { color: var(--muted); }
.kind { font-weight: normal; font-size: .85rem; margin-left: .5rem; }
.period { font-size: 1.1rem; margin: .2rem 0; }
.id, code { font-family: ui-monospace, "SFMono-Regular", Consolas, monospace; font-size: .8rem; overflow-wrap: anywhere; }
.numbers { display: grid; grid-template-columns: repeat(auto-fit, minmax(9rem, 1fr)); gap: .6rem; margin: 1.2rem 0; }
.numbers div { border: 1px solid var(--line); border-radius: 6px; padding: .5rem .7rem; }
.numbers b { display: block; font-size: 1.6rem; line-height: 1.2; }
.numbers .bad b { color: var(--bad); }
table { border-collapse: collapse; width: 100%; margin: .3rem 0 1rem; }
table.holders, table.alerts { table-layout: fixed; }
table.alerts td { overflow-wrap: anywhere; }
th, td { text-align: left; vertical-align: top; padding: .35rem .5rem; border-bottom: 1px solid var(--line); }
th { background: var(--head); font-weight: 600; font-size: .85rem; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.who b { font-weight: 600; }
.flag { font-weight: 600; }
.bad { color: var(--bad); }
.warn { color: var(--warn); }
.ok { color: var(--ok); }
.sev { font-weight: 600; text-transform: uppercase; font-size: .75rem; }
.sev-critical, .sev-high { color: var(--bad); }
.sev-medium { color: var(--warn); }
footer { margin-top: 2.5rem; font-size: .9rem; }
footer dl { display: grid; grid-template-columns: 14rem 1fr; gap: .25rem 1rem; }
footer dt { color: var(--muted); }
footer dd { margin: 0; }
@page { size: A4 landscape; margin: 12mm; }
@media print {
  body { margin: 0; max-width: none; padding: 0; font-size: 11px; }
  h2 { break-after: avoid; }
  h3 { break-after: avoid; }
  tr { break-inside: avoid; }
  thead { display: table-header-group; }
  footer { break-before: page; }
}
"#;

fn who(h: &Holder) -> Markup {
    let sid = privtrail_model::names::is_sid(&h.principal);
    html! {
        @match h.principal_name.as_deref().filter(|n| !n.eq_ignore_ascii_case(&h.principal)) {
            Some(name) => { b { (name) } br; span.id.muted { (h.principal) } }
            None if sid => { b.id { (h.principal) } br; span.muted { "no event named this account" } }
            None => { b { (h.principal) } }
        }
    }
}

fn action(a: Option<&ActionLine>) -> Markup {
    html! {
        @if let Some(a) = a {
            (a.by) br; span.muted { (when(a.at)) }
            @if let Some(n) = a.note.as_deref().filter(|n| !n.trim().is_empty()) { br; "“" (n) "”" }
        } @else { span.muted { "—" } }
    }
}

pub(super) fn page(r: &Report) -> Markup {
    let t = &r.totals;
    let title = format!(
        "Privileged access review, {} to {}",
        r.since.format("%Y-%m-%d"),
        r.until.format("%Y-%m-%d")
    );
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) }
                style { (PreEscaped(STYLE)) }
            }
            body {
                header {
                    h1 { "Privileged access review" }
                    p.period { (when(r.since)) " to " (when(r.until)) }
                    p.muted {
                        "Generated " (when(r.generated_at)) " by privtrail " (r.privtrail_version)
                        " from " span.id { (r.store) } ". Durations count the time inside the period; "
                        "an elevation still held counts up to the end of the period."
                    }
                }
                section.numbers {
                    div { b { (t.elevations) } (plural(t.elevations, "elevation", "elevations")) }
                    div { b { (t.principals) } (plural(t.principals, "principal", "principals")) }
                    div { b { (t.privileges) } (plural(t.privileges, "privilege", "privileges")) }
                    div class=(if t.overdue > 0 { "bad" } else { "" }) { b { (t.overdue) } "ran past their promised end" }
                    div class=(if t.standing > 0 { "bad" } else { "" }) { b { (t.standing) } "with standing access" }
                    div { b { (t.open_at_end) } "still held at the end" }
                    div class=(if t.alerts_unresolved > 0 { "bad" } else { "" }) {
                        b { (t.alerts) } (plural(t.alerts, "alert", "alerts")) ", " (t.alerts_unresolved) " unresolved"
                    }
                }
                h2 { "Who held what" }
                @if r.privileges.is_empty() { p.muted { "No privilege was held in this period." } }
                @for p in &r.privileges {
                    h3 {
                        (p.privilege) span.kind { (p.kind) }
                        @if let Some(id) = p.privilege_id.as_deref().filter(|i| !i.eq_ignore_ascii_case(&p.privilege)) {
                            " " code.muted { (id) }
                        }
                    }
                    table.holders {
                        colgroup {
                            col style="width:27%"; col style="width:23%"; col style="width:7%"; col style="width:10%";
                            col style="width:10%"; col style="width:7%"; col style="width:8%"; col style="width:8%";
                        }
                        thead { tr {
                            th { "Holder" } th { "Where" } th.n { "Times" } th.n { "Total" } th.n { "Longest" }
                            th.n { "Overdue" } th.n { "Held at end" } th { "Standing" }
                        } }
                        tbody {
                            @for h in &p.holders {
                                tr {
                                    td.who { (who(h)) }
                                    td { (place(&h.scopes)) }
                                    td.n { (h.elevations) }
                                    td.n { (span(h.total_seconds)) }
                                    td.n { (span(h.longest_seconds)) }
                                    td.n class=(if h.overdue > 0 { "n flag bad" } else { "n" }) { (h.overdue) }
                                    td.n { (h.open_at_end) }
                                    td { @if h.standing { span.flag.bad { "yes" } } @else { span.muted { "no" } } }
                                }
                            }
                        }
                    }
                }
                h2 { "Alerts and what became of them" }
                @if r.alerts.is_empty() { p.muted { "No alert in this period." } }
                @else {
                    table.alerts {
                        colgroup {
                            col style="width:11%"; col style="width:8%"; col style="width:45%";
                            col style="width:8%"; col style="width:14%"; col style="width:14%";
                        }
                        thead { tr {
                            th { "Opened" } th { "Severity" } th { "Finding" } th { "Status" }
                            th { "Acknowledged" } th { "Resolved" }
                        } }
                        tbody {
                            @for a in &r.alerts {
                                tr {
                                    td { (when(a.opened_at)) }
                                    td { span class=(format!("sev sev-{}", a.severity)) { (a.severity) } }
                                    td { b { (a.rule) } br; (a.summary) br; span.id.muted { (a.id) } }
                                    td class=(if a.status == "resolved" { "ok" } else { "bad" }) { (a.status) }
                                    td { (action(a.acknowledged.as_ref())) }
                                    td { (action(a.resolved.as_ref())) }
                                }
                            }
                        }
                    }
                }
                footer { (evidence(r)) }
            }
        }
    }
}

fn evidence(r: &Report) -> Markup {
    let e = &r.evidence;
    html! {
        h2 { "What backs this report" }
        dl {
            dt { "Events in the period" }
            dd { (e.events) }
            dt { "Their chain positions" }
            dd {
                @match e.seq_range {
                    Some((a, b)) => { "seq " (a) " to " (b) }
                    None => { span.muted { "none" } }
                }
            }
            @if let Some(h) = &e.chain_before_first { dt { "Link before the first" } dd.id { (h) } }
            @if let Some(h) = &e.chain_after_last { dt { "Link of the last" } dd.id { (h) } }
            dt { "Links" }
            dd {
                @match e.keyed_from {
                    Some(1) => { "keyed (HMAC-SHA256): only the holder of the chain key can recompute them" }
                    Some(k) => { "SHA-256, keyed (HMAC-SHA256) from seq " (k) }
                    None => { "SHA-256 (not keyed: anchors outside the store are what make a recomputed chain detectable)" }
                }
            }
            dt { "Anchors covering it" }
            dd {
                @if e.anchors.is_empty() { span.muted { "none recorded after seq " (e.seq_range.map_or(0, |s| s.0)) } }
                @else {
                    (e.anchors.len()) " published chain heads; the first and the last:"
                    table {
                        thead { tr { th.n { "seq" } th { "hash" } th { "published" } th { "where" } } }
                        tbody {
                            @for a in e.anchors.first().into_iter().chain(e.anchors.last().filter(|_| e.anchors.len() > 1)) {
                                tr { td.n { (a.seq) } td.id { (a.hash) } td { (when(a.at)) } td { (a.source) } }
                            }
                        }
                    }
                }
            }
            dt { "Verification when generated" }
            dd {
                @match &e.verified {
                    Some(v) if v.intact => {
                        span.ok.flag { "intact" } ": the hash chain verified from its start to seq " (v.head_seq)
                        " (" (v.checked) " links); " (v.anchors_matched) " anchors matched ("
                        (v.anchor_sources.join(", ")) ")."
                    }
                    Some(v) => {
                        span.bad.flag { "BROKEN" } ": first broken link at "
                        (v.broken.as_deref().unwrap_or("an unknown place")) "."
                    }
                    None => { span.muted { "not checked (--no-verify)" } }
                }
            }
            dt { "To check it yourself" }
            dd {
                code { "privtrail verify" } " on the store, or "
                code { "privtrail export --since " (r.since.format("%Y-%m-%dT%H:%M:%SZ")) " --until " (r.until.format("%Y-%m-%dT%H:%M:%SZ")) " --out DIR" }
                " then " code { "privtrail verify --export DIR" } " anywhere."
            }
        }
    }
}
