//! [`Namer`]: names for the principals of elevations and alerts, from the store's
//! [`KnownNames`] (what the events and the directory say), looked up once per principal.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use privtrail_store::{KnownNames, Store};

use crate::error::Result;

/// Caches what is known about each principal for one pass over many elevations.
#[derive(Debug)]
pub struct Namer<'a> {
    store: &'a Store,
    cache: HashMap<String, KnownNames>,
    /// Everything was read up front: a principal not in `cache` has no learned name.
    complete: bool,
}

impl<'a> Namer<'a> {
    /// Looks principals up one by one (a page showing a few).
    pub fn new(store: &'a Store) -> Self {
        Namer {
            store,
            cache: HashMap::new(),
            complete: false,
        }
    }

    /// Reads every known name at once (a pass over all elevations: the rules job, a report).
    pub fn preloaded(store: &'a Store) -> Result<Self> {
        Ok(Namer {
            store,
            cache: store.all_known_names()?,
            complete: true,
        })
    }

    /// The name of `principal` at `at` (see [`KnownNames::at`]), `None` when only the
    /// identifier is known.
    pub fn name(&mut self, principal: &str, at: Option<DateTime<Utc>>) -> Result<Option<String>> {
        let key = principal.trim().to_lowercase();
        if !self.cache.contains_key(&key) {
            let known = if self.complete {
                // Only the fixed names of well-known SIDs are not in the tables.
                KnownNames {
                    fixed: privtrail_model::names::well_known(principal).map(str::to_owned),
                    learned: Vec::new(),
                }
            } else {
                self.store.known_names(principal)?
            };
            self.cache.insert(key.clone(), known);
        }
        Ok(self
            .cache
            .get(&key)
            .and_then(|k| k.at(at))
            .filter(|n| !n.eq_ignore_ascii_case(principal.trim()))
            .map(str::to_owned))
    }
}
