// SPDX-License-Identifier: GPL-2.0
/*
 * dsa_bench: how fast a dsa_mdev device copies, next to memcpy().
 *
 *   dsa_bench UUID [SECONDS]
 *
 * Opens /sys/bus/mdev/devices/UUID (iommufd cdev, else its group), enables
 * WQ 0 and measures, for SECONDS (default 1) each:
 *
 *   - MEMMOVE throughput for 4 KiB, 64 KiB, 256 KiB and 1 MiB transfers,
 *     one descriptor at a time (submit, wait for its completion record),
 *     and memcpy() of the same sizes between the same buffers;
 *   - descriptors per second for 64-byte MEMMOVEs submitted one by one, and
 *     in batches of 32 and of 256 (one BATCH descriptor each), and memcpy()
 *     calls of 64 bytes per second.
 *
 * A benchmark, not a test: it prints figures and judges none; it fails
 * (exit 1) only if the device does, or copies wrong.  MB/s is 10^6 bytes
 * per second.  `make bench` runs it in the test VM.
 *
 * dsa_mdev executes a descriptor inside the pwrite() that submits it, by
 * copying through the DMA mappings in the kernel: the figures measure that
 * path (a system call, IOVA translation, a copy), not DSA hardware.  Under
 * TCG, as in the test VM, every figure is also far below the host's.
 *
 * dsa_copy.c explains each step of the set-up; this program does the same
 * steps without the commentary, with the library the samples share with
 * the selftests (selftests/dsa_mdev/lib/: sysfs, VFIO, DSA).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "lib/dsa.h"
#include "lib/vfio.h"
#include "sample.h"

/* The transfer sizes of the throughput table; the largest sizes the buffers. */
static const uint64_t sizes[] = { 4 << 10, 64 << 10, 256 << 10, 1 << 20 };
#define MAX_SIZE	(1u << 20)
/* The batch sizes of the descriptor-rate table; the largest sizes the list. */
static const unsigned int batches[] = { 32, 256 };
#define MAX_BATCH	256
#define SMALL		64	/* bytes per small MEMMOVE */

/*
 * Everything the device reaches, in one mapping at IOVA_BASE: the two
 * buffers, the batch descriptor list (64-byte aligned) and the completion
 * records (32-byte aligned).
 */
#define IOVA_BASE	0x40000000ull
struct dma_area {
	uint8_t src[MAX_SIZE];
	uint8_t dst[MAX_SIZE];
	struct dsa_hw_desc list[MAX_BATCH];
	struct dsa_completion_record cr __attribute__((aligned(64)));
	/* Where batch members would report a failure: they record no success. */
	struct dsa_completion_record member_cr __attribute__((aligned(64)));
};

#define TIMEOUT_NS	5000000000ull	/* for one completion */
#define TIMEOUT_MS	5000		/* for one command */

static struct {
	struct vfio_handle h;
	struct dsa_mmio m;		/* its regions */
	const char *path;		/* how it was opened */
} dev;

static struct dma_area *area;

/* --- helpers ------------------------------------------------------------ */

static uint64_t iova(const void *p)
{
	return IOVA_BASE + (uint64_t)((const uint8_t *)p - (const uint8_t *)area);
}

/* A device command; dies unless CMDSTS reports success. */
static void command(uint32_t cmd, uint32_t operand)
{
	uint32_t sts;
	int ret = dsa_command(&dev.m, cmd, operand, TIMEOUT_MS, &sts);

	if (ret)
		die("%s: %s", dsa_cmd_name(cmd), strerror(-ret));
	if (sts & IDXD_CMDSTS_ERR_MASK)
		die("%s: CMDSTS 0x%08x", dsa_cmd_name(cmd), sts);
}

static uint64_t swerr(void)
{
	uint64_t v;
	int ret = dsa_read(&dev.m, IDXD_SWERR_OFFSET, &v, sizeof(v));

	if (ret)
		die("read SWERR: %s", strerror(-ret));
	return v;
}

/*
 * Opens the device (iommufd cdev, else its group), enables WQ 0 as
 * dsa_copy does (but for GRPCFG, which dsa_mdev fixes) and maps @len
 * bytes at @buf for DMA at IOVA_BASE; returns what the device can do.
 */
static struct dsa_caps set_up(const char *uuid, void *buf, uint64_t len)
{
	struct dsa_caps caps;
	char err[512];
	int ret;

	if (vfio_open(&dev.h, uuid, err, sizeof(err)))
		die("open %s: %s", uuid, err);
	dev.path = dev.h.iommufd >= 0 ? "iommufd cdev" : "group";
	ret = dsa_mmio_init(&dev.m, dev.h.device);
	if (ret)
		die("the device's regions: %s", strerror(-ret));
	if (dsa_reset(&dev.m, TIMEOUT_MS, &caps, err, sizeof(err)) ||
	    dsa_enable_wqs(&dev.m, &caps, 1, TIMEOUT_MS, err, sizeof(err)))
		die("%s", err);
	ret = vfio_dma_map(&dev.h, buf, IOVA_BASE, len, true);
	if (ret)
		die("DMA map of %" PRIu64 " bytes: %s", len, strerror(-ret));
	return caps;
}

/* --- the operations measured ------------------------------------------- */

static void submit(const struct dsa_hw_desc *desc)
{
	/* WQ 0's portal: the start of BAR2. */
	int ret = dsa_submit(&dev.m, 0, desc);

	if (ret)
		die("submit: %s", strerror(-ret));
}

/* Waits for @cr to be written, then checks it reports success. */
static void wait_success(struct dsa_completion_record *cr)
{
	uint64_t deadline = 0;
	uint8_t status;

	/*
	 * dsa_mdev has written it when submit() returns: spin, do not sleep,
	 * and look at SWERR (a system call) only when it has not.
	 */
	while (!(status = __atomic_load_n(&cr->status, __ATOMIC_ACQUIRE))) {
		uint64_t e = swerr();

		if (e & IDXD_SWERR_VALID)
			die("software error instead of a completion: SWERR 0x%016" PRIx64, e);
		if (!deadline)
			deadline = now_ns() + TIMEOUT_NS;
		else if (now_ns() > deadline)
			die("no completion after %llu s", TIMEOUT_NS / 1000000000);
	}
	if (DSA_COMP_STATUS(status) != DSA_COMP_SUCCESS)
		die("descriptor failed: status 0x%02x, SWERR 0x%016" PRIx64, status, swerr());
}

/* What a measured operation does: one call does @reps operations. */
struct op {
	void (*run)(const struct op *op, unsigned int reps);
	struct dsa_hw_desc desc;	/* DSA: the descriptor to submit */
	uint64_t bytes;			/* memcpy: how much */
};

/* One descriptor (a MEMMOVE or a BATCH), submitted and waited for. */
static void run_dsa(const struct op *op, unsigned int reps)
{
	while (reps--) {
		area->cr.status = 0;
		submit(&op->desc);
		wait_success(&area->cr);
	}
}

static void run_memcpy(const struct op *op, unsigned int reps)
{
	while (reps--) {
		memcpy(area->dst, area->src, op->bytes);
		/* The copy must happen, though nothing reads it back. */
		__asm__ __volatile__("" : : "r"(area->dst) : "memory");
	}
}

struct result {
	uint64_t ops;
	double secs;
};

/*
 * Runs @op for at least @secs seconds and 3 calls, after one call that is
 * not counted (it faults the buffers in and warms the caches).  The clock
 * is read between calls of @reps operations.
 */
static struct result measure(const struct op *op, unsigned int reps, double secs)
{
	uint64_t t0, t, budget = (uint64_t)(secs * 1e9);
	struct result r = { 0, 0 };

	op->run(op, 1);
	t0 = now_ns();
	do {
		op->run(op, reps);
		r.ops += reps;
		t = now_ns();
	} while (t - t0 < budget || r.ops < 3ull * reps);
	r.secs = (t - t0) / 1e9;
	return r;
}

static struct op memmove_op(uint64_t bytes)
{
	struct op op = { .run = run_dsa };

	op.desc.opcode = DSA_OPCODE_MEMMOVE;
	op.desc.flags = IDXD_OP_FLAG_CRAV | IDXD_OP_FLAG_RCR;
	op.desc.completion_addr = iova(&area->cr);
	op.desc.src_addr = iova(area->src);
	op.desc.dst_addr = iova(area->dst);
	op.desc.xfer_size = bytes;
	return op;
}

/*
 * A BATCH of @n 64-byte MEMMOVEs, each from its own 64 bytes of the source
 * to the same place in the destination.  The members ask for no completion
 * record; a failing one would write member_cr (CRAV), and fail the batch.
 */
static struct op batch_op(unsigned int n)
{
	struct op op = { .run = run_dsa };
	unsigned int i;

	for (i = 0; i < n; i++) {
		struct dsa_hw_desc *d = &area->list[i];

		memset(d, 0, sizeof(*d));
		d->opcode = DSA_OPCODE_MEMMOVE;
		d->flags = IDXD_OP_FLAG_CRAV;
		d->completion_addr = iova(&area->member_cr);
		d->src_addr = iova(area->src + i * SMALL);
		d->dst_addr = iova(area->dst + i * SMALL);
		d->xfer_size = SMALL;
	}
	op.desc.opcode = DSA_OPCODE_BATCH;
	op.desc.flags = IDXD_OP_FLAG_CRAV | IDXD_OP_FLAG_RCR;
	op.desc.completion_addr = iova(&area->cr);
	op.desc.desc_list_addr = iova(area->list);
	op.desc.desc_count = n;
	return op;
}

/* The destination holds the source's first @bytes: the device copied. */
static void check_copy(uint64_t bytes, const char *what)
{
	if (memcmp(area->dst, area->src, bytes))
		die("%s: the destination does not match the source", what);
	if (area->member_cr.status)
		die("%s: a batch member failed with status 0x%02x", what, area->member_cr.status);
	memset(area->dst, 0, MAX_SIZE);
}

static void size_name(uint64_t bytes, char *buf, size_t len)
{
	if (bytes >= 1 << 20)
		snprintf(buf, len, "%" PRIu64 " MiB", bytes >> 20);
	else
		snprintf(buf, len, "%" PRIu64 " KiB", bytes >> 10);
}

/* --- main --------------------------------------------------------------- */

int main(int argc, char **argv)
{
	struct op dsa, cpy = { .run = run_memcpy };
	struct result rd, rc;
	unsigned int max_batch, i;
	struct dsa_caps caps;
	uint64_t max_xfer;
	double secs = 1;
	char name[32];

	if (argc < 2 || argc > 3 || argv[1][0] == '-') {
		fprintf(stderr, "usage: %s UUID [SECONDS]\n"
			"  measure the dsa_mdev device /sys/bus/mdev/devices/UUID, SECONDS\n"
			"  (default 1) per figure\n", argv[0]);
		return 2;
	}
	if (argc == 3) {
		char *end;

		secs = strtod(argv[2], &end);
		if (*end || !(secs > 0 && secs <= 600)) {
			fprintf(stderr, "%s: SECONDS must be a number in (0, 600], not '%s'\n",
				argv[0], argv[2]);
			return 2;
		}
	}
	setvbuf(stdout, NULL, _IOLBF, 0);

	area = mmap(NULL, sizeof(*area), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (area == MAP_FAILED)
		die("mmap: %s", strerror(errno));
	for (i = 0; i < MAX_SIZE; i++)
		area->src[i] = (uint8_t)(i % 251 + 1);
	caps = set_up(argv[1], area, (sizeof(*area) + 4095) & ~4095ul);
	max_xfer = 1ull << caps.gen_cap.max_xfer_shift;
	max_batch = 1u << caps.gen_cap.max_batch_shift;
	if (max_xfer < MAX_SIZE)
		die("the device's transfers stop at %" PRIu64 " bytes", max_xfer);

	printf("dsa_bench: device %s (%s), WQ 0; at least %.2g s per figure\n",
	       argv[1], dev.path, secs);

	printf("\nMEMMOVE throughput, one descriptor at a time (MB/s = 10^6 bytes/s)\n\n");
	printf("  %-9s %12s %12s %10s %14s\n", "size", "DSA MB/s", "memcpy MB/s", "DSA/memcpy",
	       "DSA descs");
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_name(sizes[i], name, sizeof(name));
		dsa = memmove_op(sizes[i]);
		rd = measure(&dsa, 1, secs);
		check_copy(sizes[i], name);
		cpy.bytes = sizes[i];
		rc = measure(&cpy, 1, secs);
		printf("  %-9s %12.1f %12.1f %9.3fx %14" PRIu64 "\n", name,
		       rd.ops * sizes[i] / rd.secs / 1e6, rc.ops * sizes[i] / rc.secs / 1e6,
		       (rd.ops / rd.secs) / (rc.ops / rc.secs), rd.ops);
	}

	printf("\n%d-byte MEMMOVE descriptors\n\n", SMALL);
	printf("  %-20s %14s %14s\n", "submitted", "descriptors/s", "submissions/s");
	dsa = memmove_op(SMALL);
	rd = measure(&dsa, 1, secs);
	check_copy(SMALL, "one by one");
	printf("  %-20s %14.0f %14.0f\n", "one by one", rd.ops / rd.secs, rd.ops / rd.secs);
	for (i = 0; i < sizeof(batches) / sizeof(batches[0]); i++) {
		snprintf(name, sizeof(name), "in batches of %u", batches[i]);
		if (batches[i] > max_batch) {
			printf("  %-20s %14s %14s  (the device's batches stop at %u)\n", name,
			       "-", "-", max_batch);
			continue;
		}
		dsa = batch_op(batches[i]);
		rd = measure(&dsa, 1, secs);
		check_copy((uint64_t)batches[i] * SMALL, name);
		printf("  %-20s %14.0f %14.0f\n", name, rd.ops * batches[i] / rd.secs,
		       rd.ops / rd.secs);
	}
	cpy.bytes = SMALL;
	rc = measure(&cpy, 4096, secs);
	printf("  %-20s %14.0f %14s\n", "memcpy() calls", rc.ops / rc.secs, "-");

	/* Leave the device as we found it; closing the fds releases the rest. */
	command(IDXD_CMD_DISABLE_WQ, DSA_WQ_MASK(0));
	command(IDXD_CMD_DISABLE_DEVICE, 0);
	return 0;
}
