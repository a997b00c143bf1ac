# tests/check.sh: the assertion helper of the shell tests, sourced by
# tests/<label>/test_*.sh. check DESCRIPTION COMMAND... runs COMMAND, counts
# it in $passed or $failed and says "ok" or "FAIL" on stderr; the test ends
# with check_summary, whose status is the test's verdict.
passed=0 failed=0

check() { # description, command...
    local what=$1; shift
    if "$@"; then passed=$((passed + 1)); echo "ok   $what" >&2
    else failed=$((failed + 1)); echo "FAIL $what" >&2; fi
}

check_summary() {
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ]
}
