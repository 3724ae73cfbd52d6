/* Test infrastructure only, never shipped: Wine 8 (Debian 12) lacks
 * bcryptprimitives.dll, whose ProcessPrng Rust's Windows std imports since
 * 1.78; real Windows 10 / Server 2016 and Wine 9 have it. This stand-in fills
 * the buffer with RtlGenRandom (advapi32's SystemFunction036), in chunks of
 * at most 1 GiB. */
#include <windows.h>
BOOLEAN WINAPI SystemFunction036(PVOID, ULONG);
__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
    while (len > 0) {
        ULONG n = len > 0x40000000 ? 0x40000000 : (ULONG)len;
        if (!SystemFunction036(data, n)) return FALSE;
        data += n;
        len -= n;
    }
    return TRUE;
}
