// SPDX-License-Identifier: GPL-2.0

//! The PCI function a dsa_mdev device presents to its VFIO user while it is
//! open: configuration space, BAR0 registers, BAR2 portals and MSI-X
//! triggers, laid out as `vfio-pci` lays out a physical function.
//!
//! The behaviour is the pure model's (`logic::pci`, `logic::model`,
//! `logic::engine`); this file maps VFIO regions and interrupt indexes onto
//! it and connects the engine to the user's DMA space and eventfds.

use crate::{
    ext::{
        eventfd::EventFd,
        task,
        vfio::{
            self,
            IrqAction,
            IrqData,
            IrqSet,
            RegionInfo, //
        },
    },
    logic::{
        engine::{
            Memory,
            SCRATCH_MIN, //
        },
        model::{
            AccessError,
            Dsa,
            Effects,
            WqCfg, //
        },
        pci::{
            PciConfig,
            CONFIG_SIZE, //
        },
        stream::{
            self,
            Refusal, //
        },
    },
};
use core::fmt;
use kernel::prelude::*;

/// The regions of the function, by `vfio-pci` index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Region {
    Config,
    Bar0,
    Bar2,
}

impl Region {
    fn of(index: u32) -> Option<Self> {
        match index {
            vfio::PCI_CONFIG_REGION_INDEX => Some(Self::Config),
            vfio::PCI_BAR0_REGION_INDEX => Some(Self::Bar0),
            vfio::PCI_BAR2_REGION_INDEX => Some(Self::Bar2),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Config => "config space",
            Self::Bar0 => "BAR0",
            Self::Bar2 => "BAR2",
        }
    }
}

/// Why an access to the device file was refused (`-EINVAL`; nothing
/// changed), for the log line.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Refused {
    write: bool,
    offset: u64,
    len: usize,
    what: Option<Region>,
    why: &'static str,
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let op = if self.write { "write" } else { "read" };
        match self.what {
            Some(region) => write!(
                f,
                "{op} of {} bytes at {} offset {:#x}: {}",
                self.len,
                region.name(),
                self.offset & ((1 << vfio::PCI_OFFSET_SHIFT) - 1),
                self.why
            ),
            None => write!(
                f,
                "{op} of {} bytes at file offset {:#x}: {}",
                self.len, self.offset, self.why
            ),
        }
    }
}

/// The user's DMA space, as the engine sees it.
///
/// A batch of large descriptors is gigabytes of copying inside one portal
/// write; every access (at most a page) is a scheduling point.
struct UserDma<'a, T: vfio::Ops>(&'a vfio::OpenDevice<T>);

impl<T: vfio::Ops> Memory for UserDma<'_, T> {
    fn read(&mut self, iova: u64, buf: &mut [u8]) -> Result<(), ()> {
        task::cond_resched();
        self.0.dma_read(iova, buf).map_err(|_| ())
    }

    fn write(&mut self, iova: u64, buf: &[u8]) -> Result<(), ()> {
        task::cond_resched();
        self.0.dma_write(iova, buf).map_err(|_| ())
    }
}

/// The function of an open device.
pub(crate) struct Hw {
    cfg: PciConfig,
    dsa: Dsa<KVec<WqCfg>>,
    /// The eventfd of each MSI-X vector, if the user set one.
    msix: KVec<Option<EventFd>>,
    /// The engine's bounce buffer.
    scratch: KVec<u8>,
}

impl Hw {
    /// The function of a device with `wqs` WQs, in its post-reset state.
    pub(crate) fn new(wqs: usize) -> Result<Self> {
        let cfgs = KVec::from_elem(WqCfg::reset(), wqs.max(1), GFP_KERNEL)?;
        let dsa = Dsa::new(cfgs);
        let layout = *dsa.layout();
        let mut msix = KVec::with_capacity(usize::from(layout.msix.vectors), GFP_KERNEL)?;
        for _ in 0..layout.msix.vectors {
            msix.push(None, GFP_KERNEL)?;
        }
        Ok(Self {
            cfg: PciConfig::new(layout.bar0_size, layout.bar2_size, layout.msix),
            dsa,
            msix,
            scratch: KVec::from_elem(0u8, SCRATCH_MIN, GFP_KERNEL)?,
        })
    }

    /// Returns configuration space, registers and WQs to their state after
    /// reset, as a function-level reset does. The interrupt triggers stay:
    /// they belong to the VFIO user, as with `vfio-pci`.
    pub(crate) fn reset(&mut self) {
        self.cfg.reset();
        self.dsa.reset();
    }

    /// Returns how many WQs the function has.
    pub(crate) fn wqs(&self) -> usize {
        self.dsa.wqs().len()
    }

    /// Returns whether the device is enabled (GENSTS).
    pub(crate) fn enabled(&self) -> bool {
        self.dsa.enabled()
    }

    /// Returns the configuration space of this function after reset: what a
    /// migration stream's config space is checked against.
    pub(crate) fn config_after_reset(&self) -> PciConfig {
        let mut cfg = self.cfg.clone();
        cfg.reset();
        cfg
    }

    /// Returns the body of a migration stream for the function's state.
    pub(crate) fn save(&self) -> Result<KVec<u8>> {
        let mut body = KVec::from_elem(0u8, stream::body_len(self.wqs()), GFP_KERNEL)?;
        stream::encode_body(&self.cfg, &self.dsa, &mut body);
        Ok(body)
    }

    /// Loads the body of a migration stream: all of it, or nothing and why.
    pub(crate) fn load(&mut self, body: &[u8]) -> Result<(), Refusal> {
        stream::load_body(&mut self.cfg, &mut self.dsa, body)
    }

    /// Answers `VFIO_DEVICE_GET_REGION_INFO` for `index`.
    pub(crate) fn region_info(&self, index: u32) -> Option<RegionInfo> {
        if index >= vfio::PCI_NUM_REGIONS {
            return None;
        }
        let layout = self.dsa.layout();
        let size = match Region::of(index) {
            Some(Region::Config) => CONFIG_SIZE as u64,
            Some(Region::Bar0) => layout.bar0_size,
            Some(Region::Bar2) => layout.bar2_size,
            None => {
                return Some(RegionInfo {
                    offset: vfio::pci_region_offset(index),
                    ..RegionInfo::default()
                })
            }
        };
        Some(RegionInfo {
            flags: vfio::REGION_INFO_FLAG_READ | vfio::REGION_INFO_FLAG_WRITE,
            size,
            offset: vfio::pci_region_offset(index),
        })
    }

    /// Returns how many interrupts the function has at `index`.
    pub(crate) fn irq_count(&self, index: u32) -> u32 {
        if index == vfio::PCI_MSIX_IRQ_INDEX {
            self.msix.len() as u32
        } else {
            0
        }
    }

    /// Answers `VFIO_DEVICE_GET_IRQ_INFO` for `index`: MSI-X only, as on DSA
    /// hardware (no INTx pin, no MSI capability).
    pub(crate) fn irq_info(&self, index: u32) -> Option<(u32, u32)> {
        if index >= vfio::PCI_NUM_IRQS {
            return None;
        }
        let count = self.irq_count(index);
        let flags = if count > 0 {
            vfio::IRQ_INFO_EVENTFD | vfio::IRQ_INFO_NORESIZE
        } else {
            0
        };
        Some((flags, count))
    }

    /// Finds the region of the access `len` bytes at file offset `offset`.
    fn locate(&self, write: bool, offset: u64, len: usize) -> Result<(Region, u64), Refused> {
        let refused = |what, why| Refused {
            write,
            offset,
            len,
            what,
            why,
        };
        let index = u32::try_from(offset >> vfio::PCI_OFFSET_SHIFT).unwrap_or(u32::MAX);
        let region = Region::of(index).ok_or(refused(None, "no such region"))?;
        let at = offset & ((1 << vfio::PCI_OFFSET_SHIFT) - 1);
        let size = self.region_info(index).map_or(0, |info| info.size);
        if at.checked_add(len as u64).is_none_or(|end| end > size) {
            return Err(refused(Some(region), "beyond the end of the region"));
        }
        Ok((region, at))
    }

    /// Reads `buf.len()` bytes at file offset `offset`.
    pub(crate) fn read(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), Refused> {
        let len = buf.len();
        let (region, at) = self.locate(false, offset, len)?;
        let refused = |why| Refused {
            write: false,
            offset,
            len,
            what: Some(region),
            why,
        };
        match region {
            Region::Config => {
                self.cfg.read(at as usize, buf);
                Ok(())
            }
            Region::Bar0 => self.dsa.bar0_read(at, buf).map_err(|e| refused(why(e))),
            Region::Bar2 => Err(refused("portals are write-only")),
        }
    }

    /// Writes `data` at file offset `offset`; a descriptor written to a
    /// portal runs against `device`'s DMA space before this returns. While
    /// the device is stopped for migration (`running` false) only
    /// configuration space takes writes: the registers and WQs must not
    /// change.
    pub(crate) fn write<T: vfio::Ops>(
        &mut self,
        device: &vfio::OpenDevice<T>,
        offset: u64,
        data: &[u8],
        running: bool,
    ) -> Result<(), Refused> {
        let (region, at) = self.locate(true, offset, data.len())?;
        let refused = |why| Refused {
            write: true,
            offset,
            len: data.len(),
            what: Some(region),
            why,
        };
        if !running && region != Region::Config {
            return Err(refused(
                "the device is stopped for migration (STOP, STOP_COPY or RESUMING)",
            ));
        }
        let effects = match region {
            Region::Config => {
                self.cfg.write(at as usize, data);
                Effects::default()
            }
            Region::Bar0 => {
                let bus_master = self.cfg.bus_master();
                self.dsa
                    .bar0_write(at, data, bus_master)
                    .map_err(|e| refused(why(e)))?
            }
            Region::Bar2 => self
                .dsa
                .portal_write(at, data, &mut UserDma(device), &mut self.scratch)
                .map_err(|e| refused(why(e)))?,
        };
        self.signal(effects.vectors);
        Ok(())
    }

    /// Signals the eventfd of each vector in the bitmask `vectors` that has
    /// one.
    fn signal(&self, vectors: u64) {
        for (v, trigger) in self.msix.iter().enumerate().take(64) {
            if vectors & (1 << v) != 0 {
                if let Some(fd) = trigger {
                    fd.signal();
                }
            }
        }
    }

    /// Carries out a validated `VFIO_DEVICE_SET_IRQS`: on MSI-X, set or
    /// clear eventfds (all of them or none: a bad file descriptor changes
    /// nothing) or fire vectors. Masking is not supported (as with MSI-X
    /// on `vfio-pci`). An error comes with its reason, for the log.
    pub(crate) fn set_irqs(&mut self, set: IrqSet) -> Result<(), (Error, &'static str)> {
        if set.index != vfio::PCI_MSIX_IRQ_INDEX {
            return Err((EINVAL, "only MSI-X has interrupts"));
        }
        if set.action != IrqAction::Trigger {
            return Err((EINVAL, "MSI-X vectors cannot be masked or unmasked"));
        }
        let range = set.start as usize..set.start as usize + set.count as usize;
        match set.data {
            IrqData::None if set.count == 0 => {
                for trigger in self.msix.iter_mut() {
                    *trigger = None;
                }
            }
            IrqData::None => {
                let mask = range.filter(|&v| v < 64).fold(0u64, |m, v| m | 1 << v);
                self.signal(mask);
            }
            IrqData::Bool(fire) => {
                let mask = range
                    .zip(fire.iter())
                    .filter(|&(v, &b)| b && v < 64)
                    .fold(0u64, |m, (v, _)| m | 1 << v);
                self.signal(mask);
            }
            IrqData::EventFd(fds) => {
                let oom = |_| (ENOMEM, "out of memory");
                let mut new = KVec::with_capacity(fds.len(), GFP_KERNEL).map_err(oom)?;
                for &fd in fds.iter() {
                    let trigger = if fd < 0 {
                        None
                    } else {
                        let e = |e| (e, "a file descriptor is not an open eventfd");
                        Some(EventFd::from_fd(fd).map_err(e)?)
                    };
                    new.push(trigger, GFP_KERNEL).map_err(oom)?;
                }
                let slots = self
                    .msix
                    .get_mut(range)
                    .ok_or((EINVAL, "vectors beyond the last"))?;
                for (slot, trigger) in slots.iter_mut().zip(new) {
                    *slot = trigger;
                }
            }
        }
        Ok(())
    }
}

/// Explains an access the model refused.
fn why(e: AccessError) -> &'static str {
    match e {
        AccessError::OutOfRange => "beyond the end of the region",
        AccessError::BadAccess => {
            "not an access the region takes (registers: 1, 2, 4 or 8 bytes to read, 4 or 8 to \
             write, naturally aligned; portals: 64 bytes at a 64-byte offset)"
        }
    }
}
