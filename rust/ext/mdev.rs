// SPDX-License-Identifier: GPL-2.0

//! Mediated devices (mdev): the vendor driver, its parents and their types.
//!
//! C header: [`include/linux/mdev.h`](srctree/include/linux/mdev.h)
//!
//! An mdev vendor driver implements [`Driver`] and is registered once, with
//! a [`DriverRegistration`]; its [`Adapter`] implements the kernel's
//! [`driver::DriverLayout`] and [`driver::RegistrationOps`] for
//! `struct mdev_driver`, as `kernel::pci::Adapter` does for PCI. Each parent
//! device registers a [`Parent`] with its [`Type`]s; users then create
//! devices by writing a UUID to a type's `create` file, which makes the core
//! bind a new [`Device`] to the driver and call [`Driver::probe`] with the
//! type's data. What `probe` returns is the device's driver data (for a VFIO
//! device, its `vfio` registration) until [`Driver::remove`], and is dropped
//! after it.
//!
//! Beyond the core's files, a type directory carries the driver's
//! [`TypeAttribute`]s ([`Driver::TYPE_ATTRIBUTES`]) and each device
//! directory the driver's group over its driver data
//! ([`Driver::DEVICE_ATTRIBUTES`]). On a kernel with
//! `mdev_driver.type_groups` (the series in `patches/linux/mdev-type-groups/`,
//! detected from the bindings at build time) the core creates the type
//! groups; on one without, [`Parent::register`] adds them to the types'
//! kobjects, with `struct mdev_type_attribute` taken from a copy of the
//! core's private definition that the build checks against the kernel
//! source.

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
};
use core::{
    ffi::CStr,
    marker::PhantomData,
    mem::offset_of,
    ptr::{
        self,
        NonNull, //
    },
};
use kernel::{
    container_of, device, driver,
    error::{
        from_result,
        to_result,
        VTABLE_DEFAULT_ERROR, //
    },
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
        aref::{
            ARef,
            AlwaysRefCounted, //
        },
        Arc, //
    },
    types::{
        ForeignOwnable,
        Opaque, //
    },
    ThisModule,
};

/// An mdev device (`struct mdev_device`), in the device context `Ctx`.
///
/// The driver's [`Driver::probe`] and [`Driver::remove`] get a
/// `&Device<Core>`; [`AsRef`] gives the generic [`device::Device`] in the
/// same context (named by the device's UUID).
///
/// # Invariants
///
/// The wrapped `struct mdev_device` is valid for the lifetime of the
/// reference, and a device in context `Ctx` is in that state (for
/// [`device::Core`]: bound to this driver, its device lock held).
#[repr(transparent)]
pub struct Device<Ctx: device::DeviceContext = device::Normal>(
    Opaque<bindings::mdev_device>,
    PhantomData<Ctx>,
);

impl<Ctx: device::DeviceContext> Device<Ctx> {
    /// # Safety
    ///
    /// `raw` must be a valid `struct mdev_device` in the context `Ctx` for
    /// `'a`.
    unsafe fn from_raw<'a>(raw: *mut bindings::mdev_device) -> &'a Self {
        // SAFETY: `Device<Ctx>` is a transparent wrapper of
        // `struct mdev_device`; the rest is the caller's promise.
        unsafe { &*raw.cast::<Self>() }
    }

    fn as_raw(&self) -> *mut bindings::mdev_device {
        self.0.get()
    }

    /// Returns the raw `struct mdev_type` of the device.
    fn type_raw(&self) -> *mut bindings::mdev_type {
        // SAFETY: By the type invariant, the mdev is valid; the core sets
        // its type before the device is added and never changes it.
        unsafe { (*self.as_raw()).type_ }
    }
}

// SAFETY: `Device` is a transparent wrapper of `struct mdev_device`, which
// does not depend on the context parameter.
kernel::impl_device_context_deref!(unsafe { Device });
kernel::impl_device_context_into_aref!(Device);

// SAFETY: An mdev device is reference counted through its embedded
// `struct device`.
unsafe impl AlwaysRefCounted for Device {
    fn inc_ref(&self) {
        // SAFETY: A shared reference means the count is not zero.
        unsafe { bindings::get_device(&raw mut (*self.as_raw()).dev) };
    }

    unsafe fn dec_ref(obj: NonNull<Self>) {
        // SAFETY: By the safety requirements, the count is not zero and the
        // caller gives up a reference.
        unsafe {
            bindings::put_device(&raw mut (*obj.cast::<bindings::mdev_device>().as_ptr()).dev)
        }
    }
}

impl<Ctx: device::DeviceContext> AsRef<device::Device<Ctx>> for Device<Ctx> {
    fn as_ref(&self) -> &device::Device<Ctx> {
        // SAFETY: By the type invariant, the mdev is valid, and so is its
        // embedded device, in the same context.
        unsafe { device::Device::from_raw(&raw mut (*self.as_raw()).dev) }
    }
}

// SAFETY: The mdev core and the driver core do their own locking; a
// `Device` only offers what is safe from any thread.
unsafe impl Send for Device {}
// SAFETY: As above.
unsafe impl Sync for Device {}

/// A driver attribute in an mdev type directory, over the type's data `T`.
#[repr(C)]
pub struct TypeAttribute<T> {
    raw: bindings::mdev_type_attribute,
    show: ShowFn<T>,
    store: Option<StoreFn<T>>,
}

// SAFETY: `TypeAttribute` is `#[repr(C)]` and starts with a
// `struct mdev_type_attribute`, which starts with its `struct attribute`.
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
            raw: bindings::mdev_type_attribute {
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

    /// `mdev_type_attribute.show`.
    ///
    /// # Safety
    ///
    /// Called by the mdev core's sysfs dispatch with `attr` the `raw` field of a
    /// `TypeAttribute<T>` in the directory of the type `mtype`, whose data is a
    /// `T`, and `buf` a page.
    unsafe extern "C" fn show_callback(
        mtype: *mut bindings::mdev_type,
        attr: *mut bindings::mdev_type_attribute,
        buf: *mut c_char,
    ) -> isize {
        // SAFETY: `attr` is the `raw` field of a `Self`, by the function's
        // safety requirements.
        let this = unsafe { &*container_of!(attr, Self, raw) };
        // SAFETY: Groups of `TypeAttribute<T>` are only attached (by the core
        // from `mdev_driver.type_groups`, or by `Parent`) to types whose data
        // is a `T`, and removed before they go.
        let data = unsafe { Type::<T>::from_raw(mtype) }.data();
        // SAFETY: sysfs passes a page-sized buffer.
        unsafe { sysfs::show_raw(buf, |out| (this.show)(data, out)) }
    }

    /// `mdev_type_attribute.store`.
    ///
    /// # Safety
    ///
    /// As for `show_callback`, with `buf` holding `count` readable bytes.
    unsafe extern "C" fn store_callback(
        mtype: *mut bindings::mdev_type,
        attr: *mut bindings::mdev_type_attribute,
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
        let raw = raw.cast::<Opaque<bindings::mdev_type>>();
        // SAFETY: By the function's safety requirements, `raw` is the `raw`
        // field of a live `Type<T>`.
        unsafe { &*container_of!(raw, Self, raw) }
    }

    /// Returns the driver's data for the type.
    pub fn data(&self) -> &T {
        &self.data
    }
}

/// A reference to a group of type attributes.
pub type TypeAttributeGroupRef<T> = GroupRef<TypeAttribute<T>>;
/// A reference to a group of device attributes.
pub type DeviceAttributeGroupRef<T> = GroupRef<sysfs::DeviceAttribute<T>>;

/// An mdev vendor driver.
///
/// The `get_available` and `show_description` operations are optional
/// (`#[vtable]`): without `get_available` the core counts instances itself,
/// from [`Driver::MAX_INSTANCES`]; without `show_description` a type has no
/// `description` file.
#[vtable]
pub trait Driver: Send + Sync + 'static {
    /// The driver's data for each type.
    type Type: Send + Sync;
    /// The driver data of each device, from [`Driver::probe`].
    type Data: Send + Sync;

    /// What the types' `device_api` files show: the VFIO device API of the
    /// devices, such as [`super::vfio::pci::DEVICE_API`].
    const DEVICE_API: &'static CStr;
    /// How many devices the parents of a driver without `get_available` can
    /// have, in all (`mdev_driver.max_instances`).
    const MAX_INSTANCES: u32 = 0;
    /// Driver attributes in each type directory.
    const TYPE_ATTRIBUTES: Option<TypeAttributeGroupRef<Self::Type>> = None;
    /// A driver attribute group in each device directory, over the device's
    /// driver data.
    const DEVICE_ATTRIBUTES: Option<DeviceAttributeGroupRef<Self::Data>> = None;

    /// Creates the driver data of a new device `mdev` of type `mtype`.
    ///
    /// This is where a driver claims the resources the device needs and
    /// registers it with VFIO; an error fails the write to `create`.
    fn probe(
        mdev: &Device<device::Core<'_>>,
        mtype: &Self::Type,
    ) -> impl PinInit<Self::Data, Error>;

    /// The device is being removed; its driver data is dropped after this
    /// returns.
    fn remove(mdev: &Device<device::Core<'_>>, data: Pin<&Self::Data>) {
        let _ = (mdev, data);
    }

    /// Returns how many more devices of `mtype` can be created
    /// (`available_instances`).
    fn get_available(_mtype: &Self::Type) -> u32 {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Renders the type's `description`.
    fn show_description(_mtype: &Self::Type, _out: &mut ShowBuf<'_>) -> Result {
        build_error!(VTABLE_DEFAULT_ERROR)
    }
}

/// The C glue of a [`Driver`]: `struct mdev_driver` and its callbacks.
pub struct Adapter<T: Driver>(T);

// SAFETY:
// - `bindings::mdev_driver` is a C type declared as `repr(C)`.
// - `T::Data` is the type of the driver's device private data, which
//   `probe_callback` stores with `set_drvdata()`.
// - `struct mdev_driver` embeds a `struct device_driver`, at
//   `DEVICE_DRIVER_OFFSET`.
unsafe impl<T: Driver> driver::DriverLayout for Adapter<T> {
    type DriverType = bindings::mdev_driver;
    type DriverData<'bound> = T::Data;
    const DEVICE_DRIVER_OFFSET: usize = offset_of!(bindings::mdev_driver, driver);
}

// SAFETY: `unregister` is only called after a successful `register` of the
// same driver, and `mdev_unregister_driver()` undoes it.
unsafe impl<T: Driver> driver::RegistrationOps for Adapter<T> {
    unsafe fn register(
        drv: &Opaque<Self::DriverType>,
        name: &'static CStr,
        module: &'static ThisModule,
    ) -> Result {
        let drv = drv.get();
        // SAFETY: The driver structure is not registered yet, so its fields
        // may be set; every one not set here is zero (unset callbacks and
        // groups), as C expects.
        unsafe {
            (*drv).device_api = T::DEVICE_API.as_char_ptr();
            (*drv).max_instances = T::MAX_INSTANCES;
            (*drv).probe = Some(Self::probe_callback);
            (*drv).remove = Some(Self::remove_callback);
            (*drv).get_available = if T::HAS_GET_AVAILABLE {
                Some(Self::get_available_callback)
            } else {
                None
            };
            (*drv).show_description = if T::HAS_SHOW_DESCRIPTION {
                Some(Self::show_description_callback)
            } else {
                None
            };
            #[cfg(mdev_type_groups)]
            {
                (*drv).type_groups = groups(T::TYPE_ATTRIBUTES);
            }
            (*drv).driver.name = name.as_char_ptr();
            (*drv).driver.mod_name = name.as_char_ptr();
            (*drv).driver.owner = module.as_ptr();
            (*drv).driver.dev_groups = groups(T::DEVICE_ATTRIBUTES);
        }
        // SAFETY: `drv` is a valid, pinned driver structure, which stays
        // registered until `unregister`.
        to_result(unsafe { bindings::mdev_register_driver(drv) })
    }

    unsafe fn unregister(drv: &Opaque<Self::DriverType>) {
        // SAFETY: By the safety requirements, `drv` is registered.
        unsafe { bindings::mdev_unregister_driver(drv.get()) }
    }
}

/// Returns the NULL-terminated group array of `group`, or NULL.
fn groups<A>(group: Option<GroupRef<A>>) -> *mut *const bindings::attribute_group {
    match group {
        Some(group) => group.as_groups(),
        None => ptr::null_mut(),
    }
}

impl<T: Driver> Adapter<T> {
    /// `mdev_driver.probe`.
    ///
    /// # Safety
    ///
    /// Called by the mdev core, with the device lock held, for a valid mdev
    /// of one of the types of a [`Parent<T>`].
    unsafe extern "C" fn probe_callback(mdev: *mut bindings::mdev_device) -> c_int {
        // SAFETY: The core passes a valid mdev being bound, with the device
        // lock held, for the duration of the call.
        let mdev = unsafe { Device::<device::CoreInternal<'_>>::from_raw(mdev) };
        // SAFETY: The mdev's type belongs to a `Parent<T>`, whose types hold
        // `T::Type`; it outlives its devices.
        let mtype = unsafe { Type::<T::Type>::from_raw(mdev.type_raw()) };
        from_result(|| {
            let data = T::probe(mdev, mtype.data());
            mdev.as_ref().set_drvdata(data)?;
            Ok(0)
        })
    }

    /// `mdev_driver.remove`.
    ///
    /// # Safety
    ///
    /// Called by the mdev core, once, with the device lock held, for an mdev
    /// whose `probe` succeeded.
    unsafe extern "C" fn remove_callback(mdev: *mut bindings::mdev_device) {
        // SAFETY: As in `probe_callback`.
        let mdev = unsafe { Device::<device::CoreInternal<'_>>::from_raw(mdev) };
        // SAFETY: `probe` succeeded, so `set_drvdata()` stored a
        // `Pin<KBox<T::Data>>`, which `DriverRegistration` drops only after
        // this returns.
        let data = unsafe { mdev.as_ref().drvdata_borrow::<T::Data>() };
        T::remove(mdev, data);
    }

    /// `mdev_driver.get_available`.
    ///
    /// # Safety
    ///
    /// Called by the mdev core with a type of a registered [`Parent<T>`].
    unsafe extern "C" fn get_available_callback(mtype: *mut bindings::mdev_type) -> c_uint {
        // SAFETY: The core passes a type of a registered `Parent<T>`.
        T::get_available(unsafe { Type::<T::Type>::from_raw(mtype) }.data())
    }

    /// `mdev_driver.show_description`.
    ///
    /// # Safety
    ///
    /// Called by the mdev core with a type of a registered [`Parent<T>`] and
    /// `buf` a page.
    unsafe extern "C" fn show_description_callback(
        mtype: *mut bindings::mdev_type,
        buf: *mut c_char,
    ) -> isize {
        // SAFETY: The core passes a type of a registered `Parent<T>`.
        let data = unsafe { Type::<T::Type>::from_raw(mtype) }.data();
        // SAFETY: sysfs passes a page-sized buffer.
        unsafe { sysfs::show_raw(buf, |out| T::show_description(data, out)) }
    }
}

/// A registered mdev vendor driver.
///
/// This is `kernel::driver::Registration<Adapter<T>>` with one addition:
/// [`Parent::register`] needs the registered `struct mdev_driver`
/// (`mdev_register_parent()` takes it), which the kernel's registration does
/// not hand out. It registers through [`Adapter`]'s
/// [`driver::RegistrationOps`] and, as the kernel's does, drops each
/// device's driver data after the device is unbound. Parents hold an
/// [`Arc`] of it, so it stays registered until the last parent is gone.
///
/// # Invariants
///
/// `reg` is registered with [`Adapter<T>`]'s `register` until drop.
#[pin_data(PinnedDrop)]
pub struct DriverRegistration<T: Driver> {
    #[pin]
    reg: Opaque<bindings::mdev_driver>,
    _p: PhantomData<T>,
}

// SAFETY: `DriverRegistration` offers nothing through `&Self` but the raw
// pointer for the mdev core, which does its own locking.
unsafe impl<T: Driver> Sync for DriverRegistration<T> {}
// SAFETY: Registering and unregistering work from any thread.
unsafe impl<T: Driver> Send for DriverRegistration<T> {}

impl<T: Driver> DriverRegistration<T> {
    /// Registers the driver `name` of `module`.
    pub fn new(name: &'static CStr, module: &'static ThisModule) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            reg <- Opaque::try_ffi_init(move |ptr: *mut bindings::mdev_driver| {
                // SAFETY: `try_ffi_init` gives memory valid for writes, which
                // stays pinned until `drop` unregisters it. After the write
                // it is a valid `mdev_driver`, which `Opaque` wraps
                // transparently.
                unsafe {
                    ptr.write(bindings::mdev_driver::default());
                    (*ptr).driver.p_cb.post_unbind_rust = Some(Self::post_unbind_callback);
                    // INVARIANT: Registered here, unregistered on drop.
                    <Adapter<T> as driver::RegistrationOps>::register(
                        &*ptr.cast::<Opaque<bindings::mdev_driver>>(),
                        name,
                        module,
                    )
                }
            }),
            _p: PhantomData,
        })
    }

    fn as_raw(&self) -> *mut bindings::mdev_driver {
        self.reg.get()
    }

    /// `device_driver.p_cb.post_unbind_rust`: drops the driver data of a
    /// device once it is unbound (its `remove` has returned and its device
    /// attributes are gone).
    ///
    /// # Safety
    ///
    /// Called by the driver core with a valid device that was bound to this
    /// driver.
    unsafe extern "C" fn post_unbind_callback(dev: *mut bindings::device) {
        // SAFETY: `dev` is valid, by the safety requirements.
        let ptr = unsafe { bindings::dev_get_drvdata(dev) };
        // SAFETY: As above.
        unsafe { bindings::dev_set_drvdata(dev, ptr::null_mut()) };
        if !ptr.is_null() {
            // SAFETY: A non-NULL driver data of a device of this driver is
            // the `Pin<KBox<T::Data>>` that `probe_callback` stored with
            // `set_drvdata()`; nothing uses it after the unbind.
            drop(unsafe { Pin::<KBox<T::Data>>::from_foreign(ptr.cast()) });
        }
    }
}

#[pinned_drop]
impl<T: Driver> PinnedDrop for DriverRegistration<T> {
    fn drop(self: Pin<&mut Self>) {
        // SAFETY: By the type invariant, the driver is registered.
        unsafe { <Adapter<T> as driver::RegistrationOps>::unregister(&self.reg) };
    }
}

/// A device registered as an mdev parent, with its types.
///
/// # Invariants
///
/// `raw` is registered with `mdev_register_parent()` for `dev`, with `types`
/// as its types, until drop; without `mdev_driver.type_groups`, the
/// driver's type attribute group is attached to each of them.
#[pin_data(PinnedDrop)]
pub struct Parent<T: Driver> {
    dev: ARef<device::Device>,
    driver: Arc<DriverRegistration<T>>,
    types: KVec<Pin<KBox<Type<T::Type>>>>,
    type_ptrs: KVec<*mut bindings::mdev_type>,
    #[pin]
    raw: Opaque<bindings::mdev_parent>,
}

// SAFETY: The raw pointers point into `types`, owned by the parent; the
// mdev core does its own locking.
unsafe impl<T: Driver> Send for Parent<T> {}
// SAFETY: As above.
unsafe impl<T: Driver> Sync for Parent<T> {}

impl<T: Driver> Parent<T> {
    /// Registers `dev` as a parent of `driver`'s devices, with `types`.
    ///
    /// Creates `dev`'s `mdev_supported_types/<class>-<name>/` directories
    /// with the core's files and [`Driver::TYPE_ATTRIBUTES`].
    pub fn register(
        dev: &device::Device,
        driver: &Arc<DriverRegistration<T>>,
        types: impl IntoIterator<Item = TypeSpec<T::Type>>,
    ) -> impl PinInit<Self, Error> {
        let built = Self::build_types(types);
        let dev: ARef<device::Device> = dev.into();
        let driver = driver.clone();
        let init = move |slot: *mut Self| {
            let (types, type_ptrs) = built?;
            let nr_types = c_uint::try_from(type_ptrs.len()).map_err(|_| EINVAL)?;
            // SAFETY: `slot` is valid for writes and pinned; the fields
            // written here are not structurally pinned.
            unsafe {
                (&raw mut (*slot).dev).write(dev);
                (&raw mut (*slot).driver).write(driver);
                (&raw mut (*slot).types).write(types);
                (&raw mut (*slot).type_ptrs).write(type_ptrs);
            }
            // SAFETY: `raw` is pinned in `slot` and outlives the registration
            // (`drop` unregisters it first); `dev` is held by the `dev` field
            // until after that; the driver is registered and kept alive by
            // the `driver` field; the type pointers point to pinned types in
            // the `types` field.
            let ret = to_result(unsafe {
                bindings::mdev_register_parent(
                    Opaque::cast_into(&raw const (*slot).raw),
                    super::device_ptr(&(*slot).dev),
                    (*slot).driver.as_raw(),
                    (*slot).type_ptrs.as_ptr().cast_mut(),
                    nr_types,
                )
            })
            .and_then(|()| {
                // SAFETY: Registered just now, with these types.
                unsafe { Self::attach_type_groups(&(*slot).type_ptrs, &(*slot).raw) }
            });
            if let Err(e) = ret {
                // SAFETY: The fields were written above and nothing points
                // to them any more.
                unsafe {
                    ptr::drop_in_place(&raw mut (*slot).dev);
                    ptr::drop_in_place(&raw mut (*slot).driver);
                    ptr::drop_in_place(&raw mut (*slot).types);
                    ptr::drop_in_place(&raw mut (*slot).type_ptrs);
                }
                return Err(e);
            }
            // INVARIANT: Registered, with the type groups attached.
            Ok(())
        };
        // SAFETY: On success `init` initialised every field of `slot` (and
        // `raw` stays pinned there, as `Self` is `!Unpin`); on failure it
        // dropped what it wrote and left nothing registered.
        unsafe { pin_init::pin_init_from_closure(init) }
    }

    /// Allocates the types of `specs` and their pointer array.
    #[allow(clippy::type_complexity)]
    fn build_types(
        specs: impl IntoIterator<Item = TypeSpec<T::Type>>,
    ) -> Result<(
        KVec<Pin<KBox<Type<T::Type>>>>,
        KVec<*mut bindings::mdev_type>,
    )> {
        let mut types = KVec::new();
        let mut type_ptrs = KVec::new();
        for spec in specs {
            let ty = KBox::pin_init(Type::new(spec), GFP_KERNEL)?;
            type_ptrs.push(ty.raw.get(), GFP_KERNEL)?;
            types.push(ty, GFP_KERNEL)?;
        }
        Ok((types, type_ptrs))
    }

    /// Adds the driver's type attribute group to each type, where the core
    /// does not (no `mdev_driver.type_groups`); on failure, removes what it
    /// added and unregisters the parent `raw`.
    ///
    /// # Safety
    ///
    /// `raw` must be registered, with the types `type_ptrs`.
    #[cfg(not(mdev_type_groups))]
    unsafe fn attach_type_groups(
        type_ptrs: &[*mut bindings::mdev_type],
        raw: &Opaque<bindings::mdev_parent>,
    ) -> Result {
        let Some(group) = T::TYPE_ATTRIBUTES else {
            return Ok(());
        };
        for (i, &ty) in type_ptrs.iter().enumerate() {
            // SAFETY: The core initialised the type's kobject when
            // registering; the group is a static group of
            // `TypeAttribute<T::Type>`, and this type's data is a `T::Type`.
            let ret = unsafe { bindings::sysfs_create_group(&raw mut (*ty).kobj, group.as_raw()) };
            if let Err(e) = to_result(ret) {
                // SAFETY: Undo what succeeded: the groups of the first `i`
                // types, then the registration.
                unsafe {
                    for &done in &type_ptrs[..i] {
                        bindings::sysfs_remove_group(&raw mut (*done).kobj, group.as_raw());
                    }
                    bindings::mdev_unregister_parent(raw.get());
                }
                return Err(e);
            }
        }
        Ok(())
    }

    /// With `mdev_driver.type_groups`, the core attached the groups.
    ///
    /// # Safety
    ///
    /// None: the signature matches the fallback's.
    #[cfg(mdev_type_groups)]
    unsafe fn attach_type_groups(
        _type_ptrs: &[*mut bindings::mdev_type],
        _raw: &Opaque<bindings::mdev_parent>,
    ) -> Result {
        Ok(())
    }
}

#[pinned_drop]
impl<T: Driver> PinnedDrop for Parent<T> {
    fn drop(self: Pin<&mut Self>) {
        // Without `mdev_driver.type_groups`, the groups go first, while the
        // types' kobjects exist.
        #[cfg(not(mdev_type_groups))]
        if let Some(group) = T::TYPE_ATTRIBUTES {
            for &ty in self.type_ptrs.iter() {
                // SAFETY: By the type invariant, each type has the group
                // attached.
                unsafe { bindings::sysfs_remove_group(&raw mut (*ty).kobj, group.as_raw()) };
            }
        }
        // SAFETY: By the type invariant, the parent is registered.
        // Unregistering removes every device of the parent (waiting for VFIO
        // users to close them) and the type directories, after which the
        // core no longer uses `self`.
        unsafe { bindings::mdev_unregister_parent(self.raw.get()) };
    }
}
