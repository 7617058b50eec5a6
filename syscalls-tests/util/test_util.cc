#include "syscalls-tests/util/test_util.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/utsname.h>

#include <cstdio>
#include <string_view>

namespace syscalls_test {

std::string ErrnoName(int e) {
  const char* name = strerrorname_np(e);
  if (name == nullptr) return "errno " + std::to_string(e);
  return std::string(name) + " (" + strerror(e) + ")";
}

bool IsRunningInSandbox() {
  static const bool in_sandbox = [] {
    struct utsname u;
    if (uname(&u) != 0) return false;
    return std::string_view(u.version).ends_with(" sandbox");
  }();
  return in_sandbox;
}

int OvercommitPolicy() {
  FILE* f = fopen("/proc/sys/vm/overcommit_memory", "re");
  if (f == nullptr) return -1;
  int policy = -1;
  if (fscanf(f, "%d", &policy) != 1) policy = -1;
  fclose(f);
  return policy;
}

std::string ReadWholeFile(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "";
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0) out.append(buf, static_cast<size_t>(n));
  close(fd);
  return out;
}

bool HaveCapability(int cap) {
  __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  if (syscall(SYS_capget, &header, data) != 0) return errno == ENOSYS && geteuid() == 0;
  return (data[CAP_TO_INDEX(cap)].effective & CAP_TO_MASK(cap)) != 0;
}

}  // namespace syscalls_test
