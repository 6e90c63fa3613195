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

#include "dmaverify.h"

void dmaverify_stats_add(struct dmaverify_dev *ctx, int kind, size_t size)
{
	struct dmaverify_kind_stats *s = &ctx->kinds[kind];
	long now = atomic_long_inc_return(&s->outstanding);
	long peak = atomic_long_read(&s->peak);

	atomic_long_inc(&s->allocated);
	atomic_long_add(size, &s->bytes);
	while (now > peak && !atomic_long_try_cmpxchg(&s->peak, &peak, now))
		;
}

void dmaverify_stats_sub(struct dmaverify_dev *ctx, int kind, size_t size)
{
	struct dmaverify_kind_stats *s = &ctx->kinds[kind];

	atomic_long_inc(&s->freed);
	atomic_long_dec(&s->outstanding);
	atomic_long_sub(size, &s->bytes);
}

/**
 * dmaverify_track_obj() - put a filled-in object in the tracker
 * @ctx: device context
 * @obj: the object; its creating stack is saved here unless already set
 *	(the observer saves it at the call's entry)
 */
void dmaverify_track_obj(struct dmaverify_dev *ctx, struct dmaverify_obj *obj)
{
	long total;

	if (!obj->stack)
		obj->stack = dmaverify_save_stack();
	obj->when = (u32)jiffies;
	dmaverify_track(&ctx->tracker, obj);

	total = atomic_long_read(&ctx->tracker.count);
	/* Stale objects of an observer count too: then only the count is sure. */
	if (unlikely(total > READ_ONCE(dmaverify_max_objects)) &&
	    dmaverify_check_on(DV_TOO_MANY_MAPS) &&
	    !dmaverify_observe_stale(ctx, obj))
		dmaverify_violation(ctx, DV_TOO_MANY_MAPS, obj, obj->key, obj->size,
				    obj->dir, "%ld objects outstanding, the limit is %u",
				    total, dmaverify_max_objects);
}

/**
 * dmaverify_track_new() - track a new object, or count it untracked
 * @ctx: device context
 * @tmpl: the object's description, copied into a tracker entry
 * @ra: DV_RA_SLOT() of the ops callback, or NULL (see
 *	dmaverify_creator_stack()); unused if @tmpl has its stack already
 *
 * When dmaverify is disabled or out of memory the object is counted
 * untracked instead: its release is then unknown, and must not be reported
 * (see dmaverify_dev.untracked).
 */
void dmaverify_track_new(struct dmaverify_dev *ctx,
			 const struct dmaverify_obj *tmpl,
			 const unsigned long *ra)
{
	struct dmaverify_obj *obj;

	dmaverify_stats_add(ctx, tmpl->kind, tmpl->size);
	obj = dmaverify_verifying() ? dmaverify_obj_alloc() : NULL;
	if (!obj) {
		atomic_long_inc(&ctx->untracked);
		atomic_long_inc(&ctx->untracked_total);
		return;
	}
	*obj = *tmpl;
	if (!obj->stack)
		obj->stack = dmaverify_creator_stack(ra, 0);
	dmaverify_track_obj(ctx, obj);
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
bool dmaverify_unknown_release(struct dmaverify_dev *ctx,
			       enum dmaverify_violation v, int kind,
			       unsigned long key, size_t size, int dir)
{
	if (atomic_long_add_unless(&ctx->untracked, -1, 0)) {
		/* Counted at creation: count its release (by the call's word). */
		dmaverify_stats_sub(ctx, kind, size);
		return true;
	}
	if (dmaverify_observe_lossy(ctx)) {
		atomic_long_inc(&ctx->unverifiable);
		return true;
	}
	if (!dmaverify_check_on(v))
		return false;
	if (v == DV_DOUBLE_UNMAP_SG) {
		dmaverify_violation(ctx, v, NULL, key, size, dir, "list %p, %s",
				    (void *)key, dmaverify_dir_name(dir));
	} else {
		dma_addr_t addr = key;

		dmaverify_violation(ctx, v, NULL, key, size, dir,
				    "DMA address %pad, %zu bytes, %s", &addr, size,
				    dmaverify_dir_name(dir));
	}
	return false;
}

/**
 * dmaverify_released() - a release is done
 * @ctx: device context
 * @obj: the object, out of the tracker: remembered for double-free reports,
 *	then freed
 */
void dmaverify_released(struct dmaverify_dev *ctx, struct dmaverify_obj *obj)
{
	dmaverify_stats_sub(ctx, obj->kind, obj->size);
	dmaverify_remember_freed(ctx, obj);
	dmaverify_obj_free(obj);
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

/**
 * dmaverify_used_failed_mapping() - a call passes DMA_MAPPING_ERROR back
 * @ctx: device context
 * @addr: the DMA address the call names
 * @size: its size
 * @dir: its direction
 *
 * Return: true (and reported) if @addr is DMA_MAPPING_ERROR.
 */
bool dmaverify_used_failed_mapping(struct dmaverify_dev *ctx, dma_addr_t addr,
				   size_t size, int dir)
{
	if (likely(addr != DMA_MAPPING_ERROR))
		return false;
	if (dmaverify_check_on(DV_UNCHECKED_ERROR))
		dmaverify_violation(ctx, DV_UNCHECKED_ERROR, NULL, addr, size, dir,
				    "DMA_MAPPING_ERROR passed back to the DMA API");
	return true;
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
	obj = dmaverify_untrack(&ctx->tracker, key, false, fits, &m);
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
