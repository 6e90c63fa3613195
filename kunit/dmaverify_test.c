// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests for dmaverify.
 *
 * Each case puts a KUnit device under dmaverify, makes exactly one DMA API
 * call that breaks one rule, and checks the report dmaverify produced: its
 * violation and its title, rebuilt from the violation table (report.c)
 * with the name of the case's own function, as mm/kfence/kfence_test.c
 * does.  Reports are captured through dmaverify's report hook, which gets
 * the full text before it is printed.  Every case also has a twin that uses
 * the API correctly and must produce no report.
 *
 * Most cases run on dma-direct, as a real device would.  Rules that need a
 * DMA implementation misbehaving (an address outside the mask, a small
 * maximum mapping size) use a fake implementation installed as the
 * device's original dma_map_ops before attach: dmaverify forwards to it as
 * it would to an IOMMU's ops.
 */

#include <kunit/device.h>
#include <kunit/test.h>
#include <kunit/test-bug.h>
#include <linux/ctype.h>
#include <linux/delay.h>
#include <linux/dma-map-ops.h>
#include <linux/dma-mapping.h>
#include <linux/fault-inject.h>
#include <linux/irq_work.h>
#include <linux/kallsyms.h>
#include <linux/kthread.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/vmalloc.h>

#include "dmaverify.h"

/* ===== Report capture ===== */

#define MAX_SEEN 8

static struct {
	spinlock_t lock;			/* Guards the other fields. */
	int nreports;				/* Reports since the last check. */
	enum dmaverify_violation v[MAX_SEEN];	/* Their violations. */
	char text[4096];			/* The first report's text. */
} observed;

static void capture(const struct dmaverify_report *r, const char *text)
{
	unsigned long flags;

	/* From (simulated) NMI, only a trylock is allowed (lockdep checks it). */
	if (in_nmi()) {
		if (!spin_trylock_irqsave(&observed.lock, flags))
			return;
	} else {
		spin_lock_irqsave(&observed.lock, flags);
	}
	if (observed.nreports < MAX_SEEN)
		observed.v[observed.nreports] = r->v;
	if (!observed.nreports)
		strscpy(observed.text, text, sizeof(observed.text));
	observed.nreports++;
	spin_unlock_irqrestore(&observed.lock, flags);
}

static void reset_observed(void)
{
	unsigned long flags;

	spin_lock_irqsave(&observed.lock, flags);
	observed.nreports = 0;
	observed.text[0] = '\0';
	spin_unlock_irqrestore(&observed.lock, flags);
}

struct expect_report {
	enum dmaverify_violation v;	/* The violation. */
	const char *fn;			/* Function named in the title. */
};

/*
 * The title has the shape that tools parsing kernel logs (syzkaller,
 * KernelCI) expect of KASAN, KFENCE and KCSAN reports: the regular
 * expression "^BUG: [A-Za-z0-9_-]+: [a-z0-9-]+ in [A-Za-z0-9_.]+$",
 * checked by hand on the first line after the report's opening line.
 */
static bool title_parses(const char *text)
{
	const char *p = strstr(text, "\nBUG: dmaverify: ");

	if (!p)
		return false;
	p += strlen("\nBUG: dmaverify: ");
	if (!(isalnum(*p) || *p == '-'))
		return false;
	while (islower(*p) || isdigit(*p) || *p == '-')
		p++;
	if (strncmp(p, " in ", 4))
		return false;
	p += 4;
	if (!(isalnum(*p) || *p == '_' || *p == '.'))
		return false;
	while (isalnum(*p) || *p == '_' || *p == '.')
		p++;
	return *p == '\n';
}

/*
 * Exactly one report, of the expected violation, titled as report.c
 * titles it: "BUG: dmaverify: <slug> in <fn>", the function without offset
 * or module.  Consumes the report.
 */
static bool report_matches(const struct expect_report *e)
{
	const struct dmaverify_code *c = &dmaverify_codes[e->v];
	char title[160];
	unsigned long flags;
	bool ok;

	snprintf(title, sizeof(title), "BUG: dmaverify: %s in %s\n",
		 c->slug, e->fn);
	spin_lock_irqsave(&observed.lock, flags);
	ok = observed.nreports == 1 && observed.v[0] == e->v &&
	     strstr(observed.text, title) && title_parses(observed.text);
	if (!ok)
		pr_info("dmaverify_test: expected '%s', got %d reports: %.400s\n",
			title, observed.nreports, observed.text);
	observed.nreports = 0;
	spin_unlock_irqrestore(&observed.lock, flags);
	return ok;
}

static int report_count(void)
{
	return READ_ONCE(observed.nreports);
}

static bool report_available(void)
{
	return READ_ONCE(observed.nreports) != 0;
}

/* The report's text contains @s. */
static bool report_says(const char *s)
{
	return strstr(observed.text, s);
}

#define EXPECT_REPORT(test, viol, func)					\
	do {								\
		struct expect_report __e = { .v = (viol), .fn = #func };\
		KUNIT_EXPECT_TRUE(test, report_matches(&__e));		\
	} while (0)

#define EXPECT_NO_REPORT(test) KUNIT_EXPECT_FALSE(test, report_available())

/* ===== A fake DMA implementation ===== */

static dma_addr_t fake_next;	/* Address the next map returns, if non-zero. */
static dma_addr_t fake_alloc_next;	/* Address the next alloc returns, if non-zero. */
static size_t fake_max = SIZE_MAX;
static struct device *fake_asked;	/* Device of the last dma_supported(). */

static dma_addr_t fake_map_page(struct device *dev, struct page *page,
				unsigned long offset, size_t size,
				enum dma_data_direction dir, unsigned long attrs)
{
	return fake_next ?: page_to_phys(page) + offset;
}

static void fake_unmap_page(struct device *dev, dma_addr_t addr, size_t size,
			    enum dma_data_direction dir, unsigned long attrs)
{
}

static int fake_map_sg(struct device *dev, struct scatterlist *sgl, int nents,
		       enum dma_data_direction dir, unsigned long attrs)
{
	struct scatterlist *s;
	int i;

	for_each_sg(sgl, s, nents, i) {
		sg_dma_address(s) = sg_phys(s);
		sg_dma_len(s) = s->length;
	}
	return nents;
}

static void fake_unmap_sg(struct device *dev, struct scatterlist *sgl,
			  int nents, enum dma_data_direction dir,
			  unsigned long attrs)
{
}

static void *fake_alloc(struct device *dev, size_t size, dma_addr_t *handle,
			gfp_t gfp, unsigned long attrs)
{
	/* Never sleeps, whatever the caller asked: the rule is dmaverify's. */
	void *p = kzalloc(size, GFP_ATOMIC);

	if (p)
		*handle = fake_alloc_next ?: fake_next ?: virt_to_phys(p);
	return p;
}

static void fake_free(struct device *dev, size_t size, void *cpu,
		      dma_addr_t handle, unsigned long attrs)
{
	kfree(cpu);
}

static void fake_sync_single(struct device *dev, dma_addr_t addr, size_t size,
			     enum dma_data_direction dir)
{
}

static size_t fake_max_mapping_size(struct device *dev)
{
	return fake_max;
}

static int fake_dma_supported(struct device *dev, u64 mask)
{
	WRITE_ONCE(fake_asked, dev);
	return 1;
}

static const struct dma_map_ops fake_ops = {
	.alloc = fake_alloc,
	.free = fake_free,
#ifdef DMAVERIFY_HAVE_OPS_MAP_PHYS
#error "the fake implementation needs map_phys for this kernel"
#else
	.map_page = fake_map_page,
	.unmap_page = fake_unmap_page,
#endif
	.map_sg = fake_map_sg,
	.unmap_sg = fake_unmap_sg,
	.sync_single_for_cpu = fake_sync_single,
	.sync_single_for_device = fake_sync_single,
	.dma_supported = fake_dma_supported,
	.max_mapping_size = fake_max_mapping_size,
};

/* ===== Fixture ===== */

struct dv_test {
	struct device *dev;
	struct device_dma_parameters parms;
};

/* A KUnit device with DMA parameters, not yet verified. */
/*
 * Architectures with DMA cache maintenance (arm64, riscv, ...) have a
 * per-device dma_coherent flag; a device without firmware description is
 * non-coherent there.  The suite's devices are coherent, as PCI devices on
 * x86 and on QEMU's arm64 virt board are; test_noncoherent() makes one
 * that is not.
 */
#if defined(CONFIG_ARCH_HAS_SYNC_DMA_FOR_DEVICE) || \
	defined(CONFIG_ARCH_HAS_SYNC_DMA_FOR_CPU) || \
	defined(CONFIG_ARCH_HAS_SYNC_DMA_FOR_CPU_ALL)
#define DV_TEST_NONCOHERENT 1
static void set_coherent(struct device *dev, bool coherent)
{
	dev->dma_coherent = coherent;
}
#else
#define DV_TEST_NONCOHERENT 0
static void set_coherent(struct device *dev, bool coherent)
{
}
#endif

static struct device *new_dev(struct kunit *test, const char *name, bool fake)
{
	struct dv_test *t = test->priv;
	struct device *dev;

	dev = kunit_device_register(test, name);
	KUNIT_ASSERT_FALSE(test, IS_ERR(dev));
	/* A KUnit device has no DMA mask of its own. */
	dev->dma_mask = &dev->coherent_dma_mask;
	t->parms.max_segment_size = SZ_64K;
	t->parms.segment_boundary_mask = ULONG_MAX;
	dev->dma_parms = &t->parms;
	set_coherent(dev, true);
	if (fake)
		set_dma_ops(dev, &fake_ops);
	KUNIT_ASSERT_EQ(test, dma_set_mask_and_coherent(dev, DMA_BIT_MASK(64)), 0);
	return dev;
}

/* The context of a device this suite attached (its ops are dmaverify's). */
static struct dmaverify_dev *test_ctx_of(struct device *dev)
{
	return container_of(get_dma_ops(dev), struct dmaverify_dev, ops);
}

static struct device *setup_dev(struct kunit *test, bool fake)
{
	struct dv_test *t = test->priv;
	struct device *dev = new_dev(test, "dmaverify-test", fake);

	KUNIT_ASSERT_EQ(test, dmaverify_attach_device(dev), 0);
	KUNIT_ASSERT_PTR_NE(test, (void *)get_dma_ops(dev), (void *)&fake_ops);
	t->dev = dev;
	return dev;
}

/* A device on dma-direct, the path of most real devices. */
static struct device *direct_dev(struct kunit *test)
{
	return setup_dev(test, false);
}

/* A device whose original DMA implementation is the fake one. */
static struct device *fake_dev(struct kunit *test)
{
	fake_next = 0;
	fake_alloc_next = 0;
	fake_max = SIZE_MAX;
	return setup_dev(test, true);
}

static int saved_action, saved_multishot;
static unsigned int saved_max_objects;

static int dv_suite_init(struct kunit_suite *suite)
{
	spin_lock_init(&observed.lock);
	saved_action = dmaverify_action;
	saved_multishot = dmaverify_multishot;
	saved_max_objects = dmaverify_max_objects;
	/* Report every violation, and do not taint for expected ones. */
	dmaverify_action = DV_ACTION_LOG;
	dmaverify_multishot = true;
	dmaverify_set_report_hook(capture);
	return 0;
}

static void dv_suite_exit(struct kunit_suite *suite)
{
	dmaverify_set_report_hook(NULL);
	dmaverify_action = saved_action;
	dmaverify_multishot = saved_multishot;
}

static int dv_init(struct kunit *test)
{
	struct dv_test *t = kunit_kzalloc(test, sizeof(*t), GFP_KERNEL);

	if (!t)
		return -ENOMEM;
	test->priv = t;
	if (!dmaverify_interposer_available())
		kunit_skip(test, "no per-device dma_map_ops in this kernel (observe-only)");
	reset_observed();
	WRITE_ONCE(dmaverify_enabled, true);
	WRITE_ONCE(dmaverify_checks, ~0UL);
	WRITE_ONCE(dmaverify_fail_every, 0);
	WRITE_ONCE(dmaverify_max_objects, saved_max_objects);
	return 0;
}

static void dv_exit(struct kunit *test)
{
	struct dv_test *t = test->priv;

	/* Detaching runs the leak check: a clean case leaves nothing behind. */
	if (t->dev)
		dmaverify_detach_device(t->dev);
	KUNIT_EXPECT_FALSE_MSG(test, report_available(),
			       "unexpected report: %.300s", observed.text);
	WRITE_ONCE(dmaverify_enabled, true);
	WRITE_ONCE(dmaverify_fail_every, 0);
	WRITE_ONCE(dmaverify_bounce, false);
	WRITE_ONCE(dmaverify_object_stacks, false);
	WRITE_ONCE(dmaverify_test_hook, NULL);
	atomic_set(&dmaverify_test_fail_allocs, 0);
}

/* ===== Test cases: releases ===== */

static void test_double_unmap(struct kunit *test)
{
	struct device *dev = direct_dev(test);
	void *buf = kunit_kzalloc(test, 256, GFP_KERNEL);
	dma_addr_t a = dma_map_single(dev, buf, 256, DMA_TO_DEVICE);
	char line[96];
	const char *p;

	KUNIT_ASSERT_FALSE(test, dma_mapping_error(dev, a));
	WRITE_ONCE(dmaverify_free_stacks, true);
	dma_unmap_single(dev, a, 256, DMA_TO_DEVICE);
	WRITE_ONCE(dmaverify_free_stacks, false);
	EXPECT_NO_REPORT(test);
	dma_unmap_single(dev, a, 256, DMA_TO_DEVICE);
	EXPECT_REPORT(test, DV_DOUBLE_UNMAP, test_double_unmap);
	/* The report shows the mapping and who released it first. */
	snprintf(line, sizeof(line), "\nreleased by task %d on cpu ",
		 task_pid_nr(current));
	KUNIT_EXPECT_TRUE(test, report_says(line));
	KUNIT_EXPECT_FALSE(test, report_says("free_stacks=1 records where"));
	/* It points to the rule's documentation ... */
	KUNIT_EXPECT_TRUE(test, report_says("\nhow to fix: dmaverify explain double-unmap, "));
	KUNIT_EXPECT_TRUE(test, report_says("dmaverify.rst, section \"double-unmap\"\n"));
	/* ... and ends with the context line of the kernel's own reports. */
	snprintf(line, sizeof(line), " PID: %d Comm: %.20s ", task_pid_nr(current),
		 current->comm);
	KUNIT_EXPECT_TRUE(test, report_says(line));
	p = strstr(observed.text, "\nCPU: ");
	KUNIT_ASSERT_NOT_NULL(test, p);
	KUNIT_EXPECT_TRUE(test, strstr(p, line) && (strstr(p, " Tainted: ") ||
						    strstr(p, " Not tainted ")));
	p = strchr(p + 1, '\n');
	KUNIT_EXPECT_STREQ(test, p ?: "",
			   "\n==================================================================\n");
}

static void test_unmap_never_mapped(struct kunit *test)
{
	struct device *dev = direct_dev(test);

	dma_unmap_page(dev, 0x12340000, 4096, DMA_FROM_DEVICE);
	EXPECT_REPORT(test, DV_DOUBLE_UNMAP, test_unmap_never_mapped);
}

static void test_double_free(struct kunit *test)
{
	struct device *dev = direct_dev(test);
	dma_addr_t a;
	void *cpu = dma_alloc_coherent(dev, 4096, &a, GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, cpu);
	dma_free_coherent(dev, 4096, cpu, a);
	EXPECT_NO_REPORT(test);
	dma_free_coherent(dev, 4096, cpu, a);
	EXPECT_REPORT(test, DV_DOUBLE_FREE, test_double_free);
}

static struct scatterlist *make_sg(struct kunit *test, int nents, size_t len)
{
	struct scatterlist *sgl = kunit_kcalloc(test, nents, sizeof(*sgl), GFP_KERNEL);
	int i;

	KUNIT_ASSERT_NOT_NULL(test, sgl);
	sg_init_table(sgl, nents);
	for (i = 0; i < nents; i++)
		sg_set_buf(&sgl[i], kunit_kzalloc(test, len, GFP_KERNEL), len);
	return sgl;
}

static void test_double_unmap_sg(struct kunit *test)
{
	struct device *dev = direct_dev(test);
	struct scatterlist *sgl = make_sg(test, 4, 512);

	KUNIT_ASSERT_GT(test, dma_map_sg(dev, sgl, 4, DMA_BIDIRECTIONAL), 0);
	dma_unmap_sg(dev, sgl, 4, DMA_BIDIRECTIONAL);
	EXPECT_NO_REPORT(test);
	dma_unmap_sg(dev, sgl, 4, DMA_BIDIRECTIONAL);
	EXPECT_REPORT(test, DV_DOUBLE_UNMAP_SG, test_double_unmap_sg);
}

static void test_wrong_size(struct kunit *test)
{
	struct device *dev = direct_dev(test);
	void *buf = kunit_kzalloc(test, 1024, GFP_KERNEL);
	dma_addr_t a = dma_map_single(dev, buf, 1024, DMA_FROM_DEVICE);

	KUNIT_ASSERT_FALSE(test, dma_mapping_error(dev, a));
	dma_unmap_single(dev, a, 1000, DMA_FROM_DEVICE);
	EXPECT_REPORT(test, DV_WRONG_SIZE, test_wrong_size);
	KUNIT_EXPECT_TRUE(test, report_says("mapped 1024 bytes, released 1000 bytes"));
}

static void test_wrong_direction(struct kunit *test)
{
	struct device *dev = direct_dev(test);
	void *buf = kunit_kzalloc(test, 128, GFP_KERNEL);
	dma_addr_t a = dma_map_single(dev, buf, 128, DMA_FROM_DEVICE);

	KUNIT_ASSERT_FALSE(test, dma_mapping_error(dev, a));
	dma_unmap_single(dev, a, 128, DMA_TO_DEVICE);
	EXPECT_REPORT(test, DV_WRONG_DIRECTION, test_wrong_direction);
}

static void test_wrong_function(struct kunit *test)
{
	struct device *dev = direct_dev(test);
	dma_addr_t a;
	void *cpu = dma_alloc_coherent(dev, 4096, &a, GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, cpu);
	/* A coherent buffer is not a streaming mapping. */
	dma_unmap_single(dev, a, 4096, DMA_BIDIRECTIONAL);
	EXPECT_REPORT(test, DV_WRONG_FUNCTION, test_wrong_function);
	/* Not forwarded: the buffer is still allocated and is freed cleanly. */
	dma_free_coherent(dev, 4096, cpu, a);
	EXPECT_NO_REPORT(test);
}

static void test_wrong_cpu_address(struct kunit *test)
{
	struct device *dev = direct_dev(test);
	dma_addr_t a;
	u8 *cpu = dma_alloc_coherent(dev, 4096, &a, GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, cpu);
	dma_free_coherent(dev, 4096, cpu + 64, a);
	EXPECT_REPORT(test, DV_WRONG_CPU_ADDR, test_wrong_cpu_address);
}

static void test_wrong_nents(struct kunit *test)
{
	struct device *dev = direct_dev(test);
	struct scatterlist *sgl = make_sg(test, 4, 256);

	KUNIT_ASSERT_GT(test, dma_map_sg(dev, sgl, 4, DMA_TO_DEVICE), 0);
	dma_unmap_sg(dev, sgl, 3, DMA_TO_DEVICE);
	EXPECT_REPORT(test, DV_WRONG_NENTS, test_wrong_nents);
}

static void test_sg_mangled(struct kunit *test)
{
	struct device *dev = fake_dev(test);
	struct scatterlist *sgl = make_sg(test, 4, 256);

	KUNIT_ASSERT_GT(test, dma_map_sg(dev, sgl, 4, DMA_TO_DEVICE), 0);
	sgl[2].length = 128;	/* The driver reuses the list while mapped. */
	dma_unmap_sg(dev, sgl, 4, DMA_TO_DEVICE);
	EXPECT_REPORT(test, DV_SG_MANGLED, test_sg_mangled);
}

static void test_correct_releases(struct kunit *test)
{
	struct device *dev = direct_dev(test);
	struct scatterlist *sgl = make_sg(test, 8, 300);
	void *buf = kunit_kzalloc(test, 3000, GFP_KERNEL);
	struct page *page;
	dma_addr_t a, c;
	void *cpu;
	int n;

	a = dma_map_single(dev, buf, 3000, DMA_BIDIRECTIONAL);
	KUNIT_ASSERT_FALSE(test, dma_mapping_error(dev, a));
	dma_unmap_single(dev, a, 3000, DMA_BIDIRECTIONAL);
	n = dma_map_sg(dev, sgl, 8, DMA_FROM_DEVICE);
	KUNIT_ASSERT_GT(test, n, 0);
	dma_unmap_sg(dev, sgl, 8, DMA_FROM_DEVICE);
	cpu = dma_alloc_coherent(dev, 10000, &c, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, cpu);
	dma_free_coherent(dev, 10000, cpu, c);
	page = dma_alloc_pages(dev, 8192, &c, DMA_FROM_DEVICE, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, page);
	dma_free_pages(dev, 8192, page, c, DMA_FROM_DEVICE);
	EXPECT_NO_REPORT(test);
}

/* ===== Test cases: leaks (0x07, 0x09, 0x0A) ===== */

static void test_leak_coherent(struct kunit *test)
{
	struct device *dev = direct_dev(test);
	dma_addr_t a;

	KUNIT_ASSERT_NOT_NULL(test, dma_alloc_coherent(dev, 2048, &a, GFP_KERNEL));
	dmaverify_release_device(dev);
	/* A leak report is titled with the function that created the object. */
	EXPECT_REPORT(test, DV_LEAK_COHERENT, test_leak_coherent);
}

static void test_leak_map(struct kunit *test)
{
	struct device *dev = direct_dev(test);
	void *buf = kunit_kzalloc(test, 64, GFP_KERNEL);

	dma_addr_t a = dma_map_single(dev, buf, 64, DMA_TO_DEVICE);

	KUNIT_ASSERT_FALSE(test, dma_mapping_error(dev, a));
	dmaverify_release_device(dev);
	EXPECT_REPORT(test, DV_LEAK_MAP, test_leak_map);
	KUNIT_EXPECT_TRUE(test,
			  report_says("1 object (64 bytes) from this call site, of 1 outstanding"));
}

/* Leaks are reported once per call site, with the site's count. */
static noinline dma_addr_t leak_other_site(struct device *dev, void *buf)
{
	return dma_map_single(dev, buf, 32, DMA_TO_DEVICE);
}

static void test_leak_grouped(struct kunit *test)
{
	struct device *dev = direct_dev(test);
	struct dmaverify_dev *ctx = test_ctx_of(dev);
	u8 *buf = kunit_kzalloc(test, 40 * 64 + 32, GFP_KERNEL);
	int i;

	KUNIT_ASSERT_NOT_NULL(test, buf);
	for (i = 0; i < 40; i++) {
		dma_addr_t a = dma_map_single(dev, buf + i * 64, 64, DMA_TO_DEVICE);

		KUNIT_ASSERT_FALSE(test, dma_mapping_error(dev, a));
	}
	KUNIT_ASSERT_FALSE(test, dma_mapping_error(dev, leak_other_site(dev, buf + 40 * 64)));
	dmaverify_release_device(dev);
	KUNIT_EXPECT_EQ(test, report_count(), 2);
	KUNIT_EXPECT_EQ(test, observed.v[0], DV_LEAK_MAP);
	KUNIT_EXPECT_EQ(test, observed.v[1], DV_LEAK_MAP);
	KUNIT_EXPECT_TRUE(test, report_says("40 objects (2560 bytes) from this call site"));
	KUNIT_EXPECT_TRUE(test, report_says(", of 41 outstanding; the first:"));
	/* Every object counts. */
	KUNIT_EXPECT_EQ(test, atomic_long_read(&ctx->violations[DV_LEAK_MAP]), 41);
	reset_observed();
}

static void test_leak_sg(struct kunit *test)
{
	struct device *dev = direct_dev(test);
	struct scatterlist *sgl = make_sg(test, 2, 64);

	KUNIT_ASSERT_GT(test, dma_map_sg(dev, sgl, 2, DMA_TO_DEVICE), 0);
	dmaverify_release_device(dev);
	EXPECT_REPORT(test, DV_LEAK_SG, test_leak_sg);
}

/*
 * By default an object records its caller without an unwind (read from
 * the stack at a distance learnt from the first call of each DMA-core
 * return site), and its call site keeps one full stack.  The third mapping
 * from one call site has its caller from that read: the leak report's
 * title must name this function, and the site's stack must be shown.
 */
static void test_creator_call_site(struct kunit *test)
{
	struct device *dev = direct_dev(test);
	u8 *buf = kunit_kzalloc(test, 256, GFP_KERNEL);
	dma_addr_t a[3];
	char line[96];
	int i;

	for (i = 0; i < 3; i++) {
		a[i] = dma_map_single(dev, buf + i * 64, 64, DMA_TO_DEVICE);
		KUNIT_ASSERT_FALSE(test, dma_mapping_error(dev, a[i]));
	}
	dma_unmap_single(dev, a[0], 64, DMA_TO_DEVICE);
	dma_unmap_single(dev, a[1], 64, DMA_TO_DEVICE);
	dmaverify_release_device(dev);
	EXPECT_REPORT(test, DV_LEAK_MAP, test_creator_call_site);
	/* Who made the call site's stack, and when (the first creation). */
	snprintf(line, sizeof(line), "a mapping from this call site was created by task %d on cpu ",
		 task_pid_nr(current));
	KUNIT_EXPECT_TRUE(test, report_says(line));
	KUNIT_EXPECT_TRUE(test, report_says("s ago):\n"));
}

/*
 * The tracker's objects are small (issue 14): a single map has no tail (48
 * bytes on 64-bit), its creator is a u32 handle naming the caller; an S/G
 * list has a tail, is keyed by its list and keeps its first segment's DMA
 * address.
 */
static void test_obj_compact(struct kunit *test)
{
	struct device *dev = direct_dev(test);
	struct dmaverify_dev *ctx = test_ctx_of(dev);
	u8 *buf = kunit_kzalloc(test, 256, GFP_KERNEL);
	struct scatterlist *sgl = make_sg(test, 3, 512);
	struct dmaverify_obj copy;
	unsigned long entries[1];
	char sym[KSYM_SYMBOL_LEN];
	dma_addr_t a;

	if (IS_ENABLED(CONFIG_64BIT))
		KUNIT_EXPECT_LE(test, DV_OBJ_HEAD, 48);
	a = dma_map_single(dev, buf, 64, DMA_FROM_DEVICE);
	KUNIT_ASSERT_FALSE(test, dma_mapping_error(dev, a));
	KUNIT_ASSERT_TRUE(test, dmaverify_lookup(&ctx->tracker, a, false, &copy));
	KUNIT_EXPECT_EQ(test, copy.tail, 0);
	KUNIT_EXPECT_EQ(test, copy.dma, a);
	KUNIT_EXPECT_EQ(test, copy.size, 64);
	KUNIT_EXPECT_EQ(test, copy.kind, DV_KIND_MAP);
	KUNIT_EXPECT_TRUE(test, copy.flags & DV_OBJ_PHYS_INDEXED);
	KUNIT_EXPECT_EQ(test, copy.nents, 0);
	KUNIT_EXPECT_NULL(test, copy.bounce);
	KUNIT_ASSERT_EQ(test, dmaverify_fetch_stack(copy.stack, entries, 1), 1);
	/* "test_obj_compact [dmaverify_test]": the function is enough. */
	snprintf(sym, sizeof(sym), "%ps", (void *)entries[0]);
	sym[strcspn(sym, " ")] = '\0';
	KUNIT_EXPECT_STREQ(test, sym, "test_obj_compact");
	dma_unmap_single(dev, a, 64, DMA_FROM_DEVICE);

	KUNIT_ASSERT_EQ(test, dma_map_sg(dev, sgl, 3, DMA_TO_DEVICE), 3);
	KUNIT_ASSERT_TRUE(test, dmaverify_lookup(&ctx->tracker,
						 (unsigned long)sgl, true, &copy));
	KUNIT_EXPECT_EQ(test, copy.tail, 1);
	KUNIT_EXPECT_EQ(test, copy.dma, sg_dma_address(sgl));
	KUNIT_EXPECT_EQ(test, dmaverify_obj_key(&copy), (unsigned long)sgl);
	KUNIT_EXPECT_EQ(test, copy.nents, 3);
	KUNIT_EXPECT_EQ(test, copy.mapped, 3);
	KUNIT_EXPECT_EQ(test, copy.size, 3 * 512);
	/* Not found by its DMA address: S/G lists are keyed by their list. */
	KUNIT_EXPECT_FALSE(test, dmaverify_lookup(&ctx->tracker,
						  sg_dma_address(sgl), true, &copy));
	dma_unmap_sg(dev, sgl, 3, DMA_TO_DEVICE);
	KUNIT_EXPECT_EQ(test, dmaverify_tracker_count(&ctx->tracker), 0);
	EXPECT_NO_REPORT(test);
}

/* object_stacks=1: the object's own full stack, no call-site stack. */
static void test_object_stacks(struct kunit *test)
{
	struct device *dev = direct_dev(test);
	dma_addr_t a;

	WRITE_ONCE(dmaverify_object_stacks, true);
	KUNIT_ASSERT_NOT_NULL(test, dma_alloc_coherent(dev, 512, &a, GFP_KERNEL));
	WRITE_ONCE(dmaverify_object_stacks, false);
	dmaverify_release_device(dev);
	EXPECT_REPORT(test, DV_LEAK_COHERENT, test_object_stacks);
	KUNIT_EXPECT_FALSE(test, report_says("a mapping from this call site"));
}

static void test_no_leak(struct kunit *test)
{
	struct device *dev = direct_dev(test);
	dma_addr_t a;
	void *cpu = dma_alloc_coherent(dev, 2048, &a, GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, cpu);
	dma_free_coherent(dev, 2048, cpu, a);
	dmaverify_release_device(dev);
	EXPECT_NO_REPORT(test);
}

/* ===== Test cases: use after release (0x18) ===== */

static void test_use_after_release(struct kunit *test)
{
	struct device *dev = direct_dev(test);
	void *buf = kunit_kzalloc(test, 64, GFP_KERNEL);
	dma_addr_t a;

	dmaverify_release_device(dev);
	EXPECT_NO_REPORT(test);
	a = dma_map_single(dev, buf, 64, DMA_TO_DEVICE);
	EXPECT_REPORT(test, DV_USE_AFTER_RELEASE, test_use_after_release);
	/* Still forwarded: the mapping works and is released. */
	KUNIT_EXPECT_FALSE(test, dma_mapping_error(dev, a));
	dma_unmap_single(dev, a, 64, DMA_TO_DEVICE);
	EXPECT_REPORT(test, DV_USE_AFTER_RELEASE, test_use_after_release);
}

/* ===== Test cases: syncs ===== */

static void test_sync_overflow(struct kunit *test)
{
	struct device *dev = direct_dev(test);
	void *buf = kunit_kzalloc(test, 256, GFP_KERNEL);
	dma_addr_t a = dma_map_single(dev, buf, 64, DMA_FROM_DEVICE);

	KUNIT_ASSERT_FALSE(test, dma_mapping_error(dev, a));
	dma_sync_single_for_cpu(dev, a, 64, DMA_FROM_DEVICE);
	dma_sync_single_range_for_cpu(dev, a, 32, 32, DMA_FROM_DEVICE);
	EXPECT_NO_REPORT(test);
	dma_sync_single_range_for_cpu(dev, a, 32, 64, DMA_FROM_DEVICE);
	EXPECT_REPORT(test, DV_SYNC_OVERFLOW, test_sync_overflow);
	dma_unmap_single(dev, a, 64, DMA_FROM_DEVICE);
}

static void test_sync_unmapped(struct kunit *test)
{
	struct device *dev = direct_dev(test);
	void *buf = kunit_kzalloc(test, 128, GFP_KERNEL);
	dma_addr_t a = dma_map_single(dev, buf, 128, DMA_FROM_DEVICE);

	KUNIT_ASSERT_FALSE(test, dma_mapping_error(dev, a));
	dma_unmap_single(dev, a, 128, DMA_FROM_DEVICE);
	dma_sync_single_for_cpu(dev, a, 128, DMA_FROM_DEVICE);
	EXPECT_REPORT(test, DV_SYNC_UNMAPPED, test_sync_unmapped);
}

static void test_sync_sg_unmapped(struct kunit *test)
{
	struct device *dev = direct_dev(test);
	struct scatterlist *sgl = make_sg(test, 2, 128);

	dma_sync_sg_for_device(dev, sgl, 2, DMA_TO_DEVICE);
	EXPECT_REPORT(test, DV_SYNC_SG_UNMAPPED, test_sync_sg_unmapped);
}

static void test_sync_wrong_direction(struct kunit *test)
{
	struct device *dev = direct_dev(test);
	void *buf = kunit_kzalloc(test, 128, GFP_KERNEL);
	dma_addr_t a = dma_map_single(dev, buf, 128, DMA_TO_DEVICE);

	KUNIT_ASSERT_FALSE(test, dma_mapping_error(dev, a));
	dma_sync_single_for_device(dev, a, 128, DMA_FROM_DEVICE);
	EXPECT_REPORT(test, DV_SYNC_DIRECTION, test_sync_wrong_direction);
	dma_unmap_single(dev, a, 128, DMA_TO_DEVICE);
}

static void test_sync_readonly_for_cpu(struct kunit *test)
{
	struct device *dev = direct_dev(test);
	void *buf = kunit_kzalloc(test, 128, GFP_KERNEL);
	dma_addr_t a = dma_map_single(dev, buf, 128, DMA_TO_DEVICE);

	KUNIT_ASSERT_FALSE(test, dma_mapping_error(dev, a));
	dma_sync_single_for_cpu(dev, a, 128, DMA_FROM_DEVICE);
	EXPECT_REPORT(test, DV_SYNC_TO_CPU_RO, test_sync_readonly_for_cpu);
	dma_unmap_single(dev, a, 128, DMA_TO_DEVICE);
}

static void test_sync_writeonly_for_device(struct kunit *test)
{
	struct device *dev = direct_dev(test);
	void *buf = kunit_kzalloc(test, 128, GFP_KERNEL);
	dma_addr_t a = dma_map_single(dev, buf, 128, DMA_FROM_DEVICE);

	KUNIT_ASSERT_FALSE(test, dma_mapping_error(dev, a));
	dma_sync_single_for_device(dev, a, 128, DMA_TO_DEVICE);
	EXPECT_REPORT(test, DV_SYNC_TO_DEV_WO, test_sync_writeonly_for_device);
	dma_unmap_single(dev, a, 128, DMA_FROM_DEVICE);
}

static void test_correct_syncs(struct kunit *test)
{
	struct device *dev = direct_dev(test);
	struct scatterlist *sgl = make_sg(test, 3, 200);
	void *buf = kunit_kzalloc(test, 512, GFP_KERNEL);
	dma_addr_t a = dma_map_single(dev, buf, 512, DMA_BIDIRECTIONAL);

	KUNIT_ASSERT_FALSE(test, dma_mapping_error(dev, a));
	dma_sync_single_for_device(dev, a, 512, DMA_TO_DEVICE);
	dma_sync_single_for_cpu(dev, a, 512, DMA_FROM_DEVICE);
	dma_sync_single_range_for_cpu(dev, a, 100, 400, DMA_BIDIRECTIONAL);
	dma_unmap_single(dev, a, 512, DMA_BIDIRECTIONAL);
	KUNIT_ASSERT_GT(test, dma_map_sg(dev, sgl, 3, DMA_FROM_DEVICE), 0);
	dma_sync_sg_for_cpu(dev, sgl, 3, DMA_FROM_DEVICE);
	dma_sync_sg_for_device(dev, sgl, 3, DMA_FROM_DEVICE);
	dma_unmap_sg(dev, sgl, 3, DMA_FROM_DEVICE);
	EXPECT_NO_REPORT(test);
}

/* ===== Test cases: buffers ===== */

static void test_zero_length(struct kunit *test)
{
	struct device *dev = direct_dev(test);
	void *buf = kunit_kzalloc(test, 16, GFP_KERNEL);
	dma_addr_t a = dma_map_single(dev, buf, 0, DMA_TO_DEVICE);

	EXPECT_REPORT(test, DV_ZERO_LENGTH, test_zero_length);
	if (!dma_mapping_error(dev, a))
		dma_unmap_single(dev, a, 0, DMA_TO_DEVICE);
}

static void test_map_stack(struct kunit *test)
{
	struct device *dev = direct_dev(test);
	u8 stackbuf[64];
	struct page *page;
	dma_addr_t a;

	stackbuf[0] = 0;
	/* dma_map_single() rejects vmalloc (and so vmap stack) addresses itself. */
	page = is_vmalloc_addr(stackbuf) ? vmalloc_to_page(stackbuf) :
	       virt_to_page(stackbuf);
	a = dma_map_page(dev, page, offset_in_page(stackbuf), sizeof(stackbuf),
			 DMA_TO_DEVICE);
	EXPECT_REPORT(test, DV_MAP_STACK, test_map_stack);
	if (!dma_mapping_error(dev, a))
		dma_unmap_page(dev, a, sizeof(stackbuf), DMA_TO_DEVICE);
}

static void test_map_rodata(struct kunit *test)
{
	struct device *dev = fake_dev(test);
	/*
	 * Kernel text: a function of the kernel image, mapped for reading
	 * (through its linear-map alias: arm64's image is outside it).
	 */
	struct page *page = virt_to_page(lm_alias(&sprint_symbol));
	dma_addr_t a;

	a = dma_map_page(dev, page, 0, 64, DMA_TO_DEVICE);
	EXPECT_REPORT(test, DV_MAP_RODATA, test_map_rodata);
	dma_unmap_page(dev, a, 64, DMA_TO_DEVICE);
}

static void test_map_invalid(struct kunit *test)
{
	struct device *dev = fake_dev(test);
	/* A page frame beyond the end of memory: no struct page is there. */
	struct page *page = pfn_to_page(PHYS_PFN(1ULL << 46));
	dma_addr_t a;

	a = dma_map_page(dev, page, 0, 64, DMA_TO_DEVICE);
	EXPECT_REPORT(test, DV_MAP_INVALID, test_map_invalid);
	dma_unmap_page(dev, a, 64, DMA_TO_DEVICE);
}

static void test_overlapping_map(struct kunit *test)
{
	struct device *dev = direct_dev(test);
	u8 *buf = kunit_kzalloc(test, 1024, GFP_KERNEL);
	dma_addr_t a, b;

	a = dma_map_single(dev, buf, 1024, DMA_FROM_DEVICE);
	KUNIT_ASSERT_FALSE(test, dma_mapping_error(dev, a));
	b = dma_map_single(dev, buf + 512, 256, DMA_FROM_DEVICE);
	EXPECT_REPORT(test, DV_OVERLAP, test_overlapping_map);
	dma_unmap_single(dev, b, 256, DMA_FROM_DEVICE);
	dma_unmap_single(dev, a, 1024, DMA_FROM_DEVICE);
}

/* dma-debug's known false positive: small buffers sharing a cache line. */
static void test_shared_cacheline_no_overlap(struct kunit *test)
{
	struct device *dev = direct_dev(test);
	u8 *buf = kunit_kzalloc(test, 64, GFP_KERNEL);
	dma_addr_t a, b;

	a = dma_map_single(dev, buf, 16, DMA_FROM_DEVICE);
	b = dma_map_single(dev, buf + 16, 16, DMA_FROM_DEVICE);
	KUNIT_ASSERT_FALSE(test, dma_mapping_error(dev, a));
	KUNIT_ASSERT_FALSE(test, dma_mapping_error(dev, b));
	/* Two reads of one buffer by the device are fine, too. */
	dma_unmap_single(dev, b, 16, DMA_FROM_DEVICE);
	dma_unmap_single(dev, a, 16, DMA_FROM_DEVICE);
	a = dma_map_single(dev, buf, 64, DMA_TO_DEVICE);
	b = dma_map_single(dev, buf, 64, DMA_TO_DEVICE);
	dma_unmap_single(dev, b, 64, DMA_TO_DEVICE);
	dma_unmap_single(dev, a, 64, DMA_TO_DEVICE);
	EXPECT_NO_REPORT(test);
}

static void test_map_too_large(struct kunit *test)
{
	struct device *dev = fake_dev(test);
	void *buf = kunit_kzalloc(test, 8192, GFP_KERNEL);
	dma_addr_t a;

	fake_max = 4096;
	a = dma_map_single(dev, buf, 8192, DMA_TO_DEVICE);
	EXPECT_REPORT(test, DV_MAP_TOO_LARGE, test_map_too_large);
	dma_unmap_single(dev, a, 8192, DMA_TO_DEVICE);
}

static void test_outside_dma_mask(struct kunit *test)
{
	struct device *dev = fake_dev(test);
	void *buf = kunit_kzalloc(test, 64, GFP_KERNEL);
	dma_addr_t a;

	KUNIT_ASSERT_EQ(test, dma_set_mask(dev, DMA_BIT_MASK(32)), 0);
	fake_next = 0x100000000ULL;	/* Beyond 32 bits. */
	a = dma_map_single(dev, buf, 64, DMA_TO_DEVICE);
	EXPECT_REPORT(test, DV_ADDR_OUTSIDE_MASK, test_outside_dma_mask);
	dma_unmap_single(dev, a, 64, DMA_TO_DEVICE);
}

static void test_correct_maps(struct kunit *test)
{
	struct device *dev = fake_dev(test);
	void *buf = kunit_kzalloc(test, 4096, GFP_KERNEL);
	dma_addr_t a;

	KUNIT_ASSERT_EQ(test, dma_set_mask(dev, DMA_BIT_MASK(48)), 0);
	fake_max = 4096;
	a = dma_map_single(dev, buf, 4096, DMA_TO_DEVICE);
	dma_unmap_single(dev, a, 4096, DMA_TO_DEVICE);
	EXPECT_NO_REPORT(test);
}

/* ===== Test cases: S/G segments ===== */

static void test_sg_segment_too_long(struct kunit *test)
{
	struct device *dev = fake_dev(test);
	struct dv_test *t = test->priv;
	struct scatterlist *sgl = make_sg(test, 1, 8192);

	t->parms.max_segment_size = 4096;
	KUNIT_ASSERT_GT(test, dma_map_sg(dev, sgl, 1, DMA_TO_DEVICE), 0);
	EXPECT_REPORT(test, DV_SG_SEG_TOO_LONG, test_sg_segment_too_long);
	dma_unmap_sg(dev, sgl, 1, DMA_TO_DEVICE);
}

static void test_sg_segment_boundary(struct kunit *test)
{
	struct device *dev = fake_dev(test);
	struct dv_test *t = test->priv;
	struct scatterlist *sgl = kunit_kzalloc(test, sizeof(*sgl), GFP_KERNEL);
	u8 *buf = kunit_kzalloc(test, 2 * PAGE_SIZE, GFP_KERNEL);

	t->parms.segment_boundary_mask = PAGE_SIZE - 1;
	sg_init_table(sgl, 1);
	/* 512 bytes straddling a page boundary. */
	sg_set_buf(sgl, PTR_ALIGN(buf, PAGE_SIZE) + PAGE_SIZE - 256, 512);
	if (PTR_ALIGN(buf, PAGE_SIZE) + PAGE_SIZE + 256 > buf + 2 * PAGE_SIZE)
		sg_set_buf(sgl, PTR_ALIGN(buf, PAGE_SIZE) - 256, 512);
	KUNIT_ASSERT_GT(test, dma_map_sg(dev, sgl, 1, DMA_TO_DEVICE), 0);
	EXPECT_REPORT(test, DV_SG_SEG_BOUNDARY, test_sg_segment_boundary);
	dma_unmap_sg(dev, sgl, 1, DMA_TO_DEVICE);
}

/* ===== Test cases: errors and limits ===== */

static void test_unchecked_map_error(struct kunit *test)
{
	struct device *dev = direct_dev(test);
	void *buf = kunit_kzalloc(test, 64, GFP_KERNEL);
	dma_addr_t a;

	WRITE_ONCE(dmaverify_fail_every, 1);
	a = dma_map_single(dev, buf, 64, DMA_TO_DEVICE);
	WRITE_ONCE(dmaverify_fail_every, 0);
	EXPECT_NO_REPORT(test);
	/* The driver did not look at dma_mapping_error(). */
	dma_unmap_single(dev, a, 64, DMA_TO_DEVICE);
	EXPECT_REPORT(test, DV_UNCHECKED_ERROR, test_unchecked_map_error);
}

static void test_checked_map_error(struct kunit *test)
{
	struct device *dev = direct_dev(test);
	void *buf = kunit_kzalloc(test, 64, GFP_KERNEL);
	dma_addr_t a;

	WRITE_ONCE(dmaverify_fail_every, 1);
	a = dma_map_single(dev, buf, 64, DMA_TO_DEVICE);
	WRITE_ONCE(dmaverify_fail_every, 0);
	KUNIT_EXPECT_TRUE(test, dma_mapping_error(dev, a));
	EXPECT_NO_REPORT(test);
}

/*
 * The kernel's fault injection (debugfs fail_map): a task's fail-nth fails
 * exactly its Nth map, and an armed attribute as many maps as its times.
 */
static void test_fail_map(struct kunit *test)
{
#ifdef CONFIG_FAULT_INJECTION
	struct device *dev = direct_dev(test);
	void *buf = kunit_kzalloc(test, 64, GFP_KERNEL);
	dma_addr_t a, b;

	WRITE_ONCE(current->fail_nth, 2);
	a = dma_map_single(dev, buf, 32, DMA_TO_DEVICE);
	b = dma_map_single(dev, buf + 32, 32, DMA_TO_DEVICE);
	WRITE_ONCE(current->fail_nth, 0);
	KUNIT_EXPECT_FALSE(test, dma_mapping_error(dev, a));
	KUNIT_EXPECT_TRUE(test, dma_mapping_error(dev, b));
	if (!dma_mapping_error(dev, a))
		dma_unmap_single(dev, a, 32, DMA_TO_DEVICE);

	dmaverify_fail_map.verbose = 0;
	dmaverify_fail_map.probability = 100;
	atomic_set(&dmaverify_fail_map.times, 1);
	a = dma_map_single(dev, buf, 64, DMA_TO_DEVICE);
	b = dma_map_single(dev, buf, 64, DMA_FROM_DEVICE);
	dmaverify_fail_map.probability = 0;
	KUNIT_EXPECT_TRUE(test, dma_mapping_error(dev, a));
	KUNIT_EXPECT_FALSE(test, dma_mapping_error(dev, b));
	if (!dma_mapping_error(dev, b))
		dma_unmap_single(dev, b, 64, DMA_FROM_DEVICE);
	EXPECT_NO_REPORT(test);
	/* The driver did not look at dma_mapping_error(). */
	dma_sync_single_for_cpu(dev, a, 64, DMA_TO_DEVICE);
	EXPECT_REPORT(test, DV_UNCHECKED_ERROR, test_fail_map);
#else
	kunit_skip(test, "no CONFIG_FAULT_INJECTION");
#endif
}

static void test_too_many_maps(struct kunit *test)
{
	struct device *dev = direct_dev(test);
	u8 *buf = kunit_kzalloc(test, 256, GFP_KERNEL);
	dma_addr_t a[3];
	int i;

	WRITE_ONCE(dmaverify_max_objects, 2);
	for (i = 0; i < 3; i++)
		a[i] = dma_map_single(dev, buf + i * 64, 64, DMA_TO_DEVICE);
	EXPECT_REPORT(test, DV_TOO_MANY_MAPS, test_too_many_maps);
	for (i = 0; i < 3; i++)
		dma_unmap_single(dev, a[i], 64, DMA_TO_DEVICE);
	EXPECT_NO_REPORT(test);
}

/* ===== Test cases: context ===== */

static DEFINE_SPINLOCK(test_lock);

static void test_alloc_in_atomic(struct kunit *test)
{
	struct device *dev = fake_dev(test);
	dma_addr_t a;
	void *cpu;

	spin_lock(&test_lock);
	cpu = dma_alloc_coherent(dev, 256, &a, GFP_KERNEL);
	spin_unlock(&test_lock);
	if (IS_ENABLED(CONFIG_PREEMPT_COUNT))
		EXPECT_REPORT(test, DV_ALLOC_ATOMIC, test_alloc_in_atomic);
	/* Freed before a skip, which ends the case (and checks for leaks). */
	dma_free_coherent(dev, 256, cpu, a);
	if (!IS_ENABLED(CONFIG_PREEMPT_COUNT))
		kunit_skip(test, "no CONFIG_PREEMPT_COUNT: a spinlock is invisible");
}

static void test_alloc_atomic_ok(struct kunit *test)
{
	struct device *dev = fake_dev(test);
	dma_addr_t a;
	void *cpu;

	spin_lock(&test_lock);
	cpu = dma_alloc_coherent(dev, 256, &a, GFP_ATOMIC);
	spin_unlock(&test_lock);
	KUNIT_ASSERT_NOT_NULL(test, cpu);
	dma_free_coherent(dev, 256, cpu, a);
	EXPECT_NO_REPORT(test);
}

static void test_free_irqs_off(struct kunit *test)
{
	struct device *dev = fake_dev(test);
	unsigned long flags;
	dma_addr_t a;
	void *cpu = dma_alloc_coherent(dev, 256, &a, GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, cpu);
	/* The DMA core WARNs about this too (kernel/dma/mapping.c). */
	local_irq_save(flags);
	dma_free_coherent(dev, 256, cpu, a);
	local_irq_restore(flags);
	EXPECT_REPORT(test, DV_FREE_IRQS_OFF, test_free_irqs_off);
}

static void test_call_in_nmi(struct kunit *test)
{
	struct device *dev = fake_dev(test);
	void *buf = kunit_kzalloc(test, 64, GFP_KERNEL);
	dma_addr_t a = dma_map_single(dev, buf, 64, DMA_FROM_DEVICE);
	unsigned long flags;

	KUNIT_ASSERT_FALSE(test, dma_mapping_error(dev, a));
	/*
	 * What nmi_enter() does to the preempt count, and nothing else; with
	 * interrupts off, as in a real NMI: an interrupt taken "in NMI" made
	 * lockdep see the timer's lock used from NMI (debug kernel).
	 */
	local_irq_save(flags);
	__preempt_count_add(NMI_OFFSET + HARDIRQ_OFFSET);
	dma_sync_single_for_cpu(dev, a, 64, DMA_FROM_DEVICE);
	__preempt_count_sub(NMI_OFFSET + HARDIRQ_OFFSET);
	local_irq_restore(flags);
	EXPECT_REPORT(test, DV_CALL_IN_NMI, test_call_in_nmi);
	dma_unmap_single(dev, a, 64, DMA_FROM_DEVICE);
	EXPECT_NO_REPORT(test);
}

/* ===== Test cases: consistency ===== */

/* Objects mapped while disabled are not reported when released enabled. */
static void test_disable_enable(struct kunit *test)
{
	struct device *dev = direct_dev(test);
	u8 *buf = kunit_kzalloc(test, 512, GFP_KERNEL);
	struct scatterlist *sgl = make_sg(test, 2, 64);
	dma_addr_t a;

	WRITE_ONCE(dmaverify_enabled, false);
	a = dma_map_single(dev, buf, 512, DMA_FROM_DEVICE);
	KUNIT_ASSERT_GT(test, dma_map_sg(dev, sgl, 2, DMA_TO_DEVICE), 0);
	WRITE_ONCE(dmaverify_enabled, true);
	dma_sync_single_for_cpu(dev, a, 512, DMA_FROM_DEVICE);
	dma_unmap_single(dev, a, 512, DMA_FROM_DEVICE);
	dma_unmap_sg(dev, sgl, 2, DMA_TO_DEVICE);
	EXPECT_NO_REPORT(test);
}

/*
 * A double unmap while verification is off is not reported, and must not
 * use up the allowance of an untracked object still mapped: that one's
 * unmap, after verification is on again, is correct.
 */
static void test_disabled_double_unmap(struct kunit *test)
{
	struct device *dev = direct_dev(test);
	u8 *buf = kunit_kzalloc(test, 512, GFP_KERNEL);
	dma_addr_t a, b;

	WRITE_ONCE(dmaverify_enabled, false);
	a = dma_map_single(dev, buf, 256, DMA_TO_DEVICE);
	dma_unmap_single(dev, a, 256, DMA_TO_DEVICE);
	dma_unmap_single(dev, a, 256, DMA_TO_DEVICE);
	b = dma_map_single(dev, buf + 256, 256, DMA_TO_DEVICE);
	WRITE_ONCE(dmaverify_enabled, true);
	EXPECT_NO_REPORT(test);
	dma_unmap_single(dev, b, 256, DMA_TO_DEVICE);
	EXPECT_NO_REPORT(test);
	dma_unmap_single(dev, b, 256, DMA_TO_DEVICE);
	EXPECT_REPORT(test, DV_DOUBLE_UNMAP, test_disabled_double_unmap);
}

/* When dmaverify cannot allocate a tracker entry, it never lies. */
static void test_untracked_no_false_report(struct kunit *test)
{
	struct device *dev = direct_dev(test);
	struct dmaverify_dev *ctx = test_ctx_of(dev);
	u8 *buf = kunit_kzalloc(test, 512, GFP_KERNEL);
	dma_addr_t a;

	atomic_set(&dmaverify_test_fail_allocs, 1);
	a = dma_map_single(dev, buf, 512, DMA_TO_DEVICE);
	KUNIT_ASSERT_FALSE(test, dma_mapping_error(dev, a));
	KUNIT_EXPECT_EQ(test, dmaverify_untracked_total(ctx), 1);
	dma_unmap_single(dev, a, 512, DMA_TO_DEVICE);
	EXPECT_NO_REPORT(test);
	/* Once the untracked object is accounted for, rules apply again. */
	dma_unmap_single(dev, a, 512, DMA_TO_DEVICE);
	EXPECT_REPORT(test, DV_DOUBLE_UNMAP, test_untracked_no_false_report);
}

static void test_checks_disabled(struct kunit *test)
{
	struct device *dev = direct_dev(test);

	WRITE_ONCE(dmaverify_checks, ~0UL & ~BIT(DV_DOUBLE_UNMAP));
	dma_unmap_page(dev, 0x1000, 4096, DMA_TO_DEVICE);
	EXPECT_NO_REPORT(test);
}

static void test_counters(struct kunit *test)
{
	struct device *dev = direct_dev(test);
	struct dmaverify_dev *ctx = test_ctx_of(dev);
	u8 *buf = kunit_kzalloc(test, 4096, GFP_KERNEL);
	struct dmaverify_kind_stats s;
	dma_addr_t a[4];
	int i;

	for (i = 0; i < 4; i++)
		a[i] = dma_map_single(dev, buf + i * 1024, 1024, DMA_TO_DEVICE);
	/* Reading the counters samples the peak. */
	dmaverify_kind_stats(ctx, DV_KIND_MAP, &s);
	KUNIT_EXPECT_EQ(test, s.outstanding, 4);
	KUNIT_EXPECT_EQ(test, s.bytes, 4096);
	for (i = 0; i < 4; i++)
		dma_unmap_single(dev, a[i], 1024, DMA_TO_DEVICE);
	dmaverify_kind_stats(ctx, DV_KIND_MAP, &s);
	KUNIT_EXPECT_EQ(test, s.allocated, 4);
	KUNIT_EXPECT_EQ(test, s.freed, 4);
	KUNIT_EXPECT_EQ(test, s.outstanding, 0);
	KUNIT_EXPECT_EQ(test, s.bytes, 0);
	KUNIT_EXPECT_EQ(test, s.peak, 4);
	EXPECT_NO_REPORT(test);
}

/* ===== Test cases: redzones and bounce buffers ===== */

static void test_overrun_after(struct kunit *test)
{
	struct device *dev = direct_dev(test);
	dma_addr_t a;
	u8 *cpu = dma_alloc_coherent(dev, 100, &a, GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, cpu);
	cpu[100] = 0x42;	/* One byte too far. */
	dma_free_coherent(dev, 100, cpu, a);
	EXPECT_REPORT(test, DV_OVERRUN_AFTER, test_overrun_after);
	KUNIT_EXPECT_TRUE(test, report_says("at offset 100 to 100: 42 (expected 0x0f)"));
}

static void test_overrun_before(struct kunit *test)
{
	struct device *dev = direct_dev(test);
	dma_addr_t a;
	u8 *cpu = dma_alloc_coherent(dev, 256, &a, GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, cpu);
	cpu[-1] = 0x42;
	dma_free_coherent(dev, 256, cpu, a);
	EXPECT_REPORT(test, DV_OVERRUN_BEFORE, test_overrun_before);
	KUNIT_EXPECT_TRUE(test, report_says("from offset -1 to -1: 42"));
}

static void test_redzone_scan(struct kunit *test)
{
	struct device *dev = direct_dev(test);
	dma_addr_t a;
	u8 *cpu = dma_alloc_coherent(dev, 64, &a, GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, cpu);
	cpu[64 + 7] = 0;
	dmaverify_scan_all();
	EXPECT_REPORT(test, DV_OVERRUN_AFTER, test_redzone_scan);
	cpu[64 + 7] = 0x0f;
	dma_free_coherent(dev, 64, cpu, a);
}

static void test_redzone_correct_use(struct kunit *test)
{
	struct device *dev = direct_dev(test);
	size_t sizes[] = { 1, 100, 4096, 5000, 65536 };
	int i;

	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		size_t align = PAGE_SIZE << get_order(sizes[i]);
		dma_addr_t a;
		u8 *cpu = dma_alloc_coherent(dev, sizes[i], &a, GFP_KERNEL);

		KUNIT_ASSERT_NOT_NULL(test, cpu);
		/* What the DMA API promises: aligned, zeroed. */
		KUNIT_EXPECT_EQ(test, (unsigned long)cpu & (align - 1), 0);
		KUNIT_EXPECT_EQ(test, a & (align - 1), 0);
		KUNIT_EXPECT_TRUE(test, !memchr_inv(cpu, 0, sizes[i]));
		memset(cpu, 0xff, sizes[i]);
		dma_free_coherent(dev, sizes[i], cpu, a);
	}
	EXPECT_NO_REPORT(test);
}

/* The "device": on dma-direct without an IOMMU, DMA addresses are physical. */
static u8 *device_view(dma_addr_t a)
{
	return phys_to_virt(a);
}

/*
 * A device with bounce=1 whose pool has slots already (else the first maps
 * would allocate their buffers while the pool grows, see
 * test_bounce_pool_empty()).
 */
static struct device *bounce_dev(struct kunit *test)
{
	struct device *dev = direct_dev(test);

	dmaverify_bounce_pool_fill(test_ctx_of(dev));
	KUNIT_ASSERT_GT(test, test_ctx_of(dev)->bpool.nr_fresh, 0);
	WRITE_ONCE(dmaverify_bounce, true);
	return dev;
}

static void bounce_exit(void)
{
	WRITE_ONCE(dmaverify_bounce, false);
}

static void test_bounce_round_trips(struct kunit *test)
{
	struct device *dev = bounce_dev(test);
	u8 *buf = kunit_kzalloc(test, 1000, GFP_KERNEL);
	dma_addr_t a;
	int i;

	for (i = 0; i < 1000; i++)
		buf[i] = i;
	/* TO_DEVICE: the device sees the data, in dmaverify's buffer. */
	a = dma_map_single(dev, buf, 1000, DMA_TO_DEVICE);
	KUNIT_ASSERT_FALSE(test, dma_mapping_error(dev, a));
	KUNIT_EXPECT_NE(test, a, virt_to_phys(buf));
	KUNIT_EXPECT_EQ(test, offset_in_page(a), offset_in_page(buf));
	KUNIT_EXPECT_EQ(test, memcmp(device_view(a), buf, 1000), 0);
	buf[5] = 0x55;	/* The driver updates its buffer... */
	dma_sync_single_for_device(dev, a, 1000, DMA_TO_DEVICE);	/* ...and syncs. */
	KUNIT_EXPECT_EQ(test, device_view(a)[5], 0x55);
	dma_unmap_single(dev, a, 1000, DMA_TO_DEVICE);

	/* FROM_DEVICE: poisoned until the device writes; partial syncs. */
	a = dma_map_single(dev, buf, 1000, DMA_FROM_DEVICE);
	KUNIT_ASSERT_FALSE(test, dma_mapping_error(dev, a));
	KUNIT_EXPECT_EQ(test, buf[0], 0xdb);
	memset(device_view(a), 0x11, 600);
	dma_sync_single_range_for_cpu(dev, a, 100, 50, DMA_FROM_DEVICE);
	KUNIT_EXPECT_EQ(test, buf[99], 0xdb);
	KUNIT_EXPECT_EQ(test, buf[100], 0x11);
	KUNIT_EXPECT_EQ(test, buf[149], 0x11);
	KUNIT_EXPECT_EQ(test, buf[150], 0xdb);
	dma_sync_single_range_for_device(dev, a, 100, 50, DMA_FROM_DEVICE);
	dma_unmap_single(dev, a, 1000, DMA_FROM_DEVICE);
	KUNIT_EXPECT_EQ(test, buf[599], 0x11);
	/* What the device did not write shows as poison. */
	KUNIT_EXPECT_EQ(test, buf[600], 0xdb);

	/* BIDIRECTIONAL both ways. */
	memset(buf, 0x22, 1000);
	a = dma_map_single(dev, buf, 1000, DMA_BIDIRECTIONAL);
	KUNIT_EXPECT_EQ(test, device_view(a)[999], 0x22);
	device_view(a)[0] = 0x33;
	dma_unmap_single(dev, a, 1000, DMA_BIDIRECTIONAL);
	KUNIT_EXPECT_EQ(test, buf[0], 0x33);
	KUNIT_EXPECT_EQ(test, buf[999], 0x22);
	bounce_exit();
	EXPECT_NO_REPORT(test);
}

static void test_bounce_skip_cpu_sync(struct kunit *test)
{
	struct device *dev = bounce_dev(test);
	u8 *buf = kunit_kzalloc(test, 64, GFP_KERNEL);
	dma_addr_t a;

	memset(buf, 0x44, 64);
	a = dma_map_single_attrs(dev, buf, 64, DMA_BIDIRECTIONAL,
				 DMA_ATTR_SKIP_CPU_SYNC);
	KUNIT_EXPECT_NE(test, device_view(a)[0], 0x44);
	dma_sync_single_for_device(dev, a, 64, DMA_BIDIRECTIONAL);
	KUNIT_EXPECT_EQ(test, device_view(a)[0], 0x44);
	device_view(a)[1] = 0x55;
	dma_unmap_single_attrs(dev, a, 64, DMA_BIDIRECTIONAL, DMA_ATTR_SKIP_CPU_SYNC);
	KUNIT_EXPECT_EQ(test, buf[1], 0x44);
	bounce_exit();
	EXPECT_NO_REPORT(test);
}

static void test_bounce_device_overrun(struct kunit *test)
{
	struct device *dev = bounce_dev(test);
	u8 *buf = kunit_kzalloc(test, 256, GFP_KERNEL);
	dma_addr_t a = dma_map_single(dev, buf, 64, DMA_FROM_DEVICE);

	KUNIT_ASSERT_FALSE(test, dma_mapping_error(dev, a));
	memset(device_view(a), 0x77, 80);	/* The device writes 16 bytes too many. */
	dma_unmap_single(dev, a, 64, DMA_FROM_DEVICE);
	bounce_exit();
	EXPECT_REPORT(test, DV_OVERRUN_AFTER, test_bounce_device_overrun);
	KUNIT_EXPECT_TRUE(test, report_says("16 bytes after the 64-byte buffer modified"));
	KUNIT_EXPECT_TRUE(test, report_says("at offset 64 to 79: 77 77"));
	/* The driver's memory past the mapping was not touched. */
	KUNIT_EXPECT_EQ(test, buf[64], 0);
}

static void test_bounce_device_underrun(struct kunit *test)
{
	struct device *dev = bounce_dev(test);
	u8 *buf = kunit_kzalloc(test, 256, GFP_KERNEL);
	dma_addr_t a = dma_map_single(dev, buf + 128, 64, DMA_TO_DEVICE);

	KUNIT_ASSERT_FALSE(test, dma_mapping_error(dev, a));
	device_view(a)[-3] = 0;
	dma_sync_single_for_cpu(dev, a, 64, DMA_TO_DEVICE);
	bounce_exit();
	EXPECT_REPORT(test, DV_OVERRUN_BEFORE, test_bounce_device_underrun);
	device_view(a)[-3] = 0x0f;
	dma_unmap_single(dev, a, 64, DMA_TO_DEVICE);
}

static void test_bounce_write_after_unmap(struct kunit *test)
{
	struct device *dev = bounce_dev(test);
	u8 *buf = kunit_kzalloc(test, 128, GFP_KERNEL);
	dma_addr_t a = dma_map_single(dev, buf, 128, DMA_FROM_DEVICE);

	KUNIT_ASSERT_FALSE(test, dma_mapping_error(dev, a));
	dma_unmap_single(dev, a, 128, DMA_FROM_DEVICE);
	EXPECT_NO_REPORT(test);
	device_view(a)[10] = 0x99;	/* The device still had the address. */
	dmaverify_scan_all();
	bounce_exit();
	EXPECT_REPORT(test, DV_WRITE_AFTER_UNMAP, test_bounce_write_after_unmap);
	KUNIT_EXPECT_TRUE(test, report_says("at offset 10 to 10 of the released 128-byte"));
	KUNIT_EXPECT_TRUE(test, report_says("released "));
	device_view(a)[10] = 0xdb;
}

/* Maps of @size FROM_DEVICE and unmaps, @n times. */
static void map_unmap_n(struct kunit *test, struct device *dev, u8 *buf,
			size_t size, int n)
{
	dma_addr_t a;

	while (n--) {
		a = dma_map_single(dev, buf, size, DMA_FROM_DEVICE);
		KUNIT_ASSERT_FALSE(test, dma_mapping_error(dev, a));
		dma_unmap_single(dev, a, size, DMA_FROM_DEVICE);
	}
}

/*
 * A released pool slot is used again only after quarantine= (64) others
 * were released behind it, and is checked then: a device write after
 * unmap is found there, even without a scan.
 */
static void test_bounce_pool_reuse(struct kunit *test)
{
	struct device *dev = bounce_dev(test);
	struct dmaverify_dev *ctx = test_ctx_of(dev);
	u8 *buf = kunit_kzalloc(test, 128, GFP_KERNEL);
	dma_addr_t a, b;
	int i;

	for (i = 0; i < 5; i++)
		dmaverify_bounce_pool_fill(ctx);
	KUNIT_ASSERT_GE(test, ctx->bpool.nr_fresh, 66);
	a = dma_map_single(dev, buf, 128, DMA_FROM_DEVICE);
	KUNIT_ASSERT_FALSE(test, dma_mapping_error(dev, a));
	dma_unmap_single(dev, a, 128, DMA_FROM_DEVICE);
	device_view(a)[127] = 0x99;	/* The device still had the address. */
	map_unmap_n(test, dev, buf, 128, 64);
	EXPECT_NO_REPORT(test);
	KUNIT_EXPECT_EQ(test, atomic_long_read(&ctx->bpool.reused), 0);
	/* The 66th map takes the first slot again, and checks it. */
	b = dma_map_single(dev, buf, 128, DMA_FROM_DEVICE);
	KUNIT_ASSERT_FALSE(test, dma_mapping_error(dev, b));
	KUNIT_EXPECT_EQ(test, b, a);
	KUNIT_EXPECT_EQ(test, atomic_long_read(&ctx->bpool.reused), 1);
	EXPECT_REPORT(test, DV_WRITE_AFTER_UNMAP, test_bounce_pool_reuse);
	KUNIT_EXPECT_TRUE(test, report_says("at offset 127 to 127 of the released 128-byte"));
	/* Restored: the new mapping is poison, its redzones intact. */
	KUNIT_EXPECT_EQ(test, device_view(b)[127], 0xdb);
	KUNIT_EXPECT_EQ(test, device_view(b)[128], 0x0f);
	dma_unmap_single(dev, b, 128, DMA_FROM_DEVICE);
	/* A slot taken for another size and offset: only redzone around it. */
	b = dma_map_single(dev, buf + 64, 32, DMA_TO_DEVICE);
	KUNIT_ASSERT_FALSE(test, dma_mapping_error(dev, b));
	KUNIT_EXPECT_EQ(test, device_view(b)[-1], 0x0f);
	KUNIT_EXPECT_EQ(test, device_view(b)[32], 0x0f);
	dma_unmap_single(dev, b, 32, DMA_TO_DEVICE);
	map_unmap_n(test, dev, buf, 128, 70);
	bounce_exit();
	EXPECT_NO_REPORT(test);
	KUNIT_EXPECT_EQ(test, atomic_long_read(&ctx->bpool.fell_back), 0);
}

/* An overrun past the bytes the unmap checks is found by the scan. */
static void test_bounce_pool_far_overrun(struct kunit *test)
{
	struct device *dev = bounce_dev(test);
	u8 *buf = kunit_kzalloc(test, 128, GFP_KERNEL);
	dma_addr_t a = dma_map_single(dev, buf, 128, DMA_FROM_DEVICE);

	KUNIT_ASSERT_FALSE(test, dma_mapping_error(dev, a));
	dma_unmap_single(dev, a, 128, DMA_FROM_DEVICE);
	device_view(a)[128 + 200] = 0x42;
	dmaverify_scan_all();
	bounce_exit();
	EXPECT_REPORT(test, DV_WRITE_AFTER_UNMAP, test_bounce_pool_far_overrun);
	/* Offsets from the buffer's start. */
	KUNIT_EXPECT_TRUE(test, report_says("buffer modified, at offset 328 to 328: 42"));
}

/*
 * The pool has no slot yet: the map is bounced all the same, in a buffer
 * allocated for it, counted; so is a map larger than a slot.
 */
static void test_bounce_pool_empty(struct kunit *test)
{
	struct device *dev = direct_dev(test);
	struct dmaverify_dev *ctx = test_ctx_of(dev);
	size_t big = 3 * PAGE_SIZE;
	u8 *buf = kunit_kzalloc(test, big, GFP_KERNEL);
	dma_addr_t a;

	WRITE_ONCE(dmaverify_bounce, true);
	a = dma_map_single(dev, buf, 128, DMA_FROM_DEVICE);
	KUNIT_ASSERT_FALSE(test, dma_mapping_error(dev, a));
	KUNIT_EXPECT_NE(test, a, virt_to_phys(buf));
	KUNIT_EXPECT_EQ(test, atomic_long_read(&ctx->bpool.fell_back), 1);
	device_view(a)[128] = 0x42;
	dma_unmap_single(dev, a, 128, DMA_FROM_DEVICE);
	EXPECT_REPORT(test, DV_OVERRUN_AFTER, test_bounce_pool_empty);
	dmaverify_bounce_pool_fill(ctx);
	a = dma_map_single(dev, buf, big, DMA_TO_DEVICE);
	KUNIT_ASSERT_FALSE(test, dma_mapping_error(dev, a));
	KUNIT_EXPECT_NE(test, a, virt_to_phys(buf));
	KUNIT_EXPECT_EQ(test, atomic_long_read(&ctx->bpool.too_large), 1);
	KUNIT_EXPECT_EQ(test, memcmp(device_view(a), buf, big), 0);
	dma_unmap_single(dev, a, big, DMA_TO_DEVICE);
	bounce_exit();
	EXPECT_NO_REPORT(test);
	KUNIT_EXPECT_EQ(test, atomic_long_read(&ctx->bounce_failed), 0);
}

static void test_stale_to_device(struct kunit *test)
{
	struct device *dev = bounce_dev(test);
	u8 *buf = kunit_kzalloc(test, 128, GFP_KERNEL);
	dma_addr_t a = dma_map_single(dev, buf, 128, DMA_TO_DEVICE);

	KUNIT_ASSERT_FALSE(test, dma_mapping_error(dev, a));
	buf[3] = 1;	/* Too late: the device may have read it already. */
	dma_unmap_single(dev, a, 128, DMA_TO_DEVICE);
	bounce_exit();
	EXPECT_REPORT(test, DV_STALE_TO_DEVICE, test_stale_to_device);
}

/*
 * A non-coherent device (arm64 SoCs): dma-direct remaps its coherent
 * buffers uncached (a vmalloc address), which dmaverify leaves without
 * redzones, and does cache maintenance at map, unmap and sync.  The rules
 * hold there as on coherent devices: a wrong-size free, and with bounce
 * buffers a missing sync for the device.
 */
static void test_noncoherent(struct kunit *test)
{
	struct dv_test *t = test->priv;
	struct device *dev;
	u8 *buf, *cpu;
	dma_addr_t a, c;

	if (!DV_TEST_NONCOHERENT)
		kunit_skip(test, "no per-device DMA coherence on this architecture");
	dev = new_dev(test, "dmaverify-test", false);
	set_coherent(dev, false);
	KUNIT_ASSERT_EQ(test, dmaverify_attach_device(dev), 0);
	t->dev = dev;

	cpu = dma_alloc_coherent(dev, 256, &c, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, cpu);
	/* Remapped: no redzone around it (see dmaverify_redzone_alloc()). */
	KUNIT_EXPECT_TRUE(test, is_vmalloc_addr(cpu));
	memset(cpu, 0x5a, 256);
	dma_free_coherent(dev, 128, cpu, c);
	EXPECT_REPORT(test, DV_WRONG_SIZE, test_noncoherent);

	WRITE_ONCE(dmaverify_bounce, true);
	buf = kunit_kzalloc(test, 128, GFP_KERNEL);
	a = dma_map_single(dev, buf, 128, DMA_TO_DEVICE);
	KUNIT_ASSERT_FALSE(test, dma_mapping_error(dev, a));
	buf[3] = 1;	/* Not cleaned to memory: the device reads the old byte. */
	dma_unmap_single(dev, a, 128, DMA_TO_DEVICE);
	bounce_exit();
	EXPECT_REPORT(test, DV_STALE_TO_DEVICE, test_noncoherent);

	/* Synced for the device after the write: silent. */
	WRITE_ONCE(dmaverify_bounce, true);
	a = dma_map_single(dev, buf, 128, DMA_TO_DEVICE);
	KUNIT_ASSERT_FALSE(test, dma_mapping_error(dev, a));
	buf[4] = 2;
	dma_sync_single_for_device(dev, a, 128, DMA_TO_DEVICE);
	dma_unmap_single(dev, a, 128, DMA_TO_DEVICE);
	bounce_exit();
	EXPECT_NO_REPORT(test);
}

static void test_cpu_write_lost(struct kunit *test)
{
	struct device *dev = bounce_dev(test);
	u8 *buf = kunit_kzalloc(test, 128, GFP_KERNEL);
	dma_addr_t a = dma_map_single(dev, buf, 128, DMA_FROM_DEVICE);

	KUNIT_ASSERT_FALSE(test, dma_mapping_error(dev, a));
	buf[3] = 1;	/* Overwritten by the device's data at unmap. */
	dma_unmap_single(dev, a, 128, DMA_FROM_DEVICE);
	bounce_exit();
	EXPECT_REPORT(test, DV_CPU_WRITE_LOST, test_cpu_write_lost);
}

static void test_bounce_device_wrote(struct kunit *test)
{
	struct device *dev = bounce_dev(test);
	u8 *buf = kunit_kzalloc(test, 128, GFP_KERNEL);
	dma_addr_t a;

	/* Off: a device's write is not looked for (emulated NICs do write). */
	a = dma_map_single(dev, buf, 128, DMA_TO_DEVICE);
	KUNIT_ASSERT_FALSE(test, dma_mapping_error(dev, a));
	device_view(a)[7] = 0x99;
	dma_unmap_single(dev, a, 128, DMA_TO_DEVICE);
	EXPECT_NO_REPORT(test);

	WRITE_ONCE(dmaverify_bounce_device_writes, true);
	a = dma_map_single(dev, buf, 128, DMA_TO_DEVICE);
	KUNIT_ASSERT_FALSE(test, dma_mapping_error(dev, a));
	device_view(a)[7] = 0x99;	/* The device may only read it. */
	dma_unmap_single(dev, a, 128, DMA_TO_DEVICE);
	WRITE_ONCE(dmaverify_bounce_device_writes, false);
	bounce_exit();
	EXPECT_REPORT(test, DV_DEVICE_WRONG_DIRECTION, test_bounce_device_wrote);
	KUNIT_EXPECT_TRUE(test, report_says("found at unmap: the device wrote the 128-byte"));
	KUNIT_EXPECT_TRUE(test, report_says("bounce buffer, first at offset 7"));
}

/* ===== Test cases: sampled mode ===== */

/*
 * A device attached in sampled mode, its gate closed: the timer is not
 * started (sample_interval is set only while attaching), so each case
 * opens the gate itself, for exactly the map it means.
 */
static struct device *sampled_dev(struct kunit *test)
{
	struct device *dev;

	dmaverify_bounce_pool_setup();
	atomic_set(&dmaverify_sample_gate, 1);
	WRITE_ONCE(dmaverify_sample_interval, 3600 * 1000);
	dev = direct_dev(test);
	WRITE_ONCE(dmaverify_sample_interval, 0);
	KUNIT_ASSERT_TRUE(test, test_ctx_of(dev)->sampled);
	return dev;
}

static void open_gate(void)
{
	atomic_set(&dmaverify_sample_gate, 0);
}

/* Untracked objects of a sampled device: nothing to report, ever. */
static void test_sampled_untracked_silent(struct kunit *test)
{
	struct device *dev = sampled_dev(test);
	u8 *buf = kunit_kzalloc(test, 256, GFP_KERNEL);
	dma_addr_t a = dma_map_single(dev, buf, 64, DMA_FROM_DEVICE);

	KUNIT_ASSERT_FALSE(test, dma_mapping_error(dev, a));
	KUNIT_EXPECT_EQ(test, a, virt_to_phys(buf));	/* Forwarded as it is. */
	KUNIT_EXPECT_EQ(test, dmaverify_tracker_count(&test_ctx_of(dev)->tracker), 0);
	dma_sync_single_for_cpu(dev, a + 8, 8, DMA_FROM_DEVICE);
	dma_unmap_single(dev, a, 64, DMA_FROM_DEVICE);
	/* Unknown: not a double unmap, not a sync of an unmapped address. */
	dma_sync_single_for_cpu(dev, a, 64, DMA_FROM_DEVICE);
	dma_unmap_single(dev, a, 64, DMA_FROM_DEVICE);
	EXPECT_NO_REPORT(test);
}

/* The sampled map gets a slot; the device's overrun is caught at unmap. */
static void test_sampled_device_overrun(struct kunit *test)
{
	struct device *dev = sampled_dev(test);
	u8 *buf = kunit_kzalloc(test, 256, GFP_KERNEL);
	u8 *other = kunit_kzalloc(test, 256, GFP_KERNEL);
	dma_addr_t a, b;

	open_gate();
	a = dma_map_single(dev, buf, 64, DMA_FROM_DEVICE);
	KUNIT_ASSERT_FALSE(test, dma_mapping_error(dev, a));
	KUNIT_EXPECT_NE(test, a, virt_to_phys(buf));
	KUNIT_EXPECT_EQ(test, offset_in_page(a), offset_in_page(buf));
	KUNIT_EXPECT_NE(test, atomic_read(&dmaverify_sample_gate), 0);
	KUNIT_EXPECT_EQ(test, atomic_long_read(&test_ctx_of(dev)->sample_live), 1);
	/* The gate is closed: the next map is forwarded, untracked. */
	b = dma_map_single(dev, other, 64, DMA_FROM_DEVICE);
	KUNIT_EXPECT_EQ(test, b, virt_to_phys(other));
	memset(device_view(a), 0x77, 80);	/* 16 bytes too many. */
	dma_unmap_single(dev, b, 64, DMA_FROM_DEVICE);
	EXPECT_NO_REPORT(test);
	dma_unmap_single(dev, a, 64, DMA_FROM_DEVICE);
	EXPECT_REPORT(test, DV_OVERRUN_AFTER, test_sampled_device_overrun);
	KUNIT_EXPECT_TRUE(test, report_says("16 bytes after the 64-byte buffer modified"));
	KUNIT_EXPECT_TRUE(test, report_says(", sampled]"));
	KUNIT_EXPECT_EQ(test, atomic_long_read(&test_ctx_of(dev)->sample_live), 0);
	KUNIT_EXPECT_EQ(test, buf[64], 0);
}

/* A sampled object is tracked completely: a wrong size is reported. */
static void test_sampled_wrong_size(struct kunit *test)
{
	struct device *dev = sampled_dev(test);
	u8 *buf = kunit_kzalloc(test, 256, GFP_KERNEL);
	dma_addr_t a;

	open_gate();
	a = dma_map_single(dev, buf, 128, DMA_TO_DEVICE);
	KUNIT_ASSERT_FALSE(test, dma_mapping_error(dev, a));
	KUNIT_EXPECT_NE(test, a, virt_to_phys(buf));
	dma_unmap_single(dev, a, 64, DMA_TO_DEVICE);
	EXPECT_REPORT(test, DV_WRONG_SIZE, test_sampled_wrong_size);
}

/* A device write after unmap lands in the quarantined, poisoned slot. */
static void test_sampled_write_after_unmap(struct kunit *test)
{
	struct device *dev = sampled_dev(test);
	u8 *buf = kunit_kzalloc(test, 256, GFP_KERNEL);
	dma_addr_t a;

	open_gate();
	a = dma_map_single(dev, buf, 128, DMA_FROM_DEVICE);
	KUNIT_ASSERT_FALSE(test, dma_mapping_error(dev, a));
	dma_unmap_single(dev, a, 128, DMA_FROM_DEVICE);
	EXPECT_NO_REPORT(test);
	device_view(a)[10] = 0x99;
	dmaverify_scan_all();
	EXPECT_REPORT(test, DV_WRITE_AFTER_UNMAP, test_sampled_write_after_unmap);
	device_view(a)[10] = 0xdb;
}

/*
 * A released sampled buffer stays known while its slot is quarantined: a
 * second unmap or a sync of it is reported (and not forwarded), even while
 * no sampled object is outstanding.
 */
static void test_sampled_double_unmap(struct kunit *test)
{
	struct device *dev = sampled_dev(test);
	u8 *buf = kunit_kzalloc(test, 256, GFP_KERNEL);
	dma_addr_t a, b;

	open_gate();
	a = dma_map_single(dev, buf, 64, DMA_TO_DEVICE);
	KUNIT_ASSERT_FALSE(test, dma_mapping_error(dev, a));
	KUNIT_EXPECT_NE(test, a, virt_to_phys(buf));
	dma_unmap_single(dev, a, 64, DMA_TO_DEVICE);
	EXPECT_NO_REPORT(test);
	KUNIT_EXPECT_EQ(test, atomic_long_read(&test_ctx_of(dev)->sample_live), 0);
	dma_unmap_single(dev, a, 64, DMA_TO_DEVICE);
	EXPECT_REPORT(test, DV_DOUBLE_UNMAP, test_sampled_double_unmap);
	KUNIT_EXPECT_TRUE(test, report_says(", sampled]"));
	dma_sync_single_for_cpu(dev, a, 64, DMA_TO_DEVICE);
	EXPECT_REPORT(test, DV_SYNC_UNMAPPED, test_sampled_double_unmap);
	/* While another sample is outstanding (the lookup path), too. */
	open_gate();
	a = dma_map_single(dev, buf + 128, 64, DMA_TO_DEVICE);
	KUNIT_ASSERT_FALSE(test, dma_mapping_error(dev, a));
	open_gate();
	b = dma_map_single(dev, buf, 8, DMA_TO_DEVICE);	/* Leaked. */
	KUNIT_ASSERT_FALSE(test, dma_mapping_error(dev, b));
	dma_unmap_single(dev, a, 64, DMA_TO_DEVICE);
	dma_unmap_single(dev, a, 64, DMA_TO_DEVICE);
	EXPECT_REPORT(test, DV_DOUBLE_UNMAP, test_sampled_double_unmap);
	dmaverify_detach_device(dev);	/* The live one is reported leaked. */
	((struct dv_test *)test->priv)->dev = NULL;
	EXPECT_REPORT(test, DV_LEAK_MAP, test_sampled_double_unmap);
}

/*
 * A map no slot can hold leaves the gate open for the next one; S/G lists
 * are sampled too, a slot per segment, and move their data.
 */
static void test_sampled_skip_and_sg(struct kunit *test)
{
	struct device *dev = sampled_dev(test);
	u8 *big = kunit_kzalloc(test, SZ_16K, GFP_KERNEL);
	u8 *buf = kunit_kzalloc(test, 2 * PAGE_SIZE, GFP_KERNEL);
	struct scatterlist sg[2];
	dma_addr_t a;
	int n;

	open_gate();
	a = dma_map_single(dev, big, SZ_16K, DMA_TO_DEVICE);
	KUNIT_EXPECT_EQ(test, a, virt_to_phys(big));
	KUNIT_EXPECT_EQ(test, atomic_read(&dmaverify_sample_gate), 0);
	memset(buf, 0x5a, 2 * PAGE_SIZE);
	sg_init_table(sg, 2);
	sg_set_buf(&sg[0], buf, 100);
	sg_set_buf(&sg[1], buf + PAGE_SIZE, 200);
	n = dma_map_sg(dev, sg, 2, DMA_TO_DEVICE);
	KUNIT_ASSERT_EQ(test, n, 2);
	KUNIT_EXPECT_NE(test, sg_dma_address(&sg[1]), virt_to_phys(buf + PAGE_SIZE));
	KUNIT_EXPECT_EQ(test, device_view(sg_dma_address(&sg[1]))[199], 0x5a);
	/* Tracked: a sync for the CPU in the other direction is reported. */
	dma_sync_sg_for_cpu(dev, sg, 2, DMA_FROM_DEVICE);
	EXPECT_REPORT(test, DV_SYNC_TO_CPU_RO, test_sampled_skip_and_sg);
	dma_unmap_sg(dev, sg, 2, DMA_TO_DEVICE);
	dma_unmap_single(dev, a, SZ_16K, DMA_TO_DEVICE);
}

/* ===== Test cases: device faults (as an IOMMU would report them) ===== */

static void fault(struct device *dev, dma_addr_t a, unsigned int access)
{
	dmaverify_iommu_fault(dev, 0, a, access);
	dmaverify_iommu_flush();
}

static void test_fault_released(struct kunit *test)
{
	struct device *dev = fake_dev(test);
	u8 *buf = kunit_kzalloc(test, 256, GFP_KERNEL);
	struct dmaverify_dev *ctx;
	dma_addr_t a;

	fake_next = 0x7654300;
	a = dma_map_single(dev, buf, 256, DMA_FROM_DEVICE);
	KUNIT_ASSERT_EQ(test, a, (dma_addr_t)0x7654300);
	dma_unmap_single(dev, a, 256, DMA_FROM_DEVICE);
	/* IOMMUs report the page: the mapping starts 0x300 into it. */
	fault(dev, 0x7654000, DV_FAULT_WRITE);
	EXPECT_REPORT(test, DV_DEVICE_USED_RELEASED, test_fault_released);
	KUNIT_EXPECT_TRUE(test, report_says("DMA write at IOVA 0x7654000, "));
	KUNIT_EXPECT_TRUE(test, report_says("after the driver released the buffer there"));
	KUNIT_EXPECT_TRUE(test, report_says("\nreleased "));
	/* Once per buffer: more faults on it are counted, not reported. */
	fault(dev, 0x7654000, DV_FAULT_WRITE);
	EXPECT_NO_REPORT(test);
	ctx = test_ctx_of(dev);
	KUNIT_EXPECT_EQ(test, atomic_long_read(&ctx->violations[DV_DEVICE_USED_RELEASED]), 1);
}

static void test_fault_wrong_direction(struct kunit *test)
{
	struct device *dev = fake_dev(test);
	u8 *buf = kunit_kzalloc(test, 256, GFP_KERNEL);
	dma_addr_t a;

	fake_next = 0x7655000;
	a = dma_map_single(dev, buf, 256, DMA_TO_DEVICE);
	KUNIT_ASSERT_EQ(test, a, (dma_addr_t)0x7655000);
	fault(dev, a, DV_FAULT_WRITE);
	EXPECT_REPORT(test, DV_DEVICE_WRONG_DIRECTION, test_fault_wrong_direction);
	KUNIT_EXPECT_TRUE(test, report_says("of a DMA_TO_DEVICE mapping"));
	/* A read is what the mapping is for: a fault there blames nothing. */
	fault(dev, a, DV_FAULT_READ);
	EXPECT_NO_REPORT(test);
	dma_unmap_single(dev, a, 256, DMA_TO_DEVICE);
}

static void test_fault_phys(struct kunit *test)
{
	struct device *dev = fake_dev(test);
	u8 *buf = kunit_kzalloc(test, 256, GFP_KERNEL);
	dma_addr_t a;

	fake_next = 0x7656000;
	a = dma_map_single(dev, buf, 256, DMA_FROM_DEVICE);
	KUNIT_ASSERT_FALSE(test, dma_mapping_error(dev, a));
	/* The driver gave the device virt_to_phys(buf), not @a. */
	fault(dev, virt_to_phys(buf), DV_FAULT_WRITE);
	EXPECT_REPORT(test, DV_DEVICE_USED_UNMAPPED, test_fault_phys);
	KUNIT_EXPECT_TRUE(test, report_says("the CPU physical address of this buffer's page"));
	dma_unmap_single(dev, a, 256, DMA_FROM_DEVICE);
}

static void test_fault_ram(struct kunit *test)
{
	struct device *dev = fake_dev(test);
	u8 *other = kunit_kzalloc(test, 64, GFP_KERNEL);

	/* No buffer of the driver: the report can only say it is RAM. */
	fault(dev, virt_to_phys(other), DV_FAULT_READ);
	KUNIT_EXPECT_EQ(test, report_count(), 1);
	KUNIT_EXPECT_EQ(test, observed.v[0], DV_DEVICE_USED_UNMAPPED);
	KUNIT_EXPECT_TRUE(test, report_says("DMA read at IOVA"));
	KUNIT_EXPECT_TRUE(test, report_says("it is the physical address of kernel RAM"));
	reset_observed();
}

/* The IOMMU drivers' fault lines, as dmaverify reads them (iommu.c). */
static const char *const fault_lines[] = {
	/* intel-iommu, 6.1 and 6.12: no PCI segment; 7.3: with it. */
	"DMAR: [DMA Write NO_PASID] Request device [00:03.0] fault addr 0xfffff000 [fault reason 0x05] PTE Write access is not set",
	"DMAR: [DMA Read NO_PASID] Request device [0001:02:1f.7] fault addr 0x3fe6a000 [fault reason 0x06] PTE Read access is not set",
	"DMAR: [INTR-REMAP] Request device [00:03.0] fault index 0x4 [fault reason 0x25] Blocked a compatibility format interrupt request",
	/* amd-iommu (dev_err(): the driver's and the device's names first). */
	"nvme 0000:00:04.0: AMD-Vi: Event logged [IO_PAGE_FAULT domain=0x000b address=0xffffd000 flags=0x0020]",
	"edu_sample 0000:00:03.0: AMD-Vi: Event logged [IO_PAGE_FAULT domain=0x0002 address=0x12345678 flags=0x0010]",
	/* An interrupt request (flag I); a device amd-iommu does not know. */
	"nvme 0000:00:04.0: AMD-Vi: Event logged [IO_PAGE_FAULT domain=0x000b address=0xfee00000 flags=0x0008]",
	"AMD-Vi: Event logged [IO_PAGE_FAULT device=0000:00:04.0 domain=0x000b address=0xffffd000 flags=0x0020]",
	"nvme 0000:00:04.0: 1/0/0 default/read/poll queues, and enough words to be long",
};

static bool parse(unsigned int i, struct dmaverify_fault_line *fl)
{
	return dmaverify_iommu_parse_line(fault_lines[i], strlen(fault_lines[i]), fl);
}

static void test_fault_lines(struct kunit *test)
{
	struct dmaverify_fault_line fl;

	KUNIT_ASSERT_TRUE(test, parse(0, &fl));
	KUNIT_EXPECT_FALSE(test, fl.amd);
	KUNIT_EXPECT_EQ(test, fl.iova, 0xfffff000ULL);
	KUNIT_EXPECT_EQ(test, fl.sid, 0x18);
	KUNIT_EXPECT_EQ(test, fl.seg, -1);
	KUNIT_EXPECT_EQ(test, fl.access, DV_FAULT_WRITE);
	KUNIT_ASSERT_TRUE(test, parse(1, &fl));
	KUNIT_EXPECT_EQ(test, fl.iova, 0x3fe6a000ULL);
	KUNIT_EXPECT_EQ(test, fl.sid, (2 << 8) | (0x1f << 3) | 7);
	KUNIT_EXPECT_EQ(test, fl.seg, 1);
	KUNIT_EXPECT_EQ(test, fl.access, DV_FAULT_READ);
	KUNIT_EXPECT_FALSE(test, parse(2, &fl));
	KUNIT_ASSERT_TRUE(test, parse(3, &fl));
	KUNIT_EXPECT_TRUE(test, fl.amd);
	KUNIT_EXPECT_EQ(test, fl.iova, 0xffffd000ULL);
	KUNIT_EXPECT_EQ(test, fl.sid, 0x20);
	KUNIT_EXPECT_EQ(test, fl.seg, 0);
	KUNIT_EXPECT_EQ(test, fl.access, DV_FAULT_WRITE);
	KUNIT_ASSERT_TRUE(test, parse(4, &fl));
	KUNIT_EXPECT_EQ(test, fl.iova, 0x12345678ULL);
	KUNIT_EXPECT_EQ(test, fl.sid, 0x18);
	KUNIT_EXPECT_EQ(test, fl.access, DV_FAULT_READ);
	KUNIT_EXPECT_FALSE(test, parse(5, &fl));
	KUNIT_EXPECT_FALSE(test, parse(6, &fl));
	KUNIT_EXPECT_FALSE(test, parse(7, &fl));
}

static void test_bounce_sg(struct kunit *test)
{
	struct device *dev = bounce_dev(test);
	struct scatterlist *sgl = make_sg(test, 16, 700), *s;
	int i, n;

	for_each_sg(sgl, s, 16, i)
		memset(sg_virt(s), i, 700);
	n = dma_map_sg(dev, sgl, 16, DMA_BIDIRECTIONAL);
	KUNIT_ASSERT_EQ(test, n, 16);
	for_each_sg(sgl, s, 16, i) {
		KUNIT_EXPECT_EQ(test, device_view(sg_dma_address(s))[699], i);
		device_view(sg_dma_address(s))[0] = 0x80 + i;
	}
	dma_sync_sg_for_cpu(dev, sgl, 16, DMA_BIDIRECTIONAL);
	for_each_sg(sgl, s, 16, i)
		KUNIT_EXPECT_EQ(test, ((u8 *)sg_virt(s))[0], 0x80 + i);
	dma_sync_sg_for_device(dev, sgl, 16, DMA_BIDIRECTIONAL);
	dma_unmap_sg(dev, sgl, 16, DMA_BIDIRECTIONAL);
	bounce_exit();
	EXPECT_NO_REPORT(test);
}

/* ===== Test cases: races ===== */

/*
 * Each case makes, at a point where another CPU could interleave, the call
 * that CPU would make (through dmaverify's test hook), so that the race is
 * run every time.
 */
static struct {
	struct device *dev;	/* The device of the racing call. */
	void *buf;		/* Its buffer. */
	dma_addr_t addr;	/* Its DMA address. */
	size_t size;		/* Its size. */
	bool done;		/* The racing call was made. */
} race;

/* Another CPU unmaps the mapping being synced, and reuses its buffer. */
static void unmap_during_sync(enum dmaverify_test_point point,
			      struct device *dev, u64 addr)
{
	if (point != DV_TEST_SYNC_FOUND || race.done)
		return;
	race.done = true;
	dma_unmap_single(race.dev, race.addr, race.size, DMA_FROM_DEVICE);
	memset(race.buf, 0x22, race.size);
}

static void test_bounce_sync_races_unmap(struct kunit *test)
{
	struct device *dev = bounce_dev(test);
	u8 *buf = kunit_kzalloc(test, 256, GFP_KERNEL);
	dma_addr_t a = dma_map_single(dev, buf, 256, DMA_FROM_DEVICE);

	KUNIT_ASSERT_FALSE(test, dma_mapping_error(dev, a));
	memset(device_view(a), 0x11, 256);
	race.dev = dev;
	race.buf = buf;
	race.addr = a;
	race.size = 256;
	race.done = false;
	WRITE_ONCE(dmaverify_test_hook, unmap_during_sync);
	dma_sync_single_for_cpu(dev, a, 256, DMA_FROM_DEVICE);
	WRITE_ONCE(dmaverify_test_hook, NULL);
	bounce_exit();
	KUNIT_EXPECT_TRUE(test, race.done);
	/* The released bounce buffer was not copied over the reused buffer. */
	KUNIT_EXPECT_EQ(test, buf[0], 0x22);
	KUNIT_EXPECT_EQ(test, buf[255], 0x22);
	EXPECT_REPORT(test, DV_SYNC_UNMAPPED, test_bounce_sync_races_unmap);
}

/*
 * Another CPU unmaps the mapping being synced, and enough maps follow that
 * its pool slot holds a new mapping when the sync goes on.
 */
static void unmap_and_reuse_during_sync(enum dmaverify_test_point point,
					struct device *dev, u64 addr)
{
	struct kunit *test = kunit_get_current_test();

	if (point != DV_TEST_SYNC_FOUND || race.done || !test)
		return;
	race.done = true;
	dma_unmap_single(race.dev, race.addr, race.size, DMA_FROM_DEVICE);
	map_unmap_n(test, race.dev, (u8 *)race.buf + 512, race.size, 64);
	/* The slot of the synced mapping, mapped again for another buffer. */
	race.addr = dma_map_single(race.dev, (u8 *)race.buf + 512, race.size,
				   DMA_FROM_DEVICE);
}

static void test_bounce_sync_races_reuse(struct kunit *test)
{
	struct device *dev = bounce_dev(test);
	struct dmaverify_dev *ctx = test_ctx_of(dev);
	u8 *buf = kunit_kzalloc(test, 1024, GFP_KERNEL);
	dma_addr_t a;
	int i;

	for (i = 0; i < 5; i++)
		dmaverify_bounce_pool_fill(ctx);
	a = dma_map_single(dev, buf, 256, DMA_FROM_DEVICE);
	KUNIT_ASSERT_FALSE(test, dma_mapping_error(dev, a));
	race.dev = dev;
	race.buf = buf;
	race.addr = a;
	race.size = 256;
	race.done = false;
	WRITE_ONCE(dmaverify_test_hook, unmap_and_reuse_during_sync);
	dma_sync_single_for_cpu(dev, a, 256, DMA_FROM_DEVICE);
	WRITE_ONCE(dmaverify_test_hook, NULL);
	KUNIT_EXPECT_TRUE(test, race.done);
	/* The same slot, mapped again (buf + 512: 512 bytes further in it). */
	KUNIT_EXPECT_EQ(test, race.addr, a + 512);
	/*
	 * The stale sync copied nothing to the first buffer: it still holds
	 * the poison of its map, not the redzone bytes that are now where its
	 * bounce buffer was.
	 */
	KUNIT_EXPECT_EQ(test, buf[0], 0xdb);
	KUNIT_EXPECT_EQ(test, buf[255], 0xdb);
	memset(device_view(race.addr), 0x11, 256);
	dma_unmap_single(dev, race.addr, 256, DMA_FROM_DEVICE);
	KUNIT_EXPECT_EQ(test, buf[512], 0x11);
	bounce_exit();
	EXPECT_REPORT(test, DV_SYNC_UNMAPPED, test_bounce_sync_races_reuse);
}

/* Another CPU maps an overlapping buffer while this map is in flight. */
static void map_during_map(enum dmaverify_test_point point,
			   struct device *dev, u64 addr)
{
	if (point != DV_TEST_MAP_CHECKED || race.done)
		return;
	race.done = true;
	race.addr = dma_map_single(race.dev, race.buf, race.size, DMA_FROM_DEVICE);
}

static void test_overlap_races_map(struct kunit *test)
{
	struct device *dev = direct_dev(test);
	u8 *buf = kunit_kzalloc(test, 1024, GFP_KERNEL);
	dma_addr_t a;

	race.dev = dev;
	race.buf = buf + 512;
	race.size = 256;
	race.done = false;
	WRITE_ONCE(dmaverify_test_hook, map_during_map);
	a = dma_map_single(dev, buf, 1024, DMA_FROM_DEVICE);
	WRITE_ONCE(dmaverify_test_hook, NULL);
	KUNIT_EXPECT_TRUE(test, race.done);
	KUNIT_ASSERT_FALSE(test, dma_mapping_error(dev, a));
	KUNIT_ASSERT_FALSE(test, dma_mapping_error(dev, race.addr));
	/* One of the two maps is reported, whichever saw the other. */
	KUNIT_EXPECT_EQ(test, report_count(), 1);
	KUNIT_EXPECT_EQ(test, observed.v[0], DV_OVERLAP);
	reset_observed();
	dma_unmap_single(dev, race.addr, 256, DMA_FROM_DEVICE);
	dma_unmap_single(dev, a, 1024, DMA_FROM_DEVICE);
}

/*
 * A caller that loaded the device's ops before dmaverify gave the device
 * its original ops back calls dmaverify: the call goes to the original
 * implementation, untracked, without touching a context.
 */
static void test_callback_after_unhook(struct kunit *test)
{
	struct device *dev = fake_dev(test);
	const struct dma_map_ops *ours = get_dma_ops(dev);
	struct dmaverify_dev *ctx = container_of(ours, struct dmaverify_dev, ops);
	struct page *page = alloc_page(GFP_KERNEL);
	dma_addr_t a;

	KUNIT_ASSERT_NOT_NULL(test, page);
	set_dma_ops(dev, &fake_ops);	/* What detaching does. */
	fake_next = 0xabc000;
	a = ours->map_page(dev, page, 0, 64, DMA_FROM_DEVICE, 0);
	KUNIT_EXPECT_EQ(test, a, 0xabc000);
	ours->sync_single_for_cpu(dev, a, 64, DMA_FROM_DEVICE);
	ours->unmap_page(dev, a, 64, DMA_FROM_DEVICE, 0);
	KUNIT_EXPECT_EQ(test, dmaverify_tracker_count(&ctx->tracker), 0);
	set_dma_ops(dev, ours);
	fake_next = 0;
	__free_page(page);
	EXPECT_NO_REPORT(test);
}

/* Maps, syncs and unmaps on race.dev until told to stop. */
static int map_loop(void *buf)
{
	while (!kthread_should_stop()) {
		dma_addr_t a = dma_map_single(race.dev, buf, 256, DMA_FROM_DEVICE);

		if (!dma_mapping_error(race.dev, a)) {
			dma_sync_single_for_cpu(race.dev, a, 256, DMA_FROM_DEVICE);
			dma_unmap_single(race.dev, a, 256, DMA_FROM_DEVICE);
		}
		cond_resched();
	}
	return 0;
}

/*
 * Detach and attach a device again and again while another task maps on
 * it: no context may be used after it is freed (KASAN on the debug kernel
 * sees it), and no call may be lost or crash.  Checks are off meanwhile:
 * releases of objects created under another context are unknown to the
 * current one, as they would be after any attach under live I/O.  Streaming
 * maps on dma-direct only: dropping such an unknown unmap is harmless.
 */
static void test_detach_under_load(struct kunit *test)
{
	struct dv_test *t = test->priv;
	struct device *dev = direct_dev(test);
	void *buf = kunit_kzalloc(test, 256, GFP_KERNEL);
	struct task_struct *task;
	int i;

	race.dev = dev;
	WRITE_ONCE(dmaverify_checks, 0);
	WRITE_ONCE(dmaverify_redzone, false);
	task = kthread_run(map_loop, buf, "dmaverify-test-map");
	KUNIT_ASSERT_FALSE(test, IS_ERR(task));
	for (i = 0; i < 100; i++) {
		dmaverify_detach_device(dev);
		KUNIT_ASSERT_EQ(test, dmaverify_attach_device(dev), 0);
	}
	kthread_stop(task);
	WRITE_ONCE(dmaverify_redzone, true);
	/*
	 * The last context may have seen releases of objects it never knew:
	 * detach it unchecked too, and attach a clean one for dv_exit().
	 */
	dmaverify_detach_device(dev);
	WRITE_ONCE(dmaverify_checks, ~0UL);
	KUNIT_ASSERT_EQ(test, dmaverify_attach_device(dev), 0);
	t->dev = dev;
	EXPECT_NO_REPORT(test);
}

/* dma_supported() asks without changing the twin's masks under its users. */
static void test_dma_supported_keeps_twin(struct kunit *test)
{
	struct device *dev = fake_dev(test);
	struct dmaverify_dev *ctx = test_ctx_of(dev);
	u64 coherent = ctx->twin->coherent_dma_mask;

	fake_asked = NULL;
	KUNIT_EXPECT_EQ(test, dma_set_mask(dev, DMA_BIT_MASK(40)), 0);
	KUNIT_EXPECT_NOT_NULL(test, fake_asked);
	KUNIT_EXPECT_PTR_NE(test, fake_asked, ctx->twin);
	KUNIT_EXPECT_EQ(test, ctx->twin->coherent_dma_mask, coherent);
	EXPECT_NO_REPORT(test);
}

/*
 * A bounce buffer the device cannot reach (outside its streaming mask) is
 * not used: the map falls back to the driver's buffer, counted.
 */
static void test_bounce_outside_mask(struct kunit *test)
{
	struct device *dev = fake_dev(test);
	struct dmaverify_dev *ctx = test_ctx_of(dev);
	u8 *buf = kunit_kzalloc(test, 128, GFP_KERNEL);
	dma_addr_t a;

	WRITE_ONCE(dmaverify_bounce, true);
	KUNIT_ASSERT_EQ(test, dma_set_mask(dev, DMA_BIT_MASK(32)), 0);
	fake_alloc_next = 1ULL << 40;
	a = dma_map_single(dev, buf, 128, DMA_TO_DEVICE);
	KUNIT_EXPECT_EQ(test, a, virt_to_phys(buf));
	KUNIT_EXPECT_EQ(test, atomic_long_read(&ctx->bounce_failed), 1);
	dma_unmap_single(dev, a, 128, DMA_TO_DEVICE);
	bounce_exit();
	EXPECT_NO_REPORT(test);
}

/*
 * A port (indirect.c, virtio.c): its own calls are forwarded untracked; the
 * calls of the driver above it are verified in that driver's context, whose
 * reports name both; an unknown release through the port is the port's
 * (silent), one the driver released already is a double unmap.
 */
static void test_indirect_port(struct kunit *test)
{
	struct dv_test *t = test->priv;
	struct device *dev, *on;
	void *buf = kunit_kzalloc(test, 256, GFP_KERNEL);
	void *buf2 = kunit_kzalloc(test, 256, GFP_KERNEL);
	struct dmaverify_dev *port, *sub;
	dma_addr_t a, b;

	if (!dmaverify_interposer_available())
		kunit_skip(test, "no per-device dma_map_ops in this kernel");
	dev = new_dev(test, "dmaverify-port", false);
	on = new_dev(test, "dmaverify-above", false);
	port = dmaverify_attach_port(dev);
	KUNIT_ASSERT_FALSE(test, IS_ERR(port));
	t->dev = dev;
	KUNIT_EXPECT_TRUE(test, port->partial);
	/* The port's own map: forwarded, not tracked anywhere. */
	a = dma_map_single(dev, buf, 256, DMA_TO_DEVICE);
	KUNIT_ASSERT_FALSE(test, dma_mapping_error(dev, a));
	KUNIT_EXPECT_EQ(test, dmaverify_tracker_count(&port->tracker), 0);

	sub = dmaverify_indirect_new(port, on);
	KUNIT_ASSERT_NOT_NULL(test, sub);
	WRITE_ONCE(port->whole, sub);
	b = dma_map_single(dev, buf2, 256, DMA_FROM_DEVICE);
	KUNIT_ASSERT_FALSE(test, dma_mapping_error(dev, b));
	KUNIT_EXPECT_EQ(test, dmaverify_tracker_count(&sub->tracker), 1);
	KUNIT_EXPECT_EQ(test, dmaverify_tracker_count(&port->tracker), 0);
	/* Released in the driver's context, but never the driver's: silent. */
	dma_unmap_single(dev, a, 256, DMA_TO_DEVICE);
	EXPECT_NO_REPORT(test);
	dma_unmap_single(dev, b, 256, DMA_FROM_DEVICE);
	EXPECT_NO_REPORT(test);
	KUNIT_EXPECT_EQ(test, dmaverify_tracker_count(&sub->tracker), 0);
	dma_unmap_single(dev, b, 256, DMA_FROM_DEVICE);
	/* "driver D on <test>.dmaverify-above, DMA through D <test>.dmaverify-port" */
	KUNIT_EXPECT_TRUE(test, report_says(".dmaverify-above, DMA through "));
	KUNIT_EXPECT_TRUE(test, report_says(".dmaverify-port: DRIVER_VERIFIER_DMA_VIOLATION"));
	EXPECT_REPORT(test, DV_DOUBLE_UNMAP, test_indirect_port);
	/* A leak is the driver's, checked when it goes. */
	b = dma_map_single(dev, buf2, 256, DMA_FROM_DEVICE);
	KUNIT_ASSERT_FALSE(test, dma_mapping_error(dev, b));
	dmaverify_check_leaks(sub);
	EXPECT_REPORT(test, DV_LEAK_MAP, test_indirect_port);
	dma_unmap_single(dev, b, 256, DMA_FROM_DEVICE);
	EXPECT_NO_REPORT(test);
	WRITE_ONCE(port->whole, NULL);
	synchronize_rcu();
	dmaverify_indirect_free(sub);
}

static const char *port_bus_only;
static int port_bus_calls;

static bool fake_has_driver(struct dmaverify_port_bus *pb, const char *name)
{
	return !strcmp(name, "dv_kunit_portdrv");
}

static int fake_rebind(struct dmaverify_port_bus *pb, const char *only)
{
	port_bus_only = only;
	port_bus_calls++;
	return 2;
}

/*
 * attach.c reaches the buses of drivers above a port (USB, virtio, mmc)
 * only through the table they register in: the rebind command calls each
 * bus's rebind with the name asked for, and counts what it reprobed; an
 * unregistered bus is not called.
 */
static void test_port_bus_table(struct kunit *test)
{
	struct dmaverify_port_bus pb = {
		.kind = "kunit-driver",
		.what = "a KUnit driver",
		.has_driver = fake_has_driver,
		.rebind = fake_rebind,
	};

	port_bus_only = NULL;
	port_bus_calls = 0;
	dmaverify_register_port_bus(&pb);
	KUNIT_EXPECT_EQ(test, dmaverify_rebind_selected("dv_kunit_portdrv"), 2);
	dmaverify_unregister_port_bus(&pb);
	KUNIT_EXPECT_EQ(test, port_bus_calls, 1);
	KUNIT_EXPECT_STREQ(test, port_bus_only, "dv_kunit_portdrv");
	KUNIT_EXPECT_EQ(test, dmaverify_rebind_selected("dv_kunit_portdrv"), 0);
	KUNIT_EXPECT_EQ(test, port_bus_calls, 1);
	EXPECT_NO_REPORT(test);
}

static struct kunit_case dmaverify_cases[] = {
	KUNIT_CASE(test_double_unmap),
	KUNIT_CASE(test_unmap_never_mapped),
	KUNIT_CASE(test_double_free),
	KUNIT_CASE(test_double_unmap_sg),
	KUNIT_CASE(test_wrong_size),
	KUNIT_CASE(test_wrong_direction),
	KUNIT_CASE(test_wrong_function),
	KUNIT_CASE(test_wrong_cpu_address),
	KUNIT_CASE(test_wrong_nents),
	KUNIT_CASE(test_sg_mangled),
	KUNIT_CASE(test_correct_releases),
	KUNIT_CASE(test_leak_coherent),
	KUNIT_CASE(test_leak_map),
	KUNIT_CASE(test_leak_sg),
	KUNIT_CASE(test_leak_grouped),
	KUNIT_CASE(test_creator_call_site),
	KUNIT_CASE(test_obj_compact),
	KUNIT_CASE(test_object_stacks),
	KUNIT_CASE(test_no_leak),
	KUNIT_CASE(test_use_after_release),
	KUNIT_CASE(test_sync_overflow),
	KUNIT_CASE(test_sync_unmapped),
	KUNIT_CASE(test_sync_sg_unmapped),
	KUNIT_CASE(test_sync_wrong_direction),
	KUNIT_CASE(test_sync_readonly_for_cpu),
	KUNIT_CASE(test_sync_writeonly_for_device),
	KUNIT_CASE(test_correct_syncs),
	KUNIT_CASE(test_zero_length),
	KUNIT_CASE(test_map_stack),
	KUNIT_CASE(test_map_rodata),
	KUNIT_CASE(test_map_invalid),
	KUNIT_CASE(test_overlapping_map),
	KUNIT_CASE(test_shared_cacheline_no_overlap),
	KUNIT_CASE(test_map_too_large),
	KUNIT_CASE(test_outside_dma_mask),
	KUNIT_CASE(test_correct_maps),
	KUNIT_CASE(test_sg_segment_too_long),
	KUNIT_CASE(test_sg_segment_boundary),
	KUNIT_CASE(test_unchecked_map_error),
	KUNIT_CASE(test_checked_map_error),
	KUNIT_CASE(test_fail_map),
	KUNIT_CASE(test_too_many_maps),
	KUNIT_CASE(test_alloc_in_atomic),
	KUNIT_CASE(test_alloc_atomic_ok),
	KUNIT_CASE(test_free_irqs_off),
	KUNIT_CASE(test_call_in_nmi),
	KUNIT_CASE(test_disable_enable),
	KUNIT_CASE(test_disabled_double_unmap),
	KUNIT_CASE(test_untracked_no_false_report),
	KUNIT_CASE(test_checks_disabled),
	KUNIT_CASE(test_counters),
	KUNIT_CASE(test_overrun_after),
	KUNIT_CASE(test_overrun_before),
	KUNIT_CASE(test_redzone_scan),
	KUNIT_CASE(test_redzone_correct_use),
	KUNIT_CASE(test_bounce_round_trips),
	KUNIT_CASE(test_bounce_skip_cpu_sync),
	KUNIT_CASE(test_bounce_device_overrun),
	KUNIT_CASE(test_bounce_device_underrun),
	KUNIT_CASE(test_bounce_write_after_unmap),
	KUNIT_CASE(test_bounce_pool_reuse),
	KUNIT_CASE(test_bounce_pool_far_overrun),
	KUNIT_CASE(test_bounce_pool_empty),
	KUNIT_CASE(test_sampled_untracked_silent),
	KUNIT_CASE(test_sampled_device_overrun),
	KUNIT_CASE(test_sampled_wrong_size),
	KUNIT_CASE(test_sampled_write_after_unmap),
	KUNIT_CASE(test_sampled_double_unmap),
	KUNIT_CASE(test_sampled_skip_and_sg),
	KUNIT_CASE(test_stale_to_device),
	KUNIT_CASE(test_noncoherent),
	KUNIT_CASE(test_cpu_write_lost),
	KUNIT_CASE(test_bounce_device_wrote),
	KUNIT_CASE(test_fault_released),
	KUNIT_CASE(test_fault_wrong_direction),
	KUNIT_CASE(test_fault_phys),
	KUNIT_CASE(test_fault_ram),
	KUNIT_CASE(test_fault_lines),
	KUNIT_CASE(test_bounce_sg),
	KUNIT_CASE(test_bounce_sync_races_unmap),
	KUNIT_CASE(test_bounce_sync_races_reuse),
	KUNIT_CASE(test_overlap_races_map),
	KUNIT_CASE(test_dma_supported_keeps_twin),
	KUNIT_CASE(test_bounce_outside_mask),
	KUNIT_CASE(test_callback_after_unhook),
	KUNIT_CASE_SLOW(test_detach_under_load),
	KUNIT_CASE(test_indirect_port),
	KUNIT_CASE(test_port_bus_table),
	{}
};

static struct kunit_suite dmaverify_suite = {
	.name = "dmaverify",
	.init = dv_init,
	.exit = dv_exit,
	.suite_init = dv_suite_init,
	.suite_exit = dv_suite_exit,
	.test_cases = dmaverify_cases,
};

/* ===== Parameter parsing ===== */

static void test_parse_drivers(struct kunit *test)
{
	char out[16 * 32];

	KUNIT_EXPECT_EQ(test, dmaverify_parse_drivers("nvme,e1000e", out, sizeof(out)), 2);
	KUNIT_EXPECT_STREQ(test, out, "nvme");
	KUNIT_EXPECT_STREQ(test, out + 32, "e1000e");
	KUNIT_EXPECT_EQ(test, dmaverify_parse_drivers("xhci_hcd\n", out, sizeof(out)), 1);
	KUNIT_EXPECT_EQ(test, dmaverify_parse_drivers("", out, sizeof(out)), 0);
	KUNIT_EXPECT_EQ(test, dmaverify_parse_drivers(",", out, sizeof(out)), -EINVAL);
	KUNIT_EXPECT_EQ(test, dmaverify_parse_drivers("nvme,", out, sizeof(out)), -EINVAL);
	KUNIT_EXPECT_EQ(test, dmaverify_parse_drivers("nvme,,ahci", out, sizeof(out)), -EINVAL);
	KUNIT_EXPECT_EQ(test, dmaverify_parse_drivers("nv me", out, sizeof(out)), -EINVAL);
	KUNIT_EXPECT_EQ(test, dmaverify_parse_drivers("nvme,nvme", out, sizeof(out)), -EINVAL);
	/* Names of 32 characters or more, and more than 16 names. */
	KUNIT_EXPECT_EQ(test, dmaverify_parse_drivers("a23456789012345678901234567890123",
						      out, sizeof(out)), -EINVAL);
	KUNIT_EXPECT_EQ(test, dmaverify_parse_drivers("a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q",
						      out, sizeof(out)), -EINVAL);
	KUNIT_EXPECT_EQ(test, dmaverify_parse_drivers("a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p",
						      out, sizeof(out)), 16);
}

static void test_parse_checks(struct kunit *test)
{
	unsigned long all = BIT(DV_VIOLATION_COUNT) - 1, mask;

	KUNIT_EXPECT_EQ(test, dmaverify_parse_checks("all", &mask), 0);
	KUNIT_EXPECT_EQ(test, mask, all);
	KUNIT_EXPECT_EQ(test, dmaverify_parse_checks("none", &mask), 0);
	KUNIT_EXPECT_EQ(test, mask, 0UL);
	KUNIT_EXPECT_EQ(test, dmaverify_parse_checks("all,-leak", &mask), 0);
	KUNIT_EXPECT_EQ(test, mask, all & ~(BIT(DV_LEAK_COHERENT) | BIT(DV_LEAK_MAP) |
					    BIT(DV_LEAK_SG)));
	KUNIT_EXPECT_EQ(test, dmaverify_parse_checks("double-unmap,sync", &mask), 0);
	KUNIT_EXPECT_TRUE(test, mask & BIT(DV_DOUBLE_UNMAP));
	KUNIT_EXPECT_TRUE(test, mask & BIT(DV_SYNC_UNMAPPED));
	KUNIT_EXPECT_FALSE(test, mask & BIT(DV_DOUBLE_FREE));
	mask = 42;
	KUNIT_EXPECT_EQ(test, dmaverify_parse_checks("bogus", &mask), -EINVAL);
	KUNIT_EXPECT_EQ(test, dmaverify_parse_checks("", &mask), -EINVAL);
	KUNIT_EXPECT_EQ(test, dmaverify_parse_checks("all,,leak", &mask), -EINVAL);
	KUNIT_EXPECT_EQ(test, mask, 42UL);
}

static void test_parse_action(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, dmaverify_parse_action("warn"), DV_ACTION_WARN);
	KUNIT_EXPECT_EQ(test, dmaverify_parse_action("log\n"), DV_ACTION_LOG);
	KUNIT_EXPECT_EQ(test, dmaverify_parse_action("panic"), DV_ACTION_PANIC);
	KUNIT_EXPECT_EQ(test, dmaverify_parse_action("oops"), -EINVAL);
	KUNIT_EXPECT_EQ(test, dmaverify_parse_action(""), -EINVAL);
}

/* The table is complete and its codes are unique per sub-code. */
static void test_code_table(struct kunit *test)
{
	int v, w;

	for (v = 0; v < DV_VIOLATION_COUNT; v++) {
		const struct dmaverify_code *c = &dmaverify_codes[v];

		KUNIT_EXPECT_NOT_NULL(test, c->slug);
		KUNIT_EXPECT_NOT_NULL(test, c->title);
		KUNIT_EXPECT_NOT_NULL(test, c->check);
		for (w = 0; w < v; w++) {
			KUNIT_EXPECT_FALSE(test, c->code == dmaverify_codes[w].code &&
					   c->sub == dmaverify_codes[w].sub);
			KUNIT_EXPECT_STRNEQ(test, c->slug, dmaverify_codes[w].slug);
		}
		/* Windows' codes end at 0x26; Linux-only ones start at 0x80. */
		KUNIT_EXPECT_TRUE(test, c->code <= 0x26 || c->code >= 0x80);
	}
}

static struct kunit_case dmaverify_param_cases[] = {
	KUNIT_CASE(test_parse_drivers),
	KUNIT_CASE(test_parse_checks),
	KUNIT_CASE(test_parse_action),
	KUNIT_CASE(test_code_table),
	{}
};

static struct kunit_suite dmaverify_param_suite = {
	.name = "dmaverify_params",
	.test_cases = dmaverify_param_cases,
};

/* ===== Tracker ===== */

static struct dmaverify_tracker *new_tracker(struct kunit *test)
{
	struct dmaverify_tracker *t = kunit_kzalloc(test, sizeof(*t), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, t);
	KUNIT_ASSERT_EQ(test, dmaverify_tracker_init(t, 10), 0);
	return t;
}

static struct dmaverify_obj *new_obj(struct kunit *test, dma_addr_t dma,
				     size_t size, int kind, phys_addr_t phys)
{
	struct dmaverify_obj *o = dmaverify_obj_alloc();

	KUNIT_ASSERT_NOT_NULL(test, o);
	o->key = dma;
	o->dma = dma;
	o->size = size;
	o->kind = kind;
	o->phys = phys;
	o->dir = DMA_FROM_DEVICE;
	if (kind == DV_KIND_MAP)
		o->flags |= DV_OBJ_PHYS_INDEXED;
	return o;
}

static void test_tracker_basic(struct kunit *test)
{
	struct dmaverify_tracker *t = new_tracker(test);
	struct dmaverify_obj copy, *o;

	dmaverify_track(t, new_obj(test, 0x10000, 4096, DV_KIND_MAP, 0x500000));
	dmaverify_track(t, new_obj(test, 0x20000, 100, DV_KIND_COHERENT, 0));
	KUNIT_EXPECT_EQ(test, dmaverify_tracker_count(t), 2);
	KUNIT_EXPECT_TRUE(test, dmaverify_lookup(t, 0x10000, false, &copy));
	KUNIT_EXPECT_EQ(test, copy.size, 4096);
	KUNIT_EXPECT_FALSE(test, dmaverify_lookup(t, 0x10000, true, &copy));
	KUNIT_EXPECT_FALSE(test, dmaverify_lookup(t, 0x10001, false, &copy));
	/* Containment: an address inside a mapping, and just past its end. */
	KUNIT_EXPECT_TRUE(test, dmaverify_lookup_containing(t, 0x10fff, &copy));
	KUNIT_EXPECT_EQ(test, copy.dma, 0x10000);
	KUNIT_EXPECT_FALSE(test, dmaverify_lookup_containing(t, 0x11000, &copy));
	KUNIT_EXPECT_TRUE(test, dmaverify_lookup_containing(t, 0x20063, &copy));
	KUNIT_EXPECT_FALSE(test, dmaverify_lookup_containing(t, 0x20064, &copy));
	o = dmaverify_untrack(t, 0x10000, false, NULL, NULL);
	KUNIT_ASSERT_NOT_NULL(test, o);
	dmaverify_obj_free(o);
	KUNIT_EXPECT_NULL(test, dmaverify_untrack(t, 0x10000, false, NULL, NULL));
	KUNIT_EXPECT_EQ(test, dmaverify_tracker_count(t), 1);
	dmaverify_tracker_destroy(t);
}

static void test_tracker_overlap(struct kunit *test)
{
	struct dmaverify_tracker *t = new_tracker(test);
	struct dmaverify_obj copy;

	/* A 3-page mapping at physical 0x500100. */
	dmaverify_track(t, new_obj(test, 0x10000, 3 * 4096, DV_KIND_MAP, 0x500100));
	KUNIT_EXPECT_TRUE(test, dmaverify_find_overlap(t, 0x502000, 16, NULL, &copy));
	KUNIT_EXPECT_TRUE(test, dmaverify_find_overlap(t, 0x500000, 0x101, NULL, &copy));
	KUNIT_EXPECT_FALSE(test, dmaverify_find_overlap(t, 0x500000, 0x100, NULL, &copy));
	KUNIT_EXPECT_FALSE(test, dmaverify_find_overlap(t, 0x503100, 16, NULL, &copy));
	KUNIT_EXPECT_TRUE(test, dmaverify_find_overlap(t, 0x5030ff, 1, NULL, &copy));
	dmaverify_tracker_destroy(t);
}

static bool size_is(const struct dmaverify_obj *o, const void *arg)
{
	return o->size == *(const size_t *)arg;
}

static void test_tracker_duplicates(struct kunit *test)
{
	struct dmaverify_tracker *t = new_tracker(test);
	struct dmaverify_obj *o;
	size_t want = 200;

	/* Without IOMMU two mappings of one buffer share a DMA address. */
	dmaverify_track(t, new_obj(test, 0x30000, 100, DV_KIND_MAP, 0x600000));
	dmaverify_track(t, new_obj(test, 0x30000, 200, DV_KIND_MAP, 0x600000));
	o = dmaverify_untrack(t, 0x30000, false, size_is, &want);
	KUNIT_ASSERT_NOT_NULL(test, o);
	KUNIT_EXPECT_EQ(test, o->size, 200);
	dmaverify_obj_free(o);
	o = dmaverify_untrack(t, 0x30000, false, size_is, &want);
	KUNIT_ASSERT_NOT_NULL(test, o);
	KUNIT_EXPECT_EQ(test, o->size, 100);
	dmaverify_obj_free(o);
	dmaverify_tracker_destroy(t);
}

static void test_tracker_many(struct kunit *test)
{
	struct dmaverify_tracker *t = new_tracker(test);
	struct dmaverify_obj copy, *o;
	const int n = 20000;
	int i;

	for (i = 0; i < n; i++)
		dmaverify_track(t, new_obj(test, 0x100000000ULL + i * 2048ULL, 2048,
					   DV_KIND_MAP, 0x40000000ULL + i * 2048ULL));
	KUNIT_EXPECT_EQ(test, dmaverify_tracker_count(t), n);
	for (i = 0; i < n; i += 97) {
		KUNIT_EXPECT_TRUE(test, dmaverify_lookup(t, 0x100000000ULL + i * 2048ULL,
							 false, &copy));
		u64 last = 0x100000000ULL + i * 2048ULL + 2047;

		KUNIT_EXPECT_TRUE(test, dmaverify_lookup_containing(t, last, &copy));
		KUNIT_EXPECT_EQ(test, copy.dma, 0x100000000ULL + i * 2048ULL);
	}
	for (i = 0; i < n; i += 2) {
		o = dmaverify_untrack(t, 0x100000000ULL + i * 2048ULL, false, NULL, NULL);
		KUNIT_ASSERT_NOT_NULL(test, o);
		dmaverify_obj_free(o);
	}
	KUNIT_EXPECT_EQ(test, dmaverify_tracker_count(t), n / 2);
	/* destroy frees the rest */
	dmaverify_tracker_destroy(t);
}

static void count_obj(const struct dmaverify_obj *obj, void *arg)
{
	(*(unsigned long *)arg)++;
}

/*
 * The indexes grow with their load (issue 14: flat cost from 1k to 1M
 * objects), to about DV_STRIPE_LOAD objects per bucket and no further, and
 * every object is still found, by key, by an address inside it and by its
 * CPU range.
 */
static void test_tracker_grows(struct kunit *test)
{
	struct dmaverify_tracker *t = new_tracker(test);
	struct dmaverify_obj copy, *o;
	unsigned long buckets, seen = 0;
	const unsigned long n = 40000;
	unsigned long i;

	/* 2^10 buckets per index to begin with (new_tracker()). */
	KUNIT_EXPECT_EQ(test, dmaverify_tracker_buckets(t), 2 * 1024);
	for (i = 0; i < n; i++)
		dmaverify_track(t, new_obj(test, 0x200000000ULL + i * 4096, 4096,
					   DV_KIND_MAP, 0x80000000ULL + i * 4096));
	flush_work(&t->grow);
	buckets = dmaverify_tracker_buckets(t);
	/* Both indexes hold n objects: at most DV_STRIPE_LOAD per bucket ... */
	KUNIT_EXPECT_GE(test, buckets, 2 * n / DV_STRIPE_LOAD);
	/* ... and not much less: a stripe only doubles past its load. */
	KUNIT_EXPECT_LE(test, buckets, 2 * 2 * n / DV_STRIPE_LOAD + 2 * 1024);
	KUNIT_EXPECT_EQ(test, dmaverify_tracker_for_each(t, count_obj, &seen), n);
	KUNIT_EXPECT_EQ(test, seen, n);
	for (i = 0; i < n; i += 13) {
		u64 dma = 0x200000000ULL + i * 4096, phys = 0x80000000ULL + i * 4096;

		KUNIT_EXPECT_TRUE(test, dmaverify_lookup(t, dma, false, &copy));
		KUNIT_EXPECT_TRUE(test, dmaverify_lookup_containing(t, dma + 100,
								    &copy));
		KUNIT_EXPECT_EQ(test, copy.dma, dma);
		KUNIT_EXPECT_TRUE(test, dmaverify_find_overlap(t, phys + 100, 8,
							       NULL, &copy));
		KUNIT_EXPECT_EQ(test, copy.phys, phys);
	}
	for (i = 0; i < n; i++) {
		o = dmaverify_untrack(t, 0x200000000ULL + i * 4096, false, NULL, NULL);
		KUNIT_ASSERT_NOT_NULL(test, o);
		dmaverify_obj_free(o);
	}
	KUNIT_EXPECT_EQ(test, dmaverify_tracker_count(t), 0);
	KUNIT_EXPECT_FALSE(test, dmaverify_find_overlap(t, 0x80000000ULL, n * 4096,
							NULL, &copy));
	dmaverify_tracker_destroy(t);
}

/*
 * An object larger than the table (1024 buckets here) must not blind the
 * overlap walk for the others.
 */
static void test_tracker_overlap_huge(struct kunit *test)
{
	struct dmaverify_tracker *t = new_tracker(test);
	phys_addr_t far = 0x10000000 + 4900UL * 4096;	/* In the large object. */
	struct dmaverify_obj copy;

	dmaverify_track(t, new_obj(test, 0x100000000ULL, 5000UL * 4096,
				   DV_KIND_MAP, 0x10000000));
	dmaverify_track(t, new_obj(test, 0x200000000ULL, 4096, DV_KIND_MAP,
				   0x40000000));
	KUNIT_EXPECT_TRUE(test, dmaverify_find_overlap(t, 0x40000100, 16, NULL, &copy));
	KUNIT_EXPECT_EQ(test, copy.dma, 0x200000000ULL);
	KUNIT_EXPECT_TRUE(test, dmaverify_find_overlap(t, far, 16, NULL, &copy));
	KUNIT_EXPECT_EQ(test, copy.dma, 0x100000000ULL);
	KUNIT_EXPECT_FALSE(test, dmaverify_find_overlap(t, 0x50000000, 16, NULL, &copy));
	/* Containment in and past the large object. */
	KUNIT_EXPECT_TRUE(test, dmaverify_lookup_containing(t, 0x100000000ULL +
							    4999UL * 4096, &copy));
	KUNIT_EXPECT_FALSE(test, dmaverify_lookup_containing(t, 0x100000000ULL +
							     5000UL * 4096, &copy));
	dmaverify_tracker_destroy(t);
}

static void test_tracker_alloc_failure(struct kunit *test)
{
	atomic_set(&dmaverify_test_fail_allocs, 2);
	KUNIT_EXPECT_NULL(test, dmaverify_obj_alloc());
	KUNIT_EXPECT_NULL(test, dmaverify_obj_alloc());
	{
		struct dmaverify_obj *o = dmaverify_obj_alloc();

		KUNIT_EXPECT_NOT_NULL(test, o);
		dmaverify_obj_free(o);
	}
}

static struct kunit_case dmaverify_tracker_cases[] = {
	KUNIT_CASE(test_tracker_basic),
	KUNIT_CASE(test_tracker_overlap),
	KUNIT_CASE(test_tracker_duplicates),
	KUNIT_CASE(test_tracker_many),
	KUNIT_CASE(test_tracker_grows),
	KUNIT_CASE(test_tracker_overlap_huge),
	KUNIT_CASE(test_tracker_alloc_failure),
	{}
};

static struct kunit_suite dmaverify_tracker_suite = {
	.name = "dmaverify_tracker",
	.test_cases = dmaverify_tracker_cases,
};

/* ===== Observe-only mode ===== */

/*
 * The same rules seen through kprobes on the DMA API (observe.c) instead of
 * dma_map_ops, on a dma-direct device: this suite runs on every kernel,
 * with per-device dma_map_ops or without.  Observed calls are not stopped,
 * so only violations that are harmless on dma-direct are made for real.
 */

static struct device *observed_dev(struct kunit *test)
{
	struct dv_test *t = test->priv;
	struct device *dev = new_dev(test, "dmaverify-observe", false);

	KUNIT_ASSERT_EQ(test, dmaverify_attach_device_mode(dev, DV_MODE_OBSERVE), 0);
	/* Nothing installed on the device: its calls go where they went. */
	KUNIT_ASSERT_NULL(test, (void *)get_dma_ops(dev));
	t->dev = dev;
	return dev;
}

static int observe_init(struct kunit *test)
{
	struct dv_test *t = kunit_kzalloc(test, sizeof(*t), GFP_KERNEL);

	if (!t)
		return -ENOMEM;
	test->priv = t;
	if (!IS_ENABLED(CONFIG_KRETPROBES))
		kunit_skip(test, "no kretprobes in this kernel");
	/* arm64 6.12: fprobes need WITH_REGS, kprobes are BRK traps. */
	if (!IS_ENABLED(CONFIG_FPROBE) && !IS_ENABLED(CONFIG_KPROBES_ON_FTRACE))
		kunit_skip(test, "no fprobes nor ftrace-based kprobes: no observe mode");
	reset_observed();
	WRITE_ONCE(dmaverify_enabled, true);
	WRITE_ONCE(dmaverify_checks, ~0UL);
	return 0;
}

static void test_observe_correct(struct kunit *test)
{
	struct device *dev = observed_dev(test);
	struct scatterlist *sgl = make_sg(test, 3, 512);
	u8 *buf = kunit_kzalloc(test, 1024, GFP_KERNEL);
	struct sg_table sgt = { .sgl = sgl, .orig_nents = 3 };
	dma_addr_t a, c;
	void *cpu;
	int n;

	a = dma_map_single(dev, buf, 1024, DMA_BIDIRECTIONAL);
	KUNIT_ASSERT_FALSE(test, dma_mapping_error(dev, a));
	dma_sync_single_for_cpu(dev, a, 1024, DMA_BIDIRECTIONAL);
	dma_sync_single_range_for_device(dev, a, 512, 512, DMA_BIDIRECTIONAL);
	n = dma_map_sg(dev, sgl, 3, DMA_TO_DEVICE);
	KUNIT_ASSERT_GT(test, n, 0);
	dma_sync_sg_for_device(dev, sgl, 3, DMA_TO_DEVICE);
	dma_unmap_sg(dev, sgl, 3, DMA_TO_DEVICE);
	KUNIT_ASSERT_EQ(test, dma_map_sgtable(dev, &sgt, DMA_TO_DEVICE, 0), 0);
	dma_unmap_sgtable(dev, &sgt, DMA_TO_DEVICE, 0);
	cpu = dma_alloc_coherent(dev, 8192, &c, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, cpu);
	dma_free_coherent(dev, 8192, cpu, c);
	dma_unmap_single(dev, a, 1024, DMA_BIDIRECTIONAL);
	/* And the leak check at release finds nothing outstanding. */
	dmaverify_release_device(dev);
	EXPECT_NO_REPORT(test);
}

static void test_observe_double_unmap(struct kunit *test)
{
	struct device *dev = observed_dev(test);
	void *buf = kunit_kzalloc(test, 256, GFP_KERNEL);
	dma_addr_t a = dma_map_single(dev, buf, 256, DMA_TO_DEVICE);

	KUNIT_ASSERT_FALSE(test, dma_mapping_error(dev, a));
	dma_unmap_single(dev, a, 256, DMA_TO_DEVICE);
	EXPECT_NO_REPORT(test);
	/* Harmless on dma-direct without swiotlb: made for real. */
	dma_unmap_single(dev, a, 256, DMA_TO_DEVICE);
	EXPECT_REPORT(test, DV_DOUBLE_UNMAP, test_observe_double_unmap);
	KUNIT_EXPECT_TRUE(test, report_says("released "));
}

static void test_observe_double_unmap_sg(struct kunit *test)
{
	struct device *dev = observed_dev(test);
	struct scatterlist *sgl = make_sg(test, 2, 128);

	KUNIT_ASSERT_GT(test, dma_map_sg(dev, sgl, 2, DMA_FROM_DEVICE), 0);
	dma_unmap_sg(dev, sgl, 2, DMA_FROM_DEVICE);
	EXPECT_NO_REPORT(test);
	dma_unmap_sg(dev, sgl, 2, DMA_FROM_DEVICE);
	EXPECT_REPORT(test, DV_DOUBLE_UNMAP_SG, test_observe_double_unmap_sg);
}

static void test_observe_wrong_size(struct kunit *test)
{
	struct device *dev = observed_dev(test);
	void *buf = kunit_kzalloc(test, 1024, GFP_KERNEL);
	dma_addr_t a = dma_map_single(dev, buf, 1024, DMA_FROM_DEVICE);

	KUNIT_ASSERT_FALSE(test, dma_mapping_error(dev, a));
	dma_unmap_single(dev, a, 1000, DMA_FROM_DEVICE);
	EXPECT_REPORT(test, DV_WRONG_SIZE, test_observe_wrong_size);
	KUNIT_EXPECT_TRUE(test, report_says("mapped 1024 bytes, released 1000 bytes"));
}

static void test_observe_sync_unmapped(struct kunit *test)
{
	struct device *dev = observed_dev(test);
	void *buf = kunit_kzalloc(test, 128, GFP_KERNEL);
	dma_addr_t a = dma_map_single(dev, buf, 128, DMA_FROM_DEVICE);

	KUNIT_ASSERT_FALSE(test, dma_mapping_error(dev, a));
	dma_unmap_single(dev, a, 128, DMA_FROM_DEVICE);
	dma_sync_single_for_cpu(dev, a, 128, DMA_FROM_DEVICE);
	EXPECT_REPORT(test, DV_SYNC_UNMAPPED, test_observe_sync_unmapped);
}

static void test_observe_leak(struct kunit *test)
{
	struct device *dev = observed_dev(test);
	void *buf = kunit_kzalloc(test, 64, GFP_KERNEL);
	dma_addr_t a = dma_map_single(dev, buf, 64, DMA_TO_DEVICE), c;
	void *cpu = dma_alloc_coherent(dev, 2048, &c, GFP_KERNEL);
	char title[64];

	KUNIT_ASSERT_FALSE(test, dma_mapping_error(dev, a));
	KUNIT_ASSERT_NOT_NULL(test, cpu);
	dmaverify_release_device(dev);
	/* Titled with the creating function, from the stack saved at entry. */
	KUNIT_EXPECT_EQ(test, READ_ONCE(observed.nreports), 2);
	snprintf(title, sizeof(title), " in %s%s", __func__, "\n");
	KUNIT_EXPECT_TRUE(test, report_says(title));
	reset_observed();
	/* Unobserved again, the buffers are released the plain way. */
	dmaverify_detach_device(dev);
	((struct dv_test *)test->priv)->dev = NULL;
	dma_unmap_single(dev, a, 64, DMA_TO_DEVICE);
	dma_free_coherent(dev, 2048, cpu, c);
	EXPECT_NO_REPORT(test);
}

static void test_observe_use_after_release(struct kunit *test)
{
	struct device *dev = observed_dev(test);
	void *buf = kunit_kzalloc(test, 64, GFP_KERNEL);
	dma_addr_t a;

	dmaverify_release_device(dev);
	EXPECT_NO_REPORT(test);
	a = dma_map_single(dev, buf, 64, DMA_TO_DEVICE);
	EXPECT_REPORT(test, DV_USE_AFTER_RELEASE, test_observe_use_after_release);
	KUNIT_EXPECT_FALSE(test, dma_mapping_error(dev, a));
	dma_unmap_single(dev, a, 64, DMA_TO_DEVICE);
	EXPECT_REPORT(test, DV_USE_AFTER_RELEASE, test_observe_use_after_release);
}

/* Another device's calls are seen by the probes, and ignored. */
static void test_observe_other_device(struct kunit *test)
{
	struct device *other = kunit_device_register(test, "dmaverify-other");
	void *buf = kunit_kzalloc(test, 256, GFP_KERNEL);
	dma_addr_t a;

	observed_dev(test);
	KUNIT_ASSERT_FALSE(test, IS_ERR(other));
	other->dma_mask = &other->coherent_dma_mask;
	KUNIT_ASSERT_EQ(test, dma_set_mask_and_coherent(other, DMA_BIT_MASK(64)), 0);
	a = dma_map_single(other, buf, 256, DMA_TO_DEVICE);
	KUNIT_ASSERT_FALSE(test, dma_mapping_error(other, a));
	dma_unmap_single(other, a, 256, DMA_TO_DEVICE);
	dma_unmap_single(other, a, 256, DMA_TO_DEVICE);
	EXPECT_NO_REPORT(test);
}

/*
 * After the observer missed a creation, an unknown release may be the
 * release of the object it missed; after it missed a release, an object
 * created before may be one it missed the release of.  Counted, never
 * reported.
 */
static void test_observe_missed_no_false_report(struct kunit *test)
{
	struct device *dev = observed_dev(test);
	void *buf = kunit_kzalloc(test, 512, GFP_KERNEL);
	dma_addr_t a = dma_map_single(dev, buf, 256, DMA_TO_DEVICE);
	dma_addr_t b = dma_map_single(dev, buf + 256, 256, DMA_TO_DEVICE);

	KUNIT_ASSERT_FALSE(test, dma_mapping_error(dev, a));
	KUNIT_ASSERT_FALSE(test, dma_mapping_error(dev, b));
	dmaverify_observe_forget(dev);
	dma_unmap_single(dev, a, 256, DMA_TO_DEVICE);
	dma_unmap_single(dev, a, 256, DMA_TO_DEVICE);
	EXPECT_NO_REPORT(test);
	/* b may be stale: not a leak, not a wrong size. */
	dmaverify_release_device(dev);
	EXPECT_NO_REPORT(test);
	dmaverify_detach_device(dev);
	((struct dv_test *)test->priv)->dev = NULL;
	dma_unmap_single(dev, b, 256, DMA_TO_DEVICE);
}

/* dma_alloc_pages() pairs with dma_free_pages(); a leak names its creator. */
static void test_observe_pages(struct kunit *test)
{
	struct device *dev = observed_dev(test);
	struct page *page, *leaked;
	struct sg_table *sgt, *kept;
	dma_addr_t a, b;
	char title[64];

	page = dma_alloc_pages(dev, 8192, &a, DMA_FROM_DEVICE, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, page);
	dma_free_pages(dev, 8192, page, a, DMA_FROM_DEVICE);
	/* dma_alloc_noncontiguous() pairs with dma_free_noncontiguous(). */
	sgt = dma_alloc_noncontiguous(dev, 16384, DMA_TO_DEVICE, GFP_KERNEL, 0);
	KUNIT_ASSERT_NOT_NULL(test, sgt);
	dma_free_noncontiguous(dev, 16384, sgt, DMA_TO_DEVICE);
	EXPECT_NO_REPORT(test);
	/* Leaked, one of each: reported at release, titled with this function. */
	leaked = dma_alloc_pages(dev, 4096, &b, DMA_BIDIRECTIONAL, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, leaked);
	kept = dma_alloc_noncontiguous(dev, 8192, DMA_FROM_DEVICE, GFP_KERNEL, 0);
	KUNIT_ASSERT_NOT_NULL(test, kept);
	dmaverify_release_device(dev);
	KUNIT_EXPECT_EQ(test, READ_ONCE(observed.nreports), 2);
	KUNIT_EXPECT_EQ(test, observed.v[0], DV_LEAK_COHERENT);
	KUNIT_EXPECT_EQ(test, observed.v[1], DV_LEAK_COHERENT);
	snprintf(title, sizeof(title), " in %s%s", __func__, "\n");
	KUNIT_EXPECT_TRUE(test, report_says(title));
	reset_observed();
	dmaverify_detach_device(dev);
	((struct dv_test *)test->priv)->dev = NULL;
	dma_free_pages(dev, 4096, leaked, b, DMA_BIDIRECTIONAL);
	dma_free_noncontiguous(dev, 8192, kept, DMA_FROM_DEVICE);
	EXPECT_NO_REPORT(test);
}

/*
 * A DMA call from a hard interrupt that lands while the observer's handler
 * of a call in the task runs on the same CPU: the test hook, in the
 * handler, raises an irq_work on this CPU and waits for it, and the
 * irq_work maps a buffer.  fprobes see the nested map (its leak is
 * reported); kprobes miss it, count the miss, and must then not blame the
 * driver for anything.
 */
static struct {
	struct irq_work work;
	struct device *dev;
	void *buf;
	dma_addr_t addr;
	bool waiting;
	bool nested;
	bool ran;
} nest;

static void nest_map_in_irq(struct irq_work *work)
{
	nest.nested = READ_ONCE(nest.waiting) && in_hardirq();
	nest.addr = dma_map_single(nest.dev, nest.buf, 64, DMA_FROM_DEVICE);
	WRITE_ONCE(nest.ran, true);
}

static void nest_hook(enum dmaverify_test_point point, struct device *dev,
		      u64 addr)
{
	int i;

	if (point != DV_TEST_OBSERVED || dev != nest.dev || nest.waiting)
		return;
	WRITE_ONCE(nest.waiting, true);
	irq_work_queue(&nest.work);
	for (i = 0; i < 100000 && !READ_ONCE(nest.ran); i++)
		udelay(1);
	WRITE_ONCE(nest.waiting, false);
}

static void test_observe_nested_irq(struct kunit *test)
{
	struct device *dev = observed_dev(test);
	void *buf = kunit_kzalloc(test, 128, GFP_KERNEL);
	bool fprobes = !strcmp(dmaverify_observe_probes(), "fprobes");
	unsigned long missed = dmaverify_observe_missed();
	char title[64];
	dma_addr_t a;

	KUNIT_ASSERT_NOT_NULL(test, buf);
	memset(&nest, 0, sizeof(nest));
	init_irq_work(&nest.work, nest_map_in_irq);
	nest.dev = dev;
	nest.buf = buf + 64;
	WRITE_ONCE(dmaverify_test_hook, nest_hook);
	a = dma_map_single(dev, buf, 64, DMA_TO_DEVICE);
	WRITE_ONCE(dmaverify_test_hook, NULL);
	irq_work_sync(&nest.work);
	KUNIT_ASSERT_FALSE(test, dma_mapping_error(dev, a));
	KUNIT_ASSERT_TRUE(test, READ_ONCE(nest.ran));
	KUNIT_ASSERT_FALSE(test, dma_mapping_error(dev, nest.addr));
	/* Without a nested interrupt this case would prove nothing. */
	KUNIT_ASSERT_TRUE_MSG(test, nest.nested,
			      "the irq_work did not run inside the handler");
	dma_unmap_single(dev, a, 64, DMA_TO_DEVICE);
	dmaverify_release_device(dev);
	if (fprobes) {
		/* Seen: nothing missed, and the nested map is a leak. */
		KUNIT_EXPECT_EQ(test, dmaverify_observe_missed(), missed);
		KUNIT_EXPECT_EQ(test, READ_ONCE(observed.nreports), 1);
		KUNIT_EXPECT_EQ(test, observed.v[0], DV_LEAK_MAP);
		snprintf(title, sizeof(title), " in %s%s", "nest_map_in_irq", "\n");
		KUNIT_EXPECT_TRUE(test, report_says(title));
	} else {
		/* Missed, counted, and no report: the device is degraded. */
		KUNIT_EXPECT_GT(test, dmaverify_observe_missed(), missed);
		EXPECT_NO_REPORT(test);
	}
	reset_observed();
	dmaverify_detach_device(dev);
	((struct dv_test *)test->priv)->dev = NULL;
	dma_unmap_single(dev, nest.addr, 64, DMA_FROM_DEVICE);
	EXPECT_NO_REPORT(test);
}

static struct kunit_case dmaverify_observe_cases[] = {
	KUNIT_CASE(test_observe_correct),
	KUNIT_CASE(test_observe_double_unmap),
	KUNIT_CASE(test_observe_double_unmap_sg),
	KUNIT_CASE(test_observe_wrong_size),
	KUNIT_CASE(test_observe_sync_unmapped),
	KUNIT_CASE(test_observe_leak),
	KUNIT_CASE(test_observe_use_after_release),
	KUNIT_CASE(test_observe_other_device),
	KUNIT_CASE(test_observe_missed_no_false_report),
	KUNIT_CASE(test_observe_pages),
	KUNIT_CASE(test_observe_nested_irq),
	{}
};

static struct kunit_suite dmaverify_observe_suite = {
	.name = "dmaverify_observe",
	.init = observe_init,
	.exit = dv_exit,
	.suite_init = dv_suite_init,
	.suite_exit = dv_suite_exit,
	.test_cases = dmaverify_observe_cases,
};

kunit_test_suites(&dmaverify_param_suite, &dmaverify_tracker_suite,
		  &dmaverify_suite, &dmaverify_observe_suite);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("KUnit tests for dmaverify");
