#!/usr/bin/env bash
# Builds the release mdcluster.exe for each supported Windows target, stripped,
# with its SHA-256, into dist/windows/<target>/. Installs the cross toolchain
# when missing (Debian packages, as root). Arguments pick targets, e.g.:
#   scripts/build-windows.sh x86_64-pc-windows-gnu
set -euo pipefail
source "$(dirname "$0")/windows/env.sh"
cd "$root"
windows_packages

targets=("$@")
((${#targets[@]})) || targets=("${WINDOWS_TARGETS[@]}")
for target in "${targets[@]}"; do
    echo "== building mdcluster.exe for $target"
    wcargo build --release --locked -Zbuild-std=std,panic_abort --target "$target" --bin mdcluster
    out=dist/windows/$target
    mkdir -p "$out"
    x86_64-w64-mingw32-strip -o "$out/mdcluster.exe" "$CARGO_TARGET_DIR/$target/release/mdcluster.exe"
    (cd "$out" && sha256sum mdcluster.exe >mdcluster.exe.sha256)
    # One file to copy: only system DLLs may be imported.
    imports=$(x86_64-w64-mingw32-objdump -p "$out/mdcluster.exe" | sed -n 's/^\s*DLL Name: //p' | sort -u)
    foreign=$(grep -viE '^(kernel32|advapi32|ntdll|ws2_32|userenv|bcrypt|bcryptprimitives|iphlpapi|shell32|ole32|oleaut32|user32|secur32|crypt32|msvcrt|api-ms-win-[a-z0-9-]+)\.dll$' <<<"$imports" || true)
    if [[ -n $foreign ]]; then
        echo "mdcluster.exe for $target imports DLLs Windows does not ship: $foreign" >&2
        exit 1
    fi
    echo "   $out/mdcluster.exe ($(stat -c %s "$out/mdcluster.exe") bytes) $(cut -d' ' -f1 "$out/mdcluster.exe.sha256")"
done
