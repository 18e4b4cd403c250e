// Must compile: the same Point with a cereal serialize travels as a tuple of its fields (the
// control for the cases that must fail: what fails there is the missing conversion alone).
#include <netref/netref.hpp>

struct Point {
  double x = 0;
  double y = 0;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(x, y);
  }
};

int main() {
  netref::Proxy p;
  if (p.is_netref()) p->attr("draw")->call(Point{1, 2}).as<Point>();
}
