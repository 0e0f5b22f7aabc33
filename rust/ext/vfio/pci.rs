// SPDX-License-Identifier: GPL-2.0

//! VFIO PCI devices: the device API, regions and interrupt indexes of
//! `vfio-pci`, which a driver of an emulated PCI function follows so that
//! user space (QEMU's `vfio-pci`, for one) can drive it as a physical one.
//!
//! C header: [`include/uapi/linux/vfio.h`](srctree/include/uapi/linux/vfio.h)

use crate::ext::bindings;
use core::ffi::CStr;

/// `VFIO_DEVICE_API_PCI_STRING`: what an mdev type of PCI devices shows in
/// `device_api`.
pub const DEVICE_API: &CStr = match CStr::from_bytes_with_nul(bindings::VFIO_DEVICE_API_PCI_STRING)
{
    Ok(api) => api,
    Err(_) => panic!("VFIO_DEVICE_API_PCI_STRING is a C string"),
};

/// `VFIO_DEVICE_FLAGS_PCI`: the `VFIO_DEVICE_GET_INFO` flag of a PCI device.
pub const DEVICE_FLAGS: u32 = bindings::VFIO_DEVICE_FLAGS_PCI;

/// Region `n` starts at `n << OFFSET_SHIFT` in the device file.
///
/// The uAPI does not fix where regions are: a user finds each one's offset
/// with `VFIO_DEVICE_GET_REGION_INFO`.  This layout is the driver's own
/// choice; it is the one vfio-pci-core uses (`VFIO_PCI_OFFSET_SHIFT` in
/// `include/linux/vfio_pci_core.h`, an internal header), so that tools
/// written against vfio-pci find the same offsets.
pub const OFFSET_SHIFT: u32 = 40;

/// The offsets within one region.
const OFFSET_MASK: u64 = (1 << OFFSET_SHIFT) - 1;

/// A region of a `vfio-pci` device (`VFIO_PCI_*_REGION_INDEX`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Region {
    /// BAR 0.
    Bar0,
    /// BAR 1.
    Bar1,
    /// BAR 2.
    Bar2,
    /// BAR 3.
    Bar3,
    /// BAR 4.
    Bar4,
    /// BAR 5.
    Bar5,
    /// The expansion ROM.
    Rom,
    /// The configuration space.
    Config,
    /// The legacy VGA ranges.
    Vga,
}

impl Region {
    /// `VFIO_PCI_NUM_REGIONS`: how many regions `VFIO_DEVICE_GET_INFO`
    /// reports.
    pub const COUNT: u32 = bindings::VFIO_PCI_NUM_REGIONS;

    /// Every region, by index.
    const ALL: [Self; 9] = [
        Self::Bar0,
        Self::Bar1,
        Self::Bar2,
        Self::Bar3,
        Self::Bar4,
        Self::Bar5,
        Self::Rom,
        Self::Config,
        Self::Vga,
    ];

    /// The region of index `index`, if there is one.
    pub fn from_index(index: u32) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.index() == index)
    }

    /// The region's index.
    pub const fn index(self) -> u32 {
        match self {
            Self::Bar0 => bindings::VFIO_PCI_BAR0_REGION_INDEX,
            Self::Bar1 => bindings::VFIO_PCI_BAR1_REGION_INDEX,
            Self::Bar2 => bindings::VFIO_PCI_BAR2_REGION_INDEX,
            Self::Bar3 => bindings::VFIO_PCI_BAR3_REGION_INDEX,
            Self::Bar4 => bindings::VFIO_PCI_BAR4_REGION_INDEX,
            Self::Bar5 => bindings::VFIO_PCI_BAR5_REGION_INDEX,
            Self::Rom => bindings::VFIO_PCI_ROM_REGION_INDEX,
            Self::Config => bindings::VFIO_PCI_CONFIG_REGION_INDEX,
            Self::Vga => bindings::VFIO_PCI_VGA_REGION_INDEX,
        }
    }

    /// Where the region starts in the device file.
    pub const fn offset(self) -> u64 {
        (self.index() as u64) << OFFSET_SHIFT
    }

    /// The region and the offset within it of file offset `offset`, if the
    /// offset is in a region's range.
    pub fn locate(offset: u64) -> Option<(Self, u64)> {
        let index = u32::try_from(offset >> OFFSET_SHIFT).ok()?;
        Some((Self::from_index(index)?, offset & OFFSET_MASK))
    }

    /// The region's name, for log lines.
    pub fn name(self) -> &'static str {
        match self {
            Self::Bar0 => "BAR0",
            Self::Bar1 => "BAR1",
            Self::Bar2 => "BAR2",
            Self::Bar3 => "BAR3",
            Self::Bar4 => "BAR4",
            Self::Bar5 => "BAR5",
            Self::Rom => "ROM",
            Self::Config => "config space",
            Self::Vga => "VGA",
        }
    }
}

/// An interrupt index of a `vfio-pci` device (`VFIO_PCI_*_IRQ_INDEX`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Irq {
    /// The legacy interrupt pin.
    Intx,
    /// MSI.
    Msi,
    /// MSI-X.
    Msix,
    /// Error reporting.
    Err,
    /// Device requests (to release the device).
    Req,
}

impl Irq {
    /// `VFIO_PCI_NUM_IRQS`: how many interrupt indexes
    /// `VFIO_DEVICE_GET_INFO` reports.
    pub const COUNT: u32 = bindings::VFIO_PCI_NUM_IRQS;

    /// Every index.
    const ALL: [Self; 5] = [Self::Intx, Self::Msi, Self::Msix, Self::Err, Self::Req];

    /// The interrupt index `index` names, if any.
    pub fn from_index(index: u32) -> Option<Self> {
        Self::ALL.into_iter().find(|i| i.index() == index)
    }

    /// The raw index.
    pub const fn index(self) -> u32 {
        match self {
            Self::Intx => bindings::VFIO_PCI_INTX_IRQ_INDEX,
            Self::Msi => bindings::VFIO_PCI_MSI_IRQ_INDEX,
            Self::Msix => bindings::VFIO_PCI_MSIX_IRQ_INDEX,
            Self::Err => bindings::VFIO_PCI_ERR_IRQ_INDEX,
            Self::Req => bindings::VFIO_PCI_REQ_IRQ_INDEX,
        }
    }
}
