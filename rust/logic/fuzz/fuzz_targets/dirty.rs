// SPDX-License-Identifier: GPL-2.0

//! Fuzz target `dirty`: the DMA dirty tracker against a model.
//!
//! The input gives up to 8 ranges (anywhere in the 64-bit space, of any
//! length, the top of the space included), a page size hint, then a
//! sequence of writes and reports. The model keeps the set of dirty
//! `(range, page)` pairs and applies the documented rules literally: a
//! write dirties every page of a range it touches; a report returns the
//! part inside its window of each dirty page's extent (the page cut to its
//! range), joined where adjacent, and clears the pages whose extent lies
//! wholly inside the window.
//!
//! Checks, besides no panic or overflow in the logic:
//! - `plan` accepts exactly the non-empty, non-overlapping sets with a
//!   power-of-two hint (or none), and its page is at least 4 KiB and the
//!   hint, with at most `MAX_PAGES` pages;
//! - every report equals the model's, so nothing written is ever lost and
//!   nothing unwritten is reported;
//! - what a report returns lies inside its window and the logged ranges.

#![no_main]

use dsa_logic::dirty::{
    plan,
    PlanError,
    Span,
    Tracker,
    MAX_PAGES,
    MIN_PAGE_SHIFT, //
};
use dsa_logic_fuzz::*;
use libfuzzer_sys::fuzz_target;
use std::{
    collections::BTreeSet,
    sync::atomic::AtomicU64, //
};

/// An address: near the bottom, near the top, or anywhere.
fn address(input: &mut Input<'_>) -> u64 {
    match input.below(4) {
        0 => u64::from(input.u16()) << 12,
        1 => u64::MAX - (u64::from(input.u16()) << 12),
        2 => u64::from(input.u32()),
        _ => input.u64(),
    }
}

/// A length: small, page multiples, or anything.
fn length(input: &mut Input<'_>) -> u64 {
    match input.below(4) {
        0 => u64::from(input.u16()) + 1,
        1 => (u64::from(input.u8()) + 1) << 12,
        2 => u64::from(input.u32()),
        _ => input.u64(),
    }
}

/// The reference: dirty pages as `(range index, page number)`.
struct Model {
    shift: u32,
    spans: Vec<(u64, u64)>,
    dirty: BTreeSet<(usize, u64)>,
}

impl Model {
    fn extent(&self, i: usize, page: u64) -> (u64, u64) {
        let (s, l) = self.spans[i];
        let first = page << self.shift;
        let end = first + ((1u64 << self.shift) - 1);
        (first.max(s), end.min(l))
    }

    fn mark(&mut self, iova: u64, len: u64) {
        if len == 0 {
            return;
        }
        let last = iova.saturating_add(len - 1);
        for (i, &(s, l)) in self.spans.iter().enumerate() {
            if l < iova || s > last {
                continue;
            }
            let (p0, p1) = (iova.max(s) >> self.shift, last.min(l) >> self.shift);
            // Writes are bounded below, so this is a few thousand pages at
            // most.
            for p in p0..=p1 {
                self.dirty.insert((i, p));
            }
        }
    }

    fn report(&mut self, iova: u64, len: u64) -> Vec<(u64, u64)> {
        if len == 0 {
            return Vec::new();
        }
        let last = iova.saturating_add(len - 1);
        let mut parts = Vec::new();
        let mut cleared = Vec::new();
        for &(i, p) in &self.dirty {
            let (first, end) = self.extent(i, p);
            if end < iova || first > last {
                continue;
            }
            parts.push((first.max(iova), end.min(last)));
            if first >= iova && end <= last {
                cleared.push((i, p));
            }
        }
        for c in cleared {
            self.dirty.remove(&c);
        }
        parts.sort();
        let mut joined: Vec<(u64, u64)> = Vec::new();
        for (a, b) in parts {
            match joined.last_mut() {
                Some((_, e)) if e.checked_add(1) == Some(a) => *e = b,
                _ => joined.push((a, b)),
            }
        }
        joined.into_iter().map(|(a, b)| (a, b - a + 1)).collect()
    }
}

fuzz_target!(
    init: {
        overflow_checks_are_on();
    },
    |data: &[u8]| {
        let mut input = Input::new(data);
        let n = input.below(9);
        let mut ranges: Vec<(u64, u64)> = Vec::new();
        for _ in 0..n {
            let start = address(&mut input);
            let len = length(&mut input);
            ranges.push((start, start.saturating_add(len.saturating_sub(1))));
            if input.below(8) == 0 {
                // An empty one, last before first.
                if let Some(r) = ranges.last_mut() {
                    r.1 = r.0.wrapping_sub(1);
                }
            }
        }
        let hint = match input.below(4) {
            0 => 0,
            1 => 1u64 << input.below(64),
            2 => 4096,
            _ => input.u64(),
        };
        let mut spans: Vec<Span> = ranges.iter().map(|&(s, l)| Span::new(s, l)).collect();
        let mut sorted = ranges.clone();
        sorted.sort();
        let overlap = sorted.windows(2).any(|w| w[1].0 <= w[0].1);
        let empty = ranges.iter().any(|&(s, l)| l < s);
        let plan = match plan(&mut spans, hint) {
            Ok(p) => p,
            Err(e) => {
                let want = if n == 0 {
                    PlanError::NoRanges
                } else if hint != 0 && !hint.is_power_of_two() {
                    PlanError::PageSize
                } else if empty {
                    PlanError::Empty
                } else {
                    assert!(overlap, "refused with {e:?} for no reason: {ranges:x?}");
                    PlanError::Overlap
                };
                assert_eq!(e, want, "{ranges:x?} hint {hint:#x}");
                return;
            }
        };
        assert!(!overlap && !empty && n > 0, "accepted {ranges:x?}");
        assert!(plan.pages() <= MAX_PAGES);
        assert!(plan.page_size() >= 1 << MIN_PAGE_SHIFT && plan.page_size() >= hint);
        let words: Vec<AtomicU64> = (0..plan.words()).map(|_| AtomicU64::new(0)).collect();
        let tracker = Tracker::new(plan, spans, words).expect("the plan's own size");
        let mut model = Model {
            shift: plan.page_size().trailing_zeros(),
            spans: tracker.spans().iter().map(|s| (s.start(), s.last())).collect(),
            dirty: BTreeSet::new(),
        };
        while !input.is_empty() {
            if input.bool() {
                // A write: where the ranges are, mostly.
                let at = if !sorted.is_empty() && input.bool() {
                    let (s, l) = sorted[input.below(sorted.len())];
                    s.saturating_add(input.u64() % (l - s).saturating_add(1))
                } else {
                    address(&mut input)
                };
                let len = u64::from(input.u16()) + u64::from(input.bool());
                tracker.mark(at, len);
                model.mark(at, len);
            } else {
                let (at, len) = if input.below(4) == 0 {
                    (0, u64::MAX)
                } else {
                    (address(&mut input), length(&mut input))
                };
                let mut got = Vec::new();
                tracker.read_and_clear(at, len, |a, l| got.push((a, l)));
                let want = model.report(at, len);
                assert_eq!(got, want, "report of {len:#x} bytes at {at:#x}");
                for (a, l) in got {
                    let e = a + (l - 1);
                    assert!(a >= at && e <= at.saturating_add(len - 1));
                    assert!(sorted.iter().any(|&(s, last)| a >= s && a <= last));
                }
            }
        }
    }
);
