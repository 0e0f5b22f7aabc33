// SPDX-License-Identifier: GPL-2.0

//! VFIO devices with an emulated IOMMU.
//!
//! C header: [`include/linux/vfio.h`](srctree/include/linux/vfio.h)
//!
//! A driver implements [`Ops`] for its per-device state `T`; a
//! [`Registration<T>`] allocates the `struct vfio_device` with `T` placed
//! after it (as `vfio_alloc_device()` does for C drivers), initialises `T`
//! in place and registers the device with `vfio_register_emulated_iommu_dev()`
//! so that it can be opened through the group/container path and the iommufd
//! cdev alike. Dropping the registration unregisters the device (waiting, as
//! the VFIO core does, for its users to close it); `T` is dropped when the
//! last reference to the `struct vfio_device` goes.

use core::{
    ffi::CStr,
    marker::PhantomData,
    mem::{
        offset_of,
        MaybeUninit, //
    },
    ops::Deref,
    ptr::NonNull,
};
use kernel::{
    device,
    error::{
        from_err_ptr,
        from_result,
        to_result,
        VTABLE_DEFAULT_ERROR, //
    },
    ffi::{
        c_int,
        c_long,
        c_uint,
        c_ulong, //
    },
    ioctl::_IO,
    prelude::*,
    types::Opaque,
    uaccess::{
        UserPtr,
        UserSlice, //
    },
};

use super::bindings;

/// `VFIO_DEVICE_GET_INFO`.
pub const DEVICE_GET_INFO: u32 = _IO(bindings::VFIO_TYPE as u32, bindings::VFIO_BASE + 7);
/// `VFIO_DEVICE_GET_REGION_INFO`.
pub const DEVICE_GET_REGION_INFO: u32 = _IO(bindings::VFIO_TYPE as u32, bindings::VFIO_BASE + 8);
/// `VFIO_DEVICE_GET_IRQ_INFO`.
pub const DEVICE_GET_IRQ_INFO: u32 = _IO(bindings::VFIO_TYPE as u32, bindings::VFIO_BASE + 9);

/// `VFIO_DEVICE_FLAGS_PCI`: the device is a PCI device.
pub const DEVICE_FLAGS_PCI: u32 = bindings::VFIO_DEVICE_FLAGS_PCI;
/// `VFIO_PCI_NUM_REGIONS`: the regions of a `vfio-pci` device.
pub const PCI_NUM_REGIONS: u32 = bindings::VFIO_PCI_NUM_REGIONS;
/// `VFIO_PCI_NUM_IRQS`: the interrupt indexes of a `vfio-pci` device.
pub const PCI_NUM_IRQS: u32 = bindings::VFIO_PCI_NUM_IRQS;

/// The operations of a VFIO device whose state is `Self`.
///
/// Each callback gets the [`Device`] it was called for; the VFIO core
/// serialises `open` and `close` (the device set lock) but not `ioctl`.
#[vtable]
pub trait Ops: Send + Sync + Sized + 'static {
    /// The driver name VFIO reports.
    const NAME: &'static CStr;

    /// The first file descriptor for the device is being opened.
    fn open(_device: &Device<Self>) -> Result {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// The last file descriptor for the device was closed.
    fn close(_device: &Device<Self>) {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// An `ioctl` on a device file descriptor: `cmd` and the user pointer
    /// `arg` as passed to `ioctl(2)`.
    fn ioctl(_device: &Device<Self>, _cmd: u32, _arg: UserPtr) -> Result<isize> {
        build_error!(VTABLE_DEFAULT_ERROR)
    }
}

/// A VFIO device: the C `struct vfio_device` and the driver's `T` after it.
///
/// # Invariants
///
/// - `vdev` was set up by `_vfio_alloc_device()` with `Registration<T>`'s
///   operations, and `Self` lives in the memory it allocated;
/// - `data` is initialised iff `initialized` is true, and stays where it is
///   until the device's `release` callback drops it.
#[repr(C)]
pub struct Device<T: Ops> {
    vdev: Opaque<bindings::vfio_device>,
    initialized: bool,
    data: MaybeUninit<T>,
}

impl<T: Ops> Device<T> {
    /// # Safety
    ///
    /// `vdev` must be the `vdev` field of a live `Device<T>` whose data is
    /// initialised, for the lifetime `'a`.
    unsafe fn from_raw<'a>(vdev: *mut bindings::vfio_device) -> &'a Self {
        // SAFETY: `vdev` is the first field of the `#[repr(C)]` `Self`.
        unsafe { &*vdev.cast::<Self>() }
    }

    fn as_raw(&self) -> *mut bindings::vfio_device {
        self.vdev.get()
    }

    /// `vfio_device_ops.open_device`.
    ///
    /// # Safety
    ///
    /// Called by the VFIO core with the `vfio_device` of a registered
    /// `Device<T>`.
    unsafe extern "C" fn open_callback(vdev: *mut bindings::vfio_device) -> c_int {
        // SAFETY: The VFIO core calls this only for registered devices, whose
        // data is initialised.
        let this = unsafe { Self::from_raw(vdev) };
        from_result(|| T::open(this).map(|()| 0))
    }

    /// `vfio_device_ops.close_device`.
    ///
    /// # Safety
    ///
    /// As for `open_callback`.
    unsafe extern "C" fn close_callback(vdev: *mut bindings::vfio_device) {
        // SAFETY: As in `open_callback`.
        T::close(unsafe { Self::from_raw(vdev) });
    }

    /// `vfio_device_ops.ioctl`.
    ///
    /// # Safety
    ///
    /// As for `open_callback`.
    unsafe extern "C" fn ioctl_callback(
        vdev: *mut bindings::vfio_device,
        cmd: c_uint,
        arg: c_ulong,
    ) -> c_long {
        // SAFETY: As in `open_callback`.
        let this = unsafe { Self::from_raw(vdev) };
        let arg = UserPtr::from_addr(arg);
        from_result(|| T::ioctl(this, cmd, arg).map(|ret| ret as c_long))
    }

    /// `vfio_device_ops.release`.
    ///
    /// # Safety
    ///
    /// Called by the VFIO core once, when the last reference to a `Device<T>`
    /// allocated by [`Registration::new`] goes, before freeing it.
    unsafe extern "C" fn release_callback(vdev: *mut bindings::vfio_device) {
        let this = vdev.cast::<Self>();
        // SAFETY: The VFIO core calls `release` once, when the last reference
        // goes and before it frees the memory; `initialized` tells whether
        // `data` holds a `T`, which nothing uses any more.
        unsafe {
            if (*this).initialized {
                (*this).data.assume_init_drop();
            }
        }
    }

    const VTABLE: bindings::vfio_device_ops = bindings::vfio_device_ops {
        name: kernel::str::as_char_ptr_in_const_context(T::NAME).cast_mut(),
        release: Some(Self::release_callback),
        bind_iommufd: Some(bindings::vfio_iommufd_emulated_bind),
        unbind_iommufd: Some(bindings::vfio_iommufd_emulated_unbind),
        attach_ioas: Some(bindings::vfio_iommufd_emulated_attach_ioas),
        detach_ioas: Some(bindings::vfio_iommufd_emulated_detach_ioas),
        open_device: if T::HAS_OPEN {
            Some(Self::open_callback)
        } else {
            None
        },
        close_device: if T::HAS_CLOSE {
            Some(Self::close_callback)
        } else {
            None
        },
        ioctl: if T::HAS_IOCTL {
            Some(Self::ioctl_callback)
        } else {
            None
        },
        ..pin_init::zeroed()
    };
}

impl<T: Ops> Deref for Device<T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: A `&Device<T>` is only handed out for devices whose data is
        // initialised (see the invariants and `Registration::new`).
        unsafe { self.data.assume_init_ref() }
    }
}

// SAFETY: The C part is thread-safe (the VFIO core's locking) and `T` is
// `Send + Sync`.
unsafe impl<T: Ops> Send for Device<T> {}
// SAFETY: As above.
unsafe impl<T: Ops> Sync for Device<T> {}

/// A registered VFIO device with an emulated IOMMU.
///
/// # Invariants
///
/// `dev` points to a `Device<T>` with initialised data, registered with
/// `vfio_register_emulated_iommu_dev()`; `Self` owns one reference to it.
pub struct Registration<T: Ops> {
    dev: NonNull<Device<T>>,
    _p: PhantomData<T>,
}

impl<T: Ops> Registration<T> {
    /// Allocates a VFIO device for `parent`, initialises its `T` with `init`
    /// and registers it.
    pub fn new(parent: &device::Device, init: impl PinInit<T, Error>) -> Result<Self> {
        // `kvzalloc()` aligns to at least 8 bytes.
        build_assert!(core::mem::align_of::<Device<T>>() <= 8);
        // SAFETY: The size covers `Device<T>`, whose first field is the
        // `struct vfio_device`; `parent` is a valid device and the operations
        // are a static table.
        let vdev = unsafe {
            bindings::_vfio_alloc_device(
                core::mem::size_of::<Device<T>>(),
                super::device_ptr(parent),
                &Device::<T>::VTABLE,
            )
        };
        let vdev = from_err_ptr(vdev)?;
        let dev = vdev.cast::<Device<T>>();

        // SAFETY: `dev` points to zeroed memory for a `Device<T>` that only
        // this function knows about; `data` never moves.
        let init_result = unsafe { init.__init((&raw mut (*dev).data).cast::<T>()) };
        if let Err(e) = init_result {
            // SAFETY: `initialized` is still false, so `release` will not
            // drop `data`; this drops the only reference.
            unsafe { put(vdev) };
            return Err(e);
        }
        // SAFETY: `dev` is valid and not shared yet.
        unsafe { (*dev).initialized = true };

        // SAFETY: `vdev` was allocated and initialised above.
        if let Err(e) = to_result(unsafe { bindings::vfio_register_emulated_iommu_dev(vdev) }) {
            // SAFETY: Not registered; this drops the only reference, and
            // `release` drops `data`.
            unsafe { put(vdev) };
            return Err(e);
        }
        // INVARIANT: Initialised and registered above; the reference from
        // the allocation is ours.
        Ok(Self {
            dev: NonNull::new(dev).ok_or(EINVAL)?,
            _p: PhantomData,
        })
    }

    /// Returns the device.
    pub fn device(&self) -> &Device<T> {
        // SAFETY: By the type invariant, `dev` is valid while `self` is.
        unsafe { self.dev.as_ref() }
    }

    /// Gives up ownership, returning a pointer to the device's `T`.
    ///
    /// The registration is rebuilt, and eventually dropped, with
    /// [`Registration::from_data`].
    pub fn into_data(self) -> *const T {
        let data = core::ptr::from_ref::<T>(self.device());
        core::mem::forget(self);
        data
    }

    /// Takes back a registration given up with [`Registration::into_data`].
    ///
    /// # Safety
    ///
    /// `data` must come from `into_data` of a `Registration<T>` and not have
    /// been passed to this function before.
    pub unsafe fn from_data(data: *const T) -> Self {
        let dev = data
            .cast::<u8>()
            .wrapping_sub(offset_of!(Device<T>, data))
            .cast::<Device<T>>();
        // INVARIANT: By the safety requirements, `dev` is the device that
        // `into_data` gave up, with its reference.
        Self {
            // SAFETY: `data` is non-null and points into a `Device<T>`, so
            // `dev` is non-null.
            dev: unsafe { NonNull::new_unchecked(dev.cast_mut()) },
            _p: PhantomData,
        }
    }
}

impl<T: Ops> Drop for Registration<T> {
    fn drop(&mut self) {
        let vdev = self.device().as_raw();
        // SAFETY: By the type invariant, the device is registered and we own
        // a reference. Unregistering waits until every user has closed it;
        // the put may free it (running `release`, which drops `T`).
        unsafe {
            bindings::vfio_unregister_group_dev(vdev);
            put(vdev);
        }
    }
}

// SAFETY: `Registration` only hands out `&Device<T>`, which is `Send + Sync`.
unsafe impl<T: Ops> Send for Registration<T> {}
// SAFETY: As above.
unsafe impl<T: Ops> Sync for Registration<T> {}

/// `vfio_put_device()`, a `static inline` around `put_device()`.
///
/// # Safety
///
/// The caller must own a reference to `vdev`, which it gives up.
unsafe fn put(vdev: *mut bindings::vfio_device) {
    // SAFETY: By the function's safety requirements.
    unsafe { bindings::put_device(&raw mut (*vdev).device) };
}

/// Answers `VFIO_DEVICE_GET_INFO` at `arg`.
///
/// Checks `argsz` as the VFIO uAPI requires and writes `flags`,
/// `num_regions` and `num_irqs`.
pub fn reply_device_info(
    arg: UserPtr,
    flags: u32,
    num_regions: u32,
    num_irqs: u32,
) -> Result<isize> {
    // `offsetofend(struct vfio_device_info, num_irqs)`.
    const MINSZ: usize = 16;
    let (mut reader, mut writer) = UserSlice::new(arg, MINSZ).reader_writer();
    let argsz: u32 = reader.read()?;
    if (argsz as usize) < MINSZ {
        return Err(EINVAL);
    }
    writer.write(&argsz)?;
    writer.write(&flags)?;
    writer.write(&num_regions)?;
    writer.write(&num_irqs)?;
    Ok(0)
}

/// A region as `VFIO_DEVICE_GET_REGION_INFO` describes it.
#[derive(Clone, Copy, Debug, Default)]
pub struct RegionInfo {
    /// `VFIO_REGION_INFO_FLAG_*`.
    pub flags: u32,
    /// The region's size in bytes; 0 for a region the device does not have.
    pub size: u64,
    /// The region's offset in the device file.
    pub offset: u64,
}

/// Answers `VFIO_DEVICE_GET_REGION_INFO` at `arg`, with `region` giving the
/// answer for the index the user asks about (or `None` for an index the
/// device does not have: `-EINVAL`).
pub fn reply_region_info(
    arg: UserPtr,
    region: impl FnOnce(u32) -> Option<RegionInfo>,
) -> Result<isize> {
    // `offsetofend(struct vfio_region_info, offset)`.
    const MINSZ: usize = 32;
    let (mut reader, mut writer) = UserSlice::new(arg, MINSZ).reader_writer();
    let argsz: u32 = reader.read()?;
    let _flags: u32 = reader.read()?;
    let index: u32 = reader.read()?;
    if (argsz as usize) < MINSZ {
        return Err(EINVAL);
    }
    let info = region(index).ok_or(EINVAL)?;
    writer.write(&argsz)?;
    writer.write(&info.flags)?;
    writer.write(&index)?;
    writer.write(&0u32)?; // cap_offset
    writer.write(&info.size)?;
    writer.write(&info.offset)?;
    Ok(0)
}

/// Answers `VFIO_DEVICE_GET_IRQ_INFO` at `arg`, with `irq` giving
/// `(flags, count)` for the index the user asks about (or `None` for an
/// index the device does not have: `-EINVAL`).
pub fn reply_irq_info(arg: UserPtr, irq: impl FnOnce(u32) -> Option<(u32, u32)>) -> Result<isize> {
    // `offsetofend(struct vfio_irq_info, count)`.
    const MINSZ: usize = 16;
    let (mut reader, mut writer) = UserSlice::new(arg, MINSZ).reader_writer();
    let argsz: u32 = reader.read()?;
    let _flags: u32 = reader.read()?;
    let index: u32 = reader.read()?;
    if (argsz as usize) < MINSZ {
        return Err(EINVAL);
    }
    let (flags, count) = irq(index).ok_or(EINVAL)?;
    writer.write(&argsz)?;
    writer.write(&flags)?;
    writer.write(&index)?;
    writer.write(&count)?;
    Ok(0)
}
