// SPDX-License-Identifier: GPL-2.0

//! The simulated scalable-IOV parents, `dsa0` .. `dsaN-1`: a device in class
//! `dsa` with `total_wqs` dedicated work queues, registered as an mdev
//! parent with one type per base.

// All `unsafe` lives in `crate::ext`, behind safe abstractions.
#![deny(unsafe_code)]

use crate::{
    ext::{
        class, mdev,
        sysfs::{
            DeviceAttribute,
            DeviceAttributeGroup,
            ShowBuf, //
        },
    },
    log::Log,
    logic::{
        pci::PciIds,
        types::BaseSet, //
    },
    mtype::DsaType,
    pool::ParentState,
    DsaDriver,
};
use core::fmt::Write;
use kernel::{prelude::*, str::CString, sync::Arc};

/// Shows `total_wqs`.
fn show_total(state: &ParentState, out: &mut ShowBuf<'_>) -> Result {
    writeln!(out, "{}", state.total_wqs())?;
    Ok(())
}

/// Shows `free_wqs`.
fn show_free(state: &ParentState, out: &mut ShowBuf<'_>) -> Result {
    writeln!(out, "{}", state.free_wqs())?;
    Ok(())
}

/// The parent's own files, directly in `/sys/class/dsa/dsaN/`.
static PARENT_GROUP: DeviceAttributeGroup<ParentState, 2> = DeviceAttributeGroup::new(
    &PARENT_GROUP,
    None,
    [
        DeviceAttribute::ro(c"total_wqs", show_total),
        DeviceAttribute::ro(c"free_wqs", show_free),
    ],
);

/// A parent device: `/sys/class/dsa/dsaN` and its mdev registration.
pub(crate) struct Parent {
    /// The mdev registration, which owns the class device and unregisters
    /// the parent (its devices and types) before deleting it.
    _mdev: Pin<KBox<mdev::Parent<DsaDriver, class::Device<ParentState>>>>,
}

impl Parent {
    /// Creates `dsa<index>` with `wqs` WQs and a type for each of `bases`.
    pub(crate) fn new(
        class: &class::Class,
        driver: &Arc<mdev::DriverRegistration<DsaDriver>>,
        index: u32,
        wqs: usize,
        bases: BaseSet,
        ids: PciIds,
    ) -> Result<Self> {
        let name = CString::try_from_fmt(fmt!("dsa{index}"))?;
        let log = Log::new()?;
        let state = Arc::pin_init(ParentState::new(log.clone(), wqs, ids), GFP_KERNEL)?;
        let dev = class::Device::new(class, &name, state.clone(), &PARENT_GROUP.as_ref())?;
        log.attach(dev.as_device());

        let mut types = KVec::with_capacity(bases.len(), GFP_KERNEL)?;
        for base in bases.iter() {
            types.push(DsaType::spec(&state, base)?, GFP_KERNEL)?;
        }
        // The state's log holds the device: from here only the device and
        // the types hold the state, so that a failed registration, which
        // waits for the device's release, sees them let it go.
        drop((state, log));
        let mdev = KBox::pin_init(mdev::Parent::register(dev, driver, types), GFP_KERNEL)?;
        Ok(Self { _mdev: mdev })
    }
}
