#include "sentry/fsimpl/dev/devices.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <linux/random.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <cstring>
#include <vector>

#include "absl/strings/str_format.h"
#include "sentry/base/status_macros.h"
#include "sentry/base/user_addr.h"
#include "sentry/kernel/task.h"

namespace sentry::fsimpl::dev {
namespace {

uint64_t Key(uint32_t major, uint32_t minor) { return (uint64_t{major} << 32) | minor; }

size_t Total(std::span<const iovec> v) {
  size_t n = 0;
  for (const iovec& i : v) n += i.iov_len;
  return n;
}

// What every device description shares: its number, stat from the node it
// was opened through, no ioctls, and Linux's null_lseek (the position is
// always 0, whatever is asked).
class DeviceFD : public vfs::FileDescription {
 public:
  DeviceFD(int flags, uint64_t rdev) : FileDescription(flags), rdev_(rdev) {}

  bool Seekable() const override { return true; }

  ErrnoOr<struct stat> Stat() override {
    if (location().ok()) {
      ASSIGN_OR_RETURN(vfs::Attr a, location().inode().GetAttr());
      return vfs::AttrToStat(a, location().inode().fs().Dev());
    }
    struct stat st = {};
    st.st_mode = S_IFCHR | 0666;
    st.st_rdev = rdev_;
    st.st_nlink = 1;
    st.st_blksize = 4096;
    return st;
  }

  ErrnoOr<uint64_t> Ioctl(kernel::Task&, uint64_t, uint64_t) override { return Errno(ENOTTY); }

  std::string Describe() const override {
    return absl::StrFormat("char:[%d:%d]", major(rdev_), minor(rdev_));
  }

  // null_lseek: "f_pos = 0", returned for any offset and whence.
  ErrnoOr<int64_t> Seek(int64_t, int) override { return int64_t{0}; }

 protected:
  bool CanRead() const { return (status_flags() & O_ACCMODE) != O_WRONLY; }
  bool CanWrite() const { return (status_flags() & O_ACCMODE) != O_RDONLY; }

 private:
  const uint64_t rdev_;
};

// /dev/null: reads see end of file, writes vanish.
class NullFD : public DeviceFD {
 public:
  using DeviceFD::DeviceFD;
  ErrnoOr<size_t> Readv(kernel::Task*, std::span<const iovec>, int64_t) override {
    if (!CanRead()) return Errno(EBADF);
    return size_t{0};
  }
  ErrnoOr<size_t> Writev(kernel::Task*, std::span<const iovec> src, int64_t) override {
    if (!CanWrite()) return Errno(EBADF);
    return Total(src);
  }
};

void FillZero(std::span<const iovec> dst) {
  for (const iovec& v : dst) std::memset(v.iov_base, 0, v.iov_len);
}

// /dev/zero: reads see zeros, writes vanish.
class ZeroFD : public DeviceFD {
 public:
  using DeviceFD::DeviceFD;
  ErrnoOr<size_t> Readv(kernel::Task*, std::span<const iovec> dst, int64_t) override {
    if (!CanRead()) return Errno(EBADF);
    FillZero(dst);
    return Total(dst);
  }
  ErrnoOr<size_t> Writev(kernel::Task*, std::span<const iovec> src, int64_t) override {
    if (!CanWrite()) return Errno(EBADF);
    return Total(src);
  }
};

// /dev/full: reads see zeros, every write is ENOSPC.
class FullFD : public DeviceFD {
 public:
  using DeviceFD::DeviceFD;
  ErrnoOr<size_t> Readv(kernel::Task*, std::span<const iovec> dst, int64_t) override {
    if (!CanRead()) return Errno(EBADF);
    FillZero(dst);
    return Total(dst);
  }
  ErrnoOr<size_t> Writev(kernel::Task*, std::span<const iovec>, int64_t) override {
    if (!CanWrite()) return Errno(EBADF);
    return Errno(ENOSPC);
  }
};

// /dev/random and /dev/urandom (Linux 5.18+: the same pool, and /dev/random
// only waits until it is initialized). The bytes come from the Sentry's own
// getrandom(2), which blocks only while the host's pool is not initialized
// at early host boot. Writes are accepted and discarded: Linux mixes them in
// without crediting entropy, which no reader can observe.
class RandomFD : public DeviceFD {
 public:
  using DeviceFD::DeviceFD;
  ErrnoOr<size_t> Readv(kernel::Task*, std::span<const iovec> dst, int64_t) override {
    if (!CanRead()) return Errno(EBADF);
    size_t done = 0;
    for (const iovec& v : dst) {
      for (size_t off = 0; off < v.iov_len;) {
        ssize_t got = ::getrandom(static_cast<uint8_t*>(v.iov_base) + off, v.iov_len - off, 0);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) return done ? ErrnoOr<size_t>(done) : Errno(EIO);
        off += static_cast<size_t>(got);
        done += static_cast<size_t>(got);
      }
    }
    return done;
  }
  ErrnoOr<size_t> Writev(kernel::Task*, std::span<const iovec> src, int64_t) override {
    if (!CanWrite()) return Errno(EBADF);
    return Total(src);
  }

  // random_ioctl (Linux 6.1). The pool is always initialized here, so
  // crediting entropy and reseeding have nothing to change.
  ErrnoOr<uint64_t> Ioctl(kernel::Task& t, uint64_t cmd, uint64_t arg) override {
    const UserAddr p(arg);
    switch (cmd) {
      case RNDGETENTCNT: {
        const int count = 256;  // POOL_READY_BITS: an initialized pool
        RETURN_IF_ERROR(t.mm().CopyOutObj(UserPtr<int>(p), count));
        return 0;
      }
      case RNDADDTOENTCNT: {
        if (!t.creds().HasCapability(CAP_SYS_ADMIN)) return Errno(EPERM);
        int count;
        RETURN_IF_ERROR(t.mm().CopyInObj(UserPtr<int>(p), &count));
        if (count < 0) return Errno(EINVAL);
        return 0;
      }
      case RNDADDENTROPY: {
        if (!t.creds().HasCapability(CAP_SYS_ADMIN)) return Errno(EPERM);
        int hdr[2];  // entropy_count, buf_size
        RETURN_IF_ERROR(t.mm().CopyInObj(UserPtr<int>(p), &hdr[0]));
        if (hdr[0] < 0) return Errno(EINVAL);
        RETURN_IF_ERROR(t.mm().CopyInObj(UserPtr<int>(p + sizeof(int)), &hdr[1]));
        // The buffer must be readable (Linux copies it into the pool).
        const size_t len = static_cast<size_t>(static_cast<unsigned>(hdr[1]));
        const UserAddr buf = p + 2 * sizeof(int);
        if (!AccessOk(buf.value(), len)) return Errno(EFAULT);
        std::vector<uint8_t> scratch(std::min<size_t>(len, 64 << 10));
        for (size_t off = 0; off < len; off += scratch.size()) {
          const size_t n = std::min(scratch.size(), len - off);
          if (!t.mm().CopyIn(buf + off, {scratch.data(), n}).ok()) return Errno(EFAULT);
        }
        return 0;
      }
      case RNDZAPENTCNT:
      case RNDCLEARPOOL:
      case RNDRESEEDCRNG:
        if (!t.creds().HasCapability(CAP_SYS_ADMIN)) return Errno(EPERM);
        return 0;
      default:
        return Errno(EINVAL);
    }
  }
};

template <typename FD>
class MemDevice : public CharDevice {
 public:
  explicit MemDevice(uint32_t minor) : rdev_(makedev(kMemMajor, minor)) {}
  ErrnoOr<std::shared_ptr<vfs::FileDescription>> Open(const vfs::VirtualDentry&,
                                                      int flags) override {
    return std::shared_ptr<vfs::FileDescription>(std::make_shared<FD>(flags, rdev_));
  }

 private:
  const uint64_t rdev_;
};

// /dev/tty: the controlling terminal of the opener, through the kernel's
// opener; ENXIO for a process without one, as Linux's tty_open.
absl::Mutex tty_opener_mu(absl::kConstInit);
ControllingTtyOpener* tty_opener ABSL_GUARDED_BY(tty_opener_mu) = nullptr;

class TtyDevice : public CharDevice {
 public:
  ErrnoOr<std::shared_ptr<vfs::FileDescription>> Open(const vfs::VirtualDentry&,
                                                      int flags) override {
    ControllingTtyOpener opener;
    {
      absl::MutexLock l(&tty_opener_mu);
      if (tty_opener != nullptr) opener = *tty_opener;
    }
    if (!opener) return Errno(ENXIO);
    return opener(flags);
  }
};

void RegisterBuiltins(DeviceRegistry& r) {
  (void)r.Register(kMemMajor, kNullMinor, std::make_shared<MemDevice<NullFD>>(kNullMinor));
  (void)r.Register(kMemMajor, kZeroMinor, std::make_shared<MemDevice<ZeroFD>>(kZeroMinor));
  (void)r.Register(kMemMajor, kFullMinor, std::make_shared<MemDevice<FullFD>>(kFullMinor));
  (void)r.Register(kMemMajor, kRandomMinor, std::make_shared<MemDevice<RandomFD>>(kRandomMinor));
  (void)r.Register(kMemMajor, kUrandomMinor, std::make_shared<MemDevice<RandomFD>>(kUrandomMinor));
  (void)r.Register(kTtyAuxMajor, kTtyMinor, std::make_shared<TtyDevice>());
}

}  // namespace

void SetControllingTtyOpener(ControllingTtyOpener opener) {
  absl::MutexLock l(&tty_opener_mu);
  delete tty_opener;
  tty_opener = new ControllingTtyOpener(std::move(opener));
}

DeviceRegistry& DeviceRegistry::Get() {
  static DeviceRegistry* const registry = [] {
    auto* r = new DeviceRegistry;
    RegisterBuiltins(*r);
    return r;
  }();
  return *registry;
}

ErrnoOrOk DeviceRegistry::Register(uint32_t major, uint32_t minor,
                                   std::shared_ptr<CharDevice> dev) {
  absl::MutexLock l(&mu_);
  if (!devices_.emplace(Key(major, minor), std::move(dev)).second) return Errno(EBUSY);
  return Ok();
}

std::shared_ptr<CharDevice> DeviceRegistry::Find(uint32_t major, uint32_t minor) const {
  absl::MutexLock l(&mu_);
  auto it = devices_.find(Key(major, minor));
  return it == devices_.end() ? nullptr : it->second;
}

ErrnoOr<std::shared_ptr<vfs::FileDescription>> OpenCharDevice(uint64_t rdev,
                                                              const vfs::VirtualDentry& vd,
                                                              int flags) {
  std::shared_ptr<CharDevice> dev = DeviceRegistry::Get().Find(major(rdev), minor(rdev));
  if (dev == nullptr) return Errno(ENXIO);
  return dev->Open(vd, flags);
}

const std::vector<StandardDevice>& StandardDevices() {
  static const std::vector<StandardDevice> kDevices = {
      {"null", kMemMajor, kNullMinor, 0666},       {"zero", kMemMajor, kZeroMinor, 0666},
      {"full", kMemMajor, kFullMinor, 0666},       {"random", kMemMajor, kRandomMinor, 0666},
      {"urandom", kMemMajor, kUrandomMinor, 0666}, {"tty", kTtyAuxMajor, kTtyMinor, 0666},
  };
  return kDevices;
}

}  // namespace sentry::fsimpl::dev
