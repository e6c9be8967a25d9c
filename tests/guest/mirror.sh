#!/bin/sh
# Prints the Debian mirror URL this machine's apt uses for the main archive,
# read from its sources (deb822 .sources files first, then one-line lists),
# so the repo never names a mirror host.
set -eu
suite=${1:-bookworm}

for f in /etc/apt/sources.list.d/*.sources; do
	[ -f "$f" ] || continue
	# Stanzas are separated by blank lines; pick one of Types deb that lists
	# the suite itself (not -updates or -security) and print its first URI.
	uri=$(awk -v suite="$suite" '
		function flush() {
			if (deb && has && uri != "" && !done) { print uri; done = 1 }
			deb = 0; has = 0; uri = ""
		}
		/^[[:space:]]*$/ { flush(); next }
		/^[[:space:]]*#/ { next }
		tolower($1) == "types:" { for (i = 2; i <= NF; i++) if ($i == "deb") deb = 1 }
		tolower($1) == "uris:" { uri = $2 }
		tolower($1) == "suites:" { for (i = 2; i <= NF; i++) if ($i == suite) has = 1 }
		tolower($1) == "enabled:" && tolower($2) == "no" { deb = 0 }
		END { flush() }' "$f")
	if [ -n "$uri" ]; then echo "$uri"; exit 0; fi
done
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
	[ -f "$f" ] || continue
	uri=$(awk -v suite="$suite" '
		$1 == "deb" {
			i = 2
			if ($i ~ /^\[/) while ($i !~ /\]$/) i++
			if ($i ~ /^\[/ || $i ~ /\]$/) i++
			if ($(i + 1) == suite) { print $i; exit }
		}' "$f")
	if [ -n "$uri" ]; then echo "$uri"; exit 0; fi
done
echo "mirror.sh: no deb source for $suite in /etc/apt" >&2
exit 1
