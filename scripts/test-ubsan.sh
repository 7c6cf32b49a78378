#!/usr/bin/env bash
# The mocha suite against an UndefinedBehaviorSanitizer build of the addon (Linux, g++); the
# first finding aborts the run. See scripts/test-sanitizer.sh.
exec bash "$(dirname "${BASH_SOURCE[0]}")/test-sanitizer.sh" undefined "$@"
