//! End to end: names instead of SIDs (SPEC §2), on the real `security.evtx` and on the demo
//! estate, through the binary's listings, searches and alerts.
#![allow(clippy::unwrap_used)]

mod common;

use common::{Env, data};

const DOMAIN: &str = "S-1-5-21-2603537626-3982775912-406486804";

fn json_lines(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn security_evtx_sids_are_named_by_the_accounts_own_logons() {
    let env = Env::new();
    env.ingest(&[&data("evtx/security.evtx")]);
    let (fsir, archir) = (format!("{DOMAIN}-1000"), format!("{DOMAIN}-1001"));

    // JSON keeps the SID as Windows wrote it, with the name beside it.
    let els = json_lines(&env.ok(&["elevations", "--format", "json"]));
    assert_eq!(els.len(), 3);
    for e in &els {
        let (sid, name) = (e["principal"].as_str().unwrap(), &e["principal_name"]);
        match sid {
            s if s == fsir => assert_eq!(name, "WIN-03DLIIOFRRA\\fsir"),
            s if s == archir => assert_eq!(name, "WIN-03DLIIOFRRA\\archir"),
            other => panic!("unexpected principal {other}"),
        }
    }
    // The table: the name and the SID shortened to its RID.
    let table = env.ok(&["elevations"]);
    assert!(
        table.contains("WIN-03DLIIOFRRA\\archir (S-1-5-21-…-1001)"),
        "{table}"
    );
    assert!(!table.contains("s-1-5-21"), "no lower-cased SIDs: {table}");

    // `--principal` takes a name.
    let mine = json_lines(&env.ok(&["elevations", "--principal", "archir", "--format", "json"]));
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0]["principal"], archir.as_str());

    // `principal:fsir` finds the events recorded under the SID (the two additions to
    // Administrators name only the SID) and those where the account acted.
    let adds_by_sid = env.count(&format!(
        "action:group.member.added AND privilege_id:\"S-1-5-32-544\" AND target:\"{fsir}\""
    ));
    assert_eq!(adds_by_sid, 2, "README: …-1000 added 07-08 and 07-16");
    // …and the one where fsir added archir: `principal` covers actor, target and target_name.
    assert_eq!(
        env.count("action:group.member.added AND privilege_id:\"S-1-5-32-544\" AND principal:fsir"),
        adds_by_sid + 1
    );
    let by_sid = env.count(&format!("target:\"{fsir}\""));
    let as_actor = env.count("actor:\"WIN-03DLIIOFRRA\\\\fsir\"");
    // 4648 (explicit credentials) names the account as its target, without a SID.
    let either = env.count(&format!(
        "target:\"{fsir}\" OR actor:\"WIN-03DLIIOFRRA\\\\fsir\" OR target:\"WIN-03DLIIOFRRA\\\\fsir\""
    ));
    assert!(by_sid > 0 && as_actor > 0);
    assert_eq!(env.count("principal:fsir"), either);
    assert_eq!(env.count("principal:\"win-03dliiofrra\\\\FSIR\""), either);

    // Alerts name the member, with the whole SID.
    let alerts = json_lines(&env.ok(&[
        "rules",
        "test",
        "--since",
        "2016-07-01",
        "--until",
        "2016-08-01",
        "--format",
        "json",
    ]));
    let unapproved: Vec<&str> = alerts
        .iter()
        .filter(|a| a["rule"] == "unapproved-local-admin")
        .map(|a| a["summary"].as_str().unwrap())
        .collect();
    assert!(
        unapproved
            .iter()
            .any(|s| s.contains(&format!("added WIN-03DLIIOFRRA\\archir ({archir})"))),
        "{unapproved:#?}"
    );
}

#[test]
fn the_demo_names_its_members_and_finds_them_by_name_and_upn() {
    let env = Env::new();
    let out = env.ok(&["demo", "--no-serve", "--days", "2", "--machines", "4"]);
    // Nina was granted local admin by the RMM tool (4732 names only her SID) and signed in.
    assert!(
        out.contains("CONTOSO\\nina.patel (S-1-5-21-…-1601)"),
        "{out}"
    );
    let nina = json_lines(&env.ok(&[
        "elevations",
        "--principal",
        "nina.patel",
        "--format",
        "json",
    ]));
    assert_eq!(nina.len(), 1, "{nina:#?}");
    let sid = nina[0]["principal"].as_str().unwrap().to_owned();
    assert!(
        sid.starts_with("S-1-5-21-") && sid.ends_with("-1601"),
        "{sid}"
    );
    assert_eq!(nina[0]["principal_name"], "CONTOSO\\nina.patel");
    let domain = sid.trim_end_matches("-1601").to_owned();

    // Oscar only ever appears as a member DN: its CN is the best name there is.
    let oscar = json_lines(&env.ok(&[
        "elevations",
        "--principal",
        &format!("{domain}-1602"),
        "--format",
        "json",
    ]));
    assert_eq!(oscar[0]["principal_name"], "Oscar Wu");
    // The backup service account is never named by any event: it stays a SID.
    let svc = json_lines(&env.ok(&[
        "elevations",
        "--principal",
        &format!("{domain}-1303"),
        "--format",
        "json",
    ]));
    assert_eq!(svc.len(), 1);
    assert!(svc[0].get("principal_name").is_none(), "{svc:#?}");

    // A later run of the rules by a process with no `[[tenants]]` (a daemon fed by agents) keys
    // dave's Windows membership (the helpdesk's grant on the SQL server) under his UPN too: the
    // joins come from every stored tenant.
    env.ok(&["rules", "sweep"]);
    let dave = json_lines(&env.ok(&[
        "elevations",
        "--principal",
        "dave@contoso.com",
        "--format",
        "json",
    ]));
    assert!(
        dave.iter().any(|e| e["privilege"] == "Administrators"),
        "{dave:#?}"
    );
    assert!(dave.iter().all(|e| e["principal"] == "dave@contoso.com"));

    // A UPN finds the Windows events recorded under the user's on-premises SID (Entra's
    // onPremisesSecurityIdentifier), a name those recorded under hers.
    let bob_sid = format!("{domain}-1105");
    let bob_windows = env.count(&format!("target:\"{bob_sid}\""));
    assert!(bob_windows > 0);
    assert_eq!(
        env.count(&format!(
            "principal:bob@contoso.com AND target:\"{bob_sid}\""
        )),
        bob_windows
    );
    let nina_events = env.count(&format!("target:\"{sid}\""));
    assert!(nina_events >= 3, "the grant, her logon and logoff");
    assert_eq!(
        env.count(&format!("principal:nina.patel AND target:\"{sid}\"")),
        nina_events
    );
}
