#!/usr/bin/env bash
# The whole test suite, as a newcomer and CI run it: installs what it needs, builds, tests, sums up.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
results="$root/TestResults"
rm -rf "$results"
mkdir -p "$results"

step() { printf '\n== %s\n' "$*"; }
fail() { echo "error: $*" >&2; exit 1; }

# The CLI tests drive `edgewise run` through a real terminal multiplexer, as a person would.
if ! command -v tmux >/dev/null 2>&1; then
    step "apt-get install tmux"
    if [ "$(id -u)" -eq 0 ]; then
        (apt-get update -qq && apt-get install -y -qq tmux >/dev/null) || fail "could not install tmux"
    else
        fail "tmux is missing: install it (sudo apt-get install -y tmux) and run again"
    fi
fi

# Independent references (tokenizer, Jinja) come from npm with pinned lockfiles.
for dir in tools/reference/*/; do
    if [ -f "$dir/package-lock.json" ]; then
        step "npm ci $dir"
        npm ci --prefix "$dir" --no-audit --no-fund --loglevel=error || fail "npm ci failed in $dir"
    fi
done

step "dotnet build (Release)"
dotnet build Edgewise.slnx -c Release -nologo -v quiet || fail "build failed"

status=0
step "dotnet test"
# Category=Manual marks checks on full-size files that a person runs by hand (see each test).
dotnet test Edgewise.slnx -c Release --no-build -nologo --filter "Category!=Manual" --blame-hang-timeout 10m \
    --logger "trx;LogFilePrefix=all" --results-directory "$results" || status=1

# Every SIMD kernel has a scalar twin: run the Core tests (formats, quantization, kernels) once more with hardware intrinsics off.
step "Core tests with DOTNET_EnableHWIntrinsic=0"
DOTNET_EnableHWIntrinsic=0 dotnet test tests/Edgewise.Core.Tests -c Release --no-build -nologo --blame-hang-timeout 5m \
    --logger "trx;LogFilePrefix=nointrinsics" --results-directory "$results" || status=1

# The 4-bit kernels take a byte's high nibble with GFNI where the CPU has it (Kernels/Nibbles): run the kernel tests
# once more without.
step "Kernel tests with DOTNET_EnableGFNI=0"
DOTNET_EnableGFNI=0 dotnet test tests/Edgewise.Core.Tests -c Release --no-build -nologo --blame-hang-timeout 5m \
    --filter "FullyQualifiedName~Edgewise.Core.Tests.Kernels" \
    --logger "trx;LogFilePrefix=nogfni" --results-directory "$results" || status=1

passed=0; failed=0
shopt -s nullglob
for trx in "$results"/*.trx; do
    # Count UnitTestResult elements only (ResultSummary carries an outcome attribute too).
    p=$(grep -o '<UnitTestResult [^>]*outcome="Passed"' "$trx" | wc -l)
    f=$(grep -o '<UnitTestResult [^>]*outcome="Failed"' "$trx" | wc -l)
    passed=$((passed + p)); failed=$((failed + f))
done
if [ "$passed" -eq 0 ] && [ "$failed" -eq 0 ]; then status=1; fi
echo
echo "$passed passed, $failed failed"
exit $status
