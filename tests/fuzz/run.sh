#!/bin/sh
# Runs every fuzz target of hull for FUZZTIME each (go test -fuzz) and
# prints one line per target: time fuzzed, executions, result. A crasher is
# saved by Go under the package's testdata/fuzz/<Target>/ and becomes a
# regression test (plain `go test` replays it); commit it with the fix.
# FUZZPARALLEL workers per target (default 1: the machine is shared).
set -u
GO=${GO:-go}
FUZZTIME=${FUZZTIME:-3m}
PAR=${FUZZPARALLEL:-1}
LOGDIR=${FUZZLOGS:-$(mktemp -d /tmp/hull-fuzz.XXXXXX)}
TARGETS="
./libcontainer:FuzzConfig
./oci:FuzzValidateLinux
./libcontainer:FuzzStateJSON
./libcontainer:FuzzSyncMessages
./nspawnconv:FuzzParseSettings
./nspawnconv:FuzzParseCommandLine
./libcontainer/seccomp:FuzzProfile
./libcontainer/rootfs:FuzzMountOptions
./libcontainer/cgroups:FuzzResources
./oci:FuzzParseSignal
./oci:FuzzDecodeSpec
"
fail=0
# Every fuzz target of the tree must be listed above: a new one is not
# silently left out of make fuzz.
for f in $(grep -rl --include='*_test.go' '^func Fuzz' . | grep -v '^./_build/'); do
	for name in $(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' "$f"); do
		pkg=./$(dirname "${f#./}")
		case "$TARGETS" in
		*"$pkg:$name"*) ;;
		*) echo "tests/fuzz/run.sh: $pkg $name is not in TARGETS" >&2; fail=1 ;;
		esac
	done
done
printf '%-40s %-8s %-12s %s\n' target time execs result
for t in $TARGETS; do
	pkg=${t%%:*} name=${t#*:}
	log="$LOGDIR/$name.log"
	start=$(date +%s)
	# -timeout 0: go test's default 10 minutes would otherwise end any
	# FUZZTIME from 10m on (the engine bounds each input by itself).
	if $GO test -run '^$' -fuzz "^$name\$" -fuzztime "$FUZZTIME" -timeout 0 -parallel "$PAR" "$pkg" >"$log" 2>&1; then
		res=ok
	elif grep -q 'context deadline exceeded' "$log" && ! grep -q 'Failing input written' "$log"; then
		# Go's fuzz engine itself ran out of -fuzztime while it was still
		# working on an input (no input failed: a failure is always written
		# to testdata/fuzz): said, not counted as a finding.
		res="ok (engine hit its deadline mid-input; see $log)"
	else
		res="FAIL (see $log)"
		fail=1
	fi
	secs=$(( $(date +%s) - start ))
	execs=$(grep -o 'execs: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
	printf '%-40s %-8s %-12s %s\n' "$pkg $name" "${secs}s" "${execs:-?}" "$res"
done
exit $fail
