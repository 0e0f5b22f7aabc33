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
 * steps without the commentary.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <linux/idxd.h>
#include <linux/iommufd.h>
#include <linux/vfio.h>

/* DSA registers (drivers/dma/idxd/registers.h); see dsa_copy.c. */
#define IDXD_GENCAP_OFFSET	0x10
#define IDXD_WQCAP_OFFSET	0x20
#define IDXD_TABLE_OFFSET	0x60
#define IDXD_CMD_OFFSET		0xa0
#define IDXD_CMDSTS_OFFSET	0xa8
#define IDXD_SWERR_OFFSET	0xc0
#define GENCAP_MAX_XFER_SHIFT(v)	(((v) >> 16) & 0x1f)
#define GENCAP_MAX_BATCH_SHIFT(v)	(((v) >> 21) & 0xf)
#define WQCAP_TOTAL_WQ_SIZE(v)		((v) & 0xffff)
#define WQCAP_NUM_WQS(v)		(((v) >> 16) & 0xff)
#define WQCAP_WQCFG_SIZE(v)		(((v) >> 24) & 0xf)
#define IDXD_WQCFG_MIN			5
#define TABLE_WQCFG(v)			(((v) >> 16) & 0xffff)
#define IDXD_TABLE_MULT			0x100
#define IDXD_CMD(cmd, operand)		((uint32_t)(cmd) << 20 | (operand))
#define IDXD_CMD_ENABLE_DEVICE		1
#define IDXD_CMD_DISABLE_DEVICE		2
#define IDXD_CMD_RESET_DEVICE		5
#define IDXD_CMD_ENABLE_WQ		6
#define IDXD_CMD_DISABLE_WQ		7
#define IDXD_CMDSTS_ACTIVE		0x80000000u
#define IDXD_CMDSTS_ERR_MASK		0xff

#define PCI_COMMAND			0x04
#define PCI_COMMAND_MEMORY		0x0002
#define PCI_COMMAND_MASTER		0x0004
#define PCI_COMMAND_INTX_DISABLE	0x0400

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

#define TIMEOUT_NS	5000000000ull	/* for one command or completion */

static struct {
	int fd, iommufd, container, group;
	uint32_t ioas_id;
	uint64_t bar0, bar2, config;	/* region offsets in fd */
	const char *path;		/* how it was opened */
} dev = { .fd = -1, .iommufd = -1, .container = -1, .group = -1 };

static struct dma_area *area;

/* --- helpers ------------------------------------------------------------ */

static void __attribute__((noreturn, format(printf, 1, 2))) die(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "dsa_bench: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	exit(1);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static uint64_t iova(const void *p)
{
	return IOVA_BASE + (uint64_t)((const uint8_t *)p - (const uint8_t *)area);
}

static void region_rw(bool write, uint64_t base, uint64_t off, void *buf, size_t len)
{
	ssize_t n = write ? pwrite(dev.fd, buf, len, base + off) : pread(dev.fd, buf, len, base + off);

	if (n != (ssize_t)len)
		die("%s %zu bytes at region offset 0x%" PRIx64 ": %s", write ? "write" : "read",
		    len, off, n < 0 ? strerror(errno) : "short");
}

static uint64_t rd64(uint64_t reg)
{
	uint64_t v;

	region_rw(false, dev.bar0, reg, &v, sizeof(v));
	return v;
}

static uint32_t rd32(uint64_t reg)
{
	uint32_t v;

	region_rw(false, dev.bar0, reg, &v, sizeof(v));
	return v;
}

static void wr32(uint64_t reg, uint32_t v)
{
	region_rw(true, dev.bar0, reg, &v, sizeof(v));
}

/* A device command; dies unless CMDSTS reports success. */
static void command(const char *name, uint32_t cmd, uint32_t operand)
{
	uint64_t deadline = now_ns() + TIMEOUT_NS;
	uint32_t sts;

	wr32(IDXD_CMD_OFFSET, IDXD_CMD(cmd, operand));
	while ((sts = rd32(IDXD_CMDSTS_OFFSET)) & IDXD_CMDSTS_ACTIVE) {
		if (now_ns() > deadline)
			die("%s: no completion", name);
		usleep(1000);
	}
	if (sts & IDXD_CMDSTS_ERR_MASK)
		die("%s: CMDSTS 0x%08x", name, sts);
}

/* --- set-up (dsa_copy.c, steps 1-6) ------------------------------------- */

static bool open_cdev(const char *uuid)
{
	struct vfio_device_bind_iommufd bind = { .argsz = sizeof(bind) };
	struct vfio_device_attach_iommufd_pt attach = { .argsz = sizeof(attach) };
	struct iommu_ioas_alloc alloc = { .size = sizeof(alloc) };
	char dir[PATH_MAX], path[PATH_MAX] = "";
	struct dirent *e;
	DIR *d;

	snprintf(dir, sizeof(dir), "/sys/bus/mdev/devices/%s/vfio-dev", uuid);
	d = opendir(dir);
	if (!d)
		return false;
	while ((e = readdir(d)))
		if (!strncmp(e->d_name, "vfio", 4))
			snprintf(path, sizeof(path), "/dev/vfio/devices/%s", e->d_name);
	closedir(d);
	if (!path[0])
		return false;

	dev.fd = open(path, O_RDWR | O_CLOEXEC);
	dev.iommufd = open("/dev/iommu", O_RDWR | O_CLOEXEC);
	bind.iommufd = dev.iommufd;
	if (dev.fd < 0 || dev.iommufd < 0 || ioctl(dev.fd, VFIO_DEVICE_BIND_IOMMUFD, &bind) ||
	    ioctl(dev.iommufd, IOMMU_IOAS_ALLOC, &alloc)) {
		if (dev.fd >= 0)
			close(dev.fd);
		if (dev.iommufd >= 0)
			close(dev.iommufd);
		dev.fd = dev.iommufd = -1;
		return false;
	}
	dev.ioas_id = alloc.out_ioas_id;
	attach.pt_id = dev.ioas_id;
	if (ioctl(dev.fd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &attach))
		die("VFIO_DEVICE_ATTACH_IOMMUFD_PT: %s", strerror(errno));
	dev.path = "iommufd cdev";
	return true;
}

static void open_group(const char *uuid)
{
	char link[PATH_MAX], target[PATH_MAX], path[64];
	ssize_t len;

	snprintf(link, sizeof(link), "/sys/bus/mdev/devices/%s/iommu_group", uuid);
	len = readlink(link, target, sizeof(target) - 1);
	if (len < 0)
		die("readlink %s: %s", link, strerror(errno));
	target[len] = '\0';
	snprintf(path, sizeof(path), "/dev/vfio/%s", basename(target));
	dev.container = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
	dev.group = open(path, O_RDWR | O_CLOEXEC);
	if (dev.container < 0 || dev.group < 0)
		die("open /dev/vfio/vfio or %s: %s", path, strerror(errno));
	if (ioctl(dev.group, VFIO_GROUP_SET_CONTAINER, &dev.container) ||
	    ioctl(dev.container, VFIO_SET_IOMMU, (unsigned long)VFIO_TYPE1v2_IOMMU))
		die("%s: cannot set up the container: %s", path, strerror(errno));
	dev.fd = ioctl(dev.group, VFIO_GROUP_GET_DEVICE_FD, uuid);
	if (dev.fd < 0)
		die("VFIO_GROUP_GET_DEVICE_FD: %s", strerror(errno));
	dev.path = "group";
}

static uint64_t region(unsigned int index)
{
	struct vfio_region_info info = { .argsz = sizeof(info), .index = index };

	if (ioctl(dev.fd, VFIO_DEVICE_GET_REGION_INFO, &info) || !info.size)
		die("region %u: %s", index, errno ? strerror(errno) : "absent");
	return info.offset;
}

static void dma_map(void *buf, uint64_t len, uint64_t at)
{
	int ret;

	if (dev.iommufd >= 0) {
		struct iommu_ioas_map map = {
			.size = sizeof(map),
			.flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE |
				 IOMMU_IOAS_MAP_WRITEABLE,
			.ioas_id = dev.ioas_id,
			.user_va = (uintptr_t)buf,
			.length = len,
			.iova = at,
		};

		ret = ioctl(dev.iommufd, IOMMU_IOAS_MAP, &map);
	} else {
		struct vfio_iommu_type1_dma_map map = {
			.argsz = sizeof(map),
			.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
			.vaddr = (uintptr_t)buf,
			.iova = at,
			.size = len,
		};

		ret = ioctl(dev.container, VFIO_IOMMU_MAP_DMA, &map);
	}
	if (ret)
		die("DMA map of %" PRIu64 " bytes: %s", len, strerror(errno));
}

/*
 * Enables WQ 0 as dsa_copy does (but for GRPCFG, which dsa_mdev fixes);
 * returns the largest batch it takes.
 */
static unsigned int enable_wq0(uint64_t *max_xfer)
{
	uint32_t words[16] = { 0 };
	uint64_t gencap, wqcap, wqcfg;
	unsigned int n, i;
	uint16_t cmd;

	region_rw(false, dev.config, PCI_COMMAND, &cmd, sizeof(cmd));
	cmd |= PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_INTX_DISABLE;
	region_rw(true, dev.config, PCI_COMMAND, &cmd, sizeof(cmd));

	command("RESET_DEVICE", IDXD_CMD_RESET_DEVICE, 0);
	gencap = rd64(IDXD_GENCAP_OFFSET);
	wqcap = rd64(IDXD_WQCAP_OFFSET);
	wqcfg = TABLE_WQCFG(rd64(IDXD_TABLE_OFFSET)) * IDXD_TABLE_MULT;
	if (!WQCAP_NUM_WQS(wqcap))
		die("the device has no WQ");

	n = (1u << (WQCAP_WQCFG_SIZE(wqcap) + IDXD_WQCFG_MIN)) / 4;
	if (n > 16)
		n = 16;
	words[0] = WQCAP_TOTAL_WQ_SIZE(wqcap);		/* wq_size */
	words[2] = 1u << 0 | 1u << 4;			/* dedicated, priority 1 */
	words[3] = GENCAP_MAX_XFER_SHIFT(gencap) | GENCAP_MAX_BATCH_SHIFT(gencap) << 5;
	words[8] = 1u << DSA_OPCODE_MEMMOVE | 1u << DSA_OPCODE_BATCH;	/* op_config */
	for (i = 0; i < n; i++)
		wr32(wqcfg + 4 * i, words[i]);
	command("ENABLE_DEVICE", IDXD_CMD_ENABLE_DEVICE, 0);
	command("ENABLE_WQ", IDXD_CMD_ENABLE_WQ, 0);

	*max_xfer = 1ull << GENCAP_MAX_XFER_SHIFT(gencap);
	return 1u << GENCAP_MAX_BATCH_SHIFT(gencap);
}

/* --- the operations measured ------------------------------------------- */

static void submit(const struct dsa_hw_desc *desc)
{
	/* WQ 0's portal: the start of BAR2. */
	if (pwrite(dev.fd, desc, sizeof(*desc), dev.bar2) != sizeof(*desc))
		die("submit: %s", strerror(errno));
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
		uint64_t swerr = rd64(IDXD_SWERR_OFFSET);

		if (swerr & 1)
			die("software error instead of a completion: SWERR 0x%016" PRIx64, swerr);
		if (!deadline)
			deadline = now_ns() + TIMEOUT_NS;
		else if (now_ns() > deadline)
			die("no completion after %llu s", TIMEOUT_NS / 1000000000);
	}
	if (DSA_COMP_STATUS(status) != DSA_COMP_SUCCESS)
		die("descriptor failed: status 0x%02x, SWERR 0x%016" PRIx64, status,
		    rd64(IDXD_SWERR_OFFSET));
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

	if (!open_cdev(argv[1]))
		open_group(argv[1]);
	dev.bar0 = region(VFIO_PCI_BAR0_REGION_INDEX);
	dev.bar2 = region(VFIO_PCI_BAR2_REGION_INDEX);
	dev.config = region(VFIO_PCI_CONFIG_REGION_INDEX);
	max_batch = enable_wq0(&max_xfer);
	if (max_xfer < MAX_SIZE)
		die("the device's transfers stop at %" PRIu64 " bytes", max_xfer);

	area = mmap(NULL, sizeof(*area), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (area == MAP_FAILED)
		die("mmap: %s", strerror(errno));
	for (i = 0; i < MAX_SIZE; i++)
		area->src[i] = (uint8_t)(i % 251 + 1);
	dma_map(area, (sizeof(*area) + 4095) & ~4095ul, IOVA_BASE);

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
	command("DISABLE_WQ", IDXD_CMD_DISABLE_WQ, 1u << 0);
	command("DISABLE_DEVICE", IDXD_CMD_DISABLE_DEVICE, 0);
	return 0;
}
