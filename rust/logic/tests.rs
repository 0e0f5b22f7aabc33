// SPDX-License-Identifier: GPL-2.0

//! Randomised tests of the logic against simple models: long random
//! sequences of pool operations, and random and mutated documents for the
//! grammar. Deterministic (a fixed-seed generator), so a failure reproduces.

use super::{
    compat::{
        check,
        DeviceDesc,
        Document,
        TypeDesc,
        Version, //
    },
    types::{
        parse_aggregator,
        BASES, //
    },
    wq::{
        WqPool,
        WqSet,
        MAX_WQS, //
    },
};
use std::string::{
    String,
    ToString, //
};
use std::vec::Vec;

/// xorshift64*: small, fast, deterministic.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Random alloc/release/resize sequences keep the pool consistent with the
/// sets handed out: disjoint, within range, free = total - held, and a
/// failed operation changes nothing.
#[test]
fn pool_operations_keep_accounting_exact() {
    let mut rng = Rng(0x5eed_0001);
    for round in 0..200 {
        let total = 1 + rng.below(if round % 10 == 0 { MAX_WQS } else { 130 });
        let mut pool = WqPool::new(total);
        let mut held: Vec<WqSet> = Vec::new();
        for _ in 0..300 {
            match rng.below(3) {
                0 => {
                    let n = rng.below(total / 2 + 2);
                    let before = pool.free();
                    match pool.alloc(n) {
                        Ok(set) => {
                            assert_eq!(set.len(), n);
                            held.push(set);
                        }
                        Err(e) => {
                            assert!(n > before);
                            assert_eq!((e.needed, e.free), (n, before));
                            assert_eq!(pool.free(), before);
                        }
                    }
                }
                1 if !held.is_empty() => {
                    let set = held.swap_remove(rng.below(held.len()));
                    pool.release(&set);
                }
                _ if !held.is_empty() => {
                    let i = rng.below(held.len());
                    let n = rng.below(total / 2 + 2);
                    let (before_set, before_free) = (held[i].clone(), pool.free());
                    match pool.resize(&mut held[i], n) {
                        Ok(()) => {
                            assert_eq!(held[i].len(), n);
                            // Shrinking keeps the lowest ids; growing keeps all.
                            if n <= before_set.len() {
                                assert!(held[i].is_subset(&before_set));
                            } else {
                                assert!(before_set.is_subset(&held[i]));
                            }
                        }
                        Err(_) => {
                            assert_eq!(held[i], before_set);
                            assert_eq!(pool.free(), before_free);
                        }
                    }
                }
                _ => {}
            }
            let mut union = WqSet::new();
            let mut count = 0;
            for set in &held {
                assert!(!set.intersects(&union), "sets overlap");
                assert!(set.iter().all(|id| id < total), "id out of range");
                for id in set.iter() {
                    union.insert(id);
                }
                count += set.len();
            }
            assert_eq!(pool.free(), total - count);
            assert_eq!(pool.used(), &union);
        }
    }
}

/// The list format parses back to the same set (a reference parser here).
#[test]
fn list_format_round_trips() {
    let mut rng = Rng(0x5eed_0002);
    for _ in 0..500 {
        let mut set = WqSet::new();
        for _ in 0..rng.below(80) {
            let start = rng.below(MAX_WQS);
            for id in start..(start + rng.below(6)).min(MAX_WQS) {
                set.insert(id);
            }
        }
        let text = set.to_string();
        let mut back = WqSet::new();
        for item in text.split(',').filter(|s| !s.is_empty()) {
            let (a, b) = item.split_once('-').unwrap_or((item, item));
            let (a, b): (usize, usize) = (a.parse().unwrap(), b.parse().unwrap());
            assert!(a <= b);
            for id in a..=b {
                back.insert(id);
            }
        }
        assert_eq!(back, set, "{text}");
    }
}

/// Random bytes never make the aggregator parser accept something that is
/// not a decimal number in range, nor reject one that is.
#[test]
fn aggregator_parser_matches_a_model() {
    let mut rng = Rng(0x5eed_0003);
    let alphabet = b"0123456789 +-x\n\t\0a";
    for _ in 0..20_000 {
        let len = rng.below(12);
        let input: Vec<u8> = (0..len)
            .map(|_| alphabet[rng.below(alphabet.len())])
            .collect();
        let max = 1 + rng.below(4096) as u32;
        let body = input.strip_suffix(b"\n").unwrap_or(&input);
        let model = if !body.is_empty() && body.iter().all(u8::is_ascii_digit) {
            std::str::from_utf8(body)
                .unwrap()
                .parse::<u64>()
                .ok()
                .filter(|&v| v >= 1 && v <= u64::from(max))
        } else {
            None
        };
        assert_eq!(
            parse_aggregator(&input, max).ok().map(u64::from),
            model,
            "{input:?} max {max}"
        );
    }
}

fn random_device(rng: &mut Rng) -> DeviceDesc {
    DeviceDesc {
        base: BASES[rng.below(4)],
        aggregator: 1 + rng.below(70) as u32,
        version: Version {
            major: 1 + rng.below(2) as u32,
            minor: rng.below(3) as u32,
        },
    }
}

/// Mutated documents: the parser never panics; whatever it accepts, the
/// matcher handles, and a document matches itself when it is concrete.
#[test]
fn mutated_documents_never_break_the_parser() {
    let mut rng = Rng(0x5eed_0004);
    let noise = b"{}=:,-\n x_019azAZ";
    for _ in 0..20_000 {
        let dev = random_device(&mut rng);
        let ty = TypeDesc {
            base: BASES[rng.below(4)],
            max_aggregator: 1 + rng.below(64) as u32,
            version: dev.version,
        };
        let mut bytes: Vec<u8> = if rng.below(2) == 0 {
            dev.to_string().into_bytes()
        } else {
            ty.to_string().into_bytes()
        };
        for _ in 0..1 + rng.below(4) {
            let at = rng.below(bytes.len() + 1);
            match rng.below(3) {
                0 if at < bytes.len() => {
                    bytes.remove(at);
                }
                1 if at < bytes.len() => bytes[at] = noise[rng.below(noise.len())],
                _ => bytes.insert(at, noise[rng.below(noise.len())]),
            }
        }
        let Ok(text) = String::from_utf8(bytes) else {
            continue;
        };
        let source = Document::parse_self(&text);
        let target = Document::parse_compatible(&text);
        if let Ok(source) = source {
            // A concrete document is also a valid compatible, and matches
            // itself exactly.
            let as_target = target.expect("a self document is a compatible document");
            assert!(check(&source, &as_target, |_| {}), "{text}");
        }
        if let Ok(target) = target {
            let me = dev.to_string();
            let me = Document::parse_self(&me).unwrap();
            let mut reasons = 0;
            let ok = check(&me, &target, |_| reasons += 1);
            assert_eq!(ok, reasons == 0);
        }
    }
}

/// Fuzzing the engine: random and mutated descriptors (batches among them)
/// against a memory with holes and read-only pages. Whatever the input, the
/// engine does not panic, never writes read-only or unmapped memory (the
/// test memory asserts every access stays within a page and fails those
/// outside the map), reports only known status codes, and interrupts only
/// vectors that exist.
#[test]
fn engine_survives_random_descriptors() {
    use super::{
        desc::{
            CompletionRecord,
            Descriptor,
            DESC_SIZE, //
        },
        engine::{
            submit,
            testmem::TestMem,
            WqLimits,
            PAGE,
            SCRATCH_MIN, //
            SUPPORTED_OPCODES,
        },
        idxd::*,
    };
    const BASE: u64 = 0x40_0000;
    const LEN: usize = 16 * PAGE as usize;
    let known = [
        COMP_NONE,
        COMP_SUCCESS,
        COMP_SUCCESS_PRED,
        COMP_PAGE_FAULT_NOBOF,
        COMP_BATCH_FAIL,
        COMP_BATCH_PAGE_FAULT,
        COMP_BAD_OPCODE,
        COMP_INVALID_FLAGS,
        COMP_NOZERO_RESERVE,
        COMP_XFER_ERANGE,
        COMP_DESC_CNT_ERANGE,
        COMP_OVERLAP_BUFFERS,
        COMP_DCAST_ERR,
        COMP_DESCLIST_ALIGN,
        COMP_INT_HANDLE_INVAL,
        COMP_CRA_XLAT,
        COMP_CRA_ALIGN,
    ];
    let opcodes = SUPPORTED_OPCODES;
    let limits = WqLimits {
        max_xfer: 1 << 16,
        max_batch: 32,
        op_config: [!0; 4],
        vectors: 5,
    };
    let mut rng = Rng(0x5eed_0f22);
    let mut scratch = std::vec![0u8; SCRATCH_MIN];
    let mut statuses = [0usize; 256];
    for round in 0..10_000 {
        let mut mem = TestMem::new(BASE, LEN);
        // Page 13 unmapped, page 14 read-only.
        mem.holes.push(BASE + 13 * PAGE..BASE + 14 * PAGE);
        mem.readonly.push(BASE + 14 * PAGE..BASE + 15 * PAGE);
        let readonly_before = mem.at(BASE + 14 * PAGE, PAGE as usize).to_vec();
        // An address: mostly in the map, sometimes near or in the hole,
        // read-only page or past the end, sometimes anything at all.
        let addr = |rng: &mut Rng| -> u64 {
            match rng.below(8) {
                0 => rng.next(),
                1 => BASE + 13 * PAGE - 8 + rng.below(16) as u64,
                2 => BASE + 14 * PAGE + rng.below(PAGE as usize) as u64,
                3 => BASE + LEN as u64 - rng.below(64) as u64,
                // Pages 0-5, so that operations end before page 10.
                _ => (BASE + rng.below(6 * PAGE as usize) as u64) & !(rng.below(2) as u64 * 31),
            }
        };
        let opcode = opcodes[rng.below(opcodes.len())];
        let flags = match rng.below(4) {
            0 => (rng.next() as u32) & 0xff_ffff,
            _ => OP_FLAG_CRAV | OP_FLAG_RCR | if rng.below(3) == 0 { OP_FLAG_RCI } else { 0 },
        };
        let size = match rng.below(4) {
            0 => rng.next() as u32,
            1 => rng.below(40) as u32,
            _ => rng.below(3 * PAGE as usize) as u32,
        };
        // Completion records go to page 10, zeroed, so that a status byte
        // there was written by the engine; sometimes anywhere.
        let cr_page = BASE + 10 * PAGE;
        mem.put(cr_page, &[0u8; PAGE as usize]);
        let cr = if rng.below(5) == 0 {
            addr(&mut rng) & !31
        } else {
            cr_page + 32 * rng.below(128) as u64
        };
        let (a1, a2) = (addr(&mut rng), addr(&mut rng));
        let mut raw = Descriptor::encode(opcode, flags, cr, a1, a2, size, rng.below(6) as u16);
        // Batches point at a list of descriptors, themselves random.
        if opcode == OPCODE_BATCH && round % 2 == 0 {
            let list = BASE + 8 * PAGE;
            let count = 2 + rng.below(6);
            for i in 0..count {
                let sub_op = opcodes[rng.below(opcodes.len())];
                let sub = Descriptor::encode(
                    sub_op,
                    OP_FLAG_CRAV | OP_FLAG_RCR,
                    (BASE + 9 * PAGE + 32 * i as u64) & !31,
                    addr(&mut rng),
                    addr(&mut rng),
                    rng.below(2 * PAGE as usize) as u32,
                    0,
                );
                mem.put(list + (i * DESC_SIZE) as u64, &sub);
            }
            raw = Descriptor::encode(opcode, flags, cr, list, 0, count as u32, 0);
        }
        // Then a few random bit flips.
        for _ in 0..rng.below(3) {
            let bit = rng.below(DESC_SIZE * 8);
            raw[bit / 8] ^= 1 << (bit % 8);
        }
        let desc = Descriptor::parse(&raw);
        let out = submit(&desc, &limits, &mut mem, &mut scratch);

        assert_eq!(
            out.vectors >> limits.vectors,
            0,
            "round {round}: bad vector"
        );
        assert_eq!(
            mem.at(BASE + 14 * PAGE, PAGE as usize),
            &readonly_before[..],
            "round {round}: read-only memory written"
        );
        if let Some(e) = out.sw_error {
            assert!(
                known.contains(&e.error),
                "round {round}: unknown SWERR {:#x}",
                e.error
            );
        }
        let cr_addr = desc.completion_addr;
        if desc.flags & OP_FLAG_CRAV != 0
            && (BASE + 10 * PAGE..BASE + 11 * PAGE).contains(&cr_addr)
            && cr_addr & 31 == 0
        {
            let mut bytes = [0u8; 32];
            bytes.copy_from_slice(mem.at(cr_addr, 32));
            let status = CompletionRecord::from_bytes(&bytes).status & 0x7f;
            assert!(
                known.contains(&status),
                "round {round}: unknown status {status:#x}"
            );
            statuses[status as usize] += 1;
        }
    }
    // The generator reaches the interesting outcomes, not only one error.
    for s in [
        COMP_SUCCESS,
        COMP_PAGE_FAULT_NOBOF,
        COMP_BAD_OPCODE,
        COMP_INVALID_FLAGS,
        COMP_XFER_ERANGE,
        COMP_BATCH_FAIL,
    ] {
        assert!(statuses[s as usize] > 0, "status {s:#x} never seen");
    }
}

/// Fuzzing the register file: random accesses of random sizes at random
/// offsets, commands included, never panic; refused accesses change
/// nothing; and the capability registers never change.
#[test]
fn registers_survive_random_accesses() {
    use super::model::{
        wqcfg::WqCfg,
        Dsa, //
    };
    let mut rng = Rng(0x5eed_0f23);
    for round in 0..200 {
        let n = 1 + rng.below(70);
        let mut dsa = Dsa::new(std::vec![WqCfg::reset(); n]);
        let size = dsa.layout().bar0_size;
        let read_caps = |d: &Dsa<Vec<WqCfg>>| {
            let mut v = [0u64; 4];
            for (i, off) in [0x10u64, 0x20, 0x30, 0x40].into_iter().enumerate() {
                let mut b = [0u8; 8];
                d.bar0_read(off, &mut b).unwrap();
                v[i] = u64::from_le_bytes(b);
            }
            v
        };
        let caps = read_caps(&dsa);
        for _ in 0..500 {
            let len = [1usize, 2, 3, 4, 8, 16][rng.below(6)];
            let off = match rng.below(4) {
                0 => rng.next() % (size + 64),
                1 => 0xa0 + 4 * rng.below(4) as u64,
                _ => rng.below(size as usize) as u64 & !3,
            };
            if rng.below(2) == 0 {
                let mut buf = std::vec![0u8; len];
                let _ = dsa.bar0_read(off, &mut buf);
            } else {
                let data: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
                let before = std::format!("{:?}", dsa.wqs());
                if dsa.bar0_write(off, &data, rng.below(4) != 0).is_err() {
                    assert_eq!(before, std::format!("{:?}", dsa.wqs()), "round {round}");
                }
            }
        }
        assert_eq!(caps, read_caps(&dsa), "round {round}: capabilities changed");
    }
}

/// Random device states (a configured and enabled device, then random
/// register and config space writes) survive a migration stream: the
/// target reads back what the source did; and any bit flipped or any
/// length cut in the stream is refused before anything is loaded.
#[test]
fn migration_streams_round_trip_and_mutations_are_refused() {
    use super::{
        model::{
            wqcfg::WqCfg,
            Dsa, //
        },
        pci::{
            PciConfig,
            CONFIG_SIZE, //
        },
        stream::{
            body_len,
            encode_body,
            load_body,
            Header,
            Resume,
            HEADER_SIZE,
            STREAM_VERSION, //
        },
    };
    type Device = (PciConfig, Dsa<Vec<WqCfg>>);
    let new = |n: usize| -> Device {
        let dsa = Dsa::new(std::vec![WqCfg::reset(); n]);
        let l = *dsa.layout();
        (PciConfig::new(l.bar0_size, l.bar2_size, l.msix), dsa)
    };
    let bar0 = |d: &Device| -> Vec<u64> {
        (0..d.1.layout().bar0_size / 8)
            .map(|q| {
                let mut b = [0u8; 8];
                d.1.bar0_read(q * 8, &mut b).unwrap();
                u64::from_le_bytes(b)
            })
            .collect()
    };
    let stream = |d: &Device, base: u32, aggregator: u32| -> Vec<u8> {
        let n = d.1.wqs().len();
        let header = Header {
            device: DeviceDesc {
                base,
                aggregator,
                version: STREAM_VERSION,
            },
            flags: u32::from(d.1.enabled()),
            body_len: body_len(n) as u32,
        };
        let mut s = header.encode().to_vec();
        let mut body = std::vec![0u8; body_len(n)];
        encode_body(&d.0, &d.1, &mut body);
        s.extend_from_slice(&body);
        s
    };
    // What a target does with `s`: feed it, check, load.
    let resume = |t: &mut Device, s: &[u8], base: u32, aggregator: u32| {
        let desc = DeviceDesc {
            base,
            aggregator,
            version: STREAM_VERSION,
        };
        let mut r = Resume::new(desc, t.1.wqs().len());
        r.advance(s)?;
        let body = r.body(s)?;
        load_body(&mut t.0, &mut t.1, body)
    };
    let mut rng = Rng(0x319_2a7e);
    for round in 0..40 {
        let base = [1u32, 2, 4, 8][rng.below(4)];
        let aggregator = 1 + rng.below(8) as u32;
        let n = (base * aggregator) as usize;
        let mut src = new(n);
        // Bus master on, then the idxd driver's sequence for some WQs.
        src.0.write(4, &[0x06, 0x00]);
        for wq in 0..n.min(3) as u64 {
            let at = 0x1000 + wq * 64;
            src.1.bar0_write(at, &8u32.to_le_bytes(), true).unwrap();
            src.1
                .bar0_write(at + 8, &0x11u32.to_le_bytes(), true)
                .unwrap();
        }
        src.1
            .bar0_write(0xa0, &(1u32 << 20).to_le_bytes(), true)
            .unwrap();
        for wq in 0..n.min(3) as u32 {
            let cmd = 6u32 << 20 | wq;
            src.1.bar0_write(0xa0, &cmd.to_le_bytes(), true).unwrap();
        }
        for _ in 0..50 {
            let off = rng.below(src.1.layout().bar0_size as usize) as u64 & !3;
            let _ = src
                .1
                .bar0_write(off, &(rng.next() as u32).to_le_bytes(), true);
            let at = rng.below(CONFIG_SIZE);
            src.0.write(at, &[rng.next() as u8]);
        }
        // Descriptors in pieces, left half-written: the stream carries
        // them (WQ 0 is enabled; the others take pieces all the same).
        for _ in 0..rng.below(4) {
            let wq = rng.below(n) as u64;
            let slot = wq * 4 * 4096 + rng.below(256) as u64 * 64;
            for piece in 0..rng.below(8) as u64 {
                let v = rng.next().to_le_bytes();
                src.1.portal_submit(slot + piece * 8, &v).unwrap();
            }
        }
        let s = stream(&src, base, aggregator);
        assert_eq!(s.len(), HEADER_SIZE + body_len(n));

        let mut dst = new(n);
        resume(&mut dst, &s, base, aggregator).unwrap();
        assert_eq!(bar0(&src), bar0(&dst), "round {round}: registers differ");
        assert_eq!(
            src.0.bytes(),
            dst.0.bytes(),
            "round {round}: config differs"
        );
        assert_eq!(src.1.wqs(), dst.1.wqs(), "round {round}: WQs differ");

        let fresh = new(n);
        for _ in 0..100 {
            let mut bad = s.clone();
            match rng.below(3) {
                0 => {
                    let bit = rng.below(bad.len() * 8);
                    bad[bit / 8] ^= 1 << (bit % 8);
                }
                1 => bad.truncate(rng.below(bad.len())),
                _ => bad.push(rng.next() as u8),
            }
            let mut t = new(n);
            assert!(
                resume(&mut t, &bad, base, aggregator).is_err(),
                "round {round}"
            );
            assert_eq!(
                bar0(&t),
                bar0(&fresh),
                "round {round}: a refusal loaded something"
            );
            assert_eq!(t.0.bytes(), fresh.0.bytes(), "round {round}");
        }
        // The other aggregator, or another base with as many WQs.
        let mut t = new(n);
        assert!(resume(&mut t, &s, base, aggregator + 1).is_err());
        if base > 1 && aggregator == 1 {
            assert!(resume(&mut t, &s, 1, base).is_err());
        }
    }
}

/// A re-checksummed body whose state no register sequence reaches is
/// refused, loading nothing.
#[test]
fn impossible_saved_states_are_refused() {
    use super::{
        crc32c::crc32c,
        model::{
            wqcfg::WqCfg,
            Dsa, //
        },
        pci::PciConfig,
        stream::{
            body_len,
            check_body,
            encode_body,
            Refusal, //
        },
    };
    let dsa = Dsa::new(std::vec![WqCfg::reset(); 2]);
    let l = *dsa.layout();
    let cfg = PciConfig::new(l.bar0_size, l.bar2_size, l.msix);
    let mut good = std::vec![0u8; body_len(2)];
    encode_body(&cfg, &dsa, &mut good);
    let resum = |b: &mut Vec<u8>| {
        let end = b.len() - 4;
        let crc = !crc32c(!0, &b[..end]);
        b[end..].copy_from_slice(&crc.to_le_bytes());
    };
    let refused = |at: usize, v: u8| {
        let mut b = good.clone();
        b[at] = v;
        resum(&mut b);
        check_body(&cfg, &dsa, &b).unwrap_err()
    };
    // The vendor ID, read-only.
    assert_eq!(refused(0, 0x42), Refusal::Config(0));
    // GENCTRL reserved bits; enable state 2; INTCAUSE bit 7.
    assert!(matches!(refused(256 + 4, 0x80), Refusal::State(_)));
    assert!(matches!(refused(256 + 8, 2), Refusal::State(_)));
    assert!(matches!(refused(256 + 12, 0x80), Refusal::State(_)));
    // WQ 1 enabled while the device is disabled (state bits of word 6).
    assert!(matches!(refused(568 + 64 + 27, 0x60), Refusal::State(_)));
    assert!(check_body(&cfg, &dsa, &good).is_ok());
}

/// A stream of version 1.0 (no portal slots) loads, with no slot pending;
/// a 1.0 body under a 1.1 header, or the other way round, is refused.
#[test]
fn version_1_0_streams_still_load() {
    use super::{
        compat::{
            DeviceDesc,
            Version, //
        },
        crc32c::crc32c,
        model::{
            saved::SAVED_SLOT_BYTES,
            wqcfg::WqCfg,
            Dsa, //
        },
        pci::PciConfig,
        stream::{
            body_len,
            body_len_of,
            encode_body,
            load_body,
            Header,
            Refusal,
            Resume,
            STREAM_VERSION, //
        },
    };
    let n = 4;
    let new = || {
        let dsa = Dsa::new(std::vec![WqCfg::reset(); n]);
        let l = *dsa.layout();
        (PciConfig::new(l.bar0_size, l.bar2_size, l.msix), dsa)
    };
    let mut src = new();
    src.1.bar0_write(0x1000, &8u32.to_le_bytes(), true).unwrap();
    let mut body = std::vec![0u8; body_len(n)];
    encode_body(&src.0, &src.1, &mut body);
    // The 1.0 body: without the slots, re-checksummed.
    let slots_at = body_len_of(0, n) - 4;
    let mut old = body[..slots_at].to_vec();
    assert!(body[slots_at..slots_at + n * SAVED_SLOT_BYTES]
        .iter()
        .all(|&b| b == 0));
    let crc = !crc32c(!0, &old);
    old.extend_from_slice(&crc.to_le_bytes());
    assert_eq!(old.len(), body_len_of(0, n));
    let stream = |minor: u32, body: &[u8]| {
        let header = Header {
            device: DeviceDesc {
                base: 2,
                aggregator: 2,
                version: Version { major: 1, minor },
            },
            flags: 0,
            body_len: body.len() as u32,
        };
        let mut s = header.encode().to_vec();
        s.extend_from_slice(body);
        s
    };
    let target = DeviceDesc {
        base: 2,
        aggregator: 2,
        version: STREAM_VERSION,
    };
    let resume = |s: &[u8]| {
        let mut t = new();
        // A pending slot on the target, which a 1.0 stream clears.
        t.1.portal_submit(0, &[1; 8]).unwrap();
        let mut r = Resume::new(target, n);
        r.advance(s)?;
        let body = r.body(s)?;
        load_body(&mut t.0, &mut t.1, body).map(|()| t)
    };
    let t = resume(&stream(0, &old)).unwrap();
    assert_eq!(t.1.wqs(), src.1.wqs());
    assert_eq!(t.0.bytes(), src.0.bytes());
    assert!(resume(&stream(1, &body)).is_ok());
    assert!(matches!(
        resume(&stream(0, &body)),
        Err(Refusal::BodyLength { .. })
    ));
    assert!(matches!(
        resume(&stream(1, &old)),
        Err(Refusal::BodyLength { .. })
    ));
}
