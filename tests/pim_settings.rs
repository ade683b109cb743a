//! End to end: the collector reads PIM's role settings from the simulated tenant
//! (`roleManagementPolicyAssignments`, expanded), and the rules judge role setting changes and
//! activations against them (SPEC §4: `pim-setting-weakened`, `activation-without-mfa`).
#![allow(clippy::unwrap_used)]

mod common;

use common::Env;
use common::sim::Sim;
use serde_json::Value;

fn of<'a>(alerts: &'a [Value], rule: &str) -> Vec<&'a Value> {
    alerts.iter().filter(|a| a["rule"] == rule).collect()
}

#[test]
fn a_weakened_setting_and_the_activation_it_let_through_are_reported() {
    let env = Env::new();
    let sim = Sim::start(&env, serde_json::json!({}));
    let cfg = sim.config(&env);
    env.ok(&["--config", &cfg, "collect", "entra"]);
    let alerts = env.alerts();

    // grace removed MFA on activation of Security Administrator and raised its maximum to 24 h;
    // the Global Administrator change (2 h maximum, approval required) tightened and is silent.
    let weakened = of(&alerts, "pim-setting-weakened");
    assert_eq!(weakened.len(), 1, "{weakened:?}");
    let s = weakened[0]["summary"].as_str().unwrap();
    for part in [
        "grace@contoso.com weakened the PIM settings of Security Administrator",
        "MFA on activation: required → not required",
        "maximum activation duration: 8h → 1d (policy maximum 8h)",
    ] {
        assert!(s.contains(part), "{part:?} in {s}");
    }
    assert_eq!(weakened[0]["severity"], "high");

    // erin activated it 40 minutes ago, after the change: no MFA was required. Her activation
    // days before the change is not reported.
    let without = of(&alerts, "activation-without-mfa");
    assert_eq!(without.len(), 1, "{without:?}");
    let s = without[0]["summary"].as_str().unwrap();
    assert!(
        s.contains("erin@contoso.com") && s.contains("Security Administrator"),
        "{s}"
    );
    assert!(sim.stats()["requests"]["roleManagementPolicyAssignments"] == 1);

    // A backtest has no snapshot: the replayed setting change itself tells what held when erin
    // activated (the records are read with their raw, as the live job reads them).
    let replay = env.ok(&[
        "--config", &cfg, "rules", "test", "--since", "7d", "--format", "json",
    ]);
    let replayed: Vec<Value> = replay
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(of(&replayed, "pim-setting-weakened").len(), 1, "{replay}");
    assert_eq!(of(&replayed, "activation-without-mfa").len(), 1, "{replay}");
}

#[test]
fn without_the_settings_the_snapshot_is_still_taken() {
    let env = Env::new();
    let sim = Sim::start(
        &env,
        serde_json::json!({ "deny": ["roleManagementPolicyAssignments"] }),
    );
    let cfg = sim.config(&env);
    let out = env.run(&["--config", &cfg, "collect", "entra", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["assignments"], 6, "{report}");
    // The change records still tell: the weakening and the activation after it.
    let alerts = env.alerts();
    assert_eq!(of(&alerts, "pim-setting-weakened").len(), 1);
    assert_eq!(of(&alerts, "activation-without-mfa").len(), 1);
}
