/* `__ehdr_start`, the linker-defined address of the ELF header: the program reads its
 * own ELF header and program headers through it, and checks them against what the
 * loader put in the auxiliary vector (AT_PHDR, AT_PHNUM). zvld maps the headers at the
 * start of the read-only segment when the symbol is referenced; GNU ld (the native
 * build) maps them at the start of the first segment. Only facts both links share are
 * printed; zvld's integration tests compare the header fields with the nexe file. */
#include <elf.h>
#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>

extern const Elf64_Ehdr __ehdr_start;

int main(void) {
  const Elf64_Ehdr *h = &__ehdr_start;
  printf("magic %02x %c%c%c class %d data %d type %u machine %u ehsize %u phentsize %u\n", h->e_ident[EI_MAG0],
         h->e_ident[EI_MAG1], h->e_ident[EI_MAG2], h->e_ident[EI_MAG3], h->e_ident[EI_CLASS], h->e_ident[EI_DATA],
         h->e_type, h->e_machine, h->e_ehsize, h->e_phentsize);
  const Elf64_Phdr *ph = (const Elf64_Phdr *)((const char *)h + h->e_phoff);
  const Elf64_Phdr *aux = (const Elf64_Phdr *)getauxval(AT_PHDR);
  printf("phnum matches AT_PHNUM: %d\n", h->e_phnum == getauxval(AT_PHNUM));
  printf("program headers match AT_PHDR: %d\n", aux && memcmp(aux, ph, h->e_phnum * sizeof *ph) == 0);
  int loads = 0, covering = 0;
  for (int i = 0; i < h->e_phnum; i++) {
    if (ph[i].p_type != PT_LOAD) continue;
    loads++;
    if (ph[i].p_vaddr <= (Elf64_Addr)h && (Elf64_Addr)h + h->e_ehsize <= ph[i].p_vaddr + ph[i].p_filesz)
      covering += ph[i].p_offset == 0 && ph[i].p_vaddr == (Elf64_Addr)h && !(ph[i].p_flags & (PF_W | PF_X));
  }
  printf("PT_LOAD segments: %s; one maps the headers read-only from file offset 0: %d\n",
         loads >= 2 ? "several" : "one", covering);
  return 0;
}
