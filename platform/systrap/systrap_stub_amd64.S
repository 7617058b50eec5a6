// The systrap stub code (see systrap_stub.h and README.md): the signal handler a
// guest stub thread runs on its altstack for every trap, and the wait loop where
// it hands the frame to the Sentry and takes it back. Registers only, no stack of
// its own: the frame the kernel pushed is the hand-over.

#include <asm/unistd_64.h>

#include "platform/systrap/systrap_stub.h"

#define FUTEX_WAIT 0
#define FUTEX_WAKE 1

	.text
	.globl	platform_systrap_stub_code_start
	.globl	platform_systrap_stub_code_end
	.globl	platform_systrap_stub_handler
	.globl	platform_systrap_stub_wait
	.globl	platform_systrap_stub_restorer
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
// the guest can write the page), then sleep.
platform_systrap_stub_wait:
	mov	SYSTRAP_CTL_STUB_SPIN(%r15), %ecx
	and	$SYSTRAP_STUB_SPIN_MAX, %ecx
	jz	2f
1:	cmpl	$SYSTRAP_STATE_RUN, SYSTRAP_CTL_STATE(%r15)
	je	3f
	pause
	cmpl	$0, SYSTRAP_CTL_STUB_SPIN(%r15)	// The Sentry: "it will be a while".
	je	2f
	dec	%ecx
	jnz	1b
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
platform_systrap_stub_code_end:

	.section .note.GNU-stack, "", @progbits
