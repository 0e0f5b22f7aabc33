// SPDX-License-Identifier: GPL-2.0

//! The Intel DSA programming interface, as the kernel's headers define it:
//! register offsets and fields of `drivers/dma/idxd/registers.h`, and
//! descriptor flags, opcodes and completion status codes of
//! `include/uapi/linux/idxd.h`. Names follow the C ones.

// Register offsets in BAR0.

/// `IDXD_VER_OFFSET`.
pub const VER_OFFSET: u64 = 0x00;
/// `IDXD_GENCAP_OFFSET`.
pub const GENCAP_OFFSET: u64 = 0x10;
/// `IDXD_WQCAP_OFFSET`.
pub const WQCAP_OFFSET: u64 = 0x20;
/// `IDXD_GRPCAP_OFFSET`.
pub const GRPCAP_OFFSET: u64 = 0x30;
/// `IDXD_ENGCAP_OFFSET`.
pub const ENGCAP_OFFSET: u64 = 0x38;
/// `IDXD_OPCAP_OFFSET`: 256 bits, one per opcode.
pub const OPCAP_OFFSET: u64 = 0x40;
/// `IDXD_TABLE_OFFSET`: `union offsets_reg`, two quadwords.
pub const TABLE_OFFSET: u64 = 0x60;
/// `IDXD_GENCFG_OFFSET`.
pub const GENCFG_OFFSET: u64 = 0x80;
/// `IDXD_GENCTRL_OFFSET`.
pub const GENCTRL_OFFSET: u64 = 0x88;
/// `IDXD_GENSTATS_OFFSET`.
pub const GENSTS_OFFSET: u64 = 0x90;
/// `IDXD_INTCAUSE_OFFSET`.
pub const INTCAUSE_OFFSET: u64 = 0x98;
/// `IDXD_CMD_OFFSET`.
pub const CMD_OFFSET: u64 = 0xa0;
/// `IDXD_CMDSTS_OFFSET`.
pub const CMDSTS_OFFSET: u64 = 0xa8;
/// `IDXD_CMDCAP_OFFSET`.
pub const CMDCAP_OFFSET: u64 = 0xb0;
/// `IDXD_SWERR_OFFSET`: `union sw_err_reg`, four quadwords.
pub const SWERR_OFFSET: u64 = 0xc0;

/// `IDXD_TABLE_MULT`: the table offsets are in units of this.
pub const TABLE_MULT: u64 = 0x100;
/// `IDXD_WQCFG_MIN`: a WQCFG entry is `1 << (wqcfg_size + IDXD_WQCFG_MIN)`.
pub const WQCFG_MIN: u32 = 5;
/// `GRPCFG_SIZE`.
pub const GRPCFG_SIZE: u64 = 64;
/// `IDXD_PORTAL_SIZE` (a page).
pub const PORTAL_SIZE: u64 = 4096;
/// Portals per WQ: unlimited and limited MSI-X, unlimited and limited IMS.
pub const PORTALS_PER_WQ: u64 = 4;

/// `DEVICE_VERSION_1`.
pub const DEVICE_VERSION_1: u32 = 0x100;

// `union gen_cap_reg` fields.

/// `gen_cap_reg.overlap_copy`.
#[cfg(test)]
pub const GENCAP_OVERLAP_COPY: u64 = 1 << 1;
/// `gen_cap_reg.cmd_cap`: the CMDCAP register is valid.
#[cfg(test)]
pub const GENCAP_CMD_CAP: u64 = 1 << 4;
/// `gen_cap_reg.max_xfer_shift` position (5 bits).
#[cfg(test)]
pub const GENCAP_MAX_XFER_SHIFT: u32 = 16;
/// `gen_cap_reg.max_batch_shift` position (4 bits).
#[cfg(test)]
pub const GENCAP_MAX_BATCH_SHIFT: u32 = 21;
/// `gen_cap_reg.config_en`: the device is configurable.
#[cfg(test)]
pub const GENCAP_CONFIG_EN: u64 = 1 << 31;

// `union wq_cap_reg` fields.

/// `wq_cap_reg.num_wqs` position (8 bits).
#[cfg(test)]
pub const WQCAP_NUM_WQS_SHIFT: u32 = 16;
/// `wq_cap_reg.wqcfg_size` position (4 bits).
#[cfg(test)]
pub const WQCAP_WQCFG_SIZE_SHIFT: u32 = 24;
/// `wq_cap_reg.dedicated_mode`.
#[cfg(test)]
pub const WQCAP_DEDICATED_MODE: u64 = 1 << 49;
/// `wq_cap_reg.priority`.
#[cfg(test)]
pub const WQCAP_PRIORITY: u64 = 1 << 51;
/// `wq_cap_reg.op_config`.
#[cfg(test)]
pub const WQCAP_OP_CONFIG: u64 = 1 << 54;

// `union gencfg_reg`, `union genctrl_reg`, `union gensts_reg`.

/// `genctrl_reg.softerr_int_en`.
#[cfg(not(MODULE))]
pub const GENCTRL_SOFTERR_INT_EN: u32 = 1 << 0;
/// `genctrl_reg.halt_int_en`.
#[cfg(test)]
pub const GENCTRL_HALT_INT_EN: u32 = 1 << 1;
/// `IDXD_DEVICE_STATE_DISABLED`.
pub const DEVICE_STATE_DISABLED: u32 = 0;
/// `IDXD_DEVICE_STATE_ENABLED`.
pub const DEVICE_STATE_ENABLED: u32 = 1;

// `INTCAUSE` bits.

/// `IDXD_INTC_ERR`.
pub const INTC_ERR: u32 = 0x01;
/// `IDXD_INTC_CMD`.
pub const INTC_CMD: u32 = 0x02;

// `union idxd_command_reg` and `enum idxd_cmd`.

/// `idxd_command_reg.cmd` position (5 bits).
#[cfg(not(MODULE))]
pub const CMD_SHIFT: u32 = 20;
/// `idxd_command_reg.operand` mask (20 bits).
#[cfg(not(MODULE))]
pub const CMD_OPERAND_MASK: u32 = 0xf_ffff;
/// `idxd_command_reg.int_req`.
#[cfg(not(MODULE))]
pub const CMD_INT_REQ: u32 = 1 << 31;
/// `IDXD_CMD_ENABLE_DEVICE`.
pub const CMD_ENABLE_DEVICE: u32 = 1;
/// `IDXD_CMD_DISABLE_DEVICE`.
pub const CMD_DISABLE_DEVICE: u32 = 2;
/// `IDXD_CMD_DRAIN_ALL`.
pub const CMD_DRAIN_ALL: u32 = 3;
/// `IDXD_CMD_ABORT_ALL`.
pub const CMD_ABORT_ALL: u32 = 4;
/// `IDXD_CMD_RESET_DEVICE`.
pub const CMD_RESET_DEVICE: u32 = 5;
/// `IDXD_CMD_ENABLE_WQ`.
pub const CMD_ENABLE_WQ: u32 = 6;
/// `IDXD_CMD_DISABLE_WQ`.
pub const CMD_DISABLE_WQ: u32 = 7;
/// `IDXD_CMD_DRAIN_WQ`.
pub const CMD_DRAIN_WQ: u32 = 8;
/// `IDXD_CMD_ABORT_WQ`.
pub const CMD_ABORT_WQ: u32 = 9;
/// `IDXD_CMD_RESET_WQ`.
pub const CMD_RESET_WQ: u32 = 10;

// `enum idxd_cmdsts_err` and `union cmdsts_reg`.

/// `IDXD_CMDSTS_ACTIVE`.
#[cfg(test)]
pub const CMDSTS_ACTIVE: u32 = 0x8000_0000;
/// `IDXD_CMDSTS_SUCCESS`.
pub const CMDSTS_SUCCESS: u8 = 0x00;
/// `IDXD_CMDSTS_INVAL_CMD`.
pub const CMDSTS_INVAL_CMD: u8 = 0x01;
/// `IDXD_CMDSTS_INVAL_WQIDX`.
pub const CMDSTS_INVAL_WQIDX: u8 = 0x02;
/// `IDXD_CMDSTS_ERR_DEV_ENABLED`.
pub const CMDSTS_ERR_DEV_ENABLED: u8 = 0x10;
/// `IDXD_CMDSTS_ERR_BUSMASTER_EN`.
pub const CMDSTS_ERR_BUSMASTER_EN: u8 = 0x12;
/// `IDXD_CMDSTS_ERR_WQ_SIZE_ERANGE`.
pub const CMDSTS_ERR_WQ_SIZE_ERANGE: u8 = 0x14;
/// `IDXD_CMDSTS_ERR_DEV_NOTEN`.
pub const CMDSTS_ERR_DEV_NOTEN: u8 = 0x20;
/// `IDXD_CMDSTS_ERR_WQ_ENABLED`.
pub const CMDSTS_ERR_WQ_ENABLED: u8 = 0x21;
/// `IDXD_CMDSTS_ERR_WQ_SIZE`.
pub const CMDSTS_ERR_WQ_SIZE: u8 = 0x22;
/// `IDXD_CMDSTS_ERR_WQ_PRIOR`.
pub const CMDSTS_ERR_WQ_PRIOR: u8 = 0x23;
/// `IDXD_CMDSTS_ERR_WQ_MODE`.
pub const CMDSTS_ERR_WQ_MODE: u8 = 0x24;
/// `IDXD_CMDSTS_ERR_BOF_EN`.
pub const CMDSTS_ERR_BOF_EN: u8 = 0x25;
/// `IDXD_CMDSTS_ERR_PASID_EN`.
pub const CMDSTS_ERR_PASID_EN: u8 = 0x26;
/// `IDXD_CMDSTS_ERR_MAX_BATCH_SIZE`.
pub const CMDSTS_ERR_MAX_BATCH_SIZE: u8 = 0x27;
/// `IDXD_CMDSTS_ERR_MAX_XFER_SIZE`.
pub const CMDSTS_ERR_MAX_XFER_SIZE: u8 = 0x28;
/// `IDXD_CMDSTS_ERR_DIS_DEV_EN`: disable device while it is not enabled.
pub const CMDSTS_ERR_DIS_DEV_EN: u8 = 0x31;
/// `IDXD_CMDSTS_ERR_DEV_NOT_EN`: a WQ command while the device is disabled.
pub const CMDSTS_ERR_DEV_NOT_EN: u8 = 0x32;

// `union sw_err_reg` fields (first quadword unless noted).

/// `sw_err_reg.valid`.
#[cfg(not(MODULE))]
pub const SWERR_VALID: u64 = 1 << 0;
/// `sw_err_reg.overflow`.
#[cfg(not(MODULE))]
pub const SWERR_OVERFLOW: u64 = 1 << 1;
/// `sw_err_reg.desc_valid`.
#[cfg(test)]
pub const SWERR_DESC_VALID: u64 = 1 << 2;
/// `sw_err_reg.wq_idx_valid`.
#[cfg(test)]
pub const SWERR_WQ_IDX_VALID: u64 = 1 << 3;
/// `sw_err_reg.batch`.
#[cfg(test)]
pub const SWERR_BATCH: u64 = 1 << 4;
/// `sw_err_reg.fault_rw`: the fault was a write.
#[cfg(test)]
pub const SWERR_FAULT_RW: u64 = 1 << 5;
/// `sw_err_reg.error` position (8 bits).
#[cfg(not(MODULE))]
pub const SWERR_ERROR_SHIFT: u32 = 8;
/// `sw_err_reg.wq_idx` position (8 bits).
#[cfg(not(MODULE))]
pub const SWERR_WQ_IDX_SHIFT: u32 = 16;
/// `sw_err_reg.operation` position (8 bits).
#[cfg(test)]
pub const SWERR_OPERATION_SHIFT: u32 = 32;
/// `IDXD_SWERR_ACK`: the bits software writes back to clear.
#[cfg(not(MODULE))]
pub const SWERR_ACK: u64 = SWERR_VALID | SWERR_OVERFLOW;

// `union wqcfg`: 32-bit words and fields.

/// `wqcfg.mode` (word 2): 1 is dedicated.
#[cfg(not(MODULE))]
pub const WQCFG_MODE_DEDICATED: u32 = 1 << 0;
/// `wqcfg.bof` (word 2).
#[cfg(test)]
pub const WQCFG_BOF: u32 = 1 << 1;
/// `wqcfg.priority` (word 2) position (4 bits).
#[cfg(not(MODULE))]
pub const WQCFG_PRIORITY_SHIFT: u32 = 4;
/// `wqcfg.pasid_en` (word 2).
#[cfg(test)]
pub const WQCFG_PASID_EN: u32 = 1 << 28;
/// `wqcfg.max_batch_shift` (word 3) position (4 bits).
#[cfg(not(MODULE))]
pub const WQCFG_MAX_BATCH_SHIFT: u32 = 5;
/// `wqcfg.mode_support` (word 6).
#[cfg(test)]
pub const WQCFG_MODE_SUPPORT: u32 = 1 << 29;
/// `wqcfg.wq_state` (word 6) position (2 bits): 1 is enabled.
#[cfg(test)]
pub const WQCFG_STATE_SHIFT: u32 = 30;

// Descriptor flags (`IDXD_OP_FLAG_*`).

/// `IDXD_OP_FLAG_FENCE`.
pub const OP_FLAG_FENCE: u32 = 0x0001;
/// `IDXD_OP_FLAG_BOF`.
pub const OP_FLAG_BOF: u32 = 0x0002;
/// `IDXD_OP_FLAG_CRAV`: the completion record address is valid.
pub const OP_FLAG_CRAV: u32 = 0x0004;
/// `IDXD_OP_FLAG_RCR`: request a completion record.
pub const OP_FLAG_RCR: u32 = 0x0008;
/// `IDXD_OP_FLAG_RCI`: request a completion interrupt.
pub const OP_FLAG_RCI: u32 = 0x0010;
/// `IDXD_OP_FLAG_CRSTS`.
pub const OP_FLAG_CRSTS: u32 = 0x0020;
/// `IDXD_OP_FLAG_CR`: check the result against `expected_res`.
pub const OP_FLAG_CR: u32 = 0x0080;
/// `IDXD_OP_FLAG_CC`: cache control.
pub const OP_FLAG_CC: u32 = 0x0100;
/// `IDXD_OP_FLAG_ADDR1_TCS` .. `IDXD_OP_FLAG_CR_TCS`: traffic classes.
pub const OP_FLAG_TCS: u32 = 0x1e00;
/// `IDXD_OP_FLAG_STORD`.
pub const OP_FLAG_STORD: u32 = 0x2000;
/// `IDXD_OP_FLAG_DRDBK`.
pub const OP_FLAG_DRDBK: u32 = 0x4000;
/// `IDXD_OP_FLAG_DSTS`.
pub const OP_FLAG_DSTS: u32 = 0x8000;

// Opcodes (`enum dsa_opcode`).

/// `DSA_OPCODE_NOOP`.
pub const OPCODE_NOOP: u8 = 0x00;
/// `DSA_OPCODE_BATCH`.
pub const OPCODE_BATCH: u8 = 0x01;
/// `DSA_OPCODE_DRAIN`.
pub const OPCODE_DRAIN: u8 = 0x02;
/// `DSA_OPCODE_MEMMOVE`.
pub const OPCODE_MEMMOVE: u8 = 0x03;
/// `DSA_OPCODE_MEMFILL`.
pub const OPCODE_MEMFILL: u8 = 0x04;
/// `DSA_OPCODE_COMPARE`.
pub const OPCODE_COMPARE: u8 = 0x05;
/// `DSA_OPCODE_COMPVAL`.
pub const OPCODE_COMPVAL: u8 = 0x06;
/// `DSA_OPCODE_DUALCAST`.
pub const OPCODE_DUALCAST: u8 = 0x09;
/// `DSA_OPCODE_CRCGEN`.
pub const OPCODE_CRCGEN: u8 = 0x10;
/// `DSA_OPCODE_COPY_CRC`.
pub const OPCODE_COPY_CRC: u8 = 0x11;

// Completion status codes (`enum dsa_completion_status`).

/// `DSA_COMP_NONE`.
#[cfg(test)]
pub const COMP_NONE: u8 = 0x00;
/// `DSA_COMP_SUCCESS`.
pub const COMP_SUCCESS: u8 = 0x01;
/// `DSA_COMP_SUCCESS_PRED`: success, but the result check failed.
pub const COMP_SUCCESS_PRED: u8 = 0x02;
/// `DSA_COMP_PAGE_FAULT_NOBOF`.
pub const COMP_PAGE_FAULT_NOBOF: u8 = 0x03;
/// `DSA_COMP_BATCH_FAIL`.
pub const COMP_BATCH_FAIL: u8 = 0x05;
/// `DSA_COMP_BATCH_PAGE_FAULT`.
pub const COMP_BATCH_PAGE_FAULT: u8 = 0x06;
/// `DSA_COMP_BAD_OPCODE`.
pub const COMP_BAD_OPCODE: u8 = 0x10;
/// `DSA_COMP_INVALID_FLAGS`.
pub const COMP_INVALID_FLAGS: u8 = 0x11;
/// `DSA_COMP_NOZERO_RESERVE`.
pub const COMP_NOZERO_RESERVE: u8 = 0x12;
/// `DSA_COMP_XFER_ERANGE`.
pub const COMP_XFER_ERANGE: u8 = 0x13;
/// `DSA_COMP_DESC_CNT_ERANGE`.
pub const COMP_DESC_CNT_ERANGE: u8 = 0x14;
/// `DSA_COMP_OVERLAP_BUFFERS`.
pub const COMP_OVERLAP_BUFFERS: u8 = 0x16;
/// `DSA_COMP_DCAST_ERR`.
pub const COMP_DCAST_ERR: u8 = 0x17;
/// `DSA_COMP_DESCLIST_ALIGN`.
pub const COMP_DESCLIST_ALIGN: u8 = 0x18;
/// `DSA_COMP_INT_HANDLE_INVAL`.
pub const COMP_INT_HANDLE_INVAL: u8 = 0x19;
/// `DSA_COMP_CRA_XLAT`: the completion record address does not translate.
pub const COMP_CRA_XLAT: u8 = 0x1a;
/// `DSA_COMP_CRA_ALIGN`: the completion record address is misaligned.
pub const COMP_CRA_ALIGN: u8 = 0x1b;

/// Not in the headers: the SWERR `error` code this device reports for a
/// descriptor written to the portal of a WQ that is not enabled (the
/// descriptor is dropped). Documented in `Documentation/dsa_mdev.rst`.
pub const SWERR_WQ_NOT_ENABLED: u8 = 0x30;
