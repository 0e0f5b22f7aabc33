// SPDX-License-Identifier: GPL-2.0
/*
 * Helpers for the dsa_mdev migration selftests.  See dsa_mdev_mig.h.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dsa_mdev_dev.h"
#include "dsa_mdev_mig.h"

/* --- the stream ------------------------------------------------------------ */

/* 572 fixed bytes, then a WQCFG entry per WQ. */
uint32_t mig_body_len(unsigned int wqs)
{
	return MIG_BODY_FIXED + (MIG_WQCFG_BYTES + MIG_SLOT_BYTES) * wqs;
}

/* dsa_mdev_dev.c's crc32c(), as the driver's engine computes it, inverted. */
uint32_t mig_crc32c(const void *data, size_t len)
{
	return ~crc32c(~0U, data, len);
}

/* A little-endian u16 at @at. */
uint16_t mig_get16(const uint8_t *b, size_t at)
{
	return b[at] | b[at + 1] << 8;
}

/* A little-endian u32 at @at. */
uint32_t mig_get32(const uint8_t *b, size_t at)
{
	return mig_get16(b, at) | (uint32_t)mig_get16(b, at + 2) << 16;
}

/* A little-endian u64 at @at. */
uint64_t mig_get64(const uint8_t *b, size_t at)
{
	return mig_get32(b, at) | (uint64_t)mig_get32(b, at + 4) << 32;
}

/* Store @v as a little-endian u16 at @at. */
void mig_put16(uint8_t *b, size_t at, uint16_t v)
{
	b[at] = v;
	b[at + 1] = v >> 8;
}

/* Store @v as a little-endian u32 at @at. */
void mig_put32(uint8_t *b, size_t at, uint32_t v)
{
	mig_put16(b, at, v);
	mig_put16(b, at + 2, v >> 16);
}

/* Every header field, as the stream has it. */
void mig_header_decode(const uint8_t *b, struct mig_header *h)
{
	memcpy(h->magic, b + MIG_H_MAGIC, sizeof(h->magic));
	h->major = mig_get16(b, MIG_H_MAJOR);
	h->minor = mig_get16(b, MIG_H_MINOR);
	h->device_api = mig_get32(b, MIG_H_API);
	h->base = mig_get32(b, MIG_H_BASE);
	h->aggregator = mig_get32(b, MIG_H_AGGREGATOR);
	h->wqs = mig_get32(b, MIG_H_WQS);
	h->flags = mig_get32(b, MIG_H_FLAGS);
	h->body_len = mig_get32(b, MIG_H_BODY_LEN);
	h->crc = mig_get32(b, MIG_H_CRC);
}

/* The header CRC covers bytes 0-35, the fields before it. */
void mig_seal_header(uint8_t *s)
{
	mig_put32(s, MIG_H_CRC, mig_crc32c(s, MIG_H_CRC));
}

/* The body CRC covers the body up to itself. */
void mig_seal_body(uint8_t *s, size_t len)
{
	size_t body = len - MIG_HEADER_SIZE;

	mig_put32(s, len - 4, mig_crc32c(s + MIG_HEADER_SIZE, body - 4));
}

static int checkf(char *msg, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Format @msg and return 1: the "violated" result of mig_stream_check(). */
static int checkf(char *msg, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, size, fmt, ap);
	va_end(ap);
	return 1;
}

/* The checks in the order a reader of the stream meets the fields. */
int mig_stream_check(const uint8_t *s, size_t len, char *msg, size_t size)
{
	const uint8_t *body = s + MIG_HEADER_SIZE;
	struct mig_header h;
	uint32_t crc, enabled;

	if (len < MIG_HEADER_SIZE)
		return checkf(msg, size, "stream of %zu bytes, shorter than a header", len);
	mig_header_decode(s, &h);
	if (memcmp(h.magic, MIG_MAGIC, sizeof(h.magic)))
		return checkf(msg, size, "bad magic %02x %02x %02x %02x %02x %02x %02x %02x",
			      s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]);
	crc = mig_crc32c(s, MIG_H_CRC);
	if (h.crc != crc)
		return checkf(msg, size, "header CRC %#x, expected %#x", h.crc, crc);
	if (h.major != MIG_VERSION_MAJOR || h.minor != MIG_VERSION_MINOR)
		return checkf(msg, size, "version %u.%u, expected %u.%u", h.major, h.minor,
			      MIG_VERSION_MAJOR, MIG_VERSION_MINOR);
	if (h.device_api != MIG_API_VFIO_PCI)
		return checkf(msg, size, "device_api %u, expected %u", h.device_api,
			      MIG_API_VFIO_PCI);
	if (!h.wqs || h.wqs != h.base * h.aggregator)
		return checkf(msg, size, "wqs %u, base %u, aggregator %u", h.wqs, h.base,
			      h.aggregator);
	if (h.flags & ~MIG_FLAG_ENABLED)
		return checkf(msg, size, "unknown flags %#x", h.flags);
	if (h.body_len != mig_body_len(h.wqs))
		return checkf(msg, size, "body_len %u, expected %u for %u WQs", h.body_len,
			      mig_body_len(h.wqs), h.wqs);
	if (len != MIG_HEADER_SIZE + (size_t)h.body_len)
		return checkf(msg, size, "stream of %zu bytes, header + body_len is %zu", len,
			      MIG_HEADER_SIZE + (size_t)h.body_len);
	crc = mig_crc32c(body, h.body_len - 4);
	if (mig_get32(body, h.body_len - 4) != crc)
		return checkf(msg, size, "body CRC %#x, expected %#x",
			      mig_get32(body, h.body_len - 4), crc);
	enabled = mig_get32(body, MIG_B_ENABLED);
	if (enabled > 1)
		return checkf(msg, size, "body enable state %u", enabled);
	if (enabled != (h.flags & MIG_FLAG_ENABLED))
		return checkf(msg, size, "body enable state %u, header flags %#x", enabled,
			      h.flags);
	return 0;
}

/* --- data fds ---------------------------------------------------------------- */

/* read(2), with the errno folded into the result. */
ssize_t mig_read(int data_fd, void *buf, size_t len)
{
	ssize_t n = read(data_fd, buf, len);

	return n < 0 ? -errno : n;
}

/* write(2), with the errno folded into the result. */
ssize_t mig_write(int data_fd, const void *buf, size_t len)
{
	ssize_t n = write(data_fd, buf, len);

	return n < 0 ? -errno : n;
}

/* Reads until end of file or an error, noting which. */
ssize_t mig_read_until_end(int data_fd, uint8_t *buf, size_t size, size_t chunk, int *end)
{
	uint8_t spill[64];
	size_t got = 0;
	ssize_t n;

	for (;;) {
		size_t want = chunk;

		/* Past @size, read into a scratch buffer to see whether more comes. */
		if (got < size && want > size - got)
			want = size - got;
		n = got < size ? mig_read(data_fd, buf + got, want)
			       : mig_read(data_fd, spill, sizeof(spill));
		if (n <= 0) {
			*end = n < 0 ? (int)-n : 0;
			return got;
		}
		if (got >= size)
			return -EOVERFLOW;
		got += n;
	}
}

/* Writes in @chunk-byte pieces until one is not taken whole. */
size_t mig_write_chunks(int data_fd, const uint8_t *buf, size_t len, size_t chunk, int *err)
{
	size_t off;
	ssize_t n;

	*err = 0;
	for (off = 0; off < len; off += chunk) {
		size_t now = len - off < chunk ? len - off : chunk;

		n = mig_write(data_fd, buf + off, now);
		if (n != (ssize_t)now) {
			*err = n < 0 ? (int)-n : EIO;
			return off;
		}
	}
	return len;
}

/* --- the kernel log ------------------------------------------------------------ */

/* /dev/kmsg, positioned after the newest record (SEEK_END). */
int kmsg_mark(void)
{
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (lseek(fd, 0, SEEK_END) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

/* Reads /dev/kmsg records until EAGAIN, keeping their messages. */
int kmsg_since(int fd, char *out, size_t size)
{
	char rec[8192];
	size_t len = 0;
	bool full = false;
	ssize_t n;

	if (!size)
		return -EINVAL;
	out[0] = '\0';
	for (;;) {
		const char *msg, *nl;
		size_t mlen;

		n = read(fd, rec, sizeof(rec) - 1);
		if (n < 0 && errno == EPIPE)
			continue;	/* overwritten before we read it: skip */
		if (n < 0 && errno == EAGAIN)
			break;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		rec[n] = '\0';
		/* "PRIO,SEQ,TS,FLAGS;MESSAGE\n" then " KEY=VALUE\n" lines. */
		msg = strchr(rec, ';');
		if (!msg)
			continue;
		msg++;
		nl = strchr(msg, '\n');
		mlen = nl ? (size_t)(nl - msg) : strlen(msg);
		if (len + mlen + 2 > size) {
			full = true;
			continue;	/* keep draining, so the next call starts fresh */
		}
		memcpy(out + len, msg, mlen);
		len += mlen;
		out[len++] = '\n';
		out[len] = '\0';
	}
	return full ? -EOVERFLOW : (int)len;
}

/*
 * Scans @log line by line for the "migration refused" lines of device @uuid,
 * which the driver logs on the device (dev_warn(): "dsa_mdev <uuid>: ...").
 */
int find_refusals(const char *log, const char *uuid, char *reason, size_t size)
{
	char needle[128];
	const char *line, *hit, *end;
	int count = 0;

	snprintf(needle, sizeof(needle), "dsa_mdev %s: migration refused: ", uuid);
	if (size)
		reason[0] = '\0';
	for (line = log; *line; line = *end ? end + 1 : end) {
		end = strchrnul(line, '\n');
		hit = memmem(line, end - line, needle, strlen(needle));
		if (!hit)
			continue;
		if (!count++ && size) {
			hit += strlen(needle);
			snprintf(reason, size, "%.*s", (int)(end - hit), hit);
		}
	}
	return count;
}

/* Scans @log line by line. */
int count_lines_with(const char *log, const char *needle)
{
	const char *line, *end;
	int count = 0;

	for (line = log; *line; line = *end ? end + 1 : end) {
		end = strchrnul(line, '\n');
		if (memmem(line, end - line, needle, strlen(needle)))
			count++;
	}
	return count;
}

/* --- programs ------------------------------------------------------------------- */

/* fork(), execv() with stdout and stderr into a pipe, waitpid(). */
int run_capture(const char *path, char *const argv[], char *out, size_t size)
{
	size_t len = 0;
	int pipefd[2], status, err = 0;
	char spill[256];
	pid_t pid;
	ssize_t n;

	if (!size)
		return -EINVAL;
	if (pipe2(pipefd, O_CLOEXEC))
		return -errno;
	pid = fork();
	if (pid < 0) {
		err = -errno;
		close(pipefd[0]);
		close(pipefd[1]);
		return err;
	}
	if (!pid) {
		int null = open("/dev/null", O_RDONLY);

		if (null < 0 || dup2(null, 0) < 0 || dup2(pipefd[1], 1) < 0 ||
		    dup2(pipefd[1], 2) < 0)
			_exit(127);
		execv(path, argv);
		_exit(127);
	}
	close(pipefd[1]);
	for (;;) {
		if (len < size - 1)
			n = read(pipefd[0], out + len, size - 1 - len);
		else
			n = read(pipefd[0], spill, sizeof(spill));	/* drop the rest */
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (len < size - 1)
			len += n;
	}
	out[len] = '\0';
	close(pipefd[0]);
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			return -errno;
	}
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return -ECHILD;
}
