// System V shared memory: shmget(2), shmat(2), shmdt(2), shmctl(2), and how
// segments behave across fork, exec-less exit and IPC_RMID. Natively these
// share the host's IPC namespace with whatever else runs: keys are derived
// from the pid and every segment is removed at the end of its case.
#include <fcntl.h>
#include <sched.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/shm.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "syscalls-tests/util/cleanup.h"
#include "syscalls-tests/util/forked_child.h"
#include "syscalls-tests/util/mapping.h"
#include "syscalls-tests/util/syscall_matchers.h"
#include "syscalls-tests/util/test_util.h"

namespace syscalls_test {
namespace {

#ifndef SHM_STAT_ANY
#define SHM_STAT_ANY 15
#endif
#ifndef SHM_EXEC
#define SHM_EXEC 0100000
#endif

long ShmGet(key_t key, size_t size, int flags) { return syscall(SYS_shmget, key, size, flags); }
long ShmCtl(int id, int cmd, void* buf) { return syscall(SYS_shmctl, id, cmd, buf); }
void* ShmAt(int id, const void* addr, int flags) {
  return reinterpret_cast<void*>(syscall(SYS_shmat, id, addr, flags));
}
long ShmDt(const void* addr) { return syscall(SYS_shmdt, addr); }

// A key nobody else uses: the pid in the high bits, a counter below.
key_t UniqueKey() {
  static int n = 0;
  return static_cast<key_t>(0x5d000000 | ((getpid() & 0xffff) << 8) | (++n & 0xff));
}

// A segment removed at the end of the test.
class Segment {
 public:
  explicit Segment(size_t size, int flags = 0600, key_t key = IPC_PRIVATE) {
    id_ = static_cast<int>(ShmGet(key, size, flags | IPC_CREAT));
  }
  ~Segment() {
    if (id_ >= 0) ShmCtl(id_, IPC_RMID, nullptr);
  }
  int id() const { return id_; }
  void release() { id_ = -1; }

 private:
  int id_;
};

shmid_ds Stat(int id) {
  shmid_ds ds{};
  EXPECT_THAT(ShmCtl(id, IPC_STAT, &ds), SyscallSucceeds());
  return ds;
}

TEST(ShmGetTest, PrivateCreatesNewSegments) {
  Segment a(kPageSize), b(kPageSize);
  ASSERT_GE(a.id(), 0);
  ASSERT_GE(b.id(), 0);
  EXPECT_NE(a.id(), b.id());
}

TEST(ShmGetTest, SizeZeroIsInvalid) {
  EXPECT_THAT(ShmGet(IPC_PRIVATE, 0, IPC_CREAT | 0600), SyscallFailsWithErrno(EINVAL));
}

TEST(ShmGetTest, SizeAboveShmmaxIsInvalid) {
  struct shminfo info {};
  ASSERT_THAT(ShmCtl(0, IPC_INFO, &info), SyscallSucceeds());
  if (info.shmmax == ~0ul) GTEST_SKIP() << "shmmax is unlimited";
  EXPECT_THAT(ShmGet(IPC_PRIVATE, info.shmmax + 1, IPC_CREAT | 0600),
              SyscallFailsWithErrno(EINVAL));
}

TEST(ShmGetTest, HugeSizeOverflowsPages) {
  // ULONG_MAX - small: above SHMMAX's default (ULONG_MAX - 2^24): EINVAL.
  EXPECT_THAT(ShmGet(IPC_PRIVATE, ~size_t{0} - 10, IPC_CREAT | 0600),
              SyscallFailsWithErrno(EINVAL));
}

TEST(ShmGetTest, MissingKeyWithoutCreatIsENOENT) {
  EXPECT_THAT(ShmGet(UniqueKey(), kPageSize, 0600), SyscallFailsWithErrno(ENOENT));
}

TEST(ShmGetTest, KeyFindsTheSameSegment) {
  key_t key = UniqueKey();
  Segment s(kPageSize, 0600, key);
  ASSERT_GE(s.id(), 0);
  EXPECT_THAT(ShmGet(key, kPageSize, 0600), SyscallSucceedsWithValue(s.id()));
  EXPECT_THAT(ShmGet(key, 0, 0), SyscallSucceedsWithValue(s.id()));
  EXPECT_THAT(ShmGet(key, kPageSize, IPC_CREAT | 0600), SyscallSucceedsWithValue(s.id()));
}

TEST(ShmGetTest, CreatExclOnExistingKeyIsEEXIST) {
  key_t key = UniqueKey();
  Segment s(kPageSize, 0600, key);
  ASSERT_GE(s.id(), 0);
  EXPECT_THAT(ShmGet(key, kPageSize, IPC_CREAT | IPC_EXCL | 0600), SyscallFailsWithErrno(EEXIST));
}

TEST(ShmGetTest, LargerSizeThanExistingIsEINVAL) {
  key_t key = UniqueKey();
  Segment s(kPageSize, 0600, key);
  ASSERT_GE(s.id(), 0);
  EXPECT_THAT(ShmGet(key, 2 * kPageSize, 0600), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(ShmGet(key, kPageSize / 2, 0600), SyscallSucceedsWithValue(s.id()));
}

TEST(ShmGetTest, ExclTakesPrecedenceOverSize) {
  key_t key = UniqueKey();
  Segment s(kPageSize, 0600, key);
  EXPECT_THAT(ShmGet(key, 4 * kPageSize, IPC_CREAT | IPC_EXCL | 0600),
              SyscallFailsWithErrno(EEXIST));
}

TEST(ShmGetTest, PermissionDeniedForOthers) {
  key_t key = UniqueKey();
  Segment s(kPageSize, 0600, key);
  ASSERT_GE(s.id(), 0);
  EXPECT_TRUE(InForkedChild([key] {
    DropPrivilegesInChild();
    if (getuid() == 0) return;  // could not drop
    CHILD_CHECK(ShmGet(key, kPageSize, 0400) == -1 && errno == EACCES);
    // No access bits requested: allowed.
    CHILD_CHECK(ShmGet(key, kPageSize, 0) >= 0);
  }));
}

TEST(ShmGetTest, ModeIsRecorded) {
  Segment s(3 * kPageSize + 5, 0640);
  ASSERT_GE(s.id(), 0);
  shmid_ds ds = Stat(s.id());
  EXPECT_EQ(ds.shm_perm.mode & 0777, 0640);
  EXPECT_EQ(ds.shm_segsz, 3 * kPageSize + 5);
  EXPECT_EQ(ds.shm_perm.uid, geteuid());
  EXPECT_EQ(ds.shm_perm.cuid, geteuid());
  EXPECT_EQ(ds.shm_perm.gid, getegid());
  EXPECT_EQ(ds.shm_perm.__key, IPC_PRIVATE);
  EXPECT_EQ(ds.shm_cpid, getpid());
  EXPECT_EQ(ds.shm_lpid, 0);
  EXPECT_EQ(ds.shm_nattch, 0u);
  EXPECT_EQ(ds.shm_atime, 0);
  EXPECT_EQ(ds.shm_dtime, 0);
  EXPECT_NEAR(ds.shm_ctime, time(nullptr), 5);
}

TEST(ShmAtTest, AttachReadWriteAndZeroFilled) {
  Segment s(2 * kPageSize);
  ASSERT_GE(s.id(), 0);
  char* p = static_cast<char*>(ShmAt(s.id(), nullptr, 0));
  ASSERT_NE(p, reinterpret_cast<char*>(-1)) << strerror(errno);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % kPageSize, 0u);
  EXPECT_EQ(p[0], 0);
  EXPECT_EQ(p[2 * kPageSize - 1], 0);
  p[100] = 'x';
  EXPECT_THAT(ShmDt(p), SyscallSucceeds());
}

TEST(ShmAtTest, TwoAttachesShareMemory) {
  Segment s(kPageSize);
  char* a = static_cast<char*>(ShmAt(s.id(), nullptr, 0));
  char* b = static_cast<char*>(ShmAt(s.id(), nullptr, 0));
  ASSERT_NE(a, reinterpret_cast<char*>(-1));
  ASSERT_NE(b, reinterpret_cast<char*>(-1));
  EXPECT_NE(a, b);
  a[7] = 42;
  EXPECT_EQ(b[7], 42);
  EXPECT_EQ(Stat(s.id()).shm_nattch, 2u);
  EXPECT_THAT(ShmDt(a), SyscallSucceeds());
  EXPECT_EQ(Stat(s.id()).shm_nattch, 1u);
  EXPECT_THAT(ShmDt(b), SyscallSucceeds());
  EXPECT_EQ(Stat(s.id()).shm_nattch, 0u);
}

TEST(ShmAtTest, ContentsSurviveDetach) {
  Segment s(kPageSize);
  char* a = static_cast<char*>(ShmAt(s.id(), nullptr, 0));
  ASSERT_NE(a, reinterpret_cast<char*>(-1));
  strcpy(a, "persist");
  ASSERT_THAT(ShmDt(a), SyscallSucceeds());
  char* b = static_cast<char*>(ShmAt(s.id(), nullptr, SHM_RDONLY));
  ASSERT_NE(b, reinterpret_cast<char*>(-1));
  EXPECT_STREQ(b, "persist");
  EXPECT_THAT(ShmDt(b), SyscallSucceeds());
}

TEST(ShmAtTest, AttachUpdatesTimesAndPids) {
  Segment s(kPageSize);
  void* p = ShmAt(s.id(), nullptr, 0);
  ASSERT_NE(p, reinterpret_cast<void*>(-1));
  shmid_ds ds = Stat(s.id());
  EXPECT_EQ(ds.shm_lpid, getpid());
  EXPECT_NEAR(ds.shm_atime, time(nullptr), 5);
  EXPECT_EQ(ds.shm_dtime, 0);
  ASSERT_THAT(ShmDt(p), SyscallSucceeds());
  ds = Stat(s.id());
  EXPECT_NEAR(ds.shm_dtime, time(nullptr), 5);
}

TEST(ShmAtTest, BadIdIsEINVAL) {
  EXPECT_EQ(ShmAt(-1, nullptr, 0), reinterpret_cast<void*>(-1));
  EXPECT_EQ(errno, EINVAL);
  Segment s(kPageSize);
  EXPECT_EQ(ShmAt(s.id() + 1, nullptr, 0), reinterpret_cast<void*>(-1));
  EXPECT_EQ(errno, EINVAL);
}

TEST(ShmAtTest, MisalignedAddressIsEINVAL) {
  Segment s(kPageSize);
  ASSERT_OK_AND_ASSIGN(uintptr_t addr, FindUnmappedRange(2 * kPageSize));
  EXPECT_EQ(ShmAt(s.id(), reinterpret_cast<void*>(addr + 1), 0), reinterpret_cast<void*>(-1));
  EXPECT_EQ(errno, EINVAL);
}

TEST(ShmAtTest, ShmRndRoundsDown) {
  Segment s(kPageSize);
  ASSERT_OK_AND_ASSIGN(uintptr_t addr, FindUnmappedRange(2 * kPageSize));
  void* p = ShmAt(s.id(), reinterpret_cast<void*>(addr + 123), SHM_RND);
  ASSERT_NE(p, reinterpret_cast<void*>(-1)) << strerror(errno);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(p), addr);
  EXPECT_THAT(ShmDt(p), SyscallSucceeds());
}

TEST(ShmAtTest, ShmRndToZeroWithRemapIsEINVAL) {
  Segment s(kPageSize);
  EXPECT_EQ(ShmAt(s.id(), reinterpret_cast<void*>(100), SHM_RND | SHM_REMAP),
            reinterpret_cast<void*>(-1));
  EXPECT_EQ(errno, EINVAL);
}

TEST(ShmAtTest, RemapWithoutAddressIsEINVAL) {
  Segment s(kPageSize);
  EXPECT_EQ(ShmAt(s.id(), nullptr, SHM_REMAP), reinterpret_cast<void*>(-1));
  EXPECT_EQ(errno, EINVAL);
}

TEST(ShmAtTest, OverlapWithoutRemapIsEINVAL) {
  Segment s(kPageSize);
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(2 * kPageSize));
  EXPECT_EQ(ShmAt(s.id(), reinterpret_cast<void*>(m.addr()), 0), reinterpret_cast<void*>(-1));
  EXPECT_EQ(errno, EINVAL);
}

TEST(ShmAtTest, RemapReplacesAMapping) {
  Segment s(kPageSize);
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(kPageSize));
  static_cast<char*>(m.ptr())[0] = 9;
  void* p = ShmAt(s.id(), reinterpret_cast<void*>(m.addr()), SHM_REMAP);
  ASSERT_EQ(p, m.ptr()) << strerror(errno);
  EXPECT_EQ(static_cast<char*>(p)[0], 0);
  EXPECT_THAT(ShmDt(p), SyscallSucceeds());
  m.release();
}

TEST(ShmAtTest, ReadOnlyAttachIsNotWritable) {
  Segment s(kPageSize);
  void* p = ShmAt(s.id(), nullptr, SHM_RDONLY);
  ASSERT_NE(p, reinterpret_cast<void*>(-1));
  EXPECT_TRUE(ProbeReadable(reinterpret_cast<uintptr_t>(p)));
  EXPECT_FALSE(ProbeWritable(reinterpret_cast<uintptr_t>(p)));
  // mprotect cannot add write to a read-only attach.
  EXPECT_THAT(mprotect(p, kPageSize, PROT_READ | PROT_WRITE), SyscallFailsWithErrno(EACCES));
  EXPECT_THAT(ShmDt(p), SyscallSucceeds());
}

TEST(ShmAtTest, ExecAttach) {
  Segment s(kPageSize);
  void* p = ShmAt(s.id(), nullptr, SHM_EXEC);
  ASSERT_NE(p, reinterpret_cast<void*>(-1)) << strerror(errno);
  EXPECT_THAT(ShmDt(p), SyscallSucceeds());
}

TEST(ShmAtTest, PermissionDeniedForOthers) {
  Segment s(kPageSize, 0604);
  ASSERT_GE(s.id(), 0);
  int id = s.id();
  EXPECT_TRUE(InForkedChild([id] {
    DropPrivilegesInChild();
    if (getuid() == 0) return;
    CHILD_CHECK(ShmAt(id, nullptr, 0) == reinterpret_cast<void*>(-1) && errno == EACCES);
    void* p = ShmAt(id, nullptr, SHM_RDONLY);
    CHILD_CHECK(p != reinterpret_cast<void*>(-1));
    CHILD_CHECK(ShmDt(p) == 0);
  }));
}

TEST(ShmDtTest, NotAttachedIsEINVAL) {
  ASSERT_OK_AND_ASSIGN(Mapping m, Mapping::Anonymous(kPageSize));
  EXPECT_THAT(ShmDt(m.ptr()), SyscallFailsWithErrno(EINVAL));
}

TEST(ShmDtTest, MisalignedIsEINVAL) {
  Segment s(kPageSize);
  char* p = static_cast<char*>(ShmAt(s.id(), nullptr, 0));
  ASSERT_NE(p, reinterpret_cast<char*>(-1));
  EXPECT_THAT(ShmDt(p + 1), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(ShmDt(p), SyscallSucceeds());
}

TEST(ShmDtTest, SecondDetachIsEINVAL) {
  Segment s(kPageSize);
  char* p = static_cast<char*>(ShmAt(s.id(), nullptr, 0));
  ASSERT_NE(p, reinterpret_cast<char*>(-1));
  EXPECT_THAT(ShmDt(p), SyscallSucceeds());
  EXPECT_FALSE(IsMapped(reinterpret_cast<uintptr_t>(p), kPageSize));
  EXPECT_THAT(ShmDt(p), SyscallFailsWithErrno(EINVAL));
}

TEST(ShmDtTest, DetachesTheWholeSegment) {
  Segment s(3 * kPageSize);
  char* p = static_cast<char*>(ShmAt(s.id(), nullptr, 0));
  ASSERT_NE(p, reinterpret_cast<char*>(-1));
  // Split the mapping in three VMAs.
  ASSERT_THAT(mprotect(p + kPageSize, kPageSize, PROT_READ), SyscallSucceeds());
  EXPECT_THAT(ShmDt(p), SyscallSucceeds());
  for (int i = 0; i < 3; ++i)
    EXPECT_FALSE(IsMapped(reinterpret_cast<uintptr_t>(p + i * kPageSize), kPageSize));
  EXPECT_EQ(Stat(s.id()).shm_nattch, 0u);
}

TEST(ShmDtTest, MunmapAlsoDetaches) {
  Segment s(kPageSize);
  void* p = ShmAt(s.id(), nullptr, 0);
  ASSERT_NE(p, reinterpret_cast<void*>(-1));
  EXPECT_EQ(Stat(s.id()).shm_nattch, 1u);
  ASSERT_THAT(munmap(p, kPageSize), SyscallSucceeds());
  EXPECT_EQ(Stat(s.id()).shm_nattch, 0u);
}

TEST(ShmCtlTest, NegativeIdOrCmdIsEINVAL) {
  shmid_ds ds;
  EXPECT_THAT(ShmCtl(-1, IPC_STAT, &ds), SyscallFailsWithErrno(EINVAL));
  Segment s(kPageSize);
  EXPECT_THAT(ShmCtl(s.id(), -1, &ds), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(ShmCtl(s.id(), 12345, &ds), SyscallFailsWithErrno(EINVAL));
}

TEST(ShmCtlTest, StatBadBufferIsEFAULT) {
  Segment s(kPageSize);
  EXPECT_THAT(ShmCtl(s.id(), IPC_STAT, reinterpret_cast<void*>(8)), SyscallFailsWithErrno(EFAULT));
}

TEST(ShmCtlTest, StatUnknownIdIsEINVAL) {
  Segment s(kPageSize);
  int id = s.id();
  s.~Segment();
  new (&s) Segment(kPageSize);
  shmid_ds ds;
  if (s.id() != id) {
    EXPECT_THAT(ShmCtl(id, IPC_STAT, &ds), SyscallFailsWithErrno(EINVAL));
  }
}

TEST(ShmCtlTest, SetChangesModeAndOwner) {
  Segment s(kPageSize, 0600);
  shmid_ds ds = Stat(s.id());
  ds.shm_perm.mode = 0644 | 0170000;  // only the low nine bits count
  ASSERT_THAT(ShmCtl(s.id(), IPC_SET, &ds), SyscallSucceeds());
  shmid_ds after = Stat(s.id());
  EXPECT_EQ(after.shm_perm.mode & 0777, 0644);
  EXPECT_EQ(after.shm_perm.mode & ~0777 & ~03000, 0);
  EXPECT_EQ(after.shm_perm.cuid, geteuid());
}

TEST(ShmCtlTest, SetInvalidUidIsEINVAL) {
  Segment s(kPageSize, 0600);
  shmid_ds ds = Stat(s.id());
  ds.shm_perm.uid = static_cast<uid_t>(-1);
  EXPECT_THAT(ShmCtl(s.id(), IPC_SET, &ds), SyscallFailsWithErrno(EINVAL));
}

TEST(ShmCtlTest, SetAndRmidByOthersIsEPERM) {
  Segment s(kPageSize, 0666);
  int id = s.id();
  EXPECT_TRUE(InForkedChild([id] {
    DropPrivilegesInChild();
    if (getuid() == 0) return;
    shmid_ds ds;
    CHILD_CHECK(ShmCtl(id, IPC_STAT, &ds) == 0);
    CHILD_CHECK(ShmCtl(id, IPC_SET, &ds) == -1 && errno == EPERM);
    CHILD_CHECK(ShmCtl(id, IPC_RMID, nullptr) == -1 && errno == EPERM);
  }));
}

TEST(ShmCtlTest, StatNeedsReadPermission) {
  Segment s(kPageSize, 0600);
  int id = s.id();
  EXPECT_TRUE(InForkedChild([id] {
    DropPrivilegesInChild();
    if (getuid() == 0) return;
    shmid_ds ds;
    CHILD_CHECK(ShmCtl(id, IPC_STAT, &ds) == -1 && errno == EACCES);
  }));
}

TEST(ShmCtlTest, RmidUnattachedRemovesAtOnce) {
  Segment s(kPageSize);
  int id = s.id();
  ASSERT_THAT(ShmCtl(id, IPC_RMID, nullptr), SyscallSucceeds());
  s.release();
  shmid_ds ds;
  EXPECT_THAT(ShmCtl(id, IPC_STAT, &ds), SyscallFailsWithErrno(EINVAL));
  EXPECT_EQ(ShmAt(id, nullptr, 0), reinterpret_cast<void*>(-1));
  EXPECT_EQ(errno, EINVAL);
}

TEST(ShmCtlTest, RmidWhileAttachedDefersAndHidesTheKey) {
  key_t key = UniqueKey();
  Segment s(kPageSize, 0600, key);
  int id = s.id();
  char* p = static_cast<char*>(ShmAt(id, nullptr, 0));
  ASSERT_NE(p, reinterpret_cast<char*>(-1));
  p[0] = 'k';
  ASSERT_THAT(ShmCtl(id, IPC_RMID, nullptr), SyscallSucceeds());
  s.release();
  shmid_ds ds = Stat(id);
  EXPECT_EQ(ds.shm_perm.__key, IPC_PRIVATE);
  EXPECT_TRUE(ds.shm_perm.mode & SHM_DEST);
  EXPECT_EQ(ds.shm_nattch, 1u);
  // The key is free again.
  EXPECT_THAT(ShmGet(key, kPageSize, 0600), SyscallFailsWithErrno(ENOENT));
  // Linux still lets the id be attached until the last detach.
  char* q = static_cast<char*>(ShmAt(id, nullptr, 0));
  ASSERT_NE(q, reinterpret_cast<char*>(-1));
  EXPECT_EQ(q[0], 'k');
  EXPECT_THAT(ShmDt(q), SyscallSucceeds());
  EXPECT_EQ(p[0], 'k');
  EXPECT_THAT(ShmDt(p), SyscallSucceeds());
  EXPECT_THAT(ShmCtl(id, IPC_STAT, &ds), SyscallFailsWithErrno(EINVAL));
}

TEST(ShmCtlTest, IpcInfo) {
  struct shminfo info {};
  long r = ShmCtl(0, IPC_INFO, &info);
  ASSERT_THAT(r, SyscallSucceeds());
  EXPECT_GE(r, 0);
  EXPECT_EQ(info.shmmin, 1u);
  EXPECT_GT(info.shmmax, 0u);
  EXPECT_GT(info.shmmni, 0u);
  EXPECT_GT(info.shmall, 0u);
}

TEST(ShmCtlTest, IpcInfoBadBufferIsEFAULT) {
  EXPECT_THAT(ShmCtl(0, IPC_INFO, reinterpret_cast<void*>(8)), SyscallFailsWithErrno(EFAULT));
}

TEST(ShmCtlTest, ShmInfoCountsSegments) {
  struct shm_info before {
  }, after{};
  ASSERT_THAT(ShmCtl(0, SHM_INFO, &before), SyscallSucceeds());
  Segment s(3 * kPageSize);
  long maxidx = ShmCtl(0, SHM_INFO, &after);
  ASSERT_THAT(maxidx, SyscallSucceeds());
  EXPECT_GE(maxidx, s.id() % 32768);
  EXPECT_EQ(after.used_ids, before.used_ids + 1);
  EXPECT_GE(after.shm_tot, 3u);
}

TEST(ShmCtlTest, ShmStatByIndex) {
  Segment s(kPageSize, 0600);
  struct shm_info info {};
  long maxidx = ShmCtl(0, SHM_INFO, &info);
  ASSERT_THAT(maxidx, SyscallSucceeds());
  bool found = false;
  for (int i = 0; i <= maxidx && !found; ++i) {
    shmid_ds ds;
    long id = ShmCtl(i, SHM_STAT, &ds);
    if (id == s.id()) {
      found = true;
      EXPECT_EQ(ds.shm_segsz, kPageSize);
      EXPECT_THAT(ShmCtl(i, SHM_STAT_ANY, &ds), SyscallSucceedsWithValue(s.id()));
    }
  }
  EXPECT_TRUE(found);
}

TEST(ShmCtlTest, ShmStatAnySkipsPermissionCheck) {
  Segment s(kPageSize, 0600);
  int index = s.id() % 32768;
  EXPECT_TRUE(InForkedChild([index] {
    DropPrivilegesInChild();
    if (getuid() == 0) return;
    shmid_ds ds;
    CHILD_CHECK(ShmCtl(index, SHM_STAT, &ds) == -1 && errno == EACCES);
    CHILD_CHECK(ShmCtl(index, SHM_STAT_ANY, &ds) >= 0);
  }));
}

TEST(ShmCtlTest, ShmStatOfUnusedIndexIsEINVAL) {
  struct shm_info info {};
  long maxidx = ShmCtl(0, SHM_INFO, &info);
  ASSERT_THAT(maxidx, SyscallSucceeds());
  shmid_ds ds;
  EXPECT_THAT(ShmCtl(static_cast<int>(maxidx) + 1, SHM_STAT, &ds), SyscallFailsWithErrno(EINVAL));
}

TEST(ShmCtlTest, LockAndUnlock) {
  Segment s(kPageSize);
  SKIP_IF(!HaveCapability(CAP_IPC_LOCK));
  ASSERT_THAT(ShmCtl(s.id(), SHM_LOCK, nullptr), SyscallSucceeds());
  EXPECT_TRUE(Stat(s.id()).shm_perm.mode & SHM_LOCKED);
  ASSERT_THAT(ShmCtl(s.id(), SHM_UNLOCK, nullptr), SyscallSucceeds());
  EXPECT_FALSE(Stat(s.id()).shm_perm.mode & SHM_LOCKED);
}

TEST(ShmCtlTest, LockByOthersIsEPERM) {
  Segment s(kPageSize, 0666);
  int id = s.id();
  EXPECT_TRUE(InForkedChild([id] {
    DropPrivilegesInChild();
    if (getuid() == 0) return;
    CHILD_CHECK(ShmCtl(id, SHM_LOCK, nullptr) == -1 && errno == EPERM);
  }));
}

TEST(ShmForkTest, ChildSharesTheAttachment) {
  Segment s(kPageSize);
  char* p = static_cast<char*>(ShmAt(s.id(), nullptr, 0));
  ASSERT_NE(p, reinterpret_cast<char*>(-1));
  int id = s.id();
  EXPECT_TRUE(InForkedChild([p, id] {
    shmid_ds ds;
    CHILD_CHECK(ShmCtl(id, IPC_STAT, &ds) == 0 && ds.shm_nattch == 2);
    strcpy(p, "from child");
  }));
  EXPECT_STREQ(p, "from child");
  EXPECT_EQ(Stat(id).shm_nattch, 1u);  // the child's went with its exit
  EXPECT_THAT(ShmDt(p), SyscallSucceeds());
}

TEST(ShmForkTest, ChildDetachLeavesParentAttached) {
  Segment s(kPageSize);
  char* p = static_cast<char*>(ShmAt(s.id(), nullptr, 0));
  ASSERT_NE(p, reinterpret_cast<char*>(-1));
  EXPECT_TRUE(InForkedChild([p] { CHILD_CHECK(ShmDt(p) == 0); }));
  p[0] = 1;
  EXPECT_EQ(Stat(s.id()).shm_nattch, 1u);
  EXPECT_THAT(ShmDt(p), SyscallSucceeds());
}

TEST(ShmForkTest, RmidWhileChildAttachedFreesAtChildExit) {
  Segment s(kPageSize);
  int id = s.id();
  // Two pipes: the child's "attached" and the parent's "go on".
  int up[2], down[2];
  ASSERT_THAT(pipe(up), SyscallSucceeds());
  ASSERT_THAT(pipe(down), SyscallSucceeds());
  pid_t pid = fork();
  if (pid == 0) {
    char* p = static_cast<char*>(ShmAt(id, nullptr, 0));
    if (p == reinterpret_cast<char*>(-1)) _exit(1);
    p[0] = 'c';
    char c = 0;
    if (write(up[1], &c, 1) != 1) _exit(2);
    if (read(down[0], &c, 1) != 1) _exit(3);  // waits for the parent's byte
    _exit(p[0] == 'c' ? 0 : 4);
  }
  ASSERT_GT(pid, 0);
  char c;
  ASSERT_EQ(read(up[0], &c, 1), 1);
  ASSERT_THAT(ShmCtl(id, IPC_RMID, nullptr), SyscallSucceeds());
  s.release();
  shmid_ds ds = Stat(id);
  EXPECT_EQ(ds.shm_nattch, 1u);
  EXPECT_TRUE(ds.shm_perm.mode & SHM_DEST);
  ASSERT_EQ(write(down[1], &c, 1), 1);
  int status;
  ASSERT_THAT(waitpid(pid, &status, 0), SyscallSucceedsWithValue(pid));
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_THAT(ShmCtl(id, IPC_STAT, &ds), SyscallFailsWithErrno(EINVAL));
  for (int fd : {up[0], up[1], down[0], down[1]}) close(fd);
}

TEST(ShmForkTest, ChildAttachSetsLpid) {
  Segment s(kPageSize);
  int id = s.id();
  pid_t pid = fork();
  if (pid == 0) {
    void* p = ShmAt(id, nullptr, 0);
    _exit(p == reinterpret_cast<void*>(-1) ? 1 : 0);
  }
  int status;
  ASSERT_THAT(waitpid(pid, &status, 0), SyscallSucceedsWithValue(pid));
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  shmid_ds ds = Stat(id);
  EXPECT_EQ(ds.shm_nattch, 0u);
  EXPECT_NE(ds.shm_atime, 0);
  EXPECT_NE(ds.shm_dtime, 0);
}

TEST(ShmNamespaceTest, NewIpcNamespaceHidesSegments) {
  SKIP_IF(!HaveCapability(CAP_SYS_ADMIN));
  key_t key = UniqueKey();
  Segment s(kPageSize, 0600, key);
  int id = s.id();
  alignas(16) char stack[16384];
  struct Arg {
    key_t key;
    int id;
  } arg{key, id};
  pid_t pid = static_cast<pid_t>(clone(
      [](void* v) -> int {
        auto* a = static_cast<Arg*>(v);
        if (ShmGet(a->key, kPageSize, 0600) != -1 || errno != ENOENT) return 1;
        shmid_ds ds;
        if (ShmCtl(a->id, IPC_STAT, &ds) != -1 || errno != EINVAL) return 2;
        long nid = ShmGet(a->key, kPageSize, IPC_CREAT | 0600);
        if (nid < 0) return 3;
        return 0;
      },
      stack + sizeof(stack), CLONE_NEWIPC | SIGCHLD, &arg));
  ASSERT_THAT(pid, SyscallSucceeds());
  int status;
  ASSERT_THAT(waitpid(pid, &status, 0), SyscallSucceedsWithValue(pid));
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  // The parent's segment is untouched.
  EXPECT_THAT(ShmGet(key, kPageSize, 0600), SyscallSucceedsWithValue(id));
}

TEST(ShmNamespaceTest, NewIpcWithSysvsemIsEINVAL) {
  EXPECT_THAT(syscall(SYS_clone, CLONE_NEWIPC | CLONE_SYSVSEM | SIGCHLD, 0, 0, 0, 0),
              SyscallFailsWithErrno(EINVAL));
}

// --- /proc/sysvipc/shm and kernel.shm* ---

bool WriteProcFile(const char* path, const char* text) {
  int fd = open(path, O_WRONLY);
  if (fd < 0) return false;
  const bool ok = write(fd, text, strlen(text)) == static_cast<ssize_t>(strlen(text));
  close(fd);
  return ok;
}

unsigned long ShmSysctl(const char* name) {
  return strtoul(ReadWholeFile((std::string("/proc/sys/kernel/") + name).c_str()).c_str(), nullptr,
                 10);
}

TEST(ShmProcTest, SysvipcShmListsTheSegment) {
  const key_t key = UniqueKey();
  Segment s(3 * kPageSize, 0640, key);
  ASSERT_GE(s.id(), 0);
  void* p = ShmAt(s.id(), nullptr, 0);
  ASSERT_NE(p, reinterpret_cast<void*>(-1));
  static_cast<char*>(p)[0] = 1;  // one resident page
  const std::string text = ReadWholeFile("/proc/sysvipc/shm");
  ASSERT_THAT(ShmDt(p), SyscallSucceeds());
  EXPECT_EQ(
      text.rfind("       key      shmid perms                  size  cpid  lpid nattch   uid   "
                 "gid  cuid  cgid      atime      dtime      ctime                   rss      "
                 "            swap\n",
                 0),
      0u);
  char want[160];
  snprintf(want, sizeof(want), "%10d %10d  %4o %21lu %5u %5u  %5lu %5u %5u %5u %5u ", key, s.id(),
           0640, 3 * kPageSize, getpid(), getpid(), 1ul, geteuid(), getegid(), geteuid(),
           getegid());
  EXPECT_NE(text.find(want), std::string::npos) << text;
}

TEST(ShmProcTest, SysctlsMatchIpcInfo) {
  shminfo info{};
  ASSERT_GE(ShmCtl(0, IPC_INFO, &info), 0);
  EXPECT_EQ(ShmSysctl("shmmax"), info.shmmax);
  EXPECT_EQ(ShmSysctl("shmall"), info.shmall);
  EXPECT_EQ(ShmSysctl("shmmni"), info.shmmni);
  const std::string forced = ReadWholeFile("/proc/sys/kernel/shm_rmid_forced");
  EXPECT_TRUE(forced == "0\n" || forced == "1\n") << forced;
}

// In a new IPC namespace (the host's limits stay), root sets the limits.
TEST(ShmProcTest, RootSetsTheLimitsOfItsNamespace) {
  SKIP_IF(!HaveCapability(CAP_SYS_ADMIN));
  const pid_t child = static_cast<pid_t>(syscall(SYS_clone, CLONE_NEWIPC | SIGCHLD, 0, 0, 0, 0));
  if (child == 0) {
    if (!WriteProcFile("/proc/sys/kernel/shmmax", "8192\n")) _exit(1);
    if (ShmSysctl("shmmax") != 8192) _exit(2);
    if (!(ShmGet(IPC_PRIVATE, 8193, IPC_CREAT | 0600) == -1 && errno == EINVAL)) _exit(3);
    if (!WriteProcFile("/proc/sys/kernel/shmmni", "1\n")) _exit(4);
    if (ShmGet(IPC_PRIVATE, 8192, IPC_CREAT | 0600) < 0) _exit(5);
    if (!(ShmGet(IPC_PRIVATE, 8192, IPC_CREAT | 0600) == -1 && errno == ENOSPC)) _exit(6);
    if (WriteProcFile("/proc/sys/kernel/shmmni", "40000\n")) _exit(7);  // above IPCMNI
    if (WriteProcFile("/proc/sys/kernel/shm_rmid_forced", "2\n")) _exit(8);
    _exit(0);
  }
  ASSERT_GT(child, 0);
  EXPECT_EQ(WaitExitCode(child), 0);
}

// shm_rmid_forced: setting it destroys the orphans (segments whose creator
// is gone, attached nowhere); while set, a creator's exit destroys its
// unattached segments.
TEST(ShmProcTest, RmidForcedDestroysOrphans) {
  SKIP_IF(!HaveCapability(CAP_SYS_ADMIN));
  const pid_t child = static_cast<pid_t>(syscall(SYS_clone, CLONE_NEWIPC | SIGCHLD, 0, 0, 0, 0));
  if (child == 0) {
    const key_t key = 0x1234;
    pid_t maker = fork();
    if (maker == 0) _exit(ShmGet(key, 4096, IPC_CREAT | 0600) >= 0 ? 0 : 1);
    if (WaitExitCode(maker) != 0) _exit(1);
    const int orphan = static_cast<int>(ShmGet(key, 0, 0));
    if (orphan < 0) _exit(2);  // kept while shm_rmid_forced is 0
    if (!WriteProcFile("/proc/sys/kernel/shm_rmid_forced", "1\n")) _exit(3);
    if (!(ShmGet(key, 0, 0) == -1 && errno == ENOENT)) _exit(4);
    maker = fork();
    if (maker == 0) _exit(ShmGet(key, 4096, IPC_CREAT | 0600) >= 0 ? 0 : 1);
    if (WaitExitCode(maker) != 0) _exit(5);
    if (!(ShmGet(key, 0, 0) == -1 && errno == ENOENT)) _exit(6);  // gone with its creator
    _exit(0);
  }
  ASSERT_GT(child, 0);
  EXPECT_EQ(WaitExitCode(child), 0);
}

}  // namespace
}  // namespace syscalls_test
