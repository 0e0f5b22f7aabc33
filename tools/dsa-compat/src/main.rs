// SPDX-License-Identifier: GPL-2.0

//! `dsa-compat`: can a dsa_mdev device migrate to a target, and if not, why
//! and what to do. It runs the kernel module's own matcher (the `#![no_std]`
//! `dsa-logic` crate) on the sysfs files, so its verdict is the driver's.
//!
//! ```text
//! dsa-compat check SOURCE TARGET [--json]
//! dsa-compat targets SOURCE [--json]
//! ```
//!
//! SOURCE is a device: its UUID, its sysfs directory, or a `self` file.
//! TARGET is a type: its sysfs directory (`.../mdev_supported_types/dsa-2dwq`),
//! its `compatible` file, or a device: its type, and the device's own
//! aggregator, which it already has and which must then equal the source's.
//! `targets` lists every type on this host that accepts the source, with the
//! aggregator to create the target with.
//!
//! Exit status: 0 compatible (`check`) or at least one target (`targets`);
//! 1 incompatible or no target; 2 bad usage or a file that cannot be read or
//! parsed. `DSA_COMPAT_SYSFS` replaces `/sys` (for tests).

use dsa_logic::compat::{
    check,
    Document,
    Mismatch,
    Value,
    KEY_AGGREGATOR,
    KEY_MDEV_TYPE, //
};
use std::{
    env,
    fmt::Write as _,
    fs,
    path::{
        Path,
        PathBuf, //
    },
    process::ExitCode,
};

/// The usage text.
const USAGE: &str = "usage: dsa-compat check SOURCE TARGET [--json]
       dsa-compat targets SOURCE [--json]
SOURCE: a device UUID, its sysfs directory, or a `self` file
TARGET: a type directory, a `compatible` file, or a device
exit: 0 compatible / targets found, 1 incompatible / none, 2 error";

/// An error that ends the program with status 2.
struct Fail(String);

/// Where sysfs is: `/sys`, or `DSA_COMPAT_SYSFS`.
fn sysfs() -> PathBuf {
    env::var_os("DSA_COMPAT_SYSFS").map_or_else(|| PathBuf::from("/sys"), PathBuf::from)
}

fn read(path: &Path) -> Result<String, Fail> {
    fs::read_to_string(path).map_err(|e| Fail(format!("{}: {e}", path.display())))
}

/// The `self` file of SOURCE.
fn source_file(root: &Path, arg: &str) -> PathBuf {
    let p = Path::new(arg);
    if p.is_file() {
        return p.to_path_buf();
    }
    if p.is_dir() {
        return p.join("dsa/self");
    }
    root.join("bus/mdev/devices").join(arg).join("dsa/self")
}

/// The `compatible` file of TARGET.
fn target_file(root: &Path, arg: &str) -> PathBuf {
    let p = Path::new(arg);
    if p.is_file() {
        return p.to_path_buf();
    }
    let dir = if p.is_dir() {
        p.to_path_buf()
    } else {
        root.join("bus/mdev/devices").join(arg)
    };
    if dir.join("compatible").is_file() {
        dir.join("compatible")
    } else {
        // A device: the type it was created from.
        dir.join("mdev_type/compatible")
    }
}

/// A literal value of `doc`.
fn literal<'a>(doc: &Document<'a>, key: &str) -> Option<&'a str> {
    match doc.get(key)? {
        Value::Literal(v) => Some(v),
        _ => None,
    }
}

/// The verdict of one source against one target.
struct Verdict {
    reasons: Vec<String>,
    fix: Option<String>,
}

fn judge(source: &Document<'_>, target: &Document<'_>) -> Verdict {
    let mut reasons = Vec::new();
    let mut type_or_size = false;
    check(source, target, |m: Mismatch<'_>| {
        let key = match m {
            Mismatch::Missing { key }
            | Mismatch::Unexpected { key, .. }
            | Mismatch::Differs { key, .. }
            | Mismatch::NotInSet { key, .. } => key,
        };
        type_or_size |= key == KEY_MDEV_TYPE || key == KEY_AGGREGATOR;
        reasons.push(m.to_string());
    });
    let fix = match (
        type_or_size,
        literal(source, KEY_MDEV_TYPE),
        literal(source, KEY_AGGREGATOR),
    ) {
        (true, Some(t), Some(a)) => Some(format!("recreate the target as {t} with aggregator {a}")),
        _ => None,
    };
    Verdict { reasons, fix }
}

/// Escapes `s` as a JSON string.
fn json_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The `self` file of TARGET if it is a device.
fn target_device(root: &Path, arg: &str) -> Option<PathBuf> {
    let p = Path::new(arg);
    let dir = if p.is_dir() {
        p.to_path_buf()
    } else if p.is_file() {
        return None;
    } else {
        root.join("bus/mdev/devices").join(arg)
    };
    Some(dir.join("dsa/self")).filter(|f| f.is_file())
}

fn cmd_check(root: &Path, source: &str, target: &str, json: bool) -> Result<(bool, String), Fail> {
    let mut out = String::new();
    let (sp, tp) = (source_file(root, source), target_file(root, target));
    let (st, tt) = (read(&sp)?, read(&tp)?);
    let s = Document::parse_self(&st).map_err(|e| Fail(format!("{}: {e}", sp.display())))?;
    let t = Document::parse_compatible(&tt).map_err(|e| Fail(format!("{}: {e}", tp.display())))?;
    let mut v = judge(&s, &t);
    // An existing target device has its aggregator already: the type
    // would give the target the source's, the device must have it.
    if let Some(dp) = target_device(root, target) {
        let dt = read(&dp)?;
        let d = Document::parse_self(&dt).map_err(|e| Fail(format!("{}: {e}", dp.display())))?;
        if let (Some(sa), Some(da)) = (literal(&s, KEY_AGGREGATOR), literal(&d, KEY_AGGREGATOR)) {
            if sa != da {
                v.reasons.push(format!(
                    "aggregator: the source has {sa}, the target device has {da}"
                ));
                if v.fix.is_none() {
                    v.fix = literal(&s, KEY_MDEV_TYPE)
                        .map(|t| format!("recreate the target as {t} with aggregator {sa}"));
                }
            }
        }
    }
    let ok = v.reasons.is_empty();
    if json {
        let reasons: Vec<String> = v.reasons.iter().map(|r| json_str(r)).collect();
        let _ = writeln!(
            out,
            "{{\"compatible\":{ok},\"source\":{},\"target\":{},\"reasons\":[{}],\"fix\":{}}}",
            json_str(&sp.display().to_string()),
            json_str(&tp.display().to_string()),
            reasons.join(","),
            v.fix
                .as_deref()
                .map_or_else(|| "null".to_string(), json_str)
        );
    } else if ok {
        let _ = writeln!(out, "compatible");
    } else {
        for r in &v.reasons {
            let _ = writeln!(out, "incompatible: {r}");
        }
        if let Some(fix) = &v.fix {
            let _ = writeln!(out, "fix: {fix}");
        }
    }
    Ok((ok, out))
}

/// Every type directory on the host: `/sys/class/mdev_bus/*/mdev_supported_types/*`.
fn all_types(root: &Path) -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    let Ok(parents) = fs::read_dir(root.join("class/mdev_bus")) else {
        return out;
    };
    for parent in parents.flatten() {
        let Ok(types) = fs::read_dir(parent.path().join("mdev_supported_types")) else {
            continue;
        };
        for t in types.flatten() {
            if t.path().join("compatible").is_file() {
                out.push((parent.file_name().to_string_lossy().into_owned(), t.path()));
            }
        }
    }
    out.sort();
    out
}

fn cmd_targets(root: &Path, source: &str, json: bool) -> Result<(bool, String), Fail> {
    let mut out = String::new();
    let sp = source_file(root, source);
    let st = read(&sp)?;
    let s = Document::parse_self(&st).map_err(|e| Fail(format!("{}: {e}", sp.display())))?;
    let aggregator = literal(&s, KEY_AGGREGATOR).unwrap_or("1");
    let mut found = Vec::new();
    for (parent, dir) in all_types(root) {
        let Ok(tt) = fs::read_to_string(dir.join("compatible")) else {
            continue;
        };
        let Ok(t) = Document::parse_compatible(&tt) else {
            continue;
        };
        if judge(&s, &t).reasons.is_empty() {
            let name = dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let available = fs::read_to_string(dir.join("available_instances"))
                .map(|a| a.trim().to_string())
                .unwrap_or_else(|_| "?".to_string());
            found.push((parent, name, available));
        }
    }
    if json {
        let items: Vec<String> = found
            .iter()
            .map(|(p, n, a)| {
                format!(
                    "{{\"parent\":{},\"type\":{},\"aggregator\":{},\"available_instances\":{}}}",
                    json_str(p),
                    json_str(n),
                    json_str(aggregator),
                    json_str(a)
                )
            })
            .collect();
        let _ = writeln!(out, "[{}]", items.join(","));
    } else if found.is_empty() {
        let _ = writeln!(out, "no type on this host accepts the source");
    } else {
        for (p, n, a) in &found {
            let _ = writeln!(
                out,
                "{p} {n} aggregator={aggregator} (available_instances {a})"
            );
        }
    }
    Ok((!found.is_empty(), out))
}

/// Runs the command in `args` against the sysfs at `root`: whether the
/// answer is yes, and what to print.
fn run(root: &Path, args: &[String]) -> Result<(bool, String), Fail> {
    let json = args.iter().any(|a| a == "--json");
    let rest: Vec<&str> = args
        .iter()
        .filter(|a| *a != "--json")
        .map(String::as_str)
        .collect();
    match rest.as_slice() {
        ["check", source, target] => cmd_check(root, source, target, json),
        ["targets", source] => cmd_targets(root, source, json),
        _ => Err(Fail(USAGE.to_string())),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    match run(&sysfs(), &args) {
        Ok((yes, out)) => {
            print!("{out}");
            if yes {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(Fail(msg)) => {
            eprintln!("dsa-compat: {msg}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests;
