// mmap of regular files: shared mappings are the file, private ones copy on
// write, and the access checks do_mmap makes. Files live in a fresh directory
// under /tmp (tmpfs in the sandbox, whatever the host has natively).
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "syscalls-tests/util/file_descriptor.h"
#include "syscalls-tests/util/mapping.h"
#include "syscalls-tests/util/syscall_matchers.h"
#include "syscalls-tests/util/test_util.h"

namespace syscalls_test {
namespace {

constexpr size_t kPage = 4096;

sigjmp_buf g_jmp;
volatile sig_atomic_t g_signo;
void* volatile g_addr;

void OnFault(int signo, siginfo_t* si, void*) {
  g_signo = signo;
  g_addr = si->si_addr;
  siglongjmp(g_jmp, 1);
}

// Loads (or stores to) the byte at `p`; returns the signal that raised (SIGBUS,
// SIGSEGV) with its si_addr in *addr, or 0.
int Touch(char* p, bool write, void** addr = nullptr) {
  struct sigaction sa = {}, old_bus, old_segv;
  sa.sa_sigaction = OnFault;
  sa.sa_flags = SA_SIGINFO | SA_NODEFER;
  sigaction(SIGBUS, &sa, &old_bus);
  sigaction(SIGSEGV, &sa, &old_segv);
  g_signo = 0;
  g_addr = nullptr;
  if (sigsetjmp(g_jmp, 1) == 0) {
    volatile char* v = p;
    if (write) {
      *v = 'w';
    } else {
      (void)*v;
    }
  }
  sigaction(SIGBUS, &old_bus, nullptr);
  sigaction(SIGSEGV, &old_segv, nullptr);
  if (addr != nullptr) *addr = g_addr;
  return g_signo;
}

class MmapFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/mmap-file-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/f";
  }
  void TearDown() override {
    unlink(path_.c_str());
    rmdir(dir_.c_str());
  }
  // A file of `size` bytes holding `data` at its start, opened with `flags`.
  FileDescriptor MakeFile(size_t size, const std::string& data, int flags = O_RDWR) {
    FileDescriptor w(open(path_.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0644));
    EXPECT_GE(w.get(), 0);
    EXPECT_THAT(ftruncate(w.get(), size), SyscallSucceeds());
    EXPECT_THAT(pwrite(w.get(), data.data(), data.size(), 0),
                SyscallSucceedsWithValue(data.size()));
    if (flags == O_RDWR) return w;
    return FileDescriptor(open(path_.c_str(), flags));
  }
  std::string ReadBack(int fd, size_t n, off_t off) {
    std::string s(n, '\0');
    EXPECT_THAT(pread(fd, s.data(), n, off), SyscallSucceedsWithValue(n));
    return s;
  }

  std::string dir_, path_;
};

TEST_F(MmapFileTest, SharedMappingIsTheFile) {
  FileDescriptor fd = MakeFile(2 * kPage, "hello");
  void* p = mmap(nullptr, 2 * kPage, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
  ASSERT_NE(p, MAP_FAILED);
  Mapping m(p, 2 * kPage);
  char* c = static_cast<char*>(p);
  EXPECT_EQ(std::string(c, 5), "hello");
  // write() shows in the mapping, stores to the mapping show in read().
  ASSERT_THAT(pwrite(fd.get(), "W", 1, 1), SyscallSucceeds());
  EXPECT_EQ(c[1], 'W');
  memcpy(c + kPage + 7, "mapped", 6);
  EXPECT_EQ(ReadBack(fd.get(), 6, kPage + 7), "mapped");
  EXPECT_THAT(msync(p, 2 * kPage, MS_SYNC), SyscallSucceeds());
}

TEST_F(MmapFileTest, PrivateMappingCopiesOnWrite) {
  FileDescriptor fd = MakeFile(kPage, "original");
  void* p = mmap(nullptr, kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd.get(), 0);
  ASSERT_NE(p, MAP_FAILED);
  Mapping m(p, kPage);
  char* c = static_cast<char*>(p);
  EXPECT_EQ(std::string(c, 8), "original");
  memcpy(c, "CHANGED!", 8);
  EXPECT_EQ(ReadBack(fd.get(), 8, 0), "original");
  // The copied page no longer follows the file.
  ASSERT_THAT(pwrite(fd.get(), "newer", 5, 0), SyscallSucceeds());
  EXPECT_EQ(std::string(c, 8), "CHANGED!");
}

TEST_F(MmapFileTest, UntouchedPrivatePageFollowsTheFile) {
  FileDescriptor fd = MakeFile(kPage, "before");
  void* p = mmap(nullptr, kPage, PROT_READ, MAP_PRIVATE, fd.get(), 0);
  ASSERT_NE(p, MAP_FAILED);
  Mapping m(p, kPage);
  const char* c = static_cast<const char*>(p);
  EXPECT_EQ(std::string(c, 6), "before");
  ASSERT_THAT(pwrite(fd.get(), "after!", 6, 0), SyscallSucceeds());
  EXPECT_EQ(std::string(c, 6), "after!");
}

TEST_F(MmapFileTest, OffsetSelectsThePages) {
  FileDescriptor fd = MakeFile(3 * kPage, "");
  ASSERT_THAT(pwrite(fd.get(), "third", 5, 2 * kPage), SyscallSucceeds());
  void* p = mmap(nullptr, kPage, PROT_READ, MAP_SHARED, fd.get(), 2 * kPage);
  ASSERT_NE(p, MAP_FAILED);
  Mapping m(p, kPage);
  EXPECT_EQ(std::string(static_cast<const char*>(p), 5), "third");
  EXPECT_THAT(mmap(nullptr, kPage, PROT_READ, MAP_SHARED, fd.get(), 100),
              SyscallFailsWithErrno(EINVAL));
}

TEST_F(MmapFileTest, GrowingTheFileMakesMappedPagesReachable) {
  FileDescriptor fd = MakeFile(kPage, "x");
  void* p = mmap(nullptr, 2 * kPage, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
  ASSERT_NE(p, MAP_FAILED);
  Mapping m(p, 2 * kPage);
  // (Touching the second page now would be SIGBUS.)
  ASSERT_THAT(ftruncate(fd.get(), 2 * kPage), SyscallSucceeds());
  char* c = static_cast<char*>(p);
  EXPECT_EQ(c[kPage], 0);
  c[kPage] = 'y';
  EXPECT_EQ(ReadBack(fd.get(), 1, kPage), "y");
}

TEST_F(MmapFileTest, AccessModeChecks) {
  FileDescriptor ro = MakeFile(kPage, "r", O_RDONLY);
  ASSERT_GE(ro.get(), 0);
  EXPECT_THAT(mmap(nullptr, kPage, PROT_READ | PROT_WRITE, MAP_SHARED, ro.get(), 0),
              SyscallFailsWithErrno(EACCES));
  // Private mappings of a read-only fd may be written (copies).
  void* p = mmap(nullptr, kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE, ro.get(), 0);
  ASSERT_NE(p, MAP_FAILED);
  munmap(p, kPage);
  // A read-only shared mapping of a read-only fd can never become writable.
  p = mmap(nullptr, kPage, PROT_READ, MAP_SHARED, ro.get(), 0);
  ASSERT_NE(p, MAP_FAILED);
  EXPECT_THAT(mprotect(p, kPage, PROT_READ | PROT_WRITE), SyscallFailsWithErrno(EACCES));
  munmap(p, kPage);
  FileDescriptor wo(open(path_.c_str(), O_WRONLY));
  ASSERT_GE(wo.get(), 0);
  EXPECT_THAT(mmap(nullptr, kPage, PROT_READ, MAP_PRIVATE, wo.get(), 0),
              SyscallFailsWithErrno(EACCES));
  EXPECT_THAT(mmap(nullptr, kPage, PROT_WRITE, MAP_SHARED, wo.get(), 0),
              SyscallFailsWithErrno(EACCES));
}

TEST_F(MmapFileTest, AppendOnlyFdMayBeMappedShared) {
  FileDescriptor fd = MakeFile(kPage, "a");
  FileDescriptor app(open(path_.c_str(), O_RDWR | O_APPEND));
  ASSERT_GE(app.get(), 0);
  void* p = mmap(nullptr, kPage, PROT_READ | PROT_WRITE, MAP_SHARED, app.get(), 0);
  ASSERT_NE(p, MAP_FAILED);
  munmap(p, kPage);
}

TEST_F(MmapFileTest, DirectoryCannotBeMapped) {
  FileDescriptor d(open(dir_.c_str(), O_RDONLY | O_DIRECTORY));
  ASSERT_GE(d.get(), 0);
  EXPECT_THAT(mmap(nullptr, kPage, PROT_READ, MAP_PRIVATE, d.get(), 0),
              SyscallFailsWithErrno(ENODEV));
}

TEST_F(MmapFileTest, PathFdIsEbadf) {
  FileDescriptor fd = MakeFile(kPage, "p");
  FileDescriptor path(open(path_.c_str(), O_PATH));
  ASSERT_GE(path.get(), 0);
  EXPECT_THAT(mmap(nullptr, kPage, PROT_READ, MAP_PRIVATE, path.get(), 0),
              SyscallFailsWithErrno(EBADF));
}

TEST_F(MmapFileTest, SharedValidateAcceptsKnownFlags) {
  FileDescriptor fd = MakeFile(kPage, "v");
  void* p = mmap(nullptr, kPage, PROT_READ, MAP_SHARED_VALIDATE | MAP_POPULATE, fd.get(), 0);
  ASSERT_NE(p, MAP_FAILED);
  EXPECT_EQ(*static_cast<const char*>(p), 'v');
  munmap(p, kPage);
}

TEST_F(MmapFileTest, DataSurvivesUnmapAndClose) {
  {
    FileDescriptor fd = MakeFile(kPage, "");
    void* p = mmap(nullptr, kPage, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
    ASSERT_NE(p, MAP_FAILED);
    memcpy(p, "kept", 4);
    ASSERT_THAT(munmap(p, kPage), SyscallSucceeds());
  }
  FileDescriptor fd(open(path_.c_str(), O_RDONLY));
  EXPECT_EQ(ReadBack(fd.get(), 4, 0), "kept");
}

// Truncation takes the pages past the new end out of every mapping
// (truncate_pagecache: unmap_mapping_range with even_cows): touching them is
// SIGBUS, for pages the mapping had already touched too.
TEST_F(MmapFileTest, ShrinkingUnmapsSharedPagesPastTheEnd) {
  FileDescriptor fd = MakeFile(3 * kPage, "");
  void* p = mmap(nullptr, 3 * kPage, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
  ASSERT_NE(p, MAP_FAILED);
  Mapping m(p, 3 * kPage);
  char* c = static_cast<char*>(p);
  memset(c, 'a', 3 * kPage);  // every page mapped and dirty
  ASSERT_THAT(ftruncate(fd.get(), kPage + 10), SyscallSucceeds());
  EXPECT_EQ(Touch(c, false), 0);
  EXPECT_EQ(c[kPage + 9], 'a');
  EXPECT_EQ(c[kPage + 10], 0);  // the rest of the last page is zeroed
  EXPECT_EQ(c[2 * kPage - 1], 0);
  void* addr = nullptr;
  EXPECT_EQ(Touch(c + 2 * kPage + 5, false, &addr), SIGBUS);
  EXPECT_EQ(addr, c + 2 * kPage + 5);
  EXPECT_EQ(Touch(c + 2 * kPage, true), SIGBUS);
  // Growing again brings back a hole, not the old data.
  ASSERT_THAT(ftruncate(fd.get(), 3 * kPage), SyscallSucceeds());
  EXPECT_EQ(Touch(c + 2 * kPage, false), 0);
  EXPECT_EQ(c[2 * kPage], 0);
}

TEST_F(MmapFileTest, ShrinkingDropsPrivateCopiesPastTheEnd) {
  FileDescriptor fd = MakeFile(3 * kPage, "file");
  void* p = mmap(nullptr, 3 * kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd.get(), 0);
  ASSERT_NE(p, MAP_FAILED);
  Mapping m(p, 3 * kPage);
  char* c = static_cast<char*>(p);
  c[0] = 'p';              // a private copy inside the new size: kept
  c[2 * kPage] = 'p';      // a private copy past it: dropped
  EXPECT_EQ(c[kPage], 0);  // a page still shared with the file
  ASSERT_THAT(ftruncate(fd.get(), kPage), SyscallSucceeds());
  EXPECT_EQ(Touch(c, false), 0);
  EXPECT_EQ(c[0], 'p');
  EXPECT_EQ(Touch(c + kPage, false), SIGBUS);
  EXPECT_EQ(Touch(c + 2 * kPage, false), SIGBUS);
  EXPECT_EQ(Touch(c + 2 * kPage, true), SIGBUS);
  ASSERT_THAT(ftruncate(fd.get(), 3 * kPage), SyscallSucceeds());
  EXPECT_EQ(c[2 * kPage], 0);  // the file's page again, not the old copy
  EXPECT_EQ(c[0], 'p');
  EXPECT_EQ(ReadBack(fd.get(), 4, 0), "file");
}

TEST_F(MmapFileTest, TruncateByPathUnmapsEveryMapping) {
  FileDescriptor fd = MakeFile(2 * kPage, "");
  void* a = mmap(nullptr, 2 * kPage, PROT_READ, MAP_SHARED, fd.get(), 0);
  ASSERT_NE(a, MAP_FAILED);
  Mapping ma(a, 2 * kPage);
  // A second mapping of the second page only (offset kPage).
  void* b = mmap(nullptr, kPage, PROT_READ, MAP_PRIVATE, fd.get(), kPage);
  ASSERT_NE(b, MAP_FAILED);
  Mapping mb(b, kPage);
  EXPECT_EQ(Touch(static_cast<char*>(a) + kPage, false), 0);
  EXPECT_EQ(Touch(static_cast<char*>(b), false), 0);
  ASSERT_THAT(truncate(path_.c_str(), 0), SyscallSucceeds());
  EXPECT_EQ(Touch(static_cast<char*>(a), false), SIGBUS);
  EXPECT_EQ(Touch(static_cast<char*>(a) + kPage, false), SIGBUS);
  EXPECT_EQ(Touch(static_cast<char*>(b), false), SIGBUS);
  // A syscall reading from there fails with EFAULT instead.
  int pfd[2];
  ASSERT_THAT(pipe(pfd), SyscallSucceeds());
  FileDescriptor rd(pfd[0]), wr(pfd[1]);
  EXPECT_THAT(write(wr.get(), a, 1), SyscallFailsWithErrno(EFAULT));
}

}  // namespace
}  // namespace syscalls_test
