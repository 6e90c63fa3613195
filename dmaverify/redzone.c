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
 * dmaverify's with redzones on both sides, and the same offset in its page
 * as the driver's buffer (min_align_mask).  Data moves at map, sync and
 * unmap as the direction says.  FROM_DEVICE data is poisoned (0xDB) in the
 * driver's buffer and in the bounce buffer, so that data the device never
 * wrote, or that the driver read without a sync, shows as poison.  A
 * released bounce buffer is poisoned and kept in a quarantine before it is
 * used again: a device write after unmap shows there.  Fingerprints of the
 * driver's buffer catch the CPU writing to a buffer the device owns.
 *
 *   | redzone (>= 1 page) | buffer | redzone (rest of page + >= 1 page) |
 *                         ^ same offset in page as the driver's buffer
 *
 * The buffers come from a pool per device: slots of DV_SLOT_SIZE bytes,
 * allocated and mapped through the device's original DMA path (its twin: so
 * masks and IOMMUs hold) in process context by a worker, filled with
 * redzone bytes once.  A map takes a slot without allocating; an unmap
 * poisons the buffer and puts the slot at the tail of the device's
 * quarantine, a FIFO; a map takes the head only while more than
 * quarantine= slots wait behind it, else a fresh slot, else (the pool is
 * growing, or the map is larger than a slot) a buffer allocated for it
 * (GFP_ATOMIC, counted).  What each operation checks is bounded: the
 * RZ_WINDOW bytes on each side of the buffer at every sync and unmap (where
 * an overrun lands first), the poison of the slot's last buffer and the
 * bytes next to it when a slot is used again.  The scan worker
 * (scan_interval_ms) checks every released slot whole.  A slot remembers
 * which of its bytes hold poison; a new map rewrites only the bytes whose
 * role changes (none when it has the size and offset of the slot's last
 * buffer), and a redzone is restored only where a check found it dirty.
 */

#define pr_fmt(fmt) "dmaverify: " fmt

#include <linux/dma-mapping.h>
#include <linux/highmem.h>
#include <linux/jiffies.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/rcupdate.h>
#include <linux/scatterlist.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>
#include <linux/workqueue.h>
#include <linux/fault-inject.h>

#include "dmaverify.h"

#define REDZONE_BYTE	0x0F	/* Windows' DMA verifier padding. */
#define POISON_BYTE	0xDB	/* Data no one has written yet. */

bool dmaverify_bounce;
EXPORT_SYMBOL_FOR_DV_TESTS(dmaverify_bounce);
static void bpool_grow_all(void);

/* bounce=1 at run time: the verified devices' pools start to fill now. */
static int bounce_set(const char *val, const struct kernel_param *kp)
{
	int ret = param_set_bool(val, kp);

	if (!ret && READ_ONCE(dmaverify_bounce))
		bpool_grow_all();
	return ret;
}

static const struct kernel_param_ops bounce_ops = {
	.set = bounce_set,
	.get = param_get_bool,
};

module_param_cb(bounce, &bounce_ops, &dmaverify_bounce, 0644);
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
 *	then the buffer is a coherent allocation, or a slot of the device's
 *	pool (@page).  A slot is a streaming mapping of dmaverify's
 *	(bidirectional, through the twin), synced around every CPU access
 * @page: a slot of the device's bounce pool: its pages, mapped through the
 *	twin for as long as the slot lives; NULL otherwise
 * @gen: a pool slot: times it was taken (set under @lock; a sync checks
 *	that the slot still holds the mapping it found)
 * @plo: a pool slot, released: start of the bytes that hold poison (the
 *	last buffer); every other byte holds redzone bytes
 * @phi: ... and their end (@plo == @phi: none)
 * @need_sync: a pool slot whose mapping needs cache maintenance or goes
 *	through swiotlb (dma_need_sync()): synced around CPU accesses
 * @rz_dirty: a pool slot in which a check found redzone bytes modified:
 *	restored whole before it is used again
 * @csum_ok: @csum is the fingerprint of the driver's buffer (not taken at
 *	a sync while the CPU-write checks were off)
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
	struct page *page;
	u32 gen;
	u32 plo;
	u32 phi;
	bool need_sync;
	bool rz_dirty;
	bool csum_ok;
	unsigned long free_stack;
	u32 free_when;
	int free_pid;
	int free_cpu;
};

/*
 * The bounce buffers of an S/G list, one per segment, each with the use
 * count of its slot when it was mapped.  Freed after an RCU grace period,
 * like the buffers: a sync may have found it just before the unmap.
 */
struct dmaverify_bounce_sg {
	struct rcu_head rcu;
	struct {
		struct dmaverify_bounce *b;
		u32 gen;
	} segs[];
};

/* Bytes of redzone checked on each side of a buffer at every unmap and sync. */
#define RZ_WINDOW	64

/* Slots a refill of a device's pool adds, and the most a device has. */
#define BPOOL_BATCH	16
#define BPOOL_MAX	1024

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

/*
 * Copy and fill with 64-bit loads and stores.  The kernel's memcpy() and
 * memset() of a length known only at run time are "rep movsb" and "rep
 * stosb" on CPUs with FSRM/FSRS, which QEMU's TCG (the bench, the tests)
 * emulates a byte at a time: there these loops are several times faster;
 * on hardware both are fast.
 */
static void copy_words(u8 *dst, const u8 *src, size_t len)
{
	u64 w0, w1, w2, w3;

	for (; len >= 32; dst += 32, src += 32, len -= 32) {
		memcpy(&w0, src, 8);
		memcpy(&w1, src + 8, 8);
		memcpy(&w2, src + 16, 8);
		memcpy(&w3, src + 24, 8);
		memcpy(dst, &w0, 8);
		memcpy(dst + 8, &w1, 8);
		memcpy(dst + 16, &w2, 8);
		memcpy(dst + 24, &w3, 8);
	}
	for (; len >= 8; dst += 8, src += 8, len -= 8) {
		memcpy(&w0, src, 8);
		memcpy(dst, &w0, 8);
	}
	for (; len; dst++, src++, len--)
		*dst = *src;
}

static void fill_words(u8 *p, u8 byte, size_t len)
{
	u64 v = 0x0101010101010101ULL * byte;

	for (; len >= 32; p += 32, len -= 32) {
		memcpy(p, &v, 8);
		memcpy(p + 8, &v, 8);
		memcpy(p + 16, &v, 8);
		memcpy(p + 24, &v, 8);
	}
	for (; len >= 8; p += 8, len -= 8)
		memcpy(p, &v, 8);
	for (; len; p++, len--)
		*p = byte;
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
			copy_words(va + off, buf, n);
		else
			copy_words(buf, va + off, n);
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

		fill_words(va + off, byte, n);
		kunmap_local(va);
		phys += n;
		len -= n;
	}
}

/*
 * The fingerprint of the CPU-write check: a multiply-xor chain over 64-bit
 * words, several times cheaper than crc32_le() (bench: "bounce fingerprint"
 * and "crc32_le" of 4 KiB).  It finds any change of one word; it is not
 * meant to resist a buffer crafted to collide.
 */
#define FP_MUL	0x9e3779b97f4a7c15ULL
#define FP_SEED	0x6a09e667f3bcc909ULL

static u64 fp_bytes(u64 h, const u8 *p, size_t len)
{
	u64 w0, w1, w2, w3;

	/* Unrolled: under emulation every loop branch costs as much as work. */
	for (; len >= 32; p += 32, len -= 32) {
		memcpy(&w0, p, 8);
		memcpy(&w1, p + 8, 8);
		memcpy(&w2, p + 16, 8);
		memcpy(&w3, p + 24, 8);
		h = (h ^ w0) * FP_MUL;
		h = (h ^ w1) * FP_MUL;
		h = (h ^ w2) * FP_MUL;
		h = (h ^ w3) * FP_MUL;
	}
	for (; len >= 8; p += 8, len -= 8) {
		memcpy(&w0, p, 8);
		h = (h ^ w0) * FP_MUL;
	}
	for (; len; p++, len--)
		h = (h ^ *p) * FP_MUL;
	return h;
}

/* Copy @len bytes to @dst and fingerprint them, in one pass. */
static u64 copy_fp_bytes(u64 h, u8 *dst, const u8 *src, size_t len)
{
	u64 w0, w1, w2, w3;

	for (; len >= 32; dst += 32, src += 32, len -= 32) {
		memcpy(&w0, src, 8);
		memcpy(&w1, src + 8, 8);
		memcpy(&w2, src + 16, 8);
		memcpy(&w3, src + 24, 8);
		memcpy(dst, &w0, 8);
		memcpy(dst + 8, &w1, 8);
		memcpy(dst + 16, &w2, 8);
		memcpy(dst + 24, &w3, 8);
		h = (h ^ w0) * FP_MUL;
		h = (h ^ w1) * FP_MUL;
		h = (h ^ w2) * FP_MUL;
		h = (h ^ w3) * FP_MUL;
	}
	for (; len >= 8; dst += 8, src += 8, len -= 8) {
		memcpy(&w0, src, 8);
		memcpy(dst, &w0, 8);
		h = (h ^ w0) * FP_MUL;
	}
	for (; len; dst++, src++, len--) {
		*dst = *src;
		h = (h ^ *src) * FP_MUL;
	}
	return h;
}

static u32 fp_fold(u64 h)
{
	return (u32)(h ^ (h >> 32));
}

static u32 csum_phys(phys_addr_t phys, size_t len)
{
	u64 h = FP_SEED;

	while (len) {
		struct page *page = pfn_to_page(PHYS_PFN(phys));
		size_t off = offset_in_page(phys);
		size_t n = min_t(size_t, len, PAGE_SIZE - off);
		u8 *va = kmap_local_page(page);

		h = fp_bytes(h, va + off, n);
		kunmap_local(va);
		phys += n;
		len -= n;
	}
	return fp_fold(h);
}

/*
 * Copy the driver's buffer into a bounce buffer.  Return: its fingerprint,
 * taken in the same pass (as csum_phys() would give it).
 */
static u32 copy_phys_fp(phys_addr_t phys, void *buf, size_t len)
{
	u64 h = FP_SEED;

	while (len) {
		struct page *page = pfn_to_page(PHYS_PFN(phys));
		size_t off = offset_in_page(phys);
		size_t n = min_t(size_t, len, PAGE_SIZE - off);
		u8 *va = kmap_local_page(page);

		h = copy_fp_bytes(h, buf, va + off, n);
		kunmap_local(va);
		phys += n;
		buf += n;
		len -= n;
	}
	return fp_fold(h);
}

/* The fingerprint of @len poison bytes (a FROM_DEVICE map's driver buffer). */
static u32 poison_fp(struct dmaverify_dev *ctx, size_t len)
{
	unsigned long cached = READ_ONCE(ctx->bpool.fp_poison);
	u64 h = FP_SEED;
	size_t i;
	u32 fp;

	if (BITS_PER_LONG == 64 && len < SZ_4G && cached >> 32 == len)
		return (u32)cached;
	for (i = 0; i + 8 <= len; i += 8)
		h = (h ^ (0x0101010101010101ULL * POISON_BYTE)) * FP_MUL;
	for (; i < len; i++)
		h = (h ^ POISON_BYTE) * FP_MUL;
	fp = fp_fold(h);
	if (BITS_PER_LONG == 64 && len < SZ_4G)
		WRITE_ONCE(ctx->bpool.fp_poison, (unsigned long)((u64)len << 32 | fp));
	return fp;
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
	    !b->csum_ok || csum_phys(phys, b->size) != b->csum ||
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

/*
 * Whether [p, p + len) holds only @byte: the common case of a check, read
 * at full speed (a test per 32 bytes, no early exit), before
 * find_corruption() looks for where.
 */
static bool all_bytes(const u8 *p, size_t len, u8 byte)
{
	u64 v = 0x0101010101010101ULL * byte, acc = 0, w0, w1, w2, w3;

	for (; len >= 32; p += 32, len -= 32) {
		memcpy(&w0, p, 8);
		memcpy(&w1, p + 8, 8);
		memcpy(&w2, p + 16, 8);
		memcpy(&w3, p + 24, 8);
		acc |= (w0 ^ v) | (w1 ^ v) | (w2 ^ v) | (w3 ^ v);
	}
	for (; len >= 8; p += 8, len -= 8) {
		memcpy(&w0, p, 8);
		acc |= w0 ^ v;
	}
	for (; len; p++, len--)
		acc |= *p ^ byte;
	return !acc;
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
	if (b->slot || b->need_sync)
		dma_sync_single_for_cpu(b->twin, b->dma, b->total,
					DMA_BIDIRECTIONAL);
}

/* ... and as the device must see it (after writing it). */
static void slot_for_device(struct dmaverify_bounce *b)
{
	if (b->slot || b->need_sync)
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
	fill_words(b->cpu, REDZONE_BYTE, total);
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

/* === The device's pool of bounce slots === */

/*
 * A new slot for @ctx's pool: pages the device reaches, filled with redzone
 * bytes, mapped through the twin for good.  Context: process.
 */
static struct dmaverify_bounce *bslot_new(struct dmaverify_dev *ctx)
{
	gfp_t gfp = GFP_KERNEL | __GFP_NOWARN;
	struct device *twin = ctx->twin;
	struct dmaverify_bounce *b;
	struct page *page;
	dma_addr_t dma;

	if (IS_ENABLED(CONFIG_ZONE_DMA32) && dma_get_mask(ctx->dev) <= DMA_BIT_MASK(32))
		gfp |= GFP_DMA32;
	b = kzalloc(sizeof(*b), GFP_KERNEL);
	if (!b)
		return NULL;
	page = alloc_pages(gfp, DV_SLOT_ORDER);
	if (!page)
		goto out_b;
	memset(page_address(page), REDZONE_BYTE, DV_SLOT_SIZE);
	dma = dma_map_page_attrs(twin, page, 0, DV_SLOT_SIZE, DMA_BIDIRECTIONAL, 0);
	if (dma_mapping_error(twin, dma))
		goto out_page;
	if (!dmaverify_dma_addr_ok(ctx->dev, dma, DV_SLOT_SIZE, false)) {
		dma_unmap_page_attrs(twin, dma, DV_SLOT_SIZE, DMA_BIDIRECTIONAL, 0);
		goto out_page;
	}
	raw_spin_lock_init(&b->lock);
	b->dead = true;
	b->page = page;
	b->cpu = page_address(page);
	b->dma = dma;
	b->total = DV_SLOT_SIZE;
	b->need_sync = dma_need_sync(twin, dma);
	b->twin = get_device(twin);
	return b;

out_page:
	__free_pages(page, DV_SLOT_ORDER);
out_b:
	kfree(b);
	return NULL;
}

/*
 * Whether @p should grow: fewer than BPOOL_BATCH fresh slots, or too few
 * free ones for the quarantine to fill up with BPOOL_BATCH to spare.
 */
static bool bpool_short(struct dmaverify_bpool *p)
{
	return READ_ONCE(p->nr_total) < BPOOL_MAX &&
	       (READ_ONCE(p->nr_fresh) < BPOOL_BATCH / 2 ||
		READ_ONCE(p->nr_fresh) + READ_ONCE(p->nr_fifo) <
		READ_ONCE(quarantine_max) + BPOOL_BATCH);
}

/* Grow @ctx's pool until it is not short. */
static void bpool_refill_fn(struct work_struct *work)
{
	struct dmaverify_bpool *p = container_of(work, struct dmaverify_bpool, refill);
	struct dmaverify_dev *ctx = container_of(p, struct dmaverify_dev, bpool);
	struct dmaverify_bounce *b;
	unsigned long flags;

	while (bpool_short(p)) {
		b = bslot_new(ctx);
		if (!b) {
			atomic_long_inc(&p->refill_failed);
			/* Not again at every map: in a second at the earliest. */
			WRITE_ONCE(p->stalled_until, (jiffies + HZ) | 1);
			break;
		}
		WRITE_ONCE(p->stalled_until, 0);
		raw_spin_lock_irqsave(&p->lock, flags);
		list_add_tail(&b->node, &p->fresh);
		p->nr_fresh++;
		p->nr_total++;
		raw_spin_unlock_irqrestore(&p->lock, flags);
		cond_resched();
	}
}

/* Whether @ctx bounces through its pool (interposed, fully verified). */
static bool bpool_used(struct dmaverify_dev *ctx)
{
	return ctx->twin && !ctx->observe && !ctx->sampled;
}

static void bpool_grow_all(void)
{
	struct dmaverify_dev *ctx;

	mutex_lock(&dmaverify_devices_lock);
	list_for_each_entry(ctx, &dmaverify_devices, list)
		if (bpool_used(ctx))
			schedule_work(&ctx->bpool.refill);
	mutex_unlock(&dmaverify_devices_lock);
}

/**
 * dmaverify_bounce_pool_fill() - grow a device's bounce pool now
 * @ctx: device context
 *
 * What the refill worker does when a map finds the pool short: grows it to
 * quarantine= + BPOOL_BATCH free slots (BPOOL_MAX at most).  Context:
 * process.
 */
void dmaverify_bounce_pool_fill(struct dmaverify_dev *ctx)
{
	bpool_refill_fn(&ctx->bpool.refill);
}
EXPORT_SYMBOL_FOR_DV_TESTS(dmaverify_bounce_pool_fill);

/**
 * dmaverify_quarantine_init() - set up a new context's quarantine and pool
 * @ctx: device context, zeroed
 */
void dmaverify_quarantine_init(struct dmaverify_dev *ctx)
{
	struct dmaverify_bpool *p = &ctx->bpool;

	raw_spin_lock_init(&ctx->quarantine_lock);
	INIT_LIST_HEAD(&ctx->quarantine);
	raw_spin_lock_init(&p->lock);
	INIT_LIST_HEAD(&p->fresh);
	INIT_LIST_HEAD(&p->fifo);
	INIT_WORK(&p->refill, bpool_refill_fn);
}

/* Set [lo, hi) of @base to @byte (nothing if empty). */
static void fill_range(u8 *base, size_t lo, size_t hi, u8 byte)
{
	if (hi > lo)
		fill_words(base + lo, byte, hi - lo);
}

/*
 * First and last offsets in [lo, hi) of @base that are not @byte, relative
 * to @lo, or false.
 */
static bool range_dirty(const u8 *base, size_t lo, size_t hi, u8 byte,
			size_t *first, size_t *last)
{
	return hi > lo && !all_bytes(base + lo, hi - lo, byte) &&
	       find_corruption(base + lo, hi - lo, byte, first, last);
}

static void report_released(struct dmaverify_dev *ctx,
			    struct dmaverify_bounce *b, const char *detail);
static void bounce_discard(struct dmaverify_dev *ctx, struct dmaverify_bounce *b);

/*
 * A released pool slot about to be used again for [a, e): its last buffer
 * must still hold poison, and the bytes next to it and next to [a, e)
 * redzone bytes (a device writing after unmap, or past the buffer after
 * unmap).  Bounded: the last buffer's size, and RZ_WINDOW bytes per side.
 * A finding is reported as a write after unmap; the slot is then restored
 * whole.
 */
static void bslot_check_released(struct dmaverify_dev *ctx,
				 struct dmaverify_bounce *b, size_t a, size_t e)
{
	size_t lo = b->plo, hi = b->phi, first, last, i;
	size_t win[4][2] = {
		{ lo > RZ_WINDOW ? lo - RZ_WINDOW : 0, lo },
		{ hi, min_t(size_t, hi + RZ_WINDOW, b->total) },
		{ a > RZ_WINDOW ? a - RZ_WINDOW : 0, a },
		{ e, min_t(size_t, e + RZ_WINDOW, b->total) },
	};
	char detail[200];

	if (range_dirty(b->cpu, lo, hi, POISON_BYTE, &first, &last)) {
		snprintf(detail, sizeof(detail),
			 "%zu bytes at offset %zu to %zu of the released %zu-byte buffer: %*ph (expected 0x%02x)",
			 last - first + 1, first, last, hi - lo,
			 (int)min_t(size_t, last - first + 1, 16),
			 (u8 *)b->cpu + lo + first, POISON_BYTE);
		report_released(ctx, b, detail);
		b->rz_dirty = true;
		return;
	}
	for (i = 0; i < ARRAY_SIZE(win); i++) {
		/* Inside the last buffer: poison, checked above. */
		size_t wlo = win[i][0], whi = win[i][1];

		if (wlo < hi && whi > lo)
			continue;
		if (range_dirty(b->cpu, wlo, whi, REDZONE_BYTE, &first, &last)) {
			snprintf(detail, sizeof(detail),
				 "%zu bytes %s the released %zu-byte buffer modified, at offset %zd to %zd: %*ph (expected 0x%02x)",
				 last - first + 1, wlo >= hi ? "after" : "before",
				 hi - lo, (ssize_t)(wlo + first) - (ssize_t)lo,
				 (ssize_t)(wlo + last) - (ssize_t)lo,
				 (int)min_t(size_t, last - first + 1, 16),
				 (u8 *)b->cpu + wlo + first, REDZONE_BYTE);
			report_released(ctx, b, detail);
			b->rz_dirty = true;
			return;
		}
	}
}

/*
 * Take a slot of @ctx's pool for a buffer at [front, front + size), and
 * make it hold redzone bytes around it and, if @poison, poison in it.
 * Return: the slot, not live yet (see bslot_live()), or NULL: none free
 * (the pool grows meanwhile) or too small.
 */
static struct dmaverify_bounce *bslot_take(struct dmaverify_dev *ctx,
					   size_t front, size_t size,
					   bool poison)
{
	struct dmaverify_bpool *p = &ctx->bpool;
	struct dmaverify_bounce *b = NULL;
	size_t a = front, e = front + size;
	bool reused = false, grow;
	unsigned long flags, stalled;

	if (PAGE_ALIGN(e) + PAGE_SIZE > DV_SLOT_SIZE) {
		atomic_long_inc(&p->too_large);
		return NULL;
	}
	raw_spin_lock_irqsave(&p->lock, flags);
	if (p->nr_fifo > READ_ONCE(quarantine_max)) {
		b = list_first_entry(&p->fifo, struct dmaverify_bounce, node);
		list_del(&b->node);
		p->nr_fifo--;
		reused = true;
	} else if (p->nr_fresh) {
		b = list_first_entry(&p->fresh, struct dmaverify_bounce, node);
		list_del(&b->node);
		p->nr_fresh--;
	}
	/* A released slot taken: the pool sustains itself, no need to grow. */
	stalled = READ_ONCE(p->stalled_until);
	grow = !reused && bpool_short(p) &&
	       (!stalled || time_after_eq(jiffies, stalled));
	raw_spin_unlock_irqrestore(&p->lock, flags);
	if (grow && !in_nmi())
		schedule_work(&p->refill);
	/* The driver may have narrowed its mask since the slot was made. */
	if (b && !dmaverify_dma_addr_ok(ctx->dev, b->dma, b->total, false)) {
		bounce_discard(ctx, b);
		b = NULL;
	}
	if (!b) {
		atomic_long_inc(&p->fell_back);
		return NULL;
	}
	slot_for_cpu(b);
	if (reused) {
		atomic_long_inc(&p->reused);
		bslot_check_released(ctx, b, a, e);
	}
	if (b->rz_dirty) {
		fill_words(b->cpu, REDZONE_BYTE, b->total);
		b->plo = 0;
		b->phi = 0;
		b->rz_dirty = false;
	}
	/* Poison outside the new buffer becomes redzone again ... */
	fill_range(b->cpu, b->plo, min_t(size_t, b->phi, a), REDZONE_BYTE);
	fill_range(b->cpu, max_t(size_t, b->plo, e), b->phi, REDZONE_BYTE);
	/* ... and the new buffer poison, where it is not already. */
	if (poison) {
		if (b->phi <= b->plo) {
			fill_range(b->cpu, a, e, POISON_BYTE);
		} else {
			fill_range(b->cpu, a, min_t(size_t, e, b->plo), POISON_BYTE);
			fill_range(b->cpu, max_t(size_t, a, b->phi), e, POISON_BYTE);
		}
	}
	b->plo = 0;
	b->phi = 0;
	b->front = front;
	b->size = size;
	return b;
}

/* The slot now holds a mapping: syncs may use it.  Return: its use count. */
static u32 bslot_live(struct dmaverify_bounce *b)
{
	unsigned long flags;
	u32 gen;

	slot_for_device(b);
	raw_spin_lock_irqsave(&b->lock, flags);
	gen = ++b->gen;
	b->dead = false;
	raw_spin_unlock_irqrestore(&b->lock, flags);
	return gen;
}

/*
 * A pool slot's mapping is gone: poison its buffer, remember who had it,
 * and put it at the tail of the device's quarantine.
 */
static void bslot_release(struct dmaverify_dev *ctx, struct dmaverify_bounce *b,
			  const struct dmaverify_obj *obj)
{
	struct dmaverify_bpool *p = &ctx->bpool;
	unsigned long flags;

	/* Reported already: restored, so that only later writes show. */
	if (b->rz_dirty) {
		fill_words(b->cpu, REDZONE_BYTE, b->total);
		b->rz_dirty = false;
	}
	fill_words(inner(b), POISON_BYTE, b->size);
	b->plo = b->front;
	b->phi = b->front + b->size;
	slot_for_device(b);
	b->obj = *obj;
	b->obj.next = NULL;
	b->free_stack = READ_ONCE(dmaverify_free_stacks) ? dmaverify_save_stack() : 0;
	b->free_when = (u32)jiffies;
	b->free_pid = task_pid_nr(current);
	b->free_cpu = raw_smp_processor_id();
	raw_spin_lock_irqsave(&p->lock, flags);
	list_add_tail(&b->node, &p->fifo);
	p->nr_fifo++;
	raw_spin_unlock_irqrestore(&p->lock, flags);
}

/*
 * Check a whole released slot (the scan, and before the pool is freed):
 * poison in its last buffer, redzone bytes everywhere else.  Restores it
 * after a finding.  Context: the slot is off the pool's lists.
 */
static void bslot_scan(struct dmaverify_dev *ctx, struct dmaverify_bounce *b)
{
	size_t lo = b->plo, hi = b->phi;

	slot_for_cpu(b);
	bslot_check_released(ctx, b, lo, hi);
	if (!b->rz_dirty) {
		struct redzone_finding f[2];
		char detail[200];
		int i, n;

		n = inspect_redzones(b->cpu, (u8 *)b->cpu + lo, hi - lo,
				     (u8 *)b->cpu + b->total, "scan", f);
		for (i = 0; i < n; i++) {
			snprintf(detail, sizeof(detail), "next to the released buffer, %s",
				 f[i].detail);
			report_released(ctx, b, detail);
			b->rz_dirty = true;
		}
	}
	if (b->rz_dirty) {
		fill_words(b->cpu, REDZONE_BYTE, b->total);
		fill_range(b->cpu, lo, hi, POISON_BYTE);
		b->rz_dirty = false;
		slot_for_device(b);
	}
}

/* Take @ctx's released and fresh slots off its pool, onto @list. */
static void bpool_take_all(struct dmaverify_dev *ctx, struct list_head *list,
			   bool fresh)
{
	struct dmaverify_bpool *p = &ctx->bpool;
	unsigned long flags;

	raw_spin_lock_irqsave(&p->lock, flags);
	list_splice_init(&p->fifo, list);
	p->nr_fifo = 0;
	if (fresh) {
		list_splice_tail_init(&p->fresh, list);
		p->nr_fresh = 0;
	}
	raw_spin_unlock_irqrestore(&p->lock, flags);
}

/**
 * dmaverify_bounce_show() - a device's bounce pool, for debugfs stats
 * @seq: output
 * @ctx: device context
 */
void dmaverify_bounce_show(struct seq_file *seq, struct dmaverify_dev *ctx)
{
	struct dmaverify_bpool *p = &ctx->bpool;
	unsigned int total, nr_fresh, nr_fifo;
	unsigned long flags;

	raw_spin_lock_irqsave(&p->lock, flags);
	total = p->nr_total;
	nr_fresh = p->nr_fresh;
	nr_fifo = p->nr_fifo;
	raw_spin_unlock_irqrestore(&p->lock, flags);
	if (!total && !atomic_long_read(&p->fell_back) &&
	    !atomic_long_read(&p->too_large))
		return;
	seq_printf(seq, "  bounce pool slots %u (%lu KiB): in use %u released %u fresh %u; reused %ld, not from the pool: none free %ld, too large %ld; refill failed %ld\n",
		   total, total * DV_SLOT_SIZE / 1024, total - nr_fresh - nr_fifo,
		   nr_fifo, nr_fresh, atomic_long_read(&p->reused),
		   atomic_long_read(&p->fell_back), atomic_long_read(&p->too_large),
		   atomic_long_read(&p->refill_failed));
}

/**
 * dmaverify_bounce_unavailable() - count (and say once) a map not bounced
 * @ctx: device context
 * @size: bytes of the map
 *
 * With bounce=1, a map that goes to the device unbounced (no bounce buffer
 * could be had, or no object to track it) is counted in debugfs stats as
 * "bounce failed", and said in the log once per device.
 */
void dmaverify_bounce_unavailable(struct dmaverify_dev *ctx, size_t size)
{
	atomic_long_inc(&ctx->bounce_failed);
	if (!test_and_set_bit(0, &ctx->bounce_failed_said))
		dev_warn(ctx->dev, "dmaverify: no bounce buffer for a %zu-byte map (out of memory, or outside the device's DMA mask): such maps go to the device unbounced, counted as \"bounce failed\" in debugfs stats\n",
			 size);
}

static struct dmaverify_bounce *bounce_alloc(struct dmaverify_dev *ctx,
					     phys_addr_t phys, size_t size,
					     bool sampled, bool poison)
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
	b = bslot_take(ctx, PAGE_SIZE + off, size, poison);
	if (b)
		return b;
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
	fill_words(b->cpu, REDZONE_BYTE, b->total);
	if (poison)
		fill_words(inner(b), POISON_BYTE, size);
	return b;
failed:
	/* The map goes unbounced: say so, once per device, and count it. */
	dmaverify_bounce_unavailable(ctx, size);
	return NULL;
}

static void bounce_free_now(struct dmaverify_bounce *b)
{
	if (b->page) {
		dma_unmap_page_attrs(b->twin, b->dma, b->total,
				     DMA_BIDIRECTIONAL, 0);
		__free_pages(b->page, DV_SLOT_ORDER);
		put_device(b->twin);
		kfree(b);
		return;
	}
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

/* Free a bounce buffer of @ctx's (a pool slot leaves the pool). */
static void bounce_discard(struct dmaverify_dev *ctx, struct dmaverify_bounce *b)
{
	unsigned long flags;

	if (b->page) {
		raw_spin_lock_irqsave(&ctx->bpool.lock, flags);
		ctx->bpool.nr_total--;
		raw_spin_unlock_irqrestore(&ctx->bpool.lock, flags);
	}
	bounce_free(b);
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

/* Report a write found in a released buffer, described in @detail. */
static void report_released(struct dmaverify_dev *ctx,
			    struct dmaverify_bounce *b, const char *detail)
{
	if (dmaverify_check_on(DV_WRITE_AFTER_UNMAP)) {
		struct dmaverify_freed f = {
			.obj = b->obj, .free_stack = b->free_stack,
			.free_when = b->free_when, .free_pid = b->free_pid,
			.free_cpu = b->free_cpu,
		};
		struct dmaverify_report r = {
			.v = DV_WRITE_AFTER_UNMAP, .ctx = ctx, .obj = &f.obj,
			.freed = &f, .addr = b->obj.dma, .size = b->size,
			.dir = b->obj.dir, .creator_title = true,
			.detail = detail,
		};

		dmaverify_report(&r);
	}
}

/* A quarantined buffer must still hold only poison and redzones. */
static void check_quarantined(struct dmaverify_dev *ctx,
			      struct dmaverify_bounce *b)
{
	size_t first, last;
	char detail[200];

	slot_for_cpu(b);
	if (find_corruption(inner(b), b->size, POISON_BYTE, &first, &last)) {
		snprintf(detail, sizeof(detail),
			 "%zu bytes at offset %zu to %zu of the released %zu-byte buffer: %*ph (expected 0x%02x)",
			 last - first + 1, first, last, b->size,
			 (int)min_t(size_t, last - first + 1, 16), inner(b) + first,
			 POISON_BYTE);
		report_released(ctx, b, detail);
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

	fill_words(inner(b), POISON_BYTE, b->size);
	slot_for_device(b);
	b->obj = *obj;
	b->free_stack = READ_ONCE(dmaverify_free_stacks) ? dmaverify_save_stack() : 0;
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
	bool skip = attrs & DMA_ATTR_SKIP_CPU_SYNC;
	/* FROM_DEVICE: unwritten and unsynced data show as 0xDB. */
	bool poison = obj->dir == DMA_FROM_DEVICE || skip;
	struct dmaverify_bounce *b = bounce_alloc(ctx, obj->phys, obj->size,
						  obj->flags & DV_OBJ_SAMPLED,
						  poison);
	u32 csum;

	if (!b)
		return -ENOMEM;
	if (b->slot && poison)
		fill_words(inner(b), POISON_BYTE, obj->size);
	if (obj->dir == DMA_FROM_DEVICE && !skip) {
		fill_phys(obj->phys, POISON_BYTE, obj->size);
		csum = poison_fp(ctx, obj->size);
	} else if (!skip) {
		csum = copy_phys_fp(obj->phys, inner(b), obj->size);
	} else {
		csum = csum_phys(obj->phys, obj->size);
	}
	if (b->slot && !slot_map(ctx, b))
		return -ENOMEM;
	b->csum = csum;
	b->csum_ok = true;
	obj->csum = b->page ? bslot_live(b) : 0;
	obj->dma = b->dma + b->front;
	obj->key = obj->dma;
	obj->bounce = b;
	obj->flags |= DV_OBJ_BOUNCED | DV_OBJ_CHECKSUMMED;
	return 0;
}

/* Whether a fingerprint of the driver's buffer is needed at all. */
static bool csum_checked(void)
{
	return dmaverify_check_on(DV_STALE_TO_DEVICE) ||
	       dmaverify_check_on(DV_CPU_WRITE_LOST) ||
	       READ_ONCE(dmaverify_bounce_device_writes);
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

	if (b->csum_ok && dmaverify_check_on(v) &&
	    csum_phys(phys, b->size) != b->csum)
		dmaverify_violation(ctx, v, obj, obj->dma, b->size, obj->dir,
				    "the CPU changed the %zu-byte buffer %s", b->size,
				    why[obj->dir]);
}

/*
 * The bounded redzone check of a pool slot, at a call that owns the
 * mapping: the RZ_WINDOW bytes on each side of the buffer.  Inspects the
 * whole redzones only when one of them is dirty (for the report), then
 * marks the slot for restoring.  Context: @b->lock held or the mapping
 * dead; reports are made by the caller from @f.  Return: the findings.
 */
static int inspect_windows(struct dmaverify_bounce *b, const char *when,
			   struct redzone_finding f[2])
{
	size_t a = b->front, e = b->front + b->size, first, last;

	if (!range_dirty(b->cpu, a > RZ_WINDOW ? a - RZ_WINDOW : 0, a,
			 REDZONE_BYTE, &first, &last) &&
	    !range_dirty(b->cpu, e, min_t(size_t, e + RZ_WINDOW, b->total),
			 REDZONE_BYTE, &first, &last))
		return 0;
	b->rz_dirty = true;
	return inspect_redzones(b->cpu, inner(b), b->size,
				(u8 *)b->cpu + b->total, when, f);
}

static void check_windows(struct dmaverify_dev *ctx,
			  const struct dmaverify_obj *obj,
			  struct dmaverify_bounce *b, const char *when)
{
	struct redzone_finding f[2];
	int i, n = inspect_windows(b, when, f);

	for (i = 0; i < n; i++)
		report_redzone(ctx, obj, false, &f[i]);
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
	if (b->page)
		check_windows(ctx, obj, b, "unmap");
	else
		check_redzones(ctx, obj, b->cpu, inner(b), b->size,
			       (u8 *)b->cpu + b->total, "unmap");
	if (device_wrote(obj, b, &at))
		report_device_wrote(ctx, obj, b->size, at, "unmap");
	if (obj->dir != DMA_BIDIRECTIONAL)
		check_csum(ctx, obj, b, obj->phys);
	if (obj->dir != DMA_TO_DEVICE && !(attrs & DMA_ATTR_SKIP_CPU_SYNC))
		copy_phys(obj->phys, inner(b), b->size, true);
	if (b->page)
		bslot_release(ctx, b, obj);
	else
		quarantine(ctx, b, obj);
	obj->bounce = NULL;
}

static bool bounce_sync(struct dmaverify_dev *ctx,
			const struct dmaverify_obj *obj,
			struct dmaverify_bounce *b, u32 gen, dma_addr_t addr,
			size_t size, bool for_cpu);

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
	return bounce_sync(ctx, obj, obj->bounce, obj->csum, addr, size, for_cpu);
}

/* A sync of one bounce buffer; @gen: its slot's use count at the map. */
static bool bounce_sync(struct dmaverify_dev *ctx,
			const struct dmaverify_obj *obj,
			struct dmaverify_bounce *b, u32 gen, dma_addr_t addr,
			size_t size, bool for_cpu)
{
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
	/* Unmapped meanwhile, or even mapped again (a pool slot)? */
	if (b->dead || (b->page && b->gen != gen)) {
		raw_spin_unlock_irqrestore(&b->lock, flags);
		return false;
	}
	slot_for_cpu(b);
	if (b->page)
		n = inspect_windows(b, for_cpu ? "sync for CPU" : "sync for device", f);
	else
		n = inspect_redzones(b->cpu, inner(b), b->size,
				     (u8 *)b->cpu + b->total,
				     for_cpu ? "sync for CPU" : "sync for device", f);
	if (!for_cpu)
		wrote = device_wrote(obj, b, &at);
	if (for_cpu && obj->dir != DMA_TO_DEVICE)
		copy_phys(obj->phys + off, inner(b) + off, size, true);
	else if (!for_cpu && obj->dir != DMA_FROM_DEVICE)
		copy_phys(obj->phys + off, inner(b) + off, size, false);
	/* The driver's buffer may legitimately change around a sync. */
	b->csum_ok = obj->dir != DMA_BIDIRECTIONAL && csum_checked();
	if (b->csum_ok)
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
		bsg->segs[i].b = seg.bounce;
		bsg->segs[i].gen = seg.csum;
		sg_dma_address(s) = seg.dma;
		sg_dma_len(s) = s->length;
	}
	obj->bounce = bsg;
	obj->flags |= DV_OBJ_BOUNCED;
	obj->dma = sg_dma_address(sgl);
	return 0;
undo:
	while (--i >= 0) {
		bounce_kill(bsg->segs[i].b);
		bounce_discard(ctx, bsg->segs[i].b);
	}
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
		struct dmaverify_bounce *b = bsg->segs[i].b;
		struct dmaverify_obj seg = *obj;

		seg.kind = DV_KIND_SG;
		seg.csum = bsg->segs[i].gen;
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
		struct dmaverify_bounce *b = bsg->segs[i].b;
		struct dmaverify_obj seg = *obj;

		seg.csum = bsg->segs[i].gen;
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
			bounce_kill(bsg->segs[i].b);
			bounce_discard(ctx, bsg->segs[i].b);
		}
		kfree_rcu(bsg, rcu);
	} else {
		bounce_kill(obj->bounce);
		bounce_discard(ctx, obj->bounce);
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
	unsigned int i, nr;
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
	list_splice_init(&list, &ctx->quarantine);
	raw_spin_unlock_irqrestore(&ctx->quarantine_lock, flags);

	/*
	 * The pool's released slots, whole (maps meanwhile take fresh slots,
	 * or allocate); then back at the head, the oldest first still.
	 */
	bpool_take_all(ctx, &list, false);
	nr = 0;
	list_for_each_entry(b, &list, node) {
		bslot_scan(ctx, b);
		nr++;
		cond_resched();
	}
	raw_spin_lock_irqsave(&ctx->bpool.lock, flags);
	list_splice(&list, &ctx->bpool.fifo);
	ctx->bpool.nr_fifo += nr;
	raw_spin_unlock_irqrestore(&ctx->bpool.lock, flags);
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

	/* The pool: released slots checked whole, then every free slot freed. */
	cancel_work_sync(&ctx->bpool.refill);
	bpool_take_all(ctx, &list, true);
	list_for_each_entry_safe(b, tmp, &list, node) {
		list_del(&b->node);
		if (b->phi > b->plo)
			bslot_scan(ctx, b);
		bounce_discard(ctx, b);
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
