// SPDX-License-Identifier: GPL-2.0

//! The PCI function a dsa_mdev device presents to its VFIO user while it is
//! open: configuration space, BAR0 registers, BAR2 portals and MSI-X
//! triggers, laid out as `vfio-pci` lays out a physical function.
//!
//! The behaviour is the pure model's (`logic::pci`, `logic::model`,
//! `logic::engine`); this file maps VFIO regions and interrupt indexes onto
//! it and connects the engine to the user's DMA space and eventfds.

// All `unsafe` lives in `crate::ext`, behind safe abstractions.
#![deny(unsafe_code)]

use crate::{
    ext::{
        eventfd::EventFd,
        vfio::{
            self,
            pci::{
                self,
                Region, //
            },
            IrqAction,
            IrqData,
            IrqSet,
            RegionInfo, //
        },
    },
    logic::{
        engine::Outcome,
        idxd,
        model::{
            Abandoned,
            AccessError,
            Dsa,
            Quiesce,
            Submission,
            WqCfg, //
        },
        msix::Msix,
        pci::{
            PciConfig,
            PciIds,
            CONFIG_SIZE,
            MSIX_CAP,
            MSIX_FLAGS_ENABLE, //
        },
        stream::{
            self,
            Refusal, //
        },
    },
    refusal::{
        Access,
        Refused, //
    },
};
use kernel::{
    alloc::KVVec,
    prelude::*, //
};

/// Whether the function has region `region`: configuration space, BAR0
/// (registers) and BAR2 (portals), as a DSA physical function.
fn present(region: Region) -> bool {
    matches!(region, Region::Config | Region::Bar0 | Region::Bar2)
}

/// What a write to the device file asks of its caller.
pub(crate) enum Step {
    /// Nothing: the write took effect.
    Done,
    /// Run the descriptor the write submitted (outside the device's lock),
    /// then report its outcome with [`Hw::complete`].
    Run(Submission),
}

/// The function of an open device.
pub(crate) struct Hw {
    cfg: PciConfig,
    dsa: Dsa<KVVec<WqCfg>>,
    /// The eventfd of each MSI-X vector, if the user set one.
    msix: KVec<Option<EventFd>>,
    /// The vectors held while the Function Mask is set.
    pending: Msix,
}

impl Hw {
    /// The function of a device with `wqs` WQs, in its post-reset state.
    /// Its memory (136 bytes per WQ for its WQCFG entry and portal slot, up
    /// to 544 KiB) is charged to the user who opens the device.
    pub(crate) fn new(wqs: usize, ids: PciIds) -> Result<Self> {
        let dsa = Dsa::with_table(wqs.max(1), |reset, n| {
            KVVec::from_elem(reset, n, GFP_KERNEL_ACCOUNT)
        })?;
        let layout = *dsa.layout();
        let mut msix = KVec::with_capacity(usize::from(layout.msix.vectors), GFP_KERNEL_ACCOUNT)?;
        for _ in 0..layout.msix.vectors {
            msix.push(None, GFP_KERNEL_ACCOUNT)?;
        }
        Ok(Self {
            cfg: PciConfig::with_ids(layout.bar0_size, layout.bar2_size, layout.msix, ids),
            dsa,
            msix,
            pending: Msix::new(),
        })
    }

    /// Returns configuration space, registers and WQs to their state after
    /// reset, as a function-level reset does. The interrupt triggers stay:
    /// they belong to the VFIO user, as with `vfio-pci`, and so does MSI-X
    /// Enable while they are attached (`vfio-pci` restores the MSI-X state
    /// it set up around a reset).
    pub(crate) fn reset(&mut self) {
        self.cfg.reset();
        self.dsa.reset();
        self.pending.reset();
        if self.msix.iter().any(Option::is_some) {
            self.set_msix_enable(true);
        }
    }

    /// Sets or clears MSI-X Enable, as `vfio-pci` does in the function when
    /// a user attaches or detaches its interrupt triggers.
    fn set_msix_enable(&mut self, on: bool) {
        let ctl = self.cfg.msix_control();
        let ctl = if on {
            ctl | MSIX_FLAGS_ENABLE
        } else {
            ctl & !MSIX_FLAGS_ENABLE
        };
        self.cfg.write(MSIX_CAP + 2, &ctl.to_le_bytes());
        self.pending.update(&self.cfg);
    }

    /// Returns whether bus mastering is on: whether the function may do
    /// DMA (and send MSI-X messages).
    pub(crate) fn bus_master(&self) -> bool {
        self.cfg.bus_master()
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
    pub(crate) fn save(&self) -> Result<KVVec<u8>> {
        let mut body = KVVec::new();
        self.save_to(&mut body)?;
        Ok(body)
    }

    /// Appends the body of a migration stream for the function's state to
    /// `out`, which is left as it was if there is no memory for it.
    pub(crate) fn save_to(&self, out: &mut KVVec<u8>) -> Result {
        let at = out.len();
        let len = stream::body_len(self.wqs());
        out.resize(at.checked_add(len).ok_or(ENOMEM)?, 0, GFP_KERNEL_ACCOUNT)?;
        stream::encode_body(&self.cfg, &self.dsa, out.get_mut(at..).unwrap_or(&mut []));
        Ok(())
    }

    /// Loads the body of a migration stream: all of it, or nothing and why.
    pub(crate) fn load(&mut self, body: &[u8]) -> Result<(), Refusal> {
        stream::load_body(&mut self.cfg, &mut self.dsa, body)?;
        self.pending.reset();
        Ok(())
    }

    /// Takes the configuration space `cfg` and model `dsa` that a
    /// migration stream was checked and loaded into (by `load_body`, from
    /// [`Hw::config_after_reset`] and a model of as many WQs), as
    /// [`Hw::load`] of that stream would; they get the function's
    /// previous ones in exchange.
    /// Returns false, taking nothing, if `dsa` is not laid out as the
    /// function's model.
    pub(crate) fn adopt(&mut self, cfg: &mut PciConfig, dsa: &mut Dsa<KVVec<WqCfg>>) -> bool {
        if dsa.layout() != self.dsa.layout() {
            return false;
        }
        core::mem::swap(&mut self.cfg, cfg);
        core::mem::swap(&mut self.dsa, dsa);
        self.pending.reset();
        true
    }

    /// Answers `VFIO_DEVICE_GET_REGION_INFO` for `index`.
    pub(crate) fn region_info(&self, index: u32) -> Option<RegionInfo> {
        let region = Region::from_index(index)?;
        let layout = self.dsa.layout();
        let size = match region {
            Region::Config => CONFIG_SIZE as u64,
            Region::Bar0 => layout.bar0_size,
            Region::Bar2 => layout.bar2_size,
            _ => {
                return Some(RegionInfo {
                    offset: region.offset(),
                    ..RegionInfo::default()
                })
            }
        };
        Some(RegionInfo {
            flags: vfio::REGION_INFO_FLAG_READ | vfio::REGION_INFO_FLAG_WRITE,
            size,
            offset: region.offset(),
        })
    }

    /// Returns how many interrupts the function has at `index`.
    pub(crate) fn irq_count(&self, index: u32) -> u32 {
        match pci::Irq::from_index(index) {
            Some(pci::Irq::Msix) => self.msix.len() as u32,
            _ => 0,
        }
    }

    /// Answers `VFIO_DEVICE_GET_IRQ_INFO` for `index`: MSI-X only, as on DSA
    /// hardware (no INTx pin, no MSI capability).
    pub(crate) fn irq_info(&self, index: u32) -> Option<(u32, u32)> {
        pci::Irq::from_index(index)?;
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
        let refused = |region, why| {
            Refused::access(Access {
                write,
                offset,
                len,
                region,
                why,
            })
        };
        let (region, at) = Region::locate(offset)
            .filter(|&(region, _)| present(region))
            .ok_or(refused(None, "no such region"))?;
        let size = self.region_info(region.index()).map_or(0, |info| info.size);
        if at.checked_add(len as u64).is_none_or(|end| end > size) {
            return Err(refused(Some(region), "beyond the end of the region"));
        }
        Ok((region, at))
    }

    /// Reads `buf.len()` bytes at file offset `offset`.
    pub(crate) fn read(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), Refused> {
        let len = buf.len();
        let (region, at) = self.locate(false, offset, len)?;
        let refused = |why| {
            Refused::access(Access {
                write: false,
                offset,
                len,
                region: Some(region),
                why,
            })
        };
        match region {
            Region::Config => {
                self.cfg.read(at as usize, buf);
                Ok(())
            }
            Region::Bar0 => self.dsa.bar0_read(at, buf).map_err(|e| refused(why(e))),
            Region::Bar2 => Err(refused("portals are write-only")),
            // Not `present`: `locate` refused it.
            _ => Err(refused("no such region")),
        }
    }

    /// Returns what a write of `data` at file offset `offset` needs from
    /// descriptors in flight before it is made: a command that drains or
    /// aborts them.
    pub(crate) fn quiesce(&self, offset: u64, data: &[u8]) -> Quiesce {
        match self.locate(true, offset, data.len()) {
            Ok((Region::Bar0, at)) if at == idxd::CMD_OFFSET => match data.try_into() {
                Ok(v) => Dsa::<KVVec<WqCfg>>::command_quiesce(u32::from_le_bytes(v)),
                Err(_) => Quiesce::None,
            },
            _ => Quiesce::None,
        }
    }

    /// Writes `data` at file offset `offset`. A descriptor written to a
    /// portal (whole, or by the piece that completes its slot) comes back as
    /// [`Step::Run`], for the caller to run against the user's DMA space,
    /// with the half-written slot the write abandoned, if any, for the log.
    /// While the device is stopped for migration (`running` false) only
    /// configuration space takes writes: the registers and WQs must not
    /// change.
    pub(crate) fn write(
        &mut self,
        offset: u64,
        data: &[u8],
        running: bool,
    ) -> Result<(Step, Option<Abandoned>), Refused> {
        let (region, at) = self.locate(true, offset, data.len())?;
        let refused = |why| {
            Refused::access(Access {
                write: true,
                offset,
                len: data.len(),
                region: Some(region),
                why,
            })
        };
        if !running && region != Region::Config {
            return Err(refused(
                "the device is stopped for migration (STOP, STOP_COPY or RESUMING)",
            ));
        }
        match region {
            Region::Config => {
                // Below CONFIG_SIZE, by `locate`.
                self.cfg.write(at as usize, data);
                let released = self.pending.update(&self.cfg);
                self.signal(released);
                Ok((Step::Done, None))
            }
            Region::Bar0 => {
                let bus_master = self.cfg.bus_master();
                let effects = self
                    .dsa
                    .bar0_write(at, data, bus_master)
                    .map_err(|e| refused(why(e)))?;
                self.raise(effects.vectors);
                Ok((Step::Done, None))
            }
            Region::Bar2 => {
                let (sub, effects) = self
                    .dsa
                    .portal_submit(at, data)
                    .map_err(|e| refused(why(e)))?;
                self.raise(effects.vectors);
                Ok((sub.map_or(Step::Done, Step::Run), effects.abandoned))
            }
            // Not `present`: `locate` refused it.
            _ => Err(refused("no such region")),
        }
    }

    /// Reports the outcome of running the descriptor of a [`Step::Run`] of
    /// WQ `wq`: its software error and interrupts.
    pub(crate) fn complete(&mut self, wq: u32, out: &Outcome) {
        let effects = self.dsa.portal_complete(wq, out);
        self.raise(effects.vectors);
    }

    /// The device raises the interrupts `vectors`: they reach their
    /// eventfds as MSI-X Enable, the Function Mask and bus mastering allow.
    fn raise(&mut self, vectors: u64) {
        let now = self.pending.raise(&self.cfg, vectors);
        self.signal(now);
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
    pub(crate) fn set_irqs(&mut self, set: IrqSet) -> Result<(), Refused> {
        const SET_IRQS: &str = "VFIO_DEVICE_SET_IRQS";
        if set.index != pci::Irq::Msix.index() {
            return Err(Refused::ioctl(
                EINVAL,
                SET_IRQS,
                "only MSI-X has interrupts",
            ));
        }
        if set.action != IrqAction::Trigger {
            return Err(Refused::ioctl(
                EINVAL,
                SET_IRQS,
                "MSI-X vectors cannot be masked or unmasked",
            ));
        }
        // Validated against the vector count by `read_irq_set`.
        let range = set.start as usize..(set.start as usize).saturating_add(set.count as usize);
        match set.data {
            IrqData::None if set.count == 0 => {
                for trigger in self.msix.iter_mut() {
                    *trigger = None;
                }
                self.set_msix_enable(false);
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
                let oom = |_| Refused::ioctl(ENOMEM, SET_IRQS, "out of memory");
                let mut new = KVec::with_capacity(fds.len(), GFP_KERNEL_ACCOUNT).map_err(oom)?;
                for &fd in fds.iter() {
                    let trigger = if fd < 0 {
                        None
                    } else {
                        let e = |e| {
                            Refused::ioctl(e, SET_IRQS, "a file descriptor is not an open eventfd")
                        };
                        Some(EventFd::from_fd(fd).map_err(e)?)
                    };
                    new.push(trigger, GFP_KERNEL_ACCOUNT).map_err(oom)?;
                }
                let slots = self.msix.get_mut(range).ok_or(Refused::ioctl(
                    EINVAL,
                    SET_IRQS,
                    "vectors beyond the last",
                ))?;
                for (slot, trigger) in slots.iter_mut().zip(new) {
                    *slot = trigger;
                }
                let attached = self.msix.iter().any(Option::is_some);
                self.set_msix_enable(attached);
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
             write, naturally aligned; portals: 4, 8 or 64 bytes to write, naturally aligned)"
        }
    }
}
