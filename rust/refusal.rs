// SPDX-License-Identifier: GPL-2.0

//! The driver's one error type for requests it refuses: [`Refused`], the
//! errno the user gets and what the log says about it.
//!
//! A refused request changes nothing. Every refusal is logged once, through
//! [`Refused::log`], under the budget of the [`Log`] of the thing it is
//! about (a device, or a parent for its types).

// All `unsafe` lives in `crate::ext`, behind safe abstractions.
#![deny(unsafe_code)]

use crate::{ext::vfio::pci::Region, log::Log, logic::stream};
use core::fmt;
use kernel::prelude::*;

/// A refused request: the errno the user gets, and what was refused.
#[derive(Debug)]
pub(crate) struct Refused {
    errno: Error,
    what: What,
}

/// What was refused, and why, as the log line says it.
#[derive(Debug)]
pub(crate) enum What {
    /// An access to the device file.
    Access(Access),
    /// An ioctl: its name and why.
    Ioctl(&'static str, &'static str),
    /// A migration stream: at what step, and why.
    Stream(&'static str, stream::Refusal),
    /// A request refused earlier, and logged then: nothing to add.
    Logged,
}

/// An access to the device file, as a refusal names it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Access {
    /// A write (else a read).
    pub(crate) write: bool,
    /// The file offset.
    pub(crate) offset: u64,
    /// The length.
    pub(crate) len: usize,
    /// The region it is in, if it is in one the function has.
    pub(crate) region: Option<Region>,
    /// Why it was refused.
    pub(crate) why: &'static str,
}

impl Refused {
    /// A refusal of `what`, failing with `errno`.
    pub(crate) fn new(errno: Error, what: What) -> Self {
        Self { errno, what }
    }

    /// A refused access: `-EINVAL`.
    pub(crate) fn access(access: Access) -> Self {
        Self::new(EINVAL, What::Access(access))
    }

    /// A refused ioctl `name`, failing with `errno`.
    pub(crate) fn ioctl(errno: Error, name: &'static str, why: &'static str) -> Self {
        Self::new(errno, What::Ioctl(name, why))
    }

    /// A refused migration stream, at `step`: `-EINVAL`.
    pub(crate) fn stream(step: &'static str, why: stream::Refusal) -> Self {
        Self::new(EINVAL, What::Stream(step, why))
    }

    /// A request refused before (and logged then), again: `-EINVAL`.
    pub(crate) fn logged() -> Self {
        Self::new(EINVAL, What::Logged)
    }

    /// Logs the refusal to `log`, unless it was logged before, and returns
    /// the errno for the user.
    pub(crate) fn log(&self, log: &Log) -> Error {
        if !matches!(self.what, What::Logged) {
            log.warn(fmt!("{self}"));
        }
        self.errno
    }
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.what {
            What::Access(a) => {
                let op = if a.write { "write" } else { "read" };
                match a.region {
                    Some(region) => write!(
                        f,
                        "{op} of {} bytes at {} offset {:#x}: {}",
                        a.len,
                        region.name(),
                        Region::locate(a.offset).map_or(a.offset, |(_, at)| at),
                        a.why
                    ),
                    None => write!(
                        f,
                        "{op} of {} bytes at file offset {:#x}: {}",
                        a.len, a.offset, a.why
                    ),
                }
            }
            What::Ioctl(name, why) => write!(f, "{name}: {why}"),
            What::Stream(step, why) => write!(f, "{step}: {why}"),
            What::Logged => write!(f, "refused before"),
        }
    }
}
