# skip_summary FILE WHAT: prints the skips recorded in FILE (one "ID[<TAB>REASON]"
# a line) and returns 1 when, under CI=true as root, one of them is not in
# tests/skips-allowed.txt. Sourced by tests/run_unit.sh and run_integration.sh.
skip_summary() {
	_n=$(sort -u "$1" | grep -c .)
	if [ "$_n" -eq 0 ]; then
		echo "$2: no skips"
		return 0
	fi
	echo "$2: $_n skip(s):"
	_bad=0
	for _id in $(cut -f1 "$1" | sort -u); do
		_why=$(awk -F'\t' -v id="$_id" '$1 == id && NF > 1 { print $2; exit }' "$1")
		if awk -F'\t' -v id="$_id" '!/^#/ && $1 == id { f = 1 } END { exit !f }' tests/skips-allowed.txt; then
			echo "  SKIP (allowed) $_id: $_why"
		elif [ "${CI:-}" = true ] && [ "$(id -u)" = 0 ]; then
			echo "  SKIP (NOT ALLOWED in CI) $_id: $_why"
			_bad=1
		else
			echo "  SKIP $_id: $_why (not allowed in CI: tests/skips-allowed.txt)"
		fi
	done
	if [ $_bad -ne 0 ]; then
		echo "FAIL: $2: CI=true as root and a skip above is not in tests/skips-allowed.txt" >&2
		return 1
	fi
	return 0
}
