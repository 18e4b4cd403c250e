#pragma once
// The certificates of tests/tls/make_certs.sh, made once per build tree. Each test case is
// its own process under ctest: the script returns at once when they exist and is safe when
// several processes start it together.
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>

#include "netref/stream/tls.hpp"

namespace netref::test {

inline const std::filesystem::path& cert_dir() {
  static const std::filesystem::path dir = [] {
    const std::filesystem::path out = std::filesystem::path(NETREF_BINARY_DIR) / "tls-certs";
    const std::string command = "sh '" NETREF_SOURCE_DIR "/tests/tls/make_certs.sh' '" + out.string() + "'";
    if (std::system(command.c_str()) != 0) throw std::runtime_error("tests/tls/make_certs.sh failed");
    return out;
  }();
  return dir;
}

/// <name>.pem and <name>.key of the script's output ("ca-a", "server-a", "client-alice", ...).
inline Pem cert(const std::string& name) { return Pem::file((cert_dir() / (name + ".pem")).string()); }
inline Pem key(const std::string& name) { return Pem::file((cert_dir() / (name + ".key")).string()); }

}  // namespace netref::test
