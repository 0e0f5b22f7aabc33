// SPDX-License-Identifier: GPL-2.0

//! The BAR0 registers: their layouts (the unions of the idxd driver's
//! `registers.h`, named after it), the registers' state, and BAR0 reads
//! and writes.
//!
//! CMD and CMDSTS are in [`command`](super::command), the WQCFG table
//! entries in [`wqcfg`](super::wqcfg).

use super::super::{
    bitfield::bitfield,
    engine::{
        self,
        SwError, //
    },
    idxd::*,
    le,
};
use super::{
    command::{
        CmdSts,
        Command, //
    },
    wqcfg::{
        WQCFG_BYTES,
        WQCFG_SHIFT,
        WQCFG_SIZE_FIELD, //
    },
    AccessError,
    Dsa,
    Effects,
    WqTable,
    GRPCFG_TABLE,
    MAX_BATCH_SHIFT,
    MAX_VECTORS,
    MAX_XFER_SHIFT,
    MSIX_PERM_END,
    MSIX_PERM_TABLE,
    WQCFG_TABLE,
    WQ_ENTRIES_PER_WQ, //
};

bitfield! {
    /// `union gen_cap_reg`: GENCAP.
    pub(crate) struct GenCap(u64) {
        /// `block_on_fault`.
        0:0 block_on_fault => bool, with_block_on_fault;
        /// `overlap_copy`.
        1:1 overlap_copy => bool, with_overlap_copy;
        /// `cache_control_mem`.
        2:2 cache_control_mem => bool, with_cache_control_mem;
        /// `cache_control_cache`.
        3:3 cache_control_cache => bool, with_cache_control_cache;
        /// `cmd_cap`: the CMDCAP register is valid.
        4:4 cmd_cap => bool, with_cmd_cap;
        /// `dest_readback`.
        8:8 dest_readback => bool, with_dest_readback;
        /// `drain_readback`.
        9:9 drain_readback => bool, with_drain_readback;
        /// `evl_support`.
        14:13 evl_support, with_evl_support;
        /// `batch_continuation`.
        15:15 batch_continuation => bool, with_batch_continuation;
        /// `max_xfer_shift`: transfers up to `1 << max_xfer_shift` bytes.
        20:16 max_xfer_shift, with_max_xfer_shift;
        /// `max_batch_shift`: batches up to `1 << max_batch_shift`.
        24:21 max_batch_shift, with_max_batch_shift;
        /// `max_ims_mult`.
        30:25 max_ims_mult, with_max_ims_mult;
        /// `config_en`: the device is configurable.
        31:31 config_en => bool, with_config_en;
    }
}

bitfield! {
    /// `union wq_cap_reg`: WQCAP.
    pub(crate) struct WqCap(u64) {
        /// `total_wq_size`: the WQ entries of all WQs.
        15:0 total_wq_size, with_total_wq_size;
        /// `num_wqs`: the WQ count, at most 255.
        23:16 num_wqs, with_num_wqs;
        /// `wqcfg_size`: WQCFG entries are `1 << (wqcfg_size + 5)` bytes.
        27:24 wqcfg_size, with_wqcfg_size;
        /// Not in `registers.h`, whose bits 47:28 are reserved: the full
        /// WQ count of a device with more than 255, from bit 36. It spans
        /// up to bit 63 so that WQCAP reads as it always has: a count of
        /// 4096 or more reaches bit 48 (`shared_mode`).
        63:36 num_wqs_full, with_num_wqs_full;
        /// `shared_mode`.
        48:48 shared_mode => bool, with_shared_mode;
        /// `dedicated_mode`.
        49:49 dedicated_mode => bool, with_dedicated_mode;
        /// `wq_ats_support`.
        50:50 wq_ats_support => bool, with_wq_ats_support;
        /// `priority`.
        51:51 priority => bool, with_priority;
        /// `occupancy`.
        52:52 occupancy => bool, with_occupancy;
        /// `occupancy_int`.
        53:53 occupancy_int => bool, with_occupancy_int;
        /// `op_config`: WQCFG has `op_config`.
        54:54 op_config => bool, with_op_config;
        /// `wq_prs_support`.
        55:55 wq_prs_support => bool, with_wq_prs_support;
    }
}

bitfield! {
    /// The first quadword of `union offsets_reg`: TABLE, where the tables
    /// are (in units of `IDXD_TABLE_MULT`).
    pub(crate) struct Offsets(u64) {
        /// `grpcfg`.
        15:0 grpcfg, with_grpcfg;
        /// `wqcfg`.
        31:16 wqcfg, with_wqcfg;
        /// `msix_perm`.
        47:32 msix_perm, with_msix_perm;
        /// `ims`.
        63:48 ims, with_ims;
    }
}

bitfield! {
    /// `union gencfg_reg`: GENCFG.
    pub(crate) struct GenCfg(u32) {
        /// `rdbuf_limit`.
        7:0 rdbuf_limit, with_rdbuf_limit;
        /// `user_int_en`.
        12:12 user_int_en => bool, with_user_int_en;
        /// `evl_en`.
        13:13 evl_en => bool, with_evl_en;
    }
}

bitfield! {
    /// `union genctrl_reg`: GENCTRL.
    pub(crate) struct GenCtrl(u32) {
        /// `softerr_int_en`: software errors interrupt (vector 0).
        0:0 softerr_int_en => bool, with_softerr_int_en;
        /// `halt_int_en`.
        1:1 halt_int_en => bool, with_halt_int_en;
        /// `evl_int_en`.
        2:2 evl_int_en => bool, with_evl_int_en;
    }
}

impl GenCtrl {
    /// Returns the value with its reserved bits (`rsvd`) clear.
    pub(crate) const fn without_reserved(self) -> Self {
        Self::zeroed()
            .with_softerr_int_en(self.softerr_int_en())
            .with_halt_int_en(self.halt_int_en())
            .with_evl_int_en(self.evl_int_en())
    }
}

bitfield! {
    /// `union gensts_reg`: GENSTS.
    pub(crate) struct GenSts(u32) {
        /// `state` (`enum idxd_device_status_state`).
        1:0 state, with_state;
        /// `reset_type`.
        3:2 reset_type, with_reset_type;
    }
}

bitfield! {
    /// The first quadword of `union sw_err_reg`: what the error was.
    pub(crate) struct SwErrStatus(u64) {
        /// `valid`: a record is there.
        0:0 valid => bool, with_valid;
        /// `overflow`: more errors happened since.
        1:1 overflow => bool, with_overflow;
        /// `desc_valid`.
        2:2 desc_valid => bool, with_desc_valid;
        /// `wq_idx_valid`.
        3:3 wq_idx_valid => bool, with_wq_idx_valid;
        /// `batch`: the descriptor was in a batch.
        4:4 batch => bool, with_batch;
        /// `fault_rw`: the fault was a write.
        5:5 fault_rw => bool, with_fault_rw;
        /// `priv`: the descriptor was privileged.
        6:6 privileged => bool, with_privileged;
        /// `error`: the status code.
        15:8 error, with_error;
        /// `wq_idx`.
        23:16 wq_idx, with_wq_idx;
        /// `operation`: the descriptor's opcode.
        39:32 operation, with_operation;
        /// `pasid`.
        59:40 pasid, with_pasid;
    }
}

bitfield! {
    /// The second quadword of `union sw_err_reg`.
    pub(crate) struct SwErrBatch(u64) {
        /// `batch_idx`: the descriptor's index in its batch.
        15:0 batch_idx, with_batch_idx;
        /// `invalid_flags`: the offending flags.
        63:32 invalid_flags, with_invalid_flags;
    }
}

/// `union sw_err_reg`: SWERR, four quadwords.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SwErr {
    /// Quadword 0.
    pub(crate) status: SwErrStatus,
    /// Quadword 1.
    pub(crate) batch: SwErrBatch,
    /// Quadword 2: `fault_addr`.
    pub(crate) fault_addr: u64,
    /// Quadword 3: `rsvd5`.
    pub(crate) rsvd: u64,
}

impl SwErr {
    /// No error recorded.
    pub(crate) const CLEAR: Self = Self::from_qwords([0; 4]);

    /// The register from its quadwords.
    pub(crate) const fn from_qwords(q: [u64; 4]) -> Self {
        Self {
            status: SwErrStatus::from_raw(q[0]),
            batch: SwErrBatch::from_raw(q[1]),
            fault_addr: q[2],
            rsvd: q[3],
        }
    }

    /// Returns the register's quadwords.
    pub(crate) const fn qwords(&self) -> [u64; 4] {
        [
            self.status.into_raw(),
            self.batch.into_raw(),
            self.fault_addr,
            self.rsvd,
        ]
    }
}

/// The registers' state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Regs {
    /// GENCFG.
    pub(crate) gencfg: GenCfg,
    /// GENCTRL.
    pub(crate) genctrl: GenCtrl,
    /// Whether the device is enabled (GENSTS.state).
    pub(crate) enabled: bool,
    /// INTCAUSE.
    pub(crate) intcause: u32,
    /// CMD: the last command written.
    pub(crate) cmd: Command,
    /// CMDSTS.
    pub(crate) cmdsts: CmdSts,
    /// SWERR.
    pub(crate) swerr: SwErr,
    /// The MSI-X permission table, a `union msix_perm` per vector.
    pub(crate) msix_perm: [u32; MAX_VECTORS as usize],
}

impl Regs {
    /// The registers after reset.
    pub(crate) const RESET: Self = Self {
        gencfg: GenCfg::zeroed(),
        genctrl: GenCtrl::zeroed(),
        enabled: false,
        intcause: 0,
        cmd: Command::zeroed(),
        cmdsts: CmdSts::zeroed(),
        swerr: SwErr::CLEAR,
        msix_perm: [0; MAX_VECTORS as usize],
    };
}

impl<W: WqTable> Dsa<W> {
    /// GENCAP.
    fn gencap(&self) -> GenCap {
        GenCap::zeroed()
            .with_overlap_copy(true)
            .with_cmd_cap(true)
            .with_max_xfer_shift(u64::from(MAX_XFER_SHIFT))
            .with_max_batch_shift(u64::from(MAX_BATCH_SHIFT))
            .with_config_en(true)
    }

    /// Where the WQCFG table ends: one entry per WQ.
    fn wqcfg_end(&self) -> u64 {
        WQCFG_TABLE.saturating_add(u64::from(self.layout.wqs).saturating_mul(WQCFG_BYTES))
    }

    /// WQCAP.
    pub(crate) fn wqcap(&self) -> WqCap {
        let n = self.layout.wqs;
        let total = n.saturating_mul(WQ_ENTRIES_PER_WQ).min(0xffff);
        // `num_wqs` has 8 bits: a device with more WQs shows 255 there and
        // its full count in bits 36-47 (reserved in the hardware).
        WqCap::zeroed()
            .with_total_wq_size(u64::from(total))
            .with_num_wqs(u64::from(n.min(255)))
            .with_wqcfg_size(u64::from(WQCFG_SIZE_FIELD))
            .with_num_wqs_full(u64::from(n))
            .with_dedicated_mode(true)
            .with_priority(true)
            .with_op_config(true)
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
            GENCAP_OFFSET => self.gencap().into_raw(),
            WQCAP_OFFSET => self.wqcap().into_raw(),
            // One group, total read buffers 0.
            GRPCAP_OFFSET => 1,
            // One engine.
            ENGCAP_OFFSET => 1,
            o if (OPCAP_OFFSET..OPCAP_OFFSET + 32).contains(&o) => opcap
                .get((o.wrapping_sub(OPCAP_OFFSET) >> 3) as usize)
                .copied()
                .unwrap_or(0),
            TABLE_OFFSET => Offsets::zeroed()
                .with_grpcfg(GRPCFG_TABLE / TABLE_MULT)
                .with_wqcfg(WQCFG_TABLE / TABLE_MULT)
                .with_msix_perm(MSIX_PERM_TABLE / TABLE_MULT)
                .into_raw(),
            GENCFG_OFFSET => u64::from(self.regs.gencfg.into_raw()),
            GENCTRL_OFFSET => u64::from(self.regs.genctrl.into_raw()),
            GENSTS_OFFSET => u64::from(
                GenSts::zeroed()
                    .with_state(if self.regs.enabled {
                        DEVICE_STATE_ENABLED
                    } else {
                        DEVICE_STATE_DISABLED
                    })
                    .into_raw(),
            ),
            INTCAUSE_OFFSET => u64::from(self.regs.intcause),
            CMD_OFFSET => u64::from(self.regs.cmd.into_raw()),
            CMDSTS_OFFSET => u64::from(self.regs.cmdsts.into_raw()),
            CMDCAP_OFFSET => self.cmdcap(),
            o if (SWERR_OFFSET..SWERR_OFFSET + 32).contains(&o) => self
                .regs
                .swerr
                .qwords()
                .get((o.wrapping_sub(SWERR_OFFSET) >> 3) as usize)
                .copied()
                .unwrap_or(0),
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
                self.regs.msix_perm.get(i).copied().map_or(0, u64::from)
            }
            o if (WQCFG_TABLE..self.wqcfg_end()).contains(&o) => {
                let rel = o.wrapping_sub(WQCFG_TABLE);
                // 8-aligned: an even word.
                let w = ((rel & (WQCFG_BYTES - 1)) >> 2) as usize;
                self.wqs
                    .get((rel >> WQCFG_SHIFT) as usize)
                    .map_or(0, |wq| wq.qword(w))
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
        // Naturally aligned, so within the quadword.
        let bytes = q
            .get(at..)
            .and_then(|rest| rest.get(..buf.len()))
            .ok_or(AccessError::BadAccess)?;
        buf.copy_from_slice(bytes);
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
        for (i, chunk) in data.chunks_exact(4).enumerate() {
            let at = if i == 0 { offset } else { offset | 4 };
            if let Some(v) = le::u32_at(chunk, 0) {
                self.write_dword(at, v, bus_master, &mut effects);
            }
        }
        Ok(effects)
    }

    /// Takes a 4-byte write of `v` at the 4-aligned `offset`.
    fn write_dword(&mut self, offset: u64, v: u32, bus_master: bool, effects: &mut Effects) {
        match offset {
            GENCFG_OFFSET if !self.regs.enabled => self.regs.gencfg = GenCfg::from_raw(v),
            GENCTRL_OFFSET => self.regs.genctrl = GenCtrl::from_raw(v).without_reserved(),
            INTCAUSE_OFFSET => self.regs.intcause &= !v,
            CMD_OFFSET => self.command(Command::from_raw(v), bus_master, effects),
            SWERR_OFFSET => {
                // RW1C on valid and overflow; clearing valid clears the
                // record.
                let ack = SwErrStatus::from_raw(u64::from(v));
                let mut status = self.regs.swerr.status;
                if ack.valid() {
                    status = status.with_valid(false);
                }
                if ack.overflow() {
                    status = status.with_overflow(false);
                }
                self.regs.swerr.status = status;
                if !status.valid() {
                    self.regs.swerr = SwErr::CLEAR;
                }
            }
            o if (MSIX_PERM_TABLE..MSIX_PERM_END).contains(&o) && o & 7 == 0 => {
                let i = (o.wrapping_sub(MSIX_PERM_TABLE) >> 3) as usize;
                if let Some(perm) = self.regs.msix_perm.get_mut(i) {
                    *perm = v;
                }
            }
            o if (WQCFG_TABLE..self.wqcfg_end()).contains(&o) => {
                let rel = o.wrapping_sub(WQCFG_TABLE);
                let device_enabled = self.regs.enabled;
                if let Some(wq) = self.wqs.get_mut((rel >> WQCFG_SHIFT) as usize) {
                    wq.write(((rel & (WQCFG_BYTES - 1)) >> 2) as usize, v, device_enabled);
                }
            }
            _ => {}
        }
    }

    /// Records a software error for `wq`.
    pub(crate) fn sw_error(&mut self, wq: u32, e: &SwError, overflow: bool, effects: &mut Effects) {
        let swerr = &mut self.regs.swerr;
        if swerr.status.valid() {
            swerr.status = swerr.status.with_overflow(true);
        } else {
            *swerr = SwErr {
                status: SwErrStatus::zeroed()
                    .with_valid(true)
                    .with_desc_valid(true)
                    .with_wq_idx_valid(true)
                    .with_batch(e.batch)
                    .with_fault_rw(e.fault_write)
                    .with_error(u64::from(e.error))
                    .with_wq_idx(u64::from(wq))
                    .with_operation(u64::from(e.operation))
                    .with_overflow(overflow),
                batch: SwErrBatch::zeroed()
                    .with_batch_idx(u64::from(e.batch_idx))
                    .with_invalid_flags(u64::from(e.invalid_flags)),
                fault_addr: e.fault_addr,
                rsvd: 0,
            };
        }
        self.regs.intcause |= INTC_ERR;
        if self.regs.genctrl.softerr_int_en() {
            effects.vectors |= 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::super::engine::{
        testmem::TestMem,
        SCRATCH_MIN, //
    };
    use super::{
        super::testing::*,
        *, //
    };
    use std::vec;

    #[test]
    fn fields_are_where_registers_h_puts_them() {
        let g = GenCap::zeroed();
        assert_eq!(g.with_overlap_copy(true).into_raw(), GENCAP_OVERLAP_COPY);
        assert_eq!(g.with_cmd_cap(true).into_raw(), GENCAP_CMD_CAP);
        assert_eq!(g.with_config_en(true).into_raw(), GENCAP_CONFIG_EN);
        assert_eq!(
            g.with_max_xfer_shift(!0).into_raw(),
            0x1f << GENCAP_MAX_XFER_SHIFT
        );
        assert_eq!(
            g.with_max_batch_shift(!0).into_raw(),
            0xf << GENCAP_MAX_BATCH_SHIFT
        );
        let w = WqCap::zeroed();
        assert_eq!(w.with_num_wqs(!0).into_raw(), 0xff << WQCAP_NUM_WQS_SHIFT);
        assert_eq!(
            w.with_wqcfg_size(!0).into_raw(),
            0xf << WQCAP_WQCFG_SIZE_SHIFT
        );
        assert_eq!(w.with_dedicated_mode(true).into_raw(), WQCAP_DEDICATED_MODE);
        assert_eq!(w.with_priority(true).into_raw(), WQCAP_PRIORITY);
        assert_eq!(w.with_op_config(true).into_raw(), WQCAP_OP_CONFIG);
        let c = GenCtrl::zeroed();
        assert_eq!(
            c.with_softerr_int_en(true).into_raw(),
            GENCTRL_SOFTERR_INT_EN
        );
        assert_eq!(c.with_halt_int_en(true).into_raw(), GENCTRL_HALT_INT_EN);
        assert_eq!(GenCtrl::from_raw(!0).without_reserved().into_raw(), 0x7);
        let s = SwErrStatus::zeroed();
        assert_eq!(s.with_valid(true).into_raw(), SWERR_VALID);
        assert_eq!(s.with_overflow(true).into_raw(), SWERR_OVERFLOW);
        assert_eq!(s.with_desc_valid(true).into_raw(), SWERR_DESC_VALID);
        assert_eq!(s.with_wq_idx_valid(true).into_raw(), SWERR_WQ_IDX_VALID);
        assert_eq!(s.with_batch(true).into_raw(), SWERR_BATCH);
        assert_eq!(s.with_fault_rw(true).into_raw(), SWERR_FAULT_RW);
        assert_eq!(s.with_error(!0).into_raw(), 0xff << SWERR_ERROR_SHIFT);
        assert_eq!(s.with_wq_idx(!0).into_raw(), 0xff << SWERR_WQ_IDX_SHIFT);
        assert_eq!(
            s.with_operation(!0).into_raw(),
            0xff << SWERR_OPERATION_SHIFT
        );
        let b = SwErrBatch::zeroed()
            .with_batch_idx(!0)
            .with_invalid_flags(!0);
        assert_eq!(b.into_raw(), 0xffff_ffff_0000_ffff);
        let q = [1, 2, 3, 4];
        assert_eq!(SwErr::from_qwords(q).qwords(), q);
    }

    #[test]
    fn wqcap_reads_as_it_always_has() {
        // The register as the driver built it before it had types (and as
        // the selftests' `wqcap_for()` does), for every WQ count a device
        // may have.
        for n in [1u32, 30, 255, 256, 512, 4095, 4096] {
            let d = dsa(n as usize);
            let total = u64::from(n * WQ_ENTRIES_PER_WQ).min(0xffff);
            let want = total
                | u64::from(n.min(255)) << WQCAP_NUM_WQS_SHIFT
                | 1 << WQCAP_WQCFG_SIZE_SHIFT
                | u64::from(n) << 36
                | WQCAP_DEDICATED_MODE
                | WQCAP_PRIORITY
                | WQCAP_OP_CONFIG;
            assert_eq!(r64(&d, WQCAP_OFFSET), want, "{n} WQs");
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
}
