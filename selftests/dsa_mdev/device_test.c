// SPDX-License-Identifier: GPL-2.0
/*
 * dsa_mdev device tests: an open dsa_mdev device is a VFIO PCI function
 * speaking the Intel DSA programming interface.  These tests drive it the
 * way a user-space DSA driver does, through both VFIO open paths (the
 * iommufd cdev and the group in a type1 container, one fixture variant
 * each), and check what the driver's model defines (rust/logic/pci.rs,
 * model.rs, engine.rs; rust/hw.rs maps them onto VFIO):
 *
 *   - device, region and interrupt information;
 *   - region access rules (pread/pwrite at VFIO_PCI_INDEX_TO_OFFSET());
 *   - PCI configuration space: header, MSI-X capability, BAR sizing,
 *     writable and read-only bits;
 *   - BAR0: access sizes, capability registers (WQCAP shows exactly
 *     base x aggregator WQs), commands and their error statuses;
 *   - BAR2 portals: every DSA opcode the device supports, batches, every
 *     class of descriptor error, completion records, software errors;
 *   - MSI-X vectors as eventfds (VFIO_DEVICE_SET_IRQS);
 *   - VFIO_DEVICE_RESET, close and reopen, two devices side by side.
 *
 * Descriptor and completion record layouts, opcodes, flags and status codes
 * are those of <linux/idxd.h>; register offsets and fields those of the
 * kernel's drivers/dma/idxd/registers.h, which lib/dsa.h includes (it is
 * not uapi); the helpers this file shares with migration_test.c are in
 * dsa_mdev_dev.h.
 *
 * Execution is synchronous in dsa_mdev: a descriptor has run, its record
 * is written and its interrupt signalled when the pwrite() to the portal
 * returns.  So "no interrupt" is checked with a poll() timeout of 0, and
 * expected interrupts with a timeout, as hardware would need.
 *
 * Each test loads the module (parents=1 wqs=64) and creates a dsa-2dwq
 * device in its setup; the teardown, in the parent process, unloads it.
 * The test itself opens the device and maps its DMA space (dev_open()), so
 * that a failure there still gets the teardown.  The host is little-endian
 * (x86-64), as the device is.
 *
 * Note: ASSERT_*() and EXPECT_*() expand to two statements (the check and
 * the optional TH_LOG handler), so an if or for around one needs braces.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/idxd.h>
#include <linux/pci_regs.h>
#include <linux/vfio.h>

#include "kselftest_harness.h"
#include "dsa_mdev_util.h"
#include "dsa_mdev_vfio.h"
#include "dsa_mdev_dev.h"
#include "dsa_mdev_mig.h"

#define WQS		64
#define BASE		2
#define MODULE_PARAMS	"parents=1 wqs=64"
#define TIMEOUT		120	/* per test, seconds: KASAN under TCG is slow */

/* --- what dsa_mdev's model defines (rust/logic/model.rs, engine.rs) ----- */

/*
 * Not in the headers: the SWERR error code for a descriptor written to the
 * portal of a disabled WQ (rust/logic/idxd.rs SWERR_WQ_NOT_ENABLED).
 */
#define SWERR_WQ_NOT_ENABLED	0x30

#define OPCAP0	(1ULL << DSA_OPCODE_NOOP | 1ULL << DSA_OPCODE_BATCH |		\
		 1ULL << DSA_OPCODE_DRAIN | 1ULL << DSA_OPCODE_MEMMOVE |	\
		 1ULL << DSA_OPCODE_MEMFILL | 1ULL << DSA_OPCODE_COMPARE |	\
		 1ULL << DSA_OPCODE_COMPVAL | 1ULL << DSA_OPCODE_DUALCAST |	\
		 1ULL << DSA_OPCODE_CRCGEN | 1ULL << DSA_OPCODE_COPY_CRC)

/* The PCI identity (rust/logic/pci.rs). */
#define DSA_VENDOR_ID		0x1b36
#define DSA_DEVICE_ID		0x10d5
#define DSA_REVISION		0x01
#define DSA_CLASS		0x088000
#define CMD_WRITABLE	(PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_INTX_DISABLE)

/* --- the DMA space every test maps ------------------------------------- */

/* At IOVA (dsa_mdev_dev.h), as dev_open() maps it. */
#define MEM_SIZE	(32 * PAGE)		/* read-write */
#define RO_SIZE		(2 * PAGE)		/* read-only, right after */
#define IOVA_RO		(IOVA + MEM_SIZE)
#define IOVA_HOLE	(IOVA_RO + RO_SIZE)	/* unmapped from here on */

/* Offsets in the read-write memory, after the 128 records at CR_OFF. */
#define LIST_OFF	0x1000	/* batch descriptor lists: two pages */
#define SRC_OFF		0x4000	/* eight pages */
#define DST_OFF		0xc000	/* eight pages */
#define DST2_OFF	0x14000	/* eight pages; four more up to the read-only ones */

/* --- helpers ------------------------------------------------------------ */

static uint64_t wqcap_for(unsigned int wqs)
{
	uint64_t total = (uint64_t)wqs * WQ_ENTRIES_PER_WQ;

	/* Not in registers.h: the whole WQ count from bit 36 (model/registers.rs). */
	return DSA_REG(wq_cap_reg, .total_wq_size = total < 0xffff ? total : 0xffff,
		       .num_wqs = wqs < 255 ? wqs : 255, .wqcfg_size = 1, .dedicated_mode = 1,
		       .priority = 1, .op_config = 1) |
	       (uint64_t)wqs << 36;
}

/* WQCAP, read now, for its fields. */
#define WQCAP(d)	((union wq_cap_reg){ .bits = R64(d, IDXD_WQCAP_OFFSET) })

/*
 * Open the device @uuid (which has @wqs WQs) by the variant's path and map
 * the test's DMA space: MEM_SIZE zeroed bytes at IOVA, then RO_SIZE bytes
 * of fill(…, 99) mapped read-only, then nothing.
 */
static void dev_open(struct __test_metadata *_metadata, struct dev *d, bool via_group,
		     const char *uuid, unsigned int wqs)
{
	memset(d, 0, sizeof(*d));
	snprintf(d->uuid, sizeof(d->uuid), "%s", uuid);
	d->wqs = wqs;
	dev_open_mapped(_metadata, d, via_group, MEM_SIZE, RO_SIZE);
}

#define RUN(d, desc)	run_on(_metadata, d, 0, desc, 0)

/* The record says @status and nothing else. */
static void assert_only_status(struct __test_metadata *_metadata,
			       const struct dsa_completion_record *cr, uint8_t status)
{
	static const uint8_t zero[31];

	ASSERT_X(status, cr->status);
	ASSERT_EQ(0, memcmp((const uint8_t *)cr + 1, zero, sizeof(zero)));
}

static void assert_filled(struct __test_metadata *_metadata, const char *what,
			  const void *buf, int byte, size_t len)
{
	const uint8_t *p = buf;
	size_t i;

	for (i = 0; i < len && p[i] == (uint8_t)byte; i++)
		;
	ASSERT_EQ(len, i) TH_LOG("%s: byte %#zx is %#x, expected %#x", what, i, p[i], byte);
}

/* --- interrupts --------------------------------------------------------- */

#define FIRED(fd)	signalled(fd, 1000)
#define QUIET(fd)	signalled(fd, 0)

static int fire(struct dev *d, uint32_t start, uint32_t count)
{
	return set_irqs(d, TRIGGER(NONE), MSIX, start, count, NULL, 0);
}

/* --- the configuration space the model resets to (pci.rs) -------------- */

static void put16(uint8_t *c, int at, uint16_t v)
{
	memcpy(c + at, &v, 2);
}

static void put32(uint8_t *c, int at, uint32_t v)
{
	memcpy(c + at, &v, 4);
}

static void config_image(const struct layout *l, uint8_t c[256])
{
	memset(c, 0, 256);
	put16(c, PCI_VENDOR_ID, DSA_VENDOR_ID);
	put16(c, PCI_DEVICE_ID, DSA_DEVICE_ID);
	put16(c, PCI_STATUS, PCI_STATUS_CAP_LIST);
	c[PCI_REVISION_ID] = DSA_REVISION;
	c[PCI_CLASS_PROG] = DSA_CLASS & 0xff;
	put16(c, PCI_CLASS_DEVICE, DSA_CLASS >> 8);
	put32(c, PCI_BASE_ADDRESS_0, PCI_BASE_ADDRESS_MEM_TYPE_64);
	put32(c, PCI_BASE_ADDRESS_2,
	      PCI_BASE_ADDRESS_MEM_TYPE_64 | PCI_BASE_ADDRESS_MEM_PREFETCH);
	put16(c, PCI_SUBSYSTEM_VENDOR_ID, DSA_VENDOR_ID);
	put16(c, PCI_SUBSYSTEM_ID, DSA_DEVICE_ID);
	c[PCI_CAPABILITY_LIST] = MSIX_CAP;
	c[MSIX_CAP + PCI_CAP_LIST_ID] = PCI_CAP_ID_MSIX;
	c[MSIX_CAP + PCI_CAP_LIST_NEXT] = 0;
	put16(c, MSIX_CAP + PCI_MSIX_FLAGS, l->vectors - 1);
	put32(c, MSIX_CAP + PCI_MSIX_TABLE, l->msix_table);	/* BIR 0 */
	put32(c, MSIX_CAP + PCI_MSIX_PBA, l->msix_pba);		/* BIR 0 */
}

/* A BAR's low dword after @v was written to it. */
static uint32_t bar_after(uint32_t v, uint64_t size, uint32_t flags)
{
	return (v & ~(uint32_t)(size - 1) & ~0xfU) | flags;
}

/* --- fixture ------------------------------------------------------------ */

FIXTURE(dsa) {
	int baseline_devices;
	char uuid[DSA_UUID_LEN + 1];	/* a dsa-2dwq device */
};

FIXTURE_VARIANT(dsa) {
	bool via_group;
};

FIXTURE_VARIANT_ADD(dsa, cdev) {
	.via_group = false,
};

FIXTURE_VARIANT_ADD(dsa, group) {
	.via_group = true,
};

/* Skip, or load the module and create the device. */
FIXTURE_SETUP(dsa)
{
	env_setup_device(_metadata, MODULE_PARAMS, &self->baseline_devices, BASE, 1, self->uuid);
}

/* In the parent: the test's process, and so its VFIO fds, are gone by then. */
FIXTURE_TEARDOWN_PARENT(dsa)
{
	env_teardown(_metadata, self->baseline_devices);
}

#define OPEN(d)	dev_open(_metadata, d, variant->via_group, self->uuid, BASE)

/* --- device, region and interrupt information -------------------------- */

TEST_F_TIMEOUT(dsa, device_and_irq_info, TIMEOUT)
{
	struct vfio_device_info info = { .argsz = sizeof(info) };
	struct dev dv, *d = &dv;
	unsigned int i;

	OPEN(d);
	ASSERT_EQ(0, ioctl(d->fd, VFIO_DEVICE_GET_INFO, &info))
		TH_LOG("VFIO_DEVICE_GET_INFO: %s", strerror(errno));
	ASSERT_X(VFIO_DEVICE_FLAGS_PCI | VFIO_DEVICE_FLAGS_RESET, info.flags);
	ASSERT_X(9, info.num_regions);
	ASSERT_X(5, info.num_irqs);

	/* MSI-X only: 1 + min(wqs, 63) vectors, as many as the MSI-X table. */
	for (i = 0; i < 5; i++) {
		struct vfio_irq_info irq = { .argsz = sizeof(irq), .index = i };

		ASSERT_EQ(0, ioctl(d->fd, VFIO_DEVICE_GET_IRQ_INFO, &irq)) TH_LOG("index %u", i);
		ASSERT_X(i, irq.index);
		if (i == VFIO_PCI_MSIX_IRQ_INDEX) {
			ASSERT_X(VFIO_IRQ_INFO_EVENTFD | VFIO_IRQ_INFO_NORESIZE, irq.flags);
			ASSERT_X(1 + BASE, irq.count);
		} else {
			ASSERT_XM(0, irq.flags, "index %u", i);
			ASSERT_XM(0, irq.count, "index %u", i);
		}
	}
	for (i = 5; i < 7; i++) {
		struct vfio_irq_info irq = { .argsz = sizeof(irq), .index = i };

		ASSERT_EQ(-1, ioctl(d->fd, VFIO_DEVICE_GET_IRQ_INFO, &irq));
		ASSERT_EQ(EINVAL, errno);
	}
	{
		struct vfio_irq_info irq = { .argsz = sizeof(irq), .index = UINT32_MAX };

		ASSERT_EQ(-1, ioctl(d->fd, VFIO_DEVICE_GET_IRQ_INFO, &irq));
		ASSERT_EQ(EINVAL, errno);
	}
}

TEST_F_TIMEOUT(dsa, region_info, TIMEOUT)
{
	struct dev dv, *d = &dv;
	unsigned int i;

	OPEN(d);
	for (i = 0; i < 9; i++) {
		struct vfio_region_info info = { .argsz = sizeof(info), .index = i };
		uint64_t size = 0;
		uint32_t flags = 0;

		if (i == BAR0)
			size = d->l.bar0_size;
		else if (i == BAR2)
			size = d->l.bar2_size;
		else if (i == CONFIG)
			size = 256;
		if (size)
			flags = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE;

		ASSERT_EQ(0, ioctl(d->fd, VFIO_DEVICE_GET_REGION_INFO, &info))
			TH_LOG("VFIO_DEVICE_GET_REGION_INFO %u: %s", i, strerror(errno));
		ASSERT_X(i, info.index);
		ASSERT_XM(size, info.size, "region %u", i);
		ASSERT_XM(flags, info.flags, "region %u", i);
		if (size) {
			ASSERT_XM(region_offset(i), info.offset, "region %u", i);
		}
	}
	ASSERT_X(0x4000, d->l.bar0_size);	/* the layout this file assumes */
	ASSERT_X(0x8000, d->l.bar2_size);
	for (i = 9; i < 12; i++) {
		struct vfio_region_info info = { .argsz = sizeof(info), .index = i };

		ASSERT_EQ(-1, ioctl(d->fd, VFIO_DEVICE_GET_REGION_INFO, &info));
		ASSERT_EQ(EINVAL, errno);
	}
}

/* --- region access rules ---------------------------------------------- */

TEST_F_TIMEOUT(dsa, region_access_bounds, TIMEOUT)
{
	static const unsigned int absent[] = { 1, 3, 4, 5, 6, 8 };
	struct dev dv, *d = &dv;
	uint8_t buf[512];
	unsigned int i;

	OPEN(d);
	memset(buf, 0, sizeof(buf));

	/* BAR0: up to its last byte. */
	ASSERT_EQ(8, rd(d, BAR0, d->l.bar0_size - 8, buf, 8));
	ASSERT_EQ(-EINVAL, rd(d, BAR0, d->l.bar0_size - 4, buf, 8));
	ASSERT_EQ(-EINVAL, rd(d, BAR0, d->l.bar0_size, buf, 4));
	ASSERT_EQ(-EINVAL, wr(d, BAR0, d->l.bar0_size, buf, 4));
	ASSERT_EQ(-EINVAL, rd(d, BAR0, (1ULL << 40) - 8, buf, 8));

	/* Config space: 256 bytes, any access within them. */
	ASSERT_EQ(256, rd(d, CONFIG, 0, buf, 256));
	ASSERT_EQ(2, rd(d, CONFIG, 254, buf, 2));
	ASSERT_EQ(-EINVAL, rd(d, CONFIG, 254, buf, 4));
	ASSERT_EQ(-EINVAL, rd(d, CONFIG, 256, buf, 1));
	ASSERT_EQ(-EINVAL, rd(d, CONFIG, 0, buf, 257));
	ASSERT_EQ(-EINVAL, wr(d, CONFIG, 255, buf, 2));
	ASSERT_EQ(-EINVAL, wr(d, CONFIG, 4096, buf, 4));

	/*
	 * BAR2: write-only; 64 bytes at 64-byte offsets, or naturally
	 * aligned 4- and 8-byte pieces (portal_pieces).
	 */
	ASSERT_EQ(-EINVAL, rd(d, BAR2, 0, buf, 8));
	ASSERT_EQ(-EINVAL, rd(d, BAR2, 0, buf, 64));
	ASSERT_EQ(-EINVAL, rd(d, BAR2, 64, buf, 4));
	ASSERT_EQ(-EINVAL, wr(d, BAR2, 0, buf, 32));
	ASSERT_EQ(-EINVAL, wr(d, BAR2, 0, buf, 16));
	ASSERT_EQ(-EINVAL, wr(d, BAR2, 0, buf, 2));
	ASSERT_EQ(-EINVAL, wr(d, BAR2, 4, buf, 8));
	ASSERT_EQ(-EINVAL, wr(d, BAR2, 2, buf, 4));
	ASSERT_EQ(-EINVAL, wr(d, BAR2, 0, buf, 128));
	ASSERT_EQ(-EINVAL, wr(d, BAR2, 32, buf, 64));
	ASSERT_EQ(-EINVAL, wr(d, BAR2, 4096 + 8, buf, 64));
	ASSERT_EQ(-EINVAL, wr(d, BAR2, d->l.bar2_size - 32, buf, 64));
	ASSERT_EQ(-EINVAL, wr(d, BAR2, d->l.bar2_size, buf, 64));
	/* None of these was taken as a submission (which would set SWERR). */
	assert_swerr(_metadata, d, 0, 0, 0);
	ASSERT_X(0, R32(d, IDXD_INTCAUSE_OFFSET));

	/* Absent regions and indexes past the last. */
	for (i = 0; i < ARRAY_SIZE(absent); i++) {
		ASSERT_EQ(-EINVAL, rd(d, absent[i], 0, buf, 1)) TH_LOG("region %u", absent[i]);
		ASSERT_EQ(-EINVAL, rd(d, absent[i], 0, buf, 4)) TH_LOG("region %u", absent[i]);
		ASSERT_EQ(-EINVAL, wr(d, absent[i], 0, buf, 4)) TH_LOG("region %u", absent[i]);
	}
	for (i = 9; i < 12; i++) {
		ASSERT_EQ(-EINVAL, rd(d, i, 0, buf, 4)) TH_LOG("region %u", i);
		ASSERT_EQ(-EINVAL, wr(d, i, 0, buf, 4)) TH_LOG("region %u", i);
	}
	ASSERT_EQ(-EINVAL, rd(d, 0x7fffff, 0, buf, 4));
}

/* --- configuration space ------------------------------------------------ */

TEST_F_TIMEOUT(dsa, config_space_reads, TIMEOUT)
{
	static const size_t sizes[] = { 1, 2, 3, 4, 5, 7, 8, 16, 64 };
	uint8_t cfg[256], want[256], part[64];
	struct dev dv, *d = &dv;
	size_t i, j;

	OPEN(d);
	config_image(&d->l, want);
	ASSERT_EQ(256, rd(d, CONFIG, 0, cfg, 256));
	assert_same(_metadata, "config space", want, cfg, 256);

	/* The fields one by one, as a PCI driver reads them. */
	ASSERT_X(DSA_VENDOR_ID, CFG_R(d, PCI_VENDOR_ID, 2));
	ASSERT_X(DSA_DEVICE_ID, CFG_R(d, PCI_DEVICE_ID, 2));
	ASSERT_X(DSA_CLASS << 8 | DSA_REVISION, CFG_R(d, PCI_CLASS_REVISION, 4));
	ASSERT_X(PCI_HEADER_TYPE_NORMAL, CFG_R(d, PCI_HEADER_TYPE, 1));
	ASSERT_X(0, CFG_R(d, PCI_INTERRUPT_PIN, 1));	/* no INTx */
	ASSERT_X(MSIX_CAP, CFG_R(d, PCI_CAPABILITY_LIST, 1));
	ASSERT_X(PCI_CAP_ID_MSIX, CFG_R(d, MSIX_CAP, 1));
	ASSERT_X(d->l.vectors - 1, CFG_R(d, MSIX_CAP + PCI_MSIX_FLAGS, 2) & PCI_MSIX_FLAGS_QSIZE);
	ASSERT_X(1 + BASE, d->l.vectors);
	ASSERT_X(d->l.msix_table, CFG_R(d, MSIX_CAP + PCI_MSIX_TABLE, 4));
	ASSERT_X(d->l.msix_pba, CFG_R(d, MSIX_CAP + PCI_MSIX_PBA, 4));
	ASSERT_X(0, CFG_R(d, PCI_BASE_ADDRESS_4, 4));

	/* Any size at any offset reads the same bytes. */
	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		size_t offs[] = { 0, 1, 3, 0x09, 0x3d, MSIX_CAP + 1, 256 - sizes[i] };

		for (j = 0; j < ARRAY_SIZE(offs); j++) {
			ASSERT_EQ((ssize_t)sizes[i], rd(d, CONFIG, offs[j], part, sizes[i]));
			assert_same(_metadata, "partial read", cfg + offs[j], part, sizes[i]);
		}
	}
}

TEST_F_TIMEOUT(dsa, config_space_writes, TIMEOUT)
{
	uint8_t cfg[256], want[256], ones[256];
	struct dev dv, *d = &dv;
	uint32_t mem64 = PCI_BASE_ADDRESS_MEM_TYPE_64;
	uint32_t pref64 = mem64 | PCI_BASE_ADDRESS_MEM_PREFETCH;

	OPEN(d);
	config_image(&d->l, want);

	/* Read-only fields stay. */
	CFG_W(d, PCI_VENDOR_ID, 0, 4);
	CFG_W(d, PCI_CLASS_REVISION, 0xffffffff, 4);
	CFG_W(d, PCI_CAPABILITY_LIST, 0x80, 1);
	CFG_W(d, MSIX_CAP, 0x0000, 2);
	CFG_W(d, MSIX_CAP + PCI_MSIX_TABLE, 0xffffffffffffffffULL, 8);
	CFG_W(d, PCI_STATUS, 0xffff, 2);
	CFG_W(d, PCI_BASE_ADDRESS_4, 0xffffffff, 4);
	ASSERT_EQ(256, rd(d, CONFIG, 0, cfg, 256));
	assert_same(_metadata, "after writes to read-only fields", want, cfg, 256);

	/* Only memory, bus master and INTx disable of the command register. */
	CFG_W(d, PCI_COMMAND, 0xffff, 2);
	ASSERT_X(CMD_WRITABLE, CFG_R(d, PCI_COMMAND, 2));
	ASSERT_X(0x0406, CMD_WRITABLE);
	CFG_W(d, PCI_COMMAND, 0, 2);
	ASSERT_X(0, CFG_R(d, PCI_COMMAND, 2));
	/* A dword over command and status: status stays. */
	CFG_W(d, PCI_COMMAND, 0xffffffff, 4);
	ASSERT_X(PCI_STATUS_CAP_LIST << 16 | CMD_WRITABLE, CFG_R(d, PCI_COMMAND, 4));
	/* Three bytes from the device ID into the command register. */
	CFG_W(d, 3, 0x000000, 3);
	ASSERT_X(DSA_DEVICE_ID, CFG_R(d, PCI_DEVICE_ID, 2));
	ASSERT_X(0, CFG_R(d, PCI_COMMAND, 2));

	/* 64-bit BARs answer their size to all ones; addresses stick. */
	CFG_W(d, PCI_BASE_ADDRESS_0, 0xffffffffffffffffULL, 8);
	ASSERT_X(bar_after(~0U, d->l.bar0_size, mem64), CFG_R(d, PCI_BASE_ADDRESS_0, 4));
	ASSERT_X(0xffffffff, CFG_R(d, PCI_BASE_ADDRESS_1, 4));
	CFG_W(d, PCI_BASE_ADDRESS_2, 0xffffffff, 4);
	ASSERT_X(bar_after(~0U, d->l.bar2_size, pref64), CFG_R(d, PCI_BASE_ADDRESS_2, 4));
	ASSERT_X(~(uint32_t)(d->l.bar2_size - 1) | pref64, CFG_R(d, PCI_BASE_ADDRESS_2, 4));
	CFG_W(d, PCI_BASE_ADDRESS_0, 0xfebf1234, 4);
	CFG_W(d, PCI_BASE_ADDRESS_1, 0x12345678, 4);
	ASSERT_X(bar_after(0xfebf1234, d->l.bar0_size, mem64), CFG_R(d, PCI_BASE_ADDRESS_0, 4));
	ASSERT_X(0x12345678, CFG_R(d, PCI_BASE_ADDRESS_1, 4));
	CFG_W(d, PCI_BASE_ADDRESS_2, 0xfe000000, 4);
	ASSERT_X(0xfe000000 | pref64, CFG_R(d, PCI_BASE_ADDRESS_2, 4));
	/* A single byte: the type bits stay. */
	CFG_W(d, PCI_BASE_ADDRESS_2, 0x00, 1);
	ASSERT_X(0xfe000000 | pref64, CFG_R(d, PCI_BASE_ADDRESS_2, 4));

	/* MSI-X: enable and mask-all are writable, the table size is not. */
	CFG_W(d, MSIX_CAP + PCI_MSIX_FLAGS, 0xffff, 2);
	ASSERT_X(PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL | (d->l.vectors - 1),
		 CFG_R(d, MSIX_CAP + PCI_MSIX_FLAGS, 2));

	/* All ones everywhere, in one write. */
	memset(ones, 0xff, sizeof(ones));
	ASSERT_EQ(256, wr(d, CONFIG, 0, ones, 256));
	put16(want, PCI_COMMAND, CMD_WRITABLE);
	want[PCI_CACHE_LINE_SIZE] = 0xff;
	want[PCI_INTERRUPT_LINE] = 0xff;
	put32(want, PCI_BASE_ADDRESS_0, bar_after(~0U, d->l.bar0_size, mem64));
	put32(want, PCI_BASE_ADDRESS_1, 0xffffffff);
	put32(want, PCI_BASE_ADDRESS_2, bar_after(~0U, d->l.bar2_size, pref64));
	put32(want, PCI_BASE_ADDRESS_3, 0xffffffff);
	put16(want, MSIX_CAP + PCI_MSIX_FLAGS,
	      PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL | (d->l.vectors - 1));
	ASSERT_EQ(256, rd(d, CONFIG, 0, cfg, 256));
	assert_same(_metadata, "after all ones", want, cfg, 256);
}

/* --- BAR0 registers ----------------------------------------------------- */

TEST_F_TIMEOUT(dsa, bar0_access_sizes, TIMEOUT)
{
	static const struct { uint64_t off; size_t len; } bad_reads[] = {
		{ 0x10, 3 }, { 0x11, 2 }, { 0x12, 4 }, { 0x14, 8 }, { 0x10, 6 },
		{ 0x10, 16 }, { 0x0c, 8 }, { 0x13, 2 },
	};
	static const struct { uint64_t off; size_t len; } bad_writes[] = {
		{ 0x88, 1 }, { 0x88, 2 }, { 0x88, 3 }, { 0x8a, 4 }, { 0x89, 4 },
		{ 0x84, 8 }, { 0x8c, 8 }, { 0x80, 16 }, { 0x88, 6 },
	};
	struct dev dv, *d = &dv;
	uint8_t ff[16];
	uint64_t gencap;
	unsigned int i;

	OPEN(d);
	memset(ff, 0xff, sizeof(ff));

	/* Reads of 1, 2, 4 and 8 bytes, naturally aligned, see the same bits. */
	gencap = R64(d, IDXD_GENCAP_OFFSET);
	ASSERT_X(gencap & 0xffffffff, R32(d, IDXD_GENCAP_OFFSET));
	ASSERT_X(gencap >> 32, R32(d, IDXD_GENCAP_OFFSET + 4));
	for (i = 0; i < 4; i++) {
		ASSERT_X(gencap >> 16 * i & 0xffff, R16(d, IDXD_GENCAP_OFFSET + 2 * i));
	}
	for (i = 0; i < 8; i++) {
		ASSERT_X(gencap >> 8 * i & 0xff, R8(d, IDXD_GENCAP_OFFSET + i));
	}
	ASSERT_X(0x100, R16(d, IDXD_VER_OFFSET));
	ASSERT_X(0x01, R8(d, IDXD_VER_OFFSET + 1));

	/* Other sizes and misaligned accesses fail and change nothing. */
	for (i = 0; i < ARRAY_SIZE(bad_reads); i++) {
		uint8_t buf[16];

		ASSERT_EQ(-EINVAL, rd(d, BAR0, bad_reads[i].off, buf, bad_reads[i].len))
			TH_LOG("read of %zu at %#" PRIx64, bad_reads[i].len, bad_reads[i].off);
	}
	for (i = 0; i < ARRAY_SIZE(bad_writes); i++) {
		ASSERT_EQ(-EINVAL, wr(d, BAR0, bad_writes[i].off, ff, bad_writes[i].len))
			TH_LOG("write of %zu at %#" PRIx64, bad_writes[i].len, bad_writes[i].off);
	}
	ASSERT_X(0, R64(d, IDXD_GENCTRL_OFFSET));
	ASSERT_X(0, R64(d, IDXD_GENCFG_OFFSET));

	/* 4 and 8 bytes, aligned: GENCTRL keeps its three defined bits. */
	W32(d, IDXD_GENCTRL_OFFSET, 0xffffffff);
	ASSERT_X(0x7, R64(d, IDXD_GENCTRL_OFFSET));
	W64(d, IDXD_GENCTRL_OFFSET, 0);
	ASSERT_X(0, R64(d, IDXD_GENCTRL_OFFSET));
	W32(d, IDXD_GENCTRL_OFFSET + 4, 0xffffffff);	/* reserved half */
	ASSERT_X(0, R64(d, IDXD_GENCTRL_OFFSET));
	W64(d, IDXD_GENCTRL_OFFSET, 0xffffffff00000005ULL);
	ASSERT_X(0x5, R64(d, IDXD_GENCTRL_OFFSET));

	/* Read-only registers drop writes. */
	W64(d, IDXD_VER_OFFSET, ~0ULL);
	W64(d, IDXD_GENCAP_OFFSET, 0);
	W64(d, IDXD_WQCAP_OFFSET, 0);
	W64(d, IDXD_CMDSTS_OFFSET, ~0ULL);
	W64(d, IDXD_GENSTATS_OFFSET, ~0ULL);
	ASSERT_X(0x100, R64(d, IDXD_VER_OFFSET));
	ASSERT_X(gencap, R64(d, IDXD_GENCAP_OFFSET));
	ASSERT_X(wqcap_for(BASE), R64(d, IDXD_WQCAP_OFFSET));
	ASSERT_X(0, R64(d, IDXD_CMDSTS_OFFSET));
	ASSERT_X(0, R64(d, IDXD_GENSTATS_OFFSET));
}

TEST_F_TIMEOUT(dsa, capability_registers, TIMEOUT)
{
	struct dev dv, *d = &dv;
	unsigned int wq, w, i;

	OPEN(d);
	ASSERT_X(0x100, R64(d, IDXD_VER_OFFSET));
	ASSERT_X(DSA_REG(gen_cap_reg, .overlap_copy = 1, .cmd_cap = 1, .config_en = 1,
			 .max_xfer_shift = MAX_XFER_SHIFT, .max_batch_shift = MAX_BATCH_SHIFT),
		 R64(d, IDXD_GENCAP_OFFSET));
	ASSERT_X(wqcap_for(BASE), R64(d, IDXD_WQCAP_OFFSET));
	ASSERT_X(BASE, WQCAP(d).num_wqs);
	ASSERT_X(BASE * WQ_ENTRIES_PER_WQ, WQCAP(d).total_wq_size);
	ASSERT_X(WQCFG_BYTES, 1 << (WQCAP(d).wqcfg_size + IDXD_WQCFG_MIN));
	ASSERT_X(1, R64(d, IDXD_GRPCAP_OFFSET));	/* one group */
	ASSERT_X(1, R64(d, IDXD_ENGCAP_OFFSET));	/* one engine */
	ASSERT_X(OPCAP0, R64(d, IDXD_OPCAP_OFFSET));
	for (i = 1; i < 4; i++) {
		ASSERT_X(0, R64(d, IDXD_OPCAP_OFFSET + 8 * i));
	}
	ASSERT_X(GRPCFG_TABLE / IDXD_TABLE_MULT |
		 (uint64_t)(WQCFG_TABLE / IDXD_TABLE_MULT) << 16 |
		 (uint64_t)(MSIX_PERM_TABLE / IDXD_TABLE_MULT) << 32,
		 R64(d, IDXD_TABLE_OFFSET));
	ASSERT_X(0, R64(d, IDXD_TABLE_OFFSET + 8));
	/* Commands 1-10; no REQUEST_INT_HANDLE (13): int_handle is the vector. */
	ASSERT_X(0x7fe, R64(d, IDXD_CMDCAP_OFFSET));

	/* Post-reset state. */
	ASSERT_X(0, R64(d, IDXD_GENCFG_OFFSET));
	ASSERT_X(0, R64(d, IDXD_GENCTRL_OFFSET));
	ASSERT_X(0, R64(d, IDXD_GENSTATS_OFFSET));
	ASSERT_X(0, R64(d, IDXD_INTCAUSE_OFFSET));
	ASSERT_X(0, R64(d, IDXD_CMD_OFFSET));
	ASSERT_X(0, R64(d, IDXD_CMDSTS_OFFSET));
	assert_swerr(_metadata, d, 0, 0, 0);

	/* GRPCFG: every WQ and engine 0 in group 0, fixed. */
	ASSERT_X((1 << BASE) - 1, R64(d, GRPCFG_TABLE));
	for (i = 1; i < 4; i++) {
		ASSERT_X(0, R64(d, GRPCFG_TABLE + 8 * i));
	}
	ASSERT_X(1, R64(d, GRPCFG_TABLE + 32));
	ASSERT_X(0, R64(d, GRPCFG_TABLE + 40));
	W64(d, GRPCFG_TABLE, 0x1);
	W64(d, GRPCFG_TABLE + 32, 0);
	ASSERT_X((1 << BASE) - 1, R64(d, GRPCFG_TABLE));
	ASSERT_X(1, R64(d, GRPCFG_TABLE + 32));

	/* WQCFG: disabled, size 0, every supported opcode in op_config. */
	for (wq = 0; wq <= BASE; wq++) {
		for (w = 0; w < 16; w++) {
			uint32_t want = 0;

			if (wq < BASE && w == 6)
				want = WQCFG_MODE_SUPPORT;
			else if (wq < BASE && w == 8)
				want = (uint32_t)OPCAP0;
			else if (wq < BASE && w == 9)
				want = OPCAP0 >> 32;
			ASSERT_XM(want, R32(d, WQCFG(wq, w)), "WQ %u word %u", wq, w);
		}
	}

	/* MSI-X permissions are kept; the MSI-X table and PBA read zero. */
	ASSERT_X(0, R64(d, MSIX_PERM_TABLE + 8));
	W32(d, MSIX_PERM_TABLE + 8, 0x5);
	ASSERT_X(0x5, R64(d, MSIX_PERM_TABLE + 8));
	ASSERT_X(0, R64(d, MSIX_PERM_TABLE));
	for (i = 0; i < d->l.vectors; i++) {
		ASSERT_X(0, R64(d, d->l.msix_table + 16 * i));
		ASSERT_X(0, R64(d, d->l.msix_table + 16 * i + 8));
	}
	ASSERT_X(0, R64(d, d->l.msix_pba));
}

/* WQCAP, the regions and the vectors follow base x aggregator. */
TEST_F_TIMEOUT(dsa, wqcap_is_base_times_aggregator, TIMEOUT)
{
	static const struct { int base, aggregator; } shapes[] = {
		{ 1, 3 }, { 4, 1 }, { 8, 8 },
	};
	unsigned int s;

	/* The third shape takes all 64 WQs. */
	ASSERT_EQ(0, mdev_remove(self->uuid));
	for (s = 0; s < ARRAY_SIZE(shapes); s++) {
		unsigned int wqs = shapes[s].base * shapes[s].aggregator, last = wqs - 1;
		char uuid[DSA_UUID_LEN + 1];
		struct dev dv, *d = &dv;
		struct dsa_completion_record *cr;
		struct dsa_hw_desc ds;
		uint64_t mask = wqs >= 64 ? ~0ULL : (1ULL << wqs) - 1;
		struct vfio_irq_info irq = { .argsz = sizeof(irq), .index = MSIX };
		uint8_t buf[64];
		int32_t efd;

		TH_LOG("dsa-%ddwq, aggregator %d", shapes[s].base, shapes[s].aggregator);
		make_uuid(uuid, 10 + s);
		ASSERT_EQ(0, mdev_create(0, shapes[s].base, uuid));
		if (shapes[s].aggregator != 1) {
			ASSERT_EQ(0, set_dev_aggregator(uuid, shapes[s].aggregator));
		}
		ASSERT_EQ((int)wqs, dev_wq_count(uuid));
		dev_open(_metadata, d, variant->via_group, uuid, wqs);
		ASSERT_EQ(-EBUSY, set_dev_aggregator(uuid, 1));

		ASSERT_X(wqcap_for(wqs), R64(d, IDXD_WQCAP_OFFSET));
		ASSERT_X(wqs, WQCAP(d).num_wqs);
		ASSERT_X(mask, R64(d, GRPCFG_TABLE));
		ASSERT_X(WQCFG_MODE_SUPPORT, R32(d, WQCFG(last, 6)));
		if (WQCFG(wqs, 0) < d->l.msix_table) {
			ASSERT_X(0, R32(d, WQCFG(wqs, 6)));
		}

		/* The regions end where the layout says. */
		ASSERT_EQ(8, rd(d, BAR0, d->l.bar0_size - 8, buf, 8));
		ASSERT_EQ(-EINVAL, rd(d, BAR0, d->l.bar0_size, buf, 8));
		ASSERT_EQ(-EINVAL, wr(d, BAR2, d->l.bar2_size, buf, 64));
		/* The portals of WQs the device lacks (BAR2 is a power of two). */
		ASSERT_EQ(-EINVAL, wr(d, BAR2, PORTAL(wqs, 0, 0), buf, 64));

		/* 1 + min(wqs, 63) vectors. */
		ASSERT_EQ(0, ioctl(d->fd, VFIO_DEVICE_GET_IRQ_INFO, &irq));
		ASSERT_X(d->l.vectors, irq.count);
		ASSERT_X(d->l.vectors - 1,
			 CFG_R(d, MSIX_CAP + PCI_MSIX_FLAGS, 2) & PCI_MSIX_FLAGS_QSIZE);
		ASSERT_X(d->l.msix_table, CFG_R(d, MSIX_CAP + PCI_MSIX_TABLE, 4));
		ASSERT_X(d->l.msix_pba, CFG_R(d, MSIX_CAP + PCI_MSIX_PBA, 4));
		ASSERT_EQ(-EINVAL, fire(d, 0, d->l.vectors + 1));

		/* The last WQ's last portal slot executes, and its last vector fires. */
		dev_enable(_metadata, d);
		efd = new_eventfd(_metadata);
		ASSERT_EQ(0, set_eventfds(d, d->l.vectors - 1, 1, &efd));
		ds = mkdesc(DSA_OPCODE_NOOP, F_CR | IDXD_OP_FLAG_RCI, 0, 0, 0);
		ds.int_handle = d->l.vectors - 1;
		ds.completion_addr = cr_iova(1);
		submit_at(_metadata, d, PORTAL(last, 3, 63), &ds);
		cr = cr_slot(d, 1);
		assert_only_status(_metadata, cr, DSA_COMP_SUCCESS);
		ASSERT_X(1, FIRED(efd));
		ds.int_handle = d->l.vectors;
		submit_at(_metadata, d, PORTAL(last, 0, 0), &ds);
		assert_only_status(_metadata, cr, DSA_COMP_INT_HANDLE_INVAL);
		ASSERT_X(0, QUIET(efd));
		assert_swerr(_metadata, d, 0, 0, 0);
		close(efd);

		dev_close(_metadata, d);
		ASSERT_EQ(0, mdev_remove(uuid));
	}
}

TEST_F_TIMEOUT(dsa, enable_errors, TIMEOUT)
{
	/* Not static: registers.h's fields are no constant expressions. */
	const struct { uint32_t mode, limits; uint8_t status; } bad[] = {
		{ WQCFG_MODE_DEDICATED, WQ_LIMITS(MAX_XFER_SHIFT, MAX_BATCH_SHIFT),
		  IDXD_CMDSTS_ERR_WQ_PRIOR },
		{ WQCFG_PRIORITY(1), WQ_LIMITS(MAX_XFER_SHIFT, MAX_BATCH_SHIFT),
		  IDXD_CMDSTS_ERR_WQ_MODE },
		{ WQ_MODE_OK | WQCFG_BOF, WQ_LIMITS(MAX_XFER_SHIFT, MAX_BATCH_SHIFT),
		  IDXD_CMDSTS_ERR_BOF_EN },
		{ WQ_MODE_OK | WQCFG_PASID_EN, WQ_LIMITS(MAX_XFER_SHIFT, MAX_BATCH_SHIFT),
		  IDXD_CMDSTS_ERR_PASID_EN },
		{ WQ_MODE_OK, WQ_LIMITS(MAX_XFER_SHIFT + 1, MAX_BATCH_SHIFT),
		  IDXD_CMDSTS_ERR_MAX_XFER_SIZE },
		{ WQ_MODE_OK, WQ_LIMITS(MAX_XFER_SHIFT, MAX_BATCH_SHIFT + 1),
		  IDXD_CMDSTS_ERR_MAX_BATCH_SIZE },
	};
	struct dev dv, *d = &dv;
	unsigned int i;

	OPEN(d);
	/* While the device is disabled. */
	ASSERT_X(IDXD_CMDSTS_ERR_DEV_NOTEN, CMD(d, IDXD_CMD_ENABLE_WQ, 0));
	ASSERT_X(IDXD_CMDSTS_INVAL_WQIDX, CMD(d, IDXD_CMD_ENABLE_WQ, BASE));
	ASSERT_X(IDXD_CMDSTS_ERR_DIS_DEV_EN, CMD(d, IDXD_CMD_DISABLE_DEVICE, 0));
	ASSERT_X(IDXD_CMDSTS_ERR_DEV_NOT_EN, CMD(d, IDXD_CMD_DISABLE_WQ, DSA_WQ_MASK(1)));
	ASSERT_X(IDXD_CMDSTS_ERR_DEV_NOT_EN, CMD(d, IDXD_CMD_DRAIN_WQ, DSA_WQ_MASK(0)));
	ASSERT_X(IDXD_CMDSTS_ERR_DEV_NOT_EN, CMD(d, IDXD_CMD_ABORT_WQ, DSA_WQ_MASK(0)));
	ASSERT_X(IDXD_CMDSTS_ERR_DEV_NOT_EN, CMD(d, IDXD_CMD_RESET_WQ, DSA_WQ_MASK(0)));
	ASSERT_X(IDXD_CMDSTS_INVAL_WQIDX, CMD(d, IDXD_CMD_DISABLE_WQ, DSA_WQ_MASK(BASE)));
	ASSERT_X(IDXD_CMDSTS_INVAL_WQIDX, CMD(d, IDXD_CMD_DISABLE_WQ, 1 << 16 | 1));
	/* No interrupt handles to request: int_handle is the MSI-X vector. */
	ASSERT_X(IDXD_CMDSTS_INVAL_CMD, CMD(d, IDXD_CMD_REQUEST_INT_HANDLE, 0));
	for (i = 0; i < 32; i++) {
		if (i >= IDXD_CMD_ENABLE_DEVICE && i <= IDXD_CMD_RESET_WQ)
			continue;
		ASSERT_XM(IDXD_CMDSTS_INVAL_CMD, CMD(d, i, 0), "command %u", i);
	}

	/* Enabling needs bus mastering ... */
	CFG_W(d, PCI_COMMAND, PCI_COMMAND_MEMORY, 2);
	wq_config(_metadata, d, 0, WQ_ENTRIES_PER_WQ, WQ_MODE_OK,
		  WQ_LIMITS(MAX_XFER_SHIFT, MAX_BATCH_SHIFT));
	ASSERT_X(IDXD_CMDSTS_ERR_BUSMASTER_EN, CMD(d, IDXD_CMD_ENABLE_DEVICE, 0));
	ASSERT_X(0, R32(d, IDXD_GENSTATS_OFFSET));
	bus_master(_metadata, d);
	/* ... and WQ sizes within total_wq_size (16). */
	W32(d, WQCFG(0, 0), 10);
	W32(d, WQCFG(1, 0), 7);
	ASSERT_X(IDXD_CMDSTS_ERR_WQ_SIZE_ERANGE, CMD(d, IDXD_CMD_ENABLE_DEVICE, 0));
	ASSERT_X(0, R32(d, IDXD_GENSTATS_OFFSET));
	W32(d, WQCFG(1, 0), 6);
	W32(d, IDXD_GENCFG_OFFSET, 0x1);
	ASSERT_X(IDXD_CMDSTS_SUCCESS, CMD(d, IDXD_CMD_ENABLE_DEVICE, 0));
	ASSERT_X(IDXD_DEVICE_STATE_ENABLED, R32(d, IDXD_GENSTATS_OFFSET));
	ASSERT_X(IDXD_CMDSTS_ERR_DEV_ENABLED, CMD(d, IDXD_CMD_ENABLE_DEVICE, 0));
	/* GENCFG and WQ sizes are fixed while the device is enabled. */
	W32(d, IDXD_GENCFG_OFFSET, 0x0);
	ASSERT_X(0x1, R32(d, IDXD_GENCFG_OFFSET));
	W32(d, WQCFG(1, 0), 0);
	ASSERT_X(6, R32(d, WQCFG(1, 0)));

	/* The WQ's configuration is checked in this order. */
	ASSERT_X(IDXD_CMDSTS_INVAL_WQIDX, CMD(d, IDXD_CMD_ENABLE_WQ, BASE));
	ASSERT_X(IDXD_CMDSTS_INVAL_WQIDX, CMD(d, IDXD_CMD_ENABLE_WQ, 0xfffff));
	ASSERT_X(IDXD_CMDSTS_ERR_WQ_PRIOR, CMD(d, IDXD_CMD_ENABLE_WQ, 1));	/* mode 0 */
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		W32(d, WQCFG(0, 2), bad[i].mode);
		W32(d, WQCFG(0, 3), bad[i].limits);
		ASSERT_XM(bad[i].status, CMD(d, IDXD_CMD_ENABLE_WQ, 0), "case %u", i);
		ASSERT_X(WQCFG_MODE_SUPPORT, R32(d, WQCFG(0, 6)));
	}
	W32(d, WQCFG(0, 2), WQ_MODE_OK);
	W32(d, WQCFG(0, 3), WQ_LIMITS(MAX_XFER_SHIFT, MAX_BATCH_SHIFT));
	ASSERT_X(IDXD_CMDSTS_SUCCESS, CMD(d, IDXD_CMD_ENABLE_WQ, 0));
	ASSERT_X(WQCFG_STATE_ENABLED | WQCFG_MODE_SUPPORT, R32(d, WQCFG(0, 6)));
	ASSERT_X(IDXD_CMDSTS_ERR_WQ_ENABLED, CMD(d, IDXD_CMD_ENABLE_WQ, 0));

	/* An enabled WQ's configuration is locked. */
	W32(d, WQCFG(0, 2), 0);
	W32(d, WQCFG(0, 3), 0);
	W32(d, WQCFG(0, 8), 0);
	W32(d, WQCFG(0, 6), 0);
	ASSERT_X(WQ_MODE_OK, R32(d, WQCFG(0, 2)));
	ASSERT_X(WQ_LIMITS(MAX_XFER_SHIFT, MAX_BATCH_SHIFT), R32(d, WQCFG(0, 3)));
	ASSERT_X((uint32_t)OPCAP0, R32(d, WQCFG(0, 8)));
	ASSERT_X(WQCFG_STATE_ENABLED | WQCFG_MODE_SUPPORT, R32(d, WQCFG(0, 6)));
}

TEST_F_TIMEOUT(dsa, command_flow, TIMEOUT)
{
	struct dev dv, *d = &dv;
	int32_t efd0;
	uint32_t c;

	OPEN(d);
	efd0 = new_eventfd(_metadata);
	ASSERT_EQ(0, set_eventfds(d, 0, 1, &efd0));
	dev_enable(_metadata, d);

	/* CMD reads back the last command. */
	c = dsa_cmd_reg(IDXD_CMD_DRAIN_WQ, DSA_WQ_MASK(0) | DSA_WQ_MASK(1), false);
	W32(d, IDXD_CMD_OFFSET, c);
	ASSERT_X(c, R32(d, IDXD_CMD_OFFSET));
	ASSERT_X(IDXD_CMDSTS_SUCCESS, R32(d, IDXD_CMDSTS_OFFSET));
	ASSERT_X(IDXD_CMDSTS_SUCCESS, CMD(d, IDXD_CMD_ABORT_WQ, DSA_WQ_MASK(1)));
	ASSERT_X(IDXD_CMDSTS_SUCCESS, CMD(d, IDXD_CMD_DRAIN_ALL, 0));
	ASSERT_X(IDXD_CMDSTS_SUCCESS, CMD(d, IDXD_CMD_ABORT_ALL, 0));
	/* None of these asked for an interrupt. */
	ASSERT_X(0, QUIET(efd0));
	ASSERT_X(0, R32(d, IDXD_INTCAUSE_OFFSET));

	/* int_req: INTCAUSE.CMD and vector 0, whatever the status; RW1C. */
	W32(d, IDXD_CMD_OFFSET, dsa_cmd_reg(IDXD_CMD_DRAIN_ALL, 0, true));
	ASSERT_X(1, FIRED(efd0));
	ASSERT_X(IDXD_INTC_CMD, R32(d, IDXD_INTCAUSE_OFFSET));
	W32(d, IDXD_INTCAUSE_OFFSET, IDXD_INTC_ERR);
	ASSERT_X(IDXD_INTC_CMD, R32(d, IDXD_INTCAUSE_OFFSET));
	W32(d, IDXD_INTCAUSE_OFFSET, IDXD_INTC_CMD);
	ASSERT_X(0, R32(d, IDXD_INTCAUSE_OFFSET));
	W32(d, IDXD_CMD_OFFSET, dsa_cmd_reg(0x1f, 0, true));
	ASSERT_X(IDXD_CMDSTS_INVAL_CMD, R32(d, IDXD_CMDSTS_OFFSET));
	ASSERT_X(1, FIRED(efd0));
	W32(d, IDXD_INTCAUSE_OFFSET, ~0U);

	/* DISABLE_WQ takes a mask; the other WQ stays enabled. */
	ASSERT_X(IDXD_CMDSTS_SUCCESS, CMD(d, IDXD_CMD_DISABLE_WQ, DSA_WQ_MASK(1)));
	ASSERT_X(WQCFG_MODE_SUPPORT, R32(d, WQCFG(1, 6)));
	ASSERT_X(WQCFG_STATE_ENABLED | WQCFG_MODE_SUPPORT, R32(d, WQCFG(0, 6)));
	/* RESET_WQ resets the entry but its size, and disables it. */
	W32(d, WQCFG(1, 1), 0x3);	/* threshold: writable while disabled */
	ASSERT_X(0x3, R32(d, WQCFG(1, 1)));
	ASSERT_X(IDXD_CMDSTS_SUCCESS, CMD(d, IDXD_CMD_RESET_WQ, DSA_WQ_MASK(0) | DSA_WQ_MASK(1)));
	ASSERT_X(WQ_ENTRIES_PER_WQ, R32(d, WQCFG(0, 0)));
	ASSERT_X(0, R32(d, WQCFG(0, 2)));
	ASSERT_X(0, R32(d, WQCFG(0, 3)));
	ASSERT_X(0, R32(d, WQCFG(1, 1)));
	ASSERT_X(WQCFG_MODE_SUPPORT, R32(d, WQCFG(0, 6)));
	ASSERT_X((uint32_t)OPCAP0, R32(d, WQCFG(0, 8)));

	/* DISABLE_DEVICE disables every WQ. */
	wq_config(_metadata, d, 0, WQ_ENTRIES_PER_WQ, WQ_MODE_OK,
		  WQ_LIMITS(MAX_XFER_SHIFT, MAX_BATCH_SHIFT));
	ASSERT_X(IDXD_CMDSTS_SUCCESS, CMD(d, IDXD_CMD_ENABLE_WQ, 0));
	ASSERT_X(IDXD_CMDSTS_SUCCESS, CMD(d, IDXD_CMD_DISABLE_DEVICE, 0));
	ASSERT_X(0, R32(d, IDXD_GENSTATS_OFFSET));
	ASSERT_X(WQCFG_MODE_SUPPORT, R32(d, WQCFG(0, 6)));
	ASSERT_X(WQ_MODE_OK, R32(d, WQCFG(0, 2)));	/* the rest stays */

	/* RESET_DEVICE: BAR0 back to reset, the config space untouched. */
	W32(d, IDXD_GENCTRL_OFFSET, GENCTRL_SOFTERR_INT_EN);
	ASSERT_X(IDXD_CMDSTS_SUCCESS, CMD(d, IDXD_CMD_ENABLE_DEVICE, 0));
	ASSERT_X(IDXD_CMDSTS_SUCCESS, CMD(d, IDXD_CMD_ENABLE_WQ, 0));
	ASSERT_X(IDXD_CMDSTS_SUCCESS, CMD(d, IDXD_CMD_RESET_DEVICE, 0));
	ASSERT_X(dsa_cmd_reg(IDXD_CMD_RESET_DEVICE, 0, false), R32(d, IDXD_CMD_OFFSET));
	ASSERT_X(0, R32(d, IDXD_GENSTATS_OFFSET));
	ASSERT_X(0, R32(d, IDXD_GENCTRL_OFFSET));
	ASSERT_X(0, R32(d, WQCFG(0, 0)));
	ASSERT_X(0, R32(d, WQCFG(0, 2)));
	ASSERT_X(WQCFG_MODE_SUPPORT, R32(d, WQCFG(0, 6)));
	ASSERT_X(PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER, CFG_R(d, PCI_COMMAND, 2));
	/* ... and the device can be brought up again. */
	dev_enable(_metadata, d);
	ASSERT_X(0, QUIET(efd0));
	close(efd0);
}

/* --- opcodes ------------------------------------------------------------ */

TEST_F_TIMEOUT(dsa, noop_drain_and_portals, TIMEOUT)
{
	struct dev dv, *d = &dv;
	struct dsa_completion_record *cr;
	struct dsa_hw_desc ds;
	uint8_t guard[32];
	unsigned int page, slot, wq;

	OPEN(d);
	dev_enable(_metadata, d);

	/* The record is written, exactly 32 bytes of it. */
	memset(d->mem, 0xa5, 3 * 32);
	memset(guard, 0xa5, sizeof(guard));
	ds = mkdesc(DSA_OPCODE_NOOP, F_CR, 0, 0, 0);
	ds.completion_addr = cr_iova(1);
	submit_at(_metadata, d, PORTAL(0, 0, 0), &ds);
	cr = cr_slot(d, 1);
	ASSERT_X(DSA_COMP_SUCCESS, cr->status);
	ASSERT_X(0, cr->result);
	ASSERT_X(0, cr->bytes_completed);
	ASSERT_X(0, cr->fault_addr);
	ASSERT_EQ(0, memcmp(cr_slot(d, 0), guard, 32));
	ASSERT_EQ(0, memcmp(cr_slot(d, 2), guard, 32));

	/* Without RCR a success writes no record; without CRAV neither. */
	memset(cr_slot(d, 1), 0xee, 32);
	ds.flags = IDXD_OP_FLAG_CRAV;
	submit_at(_metadata, d, PORTAL(0, 0, 0), &ds);
	assert_filled(_metadata, "record", cr_slot(d, 1), 0xee, 32);
	ds.flags = IDXD_OP_FLAG_RCR;
	submit_at(_metadata, d, PORTAL(0, 0, 0), &ds);
	assert_filled(_metadata, "record", cr_slot(d, 1), 0xee, 32);

	/* DRAIN completes at once. */
	cr = RUN(d, mkdesc(DSA_OPCODE_DRAIN, F_CR, 0, 0, 0));
	assert_only_status(_metadata, cr, DSA_COMP_SUCCESS);

	/* An int_handle without RCI is ignored, as are PASID and priv. */
	ds = mkdesc(DSA_OPCODE_NOOP, F_CR, 0, 0, 0);
	ds.int_handle = 0x55;
	ds.priv = 1;
	cr = RUN(d, ds);
	assert_only_status(_metadata, cr, DSA_COMP_SUCCESS);

	/* Every portal page and 64-byte slot of every WQ submits. */
	for (wq = 0; wq < BASE; wq++) {
		for (page = 0; page < 4; page++) {
			for (slot = 0; slot < 64; slot += 21) {
				ds = mkdesc(DSA_OPCODE_NOOP, F_CR, 0, 0, 0);
				ds.completion_addr = cr_iova(4);
				memset(cr_slot(d, 4), 0, 32);
				submit_at(_metadata, d, PORTAL(wq, page, slot), &ds);
				ASSERT_XM(DSA_COMP_SUCCESS, cr_slot(d, 4)->status,
					  "WQ %u page %u slot %u", wq, page, slot);
			}
		}
	}
	assert_swerr(_metadata, d, 0, 0, 0);
}

/*
 * Write the @piece-byte pieces of @desc given by @order (indexes) to the
 * 64-byte slot at @portal, checking after each that the descriptor has not
 * run (its record, @cr, is still zero) but for the piece that completes
 * the slot (@completes: whether the pieces cover it).
 */
static void write_pieces(struct __test_metadata *_metadata, struct dev *d, uint64_t portal,
			 const struct dsa_hw_desc *desc, size_t piece, const unsigned int *order,
			 size_t n, struct dsa_completion_record *cr, bool completes)
{
	const uint8_t *raw = (const uint8_t *)desc;
	size_t i;

	for (i = 0; i < n; i++) {
		ASSERT_EQ((ssize_t)piece,
			  wr(d, BAR2, portal + order[i] * piece, raw + order[i] * piece, piece))
			TH_LOG("piece %u of %zu bytes at %#" PRIx64 ": %s", order[i], piece,
			       portal, strerror(errno));
		if (i + 1 < n || !completes)
			ASSERT_XM(0, cr->status, "piece %zu of %zu ran the descriptor", i, n);
	}
	if (completes)
		ASSERT_XM(DSA_COMP_SUCCESS, cr->status, "after the last piece");
}

/*
 * Descriptors written in 4- and 8-byte pieces, as QEMU forwards a guest's
 * stores to a BAR it cannot map (the guest kernel of 'make guest' writes
 * them with eight 8-byte stores): pieces in any order; a piece written
 * twice (the last value counts); a slot abandoned for another slot of the
 * same WQ (logged, never run); pieces of another WQ in between; and a WQ
 * disabled, or the device reset, with a slot half-written.
 */
TEST_F_TIMEOUT(dsa, portal_pieces, TIMEOUT)
{
	static const unsigned int backwards[] = { 7, 6, 5, 4, 3, 2, 1, 0 };
	static const unsigned int scrambled[] = { 5, 0, 15, 3, 9, 1, 14, 2,
						  8, 13, 4, 12, 6, 11, 7, 10 };
	static const unsigned int first_half[] = { 0, 1, 2, 3 }, second_half[] = { 4, 5, 6, 7 };
	struct dev dv, *d = &dv;
	struct dsa_hw_desc ds, stale, other;
	struct dsa_completion_record *cr, *cr2;
	uint8_t *src, *dst;
	char log[4096];
	int kfd;

	OPEN(d);
	dev_enable(_metadata, d);
	src = d->mem + SRC_OFF;
	dst = d->mem + DST_OFF;
	fill(src, 2 * PAGE, 7);
	cr = cr_slot(d, 1);
	cr2 = cr_slot(d, 2);
	ds = mkdesc(DSA_OPCODE_MEMMOVE, F_CR, iova_of(SRC_OFF), iova_of(DST_OFF), 1000);
	ds.completion_addr = cr_iova(1);

	/* 8-byte pieces backwards, on WQ 1's third page. */
	memset(cr, 0, 32);
	memset(dst, 0, PAGE);
	write_pieces(_metadata, d, PORTAL(1, 2, 5), &ds, 8, backwards, 8, cr, true);
	assert_same(_metadata, "copy from pieces", src, dst, 1000);

	/* 4-byte pieces scrambled, on WQ 0. */
	memset(cr, 0, 32);
	memset(dst, 0, PAGE);
	write_pieces(_metadata, d, PORTAL(0, 0, 63), &ds, 4, scrambled, 16, cr, true);
	assert_same(_metadata, "copy from pieces", src, dst, 1000);

	/* A piece written twice: first a size the WQ refuses, then the right one. */
	memset(cr, 0, 32);
	stale = ds;
	stale.xfer_size = (1U << MAX_XFER_SHIFT) + 1;
	ASSERT_EQ(8, wr(d, BAR2, PORTAL(0, 1, 0) + 24, (uint8_t *)&stale + 24, 8));
	write_pieces(_metadata, d, PORTAL(0, 1, 0), &ds, 8, backwards, 8, cr, true);
	ASSERT_XM(DSA_COMP_SUCCESS, cr->status, "the stale size counted");

	/*
	 * Half a slot, then a whole descriptor to WQ 1: WQ 0's slot stays.
	 * Then a piece of another slot of WQ 0 abandons it (one log line).
	 */
	memset(cr, 0, 32);
	write_pieces(_metadata, d, PORTAL(0, 0, 1), &ds, 8, first_half, 4, cr, false);
	other = mkdesc(DSA_OPCODE_NOOP, F_CR, 0, 0, 0);
	other.completion_addr = cr_iova(2);
	memset(cr2, 0, 32);
	submit_at(_metadata, d, PORTAL(1, 0, 0), &other);
	ASSERT_X(DSA_COMP_SUCCESS, cr2->status);
	kfd = kmsg_mark();
	ASSERT_LE(0, kfd);
	memset(cr2, 0, 32);
	write_pieces(_metadata, d, PORTAL(0, 0, 2), &other, 8, backwards, 8, cr2, true);
	ASSERT_LE(0, kmsg_since(kfd, log, sizeof(log)));
	close(kfd);
	ASSERT_NE(NULL, strstr(log, "WQ 0: portal slot at 0x40 abandoned with 32 of 64 bytes"))
		TH_LOG("kernel log: %s", log);
	/* The abandoned slot's second half starts a new slot: nothing runs. */
	write_pieces(_metadata, d, PORTAL(0, 0, 1), &ds, 8, second_half, 4, cr, false);
	write_pieces(_metadata, d, PORTAL(0, 0, 1), &ds, 8, first_half, 4, cr, true);

	/* DISABLE_WQ, or RESET_WQ, with a slot half-written: the rest does not complete it. */
	memset(cr, 0, 32);
	write_pieces(_metadata, d, PORTAL(0, 0, 3), &ds, 8, first_half, 4, cr, false);
	ASSERT_X(IDXD_CMDSTS_SUCCESS, dsa_cmd(_metadata, d, IDXD_CMD_DISABLE_WQ, 1));
	ASSERT_X(IDXD_CMDSTS_SUCCESS, dsa_cmd(_metadata, d, IDXD_CMD_ENABLE_WQ, 0));
	write_pieces(_metadata, d, PORTAL(0, 0, 3), &ds, 8, second_half, 4, cr, false);
	ASSERT_X(IDXD_CMDSTS_SUCCESS, dsa_cmd(_metadata, d, IDXD_CMD_RESET_WQ, 1));
	/* RESET_WQ keeps only the size: configure it again. */
	wq_config(_metadata, d, 0, WQ_ENTRIES_PER_WQ, WQ_MODE_OK,
		  WQ_LIMITS(MAX_XFER_SHIFT, MAX_BATCH_SHIFT));
	ASSERT_X(IDXD_CMDSTS_SUCCESS, dsa_cmd(_metadata, d, IDXD_CMD_ENABLE_WQ, 0));
	write_pieces(_metadata, d, PORTAL(0, 0, 3), &ds, 8, first_half, 4, cr, false);

	/* A function-level reset likewise. */
	ASSERT_EQ(0, ioctl(d->fd, VFIO_DEVICE_RESET)) TH_LOG("reset: %s", strerror(errno));
	dev_enable(_metadata, d);
	write_pieces(_metadata, d, PORTAL(0, 0, 3), &ds, 8, second_half, 4, cr, false);
	write_pieces(_metadata, d, PORTAL(0, 0, 3), &ds, 8, first_half, 4, cr, true);
	assert_swerr(_metadata, d, 0, 0, 0);
}

TEST_F_TIMEOUT(dsa, memmove, TIMEOUT)
{
	static uint8_t want[8 * 4096];
	struct dev dv, *d = &dv;
	struct dsa_completion_record *cr;
	uint8_t *src, *dst;
	size_t len;

	OPEN(d);
	dev_enable(_metadata, d);
	src = d->mem + SRC_OFF;
	dst = d->mem + DST_OFF;

	/* Small, unaligned. */
	fill(src, 8 * PAGE, 1);
	cr = RUN(d, mkdesc(DSA_OPCODE_MEMMOVE, F_CR, iova_of(SRC_OFF + 3),
			   iova_of(DST_OFF + 5), 100));
	assert_only_status(_metadata, cr, DSA_COMP_SUCCESS);
	assert_same(_metadata, "small copy", src + 3, dst + 5, 100);
	assert_filled(_metadata, "before the copy", dst, 0, 5);
	assert_filled(_metadata, "after the copy", dst + 105, 0, 64);

	/* Several pages, source and destination misaligned differently. */
	memset(dst, 0, 8 * PAGE);
	len = 3 * PAGE + 123;
	cr = RUN(d, mkdesc(DSA_OPCODE_MEMMOVE, F_CR, iova_of(SRC_OFF + 0x7ff),
			   iova_of(DST_OFF + 0x3), len));
	assert_only_status(_metadata, cr, DSA_COMP_SUCCESS);
	assert_same(_metadata, "multi-page copy", src + 0x7ff, dst + 0x3, len);
	assert_filled(_metadata, "before the copy", dst, 0, 3);
	assert_filled(_metadata, "after the copy", dst + 3 + len, 0, PAGE);

	/* Overlapping, destination after the source: as memmove(). */
	len = 9000;
	fill(src, 8 * PAGE, 2);
	memcpy(want, src, sizeof(want));
	memmove(want + 0x100 + 5000, want + 0x100, len);
	cr = RUN(d, mkdesc(DSA_OPCODE_MEMMOVE, F_CR, iova_of(SRC_OFF + 0x100),
			   iova_of(SRC_OFF + 0x100 + 5000), len));
	assert_only_status(_metadata, cr, DSA_COMP_SUCCESS);
	assert_same(_metadata, "forward overlap", want, src, sizeof(want));

	/* Overlapping, destination before the source. */
	fill(src, 8 * PAGE, 3);
	memcpy(want, src, sizeof(want));
	memmove(want + 0x100, want + 0x100 + 5000, len);
	cr = RUN(d, mkdesc(DSA_OPCODE_MEMMOVE, F_CR, iova_of(SRC_OFF + 0x100 + 5000),
			   iova_of(SRC_OFF + 0x100), len));
	assert_only_status(_metadata, cr, DSA_COMP_SUCCESS);
	assert_same(_metadata, "backward overlap", want, src, sizeof(want));

	/* Overlap by a single byte, and the same buffer. */
	fill(src, 8 * PAGE, 4);
	memcpy(want, src, sizeof(want));
	memmove(want + 1, want, 2 * PAGE);
	cr = RUN(d, mkdesc(DSA_OPCODE_MEMMOVE, F_CR, iova_of(SRC_OFF), iova_of(SRC_OFF + 1),
			   2 * PAGE));
	assert_only_status(_metadata, cr, DSA_COMP_SUCCESS);
	assert_same(_metadata, "overlap by one", want, src, sizeof(want));
	cr = RUN(d, mkdesc(DSA_OPCODE_MEMMOVE, F_CR, iova_of(SRC_OFF), iova_of(SRC_OFF), PAGE));
	assert_only_status(_metadata, cr, DSA_COMP_SUCCESS);
	assert_same(_metadata, "onto itself", want, src, sizeof(want));

	/* From the read-only mapping (reads are allowed). */
	cr = RUN(d, mkdesc(DSA_OPCODE_MEMMOVE, F_CR, IOVA_RO + 10, iova_of(DST_OFF), RO_SIZE - 10));
	assert_only_status(_metadata, cr, DSA_COMP_SUCCESS);
	assert_same(_metadata, "from read-only", d->ro + 10, dst, RO_SIZE - 10);
}

TEST_F_TIMEOUT(dsa, memfill, TIMEOUT)
{
	const uint64_t pattern = 0x0807060504030201ULL;
	static const uint8_t first13[] = { 1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5 };
	struct dev dv, *d = &dv;
	struct dsa_completion_record *cr;
	uint8_t *dst;
	size_t i, len;

	OPEN(d);
	dev_enable(_metadata, d);
	dst = d->mem + DST_OFF;

	cr = RUN(d, mkdesc(DSA_OPCODE_MEMFILL, F_CR, pattern, iova_of(DST_OFF + 3), 13));
	assert_only_status(_metadata, cr, DSA_COMP_SUCCESS);
	assert_same(_metadata, "fill", first13, dst + 3, 13);
	assert_filled(_metadata, "before", dst, 0, 3);
	assert_filled(_metadata, "after", dst + 16, 0, 64);

	/* Across pages: the pattern continues from the start of the fill. */
	memset(dst, 0xcc, 5 * PAGE);
	len = 2 * PAGE + 10;
	cr = RUN(d, mkdesc(DSA_OPCODE_MEMFILL, F_CR, 0x1122334455667788ULL,
			   iova_of(DST_OFF + 0xffd), len));
	assert_only_status(_metadata, cr, DSA_COMP_SUCCESS);
	for (i = 0; i < len; i++) {
		ASSERT_XM(0x88 - 0x11 * (i % 8), dst[0xffd + i], "byte %zu", i);
	}
	assert_filled(_metadata, "before", dst, 0xcc, 0xffd);
	assert_filled(_metadata, "after", dst + 0xffd + len, 0xcc, PAGE);
}

TEST_F_TIMEOUT(dsa, compare_and_compval, TIMEOUT)
{
	static uint8_t before[2][6000];
	const uint64_t pattern = 0xefcdab8967452301ULL;
	struct dev dv, *d = &dv;
	struct dsa_completion_record *cr;
	struct dsa_hw_desc ds;
	uint8_t *a, *b;
	size_t i;

	OPEN(d);
	dev_enable(_metadata, d);
	a = d->mem + SRC_OFF + 0x10;
	b = d->mem + DST_OFF + 0x123;
	fill(a, 6000, 5);
	memcpy(b, a, 6000);

#define COMPARE(flags) mkdesc(DSA_OPCODE_COMPARE, flags, iova_of(SRC_OFF + 0x10), \
			      iova_of(DST_OFF + 0x123), 6000)
	memcpy(before[0], a, 6000);
	cr = RUN(d, COMPARE(F_CR));
	assert_only_status(_metadata, cr, DSA_COMP_SUCCESS);	/* result 0 */

	/* The first difference: result 1, its offset in bytes_completed. */
	b[4500] ^= 0x40;
	b[5000] ^= 0x01;
	memcpy(before[1], b, 6000);
	cr = RUN(d, COMPARE(F_CR));
	ASSERT_X(DSA_COMP_SUCCESS, cr->status);
	ASSERT_X(1, cr->result);
	ASSERT_X(4500, cr->bytes_completed);
	ASSERT_X(0, cr->fault_addr);
	b[0] ^= 0x80;
	cr = RUN(d, COMPARE(F_CR));
	ASSERT_X(1, cr->result);
	ASSERT_X(0, cr->bytes_completed);
	b[0] ^= 0x80;
	b[4500] ^= 0x40;
	b[5000] ^= 0x01;
	b[5999] ^= 0x01;
	cr = RUN(d, COMPARE(F_CR));
	ASSERT_X(1, cr->result);
	ASSERT_X(5999, cr->bytes_completed);
	b[5999] ^= 0x01;
	b[4500] ^= 0x40;
	b[5000] ^= 0x01;
	/* Compare writes no memory. */
	assert_same(_metadata, "src1", before[0], a, 6000);
	assert_same(_metadata, "src2", before[1], b, 6000);

	/* Check result: a result other than expected_res is a false predicate. */
	ds = COMPARE(F_CR | IDXD_OP_FLAG_CR);
	ds.expected_res = 0;
	cr = RUN(d, ds);
	ASSERT_X(DSA_COMP_SUCCESS_PRED, cr->status);
	ASSERT_X(1, cr->result);
	ASSERT_X(4500, cr->bytes_completed);
	ds.expected_res = 1;
	cr = RUN(d, ds);
	ASSERT_X(DSA_COMP_SUCCESS, cr->status);
	ASSERT_X(1, cr->result);
	memcpy(b, a, 6000);
	cr = RUN(d, ds);
	ASSERT_X(DSA_COMP_SUCCESS_PRED, cr->status);
	ASSERT_X(0, cr->result);
	ds.expected_res = 0;
	cr = RUN(d, ds);
	assert_only_status(_metadata, cr, DSA_COMP_SUCCESS);
#undef COMPARE

	/* COMPVAL: against the 8-byte pattern, repeated from the start. */
	for (i = 0; i < 1000; i++)
		a[i] = pattern >> 8 * (i % 8);
	cr = RUN(d, mkdesc(DSA_OPCODE_COMPVAL, F_CR, iova_of(SRC_OFF + 0x10), pattern, 1000));
	assert_only_status(_metadata, cr, DSA_COMP_SUCCESS);
	a[777] ^= 0xff;
	cr = RUN(d, mkdesc(DSA_OPCODE_COMPVAL, F_CR, iova_of(SRC_OFF + 0x10), pattern, 1000));
	ASSERT_X(DSA_COMP_SUCCESS, cr->status);
	ASSERT_X(1, cr->result);
	ASSERT_X(777, cr->bytes_completed);
	/* Shorter than the difference: equal. */
	cr = RUN(d, mkdesc(DSA_OPCODE_COMPVAL, F_CR, iova_of(SRC_OFF + 0x10), pattern, 777));
	assert_only_status(_metadata, cr, DSA_COMP_SUCCESS);
	ds = mkdesc(DSA_OPCODE_COMPVAL, F_CR | IDXD_OP_FLAG_CR, iova_of(SRC_OFF + 0x10),
		    pattern, 1000);
	ds.expected_res = 0;
	cr = RUN(d, ds);
	ASSERT_X(DSA_COMP_SUCCESS_PRED, cr->status);
	ASSERT_X(1, cr->result);
	ASSERT_X(777, cr->bytes_completed);
}

TEST_F_TIMEOUT(dsa, dualcast, TIMEOUT)
{
	struct dev dv, *d = &dv;
	struct dsa_completion_record *cr;
	struct dsa_hw_desc ds;
	uint8_t *src, *dst1, *dst2;
	const size_t len = 5000;

	OPEN(d);
	dev_enable(_metadata, d);
	src = d->mem + SRC_OFF + 0x10;
	dst1 = d->mem + DST_OFF + 0x10;
	dst2 = d->mem + DST2_OFF + 0x10;
	fill(src, len, 6);

	/* Both destinations; bits 11:0 of their addresses must match. */
	ds = mkdesc(DSA_OPCODE_DUALCAST, F_CR, iova_of(SRC_OFF + 0x10),
		    iova_of(DST_OFF + 0x10), len);
	ds.dest2 = iova_of(DST2_OFF + 0x10);
	cr = RUN(d, ds);
	assert_only_status(_metadata, cr, DSA_COMP_SUCCESS);
	assert_same(_metadata, "dest1", src, dst1, len);
	assert_same(_metadata, "dest2", src, dst2, len);
	assert_filled(_metadata, "after dest1", dst1 + len, 0, 64);
	assert_filled(_metadata, "after dest2", dst2 + len, 0, 64);

	memset(dst1, 0, len);
	memset(dst2, 0, len);
	ds.dest2 = iova_of(DST2_OFF + 0x20);
	cr = RUN(d, ds);
	assert_only_status(_metadata, cr, DSA_COMP_DCAST_ERR);
	assert_filled(_metadata, "dest1", dst1, 0, len);
	assert_filled(_metadata, "dest2", dst2 - 0x10, 0, len + 0x20);

	/* Overlapping destinations. */
	ds.dest2 = iova_of(DST_OFF + 0x10 + PAGE);
	cr = RUN(d, ds);
	assert_only_status(_metadata, cr, DSA_COMP_OVERLAP_BUFFERS);
	assert_filled(_metadata, "dest1", dst1, 0, len + PAGE);
}

TEST_F_TIMEOUT(dsa, crcgen_and_copy_crc, TIMEOUT)
{
	static const uint8_t check[] = "123456789";
	struct dev dv, *d = &dv;
	struct dsa_completion_record *cr;
	struct dsa_hw_desc ds;
	uint8_t *src, *dst, before[64];
	const size_t len = 3 * PAGE + 77;

	OPEN(d);
	dev_enable(_metadata, d);
	src = d->mem + SRC_OFF;
	dst = d->mem + DST_OFF;

	/*
	 * As hardware does, the device inverts the seed on the way in and the
	 * result on the way out: seed 0 gives the standard CRC-32C check value.
	 */
	ASSERT_X(0xe3069283, crc32c(~0U, check, 9) ^ ~0U);
	memcpy(src, check, 9);
	ds = mkdesc(DSA_OPCODE_CRCGEN, F_CR, iova_of(SRC_OFF), 0, 9);
	ds.crc_seed = 0;
	cr = RUN(d, ds);
	ASSERT_X(DSA_COMP_SUCCESS, cr->status);
	ASSERT_X(0xe3069283, cr->crc_val);

	/* Several pages from an odd offset, any seed; memory unchanged. */
	fill(src, 4 * PAGE, 7);
	memcpy(before, src, sizeof(before));
	ds = mkdesc(DSA_OPCODE_CRCGEN, F_CR, iova_of(SRC_OFF + 5), 0, len);
	ds.crc_seed = 0x12345678;
	cr = RUN(d, ds);
	ASSERT_X(DSA_COMP_SUCCESS, cr->status);
	ASSERT_X(~crc32c(~0x12345678U, src + 5, len), cr->crc_val);
	ASSERT_X(0, cr->bytes_completed);
	assert_same(_metadata, "source", before, src, sizeof(before));
	assert_filled(_metadata, "destination", dst, 0, 4 * PAGE);
	ds.crc_seed = 0;
	cr = RUN(d, ds);
	ASSERT_X(~crc32c(~0U, src + 5, len), cr->crc_val);

	/* COPY_CRC: the same CRC, and the copy byte by byte. */
	ds = mkdesc(DSA_OPCODE_COPY_CRC, F_CR, iova_of(SRC_OFF + 5), iova_of(DST_OFF + 0x801), len);
	ds.crc_seed = 0xdeadbeef;
	cr = RUN(d, ds);
	ASSERT_X(DSA_COMP_SUCCESS, cr->status);
	ASSERT_X(~crc32c(~0xdeadbeefU, src + 5, len), cr->crc_val);
	assert_same(_metadata, "copy", src + 5, dst + 0x801, len);
	assert_filled(_metadata, "before the copy", dst, 0, 0x801);
	assert_filled(_metadata, "after the copy", dst + 0x801 + len, 0, 64);

	/* COPY_CRC does not take overlapping buffers. */
	memcpy(before, src + 100, sizeof(before));
	ds = mkdesc(DSA_OPCODE_COPY_CRC, F_CR, iova_of(SRC_OFF), iova_of(SRC_OFF + 100), 1000);
	cr = RUN(d, ds);
	assert_only_status(_metadata, cr, DSA_COMP_OVERLAP_BUFFERS);
	assert_same(_metadata, "overlapping destination", before, src + 100, sizeof(before));
}

/* --- batches ------------------------------------------------------------ */

static void put_list(struct dev *d, unsigned int at, const struct dsa_hw_desc *descs,
		     unsigned int n)
{
	memcpy(d->mem + LIST_OFF + 64 * at, descs, 64 * n);
}

/* A member with its record in slot @slot. */
static struct dsa_hw_desc member(uint8_t opcode, uint32_t flags, uint64_t a1, uint64_t a2,
				 uint32_t size, unsigned int slot)
{
	struct dsa_hw_desc ds = mkdesc(opcode, flags, a1, a2, size);

	ds.completion_addr = cr_iova(slot);
	return ds;
}

TEST_F_TIMEOUT(dsa, batch, TIMEOUT)
{
	struct dev dv, *d = &dv;
	struct dsa_completion_record *cr;
	struct dsa_hw_desc list[4];
	uint8_t *src, *dst;
	unsigned int i;

	OPEN(d);
	dev_enable(_metadata, d);
	src = d->mem + SRC_OFF;
	dst = d->mem + DST_OFF;
	fill(src, PAGE, 8);

	list[0] = member(DSA_OPCODE_MEMMOVE, F_CR, iova_of(SRC_OFF), iova_of(DST_OFF), 1000, 1);
	list[1] = member(DSA_OPCODE_MEMFILL, F_CR, 0x0101010101010101ULL,
			 iova_of(DST_OFF + 2000), 100, 2);
	list[2] = member(DSA_OPCODE_COMPARE, F_CR, iova_of(SRC_OFF), iova_of(DST_OFF), 1000, 3);
	list[3] = member(DSA_OPCODE_NOOP, F_CR | IDXD_OP_FLAG_FENCE, 0, 0, 0, 4);
	put_list(d, 0, list, 4);
	for (i = 1; i <= 4; i++)
		memset(cr_slot(d, i), 0, 32);
	cr = RUN(d, mkdesc(DSA_OPCODE_BATCH, F_CR, iova_of(LIST_OFF), 0, 4));
	ASSERT_X(DSA_COMP_SUCCESS, cr->status);
	ASSERT_X(4, cr->descs_completed);
	for (i = 1; i <= 4; i++) {
		assert_only_status(_metadata, cr_slot(d, i), DSA_COMP_SUCCESS);
	}
	assert_same(_metadata, "memmove", src, dst, 1000);
	assert_filled(_metadata, "memfill", dst + 2000, 1, 100);

	/* Members without records, as dsa.c submits them. */
	memset(dst, 0, 2 * PAGE);
	list[0].flags = IDXD_OP_FLAG_CRAV;
	list[1].flags = 0;
	put_list(d, 0, list, 2);
	memset(cr_slot(d, 1), 0xee, 64);
	cr = RUN(d, mkdesc(DSA_OPCODE_BATCH, F_CR, iova_of(LIST_OFF), 0, 2));
	ASSERT_X(DSA_COMP_SUCCESS, cr->status);
	ASSERT_X(2, cr->descs_completed);
	assert_filled(_metadata, "member records", cr_slot(d, 1), 0xee, 64);
	assert_same(_metadata, "memmove", src, dst, 1000);

	/* The batch's own limits: 2 to 1 << max_batch_shift descriptors. */
	cr = RUN(d, mkdesc(DSA_OPCODE_BATCH, F_CR, iova_of(LIST_OFF), 0, 1));
	assert_only_status(_metadata, cr, DSA_COMP_DESC_CNT_ERANGE);
	cr = RUN(d, mkdesc(DSA_OPCODE_BATCH, F_CR, iova_of(LIST_OFF), 0, 0));
	assert_only_status(_metadata, cr, DSA_COMP_DESC_CNT_ERANGE);
	cr = RUN(d, mkdesc(DSA_OPCODE_BATCH, F_CR, iova_of(LIST_OFF), 0,
			   (1 << MAX_BATCH_SHIFT) + 1));
	assert_only_status(_metadata, cr, DSA_COMP_DESC_CNT_ERANGE);
	cr = RUN(d, mkdesc(DSA_OPCODE_BATCH, F_CR, iova_of(LIST_OFF + 32), 0, 2));
	assert_only_status(_metadata, cr, DSA_COMP_DESCLIST_ALIGN);
	/* A WQ's own max_batch_shift: 2 here, so 4 is the most. */
	ASSERT_X(IDXD_CMDSTS_SUCCESS, CMD(d, IDXD_CMD_DISABLE_WQ, DSA_WQ_MASK(1)));
	W32(d, WQCFG(1, 3), WQ_LIMITS(MAX_XFER_SHIFT, 2));
	ASSERT_X(IDXD_CMDSTS_SUCCESS, CMD(d, IDXD_CMD_ENABLE_WQ, 1));
	list[0] = mkdesc(DSA_OPCODE_NOOP, 0, 0, 0, 0);
	for (i = 0; i < 5; i++)
		put_list(d, i, list, 1);
	cr = run_on(_metadata, d, 1, mkdesc(DSA_OPCODE_BATCH, F_CR, iova_of(LIST_OFF), 0, 5), 0);
	assert_only_status(_metadata, cr, DSA_COMP_DESC_CNT_ERANGE);
	cr = run_on(_metadata, d, 1, mkdesc(DSA_OPCODE_BATCH, F_CR, iova_of(LIST_OFF), 0, 4), 0);
	ASSERT_X(DSA_COMP_SUCCESS, cr->status);
	ASSERT_X(4, cr->descs_completed);
	assert_swerr(_metadata, d, 0, 0, 0);
}

TEST_F_TIMEOUT(dsa, batch_errors, TIMEOUT)
{
	struct dev dv, *d = &dv;
	struct dsa_completion_record *cr;
	struct dsa_hw_desc list[5], ds;
	uint8_t *src, *dst;
	unsigned int i;

	OPEN(d);
	dev_enable(_metadata, d);
	src = d->mem + SRC_OFF;
	dst = d->mem + DST_OFF;
	fill(src, 4 * PAGE, 9);

	/*
	 * A batch in a batch and a drain in a batch are bad opcodes; the batch
	 * fails, counting its successes; a fence after a failure abandons the
	 * rest.
	 */
	list[0] = member(DSA_OPCODE_MEMMOVE, F_CR, iova_of(SRC_OFF), iova_of(DST_OFF), 64, 1);
	list[1] = member(DSA_OPCODE_BATCH, F_CR, iova_of(LIST_OFF), 0, 2, 2);
	list[2] = member(DSA_OPCODE_MEMMOVE, F_CR, iova_of(SRC_OFF + 64), iova_of(DST_OFF + 64),
			 64, 3);
	list[3] = member(DSA_OPCODE_DRAIN, F_CR, 0, 0, 0, 4);
	list[4] = member(DSA_OPCODE_MEMMOVE, F_CR | IDXD_OP_FLAG_FENCE, iova_of(SRC_OFF + 128),
			 iova_of(DST_OFF + 128), 64, 5);
	put_list(d, 0, list, 5);
	for (i = 1; i <= 5; i++)
		memset(cr_slot(d, i), 0, 32);
	cr = RUN(d, mkdesc(DSA_OPCODE_BATCH, F_CR, iova_of(LIST_OFF), 0, 5));
	ASSERT_X(DSA_COMP_BATCH_FAIL, cr->status);
	ASSERT_X(2, cr->descs_completed);
	assert_only_status(_metadata, cr_slot(d, 1), DSA_COMP_SUCCESS);
	assert_only_status(_metadata, cr_slot(d, 2), DSA_COMP_BAD_OPCODE);
	assert_only_status(_metadata, cr_slot(d, 3), DSA_COMP_SUCCESS);
	assert_only_status(_metadata, cr_slot(d, 4), DSA_COMP_BAD_OPCODE);
	assert_only_status(_metadata, cr_slot(d, 5), DSA_COMP_NONE);
	assert_same(_metadata, "member 0", src, dst, 128);
	assert_filled(_metadata, "fenced member", dst + 128, 0, 64);

	/* Without the fence the rest runs. */
	list[4].flags = F_CR;
	put_list(d, 4, &list[4], 1);
	cr = RUN(d, mkdesc(DSA_OPCODE_BATCH, F_CR, iova_of(LIST_OFF), 0, 5));
	ASSERT_X(DSA_COMP_BATCH_FAIL, cr->status);
	ASSERT_X(3, cr->descs_completed);
	assert_only_status(_metadata, cr_slot(d, 5), DSA_COMP_SUCCESS);
	assert_same(_metadata, "member 4", src + 128, dst + 128, 64);

	/* A member's page fault fails the batch. */
	list[0] = member(DSA_OPCODE_MEMMOVE, F_CR, IOVA_HOLE, iova_of(DST_OFF), 64, 1);
	list[1] = member(DSA_OPCODE_NOOP, F_CR, 0, 0, 0, 2);
	put_list(d, 0, list, 2);
	cr = RUN(d, mkdesc(DSA_OPCODE_BATCH, F_CR, iova_of(LIST_OFF), 0, 2));
	ASSERT_X(DSA_COMP_BATCH_FAIL, cr->status);
	ASSERT_X(1, cr->descs_completed);
	ASSERT_X(DSA_COMP_PAGE_FAULT_NOBOF, cr_slot(d, 1)->status);
	ASSERT_X(IOVA_HOLE, cr_slot(d, 1)->fault_addr);

	/*
	 * A list running into unmapped memory: the batch reports a page fault
	 * at the descriptor it could not read.  The list is in the read-only
	 * mapping, which the device may read.
	 */
	ds = member(DSA_OPCODE_NOOP, F_CR, 0, 0, 0, 1);
	memcpy(d->ro + RO_SIZE - 64, &ds, 64);
	memset(cr_slot(d, 1), 0, 32);
	cr = RUN(d, mkdesc(DSA_OPCODE_BATCH, F_CR, IOVA_HOLE - 64, 0, 3));
	ASSERT_X(DSA_COMP_BATCH_PAGE_FAULT, cr->status);
	ASSERT_X(1, cr->descs_completed);
	ASSERT_X(IOVA_HOLE, cr->fault_addr);
	assert_only_status(_metadata, cr_slot(d, 1), DSA_COMP_SUCCESS);

	/* A list that is not mapped at all. */
	cr = RUN(d, mkdesc(DSA_OPCODE_BATCH, F_CR, IOVA_HOLE + PAGE, 0, 2));
	ASSERT_X(DSA_COMP_BATCH_PAGE_FAULT, cr->status);
	ASSERT_X(0, cr->descs_completed);
	ASSERT_X(IOVA_HOLE + PAGE, cr->fault_addr);
	assert_swerr(_metadata, d, 0, 0, 0);
}

/* --- interrupts --------------------------------------------------------- */

TEST_F_TIMEOUT(dsa, irq_set_semantics, TIMEOUT)
{
	struct dev dv, *d = &dv;
	int32_t efd[3], fds[3], other, pipefd[2];
	uint8_t bools[3] = { 1, 0, 1 };
	unsigned int i;

	OPEN(d);
	for (i = 0; i < 3; i++)
		efd[i] = new_eventfd(_metadata);
	other = new_eventfd(_metadata);
	ASSERT_EQ(0, pipe(pipefd));

	ASSERT_EQ(0, set_eventfds(d, 0, 3, efd));
	/* DATA_NONE fires the vectors in range. */
	ASSERT_EQ(0, fire(d, 1, 2));
	ASSERT_X(0, QUIET(efd[0]));
	ASSERT_X(1, FIRED(efd[1]));
	ASSERT_X(1, FIRED(efd[2]));
	/* DATA_BOOL fires where true. */
	ASSERT_EQ(0, set_irqs(d, TRIGGER(BOOL), MSIX, 0, 3, bools, 3));
	ASSERT_X(1, FIRED(efd[0]));
	ASSERT_X(0, QUIET(efd[1]));
	ASSERT_X(1, FIRED(efd[2]));
	/* Each firing counts. */
	ASSERT_EQ(0, fire(d, 0, 1));
	ASSERT_EQ(0, fire(d, 0, 1));
	ASSERT_X(2, FIRED(efd[0]));

	/* -1 clears one vector. */
	fds[0] = -1;
	ASSERT_EQ(0, set_eventfds(d, 1, 1, fds));
	ASSERT_EQ(0, fire(d, 0, 3));
	ASSERT_X(1, FIRED(efd[0]));
	ASSERT_X(0, QUIET(efd[1]));
	ASSERT_X(1, FIRED(efd[2]));

	/* A file descriptor that is not an eventfd fails and changes nothing. */
	fds[0] = other;
	fds[1] = pipefd[0];
	ASSERT_EQ(-EINVAL, set_eventfds(d, 0, 2, fds));
	fds[1] = 1000;	/* not open */
	ASSERT_GT(0, set_eventfds(d, 0, 2, fds));
	ASSERT_EQ(0, fire(d, 0, 3));
	ASSERT_X(1, FIRED(efd[0]));
	ASSERT_X(0, QUIET(other));
	ASSERT_X(0, QUIET(efd[1]));
	ASSERT_X(1, FIRED(efd[2]));

	/* Ranges, indexes and actions the device does not have. */
	ASSERT_EQ(-EINVAL, set_eventfds(d, 2, 2, efd));
	ASSERT_EQ(-EINVAL, fire(d, 3, 1));
	ASSERT_EQ(-EINVAL, fire(d, 3, 0));
	ASSERT_EQ(-EINVAL, set_irqs(d, VFIO_IRQ_SET_ACTION_MASK | VFIO_IRQ_SET_DATA_NONE,
				    MSIX, 0, 1, NULL, 0));
	ASSERT_EQ(-EINVAL, set_irqs(d, VFIO_IRQ_SET_ACTION_UNMASK | VFIO_IRQ_SET_DATA_NONE,
				    MSIX, 0, 1, NULL, 0));
	for (i = 0; i < 6; i++) {
		if (i == MSIX)
			continue;
		ASSERT_EQ(-EINVAL, set_irqs(d, TRIGGER(NONE), i, 0, 0, NULL, 0)) TH_LOG("%u", i);
		ASSERT_EQ(-EINVAL, set_irqs(d, TRIGGER(EVENTFD), i, 0, 1, efd, 4)) TH_LOG("%u", i);
	}
	ASSERT_EQ(0, fire(d, 0, 3));
	ASSERT_X(1, FIRED(efd[0]));
	ASSERT_X(1, FIRED(efd[2]));

	/* DATA_NONE with count 0 clears them all. */
	ASSERT_EQ(0, fire(d, 0, 0));
	ASSERT_EQ(0, fire(d, 0, 3));
	for (i = 0; i < 3; i++) {
		ASSERT_X(0, QUIET(efd[i]));
	}
	/* And they can be set again. */
	ASSERT_EQ(0, set_eventfds(d, 2, 1, &efd[0]));
	ASSERT_EQ(0, fire(d, 0, 3));
	ASSERT_X(1, FIRED(efd[0]));
	ASSERT_X(0, QUIET(efd[2]));
}

TEST_F_TIMEOUT(dsa, completion_interrupts, TIMEOUT)
{
	struct dev dv, *d = &dv;
	struct dsa_completion_record *cr;
	struct dsa_hw_desc ds;
	int32_t efd[3];
	unsigned int i;

	OPEN(d);
	dev_enable(_metadata, d);
	for (i = 0; i < 3; i++)
		efd[i] = new_eventfd(_metadata);
	ASSERT_EQ(0, set_eventfds(d, 0, 3, efd));
	fill(d->mem + SRC_OFF, PAGE, 10);

	/* RCI with int_handle v fires vector v once the work is done. */
	ds = mkdesc(DSA_OPCODE_MEMMOVE, F_CR | IDXD_OP_FLAG_RCI, iova_of(SRC_OFF),
		    iova_of(DST_OFF), PAGE);
	ds.int_handle = 1;
	cr = RUN(d, ds);
	ASSERT_X(1, FIRED(efd[1]));
	ASSERT_X(DSA_COMP_SUCCESS, cr->status);
	assert_same(_metadata, "copy", d->mem + SRC_OFF, d->mem + DST_OFF, PAGE);
	ASSERT_X(0, QUIET(efd[0]));
	ASSERT_X(0, QUIET(efd[2]));
	ds.int_handle = 2;
	RUN(d, ds);
	RUN(d, ds);
	ASSERT_X(2, FIRED(efd[2]));
	ASSERT_X(0, QUIET(efd[1]));
	/* Vector 0 too, from WQ 1. */
	ds.int_handle = 0;
	run_on(_metadata, d, 1, ds, 0);
	ASSERT_X(1, FIRED(efd[0]));

	/* Without a record, or without a record address: still interrupts. */
	memset(cr_slot(d, 0), 0xee, 32);
	ds = mkdesc(DSA_OPCODE_NOOP, IDXD_OP_FLAG_CRAV | IDXD_OP_FLAG_RCI, 0, 0, 0);
	ds.int_handle = 1;
	ds.completion_addr = cr_iova(0);
	submit_at(_metadata, d, PORTAL(0, 0, 0), &ds);
	ASSERT_X(1, FIRED(efd[1]));
	assert_filled(_metadata, "record", cr_slot(d, 0), 0xee, 32);
	ds.flags = IDXD_OP_FLAG_RCI;
	ds.completion_addr = 0;
	submit_at(_metadata, d, PORTAL(0, 0, 0), &ds);
	ASSERT_X(1, FIRED(efd[1]));
	/* A failed descriptor interrupts too. */
	ds = mkdesc(DSA_OPCODE_MEMMOVE, F_CR | IDXD_OP_FLAG_RCI, iova_of(SRC_OFF),
		    iova_of(DST_OFF), 0);
	ds.int_handle = 2;
	cr = RUN(d, ds);
	assert_only_status(_metadata, cr, DSA_COMP_XFER_ERANGE);
	ASSERT_X(1, FIRED(efd[2]));

	/* An int_handle past the last vector is invalid, and fires nothing. */
	ds = mkdesc(DSA_OPCODE_NOOP, F_CR | IDXD_OP_FLAG_RCI, 0, 0, 0);
	ds.int_handle = 1 + BASE;
	cr = RUN(d, ds);
	assert_only_status(_metadata, cr, DSA_COMP_INT_HANDLE_INVAL);
	ds.int_handle = 0xffff;
	cr = RUN(d, ds);
	assert_only_status(_metadata, cr, DSA_COMP_INT_HANDLE_INVAL);
	for (i = 0; i < 3; i++) {
		ASSERT_X(0, QUIET(efd[i]));
	}

	/*
	 * Batch members interrupt, and the batch.  Interrupts are collected
	 * per submission, one signal per vector (model.rs Effects.vectors):
	 * two members on vector 1 signal it once.
	 */
	{
		struct dsa_hw_desc list[2];

		list[0] = member(DSA_OPCODE_NOOP, F_CR | IDXD_OP_FLAG_RCI, 0, 0, 0, 1);
		list[0].int_handle = 1;
		list[1] = list[0];
		put_list(d, 0, list, 2);
		ds = mkdesc(DSA_OPCODE_BATCH, F_CR | IDXD_OP_FLAG_RCI, iova_of(LIST_OFF), 0, 2);
		ds.int_handle = 2;
		cr = RUN(d, ds);
		ASSERT_X(DSA_COMP_SUCCESS, cr->status);
		ASSERT_X(1, FIRED(efd[1]));
		ASSERT_X(1, FIRED(efd[2]));
		ASSERT_X(0, QUIET(efd[0]));
	}

	/* Clearing the vector's eventfd silences it. */
	{
		int32_t none = -1;

		ASSERT_EQ(0, set_eventfds(d, 1, 1, &none));
		ds = mkdesc(DSA_OPCODE_NOOP, F_CR | IDXD_OP_FLAG_RCI, 0, 0, 0);
		ds.int_handle = 1;
		cr = RUN(d, ds);
		assert_only_status(_metadata, cr, DSA_COMP_SUCCESS);
		for (i = 0; i < 3; i++) {
			ASSERT_X(0, QUIET(efd[i]));
		}
	}
}

/* --- descriptor errors --------------------------------------------------- */

TEST_F_TIMEOUT(dsa, disabled_wq_swerr, TIMEOUT)
{
	struct dev dv, *d = &dv;
	struct dsa_hw_desc ds;
	int32_t efd[2];

	OPEN(d);
	efd[0] = new_eventfd(_metadata);
	efd[1] = new_eventfd(_metadata);
	ASSERT_EQ(0, set_eventfds(d, 0, 2, efd));
	W32(d, IDXD_GENCTRL_OFFSET, GENCTRL_SOFTERR_INT_EN);
	fill(d->mem + SRC_OFF, PAGE, 11);
	/* MSI-X messages need bus mastering (hostile_test checks without). */
	bus_master(_metadata, d);

	/* Device disabled: dropped, nothing written, SWERR says why. */
	ds = mkdesc(DSA_OPCODE_MEMMOVE, F_CR | IDXD_OP_FLAG_RCI, iova_of(SRC_OFF),
		    iova_of(DST_OFF), 256);
	ds.int_handle = 1;
	ds.completion_addr = cr_iova(0);
	submit_at(_metadata, d, PORTAL(1, 3, 1), &ds);
	assert_only_status(_metadata, cr_slot(d, 0), DSA_COMP_NONE);
	assert_filled(_metadata, "destination", d->mem + DST_OFF, 0, 256);
	assert_swerr(_metadata, d, swerr_word(SWERR_WQ_NOT_ENABLED, 1, DSA_OPCODE_MEMMOVE, 0),
		     0, 0);
	ASSERT_X(IDXD_INTC_ERR, R32(d, IDXD_INTCAUSE_OFFSET));
	ASSERT_X(1, FIRED(efd[0]));
	ASSERT_X(0, QUIET(efd[1]));

	/* A second error only sets overflow; the first record stays. */
	ds.opcode = DSA_OPCODE_NOOP;
	ds.src_addr = ds.dst_addr = ds.xfer_size = 0;
	submit_at(_metadata, d, PORTAL(0, 0, 0), &ds);
	assert_swerr(_metadata, d, swerr_word(SWERR_WQ_NOT_ENABLED, 1, DSA_OPCODE_MEMMOVE,
					      IDXD_SWERR_OVERFLOW), 0, 0);
	ASSERT_X(1, FIRED(efd[0]));
	/* Acknowledging overflow alone keeps the record; valid clears it. */
	W64(d, IDXD_SWERR_OFFSET, IDXD_SWERR_OVERFLOW);
	assert_swerr(_metadata, d, swerr_word(SWERR_WQ_NOT_ENABLED, 1, DSA_OPCODE_MEMMOVE, 0),
		     0, 0);
	W32(d, IDXD_SWERR_OFFSET, IDXD_SWERR_VALID);
	assert_swerr(_metadata, d, 0, 0, 0);
	/* INTCAUSE is acknowledged on its own. */
	ASSERT_X(IDXD_INTC_ERR, R32(d, IDXD_INTCAUSE_OFFSET));
	W32(d, IDXD_INTCAUSE_OFFSET, IDXD_INTC_ERR);
	ASSERT_X(0, R32(d, IDXD_INTCAUSE_OFFSET));

	/* Device enabled, WQ 1 not: WQ 0 runs, WQ 1 drops. */
	bus_master(_metadata, d);
	wq_config(_metadata, d, 0, WQ_ENTRIES_PER_WQ, WQ_MODE_OK,
		  WQ_LIMITS(MAX_XFER_SHIFT, MAX_BATCH_SHIFT));
	ASSERT_X(IDXD_CMDSTS_SUCCESS, CMD(d, IDXD_CMD_ENABLE_DEVICE, 0));
	ASSERT_X(IDXD_CMDSTS_SUCCESS, CMD(d, IDXD_CMD_ENABLE_WQ, 0));
	ds = mkdesc(DSA_OPCODE_MEMMOVE, F_CR | IDXD_OP_FLAG_RCI, iova_of(SRC_OFF),
		    iova_of(DST_OFF), 256);
	ds.int_handle = 1;
	run_on(_metadata, d, 1, ds, 0);
	assert_only_status(_metadata, cr_slot(d, 0), DSA_COMP_NONE);
	assert_swerr(_metadata, d, swerr_word(SWERR_WQ_NOT_ENABLED, 1, DSA_OPCODE_MEMMOVE, 0),
		     0, 0);
	ASSERT_X(1, FIRED(efd[0]));
	ASSERT_X(0, QUIET(efd[1]));
	swerr_ack(_metadata, d);
	run_on(_metadata, d, 0, ds, 0);
	assert_only_status(_metadata, cr_slot(d, 0), DSA_COMP_SUCCESS);
	assert_same(_metadata, "copy", d->mem + SRC_OFF, d->mem + DST_OFF, 256);
	ASSERT_X(1, FIRED(efd[1]));
	ASSERT_X(0, QUIET(efd[0]));

	/* A WQ disabled again drops again; without softerr_int_en, silently. */
	W32(d, IDXD_GENCTRL_OFFSET, 0);
	ASSERT_X(IDXD_CMDSTS_SUCCESS, CMD(d, IDXD_CMD_DISABLE_WQ, DSA_WQ_MASK(0)));
	ds.opcode = DSA_OPCODE_MEMFILL;
	run_on(_metadata, d, 0, ds, 0);
	assert_swerr(_metadata, d, swerr_word(SWERR_WQ_NOT_ENABLED, 0, DSA_OPCODE_MEMFILL, 0),
		     0, 0);
	ASSERT_X(IDXD_INTC_ERR, R32(d, IDXD_INTCAUSE_OFFSET) & IDXD_INTC_ERR);
	ASSERT_X(0, QUIET(efd[0]));
	ASSERT_X(0, QUIET(efd[1]));
}

TEST_F_TIMEOUT(dsa, invalid_descriptors, TIMEOUT)
{
	static const uint8_t bad_opcodes[] = {
		DSA_OPCODE_CR_DELTA, DSA_OPCODE_AP_DELTA, DSA_OPCODE_TRANSL_FETCH,
		DSA_OPCODE_DIF_CHECK, DSA_OPCODE_DIX_GEN, DSA_OPCODE_CFLUSH, 0x0b, 0x3f, 0xff,
	};
	static const uint32_t bad_flags[] = {
		IDXD_OP_FLAG_FENCE,	/* only in a batch */
		IDXD_OP_FLAG_CR,	/* only for compare operations */
		0x40,			/* reserved */
		0x10000, 0x800000, 0x410000,
	};
	struct dev dv, *d = &dv;
	struct dsa_completion_record *cr;
	struct dsa_hw_desc ds;
	unsigned int i;

	OPEN(d);
	/* WQ 1: transfers up to 4 KiB, NOOP, BATCH and MEMMOVE only. */
	bus_master(_metadata, d);
	wq_config(_metadata, d, 0, WQ_ENTRIES_PER_WQ, WQ_MODE_OK,
		  WQ_LIMITS(MAX_XFER_SHIFT, MAX_BATCH_SHIFT));
	wq_config(_metadata, d, 1, WQ_ENTRIES_PER_WQ, WQ_MODE_OK,
		  WQ_LIMITS(12, MAX_BATCH_SHIFT));
	W32(d, WQCFG(1, 8), 1 << DSA_OPCODE_NOOP | 1 << DSA_OPCODE_BATCH |
			    1 << DSA_OPCODE_MEMMOVE);
	W32(d, WQCFG(1, 9), 0);
	ASSERT_X(IDXD_CMDSTS_SUCCESS, CMD(d, IDXD_CMD_ENABLE_DEVICE, 0));
	ASSERT_X(IDXD_CMDSTS_SUCCESS, CMD(d, IDXD_CMD_ENABLE_WQ, 0));
	ASSERT_X(IDXD_CMDSTS_SUCCESS, CMD(d, IDXD_CMD_ENABLE_WQ, 1));
	fill(d->mem + SRC_OFF, 2 * PAGE, 12);

	/* Opcodes the device does not implement. */
	for (i = 0; i < ARRAY_SIZE(bad_opcodes); i++) {
		cr = RUN(d, mkdesc(bad_opcodes[i], F_CR, 0, 0, 0));
		assert_only_status(_metadata, cr, DSA_COMP_BAD_OPCODE);
	}
	/* Opcodes the WQ's op_config leaves out. */
	cr = run_on(_metadata, d, 1, mkdesc(DSA_OPCODE_MEMFILL, F_CR, 1, iova_of(DST_OFF), 8), 0);
	assert_only_status(_metadata, cr, DSA_COMP_BAD_OPCODE);
	cr = run_on(_metadata, d, 1, mkdesc(DSA_OPCODE_DRAIN, F_CR, 0, 0, 0), 0);
	assert_only_status(_metadata, cr, DSA_COMP_BAD_OPCODE);
	assert_filled(_metadata, "destination", d->mem + DST_OFF, 0, 2 * PAGE);

	/* Flags: the record names the offending ones. */
	for (i = 0; i < ARRAY_SIZE(bad_flags); i++) {
		cr = RUN(d, mkdesc(DSA_OPCODE_MEMMOVE, F_CR | bad_flags[i], iova_of(SRC_OFF),
				   iova_of(DST_OFF), 64));
		ASSERT_XM(DSA_COMP_INVALID_FLAGS, cr->status, "flags %#x", bad_flags[i]);
		ASSERT_X(bad_flags[i], cr->invalid_flags);
		ASSERT_X(0, cr->bytes_completed);
	}
	/* ... while the flags every opcode may carry are fine. */
	cr = RUN(d, mkdesc(DSA_OPCODE_MEMMOVE, F_CR | IDXD_OP_FLAG_CC | IDXD_OP_FLAG_STORD |
			   IDXD_OP_FLAG_DRDBK | IDXD_OP_FLAG_DSTS | IDXD_OP_FLAG_CRSTS,
			   iova_of(SRC_OFF), iova_of(DST_OFF), 64));
	assert_only_status(_metadata, cr, DSA_COMP_SUCCESS);
	memset(d->mem + DST_OFF, 0, 64);

	/* Reserved fields must be zero. */
	cr = RUN(d, mkdesc(DSA_OPCODE_NOOP, F_CR, iova_of(SRC_OFF), 0, 0));
	assert_only_status(_metadata, cr, DSA_COMP_NOZERO_RESERVE);
	ds = mkdesc(DSA_OPCODE_MEMMOVE, F_CR, iova_of(SRC_OFF), iova_of(DST_OFF), 64);
	ds.op_specific[23] = 1;
	cr = RUN(d, ds);
	assert_only_status(_metadata, cr, DSA_COMP_NOZERO_RESERVE);
	ds = mkdesc(DSA_OPCODE_CRCGEN, F_CR, iova_of(SRC_OFF), iova_of(DST_OFF), 64);
	cr = RUN(d, ds);	/* CRCGEN has no destination */
	assert_only_status(_metadata, cr, DSA_COMP_NOZERO_RESERVE);
	ds = mkdesc(DSA_OPCODE_BATCH, F_CR, iova_of(LIST_OFF), 0, 2);
	ds.rsvd1 = 1;
	cr = RUN(d, ds);
	assert_only_status(_metadata, cr, DSA_COMP_NOZERO_RESERVE);
	assert_filled(_metadata, "destination", d->mem + DST_OFF, 0, 2 * PAGE);

	/* Transfer sizes: 1 to 1 << max_xfer_shift bytes. */
	cr = RUN(d, mkdesc(DSA_OPCODE_MEMMOVE, F_CR, iova_of(SRC_OFF), iova_of(DST_OFF), 0));
	assert_only_status(_metadata, cr, DSA_COMP_XFER_ERANGE);
	cr = RUN(d, mkdesc(DSA_OPCODE_MEMMOVE, F_CR, iova_of(SRC_OFF), iova_of(DST_OFF),
			   (1 << MAX_XFER_SHIFT) + 1));
	assert_only_status(_metadata, cr, DSA_COMP_XFER_ERANGE);
	cr = RUN(d, mkdesc(DSA_OPCODE_MEMFILL, F_CR, 0, iova_of(DST_OFF), UINT32_MAX));
	assert_only_status(_metadata, cr, DSA_COMP_XFER_ERANGE);
	assert_filled(_metadata, "destination", d->mem + DST_OFF, 0, 2 * PAGE);
	cr = run_on(_metadata, d, 1, mkdesc(DSA_OPCODE_MEMMOVE, F_CR, iova_of(SRC_OFF),
					    iova_of(DST_OFF), PAGE + 1), 0);
	assert_only_status(_metadata, cr, DSA_COMP_XFER_ERANGE);
	assert_filled(_metadata, "destination", d->mem + DST_OFF, 0, 2 * PAGE);
	cr = run_on(_metadata, d, 1, mkdesc(DSA_OPCODE_MEMMOVE, F_CR, iova_of(SRC_OFF),
					    iova_of(DST_OFF), PAGE), 0);
	assert_only_status(_metadata, cr, DSA_COMP_SUCCESS);
	assert_same(_metadata, "copy", d->mem + SRC_OFF, d->mem + DST_OFF, PAGE);

	/* None of these was a software error: each had a record. */
	assert_swerr(_metadata, d, 0, 0, 0);
}

TEST_F_TIMEOUT(dsa, page_faults, TIMEOUT)
{
	struct dev dv, *d = &dv;
	struct dsa_completion_record *cr;
	uint8_t *tail;
	int32_t efd;

	OPEN(d);
	dev_enable(_metadata, d);
	efd = new_eventfd(_metadata);
	ASSERT_EQ(0, set_eventfds(d, 1, 1, &efd));
	fill(d->mem + SRC_OFF, 4 * PAGE, 13);
	tail = d->mem + MEM_SIZE;

	/* Reading into the hole: the bytes before it are done. */
	cr = RUN(d, mkdesc(DSA_OPCODE_MEMMOVE, F_CR, IOVA_HOLE - 0x300, iova_of(DST_OFF), PAGE));
	ASSERT_X(DSA_COMP_PAGE_FAULT_NOBOF, cr->status);
	ASSERT_X(0, cr->fault_info);	/* a read */
	ASSERT_X(0x300, cr->bytes_completed);
	ASSERT_X(IOVA_HOLE, cr->fault_addr);
	assert_same(_metadata, "copied part", d->ro + RO_SIZE - 0x300, d->mem + DST_OFF, 0x300);
	assert_filled(_metadata, "the rest", d->mem + DST_OFF + 0x300, 0, PAGE - 0x300);

	/* Below the mapping. */
	cr = RUN(d, mkdesc(DSA_OPCODE_MEMMOVE, F_CR, IOVA - 2 * PAGE + 8, iova_of(DST_OFF), 64));
	ASSERT_X(DSA_COMP_PAGE_FAULT_NOBOF, cr->status);
	ASSERT_X(0, cr->fault_info);
	ASSERT_X(0, cr->bytes_completed);
	ASSERT_X(IOVA - 2 * PAGE + 8, cr->fault_addr);

	/* Writing into the read-only mapping: a write fault at its start. */
	memset(tail - 0x1000, 0, 0x1000);
	cr = RUN(d, mkdesc(DSA_OPCODE_MEMMOVE, F_CR, iova_of(SRC_OFF), IOVA_RO - 0x800, PAGE));
	ASSERT_X(DSA_COMP_PAGE_FAULT_NOBOF, cr->status);
	ASSERT_X(1, cr->fault_info);	/* a write */
	ASSERT_X(0x800, cr->bytes_completed);
	ASSERT_X(IOVA_RO, cr->fault_addr);
	assert_same(_metadata, "copied part", d->mem + SRC_OFF, tail - 0x800, 0x800);
	{
		uint8_t ro[RO_SIZE];

		fill(ro, RO_SIZE, 99);
		assert_same(_metadata, "read-only memory", ro, d->ro, RO_SIZE);
	}

	/*
	 * An overlapping copy runs from the end: the first write already
	 * faults, at the read-only page, and nothing has been copied.
	 */
	fill(tail - 0x1800, 0x1800, 15);
	{
		uint8_t before[0x1800];

		memcpy(before, tail - 0x1800, sizeof(before));
		cr = RUN(d, mkdesc(DSA_OPCODE_MEMMOVE, F_CR, IOVA_RO - 0x1800, IOVA_RO - 0x1000,
				   0x1800));
		ASSERT_X(DSA_COMP_PAGE_FAULT_NOBOF, cr->status);
		ASSERT_X(1, cr->fault_info);
		ASSERT_X(0, cr->bytes_completed);
		ASSERT_X(IOVA_RO, cr->fault_addr);
		assert_same(_metadata, "overlapping source", before, tail - 0x1800, sizeof(before));
	}

	/* MEMFILL into it, and into the hole. */
	cr = RUN(d, mkdesc(DSA_OPCODE_MEMFILL, F_CR, 0, IOVA_RO + 0x10, 100));
	ASSERT_X(DSA_COMP_PAGE_FAULT_NOBOF, cr->status);
	ASSERT_X(1, cr->fault_info);
	ASSERT_X(0, cr->bytes_completed);
	ASSERT_X(IOVA_RO + 0x10, cr->fault_addr);
	cr = RUN(d, mkdesc(DSA_OPCODE_MEMFILL, F_CR, 0, IOVA_HOLE + 0x4000, 100));
	ASSERT_X(DSA_COMP_PAGE_FAULT_NOBOF, cr->status);
	ASSERT_X(1, cr->fault_info);
	ASSERT_X(IOVA_HOLE + 0x4000, cr->fault_addr);

	/* COMPARE reads up to the fault (the data so far being equal). */
	memcpy(d->mem + SRC_OFF, d->ro, RO_SIZE);
	cr = RUN(d, mkdesc(DSA_OPCODE_COMPARE, F_CR, iova_of(SRC_OFF), IOVA_RO, RO_SIZE + 0x1000));
	ASSERT_X(DSA_COMP_PAGE_FAULT_NOBOF, cr->status);
	ASSERT_X(0, cr->fault_info);
	ASSERT_X(RO_SIZE, cr->bytes_completed);
	ASSERT_X(IOVA_HOLE, cr->fault_addr);

	/* DUALCAST's second destination read-only. */
	{
		struct dsa_hw_desc ds = mkdesc(DSA_OPCODE_DUALCAST, F_CR, iova_of(SRC_OFF),
					       iova_of(DST_OFF), 0x100);

		ds.dest2 = IOVA_RO;
		cr = RUN(d, ds);
		ASSERT_X(DSA_COMP_PAGE_FAULT_NOBOF, cr->status);
		ASSERT_X(1, cr->fault_info);
		ASSERT_X(IOVA_RO, cr->fault_addr);
	}

	/* The completion interrupt still comes. */
	{
		struct dsa_hw_desc ds = mkdesc(DSA_OPCODE_MEMMOVE, F_CR | IDXD_OP_FLAG_RCI,
					       IOVA_HOLE, iova_of(DST_OFF), 64);

		ds.int_handle = 1;
		cr = RUN(d, ds);
		ASSERT_X(DSA_COMP_PAGE_FAULT_NOBOF, cr->status);
		ASSERT_X(1, FIRED(efd));
	}
	assert_swerr(_metadata, d, 0, 0, 0);
}

TEST_F_TIMEOUT(dsa, completion_address_errors, TIMEOUT)
{
	struct dev dv, *d = &dv;
	struct dsa_hw_desc ds, list[2];
	struct dsa_completion_record *cr;
	int32_t efd[2];
	int i;

	OPEN(d);
	dev_enable(_metadata, d);
	efd[0] = new_eventfd(_metadata);
	efd[1] = new_eventfd(_metadata);
	ASSERT_EQ(0, set_eventfds(d, 0, 2, efd));
	W32(d, IDXD_GENCTRL_OFFSET, GENCTRL_SOFTERR_INT_EN);
	fill(d->mem + SRC_OFF, PAGE, 14);

	/*
	 * A misaligned record address: the operation ran, the record and its
	 * interrupt are lost, SWERR reports the address.
	 */
	memset(d->mem, 0xee, 128);
	ds = mkdesc(DSA_OPCODE_MEMMOVE, F_CR | IDXD_OP_FLAG_RCI, iova_of(SRC_OFF),
		    iova_of(DST_OFF), 256);
	ds.int_handle = 1;
	ds.completion_addr = cr_iova(1) + 8;
	submit_at(_metadata, d, PORTAL(1, 0, 0), &ds);
	assert_same(_metadata, "copy", d->mem + SRC_OFF, d->mem + DST_OFF, 256);
	assert_filled(_metadata, "records", d->mem, 0xee, 128);
	assert_swerr(_metadata, d, swerr_word(DSA_COMP_CRA_ALIGN, 1, DSA_OPCODE_MEMMOVE,
					      SWERR_FAULT_RW), 0, cr_iova(1) + 8);
	ASSERT_X(1, FIRED(efd[0]));
	ASSERT_X(0, QUIET(efd[1]));
	swerr_ack(_metadata, d);

	/* Unmapped, and read-only: the record does not translate. */
	for (i = 0; i < 2; i++) {
		uint64_t cra = i ? IOVA_RO + 0x20 : IOVA_HOLE + 0x40;

		ds.completion_addr = cra;
		submit_at(_metadata, d, PORTAL(0, 0, 0), &ds);
		assert_swerr(_metadata, d, swerr_word(DSA_COMP_CRA_XLAT, 0, DSA_OPCODE_MEMMOVE,
						      SWERR_FAULT_RW), 0, cra);
		ASSERT_X(1, FIRED(efd[0]));
		ASSERT_X(0, QUIET(efd[1]));
		swerr_ack(_metadata, d);
	}

	/* Failures without a record address go to SWERR, with their status. */
	ds = mkdesc(0x3f, 0, 0, 0, 0);
	submit_at(_metadata, d, PORTAL(0, 0, 0), &ds);
	assert_swerr(_metadata, d, swerr_word(DSA_COMP_BAD_OPCODE, 0, 0x3f, 0), 0, 0);
	ASSERT_X(1, FIRED(efd[0]));
	swerr_ack(_metadata, d);
	ds = mkdesc(DSA_OPCODE_MEMMOVE, IDXD_OP_FLAG_RCR | 0x10000, iova_of(SRC_OFF),
		    iova_of(DST_OFF), 64);
	submit_at(_metadata, d, PORTAL(1, 0, 0), &ds);
	assert_swerr(_metadata, d, swerr_word(DSA_COMP_INVALID_FLAGS, 1, DSA_OPCODE_MEMMOVE, 0),
		     0x10000ULL << 32, 0);
	ASSERT_X(1, FIRED(efd[0]));
	swerr_ack(_metadata, d);
	ds = mkdesc(DSA_OPCODE_MEMMOVE, 0, iova_of(SRC_OFF), IOVA_RO + 0x100, 64);
	submit_at(_metadata, d, PORTAL(0, 0, 0), &ds);
	assert_swerr(_metadata, d, swerr_word(DSA_COMP_PAGE_FAULT_NOBOF, 0, DSA_OPCODE_MEMMOVE,
					      SWERR_FAULT_RW), 0, IOVA_RO + 0x100);
	ASSERT_X(1, FIRED(efd[0]));
	swerr_ack(_metadata, d);

	/* A success without a record address is no error. */
	ds = mkdesc(DSA_OPCODE_MEMMOVE, 0, iova_of(SRC_OFF), iova_of(DST_OFF), 64);
	submit_at(_metadata, d, PORTAL(0, 0, 0), &ds);
	assert_swerr(_metadata, d, 0, 0, 0);
	ASSERT_X(0, QUIET(efd[0]));

	/* In a batch: SWERR has the member's opcode and index. */
	list[0] = member(DSA_OPCODE_NOOP, F_CR, 0, 0, 0, 2);
	list[1] = mkdesc(0x3e, 0, 0, 0, 0);
	put_list(d, 0, list, 2);
	cr = RUN(d, mkdesc(DSA_OPCODE_BATCH, F_CR, iova_of(LIST_OFF), 0, 2));
	ASSERT_X(DSA_COMP_BATCH_FAIL, cr->status);
	ASSERT_X(1, cr->descs_completed);
	assert_swerr(_metadata, d, swerr_word(DSA_COMP_BAD_OPCODE, 0, 0x3e, SWERR_BATCH), 1, 0);
	ASSERT_X(1, FIRED(efd[0]));

	/* A second error while one is recorded: overflow. */
	ds = mkdesc(0x3d, 0, 0, 0, 0);
	submit_at(_metadata, d, PORTAL(1, 0, 0), &ds);
	assert_swerr(_metadata, d, swerr_word(DSA_COMP_BAD_OPCODE, 0, 0x3e,
					      SWERR_BATCH | IDXD_SWERR_OVERFLOW), 1, 0);
	swerr_ack(_metadata, d);
	ASSERT_X(IDXD_INTC_ERR, R32(d, IDXD_INTCAUSE_OFFSET));
}

/* --- reset, reopen, two devices ----------------------------------------- */

static void snapshot(struct __test_metadata *_metadata, struct dev *d, uint8_t cfg[256],
		     uint64_t *bar0)
{
	uint64_t off;

	ASSERT_EQ(256, rd(d, CONFIG, 0, cfg, 256));
	for (off = 0; off < d->l.bar0_size; off += 8)
		bar0[off / 8] = R64(d, off);
}

/* Change all that can be changed, short of the interrupt triggers. */
static void mess_up(struct __test_metadata *_metadata, struct dev *d)
{
	struct dsa_hw_desc ds = mkdesc(DSA_OPCODE_NOOP, 0, 0, 0, 0);

	CFG_W(d, PCI_BASE_ADDRESS_0, 0xfebf0000, 4);
	CFG_W(d, PCI_BASE_ADDRESS_2, 0xfe000000, 4);
	CFG_W(d, PCI_INTERRUPT_LINE, 11, 1);
	CFG_W(d, MSIX_CAP + PCI_MSIX_FLAGS, PCI_MSIX_FLAGS_ENABLE, 2);
	W32(d, IDXD_GENCFG_OFFSET, 0x1);
	W32(d, IDXD_GENCTRL_OFFSET, 0x7);
	W32(d, MSIX_PERM_TABLE + 8, 0x5);
	dev_enable(_metadata, d);
	W32(d, IDXD_CMD_OFFSET, dsa_cmd_reg(IDXD_CMD_DRAIN_ALL, 0, true));
	ASSERT_X(IDXD_CMDSTS_SUCCESS, CMD(d, IDXD_CMD_DISABLE_WQ, DSA_WQ_MASK(1)));
	submit_at(_metadata, d, PORTAL(1, 0, 0), &ds);
	ASSERT_X(IDXD_INTC_CMD | IDXD_INTC_ERR, R32(d, IDXD_INTCAUSE_OFFSET));
	ASSERT_TRUE((R64(d, IDXD_SWERR_OFFSET) & IDXD_SWERR_VALID) != 0);
}

TEST_F_TIMEOUT(dsa, reset_and_reopen, TIMEOUT)
{
	struct dev dv, *d = &dv;
	uint8_t cfg0[256], cfg[256];
	uint64_t *bar0_0, *bar0;
	struct dsa_hw_desc ds;
	size_t size;
	int32_t efd[2];

	OPEN(d);
	size = d->l.bar0_size;
	bar0_0 = calloc(1, size);
	bar0 = calloc(1, size);
	ASSERT_TRUE(bar0_0 && bar0);
	snapshot(_metadata, d, cfg0, bar0_0);
	efd[0] = new_eventfd(_metadata);
	efd[1] = new_eventfd(_metadata);
	ASSERT_EQ(0, set_eventfds(d, 0, 2, efd));

	mess_up(_metadata, d);
	ASSERT_X(2, FIRED(efd[0]));	/* the command, the software error */
	ASSERT_EQ(0, ioctl(d->fd, VFIO_DEVICE_RESET)) TH_LOG("VFIO_DEVICE_RESET: %s",
							     strerror(errno));
	snapshot(_metadata, d, cfg, bar0);
	/* With triggers attached, MSI-X stays enabled, as with vfio-pci. */
	cfg0[MSIX_CAP + PCI_MSIX_FLAGS + 1] |= PCI_MSIX_FLAGS_ENABLE >> 8;
	assert_same(_metadata, "config space after reset", cfg0, cfg, 256);
	cfg0[MSIX_CAP + PCI_MSIX_FLAGS + 1] &= ~(PCI_MSIX_FLAGS_ENABLE >> 8);
	assert_same(_metadata, "BAR0 after reset", bar0_0, bar0, size);

	/* The eventfds stay, and the device works again. */
	ASSERT_EQ(0, fire(d, 0, 1));
	ASSERT_X(1, FIRED(efd[0]));
	dev_enable(_metadata, d);
	ds = mkdesc(DSA_OPCODE_NOOP, F_CR | IDXD_OP_FLAG_RCI, 0, 0, 0);
	ds.int_handle = 1;
	assert_only_status(_metadata, RUN(d, ds), DSA_COMP_SUCCESS);
	ASSERT_X(1, FIRED(efd[1]));
	/* Reset of an idle device is harmless too. */
	ASSERT_EQ(0, ioctl(d->fd, VFIO_DEVICE_RESET));
	ASSERT_EQ(0, ioctl(d->fd, VFIO_DEVICE_RESET));
	snapshot(_metadata, d, cfg, bar0);
	assert_same(_metadata, "BAR0 after two resets", bar0_0, bar0, size);

	/* Close and reopen: a fresh device, without the old eventfds. */
	mess_up(_metadata, d);
	ASSERT_X(2, FIRED(efd[0]));
	dev_close(_metadata, d);
	OPEN(d);
	snapshot(_metadata, d, cfg, bar0);
	assert_same(_metadata, "config space after reopen", cfg0, cfg, 256);
	assert_same(_metadata, "BAR0 after reopen", bar0_0, bar0, size);
	W32(d, IDXD_CMD_OFFSET, dsa_cmd_reg(IDXD_CMD_DRAIN_ALL, 0, true));
	ASSERT_EQ(0, fire(d, 0, 2));
	ASSERT_X(0, QUIET(efd[0]));
	ASSERT_X(0, QUIET(efd[1]));
	free(bar0_0);
	free(bar0);
}

TEST_F_TIMEOUT(dsa, two_devices_no_crosstalk, TIMEOUT)
{
	char uuid2[DSA_UUID_LEN + 1];
	struct dev da, db, *a = &da, *b = &db;
	struct dsa_hw_desc ds;
	int32_t efa, efb;

	make_uuid(uuid2, 2);
	ASSERT_EQ(0, mdev_create(0, BASE, uuid2));
	OPEN(a);
	dev_open(_metadata, b, variant->via_group, uuid2, BASE);
	if (variant->via_group) {
		ASSERT_NE(find_group(self->uuid), find_group(uuid2));
		ASSERT_NE(a->h.container, b->h.container);
	} else {
		ASSERT_NE(a->h.iommufd, b->h.iommufd);
	}
	dev_enable(_metadata, a);
	dev_enable(_metadata, b);
	efa = new_eventfd(_metadata);
	efb = new_eventfd(_metadata);
	ASSERT_EQ(0, set_eventfds(a, 1, 1, &efa));
	ASSERT_EQ(0, set_eventfds(b, 1, 1, &efb));

	/* The same IOVAs, different memory. */
	fill(a->mem + SRC_OFF, 2 * PAGE, 21);
	fill(b->mem + SRC_OFF, 2 * PAGE, 22);
	ds = mkdesc(DSA_OPCODE_MEMMOVE, F_CR | IDXD_OP_FLAG_RCI, iova_of(SRC_OFF),
		    iova_of(DST_OFF), 2 * PAGE);
	ds.int_handle = 1;

	assert_only_status(_metadata, RUN(a, ds), DSA_COMP_SUCCESS);
	assert_same(_metadata, "A's copy", a->mem + SRC_OFF, a->mem + DST_OFF, 2 * PAGE);
	assert_filled(_metadata, "B's destination", b->mem + DST_OFF, 0, 2 * PAGE);
	assert_only_status(_metadata, cr_slot(b, 0), DSA_COMP_NONE);
	ASSERT_X(1, FIRED(efa));
	ASSERT_X(0, QUIET(efb));

	assert_only_status(_metadata, RUN(b, ds), DSA_COMP_SUCCESS);
	assert_same(_metadata, "B's copy", b->mem + SRC_OFF, b->mem + DST_OFF, 2 * PAGE);
	assert_same(_metadata, "A's copy", a->mem + SRC_OFF, a->mem + DST_OFF, 2 * PAGE);
	ASSERT_X(1, FIRED(efb));
	ASSERT_X(0, QUIET(efa));

	/* Registers and config space are per device. */
	W32(a, IDXD_GENCTRL_OFFSET, GENCTRL_SOFTERR_INT_EN);
	ASSERT_X(0, R32(b, IDXD_GENCTRL_OFFSET));
	ASSERT_X(IDXD_CMDSTS_SUCCESS, CMD(a, IDXD_CMD_DISABLE_WQ, DSA_WQ_MASK(1)));
	ASSERT_X(WQCFG_STATE_ENABLED | WQCFG_MODE_SUPPORT, R32(b, WQCFG(1, 6)));
	run_on(_metadata, a, 1, ds, 0);
	ASSERT_TRUE((R64(a, IDXD_SWERR_OFFSET) & IDXD_SWERR_VALID) != 0);
	assert_swerr(_metadata, b, 0, 0, 0);
	CFG_W(a, PCI_COMMAND, 0, 2);
	ASSERT_X(PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER, CFG_R(b, PCI_COMMAND, 2));
	ASSERT_EQ(0, ioctl(a->fd, VFIO_DEVICE_RESET));
	ASSERT_X(IDXD_DEVICE_STATE_ENABLED, R32(b, IDXD_GENSTATS_OFFSET));

	/* B outlives A. */
	dev_close(_metadata, a);
	memset(b->mem + DST_OFF, 0, 2 * PAGE);
	assert_only_status(_metadata, run_on(_metadata, b, 1, ds, 3), DSA_COMP_SUCCESS);
	assert_same(_metadata, "B's copy", b->mem + SRC_OFF, b->mem + DST_OFF, 2 * PAGE);
	ASSERT_X(1, FIRED(efb));
	dev_close(_metadata, b);
}

TEST_HARNESS_MAIN
