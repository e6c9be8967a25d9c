#!/bin/sh
# Judges one validation program from its exit code and TAP output.
# Usage: tap.sh EXIT_CODE TIMEOUT_SECONDS STDOUT_FILE STDERR_FILE
# Prints "PASS", "SKIP <why>" or "FAIL <why>" on one line.
#
# Rules (TAP 13 as written by the suite's tap-go; only unindented lines count,
# so nested TAP quoted inside YAML diagnostics is ignored):
#   FAIL  the program timed out or exited non-zero; or a test point is
#         "not ok" without a "# TODO" directive; or a YAML diagnostic that
#         belongs to no test point carries an "error" (the hook programs
#         report only that way, under a "1..0" plan); or the plans' counts
#         (a program may print several TAP documents) differ from the points.
#   SKIP  every test point is "ok ... # SKIP": the program found nothing it
#         could check on this host or runtime.
#   PASS  otherwise, including "1..0" with no error diagnostic (a hook
#         program whose checks all held) and no TAP at all with exit 0 (the
#         *_fail programs signal a failure only by exiting 1). "not ok ... # TODO" counts as an
#         expected failure; "ok ... # SKIP" among passing points keeps PASS.
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
/^TAP version/ { after = ""; next }
/^1\.\.[0-9]+/ { plan += substr($1, 4) + 0; planned = 1; after = ""; next }
/^  ---/ { inyaml = 1; next }
/^  \.\.\./ { inyaml = 0; next }
inyaml {
	if (after != "point" && orphan == "" && match($0, /"error": ".*"/)) {
		orphan = substr($0, RSTART + 10, RLENGTH - 11)
		sub(/\\n.*/, "", orphan)
	}
	next
}
/^not ok/ {
	points++; after = "point"
	if (directive($0) == "TODO") next
	failed++
	if (first == "") first = $0
	next
}
/^ok/ {
	points++; after = "point"
	if (directive($0) == "SKIP") {
		skipped++
		if (why == "") { why = $0; sub(/^[^#]*#[ \t]*[Ss][Kk][Ii][Pp][ \t]*/, "", why) }
	}
	next
}
function stderr_summary(    l, r) {
	while ((getline l < errfile) > 0) {
		if (l == "" || l ~ /^exit status [0-9]+$/ || l ~ /^failed to (create|start) the container$/) continue
		r = r (r == "" ? "" : " | ") l
	}
	return substr(r, 1, 300)
}
END {
	if (rc != 0) {
		reason = first != "" ? first : stderr_summary()
		print "FAIL exit " rc (reason != "" ? ": " reason : "")
		exit
	}
	if (failed > 0) {
		# "not ok N - exit status 1" says nothing: the runtime explains on stderr.
		reason = first ~ /- exit status [0-9]+$/ ? stderr_summary() : ""
		print "FAIL " failed " of " points " failed, first: " first (reason != "" ? " (" reason ")" : "")
		exit
	}
	if (orphan != "") { print "FAIL error: " orphan; exit }
	if (planned && plan != points) { print "FAIL plan 1.." plan " but " points " test points"; exit }
	if (points > 0 && skipped == points) { print "SKIP " (why == "" ? "all test points skipped" : why); exit }
	print "PASS"
}' "$out"
