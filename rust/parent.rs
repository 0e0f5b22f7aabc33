// SPDX-License-Identifier: GPL-2.0

//! The simulated scalable-IOV parents, `dsa0` .. `dsaN-1`: a device in class
//! `dsa` with `total_wqs` dedicated work queues, registered as an mdev
//! parent with one type per base.

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
        types::BaseSet,
        wq::{
            NoSpace,
            WqPool,
            WqSet, //
        },
    },
    mtype::DsaType,
    DsaDriver,
};
use core::fmt::Write;
use kernel::{
    new_mutex,
    prelude::*,
    str::CString,
    sync::{
        Arc,
        Mutex, //
    },
};

/// A parent's state, shared by its sysfs files, its types and its devices.
#[pin_data]
pub(crate) struct ParentState {
    index: u32,
    /// Lines about the parent and its types (`create`, `aggregator`).
    log: Arc<Log>,
    /// The parent's WQs; a device holds its WQs through a [`WqGrant`].
    #[pin]
    pool: Mutex<WqPool>,
}

impl ParentState {
    /// Returns the parent's index (`N` of `dsaN`).
    pub(crate) fn index(&self) -> u32 {
        self.index
    }

    /// Returns the log of the parent and its types.
    pub(crate) fn log(&self) -> &Log {
        &self.log
    }

    /// Returns how many WQs the parent has.
    pub(crate) fn total_wqs(&self) -> usize {
        self.pool.lock().total()
    }

    /// Returns how many WQs no device holds.
    pub(crate) fn free_wqs(&self) -> usize {
        self.pool.lock().free()
    }

    fn show_total(&self, out: &mut ShowBuf<'_>) -> Result {
        writeln!(out, "{}", self.total_wqs())?;
        Ok(())
    }

    fn show_free(&self, out: &mut ShowBuf<'_>) -> Result {
        writeln!(out, "{}", self.free_wqs())?;
        Ok(())
    }
}

/// The parent's own files, directly in `/sys/class/dsa/dsaN/`.
static PARENT_GROUP: DeviceAttributeGroup<ParentState, 2> = DeviceAttributeGroup::new(
    &PARENT_GROUP,
    None,
    [
        DeviceAttribute::ro(c"total_wqs", ParentState::show_total),
        DeviceAttribute::ro(c"free_wqs", ParentState::show_free),
    ],
);

/// WQs a device holds, taken from its parent's pool and given back on drop.
///
/// Taking and resizing either succeed completely or change nothing, so the
/// parent's `free_wqs` is always `total_wqs` minus the WQs of its grants.
pub(crate) struct WqGrant {
    parent: Arc<ParentState>,
    wqs: WqSet,
}

impl WqGrant {
    /// Takes the `n` lowest free WQs of `parent`.
    pub(crate) fn take(parent: &Arc<ParentState>, n: usize) -> Result<Self, NoSpace> {
        let wqs = parent.pool.lock().alloc(n)?;
        Ok(Self {
            parent: parent.clone(),
            wqs,
        })
    }

    /// Grows or shrinks the grant to `n` WQs.
    pub(crate) fn resize(&mut self, n: usize) -> Result<(), NoSpace> {
        self.parent.pool.lock().resize(&mut self.wqs, n)
    }

    /// Returns the parent WQ ids held.
    pub(crate) fn wqs(&self) -> &WqSet {
        &self.wqs
    }
}

impl Drop for WqGrant {
    fn drop(&mut self) {
        self.parent.pool.lock().release(&self.wqs);
    }
}

/// A parent device: `/sys/class/dsa/dsaN` and its mdev registration.
pub(crate) struct Parent {
    // Dropped first: unregistering the mdev parent removes its devices and
    // types while the class device still exists.
    _mdev: mdev::Parent<DsaDriver>,
    _dev: class::Device<ParentState>,
}

impl Parent {
    /// Creates `dsa<index>` with `wqs` WQs and a type for each of `bases`.
    pub(crate) fn new(
        class: &class::Class,
        driver: &Arc<mdev::DriverRegistration<DsaDriver>>,
        index: u32,
        wqs: usize,
        bases: BaseSet,
    ) -> Result<Self> {
        let name = CString::try_from_fmt(fmt!("dsa{index}"))?;
        let log = Log::new(CString::try_from_fmt(fmt!("dsa{index}"))?)?;
        let state = Arc::pin_init(
            try_pin_init!(ParentState {
                index,
                log,
                pool <- new_mutex!(WqPool::new(wqs)),
            }? Error),
            GFP_KERNEL,
        )?;
        let dev = class::Device::new(class, &name, state.clone(), &PARENT_GROUP.as_ref())?;

        let mut types = KVec::with_capacity(bases.len(), GFP_KERNEL)?;
        for base in bases.iter() {
            types.push(DsaType::spec(&state, base)?, GFP_KERNEL)?;
        }
        let mdev = mdev::Parent::register(dev.as_device(), driver, types)?;
        Ok(Self {
            _mdev: mdev,
            _dev: dev,
        })
    }
}
