// SPDX-License-Identifier: GPL-2.0

//! Generated bindings for `linux/mdev.h`, `linux/vfio.h` and the module's C
//! helpers (`rust/helpers.c`).
//!
//! `Kbuild` runs bindgen on `bindings_helper.h` against the kernel tree the
//! module is built for, allowlisting only the mdev and VFIO items and not the
//! types they refer to: those come from [`kernel::bindings`] through the glob
//! import below, so a `struct device` here is the kernel crate's
//! `bindings::device`, not a second definition of it.
//!
//! Only `kernel::ext` uses this module.

#![allow(
    clippy::all,
    clippy::as_underscore,
    clippy::cast_lossless,
    clippy::ptr_as_ptr,
    clippy::ref_as_ptr,
    clippy::undocumented_unsafe_blocks,
    dead_code,
    improper_ctypes,
    missing_docs,
    non_camel_case_types,
    non_snake_case,
    non_upper_case_globals,
    unnecessary_transmutes,
    unreachable_pub,
    unsafe_op_in_unsafe_fn
)]

pub(crate) use kernel::bindings::*;
use kernel::ffi;
#[allow(unused_imports)]
use pin_init::{
    MaybeZeroable,
    Zeroable, //
};

include!(concat!(
    env!("DSA_MDEV_OBJTREE"),
    "/rust/ext/bindings_generated.rs"
));
