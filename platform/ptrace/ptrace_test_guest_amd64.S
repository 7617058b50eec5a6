// Guest code snippets for the ptrace platform's tests and benchmark. Each is
// position-independent; the tests copy one into the memory file and map it into a
// stub. See ptrace_test_guest.h.

#include <asm/unistd_64.h>

.macro GUEST_BEGIN name
	.globl	guest_\name\()_start
	.globl	guest_\name\()_end
	.p2align 4
guest_\name\()_start:
.endm
.macro GUEST_END name
guest_\name\()_end:
.endm

	.text

// getpid(1, 2, 3, 4, 5, 6), then exit(<its return value>).
GUEST_BEGIN syscall_args
	mov	$__NR_getpid, %eax
	mov	$1, %edi
	mov	$2, %esi
	mov	$3, %edx
	mov	$4, %r10d
	mov	$5, %r8d
	mov	$6, %r9d
	syscall
	mov	%rax, %rdi
	mov	$__NR_exit, %eax
	syscall
	ud2
GUEST_END syscall_args

// *(uint8_t*)%rdi = 1, then getpid.
GUEST_BEGIN store
	movb	$1, (%rdi)
	mov	$__NR_getpid, %eax
	syscall
	ud2
GUEST_END store

// getpid(*(uint64_t*)%rdi).
GUEST_BEGIN load
	mov	(%rdi), %rdi
	mov	$__NR_getpid, %eax
	syscall
	ud2
GUEST_END load

GUEST_BEGIN int3
	int3
	ud2
GUEST_END int3

GUEST_BEGIN ud2
	ud2
GUEST_END ud2

GUEST_BEGIN divide_by_zero
	xor	%ecx, %ecx
	mov	$1, %eax
	xor	%edx, %edx
	div	%rcx
	ud2
GUEST_END divide_by_zero

// A load from a non-canonical address: a general-protection fault.
GUEST_BEGIN non_canonical
	movabs	$0x8000000000000000, %rax
	mov	(%rax), %rax
	ud2
GUEST_END non_canonical

GUEST_BEGIN spin
1:	jmp	1b
GUEST_END spin

// getpid(%xmm0, %xmm2) (low quadwords), after which %xmm2 = 0x1122334455667788.
GUEST_BEGIN xmm
	movq	%xmm0, %rdi
	movq	%xmm2, %rsi
	movabs	$0x1122334455667788, %rax
	movq	%rax, %xmm2
	mov	$__NR_getpid, %eax
	syscall
	ud2
GUEST_END xmm

// exit_group(0), then getpid (which runs only if exit_group did not).
GUEST_BEGIN exit_group
	mov	$__NR_exit_group, %eax
	xor	%edi, %edi
	syscall
	mov	$__NR_getpid, %eax
	syscall
	ud2
GUEST_END exit_group

// exit_group(0) through the instruction at %rsi (the stub's own `syscall`).
GUEST_BEGIN jump_to_stub
	mov	$__NR_exit_group, %eax
	xor	%edi, %edi
	jmp	*%rsi
GUEST_END jump_to_stub

// time(NULL) through the legacy vsyscall page.
GUEST_BEGIN vsyscall
	xor	%edi, %edi
	movabs	$0xffffffffff600400, %rax
	call	*%rax
	ud2
GUEST_END vsyscall

// Each of %rdx threads stores its (nonzero) value %rcx in slot %rsi of the
// uint64_t array at %rdi, spins until every slot is nonzero (it sees the others'
// stores), then calls getpid(sum of the slots). %rbx and %rbp are left alone.
GUEST_BEGIN rendezvous
	mov	%rcx, (%rdi,%rsi,8)
1:	pause
	xor	%r9d, %r9d		// the sum
	xor	%r10d, %r10d		// the index
2:	mov	(%rdi,%r10,8), %r11
	test	%r11, %r11
	jz	1b
	add	%r11, %r9
	inc	%r10
	cmp	%rdx, %r10
	jb	2b
	mov	%r9, %rdi
	mov	$__NR_getpid, %eax
	syscall
	ud2
GUEST_END rendezvous

// Jumps to %rsi with every other register as the test set it.
GUEST_BEGIN jump_rsi
	jmp	*%rsi
GUEST_END jump_rsi

// syscall forever (the benchmark's loop).
GUEST_BEGIN syscall_loop
1:	syscall
	jmp	1b
GUEST_END syscall_loop

	.section .note.GNU-stack, "", @progbits
