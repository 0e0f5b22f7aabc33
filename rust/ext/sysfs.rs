// SPDX-License-Identifier: GPL-2.0

//! Sysfs attributes backed by Rust functions.
//!
//! C header: [`include/linux/sysfs.h`](srctree/include/linux/sysfs.h)
//!
//! An attribute is a name, a mode and a pair of functions over the object
//! that owns the file (`show` renders it into a [`ShowBuf`], `store` parses
//! the bytes written). Attributes are gathered into an [`AttributeGroup`],
//! a `static` that holds the C `struct attribute_group` together with the
//! attributes and the NULL-terminated pointer array C expects, all pointing
//! into the static itself:
//!
//! ```ignore
//! static GROUP: DeviceAttributeGroup<Parent, 2> = AttributeGroup::new(
//!     &GROUP,
//!     None,
//!     [
//!         DeviceAttribute::ro(c"total_wqs", Parent::show_total),
//!         DeviceAttribute::ro(c"free_wqs", Parent::show_free),
//!     ],
//! );
//! ```
//!
//! How the owning object is found from the C callback depends on where the
//! group is attached; the attribute kinds ([`DeviceAttribute`] here,
//! `mdev::TypeAttribute`) each document it, and the abstractions that attach
//! groups uphold it.

use core::{ffi::CStr, fmt, marker::PhantomData, ptr};
use kernel::{
    alloc::KVVec,
    bindings,
    ffi::c_char,
    page::PAGE_SIZE,
    prelude::*,
    str::{
        as_char_ptr_in_const_context,
        Formatter, //
    },
};

/// The buffer a sysfs `show` callback fills: one page, as `sysfs_emit()`
/// assumes, written through the kernel's [`Formatter`].
///
/// Writing past the end fails with [`fmt::Error`] instead of truncating, so
/// an oversized value surfaces as `-EOVERFLOW` to the reader rather than as
/// a silently cut file.
pub struct ShowBuf<'a>(Formatter<'a>);

impl<'a> ShowBuf<'a> {
    /// Wraps the page sysfs passes to `show`.
    ///
    /// # Safety
    ///
    /// `buf` must be valid for writes of [`PAGE_SIZE`] bytes for `'a`, and not
    /// accessed any other way during `'a`.
    pub(crate) unsafe fn from_raw(buf: *mut c_char) -> Self {
        // SAFETY: By the function's safety requirements.
        let buf = unsafe { core::slice::from_raw_parts_mut(buf.cast::<u8>(), PAGE_SIZE) };
        Self(Formatter::new(buf))
    }

    /// How many bytes were written.
    fn len(&self) -> usize {
        self.0.bytes_written()
    }
}

impl fmt::Write for ShowBuf<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0.write_str(s)
    }
}

/// Renders `args` into the sysfs page `buf` and returns what `show` returns.
///
/// # Safety
///
/// As for [`ShowBuf::from_raw`].
pub(crate) unsafe fn show_raw(
    buf: *mut c_char,
    show: impl FnOnce(&mut ShowBuf<'_>) -> Result,
) -> isize {
    // SAFETY: By the function's safety requirements.
    let mut out = unsafe { ShowBuf::from_raw(buf) };
    match show(&mut out) {
        // A write past the page failed; if `show` went on regardless, the
        // value did not fit.
        Ok(()) if out.len() > PAGE_SIZE => EOVERFLOW.to_errno() as isize,
        // `len <= PAGE_SIZE`, which fits in `isize`.
        Ok(()) => out.len() as isize,
        Err(e) => e.to_errno() as isize,
    }
}

/// Passes the `count` bytes written at `buf` to `store` and returns what the
/// C `store` callback returns.
///
/// # Safety
///
/// `buf` must be valid for reads of `count` bytes for the duration of the
/// call.
pub(crate) unsafe fn store_raw(
    buf: *const c_char,
    count: usize,
    store: Option<impl FnOnce(&[u8]) -> Result>,
) -> isize {
    let Some(store) = store else {
        return EACCES.to_errno() as isize;
    };
    // SAFETY: By the function's safety requirements.
    let input = unsafe { core::slice::from_raw_parts(buf.cast::<u8>(), count) };
    match store(input) {
        // sysfs never passes more than a page.
        Ok(()) => count as isize,
        Err(e) => e.to_errno() as isize,
    }
}

/// A `show` function over objects of type `T`.
pub type ShowFn<T> = fn(&T, &mut ShowBuf<'_>) -> Result;

/// A `store` function over objects of type `T`: gets the bytes written, as
/// they were written (a trailing newline included).
pub type StoreFn<T> = fn(&T, &[u8]) -> Result;

/// A C attribute type that an [`AttributeGroup`] can hold.
///
/// # Safety
///
/// `Self` must be `#[repr(C)]` and start with a `struct attribute` whose
/// `name` and `mode` are set, embedded in the C attribute type its sysfs
/// callbacks expect.
pub unsafe trait RawAttribute: Sized {}

/// A group of attributes, with the C `struct attribute_group` and the
/// NULL-terminated arrays C expects, in one `static`.
///
/// Build it with [`AttributeGroup::new`], passing the static itself.
#[repr(C)]
pub struct AttributeGroup<A: RawAttribute, const N: usize> {
    group: bindings::attribute_group,
    /// `group` followed by NULL, for the `groups` arrays of the device core.
    groups: [*const bindings::attribute_group; 2],
    attrs: [A; N],
    ptrs: [*mut bindings::attribute; N],
    /// NULL: terminates `ptrs`, which `#[repr(C)]` places right before it.
    end: *mut bindings::attribute,
}

// SAFETY: The group is immutable after construction: the pointers it holds
// point into the (static) group itself and are only read, by C and Rust.
unsafe impl<A: RawAttribute + Sync, const N: usize> Sync for AttributeGroup<A, N> {}

impl<A: RawAttribute, const N: usize> AttributeGroup<A, N> {
    /// Builds the group: attributes `attrs`, in a directory `name` (or
    /// directly in the object's directory when `None`).
    ///
    /// `this` must be the static being initialised; the group's pointers
    /// point into it.
    pub const fn new(this: &'static Self, name: Option<&'static CStr>, attrs: [A; N]) -> Self {
        let mut ptrs = [ptr::null_mut(); N];
        let mut i = 0;
        while i < N {
            // `A: RawAttribute` starts with its `struct attribute`.
            ptrs[i] = (&raw const this.attrs[i])
                .cast::<bindings::attribute>()
                .cast_mut();
            i += 1;
        }
        let name = match name {
            Some(name) => as_char_ptr_in_const_context(name),
            None => ptr::null(),
        };
        let mut group: bindings::attribute_group = pin_init::zeroed();
        group.name = name;
        // The static is immutable; C takes a non-const pointer but only
        // reads through it. (`attrs` is in an anonymous union or struct,
        // depending on the configuration; assigning works for both.)
        group.__bindgen_anon_2.attrs = (&raw const this.ptrs)
            .cast::<*mut bindings::attribute>()
            .cast_mut();
        Self {
            group,
            groups: [&raw const this.group, ptr::null()],
            attrs,
            ptrs,
            end: ptr::null_mut(),
        }
    }

    /// Returns a type-erased reference to the group.
    pub const fn as_ref(&'static self) -> GroupRef<A> {
        GroupRef {
            group: &raw const self.group,
            groups: (&raw const self.groups)
                .cast::<*const bindings::attribute_group>()
                .cast_mut(),
            _p: PhantomData,
        }
    }
}

/// A reference to a static [`AttributeGroup`] of `A`, whatever its size.
pub struct GroupRef<A> {
    // Only `sysfs_create_group()` and friends need the group itself; with
    // `mdev_driver.type_groups` nothing in this module calls them.
    #[cfg_attr(mdev_type_groups, allow(dead_code))]
    group: *const bindings::attribute_group,
    groups: *mut *const bindings::attribute_group,
    _p: PhantomData<A>,
}

// SAFETY: Points to an immutable static group.
unsafe impl<A> Sync for GroupRef<A> {}

impl<A> GroupRef<A> {
    /// Returns the C group, for `sysfs_create_group()` and friends.
    #[cfg_attr(mdev_type_groups, allow(dead_code))]
    pub fn as_raw(&self) -> *const bindings::attribute_group {
        self.group
    }

    /// Returns a NULL-terminated array holding just this group, for the
    /// `groups` fields of the device core.
    pub fn as_groups(&self) -> *mut *const bindings::attribute_group {
        self.groups
    }
}

/// A `struct device_attribute` whose owner is the `T` that the device's
/// driver data points to.
///
/// The abstractions that attach a [`DeviceAttributeGroup<T>`] to a device
/// guarantee that the device's driver data points to a valid `T` for as long
/// as the group is attached.
#[repr(C)]
pub struct DeviceAttribute<T> {
    raw: bindings::device_attribute,
    show: ShowFn<T>,
    store: Option<StoreFn<T>>,
}

// SAFETY: `DeviceAttribute` is `#[repr(C)]` and starts with a
// `struct device_attribute`, which starts with its `struct attribute`.
unsafe impl<T> RawAttribute for DeviceAttribute<T> {}

// SAFETY: Immutable after construction; the function pointers are `Sync`
// and the C struct only holds a pointer to a static string.
unsafe impl<T> Sync for DeviceAttribute<T> {}

/// A group of [`DeviceAttribute`]s.
pub type DeviceAttributeGroup<T, const N: usize> = AttributeGroup<DeviceAttribute<T>, N>;

impl<T: Sync> DeviceAttribute<T> {
    const fn new(
        name: &'static CStr,
        mode: u16,
        show: ShowFn<T>,
        store: Option<StoreFn<T>>,
    ) -> Self {
        let mut raw: bindings::device_attribute = pin_init::zeroed();
        raw.attr.name = as_char_ptr_in_const_context(name);
        raw.attr.mode = mode;
        // In anonymous unions or structs, depending on the configuration.
        raw.__bindgen_anon_1.show = Some(Self::show_callback);
        raw.__bindgen_anon_2.store = Some(Self::store_callback);
        Self { raw, show, store }
    }

    /// A read-only (0444) attribute.
    pub const fn ro(name: &'static CStr, show: ShowFn<T>) -> Self {
        Self::new(name, 0o444, show, None)
    }

    /// A read-write (0644) attribute.
    pub const fn rw(name: &'static CStr, show: ShowFn<T>, store: StoreFn<T>) -> Self {
        Self::new(name, 0o644, show, Some(store))
    }

    /// # Safety
    ///
    /// `attr` is the `raw` field of a `DeviceAttribute<T>` and the driver
    /// data of `dev` points to a valid `T` (the type invariant of the group).
    unsafe fn owner<'a>(
        dev: *mut bindings::device,
        attr: *mut bindings::device_attribute,
    ) -> (&'a Self, &'a T) {
        // SAFETY: `raw` is the first field of the `#[repr(C)]` `Self`.
        let this = unsafe { &*attr.cast::<Self>() };
        // SAFETY: By the safety requirements, `dev` is valid and its driver
        // data points to a valid `T`.
        let owner = unsafe { &*bindings::dev_get_drvdata(dev).cast::<T>() };
        (this, owner)
    }

    /// `device_attribute.show`.
    ///
    /// # Safety
    ///
    /// Called by sysfs with `attr` the `raw` field of a `DeviceAttribute<T>` in a
    /// group attached to `dev`, whose driver data then points to a valid `T`,
    /// and `buf` a page.
    unsafe extern "C" fn show_callback(
        dev: *mut bindings::device,
        attr: *mut bindings::device_attribute,
        buf: *mut c_char,
    ) -> isize {
        // SAFETY: sysfs calls this for attributes of a group attached by the
        // abstractions, which uphold the group's invariant.
        let (this, owner) = unsafe { Self::owner(dev, attr) };
        // SAFETY: sysfs passes a page-sized buffer.
        unsafe { show_raw(buf, |out| (this.show)(owner, out)) }
    }

    /// `device_attribute.store`.
    ///
    /// # Safety
    ///
    /// As for `show_callback`, with `buf` holding `count` readable bytes.
    unsafe extern "C" fn store_callback(
        dev: *mut bindings::device,
        attr: *mut bindings::device_attribute,
        buf: *const c_char,
        count: usize,
    ) -> isize {
        // SAFETY: As in `show_callback`.
        let (this, owner) = unsafe { Self::owner(dev, attr) };
        // SAFETY: sysfs passes `count` readable bytes.
        unsafe {
            store_raw(
                buf,
                count,
                this.store
                    .map(|store| move |input: &[u8]| store(owner, input)),
            )
        }
    }
}

/// The content of a binary attribute's file as its `read` function renders
/// it: at most the attribute's size, which may be more than a page.
///
/// Like [`ShowBuf`], writing past the end fails instead of truncating.
pub struct BinBuf {
    buf: KVVec<u8>,
}

impl BinBuf {
    /// An empty buffer of `max` bytes, charged to the reader.
    fn new(max: usize) -> Result<Self> {
        Ok(Self {
            buf: KVVec::with_capacity(max, GFP_KERNEL_ACCOUNT)?,
        })
    }
}

impl fmt::Write for BinBuf {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let room = self.buf.capacity().saturating_sub(self.buf.len());
        if s.len() > room {
            return Err(fmt::Error);
        }
        // Within the capacity: no allocation.
        self.buf
            .extend_from_slice(s.as_bytes(), GFP_KERNEL)
            .map_err(|_| fmt::Error)
    }
}

/// A `read` function of a binary attribute over objects of type `T`:
/// renders the whole file.
pub type BinReadFn<T> = fn(&T, &mut BinBuf) -> Result;

/// A read-only `struct bin_attribute` in a device's group, whose owner is
/// the `T` that the device's driver data points to (as for
/// [`DeviceAttribute`]).
///
/// For text that can outgrow the page a [`DeviceAttribute`] has, as
/// `drivers/base/topology.c` does for CPU lists: each `read(2)` renders the
/// whole file (up to its size) and copies the part asked for. A reader
/// whose reads straddle a change may see parts of two renderings, as with
/// the topology files.
#[repr(C)]
pub struct DeviceBinAttribute<T> {
    raw: bindings::bin_attribute,
    read: BinReadFn<T>,
}

// SAFETY: Immutable after construction; the function pointer is `Sync` and
// the C struct only holds a pointer to a static string.
unsafe impl<T> Sync for DeviceBinAttribute<T> {}

impl<T: Sync> DeviceBinAttribute<T> {
    /// A read-only (0444) binary attribute of at most `size` bytes.
    pub const fn ro(name: &'static CStr, size: usize, read: BinReadFn<T>) -> Self {
        let mut raw: bindings::bin_attribute = pin_init::zeroed();
        raw.attr.name = as_char_ptr_in_const_context(name);
        raw.attr.mode = 0o444;
        raw.size = size;
        raw.read = Some(Self::read_callback);
        Self { raw, read }
    }

    /// `bin_attribute.read`.
    ///
    /// # Safety
    ///
    /// Called by sysfs with `attr` the `raw` field of a
    /// `DeviceBinAttribute<T>` in a group attached to the device whose
    /// kobject is `kobj` (its driver data then points to a valid `T`), and
    /// `buf` valid for writes of `count` bytes.
    unsafe extern "C" fn read_callback(
        _file: *mut bindings::file,
        kobj: *mut bindings::kobject,
        attr: *const bindings::bin_attribute,
        buf: *mut c_char,
        off: bindings::loff_t,
        count: usize,
    ) -> isize {
        // SAFETY: `raw` is the first field of the `#[repr(C)]` `Self`.
        let this = unsafe { &*attr.cast::<Self>() };
        // SAFETY: The group is attached to a device: `kobj` is the `kobj`
        // field of a `struct device`.
        let dev = unsafe { kernel::container_of!(kobj, bindings::device, kobj) };
        // SAFETY: By the safety requirements, the driver data of `dev`
        // points to a valid `T` while the group is attached.
        let owner = unsafe { &*bindings::dev_get_drvdata(dev).cast::<T>() };
        let result = (|| -> Result<usize> {
            let mut out = BinBuf::new(this.raw.size)?;
            (this.read)(owner, &mut out)?;
            let text = &out.buf[..];
            let start = usize::try_from(off).map_err(|_| EINVAL)?;
            let part = text.get(start..).unwrap_or(&[]);
            let n = part.len().min(count);
            // SAFETY: `buf` is valid for writes of `count >= n` bytes, and
            // does not overlap the kernel buffer `part`.
            unsafe { ptr::copy_nonoverlapping(part.as_ptr(), buf.cast::<u8>(), n) };
            Ok(n)
        })();
        match result {
            // At most `count`, which sysfs bounds by a page.
            Ok(n) => n as isize,
            Err(e) => e.to_errno() as isize,
        }
    }
}

/// A NULL-terminated list of binary attributes for an [`AttributeGroup`]
/// (see [`AttributeGroup::with_bin_attrs`]), in one `static`.
#[repr(C)]
pub struct BinAttributeList<T, const N: usize> {
    attrs: [DeviceBinAttribute<T>; N],
    ptrs: [*const bindings::bin_attribute; N],
    /// NULL: terminates `ptrs`, which `#[repr(C)]` places right before it.
    end: *const bindings::bin_attribute,
}

// SAFETY: Immutable after construction; the pointers point into the static
// itself and are only read.
unsafe impl<T: Sync, const N: usize> Sync for BinAttributeList<T, N> {}

impl<T: Sync, const N: usize> BinAttributeList<T, N> {
    /// The list of `attrs`; `this` must be the static being initialised.
    pub const fn new(this: &'static Self, attrs: [DeviceBinAttribute<T>; N]) -> Self {
        let mut ptrs = [ptr::null(); N];
        let mut i = 0;
        while i < N {
            ptrs[i] = (&raw const this.attrs[i]).cast::<bindings::bin_attribute>();
            i += 1;
        }
        Self {
            attrs,
            ptrs,
            end: ptr::null(),
        }
    }
}

impl<T: Sync, const N: usize> AttributeGroup<DeviceAttribute<T>, N> {
    /// [`AttributeGroup::new`] with the binary attributes of `bins` too.
    pub const fn with_bin_attrs<const M: usize>(
        this: &'static Self,
        name: Option<&'static CStr>,
        attrs: [DeviceAttribute<T>; N],
        bins: &'static BinAttributeList<T, M>,
    ) -> Self {
        let mut group = Self::new(this, name, attrs);
        group.group.bin_attrs = (&raw const bins.ptrs).cast::<*const bindings::bin_attribute>();
        group
    }
}
