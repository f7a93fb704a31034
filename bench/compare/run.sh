#!/usr/bin/env bash
# Edgewise vs llama.cpp, side by side on this machine (issue 8). Synthesizes E2B-shape models into
# bench/compare/.models/ (cached; ~2.5 GiB Q4_0, ~4.7 GiB Q8_0 per architecture), then alternates the engines,
# each measurement in a fresh process, and prints medians and Edgewise/llama.cpp ratios.
#
#   bench/compare/run.sh                       # 3 rounds, 2 threads, gemma4 E2B Q4_0 + Q8_0, --ple mmap
#   bench/compare/run.sh --arches gemma4,gemma3n
#   bench/compare/run.sh --rounds 5 --dtypes q4_0 --ple-modes mmap,stream
#   bench/compare/run.sh --help
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
dotnet build "$here/Edgewise.Compare.csproj" -c Release -v quiet -nologo >/dev/null
# Edgewise's time to first token is measured on the binary users run: published ReadyToRun (scripts/publish.sh).
cli="$("$here/../../scripts/publish.sh" "$here/bin/edgewise-published" | tail -n 1)"
exec dotnet "$here/bin/Release/net10.0/edgewise-compare.dll" run --models "$here/.models" --edgewise "$cli" "$@"
