// The ptrace stub (see stub.h and platform/README.md).
//
// Two pieces of code live here:
//  - platform_ptrace_stub_clone: runs in the Sentry. It forks with a raw clone and
//    sets the child up with raw syscalls only (no libc: the Sentry is
//    multithreaded, so the child must not touch locks or the heap).
//  - platform_ptrace_stub_code_start..end: position-independent code that the
//    platform copies into the stub region. It is all a stub process runs after
//    its set-up, and it uses registers only (it unmaps its own stack).

#include <asm/unistd_64.h>

#include "platform/ptrace/stub.h"

// Linux ABI constants (fixed for x86-64).
#define SIGKILL 9
#define SIGCHLD 17
#define SIGSTOP 19
#define SIG_SETMASK 2
#define PR_SET_PDEATHSIG 1
#define PR_SET_NO_NEW_PRIVS 38
#define SECCOMP_SET_MODE_FILTER 1
#define RSEQ_FLAG_UNREGISTER 1

	.text

// pid_t platform_ptrace_stub_clone(const StubArgs* args)
	.globl	platform_ptrace_stub_clone
	.type	platform_ptrace_stub_clone, @function
	.p2align 4
platform_ptrace_stub_clone:
	.cfi_startproc
	mov	%rdi, %r9		// args; syscall preserves r9 in both processes
	mov	$__NR_clone, %eax
	mov	$SIGCHLD, %edi		// flags: fork semantics, exit signal SIGCHLD
	xor	%esi, %esi		// stack: the child runs on its copy of ours
	xor	%edx, %edx
	xor	%r10d, %r10d
	xor	%r8d, %r8d
	syscall
	test	%rax, %rax
	jz	.Lchild
	ret				// parent: the child's pid, or -errno
	.cfi_endproc

	// The child, with %rbx = args. Any failure exits with a PTRACE_STUB_EXIT_*
	// code that the parent turns into a message.
.Lchild:
	mov	%r9, %rbx

	// Unregister the rseq area inherited from the forking thread: it lives in
	// memory the stub unmaps, and the kernel writes it on preemption.
	mov	PTRACE_STUB_ARGS_RSEQ_LEN(%rbx), %rsi
	test	%rsi, %rsi
	jz	2f
	mov	$__NR_rseq, %eax
	mov	PTRACE_STUB_ARGS_RSEQ(%rbx), %rdi
	mov	$RSEQ_FLAG_UNREGISTER, %edx
	mov	PTRACE_STUB_ARGS_RSEQ_SIG(%rbx), %r10
	syscall
	mov	$PTRACE_STUB_EXIT_RSEQ, %edi
	test	%rax, %rax
	jnz	.Ldie
2:
	// Die with the thread that will trace us.
	mov	$__NR_prctl, %eax
	mov	$PR_SET_PDEATHSIG, %edi
	mov	$SIGKILL, %esi
	xor	%edx, %edx
	xor	%r10d, %r10d
	xor	%r8d, %r8d
	syscall
	mov	$PTRACE_STUB_EXIT_PDEATHSIG, %edi
	test	%rax, %rax
	jnz	.Ldie

	// If the Sentry died before the prctl, nobody would kill us: check.
	mov	$__NR_getppid, %eax
	syscall
	mov	$PTRACE_STUB_EXIT_PARENT_GONE, %edi
	cmp	PTRACE_STUB_ARGS_PPID(%rbx), %rax
	jne	.Ldie

	// The forking thread becomes our tracer.
	mov	$__NR_ptrace, %eax
	xor	%edi, %edi		// PTRACE_TRACEME
	xor	%esi, %esi
	xor	%edx, %edx
	xor	%r10d, %r10d
	syscall
	mov	$PTRACE_STUB_EXIT_TRACEME, %edi
	test	%rax, %rax
	jnz	.Ldie

	// On the stack: a zeroed struct kernel_sigaction (SIG_DFL, no flags, no
	// restorer, empty mask) at 0(%rsp) and an empty sigset at 32(%rsp).
	and	$-16, %rsp
	sub	$64, %rsp
	xor	%eax, %eax
	mov	%rax, 0(%rsp)
	mov	%rax, 8(%rsp)
	mov	%rax, 16(%rsp)
	mov	%rax, 24(%rsp)
	mov	%rax, 32(%rsp)

	// Every signal to its action in args->sigactions, or back to SIG_DFL if
	// there is no table (SIGKILL and SIGSTOP fail then, harmlessly). A
	// handler the kernel refuses is a failure.
	mov	$1, %r12d
1:	mov	PTRACE_STUB_ARGS_SIGACTIONS(%rbx), %rsi
	test	%rsi, %rsi
	jz	3f
	lea	-1(%r12), %eax
	shl	$5, %rax		// * PTRACE_STUB_SIGACTION_SIZE
	add	%rax, %rsi
	jmp	4f
3:	mov	%rsp, %rsi
4:	mov	$__NR_rt_sigaction, %eax
	mov	%r12d, %edi
	xor	%edx, %edx
	mov	$8, %r10d
	syscall				// preserves %rsi
	test	%rax, %rax
	jz	5f
	mov	$PTRACE_STUB_EXIT_SIGACTION, %edi
	cmpq	$0, (%rsi)		// the handler: SIG_DFL may fail, nothing else
	jne	.Ldie
5:	inc	%r12d
	cmp	$64, %r12d
	jbe	1b

	// Unblock everything (the parent blocked all signals around the clone).
	mov	$__NR_rt_sigprocmask, %eax
	mov	$SIG_SETMASK, %edi
	lea	32(%rsp), %rsi
	xor	%edx, %edx
	mov	$8, %r10d
	syscall
	mov	$PTRACE_STUB_EXIT_SIGPROCMASK, %edi
	test	%rax, %rax
	jnz	.Ldie

	// The memory file becomes PTRACE_STUB_MEMORY_FD (0), the platform's socket
	// PTRACE_STUB_SOCKET_FD (1); every other fd goes. The socket's fd is at
	// least 2 (stub.h), so the first dup2 cannot close it.
	mov	$__NR_dup2, %eax
	mov	PTRACE_STUB_ARGS_MEMORY_FD(%rbx), %rdi
	mov	$PTRACE_STUB_MEMORY_FD, %esi
	syscall
	mov	$PTRACE_STUB_EXIT_DUP2, %edi
	cmp	$PTRACE_STUB_MEMORY_FD, %rax
	jne	.Ldie

	mov	$__NR_dup2, %eax
	mov	PTRACE_STUB_ARGS_SOCKET_FD(%rbx), %rdi
	mov	$PTRACE_STUB_SOCKET_FD, %esi
	syscall
	mov	$PTRACE_STUB_EXIT_DUP2_SOCKET, %edi
	cmp	$PTRACE_STUB_SOCKET_FD, %rax
	jne	.Ldie

	mov	$__NR_close_range, %eax
	mov	$PTRACE_STUB_FIRST_HOST_FD, %edi
	mov	$-1, %esi		// ~0U
	xor	%edx, %edx
	syscall
	mov	$PTRACE_STUB_EXIT_CLOSE_RANGE, %edi
	test	%rax, %rax
	jnz	.Ldie

	// The stub's own seccomp filter (it needs no_new_privs without CAP_SYS_ADMIN).
	mov	$__NR_prctl, %eax
	mov	$PR_SET_NO_NEW_PRIVS, %edi
	mov	$1, %esi
	xor	%edx, %edx
	xor	%r10d, %r10d
	xor	%r8d, %r8d
	syscall
	mov	$PTRACE_STUB_EXIT_NO_NEW_PRIVS, %edi
	test	%rax, %rax
	jnz	.Ldie

	mov	$__NR_seccomp, %eax
	mov	$SECCOMP_SET_MODE_FILTER, %edi
	xor	%esi, %esi
	mov	PTRACE_STUB_ARGS_FILTER(%rbx), %rdx
	syscall
	mov	$PTRACE_STUB_EXIT_SECCOMP, %edi
	test	%rax, %rax
	jnz	.Ldie

	// From here on, only syscalls made from the stub code page are allowed.
	mov	PTRACE_STUB_ARGS_REGION_START(%rbx), %r12
	mov	PTRACE_STUB_ARGS_REGION_END(%rbx), %r13
	jmp	*PTRACE_STUB_ARGS_ENTRY(%rbx)

.Ldie:					// exit_group(%edi)
	mov	$__NR_exit_group, %eax
	syscall
	ud2
	.size	platform_ptrace_stub_clone, .-platform_ptrace_stub_clone

// The stub code. Entered with %r12 = region start, %r13 = region end. Every jump
// in it is relative, so it runs wherever it is copied.
	.globl	platform_ptrace_stub_code_start
	.globl	platform_ptrace_stub_code_end
	.globl	platform_ptrace_stub_syscall
	.globl	platform_ptrace_stub_int3
	.p2align 4
platform_ptrace_stub_code_start:
	// Unmap everything below the stub region: the Sentry's image, heap,
	// libraries, stacks, the vdso and vvar. Result in %r14.
	mov	$__NR_munmap, %eax
	xor	%edi, %edi
	mov	%r12, %rsi
	syscall
	mov	%rax, %r14

	// And everything above it, up to the top of the user address space.
	// Result in %r15 (0 if there is nothing above).
	xor	%r15d, %r15d
	movabs	$PTRACE_STUB_USER_TOP, %rsi
	sub	%r13, %rsi
	jbe	1f
	mov	%r13, %rdi
	mov	$__NR_munmap, %eax
	syscall
	mov	%rax, %r15
1:
	// Stop: the tracer checks %r14/%r15 and takes over.
	mov	$__NR_getpid, %eax
	syscall
	mov	%rax, %rdi
	mov	$SIGSTOP, %esi
	mov	$__NR_kill, %eax
	syscall

	// Injected syscalls: the tracer sets the registers and rip = here, resumes
	// the stub with PTRACE_CONT and waits for the SIGTRAP of the int3.
platform_ptrace_stub_syscall:
.Lloop:
	syscall
platform_ptrace_stub_int3:
	int3
	jmp	.Lloop
platform_ptrace_stub_code_end:

	.section .note.GNU-stack, "", @progbits
