//! `privtrail-sim`: simulators that stand in for the world privtrail reads, for `privtrail demo`,
//! `privtrail bench` and the end-to-end tests. Nothing here is used to read real data.
//!
//! # Main types and how they relate
//!
//! ```text
//! (now, seed) ──scenario──► TenantSim ──start(faults, listen)──► RunningSim ◄── HTTP: Graph + token
//!                              │                                (base_url)       endpoint, the real
//!                              └──scenario_facts──► (description, query, count)  collector
//!
//! EstateSpec ──generate_estate(dir)──► files (Event XML, Winlogbeat JSON lines) + GeneratedEstate
//!                                                                                   └─ Vec<Fact>
//! (n, seed) ──write_bulk_jsonl──► n Winlogbeat JSON lines (the benchmark's input)
//! ```
//!
//! - [`tenant`]: a simulated Entra tenant. [`TenantSim`] holds what the tenant has (Graph v1.0 JSON:
//!   audit records, PIM assignments and eligibilities, role definitions, users); [`scenario`] builds
//!   the demo's tenant from `now` and a seed. [`start`] serves a `TenantSim` on the caller's tokio
//!   runtime as a local HTTP server that behaves like Microsoft Graph and its token endpoint, with
//!   [`Faults`] injected (throttling, outages, token expiry and revocation, denied permissions, slow
//!   pages, late records), and returns a [`RunningSim`] (its `base_url`, request counters; dropping
//!   it stops the server). [`serve_scenario`] does the same in a process of its own
//!   (`privtrail sim graph`). [`scenario_facts`] says what a collector should have stored.
//! - [`windows`]: a simulated Windows estate. [`generate_estate`] writes the machines described by an
//!   [`EstateSpec`] as Event XML and Winlogbeat JSON lines and returns a [`GeneratedEstate`] whose
//!   [`Fact`]s are search queries with the exact number of events each matches.
//!   [`write_bulk_jsonl`] streams any number of such events for `privtrail bench`.
//! - [`SimError`] is the crate's one error type.
//!
//! # Invariants
//!
//! - **Deterministic per seed**: the same seed (and `now` / `end`) gives byte-for-byte the same
//!   records, on every platform (own SplitMix64, no `rand`). The tenant's people and the estate's
//!   accounts share the domain SID of their seed, so Entra and Windows events of one person join.
//! - **Facts are counted, not hard-coded**: expected counts are computed from what was generated,
//!   so they hold for every seed.
//! - **Real formats**: records are what Graph returns and what `wevtutil` and Winlogbeat write; the
//!   readers and the collector under test get no special treatment.
//! - Depends on no privtrail crate (`privtrail-model` at most); only the binary depends on this crate.

mod error;
mod rng;
pub mod tenant;
pub mod windows;

pub use error::SimError;
pub use tenant::{
    FaultRule, Faults, LateAudit, RunningSim, SIM_CLIENT_ID, SIM_CLIENT_SECRET, SIM_TENANT_ID,
    TenantSim, scenario, scenario_facts, serve_scenario, start,
};
pub use windows::{EstateSpec, Fact, GeneratedEstate, generate_estate, write_bulk_jsonl};
