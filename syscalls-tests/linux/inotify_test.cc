// inotify(7): inotify_init1, inotify_add_watch, inotify_rm_watch, the events
// file operations raise (with names, cookies, IN_ISDIR, IN_IGNORED), the
// watch flags, coalescing, FIONREAD, poll/epoll readiness and the errors.
#include <fcntl.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "syscalls-tests/util/file_descriptor.h"
#include "syscalls-tests/util/forked_child.h"
#include "syscalls-tests/util/syscall_matchers.h"
#include "syscalls-tests/util/temp_dir.h"
#include "syscalls-tests/util/test_util.h"

namespace syscalls_test {
namespace {

#ifndef IN_MASK_CREATE
#define IN_MASK_CREATE 0x10000000
#endif

struct Ev {
  int wd;
  uint32_t mask;
  uint32_t cookie;
  std::string name;
  bool operator==(const Ev& o) const { return wd == o.wd && mask == o.mask && name == o.name; }
};

std::ostream& operator<<(std::ostream& os, const Ev& e) {
  return os << "{wd " << e.wd << " mask 0x" << std::hex << e.mask << std::dec << " cookie "
            << e.cookie << " \"" << e.name << "\"}";
}

// Every event queued now (the fd is non-blocking).
std::vector<Ev> Drain(int fd) {
  std::vector<Ev> out;
  alignas(struct inotify_event) char buf[8192];
  for (;;) {
    const ssize_t n = read(fd, buf, sizeof(buf));
    if (n <= 0) break;
    for (ssize_t at = 0; at < n;) {
      const auto* e = reinterpret_cast<const struct inotify_event*>(buf + at);
      out.push_back({e->wd, e->mask, e->cookie, e->len ? std::string(e->name) : ""});
      at += sizeof(*e) + e->len;
    }
  }
  return out;
}

int InQueue(int fd) {
  int n = -1;
  ioctl(fd, FIONREAD, &n);
  return n;
}

class InotifyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(dir_.ok());
    fd_ = FileDescriptor(inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
    ASSERT_TRUE(fd_.valid());
  }
  int Watch(const std::string& path, uint32_t mask) {
    return inotify_add_watch(fd_.get(), path.c_str(), mask);
  }
  TempDir dir_;
  FileDescriptor fd_;
};

// --- the instance ---

TEST(InotifyInitTest, Flags) {
  FileDescriptor a(inotify_init1(IN_CLOEXEC));
  ASSERT_TRUE(a.valid());
  EXPECT_EQ(fcntl(a.get(), F_GETFD), FD_CLOEXEC);
  EXPECT_EQ(fcntl(a.get(), F_GETFL) & O_NONBLOCK, 0);
  FileDescriptor b(inotify_init1(IN_NONBLOCK));
  ASSERT_TRUE(b.valid());
  EXPECT_NE(fcntl(b.get(), F_GETFL) & O_NONBLOCK, 0);
  EXPECT_EQ(fcntl(b.get(), F_GETFD), 0);
  FileDescriptor c(syscall(SYS_inotify_init));
  EXPECT_TRUE(c.valid());
}

TEST(InotifyInitTest, BadFlagsAreEinval) {
  EXPECT_THAT(inotify_init1(0x1), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(inotify_init1(O_RDWR), SyscallFailsWithErrno(EINVAL));
}

TEST(InotifyInitTest, EmptyNonblockingReadIsEagain) {
  FileDescriptor a(inotify_init1(IN_NONBLOCK));
  char buf[64];
  EXPECT_THAT(read(a.get(), buf, sizeof(buf)), SyscallFailsWithErrno(EAGAIN));
  EXPECT_EQ(InQueue(a.get()), 0);
}

// The instance is opened read-only.
TEST(InotifyInitTest, WriteIsEbadf) {
  FileDescriptor a(inotify_init1(IN_NONBLOCK));
  EXPECT_THAT(write(a.get(), "x", 1), SyscallFailsWithErrno(EBADF));
  EXPECT_EQ(fcntl(a.get(), F_GETFL) & O_ACCMODE, O_RDONLY);
}

// noop_llseek: the position stays 0.
TEST(InotifyInitTest, LseekIsANoop) {
  FileDescriptor a(inotify_init1(IN_NONBLOCK));
  EXPECT_THAT(lseek(a.get(), 10, SEEK_SET), SyscallSucceedsWithValue(0));
}

// --- inotify_add_watch / inotify_rm_watch errors ---

TEST_F(InotifyTest, ZeroMaskIsEinval) {
  EXPECT_THAT(Watch(dir_.path(), 0), SyscallFailsWithErrno(EINVAL));
}

TEST_F(InotifyTest, MaskAddWithMaskCreateIsEinval) {
  EXPECT_THAT(Watch(dir_.path(), IN_CREATE | IN_MASK_ADD | IN_MASK_CREATE),
              SyscallFailsWithErrno(EINVAL));
}

TEST_F(InotifyTest, AddWatchBadFdIsEbadf) {
  EXPECT_THAT(inotify_add_watch(-1, dir_.path().c_str(), IN_CREATE), SyscallFailsWithErrno(EBADF));
}

TEST_F(InotifyTest, AddWatchOnANonInotifyFdIsEinval) {
  FileDescriptor d(open(dir_.path().c_str(), O_RDONLY | O_CLOEXEC));
  EXPECT_THAT(inotify_add_watch(d.get(), dir_.path().c_str(), IN_CREATE),
              SyscallFailsWithErrno(EINVAL));
}

TEST_F(InotifyTest, MissingPathIsEnoent) {
  EXPECT_THAT(Watch(dir_.Path("nope"), IN_CREATE), SyscallFailsWithErrno(ENOENT));
  EXPECT_THAT(Watch("", IN_CREATE), SyscallFailsWithErrno(ENOENT));
}

TEST_F(InotifyTest, BadPathPointerIsEfault) {
  EXPECT_THAT(syscall(SYS_inotify_add_watch, fd_.get(), 8, IN_CREATE),
              SyscallFailsWithErrno(EFAULT));
}

TEST_F(InotifyTest, OnlyDirOnAFileIsEnotdir) {
  const std::string f = dir_.File("f");
  EXPECT_THAT(Watch(f, IN_MODIFY | IN_ONLYDIR), SyscallFailsWithErrno(ENOTDIR));
  EXPECT_THAT(Watch(dir_.path(), IN_MODIFY | IN_ONLYDIR), SyscallSucceeds());
}

TEST_F(InotifyTest, DontFollowWatchesTheLink) {
  const std::string f = dir_.File("f");
  const std::string l = dir_.Path("l");
  ASSERT_THAT(symlink(f.c_str(), l.c_str()), SyscallSucceeds());
  const int wl = Watch(l, IN_ATTRIB | IN_DONT_FOLLOW);
  ASSERT_THAT(wl, SyscallSucceeds());
  const int wf = Watch(l, IN_ATTRIB);
  ASSERT_THAT(wf, SyscallSucceeds());
  EXPECT_NE(wl, wf);
  ASSERT_THAT(chmod(f.c_str(), 0600), SyscallSucceeds());
  EXPECT_THAT(Drain(fd_.get()), ::testing::ElementsAre(Ev{wf, IN_ATTRIB, 0, ""}));
  // A dangling link: ENOENT followed, a watch on the link itself not.
  const std::string d = dir_.Path("dangling");
  ASSERT_THAT(symlink("/nonexistent-x", d.c_str()), SyscallSucceeds());
  EXPECT_THAT(Watch(d, IN_ATTRIB), SyscallFailsWithErrno(ENOENT));
  EXPECT_THAT(Watch(d, IN_ATTRIB | IN_DONT_FOLLOW), SyscallSucceeds());
}

TEST_F(InotifyTest, SameInodeGivesTheSameWd) {
  const std::string f = dir_.File("f");
  const std::string g = dir_.Path("g");
  ASSERT_THAT(link(f.c_str(), g.c_str()), SyscallSucceeds());
  const int w1 = Watch(f, IN_MODIFY);
  ASSERT_THAT(w1, SyscallSucceeds());
  EXPECT_THAT(Watch(g, IN_ATTRIB), SyscallSucceedsWithValue(w1));
  EXPECT_THAT(Watch(dir_.path(), IN_ATTRIB), SyscallSucceedsWithValue(::testing::Ne(w1)));
}

TEST_F(InotifyTest, MaskCreateOnAnExistingWatchIsEexist) {
  ASSERT_THAT(Watch(dir_.path(), IN_CREATE), SyscallSucceeds());
  EXPECT_THAT(Watch(dir_.path(), IN_DELETE | IN_MASK_CREATE), SyscallFailsWithErrno(EEXIST));
}

TEST_F(InotifyTest, RmWatchErrors) {
  EXPECT_THAT(inotify_rm_watch(fd_.get(), 12345), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(inotify_rm_watch(-1, 1), SyscallFailsWithErrno(EBADF));
  FileDescriptor d(open(dir_.path().c_str(), O_RDONLY | O_CLOEXEC));
  EXPECT_THAT(inotify_rm_watch(d.get(), 1), SyscallFailsWithErrno(EINVAL));
}

TEST_F(InotifyTest, RmWatchQueuesIgnored) {
  const int wd = Watch(dir_.path(), IN_CREATE);
  ASSERT_THAT(wd, SyscallSucceeds());
  ASSERT_THAT(inotify_rm_watch(fd_.get(), wd), SyscallSucceeds());
  EXPECT_THAT(Drain(fd_.get()), ::testing::ElementsAre(Ev{wd, IN_IGNORED, 0, ""}));
  EXPECT_THAT(inotify_rm_watch(fd_.get(), wd), SyscallFailsWithErrno(EINVAL));
  // Nothing more is heard.
  dir_.File("after");
  EXPECT_TRUE(Drain(fd_.get()).empty());
}

TEST_F(InotifyTest, WdsAreNotReusedAtOnce) {
  const int w1 = Watch(dir_.path(), IN_CREATE);
  ASSERT_THAT(inotify_rm_watch(fd_.get(), w1), SyscallSucceeds());
  EXPECT_THAT(Watch(dir_.path(), IN_CREATE), SyscallSucceedsWithValue(::testing::Gt(w1)));
}

TEST_F(InotifyTest, UnreadableFileIsEacces) {
  const std::string f = dir_.File("f", "", 0000);
  EXPECT_TRUE(InForkedChild([&] {
    DropPrivilegesInChild();
    CHILD_CHECK(inotify_add_watch(fd_.get(), f.c_str(), IN_MODIFY) == -1 && errno == EACCES);
  }));
}

// --- directory events ---

TEST_F(InotifyTest, CreateAndDeleteInADirectory) {
  const int wd = Watch(dir_.path(), IN_CREATE | IN_DELETE);
  ASSERT_THAT(wd, SyscallSucceeds());
  dir_.File("file");
  ASSERT_THAT(mkdir(dir_.Path("sub").c_str(), 0755), SyscallSucceeds());
  ASSERT_THAT(unlink(dir_.Path("file").c_str()), SyscallSucceeds());
  ASSERT_THAT(rmdir(dir_.Path("sub").c_str()), SyscallSucceeds());
  EXPECT_THAT(
      Drain(fd_.get()),
      ::testing::ElementsAre(Ev{wd, IN_CREATE, 0, "file"}, Ev{wd, IN_CREATE | IN_ISDIR, 0, "sub"},
                             Ev{wd, IN_DELETE, 0, "file"}, Ev{wd, IN_DELETE | IN_ISDIR, 0, "sub"}));
}

TEST_F(InotifyTest, SymlinkMknodAndLinkAreCreate) {
  const std::string f = dir_.File("f");
  const int wd = Watch(dir_.path(), IN_CREATE);
  ASSERT_THAT(symlink("f", dir_.Path("s").c_str()), SyscallSucceeds());
  ASSERT_THAT(mknod(dir_.Path("fifo").c_str(), S_IFIFO | 0600, 0), SyscallSucceeds());
  ASSERT_THAT(link(f.c_str(), dir_.Path("h").c_str()), SyscallSucceeds());
  EXPECT_THAT(Drain(fd_.get()),
              ::testing::ElementsAre(Ev{wd, IN_CREATE, 0, "s"}, Ev{wd, IN_CREATE, 0, "fifo"},
                                     Ev{wd, IN_CREATE, 0, "h"}));
}

TEST_F(InotifyTest, NamesArePaddedWithNuls) {
  ASSERT_THAT(Watch(dir_.path(), IN_CREATE), SyscallSucceeds());
  dir_.File("abc");
  alignas(struct inotify_event) char buf[256];
  ASSERT_THAT(read(fd_.get(), buf, sizeof(buf)), SyscallSucceedsWithValue(32));
  const auto* e = reinterpret_cast<const struct inotify_event*>(buf);
  EXPECT_EQ(e->len, 16u);
  EXPECT_STREQ(e->name, "abc");
  // A name of exactly 16 bytes needs a second block for its NUL.
  dir_.File(std::string(16, 'n'));
  ASSERT_THAT(read(fd_.get(), buf, sizeof(buf)), SyscallSucceedsWithValue(48));
  EXPECT_EQ(e->len, 32u);
}

TEST_F(InotifyTest, RenameWithinADirectoryPairsCookies) {
  dir_.File("a");
  const int wd = Watch(dir_.path(), IN_MOVE);
  ASSERT_THAT(rename(dir_.Path("a").c_str(), dir_.Path("b").c_str()), SyscallSucceeds());
  auto evs = Drain(fd_.get());
  ASSERT_THAT(evs,
              ::testing::ElementsAre(Ev{wd, IN_MOVED_FROM, 0, "a"}, Ev{wd, IN_MOVED_TO, 0, "b"}));
  EXPECT_NE(evs[0].cookie, 0u);
  EXPECT_EQ(evs[0].cookie, evs[1].cookie);
}

TEST_F(InotifyTest, RenameAcrossDirectories) {
  ASSERT_THAT(mkdir(dir_.Path("x").c_str(), 0755), SyscallSucceeds());
  ASSERT_THAT(mkdir(dir_.Path("y").c_str(), 0755), SyscallSucceeds());
  ASSERT_THAT(mkdir(dir_.Path("x/d").c_str(), 0755), SyscallSucceeds());
  const int wx = Watch(dir_.Path("x"), IN_MOVED_FROM);
  const int wy = Watch(dir_.Path("y"), IN_MOVED_TO);
  const int wd = Watch(dir_.Path("x/d"), IN_MOVE_SELF);
  ASSERT_THAT(rename(dir_.Path("x/d").c_str(), dir_.Path("y/e").c_str()), SyscallSucceeds());
  auto evs = Drain(fd_.get());
  ASSERT_THAT(evs, ::testing::ElementsAre(Ev{wx, IN_MOVED_FROM | IN_ISDIR, 0, "d"},
                                          Ev{wy, IN_MOVED_TO | IN_ISDIR, 0, "e"},
                                          Ev{wd, IN_MOVE_SELF, 0, ""}));
  EXPECT_EQ(evs[0].cookie, evs[1].cookie);
  // Consecutive renames have different cookies.
  ASSERT_THAT(rename(dir_.Path("y/e").c_str(), dir_.Path("x/d").c_str()), SyscallSucceeds());
  dir_.File("x/f");
  ASSERT_THAT(rename(dir_.Path("x/f").c_str(), dir_.Path("y/f").c_str()), SyscallSucceeds());
  auto more = Drain(fd_.get());
  ASSERT_THAT(more,
              ::testing::ElementsAre(Ev{wd, IN_MOVE_SELF, 0, ""}, Ev{wx, IN_MOVED_FROM, 0, "f"},
                                     Ev{wy, IN_MOVED_TO, 0, "f"}));
  EXPECT_EQ(more[1].cookie, more[2].cookie);
  EXPECT_NE(more[1].cookie, evs[0].cookie);
}

TEST_F(InotifyTest, RenameOverAWatchedFile) {
  dir_.File("src");
  const std::string dst = dir_.File("dst");
  const int wdir = Watch(dir_.path(), IN_MOVE | IN_DELETE);
  const int wdst = Watch(dst, IN_ATTRIB | IN_DELETE_SELF);
  ASSERT_THAT(rename(dir_.Path("src").c_str(), dst.c_str()), SyscallSucceeds());
  auto evs = Drain(fd_.get());
  EXPECT_THAT(evs,
              ::testing::ElementsAre(Ev{wdir, IN_MOVED_FROM, 0, "src"},
                                     Ev{wdir, IN_MOVED_TO, 0, "dst"}, Ev{wdst, IN_ATTRIB, 0, ""},
                                     Ev{wdst, IN_DELETE_SELF, 0, ""}, Ev{wdst, IN_IGNORED, 0, ""}));
}

// --- file events ---

TEST_F(InotifyTest, OpenModifyAccessClose) {
  const std::string f = dir_.File("f", "data");
  const int wd = Watch(f, IN_ALL_EVENTS);
  {
    FileDescriptor w(open(f.c_str(), O_WRONLY | O_CLOEXEC));
    ASSERT_THAT(write(w.get(), "x", 1), SyscallSucceeds());
  }
  {
    FileDescriptor r(open(f.c_str(), O_RDONLY | O_CLOEXEC));
    char c;
    ASSERT_THAT(read(r.get(), &c, 1), SyscallSucceeds());
  }
  EXPECT_THAT(Drain(fd_.get()),
              ::testing::ElementsAre(Ev{wd, IN_OPEN, 0, ""}, Ev{wd, IN_MODIFY, 0, ""},
                                     Ev{wd, IN_CLOSE_WRITE, 0, ""}, Ev{wd, IN_OPEN, 0, ""},
                                     Ev{wd, IN_ACCESS, 0, ""}, Ev{wd, IN_CLOSE_NOWRITE, 0, ""}));
}

TEST_F(InotifyTest, ParentHearsChildEventsWithTheName) {
  const std::string f = dir_.File("kid", "data");
  const int wd = Watch(dir_.path(), IN_OPEN | IN_MODIFY | IN_CLOSE | IN_ATTRIB);
  {
    FileDescriptor w(open(f.c_str(), O_RDWR | O_CLOEXEC));
    ASSERT_THAT(write(w.get(), "x", 1), SyscallSucceeds());
  }
  ASSERT_THAT(chmod(f.c_str(), 0600), SyscallSucceeds());
  EXPECT_THAT(Drain(fd_.get()), ::testing::ElementsAre(
                                    Ev{wd, IN_OPEN, 0, "kid"}, Ev{wd, IN_MODIFY, 0, "kid"},
                                    Ev{wd, IN_CLOSE_WRITE, 0, "kid"}, Ev{wd, IN_ATTRIB, 0, "kid"}));
}

TEST_F(InotifyTest, ParentAndChildWatchesBothHear) {
  const std::string f = dir_.File("kid");
  const int wdir = Watch(dir_.path(), IN_ATTRIB);
  const int wf = Watch(f, IN_ATTRIB);
  ASSERT_THAT(chmod(f.c_str(), 0600), SyscallSucceeds());
  EXPECT_THAT(Drain(fd_.get()), ::testing::UnorderedElementsAre(Ev{wdir, IN_ATTRIB, 0, "kid"},
                                                                Ev{wf, IN_ATTRIB, 0, ""}));
}

TEST_F(InotifyTest, OpeningADirectory) {
  const int wd = Watch(dir_.path(), IN_OPEN | IN_CLOSE_NOWRITE);
  { FileDescriptor d(open(dir_.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)); }
  EXPECT_THAT(Drain(fd_.get()), ::testing::ElementsAre(Ev{wd, IN_OPEN | IN_ISDIR, 0, ""},
                                                       Ev{wd, IN_CLOSE_NOWRITE | IN_ISDIR, 0, ""}));
}

TEST_F(InotifyTest, OpathRaisesNothing) {
  const std::string f = dir_.File("f");
  ASSERT_THAT(Watch(f, IN_ALL_EVENTS), SyscallSucceeds());
  { FileDescriptor p(open(f.c_str(), O_PATH | O_CLOEXEC)); }
  EXPECT_TRUE(Drain(fd_.get()).empty());
}

TEST_F(InotifyTest, AttributeChanges) {
  const std::string f = dir_.File("f");
  const int wd = Watch(f, IN_ATTRIB);
  ASSERT_THAT(chmod(f.c_str(), 0600), SyscallSucceeds());
  ASSERT_THAT(chown(f.c_str(), getuid(), getgid()), SyscallSucceeds());
  ASSERT_THAT(utimensat(AT_FDCWD, f.c_str(), nullptr, 0), SyscallSucceeds());
  EXPECT_THAT(Drain(fd_.get()), ::testing::ElementsAre(Ev{wd, IN_ATTRIB, 0, ""}));
}

TEST_F(InotifyTest, UtimesOfOneTime) {
  const std::string f = dir_.File("f");
  const int wd = Watch(f, IN_ATTRIB | IN_ACCESS | IN_MODIFY);
  struct timespec ts[2] = {{0, UTIME_NOW}, {0, UTIME_OMIT}};
  ASSERT_THAT(utimensat(AT_FDCWD, f.c_str(), ts, 0), SyscallSucceeds());
  ts[0].tv_nsec = UTIME_OMIT;
  ts[1].tv_nsec = UTIME_NOW;
  ASSERT_THAT(utimensat(AT_FDCWD, f.c_str(), ts, 0), SyscallSucceeds());
  EXPECT_THAT(Drain(fd_.get()),
              ::testing::ElementsAre(Ev{wd, IN_ACCESS, 0, ""}, Ev{wd, IN_MODIFY, 0, ""}));
}

TEST_F(InotifyTest, TruncateIsModify) {
  const std::string f = dir_.File("f", "abc");
  const int wd = Watch(f, IN_MODIFY);
  ASSERT_THAT(truncate(f.c_str(), 1), SyscallSucceeds());
  EXPECT_THAT(Drain(fd_.get()), ::testing::ElementsAre(Ev{wd, IN_MODIFY, 0, ""}));
  { FileDescriptor t(open(f.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC)); }
  EXPECT_THAT(Drain(fd_.get()), ::testing::ElementsAre(Ev{wd, IN_MODIFY, 0, ""}));
  FileDescriptor t(open(f.c_str(), O_WRONLY | O_CLOEXEC));
  ASSERT_THAT(ftruncate(t.get(), 5), SyscallSucceeds());
  EXPECT_THAT(Drain(fd_.get()), ::testing::ElementsAre(Ev{wd, IN_MODIFY, 0, ""}));
}

TEST_F(InotifyTest, XattrIsAttrib) {
  const std::string f = dir_.File("f");
  const int wd = Watch(f, IN_ATTRIB);
  if (setxattr(f.c_str(), "user.k", "v", 1, 0) != 0) GTEST_SKIP() << "no user xattrs here";
  ASSERT_THAT(removexattr(f.c_str(), "user.k"), SyscallSucceeds());
  // Two identical consecutive events: merged.
  EXPECT_THAT(Drain(fd_.get()), ::testing::ElementsAre(Ev{wd, IN_ATTRIB, 0, ""}));
}

TEST_F(InotifyTest, IdenticalConsecutiveEventsCoalesce) {
  const std::string f = dir_.File("f");
  const int wd = Watch(f, IN_MODIFY);
  FileDescriptor w(open(f.c_str(), O_WRONLY | O_CLOEXEC));
  for (int i = 0; i < 5; ++i) ASSERT_THAT(write(w.get(), "x", 1), SyscallSucceeds());
  EXPECT_EQ(InQueue(fd_.get()), static_cast<int>(sizeof(struct inotify_event)));
  EXPECT_THAT(Drain(fd_.get()), ::testing::ElementsAre(Ev{wd, IN_MODIFY, 0, ""}));
  // Once read, the next one is queued again.
  ASSERT_THAT(write(w.get(), "x", 1), SyscallSucceeds());
  EXPECT_THAT(Drain(fd_.get()), ::testing::ElementsAre(Ev{wd, IN_MODIFY, 0, ""}));
}

TEST_F(InotifyTest, ZeroByteWriteRaisesNothing) {
  const std::string f = dir_.File("f");
  ASSERT_THAT(Watch(f, IN_MODIFY), SyscallSucceeds());
  FileDescriptor w(open(f.c_str(), O_WRONLY | O_CLOEXEC));
  ASSERT_THAT(write(w.get(), "", 0), SyscallSucceeds());
  EXPECT_TRUE(Drain(fd_.get()).empty());
}

TEST_F(InotifyTest, UnlinkOfAWatchedFile) {
  const std::string f = dir_.File("f");
  const int wdir = Watch(dir_.path(), IN_DELETE);
  const int wf = Watch(f, IN_ATTRIB | IN_DELETE_SELF);
  ASSERT_THAT(unlink(f.c_str()), SyscallSucceeds());
  EXPECT_THAT(Drain(fd_.get()),
              ::testing::ElementsAre(Ev{wf, IN_ATTRIB, 0, ""}, Ev{wf, IN_DELETE_SELF, 0, ""},
                                     Ev{wf, IN_IGNORED, 0, ""}, Ev{wdir, IN_DELETE, 0, "f"}));
  EXPECT_THAT(inotify_rm_watch(fd_.get(), wf), SyscallFailsWithErrno(EINVAL));
}

TEST_F(InotifyTest, UnlinkOfOneOfTwoLinksIsOnlyAttrib) {
  const std::string f = dir_.File("f");
  ASSERT_THAT(link(f.c_str(), dir_.Path("g").c_str()), SyscallSucceeds());
  const int wf = Watch(f, IN_ATTRIB | IN_DELETE_SELF);
  ASSERT_THAT(unlink(f.c_str()), SyscallSucceeds());
  EXPECT_THAT(Drain(fd_.get()), ::testing::ElementsAre(Ev{wf, IN_ATTRIB, 0, ""}));
}

TEST_F(InotifyTest, DeleteSelfWaitsForTheLastClose) {
  const std::string f = dir_.File("f");
  const int wf = Watch(f, IN_DELETE_SELF | IN_CLOSE_WRITE);
  FileDescriptor open_fd(open(f.c_str(), O_WRONLY | O_CLOEXEC));
  ASSERT_THAT(unlink(f.c_str()), SyscallSucceeds());
  EXPECT_TRUE(Drain(fd_.get()).empty());
  open_fd.reset();
  EXPECT_THAT(Drain(fd_.get()),
              ::testing::ElementsAre(Ev{wf, IN_CLOSE_WRITE, 0, ""}, Ev{wf, IN_DELETE_SELF, 0, ""},
                                     Ev{wf, IN_IGNORED, 0, ""}));
}

TEST_F(InotifyTest, RmdirOfAWatchedDirectory) {
  const std::string d = dir_.Path("d");
  ASSERT_THAT(mkdir(d.c_str(), 0755), SyscallSucceeds());
  const int wd = Watch(d, IN_DELETE_SELF);
  ASSERT_THAT(rmdir(d.c_str()), SyscallSucceeds());
  EXPECT_THAT(Drain(fd_.get()),
              ::testing::ElementsAre(Ev{wd, IN_DELETE_SELF, 0, ""}, Ev{wd, IN_IGNORED, 0, ""}));
}

TEST_F(InotifyTest, ExclUnlinkSkipsUnlinkedChildren) {
  const std::string a = dir_.File("a");
  const std::string b = dir_.File("b");
  const int wd = Watch(dir_.path(), IN_MODIFY | IN_EXCL_UNLINK);
  FileDescriptor fa(open(a.c_str(), O_WRONLY | O_CLOEXEC));
  ASSERT_THAT(unlink(a.c_str()), SyscallSucceeds());
  ASSERT_THAT(write(fa.get(), "x", 1), SyscallSucceeds());
  EXPECT_TRUE(Drain(fd_.get()).empty());
  // Without the flag the unlinked child is still heard, by its old name.
  FileDescriptor other(inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  const int wd2 = inotify_add_watch(other.get(), dir_.path().c_str(), IN_MODIFY);
  FileDescriptor fb(open(b.c_str(), O_WRONLY | O_CLOEXEC));
  ASSERT_THAT(unlink(b.c_str()), SyscallSucceeds());
  ASSERT_THAT(write(fb.get(), "x", 1), SyscallSucceeds());
  EXPECT_THAT(Drain(other.get()), ::testing::ElementsAre(Ev{wd2, IN_MODIFY, 0, "b"}));
  (void)wd;
}

// --- watch flags ---

TEST_F(InotifyTest, OneshotFiresOnce) {
  const std::string f = dir_.File("f");
  const int wd = Watch(f, IN_ATTRIB | IN_ONESHOT);
  ASSERT_THAT(chmod(f.c_str(), 0600), SyscallSucceeds());
  ASSERT_THAT(chmod(f.c_str(), 0644), SyscallSucceeds());
  EXPECT_THAT(Drain(fd_.get()),
              ::testing::ElementsAre(Ev{wd, IN_ATTRIB, 0, ""}, Ev{wd, IN_IGNORED, 0, ""}));
  EXPECT_THAT(inotify_rm_watch(fd_.get(), wd), SyscallFailsWithErrno(EINVAL));
}

TEST_F(InotifyTest, MaskAddExtendsAndPlainReplaces) {
  const std::string f = dir_.File("f");
  const int wd = Watch(f, IN_ATTRIB);
  ASSERT_THAT(Watch(f, IN_MODIFY | IN_MASK_ADD), SyscallSucceedsWithValue(wd));
  ASSERT_THAT(chmod(f.c_str(), 0600), SyscallSucceeds());
  ASSERT_THAT(truncate(f.c_str(), 1), SyscallSucceeds());
  EXPECT_THAT(Drain(fd_.get()),
              ::testing::ElementsAre(Ev{wd, IN_ATTRIB, 0, ""}, Ev{wd, IN_MODIFY, 0, ""}));
  // Without IN_MASK_ADD the mask is replaced.
  ASSERT_THAT(Watch(f, IN_MODIFY), SyscallSucceedsWithValue(wd));
  ASSERT_THAT(chmod(f.c_str(), 0644), SyscallSucceeds());
  EXPECT_TRUE(Drain(fd_.get()).empty());
}

TEST_F(InotifyTest, UnwantedEventsAreNotQueued) {
  const std::string f = dir_.File("f");
  ASSERT_THAT(Watch(f, IN_DELETE_SELF), SyscallSucceeds());
  ASSERT_THAT(chmod(f.c_str(), 0600), SyscallSucceeds());
  { FileDescriptor r(open(f.c_str(), O_RDONLY | O_CLOEXEC)); }
  EXPECT_TRUE(Drain(fd_.get()).empty());
}

// --- reading ---

TEST_F(InotifyTest, ShortBufferIsEinval) {
  ASSERT_THAT(Watch(dir_.path(), IN_CREATE), SyscallSucceeds());
  dir_.File("name");
  char buf[sizeof(struct inotify_event) + 4];
  EXPECT_THAT(read(fd_.get(), buf, sizeof(buf)), SyscallFailsWithErrno(EINVAL));
  EXPECT_EQ(InQueue(fd_.get()), 32);
}

TEST_F(InotifyTest, ReadReturnsOnlyWholeEvents) {
  const std::string f = dir_.File("f");
  const int wd = Watch(f, IN_ATTRIB | IN_MODIFY);
  ASSERT_THAT(chmod(f.c_str(), 0600), SyscallSucceeds());
  ASSERT_THAT(truncate(f.c_str(), 0), SyscallSucceeds());
  EXPECT_EQ(InQueue(fd_.get()), 32);
  char buf[sizeof(struct inotify_event) + 8];
  ASSERT_THAT(read(fd_.get(), buf, sizeof(buf)), SyscallSucceedsWithValue(16));
  EXPECT_EQ(InQueue(fd_.get()), 16);
  EXPECT_THAT(Drain(fd_.get()), ::testing::ElementsAre(Ev{wd, IN_MODIFY, 0, ""}));
}

TEST_F(InotifyTest, BlockingReadWakesOnAnEvent) {
  FileDescriptor b(inotify_init1(IN_CLOEXEC));
  const int wd = inotify_add_watch(b.get(), dir_.path().c_str(), IN_CREATE);
  ASSERT_THAT(wd, SyscallSucceeds());
  std::thread maker([&] {
    usleep(50 * 1000);
    dir_.File("late");
  });
  alignas(struct inotify_event) char buf[256];
  EXPECT_THAT(read(b.get(), buf, sizeof(buf)), SyscallSucceedsWithValue(32));
  maker.join();
  EXPECT_STREQ(reinterpret_cast<struct inotify_event*>(buf)->name, "late");
}

TEST_F(InotifyTest, PollReadiness) {
  ASSERT_THAT(Watch(dir_.path(), IN_CREATE), SyscallSucceeds());
  struct pollfd p = {fd_.get(), POLLIN, 0};
  EXPECT_THAT(poll(&p, 1, 0), SyscallSucceedsWithValue(0));
  dir_.File("x");
  EXPECT_THAT(poll(&p, 1, 0), SyscallSucceedsWithValue(1));
  EXPECT_EQ(p.revents, POLLIN);
  Drain(fd_.get());
  EXPECT_THAT(poll(&p, 1, 0), SyscallSucceedsWithValue(0));
}

TEST_F(InotifyTest, EpollWakesOnAnEvent) {
  ASSERT_THAT(Watch(dir_.path(), IN_CREATE), SyscallSucceeds());
  FileDescriptor ep(epoll_create1(EPOLL_CLOEXEC));
  struct epoll_event ev = {};
  ev.events = EPOLLIN;
  ev.data.fd = fd_.get();
  ASSERT_THAT(epoll_ctl(ep.get(), EPOLL_CTL_ADD, fd_.get(), &ev), SyscallSucceeds());
  std::thread maker([&] {
    usleep(50 * 1000);
    dir_.File("y");
  });
  struct epoll_event out = {};
  EXPECT_THAT(epoll_wait(ep.get(), &out, 1, 5000), SyscallSucceedsWithValue(1));
  maker.join();
  EXPECT_EQ(out.data.fd, fd_.get());
}

TEST_F(InotifyTest, TwoInstancesHearTheSameEvent) {
  FileDescriptor other(inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  const int w1 = Watch(dir_.path(), IN_CREATE);
  const int w2 = inotify_add_watch(other.get(), dir_.path().c_str(), IN_CREATE);
  dir_.File("z");
  EXPECT_THAT(Drain(fd_.get()), ::testing::ElementsAre(Ev{w1, IN_CREATE, 0, "z"}));
  EXPECT_THAT(Drain(other.get()), ::testing::ElementsAre(Ev{w2, IN_CREATE, 0, "z"}));
}

TEST_F(InotifyTest, ClosingTheInstanceDropsItsWatches) {
  ASSERT_THAT(Watch(dir_.path(), IN_CREATE), SyscallSucceeds());
  fd_.reset();
  dir_.File("after-close");  // must not crash or leak
  FileDescriptor again(inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  const int wd = inotify_add_watch(again.get(), dir_.path().c_str(), IN_CREATE);
  EXPECT_THAT(wd, SyscallSucceedsWithValue(1));
}

TEST(InotifyLimitsTest, MaxQueuedEventsIsShown) {
  FILE* p = fopen("/proc/sys/fs/inotify/max_queued_events", "r");
  ASSERT_NE(p, nullptr);
  int n = 0;
  EXPECT_EQ(fscanf(p, "%d", &n), 1);
  fclose(p);
  EXPECT_GT(n, 0);
}

TEST_F(InotifyTest, QueueOverflow) {
  const std::string fa = dir_.File("a");
  const std::string fb = dir_.File("b");
  int max_events = 16384;
  if (FILE* p = fopen("/proc/sys/fs/inotify/max_queued_events", "r")) {
    if (fscanf(p, "%d", &max_events) != 1) max_events = 16384;
    fclose(p);
  }
  SKIP_IF(max_events > 20000);
  ASSERT_THAT(Watch(dir_.path(), IN_ATTRIB), SyscallSucceeds());
  // Alternate two names so that no event merges into the one before.
  for (int i = 0; i < max_events + 10; ++i) {
    ASSERT_THAT(chmod((i & 1) ? fb.c_str() : fa.c_str(), 0600), SyscallSucceeds());
  }
  auto evs = Drain(fd_.get());
  ASSERT_EQ(evs.size(), static_cast<size_t>(max_events) + 1);
  EXPECT_EQ(evs.back().wd, -1);
  EXPECT_EQ(evs.back().mask, static_cast<uint32_t>(IN_Q_OVERFLOW));
  EXPECT_EQ(evs.back().name, "");
}

}  // namespace
}  // namespace syscalls_test
