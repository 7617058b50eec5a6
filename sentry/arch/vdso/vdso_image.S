// The vDSO image, built from vdso.c by CMake (VDSO_IMAGE_PATH names it),
// embedded read-only in the Sentry.
	.section .rodata.sandbox_vdso, "a"
	.balign 4096
	.globl sandbox_vdso_image_start
	.hidden sandbox_vdso_image_start
sandbox_vdso_image_start:
	.incbin VDSO_IMAGE_PATH
	.globl sandbox_vdso_image_end
	.hidden sandbox_vdso_image_end
sandbox_vdso_image_end:

	.section .note.GNU-stack, "", @progbits
