#!/bin/sh
echo "pvmd: 'bazel coverage' is not supported by the offline Bazel build (use CMake)" >&2
exit 1
