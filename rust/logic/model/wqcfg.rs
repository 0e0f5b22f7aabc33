// SPDX-License-Identifier: GPL-2.0

//! A WQ's configuration: its WQCFG entry (`union wqcfg` of the idxd
//! driver's `registers.h`), as typed 32-bit words, and what software may
//! write to it.

use super::super::{
    bitfield::bitfield,
    engine,
    idxd::WQCFG_MIN, //
};
use super::slot::PortalSlot;

/// `wqcfg_size` of WQCAP: 64-byte WQCFG entries.
pub(crate) const WQCFG_SIZE_FIELD: u32 = 1;
/// log2 of the size of a WQCFG entry.
pub(crate) const WQCFG_SHIFT: u32 = WQCFG_SIZE_FIELD + WQCFG_MIN;
/// The size of a WQCFG entry.
pub const WQCFG_BYTES: u64 = 1 << WQCFG_SHIFT;

/// A 32-bit word of `union wqcfg` as a type.
pub(crate) trait Word: Copy + PartialEq + From<u32> + Into<u32> {
    /// Its index in `wqcfg.bits`.
    const INDEX: usize;
}

bitfield! {
    /// `wqcfg` bytes 0-3.
    pub(crate) struct WqcfgSize(u32) {
        /// `wq_size`: WQ entries of `total_wq_size`.
        15:0 wq_size, with_wq_size;
    }
}

bitfield! {
    /// `wqcfg` bytes 4-7.
    pub(crate) struct WqcfgThresh(u32) {
        /// `wq_thresh`: for shared WQs.
        15:0 wq_thresh, with_wq_thresh;
    }
}

bitfield! {
    /// `wqcfg` bytes 8-11: mode, priority and PASID.
    pub(crate) struct WqcfgMode(u32) {
        /// `mode`: dedicated (shared if clear).
        0:0 mode => bool, with_mode;
        /// `bof`: block on fault.
        1:1 bof => bool, with_bof;
        /// `wq_ats_disable`.
        2:2 wq_ats_disable => bool, with_wq_ats_disable;
        /// `wq_prs_disable`.
        3:3 wq_prs_disable => bool, with_wq_prs_disable;
        /// `priority`: 0 is not valid.
        7:4 priority, with_priority;
        /// `pasid`.
        27:8 pasid, with_pasid;
        /// `pasid_en`.
        28:28 pasid_en => bool, with_pasid_en;
        /// `priv` (a keyword in Rust): privileged descriptors.
        29:29 privileged => bool, with_privileged;
    }
}

bitfield! {
    /// `wqcfg` bytes 12-15: the WQ's limits.
    pub(crate) struct WqcfgLimits(u32) {
        /// `max_xfer_shift`: transfers up to `1 << max_xfer_shift` bytes.
        4:0 max_xfer_shift, with_max_xfer_shift;
        /// `max_batch_shift`: batches up to `1 << max_batch_shift`.
        8:5 max_batch_shift, with_max_batch_shift;
        /// `max_sgl_shift`.
        12:9 max_sgl_shift, with_max_sgl_shift;
    }
}

bitfield! {
    /// `wqcfg` bytes 16-19 (occupancy interrupts: read-only here).
    pub(crate) struct WqcfgOccupancyInt(u32) {
        /// `occupancy_inth`.
        15:0 occupancy_inth, with_occupancy_inth;
        /// `occupancy_table_sel`.
        16:16 occupancy_table_sel => bool, with_occupancy_table_sel;
    }
}

bitfield! {
    /// `wqcfg` bytes 20-23 (occupancy limit: read-only here).
    pub(crate) struct WqcfgOccupancyLimit(u32) {
        /// `occupancy_limit`.
        15:0 occupancy_limit, with_occupancy_limit;
        /// `occupancy_int_en`.
        16:16 occupancy_int_en => bool, with_occupancy_int_en;
    }
}

bitfield! {
    /// `wqcfg` bytes 24-27: occupancy and state, read-only.
    pub(crate) struct WqcfgState(u32) {
        /// `occupancy`.
        15:0 occupancy, with_occupancy;
        /// `occupancy_int`.
        16:16 occupancy_int => bool, with_occupancy_int;
        /// `mode_support`: the WQ supports dedicated mode.
        29:29 mode_support => bool, with_mode_support;
        /// `wq_state`.
        31:30 wq_state ?=> WqState, with_wq_state;
    }
}

bitfield! {
    /// `wqcfg` bytes 28-31: `rsvd8`.
    pub(crate) struct WqcfgReserved(u32) {}
}

/// Implements [`Word`] for each word type, at its index (checked at
/// compile time to be one of the sixteen).
macro_rules! words {
    ($($word:ident = $index:literal,)*) => {
        $(
            impl Word for $word {
                const INDEX: usize = $index;
            }
            const _: () = assert!($index < 16, "a WQCFG entry has sixteen words");
        )*
    };
}

words! {
    WqcfgSize = 0,
    WqcfgThresh = 1,
    WqcfgMode = 2,
    WqcfgLimits = 3,
    WqcfgOccupancyInt = 4,
    WqcfgOccupancyLimit = 5,
    WqcfgState = 6,
    WqcfgReserved = 7,
}

/// `wqcfg.wq_state`: the values a WQ has (2 and 3 it never has).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WqState {
    /// 0: disabled.
    Disabled,
    /// 1: enabled.
    Enabled,
}

impl TryFrom<u32> for WqState {
    type Error = u32;

    fn try_from(v: u32) -> Result<Self, u32> {
        match v {
            0 => Ok(Self::Disabled),
            1 => Ok(Self::Enabled),
            n => Err(n),
        }
    }
}

impl From<WqState> for u32 {
    fn from(s: WqState) -> Self {
        match s {
            WqState::Disabled => 0,
            WqState::Enabled => 1,
        }
    }
}

/// Where `wqcfg.op_config` is: words 8 to 15, a quadword per two words.
const OP_CONFIG_WORD: usize = 8;

/// A WQ's state: its WQCFG entry as sixteen 32-bit words, and the portal
/// slot it is receiving in pieces, if any.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WqCfg {
    /// `union wqcfg.bits`.
    pub words: [u32; 16],
    /// The portal slot being written in pieces.
    pub slot: PortalSlot,
}

impl WqCfg {
    /// The entry after reset: disabled, size 0, every supported operation
    /// allowed.
    pub fn reset() -> Self {
        let mut wq = Self {
            words: [0; 16],
            slot: PortalSlot::EMPTY,
        };
        wq.set_word(WqcfgState::zeroed().with_mode_support(true));
        let opcap = engine::opcap();
        // Indexes, not zipped iterators: objtool trips over the code those
        // generate. Below 16: four quadwords from word 8.
        let mut w = OP_CONFIG_WORD;
        for q in opcap {
            wq.set_qword(w, q);
            w = w.wrapping_add(2);
        }
        wq
    }

    /// Returns word `T` of the entry.
    pub(crate) fn word<T: Word>(&self) -> T {
        // `T::INDEX` is below 16 (`words!` checks it): never the 0.
        T::from(self.words.get(T::INDEX).copied().unwrap_or(0))
    }

    /// Sets word `T` of the entry.
    pub(crate) fn set_word<T: Word>(&mut self, v: T) {
        // `T::INDEX` is below 16 (`words!` checks it): always written.
        if let Some(w) = self.words.get_mut(T::INDEX) {
            *w = v.into();
        }
    }

    /// Returns whether the WQ is enabled.
    pub fn enabled(&self) -> bool {
        self.word::<WqcfgState>().wq_state() == Ok(WqState::Enabled)
    }

    /// Enables or disables the WQ; disabling abandons a pending slot.
    pub(crate) fn set_enabled(&mut self, on: bool) {
        let state = if on {
            WqState::Enabled
        } else {
            self.slot = PortalSlot::EMPTY;
            WqState::Disabled
        };
        self.set_word(self.word::<WqcfgState>().with_wq_state(state));
    }

    /// `wq_size`.
    pub fn size(&self) -> u32 {
        self.word::<WqcfgSize>().wq_size()
    }

    /// `max_xfer_shift`.
    pub(crate) fn max_xfer_shift(&self) -> u32 {
        self.word::<WqcfgLimits>().max_xfer_shift()
    }

    /// `max_batch_shift`.
    pub(crate) fn max_batch_shift(&self) -> u32 {
        self.word::<WqcfgLimits>().max_batch_shift()
    }

    /// `op_config`: the operations the WQ allows, one bit per opcode.
    pub(crate) fn op_config(&self) -> [u64; 4] {
        [
            self.qword(8),
            self.qword(10),
            self.qword(12),
            self.qword(14),
        ]
    }

    /// Returns the quadword of the entry at word `w` (even, below 16);
    /// words beyond the entry read as 0.
    pub(crate) fn qword(&self, w: usize) -> u64 {
        let word = |i: usize| self.words.get(i).copied().map_or(0, u64::from);
        word(w) | word(w | 1) << 32
    }

    /// Sets the quadword of the entry at word `w` (even, below 16); words
    /// beyond the entry are not written.
    fn set_qword(&mut self, w: usize, q: u64) {
        if let Some(lo) = self.words.get_mut(w) {
            *lo = q as u32;
        }
        if let Some(hi) = self.words.get_mut(w | 1) {
            *hi = (q >> 32) as u32;
        }
    }

    /// Takes software's write of `v` to word `w` (below 16) of the entry,
    /// `device_enabled` telling whether the device is: `wq_size` only while
    /// the device and the WQ are disabled; threshold, mode, limits and
    /// `op_config` while the WQ is; occupancy and state never.
    pub(crate) fn write(&mut self, w: usize, v: u32, device_enabled: bool) {
        let enabled = self.enabled();
        match w {
            WqcfgSize::INDEX if !device_enabled && !enabled => {
                self.set_word(WqcfgSize::zeroed().with_wq_size(v));
            }
            WqcfgThresh::INDEX | WqcfgMode::INDEX | WqcfgLimits::INDEX | 8..=15 if !enabled => {
                // One of the sixteen words: always written.
                if let Some(word) = self.words.get_mut(w) {
                    *word = v;
                }
            }
            _ => {}
        }
    }

    /// Checks a saved entry as far as it tells alone, against this
    /// device's entry after reset (`reset`): `wq_size` has no reserved
    /// bits, the read-only words and `mode_support` are the device's, and
    /// `wq_state` is one a WQ has. Returns that state.
    pub(crate) fn check_saved(&self, reset: &Self) -> Result<WqState, &'static str> {
        let size = self.word::<WqcfgSize>();
        if size != WqcfgSize::zeroed().with_wq_size(size.wq_size()) {
            return Err("wq_size has reserved bits set");
        }
        if !self.same_word::<WqcfgOccupancyInt>(reset)
            || !self.same_word::<WqcfgOccupancyLimit>(reset)
            || !self.same_word::<WqcfgReserved>(reset)
        {
            return Err("read-only fields differ from this device's");
        }
        let state = self.word::<WqcfgState>();
        if state.with_wq_state(WqState::Disabled) != reset.word::<WqcfgState>() {
            return Err("mode support bits differ from this device's");
        }
        state
            .wq_state()
            .map_err(|_| "the WQ state is neither disabled nor enabled")
    }

    /// Returns whether word `T` is the same in `other`.
    fn same_word<T: Word>(&self, other: &Self) -> bool {
        self.word::<T>() == other.word::<T>()
    }
}

#[cfg(test)]
mod tests {
    use super::super::super::idxd::*;
    use super::*;

    #[test]
    fn words_are_where_registers_h_puts_them() {
        let m = WqcfgMode::zeroed();
        assert_eq!(m.with_mode(true).into_raw(), WQCFG_MODE_DEDICATED);
        assert_eq!(m.with_bof(true).into_raw(), WQCFG_BOF);
        assert_eq!(m.with_pasid_en(true).into_raw(), WQCFG_PASID_EN);
        assert_eq!(m.with_priority(!0).into_raw(), 0xf << WQCFG_PRIORITY_SHIFT);
        assert_eq!(m.with_pasid(!0).into_raw(), 0xf_ffff << 8);
        let l = WqcfgLimits::zeroed();
        assert_eq!(l.with_max_xfer_shift(!0).into_raw(), 0x1f);
        assert_eq!(
            l.with_max_batch_shift(!0).into_raw(),
            0xf << WQCFG_MAX_BATCH_SHIFT
        );
        let s = WqcfgState::zeroed();
        assert_eq!(s.with_mode_support(true).into_raw(), WQCFG_MODE_SUPPORT);
        assert_eq!(
            s.with_wq_state(WqState::Enabled).into_raw(),
            1 << WQCFG_STATE_SHIFT
        );
        for (raw, state) in [
            (0, Ok(WqState::Disabled)),
            (1, Ok(WqState::Enabled)),
            (2, Err(2)),
        ] {
            assert_eq!(
                WqcfgState::from_raw(raw << WQCFG_STATE_SHIFT).wq_state(),
                state
            );
        }
        assert_eq!(WqcfgState::from_raw(!0).wq_state(), Err(3));
        assert_eq!(WQCFG_BYTES, 64);
    }

    #[test]
    fn reset_entry_and_state() {
        let mut wq = WqCfg::reset();
        assert_eq!(wq.words[6], WQCFG_MODE_SUPPORT);
        assert_eq!(wq.op_config(), engine::opcap());
        assert_eq!(
            (wq.qword(8), wq.qword(14)),
            (engine::opcap()[0], engine::opcap()[3])
        );
        assert!(!wq.enabled());
        wq.set_enabled(true);
        assert!(wq.enabled());
        assert_eq!(wq.words[6], WQCFG_MODE_SUPPORT | 1 << WQCFG_STATE_SHIFT);
        assert_eq!(wq.check_saved(&WqCfg::reset()), Ok(WqState::Enabled));
        wq.set_enabled(false);
        assert_eq!(wq, WqCfg::reset());
    }

    #[test]
    fn writes_follow_the_wq_and_device_state() {
        let mut wq = WqCfg::reset();
        wq.write(0, 0xffff_0010, true);
        assert_eq!(
            wq.size(),
            0,
            "wq_size is locked while the device is enabled"
        );
        wq.write(0, 0xffff_0010, false);
        assert_eq!(wq.words[0], 0x10, "reserved bits of wq_size are dropped");
        for w in [1, 2, 3, 8, 15] {
            wq.write(w, !0, true);
            assert_eq!(wq.words[w], !0);
        }
        for w in [4, 5, 6, 7] {
            wq.write(w, 0x1234, false);
            assert_eq!(
                wq.words[w],
                WqCfg::reset().words[w],
                "word {w} is read-only"
            );
        }
        wq.set_enabled(true);
        let before = wq;
        for w in 0..16 {
            wq.write(w, 0, false);
        }
        assert_eq!(wq, before, "an enabled WQ's entry is locked");
    }
}
