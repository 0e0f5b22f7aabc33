// SPDX-License-Identifier: GPL-2.0

//! Fuzz target `engine`: descriptor decode and execution.
//!
//! Explores [`engine::submit`] with one 64-byte descriptor (raw bytes, or
//! fields drawn from what the engine tells apart: supported opcodes, valid
//! flags, addresses at page edges) against a [`SparseMem`] of up to six
//! pages mapped anywhere in the 64-bit space (the top pages, where buffers
//! end at or wrap past 2^64, most often), read-only, write-only or both,
//! whose contents may hold a batch's descriptor list. The WQ limits, the
//! scratch buffer's size and when `stop()` says yes come from the input.
//!
//! Checks, besides no panic or overflow in the logic:
//! - every access is non-empty, within one 4 KiB page, does not wrap past
//!   2^64, and after `stop()` said yes only completion records are written
//!   (asserted by [`SparseMem`]);
//! - `Descriptor::parse` and `Descriptor::encode` agree;
//! - a scratch buffer below `SCRATCH_MIN` means no access and no outcome;
//! - the outcome's vectors are below `limits.vectors`; a single
//!   descriptor signals at most its own `int_handle`, only with RCI;
//! - a completion record is written as 31 bytes then the status byte, last;
//!   one is written when RCR asks for it unless the work was stopped; its
//!   page fault, if any, names a page the access was not allowed on (or a
//!   buffer that wraps), with no more bytes completed than the size;
//! - on success, the data is right: MEMMOVE and DUALCAST copy what the
//!   source held, MEMFILL repeats the pattern, CRCGEN and COPY_CRC give the
//!   CRC-32C of a bitwise reference, COMPARE and COMPVAL find the first
//!   difference.

#![no_main]
// "One time in n" reads best as `input.u8() % n == 0`.
#![allow(clippy::manual_is_multiple_of)]

use dsa_logic::{
    desc::{
        CompletionRecord,
        Descriptor,
        CR_SIZE,
        DESC_SIZE, //
    },
    engine::{
        self,
        WqLimits,
        SCRATCH_MIN,
        SUPPORTED_OPCODES, //
    },
    idxd::*,
};
use dsa_logic_fuzz::*;
use libfuzzer_sys::fuzz_target;

/// Flags the engine tells apart.
const FLAGS: [u32; 12] = [
    OP_FLAG_FENCE,
    OP_FLAG_BOF,
    OP_FLAG_CRAV,
    OP_FLAG_RCR,
    OP_FLAG_RCI,
    OP_FLAG_CRSTS,
    OP_FLAG_CR,
    OP_FLAG_CC,
    OP_FLAG_STORD,
    OP_FLAG_DSTS,
    0x40,
    0x01_0000,
];

/// A descriptor from the input: raw bytes, or fields.
fn descriptor(input: &mut Input<'_>, mapped: &[u64], in_list: bool) -> [u8; DESC_SIZE] {
    let mut raw = [0u8; DESC_SIZE];
    if input.u8() % 4 == 0 {
        input.fill(&mut raw);
        return raw;
    }
    let opcode = match input.u8() % 16 {
        0 => input.u8(),
        n => SUPPORTED_OPCODES[usize::from(n) % SUPPORTED_OPCODES.len()],
    };
    if in_list && opcode == OPCODE_BATCH && input.bool() {
        // Keep nested batches rare: they only fail.
        return raw;
    }
    let mut flags = OP_FLAG_CRAV | OP_FLAG_RCR;
    let pick = input.u16();
    for (i, f) in FLAGS.iter().enumerate() {
        if pick & (1 << i) != 0 {
            flags ^= f;
        }
    }
    let cr = match input.u8() % 4 {
        0 => address(input, mapped),
        _ => address(input, mapped) & !31,
    };
    // MEMFILL's pattern is addr1, COMPVAL's addr2: any value.
    let addr1 = match opcode {
        OPCODE_MEMFILL if input.bool() => input.u64(),
        _ => address(input, mapped),
    };
    let addr2 = match opcode {
        OPCODE_COMPVAL if input.bool() => input.u64(),
        _ => address(input, mapped),
    };
    let size = match input.u8() % 8 {
        0 => input.u32(),
        1 => u32::from(input.u8() % 33),
        2 => PAGE as u32 + u32::from(input.u8()) - 128,
        3 => input.u32() % (1 << 21),
        _ => u32::from(input.u16()) % (3 * PAGE as u32) + 1,
    };
    let int_handle = match input.u8() % 4 {
        0 => input.u16(),
        _ => u16::from(input.u8() % 66),
    };
    raw = Descriptor::encode(opcode, flags, cr, addr1, addr2, size, int_handle);
    match opcode {
        OPCODE_DUALCAST => {
            // The second destination: same offset in its page, mostly.
            let d2 = if input.u8() % 4 == 0 {
                address(input, mapped)
            } else {
                (address(input, mapped) & !(PAGE - 1)) | (addr2 & (PAGE - 1))
            };
            raw[40..48].copy_from_slice(&d2.to_le_bytes());
        }
        OPCODE_CRCGEN | OPCODE_COPY_CRC => {
            if input.bool() {
                raw[40..44].copy_from_slice(&input.u32().to_le_bytes());
            }
            if opcode == OPCODE_CRCGEN && input.u8() % 4 != 0 {
                // addr2 is reserved for CRCGEN.
                raw[24..32].fill(0);
            }
        }
        OPCODE_COMPARE | OPCODE_COMPVAL => raw[40] = input.u8() & 1,
        OPCODE_NOOP | OPCODE_DRAIN if input.u8() % 4 != 0 => raw[16..36].fill(0),
        OPCODE_BATCH if input.u8() % 4 != 0 => {
            raw[24..32].fill(0);
            let list = address(input, mapped) & !63;
            raw[16..24].copy_from_slice(&list.to_le_bytes());
            let n = u32::from(input.u8() % 40);
            raw[32..36].copy_from_slice(&n.to_le_bytes());
        }
        _ => {}
    }
    if input.u8() % 8 == 0 {
        // A stray byte anywhere.
        raw[input.below(DESC_SIZE)] ^= input.u8() | 1;
    }
    raw
}

/// WQ limits from the input: the model's (powers of two) mostly.
fn limits(input: &mut Input<'_>) -> WqLimits {
    let how = input.u8();
    let max_xfer = if how & 1 == 0 {
        1u64 << (input.u8() % 33)
    } else {
        input.u64()
    };
    let max_batch = if how & 2 == 0 {
        1u32 << (input.u8() % 11)
    } else {
        input.u32()
    };
    let mut op_config = engine::opcap();
    if how & 4 != 0 {
        for q in op_config.iter_mut() {
            *q = input.u64();
        }
    } else if how & 8 != 0 {
        op_config = [!0; 4];
    }
    let vectors = match input.u8() % 4 {
        0 => input.u16(),
        1 => 64,
        _ => u16::from(input.u8() % 66),
    };
    WqLimits {
        max_xfer,
        max_batch,
        op_config,
        vectors,
    }
}

/// The last two accesses, if they wrote the completion record at `cr`:
/// its bytes then.
fn record_written(mem: &SparseMem, cr: u64) -> Option<CompletionRecord> {
    let [.., rest, status] = mem.log.as_slice() else {
        return None;
    };
    let rest_ok = rest.write && rest.ok && Some(rest.addr) == cr.checked_add(1) && rest.len == 31;
    let status_ok = status.write && status.ok && status.addr == cr && status.len == 1;
    if !(rest_ok && status_ok) {
        return None;
    }
    let b: [u8; CR_SIZE] = mem.peek(cr, CR_SIZE as u64)?.try_into().ok()?;
    Some(CompletionRecord::from_bytes(&b))
}

/// Whether `[a, a + alen)` and `[b, b + blen)` overlap.
fn overlap(a: u64, alen: u64, b: u64, blen: u64) -> bool {
    (a as u128) < b as u128 + blen as u128 && (b as u128) < a as u128 + alen as u128
}

/// Checks the data a successful operation left, against `before`.
fn check_data(d: &Descriptor, cr: &CompletionRecord, before: &SparseMem, after: &SparseMem) {
    let len = u64::from(d.size);
    let rec = d.completion_addr;
    // Only where the record did not land on the data.
    let clear = |at: u64| !overlap(at, len, rec, CR_SIZE as u64);
    let src = || before.peek(d.addr1, len);
    match d.opcode {
        OPCODE_MEMMOVE if clear(d.addr2) => {
            if let (Some(s), Some(t)) = (src(), after.peek(d.addr2, len)) {
                assert!(s == t, "MEMMOVE succeeded but the destination differs");
            }
        }
        OPCODE_DUALCAST => {
            // A destination over the source changes what the copy reads
            // next (the engine copies front to back, once for both).
            let d2 = d.u64_at(40);
            let apart = [d.addr2, d2]
                .iter()
                .all(|&dst| !overlap(dst, len, d.addr1, len));
            for dst in [d.addr2, d2] {
                if clear(dst) && apart {
                    if let (Some(s), Some(t)) = (src(), after.peek(dst, len)) {
                        assert!(s == t, "DUALCAST succeeded but {dst:#x} differs");
                    }
                }
            }
        }
        OPCODE_MEMFILL if clear(d.addr2) => {
            if let Some(t) = after.peek(d.addr2, len) {
                let p = d.addr1.to_le_bytes();
                assert!(
                    t.iter().zip(p.iter().cycle()).all(|(a, b)| a == b),
                    "MEMFILL succeeded but the pattern is wrong"
                );
            }
        }
        OPCODE_CRCGEN | OPCODE_COPY_CRC => {
            if let Some(s) = src() {
                let want = !crc32c_ref(!d.u32_at(40), &s);
                assert_eq!(cr.op_specific, u64::from(want), "wrong CRC");
                if d.opcode == OPCODE_COPY_CRC && clear(d.addr2) {
                    assert!(
                        after.peek(d.addr2, len).is_some_and(|t| t == s),
                        "COPY_CRC succeeded but the destination differs"
                    );
                }
            }
        }
        OPCODE_COMPARE | OPCODE_COMPVAL => {
            let Some(a) = src() else {
                return;
            };
            let b = if d.opcode == OPCODE_COMPARE {
                before.peek(d.addr2, len)
            } else {
                let p = d.addr2.to_le_bytes();
                Some((0..len).map(|i| p[(i % 8) as usize]).collect())
            };
            if let Some(b) = b {
                let first = a.iter().zip(&b).position(|(x, y)| x != y);
                assert_eq!(cr.result, u8::from(first.is_some()), "wrong compare result");
                assert_eq!(
                    cr.completed as usize,
                    first.unwrap_or(0),
                    "wrong difference offset"
                );
            }
        }
        _ => {}
    }
}

fuzz_target!(init: overflow_checks_are_on(), |data: &[u8]| {
    let mut input = Input::new(data);
    let limits = limits(&mut input);
    let scratch_len = match input.u8() % 8 {
        0 => SCRATCH_MIN - 1 - input.below(64),
        1 => SCRATCH_MIN + input.below(PAGE as usize * 2),
        2 => 4 * SCRATCH_MIN,
        _ => SCRATCH_MIN,
    };
    let stop_after = match input.u8() % 4 {
        0 => Some(input.below(48)),
        _ => None,
    };

    // Pages: addresses first, then contents (which may hold descriptors
    // naming those addresses).
    let mut mem = SparseMem::default();
    let n = input.below(7);
    let mut bases = Vec::with_capacity(n);
    for _ in 0..n {
        let base = page_address(&mut input, &bases);
        let perm = match input.u8() % 8 {
            0 => Perm {
                read: true,
                write: false,
            },
            1 => Perm {
                read: false,
                write: true,
            },
            2 => Perm {
                read: false,
                write: false,
            },
            _ => Perm {
                read: true,
                write: true,
            },
        };
        mem.map(base, perm, |_| {});
        if !bases.contains(&(base & !(PAGE - 1))) {
            bases.push(base & !(PAGE - 1));
        }
    }
    for i in 0..mem.pages.len() {
        let mut data = [0u8; PAGE as usize];
        page_contents(&mut input, &mut data);
        if input.u8() % 4 == 0 {
            // A descriptor list: a few descriptors from some offset on.
            let mut at = (input.below(64) * DESC_SIZE) % PAGE as usize;
            for _ in 0..input.below(6) {
                let d = descriptor(&mut input, &bases, true);
                data[at..at + DESC_SIZE].copy_from_slice(&d);
                at = (at + DESC_SIZE) % PAGE as usize;
            }
        }
        *mem.pages[i].data = data;
    }
    let raw = descriptor(&mut input, &bases, false);
    mem.stop_after = stop_after;

    let d = Descriptor::parse(&raw);
    let mut zeroed = raw;
    zeroed[..4].fill(0);
    zeroed[38..].fill(0);
    let encoded = Descriptor::encode(
        d.opcode,
        d.flags,
        d.completion_addr,
        d.addr1,
        d.addr2,
        d.size,
        d.int_handle,
    );
    assert_eq!(encoded, zeroed, "encode(parse(raw)) differs from raw");

    let before = mem.clone();
    let mut scratch = vec![0u8; scratch_len];
    if debug() {
        eprintln!("limits: {limits:x?}\nscratch: {scratch_len}, stop after: {stop_after:?}");
        for p in &mem.pages {
            eprintln!("page {:#x} {:?}", p.base, p.perm);
        }
        eprintln!("descriptor: {d:x?}");
    }
    let out = engine::submit(&d, &limits, &mut mem, &mut scratch);
    if debug() {
        eprintln!("outcome: {out:x?}");
        for a in &mem.log {
            eprintln!("  {a:x?}");
        }
    }

    if scratch_len < SCRATCH_MIN {
        assert!(mem.log.is_empty() && mem.stop_asked == 0, "ran with a short scratch");
        assert_eq!(out, Default::default());
        return;
    }
    if u32::from(limits.vectors) < 64 {
        assert_eq!(
            out.vectors >> limits.vectors,
            0,
            "vectors {:#x} not below {}",
            out.vectors,
            limits.vectors
        );
    }
    assert!(!out.sw_error_overflow || out.sw_error.is_some());
    assert!(!out.aborted || mem.stopped, "aborted without a stop");
    if d.opcode != OPCODE_BATCH {
        let own = if d.has(OP_FLAG_RCI) && d.int_handle < limits.vectors {
            1u64 << (d.int_handle % 64)
        } else {
            0
        };
        assert_eq!(out.vectors & !own, 0, "a single descriptor signalled another vector");
    }

    // The completion record.
    let cr_addr = d.completion_addr;
    let record = if d.has(OP_FLAG_CRAV) {
        record_written(&mem, cr_addr)
    } else {
        None
    };
    // A batch's members may write their records where the batch's is: the
    // last one written is the batch's when it asked for one (RCR), or when
    // its status is one only a batch has; else it may be a member's.
    let record = record.filter(|cr| {
        d.opcode != OPCODE_BATCH
            || d.has(OP_FLAG_RCR)
            || matches!(cr.status, COMP_BATCH_FAIL | COMP_BATCH_PAGE_FAULT)
    });
    let writable = cr_addr % 32 == 0 && mem.all(cr_addr, CR_SIZE as u64, |p| p.write);
    let batch_stopped = out.aborted && d.opcode == OPCODE_BATCH;
    if d.has(OP_FLAG_CRAV | OP_FLAG_RCR) && writable && (!out.aborted || batch_stopped) {
        assert!(record.is_some(), "requested completion record not written last");
    }
    if out.aborted && d.opcode != OPCODE_BATCH {
        assert!(record.is_none(), "a stopped descriptor has a record");
        assert_eq!(out.vectors, 0, "a stopped descriptor interrupts");
    }
    if debug() {
        eprintln!("record: {record:x?}");
    }
    let Some(cr) = record else {
        return;
    };
    // Without RCR only a failure has a record (unless the operation's own
    // data writes, ending on the record's bytes, look like one).
    let len = u64::from(d.size);
    let on_data = [d.addr2, d.u64_at(40)]
        .iter()
        .any(|&dst| overlap(dst, len, cr_addr, CR_SIZE as u64));
    if !d.has(OP_FLAG_RCR) && !on_data {
        assert_ne!(cr.status, COMP_SUCCESS, "success recorded without RCR");
    }
    match cr.status {
        COMP_PAGE_FAULT_NOBOF => {
            assert!(u64::from(cr.completed) <= u64::from(d.size));
            let write = cr.fault_info & 1 != 0;
            let p = before.perm(cr.fault_addr);
            let denied = if write { !p.write } else { !p.read };
            let wraps = cr.completed == 0
                && len
                    .checked_sub(1)
                    .is_some_and(|last| cr.fault_addr.checked_add(last).is_none());
            assert!(
                denied || wraps,
                "fault at {:#x} (write: {write}) on an accessible page",
                cr.fault_addr
            );
        }
        COMP_BATCH_PAGE_FAULT => {
            assert!(
                !before.perm(cr.fault_addr).read
                    || (len * 64)
                        .checked_sub(1)
                        .is_some_and(|last| cr.fault_addr.checked_add(last).is_none()),
                "batch list fault at a readable page"
            );
        }
        COMP_SUCCESS if !out.aborted => check_data(&d, &cr, &before, &mem),
        _ => {}
    }
});
