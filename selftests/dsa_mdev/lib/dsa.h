/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Programming a DSA device through its VFIO device fd, for the samples and
 * the selftests: its registers, device commands, WQ configuration and
 * descriptor submission.
 *
 * The register map is the kernel's own, drivers/dma/idxd/registers.h,
 * taken as tools/testing/selftests/vfio/lib/drivers/dsa/dsa.c takes it:
 * tools/include comes first on the include path, and its <linux/types.h>
 * gives the kernel-internal header the u8 to u64 it uses.  The Makefiles
 * add $(top_srcdir)/tools/include and $(top_srcdir)/drivers/dma (the
 * kernel source in the dsa_mdev checkout, the tree itself in a kernel
 * tree).  The descriptors and completion records are those of
 * <linux/idxd.h>, which registers.h includes.
 *
 * dsa_mdev's BARs cannot be mmap()ed: registers and portals are accessed
 * with pread() and pwrite() of the device fd.  The host is little-endian
 * (x86-64), as the device is.  Every function that can fail returns a
 * negative errno and neither prints nor exits; those of several steps
 * also describe the step that failed in @err.
 */
#ifndef DSA_MDEV_LIB_DSA_H
#define DSA_MDEV_LIB_DSA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/types.h>	/* tools/include's: u8, u16, u32, u64 */

#ifndef PAGE_SIZE
#define PAGE_SIZE		4096	/* IDXD_PORTAL_SIZE: x86 pages */
#endif
#include "idxd/registers.h"

/* The bits of register union @type with the named fields set. */
#define DSA_REG(type, ...)	(((union type){ __VA_ARGS__ }).bits)
/* 32-bit word @w of a WQCFG entry (union wqcfg) with the named fields set. */
#define WQCFG_WORD(w, ...)	(((union wqcfg){ __VA_ARGS__ }).bits[w])
/*
 * The operand of DISABLE_WQ, DRAIN_WQ, ABORT_WQ and RESET_WQ for WQ @wq:
 * bits 15:0 a mask of 16 WQs, bits 19:16 which 16.
 */
#define DSA_WQ_MASK(wq)		(1U << ((wq) % 16) | ((wq) / 16) << 16)

/* Where a DSA device's regions are in its VFIO device fd. */
struct dsa_mmio {
	int fd;
	uint64_t bar0;		/* the registers (IDXD_MMIO_BAR) */
	uint64_t bar2;		/* the WQ portals (IDXD_WQ_BAR) */
	uint64_t config;	/* the PCI configuration space */
};

/* @m for device fd @fd, from VFIO_DEVICE_GET_REGION_INFO.  0 or -errno. */
int dsa_mmio_init(struct dsa_mmio *m, int fd);

/*
 * Read or write @len bytes at BAR0 offset @reg (reads of 1, 2, 4 or 8
 * bytes, writes of 4 or 8, naturally aligned).  0, -errno, or -EIO for a
 * short transfer.
 */
int dsa_read(const struct dsa_mmio *m, uint64_t reg, void *v, size_t len);
int dsa_write(const struct dsa_mmio *m, uint64_t reg, const void *v, size_t len);

/* The CMD register for @cmd with @operand; @int_req asks for an interrupt. */
static inline uint32_t dsa_cmd_reg(uint32_t cmd, uint32_t operand, bool int_req)
{
	union idxd_command_reg r = { .operand = operand, .cmd = cmd, .int_req = int_req };

	return r.bits;
}

/* The name of an enum idxd_cmd command ("ENABLE_WQ"), for messages. */
const char *dsa_cmd_name(uint32_t cmd);
/*
 * Device command @cmd with @operand: write CMD, then read CMDSTS until it
 * is no longer active, for at most @timeout_ms (0: read it once, as the
 * selftests do: dsa_mdev completes a command before the write to CMD
 * returns).  *@cmdsts gets the CMDSTS read last.  Returns 0 once the
 * command completed (*@cmdsts & IDXD_CMDSTS_ERR_MASK is 0 for a success,
 * else enum idxd_cmdsts_err), -ETIMEDOUT if it was still active, or the
 * -errno of a failed access.
 */
int dsa_command(const struct dsa_mmio *m, uint32_t cmd, uint32_t operand, int timeout_ms,
		uint32_t *cmdsts);

/*
 * Submit @desc: its 64 bytes written at once to the portal at BAR2 offset
 * @portal (MOVDIR64B on hardware, one pwrite() here).  0, -errno, or -EIO.
 */
int dsa_submit(const struct dsa_mmio *m, uint64_t portal, const struct dsa_hw_desc *desc);

/* What the capability registers say, as dsa.c caches them. */
struct dsa_caps {
	union gen_cap_reg gen_cap;
	union wq_cap_reg wq_cap;
	union group_cap_reg group_cap;
	union engine_cap_reg engine_cap;
	union offsets_reg table;
	uint64_t grpcfg;		/* BAR0 offset of the GRPCFG table */
	uint64_t wqcfg;			/* BAR0 offset of the WQCFG table */
	unsigned int wqcfg_size;	/* bytes of one WQCFG entry */
};

/* Read the capability registers of @m into @c.  0 or -errno. */
int dsa_read_caps(const struct dsa_mmio *m, struct dsa_caps *c);
/*
 * The WQCFG entry dsa.c's dsa_wq_init() writes: a dedicated WQ of
 * priority 1 with @wq_size entries, the device's own transfer and batch
 * limits, and the operations MEMMOVE and BATCH.
 */
union wqcfg dsa_wqcfg_dedicated(const struct dsa_caps *c, unsigned int wq_size);
/*
 * Write or read WQ @wq's WQCFG entry whole, a 32-bit word at a time (up to
 * the 64 bytes of union wqcfg; the rest of a larger entry reads as 0).
 * 0 or -errno.
 */
int dsa_wqcfg_write(const struct dsa_mmio *m, const struct dsa_caps *c, unsigned int wq,
		    const union wqcfg *cfg);
int dsa_wqcfg_read(const struct dsa_mmio *m, const struct dsa_caps *c, unsigned int wq,
		   union wqcfg *cfg);

/*
 * Start from a known state, as dsa.c's dsa_init() does: memory decoding,
 * bus mastering (without it ENABLE_DEVICE fails) and INTx disabled in the
 * config space, RESET_DEVICE, then the capabilities into @c.  0, or -errno
 * with the failed step in @err.
 */
int dsa_reset(const struct dsa_mmio *m, int timeout_ms, struct dsa_caps *c, char *err,
	      size_t size);
/*
 * Configure WQs 0 to @wqs - 1 as dsa_wqcfg_dedicated() with an equal share
 * of the device's WQ entries, enable the device, then each WQ.  0, or
 * -errno with the failed step in @err.
 */
int dsa_enable_wqs(const struct dsa_mmio *m, const struct dsa_caps *c, unsigned int wqs,
		   int timeout_ms, char *err, size_t size);

#endif /* DSA_MDEV_LIB_DSA_H */
