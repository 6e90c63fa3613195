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
 *
 * Unwinding is the largest cost of tracking an object, so by default an
 * object records only the address its creating call returns to in the
 * driver (the "call site"), found without an unwind (see "Call sites
 * without an unwind" below), and each call site keeps one full stack, taken
 * the first time the site is seen and again now and then.  Reports show
 * the object's call site and that stack.  The object_stacks parameter saves
 * a full stack for every object instead.
 */

#define pr_fmt(fmt) "dmaverify: " fmt

#include <linux/hash.h>
#include <linux/kallsyms.h>
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/stackdepot.h>
#include <linux/stacktrace.h>

#include "dmaverify.h"

#if defined(CONFIG_X86_64) && \
	(defined(CONFIG_UNWINDER_ORC) || defined(CONFIG_UNWINDER_FRAME_POINTER))
#include <asm/unwind.h>
#define DV_HAVE_CALIBRATION
#endif

#define DV_MAX_STACK	32

/*
 * A saved stack is a u32 handle (an object keeps one: struct dmaverify_obj
 * is kept small), told apart by its low bits:
 *   ...1  a return address, as its offset from text_base shifted left by
 *         one (on x86-64 the kernel's and the modules' text lie in the 2 GiB
 *         above __START_KERNEL_map);
 *   ..10  a return address outside that window, as the index of its call
 *         site's entry (see sites[]) shifted left by two;
 *   ..00  a stack depot handle shifted left by two (its top bits, the
 *         depot's "extra bits", are not used: 0); 0 is no stack.
 */
#define DV_STACK_RAW	1UL
#define DV_STACK_SITE	2UL
#define DV_STACK_TAGS	3UL

#ifdef CONFIG_X86_64
#define text_base	__START_KERNEL_map
#else
/* Set at init: the window is the 2 GiB around the kernel's text. */
static unsigned long text_base __read_mostly;
#endif

static u32 encode_ip(unsigned long ip);

#ifdef DMAVERIFY_HAVE_STACK_DEPOT
/* A depot handle as a saved stack, or 0 if it does not fit. */
static inline u32 encode_depot(depot_stack_handle_t h)
{
	return (u64)h << 2 <= U32_MAX ? (u32)h << 2 : 0;
}
#endif

/*
 * Frames above the driver's: dmaverify's own, the DMA core's
 * (dma_map_page_attrs(), __dma_map_sg_attrs(), ...), the USB core's that
 * map URBs and allocate buffers for a class driver (indirect.c),
 * virtio_ring's (virtio.c) and, in observe-only mode, those of the kprobes,
 * fprobes and ftrace that run the observer.
 * The cores' and the probes' are told by name.  Looking a symbol up is
 * slow, so the answer is cached per return address in a small
 * direct-mapped table: a handful of call sites in the DMA core and in the
 * verified drivers fill it, and a collision only costs another lookup.
 * Bit 0 of an entry says "not the driver's".
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
	/* fprobes, on ftrace or on the function graph tracer (6.14+) */
	"fprobe_", "__fprobe", "function_graph_enter", "fgraph_",
	/* the function graph tracer's return trampoline */
	"return_to_handler",
	/* the USB core, for drivers verified through a host controller */
	"usb_hcd_", "usb_submit_urb", "usb_alloc_coherent", "usb_free_coherent",
	"hcd_buffer_",
	/* virtio_ring, for drivers verified through a virtio transport */
	"virtqueue_", "vring_", "detach_buf",
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
	/* A host driver's own URB mapping (xhci_map_urb_for_dma()). */
	return strstr(sym, "map_urb_for_dma");
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

	if ((cached & ~1UL) == (ip & ~1UL) && cached)
		return cached & 1;
	own = within_module(ip, THIS_MODULE) || own_symbol(ip);
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
 * there), one slot per context: fprobes nest (a handler in an interrupt
 * can run while one in the interrupted task waits), and an interrupt on
 * the same CPU must not take the task's caller for its own.
 */
static DEFINE_PER_CPU(unsigned long [4], observed_caller);

/* Task, softirq, hardirq, NMI: at most one handler runs in each. */
static unsigned int context_slot(void)
{
	if (in_nmi())
		return 3;
	if (in_hardirq())
		return 2;
	return in_serving_softirq() ? 1 : 0;
}

/**
 * dmaverify_set_observed_caller() - the DMA API's caller, seen by a probe
 * @ip: the probed function's return address, or 0 when the handler ends
 *
 * Context: a probe handler (preemption disabled).
 */
void dmaverify_set_observed_caller(unsigned long ip)
{
	this_cpu_write(observed_caller[context_slot()], ip);
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
	caller = this_cpu_read(observed_caller[context_slot()]);
	preempt_enable_notrace();
	/*
	 * A caller that is a DMA API frame itself (a driver's out-of-line
	 * copy of an inline wrapper, dma_map_single_attrs()) is not put back:
	 * the driver's frame follows it.
	 */
	if (!caller || !skip || entries[skip] == caller ||
	    dmaverify_own_frame(caller))
		return skip;
	entries[skip - 1] = caller;
	return skip - 1;
}

/**
 * dmaverify_save_stack() - record the stack of the DMA API's caller
 *
 * Return: a handle for dmaverify_fetch_stack(), or 0.
 */
noinline u32 dmaverify_save_stack(void)
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
		unsigned int nth;

		nth = dmaverify_nth_hold();
		h = stack_depot_save(entries + skip, min(nr - skip, want),
				     GFP_NOWAIT | __GFP_NOWARN);
		dmaverify_nth_restore(nth);
		if (encode_depot(h))
			return encode_depot(h);
	}
#endif
	return encode_ip(entries[skip]);
}

/* === Call sites without an unwind === */

/*
 * Inside an ops callback, the driver's return address sits at a fixed
 * distance above the callback's own return-address slot, for a given
 * return site in the DMA core: the frames in between are those of
 * dma_map_page_attrs(), __dma_map_sg_attrs(), dma_alloc_attrs() and the
 * like, and the frame a function has at one of its call instructions
 * always has the same size (the DMA core has no alloca() or stack
 * realignment).  So the table below maps a return address R inside the
 * DMA core to the distance, in words, from the slot that holds R to the
 * slot that holds the next return address up the stack, the return address
 * of the function that contains R.  It is learnt from the kernel's own
 * unwinder, which gives each frame's return address and where it is stored
 * (calibrate()); afterwards a walk from the callback's slot reads one or
 * two slots instead of unwinding (walk()).  A value read that is itself a
 * DMA-core return site (dmam_alloc_attrs() calls dma_alloc_attrs(),
 * dma_map_sg_attrs() calls __dma_map_sg_attrs()) is looked up again.
 *
 * Only kernel and module text is learnt (not trampolines): it does not
 * move while it can run, so a learnt distance stays right, and every slot
 * the walk reads is a return-address slot of the current call chain, on
 * the current stack.  Module text is learnt too because drivers may carry
 * their own out-of-line copy of a DMA API inline
 * (dma_map_single_attrs.constprop.0 on 7.x); what was learnt of a module
 * is forgotten when the module goes.  A return address a tracer
 * replaced with a trampoline (kretprobes, the function graph tracer) is
 * not a DMA-core return site, and such a call is unwound.  Each call site's
 * first sighting and its refreshes unwind anyway: the walk's answer is
 * compared with the unwinder's there, and a difference takes the return
 * site out of the table for good (counted in debugfs "stats").
 *
 * Learnt with the x86-64 unwinders (ORC and frame pointers); elsewhere
 * every creation unwinds to find its caller (objects still keep only the
 * caller, and call sites their one stack).
 */
#define RET_BITS	6
#define RET_PROBES	4
#define RET_LEVELS	4	/* DMA-core frames above a callback, at most. */
#define RET_MAX_OFF	256	/* Words between two return slots, at most. */
#define RET_BAD		(-1L)	/* This return site is always unwound. */
#define RET_MAX_CALIBRATIONS 1024	/* Then calls the table lacks are unwound. */

static struct {
	unsigned long key;	/* A return address in the DMA API; 0: free. */
	long off;		/* Words to the next return slot; 0: not yet. */
} ret_sites[1 << RET_BITS];

/* Statistics for debugfs "stats"; slow paths only. */
static atomic_long_t nr_calibrations, nr_unwinds, nr_mismatches, nr_sites_full;

static long ret_site_off(unsigned long key)
{
	unsigned int h = hash_long(key, RET_BITS), i;

	for (i = 0; i < RET_PROBES; i++) {
		unsigned int b = (h + i) & (ARRAY_SIZE(ret_sites) - 1);
		unsigned long k = READ_ONCE(ret_sites[b].key);

		if (k == key)
			return READ_ONCE(ret_sites[b].off);
		if (!k)
			break;
	}
	return 0;
}

/*
 * Record @off for @key; a second, different answer marks it RET_BAD, and
 * RET_BAD stays.
 */
static void ret_site_learn(unsigned long key, long off)
{
	unsigned int h = hash_long(key, RET_BITS), i;

	for (i = 0; i < RET_PROBES; i++) {
		unsigned int b = (h + i) & (ARRAY_SIZE(ret_sites) - 1);
		unsigned long k = cmpxchg(&ret_sites[b].key, 0, key);
		long old;

		if (k && k != key)
			continue;
		old = cmpxchg(&ret_sites[b].off, 0, off);
		if (old && old != off)
			WRITE_ONCE(ret_sites[b].off, RET_BAD);
		return;
	}
}

/* What walk() returns when a return site on the way is RET_BAD. */
#define WALK_UNWIND	1UL

/*
 * The DMA API's caller, read from the stack above @slot (which holds the
 * ops callback's return address); 0 when the walk meets a return site not
 * learnt yet, WALK_UNWIND when it meets one that must be unwound.
 */
static __always_inline unsigned long walk(const unsigned long *slot)
{
	unsigned long val = READ_ONCE_NOCHECK(*slot);
	unsigned int level;

	for (level = 0; level < RET_LEVELS; level++) {
		long off = ret_site_off(val);

		if (off <= 0)
			return off ? WALK_UNWIND : 0;
		slot += off;
		/* Our own task's stack, a return slot: no KASAN redzone. */
		val = READ_ONCE_NOCHECK(*slot);
		if (!dmaverify_own_frame(val))
			return val;
	}
	return WALK_UNWIND;
}

#ifdef DV_HAVE_CALIBRATION
/* Where the unwinder found the frame's return address. */
static unsigned long *ret_ptr(struct unwind_state *st)
{
	if (st->regs)
		return NULL;
#ifdef CONFIG_UNWINDER_ORC
	return st->sp ? (unsigned long *)st->sp - 1 : NULL;
#else
	return st->bp + 1;
#endif
}

/*
 * Kernel or module text, not a trampoline: it does not move while it can
 * run, and a module's entries are forgotten when it goes (forget_module()).
 */
static bool fixed_text(unsigned long ip)
{
	char sym[KSYM_SYMBOL_LEN];
	const char *mod;

	sprint_symbol(sym, ip);
	mod = strchr(sym, '[');
	/* BPF programs and ftrace/kprobe trampolines come and go. */
	return !str_has_prefix(sym, "0x") &&
	       (!mod || (!str_has_prefix(mod, "[bpf]") &&
			 !str_has_prefix(mod, "[__builtin__")));
}

/*
 * Learn the return sites between the slot @ra and the DMA API's caller
 * from the unwinder.  Slow path: once per DMA-core return site.
 */
static noinline void calibrate(const unsigned long *ra)
{
	struct unwind_state st;
	const unsigned long *prev = NULL;
	unsigned int level = 0;

	atomic_long_inc(&nr_calibrations);
	for (unwind_start(&st, current, NULL, NULL); !unwind_done(&st);
	     unwind_next_frame(&st)) {
		unsigned long addr = unwind_get_return_address(&st);
		unsigned long *ptr = ret_ptr(&st);

		if (!addr || !ptr)
			return;
		if (!prev) {
			/* Frames below the callback's first (ours). */
			if (ptr < ra)
				continue;
			if (ptr != ra || READ_ONCE_NOCHECK(*ra) != addr)
				return;
			prev = ra;
			continue;
		}
		if (ptr <= prev || ptr - prev > RET_MAX_OFF || !fixed_text(*prev)) {
			ret_site_learn(*prev, RET_BAD);
			return;
		}
		ret_site_learn(*prev, ptr - prev);
		/*
		 * A tracer's trampoline in the slot (the unwinder reports the
		 * real return address): calls that meet it are unwound, for
		 * as long as it is there.
		 */
		if (READ_ONCE_NOCHECK(*ptr) != addr) {
			ret_site_learn(READ_ONCE_NOCHECK(*ptr), RET_BAD);
			return;
		}
		if (!dmaverify_own_frame(addr) || ++level >= RET_LEVELS)
			return;
		prev = ptr;
	}
}
#else
static inline void calibrate(const unsigned long *ra)
{
}
#endif

/*
 * One full stack per call site (the address a creating call returns to in
 * the driver), filled the first time the site is seen and refreshed every
 * SITE_REFRESH.  Entries are never evicted: a full table leaves new sites
 * without a stack (counted).
 */
#define SITE_BITS	11
#define SITE_PROBES	8
#define SITE_REFRESH	(60 * HZ)

static struct dv_site {
	unsigned long ip;	/* The call site; 0: free. */
	u32 stack;		/* As dmaverify_save_stack() returns; 0: none yet. */
	unsigned long when;	/* jiffies when @stack was taken. */
	int pid;		/* The task that made the call then. */
	int cpu;		/* The CPU it ran on. */
} sites[1 << SITE_BITS];

/* What site_find() returns when the site has no room in the table. */
static struct dv_site site_full;

/*
 * The entry of call site @ip; if there is none, NULL, or with @claim a new
 * one.  &site_full if there is no room for it.
 */
static struct dv_site *site_find(unsigned long ip, bool claim)
{
	unsigned int h = hash_long(ip, SITE_BITS), i;

	for (i = 0; i < SITE_PROBES; i++) {
		struct dv_site *s = &sites[(h + i) & (ARRAY_SIZE(sites) - 1)];
		unsigned long k = READ_ONCE(s->ip);

		if (k == ip)
			return s;
		if (k)
			continue;
		if (!claim)
			return NULL;
		k = cmpxchg(&s->ip, 0, ip);
		if (!k || k == ip)
			return s;
	}
	if (claim)
		atomic_long_inc(&nr_sites_full);
	return &site_full;
}

/* Whether a site's stack is missing or old (@when is never 0 once taken). */
static inline bool site_stale(unsigned long when)
{
	return !when || time_after(jiffies, when + SITE_REFRESH);
}

/* Whether this CPU should (re)take the site's stack now. */
static bool site_due(struct dv_site *s)
{
	unsigned long when = READ_ONCE(s->when);

	/* One CPU takes it; the others go on with the old one (or none). */
	return site_stale(when) && try_cmpxchg(&s->when, &when, jiffies | 1);
}

/* A return address as a saved stack (see DV_STACK_RAW); 0 if no room. */
static u32 encode_ip(unsigned long ip)
{
	struct dv_site *s;

	if (ip - text_base <= U32_MAX >> 1)
		return ((ip - text_base) << 1) | DV_STACK_RAW;
	/* Elsewhere: the call site's entry, which is never evicted. */
	s = site_find(ip, true);
	if (s == &site_full)
		return 0;
	return ((s - sites) << 2) | DV_STACK_SITE;
}

/*
 * Slow path: unwind, for a new call site, a refresh, or a caller the walk
 * could not find (@ip 0; with @learn, learn the return sites on the way).
 * Return: the caller, as the unwinder sees it.
 */
static noinline unsigned long creator_slow(const unsigned long *ra,
					   unsigned long ip, bool learn)
{
	unsigned long entries[DV_MAX_STACK];
	unsigned int want = READ_ONCE(dmaverify_stack_depth);
	unsigned int nr, skip;
	struct dv_site *s;

	atomic_long_inc(&nr_unwinds);
	nr = stack_trace_save(entries, min_t(unsigned int, max(want, 1U) + 12,
					     DV_MAX_STACK), 1);
	skip = dmaverify_stack_start(entries, nr);
	if (skip >= nr)
		return ip;
	if (ip != entries[skip]) {
		if (ip) {
			/* The walk was wrong: never trust this entry again. */
			atomic_long_inc(&nr_mismatches);
			if (ra)
				ret_site_learn(READ_ONCE_NOCHECK(*ra), RET_BAD);
		} else if (ra && learn &&
			   atomic_long_read(&nr_calibrations) < RET_MAX_CALIBRATIONS) {
			/* Bounded: a full table would otherwise learn forever. */
			calibrate(ra);
		}
		ip = entries[skip];
	}
#ifdef DMAVERIFY_HAVE_STACK_DEPOT
	s = want > 1 ? site_find(ip, true) : NULL;
	if (s && s != &site_full && site_due(s)) {
		depot_stack_handle_t h;
		unsigned int nth;

		nth = dmaverify_nth_hold();
		h = stack_depot_save(entries + skip, min(nr - skip, want),
				     GFP_NOWAIT | __GFP_NOWARN);
		dmaverify_nth_restore(nth);
		/*
		 * Read without a lock by reports: one racing with a refresh
		 * may pair the new stack with the old task (or the reverse).
		 */
		WRITE_ONCE(s->pid, task_pid_nr(current));
		WRITE_ONCE(s->cpu, raw_smp_processor_id());
		if (encode_depot(h))
			WRITE_ONCE(s->stack, encode_depot(h));
		WRITE_ONCE(s->when, jiffies | 1);
	}
#endif
	return ip;
}

/**
 * dmaverify_creator_stack() - what to record as an object's creator
 * @ra: the slot holding the ops callback's return address (DV_RA_SLOT()),
 *	or NULL
 * @ip: the DMA API's caller if known (an observer's probe sees it), or 0
 *
 * By default the caller's address, found without an unwind when it can
 * be, and the call site's stack is kept once per site (see above); with
 * object_stacks=1, a full stack per object, as dmaverify_save_stack().
 *
 * Return: a handle for dmaverify_fetch_stack(), or 0.
 */
u32 dmaverify_creator_stack(const unsigned long *ra, unsigned long ip)
{
	struct dv_site *s;

	if (READ_ONCE(dmaverify_object_stacks))
		return dmaverify_save_stack();
	if (ip && dmaverify_own_frame(ip))
		ip = 0;
	if (!ip && ra)
		ip = walk(ra);
	if (!ip || ip == WALK_UNWIND)
		return encode_ip(creator_slow(ra, 0, !ip));
#ifdef DMAVERIFY_HAVE_STACK_DEPOT
	if (READ_ONCE(dmaverify_stack_depth) > 1) {
		s = site_find(ip, false);
		if (!s || (s != &site_full && site_stale(READ_ONCE(s->when))))
			ip = creator_slow(ra, ip, false);
	}
#endif
	return encode_ip(ip);
}

/**
 * dmaverify_site_stack() - the stack kept for a call site
 * @handle: an object's creator, from dmaverify_creator_stack()
 * @site: set to the stack, when it was taken, by which task on which CPU
 *
 * Return: false if @handle is a full stack already or its call site has
 * no stack.
 */
bool dmaverify_site_stack(unsigned long handle, struct dmaverify_site *site)
{
	unsigned long entries[1];
	struct dv_site *s;

	if (!(handle & DV_STACK_TAGS) ||
	    !dmaverify_fetch_stack(handle, entries, 1))
		return false;
	s = site_find(entries[0], false);
	if (!s || s == &site_full)
		return false;
	site->stack = READ_ONCE(s->stack);
	/* Taken at jiffies or jiffies - 1 (@when is never 0: bit 0 is set). */
	site->when = READ_ONCE(s->when) & ~1UL;
	site->pid = READ_ONCE(s->pid);
	site->cpu = READ_ONCE(s->cpu);
	return site->stack;
}

/* Counters for debugfs "stats". */
void dmaverify_stack_show(struct seq_file *seq)
{
	unsigned int i, sites_used = 0, rets = 0, bad = 0;

	for (i = 0; i < ARRAY_SIZE(sites); i++)
		sites_used += !!READ_ONCE(sites[i].ip);
	for (i = 0; i < ARRAY_SIZE(ret_sites); i++) {
		long off = READ_ONCE(ret_sites[i].off);

		rets += off > 0;
		bad += off == RET_BAD;
	}
	seq_printf(seq, "stacks: %s, call sites %u (%ld times no room), return sites learnt %u (%u unwound), calibrations %ld, unwinds %ld, walk mismatches %ld\n",
		   READ_ONCE(dmaverify_object_stacks) ? "per object" : "per call site",
		   sites_used, atomic_long_read(&nr_sites_full), rets, bad,
		   atomic_long_read(&nr_calibrations), atomic_long_read(&nr_unwinds),
		   atomic_long_read(&nr_mismatches));
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
		entries[0] = text_base + ((u32)handle >> 1);
		return 1;
	}
	if (handle & DV_STACK_SITE) {
		entries[0] = READ_ONCE(sites[((u32)handle >> 2) &
					     (ARRAY_SIZE(sites) - 1)].ip);
		return !!entries[0];
	}
#ifdef DMAVERIFY_HAVE_STACK_DEPOT
	{
		unsigned long *stored;
		unsigned int nr;

		nr = stack_depot_fetch((depot_stack_handle_t)((u32)handle >> 2),
				       &stored);
		nr = min(nr, max);
		memcpy(entries, stored, nr * sizeof(*entries));
		return nr;
	}
#else
	return 0;
#endif
}
EXPORT_SYMBOL_FOR_DV_TESTS(dmaverify_fetch_stack);

/*
 * === Frames of unloaded modules ===
 *
 * An object outlives the module that created it when that module leaves
 * it on another driver's device (a dmaengine client's mapping on the
 * provider's device): the leak is reported at the provider's unbind, after
 * the creator's text was freed.  Its saved return addresses then point to
 * nothing, or into whatever module was loaded there since: printed with
 * %pS they would name a function that did not create the object.  So when
 * a module goes, while its symbols can still be looked up, every frame of
 * it that a tracked object or a call site holds is resolved and kept here,
 * with the time of the unload; a frame of a stack taken before that time
 * prints as it was resolved then (dmaverify_frame_gone()).  The last
 * GONE_MODULES unloads are kept, GONE_FRAMES frames each; a frame not kept
 * prints as its address in the module, never as a symbol.
 */
#define GONE_MODULES	8
#define GONE_FRAMES	64
#define GONE_SYM	96

struct dmaverify_gone {
	char name[MODULE_NAME_LEN];
	u32 when;			/* jiffies at the unload. */
	unsigned int nr;
	struct {
		unsigned long ip;
		char sym[GONE_SYM];	/* "dvc_map+0x2a/0x90 [dma_client_sample]" */
	} frames[GONE_FRAMES];
};

/* The last unloads, in a ring by gone_head; guarded by gone_lock. */
static struct dmaverify_gone *gone[GONE_MODULES];
static unsigned int gone_head;
static DEFINE_RAW_SPINLOCK(gone_lock);

/**
 * dmaverify_gone_note() - keep the frames of a going module in a stack
 * @g: from the going module's notifier
 * @mod: the going module
 * @handle: a saved stack (dmaverify_save_stack(), dmaverify_creator_stack())
 *
 * Context: the module's MODULE_STATE_GOING notifier (its symbols are
 * still there).
 */
void dmaverify_gone_note(struct dmaverify_gone *g, struct module *mod,
			 unsigned long handle)
{
	unsigned long entries[DV_MAX_STACK];
	unsigned int nr = dmaverify_fetch_stack(handle, entries, DV_MAX_STACK);
	unsigned int i, j;

	for (i = 0; g && i < nr; i++) {
		if (!within_module(entries[i], mod))
			continue;
		for (j = 0; j < g->nr && g->frames[j].ip != entries[i]; j++)
			;
		if (j < g->nr || g->nr == GONE_FRAMES)
			continue;
		g->frames[j].ip = entries[i];
		snprintf(g->frames[j].sym, GONE_SYM, "%pS", (void *)entries[i]);
		g->nr++;
	}
}

/*
 * Called with gone_lock held: the unload that freed @ip's text after a
 * stack holding it was taken at @when, or NULL.
 */
static const struct dmaverify_gone *gone_find(unsigned long ip, u32 when,
					      unsigned int *frame)
{
	unsigned int i, j;

	for (i = 0; i < GONE_MODULES; i++) {
		const struct dmaverify_gone *g = gone[i];

		if (!g || (s32)(g->when - when) < 0)
			continue;
		for (j = 0; j < g->nr; j++) {
			if (g->frames[j].ip == ip) {
				*frame = j;
				return g;
			}
		}
	}
	return NULL;
}

/**
 * dmaverify_frame_gone() - a frame as it was when its module was unloaded
 * @ip: a frame of a saved stack
 * @when: jiffies when the stack was taken
 * @buf: where to write the frame
 * @size: size of @buf
 *
 * Return: true if @ip is in the text of a module unloaded since @when;
 * @buf then holds the symbol it had, "dvc_map+0x2a/0x90
 * [dma_client_sample] (unloaded)".  False: @ip can be printed with %pS.
 * Context: any; in NMI a frame is looked up only if no unload is being
 * recorded at that moment.
 */
bool dmaverify_frame_gone(unsigned long ip, u32 when, char *buf, size_t size)
{
	const struct dmaverify_gone *g;
	unsigned long flags;
	unsigned int j;
	bool found = false;

	if (!READ_ONCE(gone_head))	/* No module was unloaded. */
		return false;
	/* In NMI the lock may be held by the code interrupted. */
	if (in_nmi()) {
		if (!raw_spin_trylock_irqsave(&gone_lock, flags))
			return false;
	} else {
		raw_spin_lock_irqsave(&gone_lock, flags);
	}
	g = gone_find(ip, when, &j);
	if (g) {
		snprintf(buf, size, "%s (unloaded)", g->frames[j].sym);
		found = true;
	}
	raw_spin_unlock_irqrestore(&gone_lock, flags);
	return found;
}

/**
 * dmaverify_gone_start() - begin recording a going module's frames
 * @mod: the module
 *
 * Return: the record for dmaverify_gone_note() and dmaverify_gone_end(),
 * or NULL (no memory: its frames are not kept).
 */
struct dmaverify_gone *dmaverify_gone_start(struct module *mod)
{
	struct dmaverify_gone *g = kzalloc(sizeof(*g), GFP_KERNEL);
	unsigned int i;

	if (!g)
		return NULL;
	strscpy(g->name, module_name(mod), sizeof(g->name));
	g->when = jiffies;
	/* The call sites first: they are the reports' titles. */
	for (i = 0; i < ARRAY_SIZE(sites); i++) {
		unsigned long ip = READ_ONCE(sites[i].ip);

		if (ip && within_module(ip, mod))
			dmaverify_gone_note(g, mod, encode_ip(ip));
	}
	return g;
}

/**
 * dmaverify_gone_end() - keep a going module's frames
 * @g: from dmaverify_gone_start(), or NULL
 */
void dmaverify_gone_end(struct dmaverify_gone *g)
{
	struct dmaverify_gone *old;
	unsigned long flags;

	if (!g)
		return;
	if (!g->nr) {
		kfree(g);
		return;
	}
	raw_spin_lock_irqsave(&gone_lock, flags);
	old = gone[gone_head % GONE_MODULES];
	gone[gone_head % GONE_MODULES] = g;
	/* Unloads recorded; not 0 once one is (dmaverify_frame_gone()). */
	WRITE_ONCE(gone_head, gone_head + 1 ?: GONE_MODULES);
	raw_spin_unlock_irqrestore(&gone_lock, flags);
	kfree(old);
}

/*
 * A module going away takes its text with it: forget its return sites,
 * its call sites' stacks and its frames in the own-frame cache, so that a
 * module loaded at the same address later starts afresh.
 */
static int forget_module(struct notifier_block *nb, unsigned long action,
			 void *data)
{
	struct module *mod = data;
	struct dmaverify_gone *g;
	unsigned int i;

	if (action != MODULE_STATE_GOING)
		return NOTIFY_DONE;
	g = dmaverify_gone_start(mod);
	dmaverify_gone_objects(g, mod);
	dmaverify_gone_end(g);
	for (i = 0; i < ARRAY_SIZE(ret_sites); i++)
		if (within_module(READ_ONCE(ret_sites[i].key), mod))
			WRITE_ONCE(ret_sites[i].off, 0);
	for (i = 0; i < ARRAY_SIZE(sites); i++) {
		if (within_module(READ_ONCE(sites[i].ip), mod)) {
			WRITE_ONCE(sites[i].stack, 0);
			WRITE_ONCE(sites[i].when, 0);
		}
	}
	for (i = 0; i < ARRAY_SIZE(ip_cache); i++)
		if (within_module(READ_ONCE(ip_cache[i]) & ~1UL, mod))
			WRITE_ONCE(ip_cache[i], 0);
	return NOTIFY_DONE;
}

static struct notifier_block module_nb = {
	.notifier_call = forget_module,
};

int dmaverify_stack_init(void)
{
#ifndef CONFIG_X86_64
	text_base = (unsigned long)stack_trace_save - SZ_1G;
#endif
#ifdef DMAVERIFY_HAVE_STACK_DEPOT
	int ret = stack_depot_init();

	if (ret)
		return ret;
#else
	pr_info("no stack depot in this kernel: objects record their caller only\n");
#endif
	return register_module_notifier(&module_nb);
}

void dmaverify_stack_exit(void)
{
	unsigned int i;

	unregister_module_notifier(&module_nb);
	for (i = 0; i < GONE_MODULES; i++) {
		kfree(gone[i]);
		gone[i] = NULL;
	}
	gone_head = 0;
}
