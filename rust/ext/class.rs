// SPDX-License-Identifier: GPL-2.0

//! Device classes and the devices created in them.
//!
//! C header: [`include/linux/device/class.h`](srctree/include/linux/device/class.h)
//!
//! A [`Class`] is a `struct class` created with `class_create()`; a
//! [`Device`] is a device in it, allocated and added here (its release
//! callback is this module's), owning a `T` that its attributes show.

use super::sysfs::{
    DeviceAttribute,
    GroupRef, //
};
use core::{
    ffi::CStr,
    ptr::NonNull, //
};
use kernel::{
    bindings,
    container_of,
    device,
    error::to_result,
    prelude::*,
    sync::{
        Arc,
        Completion, //
    },
    types::Opaque, //
};

/// A registered device class: `/sys/class/<name>/`.
///
/// The class is reference-counted: each [`Device`] created in it holds a
/// reference, so the class is destroyed only after the last of its devices
/// is unregistered, whatever order the owners drop them in.
#[derive(Clone)]
pub struct Class(Arc<RawClass>);

/// The `struct class` itself, destroyed when the last reference goes.
///
/// # Invariants
///
/// `self.0` is a class returned by `class_create()`, destroyed only on drop.
struct RawClass(NonNull<bindings::class>);

impl Class {
    /// Creates and registers the class `name`.
    pub fn new(name: &'static CStr) -> Result<Self> {
        // SAFETY: `name` is a valid NUL-terminated string that outlives the
        // class (it is `'static`).
        let raw = unsafe { bindings::class_create(name.as_char_ptr()) };
        let raw = kernel::error::from_err_ptr(raw)?;
        let raw = NonNull::new(raw).ok_or(ENOMEM)?;
        // INVARIANT: `class_create()` returned a class; if the allocation
        // below fails, `RawClass`'s drop destroys it.
        let raw = RawClass(raw);
        Ok(Self(Arc::new(raw, GFP_KERNEL)?))
    }

    fn as_raw(&self) -> *mut bindings::class {
        self.0 .0.as_ptr()
    }
}

impl Drop for RawClass {
    fn drop(&mut self) {
        // SAFETY: By the type invariant, the class was created by
        // `class_create()` and is destroyed once, here, after every device
        // created in it (each holds a reference to `self`).
        unsafe { bindings::class_destroy(self.0.as_ptr()) };
    }
}

// SAFETY: The class is only passed to thread-safe C functions.
unsafe impl Send for RawClass {}
// SAFETY: As above.
unsafe impl Sync for RawClass {}

/// A device in a [`Class`], owning the `T` its attributes show.
///
/// The device's driver data points to the `T` for as long as the device is
/// registered, which is the invariant a
/// [`DeviceAttributeGroup<T>`](super::sysfs::DeviceAttributeGroup) needs.
/// The `struct device` is allocated here, with a class reference that its
/// release callback drops: the class outlives every reference to the device
/// (`dev_name()` and the log read the class's name until the last one), not
/// only this handle.  The `T` is the handle's, dropped once the device is
/// unregistered: something the `T` holds may keep a reference to the
/// device.  [`Device::unregister_released`] drops the handle and waits for
/// the release, for every reference to be gone.
///
/// # Invariants
///
/// `raw` is the `dev` of an [`Inner`] allocated by [`Device::new`],
/// registered with `device_add()`, with driver data `Arc::as_ptr(&_data)`;
/// the handle owns one reference to it and unregisters it on drop.
pub struct Device<T: Send + Sync> {
    raw: NonNull<bindings::device>,
    /// What the driver data points to; kept until after unregistering.
    _data: Arc<T>,
    /// Completed by the release callback, once the device is freed.
    released: Arc<Completion>,
}

/// What a [`Device`]'s release frees.
#[repr(C)]
struct Inner {
    dev: Opaque<bindings::device>,
    class: Class,
    /// Completed once the rest is freed.
    released: Arc<Completion>,
}

impl<T: Send + Sync> Device<T> {
    /// Creates the device `name` in `class`, with the attributes of `group`
    /// in its directory, and `data` as what they show.  The device keeps a
    /// reference to `class` until it is released.
    pub fn new(
        class: &Class,
        name: &CStr,
        data: Arc<T>,
        group: &GroupRef<DeviceAttribute<T>>,
    ) -> Result<Self> {
        let released = Arc::pin_init(Completion::new(), GFP_KERNEL)?;
        let inner = KBox::new(
            Inner {
                dev: Opaque::zeroed(),
                class: class.clone(),
                released: released.clone(),
            },
            GFP_KERNEL,
        )?;
        let inner = KBox::into_raw(inner);
        // SAFETY: `inner` is a valid allocation, which only this function
        // knows about.
        let dev = unsafe { Opaque::cast_into(&raw const (*inner).dev) };
        let Some(raw) = NonNull::new(dev) else {
            // SAFETY: `inner` came from `KBox::into_raw()` above, and nothing
            // else has it.
            drop(unsafe { KBox::from_raw(inner) });
            return Err(ENOMEM);
        };
        // SAFETY: `dev` is zeroed, as `device_initialize()` wants it; from
        // here on the reference it initialises owns `inner`, which the
        // release callback frees. The class is registered and kept by
        // `inner`; the driver data points to the `T` in `data`, which the
        // handle keeps until after unregistering; `group` is a static group
        // of attributes over `T`.
        unsafe {
            bindings::device_initialize(dev);
            (*dev).class = (*inner).class.as_raw();
            (*dev).groups = group.as_groups();
            (*dev).release = Some(Self::release_callback);
            bindings::dev_set_drvdata(dev, Arc::as_ptr(&data).cast_mut().cast());
        }
        // SAFETY: `dev` is initialised; the format string "%s" consumes
        // exactly one C string argument.
        let ret = to_result(unsafe {
            bindings::dev_set_name(dev, c"%s".as_char_ptr(), name.as_char_ptr())
        })
        // SAFETY: `dev` is initialised and named.
        .and_then(|()| to_result(unsafe { bindings::device_add(dev) }));
        if let Err(e) = ret {
            // SAFETY: Not added (or `device_add()` undid it); this drops the
            // only reference, and the release frees `inner`.
            unsafe { bindings::put_device(dev) };
            return Err(e);
        }
        // INVARIANT: Allocated and registered above; the reference of
        // `device_initialize()` is the handle's.
        Ok(Self {
            raw,
            _data: data,
            released,
        })
    }

    /// `device.release`: frees the device and its class reference, then
    /// tells [`Device::unregister_released`].
    ///
    /// # Safety
    ///
    /// Called by the driver core once, when the last reference to a device
    /// of [`Device::new`] goes.
    unsafe extern "C" fn release_callback(dev: *mut bindings::device) {
        // SAFETY: The device is the `dev` of an `Inner` that
        // `Device::new` leaked from a `KBox`.
        let inner = unsafe { container_of!(Opaque::cast_from(dev), Inner, dev) };
        // SAFETY: As above.
        let released = unsafe { (*inner).released.clone() };
        // SAFETY: As above; nothing uses it any more.
        drop(unsafe { KBox::from_raw(inner.cast_mut()) });
        released.complete_all();
    }

    /// Unregisters the device, as dropping the handle does, and returns once
    /// the device is released: once the last reference to it is gone.
    ///
    /// Whoever took a reference to the device (a child device, the mdev
    /// core's types) has dropped it by then, and so is done with what it
    /// reaches through the device.  Sleeps uninterruptibly: a reference
    /// that is never dropped is a leak, and blocks the caller for good.
    pub fn unregister_released(self) {
        let released = self.released.clone();
        drop(self);
        released.wait_for_completion();
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
        // the driver data once it returns and `data` may be dropped (after
        // this); then it drops the handle's reference, and the class goes
        // with the last one.
        unsafe { bindings::device_unregister(self.raw.as_ptr()) };
    }
}

// SAFETY: `as_device()` returns `raw`, which by the type invariant is
// registered from creation until drop; `unregister_released()` returns
// after the device's release.
unsafe impl<T: Send + Sync> super::mdev::ParentDevice for Device<T> {
    fn as_device(&self) -> &device::Device {
        Device::as_device(self)
    }

    fn unregister_released(self) {
        Device::unregister_released(self)
    }
}

// SAFETY: The device core is thread-safe, and `T` is `Send + Sync`.
unsafe impl<T: Send + Sync> Send for Device<T> {}
// SAFETY: As above.
unsafe impl<T: Send + Sync> Sync for Device<T> {}
