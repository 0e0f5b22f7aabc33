// SPDX-License-Identifier: GPL-2.0

//! Fuzz target `portal`: portal writes (BAR2) to a configured device.
//!
//! A device of 1 to 8 WQs (now and then up to 100) is configured through
//! its registers as the idxd driver does, with WQ sizes, modes and limits
//! from the input; then a sequence of operations: portal writes of
//! descriptors (raw, or built to run against the [`SparseMem`] pages the
//! input maps) at any BAR2 offset and length, through
//! [`Dsa::portal_write`] or the split [`Dsa::portal_submit`],
//! [`dsa_logic::engine::submit`] and [`Dsa::portal_complete`] the driver
//! uses, interleaved with register writes (WQ disable and enable, SWERR
//! acknowledgement, GENCTRL, resets).
//!
//! Descriptors are also written in 4- and 8-byte pieces, in an order,
//! with repeats and abandoned slots, all from the input.
//!
//! Checks, besides no panic or overflow in the logic:
//! - a write outside BAR2 or the WQs is `OutOfRange`, one not 4, 8 or 64
//!   bytes naturally aligned is `BadAccess`, and neither changes anything;
//! - a piece goes into its WQ's slot (bytes and mask), abandoning (and
//!   reporting) a slot pending elsewhere in the WQ; a whole descriptor
//!   abandons any; the piece that completes a slot submits exactly the
//!   bytes written, last value winning, and empties the slot; no other
//!   piece submits anything or touches SWERR;
//! - a descriptor for a disabled WQ (or device) is dropped and reported in
//!   SWERR (valid, error 0x30, the WQ's index) or marks its overflow;
//! - a submission carries the WQ's limits: at most 2 MiB transfers and
//!   512-descriptor batches, the device's vector count;
//! - effects name only the device's vectors;
//! - every memory access is within one page and does not wrap (asserted
//!   by [`SparseMem`]);
//! - the device state stays one that verifies (migrates).

#![no_main]
// "One time in n" reads best as `input.u8() % n == 0`.
#![allow(clippy::manual_is_multiple_of)]

use dsa_logic::{
    desc::{
        Descriptor,
        DESC_SIZE, //
    },
    engine::{
        self,
        SCRATCH_MIN, //
    },
    idxd::*,
    model::{
        AccessError,
        Dsa,
        Effects,
        PortalSlot,
        WqCfg,
        MAX_BATCH_SHIFT,
        MAX_XFER_SHIFT,
        SAVED_REGS_BYTES,
        SAVED_SLOT_BYTES,
        WQCFG_BYTES, //
    },
};
use dsa_logic_fuzz::{
    device::*,
    *, //
};
use libfuzzer_sys::fuzz_target;

type Device = Dsa<Vec<WqCfg>>;

fn snapshot(d: &Device) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let mut regs = vec![0u8; SAVED_REGS_BYTES];
    let mut wqcfg = vec![0u8; d.wqs().len() * WQCFG_BYTES as usize];
    let mut slots = vec![0u8; d.wqs().len() * SAVED_SLOT_BYTES];
    d.save(&mut regs, &mut wqcfg, &mut slots);
    (regs, wqcfg, slots)
}

/// Writes `data` at `off` through the split path or the one-call path,
/// checking a submission's limits; returns the effects and whether a
/// descriptor ran (was submitted), with its bytes.
fn write(
    d: &mut Device,
    off: u64,
    data: &[u8],
    split: bool,
    mem: &mut SparseMem,
    scratch: &mut [u8],
) -> Result<(Effects, Option<Descriptor>), AccessError> {
    let vectors = d.layout().msix.vectors;
    if split {
        d.portal_submit(off, data).map(|(sub, mut effects)| {
            let desc = sub.map(|sub| {
                assert_eq!(u64::from(sub.wq), off / (4 * PAGE));
                assert!(sub.limits.max_xfer <= 1 << MAX_XFER_SHIFT);
                assert!(sub.limits.max_batch <= 1 << MAX_BATCH_SHIFT);
                assert_eq!(sub.limits.vectors, vectors);
                let out = engine::submit(&sub.desc, &sub.limits, mem, scratch);
                effects.vectors |= d.portal_complete(sub.wq, &out).vectors;
                sub.desc
            });
            (effects, desc)
        })
    } else {
        d.portal_write(off, data, mem, scratch).map(|e| (e, None))
    }
}

/// Writes descriptor `desc` to the slot at `off` in 4- or 8-byte pieces in
/// an order from the input (some repeated with other values first, some
/// left out), checking every piece against the slot's state before it.
fn pieces(
    d: &mut Device,
    input: &mut Input<'_>,
    off: u64,
    desc: &[u8; DESC_SIZE],
    mem: &mut SparseMem,
    scratch: &mut [u8],
) {
    let wq = (off / (4 * PAGE)) as usize;
    let piece = if input.bool() { 4 } else { 8 };
    let mut order: Vec<usize> = (0..DESC_SIZE / piece).collect();
    for i in (1..order.len()).rev() {
        order.swap(i, input.below(i + 1));
    }
    let mut writes: Vec<(usize, Vec<u8>)> = Vec::new();
    for &i in &order {
        if input.u8() % 8 == 0 {
            // A stale value first: the later write wins.
            writes.push((i, input.bytes(piece).to_vec()));
        }
        if input.u8() % 16 != 0 {
            writes.push((i, desc[i * piece..][..piece].to_vec()));
        }
    }
    for (i, bytes) in writes {
        if bytes.len() != piece {
            continue;
        }
        let at = off + (i * piece) as u64;
        let before: PortalSlot = d.wqs()[wq].slot;
        let target_on = d.enabled() && d.wqs()[wq].enabled();
        let swerr0 = swerr(d);
        let split = input.bool();
        let logged = mem.log.len();
        let (effects, ran) = write(d, at, &bytes, split, mem, scratch)
            .unwrap_or_else(|e| panic!("piece of {piece} at {at:#x} refused: {e:?}"));
        let slot_off = (off % (4 * PAGE)) as u32;
        let mut want = if before.mask != 0 && before.offset != slot_off {
            let a = effects.abandoned.expect("abandoning a slot is reported");
            assert_eq!(
                (a.wq as usize, a.offset, a.written),
                (wq, before.offset, before.written())
            );
            PortalSlot::EMPTY
        } else {
            assert_eq!(effects.abandoned, None, "nothing was abandoned");
            before
        };
        want.offset = slot_off;
        want.bytes[i * piece..][..piece].copy_from_slice(&bytes);
        want.mask |= ((1u32 << (piece / 4)) - 1) << (i * piece / 4);
        let after = d.wqs()[wq].slot;
        if want.mask == 0xffff {
            assert_eq!(after, PortalSlot::EMPTY, "a complete slot stays pending");
            if split {
                assert_eq!(
                    ran.is_some(),
                    target_on,
                    "the complete slot was not submitted"
                );
                if let Some(desc) = ran {
                    assert_eq!(
                        desc,
                        Descriptor::parse(&want.bytes),
                        "submitted other bytes"
                    );
                }
            }
        } else {
            assert_eq!(after, want, "the slot does not hold the pieces");
            assert!(ran.is_none(), "an incomplete slot submitted");
            assert_eq!(mem.log.len(), logged, "an incomplete slot touched memory");
            assert_eq!(swerr(d), swerr0, "an incomplete slot touched SWERR");
        }
    }
}

fn swerr(d: &Device) -> u64 {
    let mut b = [0u8; 8];
    d.bar0_read(SWERR_OFFSET, &mut b).expect("SWERR reads");
    u64::from_le_bytes(b)
}

/// A descriptor to write: raw, or one the engine runs against `mapped`.
fn descriptor(input: &mut Input<'_>, mapped: &[u64], vectors: u16) -> [u8; DESC_SIZE] {
    let mut raw = [0u8; DESC_SIZE];
    if input.u8() % 4 == 0 {
        input.fill(&mut raw);
        return raw;
    }
    let any = input.u8();
    let opcode = input.choose(&[
        OPCODE_NOOP,
        OPCODE_MEMMOVE,
        OPCODE_MEMMOVE,
        OPCODE_MEMFILL,
        OPCODE_COMPARE,
        OPCODE_CRCGEN,
        OPCODE_BATCH,
        OPCODE_DRAIN,
        any,
    ]);
    let mut flags = OP_FLAG_CRAV | OP_FLAG_RCR;
    if input.bool() {
        flags |= OP_FLAG_RCI;
    }
    if input.u8() % 8 == 0 {
        flags = input.u32() & 0xff_ffff;
    }
    let cr = address(input, mapped) & !31;
    let (a1, a2) = match opcode {
        OPCODE_NOOP | OPCODE_DRAIN => (0, 0),
        OPCODE_CRCGEN => (address(input, mapped), 0),
        OPCODE_BATCH => (address(input, mapped) & !63, 0),
        _ => (address(input, mapped), address(input, mapped)),
    };
    let size = match opcode {
        OPCODE_NOOP | OPCODE_DRAIN => 0,
        OPCODE_BATCH => u32::from(input.u8() % 34),
        _ => match input.u8() % 4 {
            0 => input.u32(),
            _ => u32::from(input.u16()) % (2 * PAGE as u32) + 1,
        },
    };
    let int_handle = match input.u8() % 4 {
        0 => input.u16(),
        _ => u16::from(input.u8()) % (vectors + 1),
    };
    Descriptor::encode(opcode, flags, cr, a1, a2, size, int_handle)
}

/// A BAR2 offset: a WQ's portal, mostly.
fn portal_offset(input: &mut Input<'_>, d: &Device) -> u64 {
    let wqs = u64::from(d.layout().wqs);
    match input.u8() % 8 {
        0 => input.u64(),
        1 => d.layout().bar2_size - 64 + u64::from(input.u8() % 2) * 64,
        2 => (input.u64() % (wqs + 1)) * 4 * PAGE + u64::from(input.u16()) % (4 * PAGE),
        _ => {
            (u64::from(input.u8()) % wqs) * 4 * PAGE
                + u64::from(input.u8() % 4) * PAGE
                + u64::from(input.u8() % 64) * 64
        }
    }
}

fuzz_target!(init: overflow_checks_are_on(), |data: &[u8]| {
    let mut input = Input::new(data);
    let wqs = match input.u8() % 16 {
        0 => 1 + input.below(100),
        n => usize::from(n % 8) + 1,
    };
    let mut d = Dsa::new(vec![WqCfg::reset(); wqs]);
    let layout = *d.layout();
    let vectors = layout.msix.vectors;

    // Memory: a few pages.
    let mut mem = SparseMem::default();
    let mut bases = Vec::new();
    for _ in 0..input.below(5) {
        let base = page_address(&mut input, &bases);
        let perm = Perm {
            read: input.u8() % 8 != 0,
            write: input.u8() % 8 != 0,
        };
        let i = mem.map(base, perm, |_| {});
        let mut page = [0u8; PAGE as usize];
        page_contents(&mut input, &mut page);
        *mem.pages[i].data = page;
        if !bases.contains(&mem.pages[i].base) {
            bases.push(mem.pages[i].base);
        }
    }

    // Configuration, as the idxd driver does it.
    for wq in 0..input.below(wqs.min(4) + 1) as u64 {
        configure_wq(&mut d, &mut input, wq);
    }
    if input.u8() % 8 != 0 {
        cmd(&mut d, CMD_ENABLE_DEVICE, 0);
    }
    for wq in 0..input.below(wqs.min(4) + 1) as u32 {
        cmd(&mut d, CMD_ENABLE_WQ, wq);
    }
    if input.bool() {
        w32(&mut d, GENCTRL_OFFSET, GENCTRL_SOFTERR_INT_EN);
    }

    let mut scratch = vec![0u8; SCRATCH_MIN + input.below(3) * PAGE as usize];
    let mut ops = 0;
    while !input.is_empty() && ops < 32 {
        ops += 1;
        mem.log.clear();
        match input.u8() % 8 {
            0..=4 => {
                let off = portal_offset(&mut input, &d);
                let desc = descriptor(&mut input, &bases, vectors);
                let len = match input.u8() % 16 {
                    0 => input.below(DESC_SIZE + 2),
                    _ => DESC_SIZE,
                };
                let data = &desc[..len.min(DESC_SIZE)];
                let wq = off / (4 * PAGE);
                let want = if off >= layout.bar2_size || wq >= wqs as u64 {
                    Some(AccessError::OutOfRange)
                } else if !matches!(data.len(), 4 | 8 | DESC_SIZE) || off % data.len() as u64 != 0 {
                    Some(AccessError::BadAccess)
                } else {
                    None
                };
                let whole = data.len() == DESC_SIZE;
                let target_on =
                    want.is_none() && whole && d.enabled() && d.wqs()[wq as usize].enabled();
                let (before, swerr0) = (snapshot(&d), swerr(&d));
                let split = input.bool();
                let r = write(&mut d, off, data, split, &mut mem, &mut scratch);
                if let (Ok((_, ran)), true) = (&r, split) {
                    if whole {
                        assert_eq!(ran.is_some(), target_on, "submission for a disabled WQ");
                    }
                }
                let r = r.map(|(e, _)| e);
                assert_eq!(r.err(), want, "portal write of {len} at {off:#x}");
                match r {
                    Err(_) => assert!(snapshot(&d) == before, "a refused portal write changed the state"),
                    Ok(effects) => {
                        if vectors < 64 {
                            assert_eq!(effects.vectors >> vectors, 0, "effects name a vector the device lacks");
                        }
                        if !whole {
                            // A lone piece; `pieces` checks them closely.
                        } else if !target_on {
                            assert!(mem.log.is_empty(), "a dropped descriptor ran");
                            let s = swerr(&d);
                            if swerr0 & SWERR_VALID != 0 {
                                assert_ne!(s & SWERR_OVERFLOW, 0, "second error without overflow");
                            } else {
                                assert_eq!(s & SWERR_VALID, SWERR_VALID);
                                assert_eq!((s >> SWERR_ERROR_SHIFT) & 0xff, u64::from(SWERR_WQ_NOT_ENABLED));
                                assert_eq!((s >> SWERR_WQ_IDX_SHIFT) & 0xff, wq & 0xff);
                            }
                        }
                    }
                }
            }
            5 if input.bool() => {
                let off = portal_offset(&mut input, &d) & !63;
                if off < layout.bar2_size && off / (4 * PAGE) < wqs as u64 {
                    let desc = descriptor(&mut input, &bases, vectors);
                    pieces(&mut d, &mut input, off, &desc, &mut mem, &mut scratch);
                }
            }
            5 => {
                // Acknowledge SWERR, or the interrupt cause.
                w32(&mut d, SWERR_OFFSET, SWERR_ACK as u32);
                w32(&mut d, INTCAUSE_OFFSET, !0);
            }
            6 => {
                let c = input.choose(&[
                    CMD_DISABLE_WQ,
                    CMD_ENABLE_WQ,
                    CMD_RESET_WQ,
                    CMD_DRAIN_ALL,
                    CMD_ABORT_WQ,
                    CMD_DISABLE_DEVICE,
                    CMD_ENABLE_DEVICE,
                    CMD_RESET_DEVICE,
                ]);
                let operand = match c {
                    CMD_ENABLE_WQ => u32::from(input.u8()) % wqs as u32,
                    _ => u32::from(input.u16()),
                };
                cmd(&mut d, c, operand);
            }
            _ => {
                // Reconfigure a WQ (only taken while it is disabled).
                let wq = input.below(wqs) as u64;
                configure_wq(&mut d, &mut input, wq);
            }
        }
        let (regs, wqcfg, slots) = snapshot(&d);
        d.verify(&regs, &wqcfg, Some(&slots))
            .unwrap_or_else(|e| panic!("a reachable state does not verify: {e}"));
    }
});
