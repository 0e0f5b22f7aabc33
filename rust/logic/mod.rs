// SPDX-License-Identifier: GPL-2.0

//! The pure logic of dsa_mdev: no kernel dependency, no allocation, safe
//! Rust only (the host crate forbids anything else).
//!
//! The module compiles these files as its `logic` module; `lib.rs` beside
//! them makes the same files a `#![no_std]` host crate for `cargo test`.

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
