# Sourced by the scripts that run r2plus1d beside the reference engines: sets $tools (../shared/tools, or
# $REFERENCE_TOOLS) and $python (the reference venv's, made by its setup-reference-env.sh if needed), builds the
# release executable, and makes $out, a temporary folder removed on exit.
tools=${REFERENCE_TOOLS:-../shared/tools}
python=$(bash "$tools/setup-reference-env.sh" | tail -n 1)
swift build -c release --product r2plus1d >/dev/null
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
