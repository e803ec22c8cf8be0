/* strtol/strtod/sscanf/atoi: number parsing and conversion round trips. */
#include <stdio.h>
#include <stdlib.h>

int main(void) {
  const char *ints[] = {"0", "-17", "0x7fffffff", "0777", "  +42xyz", "9223372036854775807"};
  for (int i = 0; i < 6; i++) {
    char *end;
    long v = strtol(ints[i], &end, 0);
    printf("strtol(%s) = %ld rest '%s'\n", ints[i], v, end);
  }
  const char *dbls[] = {"3.25", "-1e-5", "6.02214076e23", "0x1.8p1", "inf", "1e400"};
  for (int i = 0; i < 6; i++) printf("strtod(%s) = %.17g\n", dbls[i], strtod(dbls[i], NULL));
  int a, b;
  double d;
  char word[16];
  int n = sscanf("12 -34 5.5 bundle", "%d %d %lf %15s", &a, &b, &d, word);
  printf("sscanf %d: %d %d %.2f %s\n", n, a, b, d, word);
  char buf[64];
  double back;
  snprintf(buf, sizeof buf, "%.17g", 0.1 + 0.2);
  sscanf(buf, "%lf", &back);
  printf("round trip %s exact %d atoi %d\n", buf, back == 0.1 + 0.2, atoi("-2048"));
  return 0;
}
