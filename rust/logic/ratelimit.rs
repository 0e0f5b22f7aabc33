// SPDX-License-Identifier: GPL-2.0

//! A log budget over time: at most `burst` lines in each `interval`, the
//! rest counted and reported with the next line let through. The same
//! rule as the kernel's `___ratelimit()` (`DEFAULT_RATELIMIT_BURST` lines
//! per `DEFAULT_RATELIMIT_INTERVAL`), kept as pure logic so that the host
//! tests and the fuzzers see exactly what the driver does. The caller owns
//! one budget per thing users can make talk (a device, a parent) and
//! passes the time.

/// The kernel's `DEFAULT_RATELIMIT_INTERVAL`: 5 s.
pub const INTERVAL_NS: u64 = 5_000_000_000;
/// The kernel's `DEFAULT_RATELIMIT_BURST`.
pub const BURST: u32 = 10;

/// A log budget.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimit {
    interval_ns: u64,
    burst: u32,
    /// When the current interval began, if one did.
    begin: Option<u64>,
    /// Lines let through in the current interval.
    printed: u32,
    /// Lines held back since the last one let through.
    missed: u32,
}

/// What to do with one line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Log it; `suppressed` lines were held back before it (say so first,
    /// if not 0).
    Log {
        /// Lines held back since the last line logged.
        suppressed: u32,
    },
    /// Hold it back.
    Suppress,
}

impl RateLimit {
    /// A budget of `burst` lines per `interval_ns`.
    pub const fn new(interval_ns: u64, burst: u32) -> Self {
        Self {
            interval_ns,
            burst,
            begin: None,
            printed: 0,
            missed: 0,
        }
    }

    /// The kernel's default budget: [`BURST`] lines per [`INTERVAL_NS`].
    pub const fn default_budget() -> Self {
        Self::new(INTERVAL_NS, BURST)
    }

    /// Decides about a line at time `now_ns` (monotonic; a clock that
    /// goes back starts a new interval).
    pub fn check(&mut self, now_ns: u64) -> Verdict {
        let expired = match self.begin {
            None => true,
            Some(begin) => now_ns
                .checked_sub(begin)
                .is_none_or(|elapsed| elapsed >= self.interval_ns),
        };
        if expired {
            self.begin = Some(now_ns);
            self.printed = 0;
        }
        if self.printed < self.burst {
            self.printed = self.printed.saturating_add(1);
            let suppressed = self.missed;
            self.missed = 0;
            Verdict::Log { suppressed }
        } else {
            self.missed = self.missed.saturating_add(1);
            Verdict::Suppress
        }
    }

    /// Returns how many lines were held back and not yet reported, and
    /// forgets them (for a last word when the owner goes away).
    #[cfg(not(MODULE))]
    pub fn take_missed(&mut self) -> u32 {
        core::mem::take(&mut self.missed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    #[test]
    fn a_burst_per_interval_and_the_count_of_the_rest() {
        let mut r = RateLimit::default_budget();
        for i in 0..BURST {
            assert_eq!(r.check(u64::from(i)), Verdict::Log { suppressed: 0 });
        }
        for i in 0..25 {
            assert_eq!(r.check(S + i), Verdict::Suppress);
        }
        // A new interval: the first line carries the count.
        assert_eq!(r.check(5 * S), Verdict::Log { suppressed: 25 });
        assert_eq!(r.check(5 * S + 1), Verdict::Log { suppressed: 0 });
        assert_eq!(r.take_missed(), 0);
    }

    #[test]
    fn a_flood_gets_burst_lines_per_interval_whatever_its_shape() {
        // 360 lines in 20 s, as 40 opens of 9 refusals each: at most 10
        // per 5 s, so 40 at most.
        let mut r = RateLimit::default_budget();
        let logged = (0..360u64)
            .filter(|&i| matches!(r.check(i * 20 * S / 360), Verdict::Log { .. }))
            .count();
        assert_eq!(logged, 40);
        // Nothing a caller does resets it but time.
        let mut r = RateLimit::default_budget();
        let logged = (0..1000u64)
            .filter(|_| matches!(r.check(7), Verdict::Log { .. }))
            .count();
        assert_eq!(logged, BURST as usize);
        assert_eq!(r.take_missed(), 990);
    }

    #[test]
    fn time_that_goes_back_or_wraps_is_harmless() {
        let mut r = RateLimit::new(10, 1);
        assert_eq!(r.check(u64::MAX), Verdict::Log { suppressed: 0 });
        assert_eq!(r.check(u64::MAX), Verdict::Suppress);
        assert_eq!(r.check(0), Verdict::Log { suppressed: 1 });
        let mut z = RateLimit::new(0, 0);
        assert_eq!(z.check(1), Verdict::Suppress);
    }
}
