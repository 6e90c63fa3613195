// SPDX-License-Identifier: GPL-2.0
/*
 * dmaverify: the per-device tracker of outstanding DMA objects.
 *
 * Two hash indexes per device, both with striped raw spinlocks:
 *  - by key: the DMA address of a coherent buffer or streaming mapping, or
 *    the scatterlist pointer of an S/G list (a release always names one);
 *  - by physical page of the CPU buffer, for streaming maps only, to find
 *    overlapping mappings.
 * An object is hashed by the page of its start.  Exact lookups are O(1);
 * finding the object that contains an address (a partial sync) walks back
 * over the buckets of at most max_pages pages, the page span of the largest
 * object; finding an overlap does the same in the physical index with
 * max_phys_pages.  A walk longer than the table visits each bucket once.
 */

#define pr_fmt(fmt) "dmaverify: " fmt

#include <linux/hash.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>
#include <linux/fault-inject.h>

#include "dmaverify.h"

/*
 * Objects without a tail (single maps, coherent buffers: the hot path) and
 * with one (S/G lists, objects dmaverify owns the memory of); see struct
 * dmaverify_obj.
 */
static struct kmem_cache *obj_cache, *tail_cache;

static inline unsigned int key_hash(const struct dmaverify_tracker *t,
				    unsigned long key, bool sg)
{
	/* S/G lists are keyed by pointer, not by page: mix in a tag. */
	if (sg)
		return hash_long(key ^ 0x5a5a5a5aUL, t->bits);
	return hash_long(key >> PAGE_SHIFT, t->bits);
}

static inline raw_spinlock_t *key_lock(struct dmaverify_tracker *t,
				       unsigned int b)
{
	return &t->key_locks[b & (DV_LOCKS - 1)];
}

static inline raw_spinlock_t *phys_lock(struct dmaverify_tracker *t,
					unsigned int b)
{
	return &t->phys_locks[b & (DV_LOCKS - 1)];
}

/*
 * Type-safe: double-free reports read released entries locklessly.  Such a
 * cache keeps the allocator's free pointer outside the object, unless told
 * where in it the pointer may go: in @next, which no lockless reader needs
 * (without that, 8 more bytes per object).
 */
static struct kmem_cache *obj_cache_create(const char *name, size_t size)
{
#ifdef DMAVERIFY_HAVE_SLAB_FREEPTR
	struct kmem_cache_args args = {
		.align = __alignof__(struct dmaverify_obj),
		.freeptr_offset = offsetof(struct dmaverify_obj, next),
		.use_freeptr_offset = true,
	};

	return kmem_cache_create(name, size, &args, SLAB_TYPESAFE_BY_RCU);
#else
	return kmem_cache_create(name, size, __alignof__(struct dmaverify_obj),
				 SLAB_TYPESAFE_BY_RCU, NULL);
#endif
}

int dmaverify_tracker_cache_init(void)
{
	obj_cache = obj_cache_create("dmaverify_obj", DV_OBJ_HEAD);
	tail_cache = obj_cache_create("dmaverify_obj_tail",
				      sizeof(struct dmaverify_obj));
	if (!obj_cache || !tail_cache) {
		kmem_cache_destroy(obj_cache);
		kmem_cache_destroy(tail_cache);
		return -ENOMEM;
	}
	return 0;
}

void dmaverify_tracker_cache_exit(void)
{
	kmem_cache_destroy(obj_cache);
	kmem_cache_destroy(tail_cache);
}

#ifdef CONFIG_FAULT_INJECTION
/* debugfs dmaverify/fail_track: fail tracker entry allocations. */
DECLARE_FAULT_ATTR(dmaverify_fail_track);
#endif

static bool alloc_fails(void)
{
	if (unlikely(atomic_read(&dmaverify_test_fail_allocs)) &&
	    atomic_add_unless(&dmaverify_test_fail_allocs, -1, 0))
		return true;
#ifdef CONFIG_FAULT_INJECTION
	if (dmaverify_should_fail(&dmaverify_fail_track, 1, false))
		return true;
#endif
	return false;
}

static struct dmaverify_obj *obj_cache_alloc(bool tail)
{
	struct dmaverify_obj *obj;

	obj = kmem_cache_alloc(tail ? tail_cache : obj_cache,
			       GFP_NOWAIT | __GFP_NOWARN);
	/* The same value every time this memory is allocated: see @tail. */
	if (obj)
		obj->tail = tail;
	return obj;
}

/**
 * dmaverify_obj_take() - a tracker entry, not cleared, from any context
 * @pcpu: a device's per-CPU state, whose spare entry is reused if there is
 *	one (and has a tail if @tail); or NULL, to allocate
 * @tail: the object needs the tail fields (S/G lists, bounce buffers)
 *
 * Return: the entry, or NULL (the caller counts the object untracked).
 */
struct dmaverify_obj *dmaverify_obj_take(struct dmaverify_pcpu __percpu *pcpu,
					 bool tail)
{
	struct dmaverify_obj *obj = NULL;

	if (alloc_fails())
		return NULL;
	if (pcpu)
		obj = this_cpu_xchg(pcpu->spare, NULL);
	if (obj && tail && !obj->tail) {
		/* Too small: keep it for the next single map. */
		if (this_cpu_cmpxchg(pcpu->spare, NULL, obj))
			dmaverify_obj_free(obj);
		obj = NULL;
	}
	return obj ?: obj_cache_alloc(tail);
}

/**
 * dmaverify_obj_clear() - zero an entry, keeping what its memory is
 * @obj: from dmaverify_obj_take()
 */
void dmaverify_obj_clear(struct dmaverify_obj *obj)
{
	bool tail = obj->tail;

	memset(obj, 0, offsetof(struct dmaverify_obj, tail));
	if (tail)
		memset((char *)obj + DV_OBJ_HEAD, 0, sizeof(*obj) - DV_OBJ_HEAD);
}

/**
 * dmaverify_obj_alloc() - allocate a tracker entry, from any context
 *
 * Return: a zeroed entry with the tail fields (for S/G lists, bounce
 * buffers and redzones), or NULL (the caller counts the object untracked).
 */
struct dmaverify_obj *dmaverify_obj_alloc(void)
{
	struct dmaverify_obj *obj = dmaverify_obj_take(NULL, true);

	if (obj)
		dmaverify_obj_clear(obj);
	return obj;
}
EXPORT_SYMBOL_FOR_DV_TESTS(dmaverify_obj_alloc);

/* KUnit: the next N entry allocations fail. */
atomic_t dmaverify_test_fail_allocs = ATOMIC_INIT(0);
EXPORT_SYMBOL_FOR_DV_TESTS(dmaverify_test_fail_allocs);

void dmaverify_obj_free(struct dmaverify_obj *obj)
{
	kmem_cache_free(obj->tail ? tail_cache : obj_cache, obj);
}
EXPORT_SYMBOL_FOR_DV_TESTS(dmaverify_obj_free);

int dmaverify_tracker_init(struct dmaverify_tracker *t, unsigned int bits)
{
	size_t n = 1UL << bits;
	int i;

	t->bits = bits;
	t->keys = kvcalloc(n, sizeof(*t->keys), GFP_KERNEL);
	t->phys = kvcalloc(n, sizeof(*t->phys), GFP_KERNEL);
	if (!t->keys || !t->phys) {
		kvfree(t->keys);
		kvfree(t->phys);
		return -ENOMEM;
	}
	for (i = 0; i < DV_LOCKS; i++) {
		raw_spin_lock_init(&t->key_locks[i]);
		raw_spin_lock_init(&t->phys_locks[i]);
	}
	t->max_pages = 1;
	t->max_phys_pages = 1;
	t->used = false;
	if (percpu_counter_init(&t->count, 0, GFP_KERNEL)) {
		kvfree(t->keys);
		kvfree(t->phys);
		return -ENOMEM;
	}
	return 0;
}
EXPORT_SYMBOL_FOR_DV_TESTS(dmaverify_tracker_init);

/* Precondition: nothing can reach @t any more. */
void dmaverify_tracker_destroy(struct dmaverify_tracker *t)
{
	size_t b, nb = 1UL << t->bits;
	struct dmaverify_obj *obj, *next;

	for (b = 0; t->keys && b < nb; b++) {
		for (obj = t->keys[b]; obj; obj = next) {
			next = obj->next;
			dmaverify_obj_free(obj);
		}
	}
	percpu_counter_destroy(&t->count);
	kvfree(t->keys);
	kvfree(t->phys);
	t->keys = NULL;
	t->phys = NULL;
}
EXPORT_SYMBOL_FOR_DV_TESTS(dmaverify_tracker_destroy);

/**
 * dmaverify_tracker_count() - how many objects @t holds
 * @t: a device's tracker
 *
 * Return: the exact count (a sum over every CPU: not for hot paths).
 */
long dmaverify_tracker_count(struct dmaverify_tracker *t)
{
	return percpu_counter_sum(&t->count);
}
EXPORT_SYMBOL_FOR_DV_TESTS(dmaverify_tracker_count);

static unsigned long span(u64 start, size_t size)
{
	return ((start + max_t(size_t, size, 1) - 1) >> PAGE_SHIFT) -
	       (start >> PAGE_SHIFT) + 1;
}

/*
 * Raise *@max to @pages if it is smaller.  A plain check-then-store could
 * overwrite a larger value stored meanwhile by another CPU: then a lookup
 * would stop short of a live object, and a sync of it would be reported as
 * a sync of an unmapped address and dropped.
 */
static void grow_max(unsigned long *max, unsigned long pages)
{
	unsigned long old = READ_ONCE(*max);

	while (pages > old) {
		unsigned long seen = cmpxchg(max, old, pages);

		if (seen == old)
			break;
		old = seen;
	}
}

/**
 * dmaverify_track() - add an object to the tracker
 * @t: the device's tracker
 * @obj: filled-in entry; DV_OBJ_PHYS_INDEXED in @obj->flags also indexes it
 *	by physical address
 */
void dmaverify_track(struct dmaverify_tracker *t, struct dmaverify_obj *obj)
{
	unsigned int b = key_hash(t, dmaverify_obj_key(obj),
				  dmaverify_obj_is_sg(obj));
	unsigned long flags;

	raw_spin_lock_irqsave(key_lock(t, b), flags);
	obj->next = t->keys[b];
	WRITE_ONCE(t->keys[b], obj);	/* See bucket_empty(). */
	if (obj->flags & DV_OBJ_PHYS_INDEXED) {
		unsigned int pb = hash_long(obj->phys >> PAGE_SHIFT, t->bits);

		raw_spin_lock(phys_lock(t, pb));
		obj->pnext = t->phys[pb];
		WRITE_ONCE(t->phys[pb], obj);
		raw_spin_unlock(phys_lock(t, pb));
	}
	raw_spin_unlock_irqrestore(key_lock(t, b), flags);

	/* S/G lists are found by their exact key only. */
	if (!dmaverify_obj_is_sg(obj))
		grow_max(&t->max_pages, span(obj->dma, obj->size));
	if (obj->flags & DV_OBJ_PHYS_INDEXED)
		grow_max(&t->max_phys_pages, span(obj->phys, obj->size));
	percpu_counter_add_batch(&t->count, 1, DV_COUNT_BATCH);
	if (unlikely(!READ_ONCE(t->used)))
		WRITE_ONCE(t->used, true);
}
EXPORT_SYMBOL_FOR_DV_TESTS(dmaverify_track);

/**
 * dmaverify_phys_reserve() - announce a map in the physical index
 * @t: the device's tracker
 * @resv: phys, size and dir set; receives DV_OBJ_PHYS_INDEXED and
 *	DV_OBJ_RESERVED; stays in the index until dmaverify_phys_unreserve()
 *
 * A map is checked for overlaps before it is forwarded, and tracked after:
 * two overlapping maps racing on two CPUs could each miss the other.  Each
 * announces its range first, then looks: of the two, at least one sees the
 * other.  Say map B looks at the bucket of A's start page before A is
 * inserted there.  B's insertion, and the growth of max_phys_pages before
 * it, then happen before A's insertion under that bucket's lock, so A's
 * walk, which follows A's insertion, covers B's start and finds B there.
 * (The map that starts first always covers the other's start page.)
 */
void dmaverify_phys_reserve(struct dmaverify_tracker *t,
			    struct dmaverify_obj *resv)
{
	unsigned int pb = hash_long(resv->phys >> PAGE_SHIFT, t->bits);
	unsigned long flags;

	resv->flags |= DV_OBJ_PHYS_INDEXED | DV_OBJ_RESERVED;
	grow_max(&t->max_phys_pages, span(resv->phys, resv->size));
	raw_spin_lock_irqsave(phys_lock(t, pb), flags);
	resv->pnext = t->phys[pb];
	WRITE_ONCE(t->phys[pb], resv);
	raw_spin_unlock_irqrestore(phys_lock(t, pb), flags);
}
EXPORT_SYMBOL_FOR_DV_TESTS(dmaverify_phys_reserve);

/* Precondition: the lock of @obj's physical bucket is held. */
static void unlink_phys_locked(struct dmaverify_tracker *t, unsigned int pb,
			       struct dmaverify_obj *obj)
{
	struct dmaverify_obj **pp;

	for (pp = &t->phys[pb]; *pp; pp = &(*pp)->pnext) {
		if (*pp == obj) {
			WRITE_ONCE(*pp, obj->pnext);
			break;
		}
	}
}

/**
 * dmaverify_phys_unreserve() - withdraw an announcement
 * @t: the device's tracker
 * @resv: as given to dmaverify_phys_reserve()
 *
 * The map was tracked meanwhile (it is in the index itself), or failed.
 */
void dmaverify_phys_unreserve(struct dmaverify_tracker *t,
			      struct dmaverify_obj *resv)
{
	unsigned int pb = hash_long(resv->phys >> PAGE_SHIFT, t->bits);
	unsigned long flags;

	raw_spin_lock_irqsave(phys_lock(t, pb), flags);
	unlink_phys_locked(t, pb, resv);
	raw_spin_unlock_irqrestore(phys_lock(t, pb), flags);
}
EXPORT_SYMBOL_FOR_DV_TESTS(dmaverify_phys_unreserve);

/* Precondition: the key lock of @obj's bucket is held. */
static void unlink_phys(struct dmaverify_tracker *t, struct dmaverify_obj *obj)
{
	unsigned int pb = hash_long(obj->phys >> PAGE_SHIFT, t->bits);

	raw_spin_lock(phys_lock(t, pb));
	unlink_phys_locked(t, pb, obj);
	raw_spin_unlock(phys_lock(t, pb));
}

/*
 * Whether key bucket @b is empty, read without its lock.  A release or a
 * sync names an object its caller got from a map, and the map returned only
 * after inserting the object: the insertion happens before this read.  An
 * empty bucket then means there is no such object, and a device with nothing
 * tracked (verification off, sampled mode between samples) takes no lock.
 */
static __always_inline bool bucket_empty(struct dmaverify_tracker *t,
					 unsigned int b)
{
	return !READ_ONCE(t->keys[b]);
}

/**
 * dmaverify_untrack() - find an object by key and remove it
 * @t: the device's tracker
 * @key: DMA address, or scatterlist pointer when @sg
 * @sg: look for an S/G list
 * @match: optional: among several objects with @key, prefer one it accepts
 * @arg: passed to @match
 *
 * Without IOMMU two mappings of one buffer share a DMA address; @match lets
 * the caller prefer the one whose size and direction fit, like dma-debug's
 * best-fit search, so a correct driver is never blamed for the ambiguity.
 *
 * Return: the object, now owned by the caller, or NULL.
 */
struct dmaverify_obj *dmaverify_untrack(struct dmaverify_tracker *t,
					unsigned long key, bool sg,
					bool (*match)(const struct dmaverify_obj *,
						      const void *),
					const void *arg)
{
	unsigned int b = key_hash(t, key, sg);
	struct dmaverify_obj **pp, **found = NULL, *obj = NULL;
	unsigned long flags;

	if (bucket_empty(t, b))
		return NULL;
	raw_spin_lock_irqsave(key_lock(t, b), flags);
	for (pp = &t->keys[b]; *pp; pp = &(*pp)->next) {
		if (dmaverify_obj_key(*pp) != key ||
		    dmaverify_obj_is_sg(*pp) != sg)
			continue;
		if (!found)
			found = pp;
		if (!match || match(*pp, arg)) {
			found = pp;
			break;
		}
	}
	if (found) {
		obj = *found;
		WRITE_ONCE(*found, obj->next);
		if (obj->flags & DV_OBJ_PHYS_INDEXED)
			unlink_phys(t, obj);
	}
	raw_spin_unlock_irqrestore(key_lock(t, b), flags);
	if (obj)
		percpu_counter_add_batch(&t->count, -1, DV_COUNT_BATCH);
	return obj;
}
EXPORT_SYMBOL_FOR_DV_TESTS(dmaverify_untrack);

/**
 * dmaverify_lookup() - copy the object with an exact key
 * @t: the device's tracker
 * @key: DMA address, or scatterlist pointer when @sg
 * @sg: look for an S/G list
 * @copy: receives a copy (the object may be released by another CPU)
 *
 * Return: true if found.
 */
bool dmaverify_lookup(struct dmaverify_tracker *t, unsigned long key, bool sg,
		      struct dmaverify_obj *copy)
{
	unsigned int b = key_hash(t, key, sg);
	struct dmaverify_obj *obj;
	unsigned long flags;
	bool found = false;

	if (bucket_empty(t, b))
		return false;
	raw_spin_lock_irqsave(key_lock(t, b), flags);
	for (obj = t->keys[b]; obj; obj = obj->next) {
		if (dmaverify_obj_key(obj) == key && dmaverify_obj_is_sg(obj) == sg) {
			dmaverify_obj_copy(copy, obj);
			found = true;
			break;
		}
	}
	raw_spin_unlock_irqrestore(key_lock(t, b), flags);
	return found;
}
EXPORT_SYMBOL_FOR_DV_TESTS(dmaverify_lookup);

/* Copy a non-S/G object of bucket @b whose [dma, dma + size) holds @addr. */
static bool containing_in(struct dmaverify_tracker *t, unsigned int b,
			  dma_addr_t addr, struct dmaverify_obj *copy)
{
	struct dmaverify_obj *obj;
	unsigned long flags;
	bool found = false;

	if (bucket_empty(t, b))
		return false;
	raw_spin_lock_irqsave(key_lock(t, b), flags);
	for (obj = t->keys[b]; obj; obj = obj->next) {
		if (dmaverify_obj_is_sg(obj))
			continue;
		if (addr >= obj->dma && addr - obj->dma < max_t(size_t, obj->size, 1)) {
			dmaverify_obj_copy(copy, obj);
			found = true;
			break;
		}
	}
	raw_spin_unlock_irqrestore(key_lock(t, b), flags);
	return found;
}

/**
 * dmaverify_lookup_containing() - copy the mapping that contains an address
 * @t: the device's tracker
 * @addr: a DMA address
 * @copy: receives a copy
 *
 * Looks at non-S/G objects whose range [dma, dma + size) contains @addr.
 *
 * Return: true if found.
 */
bool dmaverify_lookup_containing(struct dmaverify_tracker *t, dma_addr_t addr,
				 struct dmaverify_obj *copy)
{
	/*
	 * max_pages only grows; reading a stale (smaller) value can only miss
	 * an object created concurrently with this lookup, which the caller
	 * cannot legitimately be syncing yet.
	 */
	unsigned long pages = READ_ONCE(t->max_pages);
	unsigned long page = addr >> PAGE_SHIFT;
	unsigned long lo = page >= pages ? page - pages + 1 : 0, p;
	unsigned long nb = 1UL << t->bits;

	/* Objects starting in [page - max_pages + 1, page] may contain @addr. */
	if (page - lo >= nb) {
		for (p = 0; p < nb; p++)
			if (containing_in(t, p, addr, copy))
				return true;
		return false;
	}
	for (p = page + 1; p-- > lo;)
		if (containing_in(t, hash_long(p, t->bits), addr, copy))
			return true;
	return false;
}
EXPORT_SYMBOL_FOR_DV_TESTS(dmaverify_lookup_containing);

/*
 * Copy an object of physical bucket @pb, other than @self, whose bytes
 * overlap the range.
 */
static bool overlap_in(struct dmaverify_tracker *t, unsigned int pb,
		       phys_addr_t phys, size_t size,
		       const struct dmaverify_obj *self, struct dmaverify_obj *copy)
{
	struct dmaverify_obj *obj;
	unsigned long flags;
	bool found = false;

	/* Empty: no lock (see the barrier in dmaverify_find_overlap()). */
	if (!READ_ONCE(t->phys[pb]))
		return false;
	local_irq_save(flags);
	raw_spin_lock(phys_lock(t, pb));
	for (obj = t->phys[pb]; obj; obj = obj->pnext) {
		if (obj != self && obj->phys < phys + max_t(size_t, size, 1) &&
		    phys < obj->phys + max_t(size_t, obj->size, 1)) {
			dmaverify_obj_copy(copy, obj);
			found = true;
			break;
		}
	}
	raw_spin_unlock(phys_lock(t, pb));
	local_irq_restore(flags);
	return found;
}

/**
 * dmaverify_find_overlap() - find a streaming map overlapping a CPU range
 * @t: the device's tracker
 * @phys: physical start of the range
 * @size: bytes
 * @self: an object to ignore (the caller's own reservation), or NULL
 * @copy: receives a copy of the first overlapping object
 *
 * Only objects indexed by physical address (streaming maps) are seen, and
 * only byte ranges that truly overlap count: two buffers that merely share
 * a cache line (small kmalloc objects) do not.
 *
 * Return: true if found.
 */
bool dmaverify_find_overlap(struct dmaverify_tracker *t, phys_addr_t phys,
			    size_t size, const struct dmaverify_obj *self,
			    struct dmaverify_obj *copy)
{
	unsigned long pages = READ_ONCE(t->max_phys_pages);
	unsigned long first = phys >> PAGE_SHIFT;
	unsigned long last = (phys + max_t(size_t, size, 1) - 1) >> PAGE_SHIFT;
	unsigned long p, lo = first >= pages ? first - pages + 1 : 0;
	unsigned long nb = 1UL << t->bits;

	/*
	 * Empty buckets are skipped without their lock.  Of two maps racing
	 * (see dmaverify_phys_reserve()), each stores its reservation, then
	 * reads the other's bucket: a full barrier between the two, on both
	 * sides, makes at least one of them see the other's reservation.
	 */
	smp_mb();
	/*
	 * Objects starting in [first - max_phys_pages + 1, last] may overlap.
	 * A range of more pages than buckets visits every bucket: the cost is
	 * bounded by the table's size, and no overlap is missed.
	 */
	if (last - lo >= nb) {
		for (p = 0; p < nb; p++)
			if (overlap_in(t, p, phys, size, self, copy))
				return true;
		return false;
	}
	for (p = lo; p <= last; p++)
		if (overlap_in(t, hash_long(p, t->bits), phys, size, self, copy))
			return true;
	return false;
}
EXPORT_SYMBOL_FOR_DV_TESTS(dmaverify_find_overlap);

/**
 * dmaverify_tracker_for_each() - call @fn on a copy of each object
 * @t: the device's tracker
 * @fn: called without locks held
 * @arg: passed to @fn
 *
 * Return: the number of objects visited.
 */
unsigned long dmaverify_tracker_for_each(struct dmaverify_tracker *t,
					 dmaverify_obj_fn fn, void *arg)
{
	unsigned long n = 0, flags;
	size_t b, nb = 1UL << t->bits;

	for (b = 0; t->keys && b < nb; b++) {
		struct dmaverify_obj copy[8];
		struct dmaverify_obj *obj;
		unsigned int i, k, done = 0;

		if (bucket_empty(t, b))	/* Rechecked under the lock below. */
			continue;
		/*
		 * Copy up to 8 objects at a time so that @fn can print or sleep
		 * without holding the lock.  Objects released meanwhile may be
		 * skipped: this is a snapshot, not a consistent cut.
		 */
		do {
			k = 0;
			i = 0;
			raw_spin_lock_irqsave(key_lock(t, b), flags);
			for (obj = t->keys[b]; obj && k < ARRAY_SIZE(copy); obj = obj->next)
				if (i++ >= done)
					dmaverify_obj_copy(&copy[k++], obj);
			raw_spin_unlock_irqrestore(key_lock(t, b), flags);
			for (i = 0; i < k; i++)
				fn(&copy[i], arg);
			done += k;
			n += k;
			cond_resched();
		} while (k == ARRAY_SIZE(copy));
	}
	return n;
}
EXPORT_SYMBOL_FOR_DV_TESTS(dmaverify_tracker_for_each);

/**
 * dmaverify_tracker_walk_locked() - call @fn on each object, in place
 * @t: the device's tracker
 * @fn: called with the object's bucket lock held (a raw spinlock, interrupts
 *	off): it must not sleep, allocate or print
 * @arg: passed to @fn
 *
 * For looking at the memory of an object (its redzones): while the lock is
 * held the object cannot be released, so its buffer cannot be freed and
 * reused under @fn, which a copy (dmaverify_tracker_for_each()) allows.
 *
 * Return: the number of objects visited.
 */
unsigned long dmaverify_tracker_walk_locked(struct dmaverify_tracker *t,
					    dmaverify_obj_fn fn, void *arg)
{
	unsigned long n = 0, flags;
	size_t b, nb = 1UL << t->bits;

	for (b = 0; t->keys && b < nb; b++) {
		struct dmaverify_obj *obj;

		if (bucket_empty(t, b))	/* Rechecked under the lock below. */
			continue;
		raw_spin_lock_irqsave(key_lock(t, b), flags);
		for (obj = t->keys[b]; obj; obj = obj->next, n++)
			fn(obj, arg);
		raw_spin_unlock_irqrestore(key_lock(t, b), flags);
		cond_resched();
	}
	return n;
}
