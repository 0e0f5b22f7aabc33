/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the dsa_mdev selftests: module load and unload, device
 * creation and removal, the WQ accounting, and a dump of all
 * driver-visible state.  The sysfs access they build on is lib/sysfs.h's,
 * which the samples share.
 *
 * Every function that can fail returns a negative errno; none of them
 * asserts, so the harness reports the failing step at the caller's line.
 * The exception, there only after kselftest_harness.h, is the module's
 * setup and teardown around a test, which assert.
 */
#ifndef DSA_MDEV_UTIL_H
#define DSA_MDEV_UTIL_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/sysfs.h"

#define DSA_MODULE_NAME		"dsa_mdev"
#define DSA_KO_ENV		"DSA_MDEV_KO"
#define DSA_MODULE_SUBDIR	"module"	/* lib.mk's TEST_GEN_MODS_DIR */
#define DSA_MODULE_DIR		"/sys/module/" DSA_MODULE_NAME
#define MDEV_BUS_DIR		"/sys/bus/mdev"
#define MDEV_BUS_CLASS_DIR	"/sys/class/mdev_bus"

#define DSA_STATE_MAX		(256 * 1024)

/*
 * dsa_mdev.ko to load: $DSA_MDEV_KO if set; else module/dsa_mdev.ko beside
 * this program, where make and make install put it; else the one this
 * kernel's modules.dep lists (make modules_install).  NULL if none is
 * found: then module_load() fails with -ENOENT and the test fails, it does
 * not skip.
 */
const char *module_path(void);
/*
 * A helper program: $@env_name if set, else @name beside this program if
 * executable, else NULL.  The string lasts until the next call.
 */
const char *helper_path(const char *env_name, const char *name);
/* finit_module(2) of @ko (may be NULL) with @params.  0 or -errno. */
int module_load(const char *ko, const char *params);
/* delete_module(2) of dsa_mdev, O_NONBLOCK as rmmod does.  0 or -errno. */
int module_unload(void);
bool module_loaded(void);
/*
 * Why the module tests cannot run here (not root, or no mdev core even
 * after modprobe mdev), or NULL.
 */
const char *skip_reason(void);

/* A deterministic lowercase UUID numbered @n. */
void make_uuid(char out[DSA_UUID_LEN + 1], unsigned int n);
/* Write @uuid to the type's create file.  0 or -errno. */
int mdev_create(int parent, int base, const char *uuid);
/* Write "1" to the device's remove file.  0 or -errno. */
int mdev_remove(const char *uuid);
/* Write @value to the device's dsa/aggregator file.  0 or -errno. */
int set_dev_aggregator(const char *uuid, int value);

/*
 * The WQ accounting invariant of parent dsa<parent>: every exposed type has
 * max_aggregator == total_wqs / base and a positive aggregator, no other
 * type directory exists, every device listed by a type holds exactly
 * base * its dsa/aggregator WQs with ids below total_wqs that no other
 * device holds, free_wqs == total_wqs - the WQs held, and every type's
 * available_instances == free_wqs / (base * type aggregator).
 * Returns 0, 1 if violated, or -errno if a file could not be read; in the
 * last two cases @msg says what is wrong.
 */
int check_parent_accounting(int parent, char *msg, size_t size);
/* check_parent_accounting() for every parent in /sys/class/dsa. */
int check_accounting(char *msg, size_t size);

/*
 * Everything the driver exposes, one "path=value" line per file, in sorted
 * order: per parent total/free, per type aggregator/available/max and the
 * devices it lists, per mdev device its dsa/ files.  Comparing two dumps
 * is the "nothing changed" check.  0 or -errno.
 */
int state_dump(char *buf, size_t size);
/*
 * 0 if two dumps are equal; otherwise 1, with the first line that differs
 * on each side described in @msg (one line, fit for a KTAP diagnostic).
 */
int state_compare(const char *before, const char *after, char *msg, size_t size);

#ifdef __KSELFTEST_HARNESS_H
/* --- with the harness: the module around a test ------------------------- */

/*
 * Skip the test where the module tests cannot run (skip_reason()); else
 * load the module with @params, none being loaded (a stale one is
 * unloaded).  @baseline gets the mdev device count before.  Returns false
 * if the test is skipped.
 */
static inline bool env_setup(struct __test_metadata *_metadata, const char *params,
			     int *baseline)
{
	const char *why = skip_reason(), *ko;

	if (why)
		SKIP(return false, "%s", why);
	ko = module_path();
	ASSERT_TRUE(path_exists(MDEV_BUS_DIR)) TH_LOG("mdev core not loaded (modprobe mdev)");
	if (module_loaded()) {
		ASSERT_EQ(0, module_unload()) TH_LOG("a stale dsa_mdev could not be unloaded");
	}
	*baseline = count_dir_entries(MDEV_DEVICES_DIR);
	ASSERT_LE(0, *baseline);
	ASSERT_EQ(0, module_load(ko, params)) TH_LOG("insmod %s %s", ko, params);
	return true;
}

/*
 * env_setup(), then device @uuid (make_uuid() @n) of dsa-<@base>dwq on dsa0;
 * if it cannot be created the module is unloaded again (a fixture's
 * teardown does not run after its setup failed).
 */
static inline void env_setup_device(struct __test_metadata *_metadata, const char *params,
				    int *baseline, int base, unsigned int n, char *uuid)
{
	int ret;

	if (!env_setup(_metadata, params, baseline))
		return;
	make_uuid(uuid, n);
	ret = mdev_create(0, base, uuid);
	if (ret)
		module_unload();
	ASSERT_EQ(0, ret) TH_LOG("create %s", uuid);
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

#endif /* DSA_MDEV_UTIL_H */
