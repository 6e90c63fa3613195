// SPDX-License-Identifier: GPL-2.0
/*
 * dmaverify: the life of a tracked DMA object, shared by both ways of
 * seeing DMA calls: the interposer (ops.c), which owns the call, and the
 * observer (observe.c), which only watches it.
 *
 * An object is created (track), and later released (find_release, then
 * released).  When the tracker has no entry for a release, the reason may
 * be innocent: the object went untracked (no memory, checks disabled), or
 * the observer missed the call that created it.  Only when neither can be
 * the case is the release reported.
 */

#define pr_fmt(fmt) "dmaverify: " fmt

#include <linux/dma-mapping.h>
#include <linux/jiffies.h>
#include <linux/percpu.h>

#include "dmaverify.h"

/* === Per-CPU state: statistics, untracked objects, released objects === */

/*
 * Released objects remembered per device and CPU: for double-free reports
 * and to attribute device faults (iommu.c) to a released mapping.  Each
 * costs an object (48 bytes, more for S/G lists) and a slot; read when a device is attached.
 */
static unsigned int release_history = DV_FREED_RING;
module_param(release_history, uint, 0644);
MODULE_PARM_DESC(release_history, "Released DMA objects remembered per device and CPU, for double-free reports and device faults (default 64, 1 to 1024, rounded up to a power of 2; for devices attached from then on)");

int dmaverify_objects_init(struct dmaverify_dev *ctx)
{
	unsigned int n = clamp(READ_ONCE(release_history), 1U, DV_FREED_RING_MAX);

	/* A power of 2: the ring's slot is the release count, masked. */
	n = roundup_pow_of_two(n);
	/* Per-CPU allocations are limited to 32 KiB (PCPU_MIN_UNIT_SIZE). */
	ctx->pcpu = __alloc_percpu(sizeof(struct dmaverify_pcpu) +
				   n * sizeof(struct dmaverify_obj *),
				   __alignof__(struct dmaverify_pcpu));
	if (!ctx->pcpu)
		return -ENOMEM;
	ctx->nr_freed = n;
	return 0;
}

/* Precondition: nothing can reach @ctx any more. */
void dmaverify_objects_destroy(struct dmaverify_dev *ctx)
{
	int cpu, i;

	if (!ctx->pcpu)
		return;
	for_each_possible_cpu(cpu) {
		struct dmaverify_pcpu *p = per_cpu_ptr(ctx->pcpu, cpu);

		for (i = 0; i < ctx->nr_freed; i++)
			if (p->freed[i])
				dmaverify_obj_free(p->freed[i]);
		if (p->spare)
			dmaverify_obj_free(p->spare);
	}
	free_percpu(ctx->pcpu);
	ctx->pcpu = NULL;
}

static long outstanding(struct dmaverify_dev *ctx, int kind)
{
	long n = 0;
	int cpu;

	for_each_possible_cpu(cpu) {
		struct dmaverify_pcpu *p = per_cpu_ptr(ctx->pcpu, cpu);

		n += READ_ONCE(p->allocated[kind]) - READ_ONCE(p->released[kind]);
	}
	return n;
}

static void sample_peak(struct dmaverify_dev *ctx, int kind, long now)
{
	long peak = atomic_long_read(&ctx->peak[kind]);

	while (now > peak && !atomic_long_try_cmpxchg(&ctx->peak[kind], &peak, now))
		;
}

/**
 * dmaverify_stats_peak() - sample a device's peak of outstanding objects
 * @ctx: device context
 * @kind: &enum dmaverify_kind
 *
 * Called every DV_PEAK_SAMPLE creations on a CPU (dmaverify_stats_add())
 * and whenever the statistics are read, so it may miss a short burst.
 */
void dmaverify_stats_peak(struct dmaverify_dev *ctx, int kind)
{
	sample_peak(ctx, kind, outstanding(ctx, kind));
}

/**
 * dmaverify_kind_stats() - a device's statistics for one kind of object
 * @ctx: device context
 * @kind: &enum dmaverify_kind
 * @out: the sums over every CPU (not one consistent cut while DMA runs)
 */
void dmaverify_kind_stats(struct dmaverify_dev *ctx, int kind,
			  struct dmaverify_kind_stats *out)
{
	int cpu;

	memset(out, 0, sizeof(*out));
	for_each_possible_cpu(cpu) {
		struct dmaverify_pcpu *p = per_cpu_ptr(ctx->pcpu, cpu);

		out->allocated += READ_ONCE(p->allocated[kind]);
		out->freed += READ_ONCE(p->released[kind]);
		out->bytes += READ_ONCE(p->bytes[kind]);
	}
	out->outstanding = out->allocated - out->freed;
	sample_peak(ctx, kind, out->outstanding);
	out->peak = atomic_long_read(&ctx->peak[kind]);
}
EXPORT_SYMBOL_FOR_DV_TESTS(dmaverify_kind_stats);

/*
 * Untracked objects are counted on the CPU that created them
 * (dmaverify_untracked_new()); a release takes one back from its own CPU,
 * else from any other, never below zero, so an unknown release is let
 * through exactly as many times as objects went untracked.
 */
static bool take_untracked(struct dmaverify_dev *ctx)
{
	int cpu;

	if (atomic_long_add_unless(raw_cpu_ptr(&ctx->pcpu->untracked), -1, 0))
		return true;
	for_each_possible_cpu(cpu)
		if (atomic_long_add_unless(&per_cpu_ptr(ctx->pcpu, cpu)->untracked,
					   -1, 0))
			return true;
	return false;
}

/**
 * dmaverify_untracked() - untracked objects a release may still name
 * @ctx: device context
 *
 * Return: their number; while it is not 0, a release, sync or unmap of an
 * unknown object is not reported.
 */
long dmaverify_untracked(struct dmaverify_dev *ctx)
{
	long n = 0;
	int cpu;

	for_each_possible_cpu(cpu)
		n += atomic_long_read(&per_cpu_ptr(ctx->pcpu, cpu)->untracked);
	return n;
}

long dmaverify_untracked_total(struct dmaverify_dev *ctx)
{
	long n = 0;
	int cpu;

	for_each_possible_cpu(cpu)
		n += READ_ONCE(per_cpu_ptr(ctx->pcpu, cpu)->untracked_total);
	return n;
}
EXPORT_SYMBOL_FOR_DV_TESTS(dmaverify_untracked_total);

/*
 * Remember a released object for "freed by" in a later double-free report:
 * the object itself goes into this CPU's ring; the oldest one it evicts
 * becomes the CPU's spare entry, or is freed if there is one already.
 * No lock and no interrupts disabled: an interrupt that releases an object
 * meanwhile takes the next slot (the head is incremented in one step).
 */
static void remember_freed(struct dmaverify_dev *ctx, struct dmaverify_obj *obj)
{
	struct dmaverify_pcpu __percpu *pcpu = ctx->pcpu;
	struct dmaverify_obj *old;
	unsigned int i;

	/* A stack unwind per release is costly: only on request. */
	obj->free_stack = READ_ONCE(dmaverify_free_stacks) ?
			  dmaverify_save_stack() : 0;
	obj->free_when = (u32)jiffies;
	obj->free_pid = task_pid_nr(current);
	/* A report on another CPU reads what it finds in the slot. */
	smp_wmb();	/* Pairs with dmaverify_find_freed()'s smp_rmb(). */
	i = (this_cpu_inc_return(pcpu->freed_head) - 1) & (ctx->nr_freed - 1);
	old = this_cpu_xchg(pcpu->freed[i], obj);
	if (old && this_cpu_cmpxchg(pcpu->spare, NULL, old))
		dmaverify_obj_free(old);
}

/**
 * dmaverify_find_freed_match() - the last released object @match accepts
 * @ctx: device context
 * @match: called on a copy of each remembered object, from any context
 * @arg: passed to @match
 * @out: a copy of the object and of its release
 *
 * Scans every CPU's ring, newest first, and takes the newest match of each
 * CPU; of those, the latest by jiffies wins (within one jiffy, any of them).
 * Slow, for reports only.  Any context, NMI included.
 *
 * Return: true if found.
 */
bool dmaverify_find_freed_match(struct dmaverify_dev *ctx,
				bool (*match)(const struct dmaverify_obj *obj,
					      const void *arg),
				const void *arg, struct dmaverify_freed *out)
{
	unsigned int i, head, mask = ctx->nr_freed - 1;
	struct dmaverify_obj copy;
	bool found = false;
	int cpu;

	rcu_read_lock();
	for_each_possible_cpu(cpu) {
		struct dmaverify_pcpu *p = per_cpu_ptr(ctx->pcpu, cpu);

		head = READ_ONCE(p->freed_head);
		for (i = 1; i <= ctx->nr_freed; i++) {
			struct dmaverify_obj **slot = &p->freed[(head - i) & mask];
			struct dmaverify_obj *obj = READ_ONCE(*slot);

			if (!obj)
				continue;
			/*
			 * The owner may evict and reuse it meanwhile: the
			 * memory stays an entry (SLAB_TYPESAFE_BY_RCU), and a
			 * copy is kept only if the slot still holds it after.
			 */
			dmaverify_obj_copy(&copy, obj);
			/* Pairs with remember_freed()'s smp_wmb(). */
			smp_rmb();
			if (READ_ONCE(*slot) != obj || !match(&copy, arg))
				continue;
			if (!found || (s32)(copy.free_when - out->free_when) > 0) {
				out->obj = copy;
				out->free_stack = copy.free_stack;
				out->free_when = copy.free_when;
				out->free_pid = copy.free_pid;
				out->free_cpu = cpu;
				found = true;
			}
			break;
		}
	}
	rcu_read_unlock();
	return found;
}

struct freed_key {
	unsigned long key;
	bool sg;
};

static bool key_matches(const struct dmaverify_obj *obj, const void *arg)
{
	const struct freed_key *k = arg;

	return dmaverify_obj_key(obj) == k->key &&
	       k->sg == dmaverify_obj_is_sg(obj);
}

/**
 * dmaverify_find_freed() - the last release of an object, if remembered
 * @ctx: device context
 * @key: the object's key (DMA address, or S/G list)
 * @sg: an S/G list
 * @out: a copy of the object and of its release
 *
 * As dmaverify_find_freed_match(), by key.
 *
 * Return: true if found.
 */
bool dmaverify_find_freed(struct dmaverify_dev *ctx, unsigned long key, bool sg,
			  struct dmaverify_freed *out)
{
	struct freed_key k = { .key = key, .sg = sg };

	return dmaverify_find_freed_match(ctx, key_matches, &k, out);
}

/* === Object life === */

/**
 * dmaverify_track_obj() - put a filled-in object in the tracker
 * @ctx: device context
 * @obj: the object; its creating stack is saved here unless already set
 *	(the observer saves it at the call's entry)
 */
void dmaverify_track_obj(struct dmaverify_dev *ctx, struct dmaverify_obj *obj)
{
	unsigned int max = READ_ONCE(dmaverify_max_objects);

	if (!obj->stack)
		obj->stack = dmaverify_save_stack();
	obj->when = (u32)jiffies;
	dmaverify_track(&ctx->tracker, obj);

	/*
	 * Exact, and cheap while far from the limit (the per-CPU deltas are
	 * summed only when the approximate count comes within their reach).
	 * Stale objects of an observer count too: then only the count is sure.
	 */
	if (unlikely(__percpu_counter_compare(&ctx->tracker.count, max,
					      DV_COUNT_BATCH) > 0) &&
	    dmaverify_check_on(DV_TOO_MANY_MAPS) &&
	    !dmaverify_observe_stale(ctx, obj))
		dmaverify_violation(ctx, DV_TOO_MANY_MAPS, obj,
				    dmaverify_obj_key(obj), obj->size, obj->dir,
				    "%ld objects outstanding, the limit is %u",
				    dmaverify_tracker_count(&ctx->tracker), max);
}

/**
 * dmaverify_obj_new() - a tracker entry for a new object, to fill in place
 * @ctx: device context
 * @kind: &enum dmaverify_kind
 * @key: its key (DMA address, or S/G list)
 * @size: its size
 * @dir: its direction
 *
 * When dmaverify is disabled or out of memory the object is counted
 * untracked instead: its release is then unknown, and must not be reported
 * (see dmaverify_untracked()).
 *
 * Return: a cleared entry with these fields set, for
 * dmaverify_track_created(), or NULL (counted untracked).
 */
struct dmaverify_obj *dmaverify_obj_new(struct dmaverify_dev *ctx, int kind,
					unsigned long key, size_t size, int dir)
{
	struct dmaverify_obj *obj;

	/* An object of 4 GiB or more is not tracked: @size has 32 bits. */
	obj = dmaverify_verifying() && likely(size <= DV_OBJ_MAX_SIZE) ?
	      dmaverify_obj_take(ctx->pcpu, kind == DV_KIND_SG) : NULL;
	if (!obj) {
		dmaverify_untracked_new(ctx, kind, size);
		return NULL;
	}
	dmaverify_obj_clear(obj);
	obj->key = key;
	obj->size = size;
	obj->kind = kind;
	obj->dir = dir;
	return obj;
}

/**
 * dmaverify_track_created() - track an object from dmaverify_obj_new()
 * @ctx: device context
 * @obj: the object, filled in
 * @ra: DV_RA_SLOT() of the ops callback, or NULL (see
 *	dmaverify_creator_stack()); unused if @obj has its stack already
 */
void dmaverify_track_created(struct dmaverify_dev *ctx,
			     struct dmaverify_obj *obj, const unsigned long *ra)
{
	dmaverify_stats_add(ctx, obj->kind, obj->size);
	if (!obj->stack)
		obj->stack = dmaverify_creator_stack(ra, 0);
	dmaverify_track_obj(ctx, obj);
}

/**
 * dmaverify_track_new() - track a new object, or count it untracked
 * @ctx: device context
 * @tmpl: the object's description, copied into a tracker entry
 * @ra: as for dmaverify_track_created()
 */
void dmaverify_track_new(struct dmaverify_dev *ctx,
			 const struct dmaverify_obj *tmpl,
			 const unsigned long *ra)
{
	struct dmaverify_obj *obj;
	bool tail;

	obj = dmaverify_obj_new(ctx, tmpl->kind, tmpl->key, tmpl->size, tmpl->dir);
	if (!obj)
		return;
	/* The template is a whole struct; @obj has a tail if it needs one. */
	tail = obj->tail;
	memcpy(obj, tmpl, tail ? sizeof(*obj) : DV_OBJ_HEAD);
	obj->tail = tail;
	dmaverify_track_created(ctx, obj, ra);
}

/**
 * dmaverify_unknown_release() - a release found no tracked object
 * @ctx: device context
 * @v: the violation to report (double unmap, double free, ...)
 * @kind: &enum dmaverify_kind the release function handles
 * @key: the DMA address or list the call names
 * @size: the size the call names
 * @dir: the direction the call names
 *
 * If some objects went untracked, or the observer missed calls, this may be
 * one of them: count it off and let the call through.  Otherwise it is a
 * violation, and the interposer does not forward the call.
 *
 * Return: true to forward the call.
 */
/* Out of line: its buffers are not cleared on the path that lets a release through. */
static noinline void report_unknown_release(struct dmaverify_dev *ctx,
					    enum dmaverify_violation v,
					    unsigned long key, size_t size,
					    int dir)
{
	struct dmaverify_report r = {
		.v = v, .ctx = ctx, .addr = key, .size = size, .dir = dir,
	};
	struct dmaverify_freed freed;
	char detail[96];

	if (v == DV_DOUBLE_UNMAP_SG) {
		snprintf(detail, sizeof(detail), "list %p, %s", (void *)key,
			 dmaverify_dir_name(dir));
	} else {
		dma_addr_t addr = key;

		snprintf(detail, sizeof(detail), "DMA address %pad, %zu bytes, %s",
			 &addr, size, dmaverify_dir_name(dir));
	}
	r.detail = detail;
	/* Show the object and who released it, if it was released lately. */
	if (dmaverify_find_freed(ctx, key, v == DV_DOUBLE_UNMAP_SG, &freed)) {
		r.obj = &freed.obj;
		r.freed = &freed;
	}
	dmaverify_report(&r);
}

bool dmaverify_unknown_release(struct dmaverify_dev *ctx,
			       enum dmaverify_violation v, int kind,
			       unsigned long key, size_t size, int dir)
{
	/*
	 * Sampled: most objects are untracked, and none is counted; but a
	 * sampled buffer released lately is known by its quarantined slot.
	 */
	if (ctx->sampled) {
		if (v != DV_DOUBLE_UNMAP || !dmaverify_sample_released(ctx, key))
			return true;
		if (dmaverify_check_on(v))
			report_unknown_release(ctx, v, key, size, dir);
		return false;
	}
	if (take_untracked(ctx)) {
		/* Counted at creation: count its release (by the call's word). */
		dmaverify_stats_sub(ctx, kind, size);
		return true;
	}
	if (dmaverify_observe_lossy(ctx)) {
		dmaverify_unverifiable(ctx, 1);
		return true;
	}
	/*
	 * Through a port (indirect.c), an unknown release may be of what the
	 * port mapped for itself: only one released lately is a violation.
	 */
	if (ctx->port && !dmaverify_indirect_released(ctx, key,
						      v == DV_DOUBLE_UNMAP_SG))
		return true;
	if (dmaverify_check_on(v))
		report_unknown_release(ctx, v, key, size, dir);
	return false;
}

/**
 * dmaverify_released() - a release is done
 * @ctx: device context
 * @obj: the object, out of the tracker: remembered for double-free reports,
 *	and freed later
 */
void dmaverify_released(struct dmaverify_dev *ctx, struct dmaverify_obj *obj)
{
	if (obj->flags & DV_OBJ_SAMPLED)
		atomic_long_dec(&ctx->sample_live);
	dmaverify_stats_sub(ctx, obj->kind, obj->size);
	dmaverify_dmaengine_unmapped(ctx, obj);
	remember_freed(ctx, obj);
}

struct release_match {
	size_t size;
	int dir;
	int kind;
};

/* Among objects sharing a DMA address, prefer the one the release fits. */
static bool fits(const struct dmaverify_obj *obj, const void *arg)
{
	const struct release_match *m = arg;

	return obj->kind == m->kind && obj->size == m->size && obj->dir == m->dir;
}

/* dmaverify_used_failed_mapping() found DMA_MAPPING_ERROR: report it. */
void dmaverify_report_failed_mapping(struct dmaverify_dev *ctx, size_t size,
				     int dir)
{
	if (dmaverify_check_on(DV_UNCHECKED_ERROR))
		dmaverify_violation(ctx, DV_UNCHECKED_ERROR, NULL,
				    DMA_MAPPING_ERROR, size, dir,
				    "DMA_MAPPING_ERROR passed back to the DMA API");
}

/* Kinds one release function may legitimately mix up and still undo. */
static bool compatible(int a, int b)
{
	return a == b || ((a == DV_KIND_MAP || a == DV_KIND_RESOURCE) &&
			  (b == DV_KIND_MAP || b == DV_KIND_RESOURCE));
}

/**
 * dmaverify_find_release() - the object a release (unmap, free) names
 * @ctx: device context
 * @unknown: the violation if there is none (double unmap, double free)
 * @kind: &enum dmaverify_kind the release function handles
 * @key: the DMA address the call names
 * @size: the size it names
 * @dir: the direction it names
 * @cpu_addr: the CPU address it names (coherent buffers), or 0
 * @forward: set when no object is returned: whether to forward the call
 *
 * The object is removed from the tracker and checked against the call.
 *
 * Return: the object (the caller forwards with the object's own size,
 * direction and CPU address), or NULL with *@forward saying whether to
 * forward the call as made: an untracked object is let through, an unknown
 * one or one the call cannot release (a coherent buffer passed to an unmap)
 * is not.
 */
struct dmaverify_obj *dmaverify_find_release(struct dmaverify_dev *ctx,
					     enum dmaverify_violation unknown,
					     int kind, dma_addr_t key,
					     size_t size, int dir,
					     unsigned long cpu_addr,
					     bool *forward)
{
	struct release_match m = { .size = size, .dir = dir, .kind = kind };
	struct dmaverify_obj *obj;

	*forward = false;
	/*
	 * With nothing tracked (verification was off) there is nothing to
	 * look up: the forwarding-only path stays close to the bare call.
	 */
	obj = dmaverify_tracker_used(&ctx->tracker) ?
	      dmaverify_untrack(&ctx->tracker, key, false, fits, &m) : NULL;
	if (!obj) {
		*forward = dmaverify_unknown_release(ctx, unknown, kind, key,
						     size, dir);
		return NULL;
	}
	/* Perhaps a stale object (its release was missed): no blame. */
	if (dmaverify_observe_stale(ctx, obj))
		return obj;
	if (!dmaverify_check_release(ctx, obj, kind, size, dir, cpu_addr, 0) &&
	    !compatible(obj->kind, kind)) {
		/* Keep it: the right call will release it later. */
		dmaverify_track(&ctx->tracker, obj);
		return NULL;
	}
	return obj;
}
