// SPDX-License-Identifier: GPL-2.0
/*
 * dmaverify: a pool of guarded slots, preallocated, for sampled mappings.
 *
 * A slot is DV_SLOT_SIZE bytes of contiguous, directly mapped memory with a
 * preallocated header of the size its user asked for at init (redzone.c
 * keeps its bounce descriptor there): taking a slot allocates nothing, and
 * can be done from any context.  The pool is allocated when sampling is
 * first asked for (at load, or when sample_interval is set), and resized
 * from process context only (the sample_slots parameter): a slot in use
 * when the pool shrinks is freed when it comes back.
 *
 * The pool knows nothing of devices: its user maps a slot through the
 * device's original DMA path (its twin) when it takes it, so that masks and
 * IOMMUs hold, and unmaps it before giving it back.
 */

#define pr_fmt(fmt) "dmaverify: " fmt

#include <linux/gfp.h>
#include <linux/list.h>
#include <linux/mm.h>
#include <linux/moduleparam.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/spinlock.h>

#include "dmaverify.h"

static unsigned int pool_target = 64;

static DEFINE_MUTEX(pool_mutex);	/* Serialises resizes. */
static DEFINE_RAW_SPINLOCK(pool_lock);	/* Guards the lists and counts. */
static LIST_HEAD(pool_free);		/* Slots ready to be taken. */
static unsigned int pool_total;		/* Slots allocated (free or in use). */
static unsigned int pool_nr_free;	/* Slots on pool_free. */
static size_t pool_meta_size;		/* Header bytes per slot (0: no pool yet). */
static atomic_long_t pool_taken;	/* Slots handed out, ever. */
static atomic_long_t pool_empty;	/* Takes that found no free slot. */

static struct dmaverify_slot *slot_new(void)
{
	struct dmaverify_slot *slot;
	struct page *page;

	slot = kzalloc(sizeof(*slot) + pool_meta_size, GFP_KERNEL);
	if (!slot)
		return NULL;
	page = alloc_pages(GFP_KERNEL | __GFP_NOWARN, DV_SLOT_ORDER);
	if (!page) {
		kfree(slot);
		return NULL;
	}
	slot->cpu = page_address(page);
	return slot;
}

static void slot_delete(struct dmaverify_slot *slot)
{
	free_pages((unsigned long)slot->cpu, DV_SLOT_ORDER);
	kfree(slot);
}

/* Grow or shrink towards pool_target.  Context: process, pool_mutex held. */
static void pool_resize(void)
{
	struct dmaverify_slot *slot;
	unsigned long flags;
	LIST_HEAD(gone);

	for (;;) {
		unsigned int target = READ_ONCE(pool_target);
		bool more;

		raw_spin_lock_irqsave(&pool_lock, flags);
		more = pool_total < target;
		if (!more && pool_total > target && pool_nr_free) {
			slot = list_first_entry(&pool_free, struct dmaverify_slot, node);
			list_move(&slot->node, &gone);
			pool_nr_free--;
			pool_total--;
			raw_spin_unlock_irqrestore(&pool_lock, flags);
			continue;
		}
		raw_spin_unlock_irqrestore(&pool_lock, flags);
		if (!more)
			break;
		slot = slot_new();
		if (!slot) {
			pr_warn("sample pool: only %u of %u slots (out of memory)\n",
				pool_total, target);
			break;
		}
		raw_spin_lock_irqsave(&pool_lock, flags);
		list_add(&slot->node, &pool_free);
		pool_nr_free++;
		pool_total++;
		raw_spin_unlock_irqrestore(&pool_lock, flags);
	}
	while (!list_empty(&gone)) {
		slot = list_first_entry(&gone, struct dmaverify_slot, node);
		list_del(&slot->node);
		slot_delete(slot);
	}
}

/**
 * dmaverify_pool_get() - take a free slot
 *
 * Context: any (no allocation, a raw spinlock with interrupts off).
 * Return: a slot, its header zeroed, or NULL (none free; counted).
 */
struct dmaverify_slot *dmaverify_pool_get(void)
{
	struct dmaverify_slot *slot = NULL;
	unsigned long flags;

	raw_spin_lock_irqsave(&pool_lock, flags);
	if (pool_nr_free) {
		slot = list_first_entry(&pool_free, struct dmaverify_slot, node);
		list_del(&slot->node);
		pool_nr_free--;
	}
	raw_spin_unlock_irqrestore(&pool_lock, flags);
	if (!slot) {
		atomic_long_inc(&pool_empty);
		return NULL;
	}
	atomic_long_inc(&pool_taken);
	memset(slot->meta, 0, pool_meta_size);
	return slot;
}

/**
 * dmaverify_pool_put() - give a slot back (unmapped by its user)
 * @slot: from dmaverify_pool_get()
 *
 * Context: any (a slot beyond a shrunk pool's size is freed here).
 */
void dmaverify_pool_put(struct dmaverify_slot *slot)
{
	unsigned long flags;
	bool extra;

	raw_spin_lock_irqsave(&pool_lock, flags);
	extra = pool_total > READ_ONCE(pool_target);
	if (extra) {
		pool_total--;
	} else {
		/* At the tail: the slot freed last is taken last (a quarantine). */
		list_add_tail(&slot->node, &pool_free);
		pool_nr_free++;
	}
	raw_spin_unlock_irqrestore(&pool_lock, flags);
	if (extra)
		slot_delete(slot);
}

/**
 * dmaverify_pool_setup() - allocate the pool, once, at its configured size
 * @meta_size: bytes of the header each slot carries for its user
 *
 * Context: process.  Called again, it only resizes to the configured size.
 */
void dmaverify_pool_setup(size_t meta_size)
{
	mutex_lock(&pool_mutex);
	if (!pool_meta_size)
		pool_meta_size = meta_size;
	pool_resize();
	mutex_unlock(&pool_mutex);
}

/**
 * dmaverify_pool_destroy() - free the pool at unload
 *
 * Every slot has come back by then: each in use holds a module reference
 * (through the object it backs), and released ones are given back by the
 * worker that redzone.c flushes before this.
 */
void dmaverify_pool_destroy(void)
{
	struct dmaverify_slot *slot, *tmp;
	unsigned long flags;
	LIST_HEAD(list);

	raw_spin_lock_irqsave(&pool_lock, flags);
	list_splice_init(&pool_free, &list);
	WARN_ON(pool_total != pool_nr_free);
	pool_total = 0;
	pool_nr_free = 0;
	raw_spin_unlock_irqrestore(&pool_lock, flags);
	list_for_each_entry_safe(slot, tmp, &list, node)
		slot_delete(slot);
}

/**
 * dmaverify_pool_slots() - the pool's configured size
 *
 * Return: sample_slots.
 */
unsigned int dmaverify_pool_slots(void)
{
	return READ_ONCE(pool_target);
}

/**
 * dmaverify_pool_show() - the pool's state, for debugfs stats
 * @seq: output
 */
void dmaverify_pool_show(struct seq_file *seq)
{
	unsigned int total, nr_free;
	unsigned long flags;

	raw_spin_lock_irqsave(&pool_lock, flags);
	total = pool_total;
	nr_free = pool_nr_free;
	raw_spin_unlock_irqrestore(&pool_lock, flags);
	seq_printf(seq, "sample pool: slots %u (target %u) free %u in use %u slot %lu bytes memory %lu KiB taken %ld empty %ld\n",
		   total, READ_ONCE(pool_target), nr_free, total - nr_free,
		   DV_SLOT_SIZE, total * (DV_SLOT_SIZE + sizeof(struct dmaverify_slot) +
					  pool_meta_size) / 1024,
		   atomic_long_read(&pool_taken), atomic_long_read(&pool_empty));
}

/* sample_slots: the pool's size; resized at once if the pool exists. */
static int slots_set(const char *val, const struct kernel_param *kp)
{
	unsigned int n;
	int ret = kstrtouint(val, 0, &n);

	if (ret)
		return ret;
	if (n > 65536)
		return -ERANGE;
	WRITE_ONCE(pool_target, n);
	mutex_lock(&pool_mutex);
	if (pool_meta_size)
		pool_resize();
	mutex_unlock(&pool_mutex);
	return 0;
}

static const struct kernel_param_ops slots_ops = {
	.set = slots_set,
	.get = param_get_uint,
};

module_param_cb(sample_slots, &slots_ops, &pool_target, 0644);
MODULE_PARM_DESC(sample_slots, "Guarded slots (16 KiB each) preallocated for sample_interval; resizable at run time (default 64: 1 MiB)");
