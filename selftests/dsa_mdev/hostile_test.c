// SPDX-License-Identifier: GPL-2.0
/*
 * dsa_mdev hostile-user tests: what a VFIO user, or a guest behind QEMU
 * (which forwards a guest's BAR stores), can do to the host through a
 * device.  Each case is a reproducer of a defect found in review: it
 * crashed, stalled or flooded the host before the fix.
 *
 *   - wrapped_ranges: descriptors whose buffers wrap past the top of the
 *     64-bit address space complete with a page fault (status 0x03 and the
 *     buffer's address), or report it in SWERR without a record; they used
 *     to overflow in the engine, a kernel BUG;
 *   - bus_master_off: with bus mastering cleared, no DMA and no MSI-X;
 *   - msix_enable_and_mask: MSI-X Enable and the Function Mask decide
 *     whether an interrupt reaches its eventfd;
 *   - refusal_log_budget: refusals in a loop of opens log a bounded number
 *     of lines (the budget used to restart at every open);
 *   - root_log_budget: the same for bad create and aggregator writes;
 *   - sysfs_during_batch: a long BATCH neither blocks sysfs readers nor
 *     survives SIGKILL of its submitter for long, and its record says the
 *     batch failed;
 *   - big.wq_ids_fragmented: the WQ list of a fragmented device of a
 *     4096-WQ parent reads in full (it outgrew the page of a sysfs file);
 *   - big.dead_sessions_free_their_buffers: migration buffers are charged
 *     to the user's memory cgroup and freed when the session ends, though
 *     its data file stays open;
 *   - big.closed_device_migration_state: the VFIO core's debugfs file reads
 *     the migration state of a closed device.
 *
 * Each test loads the module (parents=1 wqs=64) and creates a dsa-1dwq
 * device; the teardown, in the parent process, unloads it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
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
#define BASE		1
#define MODULE_PARAMS	"parents=1 wqs=64"
#define TIMEOUT		600	/* per test, seconds: KASAN under TCG is slow */

/* The log budget (rust/logic/ratelimit.rs): 10 lines per 5 s. */
#define LOG_BURST	10
#define LOG_INTERVAL_S	5

/* The DMA space: records, then a list, then source and destination. */
#define MEM_SIZE	(64 * PAGE)
#define LIST_OFF	0x1000
#define SRC_OFF		0x20000
#define DST_OFF		0x30000

/* The top page of the 64-bit space. */
#define TOP		0xfffffffffffff000ULL

#define PCI_MSIX_CTRL	(MSIX_CAP + PCI_MSIX_FLAGS)

FIXTURE(hostile) {
	int baseline_devices;
	char uuid[DSA_UUID_LEN + 1];
	struct dev d;
};

FIXTURE_SETUP(hostile)
{
	env_setup_device(_metadata, MODULE_PARAMS, &self->baseline_devices, BASE, 1, self->uuid);
}

FIXTURE_TEARDOWN_PARENT(hostile)
{
	env_teardown(_metadata, self->baseline_devices);
}

/* Open the device through its cdev, map MEM_SIZE bytes at IOVA. */
static void open_dev(struct __test_metadata *_metadata, struct dev *d, const char *uuid)
{
	memset(d, 0, sizeof(*d));
	snprintf(d->uuid, sizeof(d->uuid), "%s", uuid);
	d->wqs = BASE;
	dev_open_mapped(_metadata, d, false, MEM_SIZE, 0);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* --- 1: buffers that wrap past the top of the address space -------------- */

TEST_F_TIMEOUT(hostile, wrapped_ranges, TIMEOUT)
{
	struct dsa_completion_record *cr;
	struct dsa_hw_desc desc;
	struct {
		uint8_t opcode;
		uint64_t a1, a2, fault;
		bool write;
	} cases[] = {
		/* The reproducer: the destination wraps (the copy is backward). */
		{ DSA_OPCODE_MEMMOVE, TOP, TOP + 0x40, TOP + 0x40, true },
		{ DSA_OPCODE_MEMMOVE, TOP + 0x80, 0, TOP + 0x80, false },
		{ DSA_OPCODE_MEMFILL, 0x5a5a, TOP + 8, TOP + 8, true },
		{ DSA_OPCODE_COMPARE, iova_of(SRC_OFF), TOP + 1, TOP + 1, false },
		{ DSA_OPCODE_COMPVAL, TOP + 9, 0, TOP + 9, false },
		{ DSA_OPCODE_CRCGEN, TOP + 2, 0, TOP + 2, false },
		{ DSA_OPCODE_COPY_CRC, iova_of(SRC_OFF), TOP + 3, TOP + 3, true },
	};
	uint64_t swerr[4];
	size_t i;

	open_dev(_metadata, &self->d, self->uuid);
	dev_enable(_metadata, &self->d);

	/* The exact reproducer: flags 0, no mapping, no record: SWERR. */
	desc = mkdesc(DSA_OPCODE_MEMMOVE, 0, TOP, TOP + 0x40, 0x1000);
	submit_at(_metadata, &self->d, PORTAL(0, 0, 0), &desc);
	read_swerr(_metadata, &self->d, swerr);
	ASSERT_X(swerr_word(DSA_COMP_PAGE_FAULT_NOBOF, 0, DSA_OPCODE_MEMMOVE, SWERR_FAULT_RW),
		 swerr[0]);
	ASSERT_X(TOP + 0x40, swerr[2]);
	swerr_ack(_metadata, &self->d);

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		desc = mkdesc(cases[i].opcode, F_CR, cases[i].a1, cases[i].a2, 0x1000);
		cr = run_on(_metadata, &self->d, 0, desc, 0);
		ASSERT_XM(DSA_COMP_PAGE_FAULT_NOBOF, cr->status, "case %zu", i);
		ASSERT_XM(cases[i].fault, cr->fault_addr, "case %zu", i);
		ASSERT_XM(cases[i].write, cr->fault_info & 1, "case %zu", i);
	}
	/* A batch list that wraps. */
	desc = mkdesc(DSA_OPCODE_BATCH, F_CR, UINT64_MAX - 63, 0, 2);
	cr = run_on(_metadata, &self->d, 0, desc, 0);
	ASSERT_X(DSA_COMP_BATCH_PAGE_FAULT, cr->status);
	ASSERT_X(UINT64_MAX - 63, cr->fault_addr);
	/* A record at the very top does not translate: SWERR. */
	desc = mkdesc(DSA_OPCODE_NOOP, F_CR, 0, 0, 0);
	desc.completion_addr = UINT64_MAX - 31;
	submit_at(_metadata, &self->d, PORTAL(0, 0, 0), &desc);
	read_swerr(_metadata, &self->d, swerr);
	ASSERT_X(DSA_COMP_CRA_XLAT, swerr_error(swerr[0]));
	ASSERT_X(UINT64_MAX - 31, swerr[2]);

	dev_close(_metadata, &self->d);
}

/* --- 2: bus mastering, MSI-X Enable, Function Mask ------------------------ */

/* A MEMMOVE of a page from SRC to DST with a record and vector 1. */
static struct dsa_hw_desc copy_desc(void)
{
	struct dsa_hw_desc desc = mkdesc(DSA_OPCODE_MEMMOVE, F_CR | IDXD_OP_FLAG_RCI,
					  iova_of(SRC_OFF), iova_of(DST_OFF), PAGE);

	desc.int_handle = 1;
	desc.completion_addr = cr_iova(0);
	return desc;
}

TEST_F_TIMEOUT(hostile, bus_master_off, TIMEOUT)
{
	struct dsa_hw_desc desc = copy_desc();
	struct dev *d = &self->d;
	uint64_t swerr[4];
	int32_t efd[2];

	open_dev(_metadata, d, self->uuid);
	dev_enable(_metadata, d);
	efd[0] = new_eventfd(_metadata);
	efd[1] = new_eventfd(_metadata);
	ASSERT_EQ(0, set_eventfds(d, 0, 2, efd));
	W32(d, IDXD_GENCTRL_OFFSET, GENCTRL_SOFTERR_INT_EN);
	fill(d->mem + SRC_OFF, PAGE, 7);

	/* Bus mastering off, memory decoding on: no DMA, no MSI-X. */
	CFG_W(d, PCI_COMMAND, PCI_COMMAND_MEMORY, 2);
	memset(cr_slot(d, 0), 0, 32);
	submit_at(_metadata, d, PORTAL(0, 0, 0), &desc);
	ASSERT_X(0, cr_slot(d, 0)->status);
	ASSERT_NE(0, memcmp(d->mem + SRC_OFF, d->mem + DST_OFF, PAGE)) TH_LOG("copied");
	ASSERT_EQ(0ULL, signalled(efd[1], 200)) TH_LOG("completion interrupt");
	ASSERT_EQ(0ULL, signalled(efd[0], 0)) TH_LOG("error interrupt");
	/* The lost record is in SWERR, as for any record that cannot be written. */
	read_swerr(_metadata, d, swerr);
	ASSERT_X(DSA_COMP_CRA_XLAT, swerr_error(swerr[0]));
	swerr_ack(_metadata, d);

	/* Back on: the same descriptor runs, and interrupts. */
	bus_master(_metadata, d);
	run_on(_metadata, d, 0, desc, 0);
	ASSERT_X(DSA_COMP_SUCCESS, cr_slot(d, 0)->status);
	assert_same(_metadata, "destination", d->mem + SRC_OFF, d->mem + DST_OFF, PAGE);
	ASSERT_EQ(1ULL, signalled(efd[1], 1000));
	dev_close(_metadata, d);
	close(efd[0]);
	close(efd[1]);
}

TEST_F_TIMEOUT(hostile, msix_enable_and_mask, TIMEOUT)
{
	struct dsa_hw_desc desc = copy_desc();
	struct dev *d = &self->d;
	int32_t efd[2];
	uint16_t ctl;

	open_dev(_metadata, d, self->uuid);
	dev_enable(_metadata, d);
	efd[0] = new_eventfd(_metadata);
	efd[1] = new_eventfd(_metadata);
	/* Attaching triggers enables MSI-X, as vfio-pci does. */
	ASSERT_EQ(0ULL, CFG_R(d, PCI_MSIX_CTRL, 2) & PCI_MSIX_FLAGS_ENABLE);
	ASSERT_EQ(0, set_eventfds(d, 0, 2, efd));
	ctl = CFG_R(d, PCI_MSIX_CTRL, 2);
	ASSERT_NE(0, ctl & PCI_MSIX_FLAGS_ENABLE);
	run_on(_metadata, d, 0, desc, 0);
	ASSERT_EQ(1ULL, signalled(efd[1], 1000));

	/* Function Mask: held, then delivered once on unmask. */
	CFG_W(d, PCI_MSIX_CTRL, ctl | PCI_MSIX_FLAGS_MASKALL, 2);
	run_on(_metadata, d, 0, desc, 0);
	run_on(_metadata, d, 0, desc, 0);
	ASSERT_X(DSA_COMP_SUCCESS, cr_slot(d, 0)->status);
	ASSERT_EQ(0ULL, signalled(efd[1], 200)) TH_LOG("masked vector fired");
	CFG_W(d, PCI_MSIX_CTRL, ctl, 2);
	ASSERT_EQ(1ULL, signalled(efd[1], 1000)) TH_LOG("pending vector not delivered");

	/* MSI-X Enable clear: lost, and not delivered when set again. */
	CFG_W(d, PCI_MSIX_CTRL, ctl & ~PCI_MSIX_FLAGS_ENABLE, 2);
	run_on(_metadata, d, 0, desc, 0);
	ASSERT_X(DSA_COMP_SUCCESS, cr_slot(d, 0)->status);
	ASSERT_EQ(0ULL, signalled(efd[1], 200)) TH_LOG("disabled MSI-X fired");
	CFG_W(d, PCI_MSIX_CTRL, ctl, 2);
	ASSERT_EQ(0ULL, signalled(efd[1], 200));
	run_on(_metadata, d, 0, desc, 0);
	ASSERT_EQ(1ULL, signalled(efd[1], 1000));
	dev_close(_metadata, d);
	close(efd[0]);
	close(efd[1]);
}

/* --- 3: log budgets -------------------------------------------------------- */

/*
 * The lines of @log that mention @needle must fit the budget over
 * @elapsed seconds: LOG_BURST per interval begun, plus one "not logged"
 * line for each.
 */
static void assert_budget(struct __test_metadata *_metadata, const char *log, const char *needle,
			  double elapsed, int attempts)
{
	int intervals = (int)(elapsed / LOG_INTERVAL_S) + 1;
	int lines = count_lines_with(log, needle);

	TH_LOG("%d attempts in %.1f s logged %d lines mentioning %s", attempts, elapsed, lines,
	       needle);
	ASSERT_LE(lines, intervals * (LOG_BURST + 1));
	ASSERT_LT(lines, attempts);
	ASSERT_LE(LOG_BURST, lines) TH_LOG("nothing was logged: the test looks at the wrong lines");
}

TEST_F_TIMEOUT(hostile, refusal_log_budget, TIMEOUT)
{
	static char log[256 * 1024];
	struct dev *d = &self->d;
	double t0 = now_s();
	uint8_t buf[3];
	int kfd, i, j, n;

	kfd = kmsg_mark();
	ASSERT_LE(0, kfd) TH_LOG("/dev/kmsg: %s", strerror(-kfd));
	for (i = 0; i < 40; i++) {
		open_dev(_metadata, d, self->uuid);
		for (j = 0; j < 9; j++)
			ASSERT_EQ(-EINVAL, rd(d, BAR0, 0, buf, 3));
		dev_close(_metadata, d);
	}
	n = kmsg_since(kfd, log, sizeof(log));
	ASSERT_LE(0, n);
	close(kfd);
	assert_budget(_metadata, log, self->uuid, now_s() - t0, 360);
}

TEST_F_TIMEOUT(hostile, root_log_budget, TIMEOUT)
{
	static char log[256 * 1024];
	char uuid[DSA_UUID_LEN + 1];
	double t0 = now_s();
	int kfd, i, n;

	kfd = kmsg_mark();
	ASSERT_LE(0, kfd);
	/* The rest of the parent: 63 WQs in one device; then nothing fits. */
	ASSERT_EQ(0, sysfs_write_str(type_path(0, 1, "aggregator").s, "63"));
	make_uuid(uuid, 2);
	ASSERT_EQ(0, mdev_create(0, 1, uuid));
	for (i = 0; i < 40; i++) {
		make_uuid(uuid, 100 + i);
		ASSERT_EQ(-ENOSPC, mdev_create(0, 1, uuid));
		ASSERT_EQ(-EINVAL, sysfs_write_str(type_path(0, 2, "aggregator").s, "0x10"));
	}
	n = kmsg_since(kfd, log, sizeof(log));
	ASSERT_LE(0, n);
	close(kfd);
	assert_budget(_metadata, log, "dsa0: ", now_s() - t0, 80);
}

/* --- 4: a long batch, sysfs readers and SIGKILL ---------------------------- */

#define BATCH_N		(1 << MAX_BATCH_SHIFT)
#define BATCH_XFER	(1 << MAX_XFER_SHIFT)

/*
 * In a child: open the device, map @shared (records, list, source and
 * destination), submit a batch of BATCH_N MEMMOVEs of BATCH_XFER bytes each
 * (the largest batch of the largest transfers: 512 of 2 MiB) and exit
 * when it returns.
 */
static void batch_child(struct __test_metadata *_metadata, const char *uuid, uint8_t *shared,
			size_t size)
{
	struct dsa_hw_desc list_desc, *list = (struct dsa_hw_desc *)(shared + LIST_OFF);
	struct dev d;
	int i;

	memset(&d, 0, sizeof(d));
	snprintf(d.uuid, sizeof(d.uuid), "%s", uuid);
	d.wqs = BASE;
	d.l = layout_for(d.wqs);
	d.via_group = false;
	open_device(_metadata, false, d.uuid, &d.h);
	dev_set_fd(&d);
	d.mem = shared;
	d.mem_size = size;
	dma_map(_metadata, &d, shared, IOVA, size, true);
	dev_enable(_metadata, &d);
	for (i = 0; i < BATCH_N; i++) {
		list[i] = mkdesc(DSA_OPCODE_MEMMOVE, F_CR, iova_of(SRC_OFF),
				 iova_of(SRC_OFF + BATCH_XFER), BATCH_XFER);
		list[i].completion_addr = cr_iova(1);
	}
	list_desc = mkdesc(DSA_OPCODE_BATCH, F_CR, iova_of(LIST_OFF), 0, BATCH_N);
	list_desc.completion_addr = cr_iova(0);
	/* Tell the parent, then block in the write. */
	shared[PAGE - 1] = 1;
	submit_at(_metadata, &d, PORTAL(0, 0, 0), &list_desc);
	_exit(0);
}

TEST_F_TIMEOUT(hostile, sysfs_during_batch, TIMEOUT)
{
	size_t size = SRC_OFF + 2 * BATCH_XFER;
	struct dsa_completion_record *cr;
	double t, read_s, kill_s;
	uint8_t *shared;
	char buf[64];
	int status;
	pid_t pid;

	shared = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, shared);
	memset(shared, 0, size);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0)
		batch_child(_metadata, self->uuid, shared, size);

	while (!shared[PAGE - 1])
		usleep(1000);
	/* Let it get into the batch. */
	usleep(300 * 1000);
	ASSERT_EQ(0, waitpid(pid, &status, WNOHANG)) TH_LOG("the batch ended too soon to test");

	t = now_s();
	ASSERT_LT(0, sysfs_read(dev_path(self->uuid, "dsa/aggregator").s, buf, sizeof(buf)));
	ASSERT_LT(0, sysfs_read(dev_path(self->uuid, "dsa/wq_ids").s, buf, sizeof(buf)));
	read_s = now_s() - t;

	t = now_s();
	ASSERT_EQ(0, kill(pid, SIGKILL));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	kill_s = now_s() - t;
	TH_LOG("sysfs reads took %.3f s during the batch; SIGKILL took %.3f s", read_s, kill_s);
	ASSERT_LT(read_s, 1.0);
	ASSERT_LT(kill_s, 1.0);
	ASSERT_TRUE(WIFSIGNALED(status));

	/* The batch failed, counting what completed before the kill. */
	cr = (struct dsa_completion_record *)(shared + CR_OFF);
	ASSERT_X(DSA_COMP_BATCH_FAIL, cr->status);
	ASSERT_LT(cr->descs_completed, (uint32_t)BATCH_N);
	munmap(shared, size);
}

/* --- 5-7: a 4096-WQ parent ---------------------------------------------- */

FIXTURE(big) {
	int baseline_devices;
};

FIXTURE_SETUP(big)
{
	env_setup(_metadata, "parents=1 wqs=4096 types=1,8", &self->baseline_devices);
}

FIXTURE_TEARDOWN_PARENT(big)
{
	env_teardown(_metadata, self->baseline_devices);
}

TEST_F_TIMEOUT(big, wq_ids_fragmented, TIMEOUT)
{
	static char text[32768];
	static unsigned char set[DSA_MAX_WQS];
	char x[DSA_UUID_LEN + 1], y[DSA_UUID_LEN + 1];
	int i, n;

	/* X and Y grow in turn: X holds 0, 2, ..., 4094 and Y the odd ids. */
	make_uuid(x, 1);
	make_uuid(y, 2);
	ASSERT_EQ(0, mdev_create(0, 1, x));
	ASSERT_EQ(0, mdev_create(0, 1, y));
	for (i = 2; i <= DSA_MAX_WQS / 2; i++) {
		ASSERT_EQ(0, set_dev_aggregator(x, i));
		ASSERT_EQ(0, set_dev_aggregator(y, i));
	}
	n = sysfs_read(dev_path(x, "dsa/wq_ids").s, text, sizeof(text));
	ASSERT_LT(4096, n) TH_LOG("%s: %s", x, n < 0 ? strerror(-n) : "short");
	memset(set, 0, sizeof(set));
	ASSERT_EQ(DSA_MAX_WQS / 2, parse_id_list(text, set, DSA_MAX_WQS));
	for (i = 0; i < DSA_MAX_WQS; i++) {
		ASSERT_EQ(i % 2 == 0, set[i]) TH_LOG("WQ %d", i);
	}
	TH_LOG("wq_ids of the fragmented device: %d bytes", n);
	n = sysfs_read(dev_path(y, "dsa/wq_ids").s, text, sizeof(text));
	memset(set, 0, sizeof(set));
	ASSERT_EQ(DSA_MAX_WQS / 2, parse_id_list(text, set, DSA_MAX_WQS));
	ASSERT_EQ(1, set[4095]);
}

#define CGROUP_ROOT	"/sys/fs/cgroup"
#define CGROUP		CGROUP_ROOT "/dsa_mdev_test"

/* The memory charged to this test's cgroup, in bytes, or -errno. */
static long long charged(void)
{
	return sysfs_read_num(CGROUP "/memory.current");
}

/* Moves the test into a memory cgroup of its own; false if impossible. */
static bool own_memcg(void)
{
	char pid[16];

	if (!path_exists(CGROUP_ROOT "/cgroup.controllers"))
		mount("none", CGROUP_ROOT, "cgroup2", 0, NULL);
	sysfs_write_str(CGROUP_ROOT "/cgroup.subtree_control", "+memory");
	mkdir(CGROUP, 0755);
	snprintf(pid, sizeof(pid), "%d", getpid());
	return sysfs_write_str(CGROUP "/cgroup.procs", pid) == 0 && charged() >= 0;
}

TEST_F_TIMEOUT(big, dead_sessions_free_their_buffers, TIMEOUT)
{
	long long start, before, live, after;
	int fds[16], i;
	struct dev d;

	if (!own_memcg())
		SKIP(return, "no memory cgroup (CONFIG_MEMCG)");
	memset(&d, 0, sizeof(d));
	make_uuid(d.uuid, 3);
	ASSERT_EQ(0, sysfs_write_str(type_path(0, 8, "aggregator").s, "512"));
	ASSERT_EQ(0, mdev_create(0, 8, d.uuid));
	d.wqs = 4096;
	dev_open_mapped(_metadata, &d, false, 16 * PAGE, 0);

	start = charged();
	for (i = 0; i < (int)ARRAY_SIZE(fds); i++) {
		before = charged();
		ASSERT_EQ(0, mig_set_state(d.fd, VFIO_DEVICE_STATE_STOP, &fds[i]));
		ASSERT_EQ(0, mig_set_state(d.fd, VFIO_DEVICE_STATE_RESUMING, &fds[i]));
		ASSERT_LE(0, fds[i]);
		live = charged();
		/* A reset ends the session; the data fd stays open, dead. */
		ASSERT_EQ(0, ioctl(d.fd, VFIO_DEVICE_RESET));
		after = charged();
		if (i == 0)
			TH_LOG("a RESUMING session of 4096 WQs: %lld bytes charged, %lld left after reset",
			       live - before, after - before);
		/*
		 * Its stream (546 KiB) and target model (544 KiB: WQCFG and
		 * portal slot, 136 bytes per WQ) are charged.
		 */
		ASSERT_LE(400 * 1024, live - before) TH_LOG("session %d not charged", i);
	}
	/*
	 * And freed with their sessions: 16 dead files are a few objects each
	 * (memory.current moves in pages, and per-CPU charge batches blur it
	 * by up to 256 KiB), where 16 live ones held 17 MiB.
	 */
	after = charged();
	TH_LOG("%zu dead sessions with their fds open hold %lld bytes", ARRAY_SIZE(fds),
	       after - start);
	ASSERT_GT(2 * 1024 * 1024, after - start);
	for (i = 0; i < (int)ARRAY_SIZE(fds); i++)
		close(fds[i]);
	dev_close(_metadata, &d);
}

TEST_F_TIMEOUT(big, closed_device_migration_state, TIMEOUT)
{
	char uuid[DSA_UUID_LEN + 1], path[128], text[64];

	make_uuid(uuid, 4);
	ASSERT_EQ(0, mdev_create(0, 1, uuid));
	/* Named after the VFIO device's parent: the mdev. */
	snprintf(path, sizeof(path), "/sys/kernel/debug/vfio/%s/migration/state", uuid);
	if (!path_exists("/sys/kernel/debug/vfio"))
		mount("none", "/sys/kernel/debug", "debugfs", 0, NULL);
	if (!path_exists(path))
		SKIP(return, "no VFIO debugfs (CONFIG_VFIO_DEBUGFS)");
	/* Never opened: the VFIO core asks the driver all the same. */
	ASSERT_LT(0, sysfs_read(path, text, sizeof(text)));
	ASSERT_STREQ("RUNNING\n", text);
}

TEST_HARNESS_MAIN
