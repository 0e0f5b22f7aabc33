// SPDX-License-Identifier: GPL-2.0
/*
 * dsa_copy: copy a buffer with one Intel DSA MEMMOVE descriptor, through a
 * dsa_mdev device, from user space, with nothing but VFIO.
 *
 *   dsa_copy UUID [BYTES]
 *
 * UUID names an existing device, /sys/bus/mdev/devices/UUID (create one
 * first, see README.md); BYTES (default 4096, at most the device's maximum
 * transfer, 1 MiB) is how much to copy.  Run as root.  The exit status is
 * 0 when the destination holds the source, 1 on any failure, 2 for a usage
 * error.
 *
 * The program walks through what a user-space driver for a DSA device
 * does, and prints each step with the values it read:
 *
 *   1. open the device: the iommufd cdev /dev/vfio/devices/vfioN, or, if
 *      the kernel has none, the group /dev/vfio/<group> in a container;
 *   2. ask VFIO what the device is, and where its regions are: BAR0 (the
 *      registers), BAR2 (the portals), the config space;
 *   3. turn on memory decoding and bus mastering in the config space;
 *   4. read the DSA capability registers in BAR0;
 *   5. configure work queue (WQ) 0 in the WQCFG table, enable the device,
 *      enable the WQ;
 *   6. map a source, a destination and a completion record for DMA;
 *   7. optionally, connect MSI-X vector 1 to an eventfd;
 *   8. write one 64-byte MEMMOVE descriptor to WQ 0's portal in BAR2;
 *   9. wait for the completion record, and the interrupt;
 *  10. check the destination; disable the WQ and the device.
 *
 * The register programming follows the kernel's own user-space DSA driver,
 * tools/testing/selftests/vfio/lib/drivers/dsa/dsa.c, and so does the way
 * this program gets the registers: from the kernel's own
 * drivers/dma/idxd/registers.h (see below).  Descriptors and completion
 * records are those of <linux/idxd.h>, the PCI configuration space that
 * of <linux/pci_regs.h>.
 *
 * This program is the tutorial, and stands alone; dsa_bench and
 * dsa_migrate do the same steps with the library the samples share with
 * the selftests (selftests/dsa_mdev/lib/).
 *
 * How dsa_mdev differs from hardware (Documentation/dsa_mdev.rst): the
 * BARs cannot be mmap()ed, so registers and portals are accessed with
 * pread()/pwrite() on the device fd; commands complete before the write to
 * CMD returns, and a descriptor has executed when the pwrite() of it to a
 * portal returns.  The program still polls for completion, as it must on
 * hardware.
 *
 * Errors: the program prints what failed and exits.  Exiting closes the
 * file descriptors, which releases the device, its DMA mappings and its
 * interrupts: there is nothing else to undo.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <linux/idxd.h>
#include <linux/iommufd.h>
#include <linux/pci_regs.h>
#include <linux/types.h>
#include <linux/vfio.h>

/*
 * --- DSA registers ---------------------------------------------------------
 *
 * drivers/dma/idxd/registers.h is the kernel driver's own header, not uapi:
 * the offsets of the BAR0 registers (IDXD_*_OFFSET), the commands and their
 * status codes, and each register as a union of its bit fields with the
 * raw value in .bits (union gen_cap_reg, union wqcfg, ...).  It uses the
 * kernel's u8 to u64: the Makefile puts the kernel source's tools/include
 * first on the include path, as the vfio selftests do, and its
 * <linux/types.h> (above) has them.  IDXD_PORTAL_SIZE is a page.
 */
#ifndef PAGE_SIZE
#define PAGE_SIZE		4096
#endif
#include "idxd/registers.h"
#include "sample.h"

/* --- What this program uses --------------------------------------------- */

/* The MSI-X vector for completions; vector 0 is for device errors. */
#define COMPLETION_VECTOR	1

/*
 * Where the device sees the buffers: I/O virtual addresses (IOVAs) of our
 * choosing, page aligned.  They are unrelated to the buffers' addresses in
 * this process; the DMA mappings connect the two.
 */
#define SRC_IOVA		0x10000000ull
#define DST_IOVA		0x20000000ull
#define CR_IOVA			0x30000000ull

/* How long to wait for a command or a completion. */
#define TIMEOUT_MS		5000

/* The open device: its fd and where its regions are in that fd. */
static struct {
	int fd;
	/* The cdev path uses iommufd and ioas_id, the group path the other two. */
	int iommufd;
	uint32_t ioas_id;
	int container;
	int group;
	uint64_t bar0;		/* file offset of BAR0: the registers */
	uint64_t bar2;		/* file offset of BAR2: the WQ portals */
	uint64_t config;	/* file offset of the PCI config space */
} dev = { .fd = -1, .iommufd = -1, .container = -1, .group = -1 };

/* --- Helpers ------------------------------------------------------------ */

/* A step heading. */
static void step(int n, const char *what)
{
	printf("\n[%d] %s\n", n, what);
}

/* "4 KiB" for 4096; exact multiples only, else bytes. */
static const char *human(uint64_t bytes, char *buf, size_t size)
{
	static const char *const units[] = { "bytes", "KiB", "MiB", "GiB" };
	unsigned int unit = 0;

	while (unit < 3 && bytes >= 1024 && bytes % 1024 == 0) {
		bytes /= 1024;
		unit++;
	}
	snprintf(buf, size, "%" PRIu64 " %s", bytes, units[unit]);
	return buf;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Register access.  A VFIO device fd exposes each region at a file offset
 * (from VFIO_DEVICE_GET_REGION_INFO); reading or writing there is an MMIO
 * access to the device.  dsa_mdev takes 4- and 8-byte naturally aligned
 * register writes (1 to 8 bytes for reads), as the DSA specification
 * requires.  x86 is little-endian, like the device: no byte swapping.
 */
static uint32_t reg_read32(uint64_t reg)
{
	uint32_t v;

	if (pread(dev.fd, &v, sizeof(v), dev.bar0 + reg) != sizeof(v))
		die("read BAR0 0x%" PRIx64 ": %s", reg, strerror(errno));
	return v;
}

static uint64_t reg_read64(uint64_t reg)
{
	uint64_t v;

	if (pread(dev.fd, &v, sizeof(v), dev.bar0 + reg) != sizeof(v))
		die("read BAR0 0x%" PRIx64 ": %s", reg, strerror(errno));
	return v;
}

static void reg_write32(uint64_t reg, uint32_t v)
{
	if (pwrite(dev.fd, &v, sizeof(v), dev.bar0 + reg) != sizeof(v))
		die("write BAR0 0x%" PRIx64 ": %s", reg, strerror(errno));
}

static void reg_write64(uint64_t reg, uint64_t v)
{
	if (pwrite(dev.fd, &v, sizeof(v), dev.bar0 + reg) != sizeof(v))
		die("write BAR0 0x%" PRIx64 ": %s", reg, strerror(errno));
}

static void config_read(unsigned int offset, void *buf, size_t len)
{
	if (pread(dev.fd, buf, len, dev.config + offset) != (ssize_t)len)
		die("read config 0x%x: %s", offset, strerror(errno));
}

static void config_write(unsigned int offset, const void *buf, size_t len)
{
	if (pwrite(dev.fd, buf, len, dev.config + offset) != (ssize_t)len)
		die("write config 0x%x: %s", offset, strerror(errno));
}

/* Prints SWERR, the device's record of a descriptor it could not report. */
static void print_swerr(void)
{
	union sw_err_reg e = { .bits = { reg_read64(IDXD_SWERR_OFFSET) } };

	if (!e.valid) {
		printf("    SWERR: none\n");
		return;
	}
	e.bits[1] = reg_read64(IDXD_SWERR_OFFSET + 8);
	e.bits[2] = reg_read64(IDXD_SWERR_OFFSET + 16);
	printf("    SWERR: 0x%016" PRIx64 " 0x%016" PRIx64 " 0x%016" PRIx64
	       " (error 0x%02x, WQ %u, opcode 0x%02x)\n",
	       (uint64_t)e.bits[0], (uint64_t)e.bits[1], (uint64_t)e.bits[2],
	       (unsigned int)e.error, (unsigned int)e.wq_idx, (unsigned int)e.operation);
}

/*
 * Issues a device command: write CMD, wait until CMDSTS is no longer
 * active, return its error code (0: success).  Mirrors dsa_command() of
 * the kernel's driver.
 */
static uint8_t command(const char *name, enum idxd_cmd cmd, uint32_t operand)
{
	union idxd_command_reg reg = { .cmd = cmd, .operand = operand };
	uint64_t deadline = now_ms() + TIMEOUT_MS;
	uint32_t sts;

	reg_write32(IDXD_CMD_OFFSET, reg.bits);
	while ((sts = reg_read32(IDXD_CMDSTS_OFFSET)) & IDXD_CMDSTS_ACTIVE) {
		if (now_ms() > deadline)
			die("%s: CMDSTS still active after %d ms", name, TIMEOUT_MS);
		usleep(1000);
	}
	printf("    CMD <- 0x%08x (%s, operand %u): CMDSTS 0x%08x (%s)\n",
	       reg.bits, name, operand, sts, sts & IDXD_CMDSTS_ERR_MASK ? "error" : "success");
	return sts & IDXD_CMDSTS_ERR_MASK;
}

/* --- Step 1: open the device -------------------------------------------- */

/*
 * The iommufd way (CONFIG_VFIO_DEVICE_CDEV): open the device's own
 * character device, bind it to an iommufd, and attach it to an I/O address
 * space (IOAS) that will hold our DMA mappings.  Returns false, with
 * nothing left open, if any of this is not available.
 */
static bool open_cdev(const char *uuid)
{
	struct vfio_device_bind_iommufd bind = { .argsz = sizeof(bind) };
	struct vfio_device_attach_iommufd_pt attach = { .argsz = sizeof(attach) };
	struct iommu_ioas_alloc alloc = { .size = sizeof(alloc) };
	char dir[PATH_MAX], path[PATH_MAX];
	struct dirent *e;
	DIR *d;

	/* /sys/bus/mdev/devices/UUID/vfio-dev/ holds one entry: vfioN. */
	snprintf(dir, sizeof(dir), "/sys/bus/mdev/devices/%s/vfio-dev", uuid);
	d = opendir(dir);
	if (!d) {
		printf("    %s: %s: no VFIO device cdev\n", dir, strerror(errno));
		return false;
	}
	path[0] = '\0';
	while ((e = readdir(d)))
		if (!strncmp(e->d_name, "vfio", 4))
			snprintf(path, sizeof(path), "/dev/vfio/devices/%s", e->d_name);
	closedir(d);
	if (!path[0]) {
		printf("    %s is empty: no VFIO device cdev\n", dir);
		return false;
	}

	dev.fd = open(path, O_RDWR | O_CLOEXEC);
	if (dev.fd < 0) {
		printf("    open %s: %s\n", path, strerror(errno));
		return false;
	}
	dev.iommufd = open("/dev/iommu", O_RDWR | O_CLOEXEC);
	if (dev.iommufd < 0) {
		printf("    open /dev/iommu: %s\n", strerror(errno));
		goto fail;
	}
	/* The bind is what opens the device: from here on it is ours. */
	bind.iommufd = dev.iommufd;
	if (ioctl(dev.fd, VFIO_DEVICE_BIND_IOMMUFD, &bind)) {
		printf("    VFIO_DEVICE_BIND_IOMMUFD: %s\n", strerror(errno));
		goto fail;
	}
	if (ioctl(dev.iommufd, IOMMU_IOAS_ALLOC, &alloc)) {
		printf("    IOMMU_IOAS_ALLOC: %s\n", strerror(errno));
		goto fail;
	}
	dev.ioas_id = alloc.out_ioas_id;
	attach.pt_id = dev.ioas_id;
	if (ioctl(dev.fd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &attach)) {
		printf("    VFIO_DEVICE_ATTACH_IOMMUFD_PT: %s\n", strerror(errno));
		goto fail;
	}
	printf("    opened %s, bound to /dev/iommu, attached to IOAS %u\n", path, dev.ioas_id);
	return true;

fail:
	close(dev.fd);
	if (dev.iommufd >= 0)
		close(dev.iommufd);
	dev.fd = dev.iommufd = -1;
	return false;
}

/*
 * The group way (legacy VFIO): open the device's IOMMU group, put it in a
 * container with the type 1 IOMMU model, and ask the group for the device.
 */
static void open_group(const char *uuid)
{
	struct vfio_group_status status = { .argsz = sizeof(status) };
	char link[PATH_MAX], target[PATH_MAX], path[64];
	ssize_t len;

	snprintf(link, sizeof(link), "/sys/bus/mdev/devices/%s/iommu_group", uuid);
	len = readlink(link, target, sizeof(target) - 1);
	if (len < 0)
		die("readlink %s: %s (is %s a device?)", link, strerror(errno), uuid);
	target[len] = '\0';
	snprintf(path, sizeof(path), "/dev/vfio/%s", basename(target));

	dev.container = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
	if (dev.container < 0)
		die("open /dev/vfio/vfio: %s", strerror(errno));
	if (ioctl(dev.container, VFIO_GET_API_VERSION) != VFIO_API_VERSION)
		die("unknown VFIO API version");
	if (ioctl(dev.container, VFIO_CHECK_EXTENSION, (unsigned long)VFIO_TYPE1v2_IOMMU) <= 0)
		die("the container has no type 1 v2 IOMMU");

	dev.group = open(path, O_RDWR | O_CLOEXEC);
	if (dev.group < 0)
		die("open %s: %s", path, strerror(errno));
	if (ioctl(dev.group, VFIO_GROUP_GET_STATUS, &status))
		die("VFIO_GROUP_GET_STATUS: %s", strerror(errno));
	if (!(status.flags & VFIO_GROUP_FLAGS_VIABLE))
		die("group %s is not viable", path);
	if (ioctl(dev.group, VFIO_GROUP_SET_CONTAINER, &dev.container))
		die("VFIO_GROUP_SET_CONTAINER: %s", strerror(errno));
	if (ioctl(dev.container, VFIO_SET_IOMMU, (unsigned long)VFIO_TYPE1v2_IOMMU))
		die("VFIO_SET_IOMMU: %s", strerror(errno));
	/* The device is named by its UUID within the group. */
	dev.fd = ioctl(dev.group, VFIO_GROUP_GET_DEVICE_FD, uuid);
	if (dev.fd < 0)
		die("VFIO_GROUP_GET_DEVICE_FD: %s", strerror(errno));
	printf("    opened group %s in a type 1 v2 container, device fd %d\n", path, dev.fd);
}

/* --- Step 2: what VFIO says about the device ---------------------------- */

static struct vfio_region_info region_info(unsigned int index, const char *name)
{
	struct vfio_region_info info = { .argsz = sizeof(info), .index = index };

	if (ioctl(dev.fd, VFIO_DEVICE_GET_REGION_INFO, &info))
		die("VFIO_DEVICE_GET_REGION_INFO %s: %s", name, strerror(errno));
	printf("    region %u (%s): size 0x%" PRIx64 ", at fd offset 0x%" PRIx64 ", flags 0x%x%s%s%s\n",
	       index, name, (uint64_t)info.size, (uint64_t)info.offset, info.flags,
	       info.flags & VFIO_REGION_INFO_FLAG_READ ? " read" : "",
	       info.flags & VFIO_REGION_INFO_FLAG_WRITE ? " write" : "",
	       info.flags & VFIO_REGION_INFO_FLAG_MMAP ? " mmap" : "");
	if (!info.size)
		die("region %s is absent", name);
	return info;
}

static void describe_device(void)
{
	struct vfio_device_info info = { .argsz = sizeof(info) };
	struct vfio_region_info bar0, bar2, cfg;

	if (ioctl(dev.fd, VFIO_DEVICE_GET_INFO, &info))
		die("VFIO_DEVICE_GET_INFO: %s", strerror(errno));
	printf("    VFIO_DEVICE_GET_INFO: flags 0x%x (%s%s), %u regions, %u irq indexes\n",
	       info.flags, info.flags & VFIO_DEVICE_FLAGS_PCI ? "PCI" : "not PCI",
	       info.flags & VFIO_DEVICE_FLAGS_RESET ? ", resettable" : "",
	       info.num_regions, info.num_irqs);
	if (!(info.flags & VFIO_DEVICE_FLAGS_PCI) || info.num_regions <= VFIO_PCI_CONFIG_REGION_INDEX)
		die("not a VFIO PCI device");

	bar0 = region_info(VFIO_PCI_BAR0_REGION_INDEX, "BAR0, registers");
	bar2 = region_info(VFIO_PCI_BAR2_REGION_INDEX, "BAR2, portals");
	cfg = region_info(VFIO_PCI_CONFIG_REGION_INDEX, "config space");
	dev.bar0 = bar0.offset;
	dev.bar2 = bar2.offset;
	dev.config = cfg.offset;
}

/* --- Step 3: the PCI side ---------------------------------------------- */

static void enable_pci(void)
{
	uint16_t vendor, device, cmd;
	uint32_t class_rev;

	config_read(PCI_VENDOR_ID, &vendor, 2);
	config_read(PCI_DEVICE_ID, &device, 2);
	config_read(PCI_CLASS_REVISION, &class_rev, 4);
	printf("    vendor 0x%04x, device 0x%04x, class 0x%06x, revision 0x%02x\n",
	       vendor, device, class_rev >> 8, class_rev & 0xff);
	/*
	 * Memory decoding lets the BARs answer; bus mastering is the device's
	 * permission to do DMA (without it ENABLE_DEVICE fails).  INTx goes
	 * off: completions come as MSI-X.
	 */
	config_read(PCI_COMMAND, &cmd, 2);
	cmd |= PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_INTX_DISABLE;
	config_write(PCI_COMMAND, &cmd, 2);
	config_read(PCI_COMMAND, &cmd, 2);
	printf("    PCI_COMMAND <- memory | master | intx_disable: reads back 0x%04x\n", cmd);
	if (!(cmd & PCI_COMMAND_MASTER))
		die("bus mastering did not stick");
}

/* --- Step 4: the device's capabilities ---------------------------------- */

/* What the capability registers say, as the next steps need it. */
struct caps {
	union gen_cap_reg gen_cap;
	union wq_cap_reg wq_cap;
	uint64_t max_xfer;	/* bytes */
	uint64_t grpcfg;	/* BAR0 offset of the GRPCFG table */
	uint64_t wqcfg;		/* BAR0 offset of the WQCFG table */
	unsigned int wqcfg_bytes;	/* size of one WQCFG entry */
};

static struct caps read_caps(void)
{
	union group_cap_reg grpcap;
	union engine_cap_reg engcap;
	union offsets_reg table;
	struct caps c;
	uint32_t ver;
	char h[32];

	/* Start from a known state, as the kernel's driver does. */
	if (command("RESET_DEVICE", IDXD_CMD_RESET_DEVICE, 0))
		die("RESET_DEVICE failed");

	ver = reg_read32(IDXD_VER_OFFSET);
	printf("    VERSION 0x%08x%s\n", ver, ver == DEVICE_VERSION_1 ? " (DEVICE_VERSION_1)" : "");

	c.gen_cap.bits = reg_read64(IDXD_GENCAP_OFFSET);
	c.max_xfer = 1ull << c.gen_cap.max_xfer_shift;
	printf("    GENCAP  0x%016" PRIx64 ": max transfer %s, max batch %u descriptors\n",
	       (uint64_t)c.gen_cap.bits, human(c.max_xfer, h, sizeof(h)),
	       1u << c.gen_cap.max_batch_shift);

	/* A WQCFG entry is 1 << (wqcfg_size + 5) bytes. */
	c.wq_cap.bits = reg_read64(IDXD_WQCAP_OFFSET);
	c.wqcfg_bytes = 1u << (c.wq_cap.wqcfg_size + IDXD_WQCFG_MIN);
	printf("    WQCAP   0x%016" PRIx64 ": %u WQs, %u WQ entries in all,"
	       " %u-byte WQCFG entries\n", (uint64_t)c.wq_cap.bits, (unsigned int)c.wq_cap.num_wqs,
	       (unsigned int)c.wq_cap.total_wq_size, c.wqcfg_bytes);

	grpcap.bits = reg_read64(IDXD_GRPCAP_OFFSET);
	engcap.bits = reg_read64(IDXD_ENGCAP_OFFSET);
	printf("    GRPCAP  0x%016" PRIx64 ": num_groups %u\n", (uint64_t)grpcap.bits,
	       (unsigned int)grpcap.num_groups);
	printf("    ENGCAP  0x%016" PRIx64 ": num_engines %u\n", (uint64_t)engcap.bits,
	       (unsigned int)engcap.num_engines);

	/* Where the configuration tables are, in units of IDXD_TABLE_MULT (256) bytes. */
	table.bits[0] = reg_read64(IDXD_TABLE_OFFSET);
	c.grpcfg = table.grpcfg * IDXD_TABLE_MULT;
	c.wqcfg = table.wqcfg * IDXD_TABLE_MULT;
	printf("    TABLE   0x%016" PRIx64 ": GRPCFG at BAR0+0x%" PRIx64
	       ", WQCFG at BAR0+0x%" PRIx64 "\n", (uint64_t)table.bits[0], c.grpcfg, c.wqcfg);

	if (!c.wq_cap.num_wqs)
		die("the device has no WQ");
	return c;
}

/* --- Step 5: work queue 0 ----------------------------------------------- */

static void enable_wq0(const struct caps *c)
{
	union wqcfg wqcfg, back = { 0 };
	unsigned int n = c->wqcfg_bytes / 4, i;
	union gensts_reg gensts;

	/*
	 * A dedicated WQ (one user, who submits with plain 64-byte writes),
	 * priority 1, the device's own transfer and batch limits, all of the
	 * device's WQ entries, and the operations we use: as the kernel's
	 * driver configures it.  The entry is written whole, one 32-bit word
	 * at a time; what stays 0 is reserved or unused here.
	 */
	wqcfg = (union wqcfg){
		.wq_size = c->wq_cap.total_wq_size,
		.mode = 1,			/* dedicated */
		.priority = 1,
		.max_xfer_shift = c->gen_cap.max_xfer_shift,
		.max_batch_shift = c->gen_cap.max_batch_shift,
		.op_config[0] = 1u << DSA_OPCODE_MEMMOVE | 1u << DSA_OPCODE_BATCH,
	};
	if (n > sizeof(wqcfg) / 4)	/* the union covers 64 bytes */
		n = sizeof(wqcfg) / 4;
	for (i = 0; i < n; i++)
		reg_write32(c->wqcfg + 4 * i, wqcfg.bits[i]);
	printf("    WQCFG[0] <- size %u, dedicated, priority 1, max transfer shift %u,"
	       " max batch shift %u, op_config MEMMOVE|BATCH\n", (unsigned int)wqcfg.wq_size,
	       (unsigned int)wqcfg.max_xfer_shift, (unsigned int)wqcfg.max_batch_shift);
	printf("    WQCFG[0] reads back:");
	for (i = 0; i < n; i++) {
		back.bits[i] = reg_read32(c->wqcfg + 4 * i);
		printf("%s %08x", i && i % 8 == 0 ? "\n                        " : "",
		       back.bits[i]);
	}
	printf("\n");

	/*
	 * Group 0 gets WQ 0 and engine 0.  On hardware this is required;
	 * dsa_mdev's single group is fixed (every WQ, the one engine) and
	 * ignores the writes.
	 */
	reg_write64(c->grpcfg + offsetof(struct grpcfg, wqs[0]), 1);
	reg_write64(c->grpcfg + offsetof(struct grpcfg, engines), 1);
	printf("    GRPCFG[0] <- WQ 0, engine 0: reads back WQs 0x%016" PRIx64
	       ", engines 0x%016" PRIx64 "\n",
	       reg_read64(c->grpcfg + offsetof(struct grpcfg, wqs[0])),
	       reg_read64(c->grpcfg + offsetof(struct grpcfg, engines)));

	/* The configuration is checked when the device, then the WQ, is enabled. */
	if (command("ENABLE_DEVICE", IDXD_CMD_ENABLE_DEVICE, 0))
		die("ENABLE_DEVICE failed");
	gensts.bits = reg_read32(IDXD_GENSTATS_OFFSET);
	printf("    GENSTS 0x%08x: device %s\n", gensts.bits,
	       gensts.state == IDXD_DEVICE_STATE_ENABLED ? "enabled" : "NOT enabled");
	if (gensts.state != IDXD_DEVICE_STATE_ENABLED)
		die("the device did not become enabled");

	/* ENABLE_WQ's operand is the WQ's index; word 6 has the WQ's state. */
	if (command("ENABLE_WQ", IDXD_CMD_ENABLE_WQ, 0))
		die("ENABLE_WQ failed");
	back.bits[6] = reg_read32(c->wqcfg + 4 * 6);
	printf("    WQCFG[0] word 6 0x%08x: WQ 0 %s\n", back.bits[6],
	       back.wq_state == 1 ? "enabled" : "NOT enabled");
	if (back.wq_state != 1)
		die("WQ 0 did not become enabled");
}

/* --- Step 6: DMA mappings ----------------------------------------------- */

/*
 * Lets the device reach @len bytes at @buf at @iova.  dsa_mdev has no
 * IOMMU of its own ("emulated IOMMU"): the kernel translates each IOVA the
 * descriptor names through these mappings when it executes it.
 */
static void dma_map(void *buf, uint64_t len, uint64_t iova, const char *name)
{
	if (dev.iommufd >= 0) {
		struct iommu_ioas_map map = {
			.size = sizeof(map),
			.flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE |
				 IOMMU_IOAS_MAP_WRITEABLE,
			.ioas_id = dev.ioas_id,
			.user_va = (uintptr_t)buf,
			.length = len,
			.iova = iova,
		};

		if (ioctl(dev.iommufd, IOMMU_IOAS_MAP, &map))
			die("IOMMU_IOAS_MAP %s: %s", name, strerror(errno));
	} else {
		struct vfio_iommu_type1_dma_map map = {
			.argsz = sizeof(map),
			.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
			.vaddr = (uintptr_t)buf,
			.iova = iova,
			.size = len,
		};

		if (ioctl(dev.container, VFIO_IOMMU_MAP_DMA, &map))
			die("VFIO_IOMMU_MAP_DMA %s: %s", name, strerror(errno));
	}
	printf("    %-18s %p, 0x%" PRIx64 " bytes -> IOVA 0x%" PRIx64 " (%s)\n", name, buf, len,
	       iova, dev.iommufd >= 0 ? "IOMMU_IOAS_MAP" : "VFIO_IOMMU_MAP_DMA");
}

static void dma_unmap(uint64_t len, uint64_t iova)
{
	if (dev.iommufd >= 0) {
		struct iommu_ioas_unmap unmap = {
			.size = sizeof(unmap),
			.ioas_id = dev.ioas_id,
			.iova = iova,
			.length = len,
		};

		if (ioctl(dev.iommufd, IOMMU_IOAS_UNMAP, &unmap))
			die("IOMMU_IOAS_UNMAP: %s", strerror(errno));
	} else {
		struct vfio_iommu_type1_dma_unmap unmap = {
			.argsz = sizeof(unmap),
			.iova = iova,
			.size = len,
		};

		if (ioctl(dev.container, VFIO_IOMMU_UNMAP_DMA, &unmap))
			die("VFIO_IOMMU_UNMAP_DMA: %s", strerror(errno));
	}
}

/* Page-aligned, zeroed memory. */
static void *alloc_pages(uint64_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		die("mmap %" PRIu64 " bytes: %s", len, strerror(errno));
	return p;
}

/* The three buffers the descriptor names. */
struct buffers {
	uint8_t *src, *dst;
	struct dsa_completion_record *cr;
	uint64_t bytes;		/* how much to copy */
	uint64_t len;		/* of the src and dst mappings: @bytes in whole pages */
};

static struct buffers map_buffers(uint64_t bytes)
{
	struct buffers b = { .bytes = bytes, .len = (bytes + 4095) & ~4095ull };
	uint64_t i;

	b.src = alloc_pages(b.len);
	b.dst = alloc_pages(b.len);
	/* A completion record must be 32-byte aligned: a page is. */
	b.cr = alloc_pages(4096);
	for (i = 0; i < bytes; i++)
		b.src[i] = (uint8_t)(i % 255 + 1);	/* never 0: a byte not copied shows */
	dma_map(b.src, b.len, SRC_IOVA, "source");
	dma_map(b.dst, b.len, DST_IOVA, "destination");
	dma_map(b.cr, 4096, CR_IOVA, "completion record");
	return b;
}

static void unmap_buffers(const struct buffers *b)
{
	dma_unmap(4096, CR_IOVA);
	dma_unmap(b->len, DST_IOVA);
	dma_unmap(b->len, SRC_IOVA);
	printf("    DMA mappings removed\n");
}

/* --- Step 7: the completion interrupt ----------------------------------- */

/*
 * Connects MSI-X vector COMPLETION_VECTOR to a new eventfd: the device
 * signals it when a descriptor with the RCI flag and that int_handle
 * completes.  Returns the eventfd, or -1 if the device offers no such
 * vector or refuses (then the program relies on the completion record).
 */
static int enable_completion_irq(void)
{
	struct vfio_irq_info info = { .argsz = sizeof(info), .index = VFIO_PCI_MSIX_IRQ_INDEX };
	/* The header, then the data: here one eventfd. */
	struct {
		struct vfio_irq_set set;
		int32_t fd;
	} irq;
	int efd;

	if (ioctl(dev.fd, VFIO_DEVICE_GET_IRQ_INFO, &info)) {
		printf("    VFIO_DEVICE_GET_IRQ_INFO MSI-X: %s; polling only\n", strerror(errno));
		return -1;
	}
	printf("    MSI-X: %u vectors, flags 0x%x%s\n", info.count, info.flags,
	       info.flags & VFIO_IRQ_INFO_EVENTFD ? " (eventfd)" : "");
	if (info.count <= COMPLETION_VECTOR || !(info.flags & VFIO_IRQ_INFO_EVENTFD)) {
		printf("    no vector %d to signal an eventfd; polling only\n", COMPLETION_VECTOR);
		return -1;
	}
	efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (efd < 0)
		die("eventfd: %s", strerror(errno));

	irq.set = (struct vfio_irq_set){
		.argsz = sizeof(irq),
		.flags = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER,
		.index = VFIO_PCI_MSIX_IRQ_INDEX,
		.start = COMPLETION_VECTOR,
		.count = 1,
	};
	irq.fd = efd;
	if (ioctl(dev.fd, VFIO_DEVICE_SET_IRQS, &irq)) {
		printf("    VFIO_DEVICE_SET_IRQS MSI-X vector %d: %s; polling only\n",
		       COMPLETION_VECTOR, strerror(errno));
		close(efd);
		return -1;
	}
	printf("    MSI-X vector %d -> eventfd %d\n", COMPLETION_VECTOR, efd);
	return efd;
}

static void disable_irqs(void)
{
	struct vfio_irq_set set = {
		.argsz = sizeof(set),
		.flags = VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER,
		.index = VFIO_PCI_MSIX_IRQ_INDEX,
		.start = 0,
		.count = 0,
	};

	if (ioctl(dev.fd, VFIO_DEVICE_SET_IRQS, &set))
		die("VFIO_DEVICE_SET_IRQS (disable MSI-X): %s", strerror(errno));
}

/* --- Step 8: submit ---------------------------------------------------- */

static void submit_memmove(const struct buffers *b, bool interrupt)
{
	struct dsa_hw_desc desc;
	unsigned int i;
	char h[32];

	/*
	 * CRAV: the completion record address is valid.  RCR: write the
	 * record on success too (by default only failures are recorded).
	 * RCI: also raise the interrupt int_handle names (without interrupt
	 * handles, the MSI-X vector).  pasid and priv stay 0: a dedicated WQ
	 * takes them from its WQCFG.  Unused fields must be 0.
	 */
	memset(&desc, 0, sizeof(desc));
	desc.opcode = DSA_OPCODE_MEMMOVE;
	desc.flags = IDXD_OP_FLAG_CRAV | IDXD_OP_FLAG_RCR;
	if (interrupt) {
		desc.flags |= IDXD_OP_FLAG_RCI;
		desc.int_handle = COMPLETION_VECTOR;
	}
	desc.completion_addr = CR_IOVA;
	desc.src_addr = SRC_IOVA;
	desc.dst_addr = DST_IOVA;
	desc.xfer_size = b->bytes;
	printf("    MEMMOVE (opcode 0x%02x), flags 0x%06x, %s from IOVA 0x%llx to 0x%llx,\n"
	       "    completion record at IOVA 0x%llx, int_handle %u\n",
	       DSA_OPCODE_MEMMOVE, (unsigned int)desc.flags, human(b->bytes, h, sizeof(h)),
	       (unsigned long long)desc.src_addr, (unsigned long long)desc.dst_addr,
	       (unsigned long long)desc.completion_addr, (unsigned int)desc.int_handle);
	printf("    the 64 descriptor bytes:");
	for (i = 0; i < sizeof(desc); i++)
		printf("%s%02x", i % 16 ? " " : "\n      ", ((uint8_t *)&desc)[i]);
	printf("\n");

	/*
	 * WQ 0's portal is the first page of BAR2 (each WQ has four).  A
	 * descriptor is submitted by writing its 64 bytes at once: MOVDIR64B
	 * on hardware, one pwrite() here.
	 */
	if (pwrite(dev.fd, &desc, sizeof(desc), dev.bar2 + 0) != sizeof(desc))
		die("write the descriptor to WQ 0's portal: %s", strerror(errno));
	printf("    written to BAR2+0x0, WQ 0's portal\n");
}

/* --- Step 9: completion ------------------------------------------------- */

static void wait_completion(const struct buffers *b, int efd)
{
	uint64_t deadline = now_ms() + TIMEOUT_MS;
	uint8_t status;

	/*
	 * The device writes the status byte last: 0 means "not yet".  A
	 * descriptor the device cannot report in its record (a bad record
	 * address, say) is reported in SWERR instead: check it meanwhile, as
	 * the kernel's driver does.
	 */
	while (!(status = __atomic_load_n(&b->cr->status, __ATOMIC_ACQUIRE))) {
		if (reg_read64(IDXD_SWERR_OFFSET) & IDXD_SWERR_VALID) {
			print_swerr();
			die("the device reported a software error instead of a completion");
		}
		if (now_ms() > deadline)
			die("no completion record after %d ms", TIMEOUT_MS);
		usleep(1000);
	}
	printf("    completion record: status 0x%02x (%s), bytes_completed %u, fault_addr 0x%llx\n",
	       status, DSA_COMP_STATUS(status) == DSA_COMP_SUCCESS ? "success" : "FAILED",
	       (unsigned int)b->cr->bytes_completed, (unsigned long long)b->cr->fault_addr);
	printf("    (bytes_completed counts what was done before a fault: 0 on success)\n");
	print_swerr();
	if (DSA_COMP_STATUS(status) != DSA_COMP_SUCCESS)
		die("the descriptor failed with status 0x%02x", status);

	if (efd >= 0) {
		struct pollfd pfd = { .fd = efd, .events = POLLIN };
		uint64_t count;

		if (poll(&pfd, 1, TIMEOUT_MS) != 1 || read(efd, &count, sizeof(count)) != sizeof(count))
			die("no interrupt on MSI-X vector %d within %d ms",
			    COMPLETION_VECTOR, TIMEOUT_MS);
		printf("    MSI-X vector %d fired: eventfd count %" PRIu64 "\n",
		       COMPLETION_VECTOR, count);
	}
}

/* --- Step 10: check, shut down ------------------------------------------ */

static void check_copy(const struct buffers *b)
{
	uint64_t i;
	char h[32];

	for (i = 0; i < b->bytes; i++) {
		if (b->dst[i] != b->src[i])
			die("the destination differs from the source at byte %" PRIu64, i);
	}
	for (; i < b->len; i++) {
		if (b->dst[i])
			die("byte %" PRIu64 ", past the end of the copy, was written", i);
	}
	printf("    %" PRIu64 " bytes (%s) copied: the destination matches the source,"
	       " and nothing after it changed\n", b->bytes, human(b->bytes, h, sizeof(h)));
}

static void shut_down(const struct buffers *b, int efd)
{
	/* DISABLE_WQ's operand is a mask: bits 15:0 for 16 WQs, 19:16 which 16. */
	if (command("DISABLE_WQ", IDXD_CMD_DISABLE_WQ, 1u << 0))
		die("DISABLE_WQ failed");
	if (command("DISABLE_DEVICE", IDXD_CMD_DISABLE_DEVICE, 0))
		die("DISABLE_DEVICE failed");
	if (efd >= 0) {
		disable_irqs();
		close(efd);
		printf("    MSI-X disabled\n");
	}
	unmap_buffers(b);
	/* Closing the device fd ends our use of the device; then the rest. */
	close(dev.fd);
	if (dev.iommufd >= 0)
		close(dev.iommufd);
	if (dev.group >= 0)
		close(dev.group);
	if (dev.container >= 0)
		close(dev.container);
	printf("    device closed\n");
}

/* --- main --------------------------------------------------------------- */

int main(int argc, char **argv)
{
	char path[PATH_MAX];
	const char *uuid;
	uint64_t bytes = 4096;
	struct buffers bufs;
	struct caps caps;
	int efd;

	if (argc < 2 || argc > 3 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		fprintf(stderr, "usage: %s UUID [BYTES]\n"
			"  copy BYTES (default 4096) with one DSA MEMMOVE descriptor through\n"
			"  the dsa_mdev device /sys/bus/mdev/devices/UUID\n", argv[0]);
		return 2;
	}
	uuid = argv[1];
	if (argc == 3) {
		char *end;

		errno = 0;
		bytes = strtoull(argv[2], &end, 0);
		if (errno || *end || !bytes || argv[2][0] == '-' || bytes > UINT32_MAX) {
			fprintf(stderr, "%s: BYTES must be a positive integer, not '%s'\n",
				argv[0], argv[2]);
			return 2;
		}
	}
	/* Line-buffered, so that the steps and the errors interleave right. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	snprintf(path, sizeof(path), "/sys/bus/mdev/devices/%s", uuid);
	if (access(path, F_OK))
		die("%s: %s (create the device first, see README.md)", path, strerror(errno));

	step(1, "Open the device");
	if (!open_cdev(uuid)) {
		printf("    falling back to the group (container) path\n");
		open_group(uuid);
	}

	step(2, "Ask VFIO what it is");
	describe_device();

	step(3, "PCI config space: identify it, enable memory decoding and bus mastering");
	enable_pci();

	step(4, "BAR0: reset the device, read its capabilities");
	caps = read_caps();
	if (bytes > caps.max_xfer)
		die("%" PRIu64 " bytes is more than the device's maximum transfer, %" PRIu64,
		    bytes, caps.max_xfer);

	step(5, "Configure WQ 0, enable the device, enable WQ 0");
	enable_wq0(&caps);

	step(6, "Map a source, a destination and a completion record for DMA");
	bufs = map_buffers(bytes);

	step(7, "Connect the completion interrupt (optional)");
	efd = enable_completion_irq();

	step(8, "Submit one MEMMOVE descriptor to WQ 0");
	submit_memmove(&bufs, efd >= 0);

	step(9, "Wait for the completion");
	wait_completion(&bufs, efd);

	step(10, "Check the destination, shut down");
	check_copy(&bufs);
	shut_down(&bufs, efd);

	printf("\ndsa_copy: OK: the device copied %" PRIu64 " bytes\n", bytes);
	return 0;
}
