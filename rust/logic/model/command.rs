// SPDX-License-Identifier: GPL-2.0

//! The commands: CMD (`union idxd_command_reg`), CMDSTS (`union
//! cmdsts_reg`), and what each command does. Commands complete before the
//! CMD write returns.

use super::super::{
    bitfield::bitfield,
    idxd::*, //
};
use super::{
    wqcfg::{
        WqCfg,
        WqcfgMode,
        WqcfgSize, //
    },
    Dsa,
    Effects,
    WqTable,
    MAX_BATCH_SHIFT,
    MAX_XFER_SHIFT, //
};

bitfield! {
    /// `union idxd_command_reg`: CMD.
    pub(crate) struct Command(u32) {
        /// `operand`: the command's argument.
        19:0 operand, with_operand;
        /// `cmd`: `enum idxd_cmd`.
        24:20 cmd, with_cmd;
        /// `int_req`: raise INTCAUSE.CMD and vector 0 when done.
        31:31 int_req => bool, with_int_req;
    }
}

bitfield! {
    /// `union cmdsts_reg`: CMDSTS.
    pub(crate) struct CmdSts(u32) {
        /// `err`: `enum idxd_cmdsts_err`.
        7:0 err, with_err;
        /// `result`.
        23:8 result, with_result;
        /// `active`: a command is running (never, here).
        31:31 active => bool, with_active;
    }
}

bitfield! {
    /// The operand of the WQ commands (disable, drain, abort, reset), as
    /// the idxd driver encodes it.
    pub(crate) struct WqOperand(u32) {
        /// A mask of 16 WQs.
        15:0 wqs, with_wqs;
        /// Which 16: the WQs of the mask are `16 * block + bit`.
        19:16 block, with_block;
    }
}

impl WqCfg {
    /// What `IDXD_CMD_ENABLE_WQ` answers for this WQ on an enabled device:
    /// [`CMDSTS_SUCCESS`] or the first error its configuration has.
    pub(crate) fn enable_status(&self) -> u8 {
        if self.enabled() {
            CMDSTS_ERR_WQ_ENABLED
        } else {
            self.config_status()
        }
    }

    /// What `IDXD_CMD_ENABLE_WQ` answers for this WQ's configuration on an
    /// enabled device, whatever the WQ's state: [`CMDSTS_SUCCESS`] or the
    /// first error.
    pub(crate) fn config_status(&self) -> u8 {
        let mode = self.word::<WqcfgMode>();
        if self.size() == 0 {
            CMDSTS_ERR_WQ_SIZE
        } else if mode.priority() == 0 {
            CMDSTS_ERR_WQ_PRIOR
        } else if !mode.mode() {
            CMDSTS_ERR_WQ_MODE
        } else if mode.bof() {
            CMDSTS_ERR_BOF_EN
        } else if mode.pasid_en() {
            CMDSTS_ERR_PASID_EN
        } else if self.max_xfer_shift() > MAX_XFER_SHIFT {
            CMDSTS_ERR_MAX_XFER_SIZE
        } else if self.max_batch_shift() > MAX_BATCH_SHIFT {
            CMDSTS_ERR_MAX_BATCH_SIZE
        } else {
            CMDSTS_SUCCESS
        }
    }
}

impl<W: WqTable> Dsa<W> {
    /// Executes a command written to CMD.
    pub(crate) fn command(&mut self, v: Command, bus_master: bool, effects: &mut Effects) {
        self.regs.cmd = v;
        let cmd = v.cmd();
        let operand = v.operand();
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
                self.wq_command(cmd, WqOperand::from_raw(operand))
            }
            _ => CMDSTS_INVAL_CMD,
        };
        self.regs.cmdsts = CmdSts::zeroed().with_err(u32::from(err));
        if v.int_req() {
            self.regs.intcause |= INTC_CMD;
            effects.vectors |= 1;
        }
    }

    /// `IDXD_CMD_ENABLE_DEVICE`.
    fn enable_device(&mut self, bus_master: bool) -> u8 {
        if self.regs.enabled {
            return CMDSTS_ERR_DEV_ENABLED;
        }
        if !bus_master {
            return CMDSTS_ERR_BUSMASTER_EN;
        }
        let total: u64 = self.wqs.iter().map(|wq| u64::from(wq.size())).sum();
        if total > self.wqcap().total_wq_size() {
            return CMDSTS_ERR_WQ_SIZE_ERANGE;
        }
        self.regs.enabled = true;
        CMDSTS_SUCCESS
    }

    /// `IDXD_CMD_ENABLE_WQ` of WQ `operand`.
    pub(crate) fn enable_wq(&mut self, operand: u32) -> u8 {
        let Some(wq) = self.wqs.get(operand as usize).copied() else {
            return CMDSTS_INVAL_WQIDX;
        };
        if !self.regs.enabled {
            return CMDSTS_ERR_DEV_NOTEN;
        }
        let err = wq.enable_status();
        if err != CMDSTS_SUCCESS {
            return err;
        }
        // Found above: the error is never returned.
        let Some(wq) = self.wqs.get_mut(operand as usize) else {
            return CMDSTS_INVAL_WQIDX;
        };
        wq.set_enabled(true);
        CMDSTS_SUCCESS
    }

    /// Disable, drain, abort or reset the WQs of the operand.
    fn wq_command(&mut self, cmd: u32, operand: WqOperand) -> u8 {
        let base = operand.block() << 4;
        let mask = operand.wqs();
        let n = self.wqs.len() as u32;
        if (0..16).any(|bit| mask & (1 << bit) != 0 && base.saturating_add(bit) >= n) {
            return CMDSTS_INVAL_WQIDX;
        }
        if !self.regs.enabled {
            return CMDSTS_ERR_DEV_NOT_EN;
        }
        for bit in (0..16).filter(|bit| mask & (1 << bit) != 0) {
            // Below the WQ count: checked above.
            let Some(wq) = self.wqs.get_mut(base.saturating_add(bit) as usize) else {
                continue;
            };
            match cmd {
                CMD_DISABLE_WQ => wq.set_enabled(false),
                CMD_RESET_WQ => {
                    let size = wq.word::<WqcfgSize>();
                    *wq = WqCfg::reset();
                    wq.set_word(size);
                }
                // Drain, abort: nothing in flight.
                _ => {}
            }
        }
        CMDSTS_SUCCESS
    }

    /// What a command written to CMD needs from descriptors in flight
    /// before it may take effect, for a caller that runs them outside the
    /// model (see [`Dsa::portal_submit`]).
    pub fn command_quiesce(v: u32) -> Quiesce {
        match Command::from_raw(v).cmd() {
            CMD_ABORT_ALL | CMD_ABORT_WQ | CMD_RESET_DEVICE | CMD_RESET_WQ => Quiesce::Abort,
            CMD_DRAIN_ALL | CMD_DRAIN_WQ | CMD_DISABLE_WQ | CMD_DISABLE_DEVICE => Quiesce::Drain,
            _ => Quiesce::None,
        }
    }
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
    use super::{
        super::testing::*,
        *, //
    };
    use std::vec::Vec;

    #[test]
    fn fields_are_where_registers_h_puts_them() {
        let c = Command::zeroed().with_cmd(!0).with_operand(!0);
        assert_eq!(c.into_raw(), 0x1f << CMD_SHIFT | CMD_OPERAND_MASK);
        assert_eq!(Command::zeroed().with_int_req(true).into_raw(), CMD_INT_REQ);
        assert_eq!(CmdSts::zeroed().with_active(true).into_raw(), CMDSTS_ACTIVE);
        assert_eq!(CmdSts::zeroed().with_err(0x1ff).into_raw(), 0xff);
        // The idxd driver's WQ operand: BIT(id % 16) | (id / 16) << 16.
        let o = WqOperand::from_raw(1 << (37 % 16) | (37 / 16) << 16);
        assert_eq!((o.block(), o.wqs()), (2, 1 << 5));
        for (c, q) in [
            (CMD_ABORT_WQ, Quiesce::Abort),
            (CMD_DRAIN_WQ, Quiesce::Drain),
            (CMD_ENABLE_WQ, Quiesce::None),
        ] {
            let v = Command::zeroed().with_cmd(c).with_int_req(true).into_raw();
            assert_eq!(Dsa::<Vec<WqCfg>>::command_quiesce(v), q);
        }
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
}
