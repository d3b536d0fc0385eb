#!/usr/bin/env bash
# Install what `neutrino up` needs on a fresh Debian machine, build it, and
# run it with its state in ./neutrino-data (or $NEUTRINO_DATA_DIR).
# Extra arguments go to `neutrino up`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
echo "[up] building neutrino (release)"
cargo build --release -p neutrino
exec target/release/neutrino up --data-dir "${NEUTRINO_DATA_DIR:-neutrino-data}" "$@"
