#!/bin/bash -eu
# What fray's build.sh on OSS-Fuzz or ClusterFuzzLite is: the image clones fray
# into $SRC/fray; everything else is scripts/oss-fuzz-build.sh. The builder
# test (tests/ossfuzz/builder.sh) runs this as the image would.
"$SRC/fray/scripts/oss-fuzz-build.sh"
