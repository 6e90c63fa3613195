// SPDX-License-Identifier: GPL-2.0
/*
 * dmaverify: saving the stacks that create and release DMA objects.
 *
 * A stack is saved from the caller of the DMA API on: dmaverify's own
 * frames and those of the DMA core are dropped when it is saved, so that
 * stack_depth frames of the driver's call chain are kept.  With a stack
 * depot the stack is stored once and shared by every object created from
 * the same place; with stack_depth <= 1 (or without a depot) only the
 * caller's address is kept, which costs no depot lookup.  Saving works in
 * any context, NMI included.
 */

#define pr_fmt(fmt) "dmaverify: " fmt

#include <linux/hash.h>
#include <linux/kallsyms.h>
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/stackdepot.h>
#include <linux/stacktrace.h>

#include "dmaverify.h"

#define DV_MAX_STACK	32

/*
 * The low bit tells a raw return address (tagged) from a stack depot
 * handle (stored shifted left by one).
 */
#define DV_STACK_RAW	1UL

/*
 * Frames above the driver's: dmaverify's own, the DMA core's
 * (dma_map_page_attrs(), __dma_map_sg_attrs(), ...) and, in observe-only
 * mode, those of kprobes and ftrace that run the observer.  The core's and
 * the probes' are told by name.  Looking a symbol up is slow, so the answer
 * is cached per return address in a small direct-mapped table: a handful of
 * call sites in the DMA core and in the verified drivers fill it, and a
 * collision only costs another lookup.  Bit 0 of an entry says "not the
 * driver's".
 */
#define IP_CACHE_BITS	8
static unsigned long ip_cache[1 << IP_CACHE_BITS];

static const char *const own_prefixes[] = {
	"dma_", "__dma_", "dmam_", "debug_dma_", "dmaverify_",
	"stack_trace_save",
	/* kprobes on ftrace, kretprobes and their trampolines */
	"kprobe_", "kretprobe_", "__kretprobe", "pre_handler_kretprobe",
	"aggr_pre_handler", "rethook_", "arch_rethook", "ftrace_", "__ftrace",
	"arch_ftrace",
};

static bool own_symbol(unsigned long ip)
{
	char sym[KSYM_SYMBOL_LEN];
	int i;

	sprint_symbol_no_offset(sym, ip);
	/* No symbol: an ftrace or kprobe trampoline page. */
	if (str_has_prefix(sym, "0x"))
		return true;
	for (i = 0; i < ARRAY_SIZE(own_prefixes); i++)
		if (str_has_prefix(sym, own_prefixes[i]))
			return true;
	return false;
}

/**
 * dmaverify_own_frame() - whether a frame is above the DMA API's caller
 * @ip: a return address
 *
 * Return: true for frames of dmaverify, of the DMA core and of the probes
 * that run dmaverify in observe-only mode.
 */
bool dmaverify_own_frame(unsigned long ip)
{
	unsigned long *slot = &ip_cache[hash_long(ip, IP_CACHE_BITS)];
	unsigned long cached = READ_ONCE(*slot);
	bool own;

	if (within_module(ip, THIS_MODULE))
		return true;
	if ((cached & ~1UL) == (ip & ~1UL) && cached)
		return cached & 1;
	own = own_symbol(ip);
	/* Addresses one byte apart are in the same function: same answer. */
	WRITE_ONCE(*slot, (ip & ~1UL) | own);
	return own;
}

/* Frames of dmaverify and of the DMA core at the top of @entries. */
static unsigned int own_frames(const unsigned long *entries, unsigned int nr)
{
	unsigned int i;

	for (i = 0; i < nr; i++)
		if (!dmaverify_own_frame(entries[i]))
			break;
	return i < nr ? i : 0;
}

/*
 * In observe-only mode a handler runs at the probed function's entry,
 * before the function set up its frame: a frame-pointer unwinder goes from
 * the probe's trampoline straight to the caller's caller, and the line that
 * called the DMA API would be lost.  The observer records that return
 * address here for the time its handler runs (preemption is disabled
 * there), tagged with the context it runs in, so that an interrupt on the
 * same CPU does not take it for its own.
 */
static DEFINE_PER_CPU(unsigned long, observed_caller);
static DEFINE_PER_CPU(unsigned int, observed_level);

static unsigned int context_level(void)
{
	return preempt_count() & (NMI_MASK | HARDIRQ_MASK | SOFTIRQ_MASK);
}

/**
 * dmaverify_set_observed_caller() - the DMA API's caller, seen by a probe
 * @ip: the probed function's return address, or 0 when the handler ends
 *
 * Context: a kprobe handler (preemption disabled).
 */
void dmaverify_set_observed_caller(unsigned long ip)
{
	this_cpu_write(observed_level, context_level());
	this_cpu_write(observed_caller, ip);
}

/**
 * dmaverify_stack_start() - where the DMA API's caller is in a stack trace
 * @entries: frames from stack_trace_save(); one may be replaced
 * @nr: their number
 *
 * Skips dmaverify's, the DMA core's and the probes' frames, and puts back
 * the caller an observer recorded if the unwinder missed it.
 *
 * Return: the index of the first frame of the driver.
 */
unsigned int dmaverify_stack_start(unsigned long *entries, unsigned int nr)
{
	unsigned int skip = own_frames(entries, nr);
	unsigned long caller = 0;

	preempt_disable_notrace();
	if (this_cpu_read(observed_level) == context_level())
		caller = this_cpu_read(observed_caller);
	preempt_enable_notrace();
	if (!caller || !skip || entries[skip] == caller)
		return skip;
	entries[skip - 1] = caller;
	return skip - 1;
}

/**
 * dmaverify_save_stack() - record the stack of the DMA API's caller
 *
 * Return: a handle for dmaverify_fetch_stack(), or 0.
 */
noinline unsigned long dmaverify_save_stack(void)
{
	unsigned long entries[DV_MAX_STACK];
	unsigned int want = READ_ONCE(dmaverify_stack_depth);
	unsigned int nr, skip;

	/* Room for dmaverify's, the DMA core's and the probes' frames on top. */
	nr = stack_trace_save(entries, min_t(unsigned int, max(want, 1U) + 12,
					     DV_MAX_STACK), 1);
	skip = dmaverify_stack_start(entries, nr);
	if (skip >= nr)
		return 0;
#ifdef DMAVERIFY_HAVE_STACK_DEPOT
	if (want > 1) {
		depot_stack_handle_t h;

		h = stack_depot_save(entries + skip, min(nr - skip, want),
				     GFP_NOWAIT | __GFP_NOWARN);
		if (h)
			return (unsigned long)h << 1;
	}
#endif
	return (entries[skip] << 1) | DV_STACK_RAW;
}

/**
 * dmaverify_fetch_stack() - the frames of a saved stack
 * @handle: from dmaverify_save_stack()
 * @entries: where to store the frames
 * @max: size of @entries
 *
 * Return: the number of frames stored.
 */
unsigned int dmaverify_fetch_stack(unsigned long handle, unsigned long *entries,
				   unsigned int max)
{
	if (!handle || !max)
		return 0;
	if (handle & DV_STACK_RAW) {
		/* Kernel addresses have the top bit set; the shift dropped it. */
		entries[0] = (handle >> 1) | (1UL << (BITS_PER_LONG - 1));
		return 1;
	}
#ifdef DMAVERIFY_HAVE_STACK_DEPOT
	{
		unsigned long *stored;
		unsigned int nr;

		nr = stack_depot_fetch((depot_stack_handle_t)(handle >> 1), &stored);
		nr = min(nr, max);
		memcpy(entries, stored, nr * sizeof(*entries));
		return nr;
	}
#else
	return 0;
#endif
}

int dmaverify_stack_init(void)
{
#ifdef DMAVERIFY_HAVE_STACK_DEPOT
	return stack_depot_init();
#else
	pr_info("no stack depot in this kernel: objects record their caller only\n");
	return 0;
#endif
}
