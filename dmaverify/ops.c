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

#include <linux/dma-direct.h>
#include <linux/dma-mapping.h>
#include <linux/fault-inject.h>
#include <linux/jiffies.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/scatterlist.h>
#include <linux/swiotlb.h>
#include <linux/wait_bit.h>

#include "dmaverify.h"

/* === Common paths === */

#if IS_ENABLED(CONFIG_KUNIT)
dmaverify_test_hook_t dmaverify_test_hook;
EXPORT_SYMBOL_GPL(dmaverify_test_hook);
#endif

static int dmaverify_map_sg(struct device *dev, struct scatterlist *sgl,
			    int nents, enum dma_data_direction dir,
			    unsigned long attrs);

/*
 * How a callback finds its context, and how teardown (attach.c) knows that
 * no callback uses a context any more:
 *  - The context is found again from the device's ops, which detaching may
 *    have given back to the original implementation (or to a new context)
 *    since the DMA core read them: if they are no longer dmaverify's, the
 *    call is forwarded on the device itself, to whatever it has now.
 *  - Callbacks that never sleep (maps, syncs, properties) run from that
 *    lookup to their end with preemption disabled: an RCU read-side
 *    section, which the synchronize_rcu() of teardown waits for (a
 *    preemptible section, e.g. rcu_read_lock() under PREEMPT_RCU, would
 *    not do: teardown must also wait for a map preempted halfway).
 *  - Callbacks that may sleep (allocations, mmap) count themselves in
 *    ->sleepers inside such a section; teardown then waits for the count.
 *  - The ops table is part of the context, and a caller may have read the
 *    device's ops without having called through them yet: the context's
 *    memory itself is freed after a tasks-RCU grace period.
 *
 * Precondition: preemption disabled.
 * Return: the context, or NULL to forward the call on @dev.
 */
static __always_inline struct dmaverify_dev *port_of(struct device *dev)
{
	const struct dma_map_ops *ops = get_dma_ops(dev);

	if (unlikely(!ops || ops->map_sg != dmaverify_map_sg))
		return NULL;
	return container_of(ops, struct dmaverify_dev, ops);
}

/*
 * As port_of(), but a port (a USB host controller, see indirect.c) gives
 * the context of the selected driver the call is made for, or NULL: the
 * call is forwarded untracked, on pass_dev().
 */
static __always_inline struct dmaverify_dev *ctx_of(struct device *dev)
{
	struct dmaverify_dev *ctx = port_of(dev);

	if (unlikely(ctx && ctx->partial))
		return dmaverify_indirect_ctx(ctx, NULL);
	return ctx;
}

/*
 * Where a call ctx_of() gave no context for is forwarded: a port's twin
 * (the port's own calls, and those of drivers not selected), else the
 * device itself (unhooked meanwhile).
 * Precondition: preemption disabled.
 */
static __always_inline struct device *pass_dev(struct device *dev)
{
	struct dmaverify_dev *port = port_of(dev);

	return port ? port->twin : dev;
}

/* The rules every call of a verified device obeys: not in NMI, not released. */
static __always_inline void rules(struct dmaverify_dev *ctx)
{
	if (unlikely(in_nmi()))
		dmaverify_check_context(ctx, false, false);
	if (unlikely(READ_ONCE(ctx->state) == DV_STATE_RELEASED) &&
	    dmaverify_check_on(DV_USE_AFTER_RELEASE))
		dmaverify_violation(ctx, DV_USE_AFTER_RELEASE, NULL, 0, 0, DMA_NONE,
				    "driver %s was released from the device",
				    ctx->driver);
}

/*
 * A callback that does not sleep starts here, with preemption disabled:
 * its context (or NULL, see ctx_of()), and the rules.
 */
static __always_inline struct dmaverify_dev *enter(struct device *dev)
{
	struct dmaverify_dev *ctx = ctx_of(dev);

	if (likely(ctx))
		rules(ctx);
	return ctx;
}

/*
 * An S/G unmap starts here: as enter(), but on a port an unmap that no
 * selected call is running for (its probe missed it, say) is still the
 * selected driver's if that driver has the list: a list is one URB's, never
 * shared (a DMA address may be: the same page mapped for two devices).
 */
static __always_inline struct dmaverify_dev *
unmap_sg_enter(struct device *dev, struct scatterlist *sgl)
{
	struct dmaverify_dev *ctx = enter(dev), *port;

	if (likely(ctx))
		return ctx;
	port = port_of(dev);
	if (unlikely(port && port->partial)) {
		ctx = dmaverify_indirect_owner(port, (unsigned long)sgl, true);
		if (ctx)
			rules(ctx);
	}
	return ctx;
}

/*
 * A callback that may sleep starts here: its context, counted in
 * ->sleepers until sleeper_out(), or NULL to forward the call on @dev.
 * The caller checks the rules after the sleeping-context rule.
 */
static __always_inline struct dmaverify_dev *sleeper_in(struct device *dev)
{
	struct dmaverify_dev *ctx;

	preempt_disable();
	ctx = port_of(dev);
	/* A port for one driver only: its allocations are that driver's. */
	if (unlikely(ctx && ctx->partial && READ_ONCE(ctx->whole)))
		ctx = READ_ONCE(ctx->whole);
	if (likely(ctx))
		atomic_inc(&ctx->sleepers);
	preempt_enable();
	return ctx;
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
		     twin->dma_parms != dev->dma_parms)) {
		dmaverify_twin_refresh(twin, dev);
		WRITE_ONCE(ctx->max_map, dma_max_mapping_size(twin));
	}
}

#ifdef CONFIG_FAULT_INJECTION
/*
 * debugfs dmaverify/fail_map: fail streaming and S/G maps the way the
 * kernel's other injected failures are made (probability, interval, times,
 * task filter, fail-nth; Documentation/fault-injection).
 */
struct fault_attr dmaverify_fail_map = FAULT_ATTR_INITIALIZER;
EXPORT_SYMBOL_FOR_DV_TESTS(dmaverify_fail_map);
#endif

/*
 * Fault injection: fail every fail_every-th streaming map (0: never), and
 * the maps fail_map picks.  A driver that does not check for the failure
 * then passes DMA_MAPPING_ERROR on (dmaverify_used_failed_mapping()).
 */
static __always_inline bool inject_failure(size_t size)
{
	static atomic_t calls = ATOMIC_INIT(0);
	unsigned int every = READ_ONCE(dmaverify_fail_every);

	if (unlikely(every) && (atomic_inc_return(&calls) % every) == 0)
		return true;
#ifdef CONFIG_FAULT_INJECTION
	return unlikely(dmaverify_should_fail(&dmaverify_fail_map, size, true));
#else
	return false;
#endif
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

/* === Forwarding to the twin === */

/*
 * What the twin does with a streaming call is what the device would have
 * done.  When the twin is plain dma-direct (ctx->direct, see
 * dmaverify_twin_direct()) that is so little that the public DMA API's second
 * pass costs more than the work: a map of memory the device reaches is
 * phys_to_dma(), an unmap or sync of an address outside the swiotlb does
 * nothing.  These are done here; every other case (a mask the address
 * exceeds, a swiotlb buffer, an IOMMU, other dma_map_ops) takes the public
 * API on the twin.  The device's own dma-debug entries and tracepoints are
 * made by the DMA core around dmaverify's callback either way: the second
 * pass only made them again for the twin.
 */

/* Attributes under which dma-direct maps RAM by phys_to_dma() alone. */
#define DIRECT_ATTRS	(DMA_ATTR_SKIP_CPU_SYNC | DMA_ATTR_WEAK_ORDERING | \
			 DMA_ATTR_NO_WARN)

/*
 * Whether @dev reaches @size bytes of RAM at @dma unbounced: dma_capable()
 * for a twin dmaverify_twin_direct() accepted (64-bit DMA addresses, no
 * memory encryption), asked of the device itself, whose masks the driver
 * may have changed since the twin last copied them (refresh()).
 */
static __always_inline bool direct_reaches(struct device *dev, dma_addr_t dma,
					   size_t size)
{
	dma_addr_t end = dma + size - 1;

	if (unlikely(!dev->dma_mask || dma == DMA_MAPPING_ERROR || end < dma))
		return false;
	return end <= min_not_zero(*dev->dma_mask, dev->bus_dma_limit);
}

/*
 * Whether @addr may be a swiotlb buffer of the twin.  With dynamic swiotlb
 * pools the lookup is not exported: any use of the swiotlb by the device
 * sends its releases the public way.
 */
static __always_inline bool direct_bounced(struct device *twin, dma_addr_t addr)
{
#if !IS_ENABLED(CONFIG_SWIOTLB)
	return false;
#elif IS_ENABLED(CONFIG_SWIOTLB_DYNAMIC)
	smp_rmb();	/* Pairs with swiotlb_find_slots(), as swiotlb_find_pool(). */
	return READ_ONCE(twin->dma_uses_io_tlb);
#elif defined(DMAVERIFY_HAVE_SWIOTLB_FIND_POOL)
	return swiotlb_find_pool(twin, dma_to_phys(twin, addr));
#else
	return is_swiotlb_buffer(twin, dma_to_phys(twin, addr));
#endif
}

/* Whether a release or sync of @addr needs nothing done below dmaverify. */
static __always_inline bool direct_nothing(struct dmaverify_dev *ctx,
					   dma_addr_t addr)
{
	return ctx->direct && !direct_bounced(ctx->twin, addr);
}

/* Forward a streaming map to the twin, as it is.  Return: its address or DMA_MAPPING_ERROR. */
static __always_inline dma_addr_t forward_map(struct dmaverify_dev *ctx,
					      phys_addr_t phys,
					      struct page *page,
					      unsigned long offset, size_t size,
					      int dir, unsigned long attrs,
					      int kind)
{
	dma_addr_t addr;

	if (likely(ctx->direct) && kind == DV_KIND_MAP &&
	    !(attrs & ~DIRECT_ATTRS)) {
		dma_addr_t dma = phys_to_dma(ctx->twin, phys);

		if (likely(direct_reaches(ctx->dev, dma, size)))
			return dma;
	}
	refresh(ctx);
#ifdef DMAVERIFY_HAVE_OPS_MAP_PHYS
	addr = dma_map_phys(ctx->twin, phys, size, dir, attrs);
#else
	if (kind == DV_KIND_RESOURCE)
		addr = dma_map_resource(ctx->twin, phys, size, dir, attrs);
	else
		addr = dma_map_page_attrs(ctx->twin, page, offset, size, dir,
					  attrs);
#endif
	/* Checked for the twin too: dma-debug watches both. */
	return dma_mapping_error(ctx->twin, addr) ? DMA_MAPPING_ERROR : addr;
}

/* Forward a streaming unmap to the twin, with the mapping's own size and direction. */
static __always_inline void forward_unmap(struct dmaverify_dev *ctx,
					  dma_addr_t addr, size_t size, int dir,
					  unsigned long attrs, int kind)
{
	if (likely(kind == DV_KIND_MAP) && direct_nothing(ctx, addr))
		return;
#ifdef DMAVERIFY_HAVE_OPS_MAP_PHYS
	dma_unmap_phys(ctx->twin, addr, size, dir,
		       kind == DV_KIND_RESOURCE ? attrs | DMA_ATTR_MMIO : attrs);
#else
	if (kind == DV_KIND_RESOURCE)
		dma_unmap_resource(ctx->twin, addr, size, dir, attrs);
	else
		dma_unmap_page_attrs(ctx->twin, addr, size, dir, attrs);
#endif
}

static __always_inline void forward_sync_single(struct dmaverify_dev *ctx,
						dma_addr_t addr, size_t size,
						int dir, bool for_cpu)
{
	if (direct_nothing(ctx, addr))
		return;
	if (for_cpu)
		dma_sync_single_for_cpu(ctx->twin, addr, size, dir);
	else
		dma_sync_single_for_device(ctx->twin, addr, size, dir);
}

/*
 * Forward an S/G map to the twin (through an sg_table: its error survives).
 * dma-direct maps a list entry by entry, never merging: each entry of RAM
 * the device reaches gets phys_to_dma(), or the whole list goes the public
 * way (ZONE_DEVICE pages, PCI peer-to-peer among them, always do).
 */
static int forward_sg(struct dmaverify_dev *ctx, struct scatterlist *sgl,
		      int nents, int dir, unsigned long attrs)
{
	struct sg_table sgt = { .sgl = sgl, .orig_nents = nents };
	struct scatterlist *s;
	int i, ret;

	if (likely(ctx->direct) && !(attrs & ~DIRECT_ATTRS)) {
		for_each_sg(sgl, s, nents, i) {
			dma_addr_t dma = phys_to_dma(ctx->twin, sg_phys(s));

			if (unlikely(is_zone_device_page(sg_page(s)) ||
				     !direct_reaches(ctx->dev, dma, s->length)))
				goto public;
			s->dma_address = dma;
			sg_dma_len(s) = s->length;
		}
		return nents;
	}
public:
	refresh(ctx);
	ret = dma_map_sgtable(ctx->twin, &sgt, dir, attrs);
	return ret ? ret : sgt.nents;
}

/* Whether the entries of a mapped list need nothing done below dmaverify. */
static bool direct_nothing_sg(struct dmaverify_dev *ctx,
			      struct scatterlist *sgl, int nents)
{
	struct scatterlist *s;
	int i;

	if (!ctx->direct)
		return false;
	for_each_sg(sgl, s, nents, i)
		if (unlikely(is_zone_device_page(sg_page(s)) ||
			     direct_bounced(ctx->twin, sg_dma_address(s))))
			return false;
	return true;
}

static void forward_unmap_sg(struct dmaverify_dev *ctx, struct scatterlist *sgl,
			     int nents, int dir, unsigned long attrs)
{
	if (!direct_nothing_sg(ctx, sgl, nents))
		dma_unmap_sg_attrs(ctx->twin, sgl, nents, dir, attrs);
}

static void forward_sync_sg(struct dmaverify_dev *ctx, struct scatterlist *sgl,
			    int nents, int dir, bool for_cpu)
{
	if (direct_nothing_sg(ctx, sgl, nents))
		return;
	if (for_cpu)
		dma_sync_sg_for_cpu(ctx->twin, sgl, nents, dir);
	else
		dma_sync_sg_for_device(ctx->twin, sgl, nents, dir);
}

/* === Sampled mode (sample.c) === */

/*
 * Whether a release or sync of a sampled device must be looked up: only
 * while one of its sampled objects is outstanding.  Otherwise it is
 * forwarded as it is (its object was not sampled).
 */
static __always_inline bool sampled_idle(struct dmaverify_dev *ctx)
{
	return ctx->sampled && !atomic_long_read(&ctx->sample_live);
}

static struct dmaverify_obj *owned_obj(void);
static void owned_obj_fail(struct dmaverify_obj *obj);

/*
 * A device may hold at most a quarter of the pool in live samples: a driver
 * that keeps its mappings for long (a receive ring, a page pool) would
 * otherwise take every slot, and no other device could be sampled.
 */
static bool sample_room(struct dmaverify_dev *ctx)
{
	return atomic_long_read(&ctx->sample_live) <
	       max(1U, dmaverify_pool_slots() / 4);
}

/* Track a sampled object, its memory in place (slot or redzones). */
static void sampled_track(struct dmaverify_dev *ctx, struct dmaverify_obj *obj,
			  const unsigned long *ra, bool coherent)
{
	if (obj->flags & DV_OBJ_BOUNCED)
		atomic_long_inc(&ctx->bounced);
	atomic_long_inc(&ctx->sample_live);
	if (obj->kind != DV_KIND_SG)
		dmaverify_check_dma_addr(ctx, obj, obj->dma, obj->size, coherent);
	dmaverify_stats_add(ctx, obj->kind, obj->size);
	obj->stack = dmaverify_creator_stack(ra, 0);
	dmaverify_track_obj(ctx, obj);
	dmaverify_sample_taken(coherent);
}

/*
 * The streaming map that takes a sample (the gate opened for it, see
 * map_one()): the device gets a guarded slot, and the map is checked and
 * tracked as in full verification.  @ra as for map_forward().
 */
static noinline dma_addr_t sample_map(struct dmaverify_dev *ctx,
				      phys_addr_t phys, struct page *page,
				      unsigned long offset, size_t size, int dir,
				      unsigned long attrs, int kind,
				      const unsigned long *ra)
{
	struct dmaverify_obj *obj;

	refresh(ctx);
	/* Not one a slot can take: the next map takes the sample. */
	if (kind != DV_KIND_MAP || !size ||
	    PAGE_ALIGN(PAGE_SIZE + offset_in_page(phys) + size) + PAGE_SIZE >
	    DV_SLOT_SIZE) {
		dmaverify_sample_missed(&dmaverify_sample_gate);
		return forward_map(ctx, phys, page, offset, size, dir, attrs, kind);
	}
	obj = sample_room(ctx) ? owned_obj() : NULL;
	if (!obj) {
		dmaverify_sample_missed(NULL);
		return forward_map(ctx, phys, page, offset, size, dir, attrs, kind);
	}
	dmaverify_check_map_buffer(ctx, phys, NULL, size, dir);
	obj->phys = phys;
	obj->size = size;
	obj->kind = kind;
	obj->dir = dir;
	obj->flags = DV_OBJ_SAMPLED;
	if (dmaverify_bounce_map(ctx, obj, attrs)) {
		/* No free slot (or none the device reaches). */
		owned_obj_fail(obj);
		dmaverify_sample_missed(NULL);
		return forward_map(ctx, phys, page, offset, size, dir, attrs, kind);
	}
	sampled_track(ctx, obj, ra, false);
	return obj->dma;
}

/* As sample_map(), for S/G lists: a slot per segment. */
static noinline int sample_map_sg(struct dmaverify_dev *ctx,
				  struct scatterlist *sgl, int nents, int dir,
				  unsigned long attrs, const unsigned long *ra)
{
	struct dmaverify_obj *obj;
	struct scatterlist *s;
	size_t total = 0;
	int i;

	refresh(ctx);
	for_each_sg(sgl, s, nents, i) {
		if (!s->length ||
		    PAGE_ALIGN(PAGE_SIZE + s->offset % PAGE_SIZE + s->length) +
		    PAGE_SIZE > DV_SLOT_SIZE) {
			dmaverify_sample_missed(&dmaverify_sample_gate);
			return forward_sg(ctx, sgl, nents, dir, attrs);
		}
		total += s->length;
	}
	obj = nents <= U16_MAX && sample_room(ctx) ? owned_obj() : NULL;
	if (!obj) {
		dmaverify_sample_missed(NULL);
		return forward_sg(ctx, sgl, nents, dir, attrs);
	}
	for_each_sg(sgl, s, nents, i)
		dmaverify_check_map_buffer(ctx, sg_phys(s), NULL, s->length, dir);
	obj->key = (unsigned long)sgl;
	obj->size = total;
	obj->phys = (unsigned long)sgl;
	obj->kind = DV_KIND_SG;
	obj->dir = dir;
	obj->nents = nents;
	obj->mapped = nents;
	obj->flags = DV_OBJ_SAMPLED;
	if (dmaverify_bounce_map_sg(ctx, obj, sgl, nents, attrs)) {
		owned_obj_fail(obj);
		dmaverify_sample_missed(NULL);
		return forward_sg(ctx, sgl, nents, dir, attrs);
	}
	obj->csum = dmaverify_sg_csum(sgl, nents);
	sampled_track(ctx, obj, ra, false);
	return nents;
}

/*
 * A sampled device's coherent allocation: one in DV_SAMPLE_COHERENT_EVERY
 * samples gets redzones and is tracked.  @ra: DV_RA_SLOT() of the callback.
 */
static void *sampled_alloc(struct dmaverify_dev *ctx, size_t size,
			   dma_addr_t *dma_handle, gfp_t gfp,
			   unsigned long attrs, const unsigned long *ra)
{
	struct dmaverify_obj *obj;
	void *cpu;

	refresh(ctx);
	if (likely(!dmaverify_sample_due(&dmaverify_sample_gate_coherent)))
		return dma_alloc_attrs(ctx->twin, size, dma_handle, gfp, attrs);
	obj = size <= DV_OBJ_MAX_SIZE ? owned_obj() : NULL;
	if (obj) {
		obj->size = size;
		obj->kind = DV_KIND_COHERENT;
		obj->dir = DMA_BIDIRECTIONAL;
		obj->flags = DV_OBJ_SAMPLED;
		cpu = dmaverify_redzone_alloc(ctx, obj, gfp, attrs);
		if (cpu) {
			*dma_handle = obj->dma;
			sampled_track(ctx, obj, ra, true);
			return cpu;
		}
		owned_obj_fail(obj);
	}
	dmaverify_sample_missed(NULL);
	return dma_alloc_attrs(ctx->twin, size, dma_handle, gfp, attrs);
}

/* === Streaming maps === */

/* Track a new streaming map, filled in place (not on the forwarding-only path). */
static void track_map(struct dmaverify_dev *ctx, dma_addr_t addr,
		      phys_addr_t phys, size_t size, int dir,
		      unsigned long attrs, int kind, const unsigned long *ra)
{
	struct dmaverify_obj *obj = dmaverify_obj_new(ctx, kind, addr, size, dir);

	if (obj) {
		obj->dma = addr;
		obj->phys = phys;
		/* Device-writable maps go in the physical index, for overlaps. */
		if (kind == DV_KIND_MAP && dir != DMA_TO_DEVICE &&
		    !(attrs & DMA_ATTR_SKIP_CPU_SYNC))
			obj->flags |= DV_OBJ_PHYS_INDEXED;
	}
	dmaverify_check_dma_addr(ctx, obj, addr, size, false);
	if (obj)
		dmaverify_track_created(ctx, obj, ra);
}

/*
 * Forward a map to the twin (or bounce it), and track what it created.
 * @ra: DV_RA_SLOT() of the callback, to find the creator without an unwind.
 */
static dma_addr_t map_forward(struct dmaverify_dev *ctx, phys_addr_t phys,
			      struct page *page, unsigned long offset,
			      size_t size, int dir, unsigned long attrs,
			      int kind, const unsigned long *ra)
{
	dma_addr_t addr;

	if (inject_failure(size))
		return DMA_MAPPING_ERROR;
	if (kind == DV_KIND_MAP && READ_ONCE(dmaverify_bounce) &&
	    size <= DV_OBJ_MAX_SIZE) {
		struct dmaverify_obj *obj = owned_obj();

		refresh(ctx);
		if (obj) {
			obj->phys = phys;
			obj->size = size;
			obj->kind = kind;
			obj->dir = dir;
			if (!dmaverify_bounce_map(ctx, obj, attrs)) {
				atomic_long_inc(&ctx->bounced);
				dmaverify_check_dma_addr(ctx, obj, obj->dma, size, false);
				dmaverify_stats_add(ctx, kind, size);
				obj->stack = dmaverify_creator_stack(ra, 0);
				dmaverify_track_obj(ctx, obj);
				return obj->dma;
			}
			owned_obj_fail(obj);
		} else if (dmaverify_verifying()) {
			/* No object to track it: unbounced, but not silently. */
			dmaverify_bounce_unavailable(ctx, size);
		}
	}
	addr = forward_map(ctx, phys, page, offset, size, dir, attrs, kind);
	if (addr == DMA_MAPPING_ERROR)
		return DMA_MAPPING_ERROR;
	if (unlikely(!dmaverify_verifying())) {
		/* Forwarding only: counted, not tracked (as dmaverify_track_new()). */
		dmaverify_untracked_new(ctx, kind, size);
		return addr;
	}

	track_map(ctx, addr, phys, size, dir, attrs, kind, ra);
	return addr;
}

/*
 * A map under verification: checked, forwarded and tracked.  Out of line:
 * the kernel zeroes every stack variable (CONFIG_INIT_STACK_ALL_ZERO), and
 * the reservation below should cost that only where it is used.
 */
static noinline dma_addr_t map_checked(struct dmaverify_dev *ctx,
				       phys_addr_t phys, struct page *page,
				       unsigned long offset, size_t size,
				       int dir, unsigned long attrs, int kind,
				       const unsigned long *ra)
{
	struct dmaverify_obj resv = {
		.phys = phys, .size = size, .kind = kind, .dir = dir,
	};
	bool reserved = false;
	dma_addr_t addr;

	dmaverify_check_map_buffer(ctx, phys, NULL, size, dir);
	/*
	 * The overlap check runs before the forward, and the new map is
	 * tracked after it: announce the range first, so that of two
	 * overlapping maps racing on two CPUs at least one sees the other
	 * (see dmaverify_phys_reserve()).
	 */
	if (!(attrs & DMA_ATTR_SKIP_CPU_SYNC) && dir != DMA_TO_DEVICE &&
	    size && dmaverify_check_on(DV_OVERLAP)) {
		dmaverify_phys_reserve(&ctx->tracker, &resv);
		reserved = true;
		dmaverify_check_overlap(ctx, phys, size, dir, &resv);
	}
	dmaverify_test_point(DV_TEST_MAP_CHECKED, ctx->dev, phys);
	addr = map_forward(ctx, phys, page, offset, size, dir, attrs, kind, ra);
	if (reserved)
		dmaverify_phys_unreserve(&ctx->tracker, &resv);
	return addr;
}

/* Check a map, forward it and track it; @ra as for map_forward(). */
static __always_inline dma_addr_t map_one(struct dmaverify_dev *ctx,
					  phys_addr_t phys, struct page *page,
					  unsigned long offset, size_t size,
					  int dir, unsigned long attrs, int kind,
					  const unsigned long *ra)
{
	/*
	 * A sampled device's map goes to the twin untracked, unless it
	 * takes the sample: between samples, one read of the gate.
	 */
	if (ctx->sampled) {
		if (likely(!dmaverify_sample_due(&dmaverify_sample_gate)))
			return forward_map(ctx, phys, page, offset, size, dir,
					   attrs, kind);
		return sample_map(ctx, phys, page, offset, size, dir, attrs,
				  kind, ra);
	}
	if (kind == DV_KIND_MAP && dmaverify_verifying())
		return map_checked(ctx, phys, page, offset, size, dir, attrs,
				   kind, ra);
	dmaverify_test_point(DV_TEST_MAP_CHECKED, ctx->dev, phys);
	return map_forward(ctx, phys, page, offset, size, dir, attrs, kind, ra);
}

static void unmap_one(struct dmaverify_dev *ctx, dma_addr_t addr, size_t size,
		      int dir, unsigned long attrs, int kind)
{
	struct dmaverify_obj *obj = NULL;
	bool forward = true;

	if (dmaverify_used_failed_mapping(ctx, addr, size, dir))
		return;
	if (sampled_idle(ctx)) {
		/* Not sampled, or a sampled buffer released twice? */
		if (likely(!dmaverify_sample_released(ctx, addr)) ||
		    dmaverify_unknown_release(ctx, DV_DOUBLE_UNMAP, kind, addr,
					      size, dir))
			goto forward;
		return;
	}
	/* Nothing ever tracked (verification off): no lookup. */
	if (!dmaverify_tracker_used(&ctx->tracker) &&
	    dmaverify_untracked_release(ctx, kind, size))
		goto forward;
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
forward:
	forward_unmap(ctx, addr, size, dir, attrs, kind);
	if (obj)
		dmaverify_released(ctx, obj);
}

#ifdef DMAVERIFY_HAVE_OPS_MAP_PHYS
static dma_addr_t dmaverify_map_phys(struct device *dev, phys_addr_t phys,
				     size_t size, enum dma_data_direction dir,
				     unsigned long attrs)
{
	struct dmaverify_dev *ctx;
	dma_addr_t addr;

	preempt_disable();
	ctx = enter(dev);
	if (likely(ctx))
		addr = map_one(ctx, phys, NULL, 0, size, dir, attrs,
			       attrs & DMA_ATTR_MMIO ? DV_KIND_RESOURCE : DV_KIND_MAP,
			       DV_RA_SLOT());
	else
		addr = dma_map_phys(pass_dev(dev), phys, size, dir, attrs);
	preempt_enable();
	return addr;
}

static void dmaverify_unmap_phys(struct device *dev, dma_addr_t addr,
				 size_t size, enum dma_data_direction dir,
				 unsigned long attrs)
{
	struct dmaverify_dev *ctx;

	preempt_disable();
	ctx = enter(dev);
	if (likely(ctx))
		unmap_one(ctx, addr, size, dir, attrs,
			  attrs & DMA_ATTR_MMIO ? DV_KIND_RESOURCE : DV_KIND_MAP);
	else
		dma_unmap_phys(pass_dev(dev), addr, size, dir, attrs);
	preempt_enable();
}
#else
static dma_addr_t dmaverify_map_page(struct device *dev, struct page *page,
				     unsigned long offset, size_t size,
				     enum dma_data_direction dir,
				     unsigned long attrs)
{
	struct dmaverify_dev *ctx;
	dma_addr_t addr;

	preempt_disable();
	ctx = enter(dev);
	if (likely(ctx))
		addr = map_one(ctx, page_to_phys(page) + offset, page, offset,
			       size, dir, attrs, DV_KIND_MAP,
			       DV_RA_SLOT());
	else
		addr = dma_map_page_attrs(pass_dev(dev), page, offset, size, dir, attrs);
	preempt_enable();
	return addr;
}

static void dmaverify_unmap_page(struct device *dev, dma_addr_t addr,
				 size_t size, enum dma_data_direction dir,
				 unsigned long attrs)
{
	struct dmaverify_dev *ctx;

	preempt_disable();
	ctx = enter(dev);
	if (likely(ctx))
		unmap_one(ctx, addr, size, dir, attrs, DV_KIND_MAP);
	else
		dma_unmap_page_attrs(pass_dev(dev), addr, size, dir, attrs);
	preempt_enable();
}

static dma_addr_t dmaverify_map_resource(struct device *dev, phys_addr_t phys,
					 size_t size, enum dma_data_direction dir,
					 unsigned long attrs)
{
	struct dmaverify_dev *ctx;
	dma_addr_t addr;

	preempt_disable();
	ctx = enter(dev);
	if (likely(ctx))
		addr = map_one(ctx, phys, NULL, 0, size, dir, attrs,
			       DV_KIND_RESOURCE,
			       DV_RA_SLOT());
	else
		addr = dma_map_resource(pass_dev(dev), phys, size, dir, attrs);
	preempt_enable();
	return addr;
}

static void dmaverify_unmap_resource(struct device *dev, dma_addr_t addr,
				     size_t size, enum dma_data_direction dir,
				     unsigned long attrs)
{
	struct dmaverify_dev *ctx;

	preempt_disable();
	ctx = enter(dev);
	if (likely(ctx))
		unmap_one(ctx, addr, size, dir, attrs, DV_KIND_RESOURCE);
	else
		dma_unmap_resource(pass_dev(dev), addr, size, dir, attrs);
	preempt_enable();
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

/* Track a mapped list (out of line: its template is zeroed at every entry). */
static noinline void track_sg(struct dmaverify_dev *ctx,
			      struct scatterlist *sgl, int nents, int mapped,
			      size_t total, int dir, const unsigned long *ra)
{
	struct dmaverify_obj tmpl = {
		/* The key of a list is its pointer, in @phys. */
		.dma = sg_dma_address(sgl),
		.size = total, .phys = (unsigned long)sgl, .kind = DV_KIND_SG,
		.dir = dir, .nents = nents, .mapped = mapped,
		.csum = dmaverify_sg_csum(sgl, nents),
	};

	dmaverify_track_new(ctx, &tmpl, ra);
}

/*
 * S/G lists are checked for overlaps with the streaming maps in the
 * physical index, but are not in it themselves: no check-then-insert
 * window to close here (see map_one()).  @ra as for map_forward().
 */
static int map_sg(struct dmaverify_dev *ctx, struct scatterlist *sgl,
		  int nents, int dir, unsigned long attrs,
		  const unsigned long *ra)
{
	size_t total = sg_total(sgl, nents);
	struct scatterlist *s;
	int i, ret;

	if (ctx->sampled) {
		if (likely(!dmaverify_sample_due(&dmaverify_sample_gate)))
			return forward_sg(ctx, sgl, nents, dir, attrs);
		return sample_map_sg(ctx, sgl, nents, dir, attrs, ra);
	}
	for_each_sg(sgl, s, nents, i) {
		if (dmaverify_verifying()) {
			dmaverify_check_map_buffer(ctx, sg_phys(s), NULL, s->length,
						   dir);
			if (!(attrs & DMA_ATTR_SKIP_CPU_SYNC))
				dmaverify_check_overlap(ctx, sg_phys(s), s->length,
							dir, NULL);
		}
	}
	if (inject_failure(nents))
		return -ENOMEM;
	if (READ_ONCE(dmaverify_bounce) && nents <= U16_MAX &&
	    total <= DV_OBJ_MAX_SIZE) {
		struct dmaverify_obj *obj = owned_obj();

		refresh(ctx);
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
				obj->stack = dmaverify_creator_stack(ra, 0);
				dmaverify_track_obj(ctx, obj);
				return nents;
			}
			owned_obj_fail(obj);
		} else if (dmaverify_verifying()) {
			dmaverify_bounce_unavailable(ctx, total);
		}
	} else if (READ_ONCE(dmaverify_bounce) && dmaverify_verifying()) {
		dmaverify_bounce_unavailable(ctx, total);	/* Too many entries. */
	}
	ret = forward_sg(ctx, sgl, nents, dir, attrs);
	if (ret <= 0)
		return ret;

	if (!dmaverify_verifying()) {
		dmaverify_untracked_new(ctx, DV_KIND_SG, total);
		return ret;
	}
	dmaverify_check_sg_segments(ctx, sgl, ret);
	track_sg(ctx, sgl, nents, ret, total, dir, ra);
	return ret;
}

static int dmaverify_map_sg(struct device *dev, struct scatterlist *sgl,
			    int nents, enum dma_data_direction dir,
			    unsigned long attrs)
{
	struct sg_table sgt = { .sgl = sgl, .orig_nents = nents };
	struct dmaverify_dev *ctx;
	int ret;

	preempt_disable();
	ctx = enter(dev);
	if (likely(ctx)) {
		ret = map_sg(ctx, sgl, nents, dir, attrs, DV_RA_SLOT());
	} else {
		ret = dma_map_sgtable(pass_dev(dev), &sgt, dir, attrs);
		if (!ret)
			ret = sgt.nents;
	}
	preempt_enable();
	return ret;
}

/*
 * An S/G unmap of a list nothing tracks: a single mapping released as a
 * list?  Return: true if so (reported).
 */
static noinline bool single_unmapped_as_sg(struct dmaverify_dev *ctx,
					   struct scatterlist *sgl, int dir)
{
	struct dmaverify_obj other;

	if (!dmaverify_tracker_used(&ctx->tracker) || ctx->sampled ||
	    !dmaverify_lookup(&ctx->tracker, sg_dma_address(sgl), false, &other) ||
	    dmaverify_untracked(ctx))
		return false;
	if (dmaverify_check_on(DV_WRONG_FUNCTION))
		dmaverify_violation(ctx, DV_WRONG_FUNCTION, &other,
				    (unsigned long)sgl, 0, dir,
				    "created as %s, released as sg",
				    dmaverify_kind_names[other.kind]);
	return true;
}

static void unmap_sg(struct dmaverify_dev *ctx, struct scatterlist *sgl,
		     int nents, int dir, unsigned long attrs)
{
	struct dmaverify_obj *obj;

	/* Nothing ever tracked (verification off), or not sampled: no lookup. */
	if (unlikely(in_nmi()) || sampled_idle(ctx) ||
	    (!dmaverify_tracker_used(&ctx->tracker) &&
	     dmaverify_untracked_release(ctx, DV_KIND_SG, sg_total(sgl, nents)))) {
		forward_unmap_sg(ctx, sgl, nents, dir, attrs);
		return;
	}
	obj = dmaverify_tracker_used(&ctx->tracker) ?
	      dmaverify_untrack(&ctx->tracker, (unsigned long)sgl, true, NULL, NULL) :
	      NULL;
	if (!obj) {
		if (single_unmapped_as_sg(ctx, sgl, dir))
			return;
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
	forward_unmap_sg(ctx, sgl, nents, dir, attrs);
	if (obj)
		dmaverify_released(ctx, obj);
}

static void dmaverify_unmap_sg(struct device *dev, struct scatterlist *sgl,
			       int nents, enum dma_data_direction dir,
			       unsigned long attrs)
{
	struct dmaverify_dev *ctx;

	preempt_disable();
	ctx = unmap_sg_enter(dev, sgl);
	if (likely(ctx))
		unmap_sg(ctx, sgl, nents, dir, attrs);
	else
		dma_unmap_sg_attrs(pass_dev(dev), sgl, nents, dir, attrs);
	preempt_enable();
}

/* === Syncs === */

/* A sync that found its bounced mapping unmapped by a racing call. */
static void sync_lost_race(struct dmaverify_dev *ctx, enum dmaverify_violation v,
			   unsigned long addr, size_t size, int dir)
{
	if (dmaverify_check_on(v))
		dmaverify_violation(ctx, v, NULL, addr, size, dir,
				    "the mapping was unmapped while this sync ran, %zu bytes, %s",
				    size, dmaverify_dir_name(dir));
}

/*
 * Find the mapping a single-range sync refers to.  Return: true to forward
 * the sync, with *size possibly clamped to the mapping's end.
 *
 * A bounced mapping's buffer is used after the tracker's lock is dropped:
 * it stays allocated until the callback's RCU read-side section (with
 * preemption disabled) ends, and dmaverify_bounce_sync() checks under the
 * buffer's lock that no unmap came meanwhile (redzone.c).
 */
static noinline bool sync_lookup(struct dmaverify_dev *ctx, dma_addr_t addr,
				 size_t *size, int dir, bool for_cpu)
{
	struct dmaverify_obj obj;

	if (!dmaverify_verifying()) {
		/* Bounced data must still move, checks or not. */
		if (in_nmi() ||
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
		/* Through a port: the port may have mapped it for itself. */
		if ((ctx->sampled ? !dmaverify_sample_released(ctx, addr) :
		     dmaverify_untracked(ctx)) || ctx->port)
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
	dmaverify_test_point(DV_TEST_SYNC_FOUND, ctx->dev, addr);
	if (obj.flags & DV_OBJ_BOUNCED) {
		/* The device's buffer is dmaverify's: no sync below it needed. */
		if (!dmaverify_bounce_sync(ctx, &obj, addr, *size, for_cpu))
			sync_lost_race(ctx, DV_SYNC_UNMAPPED, addr, *size, dir);
		return false;
	}
	return true;
}

/*
 * The lookup (out of line: its object on the stack is zeroed at every
 * entry) only when there is something to find: a tracked mapping, or a
 * bounced one whose data must move while verification is off.
 */
static __always_inline bool sync_single(struct dmaverify_dev *ctx,
					dma_addr_t addr, size_t *size, int dir,
					bool for_cpu)
{
	if (dmaverify_used_failed_mapping(ctx, addr, *size, dir))
		return false;
	if (sampled_idle(ctx) && likely(!dmaverify_sample_released(ctx, addr)))
		return true;
	if (!dmaverify_verifying() && !atomic_long_read(&ctx->bounced))
		return true;
	return sync_lookup(ctx, addr, size, dir, for_cpu);
}

static void dmaverify_sync_single_for_cpu(struct device *dev, dma_addr_t addr,
					  size_t size,
					  enum dma_data_direction dir)
{
	struct dmaverify_dev *ctx;

	preempt_disable();
	ctx = enter(dev);
	if (likely(ctx)) {
		if (sync_single(ctx, addr, &size, dir, true))
			forward_sync_single(ctx, addr, size, dir, true);
	} else {
		dma_sync_single_for_cpu(pass_dev(dev), addr, size, dir);
	}
	preempt_enable();
}

static void dmaverify_sync_single_for_device(struct device *dev,
					     dma_addr_t addr, size_t size,
					     enum dma_data_direction dir)
{
	struct dmaverify_dev *ctx;

	preempt_disable();
	ctx = enter(dev);
	if (likely(ctx)) {
		if (sync_single(ctx, addr, &size, dir, false))
			forward_sync_single(ctx, addr, size, dir, false);
	} else {
		dma_sync_single_for_device(pass_dev(dev), addr, size, dir);
	}
	preempt_enable();
}

/* As sync_lookup(), for S/G lists. */
static noinline bool sync_sg_lookup(struct dmaverify_dev *ctx,
				    struct scatterlist *sgl, int nents, int dir,
				    bool for_cpu)
{
	struct dmaverify_obj obj;

	if (!dmaverify_verifying()) {
		if (in_nmi() ||
		    !dmaverify_lookup(&ctx->tracker, (unsigned long)sgl, true, &obj) ||
		    !(obj.flags & DV_OBJ_BOUNCED))
			return true;
		dmaverify_bounce_sync_sg(ctx, &obj, sgl, for_cpu);
		return false;
	}
	if (!dmaverify_lookup(&ctx->tracker, (unsigned long)sgl, true, &obj)) {
		if (ctx->sampled || dmaverify_untracked(ctx) || ctx->port)
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
		if (!dmaverify_bounce_sync_sg(ctx, &obj, sgl, for_cpu))
			sync_lost_race(ctx, DV_SYNC_SG_UNMAPPED, (unsigned long)sgl,
				       obj.size, dir);
		return false;
	}
	return true;
}

/* As sync_single(), for S/G lists. */
static __always_inline bool sync_sg(struct dmaverify_dev *ctx,
				    struct scatterlist *sgl, int nents, int dir,
				    bool for_cpu)
{
	if (sampled_idle(ctx))
		return true;
	if (!dmaverify_verifying() && !atomic_long_read(&ctx->bounced))
		return true;
	return sync_sg_lookup(ctx, sgl, nents, dir, for_cpu);
}

static void dmaverify_sync_sg_for_cpu(struct device *dev,
				      struct scatterlist *sgl, int nents,
				      enum dma_data_direction dir)
{
	struct dmaverify_dev *ctx;

	preempt_disable();
	ctx = enter(dev);
	if (likely(ctx)) {
		if (sync_sg(ctx, sgl, nents, dir, true))
			forward_sync_sg(ctx, sgl, nents, dir, true);
	} else {
		dma_sync_sg_for_cpu(pass_dev(dev), sgl, nents, dir);
	}
	preempt_enable();
}

static void dmaverify_sync_sg_for_device(struct device *dev,
					 struct scatterlist *sgl, int nents,
					 enum dma_data_direction dir)
{
	struct dmaverify_dev *ctx;

	preempt_disable();
	ctx = enter(dev);
	if (likely(ctx)) {
		if (sync_sg(ctx, sgl, nents, dir, false))
			forward_sync_sg(ctx, sgl, nents, dir, false);
	} else {
		dma_sync_sg_for_device(pass_dev(dev), sgl, nents, dir);
	}
	preempt_enable();
}

/* === Coherent buffers and pages === */

static void *dmaverify_alloc(struct device *dev, size_t size,
			     dma_addr_t *dma_handle, gfp_t gfp,
			     unsigned long attrs)
{
	struct dmaverify_dev *ctx = sleeper_in(dev);
	struct dmaverify_obj tmpl = {};
	void *cpu;

	if (unlikely(!ctx))
		return dma_alloc_attrs(dev, size, dma_handle, gfp, attrs);
	if (unlikely(ctx->partial)) {
		/* A port's allocations are its own (usb_alloc_coherent(): indirect.c). */
		cpu = dma_alloc_attrs(ctx->twin, size, dma_handle, gfp, attrs);
		sleeper_out(ctx);
		return cpu;
	}
	if (ctx->sampled) {
		rules(ctx);
		cpu = sampled_alloc(ctx, size, dma_handle, gfp, attrs,
				    DV_RA_SLOT());
		sleeper_out(ctx);
		return cpu;
	}
	if (READ_ONCE(dmaverify_enabled))
		dmaverify_check_context(ctx, gfpflags_allow_blocking(gfp), false);
	rules(ctx);
	refresh(ctx);
	if (READ_ONCE(dmaverify_redzone) && size <= DV_OBJ_MAX_SIZE) {
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
	struct dmaverify_dev *ctx = sleeper_in(dev);
	struct dmaverify_obj *obj;
	bool forward;

	if (unlikely(!ctx)) {
		dma_free_attrs(dev, size, cpu, dma, attrs);
		return;
	}
	if (unlikely(ctx->partial)) {
		/* Not forwarded: a double usb_free_coherent() (indirect.c). */
		forward = true;
		dmaverify_indirect_ctx(ctx, &forward);
		if (forward)
			dma_free_attrs(ctx->twin, size, cpu, dma, attrs);
		sleeper_out(ctx);
		return;
	}
	if (sampled_idle(ctx)) {
		rules(ctx);
		dma_free_attrs(ctx->twin, size, cpu, dma, attrs);
		sleeper_out(ctx);
		return;
	}
	if (READ_ONCE(dmaverify_enabled))
		dmaverify_check_context(ctx, false, true);
	rules(ctx);
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
	struct dmaverify_dev *ctx = sleeper_in(dev);
	struct dmaverify_obj tmpl = {};
	struct page *page;

	if (unlikely(!ctx))
		return dma_alloc_pages(dev, size, dma_handle, dir, gfp);
	if (unlikely(ctx->partial)) {
		page = dma_alloc_pages(ctx->twin, size, dma_handle, dir, gfp);
		sleeper_out(ctx);
		return page;
	}
	if (ctx->sampled) {
		/* Not sampled: noncoherent pages are the driver's to touch. */
		rules(ctx);
		refresh(ctx);
		page = dma_alloc_pages(ctx->twin, size, dma_handle, dir, gfp);
		sleeper_out(ctx);
		return page;
	}
	if (READ_ONCE(dmaverify_enabled))
		dmaverify_check_context(ctx, gfpflags_allow_blocking(gfp), false);
	rules(ctx);
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
	struct dmaverify_dev *ctx = sleeper_in(dev);
	struct dmaverify_obj *obj;
	bool forward;

	if (unlikely(!ctx)) {
		dma_free_pages(dev, size, page, dma, dir);
		return;
	}
	if (unlikely(ctx->partial)) {
		dma_free_pages(ctx->twin, size, page, dma, dir);
		sleeper_out(ctx);
		return;
	}
	rules(ctx);
	if (sampled_idle(ctx)) {
		dma_free_pages(ctx->twin, size, page, dma, dir);
		sleeper_out(ctx);
		return;
	}
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
	struct dmaverify_dev *ctx = sleeper_in(dev);
	int ret;

	if (unlikely(!ctx))
		return dma_mmap_attrs(dev, vma, cpu, dma, size, attrs);
	if (likely(!ctx->partial))
		rules(ctx);
	ret = dma_mmap_attrs(ctx->twin, vma, cpu, dma, size, attrs);
	sleeper_out(ctx);
	return ret;
}

static int dmaverify_get_sgtable(struct device *dev, struct sg_table *sgt,
				 void *cpu, dma_addr_t dma, size_t size,
				 unsigned long attrs)
{
	struct dmaverify_dev *ctx = sleeper_in(dev);
	int ret;

	if (unlikely(!ctx))
		return dma_get_sgtable_attrs(dev, sgt, cpu, dma, size, attrs);
	if (likely(!ctx->partial))
		rules(ctx);
	ret = dma_get_sgtable_attrs(ctx->twin, sgt, cpu, dma, size, attrs);
	sleeper_out(ctx);
	return ret;
}

/* === Device properties === */

/*
 * Whether the original implementation supports @mask.  The only public way
 * to ask is to set it: set the coherent mask (not the streaming one, which
 * the twin shares with the device) of the context's probe device, a twin
 * that nothing allocates or maps with.  Changing the twin's own mask, even
 * for a moment, would hand a concurrent allocation the wrong mask.
 * Concurrent askers may overwrite each other's probe mask: the answer does
 * not depend on it.
 */
static int dmaverify_dma_supported(struct device *dev, u64 mask)
{
	struct dmaverify_dev *ctx;
	struct device *probe;
	int ok = 1;

	preempt_disable();
	ctx = port_of(dev);
	if (likely(ctx)) {
		dmaverify_twin_refresh(ctx->probe, dev);
		ok = !dma_set_coherent_mask(ctx->probe, mask);
	}
	preempt_enable();
	if (likely(ctx))
		return ok;
	/*
	 * Unhooked meanwhile: ask a probe made from what the device has now.
	 * Masks are set in process context; elsewhere, let the core decide.
	 */
	probe = preemptible() ? dmaverify_twin_create(dev, get_dma_ops(dev),
						      dv_dma_iommu(dev)) : NULL;
	if (probe) {
		ok = !dma_set_coherent_mask(probe, mask);
		dmaverify_twin_destroy(probe);
	}
	return ok;
}

static u64 dmaverify_get_required_mask(struct device *dev)
{
	struct dmaverify_dev *ctx;
	u64 mask;

	preempt_disable();
	ctx = port_of(dev);
	mask = dma_get_required_mask(ctx ? ctx->twin : dev);
	preempt_enable();
	return mask;
}

static size_t dmaverify_max_mapping_size(struct device *dev)
{
	struct dmaverify_dev *ctx;
	size_t size;

	preempt_disable();
	ctx = port_of(dev);
	size = dma_max_mapping_size(ctx ? ctx->twin : dev);
	preempt_enable();
	return size;
}

static unsigned long dmaverify_get_merge_boundary(struct device *dev)
{
	struct dmaverify_dev *ctx;
	unsigned long boundary;

	preempt_disable();
	ctx = port_of(dev);
	boundary = dma_get_merge_boundary(ctx ? ctx->twin : dev);
	preempt_enable();
	return boundary;
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
