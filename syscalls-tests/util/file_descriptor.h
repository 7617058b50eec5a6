// An owned file descriptor, closed when it goes out of scope.
//
//   FileDescriptor fd(eventfd(0, 0));
//   ASSERT_THAT(fd.get(), SyscallSucceeds());
//
// And the two ends of a pipe: Pipe p = MakePipe(O_NONBLOCK); write(p.w.get(), ...).
#ifndef SYSCALLS_TESTS_UTIL_FILE_DESCRIPTOR_H_
#define SYSCALLS_TESTS_UTIL_FILE_DESCRIPTOR_H_

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "gtest/gtest.h"

namespace syscalls_test {

class FileDescriptor {
 public:
  FileDescriptor() = default;
  // Takes `fd`; a negative value (a failed open) makes an empty descriptor.
  explicit FileDescriptor(int fd) : fd_(fd < 0 ? -1 : fd) {}
  FileDescriptor(FileDescriptor&& other) noexcept : fd_(other.release()) {}
  FileDescriptor& operator=(FileDescriptor&& other) noexcept {
    reset(other.release());
    return *this;
  }
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  ~FileDescriptor() { reset(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  // Gives up ownership.
  int release() { return std::exchange(fd_, -1); }
  // Closes the descriptor held (keeping errno as it was) and takes `fd`.
  void reset(int fd = -1) {
    if (fd_ >= 0) {
      const int saved = errno;
      close(fd_);
      errno = saved;
    }
    fd_ = fd < 0 ? -1 : fd;
  }

 private:
  int fd_ = -1;
};

struct Pipe {
  FileDescriptor r, w;
};

// pipe2(2) with `flags`; a failure fails the test (and leaves both ends empty).
inline Pipe MakePipe(int flags = 0) {
  int fds[2] = {-1, -1};
  EXPECT_EQ(pipe2(fds, flags), 0) << "pipe2: " << strerror(errno);
  return {FileDescriptor(fds[0]), FileDescriptor(fds[1])};
}

}  // namespace syscalls_test

#endif  // SYSCALLS_TESTS_UTIL_FILE_DESCRIPTOR_H_
