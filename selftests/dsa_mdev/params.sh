#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# shellcheck source-path=SCRIPTDIR
#
# dsa_mdev module parameters.  Every bad value must fail insmod with EINVAL,
# leave no module and no /sys/class/dsa behind, and log a pr_err line
# starting "dsa_mdev: " that names the parameter.  Every good edge value must
# load, expose exactly the parents and types it asks for, and unload.
#
#   params.sh [KO]   run as root; KO defaults to module/dsa_mdev.ko beside
#                    the script ($DSA_MDEV_KO overrides).

here=$(cd "$(dirname "$0")" && pwd)
# ktap_helpers.sh beside the script (the Makefile copies it), else in
# the kselftest tree this one is installed in.
ktap=$here/ktap_helpers.sh
[ -r "$ktap" ] || ktap=$here/../../kselftest/ktap_helpers.sh
if [ ! -r "$ktap" ]; then
	echo "Bail out! ktap_helpers.sh not found (build with make)"
	exit 1
fi
# shellcheck source=/dev/null
. "$ktap"
# shellcheck source=lib.sh
. "$here/lib.sh"

KO=${1:-$(dsa_module_path "$here")}
CLASS=/sys/class/dsa
DEFAULT_WQS=64

# Sets EXPOSED to "dsa-1dwq dsa-2dwq ..." as exposed by parent $1, sorted
# (the glob sorts).  Builtins only, here and in file_is: under TCG, and
# more so on the debug kernel, every fork costs, and check_parents reads
# hundreds of files.
exposed_types() {
	local dir=$CLASS/dsa$1/mdev_supported_types f

	EXPOSED=
	[ -d "$dir" ] || return 1
	for f in "$dir"/*; do
		[ -e "$f" ] && EXPOSED+="${EXPOSED:+ }${f##*/}"
	done
	return 0
}

# The file $1 holds exactly $2 plus one trailing newline.
file_is() {
	local got=

	IFS= read -r -d '' got <"$1" 2>/dev/null
	if [ "$got" != "$2"$'\n' ]; then
		log "$1: expected '$2', got '${got%$'\n'}'"
		return 1
	fi
}

# Sets COMPATIBLE to what the compatible file of base $1 with $2 WQs in
# total must hold, without its last newline.
expected_compatible() {
	local range=1

	[ $(($2 / $1)) -gt 1 ] && range="1-$(($2 / $1))"
	printf -v COMPATIBLE '%s\n' \
		"device_api=vfio-pci" \
		"mdev_type=dsa-$1dwq" \
		"aggregator={aggregator:int:$range}" \
		"migration_version_major=1" \
		"migration_version_minor={minor:int:0-1}" \
		"dynamic_resources=aggregator"
	COMPATIBLE=${COMPATIBLE%$'\n'}
}

# Checks one exposed type of parent $1: base $2, $3 WQs in total.
check_type() {
	local dir=$CLASS/dsa$1/mdev_supported_types/dsa-$2dwq

	expected_compatible "$2" "$3"
	file_is "$dir/name" "dsa-$2dwq" &&
		file_is "$dir/aggregator" 1 &&
		file_is "$dir/max_aggregator" $(($3 / $2)) &&
		file_is "$dir/available_instances" $(($3 / $2)) &&
		file_is "$dir/compatible" "$COMPATIBLE"
}

# Exactly $1 parents dsa0.. exist, each with total_wqs = free_wqs = $2,
# exposing exactly the bases listed in $3 (e.g. "1 2 4"), each checked.
check_parents() {
	local count=$1 wqs=$2 bases=$3 want="" p b
	local -a parents

	# Ascending bases give the glob's order.
	for b in $bases; do
		want+="${want:+ }dsa-${b}dwq"
	done

	parents=("$CLASS"/*)
	[ -e "${parents[0]}" ] || parents=()
	if [ "${#parents[@]}" != "$count" ]; then
		log "expected $count parents, found: ${parents[*]##*/}"
		return 1
	fi
	for ((p = 0; p < count; p++)); do
		if [ ! -e "/sys/class/mdev_bus/dsa$p" ]; then
			log "/sys/class/mdev_bus/dsa$p missing"
			return 1
		fi
		file_is "$CLASS/dsa$p/total_wqs" "$wqs" || return 1
		file_is "$CLASS/dsa$p/free_wqs" "$wqs" || return 1
		exposed_types "$p"
		if [ "$EXPOSED" != "$want" ]; then
			log "dsa$p exposes '$EXPOSED', expected '$want'"
			return 1
		fi
		for b in $bases; do
			check_type "$p" "$b" "$wqs" || return 1
		done
	done
}

# insmod $KO "$@" must succeed without logging an error.
load_ok() {
	local seq out

	seq=$(kmsg_seq)
	if ! out=$(insmod "$KO" "$@" 2>&1); then
		log "insmod $*: $out"
		log "$(kmsg_since "$seq")"
		return 1
	fi
	if kmsg_since "$seq" | grep -q "^[0-3] $DSA_MOD: "; then
		log "insmod $* logged an error:"
		log "$(kmsg_since "$seq")"
		unload_ok
		return 1
	fi
}

# rmmod must succeed and leave nothing behind.
unload_ok() {
	local out

	if ! out=$(rmmod "$DSA_MOD" 2>&1); then
		log "rmmod: $out"
		return 1
	fi
	if dsa_module_loaded || [ -e "$CLASS" ]; then
		log "rmmod left /sys/module/$DSA_MOD or $CLASS behind"
		return 1
	fi
}

# A pr_warn starting "dsa_mdev: " was logged after sequence number $1 (not
# counting the module loader's own "... taints kernel." warning).
warned_since() {
	if ! kmsg_since "$1" | grep "^4 $DSA_MOD: " | grep -qv 'taint'; then
		log "no pr_warn line from $DSA_MOD"
		return 1
	fi
}

# insmod $KO "${@:2}" must fail with EINVAL, leave nothing loaded, and log a
# pr_err line "dsa_mdev: ..." naming parameter $1.
expect_einval() {
	local param=$1 seq out
	shift

	seq=$(kmsg_seq)
	if out=$(insmod "$KO" "$@" 2>&1); then
		log "insmod $* succeeded"
		unload_ok
		return 1
	fi
	# kmod says "Invalid parameters" for EINVAL, busybox "invalid ... parameters".
	if ! grep -Eqi 'invalid (module )?param|invalid argument' <<<"$out"; then
		log "insmod $*: not EINVAL: $out"
		return 1
	fi
	if dsa_module_loaded || [ -e "$CLASS" ]; then
		log "failed insmod $* left /sys/module/$DSA_MOD or $CLASS behind"
		return 1
	fi
	if ! kmsg_since "$seq" | grep -q "^3 $DSA_MOD: .*$param"; then
		log "insmod $*: no pr_err line '$DSA_MOD: ...$param...'; the log got:"
		log "$(kmsg_since "$seq")"
		return 1
	fi
}

good_defaults() {
	load_ok && check_parents 1 $DEFAULT_WQS "1 2 4 8" && unload_ok
}

good_parents_16() {
	load_ok parents=16 && check_parents 16 $DEFAULT_WQS "1 2 4 8" && unload_ok
}

good_wqs_1() {
	local seq

	seq=$(kmsg_seq)
	load_ok wqs=1 && check_parents 1 1 "1" && warned_since "$seq" && unload_ok
}

good_wqs_4096() {
	load_ok wqs=4096 && check_parents 1 4096 "1 2 4 8" && unload_ok
}

good_types_1() {
	load_ok types=1 && check_parents 1 $DEFAULT_WQS "1" && unload_ok
}

good_types_8_4() {
	load_ok types=8,4 && check_parents 1 $DEFAULT_WQS "4 8" && unload_ok
}

good_wqs_4_exposes_1_2_4() {
	local seq

	seq=$(kmsg_seq)
	load_ok wqs=4 && check_parents 1 4 "1 2 4" && warned_since "$seq" && unload_ok
}

good_intel_ids() {
	load_ok intel_ids=1 && check_parents 1 $DEFAULT_WQS "1 2 4 8" && unload_ok
}

# Parameter to be named, then the insmod arguments (no spaces inside one).
BAD_CASES=(
	"parents parents=0"
	"parents parents=17"
	"parents parents=-1"
	"parents parents=abc"
	"wqs wqs=0"
	"wqs wqs=4097"
	"types types=3"
	"types types=1,1"
	"types types="
	"types types=1,,2"
	"types types=0x1"
	"types types=8 wqs=4"
	"types types=1,2,4,8,1,2,4,8,1,2,4,8,1,2,4,8,1"
	"intel_ids intel_ids=2"
	"intel_ids intel_ids=-1"
)

GOOD_CASES=(
	good_defaults
	good_parents_16
	good_wqs_1
	good_wqs_4096
	good_types_1
	good_types_8_4
	good_wqs_4_exposes_1_2_4
	good_intel_ids
)

# Runs "$@" as one test point described by $desc; never leaves the module
# loaded for the next point.
run_case() {
	local desc=$1
	shift

	if "$@"; then
		ktap_test_pass "$desc"
	else
		ktap_test_fail "$desc"
	fi
	if dsa_module_loaded; then
		log "$DSA_MOD still loaded after: $desc"
		rmmod "$DSA_MOD" >/dev/null 2>&1
	fi
}

ktap_print_header
if [ "$(id -u)" != 0 ]; then
	ktap_skip_all "must run as root"
	exit "$KSFT_SKIP"
fi
[ -n "$KO" ] || ktap_exit_fail_msg "dsa_mdev.ko not found: not in $here/module, not in \$DSA_MDEV_KO, not known to modinfo"
[ -r "$KO" ] || ktap_exit_fail_msg "$KO is not readable"
if ! dsa_mdev_core; then
	ktap_skip_all "no mdev core: modprobe mdev failed (CONFIG_VFIO_MDEV, see config)"
	exit "$KSFT_SKIP"
fi
[ -r "${DSA_MDEV_KMSG:-/dev/kmsg}" ] || ktap_exit_fail_msg "/dev/kmsg is not readable"
if dsa_module_loaded; then
	rmmod "$DSA_MOD" || ktap_exit_fail_msg "a stale $DSA_MOD could not be unloaded"
fi

ktap_set_plan $((${#BAD_CASES[@]} + ${#GOOD_CASES[@]}))

for c in "${BAD_CASES[@]}"; do
	read -r -a words <<<"$c"
	run_case "bad ${words[*]:1} fails with EINVAL" expect_einval "${words[@]}"
done
for c in "${GOOD_CASES[@]}"; do
	run_case "$c" "$c"
done

ktap_finished
