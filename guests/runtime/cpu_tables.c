/* Descriptor tables: a GDT and a 64-bit TSS per vCPU, one IDT shared by all.
 *
 * Per vCPU because LTR marks the TSS descriptor busy in the GDT (a second vCPU
 * loading the same descriptor would fault) and because each vCPU needs its own
 * TSS.RSP0. The IDT is the same for every vCPU, so one table is built once.
 *
 * All TSSs share one all-zero I/O permission bitmap placed after them: the
 * bitmap's position is a 16-bit offset from each TSS's base, so every TSS can
 * point at the same bytes. A zero bit allows the port; kvm-pvm checks this
 * bitmap for CPL3 port I/O (without it a CPL3 `out` to the console raises #GP
 * in the guest instead of exiting to the VMM). Sharing keeps the image small
 * (8 KiB instead of 8 KiB per vCPU).
 */
#include "runtime_internal.h"

/* Segment descriptor bits (Intel SDM vol. 3, 3.4.5). */
#define DESC_ACCESSED (1ull << 40) /* preset, so loading never writes the GDT */
#define DESC_RW (1ull << 41)       /* readable code / writable data */
#define DESC_CODE (1ull << 43)
#define DESC_S (1ull << 44) /* code or data, not a system descriptor */
#define DESC_DPL(dpl) ((uint64_t)(dpl) << 45)
#define DESC_P (1ull << 47)
#define DESC_L (1ull << 53) /* 64-bit code */
#define DESC_DB (1ull << 54)
#define DESC_G (1ull << 55)
#define DESC_LIMIT_4G (0xffffull | (0xfull << 48))

#define CODE64(dpl)                                                          \
  (DESC_LIMIT_4G | DESC_ACCESSED | DESC_RW | DESC_CODE | DESC_S |            \
   DESC_DPL(dpl) | DESC_P | DESC_L | DESC_G)
#define DATA(dpl)                                                            \
  (DESC_LIMIT_4G | DESC_ACCESSED | DESC_RW | DESC_S | DESC_DPL(dpl) |        \
   DESC_P | DESC_DB | DESC_G)

#define SYS_TYPE_TSS64_AVAILABLE 0x9
#define GATE_TYPE_INTERRUPT64 0xe /* clears IF on entry */

#define GDT_ENTRIES (PVM_SEL_TSS / 8 + 2) /* the TSS descriptor takes 2 slots */
#define IDT_ENTRIES (PVM_SERVICE_VECTOR + 1)
#define IO_BITMAP_BYTES (65536 / 8)

struct tss64 {
  uint32_t reserved0;
  uint64_t rsp[3]; /* stack for a trap from a less privileged level */
  uint64_t reserved1;
  uint64_t ist[7];
  uint64_t reserved2;
  uint16_t reserved3;
  uint16_t io_bitmap_offset; /* from the TSS base */
} __attribute__((packed));
_Static_assert(sizeof(struct tss64) == 104, "64-bit TSS is 104 bytes");

struct idt_gate {
  uint16_t offset_low;
  uint16_t selector;
  uint8_t ist;
  uint8_t type_dpl_present;
  uint16_t offset_mid;
  uint32_t offset_high;
  uint32_t reserved;
};
_Static_assert(sizeof(struct idt_gate) == 16, "64-bit IDT gate is 16 bytes");

struct cpu_tables {
  uint64_t gdt[GDT_ENTRIES];
  struct tss64 tss;
} __attribute__((aligned(16)));

static struct {
  struct cpu_tables cpu[PVM_MAX_VCPUS];
  /* Shared by every TSS; the byte after the bitmap must be all ones. */
  uint8_t io_bitmap[IO_BITMAP_BYTES + 1];
} tables = {.io_bitmap = {[IO_BITMAP_BYTES] = 0xff}};
_Static_assert(sizeof(tables.cpu) <= 0xffff,
               "every TSS must reach the I/O bitmap with a 16-bit offset");

static struct idt_gate idt[IDT_ENTRIES];

/* 0: not built, 1: being built, 2: ready. */
static uint32_t idt_state;

static struct idt_gate make_gate(uint64_t handler, unsigned dpl) {
  return (struct idt_gate){
      .offset_low = (uint16_t)handler,
      .selector = PVM_SEL_KERNEL_CS,
      .ist = 0,
      .type_dpl_present =
          (uint8_t)(GATE_TYPE_INTERRUPT64 | (dpl << 5) | 0x80),
      .offset_mid = (uint16_t)(handler >> 16),
      .offset_high = (uint32_t)(handler >> 32),
  };
}

/* #DB, #BP and #OF may be raised by CPL3 code itself (INT1, INT3, INTO), and
 * the service gate exists for it: DPL 3. The other exceptions only come from
 * the CPU: DPL 0. Vectors 32..0x7f stay not present. */
static void idt_build(void) {
  for (unsigned v = 0; v < 32; v++) {
    unsigned dpl = (v == 1 || v == 3 || v == 4) ? 3 : 0;
    idt[v] = make_gate(pvm_exception_entries[v], dpl);
  }
  idt[PVM_SERVICE_VECTOR] = make_gate((uint64_t)pvm_service_entry, 3);
}

/* The first vCPU to arrive builds the IDT; the others wait until it is ready,
 * so no vCPU loads a half-built table. */
static void idt_build_once(void) {
  uint32_t expected = 0;
  if (__atomic_compare_exchange_n(&idt_state, &expected, 1, 0,
                                  __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) {
    idt_build();
    __atomic_store_n(&idt_state, 2, __ATOMIC_RELEASE);
    return;
  }
  while (__atomic_load_n(&idt_state, __ATOMIC_ACQUIRE) != 2)
    __builtin_ia32_pause();
}

static void tss_descriptor(uint64_t *slot, uint64_t base, uint32_t limit) {
  slot[0] = (limit & 0xffff) | ((base & 0xffffff) << 16) |
            ((uint64_t)SYS_TYPE_TSS64_AVAILABLE << 40) | DESC_P |
            ((uint64_t)(limit >> 16 & 0xf) << 48) |
            ((base >> 24 & 0xff) << 56);
  slot[1] = base >> 32;
}

void pvm_cpu_tables_init(uint64_t vcpu_id) {
  struct cpu_tables *t = &tables.cpu[vcpu_id];

  /* Same kernel selectors as the VMM's boot GDT; user selectors as the boot
   * ABI fixes them. Unlisted slots stay null. */
  t->gdt[PVM_SEL_KERNEL_CS / 8] = CODE64(0);
  t->gdt[PVM_SEL_KERNEL_DS / 8] = DATA(0);
  t->gdt[PVM_SEL_USER_DS / 8] = DATA(3);
  t->gdt[PVM_SEL_USER_CS / 8] = CODE64(3);

  uint64_t tss_base = (uint64_t)&t->tss;
  uint64_t bitmap_offset = (uint64_t)tables.io_bitmap - tss_base;
  t->tss.rsp[0] = PVM_BOOT_STACK_TOP(pvm_mem_size, vcpu_id);
  t->tss.io_bitmap_offset = (uint16_t)bitmap_offset;
  /* The limit covers the bitmap and its all-ones end byte. */
  tss_descriptor(&t->gdt[PVM_SEL_TSS / 8], tss_base,
                 (uint32_t)(bitmap_offset + IO_BITMAP_BYTES));

  idt_build_once();

  struct pvm_desc_ptr gdtr = {.limit = sizeof(t->gdt) - 1,
                              .base = (uint64_t)t->gdt};
  struct pvm_desc_ptr idtr = {.limit = sizeof(idt) - 1, .base = (uint64_t)idt};
  pvm_load_cpu_tables(&gdtr, &idtr);
}
