// SPDX-License-Identifier: GPL-2.0
/*
 * dmaverify: the per-device tracker of outstanding DMA objects.
 *
 * Two hash indexes per device:
 *  - by key: the DMA address of a coherent buffer or streaming mapping, or
 *    the scatterlist pointer of an S/G list (a release always names one);
 *  - by physical page of the CPU buffer, for streaming maps the device may
 *    write, to find overlapping mappings.
 * An object is hashed by the page of its start.  Each index is split in
 * DV_LOCKS stripes, by the top bits of the hash, each with its raw spinlock
 * and its own table of buckets (the next bits of the hash).  A stripe whose
 * objects outnumber DV_STRIPE_LOAD times its buckets is rehashed into a
 * larger table by a work item, under its lock, so that exact lookups stay
 * O(1) from a thousand objects to millions.  Finding the object that
 * contains an address (a partial sync) walks back over the buckets of at
 * most max_pages pages, the page span of the largest object; finding an
 * overlap does the same in the physical index with max_phys_pages.  A walk
 * longer than the initial table visits each bucket once.
 */

#define pr_fmt(fmt) "dmaverify: " fmt

#include <linux/hash.h>
#include <linux/rcupdate.h>
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
	unsigned int nth;

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
	if (obj)
		return obj;
	nth = dmaverify_nth_hold();
	obj = obj_cache_alloc(tail);
	dmaverify_nth_restore(nth);
	return obj;
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

/* === Stripes and their buckets === */

/* What an S/G list is hashed by: its pointer, with a tag mixed in. */
#define SG_TAG	0x5a5a5a5aUL

/* The value hashed for a key: its page, or an S/G list's pointer. */
static inline unsigned long key_x(unsigned long key, bool sg)
{
	return sg ? key ^ SG_TAG : key >> PAGE_SHIFT;
}

static inline unsigned long obj_key_x(const struct dmaverify_obj *obj)
{
	return key_x(dmaverify_obj_key(obj), dmaverify_obj_is_sg(obj));
}

/* The stripe of hashed value @x in index @idx: the hash's top bits. */
static inline struct dmaverify_stripe *stripe_of(struct dmaverify_stripe *idx,
						 unsigned long x)
{
	return &idx[hash_long(x, DV_LOCK_BITS)];
}

/* The bucket of @x in a stripe's table: the hash's next bits. */
static inline struct dmaverify_obj **bucket_of(struct dmaverify_buckets *tbl,
					       unsigned long x)
{
	return &tbl->b[hash_long(x, DV_LOCK_BITS + tbl->bits) &
		       ((1UL << tbl->bits) - 1)];
}

/* A stripe's table, its lock held. */
static inline struct dmaverify_buckets *locked_tbl(struct dmaverify_stripe *s)
{
	return rcu_dereference_protected(s->tbl, lockdep_is_held(&s->lock));
}

static struct dmaverify_buckets *buckets_alloc(unsigned int bits)
{
	struct dmaverify_buckets *tbl;

	tbl = kvzalloc(struct_size(tbl, b, 1UL << bits), GFP_KERNEL);
	if (tbl)
		tbl->bits = bits;
	return tbl;
}

/*
 * Whether the bucket of @x in stripe @s is empty, read without its lock.
 * A release or a sync names an object its caller got from a map, and the
 * map returned only after inserting the object: the insertion happens
 * before this read.  An empty bucket then means there is no such object,
 * and a device with nothing tracked (verification off, sampled mode
 * between samples) takes no lock.  A stripe being grown keeps its old
 * table's heads as they were (see grow_stripe()): a reader that still sees
 * the old table finds an object's bucket non-empty, and the lock then
 * gives it the new one.
 */
static __always_inline bool bucket_empty(struct dmaverify_stripe *s,
					 unsigned long x)
{
	bool empty;

	/*
	 * An RCU-sched section (synchronize_rcu() waits for it too): inline,
	 * where rcu_read_lock() is a call with PREEMPT_RCU.
	 */
	preempt_disable_notrace();
	empty = !READ_ONCE(*bucket_of(rcu_dereference_sched(s->tbl), x));
	preempt_enable_notrace();
	return empty;
}

/* The link of @obj's chain in index @phys (else the key index). */
static inline struct dmaverify_obj **link_of(struct dmaverify_obj *obj,
					     bool phys)
{
	return phys ? &obj->pnext : &obj->next;
}

/*
 * Move stripe @s of an index (@phys: the physical one) to a table of 2^@bits
 * buckets.  The old table's heads are left as they were: a reader that
 * still sees it (bucket_empty()) must not find a live object's bucket
 * empty.  Return: the old table, to free after a grace period, or NULL if
 * the stripe cannot be grown now.
 */
static struct dmaverify_buckets *grow_stripe(struct dmaverify_tracker *t,
					     struct dmaverify_stripe *s,
					     bool phys,
					     struct dmaverify_buckets *new)
{
	struct dmaverify_buckets *old;
	struct dmaverify_obj *obj, *next;
	unsigned long flags, b;

	raw_spin_lock_irqsave(&s->lock, flags);
	old = locked_tbl(s);
	/* A walk of every object may have dropped this lock midway. */
	if (atomic_read(&t->walkers) || new->bits <= old->bits) {
		raw_spin_unlock_irqrestore(&s->lock, flags);
		return NULL;
	}
	for (b = 0; b < (1UL << old->bits); b++) {
		for (obj = old->b[b]; obj; obj = next) {
			struct dmaverify_obj **head;
			unsigned long x;

			next = *link_of(obj, phys);
			x = phys ? obj->phys >> PAGE_SHIFT : obj_key_x(obj);
			head = bucket_of(new, x);
			*link_of(obj, phys) = *head;
			*head = obj;
		}
	}
	rcu_assign_pointer(s->tbl, new);
	raw_spin_unlock_irqrestore(&s->lock, flags);
	return old;
}

/*
 * The log2 of the buckets a stripe of @count objects needs, or 0 if its
 * table of 2^@bits is large enough.
 */
static unsigned int wanted_bits(unsigned int count, unsigned int bits)
{
	unsigned int want = bits;

	while (want < DV_STRIPE_MAX_BITS && count > (DV_STRIPE_LOAD << want))
		want++;
	return want > bits ? want : 0;
}

/* Grow the overloaded stripes of one index; free the old tables at once. */
static void grow_index(struct dmaverify_tracker *t, struct dmaverify_stripe *idx,
		       bool phys)
{
	struct dmaverify_buckets *old[DV_LOCKS];
	unsigned int i, n = 0;

	for (i = 0; i < DV_LOCKS; i++) {
		struct dmaverify_stripe *s = &idx[i];
		struct dmaverify_buckets *new, *tbl;
		unsigned int want;

		rcu_read_lock();
		tbl = rcu_dereference(s->tbl);
		want = wanted_bits(READ_ONCE(s->count), tbl->bits);
		rcu_read_unlock();
		if (!want)
			continue;
		new = buckets_alloc(want);
		if (!new)
			break;
		old[n] = grow_stripe(t, s, phys, new);
		if (old[n])
			n++;
		else
			kvfree(new);
	}
	if (!n)
		return;
	/* Readers of bucket_empty() may still look at the old tables. */
	synchronize_rcu();
	while (n--)
		kvfree(old[n]);
}

static void grow_work(struct work_struct *work)
{
	struct dmaverify_tracker *t = container_of(work, struct dmaverify_tracker,
						   grow);

	grow_index(t, t->keys, false);
	grow_index(t, t->phys, true);
}

/* Count an object into stripe @s (its lock held); true if @s must grow. */
static inline bool stripe_add(struct dmaverify_stripe *s)
{
	struct dmaverify_buckets *tbl = locked_tbl(s);

	return ++s->count > (DV_STRIPE_LOAD << tbl->bits) &&
	       tbl->bits < DV_STRIPE_MAX_BITS;
}

static void stripes_free(struct dmaverify_stripe *idx)
{
	int i;

	for (i = 0; i < DV_LOCKS; i++)
		kvfree(rcu_dereference_protected(idx[i].tbl, true));
}

/**
 * dmaverify_tracker_init() - set up an empty tracker
 * @t: the tracker
 * @bits: log2 of the buckets each index starts with (at least
 *	DV_LOCK_BITS + 1); a stripe grows from there with its load
 *
 * Return: 0 or -ENOMEM.
 */
int dmaverify_tracker_init(struct dmaverify_tracker *t, unsigned int bits)
{
	unsigned int sbits = max_t(int, (int)bits - DV_LOCK_BITS, 1);
	int i;

	memset(t->keys, 0, sizeof(t->keys));
	memset(t->phys, 0, sizeof(t->phys));
	for (i = 0; i < DV_LOCKS; i++) {
		raw_spin_lock_init(&t->keys[i].lock);
		RCU_INIT_POINTER(t->keys[i].tbl, buckets_alloc(sbits));
		if (!rcu_access_pointer(t->keys[i].tbl))
			goto fail;
	}
	for (i = 0; i < DV_LOCKS; i++) {
		raw_spin_lock_init(&t->phys[i].lock);
		RCU_INIT_POINTER(t->phys[i].tbl, buckets_alloc(sbits));
		if (!rcu_access_pointer(t->phys[i].tbl))
			goto fail;
	}
	t->max_pages = 1;
	t->max_phys_pages = 1;
	t->walk_all = DV_LOCKS << sbits;
	t->used = false;
	t->dying = false;
	atomic_set(&t->walkers, 0);
	INIT_WORK(&t->grow, grow_work);
	if (percpu_counter_init(&t->count, 0, GFP_KERNEL))
		goto fail;
	return 0;
fail:
	stripes_free(t->keys);
	stripes_free(t->phys);
	return -ENOMEM;
}
EXPORT_SYMBOL_FOR_DV_TESTS(dmaverify_tracker_init);

/* Precondition: nothing can reach @t any more. */
void dmaverify_tracker_destroy(struct dmaverify_tracker *t)
{
	struct dmaverify_obj *obj, *next;
	unsigned long b;
	int i;

	WRITE_ONCE(t->dying, true);
	cancel_work_sync(&t->grow);
	for (i = 0; i < DV_LOCKS; i++) {
		struct dmaverify_buckets *tbl;

		tbl = rcu_dereference_protected(t->keys[i].tbl, true);
		for (b = 0; tbl && b < (1UL << tbl->bits); b++) {
			for (obj = tbl->b[b]; obj; obj = next) {
				next = obj->next;
				dmaverify_obj_free(obj);
			}
		}
	}
	percpu_counter_destroy(&t->count);
	stripes_free(t->keys);
	stripes_free(t->phys);
	memset(t->keys, 0, sizeof(t->keys));
	memset(t->phys, 0, sizeof(t->phys));
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

/**
 * dmaverify_tracker_buckets() - the buckets of a tracker's two indexes
 * @t: a device's tracker
 *
 * Return: their number (the memory they take is 8 bytes each on 64-bit).
 */
unsigned long dmaverify_tracker_buckets(struct dmaverify_tracker *t)
{
	unsigned long n = 0;
	int i;

	rcu_read_lock();
	for (i = 0; i < DV_LOCKS; i++) {
		struct dmaverify_buckets *k = rcu_dereference(t->keys[i].tbl);
		struct dmaverify_buckets *p = rcu_dereference(t->phys[i].tbl);

		/* None once destroyed. */
		n += (k ? 1UL << k->bits : 0) + (p ? 1UL << p->bits : 0);
	}
	rcu_read_unlock();
	return n;
}
EXPORT_SYMBOL_FOR_DV_TESTS(dmaverify_tracker_buckets);

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

/* A stripe passed its load: have it grown (not while @t is going). */
static void want_growth(struct dmaverify_tracker *t)
{
	if (!READ_ONCE(t->dying))
		queue_work(system_unbound_wq, &t->grow);
}

/* Precondition: the lock of physical stripe @s is held. */
static bool insert_phys_locked(struct dmaverify_stripe *s,
			       struct dmaverify_obj *obj)
{
	struct dmaverify_obj **head = bucket_of(locked_tbl(s),
						 obj->phys >> PAGE_SHIFT);

	obj->pnext = *head;
	WRITE_ONCE(*head, obj);	/* See bucket_empty(). */
	return stripe_add(s);
}

/**
 * dmaverify_track() - add an object to the tracker
 * @t: the device's tracker
 * @obj: filled-in entry; DV_OBJ_PHYS_INDEXED in @obj->flags also indexes it
 *	by physical address
 */
void dmaverify_track(struct dmaverify_tracker *t, struct dmaverify_obj *obj)
{
	unsigned long x = obj_key_x(obj);
	struct dmaverify_stripe *s = stripe_of(t->keys, x);
	struct dmaverify_obj **head;
	unsigned long flags;
	bool grow;

	raw_spin_lock_irqsave(&s->lock, flags);
	head = bucket_of(locked_tbl(s), x);
	obj->next = *head;
	WRITE_ONCE(*head, obj);	/* See bucket_empty(). */
	grow = stripe_add(s);
	if (obj->flags & DV_OBJ_PHYS_INDEXED) {
		struct dmaverify_stripe *ps = stripe_of(t->phys,
							obj->phys >> PAGE_SHIFT);

		raw_spin_lock(&ps->lock);
		grow |= insert_phys_locked(ps, obj);
		raw_spin_unlock(&ps->lock);
	}
	raw_spin_unlock_irqrestore(&s->lock, flags);
	if (unlikely(grow))
		want_growth(t);

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
	struct dmaverify_stripe *ps = stripe_of(t->phys, resv->phys >> PAGE_SHIFT);
	unsigned long flags;
	bool grow;

	resv->flags |= DV_OBJ_PHYS_INDEXED | DV_OBJ_RESERVED;
	grow_max(&t->max_phys_pages, span(resv->phys, resv->size));
	raw_spin_lock_irqsave(&ps->lock, flags);
	grow = insert_phys_locked(ps, resv);
	raw_spin_unlock_irqrestore(&ps->lock, flags);
	if (unlikely(grow))
		want_growth(t);
}
EXPORT_SYMBOL_FOR_DV_TESTS(dmaverify_phys_reserve);

/* Precondition: the lock of @obj's physical stripe @ps is held. */
static void unlink_phys_locked(struct dmaverify_stripe *ps,
			       struct dmaverify_obj *obj)
{
	struct dmaverify_obj **pp;

	for (pp = bucket_of(locked_tbl(ps), obj->phys >> PAGE_SHIFT); *pp;
	     pp = &(*pp)->pnext) {
		if (*pp == obj) {
			WRITE_ONCE(*pp, obj->pnext);
			ps->count--;
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
	struct dmaverify_stripe *ps = stripe_of(t->phys, resv->phys >> PAGE_SHIFT);
	unsigned long flags;

	raw_spin_lock_irqsave(&ps->lock, flags);
	unlink_phys_locked(ps, resv);
	raw_spin_unlock_irqrestore(&ps->lock, flags);
}
EXPORT_SYMBOL_FOR_DV_TESTS(dmaverify_phys_unreserve);

/* Precondition: the key stripe lock of @obj is held. */
static void unlink_phys(struct dmaverify_tracker *t, struct dmaverify_obj *obj)
{
	struct dmaverify_stripe *ps = stripe_of(t->phys, obj->phys >> PAGE_SHIFT);

	raw_spin_lock(&ps->lock);
	unlink_phys_locked(ps, obj);
	raw_spin_unlock(&ps->lock);
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
	unsigned long x = key_x(key, sg);
	struct dmaverify_stripe *s = stripe_of(t->keys, x);
	struct dmaverify_obj **pp, **found = NULL, *obj = NULL;
	unsigned long flags;

	if (bucket_empty(s, x))
		return NULL;
	raw_spin_lock_irqsave(&s->lock, flags);
	for (pp = bucket_of(locked_tbl(s), x); *pp; pp = &(*pp)->next) {
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
		s->count--;
		if (obj->flags & DV_OBJ_PHYS_INDEXED)
			unlink_phys(t, obj);
	}
	raw_spin_unlock_irqrestore(&s->lock, flags);
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
	unsigned long x = key_x(key, sg);
	struct dmaverify_stripe *s = stripe_of(t->keys, x);
	struct dmaverify_obj *obj;
	unsigned long flags;
	bool found = false;

	if (bucket_empty(s, x))
		return false;
	raw_spin_lock_irqsave(&s->lock, flags);
	for (obj = *bucket_of(locked_tbl(s), x); obj; obj = obj->next) {
		if (dmaverify_obj_key(obj) == key && dmaverify_obj_is_sg(obj) == sg) {
			dmaverify_obj_copy(copy, obj);
			found = true;
			break;
		}
	}
	raw_spin_unlock_irqrestore(&s->lock, flags);
	return found;
}
EXPORT_SYMBOL_FOR_DV_TESTS(dmaverify_lookup);

/* Whether non-S/G @obj's range [dma, dma + size) holds @addr. */
static bool obj_contains(const struct dmaverify_obj *obj, dma_addr_t addr)
{
	return !dmaverify_obj_is_sg(obj) && addr >= obj->dma &&
	       addr - obj->dma < max_t(size_t, obj->size, 1);
}

/* Copy an object of chain @obj that contains @addr. */
static bool containing_in_chain(struct dmaverify_obj *obj, dma_addr_t addr,
				struct dmaverify_obj *copy)
{
	for (; obj; obj = obj->next) {
		if (obj_contains(obj, addr)) {
			dmaverify_obj_copy(copy, obj);
			return true;
		}
	}
	return false;
}

/* Copy a non-S/G object of the bucket of page @page that holds @addr. */
static bool containing_in(struct dmaverify_tracker *t, unsigned long page,
			  dma_addr_t addr, struct dmaverify_obj *copy)
{
	struct dmaverify_stripe *s = stripe_of(t->keys, page);
	unsigned long flags;
	bool found;

	if (bucket_empty(s, page))
		return false;
	raw_spin_lock_irqsave(&s->lock, flags);
	found = containing_in_chain(*bucket_of(locked_tbl(s), page), addr, copy);
	raw_spin_unlock_irqrestore(&s->lock, flags);
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
	unsigned long lo = page >= pages ? page - pages + 1 : 0, p, flags;
	int i;

	/* Objects starting in [page - max_pages + 1, page] may contain @addr. */
	if (page - lo >= t->walk_all) {
		/* Each stripe whole, under its lock: it cannot grow meanwhile. */
		for (i = 0; i < DV_LOCKS; i++) {
			struct dmaverify_stripe *s = &t->keys[i];
			struct dmaverify_buckets *tbl;
			bool found = false;

			raw_spin_lock_irqsave(&s->lock, flags);
			tbl = locked_tbl(s);
			for (p = 0; !found && p < (1UL << tbl->bits); p++)
				found = containing_in_chain(tbl->b[p], addr, copy);
			raw_spin_unlock_irqrestore(&s->lock, flags);
			if (found)
				return true;
		}
		return false;
	}
	for (p = page + 1; p-- > lo;)
		if (containing_in(t, p, addr, copy))
			return true;
	return false;
}
EXPORT_SYMBOL_FOR_DV_TESTS(dmaverify_lookup_containing);

/* Copy an object of chain @obj, other than @self, overlapping the range. */
static bool overlap_in_chain(struct dmaverify_obj *obj, phys_addr_t phys,
			     size_t size, const struct dmaverify_obj *self,
			     struct dmaverify_obj *copy)
{
	for (; obj; obj = obj->pnext) {
		if (obj != self && obj->phys < phys + max_t(size_t, size, 1) &&
		    phys < obj->phys + max_t(size_t, obj->size, 1)) {
			dmaverify_obj_copy(copy, obj);
			return true;
		}
	}
	return false;
}

/*
 * Copy an object of the physical bucket of page @page, other than @self,
 * whose bytes overlap the range.
 */
static bool overlap_in(struct dmaverify_tracker *t, unsigned long page,
		       phys_addr_t phys, size_t size,
		       const struct dmaverify_obj *self, struct dmaverify_obj *copy)
{
	struct dmaverify_stripe *ps = stripe_of(t->phys, page);
	unsigned long flags;
	bool found;

	/* Empty: no lock (see the barrier in dmaverify_find_overlap()). */
	if (bucket_empty(ps, page))
		return false;
	raw_spin_lock_irqsave(&ps->lock, flags);
	found = overlap_in_chain(*bucket_of(locked_tbl(ps), page), phys, size,
				 self, copy);
	raw_spin_unlock_irqrestore(&ps->lock, flags);
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
	unsigned long p, lo = first >= pages ? first - pages + 1 : 0, flags;
	int i;

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
	if (last - lo >= t->walk_all) {
		for (i = 0; i < DV_LOCKS; i++) {
			struct dmaverify_stripe *ps = &t->phys[i];
			struct dmaverify_buckets *tbl;
			bool found = false;

			raw_spin_lock_irqsave(&ps->lock, flags);
			tbl = locked_tbl(ps);
			for (p = 0; !found && p < (1UL << tbl->bits); p++)
				found = overlap_in_chain(tbl->b[p], phys, size,
							 self, copy);
			raw_spin_unlock_irqrestore(&ps->lock, flags);
			if (found)
				return true;
		}
		return false;
	}
	for (p = lo; p <= last; p++)
		if (overlap_in(t, p, phys, size, self, copy))
			return true;
	return false;
}
EXPORT_SYMBOL_FOR_DV_TESTS(dmaverify_find_overlap);

/*
 * A walk of every key bucket: no stripe grows while it runs (grow_stripe()
 * checks @walkers under the stripe's lock, which the walk takes after
 * counting itself), so a walk that drops a stripe's lock finds the same
 * table again.  Return: the tables of each stripe.
 */
static void walk_begin(struct dmaverify_tracker *t,
		       struct dmaverify_buckets **tbls)
{
	unsigned long flags;
	int i;

	atomic_inc(&t->walkers);
	for (i = 0; i < DV_LOCKS; i++) {
		raw_spin_lock_irqsave(&t->keys[i].lock, flags);
		tbls[i] = locked_tbl(&t->keys[i]);
		raw_spin_unlock_irqrestore(&t->keys[i].lock, flags);
	}
}

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
	struct dmaverify_buckets *tbls[DV_LOCKS];
	unsigned long n = 0, flags, b;
	int i;

	if (!rcu_access_pointer(t->keys[0].tbl))
		return 0;
	walk_begin(t, tbls);
	for (i = 0; i < DV_LOCKS; i++) {
		struct dmaverify_stripe *s = &t->keys[i];

		for (b = 0; b < (1UL << tbls[i]->bits); b++) {
			struct dmaverify_obj copy[8];
			struct dmaverify_obj *obj;
			unsigned int j, k, done = 0;

			/* Rechecked under the lock below. */
			if (!READ_ONCE(tbls[i]->b[b]))
				continue;
			/*
			 * Copy up to 8 objects at a time so that @fn can print
			 * or sleep without holding the lock.  Objects released
			 * meanwhile may be skipped: this is a snapshot, not a
			 * consistent cut.
			 */
			do {
				k = 0;
				j = 0;
				raw_spin_lock_irqsave(&s->lock, flags);
				for (obj = tbls[i]->b[b]; obj && k < ARRAY_SIZE(copy);
				     obj = obj->next)
					if (j++ >= done)
						dmaverify_obj_copy(&copy[k++], obj);
				raw_spin_unlock_irqrestore(&s->lock, flags);
				for (j = 0; j < k; j++)
					fn(&copy[j], arg);
				done += k;
				n += k;
				cond_resched();
			} while (k == ARRAY_SIZE(copy));
		}
	}
	atomic_dec(&t->walkers);
	return n;
}
EXPORT_SYMBOL_FOR_DV_TESTS(dmaverify_tracker_for_each);

/**
 * dmaverify_tracker_walk_locked() - call @fn on each object, in place
 * @t: the device's tracker
 * @fn: called with the object's stripe lock held (a raw spinlock,
 *	interrupts off): it must not sleep, allocate or print
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
	struct dmaverify_buckets *tbls[DV_LOCKS];
	unsigned long n = 0, flags, b;
	int i;

	if (!rcu_access_pointer(t->keys[0].tbl))
		return 0;
	walk_begin(t, tbls);
	for (i = 0; i < DV_LOCKS; i++) {
		struct dmaverify_stripe *s = &t->keys[i];

		for (b = 0; b < (1UL << tbls[i]->bits); b++) {
			struct dmaverify_obj *obj;

			/* Rechecked under the lock below. */
			if (!READ_ONCE(tbls[i]->b[b]))
				continue;
			raw_spin_lock_irqsave(&s->lock, flags);
			for (obj = tbls[i]->b[b]; obj; obj = obj->next, n++)
				fn(obj, arg);
			raw_spin_unlock_irqrestore(&s->lock, flags);
			cond_resched();
		}
	}
	atomic_dec(&t->walkers);
	return n;
}
