// The subproject consumer: netref's stream layer alone, so that the test builds little of
// netref. A memory stream pair carries three bytes; the generated version header is found.
#include <netref/stream/memory_stream.hpp>
#include <netref/version.hpp>

#include <array>
#include <cstdint>
#include <iostream>
#include <span>

int main() {
  auto [writer, reader] = netref::make_memory_pair();
  const std::array<std::uint8_t, 3> sent{1, 2, 3};
  writer->write_all(std::span<const std::uint8_t>(sent));
  std::array<std::uint8_t, 3> got{};
  reader->read_exact(got);
  std::cout << "subproject consumer (netref " << netref::version() << "): "
            << (got == sent ? "the bytes arrived" : "the bytes differ") << "\n";
  return got == sent ? 0 : 1;
}
