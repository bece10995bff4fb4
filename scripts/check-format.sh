#!/bin/sh
# check-format.sh [--fix]: every C file of the tree must be as clang-format
# (the repo's .clang-format) writes it. Prints the files that are not and
# exits 1; --fix rewrites them instead. The tree is formatted with Debian
# 12's clang-format 14; another major version formats some constructs
# differently, so then the check is skipped (exit 77) rather than failing
# on a difference nobody wrote.
set -eu
cd "$(dirname "$0")/.."
WANT=14
CF=${CLANG_FORMAT:-clang-format}
if ! command -v "$CF" >/dev/null 2>&1; then
    echo "check-format: clang-format not found (apt-get install clang-format); skipped"
    exit 77
fi
have=$("$CF" --version | sed -n 's/.*version \([0-9]*\)\..*/\1/p')
if [ "$have" != "$WANT" ]; then
    echo "check-format: clang-format $have is not $WANT (the version the tree is formatted with); skipped"
    exit 77
fi
if [ -d .git ] && command -v git >/dev/null 2>&1; then
    files=$(git ls-files '*.c' '*.h' | grep -v '^tests/data/')
else
    files=$(find src include tools tests bench -name '*.c' -o -name '*.h' | grep -v '^tests/data/')
fi
if [ "${1:-}" = "--fix" ]; then
    echo "$files" | xargs "$CF" -i
    exit 0
fi
bad=""
for f in $files; do
    "$CF" --dry-run -Werror "$f" >/dev/null 2>&1 || bad="$bad $f"
done
if [ -n "$bad" ]; then
    echo "check-format: not formatted (scripts/check-format.sh --fix rewrites them):"
    for f in $bad; do echo "  $f"; done
    exit 1
fi
echo "check-format: $(echo "$files" | wc -l) files formatted"
