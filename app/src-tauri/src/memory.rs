//! Giving memory back to the system after a sync.
//!
//! A sync parses thousands of AWS responses on every worker thread, and glibc's allocator
//! keeps what they freed in per-thread arenas for reuse: the app would stay at its peak for
//! as long as it runs. After a sync the freed pages are handed back (`malloc_trim`).

/// Returns the allocator's free pages to the system (glibc); elsewhere, does nothing.
pub fn give_back_freed() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free memory the allocator holds; it touches nothing
    // allocated, and glibc makes it safe to call from any thread at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}
