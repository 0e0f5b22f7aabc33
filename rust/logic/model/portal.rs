// SPDX-License-Identifier: GPL-2.0

//! The portals of BAR2: a WQ takes a descriptor written to any of its
//! portal pages, whole or in pieces ([`PortalSlot`]), and the caller runs
//! what it takes.

use super::super::{
    desc::{
        Descriptor,
        DESC_ALIGN_MASK,
        DESC_SIZE, //
    },
    engine::{
        Outcome,
        SwError,
        WqLimits, //
    },
    idxd::*,
};
// For Dsa::portal_write.
#[cfg(not(MODULE))]
use super::super::engine::{
    self,
    Memory, //
};
use super::{
    slot::{
        PortalSlot,
        SLOT_FULL, //
    },
    AccessError,
    Dsa,
    Effects, //
    WqTable,
};

/// The bytes of portal space of one WQ: its [`PORTALS_PER_WQ`] pages.
pub(crate) const WQ_PORTAL_SPAN: u64 = PORTALS_PER_WQ * PORTAL_SIZE;

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

impl<W: WqTable> Dsa<W> {
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
        let Some(entry) = self.wqs.get_mut(wq as usize) else {
            return Err(AccessError::OutOfRange);
        };
        let pending = &mut entry.slot;
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
                let Some(piece) = pending
                    .bytes
                    .get_mut(at..)
                    .and_then(|rest| rest.get_mut(..data.len()))
                else {
                    return Err(AccessError::BadAccess);
                };
                piece.copy_from_slice(data);
                pending.offset = slot_offset;
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
        let cfg = *entry;
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
    #[cfg(not(MODULE))]
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
}

#[cfg(test)]
mod tests {
    use super::super::super::{
        desc::CompletionRecord,
        engine::{
            testmem::TestMem,
            SCRATCH_MIN, //
        },
    };
    use super::{
        super::{
            testing::*,
            wqcfg::WqCfg, //
        },
        *, //
    };
    use std::{
        vec,
        vec::Vec, //
    };

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
}
