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
//!
//! And no transparent huge pages: mimalloc asks for them on its large regions (`MADV_HUGEPAGE`,
//! already at its start, before `main`), and the kernel then zeroes 2 MiB at a time on first
//! touch — a tenth of the CPU of the rules run after a 1M-record Graph import, and more so as
//! purged regions are touched again. `PR_SET_THP_DISABLE` turns them off for the process
//! (mimalloc's own `allow_thp` option is read before `main` runs). Measured with
//! `MIMALLOC_ALLOW_THP=0`: that run 6.6 → 6.0 s, 715 → 685 MB (`privtrail rules sweep` on the
//! same store, twice each).

/// The allocator to install with `#[global_allocator]`.
pub type Allocator = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc's `mi_option_e` (the same position in v2 and v3).
const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// See the crate's documentation.
pub const PURGE_DELAY_MS: i64 = 100;

/// Emptied pages go back to the system after [`PURGE_DELAY_MS`], and no region asks for
/// transparent huge pages. Call first thing in `main`.
pub fn configure() {
    // SAFETY: `mi_option_set` only stores an integer in mimalloc's option table; any option
    // index and value is accepted, and an option read concurrently sees the old or new value.
    #[allow(unsafe_code)]
    unsafe {
        libmimalloc_sys::mi_option_set(PURGE_DELAY, PURGE_DELAY_MS as _);
    }
    // SAFETY: `prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0)` takes integers only and sets a flag of
    // this process. Failing (an old kernel) leaves huge pages on: slower, not wrong.
    #[allow(unsafe_code)]
    let _ = unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) };
}

/// Whether transparent huge pages are off for this process (`PR_GET_THP_DISABLE`).
pub fn huge_pages_off() -> bool {
    // SAFETY: as in `configure`: integers in, a flag of this process out.
    #[allow(unsafe_code)]
    let on = unsafe { libc::prctl(libc::PR_GET_THP_DISABLE, 0, 0, 0, 0) };
    on == 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[allow(unsafe_code)]
    fn purge_delay() -> std::os::raw::c_long {
        // SAFETY: reads an integer from mimalloc's option table.
        unsafe { libmimalloc_sys::mi_option_get(PURGE_DELAY) }
    }

    /// One test: `configure` changes process-wide state that the defaults are read from.
    #[test]
    fn configure_sets_the_purge_delay_and_turns_huge_pages_off() {
        // mimalloc v3's documented default for `mi_option_purge_delay` (1000 ms): the index
        // names that option, not a neighbour (unless the environment set it).
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
            assert_eq!(purge_delay(), 1000);
        }
        configure();
        assert_eq!(purge_delay(), PURGE_DELAY_MS as std::os::raw::c_long);
        assert!(huge_pages_off());
    }
}
