/* Floating-point rounding modes through <fenv.h> (MXCSR and the x87 control word). */
#include <fenv.h>
#include <math.h>
#include <stdio.h>

static const char *name(int m) {
  switch (m) {
    case FE_TONEAREST: return "nearest";
    case FE_DOWNWARD: return "down";
    case FE_UPWARD: return "up";
    case FE_TOWARDZERO: return "zero";
  }
  return "?";
}

int main(void) {
  int modes[] = {FE_TONEAREST, FE_DOWNWARD, FE_UPWARD, FE_TOWARDZERO};
  volatile double x = 2.5, y = -2.5, third = 1.0 / 3.0;
  for (int i = 0; i < 4; i++) {
    if (fesetround(modes[i]) != 0) {
      printf("fesetround failed\n");
      return 1;
    }
    volatile double one = 1.0, three = 3.0;
    double d = one / three;
    volatile long double l = 1.0L;
    long double ld = l / 3.0L;
    printf("%-8s rint(2.5)=%g rint(-2.5)=%g nearbyint(0.5)=%g lrint(3.5)=%ld 1/3=%.20f ld=%.25Lf same=%d mode=%s\n",
           name(modes[i]), rint(x), rint(y), nearbyint(0.5), lrint(3.5), d, ld, d == third, name(fegetround()));
  }
  fesetround(FE_TONEAREST);
  feclearexcept(FE_ALL_EXCEPT);
  volatile double z = 0.0;
  volatile double inf = 1.0 / z;
  printf("divbyzero raised: %d inf=%f\n", fetestexcept(FE_DIVBYZERO) != 0, inf);
  return 0;
}
