#pragma once
// Runs /usr/bin/python3 scripts as child processes: read their stdout line by line, wait for
// their exit, and end only the process we started, by its PID.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

namespace netref::test {

class ChildProcess {
 public:
  explicit ChildProcess(std::vector<std::string> argv) {
    int out[2];
    if (pipe(out) != 0) throw std::runtime_error("pipe failed");
    pid_ = fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      dup2(out[1], STDOUT_FILENO);
      dup2(out[1], STDERR_FILENO);
      close(out[0]);
      close(out[1]);
      std::vector<char*> args;
      for (auto& a : argv) args.push_back(a.data());
      args.push_back(nullptr);
      execv(args[0], args.data());
      _exit(127);
    }
    close(out[1]);
    stdout_ = fdopen(out[0], "r");
  }
  ~ChildProcess() {
    if (pid_ > 0 && !reaped_) {
      kill(pid_, SIGTERM);
      waitpid(pid_, nullptr, 0);
    }
    if (stdout_) fclose(stdout_);
  }
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  /// The next line of output (without '\n'); false at EOF.
  bool read_line(std::string& line) {
    line.clear();
    int c;
    while ((c = fgetc(stdout_)) != EOF) {
      if (c == '\n') return true;
      line.push_back(static_cast<char>(c));
    }
    return !line.empty();
  }
  /// Everything left on stdout.
  std::string read_all() {
    std::string all, line;
    while (read_line(line)) all += line + "\n";
    return all;
  }
  /// Waits for exit; returns the exit status (or 128 + signal).
  int wait() {
    int status = 0;
    waitpid(pid_, &status, 0);
    reaped_ = true;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
  bool reaped_ = false;
  FILE* stdout_ = nullptr;
};

/// Reads the child's lines until it says "ready PORT": the port, or 0 when its output ended
/// first (last then holds the last line it printed).
inline std::uint16_t read_ready_port(ChildProcess& child, std::string& last) {
  while (child.read_line(last)) {
    if (last.rfind("ready ", 0) == 0) return static_cast<std::uint16_t>(std::stoi(last.substr(6)));
  }
  return 0;
}

inline std::string interop_script(const char* name) { return std::string(NETREF_SOURCE_DIR) + "/tests/interop/" + name; }

}  // namespace netref::test
