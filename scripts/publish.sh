#!/usr/bin/env bash
# Publishes the `edgewise` CLI ready to run: ReadyToRun (the app's own code and its libraries precompiled, so a cold
# start JITs only the [AggressiveOptimization] kernels and a few generic instantiations), framework-dependent (the
# installed .NET 10 runtime runs it), for this machine's OS and architecture.
#
#   scripts/publish.sh                 # -> artifacts/edgewise/edgewise
#   scripts/publish.sh OUT_DIR         # -> OUT_DIR/edgewise
#
# The first run fetches the Crossgen2 compiler package from NuGet; the SDK picks its version.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:-$root/artifacts/edgewise}"

case "$(uname -s)" in
    Linux) os=linux ;;
    Darwin) os=osx ;;
    *) echo "error: unsupported OS $(uname -s); publish with dotnet publish -r <rid> by hand" >&2; exit 1 ;;
esac
case "$(uname -m)" in
    x86_64 | amd64) arch=x64 ;;
    aarch64 | arm64) arch=arm64 ;;
    *) echo "error: unsupported architecture $(uname -m)" >&2; exit 1 ;;
esac

dotnet publish "$root/src/Edgewise.Cli/Edgewise.Cli.csproj" -c Release -r "$os-$arch" --self-contained false \
    -p:PublishReadyToRun=true -o "$out" -nologo -v quiet
echo "$out/edgewise"
