// SPDX-License-Identifier: GPL-2.0

//! VFIO devices with an emulated IOMMU.
//!
//! C header: [`include/linux/vfio.h`](srctree/include/linux/vfio.h)
//!
//! A driver implements [`Ops`] for its per-device state `T`; an
//! [`EmulatedIommuRegistration<T>`] allocates the `struct vfio_device` with
//! `T` placed after it (as `vfio_alloc_device()` does for C drivers),
//! initialises `T` in place and registers the device with
//! `vfio_register_emulated_iommu_dev()`: a device with no IOMMU of its own,
//! whose DMA goes through the VFIO core ([`OpenDevice::dma_read`]), as
//! mediated devices do. It can be opened through the group/container path
//! and the iommufd cdev alike. Dropping the registration unregisters the device (waiting, as
//! the VFIO core does, for its users to close it); `T` is dropped when the
//! last reference to the `struct vfio_device` goes.
//!
//! The file operations that only an open device file can reach (`read`,
//! `write`, `ioctl`) get an [`OpenDevice`], which adds DMA to the user's
//! address space (`vfio_dma_rw()`): the VFIO core requires the device to be
//! open for it, and the type makes that a compile-time fact.
//!
//! A driver that sets [`Ops::MIGRATION_FLAGS`] and implements the `mig_*`
//! operations supports VFIO migration v2: the registration installs the
//! `vfio_migration_ops` and the flags, the VFIO core answers the
//! `VFIO_DEVICE_FEATURE_MIGRATION`, `MIG_DEVICE_STATE` and `MIG_DATA_SIZE`
//! ioctls through them, and the data files the driver returns are
//! [`StreamFile`]s (see [`super::stream_file`]).
//!
//! What is particular to PCI devices (the device API string, the region and
//! interrupt indexes and where regions sit in the device file) is in
//! [`pci`].

pub mod dma_log;
pub mod pci;

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
    container_of, device,
    error::{
        from_err_ptr,
        from_result,
        to_result,
        VTABLE_DEFAULT_ERROR, //
    },
    ffi::{
        c_char,
        c_int,
        c_long,
        c_uint,
        c_ulong, //
    },
    ioctl::_IO,
    page::PAGE_SIZE,
    prelude::*,
    sync::aref::ARef,
    types::Opaque,
    uaccess::{
        UserPtr,
        UserSlice,
        UserSliceWriter, //
    },
};

use super::{
    bindings,
    stream_file::StreamFile, //
};

/// `VFIO_DEVICE_GET_INFO`.
pub const DEVICE_GET_INFO: u32 = _IO(bindings::VFIO_TYPE as u32, bindings::VFIO_BASE + 7);
/// `VFIO_DEVICE_GET_IRQ_INFO`.
pub const DEVICE_GET_IRQ_INFO: u32 = _IO(bindings::VFIO_TYPE as u32, bindings::VFIO_BASE + 9);
/// `VFIO_DEVICE_SET_IRQS`.
pub const DEVICE_SET_IRQS: u32 = _IO(bindings::VFIO_TYPE as u32, bindings::VFIO_BASE + 10);
/// `VFIO_DEVICE_RESET`.
pub const DEVICE_RESET: u32 = _IO(bindings::VFIO_TYPE as u32, bindings::VFIO_BASE + 11);

/// `VFIO_DEVICE_FLAGS_RESET`: the device supports `VFIO_DEVICE_RESET`.
pub const DEVICE_FLAGS_RESET: u32 = bindings::VFIO_DEVICE_FLAGS_RESET;
/// `VFIO_REGION_INFO_FLAG_READ`.
pub const REGION_INFO_FLAG_READ: u32 = bindings::VFIO_REGION_INFO_FLAG_READ;
/// `VFIO_REGION_INFO_FLAG_WRITE`.
pub const REGION_INFO_FLAG_WRITE: u32 = bindings::VFIO_REGION_INFO_FLAG_WRITE;
/// `VFIO_IRQ_INFO_EVENTFD`.
pub const IRQ_INFO_EVENTFD: u32 = bindings::VFIO_IRQ_INFO_EVENTFD;
/// `VFIO_IRQ_INFO_NORESIZE`.
pub const IRQ_INFO_NORESIZE: u32 = bindings::VFIO_IRQ_INFO_NORESIZE;
/// The operations of a VFIO device whose state is `Self`.
///
/// Each callback gets the [`Device`] it was called for; the VFIO core
/// serialises `open` and `close` (the device set lock) but not `ioctl`.
#[vtable]
pub trait Ops: Send + Sync + Sized + 'static {
    /// The driver name VFIO reports.
    const NAME: &'static CStr;

    /// The largest single `read` or `write` on the device file passed to
    /// [`Ops::read`] and [`Ops::write`]; larger ones fail with `-EINVAL`.
    /// Each access is bounced through a kernel buffer of its size, so this
    /// bounds what one call can make the kernel allocate.
    const MAX_ACCESS: usize = 4096;

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
    fn ioctl(_device: &OpenDevice<Self>, _cmd: u32, _arg: UserPtr) -> Result<isize> {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Describes region `index` for `VFIO_DEVICE_GET_REGION_INFO` (which the
    /// VFIO core answers with this); `None` for an index the device does
    /// not have (`-EINVAL`).
    fn region_info(_device: &OpenDevice<Self>, _index: u32) -> Option<RegionInfo> {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// A `read(2)` of `buf.len()` bytes (at most [`Ops::MAX_ACCESS`]) at
    /// `offset` of a device file: fill `buf` or fail, and nothing is copied
    /// to the user.
    fn read(_device: &OpenDevice<Self>, _offset: u64, _buf: &mut [u8]) -> Result {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// A `write(2)` of `data` (at most [`Ops::MAX_ACCESS`] bytes) at `offset` of
    /// a device file.
    fn write(_device: &OpenDevice<Self>, _offset: u64, _data: &[u8]) -> Result {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// The user unmapped `length` bytes at `iova` of its DMA space
    /// (`vfio_device_ops.dma_unmap`): every page the driver pinned there
    /// ([`OpenDevice::pin_pages`]) must be unpinned before this returns (the
    /// core retries the unmap, and after a few tries it is a BUG). A driver
    /// that pins implements it; the core refuses to pin for one that does
    /// not.
    fn dma_unmap(_device: &Device<Self>, _iova: u64, _length: u64) {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// The migration features (`VFIO_MIGRATION_*`) of a device that
    /// implements [`Ops::mig_set_state`]: at least
    /// [`MIGRATION_STOP_COPY`].
    const MIGRATION_FLAGS: u32 = 0;

    /// Moves the device to the migration state `new`
    /// (`VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE`), one arc at a time (see
    /// [`OpenDevice::next_mig_state`]); returns the data file the last arc
    /// opened, if it opened one, for the core to install in a new file
    /// descriptor.
    fn mig_set_state(_device: &OpenDevice<Self>, _new: MigState) -> Result<Option<StreamFile>> {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Returns the current migration state.
    ///
    /// Gets a [`Device`], not an [`OpenDevice`]: besides the
    /// `VFIO_DEVICE_FEATURE_MIGRATION` ioctls, the VFIO core calls it from
    /// debugfs (`vfio/<device>/migration/state`), open or not.
    fn mig_get_state(_device: &Device<Self>) -> Result<MigState> {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Returns how many bytes the data file still has to deliver to
    /// complete STOP_COPY (`VFIO_DEVICE_FEATURE_MIG_DATA_SIZE`).
    fn mig_data_size(_device: &OpenDevice<Self>) -> Result<usize> {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Starts DMA dirty logging of `ranges`
    /// (`VFIO_DEVICE_FEATURE_DMA_LOGGING_START`, checked by the core):
    /// returns the tracking page size the driver picked, given the user's
    /// hint `page_size`. A device implementing it implements
    /// [`Ops::log_stop`] and [`Ops::log_read_and_clear`] too, and must
    /// refuse a start while it logs.
    fn log_start(
        _device: &OpenDevice<Self>,
        _ranges: dma_log::Ranges<'_>,
        _page_size: u64,
    ) -> Result<u64> {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Stops DMA dirty logging (`VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP`);
    /// harmless when not logging.
    fn log_stop(_device: &OpenDevice<Self>) -> Result {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Reports the pages written in `dirty`'s window since they were last
    /// reported, and forgets them (`VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT`).
    fn log_read_and_clear(
        _device: &OpenDevice<Self>,
        _dirty: &mut dma_log::DirtyBitmap<'_>,
    ) -> Result {
        build_error!(VTABLE_DEFAULT_ERROR)
    }
}

/// `VFIO_MIGRATION_STOP_COPY`: STOP, STOP_COPY and RESUMING.
pub const MIGRATION_STOP_COPY: u32 = bindings::VFIO_MIGRATION_STOP_COPY;
/// `VFIO_MIGRATION_P2P`: RUNNING_P2P.
pub const MIGRATION_P2P: u32 = bindings::VFIO_MIGRATION_P2P;
/// `VFIO_MIGRATION_PRE_COPY`: PRE_COPY (and PRE_COPY_P2P with P2P).
pub const MIGRATION_PRE_COPY: u32 = bindings::VFIO_MIGRATION_PRE_COPY;
/// `VFIO_MIG_GET_PRECOPY_INFO`, on a data file in the PRE_COPY states.
pub const MIG_GET_PRECOPY_INFO: u32 = _IO(bindings::VFIO_TYPE as u32, bindings::VFIO_BASE + 21);

/// A migration state (`enum vfio_device_mig_state`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MigState {
    /// `VFIO_DEVICE_STATE_ERROR`.
    Error,
    /// `VFIO_DEVICE_STATE_STOP`.
    Stop,
    /// `VFIO_DEVICE_STATE_RUNNING`.
    Running,
    /// `VFIO_DEVICE_STATE_STOP_COPY`.
    StopCopy,
    /// `VFIO_DEVICE_STATE_RESUMING`.
    Resuming,
    /// `VFIO_DEVICE_STATE_RUNNING_P2P`.
    RunningP2p,
    /// `VFIO_DEVICE_STATE_PRE_COPY`.
    PreCopy,
    /// `VFIO_DEVICE_STATE_PRE_COPY_P2P`.
    PreCopyP2p,
}

impl MigState {
    /// Every state.
    const ALL: [Self; 8] = [
        Self::Error,
        Self::Stop,
        Self::Running,
        Self::StopCopy,
        Self::Resuming,
        Self::RunningP2p,
        Self::PreCopy,
        Self::PreCopyP2p,
    ];

    /// The state a raw `enum vfio_device_mig_state` value names, if any.
    fn from_raw(raw: bindings::vfio_device_mig_state) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.to_raw() == raw)
    }

    /// The raw `enum vfio_device_mig_state` value.
    fn to_raw(self) -> bindings::vfio_device_mig_state {
        match self {
            Self::Error => bindings::vfio_device_mig_state_VFIO_DEVICE_STATE_ERROR,
            Self::Stop => bindings::vfio_device_mig_state_VFIO_DEVICE_STATE_STOP,
            Self::Running => bindings::vfio_device_mig_state_VFIO_DEVICE_STATE_RUNNING,
            Self::StopCopy => bindings::vfio_device_mig_state_VFIO_DEVICE_STATE_STOP_COPY,
            Self::Resuming => bindings::vfio_device_mig_state_VFIO_DEVICE_STATE_RESUMING,
            Self::RunningP2p => bindings::vfio_device_mig_state_VFIO_DEVICE_STATE_RUNNING_P2P,
            Self::PreCopy => bindings::vfio_device_mig_state_VFIO_DEVICE_STATE_PRE_COPY,
            Self::PreCopyP2p => bindings::vfio_device_mig_state_VFIO_DEVICE_STATE_PRE_COPY_P2P,
        }
    }

    /// Returns the state's name as the uAPI spells it after
    /// `VFIO_DEVICE_STATE_`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Error => "ERROR",
            Self::Stop => "STOP",
            Self::Running => "RUNNING",
            Self::StopCopy => "STOP_COPY",
            Self::Resuming => "RESUMING",
            Self::RunningP2p => "RUNNING_P2P",
            Self::PreCopy => "PRE_COPY",
            Self::PreCopyP2p => "PRE_COPY_P2P",
        }
    }
}

/// A VFIO device: the C `struct vfio_device` and the driver's `T` after it.
///
/// # Invariants
///
/// - `vdev` was set up by `_vfio_alloc_device()` with `EmulatedIommuRegistration<T>`'s
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
        let vdev = vdev.cast::<Opaque<bindings::vfio_device>>();
        // SAFETY: By the safety requirements, `vdev` is the `vdev` field of
        // a live `Self`.
        unsafe { &*container_of!(vdev, Self, vdev) }
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
    /// Called by the VFIO core for an open device file of a registered
    /// `Device<T>`.
    unsafe extern "C" fn ioctl_callback(
        vdev: *mut bindings::vfio_device,
        cmd: c_uint,
        arg: c_ulong,
    ) -> c_long {
        // SAFETY: The VFIO core calls this through an open device file.
        let this = unsafe { OpenDevice::from_raw(vdev) };
        let arg = UserPtr::from_addr(arg);
        from_result(|| T::ioctl(this, cmd, arg).map(|ret| ret as c_long))
    }

    /// `vfio_device_ops.get_region_info_caps`.
    ///
    /// # Safety
    ///
    /// As for `ioctl_callback`; `info` is valid for reads and writes.
    unsafe extern "C" fn region_info_callback(
        vdev: *mut bindings::vfio_device,
        info: *mut bindings::vfio_region_info,
        _caps: *mut bindings::vfio_info_cap,
    ) -> c_int {
        // SAFETY: The VFIO core calls this through an open device file.
        let this = unsafe { OpenDevice::from_raw(vdev) };
        // SAFETY: `info` is valid, by the function's safety requirements.
        let info = unsafe { &mut *info };
        match T::region_info(this, info.index) {
            Some(region) => {
                info.flags = region.flags;
                info.size = region.size;
                info.offset = region.offset;
                0
            }
            None => EINVAL.to_errno(),
        }
    }

    /// `vfio_device_ops.read`.
    ///
    /// # Safety
    ///
    /// As for `ioctl_callback`; `ppos` is valid for reads and writes.
    unsafe extern "C" fn read_callback(
        vdev: *mut bindings::vfio_device,
        buf: *mut c_char,
        count: usize,
        ppos: *mut bindings::loff_t,
    ) -> isize {
        // SAFETY: The VFIO core calls this through an open device file.
        let this = unsafe { OpenDevice::from_raw(vdev) };
        // SAFETY: `ppos` is valid, by the function's safety requirements.
        let pos = unsafe { *ppos };
        from_result(|| {
            let offset = u64::try_from(pos).map_err(|_| EINVAL)?;
            with_bounce(count, T::MAX_ACCESS, |bounce| {
                T::read(this, offset, bounce)?;
                UserSlice::new(UserPtr::from_ptr(buf.cast()), count)
                    .writer()
                    .write_slice(bounce)
            })?;
            // SAFETY: As above.
            unsafe { *ppos = pos + count as bindings::loff_t };
            Ok(count as isize)
        })
    }

    /// `vfio_device_ops.write`.
    ///
    /// # Safety
    ///
    /// As for `read_callback`.
    unsafe extern "C" fn write_callback(
        vdev: *mut bindings::vfio_device,
        buf: *const c_char,
        count: usize,
        ppos: *mut bindings::loff_t,
    ) -> isize {
        // SAFETY: The VFIO core calls this through an open device file.
        let this = unsafe { OpenDevice::from_raw(vdev) };
        // SAFETY: `ppos` is valid, by the function's safety requirements.
        let pos = unsafe { *ppos };
        from_result(|| {
            let offset = u64::try_from(pos).map_err(|_| EINVAL)?;
            with_bounce(count, T::MAX_ACCESS, |bounce| {
                UserSlice::new(UserPtr::from_ptr(buf.cast_mut().cast()), count)
                    .reader()
                    .read_slice(bounce)?;
                T::write(this, offset, bounce)
            })?;
            // SAFETY: As above.
            unsafe { *ppos = pos + count as bindings::loff_t };
            Ok(count as isize)
        })
    }

    /// `vfio_device_ops.dma_unmap`.
    ///
    /// # Safety
    ///
    /// Called by the VFIO core with the `vfio_device` of a registered
    /// `Device<T>` (the core calls it for the devices attached to the
    /// user's IOMMU context, which are open).
    unsafe extern "C" fn dma_unmap_callback(
        vdev: *mut bindings::vfio_device,
        iova: u64,
        length: u64,
    ) {
        // SAFETY: The VFIO core calls this only for registered devices,
        // whose data is initialised.
        T::dma_unmap(unsafe { Self::from_raw(vdev) }, iova, length);
    }

    /// `vfio_migration_ops.migration_set_state`.
    ///
    /// # Safety
    ///
    /// As for `ioctl_callback`.
    unsafe extern "C" fn mig_set_state_callback(
        vdev: *mut bindings::vfio_device,
        new: bindings::vfio_device_mig_state,
    ) -> *mut bindings::file {
        // SAFETY: The VFIO core calls this through an open device file.
        let this = unsafe { OpenDevice::from_raw(vdev) };
        let result = MigState::from_raw(new)
            .ok_or(EINVAL)
            .and_then(|new| T::mig_set_state(this, new));
        match result {
            Ok(Some(file)) => file.into_raw(),
            Ok(None) => core::ptr::null_mut(),
            Err(e) => e.to_ptr(),
        }
    }

    /// `vfio_migration_ops.migration_get_state`.
    ///
    /// # Safety
    ///
    /// Called by the VFIO core with the `vfio_device` of a registered
    /// `Device<T>`, open or not (debugfs reads it while closed); `state`
    /// is valid for writes.
    unsafe extern "C" fn mig_get_state_callback(
        vdev: *mut bindings::vfio_device,
        state: *mut bindings::vfio_device_mig_state,
    ) -> c_int {
        // SAFETY: The VFIO core calls this only for registered devices, whose
        // data is initialised; nothing here needs the device open.
        let this = unsafe { Self::from_raw(vdev) };
        from_result(|| {
            let current = T::mig_get_state(this)?;
            // SAFETY: `state` is valid, by the function's safety
            // requirements.
            unsafe { *state = current.to_raw() };
            Ok(0)
        })
    }

    /// `vfio_migration_ops.migration_get_data_size`.
    ///
    /// # Safety
    ///
    /// As for `ioctl_callback`; `size` is valid for writes.
    unsafe extern "C" fn mig_data_size_callback(
        vdev: *mut bindings::vfio_device,
        size: *mut c_ulong,
    ) -> c_int {
        // SAFETY: The VFIO core calls this through an open device file.
        let this = unsafe { OpenDevice::from_raw(vdev) };
        from_result(|| {
            let n = T::mig_data_size(this)?;
            // SAFETY: `size` is valid, by the function's safety
            // requirements.
            unsafe { *size = n as c_ulong };
            Ok(0)
        })
    }

    /// `vfio_log_ops.log_start`.
    ///
    /// # Safety
    ///
    /// As for `ioctl_callback`; `ranges` is the core's interval tree of
    /// `nnodes` nodes and `page_size` is valid for reads and writes, for
    /// the call.
    unsafe extern "C" fn log_start_callback(
        vdev: *mut bindings::vfio_device,
        ranges: *mut bindings::rb_root_cached,
        nnodes: u32,
        page_size: *mut u64,
    ) -> c_int {
        // SAFETY: The VFIO core calls this through an open device file.
        let this = unsafe { OpenDevice::from_raw(vdev) };
        // SAFETY: By the function's safety requirements, the tree lives,
        // unmodified, until this returns.
        let ranges = unsafe { dma_log::Ranges::from_raw(ranges, nnodes) };
        from_result(|| {
            // SAFETY: `page_size` is valid, by the safety requirements.
            let hint = unsafe { *page_size };
            let chosen = T::log_start(this, ranges, hint)?;
            // SAFETY: As above.
            unsafe { *page_size = chosen };
            Ok(0)
        })
    }

    /// `vfio_log_ops.log_stop`.
    ///
    /// # Safety
    ///
    /// As for `ioctl_callback`.
    unsafe extern "C" fn log_stop_callback(vdev: *mut bindings::vfio_device) -> c_int {
        // SAFETY: The VFIO core calls this through an open device file.
        let this = unsafe { OpenDevice::from_raw(vdev) };
        from_result(|| T::log_stop(this).map(|()| 0))
    }

    /// `vfio_log_ops.log_read_and_clear`.
    ///
    /// # Safety
    ///
    /// As for `ioctl_callback`; `dirty` is the core's bitmap for `iova ..
    /// iova + length`, valid for the call.
    unsafe extern "C" fn log_read_and_clear_callback(
        vdev: *mut bindings::vfio_device,
        iova: c_ulong,
        length: c_ulong,
        dirty: *mut bindings::iova_bitmap,
    ) -> c_int {
        // SAFETY: The VFIO core calls this through an open device file.
        let this = unsafe { OpenDevice::from_raw(vdev) };
        // The core checked that the window does not wrap; an empty one has
        // nothing to report.
        if length == 0 || (iova as u64).checked_add(length as u64 - 1).is_none() {
            return 0;
        }
        // SAFETY: By the function's safety requirements.
        let mut dirty =
            unsafe { dma_log::DirtyBitmap::from_raw(dirty, iova as u64, length as u64) };
        from_result(|| T::log_read_and_clear(this, &mut dirty).map(|()| 0))
    }

    /// The DMA logging operations, for devices that implement them.
    const LOG_OPS: bindings::vfio_log_ops = bindings::vfio_log_ops {
        log_start: Some(Self::log_start_callback),
        log_stop: Some(Self::log_stop_callback),
        log_read_and_clear: Some(Self::log_read_and_clear_callback),
    };

    /// Returns [`Self::LOG_OPS`] as a `'static` reference.
    const fn log_ops() -> &'static bindings::vfio_log_ops {
        &Self::LOG_OPS
    }

    /// Returns [`Self::VTABLE`] as a `'static` reference (a constant
    /// promoted to a static, explicitly).
    const fn vtable() -> &'static bindings::vfio_device_ops {
        &Self::VTABLE
    }

    /// Returns [`Self::MIG_OPS`] as a `'static` reference.
    const fn mig_ops() -> &'static bindings::vfio_migration_ops {
        &Self::MIG_OPS
    }

    /// The migration operations, for devices that implement them.
    const MIG_OPS: bindings::vfio_migration_ops = bindings::vfio_migration_ops {
        migration_set_state: Some(Self::mig_set_state_callback),
        migration_get_state: Some(Self::mig_get_state_callback),
        migration_get_data_size: Some(Self::mig_data_size_callback),
    };

    /// `vfio_device_ops.release`.
    ///
    /// # Safety
    ///
    /// Called by the VFIO core once, when the last reference to a `Device<T>`
    /// allocated by [`EmulatedIommuRegistration::new`] goes, before freeing
    /// it.
    unsafe extern "C" fn release_callback(vdev: *mut bindings::vfio_device) {
        let vdev = vdev.cast::<Opaque<bindings::vfio_device>>();
        // SAFETY: `vdev` is the `vdev` field of a `Self` (allocated by
        // `EmulatedIommuRegistration::new`).
        let this = unsafe { container_of!(vdev, Self, vdev) };
        // SAFETY: The VFIO core calls `release` once, when the last reference
        // goes and before it frees the memory; `initialized` tells whether
        // `data` holds a `T`, which nothing uses any more.
        unsafe {
            if (*this).initialized {
                (*this).data.assume_init_drop();
            }
        }
    }

    /// The operations table of devices of `T`.
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
        get_region_info_caps: if T::HAS_REGION_INFO {
            Some(Self::region_info_callback)
        } else {
            None
        },
        read: if T::HAS_READ {
            Some(Self::read_callback)
        } else {
            None
        },
        write: if T::HAS_WRITE {
            Some(Self::write_callback)
        } else {
            None
        },
        dma_unmap: if T::HAS_DMA_UNMAP {
            Some(Self::dma_unmap_callback)
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
        // initialised (see the invariants and `EmulatedIommuRegistration::new`).
        unsafe { self.data.assume_init_ref() }
    }
}

/// Runs `f` on a zeroed kernel buffer of `count` bytes (at most `max`, else
/// `-EINVAL`): on the stack for the register-sized accesses that are nearly
/// all of them, else allocated.
fn with_bounce(count: usize, max: usize, f: impl FnOnce(&mut [u8]) -> Result) -> Result {
    const SMALL: usize = 64;
    if count > max {
        return Err(EINVAL);
    }
    if count <= SMALL {
        let mut small = [0u8; SMALL];
        f(&mut small[..count])
    } else {
        let mut big = KVec::from_elem(0u8, count, GFP_KERNEL)?;
        f(&mut big)
    }
}

// SAFETY: The C part is thread-safe (the VFIO core's locking) and `T` is
// `Send + Sync`.
unsafe impl<T: Ops> Send for Device<T> {}
// SAFETY: As above.
unsafe impl<T: Ops> Sync for Device<T> {}

/// A [`Device`] that a user has open: what the `read`, `write` and `ioctl`
/// callbacks get.
///
/// # Invariants
///
/// The device has at least one open device file for as long as the
/// reference to `Self` lives, and it uses the emulated IOMMU (see
/// [`EmulatedIommuRegistration`]).
#[repr(transparent)]
pub struct OpenDevice<T: Ops>(Device<T>);

impl<T: Ops> OpenDevice<T> {
    /// # Safety
    ///
    /// As for [`Device::from_raw`]; the device must also have an open file
    /// for the lifetime `'a` (the VFIO core guarantees it in the callbacks
    /// of a device file).
    unsafe fn from_raw<'a>(vdev: *mut bindings::vfio_device) -> &'a Self {
        // SAFETY: `Self` is a transparent wrapper of `Device<T>`, which
        // `vdev` is the start of, by the safety requirements.
        unsafe { &*vdev.cast::<Self>() }
    }

    /// Returns the next state on the way from `current` to `target` that
    /// the VFIO core allows for this device's migration features
    /// (`vfio_mig_get_next_state()`): drivers take one arc at a time.
    /// `-EINVAL` if `target` cannot be reached from `current`.
    pub fn next_mig_state(&self, current: MigState, target: MigState) -> Result<MigState> {
        // The core warns about a walk from ERROR: only a reset leaves it.
        if current == MigState::Error {
            return Err(EINVAL);
        }
        let mut next = 0;
        // SAFETY: The device is valid; `next` is valid for writes.
        to_result(unsafe {
            bindings::vfio_mig_get_next_state(
                self.0.as_raw(),
                current.to_raw(),
                target.to_raw(),
                &mut next,
            )
        })?;
        MigState::from_raw(next).ok_or(EINVAL)
    }

    /// Returns a counted reference to the device, for a file that may
    /// outlive the user's session (a migration data file).
    pub fn to_ref(&self) -> DeviceRef {
        // SAFETY: The device is valid, and so is its embedded
        // `struct device`.
        let dev: &device::Device =
            unsafe { device::Device::from_raw(&raw mut (*self.0.as_raw()).device) };
        // INVARIANT: `dev` is the `device` of a `struct vfio_device`, and
        // the reference taken here keeps that structure allocated.
        DeviceRef(ARef::from(dev))
    }

    /// Reads `buf.len()` bytes at `iova` of the user's DMA address space:
    /// `-EFAULT`-like errors if any of it is not mapped.
    pub fn dma_read(&self, iova: u64, buf: &mut [u8]) -> Result {
        if buf.is_empty() {
            return Ok(());
        }
        // SAFETY: By the type invariant, the device is open and uses the
        // emulated IOMMU, as `vfio_dma_rw()` requires; `buf` is valid for
        // writes of its length.
        to_result(unsafe {
            bindings::vfio_dma_rw(
                self.0.as_raw(),
                iova,
                buf.as_mut_ptr().cast(),
                buf.len(),
                false,
            )
        })
    }

    /// Writes `data` at `iova` of the user's DMA address space: an error if
    /// any of it is not mapped, or mapped read-only.
    pub fn dma_write(&self, iova: u64, data: &[u8]) -> Result {
        if data.is_empty() {
            return Ok(());
        }
        // SAFETY: As in `dma_read`; with `write` true, `vfio_dma_rw()` only
        // reads from the buffer, so passing a shared one is sound.
        to_result(unsafe {
            bindings::vfio_dma_rw(
                self.0.as_raw(),
                iova,
                data.as_ptr().cast_mut().cast(),
                data.len(),
                true,
            )
        })
    }

    /// Pins `count` pages (1 to [`PIN_MAX`]) of the user's DMA space from
    /// the one that holds `iova`, for reading and, with `write`, for writing
    /// (`vfio_pin_pages()`): an error if any is not mapped, or not for
    /// writing, or if the device has no [`Ops::dma_unmap`]. The pages are
    /// unpinned when the guard is dropped; until then, an unmap of them
    /// waits in the driver's [`Ops::dma_unmap`], which must wait for the
    /// guard.
    pub fn pin_pages(&self, iova: u64, count: usize, write: bool) -> Result<PinnedPages<'_, T>> {
        let start = iova & !(PAGE_SIZE as u64 - 1);
        // The pages lie below the top of the address space.
        let bytes = (count as u64).checked_mul(PAGE_SIZE as u64).ok_or(EINVAL)?;
        if !(1..=PIN_MAX).contains(&count) || start.checked_add(bytes - 1).is_none() {
            return Err(EINVAL);
        }
        let prot = if write {
            bindings::IOMMU_READ | bindings::IOMMU_WRITE
        } else {
            bindings::IOMMU_READ
        };
        let mut pages = [core::ptr::null_mut(); PIN_MAX];
        // SAFETY: By the type invariant, the device is open and uses the
        // emulated IOMMU, as `vfio_pin_pages()` requires; `pages` is valid
        // for the `count` entries asked for (at most `PIN_MAX`).
        let n = unsafe {
            bindings::vfio_pin_pages(
                self.0.as_raw(),
                start,
                count as c_int,
                prot as c_int,
                pages.as_mut_ptr(),
            )
        };
        to_result(n)?;
        // The core pins all `count` pages or none; should it say fewer, the
        // guard owns (and gives back) only those.
        let got = usize::try_from(n).unwrap_or(0).min(count);
        // INVARIANT: The core pinned `got` pages at `start` with `prot`.
        let pinned = PinnedPages {
            dev: self,
            iova: start,
            pages,
            count: got,
            writable: write,
        };
        let all = pinned.pages.iter().take(count).all(|p| !p.is_null());
        if got != count || !all {
            // Dropping the guard gives back what was pinned.
            return Err(EFAULT);
        }
        Ok(pinned)
    }
}

/// The most pages one [`PinnedPages`] holds.
pub const PIN_MAX: usize = 16;

/// Pages of a user's DMA space, pinned by [`OpenDevice::pin_pages`]: they
/// stay in memory, the same physical pages, until the guard is dropped,
/// which unpins them.
///
/// # Invariants
///
/// `pages[..count]` are the pages pinned at `iova` (page-aligned) of
/// `dev`'s DMA space and after, for writing too if `writable`; this guard
/// owns those `count` pins.
pub struct PinnedPages<'a, T: Ops> {
    dev: &'a OpenDevice<T>,
    iova: u64,
    pages: [*mut bindings::page; PIN_MAX],
    count: usize,
    writable: bool,
}

impl<T: Ops> PinnedPages<'_, T> {
    /// Returns the page holding the `len` bytes at `iova`, and their offset
    /// in it, if they lie within one page of these.
    fn page_of(&self, iova: u64, len: usize) -> Option<(*mut bindings::page, usize)> {
        let off = iova.checked_sub(self.iova)?;
        let index = usize::try_from(off / PAGE_SIZE as u64).ok()?;
        let in_page = (off % PAGE_SIZE as u64) as usize;
        if index >= self.count || in_page.checked_add(len)? > PAGE_SIZE {
            return None;
        }
        let page = *self.pages.get(index)?;
        (!page.is_null()).then_some((page, in_page))
    }

    /// Returns whether the `len` bytes at `iova` lie within one of these
    /// pages.
    pub fn holds(&self, iova: u64, len: usize) -> bool {
        self.page_of(iova, len).is_some()
    }

    /// Copies the `len` bytes at `from`, in `src`'s pages, to `to`, in these
    /// (the two may be the same page: the copy is a `memmove()`). `-EINVAL`,
    /// and nothing copied, if these were not pinned for writing or if a
    /// range does not lie within one page of its guard.
    pub fn copy_from(
        &mut self,
        to: u64,
        src: &PinnedPages<'_, T>,
        from: u64,
        len: usize,
    ) -> Result {
        let (Some((dst_page, dst_off)), Some((src_page, src_off))) =
            (self.page_of(to, len), src.page_of(from, len))
        else {
            return Err(EINVAL);
        };
        if !self.writable {
            return Err(EINVAL);
        }
        // SAFETY: By the type invariants, both pages are pinned, so they
        // stay valid pages until the guards drop, and the destination may be
        // written; both ranges lie within their page (`page_of`). The helper
        // maps each page with `kmap_local_page()` for the copy.
        unsafe { bindings::dsa_mdev_copy_page(dst_page, dst_off, src_page, src_off, len) };
        Ok(())
    }
}

impl<T: Ops> Drop for PinnedPages<'_, T> {
    fn drop(&mut self) {
        // SAFETY: By the type invariants, this guard owns the pins of `count`
        // pages at `iova`; the device is open for as long as `dev` is
        // borrowed.
        unsafe { bindings::vfio_unpin_pages(self.dev.0.as_raw(), self.iova, self.count as c_int) };
    }
}

impl<T: Ops> Deref for OpenDevice<T> {
    type Target = Device<T>;

    fn deref(&self) -> &Device<T> {
        &self.0
    }
}

/// A VFIO device registered with an emulated IOMMU
/// (`vfio_register_emulated_iommu_dev()`): the driver has no IOMMU of its
/// own and reaches the user's memory through the VFIO core's pinning and
/// `vfio_dma_rw()` ([`OpenDevice::dma_read`], [`OpenDevice::dma_write`]),
/// as mediated devices do.
///
/// # Invariants
///
/// `dev` points to a `Device<T>` with initialised data, registered with
/// `vfio_register_emulated_iommu_dev()`; `Self` owns one reference to it.
pub struct EmulatedIommuRegistration<T: Ops> {
    dev: NonNull<Device<T>>,
    _p: PhantomData<T>,
}

impl<T: Ops> EmulatedIommuRegistration<T> {
    /// Allocates a VFIO device for `parent`, initialises its `T` with `init`
    /// and registers it.
    ///
    /// The registration is a handle, which may move: the device itself
    /// lives in memory the VFIO core allocates, and stays until its last
    /// user has closed it.  (A `Result<Self>` is itself an initializer, for
    /// an [`mdev::Driver::probe`](super::mdev::Driver::probe).)
    ///
    /// `parent` is bound to a driver, as the VFIO core requires of a
    /// device's parent while the device is open (it takes and drops the
    /// driver's module reference at the first open and the last close).
    /// The driver keeps the registration in the parent's driver data, so
    /// that it is dropped, unregistering the device, when the parent is
    /// unbound.
    pub fn new(
        parent: &device::Device<device::Bound>,
        init: impl PinInit<T, Error>,
    ) -> Result<Self> {
        // `kvzalloc()` aligns to at least 8 bytes.
        build_assert!(core::mem::align_of::<Device<T>>() <= 8);
        // SAFETY: The size covers `Device<T>`, whose first field is the
        // `struct vfio_device`; `parent` is a valid device and the operations
        // are a static table.
        let vdev = unsafe {
            bindings::_vfio_alloc_device(
                core::mem::size_of::<Device<T>>(),
                super::device_ptr(parent),
                Device::<T>::vtable(),
            )
        };
        let vdev = from_err_ptr(vdev)?;
        // `_vfio_alloc_device()` returns a device or an error, never NULL;
        // checked here, before anything needs undoing.
        let dev = NonNull::new(vdev.cast::<Device<T>>()).ok_or(ENOMEM)?;

        // SAFETY: `dev` points to zeroed memory for a `Device<T>` that only
        // this function knows about; `data` never moves.
        let init_result = unsafe { init.__init((&raw mut (*dev.as_ptr()).data).cast::<T>()) };
        if let Err(e) = init_result {
            // SAFETY: `initialized` is still false, so `release` will not
            // drop `data`; this drops the only reference.
            unsafe { put(vdev) };
            return Err(e);
        }
        // SAFETY: `dev` is valid and not shared yet.
        unsafe { (*dev.as_ptr()).initialized = true };
        if T::HAS_MIG_SET_STATE {
            // What the VFIO core requires of a device with migration
            // operations, checked when the driver is built.
            build_assert!(T::HAS_MIG_GET_STATE && T::HAS_MIG_DATA_SIZE);
            build_assert!(T::MIGRATION_FLAGS & MIGRATION_STOP_COPY != 0);
            // SAFETY: `vdev` is valid and not registered yet; the operations
            // are a static table.
            unsafe {
                (*vdev).mig_ops = Device::<T>::mig_ops();
                (*vdev).migration_flags = T::MIGRATION_FLAGS;
            }
        }
        // Reports need the IOVA bitmap of `CONFIG_IOMMUFD_DRIVER`; without
        // it the core's report fails, so the device offers no logging.
        if T::HAS_LOG_START && cfg!(CONFIG_IOMMUFD_DRIVER) {
            build_assert!(T::HAS_LOG_STOP && T::HAS_LOG_READ_AND_CLEAR);
            // SAFETY: `vdev` is valid and not registered yet; the operations
            // are a static table.
            unsafe { (*vdev).log_ops = Device::<T>::log_ops() };
        }

        // SAFETY: `vdev` was allocated and initialised above.
        if let Err(e) = to_result(unsafe { bindings::vfio_register_emulated_iommu_dev(vdev) }) {
            // SAFETY: Not registered; this drops the only reference, and
            // `release` drops `data`.
            unsafe { put(vdev) };
            return Err(e);
        }
        // INVARIANT: Initialised and registered above; the reference from
        // the allocation is ours. Nothing can fail from here on.
        Ok(Self {
            dev,
            _p: PhantomData,
        })
    }

    /// Returns the device.
    pub fn device(&self) -> &Device<T> {
        // SAFETY: By the type invariant, `dev` is valid while `self` is.
        unsafe { self.dev.as_ref() }
    }
}

impl<T: Ops> Deref for EmulatedIommuRegistration<T> {
    type Target = Device<T>;

    fn deref(&self) -> &Device<T> {
        self.device()
    }
}

impl<T: Ops> Drop for EmulatedIommuRegistration<T> {
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

// SAFETY: The registration only hands out `&Device<T>`, which is
// `Send + Sync`.
unsafe impl<T: Ops> Send for EmulatedIommuRegistration<T> {}
// SAFETY: As above.
unsafe impl<T: Ops> Sync for EmulatedIommuRegistration<T> {}

/// A counted reference to a VFIO device: what a file that outlives the
/// user's session (a migration data file) keeps, to read the device's
/// settings at each ioctl as C drivers do.
///
/// # Invariants
///
/// `self.0` is the `device` embedded in a `struct vfio_device`; the
/// reference it holds keeps that structure allocated.
#[derive(Clone)]
pub struct DeviceRef(ARef<device::Device>);

impl DeviceRef {
    /// Returns whether the user asked for the v2 behaviour of
    /// `VFIO_MIG_GET_PRECOPY_INFO` (`VFIO_DEVICE_FEATURE_MIG_PRECOPY_INFOv2`).
    pub fn precopy_info_v2(&self) -> bool {
        let dev = super::device_ptr(&self.0);
        // SAFETY: By the type invariant, `dev` is the `device` field of an
        // allocated `struct vfio_device`.
        let vdev = unsafe { container_of!(dev, bindings::vfio_device, device) };
        // SAFETY: `vdev` is allocated. The field is a byte that the core
        // sets from a user's ioctl with no lock, and C drivers read as
        // plainly; a volatile read is `READ_ONCE()`.
        unsafe { core::ptr::read_volatile(&raw const (*vdev).precopy_info_v2) != 0 }
    }
}

/// `vfio_put_device()`, a `static inline` around `put_device()`.
///
/// # Safety
///
/// The caller must own a reference to `vdev`, which it gives up.
unsafe fn put(vdev: *mut bindings::vfio_device) {
    // SAFETY: By the function's safety requirements.
    unsafe { bindings::put_device(&raw mut (*vdev).device) };
}

/// `offsetofend()` of the last of `fields` of the uAPI structure `ty`, which
/// the caller reads or writes in this order, as consecutive `u32`s, as the
/// start of the structure; the layout is checked when the module is built.
macro_rules! u32_prefix_size {
    ($ty:ty, $($field:ident),+ $(,)?) => {{
        let mut end = 0usize;
        $(
            assert!(core::mem::offset_of!($ty, $field) == end);
            end += core::mem::size_of::<u32>();
        )+
        end
    }};
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
    const MINSZ: usize = u32_prefix_size!(
        bindings::vfio_device_info,
        argsz,
        flags,
        num_regions,
        num_irqs
    );
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

/// Answers `VFIO_DEVICE_GET_IRQ_INFO` at `arg`, with `irq` giving
/// `(flags, count)` for the index the user asks about (or `None` for an
/// index the device does not have: `-EINVAL`).
pub fn reply_irq_info(arg: UserPtr, irq: impl FnOnce(u32) -> Option<(u32, u32)>) -> Result<isize> {
    const MINSZ: usize = u32_prefix_size!(bindings::vfio_irq_info, argsz, flags, index, count);
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

/// What `VFIO_DEVICE_SET_IRQS` asks to do (`VFIO_IRQ_SET_ACTION_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IrqAction {
    /// `VFIO_IRQ_SET_ACTION_MASK`.
    Mask,
    /// `VFIO_IRQ_SET_ACTION_UNMASK`.
    Unmask,
    /// `VFIO_IRQ_SET_ACTION_TRIGGER`.
    Trigger,
}

/// The data of a `VFIO_DEVICE_SET_IRQS` (`VFIO_IRQ_SET_DATA_*`), one entry
/// per interrupt from `start`.
pub enum IrqData {
    /// `VFIO_IRQ_SET_DATA_NONE`.
    None,
    /// `VFIO_IRQ_SET_DATA_BOOL`.
    Bool(KVec<bool>),
    /// `VFIO_IRQ_SET_DATA_EVENTFD`: file descriptors, -1 for "none".
    EventFd(KVec<i32>),
}

/// A validated `VFIO_DEVICE_SET_IRQS` request.
pub struct IrqSet {
    /// The interrupt index (for PCI devices, a [`pci::Irq`] index).
    pub index: u32,
    /// The first interrupt.
    pub start: u32,
    /// How many interrupts, from `start`.
    pub count: u32,
    /// What to do.
    pub action: IrqAction,
    /// With what.
    pub data: IrqData,
}

/// Reads and validates the `VFIO_DEVICE_SET_IRQS` request at `arg` for a
/// device with `num_indexes` interrupt indexes (such as [`pci::Irq::COUNT`])
/// and `irqs(index)` interrupts at each (0 for none), as
/// `vfio_set_irqs_validate_and_prepare()` does for C drivers: `-EINVAL` for
/// a bad size, index, range, flag or data type.
pub fn read_irq_set(arg: UserPtr, num_indexes: u32, irqs: impl Fn(u32) -> u32) -> Result<IrqSet> {
    const MINSZ: usize =
        u32_prefix_size!(bindings::vfio_irq_set, argsz, flags, index, start, count);
    let mut reader = UserSlice::new(arg, MINSZ).reader();
    let mut hdr = bindings::vfio_irq_set {
        argsz: reader.read()?,
        flags: reader.read()?,
        index: reader.read()?,
        start: reader.read()?,
        count: reader.read()?,
        data: bindings::__IncompleteArrayField::new(),
    };
    let num_irqs = c_int::try_from(irqs(hdr.index)).map_err(|_| EINVAL)?;
    let mut data_size = 0usize;
    // SAFETY: `hdr` is a valid header and `data_size` a valid output; the
    // function only reads the header.
    to_result(unsafe {
        bindings::vfio_set_irqs_validate_and_prepare(
            &mut hdr,
            num_irqs,
            c_int::try_from(num_indexes).map_err(|_| EINVAL)?,
            &mut data_size,
        )
    })?;
    let action = match hdr.flags & bindings::VFIO_IRQ_SET_ACTION_TYPE_MASK {
        bindings::VFIO_IRQ_SET_ACTION_MASK => IrqAction::Mask,
        bindings::VFIO_IRQ_SET_ACTION_UNMASK => IrqAction::Unmask,
        bindings::VFIO_IRQ_SET_ACTION_TRIGGER => IrqAction::Trigger,
        // None or several.
        _ => return Err(EINVAL),
    };
    let mut data_reader = UserSlice::new(arg, MINSZ + data_size).reader();
    data_reader.skip(MINSZ)?;
    let n = hdr.count as usize;
    let data = match hdr.flags & bindings::VFIO_IRQ_SET_DATA_TYPE_MASK {
        bindings::VFIO_IRQ_SET_DATA_BOOL => {
            let mut v = KVec::with_capacity(n, GFP_KERNEL)?;
            for _ in 0..n {
                let b: u8 = data_reader.read()?;
                v.push(b != 0, GFP_KERNEL)?;
            }
            IrqData::Bool(v)
        }
        bindings::VFIO_IRQ_SET_DATA_EVENTFD => {
            let mut v = KVec::with_capacity(n, GFP_KERNEL)?;
            for _ in 0..n {
                let fd: i32 = data_reader.read()?;
                v.push(fd, GFP_KERNEL)?;
            }
            IrqData::EventFd(v)
        }
        _ => IrqData::None,
    };
    Ok(IrqSet {
        index: hdr.index,
        start: hdr.start,
        count: hdr.count,
        action,
        data,
    })
}

/// A `VFIO_MIG_GET_PRECOPY_INFO` request on a data file, read and checked
/// as `vfio_check_precopy_ioctl()` does for C drivers: `-EFAULT` if its
/// header cannot be read, `-EINVAL` if `argsz` is too small; with the v2
/// behaviour, which is read from the device at each request, the flags
/// are output and start at 0.  The driver checks its own state after this,
/// then answers with [`PrecopyInfo::reply`].
pub struct PrecopyInfo {
    writer: UserSliceWriter,
    argsz: u32,
    flags: u32,
}

impl PrecopyInfo {
    /// `offsetofend(struct vfio_precopy_info, dirty_bytes)`.
    const MINSZ: usize =
        offset_of!(bindings::vfio_precopy_info, dirty_bytes) + core::mem::size_of::<u64>();

    /// Reads the request at `arg`, for `device`.
    pub fn read(arg: UserPtr, device: &DeviceRef) -> Result<Self> {
        const {
            assert!(offset_of!(bindings::vfio_precopy_info, flags) == 4);
            assert!(offset_of!(bindings::vfio_precopy_info, initial_bytes) == 8);
        }
        let (mut reader, writer) = UserSlice::new(arg, Self::MINSZ).reader_writer();
        let argsz: u32 = reader.read()?;
        let mut flags: u32 = reader.read()?;
        if (argsz as usize) < Self::MINSZ {
            return Err(EINVAL);
        }
        // v1 keeps its behaviour, for compatibility.
        if device.precopy_info_v2() {
            flags = 0;
        }
        Ok(Self {
            writer,
            argsz,
            flags,
        })
    }

    /// Answers the request: the bytes of initial and of dirty data the
    /// file can deliver now.
    pub fn reply(mut self, initial_bytes: u64, dirty_bytes: u64) -> Result<isize> {
        self.writer.write(&self.argsz)?;
        self.writer.write(&self.flags)?;
        self.writer.write(&initial_bytes)?;
        self.writer.write(&dirty_bytes)?;
        Ok(0)
    }
}
