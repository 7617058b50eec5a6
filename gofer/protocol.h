// Limits and framing shared by the gofer server and client. The messages are in
// gofer/proto/gofer.proto; see gofer/README.md for the protocol.
#ifndef GOFER_PROTOCOL_H_
#define GOFER_PROTOCOL_H_

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <utility>

namespace gofer {

// The largest request or response, in bytes (one SOCK_SEQPACKET message).
inline constexpr size_t kMaxMessageSize = 128 * 1024;
// Components in one Walk request.
inline constexpr size_t kMaxWalkComponents = 256;
// Budget of one Getdents reply (each entry costs 24 bytes plus its name, like a
// struct linux_dirent64 without padding).
inline constexpr size_t kMaxGetdentsBytes = 64 * 1024;
// Linux's NAME_MAX, PATH_MAX - 1 (a symlink's contents) and XATTR_*_MAX.
inline constexpr size_t kMaxNameLength = 255;
inline constexpr size_t kMaxSymlinkTarget = 4095;
inline constexpr size_t kMaxXattrValue = 65536;
inline constexpr size_t kMaxXattrList = 65536;
// Handles one connection may hold open at once (each is one host O_PATH fd, and
// a directory handle may cache one more fd for Getdents).
inline constexpr size_t kDefaultMaxHandles = 65536;

// An owned host fd, closed on destruction.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& o) noexcept : fd_(o.release()) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept {
    if (this != &o) reset(o.release());
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int release() { return std::exchange(fd_, -1); }
  void reset(int fd = -1) {
    if (fd_ >= 0) close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

}  // namespace gofer

#endif  // GOFER_PROTOCOL_H_
