// SPDX-License-Identifier: GPL-2.0

//! Fuzz target `stream`: migration stream parse and load.
//!
//! A source device (a `dsa-<base>dwq` with an aggregator, 1 to 64 WQs) is
//! brought to a state by register and configuration-space writes from the
//! input, and its stream (header and body) encoded; the stream is then
//! kept, mutated (bytes flipped, cut, extended, its checksums optionally
//! fixed up so that the checks behind them are reached) or replaced by the
//! input's bytes, and fed in pieces to a target's [`Resume`] as a VFIO
//! user's writes arrive; a complete, accepted stream is checked and loaded
//! into a target device that may hold a state of its own. The source's
//! description may differ from the target's (type, aggregator, versions).
//!
//! Checks, besides no panic or overflow in the logic:
//! - `Header::encode` and `Header::decode` round-trip, both ways;
//!   `Header::accept` is `decode` plus `incompatibilities`;
//! - `Resume` expects the header and body the target's WQ count needs,
//!   refuses more, and hands over a body only when it is complete;
//! - `check_body` and `load_body` agree; `load_body` is all-or-nothing:
//!   refused, the target is unchanged; accepted, re-encoding the target
//!   gives the very body loaded;
//! - an intact stream between matching devices loads, and the target then
//!   reads back the source's registers and configuration space;
//! - every refusal formats.

#![no_main]
// "One time in n" reads best as `input.u8() % n == 0`.
#![allow(clippy::manual_is_multiple_of)]

use dsa_logic::{
    compat::{
        incompatibilities,
        DeviceDesc,
        Version, //
    },
    crc32c::crc32c,
    idxd::*,
    model::{
        Dsa,
        WqCfg,
        SAVED_REGS_BYTES,
        SAVED_SLOT_BYTES,
        WQCFG_BYTES, //
    },
    pci::{
        PciConfig,
        CONFIG_SIZE, //
    },
    stream::{
        body_len,
        check_body,
        encode_body,
        load_body,
        Header,
        Refusal,
        Resume,
        FLAG_ENABLED,
        HEADER_SIZE,
        STREAM_VERSION, //
    },
    types::{
        wqs_for,
        BASES, //
    },
};
use dsa_logic_fuzz::{
    device::*,
    *, //
};
use libfuzzer_sys::fuzz_target;

type Device = (PciConfig, Dsa<Vec<WqCfg>>);

fn new_device(n: usize) -> Device {
    let dsa = Dsa::new(vec![WqCfg::reset(); n]);
    let l = *dsa.layout();
    (PciConfig::new(l.bar0_size, l.bar2_size, l.msix), dsa)
}

/// Everything a migration carries.
fn state(d: &Device) -> (Vec<u8>, Vec<u8>, Vec<u8>, Vec<u8>) {
    let mut regs = vec![0u8; SAVED_REGS_BYTES];
    let mut wqcfg = vec![0u8; d.1.wqs().len() * WQCFG_BYTES as usize];
    let mut slots = vec![0u8; d.1.wqs().len() * SAVED_SLOT_BYTES];
    d.1.save(&mut regs, &mut wqcfg, &mut slots);
    (d.0.bytes().to_vec(), regs, wqcfg, slots)
}

/// Drives a device to some state through its registers and
/// configuration space.
fn drive(d: &mut Device, input: &mut Input<'_>) {
    let n = d.1.wqs().len();
    if input.u8() % 4 != 0 {
        // Memory and bus mastering on.
        d.0.write(4, &[0x06, 0x00]);
    }
    for wq in 0..input.below(n.min(4) + 1) as u64 {
        configure_wq(&mut d.1, input, wq);
    }
    if input.u8() % 4 != 0 {
        d.1.bar0_write(
            CMD_OFFSET,
            &(CMD_ENABLE_DEVICE << CMD_SHIFT).to_le_bytes(),
            d.0.bus_master(),
        )
        .expect("CMD takes dwords");
        for wq in 0..input.below(n.min(4) + 1) as u32 {
            cmd(&mut d.1, CMD_ENABLE_WQ, wq);
        }
    }
    for _ in 0..input.below(6) {
        if input.u8() % 4 == 0 {
            // A piece of a descriptor: the WQ's slot holds it.
            let len = if input.bool() { 4 } else { 8 };
            let off = (input.u64() % d.1.layout().bar2_size) & !(len as u64 - 1);
            let v = input.bytes(len).to_vec();
            let _ = d.1.portal_submit(off, &v);
        } else if input.bool() {
            let at = input.below(CONFIG_SIZE + 4);
            let len = 1 + input.below(4);
            let v = input.bytes(len).to_vec();
            d.0.write(at, &v);
        } else {
            let size = d.1.layout().bar0_size;
            let off = match input.u8() % 4 {
                0 => (u64::from(input.u16()) % size) & !3,
                1 => CMD_OFFSET,
                2 => SWERR_OFFSET,
                _ => 0x600 + u64::from(input.u8() % 64) * 8,
            };
            let _ =
                d.1.bar0_write(off, &input.u32().to_le_bytes(), d.0.bus_master());
        }
    }
}

/// Recomputes the header's checksum and, if the stream is long enough to
/// hold one, the body's (its last four bytes).
fn fix_checksums(s: &mut [u8]) {
    if s.len() >= HEADER_SIZE {
        let crc = !crc32c(!0, &s[..36]);
        s[36..40].copy_from_slice(&crc.to_le_bytes());
    }
    if s.len() >= HEADER_SIZE + 4 {
        let end = s.len() - 4;
        let crc = !crc32c(!0, &s[HEADER_SIZE..end]);
        s[end..].copy_from_slice(&crc.to_le_bytes());
    }
}

fn check_header_round_trip(b: &[u8]) {
    if let Ok(h) = Header::decode(b) {
        assert_eq!(&h.encode()[..], &b[..HEADER_SIZE], "encode(decode(b)) != b");
        let _ = show(&format_args!("{:?}", h));
    }
}

fuzz_target!(init: overflow_checks_are_on(), |data: &[u8]| {
    let mut input = Input::new(data);
    let base = input.choose(&BASES);
    let aggregator = match input.u8() % 8 {
        0 => 1 + input.below(64 / base as usize) as u32,
        _ => 1 + input.below(4) as u32,
    };
    let n = wqs_for(base, aggregator).expect("small");
    let target = DeviceDesc {
        base,
        aggregator,
        version: STREAM_VERSION,
    };
    // The source's description: the target's, mostly.
    let mut source = target;
    if input.u8() % 4 == 0 {
        match input.u8() % 5 {
            0 => source.base = input.choose(&[1, 2, 4, 8, 0, 3, 16, u32::MAX]),
            1 => source.aggregator = input.u32() % 130,
            2 => source.version.major = u32::from(input.u16()),
            3 => source.version.minor = u32::from(input.u16()),
            _ => {
                source.version = Version {
                    major: input.u32(),
                    minor: input.u32(),
                }
            }
        }
    }
    let flags = match input.u8() % 8 {
        0 => input.u32(),
        _ => 0,
    };

    // The source device and its stream.
    let src_n = wqs_for(source.base, source.aggregator).filter(|&k| (1..=512).contains(&k)).unwrap_or(n);
    let mut src = new_device(src_n);
    drive(&mut src, &mut input);
    let header = Header {
        device: source,
        flags: flags | (u32::from(src.1.enabled()) * FLAG_ENABLED),
        body_len: body_len(src_n) as u32,
    };
    let head = header.encode();
    // The header decodes to what was encoded, when it is a valid one.
    let valid = BASES.contains(&source.base)
        && wqs_for(source.base, source.aggregator).is_some_and(|k| k > 0 && u32::try_from(k).is_ok())
        && source.version.major <= 0xffff
        && source.version.minor <= 0xffff
        && header.flags & !FLAG_ENABLED == 0;
    if debug() {
        eprintln!("source {source:?} target {target:?} flags {flags:#x} valid {valid}");
    }
    match Header::decode(&head) {
        Ok(h) if !valid => {
            // The versions are 16 bits on the wire.
            let v = source.version;
            assert_eq!(h.device.version, Version {
                major: v.major & 0xffff,
                minor: v.minor & 0xffff,
            });
            assert_eq!((h.device.base, h.device.aggregator), (source.base, source.aggregator));
        }
        h => assert_eq!(h.ok(), valid.then_some(header), "decode(encode(h)) != h"),
    }
    let mut stream = head.to_vec();
    let mut body = vec![0u8; body_len(src_n)];
    encode_body(&src.0, &src.1, &mut body);
    stream.extend_from_slice(&body);

    if debug() {
        let hex: String = stream.iter().map(|b| format!("{b:02x}")).collect();
        eprintln!("stream: {hex}");
    }
    let how = input.u8() % 8;
    // Unchanged, between devices that match: it must load.
    let intact = how < 2 && source == target && flags == 0;
    match how {
        0 | 1 => {}
        2..=5 => {
            for _ in 0..1 + input.below(4) {
                let at = input.below(stream.len());
                match input.u8() % 8 {
                    0 => stream.truncate(at),
                    1 => {
                        let more = 1 + input.below(8);
                        stream.extend_from_slice(input.bytes(more));
                    }
                    _ => stream[at] ^= input.u8() | 1,
                }
                if stream.is_empty() {
                    break;
                }
            }
            if how != 5 {
                fix_checksums(&mut stream);
            }
        }
        _ => {
            let len = input.u16() as usize % (HEADER_SIZE + body_len(n) + 8);
            stream = input.bytes(len).to_vec();
            if how == 6 {
                fix_checksums(&mut stream);
            }
        }
    }
    if stream.len() >= HEADER_SIZE {
        check_header_round_trip(&stream[..HEADER_SIZE]);
        let accepted = Header::accept(&stream[..HEADER_SIZE], &target);
        let decoded = Header::decode(&stream[..HEADER_SIZE]);
        match (&accepted, &decoded) {
            (Ok(a), Ok(d)) => {
                assert_eq!(a, d);
                assert_eq!(incompatibilities(&d.device, &target).count(), 0);
            }
            (Err(Refusal::Incompatible(why, dev)), Ok(d)) => {
                assert_eq!(*dev, d.device);
                assert_eq!(incompatibilities(&d.device, &target).next(), Some(*why));
            }
            (Err(a), Err(d)) => assert_eq!(a, d),
            _ => panic!("accept {accepted:?} but decode {decoded:?}"),
        }
    } else {
        let e = Header::decode(&stream).expect_err("a short header decodes");
        let _ = show(&e);
    }

    // The target: fresh, or in a state of its own.
    let mut dst = new_device(n);
    if input.u8() % 4 == 0 {
        drive(&mut dst, &mut input);
    }
    let before = state(&dst);

    // The stream arrives in pieces.
    let mut r = Resume::new(target, n);
    let want = HEADER_SIZE + body_len(n);
    let mut so_far = 0usize;
    let mut refused = None;
    while so_far < stream.len() {
        let piece = match input.u8() % 4 {
            0 => 1 + input.below(64),
            1 => HEADER_SIZE,
            _ => stream.len(),
        };
        so_far = (so_far + piece).min(stream.len());
        if let Err(e) = r.advance(&stream[..so_far]) {
            let _ = show(&e);
            if let Refusal::TooLong { got, want: w } = e {
                assert_eq!((got, w), (so_far, want));
            }
            refused = Some(e);
            break;
        }
        if so_far >= HEADER_SIZE {
            assert_eq!(r.expected(), Some(want), "expected length");
            assert!(so_far <= want);
        } else {
            assert_eq!(r.expected(), None);
        }
    }
    if debug() {
        eprintln!("after {so_far} bytes: {refused:?}");
    }
    if let Some(e) = refused {
        // The driver stops at a refusal; so does this.
        assert!(!intact, "an intact stream was refused: {e}");
        return;
    }
    let stream = &stream[..so_far];
    let body = match r.body(stream) {
        Ok(b) => {
            assert_eq!(stream.len(), want, "body of an incomplete stream");
            b
        }
        Err(e) => {
            let _ = show(&e);
            assert!(stream.len() < want);
            assert!(!intact, "an intact stream is incomplete: {e}");
            return;
        }
    };

    let checked = check_body(&dst.0, &dst.1, body);
    let loaded = load_body(&mut dst.0, &mut dst.1, body);
    assert_eq!(checked, loaded, "check_body and load_body disagree");
    if debug() {
        eprintln!("load_body: {loaded:?}");
    }
    match loaded {
        Err(e) => {
            let _ = show(&e);
            assert!(state(&dst) == before, "a refused body changed the target: {e}");
            assert!(!intact, "an intact stream was refused: {e}");
        }
        Ok(()) => {
            let mut again = vec![0u8; body_len(n)];
            encode_body(&dst.0, &dst.1, &mut again);
            assert!(again == body, "the loaded state re-encodes differently");
            if intact {
                assert!(state(&dst) == state(&src), "the target differs from the source");
            }
        }
    }
});
