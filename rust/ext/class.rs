// SPDX-License-Identifier: GPL-2.0

//! Device classes and the devices created in them.
//!
//! C header: [`include/linux/device/class.h`](srctree/include/linux/device/class.h)
//!
//! A [`Class`] is a `struct class` created with `class_create()`; a
//! [`Device`] is a device in it, created with `device_create_with_groups()`,
//! owning a `T` that its attributes show.

use super::sysfs::{
    DeviceAttribute,
    GroupRef, //
};
use core::{
    ffi::CStr,
    ptr::{
        self,
        NonNull, //
    },
};
use kernel::{
    bindings,
    device,
    prelude::*,
    sync::Arc, //
};

/// A registered device class: `/sys/class/<name>/`.
///
/// # Invariants
///
/// `self.0` is a class returned by `class_create()`, destroyed only on drop.
pub struct Class(NonNull<bindings::class>);

impl Class {
    /// Creates and registers the class `name`.
    pub fn new(name: &'static CStr) -> Result<Self> {
        // SAFETY: `name` is a valid NUL-terminated string that outlives the
        // class (it is `'static`).
        let raw = unsafe { bindings::class_create(name.as_char_ptr()) };
        // INVARIANT: `class_create()` returns a class or an `ERR_PTR`.
        let raw = kernel::error::from_err_ptr(raw)?;
        Ok(Self(NonNull::new(raw).ok_or(ENOMEM)?))
    }

    fn as_raw(&self) -> *const bindings::class {
        self.0.as_ptr()
    }
}

impl Drop for Class {
    fn drop(&mut self) {
        // SAFETY: By the type invariant, the class was created by
        // `class_create()` and is destroyed once, here.
        unsafe { bindings::class_destroy(self.0.as_ptr()) };
    }
}

// SAFETY: The class is only passed to thread-safe C functions.
unsafe impl Send for Class {}
// SAFETY: As above.
unsafe impl Sync for Class {}

/// A device in a [`Class`], owning the `T` its attributes show.
///
/// The device's driver data points to the `T` inside `data` for as long as
/// the device is registered, which is the invariant a
/// [`DeviceAttributeGroup<T>`](super::sysfs::DeviceAttributeGroup) needs.
///
/// # Invariants
///
/// `raw` is a device created by `device_create_with_groups()` with driver
/// data `Arc::as_ptr(&_data)`, unregistered only on drop.
pub struct Device<T: Send + Sync> {
    raw: NonNull<bindings::device>,
    /// What the driver data points to; kept until after unregistering.
    _data: Arc<T>,
}

impl<T: Send + Sync> Device<T> {
    /// Creates the device `name` in `class`, with the attributes of `group`
    /// in its directory, and `data` as what they show.
    ///
    /// The device must not outlive `class`; the caller keeps the class alive
    /// longer (it is dropped after its devices).
    pub fn new(
        class: &Class,
        name: &CStr,
        data: Arc<T>,
        group: &GroupRef<DeviceAttribute<T>>,
    ) -> Result<Self> {
        // SAFETY:
        // - `class` is a registered class;
        // - the driver data points to the `T` in `data`, which `Self` keeps
        //   alive until after the device is unregistered;
        // - `group` is a static group of attributes over `T`;
        // - the format string "%s" consumes exactly one C string argument.
        let raw = unsafe {
            bindings::device_create_with_groups(
                class.as_raw().cast_mut(),
                ptr::null_mut(),
                0,
                Arc::as_ptr(&data).cast_mut().cast(),
                group.as_groups(),
                c"%s".as_char_ptr(),
                name.as_char_ptr(),
            )
        };
        // `device_create_with_groups()` returns a device or an error pointer,
        // never NULL.
        let raw = kernel::error::from_err_ptr(raw)?;
        let Some(raw) = NonNull::new(raw) else {
            return Err(ENOMEM);
        };
        // INVARIANT: Created above with the required driver data.
        Ok(Self { raw, _data: data })
    }

    /// Returns the device.
    pub fn as_device(&self) -> &device::Device {
        // SAFETY: By the type invariant, `raw` is a registered device, valid
        // for as long as `self`.
        unsafe { device::Device::from_raw(self.raw.as_ptr()) }
    }
}

impl<T: Send + Sync> Drop for Device<T> {
    fn drop(&mut self) {
        // SAFETY: By the type invariant, the device is registered and is
        // unregistered once, here. `device_unregister()` removes the sysfs
        // files and waits for running `show`/`store` calls, so nothing uses
        // the driver data once it returns and `data` may be dropped.
        unsafe { bindings::device_unregister(self.raw.as_ptr()) };
    }
}

// SAFETY: The device core is thread-safe, and `T` is `Send + Sync`.
unsafe impl<T: Send + Sync> Send for Device<T> {}
// SAFETY: As above.
unsafe impl<T: Send + Sync> Sync for Device<T> {}
