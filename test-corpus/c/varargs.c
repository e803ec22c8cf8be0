/* Variadic functions: va_arg of ints, doubles, pointers and structs, va_copy, and
 * vsnprintf. */
#include <stdarg.h>
#include <stdio.h>

struct pair { int a; double b; };

static double sum(int n, ...) {
  va_list ap, ap2;
  va_start(ap, n);
  va_copy(ap2, ap);
  double s = 0;
  for (int i = 0; i < n; i++) s += (i % 2) ? va_arg(ap, double) : va_arg(ap, int);
  double first = va_arg(ap2, int);
  va_end(ap2);
  va_end(ap);
  return s + first / 1000;
}

static struct pair mix(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  struct pair p = {0, 0};
  for (const char *f = fmt; *f; f++) {
    if (*f == 'i') p.a += va_arg(ap, int);
    else if (*f == 'd') p.b += va_arg(ap, double);
    else if (*f == 'p') p.a += *va_arg(ap, int *);
    else if (*f == 's') { struct pair q = va_arg(ap, struct pair); p.a += q.a; p.b += q.b; }
  }
  va_end(ap);
  return p;
}

static int fmt(char *out, size_t n, const char *f, ...) {
  va_list ap;
  va_start(ap, f);
  int r = vsnprintf(out, n, f, ap);
  va_end(ap);
  return r;
}

int main(void) {
  printf("sum %.4f\n", sum(9, 1, 2.5, 3, 4.25, 5, 6.125, 7, 8.0625, 9));
  int x = 40;
  struct pair q = {2, 0.5};
  struct pair p = mix("idpsdi", 1, 1.25, &x, q, 2.0, 100);
  printf("mix %d %.2f\n", p.a, p.b);
  char buf[80];
  int r = fmt(buf, sizeof buf, "%s-%d-%.3f-%c-%lx", "v", 12, 0.125, 'q', 0xabcdefUL);
  printf("fmt %s (%d)\n", buf, r);
  return 0;
}
