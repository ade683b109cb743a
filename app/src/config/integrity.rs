//! `[integrity]`: the chain key and where the chain's head is published (anchors).

use std::path::PathBuf;

use privtrail_model::{Secret, Span};
use serde::Deserialize;

use super::invalid;
use crate::error::Result;

/// `[integrity]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntegrityConfig {
    /// HMAC-SHA256 key of the chain (`${PRIVTRAIL_CHAIN_KEY}`): links written from now on cannot be
    /// recomputed by someone who can write the database but does not hold the key.
    pub key: Option<Secret>,
    /// An append-only file outside the data directory that receives every published anchor (the
    /// chain head: seq, hash, time), fsynced. `verify` reads it.
    pub anchor_file: Option<PathBuf>,
    /// Channels (`[[channels]] name`) that receive every anchor: a SIEM is the natural witness.
    #[serde(default)]
    pub anchor_channels: Vec<String>,
    /// At most one anchor per this interval (the head of the newest write is published). Default
    /// `1m`.
    #[serde(default = "d_interval")]
    pub anchor_interval: Span,
}

fn d_interval() -> Span {
    Span(chrono::Duration::minutes(1))
}

impl Default for IntegrityConfig {
    fn default() -> Self {
        IntegrityConfig {
            key: None,
            anchor_file: None,
            anchor_channels: Vec::new(),
            anchor_interval: d_interval(),
        }
    }
}

impl IntegrityConfig {
    pub fn validate(&self, channels: &[privtrail_alerts::ChannelConfig]) -> Result<()> {
        if self.key.as_ref().is_some_and(|k| k.expose().len() < 16) {
            invalid!("[integrity] key must be at least 16 characters (use a random secret)");
        }
        for name in &self.anchor_channels {
            match channels.iter().find(|c| &c.name == name) {
                None => invalid!("[integrity] anchor_channels: no channel named {name:?}"),
                Some(c) if c.type_name() == "email" => invalid!(
                    "[integrity] anchor_channels: {name:?} is an email channel; anchors go to SIEMs, webhooks or files"
                ),
                Some(_) => {}
            }
        }
        if self.anchor_interval.0 < chrono::Duration::zero() {
            invalid!("[integrity] anchor_interval must not be negative");
        }
        Ok(())
    }

    /// Whether anchors are published anywhere.
    pub fn anchoring(&self) -> bool {
        self.anchor_file.is_some() || !self.anchor_channels.is_empty()
    }
}
