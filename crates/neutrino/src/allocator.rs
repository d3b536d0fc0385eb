//! Tuning of the global allocator (mimalloc): the only unsafe code in the
//! workspace, two calls into mimalloc's option table.
#![allow(unsafe_code)]

use libmimalloc_sys::{mi_option_set, mi_option_t};

/// `mi_option_purge_delay` in mimalloc 3's option enum (`mimalloc.h`);
/// libmimalloc-sys exports no constant for it. A test pins the index.
const PURGE_DELAY: mi_option_t = 15;

/// Makes freed memory go back to the OS when it is freed.
///
/// mimalloc purges unused pages only after a delay (1 s by default), and
/// only when the thread that owns them allocates again. A server thread
/// that goes quiet after a burst (a cold list of 10,000 ports renders
/// megabytes of JSON) then keeps the burst's peak resident indefinitely.
/// Immediate purging cost no measurable throughput in `neutrino-bench` and
/// brought RSS after its run from 85-95 to 56-68 MiB (docs/benchmarks.md).
/// An operator's own
/// `MIMALLOC_PURGE_DELAY` wins.
pub fn return_memory_promptly() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
        return;
    }
    // SAFETY: setting an option is a plain store into mimalloc's option
    // table; called before any other thread exists.
    unsafe { mi_option_set(PURGE_DELAY, 0) };
}

/// The current purge delay in milliseconds.
#[cfg(test)]
fn purge_delay_ms() -> std::ffi::c_long {
    // SAFETY: reads mimalloc's option table.
    unsafe { libmimalloc_sys::mi_option_get(PURGE_DELAY) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn option_index_is_the_purge_delay() {
        // Only the purge delay defaults to 1000 (ms) in mimalloc 3; a
        // different library version that renumbered the enum fails here
        // before a wrong option is set in production.
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
            assert_eq!(purge_delay_ms(), 1000);
        }
        return_memory_promptly();
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
            assert_eq!(purge_delay_ms(), 0);
        }
    }
}
