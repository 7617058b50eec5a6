#include "sentry/base/log.h"

#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <string>

namespace sentry {
namespace {

std::atomic<int> g_level{static_cast<int>(LogLevel::kWarning)};
std::atomic<int> g_fd{2};

constexpr char kLevelChar[] = {'D', 'I', 'W', 'E', 'F'};

std::string_view Basename(std::string_view path) {
  auto pos = path.rfind('/');
  return pos == std::string_view::npos ? path : path.substr(pos + 1);
}

}  // namespace

void SetLogLevel(LogLevel level) { g_level.store(static_cast<int>(level)); }
LogLevel GetLogLevel() { return static_cast<LogLevel>(g_level.load(std::memory_order_relaxed)); }
void SetLogFd(int fd) { g_fd.store(fd); }
int GetLogFd() { return g_fd.load(std::memory_order_relaxed); }

void LogLine(LogLevel level, std::string_view file, int line, std::string_view message) {
  // CLOCK_MONOTONIC seconds: the same clock in runsc, the gofer and the
  // Sentry, so that their lines make one timeline (the boot phases are
  // "boot:" lines at debug level; tools/boot_timeline.sh lines them up).
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  std::string out = absl::StrFormat(
      "%c %d.%06d [%d] %s:%d] %s\n", kLevelChar[static_cast<int>(level)], now.tv_sec,
      now.tv_nsec / 1000, syscall(SYS_gettid), Basename(file), line, message);
  // One write per line so that lines from different threads do not interleave.
  [[maybe_unused]] ssize_t n = write(GetLogFd(), out.data(), out.size());
}

void FatalLine(std::string_view file, int line, std::string_view message) {
  LogLine(LogLevel::kFatal, file, line, message);
  abort();
}

}  // namespace sentry
