// SPDX-License-Identifier: GPL-2.0

//! Log lines that users can trigger, under a budget over time.
//!
//! Every warning a user can cause (a refused access, ioctl or migration
//! stream; a bad `create` or `aggregator` write) goes through the [`Log`]
//! of the thing it is about: a device, or a parent for its types. Each has
//! its own budget of [`ratelimit::BURST`] lines per
//! [`ratelimit::INTERVAL_NS`] (the kernel's defaults), which nothing but
//! time renews: opening and closing a device does not. The lines held back
//! are counted, and the next line let through says how many there were.

// All `unsafe` lives in `crate::ext`, behind safe abstractions.
#![deny(unsafe_code)]

use crate::logic::ratelimit::{
    self,
    RateLimit,
    Verdict, //
};
use kernel::{
    device, new_spinlock,
    prelude::*,
    sync::{
        aref::ARef,
        Arc,
        SetOnce,
        SpinLock, //
    },
    time::{
        Instant,
        Monotonic, //
    },
};

/// The lines about one device (`dsaN`, or an mdev device), and their
/// budget.
///
/// Lines go out with `dev_warn!` on the device: `dsa dsaN: ...` for a
/// parent and its types, `dsa_mdev <uuid>: ...` for an mdev device.
#[pin_data]
pub(crate) struct Log {
    /// The device the lines are about, set once it exists.
    dev: SetOnce<ARef<device::Device>>,
    /// The time the budget counts from.
    epoch: Instant<Monotonic>,
    #[pin]
    budget: SpinLock<RateLimit>,
}

impl Log {
    /// A log for a device that does not exist yet: [`Log::attach`] names
    /// it. A parent's log comes first, because its device's attributes
    /// need the state that holds the log.
    pub(crate) fn new() -> Result<Arc<Self>> {
        Arc::pin_init(
            pin_init!(Self {
                dev: SetOnce::new(),
                epoch: Instant::now(),
                budget <- new_spinlock!(RateLimit::default_budget()),
            }),
            GFP_KERNEL,
        )
    }

    /// A log for `dev`.
    pub(crate) fn for_device(dev: &device::Device) -> Result<Arc<Self>> {
        let log = Self::new()?;
        log.attach(dev);
        Ok(log)
    }

    /// Names the device the lines are about; only the first call counts.
    pub(crate) fn attach(&self, dev: &device::Device) {
        self.dev.populate(dev.into());
    }

    /// Logs a warning, if the budget allows it.
    pub(crate) fn warn(&self, what: core::fmt::Arguments<'_>) {
        // Nanoseconds since `epoch`: never negative, and 292 years fit.
        let now = u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(0);
        let verdict = self.budget.lock().check(now);
        if let Verdict::Log { suppressed } = verdict {
            if suppressed > 0 {
                self.line(fmt!(
                    "{suppressed} more lines were not logged (at most {} per {} s)",
                    ratelimit::BURST,
                    ratelimit::INTERVAL_NS / 1_000_000_000
                ));
            }
            self.line(what);
        }
    }

    /// Logs `what` on the device, or (before [`Log::attach`], which no line
    /// a user can cause precedes) with the module's prefix only.
    fn line(&self, what: core::fmt::Arguments<'_>) {
        match self.dev.as_ref() {
            Some(dev) => dev_warn!(dev, "{what}\n"),
            None => pr_warn!("{what}\n"),
        }
    }

    /// Logs `what` on the device once per boot, whatever the budget: for
    /// driver bugs, not user actions.
    pub(crate) fn warn_once(&self, what: core::fmt::Arguments<'_>) {
        match self.dev.as_ref() {
            Some(dev) => kernel::pr_warn_once!("{}: {what}\n", dev.name().to_str().unwrap_or("?")),
            None => kernel::pr_warn_once!("{what}\n"),
        }
    }
}
