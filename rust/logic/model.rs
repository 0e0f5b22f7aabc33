// SPDX-License-Identifier: GPL-2.0

//! The device model: BAR0 (the DSA registers, GRPCFG and WQCFG tables,
//! MSI-X table) and BAR2 (the portals) of one device with `n` WQs.
//!
//! The per-WQ configuration lives in storage the caller provides (`W`, a
//! slice of [`WqCfg`] by `DerefMut`), so the model allocates nothing.
//!
//! Deviations from DSA hardware, all documented in
//! `Documentation/dsa_mdev.rst`: one group with every WQ and one engine,
//! fixed (GRPCFG reads back that configuration and ignores writes);
//! dedicated WQs only; no PASID, no block-on-fault, no interrupt handles
//! (`int_handle` is the MSI-X vector); every portal of a WQ behaves the
//! same; commands complete before the CMD write returns; portals also take
//! a descriptor in naturally aligned 4- and 8-byte pieces ([`PortalSlot`]).

use crate::logic::{
    desc::{
        Descriptor,
        DESC_ALIGN_MASK,
        DESC_SIZE, //
    },
    engine::{
        self,
        Memory,
        Outcome,
        SwError,
        WqLimits, //
    },
    idxd::*,
    pci::MsixLayout,
};
use core::ops::DerefMut;

/// `max_xfer_shift` of GENCAP: transfers up to 2 MiB (the idxd driver's
/// default WQ `max_transfer_size`).
pub const MAX_XFER_SHIFT: u32 = 21;
/// `max_batch_shift` of GENCAP: batches up to 512 descriptors, so that a
/// batch moves at most 1 GiB (512 of [`MAX_XFER_SHIFT`]), the bound on the
/// work of one portal write.
pub const MAX_BATCH_SHIFT: u32 = 9;
/// WQ entries per WQ in `total_wq_size`.
pub const WQ_ENTRIES_PER_WQ: u32 = 8;
/// The most MSI-X vectors a device has: vector 0 for the device (errors,
/// commands), the others for completions.
pub const MAX_VECTORS: u16 = 64;
/// `wqcfg_size` of WQCAP: 64-byte WQCFG entries.
const WQCFG_SIZE_FIELD: u32 = 1;
/// log2 of the size of a WQCFG entry.
const WQCFG_SHIFT: u32 = WQCFG_SIZE_FIELD + WQCFG_MIN;
/// The size of a WQCFG entry.
pub const WQCFG_BYTES: u64 = 1 << WQCFG_SHIFT;

/// Where GRPCFG is (`offsets_reg.grpcfg` units of [`TABLE_MULT`]).
const GRPCFG_TABLE: u64 = 0x400;
/// Where the MSI-X permission table is.
const MSIX_PERM_TABLE: u64 = 0x600;
/// Where WQCFG is.
const WQCFG_TABLE: u64 = 0x1000;
/// Where the MSI-X permission table ends.
const MSIX_PERM_END: u64 = MSIX_PERM_TABLE + 8 * MAX_VECTORS as u64;

/// The 4-byte words of a portal slot ([`DESC_SIZE`] bytes).
const SLOT_WORDS: u32 = (DESC_SIZE / 4) as u32;
/// [`PortalSlot::mask`] of a complete slot.
const SLOT_FULL: u32 = (1 << SLOT_WORDS) - 1;
/// The bytes of portal space of one WQ: its [`PORTALS_PER_WQ`] pages.
const WQ_PORTAL_SPAN: u64 = PORTALS_PER_WQ * PORTAL_SIZE;
/// The size of a saved [`PortalSlot`] in a migration stream: `mask`,
/// `offset` (a `u32` each), then the 64 bytes.
pub const SAVED_SLOT_BYTES: usize = 8 + DESC_SIZE;

/// A 64-byte portal slot a WQ is receiving in pieces.
///
/// Hardware takes a descriptor only as one 64-byte store (MOVDIR64B or
/// ENQCMD). A VFIO user such as QEMU forwards a guest's store to a BAR it
/// cannot map in pieces of at most 8 bytes, so the device also assembles a
/// descriptor from naturally aligned 4- and 8-byte writes: they may come in
/// any order, a word written again takes the last value, and the
/// descriptor is submitted by the write that completes the slot. A WQ
/// assembles one slot at a time: a write to another slot of the WQ (a
/// piece or a whole descriptor) abandons it, and so do disabling or
/// resetting the WQ or the device. A migration stream carries it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PortalSlot {
    /// One bit per 4-byte word written so far; 0 when no slot is pending.
    pub mask: u32,
    /// Where the slot is in the WQ's portal pages (a multiple of 64 below
    /// 16 KiB); 0 when no slot is pending.
    pub offset: u32,
    /// The bytes written so far; the others are 0.
    pub bytes: [u8; DESC_SIZE],
}

impl PortalSlot {
    /// No slot pending.
    pub const EMPTY: Self = Self {
        mask: 0,
        offset: 0,
        bytes: [0; DESC_SIZE],
    };

    /// Returns how many bytes of the slot were written.
    pub fn written(&self) -> u32 {
        self.mask.count_ones().saturating_mul(4)
    }

    /// Writes this slot to a migration stream ([`SAVED_SLOT_BYTES`]).
    fn save(&self, out: &mut [u8]) {
        put32(out, 0, self.mask);
        put32(out, 4, self.offset);
        out[8..][..DESC_SIZE].copy_from_slice(&self.bytes);
    }

    /// Decodes a saved slot, refusing one the device could not hold.
    fn load(b: &[u8]) -> Result<Self, &'static str> {
        let mut slot = Self {
            mask: le32(b, 0),
            offset: le32(b, 4),
            bytes: [0; DESC_SIZE],
        };
        slot.bytes.copy_from_slice(&b[8..][..DESC_SIZE]);
        if slot.mask & !SLOT_FULL != 0 {
            return Err("a pending portal slot has words beyond 64 bytes");
        }
        if slot.mask == SLOT_FULL {
            return Err("a pending portal slot is complete (it would have been submitted)");
        }
        if u64::from(slot.offset) >= WQ_PORTAL_SPAN || u64::from(slot.offset) & DESC_ALIGN_MASK != 0
        {
            return Err("a pending portal slot is not at a slot of the WQ's portals");
        }
        if slot.mask == 0 && slot.offset != 0 {
            return Err("no portal slot is pending, but it has an offset");
        }
        for w in 0..SLOT_WORDS {
            let at = (w as usize).wrapping_mul(4);
            if slot.mask & (1 << w) == 0 && slot.bytes[at..][..4] != [0; 4] {
                return Err("a pending portal slot has bytes in words not written");
            }
        }
        Ok(slot)
    }
}

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
        let mut words = [0; 16];
        words[6] = WQCFG_MODE_SUPPORT;
        let opcap = engine::opcap();
        for (w, q) in [
            (8, opcap[0]),
            (10, opcap[1]),
            (12, opcap[2]),
            (14, opcap[3]),
        ] {
            words[w] = q as u32;
            words[w | 1] = (q >> 32) as u32;
        }
        Self {
            words,
            slot: PortalSlot::EMPTY,
        }
    }

    /// Returns whether the WQ is enabled.
    pub fn enabled(&self) -> bool {
        self.words[6] >> WQCFG_STATE_SHIFT == 1
    }

    /// Enables or disables the WQ; disabling abandons a pending slot.
    fn set_enabled(&mut self, on: bool) {
        self.words[6] &= !(3 << WQCFG_STATE_SHIFT);
        if on {
            self.words[6] |= 1 << WQCFG_STATE_SHIFT;
        } else {
            self.slot = PortalSlot::EMPTY;
        }
    }

    /// `wq_size`.
    pub fn size(&self) -> u32 {
        self.words[0] & 0xffff
    }

    fn max_xfer_shift(&self) -> u32 {
        self.words[3] & 0x1f
    }

    fn max_batch_shift(&self) -> u32 {
        (self.words[3] >> WQCFG_MAX_BATCH_SHIFT) & 0xf
    }

    fn op_config(&self) -> [u64; 4] {
        let w = &self.words;
        let q = |lo: usize| u64::from(w[lo]) | u64::from(w[lo | 1]) << 32;
        [q(8), q(10), q(12), q(14)]
    }
}

/// Where things are in the BARs of a device with `wqs` WQs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    /// Number of WQs.
    pub wqs: u32,
    /// MSI-X vectors and where their table is.
    pub msix: MsixLayout,
    /// BAR0 size (a power of two).
    pub bar0_size: u64,
    /// BAR2 size (a power of two): four portal pages per WQ.
    pub bar2_size: u64,
}

impl Layout {
    /// The layout for `wqs` WQs (at least 1).
    pub fn new(wqs: u32) -> Self {
        // At most 4096 WQs (the `wqs` parameter): nothing here comes near
        // an overflow; saturating keeps it so for any input.
        let wqs = wqs.max(1);
        let vectors = (wqs.min(u32::from(MAX_VECTORS - 1)) as u16).saturating_add(1);
        let wqcfg_end = WQCFG_TABLE.saturating_add(u64::from(wqs).saturating_mul(WQCFG_BYTES));
        let table = wqcfg_end.next_multiple_of(0x1000);
        let pba = table.saturating_add(0x800);
        let bar0_size = table.saturating_add(0x1000).next_power_of_two();
        let bar2_size = u64::from(wqs)
            .saturating_mul(PORTALS_PER_WQ * PORTAL_SIZE)
            .next_power_of_two();
        Self {
            wqs,
            msix: MsixLayout {
                vectors,
                table: table as u32,
                pba: pba as u32,
            },
            bar0_size,
            bar2_size,
        }
    }
}

/// A BAR access the device does not support; nothing changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccessError {
    /// Outside the BAR.
    OutOfRange,
    /// Not naturally aligned, or of a size the region does not take
    /// (registers: 1, 2, 4 or 8 bytes to read, 4 or 8 to write; portals:
    /// 4, 8 or 64 bytes to write).
    BadAccess,
}

/// What an access caused: interrupts to deliver, and a portal slot it
/// abandoned.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Effects {
    /// MSI-X vectors to signal, one bit per vector.
    pub vectors: u64,
    /// A portal write abandoned the slot a WQ was receiving in pieces.
    pub abandoned: Option<Abandoned>,
}

/// A portal slot abandoned half-written (see [`PortalSlot`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Abandoned {
    /// The WQ.
    pub wq: u32,
    /// Where the slot was in the WQ's portal pages.
    pub offset: u32,
    /// How many of its 64 bytes had been written.
    pub written: u32,
}

/// The registers' state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Regs {
    gencfg: u32,
    genctrl: u32,
    enabled: bool,
    intcause: u32,
    cmd: u32,
    cmdsts: u32,
    swerr: [u64; 4],
    msix_perm: [u32; MAX_VECTORS as usize],
}

impl Regs {
    const RESET: Self = Self {
        gencfg: 0,
        genctrl: 0,
        enabled: false,
        intcause: 0,
        cmd: 0,
        cmdsts: 0,
        swerr: [0; 4],
        msix_perm: [0; MAX_VECTORS as usize],
    };
}

/// The size of the register state a migration stream carries: GENCFG,
/// GENCTRL, the enable state, INTCAUSE, CMD and CMDSTS (a `u32` each), the
/// four SWERR quadwords and the MSI-X permission table (a `u32` per vector).
pub const SAVED_REGS_BYTES: usize = 6 * 4 + 4 * 8 + 4 * MAX_VECTORS as usize;

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

/// The little-endian `u32` at `at` of `b`.
fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..][..4].try_into().unwrap_or([0; 4]))
}

/// The little-endian `u64` at `at` of `b`.
fn le64(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..][..8].try_into().unwrap_or([0; 8]))
}

/// Writes `v` little-endian at `at` of `out`.
fn put32(out: &mut [u8], at: usize, v: u32) {
    out[at..][..4].copy_from_slice(&v.to_le_bytes());
}

/// Writes `v` little-endian at `at` of `out`.
fn put64(out: &mut [u8], at: usize, v: u64) {
    out[at..][..8].copy_from_slice(&v.to_le_bytes());
}

impl Regs {
    fn save(&self, out: &mut [u8]) {
        let words = [
            self.gencfg,
            self.genctrl,
            u32::from(self.enabled),
            self.intcause,
            self.cmd,
            self.cmdsts,
        ];
        // Offsets into a fixed layout of SAVED_REGS_BYTES: small constants.
        let mut at = 0usize;
        for w in words {
            put32(out, at, w);
            at = at.wrapping_add(4);
        }
        for q in self.swerr {
            put64(out, at, q);
            at = at.wrapping_add(8);
        }
        for p in self.msix_perm {
            put32(out, at, p);
            at = at.wrapping_add(4);
        }
    }

    /// Decodes saved registers, refusing values no sequence of accesses
    /// could have produced.
    fn load(b: &[u8]) -> Result<Self, StateError> {
        if b.len() != SAVED_REGS_BYTES {
            return Err(StateError::Registers("wrong size"));
        }
        let bad = StateError::Registers;
        let genctrl = le32(b, 4);
        if genctrl & !0x7 != 0 {
            return Err(bad("GENCTRL has reserved bits set"));
        }
        let enabled = match le32(b, 8) {
            0 => false,
            1 => true,
            _ => return Err(bad("the enable state is neither 0 nor 1")),
        };
        let intcause = le32(b, 12);
        if intcause & !(INTC_ERR | INTC_CMD) != 0 {
            return Err(bad("INTCAUSE has causes this device never raises"));
        }
        // Offsets into a fixed layout of SAVED_REGS_BYTES: small constants.
        let mut at = 24usize;
        let mut swerr = [0; 4];
        for q in swerr.iter_mut() {
            *q = le64(b, at);
            at = at.wrapping_add(8);
        }
        let mut msix_perm = [0; MAX_VECTORS as usize];
        for p in msix_perm.iter_mut() {
            *p = le32(b, at);
            at = at.wrapping_add(4);
        }
        Ok(Self {
            gencfg: le32(b, 0),
            genctrl,
            enabled,
            intcause,
            cmd: le32(b, 16),
            cmdsts: le32(b, 20),
            swerr,
            msix_perm,
        })
    }
}

/// The device model.
pub struct Dsa<W: DerefMut<Target = [WqCfg]>> {
    layout: Layout,
    regs: Regs,
    wqs: W,
}

impl<W: DerefMut<Target = [WqCfg]>> Dsa<W> {
    /// A device in its post-reset state, with one WQ per entry of `wqs`
    /// (which it resets).
    pub fn new(mut wqs: W) -> Self {
        for wq in wqs.iter_mut() {
            *wq = WqCfg::reset();
        }
        let layout = Layout::new(wqs.len() as u32);
        Self {
            layout,
            regs: Regs::RESET,
            wqs,
        }
    }

    /// Returns the layout.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// Returns the WQ configurations.
    pub fn wqs(&self) -> &[WqCfg] {
        &self.wqs
    }

    /// Returns whether the device is enabled.
    pub fn enabled(&self) -> bool {
        self.regs.enabled
    }

    /// Returns to the state after reset (as `IDXD_CMD_RESET_DEVICE` and a
    /// function-level reset do).
    pub fn reset(&mut self) {
        self.regs = Regs::RESET;
        for wq in self.wqs.iter_mut() {
            *wq = WqCfg::reset();
        }
    }

    /// Writes the register state a migration stream carries
    /// ([`SAVED_REGS_BYTES`]) to `regs`, the WQ table (64 bytes per WQ) to
    /// `wqcfg` and the WQs' pending portal slots ([`SAVED_SLOT_BYTES`] per
    /// WQ) to `slots`.
    pub fn save(&self, regs: &mut [u8], wqcfg: &mut [u8], slots: &mut [u8]) {
        self.regs.save(regs);
        // Indexes, not zipped chunk iterators: the kernel's objtool trips
        // over the code those generate.
        let mut at = 0usize;
        let mut slot_at = 0usize;
        for wq in self.wqs.iter() {
            for &w in wq.words.iter() {
                put32(wqcfg, at, w);
                at = at.saturating_add(4);
            }
            wq.slot.save(&mut slots[slot_at..][..SAVED_SLOT_BYTES]);
            slot_at = slot_at.saturating_add(SAVED_SLOT_BYTES);
        }
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
                PortalSlot::load(b).map_err(|why| StateError::Wq { wq: i as u32, why })?;
            }
        }
        let reset = WqCfg::reset();
        let mut total = 0u64;
        for (i, entry) in wqcfg.chunks_exact(WQCFG_BYTES as usize).enumerate() {
            let bad = |why| StateError::Wq { wq: i as u32, why };
            let mut wq = WqCfg::reset();
            // Indexes, not zipped chunk iterators: objtool trips over the
            // code those generate.
            let mut at = 0usize;
            for word in wq.words.iter_mut() {
                *word = le32(entry, at);
                at = at.wrapping_add(4);
            }
            if wq.words[0] & !0xffff != 0 {
                return Err(bad("wq_size has reserved bits set"));
            }
            if [4, 5, 7].iter().any(|&w| wq.words[w] != reset.words[w]) {
                return Err(bad("read-only fields differ from this device's"));
            }
            if wq.words[6] & !(3 << WQCFG_STATE_SHIFT) != reset.words[6] {
                return Err(bad("mode support bits differ from this device's"));
            }
            match wq.words[6] >> WQCFG_STATE_SHIFT {
                0 => {}
                1 => {
                    if !regs.enabled {
                        return Err(bad("enabled while the device is disabled"));
                    }
                    // The checks of IDXD_CMD_ENABLE_WQ, against a model
                    // where the WQ is still disabled.
                    let mut one = [WqCfg::reset()];
                    let mut probe = Dsa::new(&mut one[..]);
                    probe.regs.enabled = true;
                    probe.wqs[0] = wq;
                    probe.wqs[0].set_enabled(false);
                    if probe.enable_wq(0) != CMDSTS_SUCCESS {
                        return Err(bad(
                            "enabled with a configuration IDXD_CMD_ENABLE_WQ refuses",
                        ));
                    }
                }
                _ => return Err(bad("the WQ state is neither disabled nor enabled")),
            }
            total = total.saturating_add(u64::from(wq.size()));
        }
        if regs.enabled && total > self.wqcap() & 0xffff {
            return Err(StateError::Registers(
                "enabled with more WQ entries than the device has",
            ));
        }
        Ok(regs)
    }

    /// Checks a saved state as [`Dsa::load`] would, loading nothing.
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
        let mut at = 0usize;
        let mut slot_at = 0usize;
        for wq in self.wqs.iter_mut() {
            for word in wq.words.iter_mut() {
                *word = le32(wqcfg, at);
                at = at.saturating_add(4);
            }
            wq.slot = match slots {
                // Checked by `check_saved`.
                Some(b) => {
                    PortalSlot::load(&b[slot_at..][..SAVED_SLOT_BYTES]).unwrap_or(PortalSlot::EMPTY)
                }
                None => PortalSlot::EMPTY,
            };
            slot_at = slot_at.saturating_add(SAVED_SLOT_BYTES);
        }
        Ok(())
    }

    fn gencap(&self) -> u64 {
        GENCAP_OVERLAP_COPY
            | GENCAP_CMD_CAP
            | u64::from(MAX_XFER_SHIFT) << GENCAP_MAX_XFER_SHIFT
            | u64::from(MAX_BATCH_SHIFT) << GENCAP_MAX_BATCH_SHIFT
            | GENCAP_CONFIG_EN
    }

    /// Where the WQCFG table ends: one entry per WQ.
    fn wqcfg_end(&self) -> u64 {
        WQCFG_TABLE.saturating_add(u64::from(self.layout.wqs).saturating_mul(WQCFG_BYTES))
    }

    fn wqcap(&self) -> u64 {
        let n = self.layout.wqs;
        let total = n.saturating_mul(WQ_ENTRIES_PER_WQ).min(0xffff);
        // `num_wqs` has 8 bits: a device with more WQs shows 255 there and
        // its full count in bits 36-47 (reserved in the hardware).
        u64::from(total)
            | u64::from(n.min(255)) << WQCAP_NUM_WQS_SHIFT
            | u64::from(WQCFG_SIZE_FIELD) << WQCAP_WQCFG_SIZE_SHIFT
            | u64::from(n) << 36
            | WQCAP_DEDICATED_MODE
            | WQCAP_PRIORITY
            | WQCAP_OP_CONFIG
    }

    /// `CMDCAP`: the commands implemented, one bit per command.
    fn cmdcap(&self) -> u64 {
        [
            CMD_ENABLE_DEVICE,
            CMD_DISABLE_DEVICE,
            CMD_DRAIN_ALL,
            CMD_ABORT_ALL,
            CMD_RESET_DEVICE,
            CMD_ENABLE_WQ,
            CMD_DISABLE_WQ,
            CMD_DRAIN_WQ,
            CMD_ABORT_WQ,
            CMD_RESET_WQ,
        ]
        .iter()
        .fold(0, |bits, &c| bits | 1 << c)
    }

    /// The 64-bit register (or table quadword) at the 8-aligned `offset`.
    fn qword(&self, offset: u64) -> u64 {
        let opcap = engine::opcap();
        let wqs = self.layout.wqs;
        match offset {
            VER_OFFSET => u64::from(DEVICE_VERSION_1),
            GENCAP_OFFSET => self.gencap(),
            WQCAP_OFFSET => self.wqcap(),
            // One group, total read buffers 0.
            GRPCAP_OFFSET => 1,
            // One engine.
            ENGCAP_OFFSET => 1,
            o if (OPCAP_OFFSET..OPCAP_OFFSET + 32).contains(&o) => {
                opcap[(o.wrapping_sub(OPCAP_OFFSET) >> 3) as usize]
            }
            TABLE_OFFSET => {
                (GRPCFG_TABLE / TABLE_MULT)
                    | ((WQCFG_TABLE / TABLE_MULT) << 16)
                    | ((MSIX_PERM_TABLE / TABLE_MULT) << 32)
            }
            GENCFG_OFFSET => u64::from(self.regs.gencfg),
            GENCTRL_OFFSET => u64::from(self.regs.genctrl),
            GENSTS_OFFSET => u64::from(if self.regs.enabled {
                DEVICE_STATE_ENABLED
            } else {
                DEVICE_STATE_DISABLED
            }),
            INTCAUSE_OFFSET => u64::from(self.regs.intcause),
            CMD_OFFSET => u64::from(self.regs.cmd),
            CMDSTS_OFFSET => u64::from(self.regs.cmdsts),
            CMDCAP_OFFSET => self.cmdcap(),
            o if (SWERR_OFFSET..SWERR_OFFSET + 32).contains(&o) => {
                self.regs.swerr[(o.wrapping_sub(SWERR_OFFSET) >> 3) as usize]
            }
            o if (GRPCFG_TABLE..GRPCFG_TABLE + GRPCFG_SIZE).contains(&o) => {
                match o.wrapping_sub(GRPCFG_TABLE) >> 3 {
                    // GRPWQCFG: every WQ (the first 256) in group 0.
                    q @ 0..=3 => {
                        let first = (q << 6) as u32;
                        match wqs.saturating_sub(first) {
                            0 => 0,
                            n if n >= 64 => !0,
                            n => (1u64 << n).wrapping_sub(1),
                        }
                    }
                    // GRPENGCFG: engine 0.
                    4 => 1,
                    _ => 0,
                }
            }
            o if (MSIX_PERM_TABLE..MSIX_PERM_END).contains(&o) => {
                let i = (o.wrapping_sub(MSIX_PERM_TABLE) >> 3) as usize;
                u64::from(self.regs.msix_perm[i])
            }
            o if (WQCFG_TABLE..self.wqcfg_end()).contains(&o) => {
                let rel = o.wrapping_sub(WQCFG_TABLE);
                let wq = &self.wqs[(rel >> WQCFG_SHIFT) as usize];
                // 8-aligned: an even word.
                let w = ((rel & (WQCFG_BYTES - 1)) >> 2) as usize;
                u64::from(wq.words[w]) | u64::from(wq.words[w | 1]) << 32
            }
            // The MSI-X table and PBA read as zero: VFIO users (QEMU)
            // emulate them and program vectors with VFIO_DEVICE_SET_IRQS.
            _ => 0,
        }
    }

    /// Reads BAR0: 1, 2, 4 or 8 bytes, naturally aligned.
    pub fn bar0_read(&self, offset: u64, buf: &mut [u8]) -> Result<(), AccessError> {
        let len = buf.len() as u64;
        if offset
            .checked_add(len)
            .is_none_or(|end| end > self.layout.bar0_size)
        {
            return Err(AccessError::OutOfRange);
        }
        if !matches!(len, 1 | 2 | 4 | 8) || offset & len.wrapping_sub(1) != 0 {
            return Err(AccessError::BadAccess);
        }
        let q = self.qword(offset & !7).to_le_bytes();
        let at = (offset % 8) as usize;
        buf.copy_from_slice(&q[at..][..buf.len()]);
        Ok(())
    }

    /// Writes BAR0: 4 or 8 bytes, naturally aligned (as the DSA registers
    /// require). Writes to read-only registers are dropped, as on hardware.
    pub fn bar0_write(
        &mut self,
        offset: u64,
        data: &[u8],
        bus_master: bool,
    ) -> Result<Effects, AccessError> {
        let len = data.len() as u64;
        if offset
            .checked_add(len)
            .is_none_or(|end| end > self.layout.bar0_size)
        {
            return Err(AccessError::OutOfRange);
        }
        if !matches!(len, 4 | 8) || offset & len.wrapping_sub(1) != 0 {
            return Err(AccessError::BadAccess);
        }
        let mut effects = Effects::default();
        // One or two dwords; the second of an 8-aligned offset is at +4.
        for (i, chunk) in data.chunks(4).enumerate() {
            let at = if i == 0 { offset } else { offset | 4 };
            self.write_dword(at, le32(chunk, 0), bus_master, &mut effects);
        }
        Ok(effects)
    }

    fn write_dword(&mut self, offset: u64, v: u32, bus_master: bool, effects: &mut Effects) {
        match offset {
            GENCFG_OFFSET if !self.regs.enabled => self.regs.gencfg = v,
            GENCTRL_OFFSET => self.regs.genctrl = v & 0x7,
            INTCAUSE_OFFSET => self.regs.intcause &= !v,
            CMD_OFFSET => self.command(v, bus_master, effects),
            SWERR_OFFSET => {
                // RW1C on valid and overflow; clearing valid clears the
                // record.
                let ack = u64::from(v) & SWERR_ACK;
                self.regs.swerr[0] &= !ack;
                if self.regs.swerr[0] & SWERR_VALID == 0 {
                    self.regs.swerr = [0; 4];
                }
            }
            o if (MSIX_PERM_TABLE..MSIX_PERM_END).contains(&o) && o & 7 == 0 => {
                self.regs.msix_perm[(o.wrapping_sub(MSIX_PERM_TABLE) >> 3) as usize] = v;
            }
            o if (WQCFG_TABLE..self.wqcfg_end()).contains(&o) => {
                let rel = o.wrapping_sub(WQCFG_TABLE);
                let device_enabled = self.regs.enabled;
                let wq = &mut self.wqs[(rel >> WQCFG_SHIFT) as usize];
                let w = ((rel & (WQCFG_BYTES - 1)) >> 2) as usize;
                match w {
                    // wq_size: only while the device is disabled.
                    0 if !device_enabled && !wq.enabled() => wq.words[0] = v & 0xffff,
                    // Threshold, mode/priority/PASID, limits, op_config:
                    // while the WQ is disabled.
                    1..=3 | 8..=15 if !wq.enabled() => wq.words[w] = v,
                    // Occupancy, state: read-only.
                    _ => {}
                }
            }
            _ => {}
        }
    }

    /// Executes a command written to CMD.
    fn command(&mut self, v: u32, bus_master: bool, effects: &mut Effects) {
        self.regs.cmd = v;
        let cmd = (v >> CMD_SHIFT) & 0x1f;
        let operand = v & CMD_OPERAND_MASK;
        let err = match cmd {
            CMD_ENABLE_DEVICE => self.enable_device(bus_master),
            CMD_DISABLE_DEVICE => {
                if self.regs.enabled {
                    self.regs.enabled = false;
                    for wq in self.wqs.iter_mut() {
                        wq.set_enabled(false);
                    }
                    CMDSTS_SUCCESS
                } else {
                    CMDSTS_ERR_DIS_DEV_EN
                }
            }
            // Descriptors complete synchronously: nothing is ever in flight.
            CMD_DRAIN_ALL | CMD_ABORT_ALL => CMDSTS_SUCCESS,
            CMD_RESET_DEVICE => {
                let cmd = self.regs.cmd;
                self.reset();
                self.regs.cmd = cmd;
                CMDSTS_SUCCESS
            }
            CMD_ENABLE_WQ => self.enable_wq(operand),
            CMD_DISABLE_WQ | CMD_DRAIN_WQ | CMD_ABORT_WQ | CMD_RESET_WQ => {
                self.wq_command(cmd, operand)
            }
            _ => CMDSTS_INVAL_CMD,
        };
        self.regs.cmdsts = u32::from(err);
        if v & CMD_INT_REQ != 0 {
            self.regs.intcause |= INTC_CMD;
            effects.vectors |= 1;
        }
    }

    fn enable_device(&mut self, bus_master: bool) -> u8 {
        if self.regs.enabled {
            return CMDSTS_ERR_DEV_ENABLED;
        }
        if !bus_master {
            return CMDSTS_ERR_BUSMASTER_EN;
        }
        let total: u64 = self.wqs.iter().map(|wq| u64::from(wq.size())).sum();
        if total > self.wqcap() & 0xffff {
            return CMDSTS_ERR_WQ_SIZE_ERANGE;
        }
        self.regs.enabled = true;
        CMDSTS_SUCCESS
    }

    fn enable_wq(&mut self, operand: u32) -> u8 {
        let Some(wq) = self.wqs.get(operand as usize).copied() else {
            return CMDSTS_INVAL_WQIDX;
        };
        if !self.regs.enabled {
            return CMDSTS_ERR_DEV_NOTEN;
        }
        let mode = wq.words[2];
        let err = if wq.enabled() {
            CMDSTS_ERR_WQ_ENABLED
        } else if wq.size() == 0 {
            CMDSTS_ERR_WQ_SIZE
        } else if (mode >> WQCFG_PRIORITY_SHIFT) & 0xf == 0 {
            CMDSTS_ERR_WQ_PRIOR
        } else if mode & WQCFG_MODE_DEDICATED == 0 {
            CMDSTS_ERR_WQ_MODE
        } else if mode & WQCFG_BOF != 0 {
            CMDSTS_ERR_BOF_EN
        } else if mode & WQCFG_PASID_EN != 0 {
            CMDSTS_ERR_PASID_EN
        } else if wq.max_xfer_shift() > MAX_XFER_SHIFT {
            CMDSTS_ERR_MAX_XFER_SIZE
        } else if wq.max_batch_shift() > MAX_BATCH_SHIFT {
            CMDSTS_ERR_MAX_BATCH_SIZE
        } else {
            CMDSTS_SUCCESS
        };
        if err == CMDSTS_SUCCESS {
            self.wqs[operand as usize].set_enabled(true);
        }
        err
    }

    /// Disable, drain, abort or reset the WQs of the operand: bits 15:0 a
    /// mask of 16 WQs, bits 19:16 which 16 (as the idxd driver encodes it).
    fn wq_command(&mut self, cmd: u32, operand: u32) -> u8 {
        let base = ((operand >> 16) & 0xf) << 4;
        let mask = operand & 0xffff;
        let n = self.wqs.len() as u32;
        if (0..16).any(|bit| mask & (1 << bit) != 0 && base.saturating_add(bit) >= n) {
            return CMDSTS_INVAL_WQIDX;
        }
        if !self.regs.enabled {
            return CMDSTS_ERR_DEV_NOT_EN;
        }
        for bit in (0..16).filter(|bit| mask & (1 << bit) != 0) {
            let wq = &mut self.wqs[base.saturating_add(bit) as usize];
            match cmd {
                CMD_DISABLE_WQ => wq.set_enabled(false),
                CMD_RESET_WQ => {
                    let size = wq.words[0];
                    *wq = WqCfg::reset();
                    wq.words[0] = size;
                }
                // Drain, abort: nothing in flight.
                _ => {}
            }
        }
        CMDSTS_SUCCESS
    }

    /// Records a software error for `wq`.
    fn sw_error(&mut self, wq: u32, e: &SwError, overflow: bool, effects: &mut Effects) {
        let swerr = &mut self.regs.swerr;
        if swerr[0] & SWERR_VALID != 0 {
            swerr[0] |= SWERR_OVERFLOW;
        } else {
            swerr[0] = SWERR_VALID
                | SWERR_DESC_VALID
                | SWERR_WQ_IDX_VALID
                | if e.batch { SWERR_BATCH } else { 0 }
                | if e.fault_write { SWERR_FAULT_RW } else { 0 }
                | u64::from(e.error) << SWERR_ERROR_SHIFT
                | u64::from(wq & 0xff) << SWERR_WQ_IDX_SHIFT
                | u64::from(e.operation) << SWERR_OPERATION_SHIFT
                | if overflow { SWERR_OVERFLOW } else { 0 };
            swerr[1] = u64::from(e.batch_idx) | u64::from(e.invalid_flags) << 32;
            swerr[2] = e.fault_addr;
            swerr[3] = 0;
        }
        self.regs.intcause |= INTC_ERR;
        if self.regs.genctrl & GENCTRL_SOFTERR_INT_EN != 0 {
            effects.vectors |= 1;
        }
    }

    /// Takes a write to BAR2: a 64-byte descriptor at a 64-byte offset of a
    /// portal page of WQ `offset / 16 KiB` submits it, and so does the
    /// naturally aligned 4- or 8-byte piece that completes a slot (see
    /// [`PortalSlot`]); other pieces are kept in the WQ's slot. Returns the
    /// descriptor to run, if the WQ takes it, and the effects of taking it
    /// (a descriptor for a disabled WQ is dropped and reported in SWERR, as
    /// hardware does). The caller runs the descriptor with
    /// [`engine::submit`], possibly without holding the model, and reports
    /// the outcome with [`Dsa::portal_complete`].
    pub fn portal_submit(
        &mut self,
        offset: u64,
        data: &[u8],
    ) -> Result<(Option<Submission>, Effects), AccessError> {
        let wq = offset / WQ_PORTAL_SPAN;
        if offset >= self.layout.bar2_size || wq >= u64::from(self.layout.wqs) {
            return Err(AccessError::OutOfRange);
        }
        let len = data.len() as u64;
        if !matches!(len, 4 | 8 | 64) || offset & len.wrapping_sub(1) != 0 {
            return Err(AccessError::BadAccess);
        }
        // Below the WQ count, a `u32`; the offsets below the span, 16 KiB.
        let wq = wq as u32;
        let within = (offset % WQ_PORTAL_SPAN) as u32;
        let slot_offset = within & !(DESC_ALIGN_MASK as u32);
        let mut effects = Effects::default();
        let pending = &mut self.wqs[wq as usize].slot;
        if pending.mask != 0 && (pending.offset != slot_offset || len == DESC_SIZE as u64) {
            effects.abandoned = Some(Abandoned {
                wq,
                offset: pending.offset,
                written: pending.written(),
            });
            *pending = PortalSlot::EMPTY;
        }
        let raw: [u8; DESC_SIZE] = match data.try_into() {
            Ok(whole) => whole,
            Err(_) => {
                // A naturally aligned piece: inside the slot.
                let at = (within & DESC_ALIGN_MASK as u32) as usize;
                pending.offset = slot_offset;
                pending.bytes[at..][..data.len()].copy_from_slice(data);
                let words = (1u32 << (len / 4)).wrapping_sub(1);
                pending.mask |= words << (at / 4);
                if pending.mask != SLOT_FULL {
                    return Ok((None, effects));
                }
                let whole = pending.bytes;
                *pending = PortalSlot::EMPTY;
                whole
            }
        };
        let desc = Descriptor::parse(&raw);
        let cfg = self.wqs[wq as usize];
        if !self.regs.enabled || !cfg.enabled() {
            // Dropped, as hardware drops it; reported in SWERR.
            let e = SwError {
                error: SWERR_WQ_NOT_ENABLED,
                operation: desc.opcode,
                ..SwError::default()
            };
            self.sw_error(wq, &e, false, &mut effects);
            return Ok((None, effects));
        }
        let limits = WqLimits {
            max_xfer: 1 << cfg.max_xfer_shift(),
            max_batch: 1 << cfg.max_batch_shift(),
            op_config: cfg.op_config(),
            vectors: self.layout.msix.vectors,
        };
        Ok((Some(Submission { wq, desc, limits }), effects))
    }

    /// Reports what running a [`Submission`] of WQ `wq` caused: its
    /// software error, if any, and its interrupts.
    pub fn portal_complete(&mut self, wq: u32, out: &Outcome) -> Effects {
        let mut effects = Effects {
            vectors: out.vectors,
            ..Effects::default()
        };
        if let Some(e) = out.sw_error {
            self.sw_error(wq, &e, out.sw_error_overflow, &mut effects);
        }
        effects
    }

    /// Writes BAR2 and runs what it submits against `mem` before
    /// returning: [`Dsa::portal_submit`], [`engine::submit`] and
    /// [`Dsa::portal_complete`] in one.
    pub fn portal_write<M: Memory>(
        &mut self,
        offset: u64,
        data: &[u8],
        mem: &mut M,
        scratch: &mut [u8],
    ) -> Result<Effects, AccessError> {
        let (sub, mut effects) = self.portal_submit(offset, data)?;
        if let Some(sub) = sub {
            let out = engine::submit(&sub.desc, &sub.limits, mem, scratch);
            effects.vectors |= self.portal_complete(sub.wq, &out).vectors;
        }
        Ok(effects)
    }

    /// What a command written to CMD needs from descriptors in flight
    /// before it may take effect, for a caller that runs them outside the
    /// model (see [`Dsa::portal_submit`]).
    pub fn command_quiesce(v: u32) -> Quiesce {
        match (v >> CMD_SHIFT) & 0x1f {
            CMD_ABORT_ALL | CMD_ABORT_WQ | CMD_RESET_DEVICE | CMD_RESET_WQ => Quiesce::Abort,
            CMD_DRAIN_ALL | CMD_DRAIN_WQ | CMD_DISABLE_WQ | CMD_DISABLE_DEVICE => Quiesce::Drain,
            _ => Quiesce::None,
        }
    }
}

/// A descriptor taken from a portal, to run (see [`Dsa::portal_submit`]).
#[derive(Clone, Copy, Debug)]
pub struct Submission {
    /// The WQ it was written to.
    pub wq: u32,
    /// The descriptor.
    pub desc: Descriptor,
    /// What the WQ allows, as configured when it was written.
    pub limits: WqLimits,
}

/// What a command needs from descriptors in flight.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Quiesce {
    /// Nothing.
    None,
    /// They complete first (drain and disable commands).
    Drain,
    /// They are abandoned first (abort and reset commands).
    Abort,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logic::{
        desc::CompletionRecord,
        engine::{
            testmem::TestMem,
            SCRATCH_MIN, //
        },
    };
    use std::vec;
    use std::vec::Vec;

    fn dsa(n: usize) -> Dsa<Vec<WqCfg>> {
        Dsa::new(vec![WqCfg::reset(); n])
    }

    fn r64(d: &Dsa<Vec<WqCfg>>, off: u64) -> u64 {
        let mut b = [0; 8];
        d.bar0_read(off, &mut b).unwrap();
        u64::from_le_bytes(b)
    }

    fn r32(d: &Dsa<Vec<WqCfg>>, off: u64) -> u32 {
        let mut b = [0; 4];
        d.bar0_read(off, &mut b).unwrap();
        u32::from_le_bytes(b)
    }

    fn w32(d: &mut Dsa<Vec<WqCfg>>, off: u64, v: u32) -> Effects {
        d.bar0_write(off, &v.to_le_bytes(), true).unwrap()
    }

    fn cmd(d: &mut Dsa<Vec<WqCfg>>, c: u32, operand: u32) -> u8 {
        w32(d, CMD_OFFSET, c << CMD_SHIFT | operand);
        r32(d, CMDSTS_OFFSET) as u8
    }

    fn table(d: &Dsa<Vec<WqCfg>>, which: u32) -> u64 {
        (r64(d, TABLE_OFFSET) >> (16 * which) & 0xffff) * TABLE_MULT
    }

    /// Configures WQ `i` the way the VFIO selftests' DSA driver does.
    fn configure_wq(d: &mut Dsa<Vec<WqCfg>>, i: u64, size: u32) {
        let base = table(d, 1) + i * WQCFG_BYTES;
        w32(d, base, size);
        w32(
            d,
            base + 8,
            WQCFG_MODE_DEDICATED | 1 << WQCFG_PRIORITY_SHIFT,
        );
        w32(
            d,
            base + 12,
            MAX_XFER_SHIFT | MAX_BATCH_SHIFT << WQCFG_MAX_BATCH_SHIFT,
        );
    }

    #[test]
    fn layout_grows_with_the_wqs() {
        for n in [1u32, 2, 30, 63, 64, 255, 256, 4096] {
            let l = Layout::new(n);
            assert!(l.bar0_size.is_power_of_two() && l.bar2_size.is_power_of_two());
            assert!(l.bar2_size >= u64::from(n) * 4 * 4096);
            assert!(u64::from(l.msix.table) >= WQCFG_TABLE + u64::from(n) * WQCFG_BYTES);
            assert!(u64::from(l.msix.pba) + 8 <= l.bar0_size);
            assert_eq!(l.msix.vectors, 1 + n.min(63) as u16);
        }
    }

    #[test]
    fn capabilities_show_exactly_the_device_wqs() {
        for n in [1usize, 30, 255, 256, 512] {
            let d = dsa(n);
            let wqcap = r64(&d, WQCAP_OFFSET);
            assert_eq!((wqcap >> WQCAP_NUM_WQS_SHIFT & 0xff) as usize, n.min(255));
            assert_eq!((wqcap >> 36 & 0xfff) as usize, n);
            assert_eq!(
                1 << ((wqcap >> WQCAP_WQCFG_SIZE_SHIFT & 0xf) + 5),
                WQCFG_BYTES
            );
            assert_eq!(wqcap & 0xffff, (n as u64 * 8).min(0xffff));
            // The WQCFG table ends with the device's last WQ.
            let last = table(&d, 1) + (n as u64 - 1) * WQCFG_BYTES;
            assert_eq!(r32(&d, last + 24), WQCFG_MODE_SUPPORT);
            assert_eq!(r32(&d, last + WQCFG_BYTES + 24), 0);
        }
        let d = dsa(1);
        assert_eq!(r32(&d, VER_OFFSET), DEVICE_VERSION_1);
        let gencap = r64(&d, GENCAP_OFFSET);
        assert_eq!(
            gencap >> GENCAP_MAX_XFER_SHIFT & 0x1f,
            u64::from(MAX_XFER_SHIFT)
        );
        assert_eq!(gencap & GENCAP_CMD_CAP, GENCAP_CMD_CAP);
        assert_eq!(
            r64(&d, OPCAP_OFFSET) & 0b1011,
            0b1011,
            "NOOP, BATCH, MEMMOVE"
        );
        assert_eq!(r64(&d, CMDCAP_OFFSET) >> 13 & 1, 0, "no interrupt handles");
        assert_eq!(r64(&d, table(&d, 0) + 32), 1, "engine 0 in group 0");
    }

    #[test]
    fn accesses_are_checked() {
        let mut d = dsa(1);
        let size = d.layout().bar0_size;
        let mut b3 = [0; 3];
        assert_eq!(d.bar0_read(0, &mut b3), Err(AccessError::BadAccess));
        assert_eq!(d.bar0_read(2, &mut [0; 4]), Err(AccessError::BadAccess));
        assert_eq!(
            d.bar0_read(size - 4, &mut [0; 8]),
            Err(AccessError::OutOfRange)
        );
        assert_eq!(
            d.bar0_read(u64::MAX - 2, &mut [0; 4]),
            Err(AccessError::OutOfRange)
        );
        assert_eq!(
            d.bar0_write(CMD_OFFSET, &[1, 2], true),
            Err(AccessError::BadAccess)
        );
        assert_eq!(
            d.bar0_write(CMD_OFFSET + 2, &[0; 4], true),
            Err(AccessError::BadAccess)
        );
        let mut m = TestMem::new(0x1000, 0x1000);
        let mut s = vec![0; SCRATCH_MIN];
        assert_eq!(
            d.portal_write(0, &[0; 32], &mut m, &mut s),
            Err(AccessError::BadAccess)
        );
        assert_eq!(
            d.portal_write(32, &[0; 64], &mut m, &mut s),
            Err(AccessError::BadAccess)
        );
        assert_eq!(
            d.portal_write(4 * 4096, &[0; 64], &mut m, &mut s),
            Err(AccessError::OutOfRange)
        );
        assert_eq!(m.accesses, 0);
    }

    #[test]
    fn command_flow() {
        let mut d = dsa(3);
        // Enabling needs bus mastering.
        d.bar0_write(
            CMD_OFFSET,
            &(CMD_ENABLE_DEVICE << CMD_SHIFT).to_le_bytes(),
            false,
        )
        .unwrap();
        assert_eq!(r32(&d, CMDSTS_OFFSET) as u8, CMDSTS_ERR_BUSMASTER_EN);
        assert_eq!(cmd(&mut d, CMD_ENABLE_WQ, 0), CMDSTS_ERR_DEV_NOTEN);
        configure_wq(&mut d, 0, 8);
        assert_eq!(cmd(&mut d, CMD_ENABLE_DEVICE, 0), CMDSTS_SUCCESS);
        assert_eq!(r32(&d, GENSTS_OFFSET), DEVICE_STATE_ENABLED);
        assert_eq!(cmd(&mut d, CMD_ENABLE_DEVICE, 0), CMDSTS_ERR_DEV_ENABLED);
        assert_eq!(cmd(&mut d, CMD_ENABLE_WQ, 3), CMDSTS_INVAL_WQIDX);
        assert_eq!(cmd(&mut d, CMD_ENABLE_WQ, 1), CMDSTS_ERR_WQ_SIZE);
        assert_eq!(cmd(&mut d, CMD_ENABLE_WQ, 0), CMDSTS_SUCCESS);
        assert!(d.wqs()[0].enabled());
        assert_eq!(r32(&d, table(&d, 1) + 24) >> WQCFG_STATE_SHIFT, 1);
        assert_eq!(cmd(&mut d, CMD_ENABLE_WQ, 0), CMDSTS_ERR_WQ_ENABLED);
        // An enabled WQ's configuration is locked.
        let limits = table(&d, 1) + 12;
        w32(&mut d, limits, 0);
        assert_eq!(r32(&d, table(&d, 1) + 12) & 0x1f, MAX_XFER_SHIFT);
        assert_eq!(cmd(&mut d, CMD_DRAIN_WQ, 1), CMDSTS_SUCCESS);
        assert_eq!(cmd(&mut d, CMD_DISABLE_WQ, 1 << 3), CMDSTS_INVAL_WQIDX);
        assert_eq!(cmd(&mut d, CMD_DISABLE_WQ, 1), CMDSTS_SUCCESS);
        assert!(!d.wqs()[0].enabled());
        assert_eq!(cmd(&mut d, 0x1f, 0), CMDSTS_INVAL_CMD);
        assert_eq!(cmd(&mut d, 13, 0), CMDSTS_INVAL_CMD, "no interrupt handles");
        // int_req raises INTCAUSE.CMD and vector 0; INTCAUSE is RW1C.
        let e = w32(&mut d, CMD_OFFSET, CMD_DRAIN_ALL << CMD_SHIFT | CMD_INT_REQ);
        assert_eq!(e.vectors, 1);
        assert_eq!(r32(&d, INTCAUSE_OFFSET), INTC_CMD);
        w32(&mut d, INTCAUSE_OFFSET, INTC_CMD);
        assert_eq!(r32(&d, INTCAUSE_OFFSET), 0);
        assert_eq!(cmd(&mut d, CMD_DISABLE_DEVICE, 0), CMDSTS_SUCCESS);
        assert_eq!(cmd(&mut d, CMD_DISABLE_DEVICE, 0), CMDSTS_ERR_DIS_DEV_EN);
        assert_eq!(cmd(&mut d, CMD_DISABLE_WQ, 1), CMDSTS_ERR_DEV_NOT_EN);
        assert_eq!(cmd(&mut d, CMD_RESET_DEVICE, 0), CMDSTS_SUCCESS);
        assert_eq!(d.wqs()[0], WqCfg::reset());
    }

    #[test]
    fn wq_enable_checks_the_configuration() {
        let base = |d: &Dsa<Vec<WqCfg>>| table(d, 1);
        let cases: [(u32, u32, u8); 5] = [
            (WQCFG_MODE_DEDICATED, 0, CMDSTS_ERR_WQ_PRIOR),
            (1 << WQCFG_PRIORITY_SHIFT, 0, CMDSTS_ERR_WQ_MODE),
            (
                WQCFG_MODE_DEDICATED | 1 << 4 | WQCFG_BOF,
                0,
                CMDSTS_ERR_BOF_EN,
            ),
            (
                WQCFG_MODE_DEDICATED | 1 << 4,
                MAX_XFER_SHIFT + 1,
                CMDSTS_ERR_MAX_XFER_SIZE,
            ),
            (
                WQCFG_MODE_DEDICATED | 1 << 4,
                (MAX_BATCH_SHIFT + 1) << 5,
                CMDSTS_ERR_MAX_BATCH_SIZE,
            ),
        ];
        for (mode, limits, err) in cases {
            let mut d = dsa(1);
            let b = base(&d);
            w32(&mut d, b, 4);
            w32(&mut d, b + 8, mode);
            w32(&mut d, b + 12, limits);
            cmd(&mut d, CMD_ENABLE_DEVICE, 0);
            assert_eq!(cmd(&mut d, CMD_ENABLE_WQ, 0), err);
        }
        // Sizes must fit in total_wq_size.
        let mut d = dsa(2);
        configure_wq(&mut d, 0, 10);
        configure_wq(&mut d, 1, 7);
        assert_eq!(cmd(&mut d, CMD_ENABLE_DEVICE, 0), CMDSTS_ERR_WQ_SIZE_ERANGE);
    }

    #[test]
    fn portals_execute_and_disabled_wqs_report_swerr() {
        let mut d = dsa(2);
        let mut m = TestMem::new(0x10_0000, 0x10000);
        let mut s = vec![0; SCRATCH_MIN];
        let raw = Descriptor::encode(
            OPCODE_MEMMOVE,
            OP_FLAG_CRAV | OP_FLAG_RCR | OP_FLAG_RCI,
            0x10_0000,
            0x10_1000,
            0x10_2000,
            256,
            1,
        );
        // Disabled: dropped, SWERR valid with the WQ and the opcode.
        w32(&mut d, GENCTRL_OFFSET, GENCTRL_SOFTERR_INT_EN);
        let e = d
            .portal_write(4 * 4096 + 3 * 4096 + 64, &raw, &mut m, &mut s)
            .unwrap();
        assert_eq!(e.vectors, 1);
        let swerr = r64(&d, SWERR_OFFSET);
        assert_eq!(
            swerr & (SWERR_VALID | SWERR_WQ_IDX_VALID),
            SWERR_VALID | SWERR_WQ_IDX_VALID
        );
        assert_eq!(
            swerr >> SWERR_ERROR_SHIFT & 0xff,
            u64::from(SWERR_WQ_NOT_ENABLED)
        );
        assert_eq!(swerr >> SWERR_WQ_IDX_SHIFT & 0xff, 1);
        assert_eq!(
            swerr >> SWERR_OPERATION_SHIFT & 0xff,
            u64::from(OPCODE_MEMMOVE)
        );
        assert_eq!(r32(&d, INTCAUSE_OFFSET) & INTC_ERR, INTC_ERR);
        assert_eq!(m.accesses, 0);
        // A second error overflows; acknowledging clears the record.
        d.portal_write(0, &raw, &mut m, &mut s).unwrap();
        assert_eq!(r64(&d, SWERR_OFFSET) & SWERR_OVERFLOW, SWERR_OVERFLOW);
        d.bar0_write(SWERR_OFFSET, &SWERR_ACK.to_le_bytes(), true)
            .unwrap();
        assert_eq!(r64(&d, SWERR_OFFSET), 0);

        configure_wq(&mut d, 1, 8);
        cmd(&mut d, CMD_ENABLE_DEVICE, 0);
        assert_eq!(cmd(&mut d, CMD_ENABLE_WQ, 1), CMDSTS_SUCCESS);
        // Any of the four portal pages, any 64-byte slot.
        let e = d
            .portal_write(4 * 4096 + 2 * 4096 + 4032, &raw, &mut m, &mut s)
            .unwrap();
        assert_eq!(e.vectors, 1 << 1);
        let cr = CompletionRecord::from_bytes(m.at(0x10_0000, 32).try_into().unwrap());
        assert_eq!(cr.status, COMP_SUCCESS);
        assert_eq!(m.at(0x10_2000, 256), m.at(0x10_1000, 256));
        assert_eq!(r64(&d, SWERR_OFFSET), 0);
    }

    /// What [`enabled_pair`] gives.
    type Pair = (Dsa<Vec<WqCfg>>, TestMem, Vec<u8>, [[u8; DESC_SIZE]; 2]);

    /// A device with WQs 0 and 1 configured and enabled, a MEMMOVE for
    /// each (completion record at 0x10_0000 + 0x40 * wq), and its memory.
    fn enabled_pair() -> Pair {
        let mut d = dsa(2);
        configure_wq(&mut d, 0, 8);
        configure_wq(&mut d, 1, 8);
        cmd(&mut d, CMD_ENABLE_DEVICE, 0);
        assert_eq!(cmd(&mut d, CMD_ENABLE_WQ, 0), CMDSTS_SUCCESS);
        assert_eq!(cmd(&mut d, CMD_ENABLE_WQ, 1), CMDSTS_SUCCESS);
        let m = TestMem::new(0x10_0000, 0x10000);
        let raw = |wq: u64| {
            Descriptor::encode(
                OPCODE_MEMMOVE,
                OP_FLAG_CRAV | OP_FLAG_RCR | OP_FLAG_RCI,
                0x10_0000 + 0x40 * wq,
                0x10_1000,
                0x10_2000 + 0x1000 * wq,
                256,
                wq as u16 + 1,
            )
        };
        (d, m, vec![0; SCRATCH_MIN], [raw(0), raw(1)])
    }

    /// Whether WQ `wq`'s descriptor of [`enabled_pair`] ran.
    fn ran(m: &TestMem, wq: u64) -> bool {
        let cr = CompletionRecord::from_bytes(m.at(0x10_0000 + 0x40 * wq, 32).try_into().unwrap());
        cr.status == COMP_SUCCESS
    }

    #[test]
    fn pieces_in_any_order_submit_when_the_slot_is_complete() {
        // 8-byte pieces backwards, then 4-byte pieces in a scrambled order,
        // in another slot of another portal page.
        for (piece, order, at) in [
            (8usize, [7, 6, 5, 4, 3, 2, 1, 0].as_slice(), 0u64),
            (
                4,
                [5, 0, 15, 3, 9, 1, 14, 2, 8, 13, 4, 12, 6, 11, 7, 10].as_slice(),
                2 * 4096 + 192,
            ),
        ] {
            let (mut d, mut m, mut s, raw) = enabled_pair();
            for (n, &i) in order.iter().enumerate() {
                let off = at + (i * piece) as u64;
                let e = d
                    .portal_write(off, &raw[0][i * piece..][..piece], &mut m, &mut s)
                    .unwrap();
                assert_eq!(e.abandoned, None);
                let last = n + 1 == order.len();
                assert_eq!(ran(&m, 0), last, "piece {n} of {piece} bytes");
                assert_eq!(e.vectors, if last { 1 << 1 } else { 0 });
                if !last {
                    let slot = d.wqs()[0].slot;
                    assert_eq!(slot.offset as u64, at);
                    assert_eq!(slot.written() as usize, (n + 1) * piece);
                }
            }
            assert_eq!(d.wqs()[0].slot, PortalSlot::EMPTY);
            assert_eq!(m.at(0x10_2000, 256), m.at(0x10_1000, 256));
            assert_eq!(r64(&d, SWERR_OFFSET), 0);
        }
    }

    #[test]
    fn a_piece_written_twice_takes_the_last_value() {
        let (mut d, mut m, mut s, raw) = enabled_pair();
        // The size field first says 1 MiB + 1 (which would fail), then the
        // right value; the rest once.
        let mut wrong = raw[0];
        wrong[24..28].copy_from_slice(&((1u32 << 20) + 1).to_le_bytes());
        d.portal_write(24, &wrong[24..32], &mut m, &mut s).unwrap();
        d.portal_write(24, &raw[0][24..32], &mut m, &mut s).unwrap();
        for i in (0..8).filter(|&i| i != 3) {
            d.portal_write(i * 8, &raw[0][i as usize * 8..][..8], &mut m, &mut s)
                .unwrap();
        }
        assert!(ran(&m, 0));
        assert_eq!(m.at(0x10_2000, 256), m.at(0x10_1000, 256));
    }

    #[test]
    fn another_slot_abandons_a_half_written_one_and_other_wqs_do_not() {
        let (mut d, mut m, mut s, raw) = enabled_pair();
        // Half of WQ 0's slot 1.
        for i in 0..4 {
            d.portal_write(64 + i * 8, &raw[0][i as usize * 8..][..8], &mut m, &mut s)
                .unwrap();
        }
        // A whole descriptor to WQ 1 leaves WQ 0's slot alone.
        let e = d.portal_write(4 * 4096, &raw[1], &mut m, &mut s).unwrap();
        assert_eq!(e.abandoned, None);
        assert!(ran(&m, 1));
        assert_eq!(d.wqs()[0].slot.written(), 32);
        // A piece of WQ 0's slot 2 abandons slot 1, and is kept.
        let e = d.portal_write(128, &raw[0][..8], &mut m, &mut s).unwrap();
        assert_eq!(
            e.abandoned,
            Some(Abandoned {
                wq: 0,
                offset: 64,
                written: 32
            })
        );
        assert_eq!(
            (d.wqs()[0].slot.offset, d.wqs()[0].slot.written()),
            (128, 8)
        );
        // The second half of slot 1 now starts over (abandoning slot 2),
        // and never completes a descriptor.
        for i in 4..8 {
            d.portal_write(64 + i * 8, &raw[0][i as usize * 8..][..8], &mut m, &mut s)
                .unwrap();
        }
        assert!(!ran(&m, 0));
        assert_eq!(d.wqs()[0].slot.written(), 32);
        // A whole descriptor abandons a pending slot, even its own.
        let e = d.portal_write(64, &raw[0], &mut m, &mut s).unwrap();
        assert_eq!(e.abandoned.map(|a| a.offset), Some(64));
        assert!(ran(&m, 0));
        assert_eq!(d.wqs()[0].slot, PortalSlot::EMPTY);
        assert_eq!(r64(&d, SWERR_OFFSET), 0);
    }

    #[test]
    fn disable_and_reset_abandon_a_half_written_slot() {
        let half = |d: &mut Dsa<Vec<WqCfg>>, raw: &[u8; DESC_SIZE]| {
            d.portal_submit(0, &raw[..8]).unwrap();
            d.portal_submit(4 * 4096 + 8, &raw[8..16]).unwrap();
            assert_ne!(d.wqs()[0].slot, PortalSlot::EMPTY);
            assert_ne!(d.wqs()[1].slot, PortalSlot::EMPTY);
        };
        for (c, operand, both) in [
            // Operand: a mask of WQs; WQ 1's bit.
            (CMD_DISABLE_WQ, 1 << 1, false),
            (CMD_RESET_WQ, 1 << 1, false),
            (CMD_DISABLE_DEVICE, 0, true),
            (CMD_RESET_DEVICE, 0, true),
        ] {
            let (mut d, _, _, raw) = enabled_pair();
            half(&mut d, &raw[0]);
            assert_eq!(cmd(&mut d, c, operand), CMDSTS_SUCCESS);
            assert_eq!(d.wqs()[0].slot == PortalSlot::EMPTY, both, "command {c}");
            assert_eq!(d.wqs()[1].slot, PortalSlot::EMPTY, "command {c}");
        }
        // Drain and abort leave it: nothing was submitted.
        let (mut d, _, _, raw) = enabled_pair();
        half(&mut d, &raw[0]);
        cmd(&mut d, CMD_DRAIN_ALL, 0);
        cmd(&mut d, CMD_ABORT_ALL, 0);
        assert_ne!(d.wqs()[0].slot, PortalSlot::EMPTY);
        d.reset();
        assert_eq!(d.wqs()[0].slot, PortalSlot::EMPTY);
    }

    #[test]
    fn a_slot_completed_for_a_disabled_wq_is_dropped_into_swerr() {
        let (mut d, mut m, mut s, raw) = enabled_pair();
        cmd(&mut d, CMD_DISABLE_WQ, 1 << 1);
        for i in 0..8 {
            let (sub, _) = d
                .portal_submit(4 * 4096 + i * 8, &raw[1][i as usize * 8..][..8])
                .unwrap();
            assert!(sub.is_none());
            // Nothing is reported before the slot is complete.
            assert_eq!(r64(&d, SWERR_OFFSET) & SWERR_VALID, u64::from(i == 7));
        }
        assert!(!ran(&m, 1));
        assert_eq!(r64(&d, SWERR_OFFSET) >> SWERR_WQ_IDX_SHIFT & 0xff, 1);
        let _ = (&mut m, &mut s);
    }

    #[test]
    fn other_portal_writes_are_refused_and_change_nothing() {
        let (mut d, _, _, raw) = enabled_pair();
        d.portal_submit(8, &raw[0][8..16]).unwrap();
        let before = d.wqs().to_vec();
        for (off, len) in [
            (0u64, 1usize),
            (0, 2),
            (4, 8),
            (2, 4),
            (0, 16),
            (0, 32),
            (32, 64),
            (8, 63),
        ] {
            assert_eq!(
                d.portal_submit(off, &raw[0][..len]).err(),
                Some(AccessError::BadAccess),
                "{len} bytes at {off}"
            );
        }
        assert_eq!(
            d.portal_submit(8 * 4096, &raw[0][..8]).err(),
            Some(AccessError::OutOfRange)
        );
        assert_eq!(d.wqs(), &before[..]);
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

    #[test]
    fn reset_returns_to_post_create_state() {
        let mut d = dsa(2);
        configure_wq(&mut d, 0, 8);
        w32(&mut d, GENCTRL_OFFSET, 1);
        cmd(&mut d, CMD_ENABLE_DEVICE, 0);
        cmd(&mut d, CMD_ENABLE_WQ, 0);
        d.reset();
        let fresh = dsa(2);
        for off in (0..fresh.layout().bar0_size).step_by(8) {
            assert_eq!(r64(&d, off), r64(&fresh, off), "{off:#x}");
        }
    }
}
