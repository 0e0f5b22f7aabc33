/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers for the dsa_mdev migration selftests: the migration stream format
 * (header, body, their CRC-32C), reading and writing a migration data fd,
 * the kernel log since a mark, and running a program with its output
 * captured.  The VFIO migration v2 uAPI (mig_get_state(), mig_set_state()
 * and the others) is lib/vfio.h's, which the samples share.
 *
 * As in dsa_mdev_util.h, nothing here asserts: every function that can
 * fail returns a negative errno, so the harness reports the failing step at
 * the caller's line.  All stream fields are little-endian, as is the host
 * (x86-64).
 */
#ifndef DSA_MDEV_MIG_H
#define DSA_MDEV_MIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "lib/vfio.h"

/* --- the stream: a 40-byte header, then the body ----------------------- */

#define MIG_HEADER_SIZE		40
#define MIG_MAGIC		"DSAMDEV"	/* 8 bytes with its NUL */
#define MIG_VERSION_MAJOR	1
#define MIG_VERSION_MINOR	1
#define MIG_API_VFIO_PCI	1
#define MIG_FLAG_ENABLED	0x1	/* the device was enabled */

/* Header fields: offsets. */
#define MIG_H_MAGIC		0	/* 8 bytes */
#define MIG_H_MAJOR		8	/* u16 */
#define MIG_H_MINOR		10	/* u16 */
#define MIG_H_API		12	/* u32, 1 = vfio-pci */
#define MIG_H_BASE		16	/* u32, k of dsa-<k>dwq */
#define MIG_H_AGGREGATOR	20	/* u32 */
#define MIG_H_WQS		24	/* u32, base * aggregator */
#define MIG_H_FLAGS		28	/* u32, MIG_FLAG_* */
#define MIG_H_BODY_LEN		32	/* u32 */
#define MIG_H_CRC		36	/* u32, CRC-32C of bytes 0-35 */

/* Body fields: offsets from the start of the body. */
#define MIG_B_CONFIG		0	/* 256 bytes of PCI config space */
#define MIG_B_GENCFG		256	/* u32 */
#define MIG_B_GENCTRL		260	/* u32 */
#define MIG_B_ENABLED		264	/* u32, 0 or 1 */
#define MIG_B_INTCAUSE		268	/* u32 */
#define MIG_B_CMD		272	/* u32 */
#define MIG_B_CMDSTS		276	/* u32 */
#define MIG_B_SWERR		280	/* 4 x u64 */
#define MIG_B_MSIX_PERM		312	/* 64 x u32 */
#define MIG_B_WQCFG		568	/* wqs x 64 bytes */
/* Then (version 1.1) a portal slot per WQ, then the body CRC. */
#define MIG_B_SLOTS(wqs)	(MIG_B_WQCFG + MIG_WQCFG_BYTES * (wqs))
#define MIG_S_MASK		0	/* u32, a bit per 4-byte word written */
#define MIG_S_OFFSET		4	/* u32, in the WQ's portal pages */
#define MIG_S_BYTES		8	/* 64 bytes, 0 where not written */

#define MIG_CONFIG_BYTES	256
#define MIG_MSIX_PERM_ENTRIES	64
#define MIG_WQCFG_BYTES		64
#define MIG_SLOT_BYTES		72
#define MIG_BODY_FIXED		572	/* everything but the per-WQ parts */

/* A buffer that holds any stream of a device with up to 64 WQs. */
#define MIG_STREAM_MAX		16384

/* A decoded header. */
struct mig_header {
	char magic[8];
	uint16_t major;
	uint16_t minor;
	uint32_t device_api;
	uint32_t base;
	uint32_t aggregator;
	uint32_t wqs;
	uint32_t flags;
	uint32_t body_len;
	uint32_t crc;
};

/*
 * The body length of a device with @wqs WQs: 572 + (64 + 72) * wqs; a
 * version 1.0 body has no portal slots, 572 + 64 * wqs.
 */
uint32_t mig_body_len(unsigned int wqs);

/*
 * The standard CRC-32C (Castagnoli, reflected polynomial 0x82F63B78,
 * initial value ~0, final inversion) of @len bytes: "123456789" gives
 * 0xE3069283.
 */
uint32_t mig_crc32c(const void *data, size_t len);

/* Little-endian loads and stores at byte offset @at of @b. */
uint16_t mig_get16(const uint8_t *b, size_t at);
uint32_t mig_get32(const uint8_t *b, size_t at);
uint64_t mig_get64(const uint8_t *b, size_t at);
void mig_put16(uint8_t *b, size_t at, uint16_t v);
void mig_put32(uint8_t *b, size_t at, uint32_t v);

/* Decode the MIG_HEADER_SIZE bytes at @b (nothing is checked). */
void mig_header_decode(const uint8_t *b, struct mig_header *h);
/* Recompute the header CRC of the stream @s after a change to its header. */
void mig_seal_header(uint8_t *s);
/*
 * Recompute the body CRC (the last 4 of the @len stream bytes at @s, which
 * must be more than a header and a CRC) after a change to the body.
 */
void mig_seal_body(uint8_t *s, size_t len);

/*
 * Check that the @len bytes at @s are one well-formed stream of this
 * driver: magic, version 1.0, device API vfio-pci, wqs == base *
 * aggregator, no unknown flags, body_len == mig_body_len(wqs), exactly
 * header + body_len bytes, both CRCs right, the body's enable state 0 or 1
 * and equal to the header's flag.  Returns 0, or 1 with what is wrong in
 * @msg.
 */
int mig_stream_check(const uint8_t *s, size_t len, char *msg, size_t size);

/* --- data fds ------------------------------------------------------------- */

/* One read(2) or write(2): bytes transferred or -errno. */
ssize_t mig_read(int data_fd, void *buf, size_t len);
ssize_t mig_write(int data_fd, const void *buf, size_t len);
/*
 * Read from @data_fd, at most @chunk bytes at a time, into @buf until read()
 * returns 0 or fails; *@end is then 0 (end of file) or that errno.  Returns
 * the bytes read, or -EOVERFLOW when more than @size arrive.
 */
ssize_t mig_read_until_end(int data_fd, uint8_t *buf, size_t size, size_t chunk, int *end);
/*
 * Write @len bytes of @buf to @data_fd in writes of @chunk bytes (the last
 * one shorter), stopping at the first write that does not transfer all its
 * bytes.  Returns the stream offset of that write (@len if there is none)
 * and stores its errno in *@err (0 if none failed, EIO for a short write).
 */
size_t mig_write_chunks(int data_fd, const uint8_t *buf, size_t len, size_t chunk, int *err);

/* --- the kernel log -------------------------------------------------------- */

/*
 * Open /dev/kmsg positioned after its newest record: a mark.  Returns the
 * fd, or -errno.
 */
int kmsg_mark(void);
/*
 * The messages of the records logged since the mark (or since the previous
 * call on @fd), one per line, into @out (NUL-terminated).  Returns their
 * length, -EOVERFLOW if they did not all fit (@out holds the first ones),
 * or -errno.
 */
int kmsg_since(int fd, char *out, size_t size);
/*
 * Count the lines of @log that hold "dsa_mdev <uuid>: migration refused: "
 * (the driver logs on the device); copy what follows that on the first of
 * them (the reason, up to the end of its line) into @reason ("" if none).
 */
int find_refusals(const char *log, const char *uuid, char *reason, size_t size);
/* Count the lines of @log that hold @needle. */
int count_lines_with(const char *log, const char *needle);

/* --- programs ---------------------------------------------------------------- */

/*
 * Run @path with @argv (argv[0] first, NULL-terminated), stdin from
 * /dev/null, stdout and stderr together into @out (NUL-terminated,
 * truncated to fit).  Returns its exit status (0-255), -ECHILD if a signal
 * ended it, 127 if it could not be executed, or -errno.
 */
int run_capture(const char *path, char *const argv[], char *out, size_t size);

#endif /* DSA_MDEV_MIG_H */
