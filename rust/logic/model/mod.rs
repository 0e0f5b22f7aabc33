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
//!
//! This file holds the device ([`Dsa`]) and where things are in its BARs
//! ([`Layout`]); the rest is by concern: [`registers`] (the BAR0 registers
//! and their accesses), [`wqcfg`] (a WQ's configuration), [`command`] (the
//! commands written to CMD), [`portal`] (the portals of BAR2) and [`saved`]
//! (the state a migration stream carries).

use super::{
    idxd::{
        PORTALS_PER_WQ,
        PORTAL_SIZE, //
    },
    pci::MsixLayout,
};
use core::ops::DerefMut;

pub mod command;
pub mod portal;
pub mod registers;
pub mod saved;
pub mod slot;
pub mod wqcfg;

#[cfg(test)]
mod testing;

use registers::Regs;

// The model's interface, as `Dsa`'s methods take and return it; the
// submodules hold the rest.
pub use command::Quiesce;
pub use portal::{
    Abandoned,
    Submission, //
};
pub use saved::{
    StateError,
    SAVED_REGS_BYTES,
    SAVED_SLOT_BYTES, //
};
#[cfg(not(MODULE))]
pub use slot::PortalSlot;
pub use wqcfg::{
    WqCfg,
    WQCFG_BYTES, //
};

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

/// Where GRPCFG is (`offsets_reg.grpcfg` units of
/// [`TABLE_MULT`](super::idxd::TABLE_MULT)).
const GRPCFG_TABLE: u64 = 0x400;
/// Where the MSI-X permission table is.
const MSIX_PERM_TABLE: u64 = 0x600;
/// Where WQCFG is.
const WQCFG_TABLE: u64 = 0x1000;
/// Where the MSI-X permission table ends.
const MSIX_PERM_END: u64 = MSIX_PERM_TABLE + 8 * MAX_VECTORS as u64;

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

/// The storage of a [`Dsa`]'s WQ table: any owner of a mutable slice of
/// entries (a `KVVec` in the driver, a `Vec` or an array in tests).
pub trait WqTable: DerefMut<Target = [WqCfg]> {}

impl<W: DerefMut<Target = [WqCfg]>> WqTable for W {}

/// The device model.
pub struct Dsa<W: WqTable> {
    /// Where things are in the BARs.
    layout: Layout,
    /// The registers.
    regs: Regs,
    /// The WQs' configurations, one per WQ.
    wqs: W,
}

impl<W: WqTable> Dsa<W> {
    /// A device in its post-reset state, with one WQ per entry of `wqs`
    /// (which it resets).
    pub fn new(mut wqs: W) -> Self {
        let reset = WqCfg::reset();
        for wq in wqs.iter_mut() {
            *wq = reset;
        }
        Self::over(wqs)
    }

    /// A device in its post-reset state with `n` WQs, whose table `make`
    /// fills, as `vec![entry; n]` would, with `entry`, the WQCFG entry
    /// after reset. The entry is made once and each WQ's written once,
    /// where [`Dsa::new`] writes each twice: for a table of thousands of
    /// WQs (a migration target makes one per session), that is the cost.
    pub fn with_table<E>(
        n: usize,
        make: impl FnOnce(WqCfg, usize) -> Result<W, E>,
    ) -> Result<Self, E> {
        make(WqCfg::reset(), n).map(Self::over)
    }

    /// The model over the table `wqs`, whose entries are as after reset.
    fn over(wqs: W) -> Self {
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
        let reset = WqCfg::reset();
        for wq in self.wqs.iter_mut() {
            *wq = reset;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::idxd::*;
    use super::{
        testing::*,
        *, //
    };

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
