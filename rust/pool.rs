// SPDX-License-Identifier: GPL-2.0

//! A parent's state, shared by its sysfs files, its types and its devices:
//! its log and its pool of WQs, which devices hold through a
//! [`WqGrant`].
//!
//! The parent's registration ([`crate::parent`]) and its types
//! ([`crate::mtype`]) both build on this, and on nothing of each other's
//! but the types the parent registers.

// All `unsafe` lives in `crate::ext`, behind safe abstractions.
#![deny(unsafe_code)]

use crate::{
    log::Log,
    logic::{
        pci::PciIds,
        wq::{
            NoSpace,
            WqPool,
            WqSet, //
        },
    },
};
use kernel::{
    new_mutex,
    prelude::*,
    sync::{
        Arc,
        Mutex, //
    },
};

/// A parent's state, shared by its sysfs files, its types and its devices.
#[pin_data]
pub(crate) struct ParentState {
    /// Lines about the parent and its types (`create`, `aggregator`).
    log: Arc<Log>,
    /// The parent's WQs; a device holds its WQs through a [`WqGrant`].
    #[pin]
    pool: Mutex<WqPool>,
    /// The PCI IDs its devices present (the `intel_ids` parameter).
    ids: PciIds,
}

impl ParentState {
    /// The state of a parent with `wqs` free WQs, whose devices present
    /// `ids`, logging to `log`.
    pub(crate) fn new(log: Arc<Log>, wqs: usize, ids: PciIds) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            log,
            pool <- new_mutex!(WqPool::new(wqs)),
            ids,
        }? Error)
    }

    /// Returns the PCI IDs the parent's devices present.
    pub(crate) fn pci_ids(&self) -> PciIds {
        self.ids
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
}

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
