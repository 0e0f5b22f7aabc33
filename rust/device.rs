// SPDX-License-Identifier: GPL-2.0

//! A dsa_mdev device: the WQs it holds, its `dsa/` files, and the VFIO
//! device users open (whose PCI function is [`crate::hw`]).

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
    hw::{
        Hw,
        Refused, //
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

/// How many refused accesses are logged per open of a device; the rest
/// are counted and summed up at close, so that a misbehaving user cannot
/// flood the kernel log.
const LOGGED_REFUSALS: u32 = 8;

/// What changes over a device's life, under one lock.
struct State {
    aggregator: u32,
    grant: WqGrant,
    /// The PCI function, while a user has the VFIO device open: the
    /// aggregator is then fixed.
    hw: Option<Hw>,
    /// Accesses refused since the device was opened.
    refusals: u32,
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
                hw: None,
                refusals: 0,
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
        if state.hw.is_some() {
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

impl DsaDevice {
    /// Logs a refused access (the first few of each open).
    fn refuse(&self, state: &mut State, r: &Refused) -> Error {
        state.refusals = state.refusals.saturating_add(1);
        if state.refusals <= LOGGED_REFUSALS {
            pr_warn!(
                "dsa{}: {}: {r}\n",
                self.parent.index(),
                self.name.to_str().unwrap_or("?")
            );
        }
        EINVAL
    }

    /// Logs a refused ioctl.
    fn refuse_ioctl(&self, what: &str, why: &str) {
        pr_warn!(
            "dsa{}: {}: {what}: {why}\n",
            self.parent.index(),
            self.name.to_str().unwrap_or("?")
        );
    }
}

#[vtable]
impl vfio::Ops for DsaDevice {
    const NAME: &'static CStr = c"dsa_mdev";

    fn open(device: &vfio::Device<Self>) -> Result {
        let mut state = device.state.lock();
        let wqs = types::wqs_for(device.base, state.aggregator).ok_or(EINVAL)?;
        state.hw = Some(Hw::new(wqs)?);
        state.refusals = 0;
        Ok(())
    }

    fn close(device: &vfio::Device<Self>) {
        let mut state = device.state.lock();
        // Dropping the function releases the user's eventfds.
        state.hw = None;
        if state.refusals > LOGGED_REFUSALS {
            pr_warn!(
                "dsa{}: {}: {} more refused accesses were not logged\n",
                device.parent.index(),
                device.name.to_str().unwrap_or("?"),
                state.refusals - LOGGED_REFUSALS
            );
        }
    }

    fn ioctl(device: &vfio::OpenDevice<Self>, cmd: u32, arg: UserPtr) -> Result<isize> {
        let mut state = device.state.lock();
        let hw = state.hw.as_mut().ok_or(ENODEV)?;
        match cmd {
            vfio::DEVICE_GET_INFO => vfio::reply_device_info(
                arg,
                vfio::DEVICE_FLAGS_PCI | vfio::DEVICE_FLAGS_RESET,
                vfio::PCI_NUM_REGIONS,
                vfio::PCI_NUM_IRQS,
            ),
            vfio::DEVICE_GET_IRQ_INFO => vfio::reply_irq_info(arg, |i| hw.irq_info(i)),
            vfio::DEVICE_SET_IRQS => {
                let set = vfio::read_irq_set(arg, |i| hw.irq_count(i)).inspect_err(|e| {
                    if *e == EINVAL {
                        device.refuse_ioctl(
                            "VFIO_DEVICE_SET_IRQS",
                            "bad size, index, range, flags or data type",
                        );
                    }
                })?;
                hw.set_irqs(set).map_err(|(e, why)| {
                    device.refuse_ioctl("VFIO_DEVICE_SET_IRQS", why);
                    e
                })?;
                Ok(0)
            }
            vfio::DEVICE_RESET => {
                hw.reset();
                Ok(0)
            }
            _ => Err(ENOTTY),
        }
    }

    fn region_info(device: &vfio::OpenDevice<Self>, index: u32) -> Option<vfio::RegionInfo> {
        device.state.lock().hw.as_ref()?.region_info(index)
    }

    fn read(device: &vfio::OpenDevice<Self>, offset: u64, buf: &mut [u8]) -> Result {
        let mut state = device.state.lock();
        let state = &mut *state;
        let hw = state.hw.as_mut().ok_or(ENODEV)?;
        match hw.read(offset, buf) {
            Ok(()) => Ok(()),
            Err(r) => Err(device.refuse(state, &r)),
        }
    }

    fn write(device: &vfio::OpenDevice<Self>, offset: u64, data: &[u8]) -> Result {
        let mut state = device.state.lock();
        let state = &mut *state;
        let hw = state.hw.as_mut().ok_or(ENODEV)?;
        match hw.write(device, offset, data) {
            Ok(()) => Ok(()),
            Err(r) => Err(device.refuse(state, &r)),
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
