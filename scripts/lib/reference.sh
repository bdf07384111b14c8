# Sourced by the scripts that run r2plus1d beside the reference engines: sets $python (the reference venv's, see
# scripts/lib/reference-venv.sh; exits saying how to make it if it is missing) and $tools (the reference benchmark
# scripts, ../shared/tools or $REFERENCE_TOOLS), builds the release executable, and makes $out, a temporary folder
# removed on exit.
source scripts/lib/reference-venv.sh
require_reference_venv
tools=${REFERENCE_TOOLS:-../shared/tools}
swift build -c release --product r2plus1d >/dev/null
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
