#!/bin/sh
# Stands in for a test whose tool is missing: says why and exits 77, the
# SKIP_RETURN_CODE of those tests, so ctest shows it as skipped, not passed.
echo "SKIP: $1"
exit 77
