// SPDX-License-Identifier: GPL-2.0

//! Migration compatibility: the `compatible` and `self` files, their
//! grammar, and the matcher a manager (or `dsa-compat`) runs on them.
//!
//! A type's `compatible` file says which migration sources a device created
//! from that type accepts; a device's `dsa/self` file describes the device
//! in the same keys with concrete values. The source is compatible with the
//! target type iff the source's `self` matches the target's `compatible`.
//!
//! The grammar (also in `Documentation/`, as EBNF):
//!
//! ```text
//! document    = { line } ;
//! line        = key "=" value LF ;
//! key         = lower { lower | digit | "_" } ;
//! value       = literal | declaration | reference ;
//! literal     = lchar { lchar } ;
//! lchar       = ? printable ASCII except space, "{", "}" and "=" ? ;
//! declaration = "{" name ":" vtype ":" set "}" ;
//! reference   = "{" name "}" ;
//! name        = key ;
//! vtype       = "int" | "str" ;
//! set         = item { "," item } ;
//! item        = uint [ "-" uint ]      (* vtype int; a-b with a <= b *)
//!             | word ;                 (* vtype str: lchars except "," *)
//! uint        = digit { digit } ;
//! ```
//!
//! A key appears at most once. A `self` document holds literals only. In a
//! `compatible` document a declaration introduces a variable bound to the
//! source's value (which must be in the set: "the target gets the same value
//! as the source"), and a reference, on a later line, requires the source's
//! value to equal that binding. Every key of `compatible` must be in `self`
//! and match; a key of `self` that `compatible` lacks is a mismatch.
//!
//! The driver writes the files ([`DeviceDesc`], [`TypeDesc`]); the parser
//! and the matcher ([`Document`], [`check`]) are for the host, and only
//! there are they built (`not(MODULE)`).

use super::types::TypeName;
use core::fmt;

/// The device API every dsa_mdev device reports.
pub const DEVICE_API: &str = "vfio-pci";

/// Key: the VFIO device API.
pub const KEY_DEVICE_API: &str = "device_api";
/// Key: the mdev type name, `dsa-<k>dwq`.
pub const KEY_MDEV_TYPE: &str = "mdev_type";
/// Key: the aggregator.
pub const KEY_AGGREGATOR: &str = "aggregator";
/// Key: the migration stream's major version.
pub const KEY_VERSION_MAJOR: &str = "migration_version_major";
/// Key: the migration stream's minor version.
pub const KEY_VERSION_MINOR: &str = "migration_version_minor";
/// Key: the device attributes a manager copies from source to target after
/// creating the target.
pub const KEY_DYNAMIC: &str = "dynamic_resources";

/// The most variables one `compatible` document may declare.
#[cfg(not(MODULE))]
pub const MAX_VARIABLES: usize = 8;

/// The most lines one document may have.
#[cfg(not(MODULE))]
pub const MAX_LINES: usize = 64;

/// A migration stream version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version {
    /// Incompatible changes bump it; the target must have the same.
    pub major: u32,
    /// Compatible additions bump it; the target must have the same or newer.
    pub minor: u32,
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// A concrete device: what its `dsa/self` file says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeviceDesc {
    /// The base of its type (`k` of `dsa-<k>dwq`).
    pub base: u32,
    /// Its aggregator.
    pub aggregator: u32,
    /// The migration stream version its driver writes.
    pub version: Version,
}

impl fmt::Display for DeviceDesc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{KEY_DEVICE_API}={DEVICE_API}")?;
        writeln!(f, "{KEY_MDEV_TYPE}={}", TypeName(self.base))?;
        writeln!(f, "{KEY_AGGREGATOR}={}", self.aggregator)?;
        writeln!(f, "{KEY_VERSION_MAJOR}={}", self.version.major)?;
        writeln!(f, "{KEY_VERSION_MINOR}={}", self.version.minor)?;
        writeln!(f, "{KEY_DYNAMIC}={KEY_AGGREGATOR}")
    }
}

/// What a target type accepts: what its `compatible` file says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TypeDesc {
    /// The type's base.
    pub base: u32,
    /// The largest aggregator a device of the type can have on its parent.
    pub max_aggregator: u32,
    /// The newest migration stream version the driver reads.
    pub version: Version,
}

impl fmt::Display for TypeDesc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{KEY_DEVICE_API}={DEVICE_API}")?;
        writeln!(f, "{KEY_MDEV_TYPE}={}", TypeName(self.base))?;
        writeln!(
            f,
            "{KEY_AGGREGATOR}={{aggregator:int:{}}}",
            IntRange(1, self.max_aggregator)
        )?;
        writeln!(f, "{KEY_VERSION_MAJOR}={}", self.version.major)?;
        writeln!(
            f,
            "{KEY_VERSION_MINOR}={{minor:int:{}}}",
            IntRange(0, self.version.minor)
        )?;
        writeln!(f, "{KEY_DYNAMIC}={KEY_AGGREGATOR}")
    }
}

/// Writes `a-b`, or `a` alone when both ends are equal.
struct IntRange(u32, u32);

impl fmt::Display for IntRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == self.1 {
            write!(f, "{}", self.0)
        } else {
            write!(f, "{}-{}", self.0, self.1)
        }
    }
}

/// One reason a source device cannot migrate to a target device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Incompatible {
    /// The base types differ (even if the WQ totals are equal).
    Base {
        /// The source's base.
        source: u32,
        /// The target's base.
        target: u32,
    },
    /// The aggregators differ.
    Aggregator {
        /// The source's aggregator.
        source: u32,
        /// The target's aggregator.
        target: u32,
    },
    /// The stream's major version is not the target's.
    Major {
        /// The source's stream version.
        source: Version,
        /// The target's stream version.
        target: Version,
    },
    /// The stream's minor version is newer than the target's.
    Minor {
        /// The source's stream version.
        source: Version,
        /// The target's stream version.
        target: Version,
    },
}

impl fmt::Display for Incompatible {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Base { source, target } => write!(
                f,
                "source is {}, target is {}",
                TypeName(*source),
                TypeName(*target)
            ),
            Self::Aggregator { source, target } => write!(
                f,
                "source has aggregator {source}, target has aggregator {target}"
            ),
            Self::Major { source, target } => write!(
                f,
                "source stream version {source}, target reads major version {} only",
                target.major
            ),
            Self::Minor { source, target } => write!(
                f,
                "source stream version {source} is newer than the target's {target}"
            ),
        }
    }
}

/// The ratio rule: every reason `source` cannot migrate to `target`, in a
/// fixed order (base, aggregator, major, minor). Empty iff compatible.
pub fn incompatibilities(
    source: &DeviceDesc,
    target: &DeviceDesc,
) -> impl Iterator<Item = Incompatible> {
    let base = (source.base != target.base).then_some(Incompatible::Base {
        source: source.base,
        target: target.base,
    });
    let aggregator = (source.aggregator != target.aggregator).then_some(Incompatible::Aggregator {
        source: source.aggregator,
        target: target.aggregator,
    });
    let (sv, tv) = (source.version, target.version);
    let version = if sv.major != tv.major {
        Some(Incompatible::Major {
            source: sv,
            target: tv,
        })
    } else if sv.minor > tv.minor {
        Some(Incompatible::Minor {
            source: sv,
            target: tv,
        })
    } else {
        None
    };
    [base, aggregator, version].into_iter().flatten()
}

/// The fix for a target that does not match `source`'s type or aggregator:
/// "recreate the target as dsa-1dwq with aggregator 30".
pub struct Fix<'a>(pub &'a DeviceDesc);

impl fmt::Display for Fix<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "recreate the target as {} with aggregator {}",
            TypeName(self.0.base),
            self.0.aggregator
        )
    }
}

/// The type of a variable.
#[cfg(not(MODULE))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VarType {
    /// Unsigned decimal integers; set items are values or ranges `a-b`.
    Int,
    /// Words; set items are compared as strings.
    Str,
}

/// A parsed value.
#[cfg(not(MODULE))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Value<'a> {
    /// A literal: the source must have exactly this value.
    Literal(&'a str),
    /// `{name:type:set}`: the source's value must be in `set`; it is bound
    /// to `name`.
    Declaration {
        /// The variable's name.
        name: &'a str,
        /// The variable's type.
        vtype: VarType,
        /// The set, as written (already validated).
        set: &'a str,
    },
    /// `{name}`: the source's value must equal what `name` was bound to.
    Reference(&'a str),
}

/// A parsed line.
#[cfg(not(MODULE))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Line<'a> {
    /// The key.
    pub key: &'a str,
    /// The value.
    pub value: Value<'a>,
}

/// What is wrong with a document.
#[cfg(not(MODULE))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParseErrorKind {
    /// The last line does not end with a newline.
    MissingNewline,
    /// A line has no `=`.
    NoEquals,
    /// The key is empty or has characters other than `a-z`, `0-9`, `_`, or
    /// does not start with a letter.
    BadKey,
    /// The key appeared on an earlier line.
    DuplicateKey,
    /// The value is empty or has a character outside `lchar`.
    BadValue,
    /// A `{...}` is not a well-formed declaration or reference.
    BadVariable,
    /// The variable type is neither `int` nor `str`.
    UnknownVarType,
    /// A set item is malformed (empty, not a number, `a-b` with `a > b`).
    BadSet,
    /// A variable is declared twice.
    DuplicateVariable,
    /// A reference names a variable no earlier line declares.
    UnknownVariable,
    /// More than [`MAX_VARIABLES`] declarations.
    TooManyVariables,
    /// More than [`MAX_LINES`] lines.
    TooManyLines,
    /// A `self` document holds a declaration or reference.
    NotConcrete,
}

/// A document that does not follow the grammar, and where.
#[cfg(not(MODULE))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// The 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub kind: ParseErrorKind,
}

#[cfg(not(MODULE))]
impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            ParseErrorKind::MissingNewline => "does not end with a newline",
            ParseErrorKind::NoEquals => "has no '='",
            ParseErrorKind::BadKey => "has a malformed key",
            ParseErrorKind::DuplicateKey => "repeats a key",
            ParseErrorKind::BadValue => "has a malformed value",
            ParseErrorKind::BadVariable => "has a malformed {variable}",
            ParseErrorKind::UnknownVarType => "has a variable type other than int or str",
            ParseErrorKind::BadSet => "has a malformed set",
            ParseErrorKind::DuplicateVariable => "declares a variable twice",
            ParseErrorKind::UnknownVariable => "refers to an undeclared variable",
            ParseErrorKind::TooManyVariables => "declares too many variables",
            ParseErrorKind::TooManyLines => "is beyond the line limit",
            ParseErrorKind::NotConcrete => "is not a concrete value",
        };
        write!(f, "line {} {what}", self.line)
    }
}

#[cfg(not(MODULE))]
fn is_lchar(c: u8) -> bool {
    c.is_ascii_graphic() && !matches!(c, b'{' | b'}' | b'=')
}

#[cfg(not(MODULE))]
fn is_ident(s: &str) -> bool {
    let b = s.as_bytes();
    b.first().is_some_and(u8::is_ascii_lowercase)
        && b.iter()
            .all(|&c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_')
}

#[cfg(not(MODULE))]
fn parse_uint(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    s.bytes().try_fold(0u64, |v, c| {
        v.checked_mul(10)?
            .checked_add(u64::from(char::from(c).to_digit(10)?))
    })
}

/// Checks a set against its type; returns whether it is well-formed.
#[cfg(not(MODULE))]
fn valid_set(vtype: VarType, set: &str) -> bool {
    set.split(',').all(|item| match vtype {
        VarType::Int => match item.split_once('-') {
            Some((lo, hi)) => {
                matches!((parse_uint(lo), parse_uint(hi)), (Some(l), Some(h)) if l <= h)
            }
            None => parse_uint(item).is_some(),
        },
        VarType::Str => !item.is_empty() && item.bytes().all(|c| is_lchar(c) && c != b','),
    })
}

/// Returns whether `value` is a member of `set` (both already validated).
#[cfg(not(MODULE))]
pub fn set_contains(vtype: VarType, set: &str, value: &str) -> bool {
    match vtype {
        VarType::Int => {
            let Some(v) = parse_uint(value) else {
                return false;
            };
            set.split(',').any(|item| match item.split_once('-') {
                Some((lo, hi)) => {
                    matches!((parse_uint(lo), parse_uint(hi)), (Some(l), Some(h)) if l <= v && v <= h)
                }
                None => parse_uint(item) == Some(v),
            })
        }
        VarType::Str => set.split(',').any(|item| item == value),
    }
}

#[cfg(not(MODULE))]
fn parse_value(raw: &str) -> Result<Value<'_>, ParseErrorKind> {
    let Some(inner) = raw.strip_prefix('{') else {
        if raw.is_empty() || !raw.bytes().all(is_lchar) {
            return Err(ParseErrorKind::BadValue);
        }
        return Ok(Value::Literal(raw));
    };
    let inner = inner.strip_suffix('}').ok_or(ParseErrorKind::BadVariable)?;
    let mut parts = inner.splitn(3, ':');
    let name = parts.next().unwrap_or("");
    if !is_ident(name) {
        return Err(ParseErrorKind::BadVariable);
    }
    let Some(vtype) = parts.next() else {
        return Ok(Value::Reference(name));
    };
    let vtype = match vtype {
        "int" => VarType::Int,
        "str" => VarType::Str,
        _ => return Err(ParseErrorKind::UnknownVarType),
    };
    let set = parts.next().ok_or(ParseErrorKind::BadVariable)?;
    if !valid_set(vtype, set) {
        return Err(ParseErrorKind::BadSet);
    }
    Ok(Value::Declaration { name, vtype, set })
}

/// Parses one line (without its newline) into a key and a value.
#[cfg(not(MODULE))]
fn parse_line(raw: &str) -> Result<Line<'_>, ParseErrorKind> {
    let (key, value) = raw.split_once('=').ok_or(ParseErrorKind::NoEquals)?;
    if !is_ident(key) {
        return Err(ParseErrorKind::BadKey);
    }
    Ok(Line {
        key,
        value: parse_value(value)?,
    })
}

/// A validated document: every line follows the grammar, keys are unique,
/// variables are declared once and before use.
#[cfg(not(MODULE))]
#[derive(Clone, Copy, Debug)]
pub struct Document<'a> {
    text: &'a str,
}

#[cfg(not(MODULE))]
impl<'a> Document<'a> {
    /// Validates a `compatible` document.
    pub fn parse_compatible(text: &'a str) -> Result<Self, ParseError> {
        Self::parse(text, false)
    }

    /// Validates a `self` document (literals only).
    pub fn parse_self(text: &'a str) -> Result<Self, ParseError> {
        Self::parse(text, true)
    }

    fn parse(text: &'a str, concrete: bool) -> Result<Self, ParseError> {
        let doc = Self { text };
        // The variables declared so far, in order.
        let mut vars: [Option<&str>; MAX_VARIABLES] = [None; MAX_VARIABLES];
        if !text.is_empty() && !text.ends_with('\n') {
            return Err(ParseError {
                line: text.split_terminator('\n').count(),
                kind: ParseErrorKind::MissingNewline,
            });
        }
        for (i, raw) in text.split_terminator('\n').enumerate() {
            let err = |kind| ParseError {
                line: i.saturating_add(1),
                kind,
            };
            if i >= MAX_LINES {
                return Err(err(ParseErrorKind::TooManyLines));
            }
            let line = parse_line(raw).map_err(err)?;
            if doc.lines().take(i).any(|l| l.key == line.key) {
                return Err(err(ParseErrorKind::DuplicateKey));
            }
            match line.value {
                Value::Literal(_) => {}
                _ if concrete => return Err(err(ParseErrorKind::NotConcrete)),
                Value::Declaration { name, .. } => {
                    if vars.contains(&Some(name)) {
                        return Err(err(ParseErrorKind::DuplicateVariable));
                    }
                    let Some(free) = vars.iter_mut().find(|v| v.is_none()) else {
                        return Err(err(ParseErrorKind::TooManyVariables));
                    };
                    *free = Some(name);
                }
                Value::Reference(name) => {
                    if !vars.contains(&Some(name)) {
                        return Err(err(ParseErrorKind::UnknownVariable));
                    }
                }
            }
        }
        Ok(doc)
    }

    /// Iterates over the lines.
    pub fn lines(&self) -> impl Iterator<Item = Line<'a>> + 'a {
        // Validated on construction: every line parses.
        self.text
            .split_terminator('\n')
            .filter_map(|raw| parse_line(raw).ok())
    }

    /// Returns the value of `key`, if the document has it.
    pub fn get(&self, key: &str) -> Option<Value<'a>> {
        self.lines().find(|l| l.key == key).map(|l| l.value)
    }
}

/// One way a source's `self` fails a target's `compatible`.
#[cfg(not(MODULE))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mismatch<'a> {
    /// The target requires `key`; the source does not state it.
    Missing {
        /// The key.
        key: &'a str,
    },
    /// The source states `key`, which the target does not know.
    Unexpected {
        /// The key.
        key: &'a str,
        /// The source's value.
        value: &'a str,
    },
    /// The source's value is not the one the target requires.
    Differs {
        /// The key.
        key: &'a str,
        /// The source's value.
        source: &'a str,
        /// The only value the target accepts.
        accepted: &'a str,
    },
    /// The source's value is outside the set the target accepts.
    NotInSet {
        /// The key.
        key: &'a str,
        /// The source's value.
        source: &'a str,
        /// The set the target accepts.
        set: &'a str,
    },
}

#[cfg(not(MODULE))]
impl fmt::Display for Mismatch<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing { key } => write!(
                f,
                "{key}: the target requires it, the source does not state it"
            ),
            Self::Unexpected { key, value } => {
                write!(
                    f,
                    "{key}: the source has {value}, the target does not know {key}"
                )
            }
            Self::Differs {
                key,
                source,
                accepted,
            } => {
                write!(
                    f,
                    "{key}: the source has {source}, the target accepts only {accepted}"
                )
            }
            Self::NotInSet { key, source, set } => {
                write!(
                    f,
                    "{key}: the source has {source}, the target accepts {set}"
                )
            }
        }
    }
}

/// Matches a source's `self` against a target's `compatible`.
///
/// Calls `report` once for every mismatch, in the target's key order, then
/// the source's unexpected keys; returns whether there was none.
#[cfg(not(MODULE))]
pub fn check<'a>(
    source: &Document<'a>,
    target: &Document<'a>,
    mut report: impl FnMut(Mismatch<'a>),
) -> bool {
    // The variables bound so far (name, value), in order.
    let mut bound: [Option<(&str, &str)>; MAX_VARIABLES] = [None; MAX_VARIABLES];
    let mut ok = true;
    let mut fail = |m| {
        ok = false;
        report(m);
    };
    for line in target.lines() {
        let key = line.key;
        let Some(Value::Literal(have)) = source.get(key) else {
            fail(Mismatch::Missing { key });
            continue;
        };
        match line.value {
            Value::Literal(accepted) => {
                if have != accepted {
                    fail(Mismatch::Differs {
                        key,
                        source: have,
                        accepted,
                    });
                }
            }
            Value::Declaration { name, vtype, set } => {
                if set_contains(vtype, set, have) {
                    if let Some(free) = bound.iter_mut().find(|b| b.is_none()) {
                        *free = Some((name, have));
                    }
                } else {
                    fail(Mismatch::NotInSet {
                        key,
                        source: have,
                        set,
                    });
                }
            }
            Value::Reference(name) => match bound.iter().flatten().find(|(n, _)| *n == name) {
                Some(&(_, accepted)) if accepted != have => {
                    fail(Mismatch::Differs {
                        key,
                        source: have,
                        accepted,
                    });
                }
                Some(_) => {}
                // Unbound: the declaration's own line failed and was
                // reported already.
                None => {}
            },
        }
    }
    for line in source.lines() {
        if target.get(line.key).is_none() {
            if let Value::Literal(value) = line.value {
                fail(Mismatch::Unexpected {
                    key: line.key,
                    value,
                });
            }
        }
    }
    ok
}

#[cfg(test)]
mod tests {
    use super::super::{
        stream::STREAM_VERSION,
        types::BASES, //
    };
    use super::*;
    use std::string::{String, ToString};
    use std::vec::Vec;

    fn dev(base: u32, aggregator: u32) -> DeviceDesc {
        DeviceDesc {
            base,
            aggregator,
            version: STREAM_VERSION,
        }
    }

    fn ty(base: u32, total_wqs: u32) -> TypeDesc {
        TypeDesc {
            base,
            max_aggregator: total_wqs / base,
            version: STREAM_VERSION,
        }
    }

    fn mismatches(source: &str, target: &str) -> Vec<String> {
        let s = Document::parse_self(source).unwrap();
        let t = Document::parse_compatible(target).unwrap();
        let mut out = Vec::new();
        let ok = check(&s, &t, |m| out.push(m.to_string()));
        assert_eq!(ok, out.is_empty());
        out
    }

    #[test]
    fn renders_self_and_compatible() {
        assert_eq!(
            dev(2, 15).to_string(),
            "device_api=vfio-pci\nmdev_type=dsa-2dwq\naggregator=15\n\
             migration_version_major=1\nmigration_version_minor=1\n\
             dynamic_resources=aggregator\n"
        );
        assert_eq!(
            ty(2, 64).to_string(),
            "device_api=vfio-pci\nmdev_type=dsa-2dwq\naggregator={aggregator:int:1-32}\n\
             migration_version_major=1\nmigration_version_minor={minor:int:0-1}\n\
             dynamic_resources=aggregator\n"
        );
        let newer = TypeDesc {
            version: Version { major: 1, minor: 3 },
            ..ty(8, 8)
        };
        let text = newer.to_string();
        assert!(text.contains("aggregator={aggregator:int:1}\n"));
        assert!(text.contains("migration_version_minor={minor:int:0-3}\n"));
    }

    #[test]
    fn rendered_documents_parse() {
        for base in BASES {
            Document::parse_compatible(&ty(base, 64).to_string()).unwrap();
            Document::parse_self(&dev(base, 3).to_string()).unwrap();
        }
    }

    #[test]
    fn seed_example_is_incompatible_both_ways() {
        let (a, b) = (dev(1, 30), dev(2, 15));
        assert_eq!(
            super::super::types::wqs_for(1, 30),
            super::super::types::wqs_for(2, 15)
        );
        assert_ne!(a.to_string(), b.to_string());
        assert_eq!(
            mismatches(&a.to_string(), &ty(2, 64).to_string()),
            ["mdev_type: the source has dsa-1dwq, the target accepts only dsa-2dwq"]
        );
        assert_eq!(
            mismatches(&b.to_string(), &ty(1, 64).to_string()),
            ["mdev_type: the source has dsa-2dwq, the target accepts only dsa-1dwq"]
        );
        let why: Vec<_> = incompatibilities(&a, &b).collect();
        assert_eq!(
            why,
            [
                Incompatible::Base {
                    source: 1,
                    target: 2
                },
                Incompatible::Aggregator {
                    source: 30,
                    target: 15
                }
            ]
        );
        assert_eq!(why[0].to_string(), "source is dsa-1dwq, target is dsa-2dwq");
        assert_eq!(
            Fix(&a).to_string(),
            "recreate the target as dsa-1dwq with aggregator 30"
        );
    }

    #[test]
    fn same_type_and_aggregator_is_compatible() {
        assert!(mismatches(&dev(1, 30).to_string(), &ty(1, 64).to_string()).is_empty());
        assert_eq!(incompatibilities(&dev(4, 2), &dev(4, 2)).count(), 0);
    }

    #[test]
    fn aggregator_outside_the_target_range() {
        assert_eq!(
            mismatches(&dev(1, 100).to_string(), &ty(1, 64).to_string()),
            ["aggregator: the source has 100, the target accepts 1-64"]
        );
    }

    #[test]
    fn version_rule() {
        let v = |major, minor| Version { major, minor };
        let at = |version| DeviceDesc {
            version,
            ..dev(1, 1)
        };
        let tgt = |version| TypeDesc {
            version,
            ..ty(1, 64)
        };
        // Older or equal minor: fine; newer minor or another major: refused.
        assert_eq!(incompatibilities(&at(v(1, 0)), &at(v(1, 2))).count(), 0);
        assert!(mismatches(&at(v(1, 0)).to_string(), &tgt(v(1, 2)).to_string()).is_empty());
        assert_eq!(
            incompatibilities(&at(v(1, 3)), &at(v(1, 2))).collect::<Vec<_>>(),
            [Incompatible::Minor {
                source: v(1, 3),
                target: v(1, 2)
            }]
        );
        assert_eq!(
            mismatches(&at(v(1, 3)).to_string(), &tgt(v(1, 2)).to_string()),
            ["migration_version_minor: the source has 3, the target accepts 0-2"]
        );
        assert_eq!(
            incompatibilities(&at(v(2, 0)), &at(v(1, 9))).collect::<Vec<_>>(),
            [Incompatible::Major {
                source: v(2, 0),
                target: v(1, 9)
            }]
        );
        assert_eq!(
            mismatches(&at(v(2, 0)).to_string(), &tgt(v(1, 9)).to_string()),
            ["migration_version_major: the source has 2, the target accepts only 1"]
        );
    }

    /// The typed rule and the text matcher agree on every pair of bases,
    /// aggregators and versions in a small universe.
    #[test]
    fn typed_rule_equals_text_matcher() {
        let versions = [(1, 0), (1, 1), (2, 0)].map(|(major, minor)| Version { major, minor });
        for sb in BASES {
            for tb in BASES {
                for sa in 1..=9 {
                    for sv in versions {
                        for tv in versions {
                            let src = DeviceDesc {
                                base: sb,
                                aggregator: sa,
                                version: sv,
                            };
                            let target_type = TypeDesc {
                                base: tb,
                                max_aggregator: 64 / tb,
                                version: tv,
                            };
                            let text_ok =
                                mismatches(&src.to_string(), &target_type.to_string()).is_empty();
                            // A target created as the manager would: same aggregator.
                            let target = DeviceDesc {
                                base: tb,
                                aggregator: sa,
                                version: tv,
                            };
                            let typed_ok = sa <= target_type.max_aggregator
                                && incompatibilities(&src, &target).count() == 0;
                            assert_eq!(text_ok, typed_ok, "{src:?} -> {target_type:?}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn variables_and_references() {
        let target = "a={x:int:1-4,8}\nb={x}\nc={s:str:red,blue}\n";
        assert!(mismatches("a=8\nb=8\nc=blue\n", target).is_empty());
        assert_eq!(
            mismatches("a=2\nb=3\nc=green\n", target),
            [
                "b: the source has 3, the target accepts only 2",
                "c: the source has green, the target accepts red,blue"
            ]
        );
        // A failed declaration is reported once, not again at its reference.
        assert_eq!(
            mismatches("a=5\nb=5\nc=red\n", target),
            ["a: the source has 5, the target accepts 1-4,8"]
        );
        assert_eq!(
            mismatches("a=x\nb=1\nc=red\nd=1\n", target),
            [
                "a: the source has x, the target accepts 1-4,8",
                "d: the source has 1, the target does not know d"
            ]
        );
        assert_eq!(
            mismatches("c=red\n", target),
            [
                "a: the target requires it, the source does not state it",
                "b: the target requires it, the source does not state it"
            ]
        );
        assert!(mismatches("", "").is_empty());
    }

    #[test]
    fn parse_errors() {
        let err = |text, concrete: bool| {
            let r = if concrete {
                Document::parse_self(text)
            } else {
                Document::parse_compatible(text)
            };
            r.map(|_| ()).unwrap_err()
        };
        let e = |line, kind| ParseError { line, kind };
        use ParseErrorKind::*;
        assert_eq!(err("a=1", false), e(1, MissingNewline));
        assert_eq!(err("a=1\nb", false), e(2, MissingNewline));
        assert_eq!(err("a=1\nb\n", false), e(2, NoEquals));
        assert_eq!(err("=1\n", false), e(1, BadKey));
        assert_eq!(err("A=1\n", false), e(1, BadKey));
        assert_eq!(err("1a=1\n", false), e(1, BadKey));
        assert_eq!(err("a=\n", false), e(1, BadValue));
        assert_eq!(err("a=x y\n", false), e(1, BadValue));
        assert_eq!(err("a=x=y\n", false), e(1, BadValue));
        assert_eq!(err("a=1\r\n", false), e(1, BadValue));
        assert_eq!(err("\n", false), e(1, NoEquals));
        assert_eq!(err("a=1\na=2\n", false), e(2, DuplicateKey));
        assert_eq!(err("a={x:int:1\n", false), e(1, BadVariable));
        assert_eq!(err("a={X}\n", false), e(1, BadVariable));
        assert_eq!(err("a={x:int}\n", false), e(1, BadVariable));
        assert_eq!(err("a={x:float:1}\n", false), e(1, UnknownVarType));
        assert_eq!(err("a={x:int:}\n", false), e(1, BadSet));
        assert_eq!(err("a={x:int:3-1}\n", false), e(1, BadSet));
        assert_eq!(err("a={x:int:1,,2}\n", false), e(1, BadSet));
        assert_eq!(err("a={x:int:-1}\n", false), e(1, BadSet));
        assert_eq!(err("a={x:int:99999999999999999999}\n", false), e(1, BadSet));
        assert_eq!(err("a={x:str:a,}\n", false), e(1, BadSet));
        assert_eq!(
            err("a={x:int:1}\nb={x:int:2}\n", false),
            e(2, DuplicateVariable)
        );
        assert_eq!(err("a={y}\n", false), e(1, UnknownVariable));
        assert_eq!(err("a={y}\nb={y:int:1}\n", false), e(1, UnknownVariable));
        assert_eq!(err("a={x:int:1}\n", true), e(1, NotConcrete));
        let many: String = (0..=MAX_VARIABLES)
            .map(|i| std::format!("k{i}={{v{i}:int:1}}\n"))
            .collect();
        assert_eq!(err(&many, false), e(MAX_VARIABLES + 1, TooManyVariables));
        let long: String = (0..=MAX_LINES).map(|i| std::format!("k{i}=1\n")).collect();
        assert_eq!(err(&long, true), e(MAX_LINES + 1, TooManyLines));
        assert_eq!(e(3, BadSet).to_string(), "line 3 has a malformed set");
    }
}
