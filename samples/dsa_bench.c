// SPDX-License-Identifier: GPL-2.0
/*
 * dsa_bench: how fast a dsa_mdev device copies, next to memcpy().
 *
 *   dsa_bench UUID [SECONDS [RUNS]]
 *
 * Opens /sys/bus/mdev/devices/UUID (iommufd cdev, else its group), enables
 * WQ 0 and measures:
 *
 *   - MEMMOVE throughput for 4 KiB, 64 KiB, 256 KiB and 1 MiB transfers,
 *     one descriptor at a time (submit, wait for its completion record),
 *     and memcpy() of the same sizes between the same buffers;
 *   - descriptors per second for 64-byte MEMMOVEs submitted one by one, and
 *     in batches of 32 and of 256 (one BATCH descriptor each), and memcpy()
 *     calls of 64 bytes per second;
 *   - the floor of a submission: 64-byte writes per second to a part of
 *     the device's configuration space that ignores them (the same pwrite()
 *     of the same 64 bytes through the same VFIO device fd, to a region
 *     that does nothing with it; BAR0 itself only takes 4- and 8-byte
 *     writes), and 8-byte writes per second to GENCAP, a read-only BAR0
 *     register.
 *
 * Each figure is warmed up first: its operation runs untimed for a quarter
 * of SECONDS (so that TCG has translated the loop, the buffers are faulted
 * in and the caches are warm), then it is measured RUNS times (default 3)
 * for SECONDS each (default 1); the median is printed, with the lowest and
 * the highest of the runs.  The last line sums the medians up for
 * scripts/bench-guest.sh:
 *
 *   bench: memmove_64k_dsa=R memmove_64k_memcpy=R memmove_1m_dsa=R
 *          memmove_1m_memcpy=R desc_one=R desc_batch256=R region_write=R
 *
 * (one line), in operations (copies, descriptors, writes) per second;
 * desc_batch256 is "-" when the device's batches are smaller.
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
	uint64_t bytes;			/* memcpy, region writes: how much */
	uint64_t offset;		/* region writes: where, in the device fd */
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

/* Region writes: @op->bytes bytes of zeros at @op->offset of the device fd. */
static void run_region(const struct op *op, unsigned int reps)
{
	static const uint8_t zeros[SMALL];

	while (reps--) {
		ssize_t n = pwrite(dev.m.fd, zeros, op->bytes, op->offset);

		if (n != (ssize_t)op->bytes)
			die("write of %" PRIu64 " bytes at 0x%" PRIx64 ": %s", op->bytes,
			    op->offset, n < 0 ? strerror(errno) : "short");
	}
}

#define MAX_RUNS	99

/* A figure: operations per second, the median of the runs and its spread. */
struct figure {
	double median, min, max;
	uint64_t ops;		/* operations of all the timed runs */
};

/*
 * Runs @op for at least @secs seconds and 3 calls; the clock is read
 * between calls of @reps operations.  Returns operations per second.
 */
static double run_for(const struct op *op, unsigned int reps, double secs, uint64_t *ops)
{
	uint64_t t0, t, n = 0, budget = (uint64_t)(secs * 1e9);

	t0 = now_ns();
	do {
		op->run(op, reps);
		n += reps;
		t = now_ns();
	} while (t - t0 < budget || n < 3ull * reps);
	*ops += n;
	return n / ((t - t0) / 1e9);
}

/*
 * Warms @op up (one call, which faults the buffers in, then untimed calls
 * for a quarter of @secs, so that TCG has translated the loop and the
 * caches are warm), then measures it @runs times for @secs seconds each.
 */
static struct figure measure(const struct op *op, unsigned int reps, double secs,
			     unsigned int runs)
{
	double rate[MAX_RUNS];
	struct figure f = { .ops = 0 };
	uint64_t warm = 0;
	unsigned int i;

	op->run(op, 1);
	run_for(op, reps, secs / 4, &warm);
	for (i = 0; i < runs; i++)
		rate[i] = run_for(op, reps, secs, &f.ops);
	f.median = median(rate, runs);	/* sorts rate[] */
	f.min = rate[0];
	f.max = rate[runs - 1];
	return f;
}

/* "median (min-max)" of @f scaled by @scale, in @width columns. */
static void print_figure(const struct figure *f, double scale, int prec, int width)
{
	char buf[96];

	snprintf(buf, sizeof(buf), "%.*f (%.*f-%.*f)", prec, f->median * scale, prec,
		 f->min * scale, prec, f->max * scale);
	printf(" %*s", width, buf);
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
	struct op dsa, cpy = { .run = run_memcpy }, reg = { .run = run_region };
	struct figure fd, fc, one, b256 = { 0 }, floor64;
	unsigned int max_batch, runs = 3, i;
	double secs = 1, mb = 1e-6;
	struct dsa_caps caps;
	uint64_t max_xfer;
	char name[32], summary[256];
	int len = 0;

	if (argc < 2 || argc > 4 || argv[1][0] == '-') {
		fprintf(stderr, "usage: %s UUID [SECONDS [RUNS]]\n"
			"  measure the dsa_mdev device /sys/bus/mdev/devices/UUID: each figure\n"
			"  warmed up, then RUNS (default 3) runs of SECONDS (default 1)\n", argv[0]);
		return 2;
	}
	if (argc >= 3) {
		char *end;

		secs = strtod(argv[2], &end);
		if (*end || !(secs > 0 && secs <= 600)) {
			fprintf(stderr, "%s: SECONDS must be a number in (0, 600], not '%s'\n",
				argv[0], argv[2]);
			return 2;
		}
	}
	if (argc == 4) {
		char *end;
		unsigned long v = strtoul(argv[3], &end, 10);

		if (*end || v < 1 || v > MAX_RUNS) {
			fprintf(stderr, "%s: RUNS must be an integer in 1-%d, not '%s'\n",
				argv[0], MAX_RUNS, argv[3]);
			return 2;
		}
		runs = v;
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

	printf("dsa_bench: device %s (%s), WQ 0; each figure warmed up for %.2g s, then\n"
	       "the median (lowest-highest) of %u runs of %.2g s\n", argv[1], dev.path,
	       secs / 4, runs, secs);

	printf("\nMEMMOVE throughput, one descriptor at a time (MB/s = 10^6 bytes/s)\n\n");
	printf("  %-9s %24s %24s %10s\n", "size", "DSA MB/s", "memcpy MB/s", "DSA/memcpy");
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_name(sizes[i], name, sizeof(name));
		dsa = memmove_op(sizes[i]);
		fd = measure(&dsa, 1, secs, runs);
		check_copy(sizes[i], name);
		cpy.bytes = sizes[i];
		fc = measure(&cpy, 1, secs, runs);
		printf("  %-9s", name);
		print_figure(&fd, sizes[i] * mb, 1, 24);
		print_figure(&fc, sizes[i] * mb, 1, 24);
		printf(" %9.3fx\n", fd.median / fc.median);
		if (sizes[i] == 64 << 10 || sizes[i] == 1 << 20)
			len += snprintf(summary + len, sizeof(summary) - len,
					" memmove_%s_dsa=%.0f memmove_%s_memcpy=%.0f",
					sizes[i] == 1 << 20 ? "1m" : "64k", fd.median,
					sizes[i] == 1 << 20 ? "1m" : "64k", fc.median);
	}

	printf("\n%d-byte MEMMOVE descriptors, and %d-byte writes that do nothing\n\n",
	       SMALL, SMALL);
	printf("  %-38s %28s %28s\n", "submitted", "descriptors/s", "pwrite()s/s");
	dsa = memmove_op(SMALL);
	one = measure(&dsa, 1, secs, runs);
	check_copy(SMALL, "one by one");
	printf("  %-38s", "one by one");
	print_figure(&one, 1, 0, 28);
	print_figure(&one, 1, 0, 28);
	printf("\n");
	for (i = 0; i < sizeof(batches) / sizeof(batches[0]); i++) {
		snprintf(name, sizeof(name), "in batches of %u", batches[i]);
		if (batches[i] > max_batch) {
			printf("  %-38s %28s %28s  (the device's batches stop at %u)\n", name,
			       "-", "-", max_batch);
			continue;
		}
		dsa = batch_op(batches[i]);
		fd = measure(&dsa, 1, secs, runs);
		check_copy((uint64_t)batches[i] * SMALL, name);
		printf("  %-38s", name);
		print_figure(&fd, batches[i], 0, 28);
		print_figure(&fd, 1, 0, 28);
		printf("\n");
		if (batches[i] == 256)
			b256 = fd;
	}
	/*
	 * The floor of a submission: the same pwrite() of 64 bytes, to the
	 * configuration space from 0xc0, past the MSI-X capability, where every
	 * byte is read-only and unused: the device drops it, says nothing and
	 * raises nothing.  Then 8 bytes to GENCAP, read-only: BAR0's writes
	 * are 4 or 8 bytes.
	 */
	reg.bytes = SMALL;
	reg.offset = dev.m.config + 0xc0;
	floor64 = measure(&reg, 1, secs, runs);
	printf("  %-38s %28s", "config space writes (ignored): floor", "-");
	print_figure(&floor64, 1, 0, 28);
	printf("\n");
	reg.bytes = 8;
	reg.offset = dev.m.bar0 + IDXD_GENCAP_OFFSET;
	fd = measure(&reg, 1, secs, runs);
	printf("  %-38s %28s", "8-byte BAR0 writes to GENCAP (ignored)", "-");
	print_figure(&fd, 1, 0, 28);
	printf("\n");
	cpy.bytes = SMALL;
	fc = measure(&cpy, 4096, secs, runs);
	printf("  %-38s", "memcpy() calls");
	print_figure(&fc, 1, 0, 28);
	printf(" %28s\n", "-");

	printf("\nbench:%s desc_one=%.0f", summary, one.median);
	if (b256.ops)
		printf(" desc_batch256=%.0f", b256.median * 256);
	else
		printf(" desc_batch256=-");
	printf(" region_write=%.0f\n", floor64.median);

	/* Leave the device as we found it; closing the fds releases the rest. */
	command(IDXD_CMD_DISABLE_WQ, DSA_WQ_MASK(0));
	command(IDXD_CMD_DISABLE_DEVICE, 0);
	return 0;
}
