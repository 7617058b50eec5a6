// An owned file descriptor, closed when it goes out of scope.
//
//   FileDescriptor fd(eventfd(0, 0));
//   ASSERT_THAT(fd.get(), SyscallSucceeds());
#ifndef SYSCALLS_TESTS_UTIL_FILE_DESCRIPTOR_H_
#define SYSCALLS_TESTS_UTIL_FILE_DESCRIPTOR_H_

#include <unistd.h>

#include <cerrno>
#include <utility>

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

}  // namespace syscalls_test

#endif  // SYSCALLS_TESTS_UTIL_FILE_DESCRIPTOR_H_
