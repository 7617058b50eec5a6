// The common code of the syscall patch region (syscall_patch.h), copied by the
// Sentry to SYSCALL_PATCH_HEADER of a guest that has patched sites. It runs as
// guest code, at that fixed address (its memory operands are absolute), entered
// from a trampoline with %eax = the syscall number, %r11 = the trampoline's
// resume address, and the guest's flags; %rcx and %r11 are free (a syscall
// clobbers them). It keeps the flags (lahf/seto, restored with sahf on the slow
// path), then checks that the %gs base is a systrap control page (slot-aligned,
// in the slot area): then on to the fast entry in the stub code page; else the
// trampoline's own `syscall` (which traps as usual).

#include "platform/systrap/syscall_patch.h"

	.text
	.globl	platform_systrap_patch_common_start
	.globl	platform_systrap_patch_common_end
platform_systrap_patch_common_start:
	xchg	%eax, %ecx
	lahf
	seto	%al
	shl	$32, %rcx
	or	%rcx, %r11		// r11 = nr << 32 | resume
	rdgsbase %rcx
	cmp	SYSCALL_PATCH_LO, %rcx
	jb	1f
	cmp	SYSCALL_PATCH_HI, %rcx
	jae	1f
	test	%rcx, SYSCALL_PATCH_MASK
	jnz	1f
	jmp	*SYSCALL_PATCH_FAST_ENTRY
	// Not ours (the guest set its own %gs base): the trampoline's syscall.
1:	mov	%r11, %rcx
	shr	$32, %rcx
	mov	%r11d, %r11d
	add	$0x7f, %al		// OF from %al
	sahf				// SF ZF AF PF CF from %ah
	mov	%ecx, %eax
	lea	18(%r11), %r11		// the trampoline's syscall (resume + 18)
	jmp	*%r11
platform_systrap_patch_common_end:

	.section .note.GNU-stack, "", @progbits
