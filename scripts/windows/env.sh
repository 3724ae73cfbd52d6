# Sourced by the Windows scripts: Debian's rustc-web builds std for Windows
# (-Zbuild-std), mingw-w64 links, Wine runs. Kept apart from the Linux build:
# its own target folder, its own compiler; rustup's stays first elsewhere.
# See ../shared/docs/windows-build.md and docs/testing.md.
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
export PATH=/usr/bin:$PATH RUSTC=/usr/bin/rustc CARGO=/usr/bin/cargo RUSTDOC=/usr/bin/rustdoc
export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR="$root/target/windows"
for t in X86_64_PC_WINDOWS_GNU X86_64_WIN7_WINDOWS_GNU; do
    export "CARGO_TARGET_${t}_LINKER=x86_64-w64-mingw32-gcc"
done
export CC_x86_64_pc_windows_gnu=x86_64-w64-mingw32-gcc AR_x86_64_pc_windows_gnu=x86_64-w64-mingw32-ar
export CC_x86_64_win7_windows_gnu=x86_64-w64-mingw32-gcc AR_x86_64_win7_windows_gnu=x86_64-w64-mingw32-ar
# tests/windows.rs: the cases that change the machine run only here.
export MDCLUSTER_UNDER_WINE=1
export WINEPREFIX="$root/target/wineprefix" WINEARCH=win64 WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
# assert_cmd would put a runner in front of the binaries the tests start.
unset CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER

# The Windows targets mdcluster is built for: Windows 10 / Server 2016 and
# newer, and Windows 7 / Server 2008 R2 to Server 2012 R2 (tier 3, see README).
WINDOWS_TARGETS=(x86_64-pc-windows-gnu x86_64-win7-windows-gnu)

# Debian packages the Windows build and tests need (Debian 12 names:
# rustc-web is the newer compiler Debian keeps for browsers, with its std source).
WINDOWS_PACKAGES=(rustc-web cargo-web rust-web-src gcc-mingw-w64-x86-64 wine wine64)

wcargo() {
    /usr/bin/cargo "$@"
}

# Install what is missing (as root on Debian/Ubuntu), or say what to install.
windows_packages() {
    local missing=() p
    for p in "${WINDOWS_PACKAGES[@]}"; do
        [[ $(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null) == "ii "* ]] || missing+=("$p")
    done
    ((${#missing[@]})) || return 0
    if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
        echo "missing for the Windows build: ${missing[*]} (install them, or run as root on Debian/Ubuntu)" >&2
        return 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${missing[@]}"
}
