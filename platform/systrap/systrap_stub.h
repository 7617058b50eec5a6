// The systrap stub: its signal handler and wait loop (systrap_stub_amd64.S), copied
// into the stub code page at kStubExtraCodeOffset, and the layout of the per-thread
// slot they share with the Sentry. See platform/systrap/README.md.
//
// Included by C++ and by the assembly file: shared constants are macros.
#ifndef PLATFORM_SYSTRAP_SYSTRAP_STUB_H_
#define PLATFORM_SYSTRAP_SYSTRAP_STUB_H_

// A slot: one per guest stub thread, in a range of the memory file mapped both in
// the Sentry and (at a slot-aligned address) in the stub. Page 0 is the control
// page, the rest the thread's sigaltstack.
#define SYSTRAP_SLOT_SIZE 0x8000
#define SYSTRAP_ALTSTACK_OFFSET 0x1000

// The control page.
#define SYSTRAP_CTL_STATE 0     // uint32_t, the futex word
#define SYSTRAP_CTL_FS_BASE 8   // uint64_t
#define SYSTRAP_CTL_GS_BASE 16  // uint64_t
#define SYSTRAP_CTL_UC 24       // uint64_t: the stub address of the frame's ucontext
#define SYSTRAP_CTL_INFO 32     // uint64_t: the stub address of the frame's siginfo
// uint32_t flags: nonzero while that side sleeps (or is about to) on the futex,
// so that the other side makes the FUTEX_WAKE syscall only then.
#define SYSTRAP_CTL_SENTRY_SLEEPING 40
#define SYSTRAP_CTL_STUB_SLEEPING 44
// Syscall-site patching (the fast entry, below): the xsave mask (edx:eax), the
// kernel's _fpx_sw_bytes for the frame (48 bytes), the xsave area's size (where
// FP_XSTATE_MAGIC2 goes), and the guest's %rsp while the frame is built.
#define SYSTRAP_CTL_XSAVE_MASK 48
#define SYSTRAP_CTL_FPX_SW 56
#define SYSTRAP_CTL_XSTATE_SIZE 104
#define SYSTRAP_CTL_FAST_RSP 112
// Set-up data (read by injected syscalls while the thread is created).
#define SYSTRAP_CTL_ALTSTACK 1088

// The fast entry's frame in the altstack (a patched syscall site enters the
// stub without a signal and builds a frame there in the kernel's layout):
// rt_sigframe at FAST_FRAME (its ucontext 8 above, its siginfo 312 above), the
// xsave area at FAST_FP (64-aligned). Below FAST_FRAME the kernel has room for a
// signal frame pushed while the fast entry runs; above FAST_FP + the xsave size
// the kernel's own frames (top of the altstack) have theirs.
#define SYSTRAP_FAST_FRAME 0x4e40
#define SYSTRAP_FAST_FP 0x5000

// State words.
#define SYSTRAP_STATE_RUN 1      // The Sentry says: run the frame at CTL_UC.
#define SYSTRAP_STATE_TRAPPED 2  // The stub says: a signal frame is ready (or: idle).

// Iterations of the stub's spin on the state word before it sleeps on the futex:
// the Sentry writes them (uint32_t at SYSTRAP_CTL_STUB_SPIN) before each RUN, for
// the wait after the next trap, adaptively (systrap_context.cc): SYSTRAP_STUB_SPIN
// (~100 us) while its waits end before the stub sleeps, less while they do not.
// The stub takes the value modulo SYSTRAP_STUB_SPIN_MAX + 1 (a power of two), and
// stops spinning at once when the Sentry sets it to 0 (Context::WillBlock: the
// task is about to block in the Sentry).
// Both sides' spins give up the CPU (sched_yield) every SYSTRAP_YIELD_EVERY
// iterations (a power of two, ~3 us): the other side may be queued on the
// spinner's CPU (woken by it, or preempted), and cannot answer until it runs.
#define SYSTRAP_YIELD_EVERY 128
#define SYSTRAP_CTL_STUB_SPIN 128
#define SYSTRAP_STUB_SPIN 4096
#define SYSTRAP_STUB_SPIN_MAX 0x3fff

#ifndef __ASSEMBLER__

#include <cstddef>

namespace platform::systrap {

extern "C" {
// The code copied into the stub code page (position independent).
extern const char platform_systrap_stub_code_start[];
extern const char platform_systrap_stub_code_end[];
// The signal handler (SA_SIGINFO, on the altstack).
extern const char platform_systrap_stub_handler[];
// Where a new stub thread starts (r15 = its control page): the wait loop.
extern const char platform_systrap_stub_wait[];
// The SA_RESTORER address (never returned to: the handler sigreturns itself).
extern const char platform_systrap_stub_restorer[];
// The interrupt signal's handler: the usual hand-over, unless the stub code was
// interrupted (the fast entry runs with signals unblocked): then it returns.
extern const char platform_systrap_stub_interrupt_handler[];
// Where a patched syscall site's trampoline jumps (see syscall_patch.h).
extern const char platform_systrap_stub_fast_entry[];
// A new stub thread's set-up (its death signal, altstack and filter), run traced
// up to the stub's int3 (registers: see the assembly).
extern const char platform_systrap_stub_thread_setup[];
}

inline size_t SystrapStubOffset(const char* sym) {
  return static_cast<size_t>(sym - platform_systrap_stub_code_start);
}

}  // namespace platform::systrap

#endif  // __ASSEMBLER__

#endif  // PLATFORM_SYSTRAP_SYSTRAP_STUB_H_
