# Shared by the script/ entry points: project root, tool environment, setup on demand.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
WASM_TOOLS_ROOT=${WASM_TOOLS_ROOT:-${XDG_CACHE_HOME:-$HOME/.cache}/wasm-tools}
if [ ! -f "$WASM_TOOLS_ROOT/env.sh" ] || [ ! -d "$ROOT/node_modules" ] \
   || ! command -v /usr/bin/chromium >/dev/null 2>&1; then
  "$ROOT/script/setup"
fi
# shellcheck disable=SC1091
. "$WASM_TOOLS_ROOT/env.sh"

# Runs cargo with Debian's 1.96 toolchain for wasm32 (std rebuilt from source).
wasm_cargo() {
  local sysroot
  sysroot=$(/usr/bin/rustc --print sysroot)
  RUSTUP_TOOLCHAIN=/usr RUSTC_BOOTSTRAP=1 CARGO_TARGET_DIR="$ROOT/target/wasm" \
  RUSTFLAGS="-Ctarget-cpu=mvp -Zunstable-options -Cpanic=immediate-abort \
--remap-path-prefix=$ROOT=/qcloud --remap-path-prefix=$HOME/.cargo=/cargo --remap-path-prefix=$sysroot=/rustc" \
    cargo "$@" --target wasm32-unknown-unknown -Zbuild-std=std,panic_abort -Zbuild-std-features=optimize_for_size
}

# wasm-pack test (wasm-bindgen-test) with Debian's toolchain: std rebuilt through cargo's
# environment (`-Z` flags cannot be passed through wasm-pack), panic messages kept, and a
# target dir of its own so the release build's std is not rebuilt.
wasm_pack_test() {
  RUSTUP_TOOLCHAIN=/usr RUSTC_BOOTSTRAP=1 CARGO_TARGET_DIR="$ROOT/target/wasm-test" RUSTFLAGS="-Ctarget-cpu=mvp" \
  CARGO_UNSTABLE_BUILD_STD=std,panic_abort CARGO_UNSTABLE_PANIC_ABORT_TESTS=true \
    wasm-pack test --mode no-install "$@"
}
