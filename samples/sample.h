/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What every sample program shares: dying with a message, the clock, and
 * the median of runs.
 * Included after the system headers, with _GNU_SOURCE defined.
 */
#ifndef DSA_MDEV_SAMPLE_H
#define DSA_MDEV_SAMPLE_H

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* Prints "<program>: <message>" on stderr, after stdout, and exits 1. */
static inline void __attribute__((noreturn, format(printf, 1, 2)))
die(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "%s: ", program_invocation_short_name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	exit(1);
}

/* CLOCK_MONOTONIC in nanoseconds. */
static inline uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline int sample_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Sorts the @n figures of @v (so v[0] is the lowest), returns their median. */
static inline double median(double *v, unsigned int n)
{
	qsort(v, n, sizeof(*v), sample_cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

#endif /* DSA_MDEV_SAMPLE_H */
