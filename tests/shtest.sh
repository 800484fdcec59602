# shtest.sh: helpers shared by the shell tests (sourced, not run).
#
# The sourcing script sets T (its scratch directory) first. Then:
#   fail MSG...          counts a failure and prints it
#   expect_rc WANT CMD.. runs CMD with stdout in $T/out and stderr in $T/err,
#                        and fails (showing both) unless it exits WANT
# The script ends with `exit $((fails > 0))` or its own summary on $fails.
fails=0

fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

expect_rc() { # WANT CMD...: output in $T/out, $T/err
    local want=$1
    shift
    "$@" >"$T/out" 2>"$T/err"
    local rc=$?
    if [[ $rc -ne $want ]]; then
        fail "'$*' exited $rc, want $want"
        sed 's/^/  out: /' "$T/out" | head -5
        sed 's/^/  err: /' "$T/err" | head -5
    fi
}
