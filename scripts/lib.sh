# SPDX-License-Identifier: GPL-2.0
# Common helpers for dmaverify's scripts (sourced, not run).

CACHE=${DMAVERIFY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dmaverify}
mkdir -p "$CACHE"

log()
{
	echo "${0##*/}: $*" >&2
}

die()
{
	log "error: $*"
	exit 1
}
shopt -s inherit_errexit
