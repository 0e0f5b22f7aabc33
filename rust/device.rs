// SPDX-License-Identifier: GPL-2.0

//! A dsa_mdev device: the WQs it holds, its `dsa/` files, and the VFIO
//! device users open (whose PCI function is [`crate::hw`]).

use crate::{
    ext::{
        stream_file::File,
        sysfs::{
            DeviceAttribute,
            DeviceAttributeGroup,
            GroupRef,
            ShowBuf, //
        },
        vfio::{
            self,
            MigState, //
        },
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
        stream::{
            body_len,
            Header,
            FLAG_ENABLED,
            HEADER_SIZE, //
        },
        types::{
            self,
            TypeName, //
        },
    },
    migration::{
        DeviceLog,
        Session,
        LOGGED_REFUSALS, //
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
    /// The PCI function, while a user has the VFIO device open: the
    /// aggregator is then fixed.
    hw: Option<Hw>,
    /// The migration state, while open.
    mig: Session,
}

/// A device of type `dsa-<base>dwq`, holding `base * aggregator` WQs.
#[pin_data]
pub(crate) struct DsaDevice {
    parent: Arc<ParentState>,
    base: u32,
    /// The device's log lines start with its `dsaN: <uuid>`; refusals are
    /// logged through this, by the device and its migration data files.
    log: Arc<DeviceLog>,
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
        let log = DeviceLog::new(parent.index(), name);
        try_pin_init!(Self {
            log: log?,
            state <- new_mutex!(State {
                aggregator,
                grant: grant?,
                hw: None,
                mig: Session::new(),
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
        let who = self.log.prefix();
        let value = types::parse_aggregator(input, max).map_err(|e| {
            pr_warn!(
                "{who}: aggregator: {} {e} (allowed: 1-{max})\n",
                Echo(input)
            );
            EINVAL
        })?;
        let mut state = self.state.lock();
        if state.hw.is_some() {
            pr_warn!("{who}: aggregator: cannot change while the device is open\n");
            return Err(EBUSY);
        }
        let n = types::wqs_for(self.base, value).ok_or(EINVAL)?;
        if let Err(e) = state.grant.resize(n) {
            pr_warn!(
                "{who}: aggregator {value} needs {} more WQs, {} free; keeping {}\n",
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
    fn refuse(&self, r: &Refused) -> Error {
        self.log.refusal(fmt!("{r}"));
        EINVAL
    }

    /// Logs a refused ioctl (the first few of each open).
    fn refuse_ioctl(&self, what: &str, why: &str) {
        self.log.refusal(fmt!("{what}: {why}"));
    }
}

#[vtable]
impl vfio::Ops for DsaDevice {
    const NAME: &'static CStr = c"dsa_mdev";

    fn open(device: &vfio::Device<Self>) -> Result {
        let mut state = device.state.lock();
        let wqs = types::wqs_for(device.base, state.aggregator).ok_or(EINVAL)?;
        state.hw = Some(Hw::new(wqs)?);
        state.mig = Session::new();
        device.log.restart();
        Ok(())
    }

    fn close(device: &vfio::Device<Self>) {
        let mut state = device.state.lock();
        // Dropping the function releases the user's eventfds; the data
        // files of a migration session outlive it, dead.
        state.hw = None;
        state.mig.end();
        let unlogged = device.log.restart();
        if unlogged > 0 {
            pr_warn!(
                "{}: {unlogged} more refusals were not logged (only the first {LOGGED_REFUSALS} of each open are)\n",
                device.log.prefix()
            );
        }
    }

    fn ioctl(device: &vfio::OpenDevice<Self>, cmd: u32, arg: UserPtr) -> Result<isize> {
        let mut state = device.state.lock();
        let state = &mut *state;
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
                // A reset ends any migration session and returns to
                // RUNNING, as the uAPI requires.
                hw.reset();
                state.mig.end();
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
        hw.read(offset, buf).map_err(|r| device.refuse(&r))
    }

    fn write(device: &vfio::OpenDevice<Self>, offset: u64, data: &[u8]) -> Result {
        let mut state = device.state.lock();
        let state = &mut *state;
        let hw = state.hw.as_mut().ok_or(ENODEV)?;
        hw.write(device, offset, data, state.mig.running())
            .map_err(|r| device.refuse(&r))
    }

    const MIGRATION_FLAGS: u32 =
        vfio::MIGRATION_STOP_COPY | vfio::MIGRATION_P2P | vfio::MIGRATION_PRE_COPY;

    fn mig_set_state(device: &vfio::OpenDevice<Self>, new: MigState) -> Result<Option<File>> {
        let mut state = device.state.lock();
        let mut file = None;
        while state.mig.state != new {
            let next = device.next_mig_state(state.mig.state, new)?;
            if let Some(f) = device.mig_step(&mut state, next, device.precopy_info_v2())? {
                file = Some(f);
            }
            state.mig.state = next;
        }
        Ok(file)
    }

    fn mig_get_state(device: &vfio::OpenDevice<Self>) -> Result<MigState> {
        Ok(device.state.lock().mig.state)
    }

    fn mig_data_size(device: &vfio::OpenDevice<Self>) -> Result<usize> {
        let state = device.state.lock();
        let body = body_len(state.hw.as_ref().ok_or(ENODEV)?.wqs());
        Ok(state.mig.remaining(HEADER_SIZE + body, body))
    }
}

impl DsaDevice {
    /// Takes one arc of the migration state machine, from the current
    /// state to `next`; returns the data file the arc opens, if any.
    ///
    /// `v2` is whether the user asked for `VFIO_MIG_GET_PRECOPY_INFO` v2.
    fn mig_step(&self, state: &mut State, next: MigState, v2: bool) -> Result<Option<File>> {
        use MigState::*;
        let desc = self.desc(state.aggregator);
        let hw = state.hw.as_mut().ok_or(ENODEV)?;
        let mig = &mut state.mig;
        let header = |hw: &Hw| {
            Header {
                device: desc,
                flags: if hw.enabled() { FLAG_ENABLED } else { 0 },
                // At most 572 + 64 * 4096 bytes.
                body_len: u32::try_from(body_len(hw.wqs())).unwrap_or(u32::MAX),
            }
            .encode()
        };
        match (mig.state, next) {
            // Nothing is ever in flight and the device does no peer-to-peer
            // DMA: quiescing and stopping take nothing.
            (Running, RunningP2p)
            | (RunningP2p, Running)
            | (RunningP2p, Stop)
            | (Stop, RunningP2p)
            | (PreCopy, PreCopyP2p)
            | (PreCopyP2p, PreCopy) => Ok(None),
            (Running, PreCopy) | (RunningP2p, PreCopyP2p) => {
                let mut stream = KVec::new();
                stream.extend_from_slice(&header(hw), GFP_KERNEL)?;
                mig.start_saving(stream, false, v2).map(Some)
            }
            (Stop, StopCopy) => {
                let mut stream = KVec::new();
                stream.extend_from_slice(&header(hw), GFP_KERNEL)?;
                stream.extend_from_slice(&hw.save()?, GFP_KERNEL)?;
                mig.start_saving(stream, true, false).map(Some)
            }
            (PreCopyP2p, StopCopy) => {
                mig.finish_saving(&hw.save()?)?;
                Ok(None)
            }
            (StopCopy, Stop) | (PreCopy, Running) | (PreCopyP2p, RunningP2p) => {
                mig.end_saving();
                Ok(None)
            }
            (Stop, Resuming) => mig
                .start_resuming(desc, hw.wqs(), hw.config_after_reset(), self.log.clone())
                .map(Some),
            (Resuming, Stop) => {
                match mig.with_resumed(|body| hw.load(body)) {
                    Ok(Ok(())) => {}
                    // Refused while it was written, and logged then.
                    Err(None) => return Err(EINVAL),
                    Ok(Err(why)) | Err(Some(why)) => {
                        self.log.refusal(fmt!("cannot leave RESUMING: {why}"));
                        return Err(EINVAL);
                    }
                }
                mig.end_resuming();
                Ok(None)
            }
            // The VFIO core only asks for the arcs above.
            (from, to) => {
                kernel::pr_warn_once!(
                    "{}: migration: no arc {} -> {}\n",
                    self.log.prefix(),
                    from.name(),
                    to.name()
                );
                Err(EINVAL)
            }
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
