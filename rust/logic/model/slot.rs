// SPDX-License-Identifier: GPL-2.0

//! A portal slot: a descriptor a WQ is receiving in pieces.  Its own
//! file, below both the WQ table (each entry holds one) and the portals
//! (which fill it).

use super::super::desc::DESC_SIZE;

/// The 4-byte words of a portal slot ([`DESC_SIZE`] bytes).
pub(crate) const SLOT_WORDS: u32 = (DESC_SIZE / 4) as u32;
/// [`PortalSlot::mask`] of a complete slot.
pub(crate) const SLOT_FULL: u32 = (1 << SLOT_WORDS) - 1;
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
}
