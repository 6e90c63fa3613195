// SPDX-License-Identifier: GPL-2.0
/*
 * dmaverify_bench: what a DMA API call costs, with and without dmaverify
 * (or dma-debug), in the spirit of kernel/dma/map_benchmark.c.
 *
 * Two platform drivers, "dvbench_hooked" and "dvbench_plain", each bound to
 * a platform device of its own with a 64-bit DMA mask.  Loaded after
 * `modprobe dmaverify driver=dvbench_hooked`, only the first device is
 * verified; the second one runs the same code unhooked, in the same boot.
 * A third, "dvbench_ops", has dma_map_ops of its own that do for streaming
 * calls exactly what dma-direct does on a coherent device and nothing more:
 * the least any interposer through dma_map_ops costs (the DMA core's
 * indirect call), the floor under dmaverify's forwarding path.
 *
 * Commands are written to /sys/kernel/debug/dvbench/cmd, one per write; the
 * write returns when the command is done.  Results go to the kernel log, one
 * line each, starting with "DVB ":
 *
 *   run op=OP dev=DEV [cpus=N] [reps=R] [iters=I] [ms=T] [tag=WORD]
 *	OP is map_to, map_from (dma_map_single+unmap of 4 KiB), sg16
 *	(dma_map_sg+unmap of a 16-page list, FROM_DEVICE), coherent
 *	(dma_alloc_coherent+free of 4 KiB) or sync (sync_single_for_cpu +
 *	for_device of a mapped 4 KiB BIDIRECTIONAL buffer).  Reference ops,
 *	for what dmaverify's stack saving costs: unwind1 and unwind16
 *	(stack_trace_save() of at most 1 or 16 frames), depot16 (the same 16
 *	frames, then stack_depot_save()); their frames= is the depth reached.
 *	slab80 (kmem_cache_zalloc+free of 80 bytes, GFP_NOWAIT, what a
 *	tracker entry costs) and irqsave (an uncontended raw spinlock taken
 *	with local_irq_save and released).  For what bounce buffers cost
 *	per byte: memcpy4k, memset4k, memchr4k (memchr_inv), crc4k
 *	(crc32_le), fp4k (the fingerprint of dmaverify's CPU-write check)
 *	and copyfp4k (a copy that fingerprints what it copies), of 4 KiB.
 *	DEV is hooked, plain or ops (map_to, map_from, sg16 and sync
 *	only).  N threads, bound to the first N online CPUs, run R timed
 *	loops of I iterations each, all at the same time
 *	(I = 0: calibrated so that a loop takes about T ms).  Prints
 *	"DVB result op= dev= cpus= out= tag= iters= reps= med= min= max= frames= vals="
 *	with nanoseconds per operation (and per thread), one decimal; out= is
 *	the number of mappings held on DEV (see hold).
 *
 *   hold dev=DEV n=N [dir=from|to|bidi] [size=BYTES]
 *	Map distinct SIZE-byte (default 256) pieces of freshly allocated pages
 *	until N mappings are outstanding on DEV; they stay mapped.  Prints
 *	"DVB hold dev= out= added= ns_per_map=" or "DVB hold-failed ...".
 *
 *   release dev=DEV
 *	Unmap and free what hold mapped.  Prints "DVB release dev= n= ns_per_unmap=".
 */

#define pr_fmt(fmt) "dvbench: " fmt

#include <linux/completion.h>
#include <linux/crc32.h>
#include <linux/debugfs.h>
#include <linux/delay.h>
#include <linux/dma-direct.h>
#include <linux/dma-map-ops.h>
#include <linux/dma-mapping.h>
#include <linux/kthread.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/platform_device.h>
#include <linux/scatterlist.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/stackdepot.h>
#include <linux/stacktrace.h>
#include <linux/timekeeping.h>
#include <linux/uaccess.h>

/* scripts/bench copies dmaverify's Kbuild-time probes next to this file. */
#if __has_include("compat-autoconf.h")
#include "compat-autoconf.h"
#endif

#define BUF_SIZE	SZ_4K
#define SG_NENTS	16
#define MAX_THREADS	8
#define MAX_REPS	31
#define MAX_ITERS	10000000UL

static unsigned long hold_max = 1000000;
module_param(hold_max, ulong, 0644);
MODULE_PARM_DESC(hold_max, "Largest number of mappings 'hold' may keep on one device (default 1000000)");

/* === Devices === */

enum { DEV_HOOKED, DEV_PLAIN, DEV_OPS, NR_DEVS };

/* Mappings kept outstanding on a device ("hold"). */
struct hold {
	dma_addr_t *dma;
	struct page **pages;
	unsigned long n;	/* Mappings outstanding. */
	unsigned long cap;	/* Entries of @dma. */
	unsigned long npages;	/* Pages allocated. */
	size_t size;
	int dir;
};

struct bdev {
	const char *short_name;
	struct platform_driver drv;
	struct platform_device *pdev;
	struct device *dev;	/* Set by probe. */
	struct hold hold;
};

static int bench_probe(struct platform_device *pdev);

/*
 * The ops floor: dma-direct's streaming path on a coherent device whose
 * masks reach everything (phys_to_dma(), nothing at unmap and sync).
 */
#ifdef DMAVERIFY_HAVE_OPS_MAP_PHYS
static dma_addr_t floor_map_phys(struct device *dev, phys_addr_t phys,
				 size_t size, enum dma_data_direction dir,
				 unsigned long attrs)
{
	return phys_to_dma(dev, phys);
}

static void floor_unmap_phys(struct device *dev, dma_addr_t addr, size_t size,
			     enum dma_data_direction dir, unsigned long attrs)
{
}
#else
static dma_addr_t floor_map_page(struct device *dev, struct page *page,
				 unsigned long offset, size_t size,
				 enum dma_data_direction dir, unsigned long attrs)
{
	return phys_to_dma(dev, page_to_phys(page) + offset);
}

static void floor_unmap_page(struct device *dev, dma_addr_t addr, size_t size,
			     enum dma_data_direction dir, unsigned long attrs)
{
}
#endif

static int floor_map_sg(struct device *dev, struct scatterlist *sgl, int nents,
			enum dma_data_direction dir, unsigned long attrs)
{
	struct scatterlist *s;
	int i;

	for_each_sg(sgl, s, nents, i) {
		s->dma_address = phys_to_dma(dev, sg_phys(s));
		sg_dma_len(s) = s->length;
	}
	return nents;
}

static void floor_unmap_sg(struct device *dev, struct scatterlist *sgl,
			   int nents, enum dma_data_direction dir,
			   unsigned long attrs)
{
}

static void floor_sync_single(struct device *dev, dma_addr_t addr, size_t size,
			      enum dma_data_direction dir)
{
}

static const struct dma_map_ops floor_ops = {
#ifdef DMAVERIFY_HAVE_OPS_MAP_PHYS
	.map_phys = floor_map_phys,
	.unmap_phys = floor_unmap_phys,
#else
	.map_page = floor_map_page,
	.unmap_page = floor_unmap_page,
#endif
	.map_sg = floor_map_sg,
	.unmap_sg = floor_unmap_sg,
	.sync_single_for_cpu = floor_sync_single,
	.sync_single_for_device = floor_sync_single,
};

static struct bdev bdevs[NR_DEVS] = {
	[DEV_HOOKED] = {
		.short_name = "hooked",
		.drv = { .probe = bench_probe, .driver = { .name = "dvbench_hooked" } },
	},
	[DEV_PLAIN] = {
		.short_name = "plain",
		.drv = { .probe = bench_probe, .driver = { .name = "dvbench_plain" } },
	},
	[DEV_OPS] = {
		.short_name = "ops",
		.drv = { .probe = bench_probe, .driver = { .name = "dvbench_ops" } },
	},
};

static int bench_probe(struct platform_device *pdev)
{
	struct platform_driver *drv = to_platform_driver(pdev->dev.driver);
	struct bdev *b = container_of(drv, struct bdev, drv);
	int ret;

	ret = dma_coerce_mask_and_coherent(&pdev->dev, DMA_BIT_MASK(64));
	if (ret)
		return ret;
	/* A stub without per-device dma_ops: the device is then a plain one. */
	if (b == &bdevs[DEV_OPS])
		set_dma_ops(&pdev->dev, &floor_ops);
	b->dev = &pdev->dev;
	return 0;
}

static struct bdev *find_bdev(const char *name)
{
	int i;

	for (i = 0; i < NR_DEVS; i++)
		if (!strcmp(name, bdevs[i].short_name) ||
		    !strcmp(name, bdevs[i].drv.driver.name))
			return &bdevs[i];
	return NULL;
}

/* === Timed loops === */

enum bench_op {
	OP_MAP_TO, OP_MAP_FROM, OP_SG16, OP_COHERENT, OP_SYNC,
	OP_UNWIND1, OP_UNWIND16, OP_DEPOT16, OP_SLAB80, OP_IRQSAVE,
	OP_MEMCPY4K, OP_MEMSET4K, OP_MEMCHR4K, OP_CRC4K, OP_FP4K, OP_COPYFP4K,
	NR_OPS
};

static const char *const op_names[NR_OPS] = {
	[OP_MAP_TO] = "map_to",
	[OP_MAP_FROM] = "map_from",
	[OP_SG16] = "sg16",
	[OP_COHERENT] = "coherent",
	[OP_SYNC] = "sync",
	[OP_UNWIND1] = "unwind1",
	[OP_UNWIND16] = "unwind16",
	[OP_DEPOT16] = "depot16",
	[OP_SLAB80] = "slab80",
	[OP_IRQSAVE] = "irqsave",
	[OP_MEMCPY4K] = "memcpy4k",
	[OP_MEMSET4K] = "memset4k",
	[OP_MEMCHR4K] = "memchr4k",
	[OP_CRC4K] = "crc4k",
	[OP_FP4K] = "fp4k",
	[OP_COPYFP4K] = "copyfp4k",
};

/*
 * The fingerprint of dmaverify's bounce buffers (redzone.c, dv_fp()), the
 * same code: what the CPU-write check costs per byte, next to crc32_le().
 */
#define FP_MUL	0x9e3779b97f4a7c15ULL

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

/* slab80: a cache of dmaverify_obj's size (80 bytes), as dmaverify has. */
static struct kmem_cache *slab80;

struct bench;

struct worker {
	struct bench *b;
	int idx;
	int cpu;
	void *buf;
	void *buf2;		/* Destination of the memory reference ops. */
	u64 sink;		/* Results of the hashing ops, kept. */
	struct page *pages[SG_NENTS];
	struct scatterlist sgl[SG_NENTS];
	dma_addr_t sync_dma;
	bool sync_mapped;
	u64 ns[MAX_REPS];
	unsigned int frames;	/* Unwind ops: frames of the last unwind. */
	int err;
	struct task_struct *task;
};

struct bench {
	struct device *dev;
	int op;
	unsigned long iters;
	unsigned int ms;
	int reps;
	int nthreads;
	atomic_t arrived;
	int gen;
	int abort;
	atomic_t running;
	struct completion done;
	struct worker w[MAX_THREADS];
};

/*
 * All threads start each timed loop together: a sense-reversing barrier.
 * The last thread to arrive resets the count, then publishes the next
 * generation (release), which the others wait for (acquire), so that they
 * see the reset count (and thread 0's calibrated b->iters) before they go on.
 */
static bool sync_point(struct bench *b)
{
	/* Pairs with the release below, of the previous generation. */
	int gen = smp_load_acquire(&b->gen);

	if (atomic_inc_return(&b->arrived) == b->nthreads) {
		atomic_set(&b->arrived, 0);
		/* Orders the reset before the new generation. */
		smp_store_release(&b->gen, gen + 1);
	} else {
		/*
		 * Pairs with the release above.  Waiters must schedule: a
		 * stop_machine() (a clocksource change) waits for every CPU,
		 * and the thread we wait for may be the one it preempted.
		 */
		while (smp_load_acquire(&b->gen) == gen && !READ_ONCE(b->abort)) {
			cond_resched();
			cpu_relax();
		}
	}
	return !READ_ONCE(b->abort);
}

static int run_loop(struct bench *b, struct worker *w, unsigned long iters)
{
	struct device *dev = b->dev;
	unsigned long i;
	dma_addr_t addr;
	void *cpu;

	switch (b->op) {
	case OP_MAP_TO:
	case OP_MAP_FROM: {
		enum dma_data_direction dir = b->op == OP_MAP_TO ? DMA_TO_DEVICE :
					      DMA_FROM_DEVICE;

		for (i = 0; i < iters; i++) {
			addr = dma_map_single(dev, w->buf, BUF_SIZE, dir);
			if (dma_mapping_error(dev, addr))
				return -ENOMEM;
			dma_unmap_single(dev, addr, BUF_SIZE, dir);
		}
		break;
	}
	case OP_SG16:
		for (i = 0; i < iters; i++) {
			if (!dma_map_sg(dev, w->sgl, SG_NENTS, DMA_FROM_DEVICE))
				return -ENOMEM;
			dma_unmap_sg(dev, w->sgl, SG_NENTS, DMA_FROM_DEVICE);
		}
		break;
	case OP_COHERENT:
		for (i = 0; i < iters; i++) {
			cpu = dma_alloc_coherent(dev, BUF_SIZE, &addr, GFP_KERNEL);
			if (!cpu)
				return -ENOMEM;
			dma_free_coherent(dev, BUF_SIZE, cpu, addr);
		}
		break;
	case OP_SYNC:
		for (i = 0; i < iters; i++) {
			dma_sync_single_for_cpu(dev, w->sync_dma, BUF_SIZE,
						DMA_BIDIRECTIONAL);
			dma_sync_single_for_device(dev, w->sync_dma, BUF_SIZE,
						   DMA_BIDIRECTIONAL);
		}
		break;
#ifdef CONFIG_STACKTRACE
	case OP_UNWIND1:
	case OP_UNWIND16: {
		unsigned int max = b->op == OP_UNWIND1 ? 1 : 16;
		unsigned long entries[16];

		for (i = 0; i < iters; i++)
			w->frames = stack_trace_save(entries, max, 1);
		break;
	}
#endif
#if defined(CONFIG_STACKTRACE) && defined(CONFIG_STACKDEPOT)
	case OP_DEPOT16: {
		unsigned long entries[16];

		for (i = 0; i < iters; i++) {
			w->frames = stack_trace_save(entries, 16, 1);
			if (!stack_depot_save(entries, w->frames,
					      GFP_NOWAIT | __GFP_NOWARN))
				return -ENOMEM;
		}
		break;
	}
#endif
	case OP_SLAB80:
		for (i = 0; i < iters; i++) {
			void *p = kmem_cache_zalloc(slab80, GFP_NOWAIT | __GFP_NOWARN);

			if (!p)
				return -ENOMEM;
			kmem_cache_free(slab80, p);
		}
		break;
	case OP_IRQSAVE: {
		static DEFINE_RAW_SPINLOCK(lock);
		unsigned long flags;

		for (i = 0; i < iters; i++) {
			raw_spin_lock_irqsave(&lock, flags);
			raw_spin_unlock_irqrestore(&lock, flags);
		}
		break;
	}
	case OP_MEMCPY4K:
		for (i = 0; i < iters; i++) {
			memcpy(w->buf2, w->buf, BUF_SIZE);
			barrier();
		}
		break;
	case OP_MEMSET4K:
		for (i = 0; i < iters; i++) {
			memset(w->buf2, 0xdb, BUF_SIZE);
			barrier();
		}
		break;
	case OP_MEMCHR4K:
		for (i = 0; i < iters; i++)
			w->sink += !!memchr_inv(w->buf, 0x5a, BUF_SIZE);
		break;
	case OP_CRC4K:
		for (i = 0; i < iters; i++)
			w->sink += crc32_le(~0U, w->buf, BUF_SIZE);
		break;
	case OP_FP4K:
		for (i = 0; i < iters; i++)
			w->sink += fp_bytes(0, w->buf, BUF_SIZE);
		break;
	case OP_COPYFP4K:
		for (i = 0; i < iters; i++)
			w->sink += copy_fp_bytes(0, w->buf2, w->buf, BUF_SIZE);
		break;
	default:
		return -EOPNOTSUPP;
	}
	return 0;
}

/* Iterations for a loop of about b->ms milliseconds (thread 0, alone). */
static int calibrate(struct bench *b, struct worker *w)
{
	unsigned long n = 16;
	u64 t, target = (u64)b->ms * NSEC_PER_MSEC;
	int err;

	err = run_loop(b, w, n);	/* Warm-up: first calls may be slow. */
	if (err)
		return err;
	for (;;) {
		t = ktime_get_ns();
		err = run_loop(b, w, n);
		t = ktime_get_ns() - t;
		if (err)
			return err;
		if (t >= target / 4 || n >= MAX_ITERS)
			break;
		n *= 4;
	}
	b->iters = clamp_t(u64, div64_u64((u64)n * target, max_t(u64, t, 1)), 16,
			   MAX_ITERS);
	return 0;
}

static int worker_fn(void *data)
{
	struct worker *w = data;
	struct bench *b = w->b;
	int r, err = 0;

	if (w->idx == 0 && !b->iters)
		err = calibrate(b, w);
	if (!err && sync_point(b)) {
		/* Warm-up, untimed. */
		err = run_loop(b, w, b->iters / 10 + 1);
		for (r = 0; r < b->reps && !err; r++) {
			u64 t;

			if (!sync_point(b))
				break;
			t = ktime_get_ns();
			err = run_loop(b, w, b->iters);
			w->ns[r] = ktime_get_ns() - t;
			cond_resched();
		}
	}
	if (err) {
		w->err = err;
		WRITE_ONCE(b->abort, 1);
	}
	if (atomic_dec_and_test(&b->running))
		complete(&b->done);
	return 0;
}

static void worker_free(struct bench *b, struct worker *w)
{
	int i;

	if (w->sync_mapped)
		dma_unmap_single(b->dev, w->sync_dma, BUF_SIZE, DMA_BIDIRECTIONAL);
	for (i = 0; i < SG_NENTS; i++)
		if (w->pages[i])
			__free_page(w->pages[i]);
	kfree(w->buf);
	kfree(w->buf2);
}

static int worker_init(struct bench *b, struct worker *w)
{
	int i;

	w->buf = kmalloc(BUF_SIZE, GFP_KERNEL);
	if (!w->buf)
		return -ENOMEM;
	memset(w->buf, 0x5a, BUF_SIZE);
	w->buf2 = kmalloc(BUF_SIZE, GFP_KERNEL);
	if (!w->buf2)
		return -ENOMEM;
	sg_init_table(w->sgl, SG_NENTS);
	for (i = 0; i < SG_NENTS; i++) {
		w->pages[i] = alloc_page(GFP_KERNEL);
		if (!w->pages[i])
			return -ENOMEM;
		sg_set_page(&w->sgl[i], w->pages[i], PAGE_SIZE, 0);
	}
#ifdef CONFIG_STACKDEPOT
	if (b->op == OP_DEPOT16 && stack_depot_init())
		return -ENOMEM;
#endif
	if (b->op == OP_SYNC) {
		w->sync_dma = dma_map_single(b->dev, w->buf, BUF_SIZE,
					     DMA_BIDIRECTIONAL);
		if (dma_mapping_error(b->dev, w->sync_dma))
			return -ENOMEM;
		w->sync_mapped = true;
	}
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	u64 x = *(const u64 *)a, y = *(const u64 *)b;

	return x < y ? -1 : x > y;
}

/* Tenths of a nanosecond, printed as "N.N". */
static char *tenths(char *buf, size_t size, u64 v)
{
	u32 rem;
	u64 q = div_u64_rem(v, 10, &rem);

	snprintf(buf, size, "%llu.%u", q, rem);
	return buf;
}

static int cmd_run(struct bdev *bd, int op, int nthreads, int reps,
		   unsigned long iters, unsigned int ms, const char *tag)
{
	struct bench *b;
	u64 per_rep[MAX_REPS], sorted[MAX_REPS], med;
	char vals[MAX_REPS * 12 + 1], m[3][24];
	int i, r, cpu, err = 0;
	size_t len = 0;

	b = kzalloc(sizeof(*b), GFP_KERNEL);
	if (!b)
		return -ENOMEM;
	b->dev = bd->dev;
	b->op = op;
	b->iters = iters;
	b->ms = ms;
	b->reps = reps;
	b->nthreads = nthreads;
	atomic_set(&b->running, nthreads);
	init_completion(&b->done);

	for (i = 0; i < nthreads; i++) {
		b->w[i].b = b;
		b->w[i].idx = i;
		err = worker_init(b, &b->w[i]);
		if (err)
			goto out;
	}
	i = 0;
	for_each_online_cpu(cpu) {
		struct worker *w = &b->w[i];

		if (i == nthreads)
			break;
		w->cpu = cpu;
		w->task = kthread_create(worker_fn, w, "dvbench/%d", cpu);
		if (IS_ERR(w->task)) {
			err = PTR_ERR(w->task);
			w->task = NULL;
			/* The others wait at the first sync point: let them go. */
			WRITE_ONCE(b->abort, 1);
			atomic_sub(nthreads - i, &b->running);
			break;
		}
		kthread_bind(w->task, cpu);
		get_task_struct(w->task);
		i++;
	}
	for (i = 0; i < nthreads; i++)
		if (b->w[i].task)
			wake_up_process(b->w[i].task);
	if (atomic_read(&b->running) || !err)
		wait_for_completion(&b->done);
	for (i = 0; i < nthreads; i++) {
		if (!b->w[i].task)
			continue;
		kthread_stop(b->w[i].task);
		put_task_struct(b->w[i].task);
		if (b->w[i].err && !err)
			err = b->w[i].err;
	}
	if (err) {
		pr_info("DVB error op=%s dev=%s cpus=%d tag=%s err=%d\n",
			op_names[op], bd->short_name, nthreads, tag, err);
		goto out;
	}

	for (r = 0; r < reps; r++) {
		u64 sum = 0;

		for (i = 0; i < nthreads; i++)
			sum += div64_u64(b->w[i].ns[r] * 10, b->iters);
		per_rep[r] = div_u64(sum, nthreads);
		len += scnprintf(vals + len, sizeof(vals) - len, "%s%s",
				 r ? "," : "",
				 tenths(m[0], sizeof(m[0]), per_rep[r]));
	}
	memcpy(sorted, per_rep, sizeof(u64) * reps);
	sort(sorted, reps, sizeof(u64), cmp_u64, NULL);
	med = reps & 1 ? sorted[reps / 2] :
	      (sorted[reps / 2 - 1] + sorted[reps / 2]) / 2;
	pr_info("DVB result op=%s dev=%s cpus=%d out=%lu tag=%s iters=%lu reps=%d med=%s min=%s max=%s frames=%u vals=%s\n",
		op_names[op], bd->short_name, nthreads, bd->hold.n, tag, b->iters,
		reps, tenths(m[0], sizeof(m[0]), med),
		tenths(m[1], sizeof(m[1]), sorted[0]),
		tenths(m[2], sizeof(m[2]), sorted[reps - 1]), b->w[0].frames, vals);
out:
	for (i = 0; i < nthreads; i++)
		worker_free(b, &b->w[i]);
	kfree(b);
	return err;
}

/* === Outstanding mappings === */

static void hold_release(struct bdev *bd)
{
	struct hold *h = &bd->hold;
	unsigned long i;
	u64 t = ktime_get_ns();
	unsigned long n = h->n;

	for (i = h->n; i > 0; i--) {
		dma_unmap_page(bd->dev, h->dma[i - 1], h->size, h->dir);
		if (!(i & 1023))
			cond_resched();
	}
	t = ktime_get_ns() - t;
	for (i = 0; i < h->npages; i++) {
		__free_page(h->pages[i]);
		if (!(i & 1023))
			cond_resched();
	}
	kvfree(h->dma);
	kvfree(h->pages);
	memset(h, 0, sizeof(*h));
	if (n)
		pr_info("DVB release dev=%s n=%lu ns_per_unmap=%llu\n",
			bd->short_name, n, div64_u64(t, n));
}

static int cmd_hold(struct bdev *bd, unsigned long n, int dir, size_t size)
{
	struct hold *h = &bd->hold;
	unsigned long per_page, start = h->n;
	u64 t;
	int err = 0;

	if (h->n && (dir != h->dir || size != h->size))
		return -EINVAL;	/* One kind of piece per device. */
	if (!size || size > PAGE_SIZE || n > hold_max)
		return -EINVAL;
	per_page = PAGE_SIZE / size;
	if (!h->dma) {
		h->cap = hold_max;
		h->dma = kvcalloc(h->cap, sizeof(*h->dma), GFP_KERNEL);
		h->pages = kvcalloc(DIV_ROUND_UP(h->cap, per_page),
				    sizeof(*h->pages), GFP_KERNEL);
		if (!h->dma || !h->pages) {
			kvfree(h->dma);
			kvfree(h->pages);
			memset(h, 0, sizeof(*h));
			return -ENOMEM;
		}
		h->dir = dir;
		h->size = size;
	}
	t = ktime_get_ns();
	while (h->n < n) {
		unsigned long pg = h->n / per_page;
		dma_addr_t addr;

		if (pg == h->npages) {
			h->pages[pg] = alloc_page(GFP_KERNEL | __GFP_NOWARN);
			if (!h->pages[pg]) {
				err = -ENOMEM;
				break;
			}
			h->npages++;
		}
		addr = dma_map_page(bd->dev, h->pages[pg],
				    (h->n % per_page) * size, size, dir);
		if (dma_mapping_error(bd->dev, addr)) {
			err = -EIO;
			break;
		}
		h->dma[h->n++] = addr;
		if (!(h->n & 1023)) {
			cond_resched();
			if (fatal_signal_pending(current)) {
				err = -EINTR;
				break;
			}
		}
	}
	t = ktime_get_ns() - t;
	if (err)
		pr_info("DVB hold-failed dev=%s out=%lu wanted=%lu err=%d\n",
			bd->short_name, h->n, n, err);
	else
		pr_info("DVB hold dev=%s out=%lu added=%lu ns_per_map=%llu\n",
			bd->short_name, h->n, h->n - start,
			h->n > start ? div64_u64(t, h->n - start) : 0);
	return err;
}

/* === Commands === */

static DEFINE_MUTEX(cmd_lock);

static int parse_dir(const char *s)
{
	if (!strcmp(s, "to"))
		return DMA_TO_DEVICE;
	if (!strcmp(s, "from"))
		return DMA_FROM_DEVICE;
	if (!strcmp(s, "bidi"))
		return DMA_BIDIRECTIONAL;
	return -EINVAL;
}

static int do_cmd(char *line)
{
	char *p = strim(line), *tok, *cmd;
	const char *tag = "-";
	struct bdev *bd = NULL;
	int op = -1, cpus = 1, reps = 7, dir = DMA_FROM_DEVICE;
	unsigned long iters = 0, n = 0, size = 256, v;
	unsigned int ms = 30;

	cmd = strsep(&p, " \t");
	if (!cmd || !*cmd)
		return -EINVAL;
	while ((tok = strsep(&p, " \t"))) {
		char *val = strchr(tok, '=');

		if (!*tok)
			continue;
		if (!val)
			return -EINVAL;
		*val++ = '\0';
		if (!strcmp(tok, "dev")) {
			bd = find_bdev(val);
			if (!bd)
				return -ENODEV;
		} else if (!strcmp(tok, "op")) {
			for (op = 0; op < NR_OPS; op++)
				if (!strcmp(val, op_names[op]))
					break;
			if (op == NR_OPS)
				return -EINVAL;
		} else if (!strcmp(tok, "tag")) {
			tag = val;
		} else if (!strcmp(tok, "dir")) {
			dir = parse_dir(val);
			if (dir < 0)
				return dir;
		} else {
			if (kstrtoul(val, 0, &v))
				return -EINVAL;
			if (!strcmp(tok, "cpus"))
				cpus = v;
			else if (!strcmp(tok, "reps"))
				reps = v;
			else if (!strcmp(tok, "iters"))
				iters = v;
			else if (!strcmp(tok, "ms"))
				ms = v;
			else if (!strcmp(tok, "n"))
				n = v;
			else if (!strcmp(tok, "size"))
				size = v;
			else
				return -EINVAL;
		}
	}
	if (!bd || !bd->dev)
		return -ENODEV;
	if (!strcmp(cmd, "run")) {
		if (op < 0 || cpus < 1 || cpus > MAX_THREADS ||
		    cpus > num_online_cpus() || reps < 1 || reps > MAX_REPS ||
		    iters > MAX_ITERS || !ms || ms > 10000)
			return -EINVAL;
		return cmd_run(bd, op, cpus, reps, iters, ms, tag);
	}
	if (!strcmp(cmd, "hold"))
		return cmd_hold(bd, n, dir, size);
	if (!strcmp(cmd, "release")) {
		hold_release(bd);
		return 0;
	}
	return -EINVAL;
}

static ssize_t cmd_write(struct file *file, const char __user *ubuf,
			 size_t count, loff_t *ppos)
{
	char buf[256];
	int ret;

	if (count >= sizeof(buf))
		return -E2BIG;
	if (copy_from_user(buf, ubuf, count))
		return -EFAULT;
	buf[count] = '\0';
	mutex_lock(&cmd_lock);
	ret = do_cmd(buf);
	mutex_unlock(&cmd_lock);
	return ret ? ret : count;
}

static const struct file_operations cmd_fops = {
	.owner = THIS_MODULE,
	.write = cmd_write,
	.llseek = noop_llseek,
};

static struct dentry *dir;

/* === Load and unload === */

static void bench_cleanup(void)
{
	int i;

	for (i = NR_DEVS - 1; i >= 0; i--) {
		if (bdevs[i].dev)
			hold_release(&bdevs[i]);
		if (bdevs[i].pdev)
			platform_device_unregister(bdevs[i].pdev);
		bdevs[i].dev = NULL;
		bdevs[i].pdev = NULL;
	}
}

static int __init bench_init(void)
{
	int i, ret;

	slab80 = kmem_cache_create("dvbench_slab80", 80, 0, 0, NULL);
	if (!slab80)
		return -ENOMEM;
	for (i = 0; i < NR_DEVS; i++) {
		ret = platform_driver_register(&bdevs[i].drv);
		if (ret)
			goto err_drv;
	}
	for (i = 0; i < NR_DEVS; i++) {
		struct platform_device *pdev;

		pdev = platform_device_register_simple(bdevs[i].drv.driver.name,
						       PLATFORM_DEVID_NONE, NULL, 0);
		if (IS_ERR(pdev)) {
			ret = PTR_ERR(pdev);
			goto err_dev;
		}
		bdevs[i].pdev = pdev;
		if (!bdevs[i].dev) {
			pr_err("%s: device not bound to its driver\n",
			       bdevs[i].drv.driver.name);
			ret = -ENODEV;
			goto err_dev;
		}
	}
	dir = debugfs_create_dir("dvbench", NULL);
	debugfs_create_file("cmd", 0200, dir, NULL, &cmd_fops);
	pr_info("ready: devices %s and %s; commands to /sys/kernel/debug/dvbench/cmd\n",
		dev_name(&bdevs[DEV_HOOKED].pdev->dev),
		dev_name(&bdevs[DEV_PLAIN].pdev->dev));
	return 0;

err_dev:
	bench_cleanup();
	i = NR_DEVS;
err_drv:
	while (--i >= 0)
		platform_driver_unregister(&bdevs[i].drv);
	kmem_cache_destroy(slab80);
	return ret;
}

static void __exit bench_exit(void)
{
	int i;

	debugfs_remove_recursive(dir);
	bench_cleanup();
	for (i = NR_DEVS - 1; i >= 0; i--)
		platform_driver_unregister(&bdevs[i].drv);
	kmem_cache_destroy(slab80);
}

module_init(bench_init);
module_exit(bench_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Microbenchmark of DMA API calls with and without dmaverify or dma-debug");
MODULE_AUTHOR("dmaverify developers");
