// Minimal leveled logging for the Sentry and runsc, to stderr (or a log fd).
// Debian's abseil (20220623) predates absl/log, hence this small header.
#ifndef SENTRY_BASE_LOG_H_
#define SENTRY_BASE_LOG_H_

#include <string_view>

#include "absl/strings/str_format.h"

namespace sentry {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3, kFatal = 4 };

// Messages below this level are dropped. Default kWarning.
void SetLogLevel(LogLevel level);
LogLevel GetLogLevel();
// Where log lines go (default 2). The fd is owned by the caller.
void SetLogFd(int fd);
int GetLogFd();

void LogLine(LogLevel level, std::string_view file, int line, std::string_view message);
[[noreturn]] void FatalLine(std::string_view file, int line, std::string_view message);

}  // namespace sentry

#define SLOG(level, ...)                                               \
  do {                                                                 \
    if (::sentry::LogLevel::level >= ::sentry::GetLogLevel())          \
      ::sentry::LogLine(::sentry::LogLevel::level, __FILE__, __LINE__, \
                        ::absl::StrFormat(__VA_ARGS__));               \
  } while (0)

// Invariant checks on Sentry state (never on guest input: a guest must not be able
// to trip one). Failing stops the process with the message.
#define SCHECK(cond)                                                              \
  do {                                                                            \
    if (!(cond)) ::sentry::FatalLine(__FILE__, __LINE__, "check failed: " #cond); \
  } while (0)
#define SCHECK_MSG(cond, ...)                                                            \
  do {                                                                                   \
    if (!(cond))                                                                         \
      ::sentry::FatalLine(__FILE__, __LINE__,                                            \
                          "check failed: " #cond ": " + ::absl::StrFormat(__VA_ARGS__)); \
  } while (0)

#endif  // SENTRY_BASE_LOG_H_
