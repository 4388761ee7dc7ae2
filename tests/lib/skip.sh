# Skips that cannot hide (POSIX sh; source from the repository root).
#
# A check that cannot run here is a SKIP, never a pass:
#   skip_part ID REASON   a part of the test did not run; the test goes on
#   skip_test ID REASON   the whole test cannot run: exits 77 (not 0)
# Both print "SKIP: ID: REASON" and append "ID<TAB>REASON" to
# $K8SMON_SKIP_LOG when the runner sets it. tests/run_integration.sh prints
# every skip in its summary, and under CI=true as root fails the run for a
# skip whose ID is not in tests/skips-allowed.txt (with its reason).
skip_part() {
	echo "SKIP: $1: $2"
	if [ -n "${K8SMON_SKIP_LOG:-}" ]; then
		printf '%s\t%s\n' "$1" "$2" >>"$K8SMON_SKIP_LOG"
	fi
}
skip_test() {
	skip_part "$1" "$2"
	exit 77
}
