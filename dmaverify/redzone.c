// SPDX-License-Identifier: GPL-2.0
/*
 * dmaverify: redzones around coherent buffers and bounce buffers for
 * streaming maps, to catch overruns by the driver and by the device.
 *
 * Coherent buffers (redzone=1) are allocated with a redzone before and
 * after, filled with 0x0F as Windows Driver Verifier fills its padding; the
 * driver gets the inner region, aligned as the DMA API promises.
 *
 * Streaming maps (bounce=1) are double-buffered: the device gets a buffer of
 * dmaverify's, allocated through the device's original DMA path (so masks,
 * IOMMU and segment limits hold) with redzones on both sides, and the same
 * offset in its page as the driver's buffer (min_align_mask).  Data moves at
 * map, sync and unmap as the direction says.  The redzones are checked at
 * every sync and unmap.  FROM_DEVICE data is poisoned (0xDB) in the driver's
 * buffer and in the bounce buffer, so that data the device never wrote, or
 * that the driver read without a sync, shows as poison.  A released bounce
 * buffer is poisoned and kept in a quarantine before it is freed: a device
 * write after unmap shows there.  Checksums of the driver's buffer catch the
 * CPU writing to a buffer the device owns.
 *
 *   | redzone (>= 1 page) | buffer | redzone (rest of page + 1 page) |
 *                         ^ same offset in page as the driver's buffer
 */

#define pr_fmt(fmt) "dmaverify: " fmt

#include <linux/crc32.h>
#include <linux/dma-mapping.h>
#include <linux/highmem.h>
#include <linux/jiffies.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/rcupdate.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>
#include <linux/workqueue.h>
#include <linux/fault-inject.h>

#include "dmaverify.h"

#define REDZONE_BYTE	0x0F	/* Windows' DMA verifier padding. */
#define POISON_BYTE	0xDB	/* Data no one has written yet. */

bool dmaverify_bounce;
EXPORT_SYMBOL_FOR_DV_TESTS(dmaverify_bounce);
module_param_named(bounce, dmaverify_bounce, bool, 0644);
MODULE_PARM_DESC(bounce, "Double-buffer streaming maps with redzoned, poisoned bounce buffers, to catch device overruns, device writes after unmap and CPU writes to mapped buffers (default N; applies to new mappings)");

/*
 * Comparing a DMA_TO_DEVICE bounce copy with the driver's buffer finds a
 * device that writes what it may only read.  Off by default: emulated NICs
 * do so legitimately (QEMU's e1000e writes the checksum its transmit
 * offload computes into the guest's buffer), which no driver can help.
 */
bool dmaverify_bounce_device_writes;
EXPORT_SYMBOL_FOR_DV_TESTS(dmaverify_bounce_device_writes);
module_param_named(bounce_dev_writes, dmaverify_bounce_device_writes, bool, 0644);
MODULE_PARM_DESC(bounce_dev_writes, "With bounce=1, report a device that writes a DMA_TO_DEVICE bounce buffer (default N: emulated NICs such as QEMU's e1000e write transmit checksums into it)");

bool dmaverify_redzone = true;
EXPORT_SYMBOL_FOR_DV_TESTS(dmaverify_redzone);
module_param_named(redzone, dmaverify_redzone, bool, 0644);
MODULE_PARM_DESC(redzone, "Put redzones around coherent buffers of up to 1 MiB (default Y; applies to new buffers)");

static unsigned int quarantine_max = 64;
module_param_named(quarantine, quarantine_max, uint, 0644);
MODULE_PARM_DESC(quarantine, "Released bounce buffers kept poisoned per device to catch late device writes (default 64)");

/* Released sampled buffers kept per device: slots are few, and shared. */
#define SAMPLE_QUARANTINE	8

static unsigned int scan_interval_ms = 5000;
module_param_named(scan_interval_ms, scan_interval_ms, uint, 0644);
MODULE_PARM_DESC(scan_interval_ms, "Check all redzones and the quarantine every so many ms (default 5000; 0: only at free, unbind and on the debugfs scan command)");

#define REDZONE_MAX	SZ_1M	/* Larger coherent buffers get no redzone. */

/**
 * struct dmaverify_bounce - a buffer of dmaverify's that the device sees
 * @node: entry in the device's quarantine, or in the deferred-free list
 * @lock: serialises the syncs of the mapping and its unmap
 * @dead: the mapping was unmapped (or reclaimed): syncs must not touch the
 *	buffer or the driver's memory any more; set under @lock
 * @cpu: start of the allocation
 * @dma: its DMA address
 * @total: bytes allocated
 * @front: offset of the inner buffer (the redzone before it)
 * @size: bytes of the inner buffer
 * @csum: checksum of the driver's buffer when the device took it over
 * @twin: the device the allocation was made on (its twin)
 * @obj: the object, for reports from the quarantine
 * @slot: the pool's slot holding the buffer (sampled mappings), or NULL:
 *	then the buffer is a coherent allocation.  A slot is a streaming
 *	mapping of dmaverify's (bidirectional, through the twin), synced
 *	around every CPU access
 * @free_stack: who released it
 * @free_when: jiffies at release
 * @free_pid: the task that released it
 * @free_cpu: the CPU it ran on
 */
struct dmaverify_bounce {
	struct list_head node;
	raw_spinlock_t lock;
	bool dead;
	void *cpu;
	dma_addr_t dma;
	size_t total;
	size_t front;
	size_t size;
	u32 csum;
	struct device *twin;
	struct dmaverify_obj obj;
	struct dmaverify_slot *slot;
	unsigned long free_stack;
	u32 free_when;
	int free_pid;
	int free_cpu;
};

/*
 * The bounce buffers of an S/G list, one per segment.  Freed after an RCU
 * grace period, like the buffers: a sync may have found it just before the
 * unmap.
 */
struct dmaverify_bounce_sg {
	struct rcu_head rcu;
	struct dmaverify_bounce *segs[];
};

/*
 * Bounce buffers to free in process context (dma_free_attrs() may sleep),
 * after an RCU grace period.  A sync finds its mapping's buffer under the
 * tracker's lock, then uses it after dropping that lock, inside the
 * callback's RCU read-side section (ops.c runs it with preemption
 * disabled): the buffer's memory stays valid until that section ends, and
 * its @dead flag, set by the unmap under the buffer's lock, tells the sync
 * that the mapping is gone.
 */
static LIST_HEAD(free_list);
static DEFINE_RAW_SPINLOCK(free_lock);
static void free_work_fn(struct work_struct *work);
static DECLARE_WORK(free_work, free_work_fn);

/*
 * Bytes waiting in free_list.  Maps from interrupts at a high rate can
 * release bounce buffers faster than the worker gets to run (seen under
 * the stress test's hrtimers on a debug kernel: out of memory).  Past this
 * much, new maps are not bounced (they are still checked and tracked)
 * until the worker catches up.
 */
#define PENDING_FREE_MAX	(32UL << 20)
static atomic_long_t pending_free;

/* === Helpers === */

static inline u8 *inner(const struct dmaverify_bounce *b)
{
	return (u8 *)b->cpu + b->front;
}

/* Copy between a bounce buffer and physical memory, a page at a time. */
static void copy_phys(phys_addr_t phys, void *buf, size_t len, bool to_phys)
{
	while (len) {
		struct page *page = pfn_to_page(PHYS_PFN(phys));
		size_t off = offset_in_page(phys);
		size_t n = min_t(size_t, len, PAGE_SIZE - off);
		u8 *va = kmap_local_page(page);

		if (to_phys)
			memcpy(va + off, buf, n);
		else
			memcpy(buf, va + off, n);
		kunmap_local(va);
		phys += n;
		buf += n;
		len -= n;
	}
}

static void fill_phys(phys_addr_t phys, u8 byte, size_t len)
{
	while (len) {
		struct page *page = pfn_to_page(PHYS_PFN(phys));
		size_t off = offset_in_page(phys);
		size_t n = min_t(size_t, len, PAGE_SIZE - off);
		u8 *va = kmap_local_page(page);

		memset(va + off, byte, n);
		kunmap_local(va);
		phys += n;
		len -= n;
	}
}

static u32 csum_phys(phys_addr_t phys, size_t len)
{
	u32 crc = ~0U;

	while (len) {
		struct page *page = pfn_to_page(PHYS_PFN(phys));
		size_t off = offset_in_page(phys);
		size_t n = min_t(size_t, len, PAGE_SIZE - off);
		u8 *va = kmap_local_page(page);

		crc = crc32_le(crc, va + off, n);
		kunmap_local(va);
		phys += n;
		len -= n;
	}
	return crc;
}

/*
 * A DMA_TO_DEVICE bounce buffer is the device's to read only.  If the
 * driver's buffer is unchanged since it was handed over (its checksum) and
 * the bounce copy differs from it, the device wrote the copy: the offset
 * of the first byte it changed is in @at.  A copy still all poison was
 * mapped with DMA_ATTR_SKIP_CPU_SYNC: nothing to compare.
 */
static bool device_wrote(const struct dmaverify_obj *obj,
			 const struct dmaverify_bounce *b, size_t *at)
{
	phys_addr_t phys = obj->phys;
	const u8 *copy = inner(b);
	size_t done = 0, i;

	if (obj->dir != DMA_TO_DEVICE || !READ_ONCE(dmaverify_bounce_device_writes) ||
	    csum_phys(phys, b->size) != b->csum ||
	    !memchr_inv(copy, POISON_BYTE, b->size))
		return false;
	while (done < b->size) {
		struct page *page = pfn_to_page(PHYS_PFN(phys + done));
		size_t off = offset_in_page(phys + done);
		size_t n = min_t(size_t, b->size - done, PAGE_SIZE - off);
		u8 *va = kmap_local_page(page);

		for (i = 0; i < n && va[off + i] == copy[done + i]; i++)
			;
		kunmap_local(va);
		if (i < n) {
			*at = done + i;
			return true;
		}
		done += n;
	}
	return false;
}

static void report_device_wrote(struct dmaverify_dev *ctx,
				const struct dmaverify_obj *obj, size_t size,
				size_t at, const char *where)
{
	if (dmaverify_check_on(DV_DEVICE_WRONG_DIRECTION))
		dmaverify_violation_found(ctx, DV_DEVICE_WRONG_DIRECTION, obj,
					  "found at %s: the device wrote the %zu-byte DMA_TO_DEVICE bounce buffer, first at offset %zu",
					  where, size, at);
}

/* First and last offsets in [p, p + len) that are not @byte, or false. */
static bool find_corruption(const u8 *p, size_t len, u8 byte, size_t *first,
			    size_t *last)
{
	const u8 *bad = memchr_inv(p, byte, len);
	size_t i;

	if (!bad)
		return false;
	*first = bad - p;
	for (i = len; i > *first + 1 && p[i - 1] == byte; i--)
		;
	*last = i - 1;
	return true;
}

/* A corrupted redzone, described for the report. */
struct redzone_finding {
	enum dmaverify_violation v;
	char detail[200];
};

/*
 * Look at the redzones around [buf, buf + size) inside [start, end) and
 * describe each corrupted side in @out (before, after).  Reads and formats
 * only, so that a scan can call it under the tracker's lock.
 * Return: the number of findings (0: intact).
 */
static int inspect_redzones(const u8 *start, const u8 *buf, size_t size,
			    const u8 *end, const char *when,
			    struct redzone_finding out[2])
{
	size_t first, last, n;
	int found = 0;

	if (find_corruption(start, buf - start, REDZONE_BYTE, &first, &last)) {
		size_t before = buf - start;

		n = min_t(size_t, last - first + 1, 16);
		out[found].v = DV_OVERRUN_BEFORE;
		snprintf(out[found++].detail, sizeof(out->detail),
			 "found at %s: %zu bytes before the %zu-byte buffer modified, from offset -%zu to -%zu: %*ph (expected 0x%02x)",
			 when, last - first + 1, size, before - first, before - last,
			 (int)n, start + first, REDZONE_BYTE);
	}
	if (find_corruption(buf + size, end - (buf + size), REDZONE_BYTE, &first,
			    &last)) {
		n = min_t(size_t, last - first + 1, 16);
		out[found].v = DV_OVERRUN_AFTER;
		snprintf(out[found++].detail, sizeof(out->detail),
			 "found at %s: %zu bytes after the %zu-byte buffer modified, at offset %zu to %zu: %*ph (expected 0x%02x)",
			 when, last - first + 1, size, size + first, size + last,
			 (int)n, buf + size + first, REDZONE_BYTE);
	}
	return found;
}

/* Report a redzone corruption: at a call, or found by a scan. */
static void report_redzone(struct dmaverify_dev *ctx,
			   const struct dmaverify_obj *obj, bool scan,
			   const struct redzone_finding *f)
{
	if (!dmaverify_check_on(f->v))
		return;
	if (scan)
		dmaverify_violation_found(ctx, f->v, obj, "%s", f->detail);
	else
		dmaverify_violation(ctx, f->v, obj, obj->dma, obj->size, obj->dir,
				    "%s", f->detail);
}

/*
 * Check the redzones around [buf, buf + size) inside [start, end) at a call
 * that owns the object, report a corruption once per side.
 * Return: true if intact.
 */
static bool check_redzones(struct dmaverify_dev *ctx,
			   const struct dmaverify_obj *obj, const u8 *start,
			   const u8 *buf, size_t size, const u8 *end,
			   const char *when)
{
	struct redzone_finding f[2];
	int i, n = inspect_redzones(start, buf, size, end, when, f);

	for (i = 0; i < n; i++)
		report_redzone(ctx, obj, false, &f[i]);
	return !n;
}

/* === Bounce buffers === */

#ifdef CONFIG_FAULT_INJECTION
/* debugfs dmaverify/fail_bounce: fail bounce buffer allocations. */
DECLARE_FAULT_ATTR(dmaverify_fail_bounce);
#endif

static void bounce_free(struct dmaverify_bounce *b);

/* The slot's memory as the CPU must see it (before reading it). */
static void slot_for_cpu(struct dmaverify_bounce *b)
{
	if (b->slot)
		dma_sync_single_for_cpu(b->twin, b->dma, b->total,
					DMA_BIDIRECTIONAL);
}

/* ... and as the device must see it (after writing it). */
static void slot_for_device(struct dmaverify_bounce *b)
{
	if (b->slot)
		dma_sync_single_for_device(b->twin, b->dma, b->total,
					   DMA_BIDIRECTIONAL);
}

/*
 * A bounce buffer in a slot of the pool: no allocation.  Filled with
 * redzone bytes; mapped by slot_map() once its contents are in.
 */
static struct dmaverify_bounce *slot_alloc(struct dmaverify_dev *ctx,
					   phys_addr_t phys, size_t size)
{
	size_t front = PAGE_SIZE + offset_in_page(phys);
	size_t total = PAGE_ALIGN(front + size) + PAGE_SIZE;
	struct dmaverify_slot *slot;
	struct dmaverify_bounce *b;

	if (total > DV_SLOT_SIZE)
		return NULL;
	slot = dmaverify_pool_get();
	if (!slot)
		return NULL;
	b = (struct dmaverify_bounce *)slot->meta;
	raw_spin_lock_init(&b->lock);
	b->slot = slot;
	b->cpu = slot->cpu;
	b->front = front;
	b->size = size;
	b->total = total;
	b->dma = DMA_MAPPING_ERROR;
	b->twin = get_device(ctx->twin);
	memset(b->cpu, REDZONE_BYTE, total);
	return b;
}

/* Give an unmapped slot back at once. */
static void slot_abandon(struct dmaverify_bounce *b)
{
	put_device(b->twin);
	dmaverify_pool_put(b->slot);
}

/*
 * Map a filled slot through the twin for the device (masks, IOMMU and
 * swiotlb apply as to the driver's own maps).  Return: false (given back)
 * if it could not be mapped where the device reaches.
 */
static bool slot_map(struct dmaverify_dev *ctx, struct dmaverify_bounce *b)
{
	dma_addr_t dma = dma_map_single_attrs(b->twin, b->cpu, b->total,
					      DMA_BIDIRECTIONAL, 0);

	if (dma_mapping_error(b->twin, dma)) {
		slot_abandon(b);
		return false;
	}
	b->dma = dma;
	if (!dmaverify_dma_addr_ok(ctx->dev, dma, b->total, false)) {
		dma_unmap_single_attrs(b->twin, dma, b->total, DMA_BIDIRECTIONAL, 0);
		slot_abandon(b);
		return false;
	}
	return true;
}

/**
 * dmaverify_bounce_pool_setup() - make sure the pool of slots exists
 *
 * Context: process.
 */
void dmaverify_bounce_pool_setup(void)
{
	dmaverify_pool_setup(sizeof(struct dmaverify_bounce));
}
EXPORT_SYMBOL_FOR_DV_TESTS(dmaverify_bounce_pool_setup);

static struct dmaverify_bounce *bounce_alloc(struct dmaverify_dev *ctx,
					     phys_addr_t phys, size_t size,
					     bool sampled)
{
	size_t off = offset_in_page(phys);
	struct dmaverify_bounce *b;
	unsigned int nth;

#ifdef CONFIG_FAULT_INJECTION
	if (dmaverify_should_fail(&dmaverify_fail_bounce, size, false))
		goto failed;
#endif
	/* A sample goes through a slot, or not at all (the caller counts it). */
	if (sampled)
		return slot_alloc(ctx, phys, size);
	if (atomic_long_read(&pending_free) > PENDING_FREE_MAX) {
		atomic_long_inc(&ctx->bounce_skipped);
		return NULL;
	}
	nth = dmaverify_nth_hold();
	b = kzalloc(sizeof(*b), GFP_ATOMIC | __GFP_NOWARN);
	if (!b) {
		dmaverify_nth_restore(nth);
		goto failed;
	}
	raw_spin_lock_init(&b->lock);
	b->front = PAGE_SIZE + off;
	b->size = size;
	b->total = PAGE_ALIGN(b->front + size) + PAGE_SIZE;
	b->twin = get_device(ctx->twin);
	b->cpu = dma_alloc_attrs(ctx->twin, b->total, &b->dma,
				 GFP_ATOMIC | __GFP_NOWARN, 0);
	dmaverify_nth_restore(nth);
	if (!b->cpu) {
		put_device(b->twin);
		kfree(b);
		goto failed;
	}
	/*
	 * Allocated for the coherent mask: the device may not reach it with
	 * its streaming mask, which a map must respect.
	 */
	if (!dmaverify_dma_addr_ok(ctx->dev, b->dma, b->total, false)) {
		bounce_free(b);	/* Not at once: interrupts may be off. */
		goto failed;
	}
	memset(b->cpu, REDZONE_BYTE, b->total);
	return b;
failed:
	/* The map goes unbounced: say so, once per device, and count it. */
	atomic_long_inc(&ctx->bounce_failed);
	if (!test_and_set_bit(0, &ctx->bounce_failed_said))
		dev_warn(ctx->dev, "dmaverify: no bounce buffer for a %zu-byte map (out of memory, or outside the device's DMA mask): such maps go to the device unbounced, counted as \"bounce failed\" in debugfs stats\n",
			 size);
	return NULL;
}

static void bounce_free_now(struct dmaverify_bounce *b)
{
	if (b->slot) {
		dma_unmap_single_attrs(b->twin, b->dma, b->total,
				       DMA_BIDIRECTIONAL, 0);
		slot_abandon(b);
		return;
	}
	dma_free_attrs(b->twin, b->total, b->cpu, b->dma, 0);
	put_device(b->twin);
	kfree(b);
}

static void free_work_fn(struct work_struct *work)
{
	struct dmaverify_bounce *b, *tmp;
	unsigned long flags;
	LIST_HEAD(list);

	raw_spin_lock_irqsave(&free_lock, flags);
	list_splice_init(&free_list, &list);
	raw_spin_unlock_irqrestore(&free_lock, flags);
	if (list_empty(&list))
		return;
	/* Syncs that found one of these buffers have finished with it. */
	synchronize_rcu();
	list_for_each_entry_safe(b, tmp, &list, node) {
		atomic_long_sub(b->total, &pending_free);
		bounce_free_now(b);
		cond_resched();
	}
}

/*
 * Free from any context, through the worker, after a grace period; the twin
 * is kept alive until then.
 */
static void bounce_free(struct dmaverify_bounce *b)
{
	unsigned long flags;

	atomic_long_add(b->total, &pending_free);
	raw_spin_lock_irqsave(&free_lock, flags);
	list_add_tail(&b->node, &free_list);
	raw_spin_unlock_irqrestore(&free_lock, flags);
	schedule_work(&free_work);
}

/*
 * The mapping is gone: no sync may touch the buffer or the driver's memory
 * from now on.  Waits for a sync holding the lock.
 */
static void bounce_kill(struct dmaverify_bounce *b)
{
	unsigned long flags;

	raw_spin_lock_irqsave(&b->lock, flags);
	b->dead = true;
	raw_spin_unlock_irqrestore(&b->lock, flags);
}

/* A quarantined buffer must still hold only poison and redzones. */
static void check_quarantined(struct dmaverify_dev *ctx,
			      struct dmaverify_bounce *b)
{
	size_t first, last;

	slot_for_cpu(b);
	if (find_corruption(b->cpu, b->total, POISON_BYTE, &first, &last) &&
	    find_corruption(inner(b), b->size, POISON_BYTE, &first, &last) &&
	    dmaverify_check_on(DV_WRITE_AFTER_UNMAP)) {
		struct dmaverify_freed f = {
			.obj = b->obj, .free_stack = b->free_stack,
			.free_when = b->free_when, .free_pid = b->free_pid,
			.free_cpu = b->free_cpu,
		};
		struct dmaverify_report r = {
			.v = DV_WRITE_AFTER_UNMAP, .ctx = ctx, .obj = &f.obj,
			.freed = &f, .addr = b->obj.dma, .size = b->size,
			.dir = b->obj.dir, .creator_title = true,
		};
		char detail[200];

		snprintf(detail, sizeof(detail),
			 "%zu bytes at offset %zu to %zu of the released %zu-byte buffer: %*ph (expected 0x%02x)",
			 last - first + 1, first, last, b->size,
			 (int)min_t(size_t, last - first + 1, 16), inner(b) + first,
			 POISON_BYTE);
		r.detail = detail;
		dmaverify_report(&r);
	}
}

/*
 * Recompute a sampled device's quarantine filter (see
 * dmaverify_sample_released()).  Context: quarantine_lock held.
 */
static void quarantine_filter_update(struct dmaverify_dev *ctx)
{
	struct dmaverify_bounce *b;
	unsigned long filter = 0;

	if (!ctx->sampled)
		return;
	list_for_each_entry(b, &ctx->quarantine, node)
		if (b->slot)
			filter |= BIT(hash_64(b->obj.dma, ilog2(BITS_PER_LONG)));
	WRITE_ONCE(ctx->quarantine_filter, filter);
}

/**
 * dmaverify_quarantined() - whether a quarantined slot starts at @addr
 * @ctx: device context
 * @addr: DMA address
 *
 * Return: true if a released sampled buffer of @ctx, still in its
 * quarantine, was mapped at @addr.
 */
bool dmaverify_quarantined(struct dmaverify_dev *ctx, dma_addr_t addr)
{
	struct dmaverify_bounce *b;
	unsigned long flags;
	bool found = false;

	raw_spin_lock_irqsave(&ctx->quarantine_lock, flags);
	list_for_each_entry(b, &ctx->quarantine, node) {
		if (b->slot && b->obj.dma == addr) {
			found = true;
			break;
		}
	}
	raw_spin_unlock_irqrestore(&ctx->quarantine_lock, flags);
	return found;
}

/* Poison a released bounce buffer and quarantine it; evict the oldest. */
static void quarantine(struct dmaverify_dev *ctx, struct dmaverify_bounce *b,
		       const struct dmaverify_obj *obj)
{
	struct dmaverify_bounce *old = NULL;
	unsigned long flags;

	memset(inner(b), POISON_BYTE, b->size);
	slot_for_device(b);
	b->obj = *obj;
	b->free_stack = dmaverify_save_stack();
	b->free_when = (u32)jiffies;
	b->free_pid = task_pid_nr(current);
	b->free_cpu = raw_smp_processor_id();
	raw_spin_lock_irqsave(&ctx->quarantine_lock, flags);
	list_add_tail(&b->node, &ctx->quarantine);
	if (++ctx->nr_quarantined > (ctx->sampled ? SAMPLE_QUARANTINE :
				     READ_ONCE(quarantine_max))) {
		old = list_first_entry(&ctx->quarantine, struct dmaverify_bounce, node);
		list_del(&old->node);
		ctx->nr_quarantined--;
	}
	quarantine_filter_update(ctx);
	raw_spin_unlock_irqrestore(&ctx->quarantine_lock, flags);
	if (old) {
		check_quarantined(ctx, old);
		bounce_free(old);
	}
}

/**
 * dmaverify_bounce_map() - give the device a bounce buffer for a mapping
 * @ctx: device context
 * @obj: the new object (phys, size, dir set); receives dma and bounce
 * @attrs: the map's attributes
 *
 * Return: 0, or -ENOMEM (the caller maps the driver's buffer instead;
 * bounce_alloc() counted why).
 */
int dmaverify_bounce_map(struct dmaverify_dev *ctx, struct dmaverify_obj *obj,
			 unsigned long attrs)
{
	struct dmaverify_bounce *b = bounce_alloc(ctx, obj->phys, obj->size,
						  obj->flags & DV_OBJ_SAMPLED);

	if (!b)
		return -ENOMEM;
	if (obj->dir == DMA_FROM_DEVICE) {
		/* Poison both: unwritten and unsynced data show as 0xDB. */
		memset(inner(b), POISON_BYTE, obj->size);
		if (!(attrs & DMA_ATTR_SKIP_CPU_SYNC))
			fill_phys(obj->phys, POISON_BYTE, obj->size);
	} else if (!(attrs & DMA_ATTR_SKIP_CPU_SYNC)) {
		copy_phys(obj->phys, inner(b), obj->size, false);
	} else {
		memset(inner(b), POISON_BYTE, obj->size);
	}
	if (b->slot && !slot_map(ctx, b))
		return -ENOMEM;
	b->csum = csum_phys(obj->phys, obj->size);
	obj->dma = b->dma + b->front;
	obj->key = obj->dma;
	obj->bounce = b;
	obj->flags |= DV_OBJ_BOUNCED | DV_OBJ_CHECKSUMMED;
	return 0;
}

static void check_csum(struct dmaverify_dev *ctx, const struct dmaverify_obj *obj,
		       struct dmaverify_bounce *b, phys_addr_t phys)
{
	enum dmaverify_violation v = obj->dir == DMA_TO_DEVICE ?
				     DV_STALE_TO_DEVICE : DV_CPU_WRITE_LOST;

	static const char * const why[] = {
		[DMA_TO_DEVICE] =
			"without dma_sync_*_for_device(): the device may have sent stale data",
		[DMA_FROM_DEVICE] = "while the device owned it: the write is lost at unmap",
	};

	if (csum_phys(phys, b->size) != b->csum && dmaverify_check_on(v))
		dmaverify_violation(ctx, v, obj, obj->dma, b->size, obj->dir,
				    "the CPU changed the %zu-byte buffer %s", b->size,
				    why[obj->dir]);
}

/**
 * dmaverify_bounce_unmap() - the driver unmaps a bounced mapping
 * @ctx: device context
 * @obj: the object, removed from the tracker
 * @attrs: the unmap's attributes
 */
void dmaverify_bounce_unmap(struct dmaverify_dev *ctx, struct dmaverify_obj *obj,
			    unsigned long attrs)
{
	struct dmaverify_bounce *b = obj->bounce;
	size_t at;

	/* A sync racing with this unmap finishes first, or does nothing. */
	bounce_kill(b);
	slot_for_cpu(b);
	check_redzones(ctx, obj, b->cpu, inner(b), b->size,
		       (u8 *)b->cpu + b->total, "unmap");
	if (device_wrote(obj, b, &at))
		report_device_wrote(ctx, obj, b->size, at, "unmap");
	if (obj->dir != DMA_BIDIRECTIONAL)
		check_csum(ctx, obj, b, obj->phys);
	if (obj->dir != DMA_TO_DEVICE && !(attrs & DMA_ATTR_SKIP_CPU_SYNC))
		copy_phys(obj->phys, inner(b), b->size, true);
	quarantine(ctx, b, obj);
	obj->bounce = NULL;
}

/**
 * dmaverify_bounce_sync() - a sync of (part of) a bounced mapping
 * @ctx: device context
 * @obj: copy of the object, found by the caller inside its RCU read-side
 *	section, which it has not left
 * @addr: DMA address of the sync
 * @size: bytes
 * @for_cpu: sync for the CPU (else for the device)
 *
 * Return: false if the mapping was unmapped meanwhile (by a racing call of
 * the driver): nothing was copied.
 */
bool dmaverify_bounce_sync(struct dmaverify_dev *ctx,
			   const struct dmaverify_obj *obj, dma_addr_t addr,
			   size_t size, bool for_cpu)
{
	struct dmaverify_bounce *b = obj->bounce;
	size_t off = addr - obj->dma;
	struct redzone_finding f[2];
	unsigned long flags;
	bool wrote = false;
	size_t at = 0;
	int i, n;

	if (off >= b->size)
		return true;
	size = min(size, b->size - off);
	/*
	 * Under the buffer's lock: the unmap cannot copy back or release the
	 * buffer meanwhile, and two syncs of one mapping (different parts,
	 * from two CPUs) do not mix their copies and checksums.
	 */
	raw_spin_lock_irqsave(&b->lock, flags);
	if (b->dead) {
		raw_spin_unlock_irqrestore(&b->lock, flags);
		return false;
	}
	slot_for_cpu(b);
	n = inspect_redzones(b->cpu, inner(b), b->size, (u8 *)b->cpu + b->total,
			     for_cpu ? "sync for CPU" : "sync for device", f);
	if (!for_cpu)
		wrote = device_wrote(obj, b, &at);
	if (for_cpu && obj->dir != DMA_TO_DEVICE)
		copy_phys(obj->phys + off, inner(b) + off, size, true);
	else if (!for_cpu && obj->dir != DMA_FROM_DEVICE)
		copy_phys(obj->phys + off, inner(b) + off, size, false);
	/* The driver's buffer may legitimately change around a sync. */
	b->csum = csum_phys(obj->phys, b->size);
	slot_for_device(b);
	raw_spin_unlock_irqrestore(&b->lock, flags);
	for (i = 0; i < n; i++)
		report_redzone(ctx, obj, false, &f[i]);
	if (wrote)
		report_device_wrote(ctx, obj, b->size, at, "sync for device");
	return true;
}

/* === S/G lists: a bounce buffer per segment === */

int dmaverify_bounce_map_sg(struct dmaverify_dev *ctx, struct dmaverify_obj *obj,
			    struct scatterlist *sgl, int nents, unsigned long attrs)
{
	struct dmaverify_bounce_sg *bsg;
	struct scatterlist *s;
	unsigned int nth;
	int i;

	nth = dmaverify_nth_hold();
	bsg = kzalloc(struct_size(bsg, segs, nents), GFP_ATOMIC | __GFP_NOWARN);
	dmaverify_nth_restore(nth);
	if (!bsg)
		return -ENOMEM;
	for_each_sg(sgl, s, nents, i) {
		struct dmaverify_obj seg = { .phys = sg_phys(s), .size = s->length,
					     .dir = obj->dir,
					     .flags = obj->flags & DV_OBJ_SAMPLED };

		if (dmaverify_bounce_map(ctx, &seg, attrs))
			goto undo;
		bsg->segs[i] = seg.bounce;
		sg_dma_address(s) = seg.dma;
		sg_dma_len(s) = s->length;
	}
	obj->bounce = bsg;
	obj->flags |= DV_OBJ_BOUNCED;
	obj->dma = sg_dma_address(sgl);
	return 0;
undo:
	while (--i >= 0)
		bounce_free(bsg->segs[i]);
	kfree(bsg);
	return -ENOMEM;
}

void dmaverify_bounce_unmap_sg(struct dmaverify_dev *ctx,
			       struct dmaverify_obj *obj,
			       struct scatterlist *sgl, unsigned long attrs)
{
	struct dmaverify_bounce_sg *bsg = obj->bounce;
	struct scatterlist *s;
	int i;

	for_each_sg(sgl, s, obj->nents, i) {
		struct dmaverify_bounce *b = bsg->segs[i];
		struct dmaverify_obj seg = *obj;

		seg.kind = DV_KIND_SG;
		seg.phys = sg_phys(s);
		seg.dma = b->dma + b->front;
		seg.size = b->size;
		seg.bounce = b;
		dmaverify_bounce_unmap(ctx, &seg, attrs);
	}
	/* A racing sync may still be walking it. */
	kfree_rcu(bsg, rcu);
	obj->bounce = NULL;
}

/*
 * Return: false if the list was unmapped meanwhile (some segments may have
 * been synced before).
 */
bool dmaverify_bounce_sync_sg(struct dmaverify_dev *ctx,
			      const struct dmaverify_obj *obj,
			      struct scatterlist *sgl, bool for_cpu)
{
	struct dmaverify_bounce_sg *bsg = obj->bounce;
	struct scatterlist *s;
	int i;

	for_each_sg(sgl, s, obj->nents, i) {
		struct dmaverify_bounce *b = bsg->segs[i];
		struct dmaverify_obj seg = *obj;

		seg.phys = sg_phys(s);
		seg.dma = b->dma + b->front;
		seg.size = b->size;
		seg.bounce = b;
		if (!dmaverify_bounce_sync(ctx, &seg, seg.dma, seg.size, for_cpu))
			return false;
	}
	return true;
}

/* === Coherent buffers === */

/* Alignment the DMA API promises: the smallest page order covering size. */
static size_t coherent_align(size_t size)
{
	return PAGE_SIZE << get_order(size);
}

/**
 * dmaverify_redzone_alloc() - allocate a coherent buffer with redzones
 * @ctx: device context
 * @obj: the new object (size set); receives dma, phys (CPU address), bounce
 * @gfp: allocation flags
 * @attrs: the allocation's attributes
 *
 * Return: the CPU address for the driver, or NULL: the caller allocates
 * without redzones.
 */
void *dmaverify_redzone_alloc(struct dmaverify_dev *ctx,
			      struct dmaverify_obj *obj, gfp_t gfp,
			      unsigned long attrs)
{
	size_t size = obj->size, front = coherent_align(size);
	size_t total = front + PAGE_ALIGN(size) + PAGE_SIZE;
	dma_addr_t dma;
	u8 *cpu;

	if (!READ_ONCE(dmaverify_redzone) || size > REDZONE_MAX ||
	    (attrs & DMA_ATTR_NO_KERNEL_MAPPING))
		return NULL;
	cpu = dma_alloc_attrs(ctx->twin, total, &dma, gfp | __GFP_NOWARN, attrs);
	if (!cpu)
		return NULL;
	/*
	 * A remapped (vmalloc) buffer is mmap()ed and exported page by page
	 * from its start: give it back and allocate the plain way.
	 */
	if (is_vmalloc_addr(cpu)) {
		dma_free_attrs(ctx->twin, total, cpu, dma, attrs);
		return NULL;
	}
	memset(cpu, REDZONE_BYTE, front);
	memset(cpu + front + size, REDZONE_BYTE, total - front - size);
	obj->bounce = cpu;
	obj->dma = dma + front;
	obj->key = obj->dma;
	obj->phys = (unsigned long)(cpu + front);
	obj->flags |= DV_OBJ_REDZONED;
	return cpu + front;
}

static void redzone_geometry(const struct dmaverify_obj *obj, u8 **start,
			     u8 **buf, u8 **end)
{
	size_t front = coherent_align(obj->size);

	*start = obj->bounce;
	*buf = *start + front;
	*end = *buf + PAGE_ALIGN(obj->size) + PAGE_SIZE;
}

/**
 * dmaverify_redzone_free() - check and free a redzoned coherent buffer
 * @ctx: device context
 * @obj: the object, removed from the tracker
 * @attrs: the free's attributes
 */
void dmaverify_redzone_free(struct dmaverify_dev *ctx,
			    const struct dmaverify_obj *obj, unsigned long attrs)
{
	size_t front = coherent_align(obj->size);
	u8 *start, *buf, *end;

	redzone_geometry(obj, &start, &buf, &end);
	check_redzones(ctx, obj, start, buf, obj->size, end, "free");
	dma_free_attrs(ctx->twin, end - start, start, obj->dma - front, attrs);
}

/* === Reclaim === */

static void reclaim_obj(const struct dmaverify_obj *copy, void *arg)
{
	struct dmaverify_dev *ctx = arg;
	struct dmaverify_obj *obj;

	if (!(copy->flags & (DV_OBJ_BOUNCED | DV_OBJ_REDZONED)))
		return;
	obj = dmaverify_untrack(&ctx->tracker, dmaverify_obj_key(copy),
				copy->kind == DV_KIND_SG, NULL, NULL);
	if (!obj)
		return;
	if (obj->flags & DV_OBJ_REDZONED) {
		u8 *start, *buf, *end;
		size_t front = coherent_align(obj->size);

		redzone_geometry(obj, &start, &buf, &end);
		dma_free_attrs(ctx->twin, end - start, start, obj->dma - front, 0);
	} else if (obj->kind == DV_KIND_SG) {
		struct dmaverify_bounce_sg *bsg = obj->bounce;
		int i;

		for (i = 0; i < obj->nents; i++) {
			bounce_kill(bsg->segs[i]);
			bounce_free(bsg->segs[i]);
		}
		kfree_rcu(bsg, rcu);
	} else {
		bounce_kill(obj->bounce);
		bounce_free(obj->bounce);
	}
	if (obj->flags & DV_OBJ_BOUNCED)
		atomic_long_dec(&ctx->bounced);
	if (obj->flags & DV_OBJ_SAMPLED)
		atomic_long_dec(&ctx->sample_live);
	dmaverify_stats_sub(ctx, obj->kind, obj->size);
	dmaverify_obj_free(obj);
	module_put(THIS_MODULE);
}

/**
 * dmaverify_reclaim() - free what dmaverify owns of a released driver's leaks
 * @ctx: a device whose driver is gone (after the leak check)
 *
 * Leaked bounced mappings and redzoned buffers are dmaverify's memory, and
 * each holds a reference on the module: free them now, or they would pin
 * dmaverify forever.  The quarantine is checked and emptied too.
 */
void dmaverify_reclaim(struct dmaverify_dev *ctx)
{
	dmaverify_tracker_for_each(&ctx->tracker, reclaim_obj, ctx);
	dmaverify_quarantine_flush(ctx);
	flush_work(&free_work);
}

/* === Scans === */

/*
 * A scan looks at the redzones of live coherent buffers, which their driver
 * may free at any moment: under the tracker's lock, so that the memory is
 * still the buffer's.  Findings are reported after the walk; more than fit
 * here are found again by the next scan.
 */
struct scan_state {
	unsigned int n;
	struct {
		struct dmaverify_obj obj;
		struct redzone_finding f;
	} found[8];
};

static void scan_obj(const struct dmaverify_obj *obj, void *arg)
{
	struct scan_state *st = arg;
	struct redzone_finding f[2];
	u8 *start, *buf, *end;
	int i, n;

	if (!(obj->flags & DV_OBJ_REDZONED))
		return;
	redzone_geometry(obj, &start, &buf, &end);
	n = inspect_redzones(start, buf, obj->size, end, "scan", f);
	for (i = 0; i < n && st->n < ARRAY_SIZE(st->found); i++, st->n++) {
		st->found[st->n].obj = *obj;
		st->found[st->n].obj.next = NULL;
		st->found[st->n].f = f[i];
	}
}

/**
 * dmaverify_scan_dev() - check a device's redzones and quarantine now
 * @ctx: device context
 *
 * Context: process context.  Bounce buffers of live mappings are not
 * scanned (the device may be writing them); they are checked at each sync.
 */
void dmaverify_scan_dev(struct dmaverify_dev *ctx)
{
	struct dmaverify_bounce *b;
	struct scan_state *st;
	unsigned long flags;
	unsigned int i;
	LIST_HEAD(list);

	st = kzalloc(sizeof(*st), GFP_KERNEL);
	if (st) {
		dmaverify_tracker_walk_locked(&ctx->tracker, scan_obj, st);
		for (i = 0; i < st->n; i++)
			report_redzone(ctx, &st->found[i].obj, true, &st->found[i].f);
		kfree(st);
	}
	raw_spin_lock_irqsave(&ctx->quarantine_lock, flags);
	list_splice_init(&ctx->quarantine, &list);
	raw_spin_unlock_irqrestore(&ctx->quarantine_lock, flags);
	list_for_each_entry(b, &list, node)
		check_quarantined(ctx, b);
	raw_spin_lock_irqsave(&ctx->quarantine_lock, flags);
	list_splice(&list, &ctx->quarantine);
	raw_spin_unlock_irqrestore(&ctx->quarantine_lock, flags);
}

/**
 * dmaverify_quarantine_flush() - check and free every quarantined buffer
 * @ctx: device context, being released or retired
 */
void dmaverify_quarantine_flush(struct dmaverify_dev *ctx)
{
	struct dmaverify_bounce *b, *tmp;
	unsigned long flags;
	LIST_HEAD(list);

	raw_spin_lock_irqsave(&ctx->quarantine_lock, flags);
	list_splice_init(&ctx->quarantine, &list);
	ctx->nr_quarantined = 0;
	WRITE_ONCE(ctx->quarantine_filter, 0);
	raw_spin_unlock_irqrestore(&ctx->quarantine_lock, flags);
	list_for_each_entry_safe(b, tmp, &list, node) {
		list_del(&b->node);
		check_quarantined(ctx, b);
		bounce_free(b);
	}
}

/**
 * dmaverify_scan_all() - check every redzone of every verified device now
 */
void dmaverify_scan_all(void)
{
	struct dmaverify_dev *ctx;

	mutex_lock(&dmaverify_devices_lock);
	list_for_each_entry(ctx, &dmaverify_devices, list)
		dmaverify_scan_dev(ctx);
	mutex_unlock(&dmaverify_devices_lock);
}
EXPORT_SYMBOL_FOR_DV_TESTS(dmaverify_scan_all);

static void scan_work_fn(struct work_struct *work);
static DECLARE_DELAYED_WORK(scan_work, scan_work_fn);

static void scan_work_fn(struct work_struct *work)
{
	unsigned int ms = READ_ONCE(scan_interval_ms);

	if (ms) {
		dmaverify_scan_all();
		schedule_delayed_work(&scan_work, msecs_to_jiffies(ms));
	} else {
		schedule_delayed_work(&scan_work, HZ);	/* Look again later. */
	}
}

void dmaverify_redzone_init(void)
{
	schedule_delayed_work(&scan_work, HZ);
}

void dmaverify_redzone_exit(void)
{
	cancel_delayed_work_sync(&scan_work);
	flush_work(&free_work);
	dmaverify_pool_destroy();
}
