// SPDX-License-Identifier: GPL-2.0
/*
 * DMA dirty logging of dsa_mdev devices (VFIO_DEVICE_FEATURE_DMA_LOGGING_*):
 * what QEMU, and so libvirt, needs to live-migrate a guest holding a
 * device that writes guest memory, with QEMU's default options.
 *
 *   - the device offers the feature (QEMU's probe);
 *   - each opcode's writes, and nothing else, are reported: destinations
 *     (MEMMOVE, MEMFILL, DUALCAST's two, COPY_CRC), completion records,
 *     batch members' records and the batch's own; reads are not;
 *   - a report clears what it returns; report pages larger and smaller
 *     than the tracking page; a tracking page coarser than the hint when
 *     the ranges are large, up to the whole address space; the core's
 *     maximum number of ranges; the highest range the core accepts;
 *   - invalid requests get an errno and change nothing;
 *   - logging ends when the device is closed, survives a reset;
 *   - reports racing a busy engine lose no write: a shadow copy refreshed
 *     from the reported pages only, as a migration refreshes its copy,
 *     ends equal to the memory the device wrote.
 *
 * Each test loads the module (parents=1 wqs=64) and creates a dsa-2dwq
 * device in its setup; the teardown, in the parent, unloads it.  Both VFIO
 * open paths (cdev and group) are variants.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/idxd.h>
#include <linux/vfio.h>

#include "kselftest_harness.h"
#include "dsa_mdev_util.h"
#include "dsa_mdev_vfio.h"
#include "dsa_mdev_dev.h"

#define BASE		2
#define MODULE_PARAMS	"parents=1 wqs=64"
#define TIMEOUT		300

/* The DMA space: MEM_PAGES read-write pages at IOVA, RO_PAGES read-only after. */
#define MEM_PAGES	64
#define RO_PAGES	2
#define MEM_SIZE	(MEM_PAGES * PAGE)
#define RO_SIZE		(RO_PAGES * PAGE)
#define ALL_PAGES	(MEM_PAGES + RO_PAGES)

/* Pages of the read-write memory, by role (page 0 holds run_on()'s records). */
#define P_LIST		2	/* batch lists */
#define P_SRC		4	/* four pages */
#define P_DST		10	/* four pages */
#define P_DST2		20	/* four pages */
#define P_CR		30	/* completion records placed by the tests */

/* The core's LOG_MAX_RANGES on 4 KiB pages. */
#define LOG_MAX_RANGES	256

FIXTURE(dirty) {
	int baseline_devices;
	char uuid[DSA_UUID_LEN + 1];
	struct dev d;
};

FIXTURE_VARIANT(dirty) {
	bool via_group;
};

FIXTURE_VARIANT_ADD(dirty, cdev) {
	.via_group = false,
};

FIXTURE_VARIANT_ADD(dirty, group) {
	.via_group = true,
};

FIXTURE_SETUP(dirty)
{
	env_setup_device(_metadata, MODULE_PARAMS, &self->baseline_devices, BASE, 1, self->uuid);
}

FIXTURE_TEARDOWN_PARENT(dirty)
{
	env_teardown(_metadata, self->baseline_devices);
}

/* Open the device, map its memory, enable every WQ. */
static void open_enabled(struct __test_metadata *_metadata, struct dev *d, bool via_group,
			 const char *uuid)
{
	memset(d, 0, sizeof(*d));
	snprintf(d->uuid, sizeof(d->uuid), "%s", uuid);
	d->wqs = BASE;
	dev_open_mapped(_metadata, d, via_group, MEM_SIZE, RO_SIZE);
	dev_enable(_metadata, d);
}

#define OPEN()	open_enabled(_metadata, &self->d, variant->via_group, self->uuid)

static uint64_t page_iova(unsigned int page)
{
	return IOVA + (uint64_t)page * PAGE;
}

/* Start logging the whole DMA space (one range) at 4 KiB. */
static void start_all(struct __test_metadata *_metadata, struct dev *d)
{
	struct vfio_device_feature_dma_logging_range r = { .iova = IOVA, .length = ALL_PAGES * PAGE };
	uint64_t page_size = PAGE;

	ASSERT_EQ(0, dma_log_start(d->fd, &r, 1, &page_size));
	ASSERT_EQ(PAGE, page_size);
}

/* The dirty pages of the DMA space, at 4 KiB, as a bit mask; clears them. */
static uint64_t report_all(struct __test_metadata *_metadata, struct dev *d)
{
	uint64_t bitmap[2] = { 0, 0 };
	int ret;

	ret = dma_log_report(d->fd, IOVA, ALL_PAGES * PAGE, PAGE, bitmap);
	ASSERT_EQ(0, ret) TH_LOG("DMA_LOGGING_REPORT: %s", strerror(-ret));
	/* Only pages 0..63 can be written: 64 and 65 are read-only. */
	ASSERT_EQ(0, bitmap[1]) TH_LOG("read-only pages reported: %#" PRIx64, bitmap[1]);
	return bitmap[0];
}

/* Pages @first..@last as a mask. */
static uint64_t pages(unsigned int first, unsigned int last)
{
	uint64_t m = 0;

	for (; first <= last; first++)
		m |= 1ULL << first;
	return m;
}

#define ASSERT_PAGES(want, got) \
	ASSERT_EQ((uint64_t)(want), (uint64_t)(got)) \
		TH_LOG("reported %#" PRIx64 ", written %#" PRIx64, (uint64_t)(got), (uint64_t)(want))

/* Submit @desc to WQ 0 with its record at @cr (in page P_CR); returns the record. */
static struct dsa_completion_record *run_cr(struct __test_metadata *_metadata, struct dev *d,
					    struct dsa_hw_desc desc, size_t cr)
{
	struct dsa_completion_record *rec = (void *)(d->mem + cr);

	desc.completion_addr = IOVA + cr;
	memset(rec, 0, sizeof(*rec));
	submit_at(_metadata, d, PORTAL(0, 0, 0), &desc);
	return rec;
}

#define CR_AT(page)	((size_t)(page) * PAGE + 0x40)

TEST_F_TIMEOUT(dirty, offered_as_qemu_probes_it, TIMEOUT)
{
	OPEN();
	ASSERT_EQ(0, dma_log_probe(self->d.fd));
	dev_close(_metadata, &self->d);
}

TEST_F_TIMEOUT(dirty, each_opcode_marks_what_it_writes, TIMEOUT)
{
	struct dev *d = &self->d;
	struct dsa_completion_record *cr;
	struct dsa_hw_desc ds, list[3], batch[96];
	unsigned int i;
	uint8_t *m;

	OPEN();
	m = d->mem;
	fill(m + P_SRC * PAGE, 4 * PAGE, 1);
	start_all(_metadata, d);
	ASSERT_PAGES(0, report_all(_metadata, d));

	/* MEMMOVE across two destination pages; the record in P_CR. */
	cr = run_cr(_metadata, d, mkdesc(DSA_OPCODE_MEMMOVE, F_CR, page_iova(P_SRC),
					 page_iova(P_DST) + 100, PAGE), CR_AT(P_CR));
	ASSERT_EQ(DSA_COMP_SUCCESS, cr->status);
	ASSERT_PAGES(pages(P_DST, P_DST + 1) | pages(P_CR, P_CR), report_all(_metadata, d));
	/* Cleared by the report. */
	ASSERT_PAGES(0, report_all(_metadata, d));

	/* MEMFILL of three pages, the record in another page. */
	cr = run_cr(_metadata, d, mkdesc(DSA_OPCODE_MEMFILL, F_CR, 0x5a5a5a5a5a5a5a5aULL,
					 page_iova(P_DST2), 3 * PAGE), CR_AT(P_CR + 1));
	ASSERT_EQ(DSA_COMP_SUCCESS, cr->status);
	ASSERT_PAGES(pages(P_DST2, P_DST2 + 2) | pages(P_CR + 1, P_CR + 1),
		     report_all(_metadata, d));

	/* DUALCAST: both destinations (bits 11:0 equal). */
	ds = mkdesc(DSA_OPCODE_DUALCAST, F_CR, page_iova(P_SRC), page_iova(P_DST + 2) + 8, 16);
	ds.dest2 = page_iova(P_DST2 + 3) + 8;
	cr = run_cr(_metadata, d, ds, CR_AT(P_CR));
	ASSERT_EQ(DSA_COMP_SUCCESS, cr->status);
	ASSERT_PAGES(pages(P_DST + 2, P_DST + 2) | pages(P_DST2 + 3, P_DST2 + 3) |
		     pages(P_CR, P_CR), report_all(_metadata, d));

	/* COPY_CRC: the destination and the record. */
	ds = mkdesc(DSA_OPCODE_COPY_CRC, F_CR, page_iova(P_SRC), page_iova(P_DST + 3), 64);
	cr = run_cr(_metadata, d, ds, CR_AT(P_CR + 2));
	ASSERT_EQ(DSA_COMP_SUCCESS, cr->status);
	ASSERT_PAGES(pages(P_DST + 3, P_DST + 3) | pages(P_CR + 2, P_CR + 2),
		     report_all(_metadata, d));

	/* Reads only: CRCGEN, COMPARE, COMPVAL mark just their records. */
	cr = run_cr(_metadata, d, mkdesc(DSA_OPCODE_CRCGEN, F_CR, page_iova(P_SRC), 0, 4 * PAGE),
		    CR_AT(P_CR + 3));
	ASSERT_EQ(DSA_COMP_SUCCESS, cr->status);
	ASSERT_PAGES(pages(P_CR + 3, P_CR + 3), report_all(_metadata, d));
	cr = run_cr(_metadata, d, mkdesc(DSA_OPCODE_COMPARE, F_CR, page_iova(P_SRC),
					 page_iova(P_SRC), 4 * PAGE), CR_AT(P_CR + 4));
	ASSERT_EQ(DSA_COMP_SUCCESS, cr->status);
	ASSERT_PAGES(pages(P_CR + 4, P_CR + 4), report_all(_metadata, d));
	/* A source in the read-only pages: nothing there is marked. */
	cr = run_cr(_metadata, d, mkdesc(DSA_OPCODE_MEMMOVE, F_CR, IOVA + MEM_SIZE,
					 page_iova(P_DST), 2 * PAGE), CR_AT(P_CR + 5));
	ASSERT_EQ(DSA_COMP_SUCCESS, cr->status);
	ASSERT_PAGES(pages(P_DST, P_DST + 1) | pages(P_CR + 5, P_CR + 5), report_all(_metadata, d));

	/* NOOP without a record writes nothing. */
	submit_at(_metadata, d, PORTAL(0, 0, 0), &(struct dsa_hw_desc){ .opcode = DSA_OPCODE_NOOP });
	ASSERT_PAGES(0, report_all(_metadata, d));

	/*
	 * A batch: the list is read (not marked); each member's destination
	 * and record, and the batch's record, are marked.
	 */
	list[0] = mkdesc(DSA_OPCODE_MEMMOVE, F_CR, page_iova(P_SRC), page_iova(P_DST2 + 1), 32);
	list[0].completion_addr = IOVA + CR_AT(P_CR + 6);
	list[1] = mkdesc(DSA_OPCODE_MEMFILL, F_CR, 1, page_iova(P_DST + 1), 32);
	list[1].completion_addr = IOVA + CR_AT(P_CR + 7);
	list[2] = mkdesc(DSA_OPCODE_NOOP, 0, 0, 0, 0);
	memcpy(m + P_LIST * PAGE, list, sizeof(list));
	cr = run_cr(_metadata, d, mkdesc(DSA_OPCODE_BATCH, F_CR, page_iova(P_LIST), 0, 3),
		    CR_AT(P_CR + 8));
	ASSERT_EQ(DSA_COMP_SUCCESS, cr->status);
	ASSERT_PAGES(pages(P_DST2 + 1, P_DST2 + 1) | pages(P_DST + 1, P_DST + 1) |
		     pages(P_CR + 6, P_CR + 8), report_all(_metadata, d));

	/* A page fault part way: the pages written before it, and the record. */
	cr = run_cr(_metadata, d, mkdesc(DSA_OPCODE_MEMMOVE, F_CR, page_iova(P_SRC),
					 IOVA + MEM_SIZE - PAGE, 2 * PAGE), CR_AT(P_CR + 9));
	ASSERT_EQ(DSA_COMP_PAGE_FAULT_NOBOF, cr->status & DSA_COMP_STATUS_MASK);
	ASSERT_PAGES(pages(MEM_PAGES - 1, MEM_PAGES - 1) | pages(P_CR + 9, P_CR + 9),
		     report_all(_metadata, d));

	/*
	 * A MEMMOVE of 16 KiB, which the driver copies between pinned pages:
	 * the same pages are dirty, and the same bytes land.
	 */
	cr = run_cr(_metadata, d, mkdesc(DSA_OPCODE_MEMMOVE, F_CR, page_iova(P_SRC),
					 page_iova(P_DST2) + 100, 4 * PAGE), CR_AT(P_CR + 10));
	ASSERT_EQ(DSA_COMP_SUCCESS, cr->status);
	ASSERT_EQ(0, memcmp(m + P_DST2 * PAGE + 100, m + P_SRC * PAGE, 4 * PAGE));
	ASSERT_PAGES(pages(P_DST2, P_DST2 + 4) | pages(P_CR + 10, P_CR + 10),
		     report_all(_metadata, d));

	/*
	 * A batch of 96 MEMMOVEs of 64 bytes, each from the next 64 bytes of
	 * the source to the next of the destination, from 32 bytes into a
	 * page (the 64th crosses into the next): the driver pins for the
	 * members from the third on.  The same bytes land, both destination
	 * pages are dirty, and the batch's record; the members, which ask for
	 * no record, write none.
	 */
	memset(m + P_LIST * PAGE, 0, 2 * PAGE);
	for (i = 0; i < 96; i++) {
		batch[i] = mkdesc(DSA_OPCODE_MEMMOVE, IDXD_OP_FLAG_CRAV,
				  page_iova(P_SRC) + i * 64, page_iova(P_DST) + 32 + i * 64, 64);
		batch[i].completion_addr = IOVA + CR_AT(P_CR + 12);
	}
	memcpy(m + P_LIST * PAGE, batch, 96 * sizeof(batch[0]));
	cr = run_cr(_metadata, d, mkdesc(DSA_OPCODE_BATCH, F_CR, page_iova(P_LIST), 0, 96),
		    CR_AT(P_CR + 13));
	ASSERT_EQ(DSA_COMP_SUCCESS, cr->status);
	ASSERT_EQ(0, memcmp(m + P_DST * PAGE + 32, m + P_SRC * PAGE, 96 * 64));
	ASSERT_PAGES(pages(P_DST, P_DST + 1) | pages(P_CR + 13, P_CR + 13),
		     report_all(_metadata, d));

	/*
	 * The same batch, its last member's destination in the read-only
	 * pages: that member faults there, with its record, after the others
	 * copied through pinned pages; the batch fails.
	 */
	batch[95].dst_addr = IOVA + MEM_SIZE + 8;
	memcpy(m + P_LIST * PAGE, batch, 96 * sizeof(batch[0]));
	cr = run_cr(_metadata, d, mkdesc(DSA_OPCODE_BATCH, F_CR, page_iova(P_LIST), 0, 96),
		    CR_AT(P_CR + 14));
	ASSERT_X(DSA_COMP_BATCH_FAIL, cr->status);
	cr = (struct dsa_completion_record *)(m + CR_AT(P_CR + 12));
	ASSERT_EQ(DSA_COMP_PAGE_FAULT_NOBOF, cr->status & DSA_COMP_STATUS_MASK);
	ASSERT_EQ(IOVA + MEM_SIZE + 8, cr->fault_addr);
	ASSERT_PAGES(pages(P_DST, P_DST + 1) | pages(P_CR + 12, P_CR + 12) |
		     pages(P_CR + 14, P_CR + 14), report_all(_metadata, d));

	/* And one into the read-only pages: a fault there, after two pages. */
	cr = run_cr(_metadata, d, mkdesc(DSA_OPCODE_MEMMOVE, F_CR, page_iova(P_SRC),
					 IOVA + MEM_SIZE - 2 * PAGE, 5 * PAGE), CR_AT(P_CR + 11));
	ASSERT_EQ(DSA_COMP_PAGE_FAULT_NOBOF, cr->status & DSA_COMP_STATUS_MASK);
	ASSERT_EQ(IOVA + MEM_SIZE, cr->fault_addr);
	ASSERT_EQ(2 * PAGE, cr->bytes_completed);
	ASSERT_PAGES(pages(MEM_PAGES - 2, MEM_PAGES - 1) | pages(P_CR + 11, P_CR + 11),
		     report_all(_metadata, d));

	ASSERT_EQ(0, dma_log_stop(d->fd));
	dev_close(_metadata, d);
}

TEST_F_TIMEOUT(dirty, report_page_sizes, TIMEOUT)
{
	struct dev *d = &self->d;
	struct vfio_device_feature_dma_logging_range r = { .iova = IOVA, .length = MEM_SIZE };
	uint64_t page_size, bitmap[8];
	struct dsa_completion_record *cr;

	OPEN();
	start_all(_metadata, d);

	/* A report page of 16 KiB: one bit per four pages. */
	cr = run_cr(_metadata, d, mkdesc(DSA_OPCODE_MEMFILL, F_CR, 7, page_iova(P_DST2 + 1), 8),
		    CR_AT(P_CR));
	ASSERT_EQ(DSA_COMP_SUCCESS, cr->status);
	memset(bitmap, 0, sizeof(bitmap));
	ASSERT_EQ(0, dma_log_report(d->fd, IOVA, MEM_SIZE, 4 * PAGE, bitmap));
	ASSERT_PAGES(1ULL << (P_DST2 / 4) | 1ULL << (P_CR / 4), bitmap[0]);
	ASSERT_PAGES(0, report_all(_metadata, d));
	ASSERT_EQ(0, dma_log_stop(d->fd));

	/*
	 * A tracking page of 64 KiB (the hint): a write of 8 bytes reports its
	 * whole 16 pages at 4 KiB.
	 */
	page_size = 16 * PAGE;
	ASSERT_EQ(0, dma_log_start(d->fd, &r, 1, &page_size));
	ASSERT_EQ(16 * PAGE, page_size);
	cr = run_cr(_metadata, d, mkdesc(DSA_OPCODE_MEMFILL, F_CR, 7, page_iova(P_DST2 + 1), 8),
		    CR_AT(P_CR));
	ASSERT_EQ(DSA_COMP_SUCCESS, cr->status);
	ASSERT_PAGES(pages(16, 31), report_all(_metadata, d));
	ASSERT_PAGES(0, report_all(_metadata, d));
	ASSERT_EQ(0, dma_log_stop(d->fd));
	dev_close(_metadata, d);
}

TEST_F_TIMEOUT(dirty, extremes, TIMEOUT)
{
	struct dev *d = &self->d;
	struct vfio_device_feature_dma_logging_range *many, r[2];
	struct dsa_completion_record *cr;
	uint64_t page_size, bitmap[4];
	unsigned int i;

	OPEN();

	/* The core's most ranges: one page each, every other page of memory. */
	many = calloc(LOG_MAX_RANGES, sizeof(*many));
	ASSERT_NE(NULL, many);
	for (i = 0; i < LOG_MAX_RANGES; i++) {
		/* Pages 0, 2, .. 62 of the memory, then far above it. */
		many[i].iova = i < MEM_PAGES / 2 ? page_iova(2 * i) : (1ULL << 40) + i * 2 * PAGE;
		many[i].length = PAGE;
	}
	page_size = PAGE;
	ASSERT_EQ(0, dma_log_start(d->fd, many, LOG_MAX_RANGES, &page_size));
	ASSERT_EQ(PAGE, page_size);
	/* Four pages written: the even ones are logged, the odd ones not. */
	cr = run_cr(_metadata, d, mkdesc(DSA_OPCODE_MEMFILL, F_CR, 3, page_iova(P_DST), 4 * PAGE),
		    CR_AT(P_CR + 1));
	ASSERT_EQ(DSA_COMP_SUCCESS, cr->status);
	ASSERT_PAGES(pages(P_DST, P_DST) | pages(P_DST + 2, P_DST + 2), report_all(_metadata, d));
	ASSERT_EQ(0, dma_log_stop(d->fd));
	free(many);

	/*
	 * The whole address space but what the core refuses (a range may not
	 * reach 2^64): the device picks a coarser page, whose bitmap fits its
	 * bound (1 MiB: 2^23 pages of 2^41 bytes), and reports a write as its
	 * whole tracking page, cut to the window.
	 */
	r[0].iova = 0;
	r[0].length = -2 * PAGE;	/* up to 2^64 - 8 KiB */
	page_size = PAGE;
	ASSERT_EQ(0, dma_log_start(d->fd, r, 1, &page_size));
	ASSERT_EQ(1ULL << 41, page_size);
	cr = run_cr(_metadata, d, mkdesc(DSA_OPCODE_MEMFILL, F_CR, 3, page_iova(P_DST), 8),
		    CR_AT(P_CR + 1));
	ASSERT_EQ(DSA_COMP_SUCCESS, cr->status);
	memset(bitmap, 0, sizeof(bitmap));
	ASSERT_EQ(0, dma_log_report(d->fd, IOVA, ALL_PAGES * PAGE, PAGE, bitmap));
	ASSERT_PAGES(~0ULL, bitmap[0]);
	ASSERT_PAGES(3, bitmap[1]);
	ASSERT_EQ(0, dma_log_stop(d->fd));

	/* The highest range the core accepts, and one at 0, at 2 MiB pages. */
	r[0].iova = -(4ULL << 20) - (2ULL << 20);	/* two 2 MiB pages below 2^64 - 2 MiB */
	r[0].length = 4ULL << 20;
	r[1].iova = 0;
	r[1].length = 2ULL << 20;
	page_size = 2ULL << 20;
	ASSERT_EQ(0, dma_log_start(d->fd, r, 2, &page_size));
	ASSERT_EQ(2ULL << 20, page_size);
	memset(bitmap, 0, sizeof(bitmap));
	ASSERT_EQ(0, dma_log_report(d->fd, r[0].iova, r[0].length, page_size, bitmap));
	ASSERT_PAGES(0, bitmap[0]);
	/* A record written at IOVA (1 GiB), outside both ranges. */
	cr = run_cr(_metadata, d, mkdesc(DSA_OPCODE_NOOP, F_CR, 0, 0, 0), CR_AT(P_CR + 1));
	ASSERT_EQ(DSA_COMP_SUCCESS, cr->status);
	memset(bitmap, 0, sizeof(bitmap));
	ASSERT_EQ(0, dma_log_report(d->fd, 0, r[1].length, page_size, bitmap));
	ASSERT_PAGES(0, bitmap[0]);	/* IOVA is 1 GiB: not in the range at 0 */
	ASSERT_EQ(0, dma_log_report(d->fd, r[0].iova, r[0].length, page_size, bitmap));
	ASSERT_PAGES(0, bitmap[0]);
	ASSERT_EQ(0, dma_log_stop(d->fd));
	dev_close(_metadata, d);
}

TEST_F_TIMEOUT(dirty, invalid_requests_change_nothing, TIMEOUT)
{
	struct dev *d = &self->d;
	struct vfio_device_feature_dma_logging_range r[2], big[LOG_MAX_RANGES + 1];
	struct dsa_completion_record *cr;
	uint64_t page_size, bitmap[2];

	OPEN();
	/* Nothing logs: a report fails, a stop is harmless. */
	ASSERT_EQ(-EINVAL, dma_log_report(d->fd, IOVA, PAGE, PAGE, bitmap));
	ASSERT_EQ(0, dma_log_stop(d->fd));

	/* Refused starts (the core's checks and the device's): still not logging. */
	r[0] = (struct vfio_device_feature_dma_logging_range){ .iova = IOVA, .length = 4 * PAGE };
	r[1] = (struct vfio_device_feature_dma_logging_range){ .iova = IOVA + 3 * PAGE,
							       .length = 4 * PAGE };
	page_size = PAGE;
	ASSERT_EQ(-EINVAL, dma_log_start(d->fd, r, 2, &page_size));	/* overlap */
	r[1].iova = IOVA + 4 * PAGE + 512;
	ASSERT_EQ(-EINVAL, dma_log_start(d->fd, r, 2, &page_size));	/* unaligned */
	ASSERT_EQ(-EINVAL, dma_log_start(d->fd, r, 0, &page_size));	/* no range */
	memset(big, 0, sizeof(big));
	ASSERT_EQ(-E2BIG, dma_log_start(d->fd, big, LOG_MAX_RANGES + 1, &page_size));
	r[1].iova = -PAGE;						/* reaches 2^64 */
	r[1].length = PAGE;
	ASSERT_EQ(-EOVERFLOW, dma_log_start(d->fd, r, 2, &page_size));
	page_size = 3 * PAGE;						/* not a power of two */
	r[0].length = 4 * PAGE;
	ASSERT_EQ(-EINVAL, dma_log_start(d->fd, r, 1, &page_size));
	ASSERT_EQ(-EINVAL, dma_log_report(d->fd, IOVA, PAGE, PAGE, bitmap));

	/* Logging; then a second start is refused and the first goes on. */
	start_all(_metadata, d);
	cr = run_cr(_metadata, d, mkdesc(DSA_OPCODE_MEMFILL, F_CR, 7, page_iova(P_DST), 8),
		    CR_AT(P_CR));
	ASSERT_EQ(DSA_COMP_SUCCESS, cr->status);
	page_size = PAGE;
	r[0].length = PAGE;
	ASSERT_EQ(-EINVAL, dma_log_start(d->fd, r, 1, &page_size));
	/* Reports that wrap, or with a bad page size, are refused and clear nothing. */
	ASSERT_EQ(-EOVERFLOW, dma_log_report(d->fd, -PAGE, 2 * PAGE, PAGE, bitmap));
	ASSERT_EQ(-EINVAL, dma_log_report(d->fd, IOVA, MEM_SIZE, 1024, bitmap));
	ASSERT_EQ(-EINVAL, dma_log_report(d->fd, IOVA, MEM_SIZE, 3 * PAGE, bitmap));
	ASSERT_PAGES(pages(P_DST, P_DST) | pages(P_CR, P_CR), report_all(_metadata, d));
	ASSERT_EQ(0, dma_log_stop(d->fd));
	ASSERT_EQ(0, dma_log_stop(d->fd));
	ASSERT_EQ(-EINVAL, dma_log_report(d->fd, IOVA, PAGE, PAGE, bitmap));
	dev_close(_metadata, d);
}

TEST_F_TIMEOUT(dirty, close_ends_logging_reset_keeps_it, TIMEOUT)
{
	struct dev *d = &self->d;
	struct dsa_completion_record *cr;
	uint64_t bitmap[2];

	OPEN();
	start_all(_metadata, d);
	/* A reset does not end logging: a migration can span a guest reboot. */
	ASSERT_EQ(0, ioctl(d->fd, VFIO_DEVICE_RESET));
	dev_enable(_metadata, d);
	cr = run_cr(_metadata, d, mkdesc(DSA_OPCODE_MEMFILL, F_CR, 7, page_iova(P_DST), 8),
		    CR_AT(P_CR));
	ASSERT_EQ(DSA_COMP_SUCCESS, cr->status);
	ASSERT_PAGES(pages(P_DST, P_DST) | pages(P_CR, P_CR), report_all(_metadata, d));
	/* Closed while logging: the next user starts with none. */
	dev_close(_metadata, d);
	OPEN();
	ASSERT_EQ(-EINVAL, dma_log_report(d->fd, IOVA, PAGE, PAGE, bitmap));
	start_all(_metadata, d);
	/* And closed while logging again, left for the teardown's rmmod. */
	dev_close(_metadata, d);
}

/* --- reports racing a busy engine ---------------------------------------- */

/*
 * The race: a region of its own, each page written once per pass, so that
 * the last write to every page is one a report may have raced.
 */
#define RACE_PAGES	4096
#define RACE_PASSES	2
#define RACE_IOVA	(1ULL << 32)
#define RACE_WORDS	(RACE_PAGES / 64)

struct writer {
	struct dev *d;
	volatile bool done;
	unsigned int descs;
	int error;
};

/* MEMFILLs of changing patterns, RACE_PASSES times over every page. */
static void *writer(void *arg)
{
	struct writer *w = arg;
	struct dev *d = w->d;
	unsigned int i;

	for (i = 0; i < RACE_PASSES * RACE_PAGES; i++) {
		unsigned int page = i % RACE_PAGES;
		struct dsa_hw_desc ds = mkdesc(DSA_OPCODE_MEMFILL, 0,
					       0x0101010101010101ULL * (1 + i % 251),
					       RACE_IOVA + page * PAGE + (i * 64) % (PAGE - 512),
					       64 + i % 448);

		w->error = dsa_submit(&d->mmio, PORTAL(1, 0, 0), &ds);
		if (w->error)
			break;
	}
	w->descs = i;
	w->done = true;
	return NULL;
}

/* Refresh the pages of @shadow that a report says are dirty; how many. */
static unsigned int refresh(struct __test_metadata *_metadata, struct dev *d,
			    const uint8_t *mem, uint8_t *shadow)
{
	uint64_t dirty[RACE_WORDS];
	unsigned int p, n = 0;
	int ret;

	memset(dirty, 0, sizeof(dirty));
	ret = dma_log_report(d->fd, RACE_IOVA, RACE_PAGES * PAGE, PAGE, dirty);
	ASSERT_EQ(0, ret) TH_LOG("DMA_LOGGING_REPORT: %s", strerror(-ret));
	for (p = 0; p < RACE_PAGES; p++) {
		if (dirty[p / 64] & 1ULL << (p % 64)) {
			memcpy(shadow + p * PAGE, mem + p * PAGE, PAGE);
			n++;
		}
	}
	return n;
}

TEST_F_TIMEOUT(dirty, reports_racing_the_engine_lose_no_write, TIMEOUT)
{
	struct vfio_device_feature_dma_logging_range r = {
		.iova = RACE_IOVA, .length = RACE_PAGES * PAGE };
	struct dev *d = &self->d;
	struct writer w = { .d = d };
	unsigned int p, reports = 0, refreshed = 0;
	uint64_t page_size = PAGE;
	uint8_t *mem, *shadow;
	pthread_t t;

	OPEN();
	mem = mmap(NULL, RACE_PAGES * PAGE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	ASSERT_NE(MAP_FAILED, mem);
	shadow = malloc(RACE_PAGES * PAGE);
	ASSERT_NE(NULL, shadow);
	dma_map(_metadata, d, mem, RACE_IOVA, RACE_PAGES * PAGE, true);
	/* As a migration: start logging, then copy everything once. */
	ASSERT_EQ(0, dma_log_start(d->fd, &r, 1, &page_size));
	memcpy(shadow, mem, RACE_PAGES * PAGE);
	ASSERT_EQ(0, pthread_create(&t, NULL, writer, &w));
	while (!w.done) {
		refreshed += refresh(_metadata, d, mem, shadow);
		reports++;
	}
	ASSERT_EQ(0, pthread_join(t, NULL));
	ASSERT_EQ(0, w.error) TH_LOG("portal write: %s", strerror(-w.error));
	/* The writer is done: the last report brings the copy up to date. */
	refreshed += refresh(_metadata, d, mem, shadow);
	TH_LOG("%u descriptors written beside %u reports, %u pages refreshed", w.descs,
	       reports + 1, refreshed);
	ASSERT_EQ(RACE_PASSES * RACE_PAGES, w.descs);
	/* Reports did run during the writes. */
	ASSERT_LT(10, reports);
	for (p = 0; p < RACE_PAGES; p++) {
		ASSERT_EQ(0, memcmp(shadow + p * PAGE, mem + p * PAGE, PAGE))
			TH_LOG("page %u: the copy is stale: a write was not reported", p);
	}
	ASSERT_EQ(0, dma_log_stop(d->fd));
	free(shadow);
	dev_close(_metadata, d);
	munmap(mem, RACE_PAGES * PAGE);
}

TEST_HARNESS_MAIN
