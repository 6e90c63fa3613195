// SPDX-License-Identifier: GPL-2.0
/*
 * dmaverify: sampled mode (sample_interval=MS), after KFENCE.
 *
 * A device attached while sample_interval is not 0 is verified by
 * sampling: its DMA calls are forwarded untracked, and every
 * sample_interval ms a gate opens for the next streaming map (S/G list or
 * single map) of any such device, which then goes through a guarded slot of
 * the pool (pool.c, redzone.c) and is tracked completely until it is
 * unmapped.  Every DV_SAMPLE_COHERENT_EVERY-th opening also lets one
 * coherent allocation through, with redzones.
 *
 * Between samples a call costs the read of the gate: an atomic_t written
 * only when it opens (by the timer) and when it is taken (once per
 * interval), so that its cache line stays shared on every CPU.  A static
 * key, as KFENCE once had, would make the closed gate free but costs an
 * IPI to every CPU twice per sample; KFENCE gave it up for that reason.
 */

#define pr_fmt(fmt) "dmaverify: " fmt

#include <linux/jiffies.h>
#include <linux/moduleparam.h>
#include <linux/seq_file.h>
#include <linux/workqueue.h>

#include "dmaverify.h"

unsigned int dmaverify_sample_interval;
EXPORT_SYMBOL_FOR_DV_TESTS(dmaverify_sample_interval);

/* 0: open (the next map takes the sample); above 0: closed. */
atomic_t dmaverify_sample_gate = ATOMIC_INIT(1);
EXPORT_SYMBOL_FOR_DV_TESTS(dmaverify_sample_gate);
atomic_t dmaverify_sample_gate_coherent = ATOMIC_INIT(1);

static atomic_long_t samples[2];	/* Taken: streaming, coherent. */
static atomic_long_t samples_skipped;	/* Gate taken by a call too large. */
static atomic_long_t samples_missed;	/* No free slot (or no memory). */
atomic_long_t dmaverify_sample_hits;	/* Reports on sampled objects. */
static unsigned long gate_ticks;
static bool sample_live;		/* Module initialised: may schedule. */
static DEFINE_MUTEX(sample_mutex);	/* Orders parameter writes and unload. */

static void gate_fn(struct work_struct *work);
static DECLARE_DELAYED_WORK(gate_work, gate_fn);

static void gate_fn(struct work_struct *work)
{
	unsigned int ms = READ_ONCE(dmaverify_sample_interval);

	if (!ms)
		return;
	if (atomic_read(&dmaverify_sample_gate))
		atomic_set(&dmaverify_sample_gate, 0);
	if (!(++gate_ticks % DV_SAMPLE_COHERENT_EVERY) &&
	    atomic_read(&dmaverify_sample_gate_coherent))
		atomic_set(&dmaverify_sample_gate_coherent, 0);
	queue_delayed_work(system_unbound_wq, &gate_work, msecs_to_jiffies(ms));
}

/**
 * dmaverify_sample_taken() - count a sample that went through a slot
 * @coherent: a coherent allocation (else a streaming map)
 */
void dmaverify_sample_taken(bool coherent)
{
	atomic_long_inc(&samples[coherent]);
}

/**
 * dmaverify_sample_missed() - a sample could not be taken
 * @reopen: the gate to open again, so that the next call takes the sample
 *	(the call could not use a slot: too large), or NULL (no slot free,
 *	or no memory: the next opening will try again)
 */
void dmaverify_sample_missed(atomic_t *reopen)
{
	if (reopen) {
		atomic_long_inc(&samples_skipped);
		atomic_set(reopen, 0);
	} else {
		atomic_long_inc(&samples_missed);
	}
}

/**
 * dmaverify_sample_show() - sampled mode's state, for debugfs stats
 * @seq: output
 */
void dmaverify_sample_show(struct seq_file *seq)
{
	seq_printf(seq, "sampling: interval %u ms samples %ld (streaming %ld coherent %ld) skipped %ld missed %ld hits %ld\n",
		   READ_ONCE(dmaverify_sample_interval),
		   atomic_long_read(&samples[0]) + atomic_long_read(&samples[1]),
		   atomic_long_read(&samples[0]), atomic_long_read(&samples[1]),
		   atomic_long_read(&samples_skipped),
		   atomic_long_read(&samples_missed),
		   atomic_long_read(&dmaverify_sample_hits));
	dmaverify_pool_show(seq);
}

/* Start (or restart) the gate's timer and make sure the pool exists. */
static void sample_start(void)
{
	if (!READ_ONCE(dmaverify_sample_interval))
		return;
	dmaverify_bounce_pool_setup();
	mod_delayed_work(system_unbound_wq, &gate_work, 0);
}

static int interval_set(const char *val, const struct kernel_param *kp)
{
	unsigned int ms;
	int ret = kstrtouint(val, 0, &ms);

	if (ret)
		return ret;
	if (ms > 3600 * 1000)
		return -ERANGE;
	mutex_lock(&sample_mutex);
	WRITE_ONCE(dmaverify_sample_interval, ms);
	if (sample_live)
		sample_start();
	mutex_unlock(&sample_mutex);
	return 0;
}

static const struct kernel_param_ops interval_ops = {
	.set = interval_set,
	.get = param_get_uint,
};

module_param_cb(sample_interval, &interval_ops, &dmaverify_sample_interval, 0644);
MODULE_PARM_DESC(sample_interval, "Sampled mode: devices attached while this is not 0 are verified by sampling, one streaming map every so many ms through a guarded slot (0: full verification, the default; 100 for production)");

void dmaverify_sample_init(void)
{
	mutex_lock(&sample_mutex);
	sample_live = true;
	sample_start();
	mutex_unlock(&sample_mutex);
}

void dmaverify_sample_exit(void)
{
	mutex_lock(&sample_mutex);
	sample_live = false;
	mutex_unlock(&sample_mutex);
	cancel_delayed_work_sync(&gate_work);
}
