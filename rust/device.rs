// SPDX-License-Identifier: GPL-2.0

//! A dsa_mdev device: the WQs it holds, its `dsa/` files, and the VFIO
//! device users open.

use crate::{
    ext::{
        sysfs::{
            DeviceAttribute,
            DeviceAttributeGroup,
            GroupRef,
            ShowBuf, //
        },
        vfio,
    },
    logic::{
        compat::{
            DeviceDesc,
            STREAM_VERSION, //
        },
        echo::Echo,
        types::{
            self,
            TypeName, //
        },
    },
    mtype::DsaType,
    parent::{
        ParentState,
        WqGrant, //
    },
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
    uaccess::UserPtr,
};

/// What changes over a device's life, under one lock.
struct State {
    aggregator: u32,
    grant: WqGrant,
    /// Whether a user has the VFIO device open: the aggregator is then
    /// fixed.
    open: bool,
}

/// A device of type `dsa-<base>dwq`, holding `base * aggregator` WQs.
#[pin_data]
pub(crate) struct DsaDevice {
    parent: Arc<ParentState>,
    base: u32,
    /// The mdev's name (its UUID), for log lines.
    name: CString,
    #[pin]
    state: Mutex<State>,
}

impl DsaDevice {
    /// Creates the device `name` of type `mtype`, taking its WQs from the
    /// parent: all of them, or none with `-ENOSPC`.
    pub(crate) fn new(name: &CStr, mtype: &DsaType) -> impl PinInit<Self, Error> {
        let parent = mtype.parent().clone();
        let (base, aggregator) = (mtype.base(), mtype.aggregator());
        // Taken now, so that `create` fails right here when the parent is
        // short; if the initialiser never runs, dropping `grant` gives the
        // WQs back.
        let grant = take_wqs(&parent, base, aggregator);
        if grant.is_err() {
            pr_warn!(
                "dsa{}: cannot create {} as {} with aggregator {aggregator}: needs {} WQs, {} free\n",
                parent.index(),
                name.to_str().unwrap_or("?"),
                TypeName(base),
                types::wqs_for(base, aggregator).unwrap_or(0),
                parent.free_wqs()
            );
        }
        let name = CString::try_from(name);
        try_pin_init!(Self {
            name: name?,
            state <- new_mutex!(State {
                aggregator,
                grant: grant?,
                open: false,
            }),
            parent,
            base,
        }? Error)
    }

    fn desc(&self, aggregator: u32) -> DeviceDesc {
        DeviceDesc {
            base: self.base,
            aggregator,
            version: STREAM_VERSION,
        }
    }

    fn show_aggregator(&self, out: &mut ShowBuf<'_>) -> Result {
        writeln!(out, "{}", self.state.lock().aggregator)?;
        Ok(())
    }

    fn store_aggregator(&self, input: &[u8]) -> Result {
        let max = types::max_aggregator(self.parent.total_wqs(), self.base);
        let who = || (self.parent.index(), self.name.to_str().unwrap_or("?"));
        let value = types::parse_aggregator(input, max).map_err(|e| {
            let (index, name) = who();
            pr_warn!(
                "dsa{index}: {name}: aggregator: {} {e} (allowed: 1-{max})\n",
                Echo(input)
            );
            EINVAL
        })?;
        let mut state = self.state.lock();
        if state.open {
            let (index, name) = who();
            pr_warn!("dsa{index}: {name}: aggregator: cannot change while the device is open\n");
            return Err(EBUSY);
        }
        let n = types::wqs_for(self.base, value).ok_or(EINVAL)?;
        if let Err(e) = state.grant.resize(n) {
            let (index, name) = who();
            pr_warn!(
                "dsa{index}: {name}: aggregator {value} needs {} more WQs, {} free; keeping {}\n",
                e.needed,
                e.free,
                state.aggregator
            );
            return Err(ENOSPC);
        }
        state.aggregator = value;
        Ok(())
    }

    fn show_wq_ids(&self, out: &mut ShowBuf<'_>) -> Result {
        writeln!(out, "{}", self.state.lock().grant.wqs())?;
        Ok(())
    }

    fn show_self(&self, out: &mut ShowBuf<'_>) -> Result {
        let aggregator = self.state.lock().aggregator;
        write!(out, "{}", self.desc(aggregator))?;
        Ok(())
    }
}

/// Takes `base * aggregator` WQs from `parent`.
fn take_wqs(parent: &Arc<ParentState>, base: u32, aggregator: u32) -> Result<WqGrant> {
    let n = types::wqs_for(base, aggregator).ok_or(EINVAL)?;
    WqGrant::take(parent, n).map_err(|_| ENOSPC)
}

#[vtable]
impl vfio::Ops for DsaDevice {
    const NAME: &'static CStr = c"dsa_mdev";

    fn open(device: &vfio::Device<Self>) -> Result {
        device.state.lock().open = true;
        Ok(())
    }

    fn close(device: &vfio::Device<Self>) {
        device.state.lock().open = false;
    }

    fn ioctl(_device: &vfio::Device<Self>, cmd: u32, arg: UserPtr) -> Result<isize> {
        // The register and interrupt model is not there yet: the device
        // reports the regions and interrupt indexes of a vfio-pci device,
        // each of size 0 ("not present").
        match cmd {
            vfio::DEVICE_GET_INFO => vfio::reply_device_info(
                arg,
                vfio::DEVICE_FLAGS_PCI,
                vfio::PCI_NUM_REGIONS,
                vfio::PCI_NUM_IRQS,
            ),
            vfio::DEVICE_GET_REGION_INFO => vfio::reply_region_info(arg, |index| {
                (index < vfio::PCI_NUM_REGIONS).then(vfio::RegionInfo::default)
            }),
            vfio::DEVICE_GET_IRQ_INFO => {
                vfio::reply_irq_info(arg, |index| (index < vfio::PCI_NUM_IRQS).then_some((0, 0)))
            }
            _ => Err(ENOTTY),
        }
    }
}

/// The driver group `dsa/` of each device.
static DEVICE_GROUP: DeviceAttributeGroup<DsaDevice, 3> = DeviceAttributeGroup::new(
    &DEVICE_GROUP,
    Some(c"dsa"),
    [
        DeviceAttribute::rw(
            c"aggregator",
            DsaDevice::show_aggregator,
            DsaDevice::store_aggregator,
        ),
        DeviceAttribute::ro(c"wq_ids", DsaDevice::show_wq_ids),
        DeviceAttribute::ro(c"self", DsaDevice::show_self),
    ],
);

/// [`DEVICE_GROUP`], for [`crate::DsaDriver`].
pub(crate) const DEVICE_ATTRIBUTES: GroupRef<DeviceAttribute<DsaDevice>> = DEVICE_GROUP.as_ref();
