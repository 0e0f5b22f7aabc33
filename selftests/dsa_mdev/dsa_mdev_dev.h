/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Driving an open dsa_mdev device the way a user-space DSA driver does,
 * for device_test.c and migration_test.c: the DSA registers and what the
 * driver's model defines, the DMA space a test maps, region access,
 * commands, descriptors and their completion records, MSI-X eventfds.
 *
 * Two parts.  The first (constants, and the functions of dsa_mdev_dev.c)
 * does not need the harness: like dsa_mdev_util.h's, those functions never
 * assert.  The second, there only after kselftest_harness.h, is struct dev
 * and the helpers on it, and the module's setup and teardown around a
 * test: like dsa_mdev_vfio.h's, they assert, so the harness reports the
 * failing step (at a line of this file).  The host is little-endian
 * (x86-64), as the device is.
 */
#ifndef DSA_MDEV_DEV_H
#define DSA_MDEV_DEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/idxd.h>
#include <linux/vfio.h>

#include "dsa_mdev_util.h"

/* --- DSA registers (drivers/dma/idxd/registers.h) ----------------------- */

#define IDXD_VER_OFFSET			0x00
#define IDXD_GENCAP_OFFSET		0x10
#define IDXD_WQCAP_OFFSET		0x20
#define IDXD_GRPCAP_OFFSET		0x30
#define IDXD_ENGCAP_OFFSET		0x38
#define IDXD_OPCAP_OFFSET		0x40
#define IDXD_TABLE_OFFSET		0x60
#define IDXD_GENCFG_OFFSET		0x80
#define IDXD_GENCTRL_OFFSET		0x88
#define IDXD_GENSTATS_OFFSET		0x90
#define IDXD_INTCAUSE_OFFSET		0x98
#define IDXD_CMD_OFFSET			0xa0
#define IDXD_CMDSTS_OFFSET		0xa8
#define IDXD_CMDCAP_OFFSET		0xb0
#define IDXD_SWERR_OFFSET		0xc0

#define IDXD_TABLE_MULT			0x100
#define IDXD_WQCFG_MIN			5
#define IDXD_PORTAL_SIZE		4096

/* union gen_cap_reg */
#define GENCAP_OVERLAP_COPY		(1ULL << 1)
#define GENCAP_CMD_CAP			(1ULL << 4)
#define GENCAP_MAX_XFER_SHIFT		16
#define GENCAP_MAX_BATCH_SHIFT		21
#define GENCAP_CONFIG_EN		(1ULL << 31)
/* union wq_cap_reg */
#define WQCAP_NUM_WQS_SHIFT		16
#define WQCAP_WQCFG_SIZE_SHIFT		24
#define WQCAP_DEDICATED_MODE		(1ULL << 49)
#define WQCAP_PRIORITY			(1ULL << 51)
#define WQCAP_OP_CONFIG			(1ULL << 54)
/* union genctrl_reg, gensts_reg */
#define GENCTRL_SOFTERR_INT_EN		0x1
#define IDXD_DEVICE_STATE_ENABLED	1
/* INTCAUSE */
#define IDXD_INTC_ERR			0x01
#define IDXD_INTC_CMD			0x02

/* union idxd_command_reg, enum idxd_cmd */
#define IDXD_CMD_SHIFT			20
#define IDXD_CMD_INT_REQ		(1U << 31)
#define IDXD_CMD_ENABLE_DEVICE		1
#define IDXD_CMD_DISABLE_DEVICE		2
#define IDXD_CMD_DRAIN_ALL		3
#define IDXD_CMD_ABORT_ALL		4
#define IDXD_CMD_RESET_DEVICE		5
#define IDXD_CMD_ENABLE_WQ		6
#define IDXD_CMD_DISABLE_WQ		7
#define IDXD_CMD_DRAIN_WQ		8
#define IDXD_CMD_ABORT_WQ		9
#define IDXD_CMD_RESET_WQ		10
#define IDXD_CMD_REQUEST_INT_HANDLE	13

/* enum idxd_cmdsts_err */
#define IDXD_CMDSTS_SUCCESS		0x00
#define IDXD_CMDSTS_INVAL_CMD		0x01
#define IDXD_CMDSTS_INVAL_WQIDX		0x02
#define IDXD_CMDSTS_ERR_DEV_ENABLED	0x10
#define IDXD_CMDSTS_ERR_BUSMASTER_EN	0x12
#define IDXD_CMDSTS_ERR_WQ_SIZE_ERANGE	0x14
#define IDXD_CMDSTS_ERR_DEV_NOTEN	0x20
#define IDXD_CMDSTS_ERR_WQ_ENABLED	0x21
#define IDXD_CMDSTS_ERR_WQ_SIZE		0x22
#define IDXD_CMDSTS_ERR_WQ_PRIOR	0x23
#define IDXD_CMDSTS_ERR_WQ_MODE		0x24
#define IDXD_CMDSTS_ERR_BOF_EN		0x25
#define IDXD_CMDSTS_ERR_PASID_EN	0x26
#define IDXD_CMDSTS_ERR_MAX_BATCH_SIZE	0x27
#define IDXD_CMDSTS_ERR_MAX_XFER_SIZE	0x28
#define IDXD_CMDSTS_ERR_DIS_DEV_EN	0x31
#define IDXD_CMDSTS_ERR_DEV_NOT_EN	0x32

/* union sw_err_reg, first quadword */
#define SWERR_VALID			(1ULL << 0)
#define SWERR_OVERFLOW			(1ULL << 1)
#define SWERR_DESC_VALID		(1ULL << 2)
#define SWERR_WQ_IDX_VALID		(1ULL << 3)
#define SWERR_BATCH			(1ULL << 4)
#define SWERR_FAULT_RW			(1ULL << 5)
#define SWERR_ERROR_SHIFT		8
#define SWERR_WQ_IDX_SHIFT		16
#define SWERR_OPERATION_SHIFT		32
#define IDXD_SWERR_ACK			(SWERR_VALID | SWERR_OVERFLOW)

/* union wqcfg, 32-bit words */
#define WQCFG_MODE_DEDICATED		(1U << 0)	/* word 2 */
#define WQCFG_BOF			(1U << 1)	/* word 2 */
#define WQCFG_PRIORITY_SHIFT		4		/* word 2 */
#define WQCFG_PASID_EN			(1U << 28)	/* word 2 */
#define WQCFG_MAX_BATCH_SHIFT		5		/* word 3 */
#define WQCFG_MODE_SUPPORT		(1U << 29)	/* word 6 */
#define WQCFG_STATE_ENABLED		(1U << 30)	/* word 6 */

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
#define WQ_LIMITS(xfer, batch)	((xfer) | (batch) << WQCFG_MAX_BATCH_SHIFT)

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

#include <linux/iommufd.h>
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
 * its layout and its DMA space: @mem_size zeroed bytes at IOVA mapped
 * read-write, then, if @ro_size is not 0, @ro_size bytes right after them
 * mapped for reads only.
 */
struct dev {
	int parent;		/* dsa<parent> */
	unsigned int base;	/* dsa-<base>dwq */
	unsigned int aggregator;
	unsigned int wqs;	/* base * aggregator */
	char uuid[DSA_UUID_LEN + 1];
	struct vfio_handle h;
	int fd;			/* the VFIO device fd, -1 while closed */
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
	if (d->via_group) {
		struct vfio_iommu_type1_dma_map map = {
			.argsz = sizeof(map),
			.flags = VFIO_DMA_MAP_FLAG_READ |
				 (writable ? VFIO_DMA_MAP_FLAG_WRITE : 0),
			.vaddr = (uintptr_t)buf,
			.iova = iova,
			.size = size,
		};

		ASSERT_EQ(0, ioctl(d->h.container, VFIO_IOMMU_MAP_DMA, &map))
			TH_LOG("VFIO_IOMMU_MAP_DMA %#" PRIx64 ": %s", iova, strerror(errno));
	} else {
		struct iommu_ioas_map map = {
			.size = sizeof(map),
			.flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE |
				 (writable ? IOMMU_IOAS_MAP_WRITEABLE : 0),
			.ioas_id = d->h.ioas,
			.user_va = (uintptr_t)buf,
			.length = size,
			.iova = iova,
		};

		ASSERT_EQ(0, ioctl(d->h.iommufd, IOMMU_IOAS_MAP, &map))
			TH_LOG("IOMMU_IOAS_MAP %#" PRIx64 ": %s", iova, strerror(errno));
	}
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
	d->fd = d->h.device;

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
	ssize_t ret = pread(d->fd, buf, len, region_offset(index) + off);

	return ret < 0 ? -errno : ret;
}

/* pwrite() of a region: bytes transferred or -errno. */
static inline ssize_t wr(struct dev *d, unsigned int index, uint64_t off, const void *buf,
			 size_t len)
{
	ssize_t ret = pwrite(d->fd, buf, len, region_offset(index) + off);

	return ret < 0 ? -errno : ret;
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

/* Write a command; returns CMDSTS. */
static inline uint32_t dsa_cmd(struct __test_metadata *_metadata, struct dev *d, uint32_t cmd,
			       uint32_t operand)
{
	W32(d, IDXD_CMD_OFFSET, cmd << IDXD_CMD_SHIFT | operand);
	return R32(d, IDXD_CMDSTS_OFFSET);
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
	ASSERT_EQ(64, wr(d, BAR2, portal, desc, 64))
		TH_LOG("%s: portal write at %#" PRIx64 ": %s", d->uuid, portal, strerror(errno));
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
	uint64_t buf[(sizeof(struct vfio_irq_set) + 512) / 8 + 1];
	struct vfio_irq_set *set = (struct vfio_irq_set *)buf;

	if (len > 512)
		return -E2BIG;
	memset(buf, 0, sizeof(buf));
	set->argsz = sizeof(*set) + len;
	set->flags = flags;
	set->index = index;
	set->start = start;
	set->count = count;
	if (len)
		memcpy(set->data, data, len);
	return ioctl(d->fd, VFIO_DEVICE_SET_IRQS, set) ? -errno : 0;
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

/* The operand of DISABLE_WQ, DRAIN_WQ, ABORT_WQ, RESET_WQ for one WQ. */
#define WQ_MASK(wq)	(1U << ((wq) % 16) | ((wq) / 16) << 16)
#define WQ_MODE_OK	(WQCFG_MODE_DEDICATED | 1 << WQCFG_PRIORITY_SHIFT)

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

/* The first SWERR quadword for @error on @wq with @opcode. */
static inline uint64_t swerr_word(uint8_t error, unsigned int wq, uint8_t opcode, uint64_t more)
{
	return SWERR_VALID | SWERR_DESC_VALID | SWERR_WQ_IDX_VALID | more |
	       (uint64_t)error << SWERR_ERROR_SHIFT | (uint64_t)wq << SWERR_WQ_IDX_SHIFT |
	       (uint64_t)opcode << SWERR_OPERATION_SHIFT;
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

/* --- with the harness: the module around a test ------------------------- */

/*
 * Load the module with @params, none being loaded (a stale one is
 * unloaded); @baseline gets the mdev device count before.
 */
static inline void env_setup(struct __test_metadata *_metadata, const char *params,
			     int *baseline)
{
	const char *ko = module_path();

	ASSERT_TRUE(path_exists(MDEV_BUS_DIR)) TH_LOG("mdev core not loaded (modprobe mdev)");
	if (module_loaded()) {
		ASSERT_EQ(0, module_unload()) TH_LOG("a stale dsa_mdev could not be unloaded");
	}
	*baseline = count_dir_entries(MDEV_DEVICES_DIR);
	ASSERT_LE(0, *baseline);
	ASSERT_EQ(0, module_load(ko, params)) TH_LOG("insmod %s %s", ko, params);
}

/*
 * Unload the module (with whatever devices are left), as it was before;
 * for a FIXTURE_TEARDOWN_PARENT().
 */
static inline void env_teardown(struct __test_metadata *_metadata, int baseline)
{
	int rmmod_ret = module_loaded() ? module_unload() : 0;

	/* No TH_LOG here: a failed assertion of the test leaves the trigger set. */
	EXPECT_EQ(0, rmmod_ret);
	EXPECT_FALSE(path_exists(DSA_CLASS_DIR));
	EXPECT_EQ(baseline, count_dir_entries(MDEV_DEVICES_DIR));
}

#endif /* __KSELFTEST_HARNESS_H */

#endif /* DSA_MDEV_DEV_H */
