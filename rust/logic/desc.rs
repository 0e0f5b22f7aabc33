// SPDX-License-Identifier: GPL-2.0

//! Descriptors and completion records, in the byte layouts of
//! `struct dsa_hw_desc` (64 bytes) and `struct dsa_completion_record`
//! (32 bytes) of `include/uapi/linux/idxd.h`. Little-endian, like the
//! device.

use super::le;

/// The size of a descriptor.
pub const DESC_SIZE: usize = 64;
/// The low address bits a 64-byte aligned address has clear.
pub const DESC_ALIGN_MASK: u64 = DESC_SIZE as u64 - 1;
/// The size of a completion record.
pub const CR_SIZE: usize = 32;
/// The alignment a completion record address needs.
pub const CR_ALIGN: u64 = 32;

/// A decoded descriptor: the fields every opcode shares, and the raw bytes
/// for the operation-specific ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Descriptor {
    /// The 64 bytes as written.
    pub raw: [u8; DESC_SIZE],
    /// `opcode`.
    pub opcode: u8,
    /// `flags` (24 bits).
    pub flags: u32,
    /// `completion_addr`.
    pub completion_addr: u64,
    /// `src_addr`, `pattern`, `desc_list_addr` (bytes 16-23).
    pub addr1: u64,
    /// `dst_addr`, `src2_addr`, `comp_pattern` (bytes 24-31).
    pub addr2: u64,
    /// `xfer_size` or `desc_count` (bytes 32-35).
    pub size: u32,
    /// `int_handle`.
    pub int_handle: u16,
}

impl Descriptor {
    /// Decodes the 64 bytes of a descriptor.
    pub fn parse(raw: &[u8; DESC_SIZE]) -> Self {
        // Fixed offsets, all within the 64 bytes: never the zeros.
        let word1 = le::u32_at(raw, 4).unwrap_or(0);
        let q = |at| le::u64_at(raw, at).unwrap_or(0);
        Self {
            raw: *raw,
            opcode: (word1 >> 24) as u8,
            flags: word1 & 0xff_ffff,
            completion_addr: q(8),
            addr1: q(16),
            addr2: q(24),
            size: le::u32_at(raw, 32).unwrap_or(0),
            int_handle: le::u16_at(raw, 36).unwrap_or(0),
        }
    }

    /// Returns the 8 bytes at `at` (an operation-specific field); 0 if
    /// they are not all in the descriptor.
    pub fn u64_at(&self, at: usize) -> u64 {
        le::u64_at(&self.raw, at).unwrap_or(0)
    }

    /// Returns the 4 bytes at `at` (an operation-specific field); 0 if
    /// they are not all in the descriptor.
    pub fn u32_at(&self, at: usize) -> u32 {
        le::u32_at(&self.raw, at).unwrap_or(0)
    }

    /// Returns whether bytes `range` are all zero; `false` if they are not
    /// all in the descriptor.
    #[cfg(test)]
    pub fn zero(&self, range: core::ops::Range<usize>) -> bool {
        self.raw
            .get(range)
            .is_some_and(|bytes| bytes.iter().all(|&b| b == 0))
    }

    /// Returns whether all of `flags` are set.
    pub fn has(&self, flags: u32) -> bool {
        self.flags & flags == flags
    }

    /// Encodes a descriptor (for tests and tools).
    #[cfg(not(MODULE))]
    #[allow(clippy::too_many_arguments)]
    pub fn encode(
        opcode: u8,
        flags: u32,
        completion_addr: u64,
        addr1: u64,
        addr2: u64,
        size: u32,
        int_handle: u16,
    ) -> [u8; DESC_SIZE] {
        let mut raw = [0; DESC_SIZE];
        raw[4..8].copy_from_slice(&((u32::from(opcode) << 24) | (flags & 0xff_ffff)).to_le_bytes());
        raw[8..16].copy_from_slice(&completion_addr.to_le_bytes());
        raw[16..24].copy_from_slice(&addr1.to_le_bytes());
        raw[24..32].copy_from_slice(&addr2.to_le_bytes());
        raw[32..36].copy_from_slice(&size.to_le_bytes());
        raw[36..38].copy_from_slice(&int_handle.to_le_bytes());
        raw
    }
}

/// A completion record to write.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CompletionRecord {
    /// `status`.
    pub status: u8,
    /// `result` (compare and check operations).
    pub result: u8,
    /// `fault_info`: bit 0 set for a write fault.
    pub fault_info: u8,
    /// `bytes_completed` or `descs_completed`.
    pub completed: u32,
    /// `fault_addr`.
    pub fault_addr: u64,
    /// The operation-specific quadword at offset 16 (`crc_val`, or
    /// `invalid_flags` in its low 24 bits).
    pub op_specific: u64,
}

impl CompletionRecord {
    /// A record with just `status`.
    pub fn status(status: u8) -> Self {
        Self {
            status,
            ..Self::default()
        }
    }

    /// Encodes the record.
    pub fn to_bytes(self) -> [u8; CR_SIZE] {
        let mut b = [0; CR_SIZE];
        b[0] = self.status;
        b[1] = self.result;
        b[2] = self.fault_info;
        b[4..8].copy_from_slice(&self.completed.to_le_bytes());
        b[8..16].copy_from_slice(&self.fault_addr.to_le_bytes());
        b[16..24].copy_from_slice(&self.op_specific.to_le_bytes());
        b
    }

    /// Decodes a record (for tests and tools).
    #[cfg(not(MODULE))]
    pub fn from_bytes(b: &[u8; CR_SIZE]) -> Self {
        let mut q = [0; 8];
        q.copy_from_slice(&b[8..16]);
        let fault_addr = u64::from_le_bytes(q);
        q.copy_from_slice(&b[16..24]);
        Self {
            status: b[0],
            result: b[1],
            fault_info: b[2],
            completed: u32::from_le_bytes([b[4], b[5], b[6], b[7]]),
            fault_addr,
            op_specific: u64::from_le_bytes(q),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::idxd::*;
    use super::*;

    #[test]
    fn descriptor_round_trip() {
        let raw = Descriptor::encode(
            OPCODE_MEMMOVE,
            OP_FLAG_CRAV | OP_FLAG_RCR,
            0x1000,
            0x2000,
            0x3000,
            4096,
            1,
        );
        let d = Descriptor::parse(&raw);
        assert_eq!(d.opcode, OPCODE_MEMMOVE);
        assert_eq!(d.flags, OP_FLAG_CRAV | OP_FLAG_RCR);
        assert_eq!(
            (d.completion_addr, d.addr1, d.addr2),
            (0x1000, 0x2000, 0x3000)
        );
        assert_eq!((d.size, d.int_handle), (4096, 1));
        assert!(d.has(OP_FLAG_CRAV) && !d.has(OP_FLAG_RCI));
        assert!(d.zero(38..64));
        // The opcode is the top byte of the second dword, as in C.
        assert_eq!(raw[7], OPCODE_MEMMOVE);
    }

    #[test]
    fn completion_record_round_trip() {
        let cr = CompletionRecord {
            status: COMP_PAGE_FAULT_NOBOF,
            result: 1,
            fault_info: 1,
            completed: 4096,
            fault_addr: 0xdead_b000,
            op_specific: 0x1234_5678,
        };
        let b = cr.to_bytes();
        assert_eq!(b[0], COMP_PAGE_FAULT_NOBOF);
        assert_eq!(&b[4..8], &4096u32.to_le_bytes());
        assert_eq!(CompletionRecord::from_bytes(&b), cr);
    }
}
