// SPDX-License-Identifier: GPL-2.0
/*
 * dmaverify_stress: correct DMA API use, as hard as possible, on devices
 * under dmaverify: from every CPU at once, in process context, softirq
 * (timers), hardirq (hrtimers) and with interrupts off; single maps, page
 * maps, S/G lists, syncs and coherent buffers.  Data that must survive a
 * round trip (TO_DEVICE and BIDIRECTIONAL buffers, with or without bounce
 * buffers) is checked.  dmaverify must report nothing.
 *
 * With races=1, one device is kept for a buggy pair instead: one CPU maps,
 * unmaps and reuses a buffer over and over while another syncs whatever
 * address it saw mapped last, racing the unmap (the race of a sync and an
 * unmap that once made dmaverify's bounce buffers copy into a buffer the
 * driver had reused).  dmaverify reports the syncs that lose the race
 * (sync-unmapped, in racer_sync()); the reused buffer must never change.
 * If dmaverify is loaded, its test hook widens the window between a sync's
 * lookup of the mapping and its copy, so that the unmap often lands in it.
 *
 * Load dmaverify with driver=dvstress first.  The run starts at load and
 * lasts "seconds"; results are printed as one line:
 *   dvstress: done ops=N process=N softirq=N hardirq=N irqsoff=N errors=N
 * and with races=1 a second one:
 *   dvstress: races maps=N syncs=N paused=N corrupted=N
 * (paused: syncs held between their lookup and their copy by the hook)
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/cpu.h>
#include <linux/delay.h>
#include <linux/dma-mapping.h>
#include <linux/hrtimer.h>
#include <linux/kthread.h>
#include <linux/module.h>
#include <linux/platform_device.h>
#include <linux/random.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>
#include <linux/timer.h>

#include "dmaverify.h"	/* The test hook (kernels with KUnit). */

static unsigned int seconds = 5;
module_param(seconds, uint, 0444);
MODULE_PARM_DESC(seconds, "How long the run lasts (default 5)");

static unsigned int ndevs = 3;
module_param(ndevs, uint, 0444);
MODULE_PARM_DESC(ndevs, "Devices to stress (default 3, at most 8)");

static bool races;
module_param(races, bool, 0444);
MODULE_PARM_DESC(races, "Keep the first device for a buggy pair: syncs racing unmaps (default N; dmaverify reports sync-unmapped)");

#define MAX_DEVS 8

static struct platform_device *pdevs[MAX_DEVS];
static struct device *devs[MAX_DEVS];
static atomic_t nbound;

static atomic_long_t ops_process, ops_softirq, ops_hardirq, ops_irqsoff;
static atomic_long_t errors;
static bool stopping;

/* With races=1, devs[0] is the racing pair's, the others are picked here. */
static struct device *pick_dev(void)
{
	int first = races ? 1 : 0, n = atomic_read(&nbound) - first;

	return n > 0 ? devs[first + get_random_u32_below(n)] : NULL;
}

static void check_pattern(const u8 *buf, size_t len, u8 seed, const char *what)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (buf[i] != (u8)(seed + i)) {
			if (atomic_long_inc_return(&errors) < 5)
				pr_err("%s: data corrupted at %zu of %zu\n", what, i, len);
			return;
		}
	}
}

static void fill_pattern(u8 *buf, size_t len, u8 seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		buf[i] = seed + i;
}

static const enum dma_data_direction dirs[] = {
	DMA_TO_DEVICE, DMA_FROM_DEVICE, DMA_BIDIRECTIONAL,
};

/* One map/sync/unmap round on a buffer the caller owns; any context. */
static void single_round(struct device *dev, u8 *buf, size_t len)
{
	enum dma_data_direction dir = dirs[get_random_u32_below(3)];
	u8 seed = get_random_u8();
	dma_addr_t a;

	fill_pattern(buf, len, seed);
	a = dma_map_single(dev, buf, len, dir);
	if (dma_mapping_error(dev, a))
		return;
	if (dir != DMA_TO_DEVICE) {
		dma_sync_single_for_cpu(dev, a, len, dir);
		dma_sync_single_for_device(dev, a, len, dir);
		/*
		 * A part inside the mapping, possibly pages after its start:
		 * found by the lookup of the mapping containing an address,
		 * which must not miss while other CPUs track larger objects.
		 */
		if (len > 1) {
			size_t off = get_random_u32_below(len - 1) + 1;

			dma_sync_single_range_for_cpu(dev, a, off, len - off, dir);
			dma_sync_single_range_for_device(dev, a, off, len - off, dir);
		}
	}
	dma_unmap_single(dev, a, len, dir);
	if (dir != DMA_FROM_DEVICE)
		check_pattern(buf, len, seed, "single");
}

static void page_round(struct device *dev)
{
	struct page *page = alloc_page(GFP_KERNEL);
	size_t off, len;
	dma_addr_t a;

	if (!page)
		return;
	off = get_random_u32_below(PAGE_SIZE / 2);
	len = 1 + get_random_u32_below(PAGE_SIZE - off - 1);
	fill_pattern(page_address(page), PAGE_SIZE, 7);
	a = dma_map_page(dev, page, off, len, DMA_BIDIRECTIONAL);
	if (!dma_mapping_error(dev, a)) {
		dma_sync_single_range_for_cpu(dev, a, 0, len / 2 + 1, DMA_BIDIRECTIONAL);
		dma_unmap_page(dev, a, len, DMA_BIDIRECTIONAL);
		check_pattern(page_address(page), PAGE_SIZE, 7, "page");
	}
	__free_page(page);
}

static void sg_round(struct device *dev)
{
	int nents = 1 + get_random_u32_below(16), i, mapped;
	enum dma_data_direction dir = dirs[get_random_u32_below(3)];
	struct scatterlist *sgl = kcalloc(nents, sizeof(*sgl), GFP_KERNEL);
	void *bufs[16] = {};

	if (!sgl)
		return;
	sg_init_table(sgl, nents);
	for (i = 0; i < nents; i++) {
		size_t len = 1 + get_random_u32_below(3000);

		bufs[i] = kmalloc(len, GFP_KERNEL);
		if (!bufs[i])
			goto out;
		fill_pattern(bufs[i], len, i);
		sg_set_buf(&sgl[i], bufs[i], len);
	}
	mapped = dma_map_sg(dev, sgl, nents, dir);
	if (mapped > 0) {
		dma_sync_sg_for_cpu(dev, sgl, nents, dir);
		dma_sync_sg_for_device(dev, sgl, nents, dir);
		dma_unmap_sg(dev, sgl, nents, dir);
		if (dir != DMA_FROM_DEVICE)
			for (i = 0; i < nents; i++)
				check_pattern(bufs[i], sgl[i].length, i, "sg");
	}
out:
	for (i = 0; i < nents; i++)
		kfree(bufs[i]);
	kfree(sgl);
}

static void coherent_round(struct device *dev)
{
	size_t len = 1 + get_random_u32_below(3 * PAGE_SIZE);
	dma_addr_t a;
	u8 *cpu = dma_alloc_coherent(dev, len, &a, GFP_KERNEL);

	if (!cpu)
		return;
	fill_pattern(cpu, len, 3);
	check_pattern(cpu, len, 3, "coherent");
	dma_free_coherent(dev, len, cpu, a);
}

static int process_fn(void *unused)
{
	u8 *buf = kmalloc(8192, GFP_KERNEL);

	if (!buf)
		return -ENOMEM;
	while (!kthread_should_stop()) {
		struct device *dev = pick_dev();
		unsigned long flags;

		if (!dev) {
			msleep(20);
			continue;
		}
		switch (get_random_u32_below(5)) {
		case 0:
			single_round(dev, buf, 1 + get_random_u32_below(8192));
			break;
		case 1:
			page_round(dev);
			break;
		case 2:
			sg_round(dev);
			break;
		case 3:
			coherent_round(dev);
			break;
		case 4:
			/* Streaming maps are allowed with interrupts off. */
			local_irq_save(flags);
			single_round(dev, buf, 1 + get_random_u32_below(2048));
			local_irq_restore(flags);
			atomic_long_inc(&ops_irqsoff);
			break;
		}
		atomic_long_inc(&ops_process);
		cond_resched();
	}
	kfree(buf);
	return 0;
}

/* Softirq: a timer per CPU. */
struct soft_ctx {
	struct timer_list timer;
	u8 buf[1024];
};

static void soft_fn(struct timer_list *t)
{
	struct soft_ctx *c = from_timer(c, t, timer);
	struct device *dev = pick_dev();

	if (dev) {
		single_round(dev, c->buf, 1 + get_random_u32_below(sizeof(c->buf)));
		atomic_long_inc(&ops_softirq);
	}
	if (!READ_ONCE(stopping))
		mod_timer(&c->timer, jiffies + 1);
}

/* Hardirq: an hrtimer per CPU. */
struct hard_ctx {
	struct hrtimer timer;
	u8 buf[512];
};

static enum hrtimer_restart hard_fn(struct hrtimer *t)
{
	struct hard_ctx *c = container_of(t, struct hard_ctx, timer);
	struct device *dev = pick_dev();

	if (dev) {
		single_round(dev, c->buf, 1 + get_random_u32_below(sizeof(c->buf)));
		atomic_long_inc(&ops_hardirq);
	}
	if (READ_ONCE(stopping))
		return HRTIMER_NORESTART;
	hrtimer_forward_now(t, ns_to_ktime(200 * NSEC_PER_USEC));
	return HRTIMER_RESTART;
}

/*
 * The racing pair (races=1), on devs[0]: racer_map() maps a buffer, lets
 * racer_sync() see its address, unmaps it and fills the buffer while no
 * mapping of the device exists; racer_sync() syncs the last address it saw,
 * which may be unmapped by then.  A sync that copied into the buffer after
 * the unmap would change it.
 */
#define RACE_LEN 512
static dma_addr_t race_addr;
static atomic_long_t race_maps, race_syncs, race_paused, race_corrupted;

/* The buffer holds what the driver wrote after the unmap, nothing else. */
static void racer_check(const u8 *buf)
{
	int i;

	for (i = 0; i < RACE_LEN; i++) {
		if (READ_ONCE(buf[i]) != 0x5a) {
			if (atomic_long_inc_return(&race_corrupted) < 5)
				pr_err("races: buffer changed after its unmap at %d: %#x\n",
				       i, buf[i]);
			return;
		}
	}
}

static int racer_map(void *unused)
{
	u8 *buf = kmalloc(RACE_LEN, GFP_KERNEL);
	struct device *dev = devs[0];
	bool unmapped = false;
	dma_addr_t a;

	if (!buf)
		return -ENOMEM;
	while (!kthread_should_stop()) {
		if (unmapped)
			racer_check(buf);
		memset(buf, 0x11, RACE_LEN);
		a = dma_map_single(dev, buf, RACE_LEN, DMA_BIDIRECTIONAL);
		if (dma_mapping_error(dev, a)) {
			cond_resched();
			continue;
		}
		WRITE_ONCE(race_addr, a);
		udelay(get_random_u32_below(20));
		dma_unmap_single(dev, a, RACE_LEN, DMA_BIDIRECTIONAL);
		/* The driver reuses its buffer: no mapping of it exists now. */
		memset(buf, 0x5a, RACE_LEN);
		unmapped = true;
		udelay(get_random_u32_below(20));
		racer_check(buf);
		atomic_long_inc(&race_maps);
		cond_resched();
	}
	kfree(buf);
	return 0;
}

static int racer_sync(void *unused)
{
	struct device *dev = devs[0];

	while (!kthread_should_stop()) {
		dma_addr_t a = READ_ONCE(race_addr);

		if (a) {
			dma_sync_single_for_cpu(dev, a, RACE_LEN, DMA_BIDIRECTIONAL);
			dma_sync_single_for_device(dev, a, RACE_LEN, DMA_BIDIRECTIONAL);
			atomic_long_inc(&race_syncs);
		}
		cond_resched();
	}
	return 0;
}

static int dvstress_probe(struct platform_device *pdev)
{
	int n, ret = dma_coerce_mask_and_coherent(&pdev->dev, DMA_BIT_MASK(64));

	if (ret)
		return ret;
	n = atomic_read(&nbound);
	if (n >= MAX_DEVS)
		return -ENOSPC;
	devs[n] = &pdev->dev;
	/* Publish the device after its slot is written. */
	atomic_set_release(&nbound, n + 1);
	return 0;
}

static struct platform_driver dvstress_driver = {
	.probe = dvstress_probe,
	.driver = { .name = "dvstress" },
};

static struct hard_ctx *hard;

/* hrtimers run on the CPU that starts them: start one on each CPU. */
static void start_hard(void *unused)
{
	struct hard_ctx *c = &hard[smp_processor_id()];

	hrtimer_init(&c->timer, CLOCK_MONOTONIC, HRTIMER_MODE_REL_PINNED_HARD);
	c->timer.function = hard_fn;
	hrtimer_start(&c->timer, ns_to_ktime(200 * NSEC_PER_USEC), HRTIMER_MODE_REL_PINNED_HARD);
}

/*
 * dmaverify's test hook, where a sync has found its mapping and not yet
 * copied: a pause there lets the other CPU unmap in between.  Taken with
 * symbol_get(), so that this module does not depend on dmaverify.
 */
static dmaverify_test_hook_t *race_hook;

static void race_pause(enum dmaverify_test_point point, struct device *dev,
		       u64 addr)
{
	if (point == DV_TEST_SYNC_FOUND && dev == devs[0]) {
		udelay(get_random_u32_below(50));
		atomic_long_inc(&race_paused);
	}
}

static void stop_races(struct task_struct **pair)
{
	int i;

	for (i = 0; i < 2; i++)
		if (!IS_ERR_OR_NULL(pair[i]))
			kthread_stop(pair[i]);
	if (race_hook) {
		WRITE_ONCE(*race_hook, NULL);
		/* The hook runs with preemption disabled. */
		synchronize_rcu();
		symbol_put(dmaverify_test_hook);
		race_hook = NULL;
	}
}

/* The racing pair on two CPUs (one if there is one). */
static void start_races(struct task_struct **pair)
{
	unsigned int cpu = cpumask_first(cpu_online_mask);
	unsigned int other = cpumask_next(cpu, cpu_online_mask);

	if (other >= nr_cpu_ids)
		other = cpu;
	race_hook = symbol_get(dmaverify_test_hook);
	if (race_hook && cmpxchg(race_hook, NULL, race_pause)) {
		symbol_put(dmaverify_test_hook);	/* Another user. */
		race_hook = NULL;
	}
	pair[0] = kthread_create_on_cpu(racer_map, NULL, cpu, "dvstress-map/%u");
	pair[1] = kthread_create_on_cpu(racer_sync, NULL, other, "dvstress-sync/%u");
	if (!IS_ERR(pair[0]))
		wake_up_process(pair[0]);
	if (!IS_ERR(pair[1]))
		wake_up_process(pair[1]);
}

static int run(void)
{
	struct task_struct *pair[2] = {};
	struct task_struct **tasks;
	struct soft_ctx *soft;
	unsigned int cpu;

	tasks = kcalloc(nr_cpu_ids, sizeof(*tasks), GFP_KERNEL);
	soft = kcalloc(nr_cpu_ids, sizeof(*soft), GFP_KERNEL);
	hard = kcalloc(nr_cpu_ids, sizeof(*hard), GFP_KERNEL);
	if (!tasks || !soft || !hard) {
		kfree(tasks);
		kfree(soft);
		kfree(hard);
		return -ENOMEM;
	}
	cpus_read_lock();
	for_each_online_cpu(cpu) {
		tasks[cpu] = kthread_create_on_cpu(process_fn, NULL, cpu, "dvstress/%u");
		if (!IS_ERR(tasks[cpu]))
			wake_up_process(tasks[cpu]);
		timer_setup(&soft[cpu].timer, soft_fn, TIMER_PINNED);
		soft[cpu].timer.expires = jiffies + 1;
		add_timer_on(&soft[cpu].timer, cpu);
	}
	on_each_cpu(start_hard, NULL, 1);
	if (races)
		start_races(pair);
	cpus_read_unlock();

	ssleep(seconds);
	WRITE_ONCE(stopping, true);
	stop_races(pair);
	for (cpu = 0; cpu < nr_cpu_ids; cpu++) {
		if (!IS_ERR_OR_NULL(tasks[cpu]))
			kthread_stop(tasks[cpu]);
		if (soft[cpu].timer.function)
			timer_shutdown_sync(&soft[cpu].timer);
		if (hard[cpu].timer.function)
			hrtimer_cancel(&hard[cpu].timer);
	}
	kfree(tasks);
	kfree(soft);
	kfree(hard);
	return 0;
}

static int __init dvstress_init(void)
{
	long total;
	int i, ret;

	ndevs = clamp(ndevs, races ? 2U : 1U, (unsigned int)MAX_DEVS);
	ret = platform_driver_register(&dvstress_driver);
	if (ret)
		return ret;
	for (i = 0; i < ndevs; i++) {
		pdevs[i] = platform_device_register_simple("dvstress", i, NULL, 0);
		if (IS_ERR(pdevs[i])) {
			ret = PTR_ERR(pdevs[i]);
			pdevs[i] = NULL;
			goto err;
		}
	}
	if (atomic_read(&nbound) != ndevs) {
		pr_err("only %d of %u devices bound\n", atomic_read(&nbound), ndevs);
		ret = -ENODEV;
		goto err;
	}
	pr_info("start: %u devices, %u CPUs, %u s\n", ndevs, num_online_cpus(), seconds);
	ret = run();
	if (ret)
		goto err;
	total = atomic_long_read(&ops_process) + atomic_long_read(&ops_softirq) +
		atomic_long_read(&ops_hardirq);
	pr_info("done ops=%ld process=%ld softirq=%ld hardirq=%ld irqsoff=%ld errors=%ld\n",
		total, atomic_long_read(&ops_process), atomic_long_read(&ops_softirq),
		atomic_long_read(&ops_hardirq), atomic_long_read(&ops_irqsoff),
		atomic_long_read(&errors));
	if (races)
		pr_info("races maps=%ld syncs=%ld paused=%ld corrupted=%ld\n",
			atomic_long_read(&race_maps), atomic_long_read(&race_syncs),
			atomic_long_read(&race_paused),
			atomic_long_read(&race_corrupted));
	return 0;
err:
	for (i = 0; i < ndevs; i++)
		if (pdevs[i])
			platform_device_unregister(pdevs[i]);
	platform_driver_unregister(&dvstress_driver);
	return ret;
}

static void __exit dvstress_exit(void)
{
	int i;

	for (i = 0; i < ndevs; i++)
		if (pdevs[i])
			platform_device_unregister(pdevs[i]);
	platform_driver_unregister(&dvstress_driver);
}

module_init(dvstress_init);
module_exit(dvstress_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Stress test for dmaverify: correct DMA API use from every context");
