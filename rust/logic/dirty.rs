// SPDX-License-Identifier: GPL-2.0

//! DMA dirty tracking: which pages of the user's IOVA space the device
//! wrote since they were last reported, for live migration
//! (`VFIO_DEVICE_FEATURE_DMA_LOGGING_*`).
//!
//! A user starts logging with a set of IOVA ranges. [`plan`] checks them
//! and picks the tracking page size: the user's hint, or a coarser power
//! of two when the ranges hold more than [`MAX_PAGES`] pages of it, so the
//! bitmap never exceeds [`MAX_PAGES`] bits (1 MiB) whatever the ranges
//! cover (up to the whole 64-bit space). A [`Tracker`] then keeps one bit per page of
//! each range, in storage the caller allocates ([`Plan::words`] words).
//!
//! - [`Tracker::mark`] records a write: every page of a logged range that
//!   the written bytes touch. The device calls it *after* the bytes are in
//!   memory, so a report that clears the bit cannot be taken between the
//!   mark and the write it stands for.
//! - [`Tracker::read_and_clear`] reports the dirty part of a window and
//!   clears it, atomically per 64 pages: a page marked while a report runs
//!   is in that report or in the next one, never in neither. A page whose
//!   tracked extent (the page, cut to its range) sticks out of the window
//!   is reported for the part inside it and stays dirty, because the rest
//!   of it was not reported; this only happens when the window or the
//!   ranges are not aligned to the tracking page.
//!
//! Marks and reports need only `&Tracker`: the bits are atomics, so the
//! engine marks with no lock while a report runs.
//!
//! Reads are not tracked; neither are writes outside the logged ranges.

use core::sync::atomic::{
    AtomicU64,
    Ordering, //
};

/// The smallest tracking page: 4 KiB, the page the engine splits its
/// accesses at and the smallest report page the VFIO core accepts.
pub const MIN_PAGE_SHIFT: u32 = 12;

/// The most pages a tracker keeps, over all its ranges; the page size
/// grows until the ranges fit. 2^23 bits: 1 MiB of bitmap, 32 GiB of
/// ranges at 4 KiB pages.
pub const MAX_PAGES: u64 = 1 << 23;

/// The largest bitmap a tracker needs: [`MAX_PAGES`] bits.
#[cfg(test)]
pub const MAX_BITMAP_BYTES: u64 = MAX_PAGES / 8;

/// The most ranges one start may log: the VFIO core's own limit
/// (`LOG_MAX_RANGES`, as many 16-byte ranges as fit in a 4 KiB page).
pub const MAX_RANGES: usize = 256;

/// One logged range and where its bits are.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Span {
    /// The first byte of the range.
    start: u64,
    /// The last byte of the range (inclusive, so a range can end at
    /// 2^64 - 1).
    last: u64,
    /// The range's first page: `start >> shift`.
    first_page: u64,
    /// The bit of that page.
    bit: u64,
}

impl Span {
    /// The range of bytes `start..=last`, before [`plan`] places it.
    pub const fn new(start: u64, last: u64) -> Self {
        Self {
            start,
            last,
            first_page: 0,
            bit: 0,
        }
    }

    /// The first byte of the range.
    #[cfg(not(MODULE))]
    pub const fn start(&self) -> u64 {
        self.start
    }

    /// The last byte of the range.
    #[cfg(not(MODULE))]
    pub const fn last(&self) -> u64 {
        self.last
    }
}

/// Why [`plan`] refused a set of ranges.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlanError {
    /// No range at all.
    NoRanges,
    /// More than [`MAX_RANGES`].
    TooManyRanges,
    /// A range whose last byte is before its first.
    Empty,
    /// Two ranges share a byte.
    Overlap,
    /// The page size hint is not a power of two.
    PageSize,
}

/// What [`plan`] decided: the tracking page and the bitmap's size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Plan {
    shift: u32,
    pages: u64,
}

impl Plan {
    /// The tracking page size, a power of two of at least 4 KiB: what the
    /// driver reports back to the user as its page size.
    pub const fn page_size(&self) -> u64 {
        1u64 << self.shift
    }

    /// How many pages the ranges hold at that size: at most [`MAX_PAGES`].
    #[cfg(not(MODULE))]
    pub const fn pages(&self) -> u64 {
        self.pages
    }

    /// How many 64-bit words the bitmap needs.
    pub const fn words(&self) -> usize {
        // `pages` is at most `MAX_PAGES`, so this neither overflows nor
        // truncates.
        self.pages.div_ceil(64) as usize
    }
}

/// The number of pages of `1 << shift` bytes that `start..=last` touches.
fn pages_of(start: u64, last: u64, shift: u32) -> u64 {
    // `last >= start`, so the difference is at most `u64::MAX >> shift`,
    // and one more still fits since `shift >= 12`.
    (last >> shift)
        .saturating_sub(start >> shift)
        .saturating_add(1)
}

/// Checks the ranges in `spans` (made with [`Span::new`]), sorts them and
/// places their bits, for tracking pages of at least `hint` bytes (0: no
/// hint).
///
/// The page is the hint rounded up to 4 KiB, doubled until the ranges hold
/// at most [`MAX_PAGES`] pages: that always ends, since at 2^63 bytes a
/// range holds at most two pages. On an error `spans` may be reordered but
/// nothing else happened.
pub fn plan(spans: &mut [Span], hint: u64) -> Result<Plan, PlanError> {
    if spans.is_empty() {
        return Err(PlanError::NoRanges);
    }
    if spans.len() > MAX_RANGES {
        return Err(PlanError::TooManyRanges);
    }
    if hint != 0 && !hint.is_power_of_two() {
        return Err(PlanError::PageSize);
    }
    if spans.iter().any(|s| s.last < s.start) {
        return Err(PlanError::Empty);
    }
    spans.sort_unstable_by_key(|s| s.start);
    if spans.windows(2).any(|w| match w {
        [a, b] => b.start <= a.last,
        _ => false,
    }) {
        return Err(PlanError::Overlap);
    }
    let mut shift = if hint == 0 {
        MIN_PAGE_SHIFT
    } else {
        hint.trailing_zeros().clamp(MIN_PAGE_SHIFT, 63)
    };
    let pages = loop {
        let total = spans.iter().fold(0u64, |n, s| {
            n.saturating_add(pages_of(s.start, s.last, shift))
        });
        // At shift 63 there are at most 2 pages per range, 512 in all.
        if total <= MAX_PAGES || shift >= 63 {
            break total;
        }
        shift = shift.saturating_add(1);
    };
    let mut bit = 0u64;
    for s in spans.iter_mut() {
        s.first_page = s.start >> shift;
        s.bit = bit;
        bit = bit.saturating_add(pages_of(s.start, s.last, shift));
    }
    Ok(Plan { shift, pages })
}

/// Why [`Tracker::new`] refused its storage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShortBitmap;

/// The dirty bits of the logged ranges.
///
/// `S` holds the ranges as [`plan`] placed them, `W` the bitmap: zeroed
/// words, at least [`Plan::words`] of them. Both are the caller's memory
/// (the kernel charges it to the user who started logging).
pub struct Tracker<S, W> {
    shift: u32,
    spans: S,
    words: W,
}

impl<S, W> Tracker<S, W>
where
    S: core::ops::Deref<Target = [Span]>,
    W: core::ops::Deref<Target = [AtomicU64]>,
{
    /// A tracker of `spans`, as [`plan`] placed them for `plan`, with no page
    /// dirty (the words must be zero); an error if `words` is shorter than
    /// the plan asks.
    pub fn new(plan: Plan, spans: S, words: W) -> Result<Self, ShortBitmap> {
        if words.len() < plan.words() {
            return Err(ShortBitmap);
        }
        Ok(Self {
            shift: plan.shift,
            spans,
            words,
        })
    }

    /// The tracking page size.
    pub fn page_size(&self) -> u64 {
        1u64 << self.shift
    }

    /// The logged ranges, in order.
    #[cfg(not(MODULE))]
    pub fn spans(&self) -> &[Span] {
        &self.spans
    }

    /// The ranges that share a byte with `first..=last`, and that part of
    /// each, as pages: `(span, first page, last page)`.
    fn pages_in(&self, first: u64, last: u64) -> impl Iterator<Item = (&Span, u64, u64)> {
        let from = self.spans.partition_point(|s| s.last < first);
        let shift = self.shift;
        self.spans
            .get(from..)
            .unwrap_or(&[])
            .iter()
            .take_while(move |s| s.start <= last)
            .map(move |s| (s, first.max(s.start) >> shift, last.min(s.last) >> shift))
    }

    /// The bit of page `page` of `span`.
    fn bit(span: &Span, page: u64) -> u64 {
        // `page` is a page of the span, so at least its first.
        span.bit
            .saturating_add(page.saturating_sub(span.first_page))
    }

    /// Records that the `len` bytes at `iova` were written: marks every page
    /// of a logged range they touch. Call it once the bytes are in memory.
    /// Bytes past 2^64 - 1 (which the engine never writes) are ignored.
    pub fn mark(&self, iova: u64, len: u64) {
        let Some(last) = len.checked_sub(1) else {
            return;
        };
        let last = iova.saturating_add(last);
        for (span, p0, p1) in self.pages_in(iova, last) {
            bits(
                &self.words,
                Self::bit(span, p0),
                Self::bit(span, p1),
                |_, word, mask| {
                    word.fetch_or(mask, Ordering::Release);
                },
            );
        }
    }

    /// Reports the dirty part of the `len` bytes at `iova`, as ranges in
    /// increasing order and within that window, adjacent pages joined, and
    /// clears what it reported (see the module's documentation for the
    /// pages that stick out of the window). A window that wraps past 2^64
    /// is cut at 2^64 - 1.
    pub fn read_and_clear(&self, iova: u64, len: u64, mut report: impl FnMut(u64, u64)) {
        let Some(last) = len.checked_sub(1) else {
            return;
        };
        let last = iova.saturating_add(last);
        let mut runs = Runs::default();
        for (span, p0, p1) in self.pages_in(iova, last) {
            // The part of the window in this span.
            let (lo, hi) = (iova.max(span.start), last.min(span.last));
            // A page is wholly in the window when its tracked extent is.
            let whole = |page: u64| {
                let (first, end) = self.extent(span, page);
                first >= iova && end <= last
            };
            let mut take = |page_from: u64, page_to: u64, clear: bool| {
                bits(
                    &self.words,
                    Self::bit(span, page_from),
                    Self::bit(span, page_to),
                    |w, word, mask| {
                        let dirty = if clear {
                            word.fetch_and(!mask, Ordering::AcqRel)
                        } else {
                            word.load(Ordering::Acquire)
                        } & mask;
                        for_each_bit(dirty, |b| {
                            let page = span.first_page.saturating_add(
                                w.saturating_mul(64)
                                    .saturating_add(u64::from(b))
                                    .saturating_sub(span.bit),
                            );
                            let (first, end) = self.extent(span, page);
                            runs.push(first.max(lo), end.min(hi), &mut report);
                        });
                    },
                );
            };
            if p0 == p1 {
                take(p0, p0, whole(p0));
                continue;
            }
            take(p0, p0, whole(p0));
            if let (Some(from), Some(to)) = (p0.checked_add(1), p1.checked_sub(1)) {
                if from <= to {
                    take(from, to, true);
                }
            }
            take(p1, p1, whole(p1));
        }
        runs.flush(&mut report);
    }

    /// The bytes page `page` of `span` tracks: the page cut to the range.
    fn extent(&self, span: &Span, page: u64) -> (u64, u64) {
        // `page` came from an address shifted right by `shift`, so shifting
        // back does not overflow.
        let first = page << self.shift;
        let end = first.saturating_add(self.page_size().saturating_sub(1));
        (first.max(span.start), end.min(span.last))
    }
}

/// Joins adjacent ranges before reporting them.
#[derive(Default)]
struct Runs {
    cur: Option<(u64, u64)>,
}

impl Runs {
    fn push(&mut self, first: u64, last: u64, report: &mut impl FnMut(u64, u64)) {
        match self.cur {
            Some((start, end)) if end.checked_add(1) == Some(first) => {
                self.cur = Some((start, last));
            }
            _ => {
                self.flush(report);
                self.cur = Some((first, last));
            }
        }
    }

    fn flush(&mut self, report: &mut impl FnMut(u64, u64)) {
        if let Some((first, last)) = self.cur.take() {
            // `first <= last` within one 64-bit window of a u64 length, so
            // the length fits.
            report(first, last.saturating_sub(first).saturating_add(1));
        }
    }
}

/// Calls `f(index, word, mask)` for each word that bits `from..=to` touch,
/// with the mask of those bits in it; bits past the end of `words` are ignored.
fn bits(words: &[AtomicU64], from: u64, to: u64, mut f: impl FnMut(u64, &AtomicU64, u64)) {
    if to < from {
        return;
    }
    let (w0, w1) = (from / 64, to / 64);
    let mut w = w0;
    while w <= w1 {
        let lo = if w == w0 { from % 64 } else { 0 };
        let hi = if w == w1 { to % 64 } else { 63 };
        // Bits `lo..=hi`, `lo <= hi < 64` (so `63 ^ hi` is `63 - hi`).
        let mask = (u64::MAX << lo) & (u64::MAX >> (63 ^ hi));
        let Some(word) = usize::try_from(w).ok().and_then(|i| words.get(i)) else {
            return;
        };
        f(w, word, mask);
        w = w.saturating_add(1);
    }
}

/// Calls `f` with the number of each set bit of `v`, lowest first.
fn for_each_bit(mut v: u64, mut f: impl FnMut(u32)) {
    while v != 0 {
        f(v.trailing_zeros());
        v &= v.wrapping_sub(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec;
    use std::vec::Vec;

    fn tracker(ranges: &[(u64, u64)], hint: u64) -> Tracker<Vec<Span>, Vec<AtomicU64>> {
        let mut spans: Vec<Span> = ranges.iter().map(|&(s, l)| Span::new(s, l)).collect();
        let plan = plan(&mut spans, hint).unwrap();
        let words = (0..plan.words()).map(|_| AtomicU64::new(0)).collect();
        Tracker::new(plan, spans, words).unwrap()
    }

    fn report(t: &Tracker<Vec<Span>, Vec<AtomicU64>>, iova: u64, len: u64) -> Vec<(u64, u64)> {
        let mut v = Vec::new();
        t.read_and_clear(iova, len, |a, l| v.push((a, l)));
        v
    }

    const P: u64 = 4096;

    #[test]
    fn marks_pages_written_and_clears_on_report() {
        let t = tracker(&[(0, 16 * P - 1)], P);
        assert_eq!(t.page_size(), P);
        t.mark(P + 100, 10);
        t.mark(3 * P - 1, 2); // two pages
        t.mark(10 * P, P);
        assert_eq!(report(&t, 0, 16 * P), vec![(P, 3 * P), (10 * P, P)]);
        assert_eq!(report(&t, 0, 16 * P), vec![]);
    }

    #[test]
    fn writes_outside_the_ranges_are_not_marked() {
        let t = tracker(&[(4 * P, 6 * P - 1), (10 * P, 11 * P - 1)], P);
        t.mark(0, 4 * P);
        t.mark(6 * P, 4 * P);
        t.mark(11 * P, P);
        assert_eq!(report(&t, 0, 64 * P), vec![]);
        t.mark(5 * P, 6 * P);
        assert_eq!(report(&t, 0, 64 * P), vec![(5 * P, P), (10 * P, P)]);
    }

    #[test]
    fn a_report_only_takes_its_window() {
        let t = tracker(&[(0, 8 * P - 1)], P);
        t.mark(0, 8 * P);
        assert_eq!(report(&t, 2 * P, 2 * P), vec![(2 * P, 2 * P)]);
        assert_eq!(report(&t, 0, 8 * P), vec![(0, 2 * P), (4 * P, 4 * P)]);
    }

    #[test]
    fn ranges_up_to_the_top_of_the_address_space() {
        let top = u64::MAX - (4 * P - 1);
        let t = tracker(&[(top, u64::MAX), (0, P - 1)], P);
        t.mark(u64::MAX - 10, 11);
        t.mark(u64::MAX, 100); // past the top: cut
        t.mark(0, 1);
        assert_eq!(report(&t, top, 4 * P), vec![(u64::MAX - (P - 1), P)]);
        assert_eq!(report(&t, 0, u64::MAX), vec![(0, P)]);
    }

    #[test]
    fn the_page_grows_until_the_bitmap_fits() {
        // The whole space but its top page, and a second range above it.
        let t = tracker(&[(0, u64::MAX - P), (u64::MAX - (P - 1), u64::MAX)], P);
        let shift = t.page_size().trailing_zeros();
        assert!(shift > 12);
        let mut spans = vec![Span::new(0, u64::MAX - P)];
        let plan = plan(&mut spans, 0).unwrap();
        assert!(plan.pages() <= MAX_PAGES && plan.words() as u64 <= MAX_BITMAP_BYTES / 8);
        // 2^64 bytes at 2^41-byte pages: exactly 2^23 pages.
        assert_eq!(plan.page_size(), 1 << 41);
        // A write of one byte reports its whole tracking page.
        t.mark(5 * P, 1);
        assert_eq!(report(&t, 0, u64::MAX), vec![(0, t.page_size())]);
    }

    #[test]
    fn pages_sticking_out_of_the_window_stay_dirty() {
        let t = tracker(&[(0, 64 * P - 1)], 16 * P);
        t.mark(P, 1);
        // The window covers a quarter of the tracking page.
        assert_eq!(report(&t, 0, 4 * P), vec![(0, 4 * P)]);
        assert_eq!(report(&t, 0, 16 * P), vec![(0, 16 * P)]);
        assert_eq!(report(&t, 0, 16 * P), vec![]);
    }

    #[test]
    fn plans_refuse_what_the_core_would_and_more() {
        let p = |r: &[(u64, u64)], hint| {
            let mut s: Vec<Span> = r.iter().map(|&(a, b)| Span::new(a, b)).collect();
            plan(&mut s, hint)
        };
        assert_eq!(p(&[], P), Err(PlanError::NoRanges));
        assert_eq!(p(&[(0, P - 1), (P - 1, 2 * P)], P), Err(PlanError::Overlap));
        assert_eq!(p(&[(5 * P, 6 * P), (0, 5 * P)], P), Err(PlanError::Overlap));
        assert_eq!(p(&[(2 * P, P)], P), Err(PlanError::Empty));
        assert_eq!(p(&[(0, P - 1)], 3 * P), Err(PlanError::PageSize));
        let many: Vec<(u64, u64)> = (0..=MAX_RANGES as u64).map(|i| (i * P, i * P)).collect();
        assert_eq!(p(&many, P), Err(PlanError::TooManyRanges));
        assert!(p(&many[..MAX_RANGES], P).is_ok());
        // A small hint is 4 KiB; a big one is kept.
        assert_eq!(p(&[(0, P - 1)], 0).unwrap().page_size(), P);
        assert_eq!(
            p(&[(0, (1 << 21) - 1)], 1 << 21).unwrap().page_size(),
            1 << 21
        );
    }

    #[test]
    fn max_ranges_each_marked() {
        let r: Vec<(u64, u64)> = (0..MAX_RANGES as u64)
            .map(|i| (i * 4 * P, i * 4 * P + 2 * P - 1))
            .collect();
        let t = tracker(&r, P);
        for &(s, _) in &r {
            t.mark(s + P, 1);
        }
        let want: Vec<(u64, u64)> = r.iter().map(|&(s, _)| (s + P, P)).collect();
        assert_eq!(report(&t, 0, u64::MAX), want);
    }

    #[test]
    fn a_short_bitmap_is_refused() {
        let mut spans = vec![Span::new(0, 128 * P - 1)];
        let plan = plan(&mut spans, P).unwrap();
        let words: Vec<AtomicU64> = vec![AtomicU64::new(0)];
        assert!(Tracker::new(plan, spans, words).is_err());
    }
}
