// SPDX-License-Identifier: GPL-2.0

//! Base types, the ratio rule's arithmetic, and the parsers for the values
//! users write: the `types` module parameter and `aggregator` files.
//!
//! A type `dsa-<k>dwq` has base `k`: one unit of it is `k` WQs. A device
//! created from it with aggregator `a` holds `k * a` WQs.

use core::{
    fmt,
    num::NonZeroUsize, //
};

/// The bases a parent can expose, ascending: `dsa-1dwq` .. `dsa-8dwq`.
pub const BASES: [u32; 4] = [1, 2, 4, 8];

/// The `types` module parameter's default.
pub const DEFAULT_TYPES: &str = "1,2,4,8";

/// A set of bases drawn from [`BASES`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BaseSet {
    mask: u8,
}

impl BaseSet {
    /// Returns every base in [`BASES`].
    #[cfg(test)]
    pub const fn all() -> Self {
        Self { mask: 0b1111 }
    }

    fn bit(base: u32) -> Option<u8> {
        BASES.iter().position(|&b| b == base).map(|i| 1 << i)
    }

    /// Returns whether `base` is in the set.
    pub fn contains(&self, base: u32) -> bool {
        Self::bit(base).is_some_and(|bit| self.mask & bit != 0)
    }

    /// Returns how many bases the set holds.
    pub fn len(&self) -> usize {
        self.mask.count_ones() as usize
    }

    /// Returns whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.mask == 0
    }

    /// Iterates over the bases in ascending order.
    pub fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        BASES.into_iter().filter(move |&b| self.contains(b))
    }

    /// Returns the bases of the set that fit in a parent of `total_wqs` WQs,
    /// that is whose `max_aggregator` is at least 1.
    pub fn fitting(&self, total_wqs: usize) -> Self {
        let mut out = Self::default();
        for base in self.iter().filter(|&b| b as usize <= total_wqs) {
            out.mask |= Self::bit(base).unwrap_or(0);
        }
        out
    }
}

impl fmt::Display for BaseSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, base) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{base}")?;
        }
        Ok(())
    }
}

/// Why a `types` value was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TypesError<'a> {
    /// The value names no base at all.
    Empty,
    /// An item is empty (two commas in a row, or a comma at either end).
    EmptyItem,
    /// An item is not one of [`BASES`].
    NotABase(&'a str),
    /// A base appears twice.
    Repeated(u32),
}

impl fmt::Display for TypesError<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("is empty"),
            Self::EmptyItem => f.write_str("has an empty item"),
            Self::NotABase(item) => write!(f, "'{item}' is not a base"),
            Self::Repeated(base) => write!(f, "repeats {base}"),
        }
    }
}

/// Parses the `types` module parameter: a comma list drawn from 1, 2, 4 and
/// 8, without repeats, in any order. One trailing newline is allowed.
pub fn parse_types(value: &str) -> Result<BaseSet, TypesError<'_>> {
    let value = value.strip_suffix('\n').unwrap_or(value);
    if value.is_empty() {
        return Err(TypesError::Empty);
    }
    let mut set = BaseSet::default();
    for item in value.split(',') {
        if item.is_empty() {
            return Err(TypesError::EmptyItem);
        }
        let base = match item {
            "1" => 1,
            "2" => 2,
            "4" => 4,
            "8" => 8,
            _ => return Err(TypesError::NotABase(item)),
        };
        if set.contains(base) {
            return Err(TypesError::Repeated(base));
        }
        set.mask |= BaseSet::bit(base).unwrap_or(0);
    }
    Ok(set)
}

/// Returns the largest aggregator a device of base `base` can have on a
/// parent of `total_wqs` WQs: `floor(total_wqs / base)`.
pub fn max_aggregator(total_wqs: usize, base: u32) -> u32 {
    // Base 0 (no type has it) divides by 1, as ever.
    let base = NonZeroUsize::new(base as usize).unwrap_or(NonZeroUsize::MIN);
    let quotient = total_wqs / base;
    u32::try_from(quotient).unwrap_or(u32::MAX)
}

/// Returns the WQs a device of base `base` and aggregator `aggregator`
/// holds, `base * aggregator`, or `None` on overflow.
pub fn wqs_for(base: u32, aggregator: u32) -> Option<usize> {
    (base as usize).checked_mul(aggregator as usize)
}

/// Returns `available_instances`: how many devices of base `base` with
/// aggregator `aggregator` still fit in `free_wqs` free WQs.
pub fn available_instances(free_wqs: usize, base: u32, aggregator: u32) -> usize {
    wqs_for(base, aggregator)
        .and_then(|cost| free_wqs.checked_div(cost))
        .unwrap_or(0)
}

/// Why an `aggregator` value was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AggregatorError {
    /// Nothing was written (or only a newline).
    Empty,
    /// Something other than decimal digits was written.
    NotDecimal,
    /// Zero was written.
    Zero,
    /// The value is larger than `max` (or does not fit in 32 bits).
    TooLarge {
        /// The largest value allowed.
        max: u32,
    },
}

impl fmt::Display for AggregatorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("is empty"),
            Self::NotDecimal => f.write_str("is not a decimal integer"),
            Self::Zero => f.write_str("is zero"),
            Self::TooLarge { max } => write!(f, "is above max_aggregator {max}"),
        }
    }
}

/// Parses a value written to an `aggregator` file: decimal digits only
/// (leading zeros allowed, no sign, no spaces), one optional trailing
/// newline, in `1..=max`.
pub fn parse_aggregator(input: &[u8], max: u32) -> Result<u32, AggregatorError> {
    let digits = input.strip_suffix(b"\n").unwrap_or(input);
    if digits.is_empty() {
        return Err(AggregatorError::Empty);
    }
    let mut value: u32 = 0;
    let mut overflow = false;
    for &c in digits {
        let Some(digit) = char::from(c).to_digit(10) else {
            return Err(AggregatorError::NotDecimal);
        };
        match value.checked_mul(10).and_then(|v| v.checked_add(digit)) {
            Some(v) => value = v,
            None => overflow = true,
        }
    }
    if overflow || value > max {
        return Err(AggregatorError::TooLarge { max });
    }
    if value == 0 {
        return Err(AggregatorError::Zero);
    }
    Ok(value)
}

/// Writes the name of the type with base `base` as its sysfs directory
/// shows it, `dsa-<k>dwq`.
pub struct TypeName(pub u32);

impl fmt::Display for TypeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "dsa-{}dwq", self.0)
    }
}

/// Parses a type name `dsa-<k>dwq` back to its base (any `k` in [`BASES`]).
#[cfg(not(MODULE))]
pub fn parse_type_name(name: &str) -> Option<u32> {
    let k = name.strip_prefix("dsa-")?.strip_suffix("dwq")?;
    match k.as_bytes() {
        [digit] => char::from(*digit)
            .to_digit(10)
            .filter(|k| BASES.contains(k)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::ToString;
    use std::vec::Vec;

    #[test]
    fn types_parameter() {
        assert_eq!(parse_types(DEFAULT_TYPES), Ok(BaseSet::all()));
        assert_eq!(
            parse_types("8,1\n").unwrap().iter().collect::<Vec<_>>(),
            [1, 8]
        );
        assert_eq!(parse_types("1").unwrap().to_string(), "1");
        assert_eq!(parse_types(""), Err(TypesError::Empty));
        assert_eq!(parse_types("\n"), Err(TypesError::Empty));
        assert_eq!(parse_types("1,,2"), Err(TypesError::EmptyItem));
        assert_eq!(parse_types("1,"), Err(TypesError::EmptyItem));
        assert_eq!(parse_types("3"), Err(TypesError::NotABase("3")));
        assert_eq!(parse_types("01"), Err(TypesError::NotABase("01")));
        assert_eq!(parse_types("1, 2"), Err(TypesError::NotABase(" 2")));
        assert_eq!(parse_types("2,4,2"), Err(TypesError::Repeated(2)));
        assert_eq!(TypesError::NotABase("x").to_string(), "'x' is not a base");
    }

    #[test]
    fn fitting_drops_bases_larger_than_the_parent() {
        assert_eq!(BaseSet::all().fitting(4).to_string(), "1,2,4");
        assert_eq!(BaseSet::all().fitting(64), BaseSet::all());
        assert!(parse_types("8").unwrap().fitting(7).is_empty());
    }

    #[test]
    fn arithmetic() {
        assert_eq!(max_aggregator(64, 1), 64);
        assert_eq!(max_aggregator(64, 8), 8);
        assert_eq!(max_aggregator(63, 2), 31);
        assert_eq!(max_aggregator(4, 8), 0);
        assert_eq!(wqs_for(2, 15), Some(30));
        assert_eq!(wqs_for(1, 30), Some(30));
        assert_eq!(available_instances(64, 1, 1), 64);
        assert_eq!(available_instances(64, 2, 15), 2);
        assert_eq!(available_instances(29, 1, 30), 0);
        assert_eq!(available_instances(64, 1, 0), 0);
    }

    #[test]
    fn aggregator_values() {
        assert_eq!(parse_aggregator(b"1", 64), Ok(1));
        assert_eq!(parse_aggregator(b"64\n", 64), Ok(64));
        assert_eq!(parse_aggregator(b"007", 64), Ok(7));
        assert_eq!(parse_aggregator(b"", 64), Err(AggregatorError::Empty));
        assert_eq!(parse_aggregator(b"\n", 64), Err(AggregatorError::Empty));
        assert_eq!(parse_aggregator(b"0", 64), Err(AggregatorError::Zero));
        assert_eq!(
            parse_aggregator(b"-1", 64),
            Err(AggregatorError::NotDecimal)
        );
        assert_eq!(
            parse_aggregator(b"+1", 64),
            Err(AggregatorError::NotDecimal)
        );
        assert_eq!(
            parse_aggregator(b"0x10", 64),
            Err(AggregatorError::NotDecimal)
        );
        assert_eq!(
            parse_aggregator(b" 1", 64),
            Err(AggregatorError::NotDecimal)
        );
        assert_eq!(
            parse_aggregator(b"1\n\n", 64),
            Err(AggregatorError::NotDecimal)
        );
        assert_eq!(
            parse_aggregator(b"1 ", 64),
            Err(AggregatorError::NotDecimal)
        );
        assert_eq!(
            parse_aggregator(b"\xff", 64),
            Err(AggregatorError::NotDecimal)
        );
        assert_eq!(
            parse_aggregator(b"65", 64),
            Err(AggregatorError::TooLarge { max: 64 })
        );
        assert_eq!(
            parse_aggregator(b"99999999999999999999", 64),
            Err(AggregatorError::TooLarge { max: 64 })
        );
        assert_eq!(
            parse_aggregator(b"4294967296", u32::MAX),
            Err(AggregatorError::TooLarge { max: u32::MAX })
        );
        assert_eq!(parse_aggregator(b"4294967295", u32::MAX), Ok(u32::MAX));
    }

    #[test]
    fn type_names() {
        for base in BASES {
            let name = TypeName(base).to_string();
            assert_eq!(parse_type_name(&name), Some(base));
        }
        assert_eq!(TypeName(2).to_string(), "dsa-2dwq");
        assert_eq!(parse_type_name("dsa-3dwq"), None);
        assert_eq!(parse_type_name("dsa-01dwq"), None);
        assert_eq!(parse_type_name("idxd-1dwq"), None);
    }
}
