//! Alert delivery (SPEC §5): notifiers for email, Teams, syslog, Splunk HEC, webhooks and files,
//! behind one `Notifier` trait, fed by the durable outbox.
//!
//! Not built yet: the delivery issue fills this crate.
