// SPDX-License-Identifier: GPL-2.0

//! The pure logic of dsa_mdev: no kernel dependency, no allocation, safe
//! Rust only.
//!
//! One tree of files, two builds. This file is the root of both: the
//! kernel crate (`rust/dsa_mdev.rs`) declares it as its module `logic`, and
//! it is the root of the host crate `dsa-logic` (`Cargo.toml` beside it),
//! which `cargo test`, the fuzz targets and `tools/dsa-compat` use. Inside
//! the logic, paths are relative (`super::`), never `crate::`, so they
//! name the same item in both builds.
//!
//! `#![no_std]` is a crate attribute: the host crate needs it here, while
//! Kbuild makes the kernel crate `no_std` itself (`-Zcrate-attr=no_std`)
//! and sets `--cfg MODULE`, with which this one would be misplaced.
//!
//! The module build leaves out what the driver does not use, and warns
//! about anything else nobody uses: items for the tests only are
//! `#[cfg(test)]`; the host crate's API for the fuzz targets and
//! `tools/dsa-compat` (the `compatible` parser and matcher, encoders,
//! accessors) is `#[cfg(not(MODULE))]`.

// Values from users (descriptors, registers, streams, sysfs, parameters)
// reach all of this, and a panic is a kernel BUG: arithmetic is checked,
// saturating or explicitly wrapping (overflow panics with
// CONFIG_RUST_OVERFLOW_CHECKS); slices are read with get(), never indexed;
// nothing unwraps, expects or panics.
#![cfg_attr(
    not(test),
    deny(
        clippy::arithmetic_side_effects,
        clippy::indexing_slicing,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic
    )
)]
#![cfg_attr(not(MODULE), no_std)]
#![forbid(unsafe_code)]

#[cfg(test)]
extern crate std;

pub mod bitfield;
pub mod compat;
pub mod crc32c;
pub mod desc;
pub mod dirty;
pub mod echo;
pub mod engine;
pub mod idxd;
pub mod le;
pub mod model;
pub mod msix;
pub mod pci;
pub mod ratelimit;
pub mod stream;
pub mod types;
pub mod wq;

#[cfg(test)]
mod tests;
