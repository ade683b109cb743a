//! Rules over events and elevations (SPEC §3, §4): elevation tracking and the rule engine.
//!
//! Not built yet: the rule-engine issue fills this crate. Invariant from the start: rules do no I/O
//! and take `now` as an argument, so live evaluation and backtests run the same code.
