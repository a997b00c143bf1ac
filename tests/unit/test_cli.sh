#!/usr/bin/env bash
# The command line of the three services: --help and --version succeed with
# the expected text, usage errors exit 2 and name the culprit, --check-config
# reports a bad file with its key and line (exit 1), shows environment
# overrides with their source, and never prints a credential.
set -uo pipefail
: "${PAYSTREAM_SOURCE_DIR:?set by CTest}" "${PAYSTREAM_BUILD_DIR:?set by CTest}"
data=$PAYSTREAM_SOURCE_DIR/tests/data/config
out=$(mktemp -d "${TMPDIR:-/tmp}/ps-test-cli.XXXXXX")
trap 'rm -rf "$out"' EXIT
passed=0
failed=0

fail() { printf 'FAIL %s\n' "$*" >&2; failed=$((failed + 1)); }

# run NAME ARGS...: runs a binary with stdout/stderr captured in $out/stdout, $out/stderr.
run() {
    local svc=$1
    shift
    "$PAYSTREAM_BUILD_DIR/$svc/paystream-$svc" "$@" >"$out/stdout" 2>"$out/stderr"
    rc=$?
}

# expect WHAT RC [stdout|stderr PATTERN]...: checks the last run.
expect() {
    local what=$1 want_rc=$2 ok=1
    shift 2
    if [ "$rc" != "$want_rc" ]; then
        fail "$what: exit status $rc, expected $want_rc (stderr: $(head -c 300 "$out/stderr"))"
        return
    fi
    while [ $# -gt 0 ]; do
        if ! grep -qF -- "$2" "$out/$1"; then
            fail "$what: $1 does not contain \"$2\": $(head -c 300 "$out/$1")"
            ok=0
        fi
        shift 2
    done
    [ "$ok" = 1 ] && passed=$((passed + 1))
}

# refute WHAT TEXT: TEXT appears in neither output of the last run.
refute() {
    if grep -qF -- "$2" "$out/stdout" "$out/stderr"; then
        fail "$1: \"$2\" was printed"
    else
        passed=$((passed + 1))
    fi
}

# The process environment must not leak into the expectations below.
for v in $(env | grep -o '^PAYSTREAM_[A-Z0-9_]*' | grep -v -e '^PAYSTREAM_SOURCE_DIR$' -e '^PAYSTREAM_BUILD_DIR$'); do
    unset "$v"
done

for svc in ingest processor reconciler; do
    run "$svc" --help
    expect "$svc --help" 0 stdout "Usage: paystream-$svc" stdout "--check-config" stdout "--config FILE"
    run "$svc" --version
    expect "$svc --version" 0
    grep -Eqx "paystream-$svc [0-9]+\.[0-9]+\.[0-9]+" "$out/stdout" || fail "$svc --version printed \"$(cat "$out/stdout")\""
    run "$svc" -V
    expect "$svc -V" 0 stdout "paystream-$svc "
    run "$svc" --no-such-option
    expect "$svc unknown long option" 2 stderr 'unknown option "--no-such-option"' stderr "--help"
    run "$svc" -q
    expect "$svc unknown short option" 2 stderr 'unknown option "-q"'
    run "$svc" --config
    expect "$svc --config without a file" 2 stderr 'missing argument for option "--config"'
    run "$svc" frobnicate
    expect "$svc unknown command" 2 stderr 'unknown command "frobnicate"'
    run "$svc" run extra
    expect "$svc extra argument" 2 stderr 'unexpected argument "extra"'
    run "$svc" --help
    expect "$svc --help names the default command" 0 stdout "run " stdout "(the default)"

    # A bad file: exit 1, the message names the file, the line and the key.
    run "$svc" --check-config --config "$data/cli_bad.conf"
    expect "$svc --check-config bad file" 1 stderr "cli_bad.conf:3: unknown key \"no.such.key\""
    run "$svc" --check-config --config "$data/does-not-exist.conf"
    expect "$svc --check-config missing file" 1 stderr "does-not-exist.conf\": No such file or directory"
    PAYSTREAM_LOG_LEVEL=loud run "$svc" --check-config
    expect "$svc bad environment value" 1 stderr "environment variable PAYSTREAM_LOG_LEVEL: invalid value \"loud\" for key \"log.level\""

    # A good file, the environment beating it, and no credential in the output.
    PAYSTREAM_LOG_LEVEL=error PAYSTREAM_KAFKA_SASL_PASSWORD=env-password-must-not-appear \
        PAYSTREAM_KAFKA_CLIENT_ID=cli-test PAYSTREAM_TEST_UNRELATED=1 \
        run "$svc" --check-config --config "$data/cli_good.conf"
    expect "$svc --check-config good file" 0 \
        stdout "log.level = error  # environment variable PAYSTREAM_LOG_LEVEL" \
        stdout "kafka.bootstrap.servers = 127.0.0.1:19092  # $data/cli_good.conf:3" \
        stdout "kafka.client.id = cli-test  # environment variable PAYSTREAM_KAFKA_CLIENT_ID" \
        stdout "kafka.sasl.password = <redacted>  # environment variable PAYSTREAM_KAFKA_SASL_PASSWORD"
    refute "$svc --check-config" "must-not-appear"
    run "$svc" --check-config migrate
    expect "$svc --check-config with a command" 2 stderr 'unexpected argument "migrate"'

    run "$svc" --config-doc
    expect "$svc --config-doc" 0 stdout "## paystream-$svc" stdout '| `log.level` | enum | `info` |'
done

# Without a command the service runs: ingest validates its listen address
# before binding anything (exit 1 with the reason, nothing on stdout).
PAYSTREAM_HTTP_LISTEN_ADDRESS=not-an-address run ingest
expect "ingest without a command runs the service" 1 stderr "not-an-address"
[ -s "$out/stdout" ] && fail "ingest without a command wrote to stdout"
# Options of the common line are accepted after the command too.
run ingest verify --config "$data/cli_bad.conf" --channel wechat --request /dev/null
expect "ingest verify --config after the command" 1 stderr "unknown key \"no.such.key\""

# The processor's migrate command loads the configuration first and reports
# failures with exit status 1: a closed port cannot be migrated.
PAYSTREAM_PG_CONNINFO='host=127.0.0.1 port=1 dbname=none connect_timeout=5' run processor migrate
expect "processor migrate without a database" 1 stderr "paystream-processor: migrate failed: "
run processor migrate --config "$data/cli_bad.conf"
expect "processor migrate with a bad file" 1 stderr "unknown key \"no.such.key\""

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
