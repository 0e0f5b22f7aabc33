// SPDX-License-Identifier: GPL-2.0

//! MSI-X delivery: whether an interrupt the device raises reaches its
//! vector, by the function's configuration space.
//!
//! - Bus mastering off: an MSI-X message is a memory write, so none goes
//!   out; the interrupt is lost.
//! - MSI-X Enable clear: the function may not use MSI-X (and DSA has no
//!   INTx pin); the interrupt is lost.
//! - Function Mask set: the interrupt is held pending, and delivered when
//!   the mask is cleared with MSI-X still enabled (PCI Express Base
//!   Specification, 6.1.4).
//!
//! Per-vector masks live in the MSI-X table, which VFIO users emulate (the
//! table reads as zero here and QEMU keeps its own), so they are not the
//! device's to honour.

use super::pci::{
    PciConfig,
    MSIX_FLAGS_ENABLE,
    MSIX_FLAGS_MASKALL, //
};

/// The pending bits of a function's vectors (one bit per vector, the
/// first 64).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Msix {
    pending: u64,
}

/// How the configuration space lets interrupts out now.
fn gate(cfg: &PciConfig) -> Option<bool> {
    let ctl = cfg.msix_control();
    if !cfg.bus_master() || ctl & MSIX_FLAGS_ENABLE == 0 {
        // Lost.
        None
    } else {
        // Delivered, or held while masked.
        Some(ctl & MSIX_FLAGS_MASKALL == 0)
    }
}

impl Msix {
    /// No interrupt pending.
    pub const fn new() -> Self {
        Self { pending: 0 }
    }

    /// The device raises `vectors`: returns those to signal now; those
    /// masked become pending, the others are lost.
    pub fn raise(&mut self, cfg: &PciConfig, vectors: u64) -> u64 {
        match gate(cfg) {
            Some(true) => vectors,
            Some(false) => {
                self.pending |= vectors;
                0
            }
            None => 0,
        }
    }

    /// After a change of the configuration space: returns the pending
    /// vectors it let out (the Function Mask cleared). Disabling MSI-X, or
    /// bus mastering, drops what was pending.
    pub fn update(&mut self, cfg: &PciConfig) -> u64 {
        match gate(cfg) {
            Some(true) => core::mem::take(&mut self.pending),
            Some(false) => 0,
            None => {
                self.pending = 0;
                0
            }
        }
    }

    /// Returns the pending bits.
    #[cfg(test)]
    pub fn pending(&self) -> u64 {
        self.pending
    }

    /// Forgets what is pending (function-level reset).
    pub fn reset(&mut self) {
        self.pending = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::super::pci::{
        MsixLayout,
        COMMAND,
        COMMAND_MASTER,
        MSIX_CAP, //
    };
    use super::*;

    fn cfg(command: u16, msix: u16) -> PciConfig {
        let mut c = PciConfig::new(
            0x4000,
            0x4000,
            MsixLayout {
                vectors: 4,
                table: 0x2000,
                pba: 0x2800,
            },
        );
        c.write(COMMAND, &command.to_le_bytes());
        c.write(MSIX_CAP + 2, &msix.to_le_bytes());
        c
    }

    #[test]
    fn enable_mask_and_bus_master_decide() {
        let on = cfg(COMMAND_MASTER, MSIX_FLAGS_ENABLE);
        let masked = cfg(COMMAND_MASTER, MSIX_FLAGS_ENABLE | MSIX_FLAGS_MASKALL);
        let mut m = Msix::new();
        assert_eq!(m.raise(&on, 0b101), 0b101);
        assert_eq!(m.raise(&cfg(COMMAND_MASTER, 0), 0b1), 0, "MSI-X disabled");
        assert_eq!(m.raise(&cfg(0, MSIX_FLAGS_ENABLE), 0b1), 0, "no bus master");
        assert_eq!(m.pending(), 0);
        assert_eq!(m.raise(&masked, 0b10), 0);
        assert_eq!(m.raise(&masked, 0b100), 0);
        assert_eq!(m.update(&masked), 0);
        assert_eq!(m.update(&on), 0b110, "unmasking delivers what was pending");
        assert_eq!(m.update(&on), 0);
        m.raise(&masked, 0b1);
        assert_eq!(m.update(&cfg(COMMAND_MASTER, MSIX_FLAGS_MASKALL)), 0);
        assert_eq!(m.pending(), 0, "disabling MSI-X drops what was pending");
    }
}
