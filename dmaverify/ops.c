// SPDX-License-Identifier: GPL-2.0
/*
 * dmaverify: the dma_map_ops installed on a verified device.
 *
 * Each callback checks the call, forwards it through the public DMA API to
 * the device's twin (which carries the device's original DMA personality:
 * dma-direct, swiotlb, iommu-dma or the original dma_map_ops), and tracks
 * the object it creates or releases.  What the driver and the device see is
 * what they would see without dmaverify, except where a check documents
 * otherwise (a release of an unknown object is not forwarded; a release with
 * the wrong size or direction is forwarded with the right ones).
 */

#define pr_fmt(fmt) "dmaverify: " fmt

#include <linux/dma-mapping.h>
#include <linux/jiffies.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/scatterlist.h>
#include <linux/wait_bit.h>

#include "dmaverify.h"

/* === Common paths === */

/* Every callback starts here: the device's context, and the release rule. */
static __always_inline struct dmaverify_dev *enter(struct device *dev)
{
	struct dmaverify_dev *ctx = dmaverify_dev_of(dev);

	if (unlikely(in_nmi()))
		dmaverify_check_context(ctx, false, false);
	if (unlikely(READ_ONCE(ctx->state) == DV_STATE_RELEASED) &&
	    dmaverify_check_on(DV_USE_AFTER_RELEASE))
		dmaverify_violation(ctx, DV_USE_AFTER_RELEASE, NULL, 0, 0, DMA_NONE,
				    "driver %s was released from the device",
				    ctx->driver);
	return ctx;
}

/*
 * Callbacks that may sleep count themselves, so that module unload can
 * wait for them (a sleeping task is quiescent for tasks-RCU).
 */
static __always_inline void sleeper_in(struct dmaverify_dev *ctx)
{
	atomic_inc(&ctx->sleepers);
}

static __always_inline void sleeper_out(struct dmaverify_dev *ctx)
{
	if (atomic_dec_and_test(&ctx->sleepers))
		wake_up_var(&ctx->sleepers);
}

/* The driver may change masks and DMA parameters at any time. */
static __always_inline void refresh(struct dmaverify_dev *ctx)
{
	struct device *dev = ctx->dev, *twin = ctx->twin;

	if (unlikely(twin->dma_mask != dev->dma_mask ||
		     twin->coherent_dma_mask != dev->coherent_dma_mask ||
		     twin->bus_dma_limit != dev->bus_dma_limit ||
		     twin->dma_parms != dev->dma_parms))
		dmaverify_twin_refresh(twin, dev);
}

/* Fault injection: fail every fail_every-th streaming map (0: never). */
static bool inject_failure(void)
{
	static atomic_t calls = ATOMIC_INIT(0);
	unsigned int every = READ_ONCE(dmaverify_fail_every);

	return every && (atomic_inc_return(&calls) % every) == 0;
}

/*
 * An object whose memory dmaverify owns (bounce buffer, redzones): tracked
 * for sure (it cannot be released without dmaverify), and holding a module
 * reference, so that dmaverify cannot be unloaded under it.
 * Return: a zeroed object, or NULL to map the plain way.
 */
static struct dmaverify_obj *owned_obj(void)
{
	struct dmaverify_obj *obj;

	if (!dmaverify_verifying() || !try_module_get(THIS_MODULE))
		return NULL;
	obj = dmaverify_obj_alloc();
	if (!obj)
		module_put(THIS_MODULE);
	return obj;
}

static void owned_obj_fail(struct dmaverify_obj *obj)
{
	dmaverify_obj_free(obj);
	module_put(THIS_MODULE);
}

/* === Streaming maps === */

/* Track a new streaming map (its template is cleared here, not on the forwarding-only path). */
static void track_map(struct dmaverify_dev *ctx, dma_addr_t addr,
		      phys_addr_t phys, size_t size, int dir,
		      unsigned long attrs, int kind, const unsigned long *ra)
{
	struct dmaverify_obj tmpl = {};

	tmpl.key = addr;
	tmpl.dma = addr;
	tmpl.size = size;
	tmpl.phys = phys;
	tmpl.kind = kind;
	tmpl.dir = dir;
	/* Device-writable maps go in the physical index, for overlaps. */
	if (kind == DV_KIND_MAP && dir != DMA_TO_DEVICE &&
	    !(attrs & DMA_ATTR_SKIP_CPU_SYNC))
		tmpl.flags |= DV_OBJ_PHYS_INDEXED;
	dmaverify_check_dma_addr(ctx, &tmpl, addr, size, false);
	dmaverify_track_new(ctx, &tmpl, ra);
}

/* @ra: DV_RA_SLOT() of the callback, to find the creator without an unwind. */
static dma_addr_t map_one(struct dmaverify_dev *ctx, phys_addr_t phys,
			  struct page *page, unsigned long offset, size_t size,
			  int dir, unsigned long attrs, int kind,
			  const unsigned long *ra)
{
	dma_addr_t addr;

	if (kind == DV_KIND_MAP && dmaverify_verifying()) {
		dmaverify_check_map_buffer(ctx, phys, NULL, size, dir);
		if (!(attrs & DMA_ATTR_SKIP_CPU_SYNC))
			dmaverify_check_overlap(ctx, phys, size, dir);
	}
	if (inject_failure())
		return DMA_MAPPING_ERROR;
	refresh(ctx);
	if (kind == DV_KIND_MAP && READ_ONCE(dmaverify_bounce)) {
		struct dmaverify_obj *obj = owned_obj();

		if (obj) {
			obj->phys = phys;
			obj->size = size;
			obj->kind = kind;
			obj->dir = dir;
			if (!dmaverify_bounce_map(ctx, obj, attrs)) {
				atomic_long_inc(&ctx->bounced);
				dmaverify_stats_add(ctx, kind, size);
				obj->stack = dmaverify_creator_stack(ra, 0);
				dmaverify_track_obj(ctx, obj);
				return obj->dma;
			}
			owned_obj_fail(obj);
		}
	}
#ifdef DMAVERIFY_HAVE_OPS_MAP_PHYS
	addr = dma_map_phys(ctx->twin, phys, size, dir, attrs);
#else
	if (kind == DV_KIND_RESOURCE)
		addr = dma_map_resource(ctx->twin, phys, size, dir, attrs);
	else
		addr = dma_map_page_attrs(ctx->twin, page, offset, size, dir, attrs);
#endif
	if (dma_mapping_error(ctx->twin, addr))
		return DMA_MAPPING_ERROR;
	if (unlikely(!dmaverify_verifying())) {
		/* Forwarding only: counted, not tracked (as dmaverify_track_new()). */
		dmaverify_untracked_new(ctx, kind, size);
		return addr;
	}

	track_map(ctx, addr, phys, size, dir, attrs, kind, ra);
	return addr;
}

static void unmap_one(struct dmaverify_dev *ctx, dma_addr_t addr, size_t size,
		      int dir, unsigned long attrs, int kind)
{
	struct dmaverify_obj *obj = NULL;
	bool forward = true;

	if (dmaverify_used_failed_mapping(ctx, addr, size, dir))
		return;
	/* From NMI: forwarded; the object stays tracked (and may be reported leaked). */
	if (!in_nmi())
		obj = dmaverify_find_release(ctx, DV_DOUBLE_UNMAP, kind, addr,
					     size, dir, 0, &forward);
	if (!obj && !forward)
		return;
	if (obj) {
		/* Release what was mapped, not what the driver said. */
		size = obj->size;
		dir = obj->dir;
		kind = obj->kind;
		if (obj->flags & DV_OBJ_BOUNCED) {
			atomic_long_dec(&ctx->bounced);
			dmaverify_bounce_unmap(ctx, obj, attrs);
			dmaverify_released(ctx, obj);
			module_put(THIS_MODULE);
			return;
		}
	}
#ifdef DMAVERIFY_HAVE_OPS_MAP_PHYS
	dma_unmap_phys(ctx->twin, addr, size, dir,
		       kind == DV_KIND_RESOURCE ? attrs | DMA_ATTR_MMIO : attrs);
#else
	if (kind == DV_KIND_RESOURCE)
		dma_unmap_resource(ctx->twin, addr, size, dir, attrs);
	else
		dma_unmap_page_attrs(ctx->twin, addr, size, dir, attrs);
#endif
	if (obj)
		dmaverify_released(ctx, obj);
}

#ifdef DMAVERIFY_HAVE_OPS_MAP_PHYS
static dma_addr_t dmaverify_map_phys(struct device *dev, phys_addr_t phys,
				     size_t size, enum dma_data_direction dir,
				     unsigned long attrs)
{
	return map_one(enter(dev), phys, NULL, 0, size, dir, attrs,
		       attrs & DMA_ATTR_MMIO ? DV_KIND_RESOURCE : DV_KIND_MAP,
		       DV_RA_SLOT());
}

static void dmaverify_unmap_phys(struct device *dev, dma_addr_t addr,
				 size_t size, enum dma_data_direction dir,
				 unsigned long attrs)
{
	unmap_one(enter(dev), addr, size, dir, attrs,
		  attrs & DMA_ATTR_MMIO ? DV_KIND_RESOURCE : DV_KIND_MAP);
}
#else
static dma_addr_t dmaverify_map_page(struct device *dev, struct page *page,
				     unsigned long offset, size_t size,
				     enum dma_data_direction dir,
				     unsigned long attrs)
{
	return map_one(enter(dev), page_to_phys(page) + offset, page, offset,
		       size, dir, attrs, DV_KIND_MAP, DV_RA_SLOT());
}

static void dmaverify_unmap_page(struct device *dev, dma_addr_t addr,
				 size_t size, enum dma_data_direction dir,
				 unsigned long attrs)
{
	unmap_one(enter(dev), addr, size, dir, attrs, DV_KIND_MAP);
}

static dma_addr_t dmaverify_map_resource(struct device *dev, phys_addr_t phys,
					 size_t size, enum dma_data_direction dir,
					 unsigned long attrs)
{
	return map_one(enter(dev), phys, NULL, 0, size, dir, attrs,
		       DV_KIND_RESOURCE, DV_RA_SLOT());
}

static void dmaverify_unmap_resource(struct device *dev, dma_addr_t addr,
				     size_t size, enum dma_data_direction dir,
				     unsigned long attrs)
{
	unmap_one(enter(dev), addr, size, dir, attrs, DV_KIND_RESOURCE);
}
#endif

/* === Scatter/gather lists === */

static size_t sg_total(struct scatterlist *sgl, int nents)
{
	struct scatterlist *s;
	size_t total = 0;
	int i;

	for_each_sg(sgl, s, nents, i)
		total += s->length;
	return total;
}

static int dmaverify_map_sg(struct device *dev, struct scatterlist *sgl,
			    int nents, enum dma_data_direction dir,
			    unsigned long attrs)
{
	struct dmaverify_dev *ctx = enter(dev);
	struct sg_table sgt = { .sgl = sgl, .orig_nents = nents };
	struct dmaverify_obj tmpl = {};
	size_t total = sg_total(sgl, nents);
	struct scatterlist *s;
	int i, ret;

	for_each_sg(sgl, s, nents, i) {
		if (dmaverify_verifying()) {
			dmaverify_check_map_buffer(ctx, sg_phys(s), NULL, s->length,
						   dir);
			if (!(attrs & DMA_ATTR_SKIP_CPU_SYNC))
				dmaverify_check_overlap(ctx, sg_phys(s), s->length,
							dir);
		}
	}
	if (inject_failure())
		return -ENOMEM;
	refresh(ctx);
	if (READ_ONCE(dmaverify_bounce) && nents <= U16_MAX) {
		struct dmaverify_obj *obj = owned_obj();

		if (obj) {
			obj->key = (unsigned long)sgl;
			obj->size = total;
			obj->phys = (unsigned long)sgl;
			obj->kind = DV_KIND_SG;
			obj->dir = dir;
			obj->nents = nents;
			obj->mapped = nents;
			if (!dmaverify_bounce_map_sg(ctx, obj, sgl, nents, attrs)) {
				atomic_long_inc(&ctx->bounced);
				obj->csum = dmaverify_sg_csum(sgl, nents);
				dmaverify_stats_add(ctx, DV_KIND_SG, total);
				obj->stack = dmaverify_creator_stack(DV_RA_SLOT(), 0);
				dmaverify_track_obj(ctx, obj);
				return nents;
			}
			owned_obj_fail(obj);
		}
	}
	/* Through an sg_table, so that the error code survives. */
	ret = dma_map_sgtable(ctx->twin, &sgt, dir, attrs);
	if (ret)
		return ret;

	if (dmaverify_verifying())
		dmaverify_check_sg_segments(ctx, sgl, sgt.nents);
	tmpl.key = (unsigned long)sgl;
	tmpl.dma = sg_dma_address(sgl);
	tmpl.size = total;
	tmpl.phys = (unsigned long)sgl;
	tmpl.kind = DV_KIND_SG;
	tmpl.dir = dir;
	tmpl.nents = nents;
	tmpl.mapped = sgt.nents;
	tmpl.csum = dmaverify_sg_csum(sgl, nents);
	dmaverify_track_new(ctx, &tmpl, DV_RA_SLOT());
	return sgt.nents;
}

static void dmaverify_unmap_sg(struct device *dev, struct scatterlist *sgl,
			       int nents, enum dma_data_direction dir,
			       unsigned long attrs)
{
	struct dmaverify_dev *ctx = enter(dev);
	struct dmaverify_obj *obj, other;

	if (unlikely(in_nmi())) {
		dma_unmap_sg_attrs(ctx->twin, sgl, nents, dir, attrs);
		return;
	}
	obj = atomic_long_read(&ctx->tracker.count) ?
	      dmaverify_untrack(&ctx->tracker, (unsigned long)sgl, true, NULL, NULL) :
	      NULL;
	if (!obj) {
		/* A single mapping released as a list? */
		if (atomic_long_read(&ctx->tracker.count) &&
		    dmaverify_lookup(&ctx->tracker, sg_dma_address(sgl), false, &other) &&
		    !dmaverify_untracked(ctx)) {
			if (dmaverify_check_on(DV_WRONG_FUNCTION))
				dmaverify_violation(ctx, DV_WRONG_FUNCTION, &other,
						    (unsigned long)sgl, 0, dir,
						    "created as %s, released as sg",
						    dmaverify_kind_names[other.kind]);
			return;
		}
		if (!dmaverify_unknown_release(ctx, DV_DOUBLE_UNMAP_SG, DV_KIND_SG,
					       (unsigned long)sgl,
					       sg_total(sgl, nents), dir))
			return;
	} else if (!dmaverify_check_release(ctx, obj, DV_KIND_SG, 0, dir,
					    (unsigned long)sgl, nents)) {
		nents = obj->nents;
		dir = obj->dir;
	}
	if (obj && (obj->flags & DV_OBJ_BOUNCED)) {
		atomic_long_dec(&ctx->bounced);
		dmaverify_bounce_unmap_sg(ctx, obj, sgl, attrs);
		dmaverify_released(ctx, obj);
		module_put(THIS_MODULE);
		return;
	}
	dma_unmap_sg_attrs(ctx->twin, sgl, nents, dir, attrs);
	if (obj)
		dmaverify_released(ctx, obj);
}

/* === Syncs === */

/*
 * Find the mapping a single-range sync refers to.  Return: true to forward
 * the sync, with *size possibly clamped to the mapping's end.
 */
static bool sync_single(struct dmaverify_dev *ctx, dma_addr_t addr,
			size_t *size, int dir, bool for_cpu)
{
	struct dmaverify_obj obj;

	if (dmaverify_used_failed_mapping(ctx, addr, *size, dir))
		return false;
	if (!dmaverify_verifying()) {
		/* Bounced data must still move, checks or not. */
		if (!atomic_long_read(&ctx->bounced) || in_nmi() ||
		    (!dmaverify_lookup(&ctx->tracker, addr, false, &obj) &&
		     !dmaverify_lookup_containing(&ctx->tracker, addr, &obj)) ||
		    !(obj.flags & DV_OBJ_BOUNCED))
			return true;
		if (addr - obj.dma + *size > obj.size)
			*size = obj.size - (addr - obj.dma);
		dmaverify_bounce_sync(ctx, &obj, addr, *size, for_cpu);
		return false;
	}
	if (!dmaverify_lookup(&ctx->tracker, addr, false, &obj) &&
	    !dmaverify_lookup_containing(&ctx->tracker, addr, &obj)) {
		if (dmaverify_untracked(ctx))
			return true;
		if (dmaverify_check_on(DV_SYNC_UNMAPPED))
			dmaverify_violation(ctx, DV_SYNC_UNMAPPED, NULL, addr, *size,
					    dir, "DMA address %pad, %zu bytes, %s",
					    &addr, *size, dmaverify_dir_name(dir));
		return false;
	}
	dmaverify_check_sync(ctx, &obj, addr, *size, dir, for_cpu);
	if (addr - obj.dma + *size > obj.size)
		*size = obj.size - (addr - obj.dma);
	if (obj.flags & DV_OBJ_BOUNCED) {
		/* The device's buffer is dmaverify's: no sync below it needed. */
		dmaverify_bounce_sync(ctx, &obj, addr, *size, for_cpu);
		return false;
	}
	return true;
}

static void dmaverify_sync_single_for_cpu(struct device *dev, dma_addr_t addr,
					  size_t size,
					  enum dma_data_direction dir)
{
	struct dmaverify_dev *ctx = enter(dev);

	if (sync_single(ctx, addr, &size, dir, true))
		dma_sync_single_for_cpu(ctx->twin, addr, size, dir);
}

static void dmaverify_sync_single_for_device(struct device *dev,
					     dma_addr_t addr, size_t size,
					     enum dma_data_direction dir)
{
	struct dmaverify_dev *ctx = enter(dev);

	if (sync_single(ctx, addr, &size, dir, false))
		dma_sync_single_for_device(ctx->twin, addr, size, dir);
}

static bool sync_sg(struct dmaverify_dev *ctx, struct scatterlist *sgl,
		    int nents, int dir, bool for_cpu)
{
	struct dmaverify_obj obj;

	if (!dmaverify_verifying()) {
		if (!atomic_long_read(&ctx->bounced) || in_nmi() ||
		    !dmaverify_lookup(&ctx->tracker, (unsigned long)sgl, true, &obj) ||
		    !(obj.flags & DV_OBJ_BOUNCED))
			return true;
		dmaverify_bounce_sync_sg(ctx, &obj, sgl, for_cpu);
		return false;
	}
	if (!dmaverify_lookup(&ctx->tracker, (unsigned long)sgl, true, &obj)) {
		if (dmaverify_untracked(ctx))
			return true;
		if (dmaverify_check_on(DV_SYNC_SG_UNMAPPED))
			dmaverify_violation(ctx, DV_SYNC_SG_UNMAPPED, NULL,
					    (unsigned long)sgl, 0, dir,
					    "list %p, %d entries, %s", sgl, nents,
					    dmaverify_dir_name(dir));
		return false;
	}
	dmaverify_check_sync_sg(ctx, &obj, nents, dir, for_cpu);
	if (obj.flags & DV_OBJ_BOUNCED) {
		dmaverify_bounce_sync_sg(ctx, &obj, sgl, for_cpu);
		return false;
	}
	return true;
}

static void dmaverify_sync_sg_for_cpu(struct device *dev,
				      struct scatterlist *sgl, int nents,
				      enum dma_data_direction dir)
{
	struct dmaverify_dev *ctx = enter(dev);

	if (sync_sg(ctx, sgl, nents, dir, true))
		dma_sync_sg_for_cpu(ctx->twin, sgl, nents, dir);
}

static void dmaverify_sync_sg_for_device(struct device *dev,
					 struct scatterlist *sgl, int nents,
					 enum dma_data_direction dir)
{
	struct dmaverify_dev *ctx = enter(dev);

	if (sync_sg(ctx, sgl, nents, dir, false))
		dma_sync_sg_for_device(ctx->twin, sgl, nents, dir);
}

/* === Coherent buffers and pages === */

static void *dmaverify_alloc(struct device *dev, size_t size,
			     dma_addr_t *dma_handle, gfp_t gfp,
			     unsigned long attrs)
{
	struct dmaverify_dev *ctx = dmaverify_dev_of(dev);
	struct dmaverify_obj tmpl = {};
	void *cpu;

	if (READ_ONCE(dmaverify_enabled))
		dmaverify_check_context(ctx, gfpflags_allow_blocking(gfp), false);
	sleeper_in(ctx);
	enter(dev);
	refresh(ctx);
	if (READ_ONCE(dmaverify_redzone)) {
		struct dmaverify_obj *obj = owned_obj();

		if (obj) {
			obj->size = size;
			obj->kind = DV_KIND_COHERENT;
			obj->dir = DMA_BIDIRECTIONAL;
			cpu = dmaverify_redzone_alloc(ctx, obj, gfp, attrs);
			if (cpu) {
				*dma_handle = obj->dma;
				dmaverify_check_dma_addr(ctx, obj, obj->dma, size, true);
				dmaverify_stats_add(ctx, DV_KIND_COHERENT, size);
				obj->stack = dmaverify_creator_stack(DV_RA_SLOT(), 0);
				dmaverify_track_obj(ctx, obj);
				sleeper_out(ctx);
				return cpu;
			}
			owned_obj_fail(obj);
		}
	}
	cpu = dma_alloc_attrs(ctx->twin, size, dma_handle, gfp, attrs);
	if (!cpu) {
		sleeper_out(ctx);
		return NULL;
	}
	tmpl.key = *dma_handle;
	tmpl.dma = *dma_handle;
	tmpl.size = size;
	tmpl.phys = (unsigned long)cpu;
	tmpl.kind = DV_KIND_COHERENT;
	tmpl.dir = DMA_BIDIRECTIONAL;
	dmaverify_check_dma_addr(ctx, &tmpl, *dma_handle, size, true);
	dmaverify_track_new(ctx, &tmpl, DV_RA_SLOT());
	sleeper_out(ctx);
	return cpu;
}

static void dmaverify_free(struct device *dev, size_t size, void *cpu,
			   dma_addr_t dma, unsigned long attrs)
{
	struct dmaverify_dev *ctx = dmaverify_dev_of(dev);
	struct dmaverify_obj *obj;
	bool forward;

	if (READ_ONCE(dmaverify_enabled))
		dmaverify_check_context(ctx, false, true);
	sleeper_in(ctx);
	enter(dev);
	obj = dmaverify_find_release(ctx, DV_DOUBLE_FREE, DV_KIND_COHERENT, dma,
				     size, DMA_BIDIRECTIONAL, (unsigned long)cpu,
				     &forward);
	if (obj && (obj->flags & DV_OBJ_REDZONED)) {
		dmaverify_redzone_free(ctx, obj, attrs);
		dmaverify_released(ctx, obj);
		module_put(THIS_MODULE);
	} else if (obj) {
		dma_free_attrs(ctx->twin, obj->size, (void *)obj->phys, dma, attrs);
		dmaverify_released(ctx, obj);
	} else if (forward) {
		dma_free_attrs(ctx->twin, size, cpu, dma, attrs);
	}
	sleeper_out(ctx);
}

static struct page *dmaverify_alloc_pages(struct device *dev, size_t size,
					  dma_addr_t *dma_handle,
					  enum dma_data_direction dir, gfp_t gfp)
{
	struct dmaverify_dev *ctx = dmaverify_dev_of(dev);
	struct dmaverify_obj tmpl = {};
	struct page *page;

	if (READ_ONCE(dmaverify_enabled))
		dmaverify_check_context(ctx, gfpflags_allow_blocking(gfp), false);
	sleeper_in(ctx);
	enter(dev);
	refresh(ctx);
	page = dma_alloc_pages(ctx->twin, size, dma_handle, dir, gfp);
	if (!page) {
		sleeper_out(ctx);
		return NULL;
	}
	tmpl.key = *dma_handle;
	tmpl.dma = *dma_handle;
	tmpl.size = size;
	tmpl.phys = page_to_phys(page);
	tmpl.kind = DV_KIND_PAGES;
	tmpl.dir = dir;
	dmaverify_check_dma_addr(ctx, &tmpl, *dma_handle, size, true);
	dmaverify_track_new(ctx, &tmpl, DV_RA_SLOT());
	sleeper_out(ctx);
	return page;
}

static void dmaverify_free_pages(struct device *dev, size_t size,
				 struct page *page, dma_addr_t dma,
				 enum dma_data_direction dir)
{
	struct dmaverify_dev *ctx = dmaverify_dev_of(dev);
	struct dmaverify_obj *obj;
	bool forward;

	sleeper_in(ctx);
	enter(dev);
	obj = dmaverify_find_release(ctx, DV_DOUBLE_FREE, DV_KIND_PAGES, dma,
				     size, dir, 0, &forward);
	if (obj) {
		dma_free_pages(ctx->twin, obj->size, page, dma, obj->dir);
		dmaverify_released(ctx, obj);
	} else if (forward) {
		dma_free_pages(ctx->twin, size, page, dma, dir);
	}
	sleeper_out(ctx);
}

static int dmaverify_mmap(struct device *dev, struct vm_area_struct *vma,
			  void *cpu, dma_addr_t dma, size_t size,
			  unsigned long attrs)
{
	struct dmaverify_dev *ctx = dmaverify_dev_of(dev);
	int ret;

	sleeper_in(ctx);
	ret = dma_mmap_attrs(enter(dev)->twin, vma, cpu, dma, size, attrs);
	sleeper_out(ctx);
	return ret;
}

static int dmaverify_get_sgtable(struct device *dev, struct sg_table *sgt,
				 void *cpu, dma_addr_t dma, size_t size,
				 unsigned long attrs)
{
	struct dmaverify_dev *ctx = dmaverify_dev_of(dev);
	int ret;

	sleeper_in(ctx);
	ret = dma_get_sgtable_attrs(enter(dev)->twin, sgt, cpu, dma, size, attrs);
	sleeper_out(ctx);
	return ret;
}

/* === Device properties === */

/*
 * Whether the original implementation supports @mask.  The only public way
 * to ask is to set it: set the twin's coherent mask (not the streaming one,
 * which the twin shares with the device), then put it back.
 */
static int dmaverify_dma_supported(struct device *dev, u64 mask)
{
	struct dmaverify_dev *ctx = dmaverify_dev_of(dev);
	u64 saved = ctx->twin->coherent_dma_mask;
	int ok = !dma_set_coherent_mask(ctx->twin, mask);

	ctx->twin->coherent_dma_mask = saved;
	return ok;
}

static u64 dmaverify_get_required_mask(struct device *dev)
{
	return dma_get_required_mask(dmaverify_dev_of(dev)->twin);
}

static size_t dmaverify_max_mapping_size(struct device *dev)
{
	return dma_max_mapping_size(dmaverify_dev_of(dev)->twin);
}

static unsigned long dmaverify_get_merge_boundary(struct device *dev)
{
	return dma_get_merge_boundary(dmaverify_dev_of(dev)->twin);
}

/**
 * dmaverify_init_ops() - fill in a verified device's dma_map_ops
 * @ops: the per-device copy (embedded in struct dmaverify_dev)
 *
 * Callbacks the core does not need stay NULL: opt_mapping_size() has no
 * device argument to forward with, and on 6.1 alloc_noncontiguous through
 * a twin would hand the core a table it takes for an IOMMU one.
 */
void dmaverify_init_ops(struct dma_map_ops *ops)
{
	ops->alloc = dmaverify_alloc;
	ops->free = dmaverify_free;
#ifdef DMAVERIFY_HAVE_OPS_ALLOC_PAGES_OP
	ops->alloc_pages_op = dmaverify_alloc_pages;
#else
	ops->alloc_pages = dmaverify_alloc_pages;
#endif
	ops->free_pages = dmaverify_free_pages;
	ops->mmap = dmaverify_mmap;
	ops->get_sgtable = dmaverify_get_sgtable;
#ifdef DMAVERIFY_HAVE_OPS_MAP_PHYS
	ops->map_phys = dmaverify_map_phys;
	ops->unmap_phys = dmaverify_unmap_phys;
#else
	ops->map_page = dmaverify_map_page;
	ops->unmap_page = dmaverify_unmap_page;
	ops->map_resource = dmaverify_map_resource;
	ops->unmap_resource = dmaverify_unmap_resource;
#endif
	ops->map_sg = dmaverify_map_sg;
	ops->unmap_sg = dmaverify_unmap_sg;
	ops->sync_single_for_cpu = dmaverify_sync_single_for_cpu;
	ops->sync_single_for_device = dmaverify_sync_single_for_device;
	ops->sync_sg_for_cpu = dmaverify_sync_sg_for_cpu;
	ops->sync_sg_for_device = dmaverify_sync_sg_for_device;
	ops->dma_supported = dmaverify_dma_supported;
	ops->get_required_mask = dmaverify_get_required_mask;
	ops->max_mapping_size = dmaverify_max_mapping_size;
	ops->get_merge_boundary = dmaverify_get_merge_boundary;
}
