// SPDX-License-Identifier: GPL-2.0
/*
 * dmaverify: observe-only mode, for kernels without per-device dma_map_ops.
 *
 * Where dmaverify cannot put its own dma_map_ops on a device (no
 * CONFIG_ARCH_HAS_DMA_OPS: most arm64 and riscv kernels, x86 without XEN or
 * the GART driver), it watches the DMA API's exported entry points with
 * probes instead (mode=observe; mode=auto picks it on such kernels):
 * fprobes where the kernel has them, kprobes otherwise (probe.c).  A probe
 * on each call that creates an object (map, alloc) checks the call at
 * entry and tracks the object it returned at return; a probe on each
 * release and sync checks the call before it runs.  The calls themselves
 * go through unchanged, so:
 *
 *  - a violation is reported, but not prevented (a double unmap still
 *    reaches the DMA core; action=panic stops the kernel before it does);
 *  - there are no redzones, bounce buffers or failure injection: those need
 *    to own the memory the device sees;
 *  - the calling context is seen from inside a probe handler, with
 *    preemption disabled: "may sleep" is judged by interrupts and
 *    softirq/hardirq state only, as on kernels without preempt counting.
 *
 * The probes see every device's calls; a table of observed devices (RCU,
 * hashed by device) filters them, and a call of another device costs the
 * probe and one lookup.  The probes are registered when the first device is
 * observed and stay until unload, so interposed devices never pay for them.
 *
 * Kprobes do not nest: a DMA call from an interrupt that arrives while a
 * handler runs on the same CPU is missed (and counted by the kprobe core);
 * fprobes miss none of those.  A missed creation would make its release
 * look unknown, and a missed release would make a leak: once the observer
 * has missed a call, the device is degraded: releases of unknown objects
 * and leaks are counted as unverifiable, not reported, and dmesg and the
 * stats say so.
 */

#define pr_fmt(fmt) "dmaverify: " fmt

#include <linux/dma-mapping.h>
#include <linux/hashtable.h>
#include <linux/mm.h>
#include <linux/scatterlist.h>
#include <linux/seq_file.h>

#include "dmaverify.h"
#include "probe.h"

static bool observe_fprobes = true;
module_param(observe_fprobes, bool, 0444);
MODULE_PARM_DESC(observe_fprobes, "Observe mode: probe the DMA API with fprobes where the kernel has them (default Y: a call from an interrupt is seen even while a probe runs in the task it interrupted); N: kprobes, which miss such calls");

static DEFINE_HASHTABLE(observed, 6);
static DEFINE_SPINLOCK(observed_lock);
static DEFINE_MUTEX(probes_lock);
static bool probes_on;

/* The device's context if it is observed.  Context: RCU read side. */
static struct dmaverify_dev *observed_ctx(struct device *dev)
{
	struct dmaverify_dev *ctx;

	hash_for_each_possible_rcu(observed, ctx, observe_node, (unsigned long)dev)
		if (ctx->dev == dev)
			return ctx;
	return NULL;
}

/*
 * A call of an observed device: the NMI and released-driver rules first.
 * A call in NMI is reported and not tracked: the tracker's locks may be
 * held by the code the NMI interrupted.
 */
static struct dmaverify_dev *enter(struct device *dev)
{
	struct dmaverify_dev *ctx = observed_ctx(dev);

	if (ctx && unlikely(in_nmi())) {
		dmaverify_check_context(ctx, false, false);
		return NULL;
	}
	if (ctx && unlikely(READ_ONCE(ctx->state) == DV_STATE_RELEASED) &&
	    dmaverify_check_on(DV_USE_AFTER_RELEASE))
		dmaverify_violation(ctx, DV_USE_AFTER_RELEASE, NULL, 0, 0, DMA_NONE,
				    "driver %s was released from the device",
				    ctx->driver);
	return ctx;
}

/*
 * Since 6.12, dma_set_mask() (in the driver's probe, after attach) sets
 * dma_skip_sync on a coherent dma-direct device, and then
 * dma_need_unmap() tells drivers that they may skip unmapping, which the
 * block layer does since 6.17: every mapping would look leaked.  An
 * observed device keeps it clear, as at attach; the flag is written only
 * when set, so once per dma_set_mask().
 */
static void keep_unmaps(struct device *dev)
{
#if defined(DMAVERIFY_HAVE_DEV_DMA_SKIP_SYNC_ACCESSOR)
	if (unlikely(dev_dma_skip_sync(dev)))
		dv_clear_skip_sync(dev);
#elif defined(DMAVERIFY_HAVE_DEV_DMA_SKIP_SYNC_FIELD)
	if (unlikely(dev->dma_skip_sync))
		dv_clear_skip_sync(dev);
#endif
}

/*
 * What a creating call's entry handler leaves for its return handler: the
 * device and its context then (a different context at return means the
 * device was detached meanwhile), the arguments, and the caller's stack.
 */
struct call {
	struct device *dev;
	struct dmaverify_dev *ctx;
	unsigned long a[5];
	unsigned long stack;
};

/* The context a return handler may use, or NULL.  Context: RCU. */
static struct dmaverify_dev *returning(struct call *c)
{
	struct dmaverify_dev *ctx = observed_ctx(c->dev);

	return ctx == c->ctx ? ctx : NULL;
}

/*
 * Start a creating call: 0 to see its return, 1 to let it go.  Context:
 * RCU read side, held by the caller until it is done with c->ctx.
 */
static int begin(struct call *c, const struct dmaverify_call *call)
{
	c->dev = (struct device *)call->arg[0];
	c->ctx = enter(c->dev);
	if (!c->ctx)
		return 1;
	keep_unmaps(c->dev);
	c->stack = dmaverify_verifying() ?
		   dmaverify_creator_stack(NULL, call->caller) : 0;
	return 0;
}

/* === Streaming maps === */

/*
 * dma_map_phys(dev, phys, size, dir, attrs) where the kernel has it (every
 * other single map is a wrapper of it); dma_map_page_attrs(dev, page,
 * offset, size, dir, attrs) and dma_map_resource(dev, phys, size, dir,
 * attrs) before.
 */
static int map_entry(struct call *c, const struct dmaverify_call *call,
		     phys_addr_t phys, size_t size, int dir, unsigned long attrs,
		     int kind)
{
	int ret = 1;

	rcu_read_lock();
	if (begin(c, call))
		goto out;
	c->a[0] = phys;
	c->a[1] = size;
	c->a[2] = dir;
	c->a[3] = kind;
	c->a[4] = attrs;
	dmaverify_test_point(DV_TEST_OBSERVED, c->dev, phys);
	if (kind == DV_KIND_MAP && dmaverify_verifying()) {
		dmaverify_check_map_buffer(c->ctx, phys, NULL, size, dir);
		if (!(attrs & DMA_ATTR_SKIP_CPU_SYNC))
			dmaverify_check_overlap(c->ctx, phys, size, dir, NULL);
	}
	ret = 0;
out:
	rcu_read_unlock();
	return ret;
}

#ifdef DMAVERIFY_HAVE_DMA_MAP_PHYS
static int map_phys_entry(void *data, const struct dmaverify_call *call)
{
	const unsigned long *a = call->arg;

	return map_entry(data, call, a[1], a[2], a[3], a[4],
			 a[4] & DMA_ATTR_MMIO ? DV_KIND_RESOURCE : DV_KIND_MAP);
}
#else
static int map_page_entry(void *data, const struct dmaverify_call *call)
{
	const unsigned long *a = call->arg;

	return map_entry(data, call, page_to_phys((struct page *)a[1]) + a[2],
			 a[3], a[4], a[5], DV_KIND_MAP);
}

static int map_resource_entry(void *data, const struct dmaverify_call *call)
{
	const unsigned long *a = call->arg;

	return map_entry(data, call, a[1], a[2], a[3], a[4], DV_KIND_RESOURCE);
}
#endif

/*
 * Track what a verified device mapped.  Out of line, as the other handlers'
 * bodies below: the kernel zeroes every stack variable at entry
 * (CONFIG_INIT_STACK_ALL_ZERO), and the probes run for every device's calls.
 */
static noinline void observed_map(struct dmaverify_dev *ctx,
				  const struct call *c, dma_addr_t addr)
{
	struct dmaverify_obj tmpl = {
		.dma = addr, .phys = c->a[0], .size = c->a[1],
		.dir = c->a[2], .kind = c->a[3], .stack = c->stack,
	};

	/* Device-writable maps go in the physical index, for overlaps. */
	if (tmpl.kind == DV_KIND_MAP && tmpl.dir != DMA_TO_DEVICE &&
	    !(c->a[4] & DMA_ATTR_SKIP_CPU_SYNC))
		tmpl.flags |= DV_OBJ_PHYS_INDEXED;
	dmaverify_check_dma_addr(ctx, &tmpl, addr, tmpl.size, false);
	dmaverify_track_new(ctx, &tmpl, NULL);
}

static void map_return(void *data, const struct dmaverify_call *call)
{
	struct call *c = data;
	dma_addr_t addr = call->ret;
	struct dmaverify_dev *ctx;

	if (addr == DMA_MAPPING_ERROR)
		return;
	rcu_read_lock();
	ctx = returning(c);
	if (ctx)
		observed_map(ctx, c, addr);
	rcu_read_unlock();
}

/*
 * A release the observer saw: the object it releases leaves the tracker
 * (or the release is reported: unknown, of another size, kind, ...).
 * @cpu is a coherent buffer's CPU address, else 0.  Context: RCU.
 */
static void release(struct dmaverify_dev *ctx, enum dmaverify_violation unknown,
		    int kind, dma_addr_t key, size_t size, int dir,
		    unsigned long cpu)
{
	struct dmaverify_obj *obj;
	bool forward;

	obj = dmaverify_find_release(ctx, unknown, kind, key, size, dir, cpu,
				     &forward);
	if (obj)
		dmaverify_released(ctx, obj);
}

/* dma_unmap_{phys,page_attrs,resource}(dev, addr, size, dir, attrs) */
static void unmap(const struct dmaverify_call *call, int kind)
{
	struct dmaverify_dev *ctx;
	dma_addr_t addr = call->arg[1];
	size_t size = call->arg[2];
	int dir = call->arg[3];

	rcu_read_lock();
	ctx = enter((struct device *)call->arg[0]);
	if (ctx && dmaverify_verifying() &&
	    !dmaverify_used_failed_mapping(ctx, addr, size, dir))
		release(ctx, DV_DOUBLE_UNMAP, kind, addr, size, dir, 0);
	rcu_read_unlock();
}

#ifdef DMAVERIFY_HAVE_DMA_MAP_PHYS
static void unmap_phys_pre(const struct dmaverify_call *call)
{
	unmap(call, call->arg[4] & DMA_ATTR_MMIO ? DV_KIND_RESOURCE : DV_KIND_MAP);
}
#else
static void unmap_page_pre(const struct dmaverify_call *call)
{
	unmap(call, DV_KIND_MAP);
}

static void unmap_resource_pre(const struct dmaverify_call *call)
{
	unmap(call, DV_KIND_RESOURCE);
}
#endif

/* === Scatter/gather lists === */

static int map_sg_begin(struct call *c, const struct dmaverify_call *call,
			struct scatterlist *sgl, int nents, int dir,
			unsigned long attrs, struct sg_table *sgt)
{
	struct scatterlist *s;
	int i, ret = 1;

	rcu_read_lock();
	if (begin(c, call))
		goto out;
	c->a[0] = (unsigned long)sgl;
	c->a[1] = nents;
	c->a[2] = dir;
	c->a[3] = (unsigned long)sgt;
	ret = 0;
	if (!dmaverify_verifying())
		goto out;
	for_each_sg(sgl, s, nents, i) {
		dmaverify_check_map_buffer(c->ctx, sg_phys(s), NULL, s->length, dir);
		if (!(attrs & DMA_ATTR_SKIP_CPU_SYNC))
			dmaverify_check_overlap(c->ctx, sg_phys(s), s->length, dir, NULL);
	}
out:
	rcu_read_unlock();
	return ret;
}

/* dma_map_sg_attrs(dev, sgl, nents, dir, attrs): the mapped count, or 0 */
static int map_sg_entry(void *data, const struct dmaverify_call *call)
{
	const unsigned long *a = call->arg;

	return map_sg_begin(data, call, (struct scatterlist *)a[1], a[2], a[3],
			    a[4], NULL);
}

/* dma_map_sgtable(dev, sgt, dir, attrs): 0 or an errno; sgt->nents */
static int map_sgtable_entry(void *data, const struct dmaverify_call *call)
{
	struct sg_table *sgt = (struct sg_table *)call->arg[1];

	return map_sg_begin(data, call, sgt->sgl, sgt->orig_nents, call->arg[2],
			    call->arg[3], sgt);
}

static noinline void observed_map_sg(struct dmaverify_dev *ctx,
				     const struct call *c, int mapped)
{
	struct scatterlist *sgl = (struct scatterlist *)c->a[0];
	int nents = c->a[1];
	struct dmaverify_obj tmpl = {
		/* The key of a list is its pointer, in @phys. */
		.dma = sg_dma_address(sgl),
		.phys = (unsigned long)sgl, .kind = DV_KIND_SG, .dir = c->a[2],
		.nents = nents, .mapped = mapped, .stack = c->stack,
	};
	struct scatterlist *s;
	int i;

	for_each_sg(sgl, s, nents, i)
		tmpl.size += s->length;
	if (dmaverify_verifying())
		dmaverify_check_sg_segments(ctx, sgl, mapped);
	tmpl.csum = dmaverify_sg_csum(sgl, nents);
	dmaverify_track_new(ctx, &tmpl, NULL);
}

static void map_sg_return(void *data, const struct dmaverify_call *call)
{
	struct call *c = data;
	struct sg_table *sgt = (struct sg_table *)c->a[3];
	long ret = (int)call->ret;
	struct dmaverify_dev *ctx;
	int mapped = sgt ? (ret ? 0 : sgt->nents) : ret;

	if (mapped <= 0)
		return;
	rcu_read_lock();
	ctx = returning(c);
	if (ctx)
		observed_map_sg(ctx, c, mapped);
	rcu_read_unlock();
}

/* dma_unmap_sg_attrs(dev, sgl, nents, dir, attrs) */
static noinline void observed_unmap_sg(struct dmaverify_dev *ctx,
				       struct scatterlist *sgl, int nents,
				       int dir)
{
	struct dmaverify_obj *obj, other;

	obj = dmaverify_untrack(&ctx->tracker, (unsigned long)sgl, true, NULL, NULL);
	if (obj) {
		if (!dmaverify_observe_stale(ctx, obj))
			dmaverify_check_release(ctx, obj, DV_KIND_SG, 0, dir,
						(unsigned long)sgl, nents);
		dmaverify_released(ctx, obj);
		return;
	}
	/* A single mapping released as a list? */
	if (dmaverify_lookup(&ctx->tracker, sg_dma_address(sgl), false, &other) &&
	    !dmaverify_untracked(ctx) && !dmaverify_observe_lossy(ctx)) {
		if (dmaverify_check_on(DV_WRONG_FUNCTION))
			dmaverify_violation(ctx, DV_WRONG_FUNCTION, &other,
					    (unsigned long)sgl, 0, dir,
					    "created as %s, released as sg",
					    dmaverify_kind_names[other.kind]);
		return;
	}
	{
		struct scatterlist *s;
		size_t total = 0;
		int i;

		for_each_sg(sgl, s, nents, i)
			total += s->length;
		dmaverify_unknown_release(ctx, DV_DOUBLE_UNMAP_SG, DV_KIND_SG,
					  (unsigned long)sgl, total, dir);
	}
}

static void unmap_sg_pre(const struct dmaverify_call *call)
{
	struct dmaverify_dev *ctx;

	rcu_read_lock();
	ctx = enter((struct device *)call->arg[0]);
	if (ctx && dmaverify_verifying())
		observed_unmap_sg(ctx, (struct scatterlist *)call->arg[1],
				  call->arg[2], call->arg[3]);
	rcu_read_unlock();
}

/* === Coherent buffers === */

/*
 * An allocation's entry, @dir and @gfp taken from its arguments: the size
 * and the DMA handle's address are the same for each.
 */
static int alloc_begin(struct call *c, const struct dmaverify_call *call,
		       int dir, gfp_t gfp)
{
	int ret = 1;

	rcu_read_lock();
	if (begin(c, call))
		goto out;
	c->a[0] = call->arg[1];
	c->a[1] = call->arg[2];
	c->a[2] = dir;
	if (READ_ONCE(dmaverify_enabled))
		dmaverify_check_context(c->ctx, gfpflags_allow_blocking(gfp), false);
	ret = 0;
out:
	rcu_read_unlock();
	return ret;
}

/*
 * An allocation returned @dma and @phys (the CPU address of a coherent
 * buffer).
 */
static noinline void observed_alloc(struct dmaverify_dev *ctx,
				    const struct call *c, dma_addr_t dma,
				    unsigned long phys, int kind)
{
	struct dmaverify_obj tmpl = {
		.dma = dma, .size = c->a[0], .phys = phys,
		.kind = kind, .dir = c->a[2], .stack = c->stack,
	};

	dmaverify_check_dma_addr(ctx, &tmpl, dma, tmpl.size, true);
	dmaverify_track_new(ctx, &tmpl, NULL);
}

static void alloc_end(struct call *c, dma_addr_t dma, unsigned long phys,
		      int kind)
{
	struct dmaverify_dev *ctx;

	rcu_read_lock();
	ctx = returning(c);
	if (ctx)
		observed_alloc(ctx, c, dma, phys, kind);
	rcu_read_unlock();
}

/* dma_alloc_attrs(dev, size, &dma_handle, gfp, attrs): the CPU address */
static int alloc_entry(void *data, const struct dmaverify_call *call)
{
	return alloc_begin(data, call, DMA_BIDIRECTIONAL,
			   (__force gfp_t)call->arg[3]);
}

static void alloc_return(void *data, const struct dmaverify_call *call)
{
	struct call *c = data;

	if (call->ret)
		alloc_end(c, *(dma_addr_t *)c->a[1], call->ret, DV_KIND_COHERENT);
}

/* dma_free_attrs(dev, size, cpu, dma, attrs) */
static void free_pre(const struct dmaverify_call *call)
{
	const unsigned long *a = call->arg;
	struct dmaverify_dev *ctx;

	/* Freeing NULL does nothing (the core returns before its ops). */
	if (!a[2])
		return;
	rcu_read_lock();
	ctx = enter((struct device *)a[0]);
	if (ctx && READ_ONCE(dmaverify_enabled))
		dmaverify_check_context(ctx, false, true);
	if (ctx && dmaverify_verifying())
		release(ctx, DV_DOUBLE_FREE, DV_KIND_COHERENT, a[3], a[1],
			DMA_BIDIRECTIONAL, a[2]);
	rcu_read_unlock();
}

/*
 * dma_alloc_pages(dev, size, &dma_handle, dir, gfp): non-coherent pages
 * (dma_alloc_noncoherent() is an inline wrapper of it).
 */
static int alloc_pages_entry(void *data, const struct dmaverify_call *call)
{
	return alloc_begin(data, call, call->arg[3], (__force gfp_t)call->arg[4]);
}

static void alloc_pages_return(void *data, const struct dmaverify_call *call)
{
	struct call *c = data;

	if (call->ret)
		alloc_end(c, *(dma_addr_t *)c->a[1],
			  page_to_phys((struct page *)call->ret), DV_KIND_PAGES);
}

/*
 * dma_alloc_noncontiguous(dev, size, dir, gfp, attrs): an sg_table of
 * pages, one DMA range; tracked as pages, by that range's address.
 */
static int alloc_noncontig_entry(void *data, const struct dmaverify_call *call)
{
	return alloc_begin(data, call, call->arg[2], (__force gfp_t)call->arg[3]);
}

static void alloc_noncontig_return(void *data, const struct dmaverify_call *call)
{
	struct sg_table *sgt = (struct sg_table *)call->ret;

	if (sgt)
		alloc_end(data, sg_dma_address(sgt->sgl), sg_phys(sgt->sgl),
			  DV_KIND_PAGES);
}

/* dma_free_noncontiguous(dev, size, sgt, dir) */
static void free_noncontig_pre(const struct dmaverify_call *call)
{
	const unsigned long *a = call->arg;
	struct sg_table *sgt = (struct sg_table *)a[2];
	struct dmaverify_dev *ctx;

	rcu_read_lock();
	ctx = enter((struct device *)a[0]);
	if (ctx && dmaverify_verifying())
		release(ctx, DV_DOUBLE_FREE, DV_KIND_PAGES,
			sg_dma_address(sgt->sgl), a[1], a[3], 0);
	rcu_read_unlock();
}

/* dma_free_pages(dev, size, page, dma_handle, dir) */
static void free_pages_pre(const struct dmaverify_call *call)
{
	const unsigned long *a = call->arg;
	struct dmaverify_dev *ctx;

	rcu_read_lock();
	ctx = enter((struct device *)a[0]);
	if (ctx && dmaverify_verifying())
		release(ctx, DV_DOUBLE_FREE, DV_KIND_PAGES, a[3], a[1], a[4], 0);
	rcu_read_unlock();
}

/* === The IOVA API (6.17+) === */

#ifdef DMAVERIFY_HAVE_DMA_IOVA
/*
 * A driver allocates a range of IOVA space (dma_iova_try_alloc()), links
 * pieces of memory into it at offsets (dma_iova_link()), and unlinks them
 * (dma_iova_unlink(), or dma_iova_destroy() for the whole used part, which
 * frees the range too).  Each link is tracked as a streaming mapping at its
 * DMA address (the state's address plus its offset), so that the leak,
 * sync and release rules apply to it as to dma_map_phys()'s.  Behind an
 * IOMMU on 6.17+ the block layer maps NVMe requests this way.
 */

/* dma_iova_link(dev, state, phys, offset, size, dir, attrs): 0 or errno */
static int iova_link_entry(void *data, const struct dmaverify_call *call)
{
	struct call *c = data;
	int ret = 1;

	rcu_read_lock();
	if (begin(c, call))
		goto out;
	c->a[0] = call->arg[1];
	c->a[1] = call->arg[2];
	c->a[2] = call->arg[3];
	c->a[3] = call->arg[4];
	c->a[4] = call->arg[5];
	if (dmaverify_verifying())
		dmaverify_check_map_buffer(c->ctx, c->a[1], NULL, c->a[3], c->a[4]);
	ret = 0;
out:
	rcu_read_unlock();
	return ret;
}

static void iova_link_return(void *data, const struct dmaverify_call *call)
{
	struct call *c = data;
	struct dma_iova_state *state = (struct dma_iova_state *)c->a[0];
	struct dmaverify_obj tmpl = {};
	struct dmaverify_dev *ctx;

	if ((int)call->ret)
		return;
	rcu_read_lock();
	ctx = returning(c);
	if (ctx) {
		tmpl.dma = state->addr + c->a[2];
		tmpl.key = tmpl.dma;
		tmpl.phys = c->a[1];
		tmpl.size = c->a[3];
		tmpl.dir = c->a[4];
		tmpl.kind = DV_KIND_MAP;
		tmpl.stack = c->stack;
		dmaverify_check_dma_addr(ctx, &tmpl, tmpl.dma, tmpl.size, false);
		dmaverify_track_new(ctx, &tmpl, NULL);
	}
	rcu_read_unlock();
}

/*
 * Release the links of [@base + @offset, + @size), one after the other.
 * A range whose start was never linked is a release of something never
 * mapped (or unlinked already), unless @quiet; a partial unlink of a link
 * is left alone (it keeps its object: no rule says more).  Context: RCU.
 */
static void iova_unlink_range(struct dmaverify_dev *ctx, dma_addr_t base,
			      size_t offset, size_t size, int dir, bool quiet)
{
	size_t pos = offset;

	while (pos < offset + size) {
		dma_addr_t addr = base + pos;
		struct dmaverify_obj *obj;

		obj = dmaverify_untrack(&ctx->tracker, addr, false, NULL, NULL);
		if (!obj) {
			if (pos == offset && !quiet)
				dmaverify_unknown_release(ctx, DV_DOUBLE_UNMAP,
							  DV_KIND_MAP, addr,
							  size, dir);
			break;
		}
		if (obj->size > offset + size - pos) {
			dmaverify_track(&ctx->tracker, obj);
			break;
		}
		pos += obj->size;
		if (!dmaverify_observe_stale(ctx, obj))
			dmaverify_check_release(ctx, obj, DV_KIND_MAP, obj->size,
						dir, 0, 0);
		dmaverify_released(ctx, obj);
	}
}

/*
 * After dma_iova_destroy(): links of the range past the @used part it
 * unlinked stay mapped in the IOMMU for an IOVA range that is free again.
 * Those that follow the used part are reported (and forgotten: their
 * range is gone).  Context: RCU.
 */
static void iova_destroyed_links(struct dmaverify_dev *ctx, dma_addr_t base,
				 size_t used, size_t size)
{
	size_t pos = used;

	while (pos < size) {
		struct dmaverify_obj copy, *obj;

		if (!dmaverify_lookup_containing(&ctx->tracker, base + pos, &copy) ||
		    copy.dma < base)
			break;
		obj = dmaverify_untrack(&ctx->tracker, copy.key, false, NULL, NULL);
		if (!obj)
			break;
		pos = obj->dma + obj->size - base;
		if (!dmaverify_observe_stale(ctx, obj) &&
		    dmaverify_check_on(DV_LEAK_MAP))
			dmaverify_violation(ctx, DV_LEAK_MAP, obj, obj->dma,
					    obj->size, obj->dir,
					    "dma_iova_destroy() of %zu bytes freed an IOVA range of %zu with this link (at +%zu) still in it",
					    used, size, (size_t)(obj->dma - base));
		dmaverify_released(ctx, obj);
	}
}

/*
 * dma_iova_sync(dev, state, offset, size): the start of the range must be
 * in a link.
 */
static void iova_sync_pre(const struct dmaverify_call *call)
{
	struct dma_iova_state *state = (struct dma_iova_state *)call->arg[1];
	dma_addr_t addr = state->addr + call->arg[2];
	size_t size = call->arg[3];
	struct dmaverify_dev *ctx;
	struct dmaverify_obj obj;

	rcu_read_lock();
	ctx = enter((struct device *)call->arg[0]);
	if (ctx && dmaverify_verifying() && size &&
	    !dmaverify_lookup_containing(&ctx->tracker, addr, &obj) &&
	    !dmaverify_untracked(ctx) && !dmaverify_observe_lossy(ctx) &&
	    dmaverify_check_on(DV_SYNC_UNMAPPED))
		dmaverify_violation(ctx, DV_SYNC_UNMAPPED, NULL, addr, size,
				    DMA_NONE,
				    "dma_iova_sync() of %zu bytes at DMA address %pad (+%zu in its IOVA range), outside every dma_iova_link()",
				    size, &addr, (size_t)call->arg[2]);
	rcu_read_unlock();
}

/* dma_iova_unlink(dev, state, offset, size, dir, attrs) */
static void iova_unlink_pre(const struct dmaverify_call *call)
{
	struct dma_iova_state *state = (struct dma_iova_state *)call->arg[1];
	struct dmaverify_dev *ctx;

	rcu_read_lock();
	ctx = enter((struct device *)call->arg[0]);
	if (ctx && dmaverify_verifying())
		iova_unlink_range(ctx, state->addr, call->arg[2], call->arg[3],
				  call->arg[4], false);
	rcu_read_unlock();
}

/*
 * dma_iova_destroy(dev, state, mapped_len, dir, attrs): unlink the used
 * part and free the range.  Kernels unlink either through the exported
 * dma_iova_unlink() (seen by its own probe) or internally: the range is
 * checked at entry (its start must be linked) and released at return, of
 * what is left of it.
 */
static int iova_destroy_entry(void *data, const struct dmaverify_call *call)
{
	struct dma_iova_state *state = (struct dma_iova_state *)call->arg[1];
	struct call *c = data;
	struct dmaverify_obj obj;
	int ret = 1;

	rcu_read_lock();
	if (!call->arg[2] || begin(c, call))
		goto out;
	c->a[0] = state->addr;
	c->a[1] = call->arg[2];
	c->a[2] = call->arg[3];
	c->a[3] = dma_iova_size(state);
	if (dmaverify_verifying() &&
	    !dmaverify_lookup(&c->ctx->tracker, c->a[0], false, &obj))
		dmaverify_unknown_release(c->ctx, DV_DOUBLE_UNMAP, DV_KIND_MAP,
					  c->a[0], c->a[1], c->a[2]);
	ret = 0;
out:
	rcu_read_unlock();
	return ret;
}

static void iova_destroy_return(void *data, const struct dmaverify_call *call)
{
	struct call *c = data;
	struct dmaverify_dev *ctx;

	rcu_read_lock();
	ctx = returning(c);
	if (ctx && dmaverify_verifying()) {
		iova_unlink_range(ctx, c->a[0], 0, c->a[1], c->a[2], true);
		iova_destroyed_links(ctx, c->a[0], c->a[1], c->a[3]);
	}
	rcu_read_unlock();
}
#endif /* DMAVERIFY_HAVE_DMA_IOVA */

/* === Syncs === */

/*
 * [__]dma_sync_single_for_{cpu,device}(dev, addr, size, dir).  Since 6.12
 * the public names are inline wrappers that skip the call when the device
 * needs no sync; dmaverify clears dma_skip_sync on an observed device.
 */
static noinline void observed_sync(struct dmaverify_dev *ctx, dma_addr_t addr,
				   size_t size, int dir, bool for_cpu)
{
	struct dmaverify_obj obj;

	if (dmaverify_lookup(&ctx->tracker, addr, false, &obj) ||
	    dmaverify_lookup_containing(&ctx->tracker, addr, &obj)) {
		/* A stale object may hide the mapping the sync is about. */
		if (!dmaverify_observe_stale(ctx, &obj))
			dmaverify_check_sync(ctx, &obj, addr, size, dir, for_cpu);
	} else if (!dmaverify_untracked(ctx) &&
		 !dmaverify_observe_lossy(ctx) &&
		 dmaverify_check_on(DV_SYNC_UNMAPPED))
		dmaverify_violation(ctx, DV_SYNC_UNMAPPED, NULL, addr, size, dir,
				    "DMA address %pad, %zu bytes, %s", &addr, size,
				    dmaverify_dir_name(dir));
}

static void sync_single(const struct dmaverify_call *call, bool for_cpu)
{
	dma_addr_t addr = call->arg[1];
	size_t size = call->arg[2];
	int dir = call->arg[3];
	struct dmaverify_dev *ctx;

	rcu_read_lock();
	ctx = enter((struct device *)call->arg[0]);
	if (ctx && dmaverify_verifying() &&
	    !dmaverify_used_failed_mapping(ctx, addr, size, dir))
		observed_sync(ctx, addr, size, dir, for_cpu);
	rcu_read_unlock();
}

static void sync_single_cpu_pre(const struct dmaverify_call *call)
{
	sync_single(call, true);
}

static void sync_single_dev_pre(const struct dmaverify_call *call)
{
	sync_single(call, false);
}

/* [__]dma_sync_sg_for_{cpu,device}(dev, sgl, nents, dir) */
static noinline void observed_sync_sg(struct dmaverify_dev *ctx,
				      struct scatterlist *sgl, int nents,
				      int dir, bool for_cpu)
{
	struct dmaverify_obj obj;

	if (dmaverify_lookup(&ctx->tracker, (unsigned long)sgl, true, &obj)) {
		if (!dmaverify_observe_stale(ctx, &obj))
			dmaverify_check_sync_sg(ctx, &obj, nents, dir, for_cpu);
	} else if (!dmaverify_untracked(ctx) &&
		 !dmaverify_observe_lossy(ctx) &&
		 dmaverify_check_on(DV_SYNC_SG_UNMAPPED))
		dmaverify_violation(ctx, DV_SYNC_SG_UNMAPPED, NULL,
				    (unsigned long)sgl, 0, dir,
				    "list %p, %d entries, %s", sgl, nents,
				    dmaverify_dir_name(dir));
}

static void sync_sg(const struct dmaverify_call *call, bool for_cpu)
{
	struct dmaverify_dev *ctx;

	rcu_read_lock();
	ctx = enter((struct device *)call->arg[0]);
	if (ctx && dmaverify_verifying())
		observed_sync_sg(ctx, (struct scatterlist *)call->arg[1],
				 call->arg[2], call->arg[3], for_cpu);
	rcu_read_unlock();
}

static void sync_sg_cpu_pre(const struct dmaverify_call *call)
{
	sync_sg(call, true);
}

static void sync_sg_dev_pre(const struct dmaverify_call *call)
{
	sync_sg(call, false);
}

/* === The probes === */

#define CREATE(n1, e, r)	{ .names = { n1 }, .entry = e, .ret = r, \
				  .data_size = sizeof(struct call), .required = true }
#define RELEASE(n1, p)		{ .names = { n1 }, .pre = p, .required = true, .release = true }
#define CHECK(n1, n2, p)	{ .names = { n1, n2 }, .pre = p }
/* Entry points a kernel may lack: without them the rest still works. */
#define CREATE_OPT(n1, e, r)	{ .names = { n1 }, .entry = e, .ret = r, \
				  .data_size = sizeof(struct call) }
#define RELEASE_OPT(n1, p)	{ .names = { n1 }, .pre = p, .release = true }

static struct dmaverify_probe probes[] = {
#ifdef DMAVERIFY_HAVE_DMA_MAP_PHYS
	CREATE("dma_map_phys", map_phys_entry, map_return),
	RELEASE("dma_unmap_phys", unmap_phys_pre),
#else
	CREATE("dma_map_page_attrs", map_page_entry, map_return),
	RELEASE("dma_unmap_page_attrs", unmap_page_pre),
	CREATE("dma_map_resource", map_resource_entry, map_return),
	RELEASE("dma_unmap_resource", unmap_resource_pre),
#endif
	CREATE("dma_map_sg_attrs", map_sg_entry, map_sg_return),
	CREATE("dma_map_sgtable", map_sgtable_entry, map_sg_return),
	RELEASE("dma_unmap_sg_attrs", unmap_sg_pre),
	CREATE("dma_alloc_attrs", alloc_entry, alloc_return),
	RELEASE("dma_free_attrs", free_pre),
	CREATE("dma_alloc_pages", alloc_pages_entry, alloc_pages_return),
	RELEASE("dma_free_pages", free_pages_pre),
	CREATE("dma_alloc_noncontiguous", alloc_noncontig_entry,
	       alloc_noncontig_return),
	RELEASE("dma_free_noncontiguous", free_noncontig_pre),
#ifdef DMAVERIFY_HAVE_DMA_IOVA
	CREATE_OPT("dma_iova_link", iova_link_entry, iova_link_return),
	RELEASE_OPT("dma_iova_unlink", iova_unlink_pre),
	CREATE_OPT("dma_iova_destroy", iova_destroy_entry, iova_destroy_return),
	CHECK("dma_iova_sync", NULL, iova_sync_pre),
#endif
	CHECK("__dma_sync_single_for_cpu", "dma_sync_single_for_cpu",
	      sync_single_cpu_pre),
	CHECK("__dma_sync_single_for_device", "dma_sync_single_for_device",
	      sync_single_dev_pre),
	CHECK("__dma_sync_sg_for_cpu", "dma_sync_sg_for_cpu", sync_sg_cpu_pre),
	CHECK("__dma_sync_sg_for_device", "dma_sync_sg_for_device",
	      sync_sg_dev_pre),
};

/* Whether the probes are fprobes (nothing nested is missed). */
static bool probes_nest;

static void unregister_all(void)
{
	int i;

	for (i = 0; i < ARRAY_SIZE(probes); i++)
		dmaverify_probe_unregister(&probes[i]);
}

/* Register every probe once.  Context: process, may sleep. */
static int start_probes(void)
{
	int i, ret = 0, n = 0, nf = 0;

	mutex_lock(&probes_lock);
	if (probes_on)
		goto out;
	for (i = 0; i < ARRAY_SIZE(probes); i++) {
		struct dmaverify_probe *p = &probes[i];
		int err = dmaverify_probe_register(p, observe_fprobes);

		if (!err) {
			n++;
			nf += p->fprobe;
			continue;
		}
		if (err == -EOPNOTSUPP || p->required) {
			pr_err("observe: cannot probe %s (%d); observe-only mode is not available\n",
			       p->names[0], err);
			unregister_all();
			ret = err;
			goto out;
		}
		pr_info("observe: no %s in this kernel (%d): not checked\n",
			p->names[0], err);
	}
	probes_on = true;
	probes_nest = nf == n;
	if (probes_nest)
		pr_info("observe: %d DMA API entry points probed (fprobes: calls in interrupts are seen too)\n",
			n);
	else
		pr_info("observe: %d DMA API entry points probed (%d with kprobes, which miss a DMA call from an interrupt that lands while a probe runs: devices that miss calls are degraded)\n",
			n, n - nf);
out:
	mutex_unlock(&probes_lock);
	return ret;
}

/**
 * dmaverify_observe_probes() - the kind of probes the observer uses
 *
 * Return: "fprobes" or "kprobes".
 */
const char *dmaverify_observe_probes(void)
{
	return READ_ONCE(probes_nest) ? "fprobes" : "kprobes";
}
EXPORT_SYMBOL_FOR_DV_TESTS(dmaverify_observe_probes);

/* Calls missed so far by the probes that create (or release) objects. */
static unsigned long missed(bool creations, bool releases)
{
	unsigned long n = 0;
	int i;

	for (i = 0; i < ARRAY_SIZE(probes); i++) {
		struct dmaverify_probe *p = &probes[i];

		if (p->entry ? creations : p->release ? releases : false)
			n += dmaverify_probe_missed(p);
	}
	return n;
}

/**
 * dmaverify_observe_missed() - calls the observer's probes missed so far
 *
 * Return: the kprobe core's count of handlers not run (nesting on one CPU,
 * no free kretprobe instance), over every probe.
 */
unsigned long dmaverify_observe_missed(void)
{
	int i;
	unsigned long n = missed(true, true);

	for (i = 0; i < ARRAY_SIZE(probes); i++)
		if (!probes[i].entry && !probes[i].release)
			n += dmaverify_probe_missed(&probes[i]);
	return n;
}
EXPORT_SYMBOL_FOR_DV_TESTS(dmaverify_observe_missed);

/**
 * dmaverify_observe_missed_creations() - creating calls missed so far
 *
 * A missed creation makes its object's release look unknown.
 * Return: the count over the probes of maps and allocations.
 */
unsigned long dmaverify_observe_missed_creations(void)
{
	return missed(true, false);
}

/*
 * A missed release leaves its object in the tracker for good: it would
 * look leaked, and overlap later mappings.  The count of missed releases is
 * polled; when it changed, the time is noted: every object created up to
 * then may be such a stale one.
 */
static unsigned long release_misses_seen;
static unsigned long stale_until;	/* jiffies; valid once misses were seen */
static bool stale_valid;
static DEFINE_RAW_SPINLOCK(stale_lock);

/* dmaverify_observe_stale() of an observed device. */
bool dmaverify_observe_stale_slow(struct dmaverify_dev *ctx,
				  const struct dmaverify_obj *obj)
{
	unsigned long n, flags;
	bool stale;

	n = missed(false, true);
	raw_spin_lock_irqsave(&stale_lock, flags);
	if (n != release_misses_seen) {
		release_misses_seen = n;
		stale_until = jiffies;
		stale_valid = true;
	}
	/* Same jiffy as the miss counts as before it. */
	stale = stale_valid && !time_after32(obj->when, (u32)stale_until);
	raw_spin_unlock_irqrestore(&stale_lock, flags);
	return stale;
}

/**
 * dmaverify_observe_attach() - observe a device's DMA calls
 * @ctx: a new context, not yet visible to anyone
 *
 * Context: process context; the device's driver has not probed yet.
 * Return: 0 or a negative errno (no kprobes, or the DMA API cannot be
 * probed in this kernel).
 */
int dmaverify_observe_attach(struct dmaverify_dev *ctx)
{
	int ret;

	if (!IS_ENABLED(CONFIG_KRETPROBES) && !IS_ENABLED(CONFIG_FPROBE)) {
		dev_err(ctx->dev, "dmaverify: observe-only mode needs CONFIG_FPROBE or CONFIG_KRETPROBES\n");
		return -EOPNOTSUPP;
	}
	ret = start_probes();
	if (ret)
		return ret;
	ctx->observe = true;
	ctx->missed_base = dmaverify_observe_missed_creations();
	/* Since 6.12 the core skips syncs of such devices before the probe. */
	dv_clear_skip_sync(ctx->dev);
	spin_lock(&observed_lock);
	hash_add_rcu(observed, &ctx->observe_node, (unsigned long)ctx->dev);
	spin_unlock(&observed_lock);
	return 0;
}

/**
 * dmaverify_observe_detach() - stop observing a device
 * @ctx: an observed context
 *
 * Handlers may still use @ctx until an RCU grace period has passed.
 */
void dmaverify_observe_detach(struct dmaverify_dev *ctx)
{
	spin_lock(&observed_lock);
	hash_del_rcu(&ctx->observe_node);
	spin_unlock(&observed_lock);
}

/* Module unload, after every device was detached. */
void dmaverify_observe_exit(void)
{
	mutex_lock(&probes_lock);
	unregister_all();
	probes_on = false;
	mutex_unlock(&probes_lock);
}

/**
 * dmaverify_observe_forget() - pretend the observer missed a call
 * @dev: an observed device
 *
 * For KUnit: the tracker of @dev is from now on treated as incomplete, as
 * after a missed creation and a missed release.
 */
void dmaverify_observe_forget(struct device *dev)
{
	struct dmaverify_dev *ctx;

	unsigned long flags;

	rcu_read_lock();
	ctx = observed_ctx(dev);
	if (ctx)
		ctx->missed_base = dmaverify_observe_missed_creations() - 1;
	rcu_read_unlock();
	/* And a release: every object created until now may be stale. */
	raw_spin_lock_irqsave(&stale_lock, flags);
	stale_until = jiffies;
	stale_valid = true;
	raw_spin_unlock_irqrestore(&stale_lock, flags);
}
EXPORT_SYMBOL_FOR_DV_TESTS(dmaverify_observe_forget);

/**
 * dmaverify_observe_show() - the observer's probes and their misses
 * @seq: the stats file
 */
void dmaverify_observe_show(struct seq_file *seq)
{
	int i;

	if (!READ_ONCE(probes_on))
		return;
	seq_printf(seq, "observer kind: %s\n", dmaverify_observe_probes());
	seq_puts(seq, "observer probes:");
	for (i = 0; i < ARRAY_SIZE(probes); i++) {
		struct dmaverify_probe *p = &probes[i];
		unsigned long n = dmaverify_probe_missed(p);

		if (!READ_ONCE(p->on))
			continue;
		seq_printf(seq, " %s", dmaverify_probe_symbol(p));
		if (n)
			seq_printf(seq, " (missed %lu)", n);
	}
	seq_putc(seq, '\n');
}
