/* A switch large and dense enough for a jump table (`jmp *T(,%reg,8)` with -fno-pic),
 * and computed goto (label addresses are indirect-branch targets). */
#include <stdio.h>

__attribute__((noinline)) static int classify(int x) {
  switch (x) {
    case 0: return 11;
    case 1: return 23;
    case 2: return 37;
    case 3: return 41;
    case 4: return 53;
    case 5: return 67;
    case 6: return 71;
    case 7: return 89;
    case 8: return 97;
    case 9: return 101;
    case 10: return 113;
    case 11: return 127;
    case 12: return 131;
    case 13: return 149;
    case 14: return 151;
    case 15: return 163;
    case 16: return x * 3;
    case 17: return x * 5;
    case 19: return x * 7;
    case 20: return -1;
    default: return x;
  }
}

__attribute__((noinline)) static long interp(const unsigned char *code, int n) {
  static void *dispatch[] = {&&op_inc, &&op_dbl, &&op_neg, &&op_end};
  long acc = 0;
  int pc = 0;
  goto *dispatch[code[pc]];
op_inc:
  acc += 1;
  if (++pc < n) goto *dispatch[code[pc]];
  return acc;
op_dbl:
  acc *= 2;
  if (++pc < n) goto *dispatch[code[pc]];
  return acc;
op_neg:
  acc = -acc;
  if (++pc < n) goto *dispatch[code[pc]];
  return acc;
op_end:
  return acc + 1000;
}

int main(void) {
  long sum = 0;
  for (int i = -3; i < 40; i++) {
    int c = classify(i);
    sum += c;
    printf("%d:%d ", i, c);
  }
  printf("\nsum %ld\n", sum);
  unsigned char prog[] = {0, 0, 1, 0, 1, 2, 0, 1, 1, 0, 2, 3};
  printf("interp %ld\n", interp(prog, (int)sizeof prog));
  return 0;
}
