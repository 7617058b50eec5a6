// /dev through the VFS: the device nodes, the memory devices' semantics, the
// links, and device nodes made by mknod on tmpfs reaching the same drivers.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sentry/fsimpl/dev/devfs.h"
#include "sentry/fsimpl/dev/devices.h"
#include "sentry/fsimpl/tmpfs/tmpfs.h"
#include "sentry/vfs/file_description.h"
#include "sentry/vfs/vfs.h"

namespace sentry::fsimpl::dev {
namespace {

using ::testing::ElementsAre;
using ::testing::UnorderedElementsAre;

MATCHER_P(FailsWith, e, "") { return !arg.ok() && arg.error().value() == e; }

class DevTest : public ::testing::Test {
 protected:
  void SetUp() override {
    mf_ = *memory::MemoryFile::Create(uint64_t{1} << 30);
    vfs_ = std::make_unique<vfs::VirtualFilesystem>(tmpfs::TmpfsFilesystem::Create(*mf_));
    ctx_ = {vfs_->Root(), vfs_->Root(), &root_, 022};
    ASSERT_TRUE(vfs_->Mkdir(ctx_, "/dev", 0755).ok());
    ASSERT_TRUE(vfs_->Mkdir(ctx_, "/tmp", 01777).ok());
    auto dev = NewDevtmpfs(*mf_);
    ASSERT_TRUE(dev.ok());
    auto m = vfs_->MountAtPath("/dev", *dev, false);
    ASSERT_TRUE(m.ok());
    dev_mount_ = *m;
  }

  std::shared_ptr<vfs::FileDescription> Open(const std::string& path, int flags) {
    auto fd = vfs_->Open(ctx_, path, flags, 0);
    EXPECT_TRUE(fd.ok()) << path << ": " << ErrnoName(fd.ok() ? 0 : fd.error().value());
    return fd.ok() ? *fd : nullptr;
  }

  static ErrnoOr<size_t> Read(vfs::FileDescription& f, std::string* buf, int64_t off = -1) {
    iovec v{buf->data(), buf->size()};
    return f.Readv(nullptr, {&v, 1}, off);
  }
  static ErrnoOr<size_t> Write(vfs::FileDescription& f, std::string data, int64_t off = -1) {
    iovec v{data.data(), data.size()};
    return f.Writev(nullptr, {&v, 1}, off);
  }

  vfs::AccessCreds root_ = vfs::AccessCreds::Root();
  std::unique_ptr<memory::MemoryFile> mf_;
  std::unique_ptr<vfs::VirtualFilesystem> vfs_;
  vfs::PathContext ctx_;
  std::shared_ptr<vfs::Mount> dev_mount_;
};

TEST_F(DevTest, ListsTheStandardNodesAndLinks) {
  auto dir = Open("/dev", O_RDONLY | O_DIRECTORY);
  std::vector<std::string> names;
  ASSERT_TRUE(dir->IterateDir([&](const vfs::DirEntry& e) {
                   names.emplace_back(e.name);
                   return true;
                 })
                  .ok());
  EXPECT_THAT(names,
              UnorderedElementsAre(".", "..", "null", "zero", "full", "random", "urandom", "tty",
                                   "fd", "stdin", "stdout", "stderr", "shm", "mqueue"));
  EXPECT_EQ(dev_mount_->fs->Name(), "devtmpfs");
}

TEST_F(DevTest, NodesAreWorldWritableCharDevicesWithLinuxNumbers) {
  struct Want {
    const char* name;
    unsigned major, minor;
  };
  for (const Want& w : {Want{"null", 1, 3}, Want{"zero", 1, 5}, Want{"full", 1, 7},
                        Want{"random", 1, 8}, Want{"urandom", 1, 9}, Want{"tty", 5, 0}}) {
    auto vd = vfs_->Resolve(ctx_, std::string("/dev/") + w.name, 0);
    ASSERT_TRUE(vd.ok()) << w.name;
    auto a = vfs_->Stat(*vd);
    ASSERT_TRUE(a.ok());
    EXPECT_EQ(a->mode, S_IFCHR | 0666u) << w.name;
    EXPECT_EQ(a->rdev, makedev(w.major, w.minor)) << w.name;
    EXPECT_EQ(a->uid, 0u);
    EXPECT_EQ(a->size, 0u);
  }
  auto shm = vfs_->Resolve(ctx_, "/dev/shm", 0);
  ASSERT_TRUE(shm.ok());
  EXPECT_TRUE(S_ISDIR(vfs_->Stat(*shm)->mode));
}

TEST_F(DevTest, LinksPointIntoProcSelf) {
  EXPECT_EQ(*vfs_->Readlink(ctx_, "/dev/fd"), "/proc/self/fd");
  EXPECT_EQ(*vfs_->Readlink(ctx_, "/dev/stdin"), "/proc/self/fd/0");
  EXPECT_EQ(*vfs_->Readlink(ctx_, "/dev/stdout"), "/proc/self/fd/1");
  EXPECT_EQ(*vfs_->Readlink(ctx_, "/dev/stderr"), "/proc/self/fd/2");
}

TEST_F(DevTest, NullReadsNothingAndSwallowsWrites) {
  auto f = Open("/dev/null", O_RDWR);
  std::string buf(16, 'x');
  EXPECT_EQ(*Read(*f, &buf), 0u);
  EXPECT_EQ(*Read(*f, &buf, 1000), 0u);
  EXPECT_EQ(buf, std::string(16, 'x'));
  EXPECT_EQ(*Write(*f, "hello"), 5u);
  EXPECT_EQ(*Write(*f, "hello", 1 << 30), 5u);
  EXPECT_TRUE(f->Seekable());
  // null_lseek: 0 whatever is asked, even a negative or huge offset.
  EXPECT_EQ(*f->Seek(100, SEEK_SET), 0);
  EXPECT_EQ(*f->Seek(-100, SEEK_SET), 0);
  EXPECT_EQ(*f->Seek(INT64_MAX, SEEK_CUR), 0);
  EXPECT_EQ(*f->Seek(-5, SEEK_END), 0);
  auto st = f->Stat();
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->st_mode, S_IFCHR | 0666u);
  EXPECT_EQ(st->st_rdev, makedev(1, 3));
  EXPECT_EQ(st->st_dev, dev_mount_->fs->Dev());
}

TEST_F(DevTest, ZeroReadsZerosAndSwallowsWrites) {
  auto f = Open("/dev/zero", O_RDWR);
  std::string buf(10000, 'x');
  EXPECT_EQ(*Read(*f, &buf), 10000u);
  EXPECT_EQ(buf, std::string(10000, '\0'));
  std::string a(3, 'a'), b(5, 'b');
  iovec v[2] = {{a.data(), a.size()}, {b.data(), b.size()}};
  EXPECT_EQ(*f->Readv(nullptr, v, 77), 8u);
  EXPECT_EQ(a + b, std::string(8, '\0'));
  EXPECT_EQ(*Write(*f, "hello"), 5u);
  EXPECT_EQ(*f->Seek(4096, SEEK_SET), 0);
}

TEST_F(DevTest, FullReadsZerosAndRefusesWrites) {
  auto f = Open("/dev/full", O_RDWR);
  std::string buf(100, 'x');
  EXPECT_EQ(*Read(*f, &buf), 100u);
  EXPECT_EQ(buf, std::string(100, '\0'));
  EXPECT_THAT(Write(*f, "hello"), FailsWith(ENOSPC));
  EXPECT_THAT(Write(*f, "hello", 0), FailsWith(ENOSPC));
  EXPECT_EQ(*f->Seek(12, SEEK_CUR), 0);
}

TEST_F(DevTest, RandomAndUrandomGiveFreshBytes) {
  for (const char* path : {"/dev/random", "/dev/urandom"}) {
    auto f = Open(path, O_RDWR);
    std::string a(64, '\0'), b(64, '\0');
    EXPECT_EQ(*Read(*f, &a), 64u);
    EXPECT_EQ(*Read(*f, &b), 64u);
    EXPECT_NE(a, b) << path;
    EXPECT_NE(a, std::string(64, '\0')) << path;
    EXPECT_EQ(*Write(*f, "entropy"), 7u);
    // noop_llseek: the position never moves from 0.
    EXPECT_EQ(*f->Seek(100, SEEK_SET), 0);
  }
}

TEST_F(DevTest, AccessModeIsEnforced) {
  auto r = Open("/dev/zero", O_RDONLY);
  EXPECT_THAT(Write(*r, "x"), FailsWith(EBADF));
  auto w = Open("/dev/zero", O_WRONLY);
  std::string buf(4, 'x');
  EXPECT_THAT(Read(*w, &buf), FailsWith(EBADF));
}

TEST_F(DevTest, TtyWithoutAControllingTerminalIsEnxio) {
  EXPECT_THAT(vfs_->Open(ctx_, "/dev/tty", O_RDWR, 0), FailsWith(ENXIO));
}

TEST_F(DevTest, MknodOnTmpfsReachesTheSameDrivers) {
  ASSERT_TRUE(vfs_->Mknod(ctx_, "/tmp/mynull", S_IFCHR | 0666, makedev(1, 3)).ok());
  auto f = Open("/tmp/mynull", O_RDWR);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(*Write(*f, "abc"), 3u);
  std::string buf(4, 'x');
  EXPECT_EQ(*Read(*f, &buf), 0u);
  auto st = f->Stat();
  EXPECT_EQ(st->st_rdev, makedev(1, 3));
  EXPECT_EQ(st->st_dev, vfs_->Root().inode().fs().Dev());

  ASSERT_TRUE(vfs_->Mknod(ctx_, "/tmp/myfull", S_IFCHR | 0600, makedev(1, 7)).ok());
  auto full = Open("/tmp/myfull", O_WRONLY);
  EXPECT_THAT(Write(*full, "abc"), FailsWith(ENOSPC));
}

TEST_F(DevTest, UnknownDevicesAreEnxio) {
  ASSERT_TRUE(vfs_->Mknod(ctx_, "/tmp/nochr", S_IFCHR | 0666, makedev(1, 200)).ok());
  EXPECT_THAT(vfs_->Open(ctx_, "/tmp/nochr", O_RDWR, 0), FailsWith(ENXIO));
  ASSERT_TRUE(vfs_->Mknod(ctx_, "/tmp/noblk", S_IFBLK | 0666, makedev(8, 0)).ok());
  EXPECT_THAT(vfs_->Open(ctx_, "/tmp/noblk", O_RDONLY, 0), FailsWith(ENXIO));
  // O_PATH never reaches the driver.
  EXPECT_TRUE(vfs_->Open(ctx_, "/tmp/nochr", O_PATH, 0).ok());
}

TEST_F(DevTest, NodevMountRefusesDevices) {
  dev_mount_->nodev = true;
  EXPECT_THAT(vfs_->Open(ctx_, "/dev/null", O_RDWR, 0), FailsWith(EACCES));
}

class CountingDevice : public CharDevice {
 public:
  ErrnoOr<std::shared_ptr<vfs::FileDescription>> Open(const vfs::VirtualDentry&, int) override {
    ++opens;
    return Errno(EIO);
  }
  int opens = 0;
};

TEST(DeviceRegistryTest, RegisterFindAndConflicts) {
  DeviceRegistry& r = DeviceRegistry::Get();
  EXPECT_NE(r.Find(kMemMajor, kNullMinor), nullptr);
  EXPECT_EQ(r.Find(kMemMajor, 250), nullptr);
  auto dev = std::make_shared<CountingDevice>();
  ASSERT_TRUE(r.Register(240, 7, dev).ok());
  EXPECT_THAT(r.Register(240, 7, dev), FailsWith(EBUSY));
  EXPECT_THAT(r.Register(kMemMajor, kNullMinor, dev), FailsWith(EBUSY));
  EXPECT_THAT(OpenCharDevice(makedev(240, 7), {}, O_RDONLY), FailsWith(EIO));
  EXPECT_EQ(dev->opens, 1);
  EXPECT_THAT(OpenCharDevice(makedev(240, 8), {}, O_RDONLY), FailsWith(ENXIO));
  EXPECT_THAT(StandardDevices().size(), 6u);
}

}  // namespace
}  // namespace sentry::fsimpl::dev
