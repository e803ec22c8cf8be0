/* Member of libzvstat.a: statistics, calling back into the vec member. */
double vec_dot(const double *a, const double *b, int n);

double stats_mean(const double *a, int n) {
  double s = 0;
  for (int i = 0; i < n; i++) s += a[i];
  return s / n;
}

double stats_var(const double *a, int n) {
  double m = stats_mean(a, n);
  return vec_dot(a, a, n) / n - m * m;
}
