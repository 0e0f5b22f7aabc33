// SPDX-License-Identifier: GPL-2.0
/*
 * The mdev core's remove/create race (patches/linux/0001-vfio-mdev-keep-
 * the-remove-file-when-a-removal-fails.patch).
 *
 * A remover writes "1" to a device's remove file as soon as the file
 * appears, while the creator's write to create is still in the vendor
 * driver's probe.  The mdev core then refuses the removal with -EAGAIN
 * (the device is not active yet).  A stock kernel has already removed the
 * file at that point: the device is orphaned, and only unloading the
 * vendor driver removes it.  With the fix the file stays and the remover's
 * retry succeeds.
 *
 * The test counts the removals that hit the race (-EAGAIN) and the
 * devices left without a remove file; it fails on any orphan.  If the race
 * is never hit, it proves nothing and says so (SKIP).  At the end the WQ
 * accounting must be exact and every device removable.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "dsa_mdev_util.h"

#define MODULE_PARAMS	"parents=1 wqs=64 types=1"
#define ROUNDS		200
#define TIMEOUT		900

struct round {
	char uuid[DSA_UUID_LEN + 1];
	atomic_bool created;	/* the creator's write returned */
	int create_ret;
	int eagain;		/* removals refused with -EAGAIN */
	bool removed;
};

static void *creator(void *arg)
{
	struct round *r = arg;

	r->create_ret = mdev_create(0, 1, r->uuid);
	atomic_store(&r->created, true);
	return NULL;
}

/*
 * Write "1" to the remove file from the moment it exists, until a write
 * succeeds, or the creator is done and the file is gone.
 */
static void remover(struct round *r)
{
	struct spath path = dev_path(r->uuid, "remove");
	int fd;

	for (;;) {
		bool done = atomic_load(&r->created);

		fd = open(path.s, O_WRONLY | O_CLOEXEC);
		if (fd >= 0) {
			ssize_t n = write(fd, "1", 1);
			int err = errno;

			close(fd);
			if (n == 1) {
				r->removed = true;
				return;
			}
			if (err == EAGAIN)
				r->eagain++;
			continue;
		}
		if (done) {
			/* One last look: the file may have appeared since. */
			if (!path_exists(path.s))
				return;
		}
	}
}

FIXTURE(race) {
	int baseline;
};

/* Skip, or load the module. */
FIXTURE_SETUP(race)
{
	env_setup(_metadata, MODULE_PARAMS, &self->baseline);
}

/* In the parent, so the module is unloaded even after a crash or abort. */
FIXTURE_TEARDOWN_PARENT(race)
{
	env_teardown(_metadata, self->baseline);
}

TEST_F_TIMEOUT(race, remove_racing_create_keeps_the_file, TIMEOUT)
{
	int hits = 0, orphans = 0, i;
	char msg[256];

	for (i = 0; i < ROUNDS; i++) {
		struct round r = { .created = false };
		pthread_t t;

		make_uuid(r.uuid, 1000 + i);
		ASSERT_EQ(0, pthread_create(&t, NULL, creator, &r));
		remover(&r);
		ASSERT_EQ(0, pthread_join(t, NULL));
		if (r.create_ret == -ENOSPC && orphans)
			break;	/* the orphans hold every WQ */
		ASSERT_EQ(0, r.create_ret) TH_LOG("create %s: %s", r.uuid, strerror(-r.create_ret));
		if (r.eagain)
			hits++;
		if (!r.removed && path_exists(dev_path(r.uuid, "").s)) {
			if (path_exists(dev_path(r.uuid, "remove").s)) {
				/* The removal lost the race but the file stayed. */
				ASSERT_EQ(0, mdev_remove(r.uuid));
			} else {
				if (orphans++ < 3)
					TH_LOG("%s: refused %d times with EAGAIN, then its remove file was gone",
					       r.uuid, r.eagain);
			}
		}
	}
	TH_LOG("%d rounds: %d removals hit the race (EAGAIN), %d devices orphaned", ROUNDS, hits,
	       orphans);
	ASSERT_EQ(0, orphans) TH_LOG("orphaned devices: the kernel lacks the mdev fix");
	ASSERT_EQ(0, check_accounting(msg, sizeof(msg))) TH_LOG("%s", msg);
	if (!hits)
		SKIP(return, "the race was not hit in %d rounds: nothing was shown", ROUNDS);
}

TEST_HARNESS_MAIN
