// SPDX-License-Identifier: GPL-2.0
/*
 * dsa_mdev migration tests: VFIO migration v2 of dsa_mdev devices, driven
 * the way QEMU drives a migratable vfio-pci device, against the driver's
 * contract:
 *
 *   - the device reports STOP_COPY, P2P and PRE_COPY, and starts RUNNING;
 *   - STOP -> STOP_COPY yields a stream (a 40-byte header, then the body:
 *     config space, registers, WQCFG; each part with its CRC-32C), then
 *     end of file; RUNNING -> PRE_COPY yields the header, then ENOMSG, and
 *     the same fd yields the body once the device is in STOP_COPY;
 *     MIG_DATA_SIZE and VFIO_MIG_GET_PRECOPY_INFO agree with what is read;
 *   - STOP -> RESUMING takes a stream, RESUMING -> STOP applies it: the
 *     target then reads and behaves exactly as the source did, whether
 *     both are on one parent or on two; the source resumes unharmed;
 *   - a target refuses a stream from an incompatible source (the ratio
 *     rule, the version rule), a damaged one (any bit flip, overwrite or
 *     truncation) and a forged one, with EINVAL and one kernel log line
 *     naming the reason, and is usable again after VFIO_DEVICE_RESET;
 *   - while stopped, BAR0 and BAR2 refuse writes; closing the device or
 *     resetting it ends a session;
 *   - dsa-compat and the kernel agree on every pair of types.
 *
 * Every test loads the module with two parents of 64 WQs and creates its
 * devices itself; the teardown, in the parent process, unloads the module
 * (which removes what is left).  Devices are opened through both VFIO paths
 * (the iommufd cdev and the group in a type1 container), usually the source
 * through one and the target through the other.  The host is little-endian
 * (x86-64), as the device and the stream are.
 *
 * Note: ASSERT_*() and EXPECT_*() expand to two statements (the check and
 * the optional TH_LOG handler), so an if or for around one needs braces.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <linux/idxd.h>
#include <linux/pci_regs.h>
#include <linux/vfio.h>

#include "kselftest_harness.h"
#include "dsa_mdev_util.h"
#include "dsa_mdev_mig.h"

/*
 * The harness's 30 s per test is too short on the debug kernel (KASAN,
 * lockdep, kmemleak) under TCG, where everything runs ~35x slower; the
 * test macros expand this at their use below.
 */
#undef TEST_TIMEOUT_DEFAULT
#define TEST_TIMEOUT_DEFAULT 300
#include "dsa_mdev_vfio.h"
#include "dsa_mdev_dev.h"

/* The tests that loop over thousands of streams or dozens of devices. */
#define TIMEOUT_LONG	900

#define MODULE_PARAMS	"parents=2 wqs=64"
#define MAX_WQS		64

/* Beyond dsa_mdev_dev.h's registers and model: what a migration carries. */
#define IDXD_REGS_END		0xe0	/* the general registers end here */
#define GRPCFG_QWORDS		6

/* --- the DMA space of every open device --------------------------------- */

/* At IOVA, as dev_open() maps it; the records are at CR_OFF. */
#define MEM_SIZE	(16 * PAGE)
#define SRC_OFF		0x4000	/* four pages */
#define DST_OFF		0x8000	/* four pages */
#define XFER		(3 * PAGE + 77)

/* Completion record slots. */
#define CR_MEMMOVE	0
#define CR_CRCGEN	1
#define CR_FROZEN	2
#define CR_IRQ		3

/* --- helpers ----------------------------------------------------------------- */

/*
 * Create device number @n on dsa<@parent> as dsa-<@base>dwq with
 * @aggregator (set through its dsa/aggregator file, as mdevctl does).
 */
static void dev_create(struct __test_metadata *_metadata, struct dev *d, unsigned int n,
		       int parent, unsigned int base, unsigned int aggregator)
{
	int ret;

	memset(d, 0, sizeof(*d));
	d->h = VFIO_HANDLE_CLOSED;
	d->fd = -1;
	d->parent = parent;
	d->base = base;
	d->aggregator = aggregator;
	d->wqs = base * aggregator;
	make_uuid(d->uuid, n);
	ret = mdev_create(parent, base, d->uuid);
	ASSERT_EQ(0, ret) TH_LOG("create %s on dsa%d as dsa-%udwq: %s", d->uuid, parent, base,
				 strerror(-ret));
	if (aggregator != 1) {
		ret = set_dev_aggregator(d->uuid, aggregator);
		ASSERT_EQ(0, ret) TH_LOG("%s: aggregator %u: %s", d->uuid, aggregator,
					 strerror(-ret));
	}
	ASSERT_EQ((int)d->wqs, dev_wq_count(d->uuid));
}

/* Remove the (closed) device. */
static void dev_remove(struct __test_metadata *_metadata, struct dev *d)
{
	int ret = mdev_remove(d->uuid);

	ASSERT_EQ(0, ret) TH_LOG("remove %s: %s", d->uuid, strerror(-ret));
}

/*
 * Open the device through its group (@via_group) or its cdev and map
 * MEM_SIZE zeroed bytes at IOVA, as a VMM maps guest memory.
 */
static void dev_open(struct __test_metadata *_metadata, struct dev *d, bool via_group)
{
	dev_open_mapped(_metadata, d, via_group, MEM_SIZE, 0);
}

/* Attach @fd to MSI-X vector @vector of @d. */
static void set_eventfd(struct __test_metadata *_metadata, struct dev *d, uint32_t vector,
			int32_t fd)
{
	int ret = set_eventfds(d, vector, 1, &fd);

	ASSERT_EQ(0, ret)
		TH_LOG("%s: VFIO_DEVICE_SET_IRQS vector %u: %s", d->uuid, vector, strerror(-ret));
}

/* --- the device state a migration carries ----------------------------- */

/* The WQ that dev_configure() leaves enabled last (all but the last one). */
static unsigned int last_enabled_wq(const struct dev *d)
{
	return d->wqs > 1 ? d->wqs - 2 : 0;
}

/*
 * Give @d a state worth migrating, as a guest driver would: bus mastering,
 * BAR addresses, an interrupt line and MSI-X enabled in the config space;
 * GENCFG, GENCTRL (software error interrupts), an MSI-X permission; every
 * WQ dedicated with its own size, priority and limits; the device and
 * every WQ but the last enabled (all of them if there is only one); a
 * threshold on the last WQ, and a software error (a descriptor to that
 * disabled WQ) recorded in SWERR and INTCAUSE.
 */
static void dev_configure(struct __test_metadata *_metadata, struct dev *d)
{
	unsigned int wq, last = d->wqs - 1;
	struct dsa_hw_desc ds;

	CFG_W(d, PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER, 2);
	CFG_W(d, PCI_BASE_ADDRESS_0, 0xfebf0000, 4);
	CFG_W(d, PCI_BASE_ADDRESS_2, 0xfe000000, 4);
	CFG_W(d, PCI_INTERRUPT_LINE, 11, 1);
	CFG_W(d, MSIX_CAP + PCI_MSIX_FLAGS, PCI_MSIX_FLAGS_ENABLE, 2);
	W32(d, IDXD_GENCFG_OFFSET, 0x1);
	W32(d, IDXD_GENCTRL_OFFSET, GENCTRL_SOFTERR_INT_EN);
	W32(d, MSIX_PERM_TABLE + 8 * 3, 0x5);
	for (wq = 0; wq < d->wqs; wq++) {
		W32(d, WQCFG(wq, 0), 1 + wq % WQ_ENTRIES_PER_WQ);
		W32(d, WQCFG(wq, 2), WQCFG_WORD(2, .mode = 1, .priority = 1 + wq % 15));
		W32(d, WQCFG(wq, 3), WQ_LIMITS(16 + wq % 6, 4 + wq % 6));
	}
	ASSERT_X(IDXD_CMDSTS_SUCCESS, CMD(d, IDXD_CMD_ENABLE_DEVICE, 0));
	for (wq = 0; wq < d->wqs; wq++) {
		if (d->wqs > 1 && wq == last)
			continue;
		ASSERT_XM(IDXD_CMDSTS_SUCCESS, CMD(d, IDXD_CMD_ENABLE_WQ, wq), "WQ %u", wq);
	}
	if (d->wqs > 1) {
		W32(d, WQCFG(last, 1), 3);
		ds = mkdesc(DSA_OPCODE_NOOP, 0, 0, 0, 0);
		submit_at(_metadata, d, PORTAL(last, 0, 0), &ds);
		ASSERT_TRUE((R64(d, IDXD_SWERR_OFFSET) & IDXD_SWERR_VALID) != 0);
		ASSERT_X(IDXD_INTC_ERR, R32(d, IDXD_INTCAUSE_OFFSET));
	}
	ASSERT_X(IDXD_DEVICE_STATE_ENABLED, R32(d, IDXD_GENSTATS_OFFSET));
}

/*
 * Run a MEMMOVE and a CRCGEN on WQ @wq of @d and check what they did: the
 * copy matches byte for byte and ends where it should, the CRC is the
 * standard CRC-32C of the source.  @seed picks the data.
 */
static void workload(struct __test_metadata *_metadata, struct dev *d, unsigned int wq,
		     uint32_t seed)
{
	uint8_t *src = d->mem + SRC_OFF, *dst = d->mem + DST_OFF;
	struct dsa_completion_record *cr;
	struct dsa_hw_desc ds;
	static const uint8_t zero[64];

	fill(src, XFER, seed);
	memset(dst, 0, XFER + sizeof(zero));
	cr = run_on(_metadata, d, wq,
		    mkdesc(DSA_OPCODE_MEMMOVE, F_CR, iova_of(SRC_OFF), iova_of(DST_OFF), XFER),
		    CR_MEMMOVE);
	ASSERT_XM(DSA_COMP_SUCCESS, cr->status, "%s: MEMMOVE on WQ %u", d->uuid, wq);
	assert_same(_metadata, "MEMMOVE destination", src, dst, XFER);
	assert_same(_metadata, "after the MEMMOVE destination", zero, dst + XFER, sizeof(zero));

	ds = mkdesc(DSA_OPCODE_CRCGEN, F_CR, iova_of(SRC_OFF), 0, XFER);
	ds.crc_seed = 0;
	cr = run_on(_metadata, d, wq, ds, CR_CRCGEN);
	ASSERT_XM(DSA_COMP_SUCCESS, cr->status, "%s: CRCGEN on WQ %u", d->uuid, wq);
	ASSERT_XM(mig_crc32c(src, XFER), cr->crc_val, "%s: CRCGEN on WQ %u", d->uuid, wq);
}

/*
 * Interrupts work on @d as dev_configure() set them up: a descriptor
 * asking for one signals its vector; a descriptor to the disabled last WQ
 * is a software error, which signals vector 0 (GENCTRL) and, SWERR
 * already holding one, adds the overflow bit to the record in @before.
 */
static void assert_interrupts(struct __test_metadata *_metadata, struct dev *d,
			      const uint64_t before_swerr0)
{
	struct dsa_completion_record *cr;
	struct dsa_hw_desc ds;
	int32_t efd[2];

	efd[0] = new_eventfd(_metadata);
	efd[1] = new_eventfd(_metadata);
	set_eventfd(_metadata, d, 0, efd[0]);
	set_eventfd(_metadata, d, 1, efd[1]);

	ds = mkdesc(DSA_OPCODE_NOOP, F_CR | IDXD_OP_FLAG_RCI, 0, 0, 0);
	ds.int_handle = 1;
	cr = run_on(_metadata, d, 0, ds, CR_IRQ);
	ASSERT_XM(DSA_COMP_SUCCESS, cr->status, "%s: NOOP with an interrupt", d->uuid);
	ASSERT_XM(1, signalled(efd[1], 1000), "%s: vector 1", d->uuid);
	if (d->wqs > 1) {
		ds = mkdesc(DSA_OPCODE_NOOP, 0, 0, 0, 0);
		submit_at(_metadata, d, PORTAL(d->wqs - 1, 0, 0), &ds);
		ASSERT_XM(1, signalled(efd[0], 1000), "%s: vector 0 (software error)", d->uuid);
		ASSERT_XM(before_swerr0 | IDXD_SWERR_OVERFLOW, R64(d, IDXD_SWERR_OFFSET),
			  "%s: SWERR after a second software error", d->uuid);
	}
	close(efd[0]);
	close(efd[1]);
}

/*
 * What a migration must carry over, as read through VFIO: the config
 * space, BAR0's general registers (capabilities, GENCFG, GENCTRL, GENSTS,
 * INTCAUSE, CMD, CMDSTS, SWERR), GRPCFG, the MSI-X permission table and
 * the WQCFG entry of every WQ.
 */
struct snap {
	unsigned int wqs;
	uint8_t cfg[MIG_CONFIG_BYTES];
	uint64_t regs[IDXD_REGS_END / 8];
	uint64_t grpcfg[GRPCFG_QWORDS];
	uint64_t perm[MIG_MSIX_PERM_ENTRIES];
	uint64_t wqcfg[MAX_WQS * WQCFG_BYTES / 8];
};

/* Read @d's state into @s (reads work in every migration state). */
static void snapshot(struct __test_metadata *_metadata, struct dev *d, struct snap *s)
{
	unsigned int i;

	ASSERT_GE((unsigned int)MAX_WQS, d->wqs);
	memset(s, 0, sizeof(*s));
	s->wqs = d->wqs;
	ASSERT_EQ((ssize_t)sizeof(s->cfg), rd(d, CONFIG, 0, s->cfg, sizeof(s->cfg)))
		TH_LOG("%s: config space read", d->uuid);
	for (i = 0; i < ARRAY_SIZE(s->regs); i++)
		s->regs[i] = R64(d, 8 * i);
	for (i = 0; i < GRPCFG_QWORDS; i++)
		s->grpcfg[i] = R64(d, GRPCFG_TABLE + 8 * i);
	for (i = 0; i < MIG_MSIX_PERM_ENTRIES; i++)
		s->perm[i] = R64(d, MSIX_PERM_TABLE + 8 * i);
	for (i = 0; i < d->wqs * WQCFG_BYTES / 8; i++)
		s->wqcfg[i] = R64(d, WQCFG_TABLE + 8 * i);
}

/* 0 if @a and @b are the same; else 1, with the first difference in @msg. */
static int snap_diff(const struct snap *a, const struct snap *b, char *msg, size_t size)
{
	unsigned int i;

	if (a->wqs != b->wqs)
		return snprintf(msg, size, "%u WQs against %u", a->wqs, b->wqs), 1;
	for (i = 0; i < sizeof(a->cfg); i++) {
		if (a->cfg[i] != b->cfg[i])
			return snprintf(msg, size, "config space byte %#x: %#x against %#x", i,
					a->cfg[i], b->cfg[i]), 1;
	}
	for (i = 0; i < ARRAY_SIZE(a->regs); i++) {
		if (a->regs[i] != b->regs[i])
			return snprintf(msg, size, "BAR0 %#x: %#" PRIx64 " against %#" PRIx64,
					8 * i, a->regs[i], b->regs[i]), 1;
	}
	for (i = 0; i < GRPCFG_QWORDS; i++) {
		if (a->grpcfg[i] != b->grpcfg[i])
			return snprintf(msg, size, "GRPCFG %#x: %#" PRIx64 " against %#" PRIx64,
					GRPCFG_TABLE + 8 * i, a->grpcfg[i], b->grpcfg[i]), 1;
	}
	for (i = 0; i < MIG_MSIX_PERM_ENTRIES; i++) {
		if (a->perm[i] != b->perm[i])
			return snprintf(msg, size,
					"MSI-X permission %u: %#" PRIx64 " against %#" PRIx64, i,
					a->perm[i], b->perm[i]), 1;
	}
	for (i = 0; i < a->wqs * WQCFG_BYTES / 8; i++) {
		if (a->wqcfg[i] != b->wqcfg[i])
			return snprintf(msg, size,
					"WQCFG of WQ %u, bytes %u-%u: %#" PRIx64 " against %#" PRIx64,
					i / 8, 8 * (i % 8), 8 * (i % 8) + 7, a->wqcfg[i],
					b->wqcfg[i]), 1;
	}
	return 0;
}

/* @got (a device's state at @what) is @want. */
static void assert_same_state(struct __test_metadata *_metadata, const char *what,
			      const struct snap *want, const struct snap *got)
{
	char msg[256];

	ASSERT_EQ(0, snap_diff(want, got, msg, sizeof(msg)))
		TH_LOG("%s: %s (expected against seen)", what, msg);
}

/*
 * The @len-byte stream @s is a well-formed stream of @d (its header names
 * @d's type, aggregator and WQ count, the enabled flag matches GENSTS) and
 * its body holds exactly the state in @sn.
 */
static void assert_stream_of(struct __test_metadata *_metadata, const uint8_t *s, size_t len,
			     const struct dev *d, const struct snap *sn)
{
	const uint8_t *body = s + MIG_HEADER_SIZE;
	static const struct { unsigned int at, reg; } words[] = {
		{ MIG_B_GENCFG, IDXD_GENCFG_OFFSET },
		{ MIG_B_GENCTRL, IDXD_GENCTRL_OFFSET },
		{ MIG_B_ENABLED, IDXD_GENSTATS_OFFSET },
		{ MIG_B_INTCAUSE, IDXD_INTCAUSE_OFFSET },
		{ MIG_B_CMD, IDXD_CMD_OFFSET },
		{ MIG_B_CMDSTS, IDXD_CMDSTS_OFFSET },
	};
	bool enabled = sn->regs[IDXD_GENSTATS_OFFSET / 8] & IDXD_DEVICE_STATE_ENABLED;
	struct mig_header h;
	unsigned int i;
	char msg[256];

	ASSERT_EQ(0, mig_stream_check(s, len, msg, sizeof(msg)))
		TH_LOG("the stream of %s: %s", d->uuid, msg);
	mig_header_decode(s, &h);
	ASSERT_X(d->base, h.base);
	ASSERT_X(d->aggregator, h.aggregator);
	ASSERT_X(d->wqs, h.wqs);
	ASSERT_XM(enabled ? MIG_FLAG_ENABLED : 0, h.flags, "(GENSTS %#" PRIx64 ")",
		  sn->regs[IDXD_GENSTATS_OFFSET / 8]);

	assert_same(_metadata, "the stream's config space", sn->cfg, body + MIG_B_CONFIG,
		    MIG_CONFIG_BYTES);
	for (i = 0; i < ARRAY_SIZE(words); i++) {
		ASSERT_XM(sn->regs[words[i].reg / 8] & 0xffffffff, mig_get32(body, words[i].at),
			  "stream body offset %u, register %#x", words[i].at, words[i].reg);
	}
	for (i = 0; i < 4; i++) {
		ASSERT_XM(sn->regs[IDXD_SWERR_OFFSET / 8 + i],
			  mig_get64(body, MIG_B_SWERR + 8 * i), "SWERR %u", i);
	}
	for (i = 0; i < MIG_MSIX_PERM_ENTRIES; i++) {
		ASSERT_XM(sn->perm[i], mig_get32(body, MIG_B_MSIX_PERM + 4 * i),
			  "MSI-X permission %u", i);
	}
	for (i = 0; i < d->wqs * WQCFG_BYTES / 8; i++) {
		ASSERT_XM(sn->wqcfg[i], mig_get64(body, MIG_B_WQCFG + 8 * i),
			  "WQCFG of WQ %u, bytes %u-%u", i / 8, 8 * (i % 8), 8 * (i % 8) + 7);
	}
}

/* --- migration steps ----------------------------------------------------- */

/* Set @d's migration state, which must work; returns the data fd (or -1). */
static int mig_set(struct __test_metadata *_metadata, struct dev *d, uint32_t state)
{
	int before = mig_get_state(d->fd), data_fd, ret;

	ret = mig_set_state(d->fd, state, &data_fd);
	ASSERT_EQ(0, ret) TH_LOG("%s: %s -> %s: %s", d->uuid, mig_state_name(before),
				 mig_state_name(state), strerror(-ret));
	ASSERT_LE(-1, data_fd) TH_LOG("%s: %s -> %s: data_fd %d", d->uuid,
				      mig_state_name(before), mig_state_name(state), data_fd);
	return data_fd;
}

/* @d's migration state is @state. */
static void assert_mig_state(struct __test_metadata *_metadata, struct dev *d, int state)
{
	int now = mig_get_state(d->fd);

	ASSERT_EQ(state, now) TH_LOG("%s is in %s (%d), expected %s", d->uuid,
				     mig_state_name(now), now, mig_state_name(state));
}

/* Set @d's state to @state, an arc that must open no data transfer session. */
static void mig_go(struct __test_metadata *_metadata, struct dev *d, uint32_t state)
{
	int fd = mig_set(_metadata, d, state);

	ASSERT_EQ(-1, fd) TH_LOG("%s: -> %s returned data fd %d", d->uuid,
				 mig_state_name(state), fd);
	assert_mig_state(_metadata, d, state);
}

/* VFIO_DEVICE_RESET, which must work and leave @d RUNNING. */
static void dev_reset(struct __test_metadata *_metadata, struct dev *d)
{
	ASSERT_EQ(0, ioctl(d->fd, VFIO_DEVICE_RESET))
		TH_LOG("%s: VFIO_DEVICE_RESET: %s", d->uuid, strerror(errno));
	assert_mig_state(_metadata, d, VFIO_DEVICE_STATE_RUNNING);
}

/*
 * @d is in STOP, STOP_COPY or RESUMING: writes to BAR0 and BAR2 fail with
 * EINVAL and do nothing (no register changes, no descriptor runs); config
 * space writes work, and so do reads.
 */
static void assert_frozen(struct __test_metadata *_metadata, struct dev *d)
{
	struct dsa_hw_desc ds = mkdesc(DSA_OPCODE_NOOP, F_CR, 0, 0, 0);
	const char *state = mig_state_name(mig_get_state(d->fd));
	uint64_t genctrl, flipped;
	uint8_t cfg[MIG_CONFIG_BYTES];
	uint16_t command;

	genctrl = R64(d, IDXD_GENCTRL_OFFSET);
	flipped = genctrl ^ GENCTRL_SOFTERR_INT_EN;
	ASSERT_EQ(-EINVAL, wr(d, BAR0, IDXD_GENCTRL_OFFSET, &flipped, 8))
		TH_LOG("%s in %s: a BAR0 write was not refused", d->uuid, state);
	ASSERT_XM(genctrl, R64(d, IDXD_GENCTRL_OFFSET), "%s in %s", d->uuid, state);

	ds.completion_addr = iova_of(CR_OFF + 32 * CR_FROZEN);
	memset(cr_slot(d, CR_FROZEN), 0, 32);
	ASSERT_EQ(-EINVAL, wr(d, BAR2, PORTAL(0, 0, 0), &ds, 64))
		TH_LOG("%s in %s: a portal write was not refused", d->uuid, state);
	ASSERT_XM(0, cr_slot(d, CR_FROZEN)->status, "%s in %s: a descriptor ran", d->uuid, state);

	command = CFG_R(d, PCI_COMMAND, 2);
	ASSERT_EQ(2, wr(d, CONFIG, PCI_COMMAND, &command, 2))
		TH_LOG("%s in %s: a config space write was refused", d->uuid, state);
	ASSERT_EQ((ssize_t)sizeof(cfg), rd(d, CONFIG, 0, cfg, sizeof(cfg)));
	ASSERT_X(command, CFG_R(d, PCI_COMMAND, 2));
}

/*
 * @d runs (RUNNING or PRE_COPY): BAR0 takes writes and WQ 0 (enabled by
 * dev_configure()) executes descriptors.
 */
static void assert_live(struct __test_metadata *_metadata, struct dev *d)
{
	const char *state = mig_state_name(mig_get_state(d->fd));
	uint64_t genctrl = R64(d, IDXD_GENCTRL_OFFSET);
	struct dsa_completion_record *cr;

	ASSERT_EQ(8, wr(d, BAR0, IDXD_GENCTRL_OFFSET, &genctrl, 8))
		TH_LOG("%s in %s: a BAR0 write was refused", d->uuid, state);
	cr = run_on(_metadata, d, 0, mkdesc(DSA_OPCODE_NOOP, F_CR, 0, 0, 0), CR_FROZEN);
	ASSERT_XM(DSA_COMP_SUCCESS, cr->status, "%s in %s: NOOP", d->uuid, state);
}

#define SAVE_CHUNK	1000	/* bytes per read() of a stream */

/*
 * Save @d's state as a VMM does at the end of a migration: STOP, then
 * STOP_COPY, whose new data fd yields exactly the bytes MIG_DATA_SIZE
 * announces (checked before every read) and then end of file, for good;
 * VFIO_MIG_GET_PRECOPY_INFO is refused there; STOP ends the session (the
 * fd then fails with ENODEV).  While stopped, BAR0 and BAR2 refuse writes.
 * @d is left in STOP.  Returns the stream's length.
 */
static size_t mig_save(struct __test_metadata *_metadata, struct dev *d, uint8_t *buf,
		       size_t size)
{
	size_t total = MIG_HEADER_SIZE + mig_body_len(d->wqs), got = 0;
	uint64_t initial, dirty;
	long long left;
	uint8_t byte;
	ssize_t n;
	int fd;

	ASSERT_LT(total, size);
	mig_go(_metadata, d, VFIO_DEVICE_STATE_STOP);
	assert_frozen(_metadata, d);
	fd = mig_set(_metadata, d, VFIO_DEVICE_STATE_STOP_COPY);
	ASSERT_LE(0, fd) TH_LOG("%s: STOP -> STOP_COPY returned no data fd", d->uuid);
	assert_mig_state(_metadata, d, VFIO_DEVICE_STATE_STOP_COPY);
	assert_frozen(_metadata, d);
	ASSERT_EQ(-EINVAL, mig_precopy_info(fd, &initial, &dirty))
		TH_LOG("%s: VFIO_MIG_GET_PRECOPY_INFO in STOP_COPY", d->uuid);

	for (;;) {
		left = mig_data_size(d->fd);
		ASSERT_EQ((long long)(total - got), left)
			TH_LOG("%s: MIG_DATA_SIZE after %zu of %zu bytes", d->uuid, got, total);
		n = mig_read(fd, buf + got, size - got < SAVE_CHUNK ? size - got : SAVE_CHUNK);
		ASSERT_LE(0, n) TH_LOG("%s: read of the stream at %zu: %s", d->uuid, got,
				       strerror(-n));
		if (!n)
			break;
		got += n;
		ASSERT_GE(total, got) TH_LOG("%s: the stream goes on past %zu bytes", d->uuid,
					     total);
	}
	ASSERT_EQ(total, got) TH_LOG("%s: the stream ended after %zu of %zu bytes", d->uuid,
				     got, total);
	ASSERT_EQ(0, mig_read(fd, &byte, 1)) TH_LOG("%s: read after end of file", d->uuid);

	mig_go(_metadata, d, VFIO_DEVICE_STATE_STOP);
	ASSERT_EQ(-ENODEV, mig_read(fd, &byte, 1))
		TH_LOG("%s: read after STOP_COPY -> STOP", d->uuid);
	close(fd);
	return got;
}

/*
 * Load the @len-byte stream @s into @d as a VMM does: STOP (unless it is
 * there), then RESUMING, whose new data fd takes the stream in writes of
 * @chunk bytes; RESUMING -> STOP must then apply it.  While resuming, BAR0
 * and BAR2 refuse writes.  @d is left in STOP.
 */
static void mig_resume(struct __test_metadata *_metadata, struct dev *d, const uint8_t *s,
		       size_t len, size_t chunk)
{
	size_t at;
	int fd, err;

	if (mig_get_state(d->fd) != VFIO_DEVICE_STATE_STOP)
		mig_go(_metadata, d, VFIO_DEVICE_STATE_STOP);
	fd = mig_set(_metadata, d, VFIO_DEVICE_STATE_RESUMING);
	ASSERT_LE(0, fd) TH_LOG("%s: STOP -> RESUMING returned no data fd", d->uuid);
	assert_mig_state(_metadata, d, VFIO_DEVICE_STATE_RESUMING);
	assert_frozen(_metadata, d);
	at = mig_write_chunks(fd, s, len, chunk, &err);
	ASSERT_EQ(len, at)
		TH_LOG("%s: the write at offset %zu of the %zu-byte stream (%zu at a time): %s",
		       d->uuid, at, len, chunk, strerror(err));
	mig_go(_metadata, d, VFIO_DEVICE_STATE_STOP);
	close(fd);
}

/*
 * A whole migration: source device 1 on dsa<@src_parent>, target device 2
 * on dsa<@dst_parent>, both dsa-<@base>dwq with @aggregator, the source
 * opened through its group if @src_group and the target through the other
 * path.  The source is configured, enabled and used, then saved; the
 * target, resumed from its stream, reads exactly as the source did (the
 * config space and BAR0) and runs descriptors and interrupts as it did;
 * the source returns to RUNNING with its state intact and keeps working.
 */
static void migrate_and_compare(struct __test_metadata *_metadata, int src_parent,
				bool src_group, int dst_parent, unsigned int base,
				unsigned int aggregator)
{
	static uint8_t stream[MIG_STREAM_MAX];
	static struct snap before, now;
	struct dev src, dst;
	size_t len;

	dev_create(_metadata, &src, 1, src_parent, base, aggregator);
	dev_create(_metadata, &dst, 2, dst_parent, base, aggregator);
	dev_open(_metadata, &src, src_group);
	dev_open(_metadata, &dst, !src_group);

	dev_configure(_metadata, &src);
	workload(_metadata, &src, 0, 1);
	workload(_metadata, &src, last_enabled_wq(&src), 2);
	snapshot(_metadata, &src, &before);

	len = mig_save(_metadata, &src, stream, sizeof(stream));
	assert_stream_of(_metadata, stream, len, &src, &before);
	snapshot(_metadata, &src, &now);
	assert_same_state(_metadata, "source in STOP after the save", &before, &now);

	/* In writes that do not follow the header and body boundaries. */
	mig_resume(_metadata, &dst, stream, len, MIG_HEADER_SIZE + 3);
	snapshot(_metadata, &dst, &now);
	assert_same_state(_metadata,
			  "target after RESUMING -> STOP (source against target)", &before, &now);
	mig_go(_metadata, &dst, VFIO_DEVICE_STATE_RUNNING);
	snapshot(_metadata, &dst, &now);
	assert_same_state(_metadata, "target in RUNNING (source against target)", &before, &now);
	workload(_metadata, &dst, 0, 3);
	workload(_metadata, &dst, last_enabled_wq(&dst), 4);
	assert_interrupts(_metadata, &dst, before.regs[IDXD_SWERR_OFFSET / 8]);

	mig_go(_metadata, &src, VFIO_DEVICE_STATE_RUNNING);
	snapshot(_metadata, &src, &now);
	assert_same_state(_metadata,
			  "source back in RUNNING (before against after)", &before, &now);
	workload(_metadata, &src, 0, 5);
	workload(_metadata, &src, last_enabled_wq(&src), 6);
	assert_interrupts(_metadata, &src, before.regs[IDXD_SWERR_OFFSET / 8]);

	dev_close(_metadata, &src);
	dev_close(_metadata, &dst);
	dev_remove(_metadata, &src);
	dev_remove(_metadata, &dst);
}

/* --- common setup ---------------------------------------------------------- */

FIXTURE(mig) {
	int baseline_devices;
};

/* Skip without root or the mdev core; else load the module. */
FIXTURE_SETUP(mig)
{
	env_setup(_metadata, MODULE_PARAMS, &self->baseline_devices);
}

/* In the parent: the test's process, and so its VFIO fds, are gone by then. */
FIXTURE_TEARDOWN_PARENT(mig)
{
	env_teardown(_metadata, self->baseline_devices);
}

/* --- the migration interface --------------------------------------------- */

/* VFIO_DEVICE_FEATURE with VFIO_DEVICE_FEATURE_PROBE and @flags: 0 or -errno. */
static int feature_probe(int device, uint32_t flags)
{
	struct vfio_device_feature f = {
		.argsz = sizeof(f),
		.flags = VFIO_DEVICE_FEATURE_PROBE | flags,
	};

	return ioctl(device, VFIO_DEVICE_FEATURE, &f) ? -errno : 0;
}

/*
 * On both open paths: the device reports STOP_COPY, P2P and PRE_COPY; it
 * starts RUNNING; MIG_DATA_SIZE is the length of the stream STOP_COPY
 * would yield; the arcs without a data transfer session return no data
 * fd; a device closed in STOP opens RUNNING again.
 */
TEST_F(mig, migration_reported)
{
	static const uint32_t arcs[] = {
		VFIO_DEVICE_STATE_RUNNING_P2P, VFIO_DEVICE_STATE_STOP,
		VFIO_DEVICE_STATE_RUNNING_P2P, VFIO_DEVICE_STATE_RUNNING,
		VFIO_DEVICE_STATE_STOP, VFIO_DEVICE_STATE_RUNNING,
		VFIO_DEVICE_STATE_STOP,
	};
	struct dev dv, *d = &dv;
	uint64_t flags;
	unsigned int i;
	int path;

	dev_create(_metadata, d, 1, 0, 2, 3);
	for (path = 0; path < 2; path++) {
		TH_LOG("through the %s", path ? "group" : "cdev");
		dev_open(_metadata, d, path);
		ASSERT_EQ(0, feature_probe(d->fd, VFIO_DEVICE_FEATURE_GET |
					   VFIO_DEVICE_FEATURE_MIGRATION));
		ASSERT_EQ(0, feature_probe(d->fd, VFIO_DEVICE_FEATURE_GET |
					   VFIO_DEVICE_FEATURE_SET |
					   VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE));
		ASSERT_EQ(0, mig_get_flags(d->fd, &flags));
		ASSERT_X(VFIO_MIGRATION_STOP_COPY | VFIO_MIGRATION_P2P | VFIO_MIGRATION_PRE_COPY,
			 flags);
		assert_mig_state(_metadata, d, VFIO_DEVICE_STATE_RUNNING);
		ASSERT_EQ((long long)(MIG_HEADER_SIZE + mig_body_len(d->wqs)),
			  mig_data_size(d->fd));

		for (i = 0; i < ARRAY_SIZE(arcs); i++)
			mig_go(_metadata, d, arcs[i]);
		/* Closed in STOP. */
		dev_close(_metadata, d);
	}
	dev_open(_metadata, d, false);
	assert_mig_state(_metadata, d, VFIO_DEVICE_STATE_RUNNING);
	dev_close(_metadata, d);
}

/*
 * BAR0 and BAR2 take writes in RUNNING and PRE_COPY, and refuse them in
 * STOP, STOP_COPY and RESUMING, where config space writes and all reads
 * still work.
 */
TEST_F(mig, regions_frozen_while_stopped)
{
	struct dev dv, *d = &dv;
	int fd;

	dev_create(_metadata, d, 1, 0, 2, 1);
	dev_open(_metadata, d, false);
	dev_configure(_metadata, d);
	assert_live(_metadata, d);

	mig_go(_metadata, d, VFIO_DEVICE_STATE_STOP);
	assert_frozen(_metadata, d);
	fd = mig_set(_metadata, d, VFIO_DEVICE_STATE_STOP_COPY);
	ASSERT_LE(0, fd);
	assert_frozen(_metadata, d);
	mig_go(_metadata, d, VFIO_DEVICE_STATE_STOP);
	close(fd);
	mig_go(_metadata, d, VFIO_DEVICE_STATE_RUNNING);
	assert_live(_metadata, d);

	fd = mig_set(_metadata, d, VFIO_DEVICE_STATE_PRE_COPY);
	ASSERT_LE(0, fd);
	assert_live(_metadata, d);
	mig_go(_metadata, d, VFIO_DEVICE_STATE_RUNNING);
	close(fd);

	mig_go(_metadata, d, VFIO_DEVICE_STATE_STOP);
	fd = mig_set(_metadata, d, VFIO_DEVICE_STATE_RESUMING);
	ASSERT_LE(0, fd);
	assert_frozen(_metadata, d);
	dev_reset(_metadata, d);
	close(fd);
	dev_configure(_metadata, d);
	assert_live(_metadata, d);
	workload(_metadata, d, 0, 1);
	dev_close(_metadata, d);
}

/*
 * VFIO_DEVICE_RESET in STOP_COPY, PRE_COPY and RESUMING, and closing the
 * device in STOP_COPY and RESUMING, end the session: its fd then fails
 * with ENODEV, and the device is RUNNING in its post-create state.
 */
TEST_F(mig, sessions_end_on_reset_and_close)
{
	static const uint32_t states[] = {
		VFIO_DEVICE_STATE_STOP_COPY, VFIO_DEVICE_STATE_PRE_COPY,
		VFIO_DEVICE_STATE_RESUMING,
	};
	static struct snap fresh, now;
	struct dev dv, *d = &dv;
	uint8_t buf[16];
	unsigned int i;
	int fd;

	dev_create(_metadata, d, 1, 0, 4, 1);
	dev_open(_metadata, d, true);
	snapshot(_metadata, d, &fresh);

	for (i = 0; i < ARRAY_SIZE(states); i++) {
		bool resuming = states[i] == VFIO_DEVICE_STATE_RESUMING;

		TH_LOG("VFIO_DEVICE_RESET in %s", mig_state_name(states[i]));
		dev_configure(_metadata, d);
		if (states[i] != VFIO_DEVICE_STATE_PRE_COPY)
			mig_go(_metadata, d, VFIO_DEVICE_STATE_STOP);
		fd = mig_set(_metadata, d, states[i]);
		ASSERT_LE(0, fd);
		if (resuming) {
			ASSERT_EQ(8, mig_write(fd, MIG_MAGIC, 8));
		} else {
			ASSERT_EQ(10, mig_read(fd, buf, 10));
		}
		dev_reset(_metadata, d);
		if (resuming) {
			ASSERT_EQ(-ENODEV, mig_write(fd, buf, 1));
		} else {
			ASSERT_EQ(-ENODEV, mig_read(fd, buf, 1));
		}
		close(fd);
		snapshot(_metadata, d, &now);
		assert_same_state(_metadata,
				  "after VFIO_DEVICE_RESET (post-create against now)",
				  &fresh, &now);
	}

	TH_LOG("close in STOP_COPY");
	dev_configure(_metadata, d);
	mig_go(_metadata, d, VFIO_DEVICE_STATE_STOP);
	fd = mig_set(_metadata, d, VFIO_DEVICE_STATE_STOP_COPY);
	ASSERT_LE(0, fd);
	ASSERT_EQ(10, mig_read(fd, buf, 10));
	dev_close(_metadata, d);
	ASSERT_EQ(-ENODEV, mig_read(fd, buf, 1));
	close(fd);
	dev_open(_metadata, d, false);
	assert_mig_state(_metadata, d, VFIO_DEVICE_STATE_RUNNING);
	snapshot(_metadata, d, &now);
	assert_same_state(_metadata, "reopened after a close in STOP_COPY", &fresh, &now);

	TH_LOG("close in RESUMING");
	mig_go(_metadata, d, VFIO_DEVICE_STATE_STOP);
	fd = mig_set(_metadata, d, VFIO_DEVICE_STATE_RESUMING);
	ASSERT_LE(0, fd);
	ASSERT_EQ(8, mig_write(fd, MIG_MAGIC, 8));
	dev_close(_metadata, d);
	ASSERT_EQ(-ENODEV, mig_write(fd, buf, 1));
	close(fd);
	dev_open(_metadata, d, true);
	assert_mig_state(_metadata, d, VFIO_DEVICE_STATE_RUNNING);
	snapshot(_metadata, d, &now);
	assert_same_state(_metadata, "reopened after a close in RESUMING", &fresh, &now);
	dev_close(_metadata, d);
}

/* --- concurrency and lifetime ---------------------------------------------- */

#define RACE_ROUNDS	300	/* rounds of each thread in the race test */

/* What the threads of the race test share. */
struct race {
	struct dev *d;
	/* The data fd of the last session (-1: none yet); never closed early. */
	_Atomic int data_fd;
	/* The state changer is through. */
	_Atomic bool changed;
	/* The first unexpected result, for the log. */
	_Atomic int bad_errno;
	const char *_Atomic bad_what;
	_Atomic unsigned long resets, reads, writes, accesses;
};

/* Record an unexpected result of @what (an errno, or 0 for a bad value). */
static void race_bad(struct race *r, const char *what, int err)
{
	const char *none = NULL;

	if (atomic_compare_exchange_strong(&r->bad_what, &none, what))
		r->bad_errno = err;
}

/* Reset the device again and again: any moment of any session. */
static void *race_resetter(void *arg)
{
	struct race *r = arg;
	unsigned int i;

	for (i = 0; i < RACE_ROUNDS; i++) {
		if (ioctl(r->d->fd, VFIO_DEVICE_RESET))
			race_bad(r, "VFIO_DEVICE_RESET", errno);
		r->resets++;
		sched_yield();
	}
	return NULL;
}

/*
 * Read and write the current data fd and the registers: whatever the
 * session's state, only data, the end of the stream, ENOMSG, ENODEV or
 * EINVAL may come back, or EBADF for the direction a data fd is not open
 * for (no fd is closed while this runs).
 */
static void *race_io(void *arg)
{
	struct race *r = arg;
	uint8_t buf[256] = { 0 };
	uint32_t v;

	/* RACE_ROUNDS on data fds, once there are any. */
	while (r->reads < RACE_ROUNDS && !(r->changed && r->data_fd < 0)) {
		int fd = r->data_fd;
		ssize_t n;

		if (fd >= 0) {
			n = read(fd, buf, sizeof(buf));
			if (n < 0 && errno != ENOMSG && errno != ENODEV && errno != EINVAL &&
			    errno != EBADF)
				race_bad(r, "read() of a data fd", errno);
			n = write(fd, buf, sizeof(buf));
			if (n < 0 && errno != ENODEV && errno != EINVAL && errno != EBADF)
				race_bad(r, "write() of a data fd", errno);
			r->reads++;
			r->writes++;
		}
		n = rd(r->d, VFIO_PCI_BAR0_REGION_INDEX, IDXD_GENSTATS_OFFSET, &v, 4);
		if (n != 4)
			race_bad(r, "a GENSTS read", n < 0 ? (int)-n : 0);
		v = dsa_cmd_reg(IDXD_CMD_ENABLE_DEVICE, 0, false);
		n = wr(r->d, VFIO_PCI_BAR0_REGION_INDEX, IDXD_CMD_OFFSET, &v, 4);
		if (n != 4 && n != -EINVAL)
			race_bad(r, "a CMD write", n < 0 ? (int)-n : 0);
		r->accesses++;
	}
	return NULL;
}

/*
 * State changes, resets, data fd reads and writes and register accesses
 * from four threads at once: every call ends with data or one of the
 * errors the uAPI allows, never a hang or a kernel report (the debug
 * kernel's lockdep and KASAN watch this run), and afterwards the device
 * is RUNNING after a reset and migrates cleanly.
 */
TEST_F_TIMEOUT(mig, concurrent_state_changes_resets_and_io, TIMEOUT_LONG)
{
	static const uint32_t targets[] = {
		VFIO_DEVICE_STATE_STOP_COPY, VFIO_DEVICE_STATE_RUNNING,
		VFIO_DEVICE_STATE_PRE_COPY, VFIO_DEVICE_STATE_STOP_COPY,
		VFIO_DEVICE_STATE_STOP, VFIO_DEVICE_STATE_RESUMING,
		VFIO_DEVICE_STATE_RUNNING, VFIO_DEVICE_STATE_PRE_COPY_P2P,
		VFIO_DEVICE_STATE_RUNNING_P2P,
	};
	static int fds[RACE_ROUNDS];
	struct race r = { .data_fd = -1 };
	struct dev dv, *d = &dv;
	pthread_t resetter, io;
	unsigned int i, nfds = 0, changes = 0;
	const char *bad_what;
	int fd, ret;

	dev_create(_metadata, d, 1, 0, 2, 2);
	dev_open(_metadata, d, false);
	dev_configure(_metadata, d);
	r.d = d;
	ASSERT_EQ(0, pthread_create(&resetter, NULL, race_resetter, &r));
	ASSERT_EQ(0, pthread_create(&io, NULL, race_io, &r));
	for (i = 0; i < RACE_ROUNDS; i++) {
		fd = -1;
		ret = mig_set_state(d->fd, targets[i % ARRAY_SIZE(targets)], &fd);
		/*
		 * RESUMING with nothing in cannot be left but by a reset; a
		 * reset in between can make an arc impossible (STOP_COPY ->
		 * PRE_COPY). Reset here too, to go on.
		 */
		if (ret && ret != -EINVAL)
			race_bad(&r, "VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE", -ret);
		if (ret == -EINVAL && ioctl(d->fd, VFIO_DEVICE_RESET))
			race_bad(&r, "VFIO_DEVICE_RESET", errno);
		sched_yield();
		if (!ret)
			changes++;
		if (fd >= 0) {
			fds[nfds++] = fd;
			r.data_fd = fd;
		}
	}
	r.changed = true;
	pthread_join(resetter, NULL);
	pthread_join(io, NULL);
	for (i = 0; i < nfds; i++)
		close(fds[i]);
	TH_LOG("%u of %u state changes went through, %u data fds; %lu resets, %lu data fd "
	       "reads and writes, %lu register accesses", changes, RACE_ROUNDS, nfds,
	       (unsigned long)r.resets, (unsigned long)r.reads, (unsigned long)r.accesses);
	/* A plain pointer: clang's harness cannot compare an _Atomic one. */
	bad_what = atomic_load(&r.bad_what);
	ASSERT_EQ(NULL, bad_what)
		TH_LOG("%s: %s", bad_what, strerror(r.bad_errno));
	ASSERT_LT(0U, changes);
	ASSERT_LT(0U, nfds);

	dev_reset(_metadata, d);
	assert_mig_state(_metadata, d, VFIO_DEVICE_STATE_RUNNING);
	dev_close(_metadata, d);
	dev_remove(_metadata, d);
	migrate_and_compare(_metadata, 0, false, 0, 2, 2);
}

/*
 * A data fd outlives its device (the session ends: ENODEV) but holds the
 * module: rmmod fails (EAGAIN) while it is open, and works after.
 */
TEST_F(mig, data_fd_holds_the_module)
{
	struct dev dv, *d = &dv;
	uint8_t buf[8];
	int fd;

	dev_create(_metadata, d, 1, 0, 1, 1);
	dev_open(_metadata, d, false);
	mig_go(_metadata, d, VFIO_DEVICE_STATE_STOP);
	fd = mig_set(_metadata, d, VFIO_DEVICE_STATE_STOP_COPY);
	ASSERT_LE(0, fd);
	dev_close(_metadata, d);
	dev_remove(_metadata, d);
	ASSERT_EQ(-ENODEV, mig_read(fd, buf, sizeof(buf)));
	/* delete_module(O_NONBLOCK) of a module in use. */
	ASSERT_EQ(-EAGAIN, module_unload());
	ASSERT_TRUE(module_loaded());
	close(fd);
	/* The fixture's teardown unloads it now. */
}

/* --- whole migrations -------------------------------------------------------- */

/* migrate_and_compare() of two devices: where they are, and what. */
FIXTURE(whole_migration) {
	int baseline_devices;
};

FIXTURE_VARIANT(whole_migration) {
	int src_parent, dst_parent;
	bool src_group;		/* the source through its group, the target its cdev */
	unsigned int base, aggregator;
};

/* dsa-2dwq x2 to dsa-2dwq x2 on dsa0, source through the cdev. */
FIXTURE_VARIANT_ADD(whole_migration, same_parent) {
	.src_parent = 0, .dst_parent = 0, .src_group = false, .base = 2, .aggregator = 2,
};

/* dsa-4dwq x2 from dsa0 to dsa1, source through the group. */
FIXTURE_VARIANT_ADD(whole_migration, cross_parent) {
	.src_parent = 0, .dst_parent = 1, .src_group = true, .base = 4, .aggregator = 2,
};

/* As for mig. */
FIXTURE_SETUP(whole_migration)
{
	env_setup(_metadata, MODULE_PARAMS, &self->baseline_devices);
}

FIXTURE_TEARDOWN_PARENT(whole_migration)
{
	env_teardown(_metadata, self->baseline_devices);
}

TEST_F(whole_migration, target_matches_source)
{
	migrate_and_compare(_metadata, variant->src_parent, variant->src_group,
			    variant->dst_parent, variant->base, variant->aggregator);
}

/*
 * A descriptor half-written in 8-byte pieces when the device stops (a vCPU
 * stopped between two of the guest's stores): the stream carries the slot
 * (version 1.1: its mask, offset and bytes), the target completes it with
 * the other half and runs the descriptor; the source, back in RUNNING,
 * still holds its half and completes it too.
 */
TEST_F(mig, half_written_slot_migrates)
{
	static uint8_t stream[MIG_STREAM_MAX];
	const uint64_t portal = PORTAL(1, 2, 3);
	struct dsa_completion_record *cr;
	struct dev src, dst, *d;
	struct dsa_hw_desc ds;
	const uint8_t *raw = (const uint8_t *)&ds, *slot;
	unsigned int i;
	size_t len;

	dev_create(_metadata, &src, 1, 0, 2, 2);
	dev_create(_metadata, &dst, 2, 1, 2, 2);
	dev_open(_metadata, &src, false);
	dev_open(_metadata, &dst, true);
	dev_configure(_metadata, &src);

	fill(src.mem + SRC_OFF, XFER, 9);
	ds = mkdesc(DSA_OPCODE_MEMMOVE, F_CR, iova_of(SRC_OFF), iova_of(DST_OFF), XFER);
	ds.completion_addr = cr_iova(CR_MEMMOVE);
	for (i = 0; i < 4; i++)
		ASSERT_EQ(8, wr(&src, BAR2, portal + 8 * i, raw + 8 * i, 8));
	ASSERT_X(0, ((struct dsa_completion_record *)(src.mem + CR_OFF + 32 * CR_MEMMOVE))->status);

	len = mig_save(_metadata, &src, stream, sizeof(stream));
	slot = stream + MIG_HEADER_SIZE + MIG_B_SLOTS(src.wqs) + MIG_SLOT_BYTES * 1;
	ASSERT_X(0xff, mig_get32(slot, MIG_S_MASK));
	ASSERT_X(2 * 4096 + 3 * 64, mig_get32(slot, MIG_S_OFFSET));
	ASSERT_EQ(0, memcmp(slot + MIG_S_BYTES, raw, 32));
	/* No other WQ has one. */
	for (i = 0; i < src.wqs; i++) {
		if (i != 1)
			ASSERT_XM(0, mig_get32(stream + MIG_HEADER_SIZE + MIG_B_SLOTS(src.wqs) +
						       MIG_SLOT_BYTES * i, MIG_S_MASK), "WQ %u", i);
	}

	/* Guest memory goes with the guest, as a VMM copies it. */
	memcpy(dst.mem, src.mem, MEM_SIZE);
	mig_resume(_metadata, &dst, stream, len, 100);
	mig_go(_metadata, &dst, VFIO_DEVICE_STATE_RUNNING);
	mig_go(_metadata, &src, VFIO_DEVICE_STATE_RUNNING);
	for (d = &dst;; d = &src) {
		cr = (struct dsa_completion_record *)(d->mem + CR_OFF + 32 * CR_MEMMOVE);
		memset(d->mem + DST_OFF, 0, XFER);
		for (i = 4; i < 8; i++) {
			ASSERT_XM(0, cr->status, "%s: ran before piece %u", d->uuid, i);
			ASSERT_EQ(8, wr(d, BAR2, portal + 8 * i, raw + 8 * i, 8));
		}
		ASSERT_XM(DSA_COMP_SUCCESS, cr->status, "%s: the completed slot", d->uuid);
		assert_same(_metadata, "MEMMOVE from the migrated slot", d->mem + SRC_OFF,
			    d->mem + DST_OFF, XFER);
		if (d == &src)
			break;
	}

	dev_close(_metadata, &src);
	dev_close(_metadata, &dst);
	dev_remove(_metadata, &src);
	dev_remove(_metadata, &dst);
}

/*
 * A version 1.0 stream, as a driver before the portal slots wrote it (the
 * body without them, minor 0, both CRCs re-computed), still resumes a
 * target, which then runs as the source did.  The same body under a 1.1
 * header is refused.
 */
TEST_F(mig, version_1_0_stream_loads)
{
	static uint8_t stream[MIG_STREAM_MAX], old[MIG_STREAM_MAX];
	static struct snap before, now;
	struct dev src, dst;
	size_t len, old_len;
	int fd;

	dev_create(_metadata, &src, 1, 0, 2, 2);
	dev_create(_metadata, &dst, 2, 1, 2, 2);
	dev_open(_metadata, &src, false);
	dev_open(_metadata, &dst, true);
	dev_configure(_metadata, &src);
	workload(_metadata, &src, 0, 1);
	snapshot(_metadata, &src, &before);
	len = mig_save(_metadata, &src, stream, sizeof(stream));

	old_len = MIG_HEADER_SIZE + MIG_B_SLOTS(src.wqs) + 4;
	memcpy(old, stream, old_len - 4);
	mig_put16(old, MIG_H_MINOR, 0);
	mig_put32(old, MIG_H_BODY_LEN, old_len - MIG_HEADER_SIZE);
	mig_seal_header(old);
	mig_seal_body(old, old_len);
	ASSERT_LT(old_len, len);

	mig_resume(_metadata, &dst, old, old_len, 512);
	snapshot(_metadata, &dst, &now);
	assert_same_state(_metadata, "target resumed from a 1.0 stream", &before, &now);
	mig_go(_metadata, &dst, VFIO_DEVICE_STATE_RUNNING);
	workload(_metadata, &dst, 0, 2);

	/* The 1.0 body under the 1.1 header: the header's length is refused. */
	mig_put16(old, MIG_H_MINOR, MIG_VERSION_MINOR);
	mig_seal_header(old);
	mig_go(_metadata, &dst, VFIO_DEVICE_STATE_STOP);
	fd = mig_set(_metadata, &dst, VFIO_DEVICE_STATE_RESUMING);
	ASSERT_LE(0, fd);
	ASSERT_EQ(-EINVAL, mig_write(fd, old, old_len));
	close(fd);

	mig_go(_metadata, &src, VFIO_DEVICE_STATE_RUNNING);
	dev_close(_metadata, &src);
	dev_close(_metadata, &dst);
	dev_remove(_metadata, &src);
	dev_remove(_metadata, &dst);
}

/* VFIO_MIG_GET_PRECOPY_INFO on data fd @fd, with a whole argsz and the flags 0xdead. */
static int precopy_ask(int fd, struct vfio_precopy_info *info)
{
	memset(info, 0, sizeof(*info));
	info->argsz = sizeof(*info);
	info->flags = 0xdead;
	return ioctl(fd, VFIO_MIG_GET_PRECOPY_INFO, info);
}

/*
 * VFIO_MIG_GET_PRECOPY_INFO's request, as vfio_check_precopy_ioctl()
 * checks it: an argsz short of dirty_bytes is EINVAL and changes nothing
 * (the bytes to read stay); in version 1 the flags come back as they
 * went in; once the user opts in to version 2, which it may do after the
 * data fd exists, they are output and 0 (the device never re-initialises).
 */
TEST_F(mig, precopy_info_request)
{
	struct vfio_precopy_info info;
	struct dev src;
	int fd;

	dev_create(_metadata, &src, 1, 0, 1, 1);
	dev_open(_metadata, &src, false);
	fd = mig_set(_metadata, &src, VFIO_DEVICE_STATE_PRE_COPY);
	ASSERT_LE(0, fd) TH_LOG("RUNNING -> PRE_COPY returned no data fd");

	memset(&info, 0, sizeof(info));
	info.argsz = offsetof(struct vfio_precopy_info, dirty_bytes);
	ASSERT_EQ(-1, ioctl(fd, VFIO_MIG_GET_PRECOPY_INFO, &info));
	ASSERT_EQ(EINVAL, errno) TH_LOG("a short argsz: %s", strerror(errno));
	ASSERT_X(0, info.initial_bytes);

	ASSERT_EQ(0, precopy_ask(fd, &info)) TH_LOG("%s", strerror(errno));
	ASSERT_X(0xdead, info.flags);
	ASSERT_X(MIG_HEADER_SIZE, info.initial_bytes);
	ASSERT_X(0, info.dirty_bytes);

	ASSERT_EQ(0, mig_precopy_info_v2(src.fd));
	ASSERT_EQ(0, precopy_ask(fd, &info)) TH_LOG("%s", strerror(errno));
	ASSERT_X(0, info.flags);
	ASSERT_X(MIG_HEADER_SIZE, info.initial_bytes);

	mig_go(_metadata, &src, VFIO_DEVICE_STATE_RUNNING);
	close(fd);
	dev_close(_metadata, &src);
}

/*
 * The PRE_COPY path.  A fresh device's header says "not enabled"; leaving
 * PRE_COPY (through PRE_COPY_P2P and back) for RUNNING ends the session.
 * Then, on a configured device: RUNNING -> PRE_COPY yields the header
 * alone (VFIO_MIG_GET_PRECOPY_INFO counts its unread bytes down to 0,
 * dirty_bytes stays 0, MIG_DATA_SIZE follows) and then ENOMSG, while the
 * device keeps running; PRE_COPY -> STOP_COPY returns no new fd, and the
 * same fd yields the body and end of file.  The stream resumes a target.
 */
TEST_F(mig, pre_copy)
{
	static uint8_t stream[MIG_STREAM_MAX];
	static struct snap before, now;
	const size_t body_len = mig_body_len(3);
	struct dev src, dst;
	uint64_t initial, dirty;
	struct mig_header h;
	size_t got;
	int fd, end;
	ssize_t n;

	dev_create(_metadata, &src, 1, 0, 1, 3);
	dev_create(_metadata, &dst, 2, 1, 1, 3);
	dev_open(_metadata, &src, false);
	dev_open(_metadata, &dst, true);

	/* A fresh device: the header says "not enabled". */
	fd = mig_set(_metadata, &src, VFIO_DEVICE_STATE_PRE_COPY);
	ASSERT_LE(0, fd) TH_LOG("RUNNING -> PRE_COPY returned no data fd");
	ASSERT_EQ(MIG_HEADER_SIZE, mig_read(fd, stream, sizeof(stream)));
	mig_header_decode(stream, &h);
	ASSERT_X(0, h.flags);
	ASSERT_X(mig_crc32c(stream, MIG_H_CRC), h.crc);
	mig_go(_metadata, &src, VFIO_DEVICE_STATE_PRE_COPY_P2P);
	ASSERT_EQ(0, mig_precopy_info(fd, &initial, &dirty))
		TH_LOG("VFIO_MIG_GET_PRECOPY_INFO in PRE_COPY_P2P: %s", strerror(errno));
	ASSERT_X(0, initial);
	ASSERT_X(0, dirty);
	ASSERT_EQ(-ENOMSG, mig_read(fd, stream, sizeof(stream)));
	mig_go(_metadata, &src, VFIO_DEVICE_STATE_PRE_COPY);
	mig_go(_metadata, &src, VFIO_DEVICE_STATE_RUNNING);
	ASSERT_EQ(-ENODEV, mig_read(fd, stream, sizeof(stream)))
		TH_LOG("read after PRE_COPY -> RUNNING");
	close(fd);

	dev_configure(_metadata, &src);
	workload(_metadata, &src, 0, 1);
	snapshot(_metadata, &src, &before);

	fd = mig_set(_metadata, &src, VFIO_DEVICE_STATE_PRE_COPY);
	ASSERT_LE(0, fd) TH_LOG("RUNNING -> PRE_COPY returned no data fd");
	assert_mig_state(_metadata, &src, VFIO_DEVICE_STATE_PRE_COPY);
	ASSERT_EQ(0, mig_precopy_info(fd, &initial, &dirty));
	ASSERT_X(MIG_HEADER_SIZE, initial);
	ASSERT_X(0, dirty);
	ASSERT_EQ((long long)(MIG_HEADER_SIZE + body_len), mig_data_size(src.fd));

	ASSERT_EQ(10, mig_read(fd, stream, 10));
	ASSERT_EQ(0, mig_precopy_info(fd, &initial, &dirty));
	ASSERT_X(MIG_HEADER_SIZE - 10, initial);
	ASSERT_X(0, dirty);
	ASSERT_EQ((long long)(MIG_HEADER_SIZE - 10 + body_len), mig_data_size(src.fd));
	/* The rest of the header, and not a byte more. */
	ASSERT_EQ(MIG_HEADER_SIZE - 10, mig_read(fd, stream + 10, sizeof(stream) - 10));
	ASSERT_EQ(0, mig_precopy_info(fd, &initial, &dirty));
	ASSERT_X(0, initial);
	ASSERT_X(0, dirty);
	ASSERT_EQ((long long)body_len, mig_data_size(src.fd));
	ASSERT_EQ(-ENOMSG, mig_read(fd, stream + MIG_HEADER_SIZE, 1));
	ASSERT_EQ(-ENOMSG, mig_read(fd, stream + MIG_HEADER_SIZE, 1));

	/* Still running. */
	assert_live(_metadata, &src);
	workload(_metadata, &src, 0, 2);
	ASSERT_EQ(0, mig_precopy_info(fd, &initial, &dirty));
	ASSERT_X(0, initial);
	ASSERT_X(0, dirty);

	/* Through PRE_COPY_P2P, without a new fd. */
	mig_go(_metadata, &src, VFIO_DEVICE_STATE_STOP_COPY);
	ASSERT_EQ(-EINVAL, mig_precopy_info(fd, &initial, &dirty))
		TH_LOG("VFIO_MIG_GET_PRECOPY_INFO in STOP_COPY");
	assert_frozen(_metadata, &src);
	ASSERT_EQ((long long)body_len, mig_data_size(src.fd));
	n = mig_read_until_end(fd, stream + MIG_HEADER_SIZE, sizeof(stream) - MIG_HEADER_SIZE,
			       SAVE_CHUNK, &end);
	ASSERT_EQ((ssize_t)body_len, n) TH_LOG("the body after the header (end: %s)",
					       end ? strerror(end) : "end of file");
	ASSERT_EQ(0, end) TH_LOG("%s", strerror(end));
	ASSERT_EQ(0, mig_read(fd, stream, 1));
	ASSERT_EQ(0, mig_data_size(src.fd));
	got = MIG_HEADER_SIZE + n;
	assert_stream_of(_metadata, stream, got, &src, &before);

	mig_go(_metadata, &src, VFIO_DEVICE_STATE_STOP);
	ASSERT_EQ(-ENODEV, mig_read(fd, stream + got, 1)) TH_LOG("read after STOP_COPY -> STOP");
	ASSERT_EQ(-EINVAL, mig_precopy_info(fd, &initial, &dirty))
		TH_LOG("VFIO_MIG_GET_PRECOPY_INFO after the session");
	close(fd);
	mig_go(_metadata, &src, VFIO_DEVICE_STATE_RUNNING);
	snapshot(_metadata, &src, &now);
	assert_same_state(_metadata,
			  "source back in RUNNING (before against after)", &before, &now);
	workload(_metadata, &src, 0, 3);

	mig_resume(_metadata, &dst, stream, got, got);
	snapshot(_metadata, &dst, &now);
	assert_same_state(_metadata,
			  "target after RESUMING -> STOP (source against target)", &before, &now);
	mig_go(_metadata, &dst, VFIO_DEVICE_STATE_RUNNING);
	workload(_metadata, &dst, 0, 4);
	workload(_metadata, &dst, last_enabled_wq(&dst), 5);

	dev_close(_metadata, &src);
	dev_close(_metadata, &dst);
}

/* --- refusals ------------------------------------------------------------------ */

/* How a refusal case changes the source's stream. */
enum patch {
	PATCH_NONE,
	PATCH_MINOR_NEWER,	/* minor + 1, header re-sealed */
	PATCH_MAJOR_NEWER,	/* major 2 (minor as written), header re-sealed */
	PATCH_MAJOR_OLDER,	/* major 0 (minor as written), header re-sealed */
	PATCH_MAGIC,		/* "XSAMDEV", header re-sealed */
	PATCH_HEADER_CRC,	/* one bit of the header CRC */
	PATCH_FLAGS,		/* an unknown flag, header re-sealed */
	PATCH_DEVICE_API,	/* device_api 2, header re-sealed */
	PATCH_WQS,		/* wqs 7, header re-sealed */
	PATCH_BASE,		/* base 3, wqs 3 x aggregator, re-sealed */
};

/* Apply @patch to the stream @s. */
static void apply_patch(uint8_t *s, enum patch patch)
{
	switch (patch) {
	case PATCH_NONE:
		return;
	case PATCH_MINOR_NEWER:
		mig_put16(s, MIG_H_MINOR, MIG_VERSION_MINOR + 1);
		break;
	case PATCH_MAJOR_NEWER:
		mig_put16(s, MIG_H_MAJOR, MIG_VERSION_MAJOR + 1);
		break;
	case PATCH_MAJOR_OLDER:
		mig_put16(s, MIG_H_MAJOR, MIG_VERSION_MAJOR - 1);
		break;
	case PATCH_MAGIC:
		s[MIG_H_MAGIC] = 'X';
		break;
	case PATCH_HEADER_CRC:
		s[MIG_H_CRC] ^= 0x01;
		return;
	case PATCH_FLAGS:
		mig_put32(s, MIG_H_FLAGS, mig_get32(s, MIG_H_FLAGS) | 0x80);
		break;
	case PATCH_DEVICE_API:
		mig_put32(s, MIG_H_API, MIG_API_VFIO_PCI + 1);
		break;
	case PATCH_WQS:
		mig_put32(s, MIG_H_WQS, 7);
		break;
	case PATCH_BASE:
		/* Consistent but for the base: no dsa-3dwq type exists. */
		mig_put32(s, MIG_H_BASE, 3);
		mig_put32(s, MIG_H_WQS, 3 * mig_get32(s, MIG_H_AGGREGATOR));
		break;
	}
	mig_seal_header(s);
}

/*
 * The source is on dsa0, the target on dsa1.  The reasons for the ratio
 * rule are the contract's; the others are what the stream header checks
 * of rust/logic/stream.rs (Refusal) say.
 */
FIXTURE(refusal) {
	int baseline_devices;
};

FIXTURE_VARIANT(refusal) {
	unsigned int src_base, src_aggregator;
	unsigned int dst_base, dst_aggregator;
	enum patch patch;
	const char *reason;
};

/* The seed's case: equal WQ totals, different base types. */
FIXTURE_VARIANT_ADD(refusal, seed_pair) {
	.src_base = 1, .src_aggregator = 30, .dst_base = 2, .dst_aggregator = 15,
	.patch = PATCH_NONE,
	.reason = "source is dsa-1dwq, target is dsa-2dwq: "
		  "recreate the target as dsa-1dwq with aggregator 30",
};

FIXTURE_VARIANT_ADD(refusal, aggregator) {
	.src_base = 2, .src_aggregator = 3, .dst_base = 2, .dst_aggregator = 4,
	.patch = PATCH_NONE,
	.reason = "source has aggregator 3, target has aggregator 4: "
		  "recreate the target as dsa-2dwq with aggregator 3",
};

FIXTURE_VARIANT_ADD(refusal, newer_minor) {
	.src_base = 2, .src_aggregator = 3, .dst_base = 2, .dst_aggregator = 3,
	.patch = PATCH_MINOR_NEWER,
	.reason = "source stream version 1.2 is newer than the target's 1.1: "
		  "migrate to a host whose driver reads it",
};

FIXTURE_VARIANT_ADD(refusal, newer_major) {
	.src_base = 2, .src_aggregator = 3, .dst_base = 2, .dst_aggregator = 3,
	.patch = PATCH_MAJOR_NEWER,
	.reason = "source stream version 2.1, target reads major version 1 only: "
		  "migrate to a host whose driver reads it",
};

FIXTURE_VARIANT_ADD(refusal, older_major) {
	.src_base = 2, .src_aggregator = 3, .dst_base = 2, .dst_aggregator = 3,
	.patch = PATCH_MAJOR_OLDER,
	.reason = "source stream version 0.1, target reads major version 1 only: "
		  "migrate to a host whose driver reads it",
};

FIXTURE_VARIANT_ADD(refusal, bad_magic) {
	.src_base = 2, .src_aggregator = 3, .dst_base = 2, .dst_aggregator = 3,
	.patch = PATCH_MAGIC,
	.reason = "not a dsa_mdev migration stream (bad magic)",
};

FIXTURE_VARIANT_ADD(refusal, bad_header_crc) {
	.src_base = 2, .src_aggregator = 3, .dst_base = 2, .dst_aggregator = 3,
	.patch = PATCH_HEADER_CRC,
	.reason = "stream header corrupted (checksum mismatch)",
};

FIXTURE_VARIANT_ADD(refusal, unknown_flags) {
	.src_base = 2, .src_aggregator = 3, .dst_base = 2, .dst_aggregator = 3,
	.patch = PATCH_FLAGS,
	.reason = "stream header has unknown flags 0x81",
};

FIXTURE_VARIANT_ADD(refusal, device_api) {
	.src_base = 2, .src_aggregator = 3, .dst_base = 2, .dst_aggregator = 3,
	.patch = PATCH_DEVICE_API,
	.reason = "stream for device API 2, not vfio-pci",
};

FIXTURE_VARIANT_ADD(refusal, wq_count) {
	.src_base = 2, .src_aggregator = 3, .dst_base = 2, .dst_aggregator = 3,
	.patch = PATCH_WQS,
	.reason = "stream header says 7 WQs, which is not base x aggregator",
};

/* A base no type has: refused for it, naming no dsa-3dwq. */
FIXTURE_VARIANT_ADD(refusal, bad_base) {
	.src_base = 2, .src_aggregator = 3, .dst_base = 2, .dst_aggregator = 3,
	.patch = PATCH_BASE,
	.reason = "stream header names base 3, which no dsa_mdev type has (1, 2, 4 or 8)",
};

/* As for mig: skip, or load the module. */
FIXTURE_SETUP(refusal)
{
	env_setup(_metadata, MODULE_PARAMS, &self->baseline_devices);
}

/* In the parent, as for mig. */
FIXTURE_TEARDOWN_PARENT(refusal)
{
	env_teardown(_metadata, self->baseline_devices);
}

#define HEADER_SPLIT	17	/* the first write: part of a header only */

/*
 * A configured, enabled source saves its state; the target gets the
 * variant's stream: the write that completes the header fails with EINVAL
 * (the write before, of part of the header, does not), the kernel logs
 * exactly one refusal line for the target with the variant's reason, every
 * further write fails with EINVAL, and RESUMING -> STOP fails with EINVAL,
 * leaving the target in RESUMING.  Then the source returns to RUNNING
 * unharmed and working; the target, reset, is in its post-create state,
 * works, and accepts a compatible stream: the source's own one when the
 * shapes match, else one it saved itself.
 */
TEST_F(refusal, refused_then_recovered)
{
	static uint8_t stream[MIG_STREAM_MAX], bad[MIG_STREAM_MAX], own[MIG_STREAM_MAX];
	static struct snap src_before, fresh, dst_before, now;
	static char log[65536];
	bool same_shape = variant->src_base == variant->dst_base &&
			  variant->src_aggregator == variant->dst_aggregator;
	char reason[512];
	struct dev src, dst;
	size_t len, own_len;
	int fd, kfd, n, ret, data_fd;
	ssize_t w;

	dev_create(_metadata, &src, 1, 0, variant->src_base, variant->src_aggregator);
	dev_create(_metadata, &dst, 2, 1, variant->dst_base, variant->dst_aggregator);
	dev_open(_metadata, &src, false);
	dev_open(_metadata, &dst, true);
	snapshot(_metadata, &dst, &fresh);

	dev_configure(_metadata, &src);
	workload(_metadata, &src, 0, 1);
	snapshot(_metadata, &src, &src_before);
	len = mig_save(_metadata, &src, stream, sizeof(stream));
	assert_stream_of(_metadata, stream, len, &src, &src_before);
	memcpy(bad, stream, len);
	apply_patch(bad, variant->patch);

	mig_go(_metadata, &dst, VFIO_DEVICE_STATE_STOP);
	fd = mig_set(_metadata, &dst, VFIO_DEVICE_STATE_RESUMING);
	ASSERT_LE(0, fd);
	kfd = kmsg_mark();
	ASSERT_LE(0, kfd) TH_LOG("/dev/kmsg: %s", strerror(-kfd));
	ASSERT_EQ(HEADER_SPLIT, mig_write(fd, bad, HEADER_SPLIT))
		TH_LOG("the first %d bytes, part of the header: %s", HEADER_SPLIT,
		       strerror(errno));
	w = mig_write(fd, bad + HEADER_SPLIT, len - HEADER_SPLIT);
	ASSERT_EQ(-EINVAL, w) TH_LOG("the write that completes the header returned %zd (%s)",
				     w, w < 0 ? strerror(-w) : "bytes");
	n = kmsg_since(kfd, log, sizeof(log));
	ASSERT_LE(0, n) TH_LOG("/dev/kmsg: %s", strerror(-n));
	n = find_refusals(log, dst.uuid, reason, sizeof(reason));
	ASSERT_EQ(1, n)
		TH_LOG("%d refusal lines for dsa%d: %s, expected 1; kernel log since the write:\n%s",
		       n, dst.parent, dst.uuid, log);
	ASSERT_STREQ(variant->reason, reason);

	/* Refused for good. */
	ASSERT_EQ(-EINVAL, mig_write(fd, stream + len - 1, 1)) TH_LOG("a write after the refusal");
	ASSERT_EQ(-EINVAL, mig_write(fd, stream, len)) TH_LOG("a write after the refusal");
	ret = mig_set_state(dst.fd, VFIO_DEVICE_STATE_STOP, &data_fd);
	ASSERT_EQ(-EINVAL, ret) TH_LOG("RESUMING -> STOP after a refusal: %s", strerror(-ret));
	assert_mig_state(_metadata, &dst, VFIO_DEVICE_STATE_RESUMING);

	/* The source carries on. */
	mig_go(_metadata, &src, VFIO_DEVICE_STATE_RUNNING);
	snapshot(_metadata, &src, &now);
	assert_same_state(_metadata,
			  "source back in RUNNING (before against after)", &src_before, &now);
	workload(_metadata, &src, 0, 2);
	workload(_metadata, &src, last_enabled_wq(&src), 3);

	/* The target, reset, is as created, works, and takes a good stream. */
	dev_reset(_metadata, &dst);
	ASSERT_EQ(-ENODEV, mig_write(fd, stream, 1)) TH_LOG("a write after VFIO_DEVICE_RESET");
	close(fd);
	snapshot(_metadata, &dst, &now);
	assert_same_state(_metadata,
			  "target after VFIO_DEVICE_RESET (post-create against now)", &fresh, &now);
	dev_configure(_metadata, &dst);
	workload(_metadata, &dst, 0, 4);
	if (same_shape) {
		dev_reset(_metadata, &dst);
		mig_resume(_metadata, &dst, stream, len, len);
		snapshot(_metadata, &dst, &now);
		assert_same_state(_metadata,
				  "target after the unchanged stream (source against target)",
				  &src_before, &now);
	} else {
		snapshot(_metadata, &dst, &dst_before);
		own_len = mig_save(_metadata, &dst, own, sizeof(own));
		dev_reset(_metadata, &dst);
		mig_resume(_metadata, &dst, own, own_len, own_len);
		snapshot(_metadata, &dst, &now);
		assert_same_state(_metadata,
				  "target after its own stream (before against after)",
				  &dst_before, &now);
	}
	mig_go(_metadata, &dst, VFIO_DEVICE_STATE_RUNNING);
	workload(_metadata, &dst, 0, 5);
	workload(_metadata, &dst, last_enabled_wq(&dst), 6);

	close(kfd);
	dev_close(_metadata, &src);
	dev_close(_metadata, &dst);
}

/* --- forged bodies ------------------------------------------------------------- */

/* A body whose CRC is right but whose content the target must check. */
enum forgery {
	FORGE_GENCTRL,		/* a reserved GENCTRL bit */
	FORGE_ENABLED,		/* an enable state of 2 */
	FORGE_INTCAUSE,		/* an INTCAUSE the device never raises */
	FORGE_WQ_READONLY,	/* a read-only WQCFG word (occupancy) */
	FORGE_WQ_MODE,		/* the mode support bit cleared */
	FORGE_WQ_STATE,		/* a WQ state that is neither 0 nor 1 */
	FORGE_WQ_DEVICE_OFF,	/* an enabled WQ on a disabled device */
	FORGE_CFG_VENDOR,	/* the vendor ID (read-only) */
	FORGE_CFG_MSIX_TABLE,	/* the MSI-X table offset (read-only) */
	FORGE_CFG_WRITABLE,	/* the interrupt line (writable): accepted */
	FORGE_COUNT,
};

static const char *const forgery_names[FORGE_COUNT] = {
	[FORGE_GENCTRL] = "a reserved GENCTRL bit",
	[FORGE_ENABLED] = "an enable state of 2",
	[FORGE_INTCAUSE] = "an unknown INTCAUSE bit",
	[FORGE_WQ_READONLY] = "a read-only WQCFG word",
	[FORGE_WQ_MODE] = "no mode support bit",
	[FORGE_WQ_STATE] = "WQ state 3",
	[FORGE_WQ_DEVICE_OFF] = "an enabled WQ on a disabled device",
	[FORGE_CFG_VENDOR] = "another vendor ID",
	[FORGE_CFG_MSIX_TABLE] = "another MSI-X table offset",
	[FORGE_CFG_WRITABLE] = "another interrupt line",
};

#define FORGED_INTERRUPT_LINE	0x22

/* Apply @f to the @len-byte stream @s and re-seal what it changed. */
static void forge(uint8_t *s, size_t len, enum forgery f)
{
	uint8_t *body = s + MIG_HEADER_SIZE;

	switch (f) {
	case FORGE_GENCTRL:
		mig_put32(body, MIG_B_GENCTRL, mig_get32(body, MIG_B_GENCTRL) | 0x8);
		break;
	case FORGE_ENABLED:
		mig_put32(body, MIG_B_ENABLED, 2);
		break;
	case FORGE_INTCAUSE:
		mig_put32(body, MIG_B_INTCAUSE, mig_get32(body, MIG_B_INTCAUSE) | 0x4);
		break;
	case FORGE_WQ_READONLY:
		mig_put32(body, MIG_B_WQCFG + 4 * 4, mig_get32(body, MIG_B_WQCFG + 4 * 4) ^ 1);
		break;
	case FORGE_WQ_MODE:
		mig_put32(body, MIG_B_WQCFG + 4 * 6,
			  mig_get32(body, MIG_B_WQCFG + 4 * 6) & ~WQCFG_MODE_SUPPORT);
		break;
	case FORGE_WQ_STATE:
		mig_put32(body, MIG_B_WQCFG + 4 * 6,
			  mig_get32(body, MIG_B_WQCFG + 4 * 6) | 3U << 30);
		break;
	case FORGE_WQ_DEVICE_OFF:
		/* Consistent: the header says "not enabled" too. */
		mig_put32(body, MIG_B_ENABLED, 0);
		mig_put32(s, MIG_H_FLAGS, 0);
		mig_seal_header(s);
		break;
	case FORGE_CFG_VENDOR:
		body[MIG_B_CONFIG + PCI_VENDOR_ID] ^= 0x01;
		break;
	case FORGE_CFG_MSIX_TABLE:
		body[MIG_B_CONFIG + MSIX_CAP + PCI_MSIX_TABLE + 1] ^= 0x10;
		break;
	case FORGE_CFG_WRITABLE:
		body[MIG_B_CONFIG + PCI_INTERRUPT_LINE] = FORGED_INTERRUPT_LINE;
		break;
	case FORGE_COUNT:
		break;
	}
	mig_seal_body(s, len);
}

/*
 * Bodies with right CRCs and wrong content: the write of the body's last
 * byte fails with EINVAL and the kernel logs a refusal for the target;
 * RESUMING -> STOP fails.  A change to a writable config space bit is no
 * forgery: that stream is accepted and applied.  The target is reopened
 * for each (the device's log budget limits the refusal lines).
 */
TEST_F(mig, forged_bodies_refused)
{
	static uint8_t stream[MIG_STREAM_MAX], s[MIG_STREAM_MAX];
	static struct snap before, now;
	static char log[65536];
	struct dev src, dst;
	char reason[512];
	int fd, kfd, n, ret, data_fd;
	unsigned int f;
	size_t len;
	ssize_t w;

	dev_create(_metadata, &src, 1, 0, 2, 2);
	dev_create(_metadata, &dst, 2, 0, 2, 2);
	dev_open(_metadata, &src, true);
	dev_configure(_metadata, &src);
	workload(_metadata, &src, 0, 1);
	snapshot(_metadata, &src, &before);
	len = mig_save(_metadata, &src, stream, sizeof(stream));
	assert_stream_of(_metadata, stream, len, &src, &before);
	/* WQ 0 is enabled in the stream (FORGE_WQ_DEVICE_OFF relies on it). */
	ASSERT_NE(0U, mig_get32(stream + MIG_HEADER_SIZE, MIG_B_WQCFG + 4 * 6) &
		      WQCFG_STATE_ENABLED);

	for (f = 0; f < FORGE_COUNT; f++) {
		TH_LOG("a body with %s", forgery_names[f]);
		memcpy(s, stream, len);
		forge(s, len, f);
		ASSERT_NE(0, memcmp(s, stream, len));
		dev_open(_metadata, &dst, f % 2);
		if (f == FORGE_CFG_WRITABLE) {
			mig_resume(_metadata, &dst, s, len, len);
			ASSERT_X(FORGED_INTERRUPT_LINE, CFG_R(&dst, PCI_INTERRUPT_LINE, 1));
			before.cfg[PCI_INTERRUPT_LINE] = FORGED_INTERRUPT_LINE;
			snapshot(_metadata, &dst, &now);
			assert_same_state(_metadata,
					  "target (source with the new line against target)",
					  &before, &now);
			mig_go(_metadata, &dst, VFIO_DEVICE_STATE_RUNNING);
			workload(_metadata, &dst, 0, 2);
			dev_close(_metadata, &dst);
			continue;
		}
		mig_go(_metadata, &dst, VFIO_DEVICE_STATE_STOP);
		fd = mig_set(_metadata, &dst, VFIO_DEVICE_STATE_RESUMING);
		ASSERT_LE(0, fd);
		kfd = kmsg_mark();
		ASSERT_LE(0, kfd) TH_LOG("/dev/kmsg: %s", strerror(-kfd));
		ASSERT_EQ(MIG_HEADER_SIZE, mig_write(fd, s, MIG_HEADER_SIZE))
			TH_LOG("%s: the header was refused: %s", forgery_names[f], strerror(errno));
		ASSERT_EQ((ssize_t)(len - MIG_HEADER_SIZE - 1),
			  mig_write(fd, s + MIG_HEADER_SIZE, len - MIG_HEADER_SIZE - 1))
			TH_LOG("%s: the body but its last byte was refused", forgery_names[f]);
		w = mig_write(fd, s + len - 1, 1);
		ASSERT_EQ(-EINVAL, w) TH_LOG("%s: the body's last byte: %zd, expected EINVAL",
					     forgery_names[f], w);
		n = kmsg_since(kfd, log, sizeof(log));
		ASSERT_LE(0, n);
		n = find_refusals(log, dst.uuid, reason, sizeof(reason));
		ASSERT_EQ(1, n) TH_LOG("%s: %d refusal lines, expected 1; kernel log:\n%s",
				       forgery_names[f], n, log);
		TH_LOG("refused: %s", reason);
		ret = mig_set_state(dst.fd, VFIO_DEVICE_STATE_STOP, &data_fd);
		ASSERT_EQ(-EINVAL, ret) TH_LOG("%s: RESUMING -> STOP: %s", forgery_names[f],
					       strerror(-ret));
		assert_mig_state(_metadata, &dst, VFIO_DEVICE_STATE_RESUMING);
		close(kfd);
		close(fd);
		dev_close(_metadata, &dst);
	}
	dev_close(_metadata, &src);
}

/* --- damaged streams ------------------------------------------------------------ */

#define MUTATION_SEED		0x6d6967726174696fULL	/* "migratio" */
#define MUTATION_TRIES		3000	/* DSA_MDEV_MUTATIONS overrides */
#define BODY_CUTS		200	/* truncations inside the body */

/* The next number of a xorshift64* sequence. */
static uint64_t rng_next(uint64_t *state)
{
	*state ^= *state >> 12;
	*state ^= *state << 25;
	*state ^= *state >> 27;
	return *state * 2685821657736338717ULL;
}

/* A number below @n. */
static size_t rng_below(uint64_t *state, size_t n)
{
	return rng_next(state) % n;
}

/*
 * Make @s (the @len-byte stream @good) differ from it by 1 to 4 random bit
 * flips or random byte overwrites, a quarter of the time all within the
 * header; describe them in @what.
 */
static void mutate(uint8_t *s, const uint8_t *good, size_t len, uint64_t *rng, char *what,
		   size_t size)
{
	do {
		bool bytes = rng_below(rng, 2);
		size_t span = rng_below(rng, 4) ? len : MIG_HEADER_SIZE;
		unsigned int count = 1 + rng_below(rng, 4), k;
		int at;

		memcpy(s, good, len);
		at = snprintf(what, size, "%s:", bytes ? "byte overwrites" : "bit flips");
		for (k = 0; k < count; k++) {
			size_t pos = rng_below(rng, span);

			if (bytes)
				s[pos] ^= 1 + rng_below(rng, 255);	/* another value */
			else
				s[pos] ^= 1 << rng_below(rng, 8);
			if (at >= 0 && (size_t)at < size)
				at += snprintf(what + at, size - at, " %#zx=%#04x", pos, s[pos]);
		}
	} while (!memcmp(s, good, len));
}

/* How many mutated streams to try: DSA_MDEV_MUTATIONS, or MUTATION_TRIES. */
static size_t mutation_tries(void)
{
	const char *env = getenv("DSA_MDEV_MUTATIONS");
	unsigned long n = env ? strtoul(env, NULL, 10) : MUTATION_TRIES;

	return n < 300 ? 300 : n;
}

/*
 * From one valid stream, MUTATION_TRIES damaged ones (or as many as the
 * environment's DSA_MDEV_MUTATIONS says, at least 300; a deterministic
 * sequence): the truncation at every header offset, BODY_CUTS truncations
 * in the body, and then random bit flips and byte overwrites, written
 * whole or in random chunks.  Each is refused: a truncated stream is
 * written without error but RESUMING -> STOP fails with EINVAL and leaves
 * the device RESUMING; a changed one fails with EINVAL at the write that
 * completes the header (if the header changed) or the body (if not), not
 * before; later writes fail too.  The target (one open, reset between
 * tries) logs at most 8 refusal lines, accepts a valid stream now and
 * then and at the end, refuses bytes past a stream, and works afterwards.
 */
TEST_F_TIMEOUT(mig, mutated_streams_refused, TIMEOUT_LONG)
{
	static uint8_t good[MIG_STREAM_MAX], s[MIG_STREAM_MAX];
	static struct snap before, now;
	static char log[65536], what[256];
	uint64_t rng = MUTATION_SEED;
	size_t len, body_len, i, cut, chunk, at, fail_at;
	struct dev src, dst;
	char prefix[128];
	int fd, kfd, err, n, ret, data_fd, intervals;
	time_t t0;

	dev_create(_metadata, &src, 1, 0, 1, 2);
	dev_create(_metadata, &dst, 2, 1, 1, 2);
	dev_open(_metadata, &src, false);
	dev_open(_metadata, &dst, true);
	dev_configure(_metadata, &src);
	workload(_metadata, &src, 0, 1);
	snapshot(_metadata, &src, &before);
	len = mig_save(_metadata, &src, good, sizeof(good));
	assert_stream_of(_metadata, good, len, &src, &before);
	body_len = len - MIG_HEADER_SIZE;
	kfd = kmsg_mark();
	t0 = time(NULL);
	ASSERT_LE(0, kfd) TH_LOG("/dev/kmsg: %s", strerror(-kfd));

	for (i = 0; i < mutation_tries(); i++) {
		memcpy(s, good, len);
		cut = len;
		if (i < MIG_HEADER_SIZE) {
			cut = i;
		} else if (i < MIG_HEADER_SIZE + BODY_CUTS) {
			size_t j = i - MIG_HEADER_SIZE;

			cut = MIG_HEADER_SIZE + (j == 0 ? 0 : j == 1 ? body_len - 1 :
						 1 + rng_below(&rng, body_len - 2));
		}
		if (cut < len)
			snprintf(what, sizeof(what), "truncated to %zu of %zu bytes", cut, len);
		else
			mutate(s, good, len, &rng, what, sizeof(what));
		chunk = rng_below(&rng, 8) ? (cut ? cut : 1) : 1 + rng_below(&rng, len);

		dev_reset(_metadata, &dst);
		mig_go(_metadata, &dst, VFIO_DEVICE_STATE_STOP);
		fd = mig_set(_metadata, &dst, VFIO_DEVICE_STATE_RESUMING);
		ASSERT_LE(0, fd);
		at = mig_write_chunks(fd, s, cut, chunk, &err);
		if (cut < len) {
			ASSERT_EQ(cut, at)
				TH_LOG("try %zu (%s, %zu bytes a write): the write at %zu failed: %s",
				       i, what, chunk, at, strerror(err));
			ret = mig_set_state(dst.fd, VFIO_DEVICE_STATE_STOP, &data_fd);
			ASSERT_EQ(-EINVAL, ret)
				TH_LOG("try %zu (%s): RESUMING -> STOP: %s, expected EINVAL", i,
				       what, ret ? strerror(-ret) : "accepted");
			assert_mig_state(_metadata, &dst, VFIO_DEVICE_STATE_RESUMING);
		} else {
			fail_at = memcmp(s, good, MIG_HEADER_SIZE) ? MIG_HEADER_SIZE - 1 : len - 1;
			ASSERT_EQ(fail_at / chunk * chunk, at)
				TH_LOG("try %zu (%s, %zu bytes a write): the first failed write is at %zu (%s), expected the one with byte %zu",
				       i, what, chunk, at, at < len ? strerror(err) : "none",
				       fail_at);
			ASSERT_EQ(EINVAL, err) TH_LOG("try %zu (%s): %s", i, what, strerror(err));
			/* Every further write fails, and so does leaving RESUMING. */
			if (i % 8 == 0) {
				ASSERT_EQ(-EINVAL, mig_write(fd, s + at, len - at))
					TH_LOG("try %zu (%s): a write after the refusal", i, what);
				ret = mig_set_state(dst.fd, VFIO_DEVICE_STATE_STOP, &data_fd);
				ASSERT_EQ(-EINVAL, ret)
					TH_LOG("try %zu (%s): RESUMING -> STOP: %s", i, what,
					       ret ? strerror(-ret) : "accepted");
				assert_mig_state(_metadata, &dst, VFIO_DEVICE_STATE_RESUMING);
			}
		}
		close(fd);

		/* Now and then, the valid stream still gets in. */
		if (i % 1000 == 999) {
			dev_reset(_metadata, &dst);
			mig_resume(_metadata, &dst, good, len, len);
		}
	}

	/*
	 * Refused streams, refused RESUMING -> STOP and refused accesses share
	 * the device's log budget: 10 lines per 5 s, plus a line that counts
	 * what was held back.
	 */
	intervals = (int)((time(NULL) - t0) / 5) + 2;
	n = kmsg_since(kfd, log, sizeof(log));
	ASSERT_LE(0, n) TH_LOG("/dev/kmsg: %s", strerror(-n));
	/* dev_warn() on the device: "dsa_mdev <uuid>: ...". */
	snprintf(prefix, sizeof(prefix), "dsa_mdev %s: ", dst.uuid);
	n = count_lines_with(log, prefix);
	ASSERT_LE(1, n) TH_LOG("nothing was logged for %s", dst.uuid);
	ASSERT_GE(11 * intervals, n)
		TH_LOG("%d lines for %s, at most %d expected; kernel log:\n%s", n, dst.uuid,
		       11 * intervals, log);
	close(kfd);

	/* Bytes past a complete stream. */
	dev_reset(_metadata, &dst);
	mig_go(_metadata, &dst, VFIO_DEVICE_STATE_STOP);
	fd = mig_set(_metadata, &dst, VFIO_DEVICE_STATE_RESUMING);
	ASSERT_LE(0, fd);
	ASSERT_EQ((ssize_t)len, mig_write(fd, good, len));
	ASSERT_EQ(-EINVAL, mig_write(fd, good, 1)) TH_LOG("a byte past the stream");
	close(fd);

	/* The target still takes the valid stream, and works. */
	dev_reset(_metadata, &dst);
	mig_resume(_metadata, &dst, good, len, 64);
	snapshot(_metadata, &dst, &now);
	assert_same_state(_metadata,
			  "target after the valid stream (source against target)", &before, &now);
	mig_go(_metadata, &dst, VFIO_DEVICE_STATE_RUNNING);
	workload(_metadata, &dst, 0, 2);

	dev_close(_metadata, &src);
	dev_close(_metadata, &dst);
}

/* --- dsa-compat against the kernel ---------------------------------------------- */

/*
 * The reason the kernel logs for the ratio rule (the base is compared
 * first, then the aggregator); "" for a compatible pair.
 */
static void ratio_reason(char *out, size_t size, unsigned int sb, unsigned int sa,
			 unsigned int tb, unsigned int ta)
{
	if (sb != tb)
		snprintf(out, size,
			 "source is dsa-%udwq, target is dsa-%udwq: recreate the target as dsa-%udwq with aggregator %u",
			 sb, tb, sb, sa);
	else if (sa != ta)
		snprintf(out, size,
			 "source has aggregator %u, target has aggregator %u: recreate the target as dsa-%udwq with aggregator %u",
			 sa, ta, sb, sa);
	else
		snprintf(out, size, "%s", "");
}

/*
 * Open @d, offer it the @len-byte stream @s, close it again.  Returns
 * whether the kernel accepted the header, in which case the rest and
 * RESUMING -> STOP must be accepted too; when it refused (EINVAL), the one
 * refusal line it logged for @d gives @reason.
 */
static bool kernel_accepts(struct __test_metadata *_metadata, struct dev *d, const uint8_t *s,
			   size_t len, char *reason, size_t size)
{
	static char log[65536];
	bool accepted;
	int fd, kfd, n;
	ssize_t w;

	reason[0] = '\0';
	dev_open(_metadata, d, true);
	mig_go(_metadata, d, VFIO_DEVICE_STATE_STOP);
	fd = mig_set(_metadata, d, VFIO_DEVICE_STATE_RESUMING);
	ASSERT_LE(0, fd);
	kfd = kmsg_mark();
	ASSERT_LE(0, kfd) TH_LOG("/dev/kmsg: %s", strerror(-kfd));
	w = mig_write(fd, s, MIG_HEADER_SIZE);
	ASSERT_TRUE(w == MIG_HEADER_SIZE || w == -EINVAL)
		TH_LOG("%s: the header write returned %zd", d->uuid, w);
	accepted = w == MIG_HEADER_SIZE;
	if (accepted) {
		ASSERT_EQ((ssize_t)(len - MIG_HEADER_SIZE),
			  mig_write(fd, s + MIG_HEADER_SIZE, len - MIG_HEADER_SIZE));
		mig_go(_metadata, d, VFIO_DEVICE_STATE_STOP);
	} else {
		n = kmsg_since(kfd, log, sizeof(log));
		ASSERT_LE(0, n);
		n = find_refusals(log, d->uuid, reason, size);
		ASSERT_EQ(1, n) TH_LOG("%s: %d refusal lines, expected 1; kernel log:\n%s",
				       d->uuid, n, log);
	}
	close(kfd);
	close(fd);
	dev_close(_metadata, d);
	return accepted;
}

/*
 * "dsa-compat check @src @dst" and the kernel (offered @src's stream
 * @s of @len bytes, on @dst as it is now) agree: both accept, or both
 * refuse; the kernel with the ratio rule's reason, and dsa-compat naming
 * the same fix, "recreate the target as dsa-<source base>dwq with
 * aggregator <source aggregator>".
 */
static void compare_verdicts(struct __test_metadata *_metadata, const char *tool,
			     struct dev *src, struct dev *dst, const uint8_t *s, size_t len)
{
	static char out[8192];
	char *argv[] = { (char *)tool, "check", src->uuid, dst->uuid, NULL };
	char want[512], reason[512], fix[256], fix_line[300];
	bool tool_ok, kernel_ok;
	int status;

	status = run_capture(tool, argv, out, sizeof(out));
	ASSERT_TRUE(status == 0 || status == 1)
		TH_LOG("%s check %s %s: status %d, output:\n%s", tool, src->uuid, dst->uuid,
		       status, out);
	tool_ok = status == 0;
	kernel_ok = kernel_accepts(_metadata, dst, s, len, reason, sizeof(reason));
	ASSERT_EQ(tool_ok, kernel_ok)
		TH_LOG("dsa-%udwq x%u -> dsa-%udwq x%u: dsa-compat says %s, the kernel %s the stream%s%s; dsa-compat said:\n%s",
		       src->base, src->aggregator, dst->base, dst->aggregator,
		       tool_ok ? "compatible" : "incompatible",
		       kernel_ok ? "accepts" : "refuses", kernel_ok ? "" : ": ", reason, out);

	/* Both follow the ratio rule. */
	ratio_reason(want, sizeof(want), src->base, src->aggregator, dst->base, dst->aggregator);
	ASSERT_EQ(!want[0], kernel_ok) TH_LOG("dsa-%udwq x%u -> dsa-%udwq x%u: the kernel %s",
					     src->base, src->aggregator, dst->base,
					     dst->aggregator, kernel_ok ? "accepts" : "refuses");
	ASSERT_STREQ(want, reason);
	if (tool_ok) {
		ASSERT_STREQ("compatible\n", out);
		return;
	}
	/* One "incompatible: " line per reason, then the fix the kernel logs. */
	snprintf(fix, sizeof(fix), "recreate the target as dsa-%udwq with aggregator %u",
		 src->base, src->aggregator);
	snprintf(fix_line, sizeof(fix_line), "\nfix: %s\n", fix);
	ASSERT_EQ(0, strncmp(out, "incompatible: ", 14)) TH_LOG("dsa-compat said:\n%s", out);
	ASSERT_NE(NULL, strstr(out, fix_line))
		TH_LOG("dsa-compat refuses without 'fix: %s':\n%s", fix, out);
	ASSERT_NE(NULL, strstr(reason, fix)) TH_LOG("the kernel's reason '%s' lacks '%s'",
						    reason, fix);
}

/*
 * One pair of the matrix: source dsa-<@sb>dwq x@sa on dsa0, target
 * dsa-<@tb>dwq x@ta on dsa1.  dsa-compat, given the target device, judges
 * its type and its own aggregator, as the kernel does: their verdicts must
 * agree (compare_verdicts()).  When the aggregators differ, the target then
 * gets the source's (dsa/aggregator: a dynamic resource, copied by a
 * manager) and they must agree again: now on the base type alone.
 */
static void compat_pair(struct __test_metadata *_metadata, const char *tool, unsigned int sb,
			unsigned int sa, unsigned int tb, unsigned int ta)
{
	static uint8_t stream[MIG_STREAM_MAX];
	struct dev src, dst;
	size_t len;

	TH_LOG("dsa-%udwq x%u -> dsa-%udwq x%u", sb, sa, tb, ta);
	dev_create(_metadata, &src, 1, 0, sb, sa);
	dev_create(_metadata, &dst, 2, 1, tb, ta);
	dev_open(_metadata, &src, false);
	len = mig_save(_metadata, &src, stream, sizeof(stream));
	dev_close(_metadata, &src);

	compare_verdicts(_metadata, tool, &src, &dst, stream, len);
	if (sa != ta) {
		ASSERT_EQ(0, set_dev_aggregator(dst.uuid, sa));
		dst.aggregator = sa;
		dst.wqs = tb * sa;
		ASSERT_EQ((int)dst.wqs, dev_wq_count(dst.uuid));
		compare_verdicts(_metadata, tool, &src, &dst, stream, len);
	}

	dev_remove(_metadata, &src);
	dev_remove(_metadata, &dst);
}

/*
 * For every pair of base types the parents expose, with equal and unequal
 * aggregators, dsa-compat and the kernel agree (see compat_pair()).
 * dsa-compat is the one beside this program (the Makefile builds it where
 * cargo is) or $DSA_COMPAT; skipped without either.
 */
TEST_F_TIMEOUT(mig, dsa_compat_matrix, TIMEOUT_LONG)
{
	static const unsigned int all_bases[] = { 1, 2, 4, 8 };
	static const unsigned int aggregators[][2] = { { 1, 1 }, { 1, 2 }, { 2, 1 } };
	const char *tool = helper_path("DSA_COMPAT", "dsa-compat");
	unsigned int bases[ARRAY_SIZE(all_bases)], nbases = 0, s, t, a;

	if (!tool || access(tool, X_OK))
		SKIP(return, "no dsa-compat beside the tests (built where cargo is) or in $DSA_COMPAT");
	for (s = 0; s < ARRAY_SIZE(all_bases); s++) {
		if (path_exists(type_path(0, all_bases[s], "").s) &&
		    path_exists(type_path(1, all_bases[s], "").s))
			bases[nbases++] = all_bases[s];
	}
	ASSERT_LT(0U, nbases) TH_LOG("no dsa-<k>dwq type on both parents");
	for (s = 0; s < nbases; s++) {
		for (t = 0; t < nbases; t++) {
			for (a = 0; a < ARRAY_SIZE(aggregators); a++)
				compat_pair(_metadata, tool, bases[s], aggregators[a][0], bases[t],
					    aggregators[a][1]);
		}
	}
}

TEST_HARNESS_MAIN
