// SPDX-License-Identifier: GPL-2.0

//! What the model's tests share: a device, its register accesses, and a
//! device with two WQs enabled.

use super::super::{
    desc::{
        CompletionRecord,
        Descriptor,
        DESC_SIZE, //
    },
    engine::{
        testmem::TestMem,
        SCRATCH_MIN, //
    },
    idxd::*,
};
use super::{
    wqcfg::{
        WqCfg,
        WQCFG_BYTES, //
    },
    Dsa,
    Effects,
    MAX_BATCH_SHIFT,
    MAX_XFER_SHIFT, //
};
use std::{
    vec,
    vec::Vec, //
};

/// A device with `n` WQs, after reset.
pub(crate) fn dsa(n: usize) -> Dsa<Vec<WqCfg>> {
    Dsa::new(vec![WqCfg::reset(); n])
}

/// Reads the quadword at `off` of BAR0.
pub(crate) fn r64(d: &Dsa<Vec<WqCfg>>, off: u64) -> u64 {
    let mut b = [0; 8];
    d.bar0_read(off, &mut b).unwrap();
    u64::from_le_bytes(b)
}

/// Reads the dword at `off` of BAR0.
pub(crate) fn r32(d: &Dsa<Vec<WqCfg>>, off: u64) -> u32 {
    let mut b = [0; 4];
    d.bar0_read(off, &mut b).unwrap();
    u32::from_le_bytes(b)
}

/// Writes `v` at `off` of BAR0, bus mastering on.
pub(crate) fn w32(d: &mut Dsa<Vec<WqCfg>>, off: u64, v: u32) -> Effects {
    d.bar0_write(off, &v.to_le_bytes(), true).unwrap()
}

/// Writes command `c` with `operand` to CMD; returns CMDSTS.err.
pub(crate) fn cmd(d: &mut Dsa<Vec<WqCfg>>, c: u32, operand: u32) -> u8 {
    w32(d, CMD_OFFSET, c << CMD_SHIFT | operand);
    r32(d, CMDSTS_OFFSET) as u8
}

/// Where table `which` of TABLE is (0 GRPCFG, 1 WQCFG, 2 MSI-X
/// permissions).
pub(crate) fn table(d: &Dsa<Vec<WqCfg>>, which: u32) -> u64 {
    (r64(d, TABLE_OFFSET) >> (16 * which) & 0xffff) * TABLE_MULT
}

/// Configures WQ `i` the way the VFIO selftests' DSA driver does.
pub(crate) fn configure_wq(d: &mut Dsa<Vec<WqCfg>>, i: u64, size: u32) {
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

/// What [`enabled_pair`] gives.
pub(crate) type Pair = (Dsa<Vec<WqCfg>>, TestMem, Vec<u8>, [[u8; DESC_SIZE]; 2]);

/// A device with WQs 0 and 1 configured and enabled, a MEMMOVE for
/// each (completion record at 0x10_0000 + 0x40 * wq), and its memory.
pub(crate) fn enabled_pair() -> Pair {
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
pub(crate) fn ran(m: &TestMem, wq: u64) -> bool {
    let cr = CompletionRecord::from_bytes(m.at(0x10_0000 + 0x40 * wq, 32).try_into().unwrap());
    cr.status == COMP_SUCCESS
}
