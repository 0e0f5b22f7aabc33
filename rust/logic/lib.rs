// SPDX-License-Identifier: GPL-2.0

//! Host build of the dsa_mdev pure logic.
//!
//! The kernel module compiles `mod.rs` (and the files it names) as its
//! `logic` module; this file only makes the same sources a `#![no_std]`
//! crate so that `cargo test` can exercise them on the host.

#![no_std]
#![forbid(unsafe_code)]

#[cfg(test)]
extern crate std;

#[path = "mod.rs"]
mod logic;

pub use logic::*;
