#!/usr/bin/env bash
# Source rules that a compiler does not check (STYLE.md, DEVELOPERS.md):
# - no floating point anywhere in the C code: money is int64 minor units, and
#   the simplest way to keep a float away from an amount is to have none;
# - none of the banned unsafe functions (strcpy, strcat, sprintf, vsprintf,
#   gets, atoi, atol, atof, strtok);
# - every C file opens with a comment saying what it is for.
# Comment lines are ignored, so prose may still say "no float".
set -euo pipefail
cd "$PAYSTREAM_SOURCE_DIR"
files=$(git ls-files -co --exclude-standard -- '*.c' '*.h' 2>/dev/null || find common ingest processor reconciler tools tests bench -name '*.[ch]')
fail=0
code_lines() { # file: prints "file:line:text" for lines that are not comments
    awk -v f="$1" '
        { line = $0 }
        in_c { if (index(line, "*/")) { line = substr(line, index(line, "*/") + 2); in_c = 0 } else next }
        { while (match(line, /\/\*/)) {
              rest = substr(line, RSTART + 2)
              if (index(rest, "*/")) { line = substr(line, 1, RSTART - 1) substr(rest, index(rest, "*/") + 2) }
              else { line = substr(line, 1, RSTART - 1); in_c = 1; break } } }
        { sub(/\/\/.*/, "", line); gsub(/"([^"\\]|\\.)*"/, "\"\"", line) }
        line ~ /[^ \t]/ { print f ":" NR ":" line }' "$1"
}
for f in $files; do
    [ -f "$f" ] || continue
    hits=$(code_lines "$f" | grep -E '\b(float|double|long double|strtod|strtof|strtold|atof)\b' || true)
    if [ -n "$hits" ]; then echo "floating point in code (money is integers):"; echo "$hits"; fail=1; fi
    hits=$(code_lines "$f" | grep -E '\b(strcpy|strcat|sprintf|vsprintf|gets|atoi|atol|atoll|strtok)[[:space:]]*\(' || true)
    if [ -n "$hits" ]; then echo "banned function:"; echo "$hits"; fail=1; fi
    first=$(grep -m1 -v '^[[:space:]]*$' "$f" || true)
    case $first in
        /\**|//*) ;;
        *) echo "$f: does not open with a comment saying what it is for"; fail=1 ;;
    esac
done
n=$(printf '%s\n' $files | wc -l)
if [ $fail -ne 0 ]; then echo "0 passed, 1 failed"; exit 1; fi
echo "checked $n files"
echo "1 passed, 0 failed"
