// SPDX-License-Identifier: GPL-2.0

//! The saved state a migration stream carries (see `stream.rs` for where
//! it is in the stream's body): the registers, the WQ table and the WQs'
//! pending portal slots; how it is written, checked and loaded.
//!
//! A saved state is loaded only if the device could have reached it
//! through its registers: [`Dsa::verify`] refuses any other.

use super::super::{
    desc::{
        DESC_ALIGN_MASK,
        DESC_SIZE, //
    },
    idxd::*,
    le::{
        self,
        put32,
        put64, //
    },
};
use super::{
    command::{
        CmdSts,
        Command, //
    },
    portal::WQ_PORTAL_SPAN,
    registers::{
        GenCfg,
        GenCtrl,
        Regs,
        SwErr, //
    },
    slot::{
        PortalSlot,
        SLOT_FULL, //
    },
    wqcfg::{
        WqCfg,
        WqState,
        WQCFG_BYTES, //
    },
    Dsa,
    WqTable,
    MAX_VECTORS, //
};

// Where each register is in the saved register state (little-endian).

/// GENCFG.
const GENCFG_AT: usize = 0;
/// GENCTRL.
const GENCTRL_AT: usize = 4;
/// The enable state (GENSTS.state): 0 or 1.
const ENABLED_AT: usize = 8;
/// INTCAUSE.
const INTCAUSE_AT: usize = 12;
/// CMD, the last command written.
const CMD_AT: usize = 16;
/// CMDSTS.
const CMDSTS_AT: usize = 20;
/// SWERR, four quadwords.
const SWERR_AT: usize = 24;
/// The MSI-X permission table, a `u32` per vector.
const MSIX_PERM_AT: usize = SWERR_AT + 4 * 8;

/// The size of the register state a migration stream carries: GENCFG,
/// GENCTRL, the enable state, INTCAUSE, CMD and CMDSTS (a `u32` each), the
/// four SWERR quadwords and the MSI-X permission table (a `u32` per vector).
pub const SAVED_REGS_BYTES: usize = MSIX_PERM_AT + 4 * MAX_VECTORS as usize;

// Where each field is in a saved portal slot (little-endian).

/// [`PortalSlot::mask`].
const SLOT_MASK_AT: usize = 0;
/// [`PortalSlot::offset`].
const SLOT_OFFSET_AT: usize = 4;
/// [`PortalSlot::bytes`].
const SLOT_BYTES_AT: usize = 8;

/// The size of a saved [`PortalSlot`] in a migration stream: `mask`,
/// `offset` (a `u32` each), then the 64 bytes.
pub const SAVED_SLOT_BYTES: usize = SLOT_BYTES_AT + DESC_SIZE;

/// Why a saved state (registers and WQ table from a migration stream) does
/// not fit this device; nothing was loaded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StateError {
    /// The registers hold a value the device could not have had.
    Registers(&'static str),
    /// A WQ's configuration is one the device could not have had.
    Wq {
        /// Which WQ.
        wq: u32,
        /// Why.
        why: &'static str,
    },
    /// The WQ table is not one 64-byte entry per WQ of this device.
    WqTableSize,
}

impl core::fmt::Display for StateError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Registers(why) => write!(f, "saved registers are invalid: {why}"),
            Self::Wq { wq, why } => write!(f, "saved WQ {wq} is invalid: {why}"),
            Self::WqTableSize => write!(f, "saved WQ table does not match the WQ count"),
        }
    }
}

/// Reads the sixteen words of the saved WQCFG entry at `at` of `b` into
/// `words`, in place; returns `None` (having read some) if they are not
/// all in `b`.
fn read_entry(words: &mut [u32; 16], b: &[u8], at: usize) -> Option<()> {
    // Indexes, not zipped chunk iterators: the kernel's objtool trips over
    // the code those generate.
    let mut at = at;
    for word in words.iter_mut() {
        *word = le::u32_at(b, at)?;
        at = at.saturating_add(4);
    }
    Some(())
}

impl Regs {
    /// Writes the registers to a migration stream ([`SAVED_REGS_BYTES`]);
    /// returns `None`, having written what fits, if `out` is shorter.
    fn save(&self, out: &mut [u8]) -> Option<()> {
        put32(out, GENCFG_AT, self.gencfg.into_raw())?;
        put32(out, GENCTRL_AT, self.genctrl.into_raw())?;
        put32(out, ENABLED_AT, u32::from(self.enabled))?;
        put32(out, INTCAUSE_AT, self.intcause)?;
        put32(out, CMD_AT, self.cmd.into_raw())?;
        put32(out, CMDSTS_AT, self.cmdsts.into_raw())?;
        // Offsets into a fixed layout of SAVED_REGS_BYTES: small constants.
        let mut at = SWERR_AT;
        for q in self.swerr.qwords() {
            put64(out, at, q)?;
            at = at.wrapping_add(8);
        }
        for p in self.msix_perm {
            put32(out, at, p)?;
            at = at.wrapping_add(4);
        }
        Some(())
    }

    /// Decodes saved registers, refusing values no sequence of accesses
    /// could have produced.
    fn load(b: &[u8]) -> Result<Self, StateError> {
        if b.len() != SAVED_REGS_BYTES {
            return Err(StateError::Registers("wrong size"));
        }
        let bad = StateError::Registers;
        // Fields of the SAVED_REGS_BYTES of `b`: never too short.
        let le32 = |at| le::u32_at(b, at).ok_or(bad("wrong size"));
        let genctrl = GenCtrl::from_raw(le32(GENCTRL_AT)?);
        if genctrl.without_reserved() != genctrl {
            return Err(bad("GENCTRL has reserved bits set"));
        }
        let enabled = match le32(ENABLED_AT)? {
            0 => false,
            1 => true,
            _ => return Err(bad("the enable state is neither 0 nor 1")),
        };
        let intcause = le32(INTCAUSE_AT)?;
        if intcause & !(INTC_ERR | INTC_CMD) != 0 {
            return Err(bad("INTCAUSE has causes this device never raises"));
        }
        // Offsets into a fixed layout of SAVED_REGS_BYTES: small constants.
        let mut at = SWERR_AT;
        let mut swerr = [0; 4];
        for q in swerr.iter_mut() {
            *q = le::u64_at(b, at).ok_or(bad("wrong size"))?;
            at = at.wrapping_add(8);
        }
        let mut msix_perm = [0; MAX_VECTORS as usize];
        for p in msix_perm.iter_mut() {
            *p = le32(at)?;
            at = at.wrapping_add(4);
        }
        Ok(Self {
            gencfg: GenCfg::from_raw(le32(GENCFG_AT)?),
            genctrl,
            enabled,
            intcause,
            cmd: Command::from_raw(le32(CMD_AT)?),
            cmdsts: CmdSts::from_raw(le32(CMDSTS_AT)?),
            swerr: SwErr::from_qwords(swerr),
            msix_perm,
        })
    }
}

impl PortalSlot {
    /// Writes this slot to a migration stream ([`SAVED_SLOT_BYTES`]);
    /// returns `None`, having written what fits, if `out` is shorter.
    fn save(&self, out: &mut [u8]) -> Option<()> {
        put32(out, SLOT_MASK_AT, self.mask)?;
        put32(out, SLOT_OFFSET_AT, self.offset)?;
        le::put_bytes(out, SLOT_BYTES_AT, self.bytes)
    }

    /// Decodes a saved slot as it is into `self`, or returns `None`,
    /// changing nothing, if `b` is too short.
    fn decode_in_place(&mut self, b: &[u8]) -> Option<()> {
        let mask = le::u32_at(b, SLOT_MASK_AT)?;
        let offset = le::u32_at(b, SLOT_OFFSET_AT)?;
        self.bytes = *b.get(SLOT_BYTES_AT..)?.first_chunk::<DESC_SIZE>()?;
        self.mask = mask;
        self.offset = offset;
        Some(())
    }

    /// Checks a saved slot, in place: refuses one the device could not
    /// hold.
    fn check_saved(b: &[u8]) -> Result<(), &'static str> {
        const TRUNCATED: &str = "a saved portal slot is truncated";
        let mask = le::u32_at(b, SLOT_MASK_AT).ok_or(TRUNCATED)?;
        let offset = le::u32_at(b, SLOT_OFFSET_AT).ok_or(TRUNCATED)?;
        let bytes = b
            .get(SLOT_BYTES_AT..)
            .and_then(|b| b.get(..DESC_SIZE))
            .ok_or(TRUNCATED)?;
        if mask & !SLOT_FULL != 0 {
            return Err("a pending portal slot has words beyond 64 bytes");
        }
        if mask == SLOT_FULL {
            return Err("a pending portal slot is complete (it would have been submitted)");
        }
        if u64::from(offset) >= WQ_PORTAL_SPAN || u64::from(offset) & DESC_ALIGN_MASK != 0 {
            return Err("a pending portal slot is not at a slot of the WQ's portals");
        }
        if mask == 0 && offset != 0 {
            return Err("no portal slot is pending, but it has an offset");
        }
        for (w, word) in bytes.chunks_exact(4).enumerate() {
            if mask & (1 << w) == 0 && word != [0; 4] {
                return Err("a pending portal slot has bytes in words not written");
            }
        }
        Ok(())
    }
}

impl<W: WqTable> Dsa<W> {
    /// Writes the register state a migration stream carries
    /// ([`SAVED_REGS_BYTES`]) to `regs`, the WQ table (64 bytes per WQ) to
    /// `wqcfg` and the WQs' pending portal slots ([`SAVED_SLOT_BYTES`] per
    /// WQ) to `slots`. Buffers shorter than that are written up to the
    /// first field that does not fit.
    pub fn save(&self, regs: &mut [u8], wqcfg: &mut [u8], slots: &mut [u8]) {
        // What did not fit is dropped: there is nothing to report it to.
        let _ = self.regs.save(regs);
        let _ = self.save_wqs(wqcfg, slots);
    }

    /// Writes the WQ table and the pending portal slots of [`Dsa::save`];
    /// returns `None` at the first field that does not fit.
    fn save_wqs(&self, wqcfg: &mut [u8], slots: &mut [u8]) -> Option<()> {
        // Indexes, not zipped chunk iterators: the kernel's objtool trips
        // over the code those generate.
        let mut at = 0usize;
        let mut slot_at = 0usize;
        for wq in self.wqs.iter() {
            for &w in wq.words.iter() {
                put32(wqcfg, at, w)?;
                at = at.saturating_add(4);
            }
            wq.slot.save(slots.get_mut(slot_at..)?)?;
            slot_at = slot_at.saturating_add(SAVED_SLOT_BYTES);
        }
        Some(())
    }

    /// Checks a saved state (as [`Dsa::save`] writes it) against this
    /// device: a state the device could have reached through its
    /// registers, with one WQCFG entry and, if `slots` is there (streams
    /// before version 1.1 have none), one saved portal slot per WQ.
    /// Returns the decoded registers.
    fn check_saved(
        &self,
        regs: &[u8],
        wqcfg: &[u8],
        slots: Option<&[u8]>,
    ) -> Result<Regs, StateError> {
        let regs = Regs::load(regs)?;
        let n = self.wqs.len() as u64;
        if Some(wqcfg.len() as u64) != n.checked_mul(WQCFG_BYTES) {
            return Err(StateError::WqTableSize);
        }
        if let Some(slots) = slots {
            if Some(slots.len() as u64) != n.checked_mul(SAVED_SLOT_BYTES as u64) {
                return Err(StateError::WqTableSize);
            }
            for (i, b) in slots.chunks_exact(SAVED_SLOT_BYTES).enumerate() {
                PortalSlot::check_saved(b).map_err(|why| StateError::Wq { wq: i as u32, why })?;
            }
        }
        let reset = WqCfg::reset();
        // One entry, its words read in place for each saved one in turn: a
        // WqCfg is copied by memcpy, which costs by the byte under
        // emulation.
        let mut wq = reset;
        let mut total = 0u64;
        for (i, entry) in wqcfg.chunks_exact(WQCFG_BYTES as usize).enumerate() {
            let bad = |why| StateError::Wq { wq: i as u32, why };
            // A whole entry: the words are all there.
            read_entry(&mut wq.words, entry, 0).ok_or(StateError::WqTableSize)?;
            match wq.check_saved(&reset).map_err(bad)? {
                WqState::Disabled => {}
                WqState::Enabled => {
                    if !regs.enabled {
                        return Err(bad("enabled while the device is disabled"));
                    }
                    // The checks of IDXD_CMD_ENABLE_WQ on the enabled
                    // device, for the WQ while it was still disabled
                    // (they do not look at its state).
                    if wq.config_status() != CMDSTS_SUCCESS {
                        return Err(bad(
                            "enabled with a configuration IDXD_CMD_ENABLE_WQ refuses",
                        ));
                    }
                }
            }
            total = total.saturating_add(u64::from(wq.size()));
        }
        if regs.enabled && total > self.wqcap().total_wq_size() {
            return Err(StateError::Registers(
                "enabled with more WQ entries than the device has",
            ));
        }
        Ok(regs)
    }

    /// Checks a saved state as [`Dsa::load`] would, loading nothing.
    #[cfg(not(MODULE))]
    pub fn verify(
        &self,
        regs: &[u8],
        wqcfg: &[u8],
        slots: Option<&[u8]>,
    ) -> Result<(), StateError> {
        self.check_saved(regs, wqcfg, slots).map(|_| ())
    }

    /// Loads a saved state: all of it, or nothing if it does not pass
    /// [`Dsa::verify`]. Without `slots` no portal slot is pending.
    pub fn load(
        &mut self,
        regs: &[u8],
        wqcfg: &[u8],
        slots: Option<&[u8]>,
    ) -> Result<(), StateError> {
        let regs = self.check_saved(regs, wqcfg, slots)?;
        self.regs = regs;
        // Checked by `check_saved`: one valid entry and slot per WQ, so the
        // error and the empty slot below are never taken, and the slots
        // need no second check.
        let mut at = 0usize;
        let mut slot_at = 0usize;
        for wq in self.wqs.iter_mut() {
            read_entry(&mut wq.words, wqcfg, at).ok_or(StateError::WqTableSize)?;
            at = at.saturating_add(WQCFG_BYTES as usize);
            let saved = slots.and_then(|b| b.get(slot_at..)?.get(..SAVED_SLOT_BYTES));
            if saved.and_then(|b| wq.slot.decode_in_place(b)).is_none() {
                wq.slot = PortalSlot::EMPTY;
            }
            slot_at = slot_at.saturating_add(SAVED_SLOT_BYTES);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::{
        super::testing::*,
        *, //
    };
    use std::vec;

    #[test]
    fn the_saved_registers_are_where_the_stream_says() {
        // `stream.rs`: GENCFG at 256 of the body .. the MSI-X permission
        // table at 312, the WQ table at 568.
        assert_eq!(SAVED_REGS_BYTES, 568 - 256);
        assert_eq!(SAVED_SLOT_BYTES, 72);
        let mut d = dsa(1);
        w32(&mut d, GENCFG_OFFSET, 0x1234_5678);
        w32(&mut d, GENCTRL_OFFSET, GENCTRL_SOFTERR_INT_EN);
        configure_wq(&mut d, 0, 8);
        let e = w32(
            &mut d,
            CMD_OFFSET,
            CMD_ENABLE_DEVICE << CMD_SHIFT | CMD_INT_REQ,
        );
        assert_eq!(e.vectors, 1);
        let perm = table(&d, 2);
        w32(&mut d, perm + 8, 0xabcd);
        let mut regs = vec![0; SAVED_REGS_BYTES];
        let mut wqcfg = vec![0; WQCFG_BYTES as usize];
        let mut slots = vec![0; SAVED_SLOT_BYTES];
        d.save(&mut regs, &mut wqcfg, &mut slots);
        let at32 = |at: usize| u32::from_le_bytes(regs[at..at + 4].try_into().unwrap());
        assert_eq!(at32(0), 0x1234_5678);
        assert_eq!(at32(4), GENCTRL_SOFTERR_INT_EN);
        assert_eq!(at32(8), 1);
        assert_eq!(at32(12), INTC_CMD);
        assert_eq!(at32(16), CMD_ENABLE_DEVICE << CMD_SHIFT | CMD_INT_REQ);
        assert_eq!(at32(20), u32::from(CMDSTS_SUCCESS));
        assert_eq!(at32(56 + 4), 0xabcd, "vector 1's permission");
        assert_eq!(wqcfg[..4], 8u32.to_le_bytes());
        let mut t = dsa(1);
        t.load(&regs, &wqcfg, Some(&slots)).unwrap();
        for off in (0..d.layout().bar0_size).step_by(8) {
            assert_eq!(r64(&t, off), r64(&d, off), "{off:#x}");
        }
    }

    #[test]
    fn a_half_written_slot_migrates_and_bad_saved_slots_are_refused() {
        let (mut d, mut m, mut s, raw) = enabled_pair();
        for i in [0usize, 2, 5] {
            d.portal_submit(4 * 4096 + 4096 + 64 + i as u64 * 8, &raw[1][i * 8..][..8])
                .unwrap();
        }
        let n = d.wqs().len();
        let mut regs = vec![0; SAVED_REGS_BYTES];
        let mut wqcfg = vec![0; n * WQCFG_BYTES as usize];
        let mut slots = vec![0; n * SAVED_SLOT_BYTES];
        d.save(&mut regs, &mut wqcfg, &mut slots);
        let mut t = dsa(2);
        t.load(&regs, &wqcfg, Some(&slots)).unwrap();
        assert_eq!(t.wqs(), d.wqs());
        // The target completes the slot: the descriptor runs there.
        for i in [1usize, 3, 4, 6, 7] {
            t.portal_write(
                4 * 4096 + 4096 + 64 + i as u64 * 8,
                &raw[1][i * 8..][..8],
                &mut m,
                &mut s,
            )
            .unwrap();
        }
        assert!(ran(&m, 1));
        // Without slots (a version 1.0 stream) none is pending.
        t.load(&regs, &wqcfg, None).unwrap();
        assert_eq!(t.wqs()[1].slot, PortalSlot::EMPTY);
        // Slots no sequence of writes leaves.
        let at = SAVED_SLOT_BYTES; // WQ 1's
        type Spoil<'a> = &'a dyn Fn(&mut [u8]);
        let bad: [Spoil<'_>; 5] = [
            &|b| b[at..at + 4].copy_from_slice(&0xffffu32.to_le_bytes()),
            &|b| b[at..at + 4].copy_from_slice(&0x1_0001u32.to_le_bytes()),
            &|b| b[at + 4..at + 8].copy_from_slice(&(64 + 8u32).to_le_bytes()),
            &|b| b[at + 4..at + 8].copy_from_slice(&(4 * 4096u32).to_le_bytes()),
            // A byte in word 2, which was not written.
            &|b| b[at + 8 + 8 + 1] = 1,
        ];
        for (i, f) in bad.iter().enumerate() {
            let mut b = slots.clone();
            f(&mut b);
            let before = t.wqs().to_vec();
            assert!(
                matches!(
                    t.load(&regs, &wqcfg, Some(&b)),
                    Err(StateError::Wq { wq: 1, .. })
                ),
                "bad slot {i}"
            );
            assert_eq!(t.wqs(), &before[..]);
        }
        // An empty slot with an offset, and a wrong size.
        let mut b = vec![0; n * SAVED_SLOT_BYTES];
        b[4] = 64;
        assert!(t.verify(&regs, &wqcfg, Some(&b)).is_err());
        assert_eq!(
            t.verify(&regs, &wqcfg, Some(&slots[1..])),
            Err(StateError::WqTableSize)
        );
    }
}
