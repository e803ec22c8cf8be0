/* Member of libzvstat.a: vector helpers. */
double vec_dot(const double *a, const double *b, int n) {
  double s = 0;
  for (int i = 0; i < n; i++) s += a[i] * b[i];
  return s;
}
double vec_unused(double x) { return x * 2; }
