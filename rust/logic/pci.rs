// SPDX-License-Identifier: GPL-2.0

//! The device's PCI configuration space: a type 0 header with two 64-bit
//! memory BARs (BAR0: registers, BAR2: portals) and an MSI-X capability,
//! with the write semantics of real hardware: read-only bits stay put, a
//! BAR answers its size when all ones are written to it.

use super::le;

/// The size of the configuration space the device exposes.
pub const CONFIG_SIZE: usize = 256;

/// PCI vendor ID: Red Hat, Inc., as the kernel's mdev samples use. No
/// in-tree driver binds the device ID below.
pub const VENDOR_ID: u16 = 0x1b36;
/// PCI device ID of the simulated DSA device.
pub const DEVICE_ID: u16 = 0x10d5;

/// The vendor and device IDs a function presents (and its subsystem IDs,
/// which repeat them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PciIds {
    /// The vendor ID.
    pub vendor: u16,
    /// The device ID.
    pub device: u16,
}

impl PciIds {
    /// The default: [`VENDOR_ID`]:[`DEVICE_ID`], which no driver binds.
    pub const DEFAULT: Self = Self {
        vendor: VENDOR_ID,
        device: DEVICE_ID,
    };

    /// Intel's DSA (`PCI_DEVICE_ID_INTEL_DSA_SPR0`, 8086:0b25), which the
    /// idxd driver binds: for guests whose manager cannot override IDs.
    pub const INTEL_DSA: Self = Self {
        vendor: 0x8086,
        device: 0x0b25,
    };
}
/// Revision.
pub const REVISION: u8 = 0x01;
/// Class code: system peripheral, other (as DSA hardware reports).
pub const CLASS_CODE: u32 = 0x08_80_00;

/// `PCI_COMMAND`.
pub const COMMAND: usize = 0x04;
/// `PCI_COMMAND_MEMORY`.
pub const COMMAND_MEMORY: u16 = 0x0002;
/// `PCI_COMMAND_MASTER`.
pub const COMMAND_MASTER: u16 = 0x0004;
/// `PCI_COMMAND_INTX_DISABLE`.
pub const COMMAND_INTX_DISABLE: u16 = 0x0400;
/// The writable command bits.
const COMMAND_WRITABLE: u16 = COMMAND_MEMORY | COMMAND_MASTER | COMMAND_INTX_DISABLE;
/// `PCI_STATUS_CAP_LIST`.
const STATUS_CAP_LIST: u16 = 0x0010;
/// `PCI_BASE_ADDRESS_0`.
pub const BAR0: usize = 0x10;
/// `PCI_BASE_ADDRESS_2`.
pub const BAR2: usize = 0x18;
/// `PCI_BASE_ADDRESS_MEM_TYPE_64`.
const BAR_MEM_64: u32 = 0x4;
/// `PCI_BASE_ADDRESS_MEM_PREFETCH`.
const BAR_PREFETCH: u32 = 0x8;
/// `PCI_CAPABILITY_LIST`.
const CAP_PTR: usize = 0x34;
/// `PCI_INTERRUPT_LINE`.
const INTERRUPT_LINE: usize = 0x3c;
/// Where the MSI-X capability is.
pub const MSIX_CAP: usize = 0x40;
/// `PCI_CAP_ID_MSIX`.
const CAP_ID_MSIX: u8 = 0x11;
/// `PCI_MSIX_FLAGS_ENABLE`.
pub const MSIX_FLAGS_ENABLE: u16 = 0x8000;
/// `PCI_MSIX_FLAGS_MASKALL`.
pub const MSIX_FLAGS_MASKALL: u16 = 0x4000;

/// Where BAR0 keeps the MSI-X table and PBA, and how many vectors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MsixLayout {
    /// Number of vectors (1-2048).
    pub vectors: u16,
    /// Offset of the table in BAR0.
    pub table: u32,
    /// Offset of the pending bit array in BAR0.
    pub pba: u32,
}

/// The configuration space.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PciConfig {
    bytes: [u8; CONFIG_SIZE],
    bar0_size: u64,
    bar2_size: u64,
    msix: MsixLayout,
    ids: PciIds,
}

impl PciConfig {
    /// The configuration space after reset, for BARs of the given sizes
    /// (powers of two, at least 4 KiB) and the MSI-X layout, with the
    /// default IDs.
    #[cfg(not(MODULE))]
    pub fn new(bar0_size: u64, bar2_size: u64, msix: MsixLayout) -> Self {
        Self::with_ids(bar0_size, bar2_size, msix, PciIds::DEFAULT)
    }

    /// As [`PciConfig::new`], presenting `ids`.
    pub fn with_ids(bar0_size: u64, bar2_size: u64, msix: MsixLayout, ids: PciIds) -> Self {
        let mut this = Self {
            bytes: [0; CONFIG_SIZE],
            bar0_size,
            bar2_size,
            msix,
            ids,
        };
        this.reset();
        this
    }

    /// Returns to the state after reset.
    pub fn reset(&mut self) {
        let b = &mut self.bytes;
        *b = [0; CONFIG_SIZE];
        // Constant offsets into the array: their bounds are checked when
        // this builds (clippy's indexing_slicing).
        b[0..2].copy_from_slice(&self.ids.vendor.to_le_bytes());
        b[2..4].copy_from_slice(&self.ids.device.to_le_bytes());
        b[6..8].copy_from_slice(&STATUS_CAP_LIST.to_le_bytes());
        b[8] = REVISION;
        b[9..12].copy_from_slice(&CLASS_CODE.to_le_bytes()[..3]);
        b[BAR0..BAR0 + 4].copy_from_slice(&BAR_MEM_64.to_le_bytes());
        b[BAR2..BAR2 + 4].copy_from_slice(&(BAR_MEM_64 | BAR_PREFETCH).to_le_bytes());
        b[0x2c..0x2e].copy_from_slice(&self.ids.vendor.to_le_bytes());
        b[0x2e..0x30].copy_from_slice(&self.ids.device.to_le_bytes());
        b[CAP_PTR] = MSIX_CAP as u8;
        b[MSIX_CAP] = CAP_ID_MSIX;
        b[MSIX_CAP + 1] = 0;
        // Table size, N - 1 (`vectors` is at least 1).
        b[MSIX_CAP + 2..MSIX_CAP + 4]
            .copy_from_slice(&self.msix.vectors.saturating_sub(1).to_le_bytes());
        // BIR 0 for both.
        b[MSIX_CAP + 4..MSIX_CAP + 8].copy_from_slice(&self.msix.table.to_le_bytes());
        b[MSIX_CAP + 8..MSIX_CAP + 12].copy_from_slice(&self.msix.pba.to_le_bytes());
    }

    /// Returns the whole space, as a migration stream carries it.
    pub fn bytes(&self) -> &[u8; CONFIG_SIZE] {
        &self.bytes
    }

    /// Loads a saved space: all of it if it is one this function could have
    /// reached through writes (its read-only bits are this function's),
    /// else nothing, returning the offset of the first byte that differs.
    pub fn load(&mut self, saved: &[u8]) -> Result<(), usize> {
        let mut probe = self.clone();
        probe.reset();
        probe.write(0, saved);
        let differs = |(i, b): &(usize, &u8)| saved.get(*i) != Some(*b);
        if let Some((at, _)) = probe.bytes.iter().enumerate().find(differs) {
            return Err(at);
        }
        *self = probe;
        Ok(())
    }

    /// Returns the little-endian `u16` at `at`, or 0 if it is not all in
    /// the space.
    fn u16_at(&self, at: usize) -> u16 {
        le::u16_at(&self.bytes, at).unwrap_or(0)
    }

    /// Returns the command register.
    pub fn command(&self) -> u16 {
        self.u16_at(COMMAND)
    }

    /// Returns whether bus mastering is enabled.
    pub fn bus_master(&self) -> bool {
        self.command() & COMMAND_MASTER != 0
    }

    /// Returns the MSI-X message control word.
    pub fn msix_control(&self) -> u16 {
        self.u16_at(MSIX_CAP + 2)
    }

    /// Reads `buf.len()` bytes at `offset`; bytes beyond the space read 0.
    pub fn read(&self, offset: usize, buf: &mut [u8]) {
        for (i, b) in buf.iter_mut().enumerate() {
            *b = offset
                .checked_add(i)
                .and_then(|at| self.bytes.get(at))
                .copied()
                .unwrap_or(0);
        }
    }

    /// Writes `data` at `offset`, keeping read-only bits; writes beyond the
    /// space are dropped.
    pub fn write(&mut self, offset: usize, data: &[u8]) {
        for (i, &v) in data.iter().enumerate() {
            let Some(at) = offset.checked_add(i) else {
                break;
            };
            self.write_byte(at, v);
        }
        // Size the BARs: only the address bits above the size stick.
        for (bar, size, flags) in [
            (BAR0, self.bar0_size, BAR_MEM_64),
            (BAR2, self.bar2_size, BAR_MEM_64 | BAR_PREFETCH),
        ] {
            let mask = !((size as u32).wrapping_sub(1)) & !0xf;
            // BAR0 and BAR2 are dwords of the space: always there.
            let lo = self.bytes.get_mut(bar..).and_then(|b| b.first_chunk_mut());
            if let Some(lo) = lo {
                *lo = ((u32::from_le_bytes(*lo) & mask) | flags).to_le_bytes();
            }
            // The upper half is all address bits for sizes below 4 GiB.
        }
    }

    fn write_byte(&mut self, at: usize, v: u8) {
        let writable: u8 = match at {
            COMMAND => COMMAND_WRITABLE as u8,
            0x05 => (COMMAND_WRITABLE >> 8) as u8,
            // Cache line size.
            0x0c => 0xff,
            BAR0..=0x1f => 0xff,
            INTERRUPT_LINE => 0xff,
            // MSI-X message control, high byte: enable and mask all.
            0x43 => ((MSIX_FLAGS_ENABLE | MSIX_FLAGS_MASKALL) >> 8) as u8,
            _ => 0,
        };
        if let Some(b) = self.bytes.get_mut(at) {
            *b = (*b & !writable) | (v & writable);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> PciConfig {
        PciConfig::new(
            0x8000,
            0x4000,
            MsixLayout {
                vectors: 2,
                table: 0x2000,
                pba: 0x2800,
            },
        )
    }

    fn dword(c: &PciConfig, at: usize) -> u32 {
        let mut b = [0; 4];
        c.read(at, &mut b);
        u32::from_le_bytes(b)
    }

    #[test]
    fn header() {
        let c = cfg();
        assert_eq!(
            dword(&c, 0),
            u32::from(VENDOR_ID) | u32::from(DEVICE_ID) << 16
        );
        assert_eq!(dword(&c, 8) >> 8, CLASS_CODE);
        assert_eq!(c.u16_at(6) & STATUS_CAP_LIST, STATUS_CAP_LIST);
        assert_eq!(c.bytes[CAP_PTR] as usize, MSIX_CAP);
        assert_eq!(c.bytes[MSIX_CAP], CAP_ID_MSIX);
        assert_eq!(c.msix_control() & 0x7ff, 1);
        assert_eq!(dword(&c, MSIX_CAP + 4), 0x2000);
        assert_eq!(dword(&c, MSIX_CAP + 8), 0x2800);
        assert_eq!(dword(&c, 0x3c) >> 8 & 0xff, 0, "no INTx pin");
        let mut past = [0xaa; 4];
        c.read(254, &mut past);
        assert_eq!(past, [0, 0, 0, 0]);
    }

    #[test]
    fn read_only_bits_stay_put() {
        let mut c = cfg();
        let before = c.clone();
        c.write(0, &[0xff; 4]);
        c.write(8, &[0xff; 4]);
        c.write(MSIX_CAP, &[0xff; 2]);
        c.write(MSIX_CAP + 4, &[0xff; 8]);
        assert_eq!(c, before);
        c.write(COMMAND, &0xffffu16.to_le_bytes());
        assert_eq!(c.command(), COMMAND_WRITABLE);
        assert!(c.bus_master());
        c.write(MSIX_CAP + 2, &0xffffu16.to_le_bytes());
        assert_eq!(c.msix_control(), MSIX_FLAGS_ENABLE | MSIX_FLAGS_MASKALL | 1);
        c.reset();
        assert_eq!(c, before);
    }

    #[test]
    fn bars_answer_their_size() {
        let mut c = cfg();
        assert_eq!(dword(&c, BAR0), BAR_MEM_64);
        assert_eq!(dword(&c, BAR2), BAR_MEM_64 | BAR_PREFETCH);
        c.write(BAR0, &[0xff; 8]);
        assert_eq!(dword(&c, BAR0), !(0x8000 - 1) | BAR_MEM_64);
        assert_eq!(dword(&c, BAR0 + 4), 0xffff_ffff);
        c.write(BAR2, &[0xff; 4]);
        assert_eq!(dword(&c, BAR2), !(0x4000 - 1) | BAR_MEM_64 | BAR_PREFETCH);
        c.write(BAR0, &0xfebf_1234u32.to_le_bytes());
        assert_eq!(dword(&c, BAR0), 0xfebf_0000 | BAR_MEM_64);
        // BAR4 and up do not exist.
        c.write(0x20, &[0xff; 4]);
        assert_eq!(dword(&c, 0x20), 0);
    }
}
