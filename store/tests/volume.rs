//! `Store::windows_volume`: a day's Windows events per host and event code.
mod common;

use common::*;
use privtrail_model::{Action, Event, EventId, Outcome, Source};
use privtrail_store::{CodeVolume, Store};

fn ev(host: &str, n: u64, time: &str, code: &str, failure: bool) -> Event {
    let mut e = Event::new(
        EventId::windows(host, "Security", n),
        Source::Windows,
        Action::WindowsEvent,
        t(time),
        code,
    );
    e.host = Some(host.to_owned());
    if failure {
        e.outcome = Outcome::Failure;
    }
    e
}

fn code(code: &str, success: u64, failure: u64) -> CodeVolume {
    CodeVolume {
        code: code.into(),
        success,
        failure,
    }
}

#[test]
fn counts_per_host_and_code_within_the_period() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let store = Store::open(dir.path())?;
    let mut events = Vec::new();
    let mut n = 0;
    let mut add = |host: &str, time: &str, c: &str, failure: bool, count: u64| {
        for _ in 0..count {
            n += 1;
            events.push(ev(host, n, time, c, failure));
        }
    };
    add("DC01", "2024-05-01T00:00:00Z", "5156", false, 5);
    add("DC01", "2024-05-01T12:00:00Z", "5157", true, 3);
    add("DC01", "2024-05-01T23:59:59.999Z", "4624", false, 2);
    add("DC01", "2024-05-01T13:00:00Z", "4625", true, 1);
    add("DC01", "2024-05-01T13:00:00Z", "4625", false, 1);
    // The same host as another agent spells it: one host.
    add("dc01", "2024-05-01T14:00:00Z", "5156", false, 1);
    add("WS7", "2024-05-01T08:00:00Z", "4624", false, 4);
    // Outside the day.
    add("DC01", "2024-04-30T23:59:59.999Z", "5156", false, 7);
    add("DC01", "2024-05-02T00:00:00Z", "5156", false, 7);
    let mut w = store.writer()?;
    w.write_batch(&events, &[])?;
    // Not Windows, or no host: not counted.
    let mut entra = entra_event("a1", "2024-05-01T10:00:00Z");
    entra.event_code = "5156".into();
    let mut nohost = ev("X", 999, "2024-05-01T10:00:00Z", "5156", false);
    nohost.host = None;
    w.write_batch(&[entra, nohost], &[])?;
    drop(w);

    let v = store.windows_volume(t("2024-05-01T00:00:00Z"), t("2024-05-02T00:00:00Z"), 10)?;
    assert_eq!(v.len(), 2, "{v:#?}");
    assert_eq!(v[0].host, "DC01");
    assert_eq!(v[0].total, 13);
    assert_eq!(
        v[0].codes,
        vec![
            code("5156", 6, 0),
            code("5157", 0, 3),
            code("4624", 2, 0),
            code("4625", 1, 1),
        ]
    );
    assert_eq!(v[1].host, "WS7");
    assert_eq!(v[1].total, 4);

    // At most `max_codes` codes, the most frequent; the others count in the total.
    let v = store.windows_volume(t("2024-05-01T00:00:00Z"), t("2024-05-02T00:00:00Z"), 2)?;
    assert_eq!(v[0].total, 13);
    assert_eq!(v[0].codes, vec![code("5156", 6, 0), code("5157", 0, 3)]);

    assert!(
        store
            .windows_volume(t("2024-06-01T00:00:00Z"), t("2024-06-02T00:00:00Z"), 10)?
            .is_empty()
    );
    Ok(())
}
