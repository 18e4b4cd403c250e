// Must not compile: Point has no Converter, no cereal serialize, and a Proxy has no Registry
// to lend it through. The test expects the error to name Point and the three ways to fix it.
#include <netref/netref.hpp>

struct Point {
  double x = 0;
  double y = 0;
};

int main() {
  netref::Proxy p;
  p->attr("draw")->call(Point{1, 2});
}
