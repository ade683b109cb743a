//! The binary's memory allocator: [`Allocator`] (mimalloc), set up by [`configure`].
//!
//! Why mimalloc: ingest allocates and frees millions of small strings and maps per second on
//! several threads (parsed records on the reader, batches freed by the writer). glibc's malloc
//! spent a fifth of an import's CPU in its own bookkeeping (`malloc_consolidate`,
//! `unlink_chunk`); with mimalloc the same Graph import takes 30 % less CPU (ARCHITECTURE.md,
//! "Performance notes").
//!
//! Why [`configure`]: mimalloc returns emptied pages to the system 1 s after they empty, by default
//! (v3). A bulk import empties and refills pages faster than that, so its peak RSS holds pages
//! nothing uses: 389 MB for 200,000 Graph records where 100 ms gives 357 MB. At once (0 ms) gives
//! 334 MB but costs a third more CPU (the pages are faulted in again): 100 ms costs ~4 %
//! (`privtrail bench ingest --graph 200000`: 37.6 → 39.3 µs of CPU per event).

/// The allocator to install with `#[global_allocator]`.
pub type Allocator = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc's `mi_option_e` (the same position in v2 and v3).
const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// See the crate's documentation.
pub const PURGE_DELAY_MS: i64 = 100;

/// Emptied pages go back to the system after [`PURGE_DELAY_MS`]. Call first thing in `main`.
pub fn configure() {
    // SAFETY: `mi_option_set` only stores an integer in mimalloc's option table; any option
    // index and value is accepted, and an option read concurrently sees the old or new value.
    #[allow(unsafe_code)]
    unsafe {
        libmimalloc_sys::mi_option_set(PURGE_DELAY, PURGE_DELAY_MS as _);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[allow(unsafe_code)]
    fn purge_delay() -> std::os::raw::c_long {
        // SAFETY: reads an integer from mimalloc's option table.
        unsafe { libmimalloc_sys::mi_option_get(PURGE_DELAY) }
    }

    #[test]
    fn the_option_set_is_the_purge_delay() {
        // mimalloc v3's documented default for `mi_option_purge_delay` (1000 ms): the index
        // names that option, not a neighbour (unless the environment set it).
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
            assert_eq!(purge_delay(), 1000);
        }
        configure();
        assert_eq!(purge_delay(), PURGE_DELAY_MS as std::os::raw::c_long);
    }
}
