/* SPDX-License-Identifier: GPL-2.0 */
/*
 * dmaverify: how the observer sees the DMA API's calls (probe.c), for the
 * observer (observe.c) alone.
 */
#ifndef DMAVERIFY_PROBE_H
#define DMAVERIFY_PROBE_H

#include <linux/kprobes.h>
#include <linux/types.h>

#include "compat.h"

#if defined(DMAVERIFY_HAVE_FPROBE_PT_REGS) || defined(DMAVERIFY_HAVE_FPROBE_FTRACE_REGS)
#include <linux/fprobe.h>
#define DMAVERIFY_FPROBES 1
#endif

/**
 * struct dmaverify_call - one DMA API call, as a probe saw it
 * @arg: the probed function's first six arguments
 * @ret: its return value (in a return handler)
 * @caller: where the DMA API was called from (the probed function's return
 *	address)
 */
struct dmaverify_call {
	unsigned long arg[6];
	unsigned long ret;
	unsigned long caller;
};

/**
 * struct dmaverify_probe - one probed entry point of the DMA API
 * @names: the function, under the first of its names this kernel has
 * @entry: a call that creates an object: at entry, with @data_size bytes
 *	of @data for the same call's @ret; returns 0 to see the return
 * @ret: at return, with the same @data
 * @pre: a call that is checked before it runs (no return seen)
 * @data_size: bytes of data from @entry to @ret
 * @required: the observer cannot track objects without this probe
 * @release: the call releases an object (a missed one leaves it stale)
 * @on: registered (probe.c's)
 * @fprobe: registered as an fprobe (probe.c's)
 * @rp: the kretprobe of a creating call (probe.c's)
 * @kp: the kprobe of a checked call (probe.c's)
 * @fp: the fprobe, where the kernel has them (probe.c's)
 */
struct dmaverify_probe {
	const char *names[2];
	int (*entry)(void *data, const struct dmaverify_call *call);
	void (*ret)(void *data, const struct dmaverify_call *call);
	void (*pre)(const struct dmaverify_call *call);
	unsigned int data_size;
	bool required;
	bool release;
	bool on;
	bool fprobe;
	struct kretprobe rp;
	struct kprobe kp;
#ifdef DMAVERIFY_FPROBES
	struct fprobe fp;
#endif
};

int dmaverify_probe_register(struct dmaverify_probe *p, bool use_fprobe);
void dmaverify_probe_unregister(struct dmaverify_probe *p);
unsigned long dmaverify_probe_missed(const struct dmaverify_probe *p);
const char *dmaverify_probe_symbol(const struct dmaverify_probe *p);

#endif /* DMAVERIFY_PROBE_H */
