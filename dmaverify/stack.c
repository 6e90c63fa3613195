// SPDX-License-Identifier: GPL-2.0
/*
 * dmaverify: saving the stacks that create and release DMA objects.
 *
 * With a stack depot the full stack is stored once and shared by every
 * object created from the same place; without one only the caller's return
 * address is kept.  Saving runs in any context, NMI included.
 */

#define pr_fmt(fmt) "dmaverify: " fmt

#include <linux/kernel.h>
#include <linux/stackdepot.h>
#include <linux/stacktrace.h>

#include "dmaverify.h"

#define DV_MAX_STACK	32

/*
 * The low bit tells a raw return address (odd: shifted and tagged) from a
 * stack depot handle (even, as handles are stored shifted left by one).
 */
#define DV_STACK_RAW	1UL

/**
 * dmaverify_save_stack() - record the current stack
 *
 * Return: a handle for dmaverify_fetch_stack(), never 0 unless even the
 * caller's address is unknown.
 */
noinline unsigned long dmaverify_save_stack(void)
{
	unsigned long entries[DV_MAX_STACK];
	unsigned int depth = min_t(unsigned int, READ_ONCE(dmaverify_stack_depth),
				   DV_MAX_STACK);
	unsigned int nr;

#ifdef DMAVERIFY_HAVE_STACK_DEPOT
	if (depth > 1) {
		depot_stack_handle_t h;

		nr = stack_trace_save(entries, depth, 1);
		h = stack_depot_save(entries, nr, GFP_NOWAIT | __GFP_NOWARN);
		if (h)
			return (unsigned long)h << 1;
	}
#endif
	nr = stack_trace_save(entries, min(depth, 8U) ?: 8, 1);
	/*
	 * Keep the first frame outside dmaverify and the DMA API wrappers: the
	 * one that made the call.  Symbol names are not looked up here (too slow
	 * for the fast path): the frames to skip are counted instead, which is
	 * right when the kernel was built with frame pointers or ORC.
	 */
	return nr > 3 ? (entries[3] << 1) | DV_STACK_RAW :
	       ((unsigned long)_RET_IP_ << 1) | DV_STACK_RAW;
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
