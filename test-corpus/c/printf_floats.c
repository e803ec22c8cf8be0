/* printf with doubles and long doubles in every format. */
#include <float.h>
#include <math.h>
#include <stdio.h>

int main(void) {
  double v[] = {0.0, -0.0, 1.0, -1.5, 3.141592653589793, 1e-300, 1e300, 123456.789, 2.0 / 3.0};
  for (unsigned i = 0; i < sizeof v / sizeof v[0]; i++)
    printf("%f %e %g %.17g %a\n", v[i], v[i], v[i], v[i], v[i]);
  printf("%Lf %Le %.20Lg\n", 1.0L / 3.0L, 1e4000L, 2.0L / 7.0L);
  printf("%f %f %f\n", INFINITY, -INFINITY, NAN);
  printf("%.0f %.1f %.2f %10.3f|%-10.3f|\n", 2.5, 0.05, 1.005, -3.14159, 2.71828);
  printf("DBL_MAX %g DBL_MIN %g DBL_EPSILON %g\n", DBL_MAX, DBL_MIN, DBL_EPSILON);
  float f = 0.1f;
  double acc = 0;
  for (int i = 0; i < 100000; i++) acc += f * i;
  printf("accumulated %.6f\n", acc);
  printf("sqrt(2)=%.15f exp(1)=%.15f log(10)=%.15f\n", sqrt(2.0), exp(1.0), log(10.0));
  printf("sin(1)=%.15f cos(1)=%.15f atan2(1,2)=%.15f pow(2,0.5)=%.15f\n", sin(1.0), cos(1.0), atan2(1.0, 2.0),
         pow(2.0, 0.5));
  return 0;
}
