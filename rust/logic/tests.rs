// SPDX-License-Identifier: GPL-2.0

//! Randomised tests of the logic against simple models: long random
//! sequences of pool operations, and random and mutated documents for the
//! grammar. Deterministic (a fixed-seed generator), so a failure reproduces.

use crate::logic::{
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
