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
//! Checks, besides no panic or overflow in the logic:
//! - a write outside BAR2 or the WQs is `OutOfRange`, one not 64 bytes at
//!   a 64-byte offset is `BadAccess`, and neither changes anything;
//! - a descriptor for a disabled WQ (or device) is dropped and reported in
//!   SWERR (valid, error 0x30, the WQ's index) or marks its overflow;
//! - a submission carries the WQ's limits: at most 1 MiB transfers and
//!   1024-descriptor batches, the device's vector count;
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
        WqCfg,
        MAX_BATCH_SHIFT,
        MAX_XFER_SHIFT,
        SAVED_REGS_BYTES,
        WQCFG_BYTES, //
    },
};
use dsa_logic_fuzz::{
    device::*,
    *, //
};
use libfuzzer_sys::fuzz_target;

type Device = Dsa<Vec<WqCfg>>;

fn snapshot(d: &Device) -> (Vec<u8>, Vec<u8>) {
    let mut regs = vec![0u8; SAVED_REGS_BYTES];
    let mut wqcfg = vec![0u8; d.wqs().len() * WQCFG_BYTES as usize];
    d.save(&mut regs, &mut wqcfg);
    (regs, wqcfg)
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
                } else if data.len() != DESC_SIZE || off % 64 != 0 {
                    Some(AccessError::BadAccess)
                } else {
                    None
                };
                let target_on = want.is_none() && d.enabled() && d.wqs()[wq as usize].enabled();
                let (before, swerr0) = (snapshot(&d), swerr(&d));
                let split = input.bool();
                let r = if split {
                    d.portal_submit(off, data).map(|(sub, mut effects)| {
                        assert_eq!(sub.is_some(), target_on, "submission for a disabled WQ");
                        if let Some(sub) = sub {
                            assert_eq!(u64::from(sub.wq), wq);
                            assert!(sub.limits.max_xfer <= 1 << MAX_XFER_SHIFT);
                            assert!(sub.limits.max_batch <= 1 << MAX_BATCH_SHIFT);
                            assert_eq!(sub.limits.vectors, vectors);
                            let out = engine::submit(&sub.desc, &sub.limits, &mut mem, &mut scratch);
                            effects.vectors |= d.portal_complete(sub.wq, &out).vectors;
                        }
                        effects
                    })
                } else {
                    d.portal_write(off, data, &mut mem, &mut scratch)
                };
                assert_eq!(r.err(), want, "portal write of {len} at {off:#x}");
                match r {
                    Err(_) => assert!(snapshot(&d) == before, "a refused portal write changed the state"),
                    Ok(effects) => {
                        if vectors < 64 {
                            assert_eq!(effects.vectors >> vectors, 0, "effects name a vector the device lacks");
                        }
                        if !target_on {
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
        let (regs, wqcfg) = snapshot(&d);
        d.verify(&regs, &wqcfg)
            .unwrap_or_else(|e| panic!("a reachable state does not verify: {e}"));
    }
});
