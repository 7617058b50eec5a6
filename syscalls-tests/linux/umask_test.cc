// umask(2): the old mask returned, only 0777 kept, and the mask applied to
// open(O_CREAT), mkdir, mknod (FIFOs) and bind of a unix socket; children
// inherit it.
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "syscalls-tests/util/cleanup.h"
#include "syscalls-tests/util/file_descriptor.h"
#include "syscalls-tests/util/forked_child.h"
#include "syscalls-tests/util/syscall_matchers.h"
#include "syscalls-tests/util/temp_dir.h"
#include "syscalls-tests/util/test_util.h"

namespace syscalls_test {
namespace {

class UmaskTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(d_.ok());
    old_ = umask(022);
  }
  void TearDown() override { umask(old_); }
  mode_t ModeOf(const std::string& p) {
    struct stat st;
    return lstat(p.c_str(), &st) == 0 ? st.st_mode & 07777 : 0xffff;
  }
  TempDir d_{"umask-test"};
  mode_t old_ = 022;
};

TEST_F(UmaskTest, ReturnsThePreviousMask) {
  EXPECT_EQ(umask(077), 022u);
  EXPECT_EQ(umask(0), 077u);
  EXPECT_EQ(umask(022), 0u);
}

TEST_F(UmaskTest, KeepsOnly0777) {
  umask(07777);
  EXPECT_EQ(umask(022), 0777u);
  EXPECT_EQ(syscall(SYS_umask, ~0L), 022);
  EXPECT_EQ(umask(022), 0777u);
}

TEST_F(UmaskTest, AppliesToOpenOCreat) {
  umask(027);
  FileDescriptor fd(open(d_.Path("f").c_str(), O_CREAT | O_WRONLY, 0777));
  ASSERT_TRUE(fd.valid());
  EXPECT_EQ(ModeOf(d_.Path("f")), 0750u);
}

TEST_F(UmaskTest, DoesNotApplyToAnExistingFile) {
  d_.File("f", "", 0666);
  chmod(d_.Path("f").c_str(), 0666);
  umask(077);
  FileDescriptor fd(open(d_.Path("f").c_str(), O_CREAT | O_WRONLY, 0600));
  EXPECT_EQ(ModeOf(d_.Path("f")), 0666u);
}

TEST_F(UmaskTest, AppliesToMkdir) {
  umask(072);
  ASSERT_THAT(mkdir(d_.Path("d").c_str(), 0777), SyscallSucceeds());
  EXPECT_EQ(ModeOf(d_.Path("d")), 0705u);
}

TEST_F(UmaskTest, DoesNotApplyToChmod) {
  d_.File("f");
  umask(0777);
  ASSERT_THAT(chmod(d_.Path("f").c_str(), 0777), SyscallSucceeds());
  EXPECT_EQ(ModeOf(d_.Path("f")), 0777u);
}

TEST_F(UmaskTest, AppliesToMkfifo) {
  umask(066);
  ASSERT_THAT(mkfifo(d_.Path("p").c_str(), 0666), SyscallSucceeds());
  EXPECT_EQ(ModeOf(d_.Path("p")), 0600u);
}

TEST_F(UmaskTest, AppliesToUnixSocketBind) {
  umask(077);
  FileDescriptor s(socket(AF_UNIX, SOCK_STREAM, 0));
  struct sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  const std::string p = d_.Path("sock");
  strncpy(addr.sun_path, p.c_str(), sizeof(addr.sun_path) - 1);
  ASSERT_THAT(bind(s.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), SyscallSucceeds());
  EXPECT_EQ(ModeOf(p), 0700u);
}

TEST_F(UmaskTest, SetuidBitsSurviveTheMask) {
  umask(0777);
  FileDescriptor fd(open(d_.Path("f").c_str(), O_CREAT | O_WRONLY, 07777));
  ASSERT_TRUE(fd.valid());
  // The mask takes only permission bits; what creation keeps of the special
  // bits is the filesystem's business, but never a permission bit.
  EXPECT_EQ(ModeOf(d_.Path("f")) & 0777, 0u);
}

TEST_F(UmaskTest, InheritedByChildren) {
  umask(0137);
  EXPECT_TRUE(InForkedChild([] { CHILD_CHECK(umask(0) == 0137); }));
  // The child's change does not come back.
  EXPECT_EQ(umask(022), 0137u);
}

TEST_F(UmaskTest, ShownInProcStatus) {
  umask(0251);
  FileDescriptor fd(open("/proc/self/status", O_RDONLY));
  ASSERT_TRUE(fd.valid());
  char buf[4096];
  const ssize_t n = read(fd.get(), buf, sizeof(buf) - 1);
  ASSERT_GT(n, 0);
  buf[n] = 0;
  EXPECT_NE(strstr(buf, "Umask:\t0251\n"), nullptr);
}

}  // namespace
}  // namespace syscalls_test
