// SPDX-License-Identifier: GPL-2.0

//! Event file descriptors, as user space hands them to drivers to be
//! signalled (VFIO interrupt triggers, KVM irqfds, ...).
//!
//! C header: [`include/linux/eventfd.h`](srctree/include/linux/eventfd.h)

use core::ptr::NonNull;
use kernel::{
    bindings,
    error::from_err_ptr,
    prelude::*, //
};

/// A reference to the context of an eventfd.
///
/// # Invariants
///
/// `ctx` is a valid `struct eventfd_ctx` on which `Self` owns one
/// reference.
pub struct EventFd {
    ctx: NonNull<bindings::eventfd_ctx>,
}

impl EventFd {
    /// Takes a reference to the eventfd behind the file descriptor `fd` of
    /// the calling process: `-EBADF` if `fd` is not open, `-EINVAL` if it is
    /// not an eventfd.
    pub fn from_fd(fd: i32) -> Result<Self> {
        // SAFETY: `eventfd_ctx_fdget()` accepts any integer; it returns a
        // referenced context or an error pointer.
        let ctx = from_err_ptr(unsafe { bindings::eventfd_ctx_fdget(fd) })?;
        // INVARIANT: The reference taken above is ours.
        Ok(Self {
            ctx: NonNull::new(ctx).ok_or(EINVAL)?,
        })
    }

    /// Adds one to the eventfd's counter and wakes its waiters.
    pub fn signal(&self) {
        // SAFETY: By the type invariant, `ctx` is valid. The mask 0 is what
        // `eventfd_signal()` passes.
        unsafe { bindings::eventfd_signal_mask(self.ctx.as_ptr(), 0) };
    }
}

impl Drop for EventFd {
    fn drop(&mut self) {
        // SAFETY: By the type invariant, we own a reference to `ctx`.
        unsafe { bindings::eventfd_ctx_put(self.ctx.as_ptr()) };
    }
}

// SAFETY: An eventfd context is reference-counted and internally locked; it
// may be signalled and released from any thread.
unsafe impl Send for EventFd {}
// SAFETY: As above: `signal` takes the context's own lock.
unsafe impl Sync for EventFd {}
