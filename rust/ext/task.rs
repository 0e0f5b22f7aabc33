// SPDX-License-Identifier: GPL-2.0

//! Scheduling points for long-running work in process context.
//!
//! C header: [`include/linux/sched.h`](srctree/include/linux/sched.h)

use super::bindings;

/// Gives the CPU away if a reschedule is due (`cond_resched()`).
///
/// For loops whose length a user controls, so that they neither hog a CPU
/// on a kernel without full preemption nor trip the soft-lockup detector.
/// Like [`kernel::task::might_sleep`], it is for non-atomic context only
/// (sleeping locks may be held); a call in atomic context is a bug that the
/// kernel reports, as it does for `might_sleep()`.
pub fn cond_resched() {
    kernel::task::might_sleep();
    // SAFETY: The helper only calls `cond_resched()`, which has no memory
    // safety requirements.
    unsafe { bindings::dsa_mdev_cond_resched() };
}

/// Returns whether the current task has a fatal signal pending
/// (`fatal_signal_pending(current)`): it is being killed, and long work
/// done on its behalf should end now.
pub fn fatal_signal_pending() -> bool {
    // SAFETY: The helper only reads the current task's signal state.
    unsafe { bindings::dsa_mdev_fatal_signal_pending() }
}
