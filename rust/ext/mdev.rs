// SPDX-License-Identifier: GPL-2.0

//! Mediated devices (mdev): parents, types, and the vendor driver.
//!
//! C header: [`include/linux/mdev.h`](srctree/include/linux/mdev.h)
//!
//! A vendor driver implements [`Driver`] and registers it once with a
//! [`DriverRegistration`]. Each parent device registers a [`Parent`] with
//! its [`Type`]s; users then create devices by writing a UUID to a type's
//! `create` file, which makes the core call [`Driver::probe`]. Every mdev
//! device is a VFIO device: `probe` returns the initialiser of the driver's
//! per-device state, which lives in a [`vfio::Registration`] for as long as
//! the mdev exists.
//!
//! Beyond the core's files, a type can carry driver attributes
//! ([`TypeAttribute`]) and a device can carry a driver group
//! ([`Driver::DEVICE_ATTRIBUTES`]).

use super::{
    bindings,
    sysfs::{
        self,
        AttributeGroup,
        GroupRef,
        RawAttribute,
        ShowBuf,
        ShowFn,
        StoreFn, //
    },
    vfio,
};
use core::{ffi::CStr, marker::PhantomData, mem::offset_of, ptr};
use kernel::{
    device,
    error::from_result,
    ffi::{
        c_char,
        c_int,
        c_uint, //
    },
    prelude::*,
    str::{
        as_char_ptr_in_const_context,
        CString, //
    },
    sync::{
        aref::ARef,
        Arc, //
    },
    types::Opaque,
    ThisModule,
};

/// An mdev device, as the core passes it to the driver.
///
/// # Invariants
///
/// The wrapped `struct mdev_device` is valid for the lifetime of the
/// reference.
#[repr(transparent)]
pub struct Device(Opaque<bindings::mdev_device>);

impl Device {
    /// # Safety
    ///
    /// `raw` must be valid for `'a`.
    unsafe fn from_raw<'a>(raw: *mut bindings::mdev_device) -> &'a Self {
        // SAFETY: `Device` is a transparent wrapper of `struct mdev_device`.
        unsafe { &*raw.cast::<Self>() }
    }

    fn dev_raw(&self) -> *mut bindings::device {
        // SAFETY: By the type invariant, the mdev is valid.
        unsafe { &raw mut (*self.0.get()).dev }
    }

    /// Returns the mdev's `struct device` (named by its UUID).
    pub fn as_device(&self) -> &device::Device {
        // SAFETY: The embedded device is valid as long as the mdev is.
        unsafe { device::Device::from_raw(self.dev_raw()) }
    }
}

/// The C layout of `struct mdev_type_attribute`.
///
/// The mdev core keeps this type private to `drivers/vfio/mdev/mdev_sysfs.c`
/// and has no hook for driver attributes in a type directory, but its
/// `sysfs_ops` for type kobjects cast every attribute to it and call `show`
/// and `store` with the type. Attributes added to a type's kobject must
/// therefore have exactly this layout: a `struct attribute`, then
/// `show(struct mdev_type *, struct mdev_type_attribute *, char *)`, then
/// `store(struct mdev_type *, struct mdev_type_attribute *, const char *,
/// size_t)`. It has not changed since the 2022 rework of the mdev core.
#[repr(C)]
struct RawTypeAttribute {
    attr: bindings::attribute,
    show: Option<
        unsafe extern "C" fn(*mut bindings::mdev_type, *mut RawTypeAttribute, *mut c_char) -> isize,
    >,
    store: Option<
        unsafe extern "C" fn(
            *mut bindings::mdev_type,
            *mut RawTypeAttribute,
            *const c_char,
            usize,
        ) -> isize,
    >,
}

/// A driver attribute in an mdev type directory, over the type's data `T`.
#[repr(C)]
pub struct TypeAttribute<T> {
    raw: RawTypeAttribute,
    show: ShowFn<T>,
    store: Option<StoreFn<T>>,
}

// SAFETY: `TypeAttribute` is `#[repr(C)]` and starts with a
// `struct mdev_type_attribute` (mirrored), which starts with its
// `struct attribute`.
unsafe impl<T> RawAttribute for TypeAttribute<T> {}

// SAFETY: Immutable after construction; see `DeviceAttribute`.
unsafe impl<T> Sync for TypeAttribute<T> {}

/// A group of [`TypeAttribute`]s.
pub type TypeAttributeGroup<T, const N: usize> = AttributeGroup<TypeAttribute<T>, N>;

impl<T: Send + Sync> TypeAttribute<T> {
    const fn new(
        name: &'static CStr,
        mode: u16,
        show: ShowFn<T>,
        store: Option<StoreFn<T>>,
    ) -> Self {
        let mut attr: bindings::attribute = pin_init::zeroed();
        attr.name = as_char_ptr_in_const_context(name);
        attr.mode = mode;
        Self {
            raw: RawTypeAttribute {
                attr,
                show: Some(Self::show_callback),
                store: Some(Self::store_callback),
            },
            show,
            store,
        }
    }

    /// A read-only (0444) attribute.
    pub const fn ro(name: &'static CStr, show: ShowFn<T>) -> Self {
        Self::new(name, 0o444, show, None)
    }

    /// A read-write (0644) attribute.
    pub const fn rw(name: &'static CStr, show: ShowFn<T>, store: StoreFn<T>) -> Self {
        Self::new(name, 0o644, show, Some(store))
    }

    /// The `show` of the mirrored `struct mdev_type_attribute`.
    ///
    /// # Safety
    ///
    /// Called by the mdev core's sysfs dispatch with `attr` the `raw` field of a
    /// `TypeAttribute<T>` attached (by [`Parent`]) to the type `mtype`, whose data
    /// is a `T`, and `buf` a page.
    unsafe extern "C" fn show_callback(
        mtype: *mut bindings::mdev_type,
        attr: *mut RawTypeAttribute,
        buf: *mut c_char,
    ) -> isize {
        // SAFETY: `raw` is the first field of the `#[repr(C)]` `Self`.
        let this = unsafe { &*attr.cast::<Self>() };
        // SAFETY: Groups of `TypeAttribute<T>` are only attached by `Parent`
        // to types whose data is a `T`, and removed before they go.
        let data = unsafe { Type::<T>::from_raw(mtype) }.data();
        // SAFETY: sysfs passes a page-sized buffer.
        unsafe { sysfs::show_raw(buf, |out| (this.show)(data, out)) }
    }

    /// The `store` of the mirrored `struct mdev_type_attribute`.
    ///
    /// # Safety
    ///
    /// As for `show_callback`, with `buf` holding `count` readable bytes.
    unsafe extern "C" fn store_callback(
        mtype: *mut bindings::mdev_type,
        attr: *mut RawTypeAttribute,
        buf: *const c_char,
        count: usize,
    ) -> isize {
        // SAFETY: As in `show_callback`.
        let this = unsafe { &*attr.cast::<Self>() };
        // SAFETY: As in `show_callback`.
        let data = unsafe { Type::<T>::from_raw(mtype) }.data();
        let store = this
            .store
            .map(|store| move |input: &[u8]| store(data, input));
        // SAFETY: sysfs passes `count` readable bytes.
        unsafe { sysfs::store_raw(buf, count, store) }
    }
}

/// What a [`Parent`] needs to create one of its types.
pub struct TypeSpec<T> {
    /// The type's name after the `<class>-` prefix the core adds
    /// (`1dwq` gives `dsa-1dwq` for a parent in class `dsa`).
    pub sysfs_name: CString,
    /// What the type's `name` file shows.
    pub pretty_name: CString,
    /// The driver's data for the type.
    pub data: T,
}

/// An mdev type: the core's `struct mdev_type` and the driver's `T`.
///
/// # Invariants
///
/// `raw.sysfs_name` and `raw.pretty_name` point to the strings in `names`.
#[pin_data]
pub struct Type<T> {
    #[pin]
    raw: Opaque<bindings::mdev_type>,
    names: (CString, CString),
    data: T,
}

impl<T> Type<T> {
    fn new(spec: TypeSpec<T>) -> impl PinInit<Self, Error> {
        let sysfs_name = spec.sysfs_name.as_char_ptr();
        let pretty_name = spec.pretty_name.as_char_ptr();
        // INVARIANT: The pointers are into the strings moved into `names`,
        // whose heap buffers do not move.
        try_pin_init!(Self {
            raw: Opaque::new(bindings::mdev_type {
                sysfs_name,
                pretty_name,
                ..pin_init::zeroed()
            }),
            names: (spec.sysfs_name, spec.pretty_name),
            data: spec.data,
        }? Error)
    }

    /// # Safety
    ///
    /// `raw` must be the `raw` field of a live `Type<T>`, for `'a`.
    unsafe fn from_raw<'a>(raw: *mut bindings::mdev_type) -> &'a Self {
        let this = raw
            .cast::<u8>()
            .wrapping_sub(offset_of!(Self, raw))
            .cast::<Self>();
        // SAFETY: By the function's safety requirements.
        unsafe { &*this }
    }

    /// Returns the driver's data for the type.
    pub fn data(&self) -> &T {
        &self.data
    }
}

/// A vendor driver for mdev devices.
pub trait Driver: Sized + Send + Sync + 'static {
    /// The driver's data for each type.
    type Type: Send + Sync;
    /// The driver's state for each device: a VFIO device.
    type Device: vfio::Ops;
    /// Driver attributes in each type directory.
    const TYPE_ATTRIBUTES: TypeAttributeGroupRef<Self::Type>;
    /// A driver attribute group in each device directory.
    const DEVICE_ATTRIBUTES: DeviceAttributeGroupRef<Self::Device>;

    /// Creates the state of a new device `mdev` of type `mtype`.
    ///
    /// This is where a driver claims the resources the device needs; an
    /// error fails the write to `create`.
    fn probe(mdev: &Device, mtype: &Self::Type) -> impl PinInit<Self::Device, Error>;

    /// Returns how many more devices of `mtype` can be created
    /// (`available_instances`).
    fn available(mtype: &Self::Type) -> u32;

    /// Renders the type's `description`.
    fn describe(mtype: &Self::Type, out: &mut ShowBuf<'_>) -> Result;
}

/// A reference to a group of type attributes.
pub type TypeAttributeGroupRef<T> = GroupRef<TypeAttribute<T>>;
/// A reference to a group of device attributes.
pub type DeviceAttributeGroupRef<T> = GroupRef<sysfs::DeviceAttribute<T>>;

/// A registered mdev vendor driver.
///
/// Parents hold an [`Arc`] of it, so it stays registered until the last
/// parent is gone.
///
/// # Invariants
///
/// `raw` is registered with `mdev_register_driver()` until drop.
#[pin_data(PinnedDrop)]
pub struct DriverRegistration<D: Driver> {
    #[pin]
    raw: Opaque<bindings::mdev_driver>,
    _p: PhantomData<D>,
}

// SAFETY: The mdev core serialises its use of the driver structure.
unsafe impl<D: Driver> Send for DriverRegistration<D> {}
// SAFETY: As above.
unsafe impl<D: Driver> Sync for DriverRegistration<D> {}

impl<D: Driver> DriverRegistration<D> {
    /// Registers the driver `name` of `module`.
    pub fn new(name: &'static CStr, module: &'static ThisModule) -> Result<Arc<Self>> {
        let init = try_pin_init!(Self {
            raw <- Opaque::try_ffi_init(move |slot: *mut bindings::mdev_driver| {
                // SAFETY: `slot` is valid for writes; every field not set
                // here is zero, as C expects of an unset callback.
                unsafe {
                    slot.write(bindings::mdev_driver {
                        device_api: c"vfio-pci".as_char_ptr(),
                        probe: Some(Self::probe_callback),
                        remove: Some(Self::remove_callback),
                        get_available: Some(Self::get_available_callback),
                        show_description: Some(Self::show_description_callback),
                        driver: bindings::device_driver {
                            name: name.as_char_ptr(),
                            mod_name: name.as_char_ptr(),
                            owner: module.as_ptr(),
                            dev_groups: D::DEVICE_ATTRIBUTES.as_groups(),
                            ..pin_init::zeroed()
                        },
                        ..pin_init::zeroed()
                    });
                    // INVARIANT: Registered here; unregistered on drop.
                    kernel::error::to_result(bindings::mdev_register_driver(slot))
                }
            }),
            _p: PhantomData,
        });
        Arc::pin_init(init, GFP_KERNEL)
    }

    fn as_raw(&self) -> *mut bindings::mdev_driver {
        self.raw.get()
    }

    /// `mdev_driver.probe`.
    ///
    /// # Safety
    ///
    /// Called by the mdev core with a valid mdev of one of the types of a
    /// [`Parent<D>`].
    unsafe extern "C" fn probe_callback(mdev: *mut bindings::mdev_device) -> c_int {
        // SAFETY: The core passes a valid mdev, alive during the call.
        let mdev = unsafe { Device::from_raw(mdev) };
        // SAFETY: The mdev's type belongs to a `Parent<D>`, whose types
        // hold `D::Type`; it outlives its devices.
        let mtype = unsafe { Type::<D::Type>::from_raw((*mdev.0.get()).type_) };
        from_result(|| {
            let registration =
                vfio::Registration::new(mdev.as_device(), D::probe(mdev, mtype.data()))?;
            let data = registration.into_data();
            // SAFETY: The driver data of the mdev's device is ours while it
            // is bound. It points to the device state until `remove`, which
            // also covers the lifetime of the device attribute group, so
            // `DeviceAttributeGroup<D::Device>`'s invariant holds.
            unsafe { bindings::dev_set_drvdata(mdev.dev_raw(), data.cast_mut().cast()) };
            Ok(0)
        })
    }

    /// `mdev_driver.remove`.
    ///
    /// # Safety
    ///
    /// Called by the mdev core, once, for an mdev whose `probe` succeeded.
    unsafe extern "C" fn remove_callback(mdev: *mut bindings::mdev_device) {
        // SAFETY: The core passes a valid mdev, alive during the call.
        let mdev = unsafe { Device::from_raw(mdev) };
        // SAFETY: `probe` succeeded for this mdev (or `remove` is not
        // called), so the driver data came from `into_data`; the device
        // attributes were removed before `remove` is called.
        let registration = unsafe {
            let data = bindings::dev_get_drvdata(mdev.dev_raw()).cast::<D::Device>();
            bindings::dev_set_drvdata(mdev.dev_raw(), ptr::null_mut());
            vfio::Registration::<D::Device>::from_data(data)
        };
        // Unregisters the VFIO device, waiting for its users to close it.
        drop(registration);
    }

    /// `mdev_driver.get_available`.
    ///
    /// # Safety
    ///
    /// Called by the mdev core with a type of a registered [`Parent<D>`].
    unsafe extern "C" fn get_available_callback(mtype: *mut bindings::mdev_type) -> c_uint {
        // SAFETY: The core passes a type of a registered `Parent<D>`.
        D::available(unsafe { Type::<D::Type>::from_raw(mtype) }.data())
    }

    /// `mdev_driver.show_description`.
    ///
    /// # Safety
    ///
    /// Called by the mdev core with a type of a registered [`Parent<D>`] and
    /// `buf` a page.
    unsafe extern "C" fn show_description_callback(
        mtype: *mut bindings::mdev_type,
        buf: *mut c_char,
    ) -> isize {
        // SAFETY: The core passes a type of a registered `Parent<D>`.
        let data = unsafe { Type::<D::Type>::from_raw(mtype) }.data();
        // SAFETY: sysfs passes a page-sized buffer.
        unsafe { sysfs::show_raw(buf, |out| D::describe(data, out)) }
    }
}

#[pinned_drop]
impl<D: Driver> PinnedDrop for DriverRegistration<D> {
    fn drop(self: Pin<&mut Self>) {
        // SAFETY: By the type invariant, the driver is registered.
        unsafe { bindings::mdev_unregister_driver(self.raw.get()) };
    }
}

/// The part of a [`Parent`] the mdev core points into.
#[pin_data]
struct ParentInner<D: Driver> {
    #[pin]
    raw: Opaque<bindings::mdev_parent>,
    dev: ARef<device::Device>,
    driver: Arc<DriverRegistration<D>>,
    types: KVec<Pin<KBox<Type<D::Type>>>>,
    type_ptrs: KVec<*mut bindings::mdev_type>,
}

/// A device registered as an mdev parent, with its types.
///
/// # Invariants
///
/// `inner.raw` is registered with `mdev_register_parent()` for `inner.dev`,
/// with `inner.types` as its types, and the driver's type attribute group
/// is attached to each of them.
pub struct Parent<D: Driver> {
    inner: Pin<KBox<ParentInner<D>>>,
}

// SAFETY: The raw pointers point into `types`, owned by the parent; the
// mdev core does its own locking.
unsafe impl<D: Driver> Send for Parent<D> {}
// SAFETY: As above.
unsafe impl<D: Driver> Sync for Parent<D> {}

impl<D: Driver> Parent<D> {
    /// Registers `dev` as a parent of `driver`'s devices, with `types`.
    ///
    /// Creates `dev`'s `mdev_supported_types/<class>-<name>/` directories
    /// with the core's files and [`Driver::TYPE_ATTRIBUTES`].
    pub fn register(
        dev: &device::Device,
        driver: &Arc<DriverRegistration<D>>,
        types: impl IntoIterator<Item = TypeSpec<D::Type>>,
    ) -> Result<Self> {
        let mut boxed = KVec::new();
        let mut type_ptrs = KVec::new();
        for spec in types {
            let ty = KBox::pin_init(Type::new(spec), GFP_KERNEL)?;
            type_ptrs.push(ty.raw.get(), GFP_KERNEL)?;
            boxed.push(ty, GFP_KERNEL)?;
        }
        let nr_types = c_uint::try_from(type_ptrs.len()).map_err(|_| EINVAL)?;
        let inner = KBox::pin_init(
            try_pin_init!(ParentInner {
                raw: Opaque::uninit(),
                dev: dev.into(),
                driver: driver.clone(),
                types: boxed,
                type_ptrs,
            }? Error),
            GFP_KERNEL,
        )?;

        // SAFETY: `raw` is pinned and outlives the registration (it is
        // unregistered in `Drop` before `inner` goes); `dev` is held by
        // `inner.dev` until after that; the driver is registered and kept
        // alive by `inner.driver`; the type pointers point to pinned types
        // in `inner.types`.
        kernel::error::to_result(unsafe {
            bindings::mdev_register_parent(
                inner.raw.get(),
                super::device_ptr(&inner.dev),
                inner.driver.as_raw(),
                inner.type_ptrs.as_ptr().cast_mut(),
                nr_types,
            )
        })?;

        for (i, &ty) in inner.type_ptrs.iter().enumerate() {
            // SAFETY: The core initialised the type's kobject when
            // registering; the group is a static group of
            // `TypeAttribute<D::Type>`, and this type's data is a `D::Type`.
            let ret = unsafe {
                bindings::sysfs_create_group(&raw mut (*ty).kobj, D::TYPE_ATTRIBUTES.as_raw())
            };
            if let Err(e) = kernel::error::to_result(ret) {
                // SAFETY: Undo what succeeded: the groups of the first `i`
                // types, then the registration.
                unsafe {
                    for &done in &inner.type_ptrs[..i] {
                        bindings::sysfs_remove_group(
                            &raw mut (*done).kobj,
                            D::TYPE_ATTRIBUTES.as_raw(),
                        );
                    }
                    bindings::mdev_unregister_parent(inner.raw.get());
                }
                return Err(e);
            }
        }
        // INVARIANT: Registered, with every type's group attached.
        Ok(Self { inner })
    }
}

impl<D: Driver> Drop for Parent<D> {
    fn drop(&mut self) {
        // SAFETY: By the type invariant, each type has the group attached
        // and the parent is registered. The groups go first, while the
        // types' kobjects exist; unregistering removes every device of the
        // parent (waiting for VFIO users to close them) and the type
        // directories, after which the core no longer uses `inner`.
        unsafe {
            for &ty in self.inner.type_ptrs.iter() {
                bindings::sysfs_remove_group(&raw mut (*ty).kobj, D::TYPE_ATTRIBUTES.as_raw());
            }
            bindings::mdev_unregister_parent(self.inner.raw.get());
        }
    }
}
