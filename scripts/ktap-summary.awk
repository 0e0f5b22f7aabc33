# SPDX-License-Identifier: GPL-2.0
#
# Counts the test cases of a kselftest run (kselftest/runner.sh, as
# run_kselftest.sh and "make run_tests" use it), reading its output:
#
#   # selftests: drivers/dsa_mdev: sysfs_test
#   # TAP version 13
#   # 1..12
#   # ok 1 dsa.create_remove
#   # not ok 2 dsa.aggregator # ...
#   ok 1 selftests: drivers/dsa_mdev: sysfs_test
#
# Each program's own results (one "# " deep) are the cases.  A program that
# planned more cases than it reported (it crashed or timed out) failed the
# rest; a program whose result is "not ok" with no failed case failed one;
# one skipped as a whole counts one skip.  Prints every failed case, then
#
#   # kselftests: N passed, N failed, N skipped
#
# Lines may carry a prefix (a console's): everything up to "# selftests: ",
# "# TAP", "# 1..", "# ok", "# not ok" or a top-level "ok"/"not ok" is
# ignored.

function flush_prog(verdict, line,    missing) {
	if (prog == "")
		return
	missing = plan - (pass + fail + skip)
	if (plan > 0 && missing > 0) {
		print "# " prog ": reported " (pass + fail + skip) " of " plan " cases"
		fail += missing
		failures[++nfail] = prog ": " missing " cases never reported"
	}
	if (verdict == "not ok" && fail == 0) {
		fail = 1
		failures[++nfail] = prog ": " line
	}
	if (verdict == "ok" && line ~ /# SKIP/ && pass + fail + skip == 0)
		skip = 1
	total_pass += pass
	total_fail += fail
	total_skip += skip
	prog = ""
}

{
	sub(/\r$/, "")
}

/^# selftests: / {
	prog = $0
	sub(/^# selftests: /, "", prog)
	plan = -1
	pass = fail = skip = 0
	next
}

prog != "" && /^# 1\.\.[0-9]+/ {
	plan = $2
	sub(/^1\.\./, "", plan)
	plan += 0
	next
}

prog != "" && /^# not ok [0-9]+/ {
	fail++
	line = $0
	sub(/^# /, "", line)
	failures[++nfail] = prog ": " line
	next
}

prog != "" && /^# ok [0-9]+/ {
	if ($0 ~ /# SKIP/)
		skip++
	else
		pass++
	next
}

/^(not )?ok [0-9]+ selftests: / {
	if (prog != "")
		flush_prog($0 ~ /^not ok/ ? "not ok" : "ok", $0)
	next
}

END {
	if (prog != "")
		flush_prog("not ok", "no result line (the run ended)")
	for (i = 1; i <= nfail; i++)
		print "# failed: " failures[i]
	printf "# kselftests: %d passed, %d failed, %d skipped\n", total_pass, total_fail, total_skip
}
