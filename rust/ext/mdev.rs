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
//! device, its `vfio` registration) until [`Driver::unbind`], and is dropped
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
    mem::{
        offset_of,
        ManuallyDrop, //
    },
    ptr, //
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
    sync::Arc,
    types::{
        ForeignOwnable,
        Opaque, //
    },
    ThisModule,
};

/// An mdev device (`struct mdev_device`), in the device context `Ctx`.
///
/// The driver's [`Driver::probe`] and [`Driver::unbind`] get a
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
/// The `T` may be dropped before the rest (see [`Types::drop_data`]).
///
/// # Invariants
///
/// `raw.sysfs_name` and `raw.pretty_name` point to the strings in `names`;
/// `data` is initialised unless `data_dropped`.
#[pin_data(PinnedDrop)]
pub struct Type<T> {
    #[pin]
    raw: Opaque<bindings::mdev_type>,
    names: (CString, CString),
    data: ManuallyDrop<T>,
    data_dropped: bool,
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
            data: ManuallyDrop::new(spec.data),
            data_dropped: false,
        }? Error)
    }

    /// Drops the driver's data, leaving what the core reads.
    ///
    /// # Safety
    ///
    /// Nothing may use the data afterwards.
    unsafe fn drop_data(self: Pin<&mut Self>) {
        let this = self.project();
        if !*this.data_dropped {
            *this.data_dropped = true;
            // SAFETY: By the type invariant the data is initialised, and it
            // is dropped once (`data_dropped`); nothing uses it again, by
            // the function's safety requirements.
            unsafe { ManuallyDrop::drop(this.data) };
        }
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

#[pinned_drop]
impl<T> PinnedDrop for Type<T> {
    fn drop(self: Pin<&mut Self>) {
        // SAFETY: The type is going: nothing uses it after this.
        unsafe { self.drop_data() };
    }
}

/// A reference to a group of type attributes.
pub type TypeAttributeGroupRef<T> = GroupRef<TypeAttribute<T>>;
/// A reference to a group of device attributes.
pub type DeviceAttributeGroupRef<T> = GroupRef<sysfs::DeviceAttribute<T>>;

/// An mdev vendor driver.
///
/// `show_description` is optional (`#[vtable]`): without it a type has no
/// `description` file.  `get_available` is not: the core's own count
/// (`mdev_driver.max_instances`) has no user here.
///
/// The driver data has no lifetime, unlike `pci::Driver::Data<'bound>`:
/// [`Driver::DEVICE_ATTRIBUTES`] show it, and the attribute group's type
/// must name it.
#[vtable]
pub trait Driver: Send + Sync + 'static {
    /// The driver's data for each type.
    type TypeData: Send + Sync;
    /// The driver data of each device, from [`Driver::probe`].
    type Data: Send + Sync;

    /// What the types' `device_api` files show: the VFIO device API of the
    /// devices, such as [`super::vfio::pci::DEVICE_API`].
    const DEVICE_API: &'static CStr;
    /// Driver attributes in each type directory.
    const TYPE_ATTRIBUTES: Option<TypeAttributeGroupRef<Self::TypeData>> = None;
    /// A driver attribute group in each device directory, over the device's
    /// driver data.
    const DEVICE_ATTRIBUTES: Option<DeviceAttributeGroupRef<Self::Data>> = None;

    /// Creates the driver data of a new device `mdev` of type `mtype`.
    ///
    /// This is where a driver claims the resources the device needs and
    /// registers it with VFIO; an error fails the write to `create`.
    fn probe(
        mdev: &Device<device::Core<'_>>,
        mtype: &Self::TypeData,
    ) -> impl PinInit<Self::Data, Error>;

    /// The device is being unbound (removed); its driver data is dropped
    /// after this returns.  Implementing it is optional.
    fn unbind(mdev: &Device<device::Core<'_>>, this: Pin<&Self::Data>) {
        let _ = (mdev, this);
    }

    /// Returns how many more devices of `mtype` can be created
    /// (`available_instances`).
    fn get_available(mtype: &Self::TypeData) -> u32;

    /// Renders the type's `description`.
    fn show_description(_mtype: &Self::TypeData, _out: &mut ShowBuf<'_>) -> Result {
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
            (*drv).probe = Some(Self::probe_callback);
            (*drv).remove = Some(Self::remove_callback);
            (*drv).get_available = Some(Self::get_available_callback);
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
        // `T::TypeData`; it outlives its devices.
        let mtype = unsafe { Type::<T::TypeData>::from_raw(mdev.type_raw()) };
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
        T::unbind(mdev, data);
    }

    /// `mdev_driver.get_available`.
    ///
    /// # Safety
    ///
    /// Called by the mdev core with a type of a registered [`Parent<T>`].
    unsafe extern "C" fn get_available_callback(mtype: *mut bindings::mdev_type) -> c_uint {
        // SAFETY: The core passes a type of a registered `Parent<T>`.
        T::get_available(unsafe { Type::<T::TypeData>::from_raw(mtype) }.data())
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
        let data = unsafe { Type::<T::TypeData>::from_raw(mtype) }.data();
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
    /// device once it is unbound (its `unbind` has returned and its device
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

/// A device that can be an mdev parent for as long as a value of the
/// implementing type lives.
///
/// An in-tree bus driver would register its parent in `probe`, from a
/// `&Device<Bound>`, with the registration managed by `Devres`; a parent
/// that is not bound to a driver (a class device) is owned by its
/// [`Parent`] instead, and unregistered after it.
///
/// # Safety
///
/// [`ParentDevice::as_device`] returns the same device for the whole life
/// of the value, and that device stays registered with the driver core (it
/// is not deleted) until the value is dropped or
/// [`ParentDevice::unregister_released`] is called, which returns only
/// after the device's release.
pub unsafe trait ParentDevice: Send + Sync {
    /// Returns the device.
    fn as_device(&self) -> &device::Device;

    /// Unregisters the device and returns once it is released, when the
    /// last reference to it has gone.
    fn unregister_released(self);
}

/// The types of a [`Parent`]: each pinned in a box of its own, and the
/// array of pointers to them that the core keeps (`mdev_parent.types`) for
/// as long as the parent is registered.
struct Types<T> {
    /// The types; only the core reads them, through `ptrs`.
    boxes: KVec<Pin<KBox<Type<T>>>>,
    /// The array the core keeps.
    ptrs: KVec<*mut bindings::mdev_type>,
}

impl<T> Types<T> {
    /// Allocates the types of `specs` and their pointer array.
    fn new(specs: impl IntoIterator<Item = TypeSpec<T>>) -> Result<Self> {
        let mut boxes = KVec::new();
        let mut ptrs = KVec::new();
        for spec in specs {
            let ty = KBox::pin_init(Type::new(spec), GFP_KERNEL)?;
            ptrs.push(ty.raw.get(), GFP_KERNEL)?;
            boxes.push(ty, GFP_KERNEL)?;
        }
        Ok(Self { boxes, ptrs })
    }

    /// Drops the driver's data of every type, leaving what the core reads
    /// (`struct mdev_type`) in place.
    ///
    /// # Safety
    ///
    /// Nothing may use the data afterwards: the types are not registered,
    /// or their parent is unregistered, after which the core calls no
    /// driver code with them.
    unsafe fn drop_data(&mut self) {
        for ty in self.boxes.iter_mut() {
            // SAFETY: By the function's safety requirements.
            unsafe { ty.as_mut().drop_data() };
        }
    }
}

/// A device registered as an mdev parent, with its types; it owns the
/// device (`D`), which it unregisters after the parent.
///
/// The mdev core reads the types and the parent again when each mdev is
/// released (`mdev_device_release()`), and each type's release reads the
/// parent (`mdev_type_release()`); both can come after
/// `mdev_unregister_parent()` returns, if something still holds a
/// reference to an mdev's device.  The core offers no wait for them, but
/// each mdev holds a reference to its type until its release, and each
/// type one to the parent's device until its own: so dropping a `Parent`
/// unregisters the device and waits for its release
/// ([`ParentDevice::unregister_released`]) before the types and the
/// parent's memory go.  The types' data drops before that wait, with the
/// device handle (and what it owns): a reference to the device held
/// anywhere else must be gone by the time the parent drops, or the drop
/// waits for it.
///
/// # Invariants
///
/// `raw` is registered with `mdev_register_parent()` for `dev`, with the
/// types of `types`, until drop; without `mdev_driver.type_groups`, the
/// driver's type attribute group is attached to each of them.
#[pin_data(PinnedDrop)]
pub struct Parent<T: Driver, D: ParentDevice> {
    /// Taken by `drop` (or by a failed `register`), which unregisters it
    /// and waits for its release before the other fields go.
    dev: ManuallyDrop<D>,
    driver: Arc<DriverRegistration<T>>,
    types: Types<T::TypeData>,
    #[pin]
    raw: Opaque<bindings::mdev_parent>,
}

// SAFETY: The pointers of `types` point into its boxes, owned by the
// parent; the mdev core does its own locking; `D` is `Send + Sync`.
unsafe impl<T: Driver, D: ParentDevice> Send for Parent<T, D> {}
// SAFETY: As above.
unsafe impl<T: Driver, D: ParentDevice> Sync for Parent<T, D> {}

impl<T: Driver, D: ParentDevice> Parent<T, D> {
    /// Registers `dev` as a parent of `driver`'s devices, with `types`.
    ///
    /// Creates `dev`'s `mdev_supported_types/<class>-<name>/` directories
    /// with the core's files and [`Driver::TYPE_ATTRIBUTES`].  On failure
    /// `dev` is unregistered, and released, as when the parent drops: a
    /// reference to it held anywhere but in `dev` and the types' data must
    /// be gone by then.
    pub fn register(
        dev: D,
        driver: &Arc<DriverRegistration<T>>,
        types: impl IntoIterator<Item = TypeSpec<T::TypeData>>,
    ) -> impl PinInit<Self, Error> {
        let types = Types::new(types);
        let driver = driver.clone();
        // INVARIANT: On success, `raw` is registered below with `dev`, the
        // driver and the types, all of which `Self` owns.
        // `dev` goes in last: pin-init does not drop a `ManuallyDrop` when
        // a later field fails, and the last step, `_`, takes care of it.
        try_pin_init!(&this in Self {
            types: types?,
            driver,
            raw: Opaque::uninit(),
            dev: ManuallyDrop::new(dev),
            _: {
                let this = this.as_ptr();
                // SAFETY: Every field is initialised, and `this` is pinned.
                let r = unsafe { Self::register_raw(this) };
                if let Err(e) = r {
                    // SAFETY: Not registered (any more): nothing uses the
                    // types' data; it may hold references to `dev`, which
                    // is released only once they go.  `dev` is initialised
                    // and not used again: pin-init drops the other fields,
                    // and not this one.
                    unsafe {
                        (*this).types.drop_data();
                        ManuallyDrop::take(&mut (*this).dev).unregister_released();
                    }
                    return Err(e);
                }
            },
        }? Error)
    }

    /// Registers the parent of `this`, whose other fields are initialised.
    ///
    /// # Safety
    ///
    /// `this` points to a pinned `Self` whose fields other than `raw` are
    /// initialised.
    unsafe fn register_raw(this: *mut Self) -> Result {
        // SAFETY: By the safety requirements.
        let (dev, driver, types) = unsafe { (&*(*this).dev, &(*this).driver, &(*this).types) };
        let nr_types = c_uint::try_from(types.ptrs.len()).map_err(|_| EINVAL)?;
        // SAFETY: `raw` is pinned in `this` and outlives the
        // registration (`drop` unregisters it first); `dev` stays
        // registered until after that (`ParentDevice`); the driver
        // is registered and kept alive by `driver`; the core keeps
        // the pointer array of `types`, which points to its pinned
        // boxes, all owned by `this` until after unregistering.
        to_result(unsafe {
            bindings::mdev_register_parent(
                Opaque::cast_into(&raw const (*this).raw),
                super::device_ptr(dev.as_device()),
                driver.as_raw(),
                types.ptrs.as_ptr().cast_mut(),
                nr_types,
            )
        })?;
        // Without `mdev_driver.type_groups` the driver attaches its
        // type groups itself; with it, the core did.
        #[cfg(not(mdev_type_groups))]
        // SAFETY: Registered just now, with these types; on failure
        // it unregisters.
        unsafe { Self::attach_type_groups(&types.ptrs, &(*this).raw) }?;
        Ok(())
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
            // `TypeAttribute<T::TypeData>`, and this type's data is a `T::TypeData`.
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
}

#[pinned_drop]
impl<T: Driver, D: ParentDevice> PinnedDrop for Parent<T, D> {
    fn drop(self: Pin<&mut Self>) {
        // Without `mdev_driver.type_groups`, the groups go first, while the
        // types' kobjects exist.
        #[cfg(not(mdev_type_groups))]
        if let Some(group) = T::TYPE_ATTRIBUTES {
            for &ty in self.types.ptrs.iter() {
                // SAFETY: By the type invariant, each type has the group
                // attached.
                unsafe { bindings::sysfs_remove_group(&raw mut (*ty).kobj, group.as_raw()) };
            }
        }
        // SAFETY: By the type invariant, the parent is registered.
        // Unregistering removes every device of the parent (waiting for VFIO
        // users to close them) and the type directories; the core calls
        // into `self` no more, but releases still to come may read it.
        unsafe { bindings::mdev_unregister_parent(self.raw.get()) };
        let this = self.project();
        // The core calls no driver code with the types any more; their data
        // may hold references to the device (a log of it), which it can
        // only be released without.
        // SAFETY: The parent is unregistered.
        unsafe { this.types.drop_data() };
        // Each mdev holds its type, and each type the parent's device, until
        // released: once the device is released, no release is left to
        // read the types or `raw`, which drop after this.
        // SAFETY: `dev` is not used again, and not dropped by anything else.
        let dev = unsafe { ManuallyDrop::take(this.dev) };
        dev.unregister_released();
    }
}
