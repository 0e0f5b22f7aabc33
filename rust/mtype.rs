// SPDX-License-Identifier: GPL-2.0

//! The mdev types of a parent: `dsa-<k>dwq`, with their driver files
//! `aggregator`, `max_aggregator` and `compatible`.

// All `unsafe` lives in `crate::ext`, behind safe abstractions.
#![deny(unsafe_code)]

use crate::{
    ext::{
        mdev::{
            TypeAttribute,
            TypeAttributeGroup,
            TypeSpec, //
        },
        sysfs::{
            GroupRef,
            ShowBuf, //
        },
    },
    logic::{
        compat::TypeDesc,
        echo::Echo,
        stream::STREAM_VERSION,
        types::{
            self,
            TypeName, //
        },
    },
    pool::ParentState,
};
use core::fmt::Write;
use kernel::{
    prelude::*,
    str::CString,
    sync::{
        atomic::{
            Atomic,
            Relaxed, //
        },
        Arc,
    },
};

/// A type `dsa-<base>dwq` of one parent.
pub(crate) struct DsaType {
    parent: Arc<ParentState>,
    base: u32,
    /// The aggregator devices created through `create` receive.
    aggregator: Atomic<u32>,
}

impl DsaType {
    /// Describes the type of base `base` for `parent`'s registration.
    pub(crate) fn spec(parent: &Arc<ParentState>, base: u32) -> Result<TypeSpec<Self>> {
        Ok(TypeSpec {
            sysfs_name: CString::try_from_fmt(fmt!("{base}dwq"))?,
            pretty_name: CString::try_from_fmt(fmt!("{}", TypeName(base)))?,
            data: Self {
                parent: parent.clone(),
                base,
                aggregator: Atomic::new(1),
            },
        })
    }

    /// Returns the parent.
    pub(crate) fn parent(&self) -> &Arc<ParentState> {
        &self.parent
    }

    /// Returns the base: WQs per unit.
    pub(crate) fn base(&self) -> u32 {
        self.base
    }

    /// Returns the aggregator new devices receive.
    pub(crate) fn aggregator(&self) -> u32 {
        self.aggregator.load(Relaxed)
    }

    /// Returns the largest aggregator the parent can hold.
    pub(crate) fn max_aggregator(&self) -> u32 {
        types::max_aggregator(self.parent.total_wqs(), self.base)
    }

    /// Returns `available_instances`.
    pub(crate) fn available(&self) -> u32 {
        let n = types::available_instances(self.parent.free_wqs(), self.base, self.aggregator());
        u32::try_from(n).unwrap_or(u32::MAX)
    }

    /// Renders `description`.
    pub(crate) fn describe(&self, out: &mut ShowBuf<'_>) -> Result {
        let aggregator = self.aggregator();
        writeln!(
            out,
            "{} dedicated WQ(s) per unit; aggregator {aggregator} (1-{}); a device takes {} WQ(s)",
            self.base,
            self.max_aggregator(),
            types::wqs_for(self.base, aggregator).unwrap_or(0)
        )?;
        Ok(())
    }

    fn show_aggregator(&self, out: &mut ShowBuf<'_>) -> Result {
        writeln!(out, "{}", self.aggregator())?;
        Ok(())
    }

    fn store_aggregator(&self, input: &[u8]) -> Result {
        let max = self.max_aggregator();
        match types::parse_aggregator(input, max) {
            Ok(value) => {
                self.aggregator.store(value, Relaxed);
                Ok(())
            }
            Err(e) => {
                self.parent.log().warn(fmt!(
                    "{}/aggregator: {} {e}; keeping {} (allowed: 1-{max})",
                    TypeName(self.base),
                    Echo(input),
                    self.aggregator()
                ));
                Err(EINVAL)
            }
        }
    }

    fn show_max_aggregator(&self, out: &mut ShowBuf<'_>) -> Result {
        writeln!(out, "{}", self.max_aggregator())?;
        Ok(())
    }

    fn show_compatible(&self, out: &mut ShowBuf<'_>) -> Result {
        let desc = TypeDesc {
            base: self.base,
            max_aggregator: self.max_aggregator(),
            version: STREAM_VERSION,
        };
        write!(out, "{desc}")?;
        Ok(())
    }
}

/// The driver files of each type directory.
static TYPE_GROUP: TypeAttributeGroup<DsaType, 3> = TypeAttributeGroup::new(
    &TYPE_GROUP,
    None,
    [
        TypeAttribute::rw(
            c"aggregator",
            DsaType::show_aggregator,
            DsaType::store_aggregator,
        ),
        TypeAttribute::ro(c"max_aggregator", DsaType::show_max_aggregator),
        TypeAttribute::ro(c"compatible", DsaType::show_compatible),
    ],
);

/// [`TYPE_GROUP`], for [`crate::DsaDriver`].
pub(crate) const TYPE_ATTRIBUTES: GroupRef<TypeAttribute<DsaType>> = TYPE_GROUP.as_ref();
