/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Driving an open dsa_mdev device the way a user-space DSA driver does,
 * for device_test.c, migration_test.c and hostile_test.c: what the
 * driver's model defines beyond the DSA registers (those are lib/dsa.h's,
 * from drivers/dma/idxd/registers.h), the DMA space a test maps, region
 * access, commands, descriptors and their completion records, MSI-X
 * eventfds.
 *
 * Two parts.  The first (constants, and the functions of dsa_mdev_dev.c)
 * does not need the harness: like dsa_mdev_util.h's, those functions never
 * assert.  The second, there only after kselftest_harness.h, is struct dev
 * and the helpers on it: like dsa_mdev_vfio.h's, they assert, so the
 * harness reports the failing step (at a line of this file).  The host is
 * little-endian (x86-64), as the device is.
 */
#ifndef DSA_MDEV_DEV_H
#define DSA_MDEV_DEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/vfio.h>

#include "dsa_mdev_util.h"
#include "lib/dsa.h"

/*
 * --- fields of registers.h's unions, as the tests write and compare them --
 *
 * lib/dsa.h brings drivers/dma/idxd/registers.h: its offsets, commands,
 * command statuses and INTCAUSE bits are used as they are; these are
 * single fields of its register unions.  Not integer constant
 * expressions: no static initializers.
 */
#define GENCTRL_SOFTERR_INT_EN	DSA_REG(genctrl_reg, .softerr_int_en = 1)
#define SWERR_BATCH		DSA_REG(sw_err_reg, .batch = 1)[0]
#define SWERR_FAULT_RW		DSA_REG(sw_err_reg, .fault_rw = 1)[0]
#define WQCFG_MODE_DEDICATED	WQCFG_WORD(2, .mode = 1)
#define WQCFG_BOF		WQCFG_WORD(2, .bof = 1)
#define WQCFG_PASID_EN		WQCFG_WORD(2, .pasid_en = 1)
#define WQCFG_PRIORITY(p)	WQCFG_WORD(2, .priority = (p))
#define WQCFG_MODE_SUPPORT	WQCFG_WORD(6, .mode_support = 1)
#define WQCFG_STATE_ENABLED	WQCFG_WORD(6, .wq_state = 1)
/* WQCFG word 3: the WQ's transfer and batch size limits. */
#define WQ_LIMITS(xfer, batch)	WQCFG_WORD(3, .max_xfer_shift = (xfer), .max_batch_shift = (batch))

/* --- what dsa_mdev's model defines (rust/logic/model.rs, pci.rs) -------- */

#define GRPCFG_TABLE		0x400
#define MSIX_PERM_TABLE		0x600
#define WQCFG_TABLE		0x1000
#define WQCFG_BYTES		64	/* wqcfg_size 1 */
#define WQ_ENTRIES_PER_WQ	8
#define PORTAL_STRIDE		(4 * IDXD_PORTAL_SIZE)	/* four portal pages per WQ */
#define MAX_VECTORS		64
#define MSIX_CAP		0x40

#define WQCFG(wq, word)	(WQCFG_TABLE + (uint64_t)(wq) * WQCFG_BYTES + 4 * (word))
#define PORTAL(wq, page, slot) \
	((uint64_t)(wq) * PORTAL_STRIDE + (page) * IDXD_PORTAL_SIZE + (slot) * 64)

#define F_CR		(IDXD_OP_FLAG_CRAV | IDXD_OP_FLAG_RCR)

/* Where the model puts things for @wqs WQs (model.rs Layout::new()). */
struct layout {
	uint64_t bar0_size;
	uint64_t bar2_size;
	uint32_t vectors;
	uint32_t msix_table;
	uint32_t msix_pba;
};

/* The layout of a device with @wqs WQs. */
struct layout layout_for(unsigned int wqs);

/* --- regions ------------------------------------------------------------ */

#define BAR0	VFIO_PCI_BAR0_REGION_INDEX
#define BAR2	VFIO_PCI_BAR2_REGION_INDEX
#define CONFIG	VFIO_PCI_CONFIG_REGION_INDEX
#define MSIX	VFIO_PCI_MSIX_IRQ_INDEX

/* The offset of region @index in the device fd (VFIO_PCI_INDEX_TO_OFFSET()). */
uint64_t region_offset(unsigned int index);

/* --- the DMA space ------------------------------------------------------ */

/*
 * Every test maps its DMA space at IOVA, read-write, and keeps completion
 * records at its start; the rest of its layout is the test's own.
 */
#define PAGE		4096ULL
#define IOVA		0x40000000ULL
#define CR_OFF		0x0000	/* completion records, slot i at 32 * i */

/* The IOVA of byte @off of the DMA space. */
uint64_t iova_of(size_t off);
/* The IOVA of completion record slot @slot. */
uint64_t cr_iova(unsigned int slot);

/* Deterministic bytes: @seed picks the sequence. */
void fill(void *buf, size_t len, uint32_t seed);

/* --- descriptors -------------------------------------------------------- */

/*
 * A descriptor with the fields every opcode here uses: @addr1 is the
 * source (or the pattern, or the descriptor list), @addr2 the destination
 * (or the second source, or the compared pattern), @size the transfer
 * size (or the descriptor count).
 */
struct dsa_hw_desc mkdesc(uint8_t opcode, uint32_t flags, uint64_t addr1, uint64_t addr2,
			  uint32_t size);

/*
 * CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), bit by bit as the
 * driver's engine computes it, continued from @crc without pre- or
 * post-inversion: the device returns ~crc32c(~crc_seed, data), and the
 * standard CRC-32C of data is ~crc32c(~0, data).
 */
uint32_t crc32c(uint32_t crc, const void *data, size_t len);

/* --- interrupts --------------------------------------------------------- */

/* How many times @fd was signalled (0 if not within @timeout_ms); resets it. */
uint64_t signalled(int fd, int timeout_ms);

#ifdef __KSELFTEST_HARNESS_H
/* --- with the harness: an open device ----------------------------------- */

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/pci_regs.h>

#include "dsa_mdev_vfio.h"

/* Compare as u64 and log both in hex (and what was read). */
#define ASSERT_XM(exp, seen, fmt, ...) do {					\
	uint64_t _x_exp = (uint64_t)(exp), _x_seen = (uint64_t)(seen);	\
	ASSERT_EQ(_x_exp, _x_seen)						\
		TH_LOG("%s: expected %#" PRIx64 ", got %#" PRIx64 " " fmt,	\
		       #seen, _x_exp, _x_seen, ##__VA_ARGS__);			\
} while (0)
#define ASSERT_X(exp, seen)	ASSERT_XM(exp, seen, "")

/*
 * A dsa_mdev device: what it is (the test fills that in; 0 where it does
 * not matter), and while it is open (dev_open_mapped()), its VFIO handle,
 * its regions, its layout and its DMA space: @mem_size zeroed bytes at
 * IOVA mapped read-write, then, if @ro_size is not 0, @ro_size bytes right
 * after them mapped for reads only.
 */
struct dev {
	int parent;		/* dsa<parent> */
	unsigned int base;	/* dsa-<base>dwq */
	unsigned int aggregator;
	unsigned int wqs;	/* base * aggregator */
	char uuid[DSA_UUID_LEN + 1];
	struct vfio_handle h;
	int fd;			/* the VFIO device fd, -1 while closed */
	struct dsa_mmio mmio;	/* its regions, at VFIO_PCI_INDEX_TO_OFFSET() */
	bool via_group;
	struct layout l;
	uint8_t *mem;		/* @mem_size bytes at IOVA */
	size_t mem_size;
	uint8_t *ro;		/* @ro_size bytes at IOVA + @mem_size, or NULL */
	size_t ro_size;
};

/*
 * Map @size bytes at @buf to @iova in the device's IOMMU domain, for reads
 * only unless @writable.
 */
static inline void dma_map(struct __test_metadata *_metadata, struct dev *d, void *buf,
			   uint64_t iova, uint64_t size, bool writable)
{
	int ret = vfio_dma_map(&d->h, buf, iova, size, writable);

	ASSERT_EQ(0, ret) TH_LOG("%s %#" PRIx64 ": %s", d->via_group ? "VFIO_IOMMU_MAP_DMA" :
				 "IOMMU_IOAS_MAP", iova, strerror(-ret));
}

/* @d's device fd is h.device: where its regions are. */
static inline void dev_set_fd(struct dev *d)
{
	d->fd = d->h.device;
	d->mmio = (struct dsa_mmio){
		.fd = d->fd,
		.bar0 = region_offset(BAR0),
		.bar2 = region_offset(BAR2),
		.config = region_offset(CONFIG),
	};
}

/*
 * Open @d (its uuid and wqs filled in) through its group (@via_group) or
 * its cdev and map its DMA space, as a VMM maps guest memory: @mem_size
 * zeroed bytes at IOVA, then, unless @ro_size is 0, @ro_size bytes of
 * fill(…, 99) mapped read-only, then nothing.
 */
static inline void dev_open_mapped(struct __test_metadata *_metadata, struct dev *d,
				   bool via_group, size_t mem_size, size_t ro_size)
{
	d->via_group = via_group;
	d->l = layout_for(d->wqs);
	d->mem_size = mem_size;
	d->ro_size = ro_size;
	open_device(_metadata, via_group, d->uuid, &d->h);
	dev_set_fd(d);

	d->mem = mmap(NULL, mem_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, d->mem);
	d->ro = NULL;
	if (ro_size) {
		d->ro = mmap(NULL, ro_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			     -1, 0);
		ASSERT_NE(MAP_FAILED, d->ro);
		fill(d->ro, ro_size, 99);
	}
	dma_map(_metadata, d, d->mem, IOVA, mem_size, true);
	if (ro_size)
		dma_map(_metadata, d, d->ro, IOVA + mem_size, ro_size, false);
}

/* Close the device (all its fds) and unmap its memory. */
static inline void dev_close(struct __test_metadata *_metadata, struct dev *d)
{
	close_device(_metadata, &d->h);
	d->fd = -1;
	munmap(d->mem, d->mem_size);
	if (d->ro)
		munmap(d->ro, d->ro_size);
	d->mem = d->ro = NULL;
}

/* pread() of a region: bytes transferred or -errno. */
static inline ssize_t rd(struct dev *d, unsigned int index, uint64_t off, void *buf, size_t len)
{
	return vfio_pread(d->fd, buf, len, region_offset(index) + off);
}

/* pwrite() of a region: bytes transferred or -errno. */
static inline ssize_t wr(struct dev *d, unsigned int index, uint64_t off, const void *buf,
			 size_t len)
{
	return vfio_pwrite(d->fd, buf, len, region_offset(index) + off);
}

/* Read @len bytes (1, 2, 4 or 8) of a region, which must work. */
static inline uint64_t do_read(struct __test_metadata *_metadata, struct dev *d,
			       unsigned int index, uint64_t off, size_t len)
{
	uint64_t v = 0;

	ASSERT_EQ((ssize_t)len, rd(d, index, off, &v, len))
		TH_LOG("%s: read of %zu bytes at region %u offset %#" PRIx64, d->uuid, len,
		       index, off);
	return v;
}

/* Write @len bytes (1, 2, 4 or 8) of a region, which must work. */
static inline void do_write(struct __test_metadata *_metadata, struct dev *d,
			    unsigned int index, uint64_t off, uint64_t v, size_t len)
{
	ASSERT_EQ((ssize_t)len, wr(d, index, off, &v, len))
		TH_LOG("%s: write of %zu bytes at region %u offset %#" PRIx64, d->uuid, len,
		       index, off);
}

#define R8(d, off)		do_read(_metadata, d, BAR0, off, 1)
#define R16(d, off)		do_read(_metadata, d, BAR0, off, 2)
#define R32(d, off)		do_read(_metadata, d, BAR0, off, 4)
#define R64(d, off)		do_read(_metadata, d, BAR0, off, 8)
#define W32(d, off, v)		do_write(_metadata, d, BAR0, off, v, 4)
#define W64(d, off, v)		do_write(_metadata, d, BAR0, off, v, 8)
#define CFG_R(d, off, len)	do_read(_metadata, d, CONFIG, off, len)
#define CFG_W(d, off, v, len)	do_write(_metadata, d, CONFIG, off, v, len)

/*
 * Write a command; returns CMDSTS, read once: the command has completed
 * when the write returns.
 */
static inline uint32_t dsa_cmd(struct __test_metadata *_metadata, struct dev *d, uint32_t cmd,
			       uint32_t operand)
{
	uint32_t sts = 0;
	int ret = dsa_command(&d->mmio, cmd, operand, 0, &sts);

	ASSERT_TRUE(ret == 0 || ret == -ETIMEDOUT)
		TH_LOG("%s: %s: %s", d->uuid, dsa_cmd_name(cmd), strerror(-ret));
	return sts;
}

#define CMD(d, cmd, operand)	dsa_cmd(_metadata, d, cmd, operand)

/* Completion record slot @slot. */
static inline struct dsa_completion_record *cr_slot(struct dev *d, unsigned int slot)
{
	return (struct dsa_completion_record *)(d->mem + CR_OFF + 32 * slot);
}

/* Write @desc to the portal at @portal, which must take it. */
static inline void submit_at(struct __test_metadata *_metadata, struct dev *d, uint64_t portal,
			     const struct dsa_hw_desc *desc)
{
	int ret = dsa_submit(&d->mmio, portal, desc);

	ASSERT_EQ(0, ret)
		TH_LOG("%s: portal write at %#" PRIx64 ": %s", d->uuid, portal, strerror(-ret));
}

/*
 * Submit @desc to WQ @wq with its record in slot @slot (cleared first);
 * returns the record.
 */
static inline struct dsa_completion_record *run_on(struct __test_metadata *_metadata,
						   struct dev *d, unsigned int wq,
						   struct dsa_hw_desc desc, unsigned int slot)
{
	desc.completion_addr = cr_iova(slot);
	memset(cr_slot(d, slot), 0, 32);
	submit_at(_metadata, d, PORTAL(wq, 0, 0), &desc);
	return cr_slot(d, slot);
}

/* @len bytes at @got are those at @want. */
static inline void assert_same(struct __test_metadata *_metadata, const char *what,
			       const void *want, const void *got, size_t len)
{
	const uint8_t *w = want, *g = got;
	size_t i;

	for (i = 0; i < len && w[i] == g[i]; i++)
		;
	ASSERT_EQ(len, i) TH_LOG("%s: byte %#zx is %#x, expected %#x", what, i, g[i], w[i]);
}

/* An eventfd for an MSI-X vector. */
static inline int new_eventfd(struct __test_metadata *_metadata)
{
	int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);

	ASSERT_LE(0, fd) TH_LOG("eventfd: %s", strerror(errno));
	return fd;
}

/*
 * VFIO_DEVICE_SET_IRQS with @flags on @count vectors of interrupt @index
 * from @start, with @len bytes of @data (at most 512).  0 or -errno.
 */
static inline int set_irqs(struct dev *d, uint32_t flags, uint32_t index, uint32_t start,
			   uint32_t count, const void *data, size_t len)
{
	return vfio_set_irqs(d->fd, flags, index, start, count, data, len);
}

#define TRIGGER(type)	(VFIO_IRQ_SET_ACTION_TRIGGER | VFIO_IRQ_SET_DATA_##type)

/* Attach the eventfds @fds to MSI-X vectors @start to @start + @count - 1. */
static inline int set_eventfds(struct dev *d, uint32_t start, uint32_t count, const int32_t *fds)
{
	return set_irqs(d, TRIGGER(EVENTFD), MSIX, start, count, fds, count * sizeof(*fds));
}

/* --- with the harness: programming the device --------------------------- */

/* The largest WQ limits (rust/logic/model.rs MAX_XFER_SHIFT, MAX_BATCH_SHIFT). */
#define MAX_XFER_SHIFT		21
#define MAX_BATCH_SHIFT		9

#define WQ_MODE_OK	WQCFG_WORD(2, .mode = 1, .priority = 1)

static inline void wq_config(struct __test_metadata *_metadata, struct dev *d, unsigned int wq,
			     uint32_t size, uint32_t mode, uint32_t limits)
{
	W32(d, WQCFG(wq, 0), size);
	W32(d, WQCFG(wq, 2), mode);
	W32(d, WQCFG(wq, 3), limits);
}

static inline void bus_master(struct __test_metadata *_metadata, struct dev *d)
{
	CFG_W(d, PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER, 2);
}

/*
 * What dsa.c's dsa_init() does, for every WQ: bus mastering, each WQ
 * dedicated with priority 1, 8 entries and the largest limits, the device
 * and every WQ enabled.
 */
static inline void dev_enable(struct __test_metadata *_metadata, struct dev *d)
{
	unsigned int wq;

	bus_master(_metadata, d);
	for (wq = 0; wq < d->wqs; wq++)
		wq_config(_metadata, d, wq, WQ_ENTRIES_PER_WQ, WQ_MODE_OK,
			  WQ_LIMITS(MAX_XFER_SHIFT, MAX_BATCH_SHIFT));
	ASSERT_X(IDXD_CMDSTS_SUCCESS, CMD(d, IDXD_CMD_ENABLE_DEVICE, 0));
	for (wq = 0; wq < d->wqs; wq++) {
		ASSERT_X(IDXD_CMDSTS_SUCCESS, CMD(d, IDXD_CMD_ENABLE_WQ, wq));
	}
}

static inline void read_swerr(struct __test_metadata *_metadata, struct dev *d, uint64_t swerr[4])
{
	int i;

	for (i = 0; i < 4; i++)
		swerr[i] = R64(d, IDXD_SWERR_OFFSET + 8 * i);
}

/* The first SWERR quadword for @error on @wq with @opcode, and @more bits. */
static inline uint64_t swerr_word(uint8_t error, unsigned int wq, uint8_t opcode, uint64_t more)
{
	union sw_err_reg e = {
		.valid = 1,
		.desc_valid = 1,
		.wq_idx_valid = 1,
		.error = error,
		.wq_idx = wq,
		.operation = opcode,
	};

	return e.bits[0] | more;
}

/* The error code in the first SWERR quadword @w0. */
static inline uint8_t swerr_error(uint64_t w0)
{
	return ((union sw_err_reg){ .bits = { w0 } }).error;
}

static inline void assert_swerr(struct __test_metadata *_metadata, struct dev *d, uint64_t w0,
			 uint64_t w1, uint64_t w2)
{
	uint64_t swerr[4];

	read_swerr(_metadata, d, swerr);
	ASSERT_X(w0, swerr[0]);
	ASSERT_X(w1, swerr[1]);
	ASSERT_X(w2, swerr[2]);
	ASSERT_X(0, swerr[3]);
}

static inline void swerr_ack(struct __test_metadata *_metadata, struct dev *d)
{
	W64(d, IDXD_SWERR_OFFSET, IDXD_SWERR_ACK);
	assert_swerr(_metadata, d, 0, 0, 0);
}

#endif /* __KSELFTEST_HARNESS_H */

#endif /* DSA_MDEV_DEV_H */
