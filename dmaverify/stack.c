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
 * Frames of the DMA core (dma_map_page_attrs(), __dma_map_sg_attrs(), ...)
 * are told from the driver's by name.  Looking a symbol up is slow, so the
 * answer is cached per return address in a small direct-mapped table: a
 * handful of call sites in the DMA core and in the verified drivers fill
 * it, and a collision only costs another lookup.  Bit 0 of an entry says
 * "DMA core".
 */
#define IP_CACHE_BITS	8
static unsigned long ip_cache[1 << IP_CACHE_BITS];

static bool dma_core_frame(unsigned long ip)
{
	unsigned long *slot = &ip_cache[hash_long(ip, IP_CACHE_BITS)];
	unsigned long cached = READ_ONCE(*slot);
	char sym[KSYM_SYMBOL_LEN];
	bool core;

	if ((cached & ~1UL) == (ip & ~1UL) && cached)
		return cached & 1;
	sprint_symbol_no_offset(sym, ip);
	core = str_has_prefix(sym, "dma_") || str_has_prefix(sym, "__dma_") ||
	       str_has_prefix(sym, "dmam_") || str_has_prefix(sym, "debug_dma_");
	/* Addresses one byte apart are in the same function: same answer. */
	WRITE_ONCE(*slot, (ip & ~1UL) | core);
	return core;
}

/* Frames of dmaverify and of the DMA core at the top of @entries. */
static unsigned int own_frames(const unsigned long *entries, unsigned int nr)
{
	unsigned int i;

	for (i = 0; i < nr; i++)
		if (!within_module(entries[i], THIS_MODULE) &&
		    !dma_core_frame(entries[i]))
			break;
	return i < nr ? i : 0;
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

	/* Room for dmaverify's and the DMA core's frames on top. */
	nr = stack_trace_save(entries, min_t(unsigned int, max(want, 1U) + 8,
					     DV_MAX_STACK), 1);
	skip = own_frames(entries, nr);
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
