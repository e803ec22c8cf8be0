/* Links against a static library built with `ar rcs` from vec.c and stats.c (the
 * test builds libzvstat.a and links with -L. -lzvstat); only the members that resolve
 * a symbol are pulled in. */
#include <stdio.h>

double vec_dot(const double *a, const double *b, int n);
double stats_mean(const double *a, int n);
double stats_var(const double *a, int n);

int main(void) {
  double a[6] = {1, 2, 3, 4, 5, 6}, b[6] = {6, 5, 4, 3, 2, 1};
  printf("dot %.1f mean %.3f var %.3f\n", vec_dot(a, b, 6), stats_mean(a, 6), stats_var(b, 6));
  return 0;
}
