// SPDX-License-Identifier: GPL-2.0
/*
 * dsa_mdev sysfs ABI selftest.
 *
 * Every test loads dsa_mdev.ko (module_path(): module/ beside the test, or
 * $DSA_MDEV_KO) with parents=2 wqs=64 and unloads it afterwards, so each
 * one starts from a known state.  Every
 * rejected write is checked for its errno and for leaving all
 * driver-visible state unchanged; every step that changes devices is
 * followed by a full check of the WQ accounting.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "dsa_mdev_util.h"

/*
 * The harness's 30 s per test is too short on the debug kernel (KASAN,
 * lockdep, kmemleak) under TCG, where everything runs ~35x slower; the
 * test macros expand this at their use below.
 */
#undef TEST_TIMEOUT_DEFAULT
#define TEST_TIMEOUT_DEFAULT 300

/*
 * Note: ASSERT_*() and EXPECT_*() expand to two statements (the check and
 * the optional TH_LOG handler), so an if or for around one needs braces.
 */

#define PARENTS		2
#define WQS		64
#define MODULE_PARAMS	"parents=2 wqs=64"

static const int bases[] = { 1, 2, 4, 8 };

/* Large buffers for state dumps: tests run in their own process. */
static char state_before[DSA_STATE_MAX];
static char state_after[DSA_STATE_MAX];

/* --- small helpers ---------------------------------------------------- */

/* Printable one-line form of file content or a write payload. */
static const char *escape_to(char *out, size_t size, const char *data, size_t len)
{
	size_t i, o = 0;

	for (i = 0; i < len && o + 5 < size; i++) {
		unsigned char c = data[i];

		if (c == '\n')
			o += snprintf(out + o, size - o, "\\n");
		else if (c < 0x20 || c >= 0x7f)
			o += snprintf(out + o, size - o, "\\x%02x", c);
		else
			out[o++] = c;
	}
	out[o] = '\0';
	return out;
}

static const char *escape(const char *data, size_t len)
{
	static char out[1024];

	return escape_to(out, sizeof(out), data, len);
}

/* Copy the line of @text that starts with "@key=" (without newline). */
static int get_line(const char *text, const char *key, char *out, size_t size)
{
	size_t klen = strlen(key);
	const char *line = text;

	while (*line) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);

		if (len > klen && !strncmp(line, key, klen) && line[klen] == '=') {
			if (len >= size)
				return -EOVERFLOW;
			memcpy(out, line, len);
			out[len] = '\0';
			return 0;
		}
		if (!nl)
			break;
		line = nl + 1;
	}
	return -ENOENT;
}

/* True if @text contains @num as a whole decimal number. */
static bool mentions_number(const char *text, int num)
{
	const char *p = text;

	while (*p) {
		if (isdigit((unsigned char)*p)) {
			char *end;
			long v = strtol(p, &end, 10);

			if (v == num)
				return true;
			p = end;
		} else {
			p++;
		}
	}
	return false;
}

static void expected_compatible(char *buf, size_t size, int base, int total)
{
	char range[32];

	if (total / base == 1)
		snprintf(range, sizeof(range), "1");
	else
		snprintf(range, sizeof(range), "1-%d", total / base);
	snprintf(buf, size,
		 "device_api=vfio-pci\n"
		 "mdev_type=dsa-%ddwq\n"
		 "aggregator={aggregator:int:%s}\n"
		 "migration_version_major=1\n"
		 "migration_version_minor={minor:int:0-1}\n"
		 "dynamic_resources=aggregator\n",
		 base, range);
}

static void expected_self(char *buf, size_t size, int base, int aggregator)
{
	snprintf(buf, size,
		 "device_api=vfio-pci\n"
		 "mdev_type=dsa-%ddwq\n"
		 "aggregator=%d\n"
		 "migration_version_major=1\n"
		 "migration_version_minor=1\n"
		 "dynamic_resources=aggregator\n",
		 base, aggregator);
}

static int set_type_aggregator(int parent, int base, int value)
{
	char buf[16];

	snprintf(buf, sizeof(buf), "%d", value);
	return sysfs_write_str(type_path(parent, base, "aggregator").s, buf);
}

static bool dev_exists(const char *uuid)
{
	return path_exists(dev_path(uuid, "").s);
}

/* --- compound assertions ---------------------------------------------- */

/* The WQ accounting of every parent holds (see check_parent_accounting). */
static void assert_consistent(struct __test_metadata *_metadata)
{
	char msg[512];

	ASSERT_EQ(0, check_accounting(msg, sizeof(msg))) TH_LOG("%s", msg);
	ASSERT_EQ(PARENTS, count_dir_entries(DSA_CLASS_DIR));
}

static void snapshot(struct __test_metadata *_metadata, char *buf)
{
	ASSERT_EQ(0, state_dump(buf, DSA_STATE_MAX));
}

static void assert_unchanged(struct __test_metadata *_metadata, const char *before)
{
	char diff[1024];

	ASSERT_EQ(0, state_dump(state_after, sizeof(state_after)));
	ASSERT_EQ(0, state_compare(before, state_after, diff, sizeof(diff))) TH_LOG("%s", diff);
}

/* @seen equals @expected; on failure both are logged on one line each. */
static void assert_text(struct __test_metadata *_metadata, const char *what,
			const char *expected, const char *seen)
{
	char e[1024], s[1024];

	ASSERT_EQ(0, strcmp(expected, seen)) {
		TH_LOG("%s: expected \"%s\"", what, escape_to(e, sizeof(e), expected, strlen(expected)));
		TH_LOG("%s:      got \"%s\"", what, escape_to(s, sizeof(s), seen, strlen(seen)));
	}
}

static void assert_file(struct __test_metadata *_metadata, const char *path,
			const char *expected)
{
	char buf[4096];

	ASSERT_LE(0, sysfs_read(path, buf, sizeof(buf))) TH_LOG("%s", path);
	assert_text(_metadata, path, expected, buf);
}

static void create_ok(struct __test_metadata *_metadata, int parent, int base,
		      const char *uuid)
{
	ASSERT_EQ(0, mdev_create(parent, base, uuid))
		TH_LOG("create %s on dsa%d/dsa-%ddwq", uuid, parent, base);
	assert_consistent(_metadata);
}

static void remove_ok(struct __test_metadata *_metadata, const char *uuid)
{
	ASSERT_EQ(0, mdev_remove(uuid)) TH_LOG("remove %s", uuid);
	ASSERT_FALSE(dev_exists(uuid));
	assert_consistent(_metadata);
}

/*
 * Inputs every aggregator file (type and device) must reject with EINVAL.
 * The empty write is absent on purpose: sysfs completes a zero-byte write
 * without calling the driver (see *_empty_write_* tests).
 */
struct input {
	const char *data;
	size_t len;
};
#define INPUT(s) { s, sizeof(s) - 1 }

static const struct input bad_aggregator_inputs[] = {
	INPUT("0"), INPUT("-1"), INPUT("+1"), INPUT("0x10"), INPUT(" 1"),
	INPUT("1 "), INPUT("\n"), INPUT("1\n\n"), INPUT("abc"),
	INPUT("99999999999999999999"),
	INPUT("4294967297"),		/* 2^32 + 1: wraps to 1 in a u32 */
	INPUT("18446744073709551617"),	/* 2^64 + 1: wraps to 1 in a u64 */
	INPUT("1\0"), INPUT("1\t"), INPUT("1.0"), INPUT("2,3"), INPUT("1a"),
	INPUT("00x1"),
};

/*
 * Every bad input, plus max + 1, written to @path fails with EINVAL and
 * leaves everything as it was.
 */
static void assert_rejects_bad_aggregators(struct __test_metadata *_metadata,
					   const char *path, int max)
{
	char above_max[16];
	size_t i;
	int ret;

	snapshot(_metadata, state_before);
	for (i = 0; i < ARRAY_SIZE(bad_aggregator_inputs); i++) {
		const struct input *in = &bad_aggregator_inputs[i];

		ret = sysfs_write(path, in->data, in->len);
		EXPECT_EQ(-EINVAL, ret) TH_LOG("%s <- \"%s\"", path, escape(in->data, in->len));
		assert_unchanged(_metadata, state_before);
	}
	snprintf(above_max, sizeof(above_max), "%d", max + 1);
	EXPECT_EQ(-EINVAL, sysfs_write_str(path, above_max)) TH_LOG("%s <- %s", path, above_max);
	assert_unchanged(_metadata, state_before);
}

/* --- fixture ------------------------------------------------------------ */

FIXTURE(dsa) {
	int baseline_devices;	/* mdev devices present before loading */
};

/* Skip, or load the module. */
FIXTURE_SETUP(dsa)
{
	env_setup(_metadata, MODULE_PARAMS, &self->baseline_devices);
}

/* In the parent, so the module is unloaded even after a crash or abort. */
FIXTURE_TEARDOWN_PARENT(dsa)
{
	env_teardown(_metadata, self->baseline_devices);
}

/* --- parents and types ------------------------------------------------- */

TEST_F(dsa, parents_exist_with_all_wqs_free)
{
	int parent;

	ASSERT_EQ(PARENTS, count_dir_entries(DSA_CLASS_DIR));
	for (parent = 0; parent < PARENTS; parent++) {
		char bus[64];

		ASSERT_EQ(WQS, sysfs_read_num(parent_path(parent, "total_wqs").s));
		ASSERT_EQ(WQS, sysfs_read_num(parent_path(parent, "free_wqs").s));
		snprintf(bus, sizeof(bus), MDEV_BUS_CLASS_DIR "/dsa%d", parent);
		ASSERT_TRUE(path_exists(bus)) TH_LOG("%s", bus);
	}
	ASSERT_FALSE(path_exists(parent_path(PARENTS, "").s));
	ASSERT_FALSE(path_exists(MDEV_BUS_CLASS_DIR "/dsa2"));
	assert_consistent(_metadata);
}

TEST_F(dsa, default_types_are_exposed)
{
	int parent, i;

	for (parent = 0; parent < PARENTS; parent++) {
		ASSERT_EQ(4, count_dir_entries(parent_path(parent, "mdev_supported_types").s));
		for (i = 0; i < 4; i++) {
			ASSERT_TRUE(path_exists(type_path(parent, bases[i], "").s))
				TH_LOG("dsa%d/dsa-%ddwq", parent, bases[i]);
		}
	}
}

TEST_F(dsa, type_name_device_api_and_description)
{
	char expected[64], desc[4096];
	int i;

	for (i = 0; i < 4; i++) {
		int base = bases[i];

		snprintf(expected, sizeof(expected), "dsa-%ddwq\n", base);
		assert_file(_metadata, type_path(0, base, "name").s, expected);
		assert_file(_metadata, type_path(0, base, "device_api").s, "vfio-pci\n");
		ASSERT_LT(1, sysfs_read(type_path(0, base, "description").s, desc, sizeof(desc)));
		/* One line of text, newline-terminated, naming the base. */
		ASSERT_EQ(desc + strlen(desc) - 1, strchr(desc, '\n'))
			TH_LOG("\"%s\"", escape(desc, strlen(desc)));
		ASSERT_TRUE(mentions_number(desc, base))
			TH_LOG("\"%s\"", escape(desc, strlen(desc)));
	}
}

TEST_F(dsa, type_counts_start_at_defaults)
{
	int i;

	for (i = 0; i < 4; i++) {
		int base = bases[i];

		assert_file(_metadata, type_path(0, base, "aggregator").s, "1\n");
		ASSERT_EQ(WQS / base, sysfs_read_num(type_path(0, base, "max_aggregator").s));
		ASSERT_EQ(WQS / base, sysfs_read_num(type_path(0, base, "available_instances").s));
		ASSERT_EQ(0, count_dir_entries(type_path(0, base, "devices").s));
	}
}

TEST_F(dsa, type_compatible_is_exact)
{
	char expected[512];
	int parent, i;

	for (parent = 0; parent < PARENTS; parent++) {
		for (i = 0; i < 4; i++) {
			expected_compatible(expected, sizeof(expected), bases[i], WQS);
			assert_file(_metadata, type_path(parent, bases[i], "compatible").s,
				    expected);
		}
	}
}

TEST_F(dsa, read_only_files_reject_writes)
{
	static const char *const parent_files[] = { "total_wqs", "free_wqs" };
	static const char *const type_files[] = {
		"name", "description", "device_api", "available_instances",
		"max_aggregator", "compatible",
	};
	static const char *const dev_files[] = { "dsa/wq_ids", "dsa/self" };
	char uuid[DSA_UUID_LEN + 1];
	size_t i;

	make_uuid(uuid, 1);
	create_ok(_metadata, 0, 2, uuid);
	snapshot(_metadata, state_before);

	for (i = 0; i < ARRAY_SIZE(parent_files); i++) {
		struct spath p = parent_path(0, parent_files[i]);

		EXPECT_EQ(-EACCES, sysfs_write_str(p.s, "1")) TH_LOG("%s", p.s);
	}
	for (i = 0; i < ARRAY_SIZE(type_files); i++) {
		struct spath p = type_path(0, 2, type_files[i]);

		EXPECT_EQ(-EACCES, sysfs_write_str(p.s, "1")) TH_LOG("%s", p.s);
	}
	for (i = 0; i < ARRAY_SIZE(dev_files); i++) {
		struct spath p = dev_path(uuid, dev_files[i]);

		EXPECT_EQ(-EACCES, sysfs_write_str(p.s, "1")) TH_LOG("%s", p.s);
	}
	assert_unchanged(_metadata, state_before);
}

/* --- create ------------------------------------------------------------ */

TEST_F(dsa, create_takes_base_wqs_per_device)
{
	char uuid[DSA_UUID_LEN + 1], expected[512], link[PATH_MAX], target[PATH_MAX];
	int i, held = 0;

	for (i = 0; i < 4; i++) {
		int base = bases[i];

		make_uuid(uuid, i);
		create_ok(_metadata, 0, base, uuid);
		held += base;
		ASSERT_EQ(base, dev_wq_count(uuid));
		ASSERT_EQ(WQS - held, sysfs_read_num(parent_path(0, "free_wqs").s));
		assert_file(_metadata, dev_path(uuid, "dsa/aggregator").s, "1\n");
		expected_self(expected, sizeof(expected), base, 1);
		assert_file(_metadata, dev_path(uuid, "dsa/self").s, expected);

		/* Listed under its type, and its mdev_type link points back. */
		snprintf(link, sizeof(link), "%s", type_path(0, base, "devices/").s);
		strncat(link, uuid, sizeof(link) - strlen(link) - 1);
		ASSERT_TRUE(path_exists(link)) TH_LOG("%s", link);
		ASSERT_NE(NULL, realpath(dev_path(uuid, "mdev_type").s, link));
		ASSERT_NE(NULL, realpath(type_path(0, base, "").s, target));
		ASSERT_STREQ(target, link);
	}
	ASSERT_EQ(WQS - 15, sysfs_read_num(parent_path(0, "free_wqs").s));
	ASSERT_EQ(WQS, sysfs_read_num(parent_path(1, "free_wqs").s));
}

TEST_F(dsa, device_has_core_and_dsa_files)
{
	static const char *const files[] = {
		"remove", "mdev_type", "iommu_group", "vfio-dev",
		"dsa/aggregator", "dsa/wq_ids", "dsa/self",
	};
	char uuid[DSA_UUID_LEN + 1], dev[PATH_MAX], parent[PATH_MAX];
	size_t i;

	make_uuid(uuid, 7);
	create_ok(_metadata, 1, 4, uuid);
	for (i = 0; i < ARRAY_SIZE(files); i++) {
		struct spath p = dev_path(uuid, files[i]);

		ASSERT_TRUE(path_exists(p.s)) TH_LOG("%s", p.s);
	}
	ASSERT_EQ(1, count_dir_entries(dev_path(uuid, "vfio-dev").s));

	/* The device hangs off the parent it was created on. */
	ASSERT_NE(NULL, realpath(dev_path(uuid, "..").s, dev));
	ASSERT_NE(NULL, realpath(parent_path(1, "").s, parent));
	ASSERT_STREQ(parent, dev);
}

TEST_F(dsa, wq_ids_take_lowest_free_ids)
{
	char a[DSA_UUID_LEN + 1], b[DSA_UUID_LEN + 1], c[DSA_UUID_LEN + 1];
	char d[DSA_UUID_LEN + 1], e[DSA_UUID_LEN + 1];

	make_uuid(a, 1);
	make_uuid(b, 2);
	make_uuid(c, 3);
	make_uuid(d, 4);
	make_uuid(e, 5);

	create_ok(_metadata, 0, 1, a);
	assert_file(_metadata, dev_path(a, "dsa/wq_ids").s, "0\n");
	create_ok(_metadata, 0, 2, b);
	assert_file(_metadata, dev_path(b, "dsa/wq_ids").s, "1-2\n");
	create_ok(_metadata, 0, 4, c);
	assert_file(_metadata, dev_path(c, "dsa/wq_ids").s, "3-6\n");

	remove_ok(_metadata, a);
	create_ok(_metadata, 0, 2, d);
	assert_file(_metadata, dev_path(d, "dsa/wq_ids").s, "0,7\n");

	remove_ok(_metadata, b);
	create_ok(_metadata, 0, 4, e);
	assert_file(_metadata, dev_path(e, "dsa/wq_ids").s, "1-2,8-9\n");
}

TEST_F(dsa, create_rejects_malformed_uuid)
{
	static const struct input bad[] = {
		INPUT("not-a-uuid"),
		INPUT("d5a0d5a0-0000-4000-8000-00000000001"),	/* 35 chars */
		INPUT("d5a0d5a0-0000-4000-8000-00000000000123"),	/* 38 chars */
		INPUT("d5a0d5a0-0000-4000-8000-000000000001\n\n"),
		INPUT("g5a0d5a0-0000-4000-8000-000000000001"),	/* not hex */
		INPUT("d5a0d5a00-000-4000-8000-000000000001"),	/* dash moved */
		INPUT("d5a0d5a0_0000_4000_8000_000000000001"),
		INPUT(" d5a0d5a0-0000-4000-8000-00000000001"),
	};
	size_t i;
	int k;

	snapshot(_metadata, state_before);
	for (k = 0; k < 4; k++) {
		for (i = 0; i < ARRAY_SIZE(bad); i++) {
			EXPECT_EQ(-EINVAL, sysfs_write(type_path(0, bases[k], "create").s,
						       bad[i].data, bad[i].len))
				TH_LOG("dsa-%ddwq <- \"%s\"", bases[k],
				       escape(bad[i].data, bad[i].len));
			assert_unchanged(_metadata, state_before);
		}
	}
}

TEST_F(dsa, create_accepts_uuid_with_trailing_newline)
{
	char uuid[DSA_UUID_LEN + 1], line[DSA_UUID_LEN + 2];

	make_uuid(uuid, 9);
	snprintf(line, sizeof(line), "%s\n", uuid);
	ASSERT_EQ(0, sysfs_write_str(type_path(0, 1, "create").s, line));
	ASSERT_TRUE(dev_exists(uuid));
	assert_consistent(_metadata);
}

TEST_F(dsa, create_without_free_wqs_is_enospc)
{
	char full[DSA_UUID_LEN + 1], uuid[DSA_UUID_LEN + 1];
	int i;

	make_uuid(full, 1);
	make_uuid(uuid, 2);
	ASSERT_EQ(0, set_type_aggregator(0, 8, 8));
	create_ok(_metadata, 0, 8, full);
	ASSERT_EQ(0, sysfs_read_num(parent_path(0, "free_wqs").s));
	for (i = 0; i < 4; i++) {
		ASSERT_EQ(0, sysfs_read_num(type_path(0, bases[i], "available_instances").s));
	}

	snapshot(_metadata, state_before);
	for (i = 0; i < 4; i++) {
		EXPECT_EQ(-ENOSPC, mdev_create(0, bases[i], uuid)) TH_LOG("dsa-%ddwq", bases[i]);
		EXPECT_FALSE(dev_exists(uuid));
		assert_unchanged(_metadata, state_before);
	}

	/* The failed UUID is not left reserved: it works where WQs are free. */
	create_ok(_metadata, 1, 1, uuid);
}

TEST_F(dsa, create_fits_exactly_the_remaining_wqs)
{
	char big[DSA_UUID_LEN + 1], uuid[DSA_UUID_LEN + 1];

	make_uuid(big, 1);
	make_uuid(uuid, 2);
	ASSERT_EQ(0, set_type_aggregator(0, 1, 60));
	create_ok(_metadata, 0, 1, big);
	ASSERT_EQ(4, sysfs_read_num(parent_path(0, "free_wqs").s));

	snapshot(_metadata, state_before);
	ASSERT_EQ(-ENOSPC, mdev_create(0, 8, uuid));
	assert_unchanged(_metadata, state_before);

	create_ok(_metadata, 0, 4, uuid);
	ASSERT_EQ(0, sysfs_read_num(parent_path(0, "free_wqs").s));
	assert_file(_metadata, dev_path(uuid, "dsa/wq_ids").s, "60-63\n");
}

TEST_F_TIMEOUT(dsa, exhaustion_and_release_restore_everything, 900)
{
	char uuid[DSA_UUID_LEN + 1], extra[DSA_UUID_LEN + 1];
	int n, i;

	for (n = 0; n < WQS; n++) {
		make_uuid(uuid, n);
		create_ok(_metadata, 0, 1, uuid);
		ASSERT_EQ(WQS - n - 1, sysfs_read_num(parent_path(0, "free_wqs").s));
	}
	for (i = 0; i < 4; i++) {
		ASSERT_EQ(0, sysfs_read_num(type_path(0, bases[i], "available_instances").s));
	}

	make_uuid(extra, WQS);
	snapshot(_metadata, state_before);
	ASSERT_EQ(-ENOSPC, mdev_create(0, 1, extra));
	assert_unchanged(_metadata, state_before);

	for (n = 0; n < WQS; n++) {
		make_uuid(uuid, n);
		remove_ok(_metadata, uuid);
		ASSERT_EQ(n + 1, sysfs_read_num(parent_path(0, "free_wqs").s));
	}
	for (i = 0; i < 4; i++) {
		ASSERT_EQ(WQS / bases[i],
			  sysfs_read_num(type_path(0, bases[i], "available_instances").s));
	}
	ASSERT_EQ(self->baseline_devices, count_dir_entries(MDEV_DEVICES_DIR));
}

/*
 * A UUID in use is refused by every create file, of any type of any parent:
 * the device is created on dsa0 as dsa-<@base>dwq, then each of @bases of
 * dsa<@parent> must refuse it with EEXIST and change nothing.
 */
FIXTURE(create_duplicate_uuid) {
	int baseline_devices;
};

FIXTURE_VARIANT(create_duplicate_uuid) {
	int base;
	int parent;
	int nbases;
	int bases[4];
};

FIXTURE_VARIANT_ADD(create_duplicate_uuid, same_type) {
	.base = 2, .parent = 0, .nbases = 1, .bases = { 2 },
};

FIXTURE_VARIANT_ADD(create_duplicate_uuid, other_type) {
	.base = 2, .parent = 0, .nbases = 4, .bases = { 1, 2, 4, 8 },
};

FIXTURE_VARIANT_ADD(create_duplicate_uuid, other_parent) {
	.base = 1, .parent = 1, .nbases = 4, .bases = { 1, 2, 4, 8 },
};

/* As for dsa. */
FIXTURE_SETUP(create_duplicate_uuid)
{
	env_setup(_metadata, MODULE_PARAMS, &self->baseline_devices);
}

FIXTURE_TEARDOWN_PARENT(create_duplicate_uuid)
{
	env_teardown(_metadata, self->baseline_devices);
}

TEST_F(create_duplicate_uuid, is_eexist)
{
	char uuid[DSA_UUID_LEN + 1];
	int i;

	make_uuid(uuid, 1);
	create_ok(_metadata, 0, variant->base, uuid);
	snapshot(_metadata, state_before);
	for (i = 0; i < variant->nbases; i++) {
		EXPECT_EQ(-EEXIST, mdev_create(variant->parent, variant->bases[i], uuid))
			TH_LOG("dsa%d/dsa-%ddwq", variant->parent, variant->bases[i]);
		assert_unchanged(_metadata, state_before);
	}
	/* Nothing went to dsa1. */
	ASSERT_EQ(WQS, sysfs_read_num(parent_path(1, "free_wqs").s));
}

/* --- the type's aggregator --------------------------------------------- */

TEST_F(dsa, type_aggregator_sets_size_of_new_devices)
{
	char uuid[DSA_UUID_LEN + 1], expected[512];

	make_uuid(uuid, 1);
	ASSERT_EQ(0, set_type_aggregator(0, 2, 5));
	assert_file(_metadata, type_path(0, 2, "aggregator").s, "5\n");
	ASSERT_EQ(WQS / 10, sysfs_read_num(type_path(0, 2, "available_instances").s));
	assert_consistent(_metadata);

	create_ok(_metadata, 0, 2, uuid);
	ASSERT_EQ(10, dev_wq_count(uuid));
	assert_file(_metadata, dev_path(uuid, "dsa/aggregator").s, "5\n");
	expected_self(expected, sizeof(expected), 2, 5);
	assert_file(_metadata, dev_path(uuid, "dsa/self").s, expected);
	ASSERT_EQ(WQS - 10, sysfs_read_num(parent_path(0, "free_wqs").s));
	ASSERT_EQ((WQS - 10) / 10, sysfs_read_num(type_path(0, 2, "available_instances").s));
}

TEST_F(dsa, create_size_is_base_times_aggregator)
{
	char uuid[DSA_UUID_LEN + 1], expected[512];
	int i, j;

	for (i = 0; i < 4; i++) {
		int base = bases[i], max = WQS / base;
		int aggs[] = { 1, 3, max - 1, max };

		for (j = 0; j < 4; j++) {
			int agg = aggs[j];

			ASSERT_EQ(0, set_type_aggregator(0, base, agg));
			ASSERT_EQ(WQS / (base * agg),
				  sysfs_read_num(type_path(0, base, "available_instances").s))
				TH_LOG("dsa-%ddwq aggregator %d", base, agg);
			make_uuid(uuid, i * 4 + j);
			create_ok(_metadata, 0, base, uuid);
			ASSERT_EQ(base * agg, dev_wq_count(uuid));
			ASSERT_EQ(WQS - base * agg, sysfs_read_num(parent_path(0, "free_wqs").s));
			expected_self(expected, sizeof(expected), base, agg);
			assert_file(_metadata, dev_path(uuid, "dsa/self").s, expected);
			remove_ok(_metadata, uuid);
		}
	}
}

TEST_F(dsa, type_aggregator_change_keeps_existing_devices)
{
	char uuid[DSA_UUID_LEN + 1];

	make_uuid(uuid, 1);
	create_ok(_metadata, 0, 2, uuid);
	ASSERT_EQ(0, set_type_aggregator(0, 2, 3));
	assert_file(_metadata, dev_path(uuid, "dsa/aggregator").s, "1\n");
	ASSERT_EQ(2, dev_wq_count(uuid));
	assert_consistent(_metadata);
}

TEST_F(dsa, type_aggregators_are_independent)
{
	int parent, i;

	ASSERT_EQ(0, set_type_aggregator(0, 1, 7));
	for (parent = 0; parent < PARENTS; parent++) {
		for (i = 0; i < 4; i++) {
			const char *expected = parent == 0 && bases[i] == 1 ? "7\n" : "1\n";

			assert_file(_metadata, type_path(parent, bases[i], "aggregator").s,
				    expected);
		}
	}
	assert_consistent(_metadata);
}

TEST_F(dsa, type_aggregator_accepts_valid_input)
{
	int i;

	for (i = 0; i < 4; i++) {
		int base = bases[i];
		struct spath agg = type_path(0, base, "aggregator");
		const char *path = agg.s;
		char max[16], max_nl[16];

		ASSERT_EQ(0, sysfs_write_str(path, "007"));
		assert_file(_metadata, path, "7\n");
		ASSERT_EQ(0, sysfs_write_str(path, "2\n"));
		assert_file(_metadata, path, "2\n");
		snprintf(max, sizeof(max), "%d", WQS / base);
		snprintf(max_nl, sizeof(max_nl), "%d\n", WQS / base);
		ASSERT_EQ(0, sysfs_write_str(path, max));
		assert_file(_metadata, path, max_nl);
		ASSERT_EQ(1, sysfs_read_num(type_path(0, base, "available_instances").s));
		ASSERT_EQ(0, sysfs_write_str(path, "1"));
		assert_file(_metadata, path, "1\n");
		assert_consistent(_metadata);
	}
}

TEST_F(dsa, type_aggregator_rejects_bad_input)
{
	int i;

	for (i = 0; i < 4; i++) {
		/* Start from a non-default value so "unchanged" means something. */
		ASSERT_EQ(0, set_type_aggregator(0, bases[i], 3));
		assert_rejects_bad_aggregators(_metadata,
					       type_path(0, bases[i], "aggregator").s,
					       WQS / bases[i]);
		assert_file(_metadata, type_path(0, bases[i], "aggregator").s, "3\n");
	}
}

TEST_F(dsa, type_aggregator_empty_write_changes_nothing)
{
	ASSERT_EQ(0, set_type_aggregator(0, 2, 3));
	snapshot(_metadata, state_before);
	/* sysfs completes an empty write without calling the driver. */
	ASSERT_EQ(0, sysfs_write(type_path(0, 2, "aggregator").s, "", 0));
	assert_unchanged(_metadata, state_before);
}

/* --- the seed example -------------------------------------------------- */

TEST_F(dsa, seed_example_1dwq_x30_and_2dwq_x15)
{
	char one[DSA_UUID_LEN + 1], two[DSA_UUID_LEN + 1];
	char self1[512], self2[512], compat1[512], compat2[512], expected[512];
	char s1[64], s2[64], c1[64], c2[64];

	make_uuid(one, 1);
	make_uuid(two, 2);
	ASSERT_EQ(0, set_type_aggregator(0, 1, 30));
	ASSERT_EQ(0, set_type_aggregator(0, 2, 15));
	create_ok(_metadata, 0, 1, one);
	create_ok(_metadata, 0, 2, two);

	/* Equal resources ... */
	ASSERT_EQ(30, dev_wq_count(one));
	ASSERT_EQ(30, dev_wq_count(two));
	ASSERT_EQ(WQS - 60, sysfs_read_num(parent_path(0, "free_wqs").s));

	/* ... but different descriptions. */
	ASSERT_LT(0, sysfs_read(dev_path(one, "dsa/self").s, self1, sizeof(self1)));
	ASSERT_LT(0, sysfs_read(dev_path(two, "dsa/self").s, self2, sizeof(self2)));
	expected_self(expected, sizeof(expected), 1, 30);
	assert_text(_metadata, "dsa-1dwq x 30 self", expected, self1);
	expected_self(expected, sizeof(expected), 2, 15);
	assert_text(_metadata, "dsa-2dwq x 15 self", expected, self2);
	ASSERT_NE(0, strcmp(self1, self2));

	/* Neither matches the other type's compatible (mdev_type differs). */
	ASSERT_LT(0, sysfs_read(type_path(0, 1, "compatible").s, compat1, sizeof(compat1)));
	ASSERT_LT(0, sysfs_read(type_path(0, 2, "compatible").s, compat2, sizeof(compat2)));
	ASSERT_EQ(0, get_line(self1, "mdev_type", s1, sizeof(s1)));
	ASSERT_EQ(0, get_line(self2, "mdev_type", s2, sizeof(s2)));
	ASSERT_EQ(0, get_line(compat1, "mdev_type", c1, sizeof(c1)));
	ASSERT_EQ(0, get_line(compat2, "mdev_type", c2, sizeof(c2)));
	ASSERT_STREQ(c1, s1);
	ASSERT_STREQ(c2, s2);
	ASSERT_STRNE(c2, s1);
	ASSERT_STRNE(c1, s2);
}

/* --- the device's aggregator ------------------------------------------- */

TEST_F(dsa, device_aggregator_grows_and_shrinks)
{
	char uuid[DSA_UUID_LEN + 1], expected[512];

	make_uuid(uuid, 1);
	create_ok(_metadata, 0, 2, uuid);

	ASSERT_EQ(0, set_dev_aggregator(uuid, 4));
	assert_file(_metadata, dev_path(uuid, "dsa/aggregator").s, "4\n");
	ASSERT_EQ(8, dev_wq_count(uuid));
	ASSERT_EQ(WQS - 8, sysfs_read_num(parent_path(0, "free_wqs").s));
	expected_self(expected, sizeof(expected), 2, 4);
	assert_file(_metadata, dev_path(uuid, "dsa/self").s, expected);
	assert_consistent(_metadata);

	ASSERT_EQ(0, sysfs_write_str(dev_path(uuid, "dsa/aggregator").s, "1\n"));
	assert_file(_metadata, dev_path(uuid, "dsa/aggregator").s, "1\n");
	ASSERT_EQ(2, dev_wq_count(uuid));
	ASSERT_EQ(WQS - 2, sysfs_read_num(parent_path(0, "free_wqs").s));
	expected_self(expected, sizeof(expected), 2, 1);
	assert_file(_metadata, dev_path(uuid, "dsa/self").s, expected);
	assert_consistent(_metadata);
}

TEST_F(dsa, device_aggregator_rewrite_of_current_value_is_ok)
{
	char uuid[DSA_UUID_LEN + 1];

	make_uuid(uuid, 1);
	ASSERT_EQ(0, set_type_aggregator(0, 2, 3));
	create_ok(_metadata, 0, 2, uuid);
	snapshot(_metadata, state_before);
	ASSERT_EQ(0, set_dev_aggregator(uuid, 3));
	assert_unchanged(_metadata, state_before);
}

TEST_F(dsa, device_aggregator_accepts_up_to_type_max)
{
	char uuid[DSA_UUID_LEN + 1];

	make_uuid(uuid, 1);
	create_ok(_metadata, 0, 8, uuid);
	ASSERT_EQ(0, set_dev_aggregator(uuid, WQS / 8));
	ASSERT_EQ(WQS, dev_wq_count(uuid));
	ASSERT_EQ(0, sysfs_read_num(parent_path(0, "free_wqs").s));
	assert_consistent(_metadata);

	ASSERT_EQ(0, sysfs_write_str(dev_path(uuid, "dsa/aggregator").s, "007"));
	assert_file(_metadata, dev_path(uuid, "dsa/aggregator").s, "7\n");
	ASSERT_EQ(56, dev_wq_count(uuid));
	ASSERT_EQ(8, sysfs_read_num(parent_path(0, "free_wqs").s));
	assert_consistent(_metadata);
}

TEST_F(dsa, device_aggregator_enospc_keeps_allocation)
{
	char big[DSA_UUID_LEN + 1], uuid[DSA_UUID_LEN + 1];

	make_uuid(big, 1);
	make_uuid(uuid, 2);
	ASSERT_EQ(0, set_type_aggregator(0, 1, 60));
	create_ok(_metadata, 0, 1, big);
	create_ok(_metadata, 0, 2, uuid);
	ASSERT_EQ(2, sysfs_read_num(parent_path(0, "free_wqs").s));

	/* 6 WQs needed, 2 held + 2 free: refused, nothing moves. */
	snapshot(_metadata, state_before);
	ASSERT_EQ(-ENOSPC, set_dev_aggregator(uuid, 3));
	assert_unchanged(_metadata, state_before);

	/* 4 WQs needed, 2 held + 2 free: fits exactly. */
	ASSERT_EQ(0, set_dev_aggregator(uuid, 2));
	ASSERT_EQ(4, dev_wq_count(uuid));
	ASSERT_EQ(0, sysfs_read_num(parent_path(0, "free_wqs").s));
	assert_consistent(_metadata);
}

TEST_F(dsa, device_aggregator_rejects_bad_input)
{
	char uuid[DSA_UUID_LEN + 1];

	make_uuid(uuid, 1);
	ASSERT_EQ(0, set_type_aggregator(0, 2, 3));
	create_ok(_metadata, 0, 2, uuid);
	assert_rejects_bad_aggregators(_metadata, dev_path(uuid, "dsa/aggregator").s,
				       WQS / 2);
	assert_file(_metadata, dev_path(uuid, "dsa/aggregator").s, "3\n");
	ASSERT_EQ(6, dev_wq_count(uuid));
}

TEST_F(dsa, device_aggregator_empty_write_changes_nothing)
{
	char uuid[DSA_UUID_LEN + 1];

	make_uuid(uuid, 1);
	create_ok(_metadata, 0, 2, uuid);
	snapshot(_metadata, state_before);
	/* sysfs completes an empty write without calling the driver. */
	ASSERT_EQ(0, sysfs_write(dev_path(uuid, "dsa/aggregator").s, "", 0));
	assert_unchanged(_metadata, state_before);
}

/* --- parents, remove, rmmod -------------------------------------------- */

TEST_F(dsa, parents_are_independent)
{
	char full[DSA_UUID_LEN + 1], other[DSA_UUID_LEN + 1];
	int i;

	make_uuid(full, 1);
	make_uuid(other, 2);
	ASSERT_EQ(0, set_type_aggregator(0, 8, 8));
	assert_file(_metadata, type_path(1, 8, "aggregator").s, "1\n");

	create_ok(_metadata, 0, 8, full);
	ASSERT_EQ(0, sysfs_read_num(parent_path(0, "free_wqs").s));
	ASSERT_EQ(WQS, sysfs_read_num(parent_path(1, "free_wqs").s));
	for (i = 0; i < 4; i++) {
		ASSERT_EQ(WQS / bases[i],
			  sysfs_read_num(type_path(1, bases[i], "available_instances").s));
	}

	/* dsa1 allocates from its own WQ space, starting at id 0. */
	create_ok(_metadata, 1, 8, other);
	assert_file(_metadata, dev_path(other, "dsa/wq_ids").s, "0-7\n");
	ASSERT_EQ(WQS - 8, sysfs_read_num(parent_path(1, "free_wqs").s));

	remove_ok(_metadata, full);
	ASSERT_EQ(WQS, sysfs_read_num(parent_path(0, "free_wqs").s));
	ASSERT_EQ(WQS - 8, sysfs_read_num(parent_path(1, "free_wqs").s));
}

TEST_F(dsa, remove_releases_wqs)
{
	char a[DSA_UUID_LEN + 1], b[DSA_UUID_LEN + 1], c[DSA_UUID_LEN + 1];
	char link[PATH_MAX];

	make_uuid(a, 1);
	make_uuid(b, 2);
	make_uuid(c, 3);
	create_ok(_metadata, 0, 1, a);
	create_ok(_metadata, 0, 2, b);
	create_ok(_metadata, 0, 4, c);
	ASSERT_EQ(WQS - 7, sysfs_read_num(parent_path(0, "free_wqs").s));

	remove_ok(_metadata, b);
	snprintf(link, sizeof(link), "%s", type_path(0, 2, "devices/").s);
	strncat(link, b, sizeof(link) - strlen(link) - 1);
	ASSERT_FALSE(path_exists(link));
	ASSERT_EQ(WQS - 5, sysfs_read_num(parent_path(0, "free_wqs").s));

	/* The UUID is free for reuse. */
	create_ok(_metadata, 0, 2, b);
	ASSERT_EQ(WQS - 7, sysfs_read_num(parent_path(0, "free_wqs").s));

	remove_ok(_metadata, a);
	remove_ok(_metadata, b);
	remove_ok(_metadata, c);
	ASSERT_EQ(WQS, sysfs_read_num(parent_path(0, "free_wqs").s));
	ASSERT_EQ(self->baseline_devices, count_dir_entries(MDEV_DEVICES_DIR));
}

TEST_F(dsa, rmmod_with_devices_present_removes_everything)
{
	char uuids[3][DSA_UUID_LEN + 1];
	int i;

	for (i = 0; i < 3; i++)
		make_uuid(uuids[i], i + 1);
	create_ok(_metadata, 0, 1, uuids[0]);
	create_ok(_metadata, 1, 8, uuids[1]);
	create_ok(_metadata, 0, 2, uuids[2]);
	ASSERT_EQ(0, set_dev_aggregator(uuids[2], 3));

	ASSERT_EQ(0, module_unload());
	ASSERT_FALSE(module_loaded());
	ASSERT_FALSE(path_exists(DSA_CLASS_DIR));
	ASSERT_FALSE(path_exists(MDEV_BUS_CLASS_DIR "/dsa0"));
	ASSERT_FALSE(path_exists(MDEV_BUS_CLASS_DIR "/dsa1"));
	for (i = 0; i < 3; i++) {
		ASSERT_FALSE(dev_exists(uuids[i])) TH_LOG("%s", uuids[i]);
	}
	ASSERT_EQ(self->baseline_devices, count_dir_entries(MDEV_DEVICES_DIR));
}

TEST_HARNESS_MAIN
