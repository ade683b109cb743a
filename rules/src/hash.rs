//! The hash maps of the rules run's hot paths.
//!
//! A large run (a million new events after an import) builds maps of alert keys and sets of new
//! event ids for every piece it judges; with the standard library's SipHash that hashing was a
//! fifth of the run's main thread. foldhash is several times faster and still seeded per process,
//! so names an attacker writes into a machine's logs cannot be chosen to collide.

/// A `HashMap` with foldhash's seeded fast hasher.
pub(crate) type FastMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

/// A `HashSet` with foldhash's seeded fast hasher.
pub(crate) type FastSet<T> = std::collections::HashSet<T, foldhash::fast::RandomState>;
