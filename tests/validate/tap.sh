#!/bin/sh
# Judges one validation program from its exit code and TAP output.
# Usage: tap.sh EXIT_CODE TIMEOUT_SECONDS STDOUT_FILE STDERR_FILE
# Prints "PASS", "SKIP <why>" or "FAIL <why>" on one line.
#
# Rules (TAP 13 as written by the suite's tap-go; only unindented lines count,
# so the nested TAP that YAML diagnostics quote is ignored):
#   FAIL  the program timed out or exited non-zero; or a test point is
#         "not ok" without a "# TODO" directive; or there is no test point
#         and no "1..0" plan; or the plan's count differs from the points seen.
#   SKIP  every test point is "ok ... # SKIP" (or the plan is "1..0"): the
#         program found nothing it could check on this host or runtime.
#   PASS  otherwise. "not ok ... # TODO" counts as expected failure and
#         "ok ... # SKIP" among passing points does not spoil a PASS.
set -eu
rc=$1 limit=$2 out=$3 err=$4

case $rc in
124 | 137) echo "FAIL timed out after ${limit}s"; exit 0 ;;
esac

awk -v rc="$rc" -v errfile="$err" '
function directive(line,    d) {
	d = line
	if (!sub(/^[^#]*#[ \t]*/, "", d)) return ""
	return toupper(substr(d, 1, 4))
}
/^1\.\.[0-9]+/ { plan = substr($1, 4) + 0; planned = 1; next }
/^not ok/ {
	points++
	if (directive($0) == "TODO") next
	failed++
	if (first == "") first = $0
	next
}
/^ok/ {
	points++
	if (directive($0) == "SKIP") { skipped++; if (why == "") { why = $0; sub(/^[^#]*#[ \t]*[Ss][Kk][Ii][Pp][ \t]*/, "", why) } }
	next
}
END {
	if (rc != 0) {
		last = ""
		while ((getline l < errfile) > 0) if (l != "") last = l
		if (first != "") print "FAIL exit " rc ": " first
		else print "FAIL exit " rc (last != "" ? ": " last : "")
		exit
	}
	if (failed > 0) { print "FAIL " failed " of " points " failed, first: " first; exit }
	if (planned && plan == 0 && points == 0) { print "SKIP plan 1..0"; exit }
	if (points == 0) { print "FAIL no TAP test points"; exit }
	if (planned && plan != points) { print "FAIL plan 1.." plan " but " points " test points"; exit }
	if (skipped == points) { print "SKIP " (why == "" ? "all test points skipped" : why); exit }
	print "PASS"
}' "$out"
