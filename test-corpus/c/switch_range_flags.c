/* gcc keeps the flags of a switch's range check (`cmp $10,%esi; ja default`) live across
 * the jump-table dispatch: the cases for S8 and S10 share a block that starts with
 * `cmove` on `s == S10`, i.e. on the flags of that same `cmp`. Between the comparison and
 * `jmp *T(,%rsi,8)` stand the `ja` and `mov %esi,%esi` (the index zero-extended). zvld's
 * flag replay (zvld/src/flags.rs) stopped its search for the comparison at the `ja` and
 * counted `mov %esi,%esi` as changing the compared value, so the link failed with "no
 * comparison to replay was found". Found in gnulib's quotearg (diffutils, gzip, ...).
 *
 * range_pick (below, in assembly, as gcc emits quotearg_buffer_restyled) adds the form
 * where the range check's `ja` goes to the function's cold part in `.text.unlikely`: a
 * relocated branch whose encoded displacement (the addend, 0) zvld took for a branch to
 * the next instruction, so "another path joins between the comparison and the jump".
 */
#include <stdio.h>
#include <string.h>
enum style { S0, S1, S2, S3, S4, S5, S6, S7, S8, S9, S10 };
__attribute__((noinline)) static size_t quote(char *buf, size_t n, const char *arg, enum style s, int flags) {
  size_t len = 0;
  const char *open = "", *close = "";
  int backslash = 0;
  switch (s) {
    case S8:
    case S10:
      if (s == S10) { open = "<"; close = ">"; } else { open = "`"; close = "'"; }
      backslash = flags & 1;
      break;
    case S0: open = "\""; close = "\""; break;
    case S1: backslash = 1; break;
    case S2: open = "'"; close = "'"; break;
    case S3: open = "$'"; close = "'"; backslash = 1; break;
    case S4: backslash = flags & 2; break;
    case S5: open = "["; close = "]"; break;
    case S6: open = "{"; close = "}"; backslash = 1; break;
    case S7: open = "("; close = ")"; break;
    case S9: open = "|"; close = "|"; break;
    default: return (size_t)-1;
  }
  len = snprintf(buf, n, "%s%s%s%s", open, backslash ? "\\" : "", arg, close);
  return len;
}
/* range_pick(s): 10, 11, 20 (s == 2), 30 (s == 3), -1 (s > 3, unsigned). The case for 2
 * and 3 reads ZF from `cmp $3,%edi` above the dispatch. */
int range_pick(unsigned s);
__asm__(
    "  .text\n"
    "  .globl range_pick\n"
    "  .type range_pick, @function\n"
    "range_pick:\n"
    "  cmp $3, %edi\n"
    "  ja .Lrange_pick_cold\n"
    "  mov %edi, %edi\n"
    "  jmp *.Lrange_pick_table(,%rdi,8)\n"
    ".Lrange_pick_0:\n"
    "  mov $10, %eax\n"
    "  ret\n"
    ".Lrange_pick_1:\n"
    "  mov $11, %eax\n"
    "  ret\n"
    ".Lrange_pick_23:\n"
    "  mov $20, %eax\n"
    "  mov $30, %ecx\n"
    "  cmove %ecx, %eax\n"
    "  ret\n"
    "  .size range_pick, .-range_pick\n"
    "  .section .text.unlikely,\"ax\",@progbits\n"
    "  .type range_pick.cold, @function\n"
    "range_pick.cold:\n"
    ".Lrange_pick_cold:\n"
    "  mov $-1, %eax\n"
    "  ret\n"
    "  .size range_pick.cold, .-range_pick.cold\n"
    "  .section .rodata\n"
    "  .p2align 3\n"
    ".Lrange_pick_table:\n"
    "  .quad .Lrange_pick_0, .Lrange_pick_1, .Lrange_pick_23, .Lrange_pick_23\n"
    "  .text\n");

int main(void) {
  for (unsigned s = 0; s < 6; s++) printf("range_pick(%u) = %d\n", s, range_pick(s));
  char b[64];
  for (int s = -1; s <= 11; s++)
    for (int f = 0; f < 4; f++) {
      size_t r = quote(b, sizeof b, "x y", (enum style)s, f);
      printf("%d %d %zd %s\n", s, f, (ssize_t)r, r == (size_t)-1 ? "-" : b);
    }
  return 0;
}
