// SPDX-License-Identifier: GPL-2.0
/*
 * Programming a DSA device through its VFIO device fd.  See dsa.h.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <linux/pci_regs.h>

#include "dsa.h"
#include "sysfs.h"
#include "vfio.h"

/* --- registers -------------------------------------------------------------- */

int dsa_mmio_init(struct dsa_mmio *m, int fd)
{
	int ret;

	m->fd = fd;
	ret = vfio_region_offset(fd, VFIO_PCI_BAR0_REGION_INDEX, &m->bar0);
	if (!ret)
		ret = vfio_region_offset(fd, VFIO_PCI_BAR2_REGION_INDEX, &m->bar2);
	if (!ret)
		ret = vfio_region_offset(fd, VFIO_PCI_CONFIG_REGION_INDEX, &m->config);
	return ret;
}

/* The bytes transferred as 0, -errno, or -EIO. */
static int whole(ssize_t n, size_t len)
{
	if (n < 0)
		return n;
	return (size_t)n == len ? 0 : -EIO;
}

int dsa_read(const struct dsa_mmio *m, uint64_t reg, void *v, size_t len)
{
	return whole(vfio_pread(m->fd, v, len, m->bar0 + reg), len);
}

int dsa_write(const struct dsa_mmio *m, uint64_t reg, const void *v, size_t len)
{
	return whole(vfio_pwrite(m->fd, v, len, m->bar0 + reg), len);
}

/* --- commands ---------------------------------------------------------------- */

const char *dsa_cmd_name(uint32_t cmd)
{
	static const char *const names[] = {
		[IDXD_CMD_ENABLE_DEVICE] = "ENABLE_DEVICE",
		[IDXD_CMD_DISABLE_DEVICE] = "DISABLE_DEVICE",
		[IDXD_CMD_DRAIN_ALL] = "DRAIN_ALL",
		[IDXD_CMD_ABORT_ALL] = "ABORT_ALL",
		[IDXD_CMD_RESET_DEVICE] = "RESET_DEVICE",
		[IDXD_CMD_ENABLE_WQ] = "ENABLE_WQ",
		[IDXD_CMD_DISABLE_WQ] = "DISABLE_WQ",
		[IDXD_CMD_DRAIN_WQ] = "DRAIN_WQ",
		[IDXD_CMD_ABORT_WQ] = "ABORT_WQ",
		[IDXD_CMD_RESET_WQ] = "RESET_WQ",
		[IDXD_CMD_DRAIN_PASID] = "DRAIN_PASID",
		[IDXD_CMD_ABORT_PASID] = "ABORT_PASID",
		[IDXD_CMD_REQUEST_INT_HANDLE] = "REQUEST_INT_HANDLE",
		[IDXD_CMD_RELEASE_INT_HANDLE] = "RELEASE_INT_HANDLE",
	};

	return cmd < ARRAY_SIZE(names) && names[cmd] ? names[cmd] : "an unknown command";
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* As dsa.c's dsa_command(): poll CMDSTS every millisecond. */
int dsa_command(const struct dsa_mmio *m, uint32_t cmd, uint32_t operand, int timeout_ms,
		uint32_t *cmdsts)
{
	long long deadline = now_ms() + timeout_ms;
	uint32_t v = dsa_cmd_reg(cmd, operand, false);
	int ret;

	*cmdsts = 0;
	ret = dsa_write(m, IDXD_CMD_OFFSET, &v, sizeof(v));
	for (;;) {
		if (!ret)
			ret = dsa_read(m, IDXD_CMDSTS_OFFSET, cmdsts, sizeof(*cmdsts));
		if (ret)
			return ret;
		if (!(*cmdsts & IDXD_CMDSTS_ACTIVE))
			return 0;
		if (now_ms() >= deadline)
			return -ETIMEDOUT;
		usleep(1000);
	}
}

int dsa_submit(const struct dsa_mmio *m, uint64_t portal, const struct dsa_hw_desc *desc)
{
	return whole(vfio_pwrite(m->fd, desc, sizeof(*desc), m->bar2 + portal), sizeof(*desc));
}

/* --- capabilities and WQs ---------------------------------------------------- */

/* As dsa.c's dsa_register_cache_init(). */
int dsa_read_caps(const struct dsa_mmio *m, struct dsa_caps *c)
{
	int ret;

	memset(c, 0, sizeof(*c));
	ret = dsa_read(m, IDXD_GENCAP_OFFSET, &c->gen_cap.bits, 8);
	if (!ret)
		ret = dsa_read(m, IDXD_WQCAP_OFFSET, &c->wq_cap.bits, 8);
	if (!ret)
		ret = dsa_read(m, IDXD_GRPCAP_OFFSET, &c->group_cap.bits, 8);
	if (!ret)
		ret = dsa_read(m, IDXD_ENGCAP_OFFSET, &c->engine_cap.bits, 8);
	if (!ret)
		ret = dsa_read(m, IDXD_TABLE_OFFSET, &c->table.bits[0], 8);
	if (!ret)
		ret = dsa_read(m, IDXD_TABLE_OFFSET + 8, &c->table.bits[1], 8);
	if (ret)
		return ret;
	c->grpcfg = c->table.grpcfg * IDXD_TABLE_MULT;
	c->wqcfg = c->table.wqcfg * IDXD_TABLE_MULT;
	c->wqcfg_size = 1U << (c->wq_cap.wqcfg_size + IDXD_WQCFG_MIN);
	return 0;
}

/* As dsa.c's dsa_wq_init(), for any size. */
union wqcfg dsa_wqcfg_dedicated(const struct dsa_caps *c, unsigned int wq_size)
{
	return (union wqcfg){
		.wq_size = wq_size,
		.mode = 1,
		.priority = 1,
		.wq_ats_disable = c->wq_cap.wq_ats_support,
		.max_xfer_shift = c->gen_cap.max_xfer_shift,
		.max_batch_shift = c->gen_cap.max_batch_shift,
		.op_config[0] = 1U << DSA_OPCODE_MEMMOVE | 1U << DSA_OPCODE_BATCH,
	};
}

/* The 32-bit words of an entry that union wqcfg covers. */
static unsigned int wqcfg_words(const struct dsa_caps *c)
{
	unsigned int n = c->wqcfg_size / 4;

	return n < ARRAY_SIZE(((union wqcfg *)0)->bits) ? n : ARRAY_SIZE(((union wqcfg *)0)->bits);
}

int dsa_wqcfg_write(const struct dsa_mmio *m, const struct dsa_caps *c, unsigned int wq,
		    const union wqcfg *cfg)
{
	uint64_t entry = c->wqcfg + (uint64_t)wq * c->wqcfg_size;
	unsigned int i;
	int ret = 0;

	for (i = 0; i < wqcfg_words(c) && !ret; i++)
		ret = dsa_write(m, entry + 4 * i, &cfg->bits[i], 4);
	return ret;
}

int dsa_wqcfg_read(const struct dsa_mmio *m, const struct dsa_caps *c, unsigned int wq,
		   union wqcfg *cfg)
{
	uint64_t entry = c->wqcfg + (uint64_t)wq * c->wqcfg_size;
	unsigned int i;
	int ret = 0;

	memset(cfg, 0, sizeof(*cfg));
	for (i = 0; i < wqcfg_words(c) && !ret; i++)
		ret = dsa_read(m, entry + 4 * i, &cfg->bits[i], 4);
	return ret;
}

/* --- bringing a device up -------------------------------------------------------- */

static int step_failed(char *err, size_t size, int ret, uint32_t cmdsts, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

/* Describe the failed step (and CMDSTS, for a command's error) in @err. */
static int step_failed(char *err, size_t size, int ret, uint32_t cmdsts, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!size)
		return ret;
	va_start(ap, fmt);
	n = vsnprintf(err, size, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= size)
		return ret;
	if (ret == -EIO && (cmdsts & IDXD_CMDSTS_ERR_MASK))
		snprintf(err + n, size - n, ": CMDSTS 0x%08x", cmdsts);
	else
		snprintf(err + n, size - n, ": %s", strerror(-ret));
	return ret;
}

/* A command, which must succeed. */
static int command_ok(const struct dsa_mmio *m, uint32_t cmd, uint32_t operand, int timeout_ms,
		      char *err, size_t size)
{
	uint32_t sts;
	int ret = dsa_command(m, cmd, operand, timeout_ms, &sts);

	if (!ret && (sts & IDXD_CMDSTS_ERR_MASK))
		ret = -EIO;
	if (ret)
		return step_failed(err, size, ret, sts, "%s (operand %u)", dsa_cmd_name(cmd),
				   operand);
	return 0;
}

int dsa_reset(const struct dsa_mmio *m, int timeout_ms, struct dsa_caps *c, char *err,
	      size_t size)
{
	uint16_t cmd;
	ssize_t n;
	int ret;

	n = vfio_pread(m->fd, &cmd, sizeof(cmd), m->config + PCI_COMMAND);
	if (n == sizeof(cmd)) {
		cmd |= PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_INTX_DISABLE;
		n = vfio_pwrite(m->fd, &cmd, sizeof(cmd), m->config + PCI_COMMAND);
	}
	ret = whole(n, sizeof(cmd));
	if (ret)
		return step_failed(err, size, ret, 0, "PCI_COMMAND");
	ret = command_ok(m, IDXD_CMD_RESET_DEVICE, 0, timeout_ms, err, size);
	if (ret)
		return ret;
	ret = dsa_read_caps(m, c);
	if (ret)
		return step_failed(err, size, ret, 0, "the capability registers");
	return 0;
}

int dsa_enable_wqs(const struct dsa_mmio *m, const struct dsa_caps *c, unsigned int wqs,
		   int timeout_ms, char *err, size_t size)
{
	unsigned int wq, share = wqs ? c->wq_cap.total_wq_size / wqs : 0;
	union wqcfg cfg = dsa_wqcfg_dedicated(c, share);
	int ret;

	/* WQCAP's num_wqs stops at 255: dsa_mdev's devices have up to 4096. */
	if (!share)
		return step_failed(err, size, -EINVAL, 0, "%u WQ entries shared by %u WQs",
				   (unsigned int)c->wq_cap.total_wq_size, wqs);
	for (wq = 0; wq < wqs; wq++) {
		ret = dsa_wqcfg_write(m, c, wq, &cfg);
		if (ret)
			return step_failed(err, size, ret, 0, "WQCFG of WQ %u", wq);
	}
	/* The configuration is checked when the device, then each WQ, is enabled. */
	ret = command_ok(m, IDXD_CMD_ENABLE_DEVICE, 0, timeout_ms, err, size);
	for (wq = 0; wq < wqs && !ret; wq++)
		ret = command_ok(m, IDXD_CMD_ENABLE_WQ, wq, timeout_ms, err, size);
	return ret;
}
