//! Elevation tracking, the rule engine and the alert lifecycle (SPEC §3, §4). Pure: no I/O.
//!
//! # Main types and how they relate
//!
//! ```text
//! Event ──key_of──► ElevationKey ──elevations_for_key / Tracker──► Elevation
//!                                                                     │
//!        Context { new_events, recent_events, elevations, granters, now, policy, … }
//!                                   │ Rule::evaluate
//!                                   ▼
//!                               Finding ──apply_findings(existing, …, now)──► AlertChanges / Alert
//! ```
//!
//! - [`Policy`] holds what reconstruction and rules need to know about the organization (maximum
//!   durations, identity map, break-glass accounts, approved granters); [`PolicyConfig`] reads it
//!   from the `[policy]` section.
//! - [`Elevation`]s are reconstructed per [`ElevationKey`] by [`elevations_for_key`], a pure
//!   function of the *set* of the key's events; [`Tracker`] applies batches incrementally by
//!   recomputing the keys they touch. [`reconcile`] compares open elevations with a PIM snapshot
//!   and expresses the result as synthetic events. [`at`] answers "who held what at T".
//! - A [`Rule`] turns a [`Context`] into [`Finding`]s; [`RulesConfig`] (the `[rules]` section)
//!   builds the built-in rules ([`builtin`]) and custom rules ([`custom`]).
//! - [`apply_findings`] turns findings into [`Alert`] changes (one alert per rule + subject,
//!   auto-resolution of conditions, silences, re-notify); [`ack`] and [`resolve`] are the manual
//!   transitions.
//! - [`backtest`] replays history through the same code with a simulated clock.
//!
//! # Invariants
//!
//! - **No I/O and no clock**: every function takes its inputs, including `now`, as arguments;
//!   live evaluation and backtests run the same code.
//! - **Order independence**: the elevations of a key depend only on the set of its events (sorted by
//!   (time, id), deduplicated by id), so late and out-of-order events converge on the same result.
//! - **One change counts once**: events with `linked_to` (the second record of one PIM change)
//!   never open or close an elevation; failed events are ignored.
//! - Elevations of one key never overlap, and `ended_at >= started_at`.
//! - Depends on no privtrail crate but `privtrail-model`.

mod alert;
mod backtest;
pub mod builtin;
mod config;
pub mod custom;
mod elevation;
mod hash;
mod policy;
mod rule;
mod time;

pub use alert::{
    Alert, AlertAction, AlertChanges, AlertStatus, LifecycleError, MAX_EVENT_IDS, Silence, ack,
    act, apply_findings, resolve,
};
pub use backtest::{
    NameFn, backtest, backtest_named, evaluate_all, evaluate_new_events, max_lookback,
};
pub use config::{
    CollectorSettings, ConfigError, ConflictSettings, DeliverySettings, DuplicateSettings,
    EligibilitySettings, FrequentSettings, GlobalAdminsSettings, GroupBurstSettings,
    LocalAdminSettings, NoticeSettings, OverdueSettings, RulesConfig, SettingWeakenedSettings,
    StandingSettings, TamperingSettings, WithoutMfaSettings,
};
pub use elevation::{
    Changes, ELEVATION_INPUTS, Elevation, ElevationKey, ElevationKind, EndReason, Granters,
    InstanceType, PimInstanceView, Reconciliation, SNAPSHOT_CLOSE_CODE, SNAPSHOT_OPEN_CODE,
    Tracker, TrackerFeed, at, elevation_id, elevations_for_key, grant_actor, key_of, reconcile,
    tag_host,
};
pub use policy::{
    GLOBAL_ADMIN_TEMPLATE_ID, IdentityMap, PRIVILEGED_ROLES, Policy, PolicyConfig, PrivilegeConfig,
};
pub use rule::{
    ChannelHealth, CodeCount, CollectorRun, Context, DayVolume, Finding, HostVolume, Rule,
    Severity, inputs_of, raw_inputs_of, whole_inputs_of,
};
pub use time::{DurationError, Span, format_duration, parse_duration};
