// System V message queues: msgget(2), msgsnd(2), msgrcv(2), msgctl(2), and
// /proc/sysvipc/msg and /proc/sys/kernel/msg*. Natively these share the
// host's IPC namespace with whatever else runs: queues are IPC_PRIVATE or
// keyed by the pid, and every queue is removed at the end of its case.
// Cases that change limits do so in a child with a new IPC namespace.
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "syscalls-tests/util/forked_child.h"
#include "syscalls-tests/util/syscall_matchers.h"
#include "syscalls-tests/util/test_util.h"

namespace syscalls_test {
namespace {

#ifndef MSG_STAT_ANY
#define MSG_STAT_ANY 13
#endif
#ifndef MSG_COPY
#define MSG_COPY 040000
#endif

long MsgGet(key_t key, int flags) { return syscall(SYS_msgget, key, flags); }
long MsgSnd(int id, const void* buf, size_t size, int flags) {
  return syscall(SYS_msgsnd, id, buf, size, flags);
}
long MsgRcv(int id, void* buf, size_t size, long type, int flags) {
  return syscall(SYS_msgrcv, id, buf, size, type, flags);
}
long MsgCtl(int id, int cmd, void* buf) { return syscall(SYS_msgctl, id, cmd, buf); }

key_t UniqueKey() {
  static int n = 0;
  return static_cast<key_t>(0x5f000000 | ((getpid() & 0xffff) << 8) | (++n & 0xff));
}

// A queue removed at the end of the test.
class Queue {
 public:
  explicit Queue(int flags = 0600, key_t key = IPC_PRIVATE) {
    id_ = static_cast<int>(MsgGet(key, flags | IPC_CREAT));
  }
  ~Queue() {
    if (id_ >= 0) MsgCtl(id_, IPC_RMID, nullptr);
  }
  int id() const { return id_; }
  void release() { id_ = -1; }

 private:
  int id_;
};

struct Msg {
  long type;
  char text[256];
};

long Send(int id, long type, const std::string& text, int flags = 0) {
  Msg m{type, {}};
  memcpy(m.text, text.data(), text.size());
  return MsgSnd(id, &m, text.size(), flags);
}

// Receives into `out` (type and text); the syscall's result.
long Recv(int id, long type, int flags, Msg* out, size_t size = sizeof(Msg::text)) {
  *out = Msg{};
  return MsgRcv(id, out, size, type, flags);
}

msqid_ds Stat(int id) {
  msqid_ds ds{};
  EXPECT_THAT(MsgCtl(id, IPC_STAT, &ds), SyscallSucceeds());
  return ds;
}

long Sysctl(const char* name) {
  return strtol(ReadWholeFile((std::string("/proc/sys/kernel/") + name).c_str()).c_str(), nullptr,
                10);
}

bool WriteFile(const char* path, const std::string& text) {
  int fd = open(path, O_WRONLY);
  if (fd < 0) return false;
  const bool ok = write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  close(fd);
  return ok;
}

// Sleeps until `pid` is blocked in the kernel (state S in /proc/pid/stat),
// up to 5 s.
bool WaitBlocked(pid_t pid) {
  const std::string path = "/proc/" + std::to_string(pid) + "/stat";
  for (int i = 0; i < 5000; ++i) {
    const std::string s = ReadWholeFile(path.c_str());
    const size_t paren = s.rfind(')');
    if (paren != std::string::npos && paren + 2 < s.size() && s[paren + 2] == 'S') {
      usleep(20000);  // let it settle into the wait
      return true;
    }
    usleep(1000);
  }
  return false;
}

// --- msgget ---

TEST(MsgGetTest, PrivateCreatesDistinctQueues) {
  Queue a, b;
  ASSERT_GE(a.id(), 0);
  ASSERT_GE(b.id(), 0);
  EXPECT_NE(a.id(), b.id());
}

TEST(MsgGetTest, MissingKeyWithoutCreateIsENOENT) {
  EXPECT_THAT(MsgGet(UniqueKey(), 0600), SyscallFailsWithErrno(ENOENT));
}

TEST(MsgGetTest, KeyFindsTheSameQueue) {
  const key_t key = UniqueKey();
  Queue q(0600, key);
  ASSERT_GE(q.id(), 0);
  EXPECT_THAT(MsgGet(key, 0600), SyscallSucceedsWithValue(q.id()));
  EXPECT_THAT(MsgGet(key, IPC_CREAT | 0600), SyscallSucceedsWithValue(q.id()));
  EXPECT_THAT(MsgGet(key, IPC_CREAT | IPC_EXCL | 0600), SyscallFailsWithErrno(EEXIST));
}

TEST(MsgGetTest, OtherUserWithoutPermissionIsEACCES) {
  const key_t key = UniqueKey();
  Queue q(0600, key);
  ASSERT_GE(q.id(), 0);
  EXPECT_TRUE(InForkedChild([&] {
    DropPrivilegesInChild();
    CHILD_CHECK(MsgGet(key, 0200) == -1 && errno == EACCES);
  }));
}

TEST(MsgGetTest, NewQueueStat) {
  const time_t before = time(nullptr);
  Queue q(0640);
  ASSERT_GE(q.id(), 0);
  msqid_ds ds = Stat(q.id());
  EXPECT_EQ(ds.msg_perm.mode & 0777, 0640u);
  EXPECT_EQ(ds.msg_perm.uid, geteuid());
  EXPECT_EQ(ds.msg_qnum, 0u);
  EXPECT_EQ(ds.__msg_cbytes, 0u);
  EXPECT_EQ(static_cast<long>(ds.msg_qbytes), Sysctl("msgmnb"));
  EXPECT_EQ(ds.msg_stime, 0);
  EXPECT_EQ(ds.msg_rtime, 0);
  EXPECT_GE(ds.msg_ctime, before);
}

// --- msgsnd / msgrcv ---

TEST(MsgTest, SendThenReceive) {
  Queue q;
  ASSERT_GE(q.id(), 0);
  ASSERT_THAT(Send(q.id(), 7, "hello"), SyscallSucceeds());
  Msg m;
  EXPECT_THAT(Recv(q.id(), 0, 0, &m), SyscallSucceedsWithValue(5));
  EXPECT_EQ(m.type, 7);
  EXPECT_EQ(std::string(m.text, 5), "hello");
}

TEST(MsgTest, StatFollowsTheTraffic) {
  Queue q;
  ASSERT_GE(q.id(), 0);
  const time_t before = time(nullptr);
  ASSERT_THAT(Send(q.id(), 1, "abc"), SyscallSucceeds());
  ASSERT_THAT(Send(q.id(), 1, "de"), SyscallSucceeds());
  msqid_ds ds = Stat(q.id());
  EXPECT_EQ(ds.msg_qnum, 2u);
  EXPECT_EQ(ds.__msg_cbytes, 5u);
  EXPECT_EQ(ds.msg_lspid, getpid());
  EXPECT_GE(ds.msg_stime, before);
  EXPECT_EQ(ds.msg_lrpid, 0);
  Msg m;
  ASSERT_THAT(Recv(q.id(), 0, 0, &m), SyscallSucceeds());
  ds = Stat(q.id());
  EXPECT_EQ(ds.msg_qnum, 1u);
  EXPECT_EQ(ds.__msg_cbytes, 2u);
  EXPECT_EQ(ds.msg_lrpid, getpid());
  EXPECT_GE(ds.msg_rtime, before);
}

TEST(MsgTest, EmptyMessage) {
  Queue q;
  ASSERT_GE(q.id(), 0);
  ASSERT_THAT(Send(q.id(), 3, ""), SyscallSucceeds());
  Msg m;
  EXPECT_THAT(Recv(q.id(), 0, 0, &m), SyscallSucceedsWithValue(0));
  EXPECT_EQ(m.type, 3);
}

TEST(MsgTest, TypeBelowOneIsEINVAL) {
  Queue q;
  ASSERT_GE(q.id(), 0);
  EXPECT_THAT(Send(q.id(), 0, "x"), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(Send(q.id(), -5, "x"), SyscallFailsWithErrno(EINVAL));
}

TEST(MsgTest, LargerThanMsgmaxIsEINVAL) {
  Queue q;
  ASSERT_GE(q.id(), 0);
  const long msgmax = Sysctl("msgmax");
  ASSERT_GT(msgmax, 0);
  std::string big(msgmax + 1 + sizeof(long), 'x');
  long* type = reinterpret_cast<long*>(big.data());
  *type = 1;
  EXPECT_THAT(MsgSnd(q.id(), big.data(), msgmax + 1, 0), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(MsgSnd(q.id(), big.data(), msgmax, IPC_NOWAIT), SyscallSucceeds());
}

TEST(MsgTest, BadIdsAreEINVAL) {
  Queue q;
  ASSERT_GE(q.id(), 0);
  const int id = q.id();
  ASSERT_THAT(MsgCtl(id, IPC_RMID, nullptr), SyscallSucceeds());
  q.release();
  Msg m;
  EXPECT_THAT(Send(id, 1, "x"), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(Recv(id, 0, IPC_NOWAIT, &m), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(Send(-1, 1, "x"), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(Recv(-1, 0, IPC_NOWAIT, &m), SyscallFailsWithErrno(EINVAL));
}

TEST(MsgTest, UnreadableMessageIsEFAULT) {
  Queue q;
  ASSERT_GE(q.id(), 0);
  EXPECT_THAT(MsgSnd(q.id(), reinterpret_cast<void*>(8), 1, 0), SyscallFailsWithErrno(EFAULT));
  EXPECT_EQ(Stat(q.id()).msg_qnum, 0u);
}

TEST(MsgTest, UnwritableBufferIsEFAULT) {
  Queue q;
  ASSERT_GE(q.id(), 0);
  ASSERT_THAT(Send(q.id(), 1, "x"), SyscallSucceeds());
  EXPECT_THAT(MsgRcv(q.id(), reinterpret_cast<void*>(8), 16, 0, 0), SyscallFailsWithErrno(EFAULT));
}

TEST(MsgTest, NegativeSizeIsEINVAL) {
  Queue q;
  ASSERT_GE(q.id(), 0);
  Msg m;
  EXPECT_THAT(MsgRcv(q.id(), &m, static_cast<size_t>(-1), 0, IPC_NOWAIT),
              SyscallFailsWithErrno(EINVAL));
}

TEST(MsgTest, AnyTypeIsFirstIn) {
  Queue q;
  ASSERT_GE(q.id(), 0);
  ASSERT_THAT(Send(q.id(), 5, "a"), SyscallSucceeds());
  ASSERT_THAT(Send(q.id(), 2, "b"), SyscallSucceeds());
  Msg m;
  ASSERT_THAT(Recv(q.id(), 0, 0, &m), SyscallSucceeds());
  EXPECT_EQ(m.type, 5);
  ASSERT_THAT(Recv(q.id(), 0, 0, &m), SyscallSucceeds());
  EXPECT_EQ(m.type, 2);
}

TEST(MsgTest, PositiveTypeTakesTheFirstOfThatType) {
  Queue q;
  ASSERT_GE(q.id(), 0);
  ASSERT_THAT(Send(q.id(), 1, "a"), SyscallSucceeds());
  ASSERT_THAT(Send(q.id(), 2, "b"), SyscallSucceeds());
  ASSERT_THAT(Send(q.id(), 2, "c"), SyscallSucceeds());
  Msg m;
  ASSERT_THAT(Recv(q.id(), 2, 0, &m), SyscallSucceeds());
  EXPECT_EQ(m.text[0], 'b');
  EXPECT_THAT(Recv(q.id(), 3, IPC_NOWAIT, &m), SyscallFailsWithErrno(ENOMSG));
}

TEST(MsgTest, NegativeTypeTakesTheLowestType) {
  Queue q;
  ASSERT_GE(q.id(), 0);
  ASSERT_THAT(Send(q.id(), 4, "a"), SyscallSucceeds());
  ASSERT_THAT(Send(q.id(), 2, "b"), SyscallSucceeds());
  ASSERT_THAT(Send(q.id(), 3, "c"), SyscallSucceeds());
  ASSERT_THAT(Send(q.id(), 2, "d"), SyscallSucceeds());
  Msg m;
  ASSERT_THAT(Recv(q.id(), -3, 0, &m), SyscallSucceeds());
  EXPECT_EQ(m.text[0], 'b');
  ASSERT_THAT(Recv(q.id(), -3, 0, &m), SyscallSucceeds());
  EXPECT_EQ(m.text[0], 'd');
  ASSERT_THAT(Recv(q.id(), -3, 0, &m), SyscallSucceeds());
  EXPECT_EQ(m.text[0], 'c');
  EXPECT_THAT(Recv(q.id(), -3, IPC_NOWAIT, &m), SyscallFailsWithErrno(ENOMSG));
  EXPECT_THAT(Recv(q.id(), LONG_MIN, IPC_NOWAIT, &m), SyscallSucceeds());
  EXPECT_EQ(m.text[0], 'a');
}

TEST(MsgTest, ExceptTakesTheFirstOfAnotherType) {
  Queue q;
  ASSERT_GE(q.id(), 0);
  ASSERT_THAT(Send(q.id(), 1, "a"), SyscallSucceeds());
  ASSERT_THAT(Send(q.id(), 2, "b"), SyscallSucceeds());
  Msg m;
  ASSERT_THAT(Recv(q.id(), 1, MSG_EXCEPT, &m), SyscallSucceeds());
  EXPECT_EQ(m.type, 2);
  EXPECT_THAT(Recv(q.id(), 1, MSG_EXCEPT | IPC_NOWAIT, &m), SyscallFailsWithErrno(ENOMSG));
}

TEST(MsgTest, EmptyQueueNoWaitIsENOMSG) {
  Queue q;
  ASSERT_GE(q.id(), 0);
  Msg m;
  EXPECT_THAT(Recv(q.id(), 0, IPC_NOWAIT, &m), SyscallFailsWithErrno(ENOMSG));
}

TEST(MsgTest, SmallBufferIsE2BIGAndKeepsTheMessage) {
  Queue q;
  ASSERT_GE(q.id(), 0);
  ASSERT_THAT(Send(q.id(), 1, "hello"), SyscallSucceeds());
  Msg m;
  EXPECT_THAT(Recv(q.id(), 0, 0, &m, 3), SyscallFailsWithErrno(E2BIG));
  EXPECT_EQ(Stat(q.id()).msg_qnum, 1u);
}

TEST(MsgTest, NoErrorTruncates) {
  Queue q;
  ASSERT_GE(q.id(), 0);
  ASSERT_THAT(Send(q.id(), 1, "hello"), SyscallSucceeds());
  Msg m;
  EXPECT_THAT(Recv(q.id(), 0, MSG_NOERROR, &m, 3), SyscallSucceedsWithValue(3));
  EXPECT_EQ(std::string(m.text, 3), "hel");
  EXPECT_EQ(m.text[3], '\0');
  EXPECT_EQ(Stat(q.id()).msg_qnum, 0u);
}

TEST(MsgTest, CopyReadsByPositionWithoutRemoving) {
  Queue q;
  ASSERT_GE(q.id(), 0);
  ASSERT_THAT(Send(q.id(), 1, "a"), SyscallSucceeds());
  ASSERT_THAT(Send(q.id(), 2, "b"), SyscallSucceeds());
  Msg m;
  ASSERT_THAT(Recv(q.id(), 1, MSG_COPY | IPC_NOWAIT, &m), SyscallSucceedsWithValue(1));
  EXPECT_EQ(m.type, 2);
  EXPECT_EQ(m.text[0], 'b');
  EXPECT_EQ(Stat(q.id()).msg_qnum, 2u);
  EXPECT_EQ(Stat(q.id()).msg_lrpid, 0);
  EXPECT_THAT(Recv(q.id(), 2, MSG_COPY | IPC_NOWAIT, &m), SyscallFailsWithErrno(ENOMSG));
}

TEST(MsgTest, CopyNeedsNoWaitAndNoExcept) {
  Queue q;
  ASSERT_GE(q.id(), 0);
  ASSERT_THAT(Send(q.id(), 1, "a"), SyscallSucceeds());
  Msg m;
  EXPECT_THAT(Recv(q.id(), 0, MSG_COPY, &m), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(Recv(q.id(), 0, MSG_COPY | MSG_EXCEPT | IPC_NOWAIT, &m),
              SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(Recv(q.id(), 0, MSG_COPY | IPC_NOWAIT, &m, 0), SyscallFailsWithErrno(E2BIG));
}

TEST(MsgTest, FullQueueNoWaitIsEAGAIN) {
  Queue q;
  ASSERT_GE(q.id(), 0);
  msqid_ds ds = Stat(q.id());
  ds.msg_qbytes = 8;
  ASSERT_THAT(MsgCtl(q.id(), IPC_SET, &ds), SyscallSucceeds());
  ASSERT_THAT(Send(q.id(), 1, "12345"), SyscallSucceeds());
  EXPECT_THAT(Send(q.id(), 1, "6789", IPC_NOWAIT), SyscallFailsWithErrno(EAGAIN));
  EXPECT_THAT(Send(q.id(), 1, "678", IPC_NOWAIT), SyscallSucceeds());
}

TEST(MsgTest, MessageCountIsLimitedByQbytesToo) {
  Queue q;
  ASSERT_GE(q.id(), 0);
  msqid_ds ds = Stat(q.id());
  ds.msg_qbytes = 2;
  ASSERT_THAT(MsgCtl(q.id(), IPC_SET, &ds), SyscallSucceeds());
  ASSERT_THAT(Send(q.id(), 1, ""), SyscallSucceeds());
  ASSERT_THAT(Send(q.id(), 1, ""), SyscallSucceeds());
  EXPECT_THAT(Send(q.id(), 1, "", IPC_NOWAIT), SyscallFailsWithErrno(EAGAIN));
}

// --- Blocking ---

TEST(MsgBlockTest, SendWakesAWaitingReceiver) {
  Queue q;
  ASSERT_GE(q.id(), 0);
  const pid_t child = fork();
  if (child == 0) {
    Msg m;
    if (Recv(q.id(), 9, 0, &m) != 2) _exit(1);
    _exit(m.type == 9 && m.text[0] == 'o' ? 0 : 2);
  }
  ASSERT_GT(child, 0);
  ASSERT_TRUE(WaitBlocked(child));
  ASSERT_THAT(Send(q.id(), 3, "no"), SyscallSucceeds());  // not the type it waits for
  ASSERT_THAT(Send(q.id(), 9, "ok"), SyscallSucceeds());
  EXPECT_EQ(WaitExitCode(child), 0);
  msqid_ds ds = Stat(q.id());
  EXPECT_EQ(ds.msg_qnum, 1u);
  EXPECT_EQ(ds.msg_lrpid, child);
}

TEST(MsgBlockTest, TooLargeMessageWakesAReceiverWithE2BIG) {
  Queue q;
  ASSERT_GE(q.id(), 0);
  const pid_t child = fork();
  if (child == 0) {
    Msg m;
    _exit(Recv(q.id(), 0, 0, &m, 2) == -1 && errno == E2BIG ? 0 : 1);
  }
  ASSERT_GT(child, 0);
  ASSERT_TRUE(WaitBlocked(child));
  ASSERT_THAT(Send(q.id(), 1, "long"), SyscallSucceeds());
  EXPECT_EQ(WaitExitCode(child), 0);
  EXPECT_EQ(Stat(q.id()).msg_qnum, 1u);
}

TEST(MsgBlockTest, ReceiveWakesAWaitingSender) {
  Queue q;
  ASSERT_GE(q.id(), 0);
  msqid_ds ds = Stat(q.id());
  ds.msg_qbytes = 4;
  ASSERT_THAT(MsgCtl(q.id(), IPC_SET, &ds), SyscallSucceeds());
  ASSERT_THAT(Send(q.id(), 1, "full"), SyscallSucceeds());
  const pid_t child = fork();
  if (child == 0) _exit(Send(q.id(), 2, "next") == 0 ? 0 : 1);
  ASSERT_GT(child, 0);
  ASSERT_TRUE(WaitBlocked(child));
  EXPECT_EQ(Stat(q.id()).msg_qnum, 1u);
  Msg m;
  ASSERT_THAT(Recv(q.id(), 0, 0, &m), SyscallSucceeds());
  EXPECT_EQ(WaitExitCode(child), 0);
  ASSERT_THAT(Recv(q.id(), 0, IPC_NOWAIT, &m), SyscallSucceeds());
  EXPECT_EQ(m.type, 2);
}

TEST(MsgBlockTest, RemovalWakesReceiversAndSendersWithEIDRM) {
  Queue q;
  ASSERT_GE(q.id(), 0);
  msqid_ds ds = Stat(q.id());
  ds.msg_qbytes = 1;
  ASSERT_THAT(MsgCtl(q.id(), IPC_SET, &ds), SyscallSucceeds());
  ASSERT_THAT(Send(q.id(), 1, "x"), SyscallSucceeds());
  const pid_t receiver = fork();
  if (receiver == 0) {
    Msg m;
    _exit(Recv(q.id(), 5, 0, &m) == -1 && errno == EIDRM ? 0 : 1);
  }
  const pid_t sender = fork();
  if (sender == 0) _exit(Send(q.id(), 1, "y") == -1 && errno == EIDRM ? 0 : 1);
  ASSERT_TRUE(WaitBlocked(receiver));
  ASSERT_TRUE(WaitBlocked(sender));
  ASSERT_THAT(MsgCtl(q.id(), IPC_RMID, nullptr), SyscallSucceeds());
  q.release();
  EXPECT_EQ(WaitExitCode(receiver), 0);
  EXPECT_EQ(WaitExitCode(sender), 0);
}

void NoopHandler(int) {}

TEST(MsgBlockTest, SignalInterruptsWithEINTREvenWithSARestart) {
  Queue q;
  ASSERT_GE(q.id(), 0);
  const pid_t child = fork();
  if (child == 0) {
    struct sigaction sa = {};
    sa.sa_handler = NoopHandler;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGUSR1, &sa, nullptr);
    Msg m;
    _exit(Recv(q.id(), 0, 0, &m) == -1 && errno == EINTR ? 0 : 1);
  }
  ASSERT_TRUE(WaitBlocked(child));
  ASSERT_THAT(kill(child, SIGUSR1), SyscallSucceeds());
  EXPECT_EQ(WaitExitCode(child), 0);
}

TEST(MsgBlockTest, SignalInterruptsABlockedSender) {
  Queue q;
  ASSERT_GE(q.id(), 0);
  msqid_ds ds = Stat(q.id());
  ds.msg_qbytes = 1;
  ASSERT_THAT(MsgCtl(q.id(), IPC_SET, &ds), SyscallSucceeds());
  ASSERT_THAT(Send(q.id(), 1, "x"), SyscallSucceeds());
  const pid_t child = fork();
  if (child == 0) {
    struct sigaction sa = {};
    sa.sa_handler = NoopHandler;
    sigaction(SIGUSR1, &sa, nullptr);
    _exit(Send(q.id(), 1, "y") == -1 && errno == EINTR ? 0 : 1);
  }
  ASSERT_TRUE(WaitBlocked(child));
  ASSERT_THAT(kill(child, SIGUSR1), SyscallSucceeds());
  EXPECT_EQ(WaitExitCode(child), 0);
  EXPECT_EQ(Stat(q.id()).msg_qnum, 1u);
}

// --- msgctl ---

TEST(MsgCtlTest, IpcSetChangesModeAndQbytes) {
  Queue q(0600);
  ASSERT_GE(q.id(), 0);
  msqid_ds ds = Stat(q.id());
  ds.msg_perm.mode = 0666;
  ds.msg_qbytes = 100;
  ASSERT_THAT(MsgCtl(q.id(), IPC_SET, &ds), SyscallSucceeds());
  msqid_ds after = Stat(q.id());
  EXPECT_EQ(after.msg_perm.mode & 0777, 0666u);
  EXPECT_EQ(after.msg_qbytes, 100u);
}

TEST(MsgCtlTest, RaisingQbytesNeedsCapSysResource) {
  const long msgmnb = Sysctl("msgmnb");
  EXPECT_TRUE(InForkedChild([&] {
    DropPrivilegesInChild();
    const int id = static_cast<int>(MsgGet(IPC_PRIVATE, IPC_CREAT | 0600));
    CHILD_CHECK(id >= 0);
    msqid_ds ds{};
    CHILD_CHECK(MsgCtl(id, IPC_STAT, &ds) == 0);
    ds.msg_qbytes = msgmnb + 1;
    const bool refused = MsgCtl(id, IPC_SET, &ds) == -1 && errno == EPERM;
    ds.msg_qbytes = msgmnb - 1;
    const bool lowered = MsgCtl(id, IPC_SET, &ds) == 0;
    MsgCtl(id, IPC_RMID, nullptr);
    CHILD_CHECK(refused);
    CHILD_CHECK(lowered);
  }));
}

TEST(MsgCtlTest, OtherUserIsEACCESAndEPERM) {
  Queue q(0600);
  ASSERT_GE(q.id(), 0);
  ASSERT_THAT(Send(q.id(), 1, "x"), SyscallSucceeds());
  EXPECT_TRUE(InForkedChild([&] {
    DropPrivilegesInChild();
    msqid_ds ds{};
    Msg m;
    CHILD_CHECK(MsgCtl(q.id(), IPC_STAT, &ds) == -1 && errno == EACCES);
    CHILD_CHECK(Send(q.id(), 1, "y") == -1 && errno == EACCES);
    CHILD_CHECK(Recv(q.id(), 0, IPC_NOWAIT, &m) == -1 && errno == EACCES);
    CHILD_CHECK(MsgCtl(q.id(), IPC_RMID, nullptr) == -1 && errno == EPERM);
    CHILD_CHECK(MsgCtl(q.id(), IPC_SET, &ds) == -1 && errno == EPERM);
  }));
}

TEST(MsgCtlTest, BadBuffersAreEFAULT) {
  Queue q;
  ASSERT_GE(q.id(), 0);
  EXPECT_THAT(MsgCtl(q.id(), IPC_STAT, reinterpret_cast<void*>(8)), SyscallFailsWithErrno(EFAULT));
  EXPECT_THAT(MsgCtl(q.id(), IPC_SET, reinterpret_cast<void*>(8)), SyscallFailsWithErrno(EFAULT));
  EXPECT_THAT(MsgCtl(0, IPC_INFO, reinterpret_cast<void*>(8)), SyscallFailsWithErrno(EFAULT));
}

TEST(MsgCtlTest, RemovedQueueIsGone) {
  Queue q;
  ASSERT_GE(q.id(), 0);
  const int id = q.id();
  ASSERT_THAT(MsgCtl(id, IPC_RMID, nullptr), SyscallSucceeds());
  q.release();
  msqid_ds ds;
  EXPECT_THAT(MsgCtl(id, IPC_STAT, &ds), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(MsgCtl(id, IPC_RMID, nullptr), SyscallFailsWithErrno(EINVAL));
}

TEST(MsgCtlTest, UnknownCommandAndNegativeIdAreEINVAL) {
  Queue q;
  ASSERT_GE(q.id(), 0);
  EXPECT_THAT(MsgCtl(q.id(), 1234, nullptr), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(MsgCtl(-1, IPC_RMID, nullptr), SyscallFailsWithErrno(EINVAL));
  EXPECT_THAT(MsgCtl(q.id(), -1, nullptr), SyscallFailsWithErrno(EINVAL));
}

TEST(MsgCtlTest, IpcInfoReportsTheLimits) {
  Queue q;
  ASSERT_GE(q.id(), 0);
  msginfo i{};
  ASSERT_GE(MsgCtl(0, IPC_INFO, &i), 0);
  EXPECT_EQ(i.msgmax, Sysctl("msgmax"));
  EXPECT_EQ(i.msgmnb, Sysctl("msgmnb"));
  EXPECT_EQ(i.msgmni, Sysctl("msgmni"));
  EXPECT_EQ(i.msgssz, 16);
  EXPECT_EQ(i.msgseg, 0xffff);
}

TEST(MsgCtlTest, MsgInfoCountsMessages) {
  Queue q;
  ASSERT_GE(q.id(), 0);
  ASSERT_THAT(Send(q.id(), 1, "abcd"), SyscallSucceeds());
  msginfo i{};
  ASSERT_GE(MsgCtl(0, MSG_INFO, &i), q.id() % 32768);
  EXPECT_GE(i.msgpool, 1);  // queues in use
  EXPECT_GE(i.msgmap, 1);   // messages
  EXPECT_GE(i.msgtql, 4);   // bytes
}

TEST(MsgCtlTest, MsgStatTakesAnIndex) {
  Queue q(0600);
  ASSERT_GE(q.id(), 0);
  const int index = q.id() % 32768;
  msqid_ds ds{};
  EXPECT_THAT(MsgCtl(index, MSG_STAT, &ds), SyscallSucceedsWithValue(q.id()));
  EXPECT_TRUE(InForkedChild([&] {
    DropPrivilegesInChild();
    msqid_ds d{};
    CHILD_CHECK(MsgCtl(index, MSG_STAT, &d) == -1 && errno == EACCES);
    CHILD_CHECK(MsgCtl(index, MSG_STAT_ANY, &d) == q.id());
  }));
}

// --- /proc ---

TEST(MsgProcTest, SysvipcMsgListsTheQueue) {
  const key_t key = UniqueKey();
  Queue q(0640, key);
  ASSERT_GE(q.id(), 0);
  ASSERT_THAT(Send(q.id(), 1, "abc"), SyscallSucceeds());
  const std::string text = ReadWholeFile("/proc/sysvipc/msg");
  EXPECT_EQ(
      text.rfind("       key      msqid perms      cbytes       qnum lspid lrpid   uid   gid  "
                 "cuid  cgid      stime      rtime      ctime\n",
                 0),
      0u);
  char want[128];
  snprintf(want, sizeof(want), "%10d %10d  %4o  %10lu %10lu %5u %5u %5u %5u %5u %5u ", key, q.id(),
           0640, 3ul, 1ul, getpid(), 0, geteuid(), getegid(), geteuid(), getegid());
  EXPECT_NE(text.find(want), std::string::npos) << text;
}

TEST(MsgProcTest, RootSetsTheLimitsOfItsNamespace) {
  SKIP_IF(!HaveCapability(CAP_SYS_ADMIN));
  const pid_t child = static_cast<pid_t>(syscall(SYS_clone, CLONE_NEWIPC | SIGCHLD, 0, 0, 0, 0));
  if (child == 0) {
    if (!WriteFile("/proc/sys/kernel/msgmax", "100\n")) _exit(1);
    if (!WriteFile("/proc/sys/kernel/msgmnb", "300\n")) _exit(2);
    if (Sysctl("msgmax") != 100 || Sysctl("msgmnb") != 300) _exit(3);
    const int id = static_cast<int>(MsgGet(IPC_PRIVATE, IPC_CREAT | 0600));
    if (id < 0) _exit(4);
    msqid_ds ds{};
    if (MsgCtl(id, IPC_STAT, &ds) != 0 || ds.msg_qbytes != 300) _exit(5);
    if (!(Send(id, 1, std::string(101, 'x')) == -1 && errno == EINVAL)) _exit(6);
    if (Send(id, 1, std::string(100, 'x')) != 0) _exit(7);
    if (WriteFile("/proc/sys/kernel/msgmni", "40000\n")) _exit(8);  // above IPCMNI
    _exit(0);
  }
  ASSERT_GT(child, 0);
  EXPECT_EQ(WaitExitCode(child), 0);
  EXPECT_GT(Sysctl("msgmax"), 100);
}

}  // namespace
}  // namespace syscalls_test
