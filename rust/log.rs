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

use crate::logic::ratelimit::{
    self,
    RateLimit,
    Verdict, //
};
use kernel::{
    new_spinlock,
    prelude::*,
    str::CString,
    sync::{
        Arc,
        SpinLock, //
    },
    time::{
        Instant,
        Monotonic, //
    },
};

/// Where a set of log lines comes from, and its budget.
#[pin_data]
pub(crate) struct Log {
    /// What each line starts with: `dsaN` or `dsaN: <uuid>`.
    prefix: CString,
    /// The time the budget counts from.
    epoch: Instant<Monotonic>,
    #[pin]
    budget: SpinLock<RateLimit>,
}

impl Log {
    /// A log whose lines start with `prefix`.
    pub(crate) fn new(prefix: CString) -> Result<Arc<Self>> {
        Arc::pin_init(
            pin_init!(Self {
                prefix,
                epoch: Instant::now(),
                budget <- new_spinlock!(RateLimit::default_budget()),
            }),
            GFP_KERNEL,
        )
    }

    /// Returns the prefix, for lines that are not the user's doing.
    pub(crate) fn prefix(&self) -> &str {
        self.prefix.to_str().unwrap_or("?")
    }

    /// Logs a warning, if the budget allows it.
    pub(crate) fn warn(&self, what: core::fmt::Arguments<'_>) {
        // Nanoseconds since `epoch`: never negative, and 292 years fit.
        let now = u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(0);
        let verdict = self.budget.lock().check(now);
        if let Verdict::Log { suppressed } = verdict {
            if suppressed > 0 {
                pr_warn!(
                    "{}: {suppressed} more lines were not logged (at most {} per {} s)\n",
                    self.prefix(),
                    ratelimit::BURST,
                    ratelimit::INTERVAL_NS / 1_000_000_000
                );
            }
            pr_warn!("{}: {what}\n", self.prefix());
        }
    }
}
