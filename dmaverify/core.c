// SPDX-License-Identifier: GPL-2.0
/*
 * dmaverify core: load and unload.  The top floor: it starts every layer
 * from the bottom up, and stops them in the reverse order.
 *
 * For more info please see Documentation/dmaverify.rst.
 */

#define pr_fmt(fmt) "dmaverify: " fmt

#include <linux/kernel.h>
#include <linux/module.h>

#include "dmaverify.h"

/* === Load and unload === */

static int __init dmaverify_init(void)
{
	int ret;

	BUILD_BUG_ON(DV_VIOLATION_COUNT > BITS_PER_LONG);
	dmaverify_checks &= BIT(DV_VIOLATION_COUNT) - 1;
	ret = dmaverify_stack_init();
	if (ret)
		return ret;
	ret = dmaverify_tracker_cache_init();
	if (ret) {
		dmaverify_stack_exit();
		return ret;
	}
	dmaverify_checks_init();
	dmaverify_reports_init();
	dmaverify_redzone_init();
	dmaverify_sample_init();
	dmaverify_debugfs_init();
	dmaverify_iommu_init();
	dmaverify_dmaengine_init();
	ret = dmaverify_bus_init();
	if (ret)
		goto err;
	dmaverify_indirect_init();
	dmaverify_virtio_init();
	dmaverify_mmc_init();
	{
		char buf[MAX_DRIVERS * DRIVER_NAME_MAX];

		dmaverify_drivers_show(buf, sizeof(buf));
		pr_info("loaded: verifying drivers [%s], action %s, mode %s\n",
			buf, dmaverify_action_name(dmaverify_action),
			dmaverify_mode != DV_MODE_AUTO ? dmaverify_mode_name(dmaverify_mode) :
			dmaverify_interposer_available() ? "auto (ops)" :
			"auto (observe: no per-device dma_map_ops in this kernel)");
	}
	dmaverify_selection_feedback_all();
	if (dmaverify_rebind)
		dmaverify_rebind_selected(NULL);
	return 0;
err:
	dmaverify_dmaengine_exit();
	dmaverify_iommu_exit();
	dmaverify_debugfs_exit();
	dmaverify_sample_exit();
	dmaverify_redzone_exit();
	dmaverify_reports_exit();
	dmaverify_tracker_cache_exit();
	dmaverify_stack_exit();
	return ret;
}

static void __exit dmaverify_exit(void)
{
	dmaverify_dmaengine_exit();
	dmaverify_iommu_exit();
	dmaverify_mmc_exit();
	dmaverify_virtio_exit();
	dmaverify_indirect_exit();
	dmaverify_detach_all();
	dmaverify_observe_exit();
	dmaverify_sample_exit();
	dmaverify_redzone_exit();
	dmaverify_debugfs_exit();
	dmaverify_reports_exit();
	dmaverify_tracker_cache_exit();
	dmaverify_stack_exit();
	pr_info("unloaded\n");
}

module_init(dmaverify_init);
module_exit(dmaverify_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("DMA API verifier for selected drivers (after Windows Driver Verifier's DMA verification)");
MODULE_AUTHOR("dmaverify developers");
