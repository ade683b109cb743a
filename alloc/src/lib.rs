//! The binary's memory allocator: [`Allocator`] (mimalloc), set up by [`configure`].
//!
//! Why mimalloc: ingest allocates and frees millions of small strings and maps per second on
//! several threads (parsed records on the reader, batches freed by the writer). glibc's malloc
//! spent a fifth of an import's CPU in its own bookkeeping (`malloc_consolidate`,
//! `unlink_chunk`); with mimalloc the same Graph import takes 30 % less CPU (ARCHITECTURE.md,
//! "Performance notes").
//!
//! Why [`configure`]: mimalloc returns freed pages to the system 10 ms after they empty, by
//! default; a bulk import empties and refills pages faster than that, and the peak RSS of a
//! 1M-event import was 443 MB instead of 348 MB. Purging at once costs nothing measurable.

/// The allocator to install with `#[global_allocator]`.
pub type Allocator = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc's `mi_option_e` (the same position in v2 and v3).
const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Freed memory goes back to the system at once. Call first thing in `main`.
pub fn configure() {
    // SAFETY: `mi_option_set` only stores an integer in mimalloc's option table; any option
    // index and value is accepted, and an option read concurrently sees the old or new value.
    #[allow(unsafe_code)]
    unsafe {
        libmimalloc_sys::mi_option_set(PURGE_DELAY, 0);
    }
}
