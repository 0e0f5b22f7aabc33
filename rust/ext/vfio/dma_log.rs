// SPDX-License-Identifier: GPL-2.0

//! DMA dirty logging: what a device driver gets from the VFIO core's
//! `VFIO_DEVICE_FEATURE_DMA_LOGGING_START`, `_STOP` and `_REPORT`.
//!
//! C header: [`include/linux/vfio.h`](srctree/include/linux/vfio.h)
//! (`struct vfio_log_ops`), [`include/linux/iova_bitmap.h`](srctree/include/linux/iova_bitmap.h).
//!
//! The core validates a start (at least one range, at most its
//! `LOG_MAX_RANGES`, each aligned to the user's page size hint, none
//! wrapping past `ULONG_MAX`, none overlapping another) and hands the
//! driver the ranges as an interval tree: a [`Ranges`] here. A report gets
//! the user's bitmap as a `struct iova_bitmap` covering one window of
//! IOVAs: a [`DirtyBitmap`] here, whose [`DirtyBitmap::set`] cannot write
//! outside that window.
//!
//! The core keeps no logging state: a driver must refuse a second start, a
//! report without a start, and end logging itself when the device is
//! closed.
//!
//! The bitmap functions exist only where the kernel has
//! `CONFIG_IOMMUFD_DRIVER` (an IOMMU driver with dirty tracking, such as
//! Intel's or AMD's, selects it); elsewhere the core's report fails with
//! `-EOPNOTSUPP`, so [`super::EmulatedIommuRegistration`] installs the
//! operations only where the option is set.

use core::marker::PhantomData;
use kernel::ffi::c_ulong;

use super::super::bindings;

/// One range to log: the bytes `iova..=last` of the user's IOVA space.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Range {
    /// The first IOVA.
    pub iova: u64,
    /// The last IOVA of the range (inclusive).
    pub last: u64,
}

/// The ranges of a `VFIO_DEVICE_FEATURE_DMA_LOGGING_START`, as the core
/// checked them: non-empty, non-overlapping, in increasing order.
///
/// # Invariants
///
/// `root` is the core's interval tree of `count` nodes, valid and not
/// modified for `'a`.
pub struct Ranges<'a> {
    root: *mut bindings::rb_root_cached,
    count: u32,
    _p: PhantomData<&'a bindings::rb_root_cached>,
}

impl<'a> Ranges<'a> {
    /// # Safety
    ///
    /// `root` must be a valid interval tree of `count` nodes of
    /// `struct interval_tree_node`, left unmodified for `'a`.
    pub(super) unsafe fn from_raw(root: *mut bindings::rb_root_cached, count: u32) -> Self {
        // INVARIANT: By the safety requirements.
        Self {
            root,
            count,
            _p: PhantomData,
        }
    }

    /// How many ranges there are.
    pub fn count(&self) -> usize {
        self.count as usize
    }

    /// The ranges, lowest first.
    pub fn iter(&self) -> impl Iterator<Item = Range> + 'a {
        let root = self.root;
        // SAFETY: By the type invariant, `root` is a valid tree for `'a`;
        // the search only reads it.
        let mut node = unsafe { bindings::interval_tree_iter_first(root, 0, c_ulong::MAX) };
        core::iter::from_fn(move || {
            if node.is_null() {
                return None;
            }
            // SAFETY: `node` is a node of the tree, valid for `'a`.
            let (iova, last) = unsafe { ((*node).start as u64, (*node).last as u64) };
            // SAFETY: As above; the search only reads the tree.
            node = unsafe { bindings::interval_tree_iter_next(node, 0, c_ulong::MAX) };
            Some(Range { iova, last })
        })
    }
}

/// The user's bitmap of a `VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT`, for
/// the IOVAs of one window.
///
/// # Invariants
///
/// `raw` is the core's `struct iova_bitmap` for `iova..iova + length`
/// (`length > 0`, not wrapping), valid for `'a`.
pub struct DirtyBitmap<'a> {
    raw: *mut bindings::iova_bitmap,
    iova: u64,
    length: u64,
    _p: PhantomData<&'a mut bindings::iova_bitmap>,
}

impl DirtyBitmap<'_> {
    /// # Safety
    ///
    /// `raw` must be the bitmap the core passed to `log_read_and_clear`
    /// with `iova` and `length`, and stay valid for the lifetime.
    pub(super) unsafe fn from_raw(raw: *mut bindings::iova_bitmap, iova: u64, length: u64) -> Self {
        // INVARIANT: By the safety requirements.
        Self {
            raw,
            iova,
            length,
            _p: PhantomData,
        }
    }

    /// The window: its first IOVA and its length.
    pub fn window(&self) -> (u64, u64) {
        (self.iova, self.length)
    }

    /// Marks the `length` bytes at `iova` dirty in the user's bitmap: every
    /// bit of the report's page size that they touch (`iova_bitmap_set()`).
    /// What lies outside the window is ignored.
    pub fn set(&mut self, iova: u64, length: u64) {
        let (Some(last), Some(end)) = (
            iova.checked_add(length.saturating_sub(1)),
            self.iova.checked_add(self.length.saturating_sub(1)),
        ) else {
            return;
        };
        let (first, last) = (iova.max(self.iova), last.min(end));
        if length == 0 || first > last {
            return;
        }
        // Within one window of a 64-bit length, so this fits.
        let length = (last - first).saturating_add(1);
        // Without the option no `DirtyBitmap` is ever made (the operations
        // are not installed), and the C function does not exist.
        #[cfg(CONFIG_IOMMUFD_DRIVER)]
        // SAFETY: By the type invariant, `raw` is valid; `first..first +
        // length` is inside the window, which is what `iova_bitmap_set()`
        // may be asked.
        unsafe {
            bindings::iova_bitmap_set(self.raw, first as c_ulong, length as usize)
        };
        #[cfg(not(CONFIG_IOMMUFD_DRIVER))]
        let _ = (self.raw, first, length);
    }
}
