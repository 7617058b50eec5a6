// The systrap stub code (see systrap_stub.h and README.md): the signal handler a
// guest stub thread runs on its altstack for every trap, and the wait loop where
// it hands the frame to the Sentry and takes it back. Registers only, no stack of
// its own: the frame the kernel pushed is the hand-over.

#include <asm/unistd_64.h>

#include "platform/systrap/systrap_stub.h"

#define FUTEX_WAIT 0
#define FUTEX_WAKE 1
#define UC_RIP (40 + 128)  /* ucontext.uc_mcontext.rip */

	.text
	.globl	platform_systrap_stub_code_start
	.globl	platform_systrap_stub_code_end
	.globl	platform_systrap_stub_handler
	.globl	platform_systrap_stub_wait
	.globl	platform_systrap_stub_restorer
	.globl	platform_systrap_stub_interrupt_handler
	.globl	platform_systrap_stub_fast_entry
	.globl	platform_systrap_stub_thread_setup
	.p2align 4
platform_systrap_stub_code_start:

// The handler: %rsi = siginfo, %rdx = ucontext, %rsp = the frame, on the altstack
// inside the thread's slot (slot-aligned: the control page is %rsp rounded down).
// Every register is free: the frame holds the guest's.
platform_systrap_stub_handler:
	mov	%rsp, %r15
	and	$-SYSTRAP_SLOT_SIZE, %r15
	rdfsbase %rax
	mov	%rax, SYSTRAP_CTL_FS_BASE(%r15)
	rdgsbase %rax
	mov	%rax, SYSTRAP_CTL_GS_BASE(%r15)
	mov	%rdx, SYSTRAP_CTL_UC(%r15)
	mov	%rsi, SYSTRAP_CTL_INFO(%r15)
	// x86 keeps stores in order: the Sentry sees the fields before the state.
	// xchg is a full barrier: the state is visible before we read the flag
	// (the Sentry sets its flag, then reads the state: one of us sees the other).
	mov	$SYSTRAP_STATE_TRAPPED, %eax
	xchg	%eax, SYSTRAP_CTL_STATE(%r15)
	cmpl	$0, SYSTRAP_CTL_SENTRY_SLEEPING(%r15)
	je	platform_systrap_stub_wait
	lea	SYSTRAP_CTL_STATE(%r15), %rdi
	mov	$FUTEX_WAKE, %esi
	mov	$1, %edx
	mov	$__NR_futex, %eax
	syscall

// Wait for the Sentry (%r15 = control page): spin as long as it says (bounded:
// the guest can write the page), then sleep. Every SYSTRAP_YIELD_EVERY
// iterations, give up the CPU: the Sentry thread may be queued behind this spin
// on it (just woken, or preempted); with nothing else to run it returns at once.
platform_systrap_stub_wait:
	mov	SYSTRAP_CTL_STUB_SPIN(%r15), %r12d
	and	$SYSTRAP_STUB_SPIN_MAX, %r12d
	jz	2f
1:	cmpl	$SYSTRAP_STATE_RUN, SYSTRAP_CTL_STATE(%r15)
	je	3f
	pause
	cmpl	$0, SYSTRAP_CTL_STUB_SPIN(%r15)	// The Sentry: "it will be a while".
	je	2f
	dec	%r12d
	jz	2f
	test	$(SYSTRAP_YIELD_EVERY - 1), %r12d
	jnz	1b
	mov	$__NR_sched_yield, %eax	// Keeps %r12 and %r15 (not %rcx, %r11).
	syscall
	jmp	1b
	// Going to sleep: say so (a full barrier), look again, sleep.
2:	mov	$1, %eax
	xchg	%eax, SYSTRAP_CTL_STUB_SLEEPING(%r15)
	cmpl	$SYSTRAP_STATE_RUN, SYSTRAP_CTL_STATE(%r15)
	je	4f
	lea	SYSTRAP_CTL_STATE(%r15), %rdi
	mov	$FUTEX_WAIT, %esi
	mov	$SYSTRAP_STATE_TRAPPED, %edx
	xor	%r10d, %r10d
	mov	$__NR_futex, %eax
	syscall
	cmpl	$SYSTRAP_STATE_RUN, SYSTRAP_CTL_STATE(%r15)
	jne	2b
4:	movl	$0, SYSTRAP_CTL_STUB_SLEEPING(%r15)

	// Run: the Sentry's fs/gs bases, then the frame it filled.
3:	mov	SYSTRAP_CTL_FS_BASE(%r15), %rax
	wrfsbase %rax
	mov	SYSTRAP_CTL_GS_BASE(%r15), %rax
	wrgsbase %rax
	mov	SYSTRAP_CTL_UC(%r15), %rsp
platform_systrap_stub_restorer:
	mov	$__NR_rt_sigreturn, %eax
	syscall
	ud2

// --- Syscall-site patching (platform/systrap/syscall_patch.h) ---

// The interrupt signal's handler. Guest code interrupted: the usual hand-over.
// The stub code interrupted (only the fast entry and the hand-over it jumps
// into run with signals unblocked): return to it at once; the Sentry sees the
// interrupt at its next Switch (the fast entry is about to hand over) or sends
// it again (systrap_context.cc).
platform_systrap_stub_interrupt_handler:
	mov	UC_RIP(%rdx), %rax
	lea	platform_systrap_stub_code_start(%rip), %rcx
	sub	%rcx, %rax
	cmp	$(platform_systrap_stub_code_end - platform_systrap_stub_code_start), %rax
	jae	platform_systrap_stub_handler
	mov	%rdx, %rsp
	mov	$__NR_rt_sigreturn, %eax
	syscall
	ud2

// The fast entry, from a patched site's trampoline (no signal): %rcx = this
// thread's control page (checked: the %gs base), %ah = the guest's flags (lahf),
// %al = its OF, %r11 = nr << 32 | the trampoline's resume address (whose
// qword at +25 is the guest-visible return address). Every other register is
// the guest's. Builds at FAST_FRAME the frame the kernel would have pushed for
// a SIGSYS of that syscall and hands it over as the handler does.
#define MC 48  /* the sigcontext in the rt_sigframe */
platform_systrap_stub_fast_entry:
	mov	%rsp, SYSTRAP_CTL_FAST_RSP(%rcx)
	lea	SYSTRAP_FAST_FRAME(%rcx), %rsp
	mov	%r8, MC+0(%rsp)
	mov	%r9, MC+8(%rsp)
	mov	%r10, MC+16(%rsp)
	mov	%r12, MC+32(%rsp)
	mov	%r13, MC+40(%rsp)
	mov	%r14, MC+48(%rsp)
	mov	%r15, MC+56(%rsp)
	mov	%rdi, MC+64(%rsp)
	mov	%rsi, MC+72(%rsp)
	mov	%rbp, MC+80(%rsp)
	mov	%rbx, MC+88(%rsp)
	mov	%rdx, MC+96(%rsp)
	// rflags: ours, with the guest's arithmetic flags (CF PF AF ZF SF, OF).
	pushfq
	pop	%rdx
	and	$~0x8d5, %rdx
	movzbl	%ah, %esi
	and	$0xd5, %esi
	or	%rsi, %rdx
	test	%al, %al
	jz	1f
	or	$0x800, %rdx
1:	mov	%rdx, MC+136(%rsp)	// eflags
	mov	%rdx, MC+24(%rsp)	// r11 = rflags, as the syscall instruction leaves it
	mov	%r11, %rdx
	shr	$32, %rdx
	mov	%rdx, MC+104(%rsp)	// rax = the number
	mov	%edx, 312+24(%rsp)	// si_syscall
	mov	%r11d, %r11d
	mov	%r11, MC+128(%rsp)	// rip = the trampoline's resume address
	mov	%r11, 312+16(%rsp)	// si_call_addr
	mov	25(%r11), %rdx
	mov	%rdx, MC+112(%rsp)	// rcx = the address after the guest's syscall
	mov	SYSTRAP_CTL_FAST_RSP(%rcx), %rdx
	mov	%rdx, MC+120(%rsp)	// rsp
	movabs	$0x002b000000000033, %rdx
	mov	%rdx, MC+144(%rsp)	// cs 0x33, gs 0, fs 0, ss 0x2b
	lea	SYSTRAP_FAST_FP(%rcx), %rdi
	mov	%rdi, MC+184(%rsp)	// fpstate
	movl	$31, 312(%rsp)		// si_signo = SIGSYS
	movl	$0, 312+4(%rsp)		// si_errno
	movl	$1, 312+8(%rsp)		// si_code = SYS_SECCOMP
	movl	$0xc000003e, 312+28(%rsp)	// si_arch = AUDIT_ARCH_X86_64
	// The FP state, with the software bytes rt_sigreturn checks.
	movq	$0, 520(%rdi)		// xcomp_bv: standard form
	mov	SYSTRAP_CTL_XSAVE_MASK(%rcx), %eax
	mov	SYSTRAP_CTL_XSAVE_MASK+4(%rcx), %edx
	xsave64	(%rdi)
	mov	SYSTRAP_CTL_FPX_SW+0(%rcx), %rdx
	mov	%rdx, 464(%rdi)
	mov	SYSTRAP_CTL_FPX_SW+8(%rcx), %rdx
	mov	%rdx, 472(%rdi)
	mov	SYSTRAP_CTL_FPX_SW+16(%rcx), %rdx
	mov	%rdx, 480(%rdi)
	mov	SYSTRAP_CTL_FPX_SW+24(%rcx), %rdx
	mov	%rdx, 488(%rdi)
	mov	SYSTRAP_CTL_FPX_SW+32(%rcx), %rdx
	mov	%rdx, 496(%rdi)
	mov	SYSTRAP_CTL_FPX_SW+40(%rcx), %rdx
	mov	%rdx, 504(%rdi)
	mov	SYSTRAP_CTL_XSTATE_SIZE(%rcx), %rdx
	movl	$0x46505845, (%rdi,%rdx)	// FP_XSTATE_MAGIC2
	// Hand over as the handler does (%rsp = the frame, in the slot).
	lea	8(%rsp), %rdx
	lea	312(%rsp), %rsi
	jmp	platform_systrap_stub_handler

// A new guest stub thread's set-up, run once, traced, from a PTRACE_CONT (one
// stop instead of one injection per call): %r15 = its control page, %r14 = the
// guest-thread filter's sock_fprog, %r13 = the stub's int3 (where the Sentry
// waits for it). prctl(PR_SET_PDEATHSIG, SIGKILL), sigaltstack(the slot's
// stack_t), seccomp(SECCOMP_SET_MODE_FILTER, 0, %r14); stops at the int3 with
// %rax = 0, or the failed call's -errno and %r12 = its step (1, 2, 3).
platform_systrap_stub_thread_setup:
	mov	$1, %r12d
	mov	$__NR_prctl, %eax
	mov	$1, %edi			// PR_SET_PDEATHSIG
	mov	$9, %esi			// SIGKILL
	syscall
	test	%rax, %rax
	jnz	1f
	mov	$2, %r12d
	lea	SYSTRAP_CTL_ALTSTACK(%r15), %rdi
	xor	%esi, %esi
	mov	$__NR_sigaltstack, %eax
	syscall
	test	%rax, %rax
	jnz	1f
	mov	$3, %r12d
	mov	$1, %edi			// SECCOMP_SET_MODE_FILTER
	xor	%esi, %esi
	mov	%r14, %rdx
	mov	$__NR_seccomp, %eax
	syscall
1:	jmp	*%r13
platform_systrap_stub_code_end:

	.section .note.GNU-stack, "", @progbits
