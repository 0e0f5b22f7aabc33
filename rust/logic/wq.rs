// SPDX-License-Identifier: GPL-2.0

//! Work-queue accounting.
//!
//! A parent owns up to [`MAX_WQS`] dedicated work queues. A [`WqSet`] is a
//! fixed-size bitmap of WQ ids (no allocation, so it works the same in the
//! kernel and on the host); a [`WqPool`] is a parent's set of WQs with the
//! ids in use, from which devices take and give back whole sets.
//!
//! Every operation either succeeds completely or leaves the pool and the set
//! exactly as they were: that is what keeps `free_wqs` equal to `total_wqs`
//! minus the WQs held by existing devices.

use core::fmt;

/// The largest number of WQs a parent can have (the `wqs` module parameter's
/// upper bound).
pub const MAX_WQS: usize = 4096;

const WORDS: usize = MAX_WQS / 64;

/// A set of WQ ids in `0..MAX_WQS`.
///
/// Formats (with `{}`) in the kernel's bitmap list format, as `%*pbl` prints
/// it: ascending ranges such as `0-29,32`, and nothing at all when empty.
#[derive(Clone, PartialEq, Eq)]
pub struct WqSet {
    words: [u64; WORDS],
}

impl Default for WqSet {
    fn default() -> Self {
        Self::new()
    }
}

impl WqSet {
    /// Returns an empty set.
    pub const fn new() -> Self {
        Self { words: [0; WORDS] }
    }

    /// Returns the set `0..n` (clamped to [`MAX_WQS`]).
    #[cfg(test)]
    pub fn first(n: usize) -> Self {
        let mut set = Self::new();
        for id in 0..n.min(MAX_WQS) {
            set.insert(id);
        }
        set
    }

    /// Returns how many ids the set holds.
    pub fn len(&self) -> usize {
        self.words.iter().map(|w| w.count_ones() as usize).sum()
    }

    /// Returns whether the set is empty.
    #[cfg(not(MODULE))] // Goes with len() in the host crate's API.
    pub fn is_empty(&self) -> bool {
        self.words.iter().all(|&w| w == 0)
    }

    /// Returns whether `id` is in the set.
    #[cfg(not(MODULE))] // The pool tests words, not ids; the host's tools ask.
    pub fn contains(&self, id: usize) -> bool {
        // A bit for each id below MAX_WQS, and none beyond.
        self.words
            .get(id / 64)
            .is_some_and(|w| w & (1 << (id % 64)) != 0)
    }

    /// Adds `id` (ignored when out of range).
    pub fn insert(&mut self, id: usize) {
        if let Some(w) = self.words.get_mut(id / 64) {
            *w |= 1 << (id % 64);
        }
    }

    /// Removes `id`.
    #[cfg(test)]
    pub fn remove(&mut self, id: usize) {
        if let Some(w) = self.words.get_mut(id / 64) {
            *w &= !(1 << (id % 64));
        }
    }

    /// Returns whether the two sets share an id.
    #[cfg(not(MODULE))]
    pub fn intersects(&self, other: &Self) -> bool {
        self.words
            .iter()
            .zip(other.words.iter())
            .any(|(a, b)| a & b != 0)
    }

    /// Returns whether every id of `self` is in `other`.
    #[cfg(not(MODULE))]
    pub fn is_subset(&self, other: &Self) -> bool {
        self.words
            .iter()
            .zip(other.words.iter())
            .all(|(a, b)| a & !b == 0)
    }

    /// Iterates over the ids in ascending order.
    pub fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        self.words.iter().enumerate().flat_map(|(i, &word)| {
            let mut rest = word;
            core::iter::from_fn(move || {
                if rest == 0 {
                    return None;
                }
                let bit = rest.trailing_zeros() as usize;
                // Clears the lowest set bit; `rest` is not 0.
                rest &= rest.wrapping_sub(1);
                // `i < WORDS` and `bit < 64`: below `MAX_WQS`.
                Some(i.saturating_mul(64).saturating_add(bit))
            })
        })
    }

    /// Returns the `n`-th smallest id (0-based), if the set has that many.
    ///
    /// A device's WQs are numbered `0..len()` towards its user; this maps
    /// such a device-local index to the parent's WQ id.
    #[cfg(not(MODULE))]
    pub fn nth(&self, n: usize) -> Option<usize> {
        self.iter().nth(n)
    }

    fn union_with(&mut self, other: &Self) {
        for (a, b) in self.words.iter_mut().zip(other.words.iter()) {
            *a |= b;
        }
    }

    fn subtract(&mut self, other: &Self) {
        for (a, b) in self.words.iter_mut().zip(other.words.iter()) {
            *a &= !b;
        }
    }
}

/// Writes the run of ids `start..=end` as the bitmap list format does,
/// after `sep` (then the separator for the next run).
fn write_run(
    f: &mut fmt::Formatter<'_>,
    sep: &mut &str,
    (start, end): (usize, usize),
) -> fmt::Result {
    f.write_str(sep)?;
    *sep = ",";
    if start == end {
        write!(f, "{start}")
    } else {
        write!(f, "{start}-{end}")
    }
}

impl fmt::Display for WqSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut sep = "";
        // The run of consecutive ids being collected.
        let mut run: Option<(usize, usize)> = None;
        for id in self.iter() {
            run = match run {
                Some((start, end)) if end.checked_add(1) == Some(id) => Some((start, id)),
                Some(done) => {
                    write_run(f, &mut sep, done)?;
                    Some((id, id))
                }
                None => Some((id, id)),
            };
        }
        match run {
            Some(done) => write_run(f, &mut sep, done),
            None => Ok(()),
        }
    }
}

impl fmt::Debug for WqSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WqSet({self})")
    }
}

/// Not enough free WQs in the pool for a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NoSpace {
    /// WQs the request needed from the pool.
    pub needed: usize,
    /// WQs the pool had free.
    pub free: usize,
}

/// A parent's work queues: `0..total()`, some of them held by devices.
#[derive(Clone, Debug)]
pub struct WqPool {
    total: usize,
    used: WqSet,
}

impl WqPool {
    /// Returns a pool of `total` WQs (clamped to [`MAX_WQS`]), all free.
    pub fn new(total: usize) -> Self {
        Self {
            total: total.min(MAX_WQS),
            used: WqSet::new(),
        }
    }

    /// Returns the number of WQs the parent has.
    pub fn total(&self) -> usize {
        self.total
    }

    /// Returns the number of WQs no device holds.
    pub fn free(&self) -> usize {
        // `used` is within `0..total`.
        self.total.saturating_sub(self.used.len())
    }

    /// Returns the ids held by devices.
    #[cfg(not(MODULE))]
    pub fn used(&self) -> &WqSet {
        &self.used
    }

    /// Takes the `n` lowest free WQs.
    ///
    /// Fails with [`NoSpace`] when fewer than `n` are free, in which case the
    /// pool is unchanged.
    pub fn alloc(&mut self, n: usize) -> Result<WqSet, NoSpace> {
        let free = self.free();
        if n > free {
            return Err(NoSpace { needed: n, free });
        }
        // A word at a time: a full word costs one test, not 64, so taking
        // WQs stays cheap however many devices hold the ones below.
        let mut set = WqSet::new();
        let mut left = n;
        let mut below = self.total;
        for (&used, out) in self.used.words.iter().zip(set.words.iter_mut()) {
            if left == 0 || below == 0 {
                break;
            }
            // The ids of this word that the pool has: the lowest `below`.
            let ours = u32::try_from(below)
                .ok()
                .and_then(|b| 1u64.checked_shl(b))
                .map_or(u64::MAX, |bit| bit.wrapping_sub(1));
            below = below.saturating_sub(64);
            let mut free = !used & ours;
            while left > 0 && free != 0 {
                let lowest = free & free.wrapping_neg();
                *out |= lowest;
                free &= !lowest;
                left = left.saturating_sub(1);
            }
        }
        self.used.union_with(&set);
        Ok(set)
    }

    /// Gives back every WQ of `set` that the pool has lent out.
    pub fn release(&mut self, set: &WqSet) {
        self.used.subtract(set);
    }

    /// Grows or shrinks `set`, which the pool lent out, to `n` WQs.
    ///
    /// Growing takes the lowest free WQs; shrinking gives back the highest
    /// ids of `set`. Fails with [`NoSpace`] when growing needs more WQs than
    /// are free, in which case neither the pool nor `set` changes.
    pub fn resize(&mut self, set: &mut WqSet, n: usize) -> Result<(), NoSpace> {
        let have = set.len();
        match n.checked_sub(have) {
            Some(more) if more > 0 => {
                let extra = self.alloc(more)?;
                set.union_with(&extra);
            }
            _ => {
                let mut give_back = WqSet::new();
                for id in set.iter().skip(n) {
                    give_back.insert(id);
                }
                set.subtract(&give_back);
                self.release(&give_back);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::format;
    use std::string::ToString;
    use std::vec::Vec;

    #[test]
    fn list_format_matches_the_kernel() {
        assert_eq!(WqSet::new().to_string(), "");
        assert_eq!(WqSet::first(1).to_string(), "0");
        assert_eq!(WqSet::first(30).to_string(), "0-29");
        let mut s = WqSet::first(30);
        s.insert(32);
        s.insert(34);
        s.insert(35);
        s.insert(MAX_WQS - 1);
        assert_eq!(s.to_string(), "0-29,32,34-35,4095");
        assert_eq!(format!("{s:?}"), "WqSet(0-29,32,34-35,4095)");
    }

    #[test]
    fn set_basics() {
        let mut s = WqSet::new();
        assert!(s.is_empty());
        s.insert(63);
        s.insert(64);
        s.insert(MAX_WQS); // out of range: ignored
        assert_eq!(s.len(), 2);
        assert!(s.contains(63) && s.contains(64) && !s.contains(MAX_WQS));
        assert_eq!(s.nth(1), Some(64));
        assert_eq!(s.nth(2), None);
        assert_eq!(s.iter().collect::<Vec<_>>(), [63, 64]);
        s.remove(63);
        assert_eq!(s.to_string(), "64");
        assert!(s.is_subset(&WqSet::first(65)));
        assert!(!s.is_subset(&WqSet::first(64)));
        assert!(s.intersects(&WqSet::first(65)));
    }

    #[test]
    fn alloc_takes_lowest_and_fails_atomically() {
        let mut pool = WqPool::new(64);
        let a = pool.alloc(30).unwrap();
        assert_eq!(a.to_string(), "0-29");
        let b = pool.alloc(30).unwrap();
        assert_eq!(b.to_string(), "30-59");
        assert_eq!(pool.free(), 4);
        assert_eq!(pool.alloc(5), Err(NoSpace { needed: 5, free: 4 }));
        assert_eq!(pool.free(), 4);
        pool.release(&a);
        assert_eq!(pool.free(), 34);
        let c = pool.alloc(31).unwrap();
        assert_eq!(c.to_string(), "0-29,60");
        assert!(!c.intersects(&b));
        assert_eq!(pool.alloc(0).unwrap().len(), 0);
    }

    #[test]
    fn alloc_across_words_takes_the_lowest_free_ids() {
        // Pools that end inside a word and on one; holes spread over words.
        for total in [1, 63, 64, 65, 130, 200, MAX_WQS] {
            let mut pool = WqPool::new(total);
            let mut held = Vec::new();
            for n in [3, 61, 2, 70, 1] {
                if let Ok(set) = pool.alloc(n) {
                    held.push(set);
                }
            }
            // Free every other set, then take what is free in steps.
            for set in held.iter().step_by(2) {
                pool.release(set);
            }
            for n in [1, 5, 64, 7, 1000] {
                let used = pool.used().clone();
                let want: Vec<usize> = (0..total)
                    .filter(|&id| !used.contains(id))
                    .take(n)
                    .collect();
                match pool.alloc(n) {
                    Ok(set) => {
                        assert_eq!(set.iter().collect::<Vec<_>>(), want, "total {total}, n {n}")
                    }
                    Err(e) => assert!(want.len() < n, "total {total}, n {n}: {e:?}"),
                }
            }
        }
    }

    #[test]
    fn resize_grows_and_shrinks_atomically() {
        let mut pool = WqPool::new(16);
        let mut a = pool.alloc(4).unwrap();
        let b = pool.alloc(4).unwrap();
        pool.resize(&mut a, 10).unwrap();
        assert_eq!(a.to_string(), "0-3,8-13");
        assert_eq!(pool.free(), 2);
        let before = a.clone();
        assert_eq!(pool.resize(&mut a, 13), Err(NoSpace { needed: 3, free: 2 }));
        assert_eq!(a, before);
        assert_eq!(pool.free(), 2);
        pool.resize(&mut a, 2).unwrap();
        assert_eq!(a.to_string(), "0-1");
        assert_eq!(pool.free(), 10);
        pool.release(&a);
        pool.release(&b);
        assert_eq!(pool.free(), 16);
        assert!(pool.used().is_empty());
    }

    #[test]
    fn pool_is_clamped() {
        let mut pool = WqPool::new(MAX_WQS + 10);
        assert_eq!(pool.total(), MAX_WQS);
        let all = pool.alloc(MAX_WQS).unwrap();
        assert_eq!(all.to_string(), "0-4095");
        assert_eq!(pool.free(), 0);
    }
}
