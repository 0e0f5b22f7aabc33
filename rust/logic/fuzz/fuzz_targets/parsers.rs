// SPDX-License-Identifier: GPL-2.0

//! Fuzz target `parsers`: what users write to sysfs files and module
//! parameters, and the logic behind those files.
//!
//! By the first byte:
//! - `parse_types` (the `types` parameter) on the rest as text;
//! - `parse_aggregator` (the `aggregator` files) on the rest, against a
//!   `max` from the input;
//! - `parse_type_name` (mdev type names);
//! - the ratio rule's arithmetic (`max_aggregator`, `wqs_for`,
//!   `available_instances`) on any values;
//! - `Echo`, which quotes user input in log lines;
//! - a sequence of `WqPool` operations (device create, aggregator change,
//!   remove) and the `WqSet` list format (`dsa/wqs`);
//! - a sequence of `RateLimit` checks (the log budget users can exhaust).
//!
//! Checks, besides no panic or overflow in the logic: accepted values are
//! in their documented ranges and agree with reference parsers (types: a
//! comma list of 1, 2, 4, 8 without repeats, one trailing newline;
//! aggregator: decimal in 1..=max, one trailing newline; type names
//! `dsa-<base>dwq` that render back the same); the arithmetic matches
//! 128-bit arithmetic; `Echo` output is printable ASCII, bounded, and
//! unescapes to the input's first `ECHO_MAX` bytes; the pool's accounting
//! stays exact and a failed operation changes nothing; the list format
//! parses back to the set; the log budget lets at most `burst` lines
//! through per interval and counts every line it held back.

#![no_main]
// "One time in n" reads best as `input.u8() % n == 0`.
#![allow(clippy::manual_is_multiple_of)]

use dsa_logic::{
    echo::{
        Echo,
        ECHO_MAX, //
    },
    ratelimit::{
        RateLimit,
        Verdict, //
    },
    types::{
        available_instances,
        max_aggregator,
        parse_aggregator,
        parse_type_name,
        parse_types,
        wqs_for,
        AggregatorError,
        TypeName,
        TypesError,
        BASES, //
    },
    wq::{
        WqPool,
        WqSet,
        MAX_WQS, //
    },
};
use dsa_logic_fuzz::*;
use libfuzzer_sys::fuzz_target;

fn types(text: &str) {
    let r = parse_types(text);
    let value = text.strip_suffix('\n').unwrap_or(text);
    match r {
        Ok(set) => {
            let items: Vec<&str> = value.split(',').collect();
            assert!(!set.is_empty());
            assert_eq!(set.len(), items.len(), "{text:?}");
            for item in &items {
                let b: u32 = item.parse().expect("an accepted item is a number");
                assert!(BASES.contains(&b) && set.contains(b));
                assert_eq!(b.to_string(), *item, "leading zeros or signs accepted");
            }
            for b in set.iter() {
                assert!(BASES.contains(&b));
            }
            assert_eq!(
                parse_types(&show(&set)),
                Ok(set),
                "the set's text parses back"
            );
            for total in [0usize, 1, 3, 4, 7, 8, 64] {
                let fit = set.fitting(total);
                assert!(fit.iter().all(|b| set.contains(b) && b as usize <= total));
                assert_eq!(
                    fit.len(),
                    set.iter().filter(|&b| b as usize <= total).count()
                );
            }
        }
        Err(e) => {
            let _ = show(&e);
            match e {
                TypesError::Empty => assert!(value.is_empty()),
                TypesError::EmptyItem => assert!(value.split(',').any(str::is_empty)),
                TypesError::NotABase(item) => {
                    assert!(value.split(',').any(|i| i == item));
                    assert!(!["1", "2", "4", "8"].contains(&item));
                }
                TypesError::Repeated(b) => {
                    assert!(value.split(',').filter(|i| i.parse() == Ok(b)).count() >= 2)
                }
            }
        }
    }
}

/// The reference `aggregator` parser, by `str::parse` on 128 bits.
fn aggregator_ref(input: &[u8], max: u32) -> Result<u32, AggregatorError> {
    let digits = input.strip_suffix(b"\n").unwrap_or(input);
    if digits.is_empty() {
        return Err(AggregatorError::Empty);
    }
    if !digits.iter().all(u8::is_ascii_digit) {
        return Err(AggregatorError::NotDecimal);
    }
    let text = std::str::from_utf8(digits).expect("ASCII");
    let trimmed = text.trim_start_matches('0');
    let v: u128 = if trimmed.len() > 30 {
        u128::MAX
    } else {
        trimmed.parse().unwrap_or(0)
    };
    if v > u128::from(max) {
        return Err(AggregatorError::TooLarge { max });
    }
    if v == 0 {
        return Err(AggregatorError::Zero);
    }
    Ok(v as u32)
}

fn aggregator(input: &mut Input<'_>) {
    let max = match input.u8() % 4 {
        0 => input.u32(),
        _ => input.choose(&[0, 1, 8, 64, 4096, u32::MAX]),
    };
    let text = input.rest();
    let r = parse_aggregator(text, max);
    assert_eq!(
        r,
        aggregator_ref(text, max),
        "aggregator {:?} max {max}",
        show(&Echo(text))
    );
    if let Ok(v) = r {
        assert!((1..=max).contains(&v));
    }
    if let Err(e) = r {
        let _ = show(&e);
    }
}

fn type_name(text: &str) {
    if let Some(b) = parse_type_name(text) {
        assert!(BASES.contains(&b));
        assert_eq!(
            show(&TypeName(b)),
            text,
            "a type name that does not render back"
        );
    }
    for b in BASES {
        assert_eq!(parse_type_name(&show(&TypeName(b))), Some(b));
    }
}

fn arithmetic(input: &mut Input<'_>) {
    let total = match input.u8() % 4 {
        0 => input.u64() as usize,
        _ => input.below(MAX_WQS + 2),
    };
    let base = match input.u8() % 4 {
        0 => input.u32(),
        _ => input.choose(&[0, 1, 2, 3, 4, 8]),
    };
    let aggregator = match input.u8() % 4 {
        0 => input.u32(),
        _ => u32::from(input.u16()),
    };
    let max = max_aggregator(total, base);
    let q = total as u128 / u128::from(base.max(1));
    assert_eq!(
        u128::from(max),
        q.min(u128::from(u32::MAX)),
        "max_aggregator({total}, {base})"
    );
    let cost = u128::from(base) * u128::from(aggregator);
    let w = wqs_for(base, aggregator);
    assert_eq!(
        w.map(|w| w as u128),
        (cost <= usize::MAX as u128).then_some(cost)
    );
    let free = total;
    let n = available_instances(free, base, aggregator);
    if cost == 0 || w.is_none() {
        assert_eq!(n, 0);
    } else {
        assert_eq!(n as u128, free as u128 / cost, "available_instances");
    }
}

fn echo(bytes: &[u8]) {
    let out = show(&Echo(bytes));
    assert!(
        out.bytes().all(|c| (0x20..0x7f).contains(&c)),
        "Echo output is not printable: {out:?}"
    );
    assert!(out.len() <= 2 + 4 * ECHO_MAX + 3, "Echo output too long");
    let body = out.strip_suffix("...").unwrap_or(&out);
    assert_eq!(body.len() != out.len(), bytes.len() > ECHO_MAX, "ellipsis");
    let inner = body
        .strip_prefix('\'')
        .and_then(|b| b.strip_suffix('\''))
        .expect("Echo quotes");
    // Unescape.
    let mut back = Vec::new();
    let b = inner.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' {
            match b[i + 1] {
                b'n' => back.push(b'\n'),
                b't' => back.push(b'\t'),
                b'x' => {
                    let hex = std::str::from_utf8(&b[i + 2..i + 4]).unwrap();
                    back.push(u8::from_str_radix(hex, 16).expect("hex escape"));
                    i += 2;
                }
                c => back.push(c),
            }
            i += 2;
        } else {
            assert_ne!(b[i], b'\'', "unescaped quote");
            back.push(b[i]);
            i += 1;
        }
    }
    assert_eq!(
        back,
        &bytes[..bytes.len().min(ECHO_MAX)],
        "Echo does not unescape to its input"
    );
}

/// Parses the bitmap list format back.
fn parse_list(text: &str) -> WqSet {
    let mut set = WqSet::new();
    if text.is_empty() {
        return set;
    }
    let mut last = None;
    for item in text.split(',') {
        let (lo, hi) = match item.split_once('-') {
            Some((lo, hi)) => (lo.parse::<usize>().unwrap(), hi.parse::<usize>().unwrap()),
            None => {
                let v = item.parse::<usize>().unwrap();
                (v, v)
            }
        };
        assert!(
            lo <= hi && last.is_none_or(|l: usize| lo > l + 1),
            "list not in canonical form: {text}"
        );
        for id in lo..=hi {
            set.insert(id);
        }
        last = Some(hi);
    }
    set
}

fn pool(input: &mut Input<'_>) {
    let total = match input.u8() % 8 {
        0 => input.u16() as usize,
        _ => input.below(130),
    };
    let mut pool = WqPool::new(total);
    assert_eq!(pool.total(), total.min(MAX_WQS));
    let mut devices: Vec<WqSet> = Vec::new();
    for _ in 0..48 {
        if input.is_empty() {
            break;
        }
        let n = match input.u8() % 4 {
            0 => input.u16() as usize,
            _ => input.below(40),
        };
        let (pool0, devices0) = (pool.clone(), devices.clone());
        match input.u8() % 4 {
            // A parent has a few devices (the checks below are quadratic).
            0 | 1 if devices.len() < 12 => match pool.alloc(n) {
                Ok(set) => {
                    assert_eq!(set.len(), n);
                    assert!(!set.intersects(pool0.used()), "alloc took a WQ in use");
                    if pool0.total() <= 256 {
                        // The lowest free ones.
                        let lowest: Vec<usize> = (0..pool0.total())
                            .filter(|&i| !pool0.used().contains(i))
                            .take(n)
                            .collect();
                        assert_eq!(set.iter().collect::<Vec<_>>(), lowest);
                    }
                    devices.push(set);
                }
                Err(e) => {
                    assert_eq!((e.needed, e.free), (n, pool0.free()));
                    assert!(n > pool0.free());
                }
            },
            2 if !devices.is_empty() => {
                let i = input.below(devices.len());
                let set = devices.swap_remove(i);
                pool.release(&set);
            }
            _ if !devices.is_empty() => {
                let i = input.below(devices.len());
                let have = devices[i].len();
                let r = pool.resize(&mut devices[i], n);
                match r {
                    Ok(()) => assert_eq!(devices[i].len(), n),
                    Err(e) => {
                        assert!(n.checked_sub(have).is_some_and(|more| more > pool0.free()));
                        assert_eq!(e.free, pool0.free());
                        assert!(devices == devices0, "a failed resize changed the set");
                    }
                }
            }
            _ => {}
        }
        if devices.len() == devices0.len() && devices == devices0 {
            assert_eq!(
                pool.used(),
                pool0.used(),
                "nothing changed but the pool did"
            );
        }
        // Accounting: the devices' sets are disjoint subsets of what the
        // pool holds, and as many WQs in all: they make it up.
        let mut count = 0;
        for (j, s) in devices.iter().enumerate() {
            assert!(
                devices[..j].iter().all(|o| !o.intersects(s)),
                "device {j} shares a WQ"
            );
            assert!(
                s.is_subset(pool.used()),
                "device {j} holds a WQ the pool does not"
            );
            count += s.len();
        }
        assert_eq!(count, pool.used().len(), "the pool holds WQs no device has");
        assert!(pool.used().iter().last().is_none_or(|id| id < pool.total()));
        assert_eq!(pool.free(), pool.total() - count, "free_wqs");
    }
    for s in &devices {
        let text = show(s);
        assert!(
            parse_list(&text) == *s,
            "list format {text} does not parse back"
        );
        if let Some(k) = s.len().checked_sub(1) {
            assert_eq!(s.nth(k), s.iter().last());
            assert_eq!(s.nth(k + 1), None);
        }
    }
}

fn ratelimit(input: &mut Input<'_>) {
    let interval = match input.u8() % 4 {
        0 => input.u64(),
        _ => u64::from(input.u8() % 16),
    };
    let burst = match input.u8() % 4 {
        0 => input.u32(),
        _ => u32::from(input.u8() % 5),
    };
    let mut r = RateLimit::new(interval, burst);
    let mut now = match input.u8() % 4 {
        0 => u64::MAX - u64::from(input.u8()),
        _ => u64::from(input.u16()),
    };
    let mut held = 0u32;
    let mut begin: Option<u64> = None;
    let mut printed = 0u32;
    for _ in 0..200 {
        if input.is_empty() {
            break;
        }
        let step = input.u8();
        now = match step % 8 {
            0 => now.wrapping_sub(u64::from(input.u8())),
            1 => input.u64(),
            _ => now.wrapping_add(u64::from(step >> 3)),
        };
        // The reference: a new interval when none began, time went back
        // or `interval` passed.
        if begin.is_none_or(|b| now < b || now - b >= interval) {
            begin = Some(now);
            printed = 0;
        }
        let v = r.check(now);
        if printed < burst {
            printed += 1;
            assert_eq!(v, Verdict::Log { suppressed: held }, "at {now}");
            held = 0;
        } else {
            assert_eq!(v, Verdict::Suppress, "at {now}");
            held = held.saturating_add(1);
        }
        if input.u8() % 32 == 0 {
            assert_eq!(r.take_missed(), held);
            held = 0;
        }
    }
}

fuzz_target!(init: overflow_checks_are_on(), |data: &[u8]| {
    let mut input = Input::new(data);
    match input.u8() % 8 {
        0 => types(&String::from_utf8_lossy(input.rest())),
        1 => aggregator(&mut input),
        2 => type_name(&String::from_utf8_lossy(input.rest())),
        3 => arithmetic(&mut input),
        4 => echo(input.rest()),
        5 => pool(&mut input),
        6 => ratelimit(&mut input),
        _ => {
            // Both parsers on the same bytes.
            let rest = input.rest();
            types(&String::from_utf8_lossy(rest));
            let _ = parse_aggregator(rest, 64);
        }
    }
});
