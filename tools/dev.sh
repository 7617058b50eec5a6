#!/usr/bin/env bash
# One entry point for setting up, building, testing and demonstrating the sandbox
# on a fresh Debian 12 machine (as root: it installs the packages it needs).
#
#   tools/dev.sh demo    install, build, and run programs inside the sandbox
#   tools/dev.sh test    install, build, and run every test (then again under ASan+UBSan)
#   tools/dev.sh bench   install (with Debian's runsc to compare against) and benchmark;
#                        later arguments go to sandbox_bench (e.g. --only=issue6 --markdown)
#   tools/dev.sh build   install and build only
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
JOBS=$(nproc)
# ccache, keyed on paths relative to the checkout, so that a fresh clone reuses
# what an earlier build of the same sources compiled.
export CCACHE_BASEDIR=$ROOT CCACHE_NOHASHDIR=1
LAUNCH=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)

PACKAGES=(cmake ninja-build g++ pkg-config clang clang-format libclang-rt-14-dev
  libseccomp-dev libcapstone-dev libabsl-dev libprotobuf-dev protobuf-compiler
  nlohmann-json3-dev libbenchmark-dev libgtest-dev libgmock-dev busybox-static ccache
  # What tests/e2e/scripts run inside the sandbox.
  bash python3 perl make gcc binutils)

install_packages() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "== installing: ${missing[*]}"
    if [ "$(id -u)" -ne 0 ]; then
      echo "dev.sh: missing packages (${missing[*]}); run as root to install them" >&2
      exit 1
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

build() {
  install_packages "${PACKAGES[@]}"
  echo "== building (build/)"
  cmake -G Ninja -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo "${LAUNCH[@]}" >/dev/null
  ninja -C build -j"$JOBS"
}

# Everything again, built with clang, AddressSanitizer+UBSan and -Wthread-safety.
build_sanitized() {
  echo "== building with clang, ASan+UBSan and -Wthread-safety (build-asan/)"
  CC=clang CXX=clang++ cmake -G Ninja -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug \
    -DSANDBOX_SANITIZE=ON -DSANDBOX_THREAD_SAFETY=ON "${LAUNCH[@]}" >/dev/null
  ninja -C build-asan -j"$JOBS"
}

case "${1:-}" in
  build)
    build
    ;;
  demo)
    build
    echo "== runsc do -- build/tests/e2e/progs/hello"
    build/runsc/runsc do -- build/tests/e2e/progs/hello
    echo "== runsc do -- busybox sh -c 'echo \$((6*7))'"
    build/runsc/runsc do -- /bin/busybox sh -c 'echo $((6*7))'
    echo "== runsc --strace do -- build/tests/e2e/progs/hello"
    build/runsc/runsc --strace do -- build/tests/e2e/progs/hello
    echo "== runsc do -- busybox cat /etc/os-release   (the host's root, read-only, via the gofer)"
    build/runsc/runsc do -- /bin/busybox cat /etc/os-release
    echo "== runsc do -- busybox ls /usr"
    build/runsc/runsc do -- /bin/busybox ls /usr
    ;;
  test)
    build
    echo "== tests (build/)"
    (cd build && ctest --output-on-failure -j"$JOBS")
    build_sanitized
    echo "== every test again, the Sentry built with ASan+UBSan (build-asan/)"
    (cd build-asan && ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure -j"$JOBS")
    echo "== clang-format"
    git ls-files '*.cc' '*.h' | xargs clang-format --dry-run -Werror
    ;;
  bench)
    install_packages runsc
    build
    build/tools/bench/sandbox_bench "${@:2}"
    ;;
  *)
    sed -n '2,10p' "$0" >&2
    exit 2
    ;;
esac
