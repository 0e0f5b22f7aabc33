// SPDX-License-Identifier: GPL-2.0

//! Fuzz target `compat`: the `compatible` grammar and the matcher.
//!
//! Three kinds of input, by the first byte:
//! - two texts (split at the first NUL), parsed as `self` and as
//!   `compatible` documents and matched against each other;
//! - a device and a type description (any base, aggregator, versions),
//!   rendered as the driver renders its `dsa/self` and `compatible` files,
//!   optionally with bytes of the texts changed, then parsed and matched;
//! - a variable type, a set and a value for `set_contains`.
//!
//! Checks, besides no panic or overflow in the logic:
//! - a document `parse_self` takes, `parse_compatible` takes too, it has at
//!   most `MAX_LINES` lines and unique keys, and it matches itself;
//! - a parse error names a line of the text (or the one after it);
//! - `check` returns true exactly when it reports no mismatch, and every
//!   mismatch and error formats;
//! - a rendered `self` always parses, a rendered `compatible` parses iff
//!   its aggregator range is not empty; the match of the two is the ratio
//!   and version rule (same base, aggregator in range, same major, minor
//!   not newer), which agrees with `incompatibilities`; a device matches
//!   the type description made from it;
//! - `set_contains` agrees with a reference built on `str::parse`.

#![no_main]
// "One time in n" reads best as `input.u8() % n == 0`.
#![allow(clippy::manual_is_multiple_of)]

use dsa_logic::compat::{
    check,
    incompatibilities,
    set_contains,
    DeviceDesc,
    Document,
    TypeDesc,
    VarType,
    Version,
    MAX_LINES, //
};
use dsa_logic_fuzz::*;
use libfuzzer_sys::fuzz_target;

/// Runs `check` and returns its verdict, checking it against the reports.
fn matches(source: &Document<'_>, target: &Document<'_>) -> bool {
    let mut reports = 0usize;
    let ok = check(source, target, |m| {
        reports += 1;
        let _ = show(&m);
    });
    assert_eq!(
        ok,
        reports == 0,
        "check() says {ok} with {reports} mismatches"
    );
    ok
}

/// Parses `text` both ways and checks what can be checked on its own.
fn parse_one(text: &str) -> Option<Document<'_>> {
    let lines = text.split_terminator('\n').count();
    let concrete = Document::parse_self(text);
    let any = Document::parse_compatible(text);
    for e in [concrete.err(), any.err()].into_iter().flatten() {
        let _ = show(&e);
        assert!(e.line <= lines + 1, "error at line {} of {lines}", e.line);
    }
    if let Ok(doc) = concrete {
        assert!(any.is_ok(), "a self document is not a compatible one");
        let keys: Vec<_> = doc.lines().map(|l| l.key).collect();
        assert!(keys.len() <= MAX_LINES);
        for (i, k) in keys.iter().enumerate() {
            assert!(!keys[..i].contains(k), "duplicate key {k} accepted");
            assert!(doc.get(k).is_some());
        }
        assert!(matches(&doc, &doc), "a self document does not match itself");
    }
    any.ok()
}

fn texts(a: &str, b: &str) {
    let (sa, sb) = (parse_one(a), parse_one(b));
    if let (Some(sa), Some(sb)) = (sa, sb) {
        matches(&sa, &sb);
        matches(&sb, &sa);
    }
}

fn uint_ref(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn set_contains_ref(vtype: VarType, set: &str, value: &str) -> bool {
    match vtype {
        VarType::Str => set.split(',').any(|item| item == value),
        VarType::Int => {
            let Some(v) = uint_ref(value) else {
                return false;
            };
            set.split(',').any(|item| match item.split_once('-') {
                Some((lo, hi)) => {
                    matches!((uint_ref(lo), uint_ref(hi)), (Some(l), Some(h)) if l <= v && v <= h)
                }
                None => uint_ref(item) == Some(v),
            })
        }
    }
}

fn version(input: &mut Input<'_>) -> Version {
    match input.u8() % 4 {
        0 => Version {
            major: input.u32(),
            minor: input.u32(),
        },
        _ => Version {
            major: u32::from(input.u8() % 3),
            minor: u32::from(input.u8() % 4),
        },
    }
}

fn small_or_any(input: &mut Input<'_>, choices: &[u32]) -> u32 {
    match input.u8() % 4 {
        0 => input.u32(),
        _ => input.choose(choices),
    }
}

/// Changes a few bytes of `text` (keeping it a string).
fn mutate(input: &mut Input<'_>, text: String) -> String {
    let mut b = text.into_bytes();
    for _ in 0..input.below(4) {
        if b.is_empty() {
            break;
        }
        let at = input.below(b.len());
        match input.u8() % 4 {
            0 => {
                b.remove(at);
            }
            1 => b.insert(at, input.choose(b"{}=:,-\n_0a9")),
            _ => b[at] = input.u8(),
        }
    }
    String::from_utf8_lossy(&b).into_owned()
}

fuzz_target!(init: overflow_checks_are_on(), |data: &[u8]| {
    let mut input = Input::new(data);
    match input.u8() % 4 {
        0 | 1 => {
            let rest = input.rest();
            let (a, b) = match rest.iter().position(|&c| c == 0) {
                Some(i) => (&rest[..i], &rest[i + 1..]),
                None => (rest, &[][..]),
            };
            texts(&String::from_utf8_lossy(a), &String::from_utf8_lossy(b));
        }
        2 => {
            let d = DeviceDesc {
                base: small_or_any(&mut input, &[1, 2, 4, 8]),
                aggregator: small_or_any(&mut input, &[0, 1, 2, 3, 7, 8, 64]),
                version: version(&mut input),
            };
            let t = TypeDesc {
                base: small_or_any(&mut input, &[1, 2, 4, 8]),
                max_aggregator: small_or_any(&mut input, &[0, 1, 2, 4, 8, 64]),
                version: version(&mut input),
            };
            let own = TypeDesc {
                base: d.base,
                max_aggregator: d.aggregator,
                version: d.version,
            };
            let (ds, ts, os) = (show(&d), show(&t), show(&own));
            if input.u8() % 4 == 0 {
                let (ds, ts) = (mutate(&mut input, ds), mutate(&mut input, ts));
                texts(&ds, &ts);
                return;
            }
            let dd = Document::parse_self(&ds).expect("a rendered self parses");
            let td = Document::parse_compatible(&ts);
            assert_eq!(td.is_ok(), t.max_aggregator >= 1, "rendered compatible: {ts:?}");
            let Ok(td) = td else {
                return;
            };
            let in_range = (1..=t.max_aggregator).contains(&d.aggregator);
            let rule = d.base == t.base
                && in_range
                && d.version.major == t.version.major
                && d.version.minor <= t.version.minor;
            assert_eq!(matches(&dd, &td), rule, "{ds} against {ts}");
            if in_range {
                let same = DeviceDesc {
                    base: t.base,
                    aggregator: d.aggregator,
                    version: t.version,
                };
                assert_eq!(incompatibilities(&d, &same).next().is_none(), rule);
            }
            if let Some(why) = incompatibilities(&d, &d).next() {
                panic!("a device is incompatible with itself: {}", show(&why));
            }
            if d.aggregator >= 1 {
                let od = Document::parse_compatible(&os).expect("its own type parses");
                assert!(matches(&dd, &od), "a device does not match its own type: {ds} {os}");
            }
        }
        _ => {
            let vtype = if input.bool() { VarType::Int } else { VarType::Str };
            let rest = input.rest();
            let (a, b) = match rest.iter().position(|&c| c == 0) {
                Some(i) => (&rest[..i], &rest[i + 1..]),
                None => (rest, &[][..]),
            };
            let (set, value) = (String::from_utf8_lossy(a), String::from_utf8_lossy(b));
            assert_eq!(
                set_contains(vtype, &set, &value),
                set_contains_ref(vtype, &set, &value),
                "set_contains({vtype:?}, {set:?}, {value:?})"
            );
        }
    }
});
