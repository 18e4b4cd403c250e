// Must not compile: reading a Point a call returned, when Point has no conversion.
#include <netref/netref.hpp>

struct Point {
  double x = 0;
  double y = 0;
};

int main() {
  netref::Proxy p;
  return static_cast<int>(p->attr("origin")->call().as<Point>().x);
}
