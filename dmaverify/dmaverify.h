/* SPDX-License-Identifier: GPL-2.0 */
/*
 * dmaverify: a DMA API verifier for selected drivers, after Windows Driver
 * Verifier's DMA verification (bug check 0xE6).  Private definitions shared
 * by the module's files.
 *
 * For more info please see Documentation/dmaverify.rst.
 */
#ifndef DMAVERIFY_DMAVERIFY_H
#define DMAVERIFY_DMAVERIFY_H

#include <linux/atomic.h>
#include <linux/device.h>
#include <linux/dma-map-ops.h>
#include <linux/dma-mapping.h>
#include <linux/fault-inject.h>
#include <linux/hash.h>
#include <linux/list.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/percpu_counter.h>
#include <linux/rcupdate.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/workqueue.h>

struct scatterlist;
struct seq_file;

#include "compat.h"

/*
 * Symbols the KUnit suite (kunit/, its own module) uses; exported only when
 * the kernel has KUnit.
 */
#if IS_ENABLED(CONFIG_KUNIT)
#define EXPORT_SYMBOL_FOR_DV_TESTS(sym) EXPORT_SYMBOL_GPL(sym)
#else
#define EXPORT_SYMBOL_FOR_DV_TESTS(sym) static_assert(sizeof(sym))
#endif

/* === Violations === */

/*
 * One constant per rule.  The table in report.c gives each its 0xE6-style
 * code, sub-code, slug and title; Documentation/dmaverify.rst and the KUnit
 * suite are checked against that table.
 */
enum dmaverify_violation {
	DV_SYNC_OVERFLOW,	/* Sync past the end of a mapping. */
	DV_DOUBLE_FREE,		/* Coherent buffer freed twice or never allocated. */
	DV_DOUBLE_UNMAP,	/* Streaming mapping unmapped twice or never mapped. */
	DV_DOUBLE_UNMAP_SG,	/* S/G list unmapped twice or never mapped. */
	DV_LEAK_COHERENT,	/* Coherent buffers outstanding at release. */
	DV_LEAK_MAP,		/* Streaming mappings outstanding at release. */
	DV_LEAK_SG,		/* S/G lists outstanding at release. */
	DV_MAP_TOO_LARGE,	/* One mapping larger than the device can map. */
	DV_OVERRUN_BEFORE,	/* Redzone before a buffer modified. */
	DV_OVERRUN_AFTER,	/* Redzone after a buffer modified. */
	DV_WRITE_AFTER_UNMAP,	/* A released buffer was written (by the device). */
	DV_ALLOC_ATOMIC,	/* Allocation that may sleep in atomic context. */
	DV_FREE_IRQS_OFF,	/* Coherent free with interrupts off or in hardirq. */
	DV_CALL_IN_NMI,		/* Any DMA call from NMI context. */
	DV_TOO_MANY_MAPS,	/* Too many outstanding objects on one device. */
	DV_SYNC_UNMAPPED,	/* Sync of an address that is not mapped. */
	DV_USE_AFTER_RELEASE,	/* DMA call after the driver was unbound. */
	DV_OVERLAP,		/* Mapping a range that is already mapped. */
	DV_MAP_STACK,		/* Mapping memory on a task stack. */
	DV_MAP_RODATA,		/* Mapping kernel text or rodata. */
	DV_MAP_INVALID,		/* Mapping memory outside the linear map. */
	DV_SYNC_SG_UNMAPPED,	/* Sync of an S/G list that is not mapped. */
	DV_ZERO_LENGTH,		/* Mapping a zero-length buffer. */
	DV_WRONG_SIZE,		/* Unmap or free with another size. */
	DV_WRONG_FUNCTION,	/* Unmap or free with another kind of call. */
	DV_WRONG_CPU_ADDR,	/* Coherent free with another CPU address. */
	DV_WRONG_NENTS,		/* S/G unmap or sync with another entry count. */
	DV_WRONG_DIRECTION,	/* Unmap with another direction. */
	DV_SYNC_DIRECTION,	/* Sync with another direction. */
	DV_SYNC_TO_CPU_RO,	/* Sync for the CPU of a TO_DEVICE mapping. */
	DV_SYNC_TO_DEV_WO,	/* Sync for the device of a FROM_DEVICE mapping. */
	DV_UNCHECKED_ERROR,	/* A failed mapping's handle was used. */
	DV_SG_SEG_TOO_LONG,	/* S/G segment longer than the device allows. */
	DV_SG_SEG_BOUNDARY,	/* S/G segment crosses the device's boundary. */
	DV_ADDR_OUTSIDE_MASK,	/* DMA address beyond the device's mask. */
	DV_SG_MANGLED,		/* S/G list changed between map and unmap. */
	DV_STALE_TO_DEVICE,	/* TO_DEVICE buffer changed while mapped. */
	DV_CPU_WRITE_LOST,	/* FROM_DEVICE buffer written by the CPU while mapped. */
	DV_DEVICE_USED_RELEASED,	/* Device fault in a released mapping. */
	DV_DEVICE_USED_UNMAPPED,	/* Device fault at an address never mapped. */
	DV_DEVICE_WRONG_DIRECTION,	/* Device wrote TO_DEVICE (read FROM_DEVICE). */
	DV_CHAN_LEAK,		/* dmaengine channel held at unbind. */
	DV_CHAN_DOUBLE_RELEASE,	/* dmaengine channel released twice. */
	DV_CHAN_USE_AFTER_RELEASE,	/* dmaengine channel used after release. */
	DV_DMA_IN_FLIGHT,	/* Buffer unmapped while a descriptor uses it. */
	DV_TERMINATE_NO_SYNC,	/* Unmapped after terminate, no synchronize. */
	DV_DESC_DOUBLE_SUBMIT,	/* dmaengine descriptor submitted twice. */
	DV_SUBMIT_UNMAPPED,	/* Request to a port names an unmapped buffer. */
	DV_VIOLATION_COUNT
};

/**
 * struct dmaverify_code - one row of the violation table
 * @code: Windows bug check 0xE6 parameter 1 where an analogue exists,
 *	otherwise a Linux-only code of 0x80 and above
 * @sub: parameter 2 (sub-code) where the code has several kinds, else 0
 * @slug: short token used in the report title and in debugfs
 * @title: one sentence stating the rule that was broken
 * @check: name of the check group (module parameter "checks")
 */
struct dmaverify_code {
	u8 code;
	u8 sub;
	const char *slug;
	const char *title;
	const char *check;
};

extern const struct dmaverify_code dmaverify_codes[DV_VIOLATION_COUNT];

/* === Tracked objects === */

/* What a tracked object is: the Windows DMA object it corresponds to. */
enum dmaverify_kind {
	DV_KIND_COHERENT,	/* dma_alloc_coherent/attrs: a common buffer. */
	DV_KIND_PAGES,		/* dma_alloc_pages: a non-coherent buffer. */
	DV_KIND_MAP,		/* dma_map_single/page: map registers. */
	DV_KIND_RESOURCE,	/* dma_map_resource: MMIO of another device. */
	DV_KIND_SG,		/* dma_map_sg/sgtable: a scatter/gather list. */
	DV_KIND_COUNT
};

extern const char *const dmaverify_kind_names[DV_KIND_COUNT];

/* Object flags. */
#define DV_OBJ_PHYS_INDEXED	0x01	/* Also in the physical-address index. */
#define DV_OBJ_BOUNCED		0x02	/* The device got a dmaverify bounce buffer. */
#define DV_OBJ_REDZONED		0x04	/* Coherent buffer with redzones. */
#define DV_OBJ_CHECKSUMMED	0x08	/* @csum holds the CPU buffer's checksum. */
#define DV_OBJ_RESERVED		0x10	/* A map being made: its range only (ops.c). */
#define DV_OBJ_SAMPLED		0x20	/* Taken by sampled mode (sample.c). */

/**
 * struct dmaverify_obj - one outstanding DMA object of a verified device
 * @next: chain in the tracker's key index
 * @free_stack: once released (no longer in the tracker): who released it
 *	(free_stacks=1), or 0
 * @free_pid: once released: the releasing task (its CPU: the ring's)
 * @pnext: chain in the tracker's physical-address index (streaming maps
 *	the device may write: DV_OBJ_PHYS_INDEXED)
 * @free_when: once released: jiffies at the release
 * @key: the object's key in the tracker, its DMA address; not for S/G lists,
 *	whose key is their scatterlist (@phys): see dmaverify_obj_key()
 * @dma: DMA address handed to the driver (first segment for S/G lists);
 *	the same word as @key
 * @phys: physical address of the CPU buffer (maps), CPU address
 *	(coherent), scatterlist pointer (S/G): an S/G list's key
 * @size: bytes mapped (S/G: sum of the segments' lengths); an object of
 *	4 GiB or more is not tracked (dmaverify_obj_new())
 * @stack: creating stack (a u32 handle, see stack.c: the caller's address
 *	by default, a stack depot handle with object_stacks=1)
 * @when: jiffies at creation
 * @kind: &enum dmaverify_kind
 * @dir: &enum dma_data_direction
 * @flags: DV_OBJ_*
 * @tail: set when the object has the fields below (allocated with them:
 *	S/G lists, and objects whose memory dmaverify owns); set once, when
 *	allocated, and never changed
 * @nents: S/G: entries passed to map; others: 0
 * @mapped: S/G: entries the mapping produced
 * @csum: checksum of the S/G list (mangling); for a single bounced map, the
 *	use count of its bounce slot when it was mapped (redzone.c: a sync
 *	racing the unmap must not touch the slot's next mapping)
 * @bounce: dmaverify's bounce buffer or redzoned allocation, when used
 *
 * Kept small: the tracker holds one per outstanding mapping, and NICs keep
 * hundreds of thousands outstanding.  A single map or coherent buffer
 * needs only the first DV_OBJ_HEAD bytes (48 on 64-bit): its key is its
 * DMA address, and the physical-index link (@pnext) of a map the device
 * may write is the word a bounce buffer's object uses for nothing; only
 * S/G lists,
 * bounced and redzoned objects (dmaverify_obj_alloc()) are allocated with
 * the tail, from another cache.  A copy (on the stack, in a report) is
 * always a whole struct: dmaverify_obj_copy() fills it, the tail zeroed
 * when the original has none.
 */
struct dmaverify_obj {
	union {
		struct dmaverify_obj *next;
		struct {
			u32 free_stack;
			u32 free_pid;
		};
	};
	union {
		struct dmaverify_obj *pnext;
		u32 free_when;
	};
	union {
		unsigned long key;
		dma_addr_t dma;
	};
	unsigned long phys;
	u32 size;
	u32 stack;
	u32 when;
	u8 kind;
	u8 dir;
	u8 flags;
	u8 tail;
	/* The tail: only in objects allocated with it (@tail set). */
	u16 nents;
	u16 mapped;
	u32 csum;
	void *bounce;
};

/* Bytes of an object without its tail. */
#define DV_OBJ_HEAD	offsetof(struct dmaverify_obj, nents)

static_assert(sizeof(dma_addr_t) <= sizeof(unsigned long),
	      "an object's key is its DMA address");
static_assert(!IS_ENABLED(CONFIG_64BIT) || DV_OBJ_HEAD <= 48,
	      "at most 48 bytes per outstanding mapping (issue 14)");

/* The largest object tracked (@size is 32 bits). */
#define DV_OBJ_MAX_SIZE	U32_MAX

/**
 * dmaverify_obj_copy() - copy an object, tail or not
 * @dst: a whole struct (on the stack, in a report)
 * @src: an object, in the tracker or a copy; @src->tail is stable (see
 *	@tail), so a lockless copy of a released object is safe
 */
static inline void dmaverify_obj_copy(struct dmaverify_obj *dst,
				      const struct dmaverify_obj *src)
{
	if (src->tail) {
		*dst = *src;
		return;
	}
	memcpy(dst, src, DV_OBJ_HEAD);
	memset((char *)dst + DV_OBJ_HEAD, 0, sizeof(*dst) - DV_OBJ_HEAD);
}

/* S/G lists are keyed by their list, not by a DMA address. */
static inline bool dmaverify_obj_is_sg(const struct dmaverify_obj *obj)
{
	return obj->kind == DV_KIND_SG;
}

/*
 * The key an object is tracked by: its DMA address, or an S/G list's
 * scatterlist.  Both are set when an object is filled in (an S/G list's
 * @key, then its @dma, which is the same word, and @phys).
 */
static inline unsigned long dmaverify_obj_key(const struct dmaverify_obj *obj)
{
	return dmaverify_obj_is_sg(obj) ? obj->phys : obj->key;
}

/*
 * The bounce buffer or redzoned allocation of an object (DV_OBJ_BOUNCED,
 * DV_OBJ_REDZONED), and the checksum of its CPU buffer or S/G list: tail
 * fields, which only objects allocated with a tail have.
 */
static inline void *dmaverify_obj_bounce(const struct dmaverify_obj *obj)
{
	return obj->bounce;
}

static inline u32 dmaverify_obj_csum(const struct dmaverify_obj *obj)
{
	return obj->csum;
}

/* A released object remembered for double-free reports ("released by"). */
struct dmaverify_freed {
	struct dmaverify_obj obj;
	unsigned long free_stack;	/* Who released it (free_stacks=1), or 0. */
	u32 free_when;			/* jiffies at the release. */
	int free_pid;			/* The releasing task, or -1 if unknown. */
	int free_cpu;			/* The CPU it ran on. */
};

#define DV_FREED_RING	64	/* Default of release_history (objects.c). */
#define DV_FREED_RING_MAX 1024	/* Its maximum: a per-CPU allocation. */
#define DV_LOCK_BITS	6
#define DV_LOCKS	BIT(DV_LOCK_BITS)	/* Lock stripes per index. */
#define DV_STRIPE_LOAD	4	/* Objects per bucket before a stripe grows. */
#define DV_STRIPE_MAX_BITS 20	/* Buckets of one stripe, at most: 2^20. */
#define DV_COUNT_BATCH	64	/* Per-CPU drift of a tracker's count. */

/* The buckets of one stripe (tracker.c): 2^@bits chains. */
struct dmaverify_buckets {
	unsigned int bits;
	struct dmaverify_obj *b[];
};

/**
 * struct dmaverify_stripe - one lock stripe of a tracker index
 * @lock: guards @count, @tbl and the chains of its buckets
 * @count: objects in the stripe
 * @tbl: the stripe's buckets; read without @lock (under RCU) only to see
 *	whether a bucket is empty; replaced by a larger table off the hot path
 *	(tracker.c)
 *
 * An object's stripe is the top DV_LOCK_BITS bits of its hash, its bucket
 * the next @tbl->bits bits: a stripe grows on its own, under its own lock,
 * and the hot path touches no line the whole device shares (but for the
 * three other stripes on the line of its own: not aligned, so that the
 * stripes of both indexes take 2 KiB, as packed locks did).
 */
struct dmaverify_stripe {
	raw_spinlock_t lock;
	unsigned int count;
	struct dmaverify_buckets __rcu *tbl;
};

/**
 * struct dmaverify_tracker - every outstanding DMA object of one device
 * @keys: the index by key (DMA address, or S/G list pointer)
 * @phys: the index by physical page (streaming maps the device may write),
 *	for overlaps; a stripe's lock is taken after the key stripe's
 * @max_pages: largest page span (by DMA address) of any non-S/G object
 *	tracked, bounds containment lookups; only grows
 * @max_phys_pages: largest page span (by physical address) of any object in
 *	@phys, bounds overlap lookups; only grows
 * @walk_all: buckets each index starts with: a lookup that would walk back
 *	over more pages visits every bucket once instead
 * @count: objects tracked, per CPU (summed when read exactly: debugfs, leak
 *	checks; compared with a limit cheaply while far from it)
 * @used: set once anything was tracked: before, a release need not be
 *	looked up (the forwarding-only path stays close to the bare call)
 * @walkers: walks of every object running (a stripe does not grow
 *	meanwhile: a walk that drops the lock must find it as it left it)
 * @grow: grows the stripes whose load passed DV_STRIPE_LOAD
 * @dying: set at destroy: @grow is not queued again
 *
 * Lookups by exact key are O(1) at any load: a stripe whose objects
 * outnumber DV_STRIPE_LOAD times its buckets is given twice as many from a
 * work item.  A lookup of an address inside an object walks back at most
 * @max_pages pages (@max_phys_pages for overlaps), and never more than
 * every bucket once.  All locks are raw and taken with interrupts off: DMA
 * calls come from hardirq context.
 */
struct dmaverify_tracker {
	struct dmaverify_stripe keys[DV_LOCKS];
	struct dmaverify_stripe phys[DV_LOCKS];
	unsigned long max_pages;
	unsigned long max_phys_pages;
	unsigned long walk_all;
	struct percpu_counter count;
	bool used;
	bool dying;
	atomic_t walkers;
	struct work_struct grow;
};

/* Whether @t may hold objects (see @used): a release must be looked up. */
static inline bool dmaverify_tracker_used(const struct dmaverify_tracker *t)
{
	return READ_ONCE(t->used);
}

long dmaverify_tracker_count(struct dmaverify_tracker *t);
unsigned long dmaverify_tracker_buckets(struct dmaverify_tracker *t);

/* === Devices under verification ("adapters") === */

enum dmaverify_state {
	DV_STATE_ATTACHED,	/* Driver bound; every DMA call is verified. */
	DV_STATE_RELEASED,	/* Driver unbound; any DMA call is a violation. */
};

/* Per-kind statistics of one device, summed over its CPUs. */
struct dmaverify_kind_stats {
	long allocated;		/* Objects created. */
	long freed;		/* Objects released. */
	long outstanding;	/* Objects live now. */
	long peak;		/* Highest @outstanding sampled. */
	long bytes;		/* Bytes mapped now. */
};

/**
 * struct dmaverify_pcpu - one CPU's share of a device's tracking state
 * @freed_head: releases on this CPU so far; masked with nr_freed - 1, the
 *	slot of @freed the next one takes (the oldest)
 * @spare: an evicted entry, which this CPU's next tracked object reuses (a
 *	map/unmap pair then never calls the slab allocator); taken with
 *	this_cpu_xchg(), so that an interrupt cannot take it twice
 * @allocated: objects created on this CPU, per &enum dmaverify_kind
 * @released: objects released on this CPU, per kind
 * @bytes: bytes mapped minus bytes released on this CPU, per kind
 * @untracked: objects created untracked on this CPU and not yet accounted
 *	for by a release (on any CPU: atomic, other CPUs take from it)
 * @untracked_total: objects ever created untracked on this CPU
 * @peak_tick: creations since the peaks were last sampled
 * @freed: the last objects released on this CPU (&dmaverify_dev.nr_freed
 *	slots, a power of 2), not copied: the ring owns them, and keeps the
 *	one it evicts as @spare.  Written without a lock (this_cpu
 *	operations, safe against interrupts); read by reports on any CPU,
 *	which copy an object and check that its slot still holds it (the
 *	entries' slab is SLAB_TYPESAFE_BY_RCU)
 *
 * Counters are written with this_cpu operations (safe from any context)
 * and summed by readers (debugfs, tests), like struct percpu_counter.
 */
struct dmaverify_pcpu {
	unsigned int freed_head;
	struct dmaverify_obj *spare;
	long allocated[DV_KIND_COUNT];
	long released[DV_KIND_COUNT];
	long bytes[DV_KIND_COUNT];
	atomic_long_t untracked;
	long untracked_total;
	unsigned int peak_tick;
	struct dmaverify_obj *freed[];
};

/**
 * struct dmaverify_bpool - a device's pool of bounce slots (redzone.c)
 * @lock: guards the lists and counts
 * @fresh: slots never used yet
 * @fifo: released slots, oldest first: the quarantine, taken from its head
 *	once more than quarantine= slots wait behind
 * @nr_fresh: entries in @fresh
 * @nr_fifo: entries in @fifo
 * @nr_total: slots the pool has (fresh, released or in use)
 * @refill: grows the pool in process context
 * @reused: maps served by a released slot
 * @fell_back: maps the pool could not serve: none free (it grows meanwhile)
 * @too_large: maps the pool could not serve: larger than a slot
 * @refill_failed: slots the refill could not make (no memory, or outside
 *	the device's DMA mask)
 * @stalled_until: after a failed refill, jiffies before which maps do not
 *	ask for another; 0: none failed
 * @fp_poison: fingerprint of a poisoned buffer of some size (both packed:
 *	size << 32 | fingerprint), cached for FROM_DEVICE maps
 */
struct dmaverify_bpool {
	raw_spinlock_t lock;
	struct list_head fresh;
	struct list_head fifo;
	unsigned int nr_fresh;
	unsigned int nr_fifo;
	unsigned int nr_total;
	struct work_struct refill;
	atomic_long_t reused;
	atomic_long_t fell_back;
	atomic_long_t too_large;
	atomic_long_t refill_failed;
	unsigned long stalled_until;
	unsigned long fp_poison;
};

/**
 * struct dmaverify_dev - a device under verification (the "adapter")
 * @ops: the dma_map_ops installed on @dev; each verified device has its own
 *	copy, so container_of() finds this context in O(1) from any call
 * @list: entry in dmaverify_devices (guarded by dmaverify_devices_lock)
 * @dev: the verified device (a reference is held)
 * @twin: an unregistered device carrying @dev's original DMA personality;
 *	every call is forwarded through the public DMA API on it
 * @probe: another such device, only to ask whether a mask is supported
 *	(the only public way is to set it): @twin's masks never change under
 *	an allocation
 * @orig_ops: @dev's dma_ops before attach
 * @direct: @twin maps by plain dma-direct (dmaverify_twin_direct()): the
 *	forward of a streaming call is done in place when it needs nothing
 *	more than phys_to_dma() (ops.c)
 * @max_map: dma_max_mapping_size() of @twin, taken when @twin's masks are
 *	set; used when @orig_ops is NULL (dma-direct's answer depends on the
 *	masks alone), so that a map need not ask
 * @orig_iommu: @dev's dma_iommu flag before attach (kernels >= 6.12)
 * @state: &enum dmaverify_state, read locklessly by the DMA paths
 * @driver: name of the driver bound when attached
 * @module: name of the module that registered it ("" if unknown)
 * @tracker: outstanding objects
 * @pcpu: per-CPU statistics, untracked objects and released objects
 *	(objects.c).  Objects forwarded without tracking (no memory, or
 *	verification disabled) may still be released: while any is
 *	outstanding, a release of an unknown object is not reported
 * @peak: highest outstanding objects sampled, per &enum dmaverify_kind
 * @violations: violations found per &enum dmaverify_violation, printed or not
 * @sleepers: callbacks that may sleep, running now (see attach.c)
 * @bounced: bounced objects outstanding: their syncs need dmaverify even
 *	while verification is disabled
 * @bounce_skipped: maps not bounced because too many released bounce
 *	buffers were still waiting to be freed
 * @bounce_failed: maps not bounced because no bounce buffer could be had
 *	(out of memory, or outside the device's streaming mask)
 * @bounce_failed_said: bit 0 set once @bounce_failed was told in the log
 * @quarantine_lock: guards @quarantine and @nr_quarantined
 * @quarantine: released bounce buffers that are not the device's pool
 *	slots (sampled slots, allocations the pool could not serve), oldest
 *	first (redzone.c)
 * @nr_quarantined: entries in @quarantine
 * @bpool: the device's pool of bounce slots (redzone.c)
 * @rcu: deferred free
 * @observe: observed through kprobes (observe.c), not interposed: no @ops,
 *	no @twin, no redzones or bounce buffers
 * @observe_node: entry in the observer's table of devices
 * @missed_base: creating calls the observer had missed when the device was
 *	attached; a different count now means the tracker may lack objects
 * @unverifiable: findings not reported because the observer had missed
 *	calls (unknown releases, leaks and overlaps of possibly stale objects)
 * @nr_freed: slots of each CPU's ring of released objects (@pcpu)
 * @iommu: what the device's IOMMU tells of its faults, and the faults seen
 *	(iommu.c); NULL until attached there
 * @sampled: verified by sampling (sample.c), chosen at attach: only
 *	sampled objects are tracked, and a release or sync of an unknown
 *	address is forwarded without a report
 * @sample_live: sampled objects outstanding; while 0, releases and syncs
 *	of a sampled device are forwarded without a lookup
 * @quarantine_filter: one bit per quarantined sampled buffer, at
 *	hash_64() of its DMA address (dmaverify_sample_released())
 * @partial: a port (a USB host controller): its ops track only the calls
 *	made on behalf of a selected driver above it, in that driver's
 *	context; every other call is forwarded untracked (indirect.c)
 * @port: a driver verified through a port: the port's context, whose
 *	twin this context borrows; NULL for a device verified directly
 * @on: with @port: the device the selected driver is bound to (an
 *	interface), a reference held
 * @whole: a port all of whose DMA is one selected driver's (a virtio
 *	device's transport, virtio.c): that driver's context, or NULL
 */
struct dmaverify_dev {
	struct dma_map_ops ops;
	struct list_head list;
	struct device *dev;
	struct device *twin;
	struct device *probe;
	const struct dma_map_ops *orig_ops;
	bool direct;
	size_t max_map;
	bool orig_iommu;
	int state;
	char driver[32];
	char module[MODULE_NAME_LEN];
	struct dmaverify_tracker tracker;
	struct dmaverify_pcpu __percpu *pcpu;
	atomic_long_t peak[DV_KIND_COUNT];
	atomic_long_t violations[DV_VIOLATION_COUNT];
	atomic_t sleepers;
	atomic_long_t bounced;
	atomic_long_t bounce_skipped;
	atomic_long_t bounce_failed;
	unsigned long bounce_failed_said;
	raw_spinlock_t quarantine_lock;
	struct list_head quarantine;
	unsigned int nr_quarantined;
	struct dmaverify_bpool bpool;
	struct rcu_head rcu;
	bool observe;
	struct hlist_node observe_node;
	unsigned long missed_base;
	atomic_long_t unverifiable;
	unsigned int nr_freed;
	struct dmaverify_iommu *iommu;
	bool sampled;
	atomic_long_t sample_live;
	unsigned long quarantine_filter;
	bool partial;
	struct dmaverify_dev *port;
	struct device *on;
	struct dmaverify_dev *whole;
};

/* The device a context is named by: the selected driver's, not its port's. */
static inline struct device *dmaverify_ctx_dev(const struct dmaverify_dev *ctx)
{
	return ctx->port ? ctx->on : ctx->dev;
}

extern struct list_head dmaverify_devices;
extern struct mutex dmaverify_devices_lock;

/* === Settings (module parameters; params.c) === */

#define MAX_DRIVERS	16	/* Names in driver=. */
#define DRIVER_NAME_MAX	32	/* Bytes of each, with its NUL. */

enum dmaverify_action {
	DV_ACTION_WARN,		/* Report, taint like WARN(). */
	DV_ACTION_LOG,		/* Report only. */
	DV_ACTION_PANIC,	/* Report, then panic: the bug check. */
};

extern bool dmaverify_enabled;
extern int dmaverify_action;
extern unsigned long dmaverify_checks;
extern unsigned int dmaverify_max_objects;
extern unsigned int dmaverify_stack_depth;
extern unsigned int dmaverify_report_ring;
extern unsigned int dmaverify_hash_bits;
extern bool dmaverify_multishot;
extern bool dmaverify_free_stacks;
extern bool dmaverify_object_stacks;
extern bool dmaverify_rebind;
extern unsigned int dmaverify_leak_report_max;
extern unsigned int dmaverify_fail_every;

bool dmaverify_driver_selected(const char *name);
int dmaverify_parse_drivers(const char *val, char *out, size_t outsz);
int dmaverify_parse_checks(const char *val, unsigned long *mask);
int dmaverify_parse_action(const char *val);
const char *dmaverify_action_name(int action);
int dmaverify_set_drivers(const char *val);
int dmaverify_drivers_show(char *buf, size_t size);
int dmaverify_add_driver(const char *name);
int dmaverify_remove_driver(const char *name);
int dmaverify_checks_show(char *buf, size_t size, unsigned long mask);
void dmaverify_selection_feedback_all(void);
void dmaverify_set_selection_hook(void (*hook)(const char *name));
const char *dmaverify_mode_name(int mode);

static inline bool dmaverify_check_on(enum dmaverify_violation v)
{
	return READ_ONCE(dmaverify_enabled) &&
	       test_bit(v, &dmaverify_checks);
}

/* === Stacks (stack.c) === */

u32 dmaverify_save_stack(void);
u32 dmaverify_creator_stack(const unsigned long *ra, unsigned long ip);
/* The stack a call site keeps, and who made it (dmaverify_site_stack()). */
struct dmaverify_site {
	unsigned long stack;	/* As dmaverify_save_stack() returns. */
	u32 when;		/* jiffies when it was taken. */
	int pid;		/* The task that made the call, or -1. */
	int cpu;		/* The CPU it ran on. */
};

bool dmaverify_site_stack(unsigned long handle, struct dmaverify_site *site);
void dmaverify_stack_show(struct seq_file *seq);

bool dmaverify_own_frame(unsigned long ip);
void dmaverify_set_observed_caller(unsigned long ip);
unsigned int dmaverify_stack_start(unsigned long *entries, unsigned int nr);
unsigned int dmaverify_fetch_stack(unsigned long handle, unsigned long *entries,
				   unsigned int max);
int dmaverify_stack_init(void);
void dmaverify_stack_exit(void);
struct dmaverify_gone;
struct dmaverify_gone *dmaverify_gone_start(struct module *mod);
void dmaverify_gone_note(struct dmaverify_gone *g, struct module *mod,
			 unsigned long handle);
void dmaverify_gone_end(struct dmaverify_gone *g);
bool dmaverify_frame_gone(unsigned long ip, u32 when, char *buf, size_t size);

/*
 * In an ops callback (not in a function it calls): the stack slot holding
 * the callback's return address into the DMA core, for
 * dmaverify_creator_stack().  __builtin_frame_address(0) gives the
 * callback a frame record (also without CONFIG_FRAME_POINTER), whose
 * second word is the return address on x86-64 and arm64.  The comparison
 * guards against another layout (the compiler folds it where it knows):
 * NULL makes the creator an unwind.
 */
#define DV_RA_SLOT()							\
	dmaverify_ra_slot(__builtin_frame_address(0),			\
			  __builtin_return_address(0))

static __always_inline const unsigned long *dmaverify_ra_slot(void *fp,
							      void *ret)
{
	const unsigned long *slot = (const unsigned long *)fp + 1;

	return READ_ONCE_NOCHECK(*slot) == (unsigned long)ret ? slot : NULL;
}

/* === Tracker (tracker.c) === */

int dmaverify_tracker_init(struct dmaverify_tracker *t, unsigned int bits);
void dmaverify_tracker_destroy(struct dmaverify_tracker *t);
struct dmaverify_obj *dmaverify_obj_alloc(void);
struct dmaverify_obj *dmaverify_obj_take(struct dmaverify_pcpu __percpu *pcpu,
					 bool tail);
void dmaverify_obj_clear(struct dmaverify_obj *obj);
void dmaverify_obj_free(struct dmaverify_obj *obj);
void dmaverify_track(struct dmaverify_tracker *t, struct dmaverify_obj *obj);
struct dmaverify_obj *dmaverify_untrack(struct dmaverify_tracker *t,
					unsigned long key, bool sg,
					bool (*match)(const struct dmaverify_obj *,
						      const void *),
					const void *arg);
bool dmaverify_lookup(struct dmaverify_tracker *t, unsigned long key, bool sg,
		      struct dmaverify_obj *copy);
bool dmaverify_lookup_containing(struct dmaverify_tracker *t, dma_addr_t addr,
				 struct dmaverify_obj *copy);
bool dmaverify_find_overlap(struct dmaverify_tracker *t, phys_addr_t phys,
			    size_t size, const struct dmaverify_obj *self,
			    struct dmaverify_obj *copy);
void dmaverify_phys_reserve(struct dmaverify_tracker *t,
			    struct dmaverify_obj *resv);
void dmaverify_phys_unreserve(struct dmaverify_tracker *t,
			      struct dmaverify_obj *resv);
typedef void (*dmaverify_obj_fn)(const struct dmaverify_obj *obj, void *arg);
unsigned long dmaverify_tracker_for_each(struct dmaverify_tracker *t,
					 dmaverify_obj_fn fn, void *arg);
unsigned long dmaverify_tracker_walk_locked(struct dmaverify_tracker *t,
					    dmaverify_obj_fn fn, void *arg);
int dmaverify_tracker_cache_init(void);
void dmaverify_tracker_cache_exit(void);

/* === Reports (report.c) === */

/**
 * struct dmaverify_report - what a check found, passed to the reporter
 * @v: the violation
 * @ctx: device context
 * @obj: the object concerned (tracked copy), or NULL
 * @freed: the object's release, for double frees, or NULL
 * @addr: the address passed by the call (DMA, CPU or S/G list)
 * @size: the size passed by the call
 * @dir: the direction passed by the call
 * @detail: extra text for the detail line ("mapped with ... unmapped with")
 * @leak: a leak report: every leaked object is printed (not rate-limited)
 *	and the title names the function that created the object
 * @creator_title: the title names the function that created the object
 *	(violations found by a scan, after the call that caused them)
 * @stack: another stack to print (as dmaverify_save_stack() returns), or 0;
 *	with @leak and no @obj, the title names its first function
 * @stack_what: what @stack did ("requested", "released")
 */
struct dmaverify_report {
	enum dmaverify_violation v;
	struct dmaverify_dev *ctx;
	const struct dmaverify_obj *obj;
	const struct dmaverify_freed *freed;
	unsigned long addr;
	size_t size;
	int dir;
	const char *detail;
	bool leak;
	bool creator_title;
	unsigned long stack;
	const char *stack_what;
};

void dmaverify_report(const struct dmaverify_report *r);
void dmaverify_violation(struct dmaverify_dev *ctx, enum dmaverify_violation v,
			 const struct dmaverify_obj *obj, unsigned long addr,
			 size_t size, int dir, const char *fmt, ...)
	__printf(7, 8);
void dmaverify_violation_found(struct dmaverify_dev *ctx,
			       enum dmaverify_violation v,
			       const struct dmaverify_obj *obj,
			       const char *fmt, ...) __printf(4, 5);
const char *dmaverify_dir_name(int dir);
void dmaverify_print_obj(struct seq_file *seq, const struct dmaverify_obj *obj);
void dmaverify_print_stack(struct seq_file *seq, unsigned long handle,
			   u32 when);
void dmaverify_print_creator(struct seq_file *seq, unsigned long handle,
			     u32 when);
int dmaverify_violations_show(struct seq_file *seq);
int dmaverify_reports_show(struct seq_file *seq);
void dmaverify_reports_exit(void);
void dmaverify_reports_reset(void);
void dmaverify_unverifiable(struct dmaverify_dev *ctx, long n);
void dmaverify_reports_init(void);
extern atomic_long_t dmaverify_total_violations[DV_VIOLATION_COUNT];

/*
 * Test hook: KUnit installs a function that receives every report with its
 * full text, before it is printed (the mm/kasan "kunit resource" idea).
 */
typedef void (*dmaverify_report_hook_t)(const struct dmaverify_report *r,
					const char *text);
void dmaverify_set_report_hook(dmaverify_report_hook_t hook);

/*
 * KUnit: a hook called where another CPU's call can interleave with this
 * one, so that a case can make that call there (kernels with KUnit only).
 */
enum dmaverify_test_point {
	DV_TEST_MAP_CHECKED,	/* A map was checked, not yet forwarded. */
	DV_TEST_SYNC_FOUND,	/* A sync found its mapping, not yet synced. */
	DV_TEST_OBSERVED,	/* An observer's handler runs (a map's entry). */
};

typedef void (*dmaverify_test_hook_t)(enum dmaverify_test_point point,
				      struct device *dev, u64 addr);
extern dmaverify_test_hook_t dmaverify_test_hook;

static __always_inline void dmaverify_test_point(enum dmaverify_test_point point,
						 struct device *dev, u64 addr)
{
#if IS_ENABLED(CONFIG_KUNIT)
	dmaverify_test_hook_t hook = READ_ONCE(dmaverify_test_hook);

	if (unlikely(hook))
		hook(point, dev, addr);
#endif
}

/* === Devices (attach.c) === */

/**
 * struct dmaverify_dev_hooks - what the layers above do with a device
 * @added: a device was attached (process context)
 * @removed: it is being detached (process context)
 */
struct dmaverify_dev_hooks {
	void (*added)(struct dmaverify_dev *ctx);
	void (*removed)(struct dmaverify_dev *ctx);
};

void dmaverify_set_dev_hooks(const struct dmaverify_dev_hooks *hooks);
void dmaverify_announce_dev(struct dmaverify_dev *ctx, bool added);

int dmaverify_attach(struct device *dev);
void dmaverify_release(struct dmaverify_dev *ctx);
void dmaverify_detach_all(void);
int dmaverify_bus_init(void);
void dmaverify_bus_exit(void);
int dmaverify_rebind_selected(const char *only);
int dmaverify_reprobe(struct device **devs, unsigned int n);
void dmaverify_selection_feedback(const char *name);
void dmaverify_selection_show(struct seq_file *seq);
void dmaverify_check_leaks(struct dmaverify_dev *ctx);
void dmaverify_gone_objects(struct dmaverify_gone *g, struct module *mod);

/* Attach a device directly (KUnit; the bus notifier does it otherwise). */
int dmaverify_attach_device(struct device *dev);
int dmaverify_attach_device_mode(struct device *dev, int mode);
void dmaverify_detach_device(struct device *dev);
void dmaverify_release_device(struct device *dev);
extern atomic_t dmaverify_test_fail_allocs;

struct dmaverify_dev *dmaverify_attach_port(struct device *dev);
void dmaverify_port_refused(struct device *dev, struct device *port,
			    const char *busy, long err);
struct dmaverify_dev *dmaverify_ctx_create(struct device *dev);
void dmaverify_ctx_destroy(struct dmaverify_dev *ctx);

/* === Indirect DMA: drivers above a port driver (indirect.c) === */

int dmaverify_indirect_init(void);
void dmaverify_indirect_exit(void);
struct dmaverify_dev *dmaverify_indirect_new(struct dmaverify_dev *port,
					     struct device *dev);
void dmaverify_indirect_free(struct dmaverify_dev *ctx);
struct dmaverify_dev *dmaverify_indirect_ctx(struct dmaverify_dev *port,
					     bool *forward);
bool dmaverify_indirect_released(struct dmaverify_dev *ctx, unsigned long key,
				 bool sg);
struct dmaverify_dev *dmaverify_indirect_owner(struct dmaverify_dev *port,
					       unsigned long key, bool sg);

/**
 * struct dmaverify_port_bus - a bus whose drivers are verified through a port
 * @node: entry in attach.c's list
 * @kind: the "as" word of stats' "selected" lines ("usb-driver")
 * @what: what a driver of the bus is, for the log ("a USB driver: its DMA
 *	is verified through its host controller")
 * @has_driver: whether a driver, or a module registering one, of that name
 *	is on the bus
 * @rebind: reprobe the bus's devices bound to a selected driver (@only: that
 *	driver only, if not NULL); the number reprobed.  NULL: none
 *
 * Registered by the buses (dmaverify_register_port_bus()): attach.c calls
 * into them only through this.
 */
struct dmaverify_port_bus {
	struct list_head node;
	const char *kind;
	const char *what;
	bool (*has_driver)(struct dmaverify_port_bus *pb, const char *name);
	int (*rebind)(struct dmaverify_port_bus *pb, const char *only);
};

void dmaverify_register_port_bus(struct dmaverify_port_bus *pb);
void dmaverify_unregister_port_bus(struct dmaverify_port_bus *pb);
bool dmaverify_names_eq(const char *a, const char *b);

/* === Drivers whose port carries their device alone (whole.c) === */

/**
 * struct dmaverify_whole_bus - a bus each port of which carries one device
 * @bus: the bus
 * @pb: the bus as attach.c knows it (@pb.kind and @pb.what set by the
 *	caller, the callbacks by dmaverify_whole_register())
 * @nb: its notifier
 * @port_name: what the port is, for the log ("virtio transport")
 * @port: the device that does @dev's DMA, or NULL with a reason in *@why
 * @bypass: NULL, or, called once the driver has probed: why @dev's DMA does
 *	not go through the DMA API, or NULL if it does
 * @drv_module: NULL, or the module of a driver registered without an owner,
 *	written to a buffer of MODULE_NAME_LEN bytes; NULL if unknown
 */
struct dmaverify_whole_bus {
	typeof(((struct device *)NULL)->bus) bus;
	struct dmaverify_port_bus pb;
	struct notifier_block nb;
	const char *port_name;
	struct device *(*port)(struct device *dev, const char **why);
	const char *(*bypass)(struct device *dev);
	const char *(*drv_module)(struct device_driver *drv, char *buf);
};

int dmaverify_whole_register(struct dmaverify_whole_bus *wb);
void dmaverify_whole_unregister(struct dmaverify_whole_bus *wb);
int dmaverify_virtio_init(void);
void dmaverify_virtio_exit(void);
int dmaverify_mmc_init(void);
void dmaverify_mmc_exit(void);

/* === Forwarding ops (ops.c) and twins (twin.c) === */

void dmaverify_init_ops(struct dma_map_ops *ops);
struct device *dmaverify_twin_create(struct device *dev,
				     const struct dma_map_ops *orig_ops,
				     bool orig_iommu);
bool dmaverify_twin_direct(struct device *twin);
void dmaverify_twin_refresh(struct device *twin, struct device *dev);
void dmaverify_twin_release(struct device *twin);
void dmaverify_twin_destroy(struct device *twin);

/* === Checks (checks.c) === */

void dmaverify_check_context(struct dmaverify_dev *ctx, bool may_sleep_alloc,
			     bool is_free);
bool dmaverify_check_map_buffer(struct dmaverify_dev *ctx, phys_addr_t phys,
				const void *vaddr, size_t size, int dir);
bool dmaverify_dma_addr_ok(struct device *dev, dma_addr_t addr, size_t size,
			   bool coherent);
void dmaverify_check_dma_addr(struct dmaverify_dev *ctx,
			      const struct dmaverify_obj *obj, dma_addr_t addr,
			      size_t size, bool coherent);
void dmaverify_check_sg_segments(struct dmaverify_dev *ctx,
				 struct scatterlist *sgl, int mapped);
u32 dmaverify_sg_csum(struct scatterlist *sgl, int nents);
bool dmaverify_check_release(struct dmaverify_dev *ctx,
			     const struct dmaverify_obj *obj, int kind,
			     size_t size, int dir, unsigned long cpu_addr,
			     int nents);
void dmaverify_check_overlap(struct dmaverify_dev *ctx, phys_addr_t phys,
			     size_t size, int dir,
			     const struct dmaverify_obj *self);
void dmaverify_check_sync(struct dmaverify_dev *ctx,
			  const struct dmaverify_obj *obj, dma_addr_t addr,
			  size_t size, int dir, bool for_cpu);
void dmaverify_check_sync_sg(struct dmaverify_dev *ctx,
			     const struct dmaverify_obj *obj, int nents, int dir,
			     bool for_cpu);
int dmaverify_checks_init(void);

/* === Redzones and bounce buffers (redzone.c) === */

extern bool dmaverify_bounce;
extern bool dmaverify_bounce_device_writes;
extern bool dmaverify_redzone;

int dmaverify_bounce_map(struct dmaverify_dev *ctx, struct dmaverify_obj *obj,
			 unsigned long attrs);
void dmaverify_bounce_unmap(struct dmaverify_dev *ctx, struct dmaverify_obj *obj,
			    unsigned long attrs);
bool dmaverify_bounce_sync(struct dmaverify_dev *ctx,
			   const struct dmaverify_obj *obj, dma_addr_t addr,
			   size_t size, bool for_cpu);
int dmaverify_bounce_map_sg(struct dmaverify_dev *ctx, struct dmaverify_obj *obj,
			    struct scatterlist *sgl, int nents, unsigned long attrs);
void dmaverify_bounce_unmap_sg(struct dmaverify_dev *ctx,
			       struct dmaverify_obj *obj,
			       struct scatterlist *sgl, unsigned long attrs);
bool dmaverify_bounce_sync_sg(struct dmaverify_dev *ctx,
			      const struct dmaverify_obj *obj,
			      struct scatterlist *sgl, bool for_cpu);
void *dmaverify_redzone_alloc(struct dmaverify_dev *ctx,
			      struct dmaverify_obj *obj, gfp_t gfp,
			      unsigned long attrs);
void dmaverify_redzone_free(struct dmaverify_dev *ctx,
			    const struct dmaverify_obj *obj, unsigned long attrs);
void dmaverify_reclaim(struct dmaverify_dev *ctx);
void dmaverify_quarantine_init(struct dmaverify_dev *ctx);
void dmaverify_quarantine_flush(struct dmaverify_dev *ctx);
void dmaverify_bounce_unavailable(struct dmaverify_dev *ctx, size_t size);
void dmaverify_bounce_pool_fill(struct dmaverify_dev *ctx);
void dmaverify_bounce_show(struct seq_file *seq, struct dmaverify_dev *ctx);
bool dmaverify_quarantined(struct dmaverify_dev *ctx, dma_addr_t addr);

/**
 * dmaverify_sample_released() - a sampled buffer released lately?
 * @ctx: a sampled device
 * @addr: a DMA address a release or sync names, unknown to the tracker
 *
 * A released sampled buffer stays mapped by dmaverify, poisoned, in the
 * quarantine: a release or sync of its address is a double unmap or a sync
 * after unmap, not the release of an object that was not sampled.  Cheap
 * when nothing matches: one word of the device tested.
 *
 * Return: true if @addr starts a quarantined sampled buffer of @ctx.
 */
static __always_inline bool dmaverify_sample_released(struct dmaverify_dev *ctx,
						      dma_addr_t addr)
{
	return unlikely(READ_ONCE(ctx->quarantine_filter) &
			BIT(hash_64(addr, ilog2(BITS_PER_LONG)))) &&
	       dmaverify_quarantined(ctx, addr);
}

void dmaverify_scan_dev(struct dmaverify_dev *ctx);
void dmaverify_scan_all(void);
void dmaverify_redzone_init(void);
void dmaverify_redzone_exit(void);

/* === Guarded slot pool (pool.c) === */

#define DV_SLOT_ORDER	2			/* Pages per slot: 2^order. */
#define DV_SLOT_SIZE	(PAGE_SIZE << DV_SLOT_ORDER)

/**
 * struct dmaverify_slot - one preallocated guarded slot
 * @node: entry in the pool's free list while free
 * @cpu: DV_SLOT_SIZE bytes of directly mapped memory
 * @meta: the user's header (its size given to dmaverify_pool_setup())
 */
struct dmaverify_slot {
	struct list_head node;
	void *cpu;
	unsigned long meta[];
};

struct dmaverify_slot *dmaverify_pool_get(void);
void dmaverify_pool_put(struct dmaverify_slot *slot);
void dmaverify_pool_setup(size_t meta_size);
void dmaverify_pool_destroy(void);
void dmaverify_pool_show(struct seq_file *seq);
unsigned int dmaverify_pool_slots(void);
void dmaverify_bounce_pool_setup(void);

/* === Sampled mode (sample.c) === */

#define DV_SAMPLE_COHERENT_EVERY 8	/* Gate openings per coherent sample. */

extern unsigned int dmaverify_sample_interval;
extern atomic_t dmaverify_sample_gate;
extern atomic_t dmaverify_sample_gate_coherent;
extern atomic_long_t dmaverify_sample_hits;

/**
 * dmaverify_sample_due() - whether this call takes the sample
 * @gate: &dmaverify_sample_gate or &dmaverify_sample_gate_coherent
 *
 * Between samples: one read of a shared, rarely written word, and a
 * branch predicted not taken.
 *
 * Return: true for exactly one caller per opening of @gate.
 */
static __always_inline bool dmaverify_sample_due(atomic_t *gate)
{
	if (likely(atomic_read(gate)))
		return false;
	return atomic_inc_return(gate) == 1;
}

void dmaverify_sample_taken(bool coherent);
void dmaverify_sample_missed(atomic_t *reopen);
void dmaverify_sample_show(struct seq_file *seq);
void dmaverify_sample_init(void);
void dmaverify_sample_exit(void);

/* === DebugFS (debugfs.c) === */

int dmaverify_debugfs_init(void);
void dmaverify_debugfs_exit(void);

#ifdef CONFIG_FAULT_INJECTION
extern struct fault_attr dmaverify_fail_track;
extern struct fault_attr dmaverify_fail_bounce;
extern struct fault_attr dmaverify_fail_map;

/*
 * Whether fault attribute @attr fails this call (@size: its weight).  No
 * should_fail() call unless @attr is armed or, with @nth, the task has a
 * fail-nth: it was 8% of a forwarded map+unmap.  A task's fail-nth counts
 * the driver's maps (fail_map), not dmaverify's own allocations.
 */
static __always_inline bool dmaverify_should_fail(struct fault_attr *attr,
						  size_t size, bool nth)
{
	if (likely(!READ_ONCE(attr->probability) &&
		   (!nth || !in_task() || !READ_ONCE(current->fail_nth))))
		return false;
	return should_fail(attr, size);
}

/*
 * Around an allocation of dmaverify's own: on a kernel with failslab or
 * fail_page_alloc, every allocation that may fail counts the task's
 * fail-nth down, which would then fail dmaverify's allocation instead of
 * the driver's Nth map.  The count is put aside meanwhile.
 */
static __always_inline unsigned int dmaverify_nth_hold(void)
{
	unsigned int nth;

	if (!in_task())
		return 0;
	nth = READ_ONCE(current->fail_nth);
	if (unlikely(nth))
		WRITE_ONCE(current->fail_nth, 0);
	return nth;
}

static __always_inline void dmaverify_nth_restore(unsigned int nth)
{
	if (unlikely(nth))
		WRITE_ONCE(current->fail_nth, nth);
}
#else
static __always_inline unsigned int dmaverify_nth_hold(void)
{
	return 0;
}

static __always_inline void dmaverify_nth_restore(unsigned int nth)
{
}
#endif

/* === Object life (objects.c) === */

/*
 * Whether to check and track this call.  Not from NMI: the tracker's locks
 * may be held by the code the NMI interrupted.  An NMI call is reported
 * (0x14) and forwarded untracked.
 */
static __always_inline bool dmaverify_verifying(void)
{
	return READ_ONCE(dmaverify_enabled) && !in_nmi();
}

int dmaverify_objects_init(struct dmaverify_dev *ctx);
void dmaverify_objects_destroy(struct dmaverify_dev *ctx);
void dmaverify_stats_peak(struct dmaverify_dev *ctx, int kind);
void dmaverify_kind_stats(struct dmaverify_dev *ctx, int kind,
			  struct dmaverify_kind_stats *out);

/* Creations per CPU between two samples of the peaks. */
#define DV_PEAK_SAMPLE	64

/*
 * Statistics are counted on this CPU only: no shared cache line on the
 * hot path.
 */
static __always_inline void dmaverify_stats_add(struct dmaverify_dev *ctx,
						int kind, size_t size)
{
	this_cpu_inc(ctx->pcpu->allocated[kind]);
	this_cpu_add(ctx->pcpu->bytes[kind], size);
	if (unlikely(!(this_cpu_inc_return(ctx->pcpu->peak_tick) % DV_PEAK_SAMPLE)))
		dmaverify_stats_peak(ctx, kind);
}

static __always_inline void dmaverify_stats_sub(struct dmaverify_dev *ctx,
						int kind, size_t size)
{
	this_cpu_inc(ctx->pcpu->released[kind]);
	this_cpu_sub(ctx->pcpu->bytes[kind], size);
}

/**
 * dmaverify_untracked_new() - count an object that is not tracked
 * @ctx: device context
 * @kind: &enum dmaverify_kind
 * @size: its size
 *
 * Verification is off (or no entry could be allocated): the object is
 * counted on this CPU, and its release will be let through unreported
 * (dmaverify_untracked_release()).
 */
static __always_inline void dmaverify_untracked_new(struct dmaverify_dev *ctx,
						    int kind, size_t size)
{
	dmaverify_stats_add(ctx, kind, size);
	atomic_long_inc(raw_cpu_ptr(&ctx->pcpu->untracked));
	this_cpu_inc(ctx->pcpu->untracked_total);
}

/**
 * dmaverify_untracked_release() - a release nothing tracked can name
 * @ctx: device context
 * @kind: &enum dmaverify_kind the release function handles
 * @size: the size it names
 *
 * The forwarding-only path's release: while nothing was ever tracked, a
 * release of an object this CPU counted untracked needs no lookup.
 *
 * Return: true if one was taken back (and counted released); else the
 * caller goes through dmaverify_find_release().
 */
static __always_inline bool dmaverify_untracked_release(struct dmaverify_dev *ctx,
							int kind, size_t size)
{
	if (!atomic_long_add_unless(raw_cpu_ptr(&ctx->pcpu->untracked), -1, 0))
		return false;
	dmaverify_stats_sub(ctx, kind, size);
	return true;
}

long dmaverify_untracked(struct dmaverify_dev *ctx);
long dmaverify_untracked_total(struct dmaverify_dev *ctx);
bool dmaverify_find_freed(struct dmaverify_dev *ctx, unsigned long key, bool sg,
			  struct dmaverify_freed *out);
bool dmaverify_find_freed_match(struct dmaverify_dev *ctx,
				bool (*match)(const struct dmaverify_obj *obj,
					      const void *arg),
				const void *arg, struct dmaverify_freed *out);
void dmaverify_track_obj(struct dmaverify_dev *ctx, struct dmaverify_obj *obj);
struct dmaverify_obj *dmaverify_obj_new(struct dmaverify_dev *ctx, int kind,
					unsigned long key, size_t size, int dir);
void dmaverify_track_created(struct dmaverify_dev *ctx,
			     struct dmaverify_obj *obj, const unsigned long *ra);
void dmaverify_track_new(struct dmaverify_dev *ctx,
			 const struct dmaverify_obj *tmpl,
			 const unsigned long *ra);
bool dmaverify_unknown_release(struct dmaverify_dev *ctx,
			       enum dmaverify_violation v, int kind,
			       unsigned long key, size_t size, int dir);
void dmaverify_released(struct dmaverify_dev *ctx, struct dmaverify_obj *obj);
void dmaverify_report_failed_mapping(struct dmaverify_dev *ctx, size_t size,
				     int dir);

/**
 * dmaverify_used_failed_mapping() - a call passes DMA_MAPPING_ERROR back
 * @ctx: device context
 * @addr: the DMA address the call names
 * @size: its size
 * @dir: its direction
 *
 * Return: true (and reported) if @addr is DMA_MAPPING_ERROR.
 */
static __always_inline bool
dmaverify_used_failed_mapping(struct dmaverify_dev *ctx, dma_addr_t addr,
			      size_t size, int dir)
{
	if (likely(addr != DMA_MAPPING_ERROR))
		return false;
	dmaverify_report_failed_mapping(ctx, size, dir);
	return true;
}

struct dmaverify_obj *dmaverify_find_release(struct dmaverify_dev *ctx,
					     enum dmaverify_violation unknown,
					     int kind, dma_addr_t key,
					     size_t size, int dir,
					     unsigned long cpu_addr,
					     bool *forward);

/* === dmaengine clients (dmaengine.c) === */

void dmaverify_dmaengine_init(void);
void dmaverify_dmaengine_exit(void);
void dmaverify_dmaengine_attach(struct dmaverify_dev *ctx);
void dmaverify_dmaengine_release(struct dmaverify_dev *ctx);
void dmaverify_dmaengine_forget(struct dmaverify_dev *ctx);
void dmaverify_dmaengine_unmapped(struct dmaverify_dev *ctx,
				  const struct dmaverify_obj *obj);
void dmaverify_dmaengine_show(struct seq_file *seq, struct dmaverify_dev *ctx);

/* === Device faults behind an IOMMU (iommu.c) === */

struct dmaverify_iommu;

int dmaverify_iommu_init(void);
void dmaverify_iommu_exit(void);
void dmaverify_iommu_attach(struct dmaverify_dev *ctx);
void dmaverify_iommu_free(struct dmaverify_dev *ctx);
void dmaverify_iommu_show(struct seq_file *seq, struct dmaverify_dev *ctx);
extern const struct file_operations dmaverify_faults_fops;

/* A fault as the IOMMU reported it. */
#define DV_FAULT_READ	0x1	/* The access was a read (from memory). */
#define DV_FAULT_WRITE	0x2	/* The access was a write (to memory). */

void dmaverify_iommu_fault(struct device *dev, u16 source_id, u64 iova,
			   unsigned int access);
void dmaverify_iommu_flush(void);

/**
 * struct dmaverify_fault_line - a fault read from an IOMMU driver's log line
 * @iova: the faulting address
 * @sid: the PCI requester id (bus << 8 | devfn)
 * @seg: its PCI segment, or -1 if the line does not say
 * @access: DV_FAULT_READ or DV_FAULT_WRITE
 * @amd: amd-iommu's line (else intel-iommu's)
 */
struct dmaverify_fault_line {
	u64 iova;
	u16 sid;
	int seg;
	unsigned int access;
	bool amd;
};

bool dmaverify_iommu_parse_line(const char *text, size_t len,
				struct dmaverify_fault_line *fl);

/* === Observe-only mode (observe.c) === */

enum dmaverify_mode {
	DV_MODE_AUTO,		/* dma_map_ops where the kernel has them. */
	DV_MODE_OPS,		/* Interpose: dma_map_ops (ops.c). */
	DV_MODE_OBSERVE,	/* Observe: probes on the DMA API (observe.c). */
};

extern int dmaverify_mode;

/**
 * dmaverify_interposer_available() - whether devices can get dma_map_ops
 *
 * Return: true if this kernel has per-device dma_map_ops
 * (CONFIG_ARCH_HAS_DMA_OPS, CONFIG_DMA_OPS before 6.x).
 */
static inline bool dmaverify_interposer_available(void)
{
#ifdef DMAVERIFY_HAVE_DEV_DMA_OPS
	return true;
#else
	return false;
#endif
}

int dmaverify_observe_attach(struct dmaverify_dev *ctx);
void dmaverify_observe_detach(struct dmaverify_dev *ctx);
unsigned long dmaverify_observe_missed(void);
const char *dmaverify_observe_probes(void);
void dmaverify_observe_exit(void);
void dmaverify_observe_forget(struct device *dev);
void dmaverify_observe_show(struct seq_file *seq);

unsigned long dmaverify_observe_missed_creations(void);
bool dmaverify_observe_stale_slow(struct dmaverify_dev *ctx,
				  const struct dmaverify_obj *obj);

/**
 * dmaverify_observe_stale() - whether a tracked object may be stale
 * @ctx: device context
 * @obj: one of its objects
 *
 * Return: true if @ctx is observed and a release may have been missed since
 * @obj was created: then @obj cannot be blamed for anything.
 */
static __always_inline bool
dmaverify_observe_stale(struct dmaverify_dev *ctx,
			const struct dmaverify_obj *obj)
{
	return ctx->observe && dmaverify_observe_stale_slow(ctx, obj);
}

/*
 * Whether the observer may have missed the creation of one of @ctx's
 * objects: a release it does not know is then not a violation.
 */
static inline bool dmaverify_observe_lossy(struct dmaverify_dev *ctx)
{
	return ctx->observe &&
	       dmaverify_observe_missed_creations() != ctx->missed_base;
}

#endif /* DMAVERIFY_DMAVERIFY_H */
