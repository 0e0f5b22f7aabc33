// SPDX-License-Identifier: GPL-2.0

//! The pure logic of dsa_mdev: no kernel dependency, no allocation, safe
//! Rust only (the host crate forbids anything else).
//!
//! The module compiles these files as its `logic` module; `lib.rs` beside
//! them makes the same files a `#![no_std]` host crate for `cargo test`.

pub mod compat;
pub mod desc;
pub mod echo;
pub mod engine;
pub mod idxd;
pub mod model;
pub mod pci;
pub mod stream;
pub mod types;
pub mod wq;

#[cfg(test)]
mod tests;
