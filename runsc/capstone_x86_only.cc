// Linked into a static runsc only (SANDBOX_STATIC_RUNSC): the Sentry
// disassembles x86-64 alone (syscall-site patching), but Capstone's cs_open
// refers to every architecture's module, so a static link pulls all eleven in:
// 1.3 MB of tables full of pointers, which a static-pie runsc relocates at each
// start (75,000 relocations, 330 copied pages, in runsc and again in the
// gofer). These definitions stand in for the other modules' two entry points,
// so the archive's members for them are never linked; cs_open of another
// architecture fails with CS_ERR_ARCH. (Capstone 4: cs.c's cs_arch_init and
// cs_arch_option tables; a Capstone that names them differently links its
// modules as before, or fails to link with a duplicate, never silently.)
#include <capstone/capstone.h>

#include <cstddef>

#define SANDBOX_CAPSTONE_ARCH_ABSENT(arch)                            \
  extern "C" cs_err arch##_global_init(void*) { return CS_ERR_ARCH; } \
  extern "C" cs_err arch##_option(void*, cs_opt_type, size_t) { return CS_ERR_ARCH; }

SANDBOX_CAPSTONE_ARCH_ABSENT(ARM)
SANDBOX_CAPSTONE_ARCH_ABSENT(AArch64)
SANDBOX_CAPSTONE_ARCH_ABSENT(M68K)
SANDBOX_CAPSTONE_ARCH_ABSENT(Mips)
SANDBOX_CAPSTONE_ARCH_ABSENT(PPC)
SANDBOX_CAPSTONE_ARCH_ABSENT(Sparc)
SANDBOX_CAPSTONE_ARCH_ABSENT(SystemZ)
SANDBOX_CAPSTONE_ARCH_ABSENT(XCore)
SANDBOX_CAPSTONE_ARCH_ABSENT(TMS320C64x)
SANDBOX_CAPSTONE_ARCH_ABSENT(M680X)
SANDBOX_CAPSTONE_ARCH_ABSENT(EVM)
