// SPDX-License-Identifier: GPL-2.0

//! Safe abstractions over the C APIs the driver needs and the kernel crate
//! does not cover yet, written as they would be proposed upstream
//! (`kernel::mdev`, `kernel::vfio`, ...).
//!
//! Every `unsafe` block of the module is in here, each with its `SAFETY:`
//! argument; the driver on top is safe Rust.

pub mod bindings;
pub mod class;
pub mod eventfd;
pub mod mdev;
pub mod param;
pub mod stream_file;
pub mod sysfs;
pub mod task;
pub mod vfio;

use kernel::device;

/// Returns the C `struct device` of `dev`.
///
/// The kernel crate keeps its own accessor private to the crate; a
/// [`device::Device`] is a transparent wrapper of `struct device`, so the
/// reference is the pointer.
fn device_ptr(dev: &device::Device) -> *mut bindings::device {
    core::ptr::from_ref(dev).cast_mut().cast()
}
