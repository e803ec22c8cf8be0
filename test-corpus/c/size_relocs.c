/* R_X86_64_SIZE32 and R_X86_64_SIZE64 (TOOLCHAIN.md's relocation list): `sym@SIZE` in
 * code and in data, against a local object, a global defined in this file, a common
 * symbol and with an addend. The expected output is what GNU ld produces natively. */
#include <stdio.h>

static const char greeting[] = "hello, sizes";
int table[10] = {1};
double grid[3][7];
char pool[4096] __attribute__((common));

extern const unsigned long size64_table[4];
unsigned size32_table(void);
unsigned size32_grid_plus(void);

__asm__(".section .rodata\n"
        ".balign 8\n"
        ".globl size64_table\n"
        "size64_table:\n"
        "  .quad table@SIZE\n"
        "  .quad grid@SIZE\n"
        "  .quad greeting@SIZE + 100\n"
        "  .quad pool@SIZE\n"
        ".text\n"
        ".globl size32_table\n"
        ".type size32_table, @function\n"
        "size32_table:\n"
        "  movl $table@SIZE, %eax\n"
        "  ret\n"
        ".globl size32_grid_plus\n"
        ".type size32_grid_plus, @function\n"
        "size32_grid_plus:\n"
        "  movl $grid@SIZE + 5, %eax\n"
        "  ret\n");

int main(void) {
    printf("SIZE64: %lu %lu %lu %lu\n", size64_table[0], size64_table[1], size64_table[2], size64_table[3]);
    printf("SIZE32: %u %u\n", size32_table(), size32_grid_plus());
    printf("sizeof: %zu %zu %zu %zu\n", sizeof table, sizeof grid, sizeof greeting, sizeof pool);
    printf("%s %d %g %d\n", greeting, table[0], grid[2][6], pool[4095]);
    return 0;
}
