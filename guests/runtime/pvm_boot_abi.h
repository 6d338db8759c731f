/* The contract between pvmd's VMM and a guest image it boots.
 *
 * Shared by the VMM (C++) and the freestanding guest runtime (C and assembly),
 * so both sides agree on one set of numbers. Plain #defines only: the header is
 * included from .S files too.
 *
 * At entry each vCPU is in 64-bit long mode at CPL0:
 *   - guest memory is one slot at GPA 0, identity mapped (GVA == GPA) with 2 MiB
 *     pages, U/S=1 and R/W=1 on every level (kvm-pvm needs U/S on every level);
 *   - CR0/CR4/EFER as below, CR3 = PVM_BOOT_PML4_GPA;
 *   - CS = PVM_SEL_KERNEL_CS (L=1, DPL0), SS/DS/ES = PVM_SEL_KERNEL_DS, from a boot
 *     GDT at PVM_BOOT_GDT_GPA that the runtime is expected to replace;
 *   - RIP = the ELF entry point, RFLAGS = 0x2 (interrupts off);
 *   - RSP = PVM_BOOT_STACK_TOP(mem_size, vcpu_id): each vCPU owns the
 *     PVM_BOOT_STACK_SIZE bytes below it, carved from the top of guest memory;
 *   - RDI = vCPU id, RSI = number of vCPUs, RDX = guest memory size in bytes.
 * Images are linked at or above PVM_BOOT_IMAGE_BASE and must end below the stacks.
 */
#ifndef PVM_BOOT_ABI_H
#define PVM_BOOT_ABI_H

#define PVM_BOOT_GDT_GPA 0x800
#define PVM_BOOT_PML4_GPA 0x1000
#define PVM_BOOT_PDPT_GPA 0x2000
#define PVM_BOOT_PD_GPA 0x3000 /* one 4 KiB page directory per GiB, consecutive */
#define PVM_BOOT_MAX_PD_PAGES 8 /* so at most 8 GiB of guest memory */
#define PVM_BOOT_IMAGE_BASE 0x100000

#define PVM_BOOT_STACK_SIZE 0x10000
#define PVM_BOOT_STACK_TOP(mem_size, vcpu_id) \
  ((mem_size) - (unsigned long long)(vcpu_id) * PVM_BOOT_STACK_SIZE)

#define PVM_BOOT_CR0 0x80050033 /* PG|AM|WP|NE|ET|MP|PE */
#define PVM_BOOT_CR4 0x620      /* PAE|OSFXSR|OSXMMEXCPT */
#define PVM_BOOT_EFER 0xd01     /* NXE|LMA|LME|SCE */

/* Selectors: the boot GDT holds the two kernel ones; the runtime's GDT keeps
 * them at the same place and adds the user and TSS descriptors. */
#define PVM_SEL_KERNEL_CS 0x10
#define PVM_SEL_KERNEL_DS 0x18
#define PVM_SEL_USER_DS 0x2b
#define PVM_SEL_USER_CS 0x33
#define PVM_SEL_TSS 0x40

/* A byte written with `outb` to this port is a console byte (from CPL0 or CPL3). */
#define PVM_CONSOLE_PORT 0xe9

/* The vCPU is done when it executes HLT at CPL0 with interrupts disabled. */

#endif /* PVM_BOOT_ABI_H */
