// SPDX-License-Identifier: GPL-2.0

//! Fuzz target `bar0`: sequences of BAR0 register accesses.
//!
//! Explores [`Dsa::bar0_read`] and [`Dsa::bar0_write`] on a device of 1 to
//! 300 WQs (more than 255 and more than 64 vectors now and then): reads
//! and writes of any size at any offset, mostly at the registers, the
//! GRPCFG, WQCFG and MSI-X permission tables and the BAR's end, with
//! values that are commands (with WQ operands), WQ configurations or
//! anything; bus mastering on or off; resets; save, verify and load.
//!
//! Checks, besides no panic or overflow in the logic:
//! - the layout is `Layout::new(wqs)` and its invariants hold: power-of-two
//!   BARs, the MSI-X table after WQCFG and the PBA after it, all inside
//!   BAR0, four portals per WQ inside BAR2;
//! - a read of 1, 2, 4 or 8 bytes, naturally aligned, inside the BAR never
//!   fails, and reads what two reads of its halves do; a write of 4 or 8
//!   bytes, naturally aligned, inside the BAR never fails; any other access
//!   fails with the right error, and a refused write changes nothing;
//! - a write affects at most vector 0 (commands and errors);
//! - capabilities (VER, GENCAP, WQCAP, OPCAP, TABLE, CMDCAP, GRPCFG) never
//!   change; GENSTS says what `enabled()` says;
//! - an enabled WQ implies an enabled device, whose WQ sizes fit WQCAP;
//! - the saved state always verifies, and loading it into a new device
//!   gives the same registers (every state the registers reach migrates).

#![no_main]
// "One time in n" reads best as `input.u8() % n == 0`.
#![allow(clippy::manual_is_multiple_of)]

use dsa_logic::{
    idxd::*,
    model::{
        AccessError,
        Dsa,
        Layout,
        WqCfg,
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

/// Offsets worth hitting: every register, the tables' edges.
const REGS: [u64; 24] = [
    VER_OFFSET,
    GENCAP_OFFSET,
    WQCAP_OFFSET,
    GRPCAP_OFFSET,
    ENGCAP_OFFSET,
    OPCAP_OFFSET,
    OPCAP_OFFSET + 24,
    TABLE_OFFSET,
    TABLE_OFFSET + 8,
    GENCFG_OFFSET,
    GENCTRL_OFFSET,
    GENSTS_OFFSET,
    INTCAUSE_OFFSET,
    CMD_OFFSET,
    CMDSTS_OFFSET,
    CMDCAP_OFFSET,
    SWERR_OFFSET,
    SWERR_OFFSET + 24,
    0x400,
    0x438,
    0x600,
    0x7f8,
    0x800,
    0x1000,
];

/// An offset into (or just past) BAR0.
fn offset(input: &mut Input<'_>, d: &Device) -> u64 {
    let size = d.layout().bar0_size;
    let wqs = u64::from(d.layout().wqs);
    let table = u64::from(d.layout().msix.table);
    let base = match input.u8() % 8 {
        0..=2 => input.choose(&REGS),
        3 | 4 => {
            0x1000 + (input.u16() as u64 % (wqs + 1)) * WQCFG_BYTES + u64::from(input.u8() % 16) * 4
        }
        5 => match input.u8() % 4 {
            0 => table,
            1 => u64::from(d.layout().msix.pba),
            2 => size - 8,
            _ => size,
        },
        6 => u64::from(input.u16()) % size,
        _ => input.u64(),
    };
    match input.u8() % 8 {
        0 => base.wrapping_add(u64::from(input.u8() % 8)),
        1 => base.wrapping_sub(u64::from(input.u8() % 8)),
        _ => base,
    }
}

/// A value to write at `off`: a command, a WQ configuration, or anything.
fn value(input: &mut Input<'_>, off: u64, wqs: u32) -> u64 {
    if off & !7 == CMD_OFFSET && input.u8() % 4 != 0 {
        let cmd = u32::from(input.u8() % 12);
        let operand = match cmd {
            CMD_ENABLE_WQ if input.bool() => u32::from(input.u16()) % (wqs + 1),
            CMD_DISABLE_WQ..=CMD_RESET_WQ if input.bool() => {
                // A mask of 16 WQs and which 16.
                u32::from(input.u16()) | u32::from(input.u8() % 17) << 16
            }
            _ => input.u32() & CMD_OPERAND_MASK,
        };
        let int = if input.bool() { CMD_INT_REQ } else { 0 };
        return u64::from(cmd << CMD_SHIFT | operand | int);
    }
    match input.u8() % 8 {
        0 => u64::from(input.u8() % 16),
        1 => u64::from(WQCFG_MODE_DEDICATED | (u32::from(input.u8() % 16)) << WQCFG_PRIORITY_SHIFT),
        2 => u64::from(input.u8() % 22) | u64::from(input.u8() % 12) << WQCFG_MAX_BATCH_SHIFT,
        3 => SWERR_ACK,
        _ => input.u64(),
    }
}

/// Everything a read shows (quadword by quadword), which a read cannot
/// change.
fn snapshot(d: &Device) -> (Vec<u8>, Vec<u8>) {
    let mut regs = vec![0u8; SAVED_REGS_BYTES];
    let mut wqcfg = vec![0u8; d.wqs().len() * WQCFG_BYTES as usize];
    // Only portal writes fill slots, and this target makes none.
    let mut slots = vec![0u8; d.wqs().len() * SAVED_SLOT_BYTES];
    d.save(&mut regs, &mut wqcfg, &mut slots);
    assert!(
        slots.iter().all(|&b| b == 0),
        "a slot without a portal write"
    );
    (regs, wqcfg)
}

/// The whole state as reads show it (cheaper than [`snapshot`] on big
/// devices): the WQ table and every register quadword, the MSI-X
/// permission table included.
fn visible(d: &Device) -> (Vec<WqCfg>, Vec<u64>) {
    let regs = (0..0x100)
        .step_by(8)
        .chain((0x600..0x800).step_by(8))
        .map(|o| read(d, o, 8).expect("registers read"))
        .collect();
    (d.wqs().to_vec(), regs)
}

fn read(d: &Device, off: u64, len: usize) -> Result<u64, AccessError> {
    let mut b = [0u8; 8];
    d.bar0_read(off, &mut b[..len])?;
    Ok(u64::from_le_bytes(b))
}

/// The capability registers, which nothing changes.
fn caps(d: &Device) -> Vec<u64> {
    let mut offs = vec![
        VER_OFFSET,
        GENCAP_OFFSET,
        WQCAP_OFFSET,
        GRPCAP_OFFSET,
        ENGCAP_OFFSET,
        TABLE_OFFSET,
        TABLE_OFFSET + 8,
        CMDCAP_OFFSET,
    ];
    offs.extend((0..4).map(|q| OPCAP_OFFSET + 8 * q));
    offs.extend((0..8).map(|q| 0x400 + 8 * q));
    offs.iter()
        .map(|&o| read(d, o, 8).expect("capability reads"))
        .collect()
}

fn check_layout(l: &Layout, wqs: u32) {
    assert_eq!(*l, Layout::new(wqs));
    assert!(l.bar0_size.is_power_of_two() && l.bar2_size.is_power_of_two());
    let wqcfg_end = 0x1000 + u64::from(wqs) * WQCFG_BYTES;
    let (table, pba) = (u64::from(l.msix.table), u64::from(l.msix.pba));
    let vectors = u64::from(l.msix.vectors);
    assert_eq!(vectors, u64::from(wqs.min(63)) + 1, "vectors");
    assert!(
        table >= wqcfg_end && table % 0x1000 == 0,
        "MSI-X table overlaps WQCFG"
    );
    assert!(table + 16 * vectors <= pba, "PBA overlaps the MSI-X table");
    assert!(
        pba % 8 == 0 && pba + vectors.div_ceil(64) * 8 <= l.bar0_size,
        "PBA outside BAR0"
    );
    assert!(
        u64::from(wqs) * 4 * 4096 <= l.bar2_size,
        "portals outside BAR2"
    );
}

/// The invariants of any state the registers reach; with `full`, also the
/// capabilities and a migration of the state to a new device.
fn check_state(d: &Device, caps0: &[u64], full: bool) {
    let gensts = read(d, GENSTS_OFFSET, 4).expect("GENSTS reads");
    assert_eq!(gensts == 1, d.enabled(), "GENSTS and enabled() disagree");
    assert!(gensts <= 1);
    let total: u64 = d.wqs().iter().map(|w| u64::from(w.size())).sum();
    if d.wqs().iter().any(|w| w.enabled()) {
        assert!(d.enabled(), "a WQ is enabled on a disabled device");
    }
    if d.enabled() {
        let wqcap = read(d, WQCAP_OFFSET, 8).expect("WQCAP reads");
        assert!(
            total <= wqcap & 0xffff,
            "enabled with more WQ entries than WQCAP"
        );
    }
    let (regs, wqcfg) = snapshot(d);
    d.verify(&regs, &wqcfg, None)
        .unwrap_or_else(|e| panic!("a reachable state does not verify: {e}"));
    if !full {
        return;
    }
    assert_eq!(caps(d), caps0, "a capability changed");
    let mut other = Dsa::new(vec![WqCfg::reset(); d.wqs().len()]);
    other
        .load(&regs, &wqcfg, None)
        .expect("a verified state loads");
    assert_eq!(snapshot(&other), (regs, wqcfg), "load then save differs");
    assert_eq!(other.wqs(), d.wqs());
}

fuzz_target!(init: overflow_checks_are_on(), |data: &[u8]| {
    let mut input = Input::new(data);
    let wqs = match input.u8() % 16 {
        0 => 1 + input.below(300),
        n => usize::from(n % 8) + 1,
    };
    let mut d = Dsa::new(vec![WqCfg::reset(); wqs]);
    check_layout(d.layout(), wqs as u32);
    let caps0 = caps(&d);
    let size = d.layout().bar0_size;
    if input.bool() {
        // The usual start: some WQs configured, the device and them enabled.
        for wq in 0..input.below(wqs.min(4) + 1) as u64 {
            configure_wq(&mut d, &mut input, wq);
        }
        cmd(&mut d, CMD_ENABLE_DEVICE, 0);
        for wq in 0..input.below(wqs.min(4) + 1) as u32 {
            cmd(&mut d, CMD_ENABLE_WQ, wq);
        }
    }
    let mut ops = 0;
    while !input.is_empty() && ops < 64 {
        ops += 1;
        let op = input.u8();
        let off = offset(&mut input, &d);
        let len = input.choose(&[1usize, 2, 4, 8, 4, 8, 0, 3, 16]);
        let in_range = off.checked_add(len as u64).is_some_and(|e| e <= size);
        let aligned = |sizes: &[usize]| sizes.contains(&len) && off % len as u64 == 0;
        let want_err = |sizes: &[usize]| {
            if !in_range {
                Some(AccessError::OutOfRange)
            } else if !aligned(sizes) {
                Some(AccessError::BadAccess)
            } else {
                None
            }
        };
        match op % 8 {
            0..=2 => {
                // (A read takes `&self`: it cannot change the state.)
                let mut buf = vec![0u8; len];
                let r = d.bar0_read(off, &mut buf);
                assert_eq!(r.err(), want_err(&[1, 2, 4, 8]), "read of {len} at {off:#x}");
                if r.is_ok() && len > 1 {
                    // Two halves read the same bytes.
                    let half = len / 2;
                    let lo = read(&d, off, half).expect("lower half reads");
                    let hi = read(&d, off + half as u64, half).expect("upper half reads");
                    let whole = u64::from_le_bytes({
                        let mut b = [0u8; 8];
                        b[..len].copy_from_slice(&buf);
                        b
                    });
                    assert_eq!(whole, lo | hi << (8 * half), "halves differ at {off:#x}");
                }
                continue;
            }
            3..=6 => {
                let v = value(&mut input, off, wqs as u32).to_le_bytes();
                let bus_master = input.u8() % 8 != 0;
                let len = len.min(8);
                let want = if off.checked_add(len as u64).is_none_or(|e| e > size) {
                    Some(AccessError::OutOfRange)
                } else if ![4, 8].contains(&len) || off % len as u64 != 0 {
                    Some(AccessError::BadAccess)
                } else {
                    None
                };
                // What a refused write must leave (when one is expected).
                let before = want.map(|_| visible(&d));
                let r = d.bar0_write(off, &v[..len], bus_master);
                assert_eq!(r.err(), want, "write of {len} at {off:#x}");
                match r {
                    Ok(e) => assert_eq!(e.vectors & !1, 0, "a register write signalled a WQ vector"),
                    Err(_) => {
                        assert!(Some(visible(&d)) == before, "a refused write changed the state");
                        continue;
                    }
                }
            }
            _ => match input.u8() % 4 {
                0 => d.reset(),
                1 => {
                    // Loading a state of another device of the same size.
                    let mut other = Dsa::new(vec![WqCfg::reset(); wqs]);
                    for wq in 0..input.below(wqs.min(4) + 1) as u64 {
                        configure_wq(&mut other, &mut input, wq);
                    }
                    cmd(&mut other, CMD_ENABLE_DEVICE, 0);
                    cmd(&mut other, CMD_ENABLE_WQ, 0);
                    let (regs, wqcfg) = snapshot(&other);
                    d.load(&regs, &wqcfg, None).expect("a reachable state loads");
                    assert!(snapshot(&d) == (regs, wqcfg));
                }
                _ => {
                    // A mutated saved state: loaded only if it verifies.
                    let (mut regs, mut wqcfg) = snapshot(&d);
                    for _ in 0..1 + input.below(4) {
                        let at = input.below(regs.len() + wqcfg.len());
                        let x = input.u8();
                        if at < regs.len() {
                            regs[at] ^= x;
                        } else {
                            wqcfg[at - regs.len()] ^= x;
                        }
                    }
                    match input.u8() % 16 {
                        // Of another size.
                        0 => {
                            regs.pop();
                        }
                        1 => wqcfg.truncate(wqcfg.len() - 64),
                        2 => wqcfg.push(0),
                        _ => {}
                    }
                    let before = visible(&d);
                    let verdict = d.verify(&regs, &wqcfg, None);
                    match d.load(&regs, &wqcfg, None) {
                        Ok(()) => {
                            assert!(verdict.is_ok());
                            assert!(snapshot(&d) == (regs, wqcfg));
                        }
                        Err(e) => {
                            assert_eq!(verdict, Err(e), "verify and load disagree");
                            let _ = show(&e);
                            assert!(visible(&d) == before, "a refused load changed the state");
                        }
                    }
                }
            },
        }
        // After every change; on big devices (slow to save), every 8th.
        if wqs <= 16 || ops % 8 == 0 {
            check_state(&d, &caps0, false);
        }
    }
    check_state(&d, &caps0, true);
});
