// SPDX-License-Identifier: GPL-2.0

//! dsa_mdev: an mdev (VFIO mediated device) vendor driver for a simulated
//! scalable-IOV parent device with DSA-like work queues.
//!
//! The module creates `parents` devices `dsa0` .. in class `dsa`, each with
//! `wqs` dedicated work queues (WQs) and the mdev types `dsa-<k>dwq` for
//! each base `k` of `types`. A device created from `dsa-<k>dwq` holds
//! `k * aggregator` WQs (the ratio rule) and is a VFIO device.
//!
//! Layout:
//! - [`ext`]: safe abstractions over the C mdev, VFIO, class and sysfs APIs,
//!   the only place with raw pointers and their safety arguments;
//! - [`logic`]: the pure, host-tested logic (WQ accounting, the ratio rule,
//!   the `compatible` grammar);
//! - [`parent`], [`mtype`], [`device`], [`hw`], [`migration`]: the driver; [`hw`] is the
//!   PCI function (config space, registers, portals, interrupts) an open
//!   device presents.

mod device;
// Shaped as the kernel crate's public API would be (`kernel::mdev`, ...),
// hence `pub` items that this crate does not export.
#[allow(unreachable_pub)]
mod ext;
mod hw;
mod log;
// Also the root of the host crate dsa-logic, whose API is its `pub` items
// (for the tests and host tools): this crate exports none of them.
#[allow(unreachable_pub)]
mod logic;
mod migration;
mod mtype;
mod parent;
mod pool;
mod refusal;

use ext::{
    class,
    mdev,
    param::module_param_str,
    sysfs::ShowBuf, //
    vfio,
};
use kernel::{
    prelude::*,
    sync::Arc, //
};
use logic::{
    pci::PciIds,
    types::{
        parse_types,
        BaseSet,
        BASES,
        DEFAULT_TYPES, //
    },
};

module! {
    type: DsaMdev,
    name: "dsa_mdev",
    authors: ["The dsa_mdev developers"],
    description: "mdev vendor driver for a simulated scalable-IOV device with DSA-like work queues",
    license: "GPL",
    // iova_bitmap_set(), for DMA dirty logging (rust/ext/vfio/dma_log.rs).
    imports_ns: ["IOMMUFD"],
    params: {
        parents: u32 {
            default: 1,
            description: "Number of parent devices dsa0.. (1-16)",
        },
        wqs: u32 {
            default: 64,
            description: "Dedicated work queues per parent (1-4096)",
        },
        intel_ids: u32 {
            default: 0,
            description: "1: devices present Intel's DSA IDs 8086:0b25, which a guest's idxd binds; 0: 1b36:10d5, which no driver binds",
        },
    },
}

module_param_str!(
    types,
    31,
    DEFAULT_TYPES,
    "Base types each parent exposes: a comma list drawn from 1,2,4,8 (default 1,2,4,8)"
);

/// The range of the `parents` parameter.
const PARENTS: core::ops::RangeInclusive<u32> = 1..=16;
/// The range of the `wqs` parameter.
const WQS: core::ops::RangeInclusive<u32> = 1..=(logic::wq::MAX_WQS as u32);

/// The module parameters, validated.
struct Config {
    parents: u32,
    wqs: usize,
    bases: BaseSet,
    ids: PciIds,
}

impl Config {
    /// Validates the parameters; a bad one fails the load with `-EINVAL`
    /// and a line naming it and what is allowed.
    fn from_params() -> Result<Self> {
        let parents = module_parameters::parents.value();
        if !PARENTS.contains(&parents) {
            pr_err!(
                "parents={parents} is out of range {}-{}\n",
                PARENTS.start(),
                PARENTS.end()
            );
            return Err(EINVAL);
        }
        let wqs = module_parameters::wqs.value();
        if !WQS.contains(&wqs) {
            pr_err!("wqs={wqs} is out of range {}-{}\n", WQS.start(), WQS.end());
            return Err(EINVAL);
        }
        let wqs = wqs as usize;
        let ids = match module_parameters::intel_ids.value() {
            0 => PciIds::DEFAULT,
            1 => PciIds::INTEL_DSA,
            other => {
                pr_err!("intel_ids={other} is neither 0 nor 1\n");
                return Err(EINVAL);
            }
        };
        let requested = parse_types(types.value()).map_err(|e| {
            pr_err!(
                "types={} {e}: expected a comma list drawn from {:?} without repeats\n",
                types.value(),
                BASES
            );
            EINVAL
        })?;
        let bases = requested.fitting(wqs);
        if bases.is_empty() {
            pr_err!("types={requested}: no base fits in wqs={wqs}\n");
            return Err(EINVAL);
        }
        if bases != requested {
            pr_warn!("types={requested}: only {bases} fit in wqs={wqs}; exposing those\n");
        }
        Ok(Self {
            parents,
            wqs,
            bases,
            ids,
        })
    }
}

/// The mdev vendor driver: types are [`mtype::DsaType`], devices
/// [`device::DsaDevice`].
struct DsaDriver;

#[vtable]
impl mdev::Driver for DsaDriver {
    type TypeData = mtype::DsaType;
    type Data = device::DriverData;
    const DEVICE_API: &'static CStr = vfio::pci::DEVICE_API;
    const TYPE_ATTRIBUTES: Option<mdev::TypeAttributeGroupRef<Self::TypeData>> =
        Some(mtype::TYPE_ATTRIBUTES);
    const DEVICE_ATTRIBUTES: Option<mdev::DeviceAttributeGroupRef<Self::Data>> =
        Some(device::DEVICE_ATTRIBUTES);

    fn probe(
        mdev: &mdev::Device<kernel::device::Core<'_>>,
        mtype: &Self::TypeData,
    ) -> impl PinInit<Self::Data, Error> {
        let dev: &kernel::device::Device<kernel::device::Core<'_>> = mdev.as_ref();
        vfio::EmulatedIommuRegistration::new(dev, device::DsaDevice::new(dev, mtype))
    }

    fn get_available(mtype: &Self::TypeData) -> u32 {
        mtype.available()
    }

    fn show_description(mtype: &Self::TypeData, out: &mut ShowBuf<'_>) -> Result {
        mtype.describe(out)
    }
}

/// The loaded module: the class, the driver and the parents.
struct DsaMdev {
    // Dropped in this order: the parents (with their devices and types),
    // then the driver, then the class they were in.
    _parents: KVec<parent::Parent>,
    _driver: Arc<mdev::DriverRegistration<DsaDriver>>,
    _class: class::Class,
}

impl kernel::Module for DsaMdev {
    fn init(module: &'static ThisModule) -> Result<Self> {
        let config = Config::from_params()?;
        let class = class::Class::new(c"dsa")?;
        let driver = Arc::pin_init(
            mdev::DriverRegistration::<DsaDriver>::new(c"dsa_mdev", module),
            GFP_KERNEL,
        )?;
        let mut parents = KVec::with_capacity(config.parents as usize, GFP_KERNEL)?;
        for index in 0..config.parents {
            parents.push(
                parent::Parent::new(&class, &driver, index, config.wqs, config.bases, config.ids)?,
                GFP_KERNEL,
            )?;
        }
        pr_info!(
            "{} parent(s) with {} WQs each, types {}\n",
            config.parents,
            config.wqs,
            config.bases
        );
        Ok(Self {
            _parents: parents,
            _driver: driver,
            _class: class,
        })
    }
}

/// Lets the kernel's formatting macros (`pr_*!`, `fmt!`) print values of the
/// pure logic, which implements `core::fmt::Display` only: it does not know
/// the kernel crate.
macro_rules! kernel_display {
    ($($ty:ty),* $(,)?) => {
        $(
            impl kernel::fmt::Display for $ty {
                fn fmt(&self, f: &mut kernel::fmt::Formatter<'_>) -> kernel::fmt::Result {
                    core::fmt::Display::fmt(self, f)
                }
            }
        )*
    };
}

kernel_display!(
    logic::echo::Echo<'_>,
    logic::types::AggregatorError,
    logic::types::BaseSet,
    logic::types::TypeName,
    logic::types::TypesError<'_>,
    refusal::Refused,
    logic::stream::Refusal,
);
