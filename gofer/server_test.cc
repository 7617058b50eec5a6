// Conformance tests of the gofer server, driven through the client over a
// socketpair against a temporary tree.
#include <dirent.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gofer/client.h"
#include "gofer/server.h"
#include "gofer/test_util.h"
#include "gtest/gtest.h"

namespace gofer {
namespace {

using ::gofer::testing::MakeTempDir;
using ::gofer::testing::ReadFd;
using ::gofer::testing::RemoveTree;
using ::gofer::testing::WriteFile;

// EXPECT_ERRNO(expr, E): `expr` (an ErrnoOr) failed with E.
#define EXPECT_ERRNO(expr, e)                                                                   \
  do {                                                                                          \
    auto&& _r = (expr);                                                                         \
    ASSERT_FALSE(_r.ok()) << #expr << " succeeded";                                             \
    EXPECT_EQ(_r.error().value(), e) << #expr << ": " << sentry::ErrnoName(_r.error().value()); \
  } while (0)
#define ASSERT_OK_E(expr)                                                           \
  do {                                                                              \
    auto&& _r = (expr);                                                             \
    ASSERT_TRUE(_r.ok()) << #expr << ": " << sentry::ErrnoName(_r.error().value()); \
  } while (0)

class GoferTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = MakeTempDir("gofer-test");
    ASSERT_FALSE(dir_.empty());
    root_path_ = dir_ + "/root";
    ASSERT_EQ(mkdir(root_path_.c_str(), 0755), 0);
    ASSERT_EQ(mkdir((root_path_ + "/a").c_str(), 0755), 0);
    ASSERT_EQ(mkdir((root_path_ + "/a/b").c_str(), 0755), 0);
    ASSERT_TRUE(WriteFile(root_path_ + "/a/b/file", "contents"));
    ASSERT_TRUE(WriteFile(root_path_ + "/top", "top"));
    ASSERT_EQ(symlink("a", (root_path_ + "/link").c_str()), 0);
    ASSERT_EQ(mkdir((dir_ + "/outside").c_str(), 0755), 0);
    ASSERT_TRUE(WriteFile(dir_ + "/outside/secret", "secret"));
  }

  void StartServer(ServerOptions options = {}) {
    int sv[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
    auto server = Server::CreateFromPath(root_path_, options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_thread_ = std::thread([s = std::move(*server), fd = sv[1]]() mutable {
      absl::Status st = s->Serve(fd);
      EXPECT_TRUE(st.ok()) << st;
      close(fd);
    });
    client_ = std::make_unique<Client>(UniqueFd(sv[0]), ClientOptions{30000});
    auto a = client_->Attach();
    ASSERT_TRUE(a.ok());
    root_ = a->root.handle;
    EXPECT_TRUE(S_ISDIR(a->root.stat.st_mode));
    EXPECT_EQ(a->read_only, options.read_only);
  }

  void TearDown() override {
    client_.reset();
    if (server_thread_.joinable()) server_thread_.join();
    RemoveTree(dir_);
  }

  // Walks `names` from the root; expects the whole walk to succeed.
  HandleStat WalkAll(const std::vector<std::string>& names) {
    auto w = client_->Walk(root_, names);
    EXPECT_TRUE(w.ok());
    if (!w.ok()) return {};
    EXPECT_EQ(w->error.value(), 0);
    EXPECT_EQ(w->entries.size(), names.size());
    if (w->entries.size() != names.size()) return {};
    return w->entries.back();
  }

  std::string dir_, root_path_;
  std::thread server_thread_;
  std::unique_ptr<Client> client_;
  uint64_t root_ = 0;
};

TEST_F(GoferTest, WalkReturnsEachComponentWithItsAttributes) {
  StartServer();
  auto w = client_->Walk(root_, {"a", "b", "file"});
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(w->error.value(), 0);
  ASSERT_EQ(w->entries.size(), 3u);
  EXPECT_TRUE(S_ISDIR(w->entries[0].stat.st_mode));
  EXPECT_TRUE(S_ISDIR(w->entries[1].stat.st_mode));
  EXPECT_TRUE(S_ISREG(w->entries[2].stat.st_mode));
  struct stat st;
  ASSERT_EQ(lstat((root_path_ + "/a/b/file").c_str(), &st), 0);
  EXPECT_EQ(w->entries[2].stat.st_ino, st.st_ino);
  EXPECT_EQ(w->entries[2].stat.st_size, 8);
  std::set<uint64_t> handles;
  for (const auto& e : w->entries) handles.insert(e.handle);
  EXPECT_EQ(handles.size(), 3u);
  EXPECT_FALSE(handles.count(root_));
}

TEST_F(GoferTest, WalkStopsAtTheFirstMissingComponent) {
  StartServer();
  auto w = client_->Walk(root_, {"a", "missing", "x"});
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(w->error.value(), ENOENT);
  ASSERT_EQ(w->entries.size(), 1u);  // "a" was walked; "missing" is entries.size()
  EXPECT_TRUE(S_ISDIR(w->entries[0].stat.st_mode));
}

TEST_F(GoferTest, WalkThroughAFileIsEnotdir) {
  StartServer();
  auto w = client_->Walk(root_, {"top", "x"});
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(w->error.value(), ENOTDIR);
  EXPECT_EQ(w->entries.size(), 1u);
  auto file = WalkAll({"top"});
  EXPECT_ERRNO(client_->Walk(file.handle, {"x"}), ENOTDIR);
}

TEST_F(GoferTest, WalkNeverFollowsASymlink) {
  StartServer();
  auto w = client_->Walk(root_, {"link", "b"});
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(w->error.value(), 0);
  EXPECT_TRUE(w->stopped_at_symlink);
  ASSERT_EQ(w->entries.size(), 1u);
  EXPECT_TRUE(S_ISLNK(w->entries[0].stat.st_mode));
  auto target = client_->Readlink(w->entries[0].handle);
  ASSERT_TRUE(target.ok());
  EXPECT_EQ(*target, "a");
  // As the last component it is returned as itself, not followed.
  auto last = WalkAll({"link"});
  EXPECT_TRUE(S_ISLNK(last.stat.st_mode));
  EXPECT_ERRNO(client_->Walk(last.handle, {"b"}), ENOTDIR);
  EXPECT_ERRNO(client_->Open(last.handle, O_RDONLY), ELOOP);
}

TEST_F(GoferTest, WalkOpensTheLastRegularFileWhenAskedAndReadsSymlinkTargets) {
  StartServer();
  auto w = client_->Walk(root_, {"a", "b", "file"}, /*open_last_read_only=*/true);
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE(w->fd.valid());
  EXPECT_EQ(fcntl(w->fd.get(), F_GETFL) & O_ACCMODE, O_RDONLY);
  EXPECT_EQ(ReadFd(w->fd.get()), "contents");
  EXPECT_FALSE(w->last_symlink_target);
  // Not asked, a directory, a symlink, a failed walk: no fd.
  w = client_->Walk(root_, {"top"});
  ASSERT_TRUE(w.ok());
  EXPECT_FALSE(w->fd.valid());
  w = client_->Walk(root_, {"a"}, true);
  ASSERT_TRUE(w.ok());
  EXPECT_FALSE(w->fd.valid());
  w = client_->Walk(root_, {"a", "missing"}, true);
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(w->error.value(), ENOENT);
  EXPECT_FALSE(w->fd.valid());
  w = client_->Walk(root_, {"link"}, true);
  ASSERT_TRUE(w.ok());
  EXPECT_FALSE(w->fd.valid());
  // A symlink's target comes with it, last or stopped at.
  EXPECT_EQ(w->last_symlink_target, std::optional<std::string>("a"));
  w = client_->Walk(root_, {"link", "b"});
  ASSERT_TRUE(w.ok());
  EXPECT_TRUE(w->stopped_at_symlink);
  EXPECT_EQ(w->last_symlink_target, std::optional<std::string>("a"));
}

TEST_F(GoferTest, WalkRefusesAnythingButSingleComponents) {
  StartServer();
  EXPECT_ERRNO(client_->Walk(root_, {".."}), EINVAL);
  EXPECT_ERRNO(client_->Walk(root_, {"."}), EINVAL);
  EXPECT_ERRNO(client_->Walk(root_, {""}), EINVAL);
  EXPECT_ERRNO(client_->Walk(root_, {"a/b"}), EINVAL);
  EXPECT_ERRNO(client_->Walk(root_, {std::string("a\0b", 3)}), EINVAL);
  EXPECT_ERRNO(client_->Walk(root_, {std::string(256, 'x')}), ENAMETOOLONG);
  EXPECT_ERRNO(client_->Walk(12345, {"a"}), EBADF);
  EXPECT_ERRNO(client_->Walk(root_, std::vector<std::string>(kMaxWalkComponents + 1, "a")), E2BIG);
  // An empty walk is a no-op.
  auto w = client_->Walk(root_, {});
  ASSERT_TRUE(w.ok());
  EXPECT_TRUE(w->entries.empty());
}

TEST_F(GoferTest, StatAndStatFS) {
  StartServer();
  auto f = WalkAll({"a", "b", "file"});
  auto st = client_->Stat(f.handle);
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->st_ino, f.stat.st_ino);
  EXPECT_EQ(st->st_size, 8);
  auto fs = client_->StatFS(root_);
  ASSERT_TRUE(fs.ok());
  EXPECT_GT(fs->f_bsize, 0);
  EXPECT_GT(fs->f_namelen, 0);
  EXPECT_ERRNO(client_->Stat(999999), EBADF);
}

TEST_F(GoferTest, OpenDonatesAFdForReadAndWrite) {
  StartServer();
  auto f = WalkAll({"a", "b", "file"});
  auto ro = client_->Open(f.handle, O_RDONLY);
  ASSERT_TRUE(ro.ok());
  EXPECT_EQ(ReadFd(ro->get()), "contents");
  EXPECT_EQ(write(ro->get(), "x", 1), -1);
  EXPECT_TRUE(fcntl(ro->get(), F_GETFD) & FD_CLOEXEC);
  auto rw = client_->Open(f.handle, O_RDWR | O_TRUNC);
  ASSERT_TRUE(rw.ok());
  ASSERT_EQ(write(rw->get(), "hello", 5), 5);
  int host = open((root_path_ + "/a/b/file").c_str(), O_RDONLY | O_CLOEXEC);
  EXPECT_EQ(ReadFd(host), "hello");
  close(host);
  auto ap = client_->Open(f.handle, O_WRONLY | O_APPEND);
  ASSERT_TRUE(ap.ok());
  EXPECT_TRUE(fcntl(ap->get(), F_GETFL) & O_APPEND);

  auto d = WalkAll({"a"});
  ASSERT_OK_E(client_->Open(d.handle, O_RDONLY | O_DIRECTORY));
  EXPECT_ERRNO(client_->Open(d.handle, O_WRONLY), EISDIR);
  EXPECT_ERRNO(client_->Open(f.handle, O_RDONLY | O_DIRECTORY), ENOTDIR);
  EXPECT_ERRNO(client_->Open(f.handle, O_RDONLY | O_CREAT), EINVAL);
  EXPECT_ERRNO(client_->Open(f.handle, O_PATH), EINVAL);
  EXPECT_ERRNO(client_->Open(f.handle, O_ACCMODE), EINVAL);
}

TEST_F(GoferTest, OpenAFifoNeverBlocksTheGofer) {
  StartServer();
  ASSERT_EQ(mkfifo((root_path_ + "/fifo").c_str(), 0644), 0);
  auto f = WalkAll({"fifo"});
  auto r = client_->Open(f.handle, O_RDONLY);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(fcntl(r->get(), F_GETFL) & O_NONBLOCK);
  // The server is still responsive.
  ASSERT_OK_E(client_->Stat(root_));
}

TEST_F(GoferTest, CreateIsExclusiveAndNeverFollows) {
  StartServer();
  auto c = client_->Create(root_, "new", O_RDWR, 0640);
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(S_ISREG(c->file.stat.st_mode));
  EXPECT_EQ(c->file.stat.st_mode & ~0640u & 0777, 0u);  // at most 0640 (umask)
  ASSERT_EQ(write(c->fd.get(), "data", 4), 4);
  auto st = client_->Stat(c->file.handle);
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->st_size, 4);
  EXPECT_ERRNO(client_->Create(root_, "new", O_RDWR, 0644), EEXIST);
  // A dangling symlink is not followed to create its target.
  ASSERT_EQ(symlink((dir_ + "/outside/created").c_str(), (root_path_ + "/dangling").c_str()), 0);
  EXPECT_ERRNO(client_->Create(root_, "dangling", O_RDWR, 0644), EEXIST);
  EXPECT_NE(access((dir_ + "/outside/created").c_str(), F_OK), 0);
  EXPECT_ERRNO(client_->Create(root_, "x/y", O_RDWR, 0644), EINVAL);
  auto f = WalkAll({"top"});
  EXPECT_ERRNO(client_->Create(f.handle, "x", O_RDWR, 0644), ENOTDIR);
  // Owner is applied (the tests run as root).
  auto o = client_->Create(root_, "owned", O_RDWR, 0600, Owner{1234, 5678});
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->file.stat.st_uid, 1234u);
  EXPECT_EQ(o->file.stat.st_gid, 5678u);
}

TEST_F(GoferTest, MkdirMknodSymlinkLink) {
  StartServer();
  auto d = client_->Mkdir(root_, "dir", 0750);
  ASSERT_TRUE(d.ok());
  EXPECT_TRUE(S_ISDIR(d->stat.st_mode));
  EXPECT_ERRNO(client_->Mkdir(root_, "dir", 0750), EEXIST);
  EXPECT_ERRNO(client_->Mkdir(root_, "link", 0750), EEXIST);

  auto fifo = client_->Mknod(d->handle, "fifo", S_IFIFO | 0600);
  ASSERT_TRUE(fifo.ok());
  EXPECT_TRUE(S_ISFIFO(fifo->stat.st_mode));
  auto reg = client_->Mknod(d->handle, "reg", 0600);
  ASSERT_TRUE(reg.ok());
  EXPECT_TRUE(S_ISREG(reg->stat.st_mode));
  EXPECT_ERRNO(client_->Mknod(d->handle, "chr", S_IFCHR | 0600), EPERM);
  EXPECT_ERRNO(client_->Mknod(d->handle, "blk", S_IFBLK | 0600), EPERM);
  EXPECT_ERRNO(client_->Mknod(d->handle, "sock", S_IFSOCK | 0600), EPERM);

  auto s = client_->Symlink(d->handle, "sl", "/etc/../anything/at/all");
  ASSERT_TRUE(s.ok());
  EXPECT_TRUE(S_ISLNK(s->stat.st_mode));
  auto t = client_->Readlink(s->handle);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(*t, "/etc/../anything/at/all");
  EXPECT_ERRNO(client_->Symlink(d->handle, "sl", "x"), EEXIST);
  EXPECT_ERRNO(client_->Symlink(d->handle, "empty", ""), ENOENT);
  EXPECT_ERRNO(client_->Symlink(d->handle, "long", std::string(4096, 'x')), ENAMETOOLONG);
  EXPECT_ERRNO(client_->Readlink(reg->handle), EINVAL);

  auto top = WalkAll({"top"});
  auto l = client_->Link(top.handle, d->handle, "hard");
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(l->stat.st_ino, top.stat.st_ino);
  EXPECT_EQ(l->stat.st_nlink, 2u);
  EXPECT_ERRNO(client_->Link(d->handle, root_, "dirlink"), EPERM);
  EXPECT_ERRNO(client_->Link(top.handle, d->handle, "hard"), EEXIST);
  // A hard link to a symlink links the symlink itself.
  auto ls = client_->Link(s->handle, d->handle, "sl2");
  ASSERT_TRUE(ls.ok());
  EXPECT_TRUE(S_ISLNK(ls->stat.st_mode));
}

TEST_F(GoferTest, UnlinkAndRmdir) {
  StartServer();
  auto a = WalkAll({"a"});
  EXPECT_ERRNO(client_->Unlink(a.handle, "b", 0), EISDIR);
  EXPECT_ERRNO(client_->Unlink(a.handle, "b", AT_REMOVEDIR), ENOTEMPTY);
  EXPECT_ERRNO(client_->Unlink(root_, "top", AT_REMOVEDIR), ENOTDIR);
  EXPECT_ERRNO(client_->Unlink(root_, "missing", 0), ENOENT);
  EXPECT_ERRNO(client_->Unlink(root_, "..", 0), EINVAL);
  EXPECT_ERRNO(client_->Unlink(root_, "top", 0x1000), EINVAL);
  auto b = WalkAll({"a", "b"});
  ASSERT_OK_E(client_->Unlink(b.handle, "file", 0));
  ASSERT_OK_E(client_->Unlink(a.handle, "b", AT_REMOVEDIR));
  ASSERT_OK_E(client_->Unlink(root_, "link", 0));
  EXPECT_NE(access((root_path_ + "/a/b").c_str(), F_OK), 0);
  // The handle of a removed directory still stats (it names the inode).
  auto st = client_->Stat(b.handle);
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->st_nlink, 0u);
}

TEST_F(GoferTest, RenameWithFlags) {
  StartServer();
  ASSERT_TRUE(WriteFile(root_path_ + "/x", "x"));
  ASSERT_TRUE(WriteFile(root_path_ + "/y", "y"));
  auto a = WalkAll({"a"});
  EXPECT_ERRNO(client_->Rename(root_, "x", root_, "y", RENAME_NOREPLACE), EEXIST);
  ASSERT_OK_E(client_->Rename(root_, "x", root_, "y", RENAME_EXCHANGE));
  int fd = open((root_path_ + "/y").c_str(), O_RDONLY | O_CLOEXEC);
  EXPECT_EQ(ReadFd(fd), "x");
  close(fd);
  EXPECT_ERRNO(client_->Rename(root_, "x", root_, "nope", RENAME_EXCHANGE), ENOENT);
  EXPECT_ERRNO(client_->Rename(root_, "x", root_, "y", RENAME_WHITEOUT), EINVAL);
  EXPECT_ERRNO(client_->Rename(root_, "x", root_, "y", RENAME_NOREPLACE | RENAME_EXCHANGE), EINVAL);
  ASSERT_OK_E(client_->Rename(root_, "x", a.handle, "moved", 0));
  EXPECT_EQ(access((root_path_ + "/a/moved").c_str(), F_OK), 0);
  ASSERT_OK_E(client_->Rename(root_, "y", a.handle, "moved", 0));  // replaces
  EXPECT_ERRNO(client_->Rename(root_, "a", a.handle, "inside", 0), EINVAL);
  EXPECT_ERRNO(client_->Rename(root_, "missing", root_, "z", 0), ENOENT);
  EXPECT_ERRNO(client_->Rename(root_, "top", root_, "a", 0), EISDIR);
}

TEST_F(GoferTest, GetdentsChunksAThousandEntries) {
  StartServer();
  ASSERT_EQ(mkdir((root_path_ + "/many").c_str(), 0755), 0);
  std::set<std::string> want;
  for (int i = 0; i < 1000; ++i) {
    std::string name = "entry-with-a-longish-name-" + std::to_string(i);
    ASSERT_TRUE(WriteFile(root_path_ + "/many/" + name, ""));
    want.insert(name);
  }
  auto d = WalkAll({"many"});
  std::set<std::string> got;
  int64_t offset = 0;
  int chunks = 0;
  for (;;) {
    auto c = client_->Getdents(d.handle, offset, 2048);
    ASSERT_TRUE(c.ok());
    ++chunks;
    ASSERT_LT(chunks, 1000);
    for (const auto& e : c->entries) {
      EXPECT_TRUE(got.insert(e.name).second) << "duplicate " << e.name;
      EXPECT_EQ(e.type, DT_REG);
      EXPECT_NE(e.ino, 0u);
      offset = e.offset;
    }
    if (c->eof) break;
    ASSERT_FALSE(c->entries.empty());
  }
  EXPECT_EQ(got, want);
  EXPECT_GT(chunks, 10);
  // From the start again, a large budget: "." and ".." are left out.
  auto all = client_->Getdents(WalkAll({"a"}).handle, 0, 1 << 20);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->entries.size(), 1u);
  EXPECT_EQ(all->entries[0].name, "b");
  EXPECT_EQ(all->entries[0].type, DT_DIR);
  EXPECT_ERRNO(client_->Getdents(d.handle, 0, 8), EINVAL);  // too small for one entry
  EXPECT_ERRNO(client_->Getdents(WalkAll({"top"}).handle, 0, 4096), ENOTDIR);
}

TEST_F(GoferTest, SetAttr) {
  StartServer();
  auto f = WalkAll({"a", "b", "file"});
  SetAttrArgs args;
  args.mode = 0604;
  args.uid = 4321;
  args.gid = 8765;
  args.size = 3;
  args.atime = timespec{1000, 5};
  args.mtime = timespec{2000, 7};
  auto st = client_->SetAttr(f.handle, args);
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->st_mode & 07777, 0604u);
  EXPECT_EQ(st->st_uid, 4321u);
  EXPECT_EQ(st->st_gid, 8765u);
  EXPECT_EQ(st->st_size, 3);
  EXPECT_EQ(st->st_atim.tv_sec, 1000);
  EXPECT_EQ(st->st_mtim.tv_sec, 2000);
  EXPECT_EQ(st->st_mtim.tv_nsec, 7);
  // UTIME_OMIT keeps, UTIME_NOW sets the current time.
  SetAttrArgs times;
  times.atime = timespec{0, UTIME_OMIT};
  times.mtime = timespec{0, UTIME_NOW};
  st = client_->SetAttr(f.handle, times);
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->st_atim.tv_sec, 1000);
  EXPECT_GT(st->st_mtim.tv_sec, 2000);
  SetAttrArgs size;
  size.size = 10;
  EXPECT_ERRNO(client_->SetAttr(WalkAll({"a"}).handle, size), EISDIR);
  size.size = -1;
  EXPECT_ERRNO(client_->SetAttr(f.handle, size), EINVAL);
  SetAttrArgs mode;
  mode.mode = 0777;
  EXPECT_ERRNO(client_->SetAttr(WalkAll({"link"}).handle, mode), EOPNOTSUPP);
  // Owner and times of a symlink itself.
  SetAttrArgs own;
  own.uid = 77;
  auto ls = client_->SetAttr(WalkAll({"link"}).handle, own);
  ASSERT_TRUE(ls.ok());
  EXPECT_EQ(ls->st_uid, 77u);
  struct stat target;
  ASSERT_EQ(stat((root_path_ + "/a").c_str(), &target), 0);
  EXPECT_EQ(target.st_uid, 0u);
}

TEST_F(GoferTest, FsyncAndFallocate) {
  StartServer();
  auto f = WalkAll({"a", "b", "file"});
  ASSERT_OK_E(client_->Fsync(f.handle, false));
  ASSERT_OK_E(client_->Fsync(f.handle, true));
  ASSERT_OK_E(client_->Fsync(root_, false));
  ASSERT_OK_E(client_->Fallocate(f.handle, 0, 0, 1 << 20));
  auto st = client_->Stat(f.handle);
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->st_size, 1 << 20);
  EXPECT_ERRNO(client_->Fallocate(root_, 0, 0, 10), EISDIR);
  EXPECT_ERRNO(client_->Fallocate(f.handle, 0, -1, 10), EINVAL);
}

TEST_F(GoferTest, Xattrs) {
  StartServer();
  if (setxattr((root_path_ + "/top").c_str(), "user.probe", "1", 1, 0) != 0) {
    GTEST_SKIP() << "the host filesystem has no user xattrs: " << strerror(errno);
  }
  auto f = WalkAll({"top"});
  ASSERT_OK_E(client_->SetXattr(f.handle, "user.foo", "bar", 0));
  auto v = client_->GetXattr(f.handle, "user.foo");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(*v, "bar");
  EXPECT_ERRNO(client_->SetXattr(f.handle, "user.foo", "x", XATTR_CREATE), EEXIST);
  EXPECT_ERRNO(client_->SetXattr(f.handle, "user.nope", "x", XATTR_REPLACE), ENODATA);
  auto list = client_->ListXattr(f.handle);
  ASSERT_TRUE(list.ok());
  EXPECT_THAT(*list, ::testing::UnorderedElementsAre("user.foo", "user.probe"));
  std::string big(kMaxXattrValue, 'v');
  auto dir = WalkAll({"a"});
  if (client_->SetXattr(dir.handle, "user.big", big, 0).ok()) {
    auto bv = client_->GetXattr(dir.handle, "user.big");
    ASSERT_TRUE(bv.ok());
    EXPECT_EQ(*bv, big);
  }
  EXPECT_ERRNO(client_->SetXattr(f.handle, "user.toobig", big + "x", 0), E2BIG);
  ASSERT_OK_E(client_->RemoveXattr(f.handle, "user.foo"));
  EXPECT_ERRNO(client_->GetXattr(f.handle, "user.foo"), ENODATA);
  EXPECT_ERRNO(client_->RemoveXattr(f.handle, "user.foo"), ENODATA);
  EXPECT_ERRNO(client_->SetXattr(f.handle, "system.posix_acl_access", "x", 0), EOPNOTSUPP);
  EXPECT_ERRNO(client_->GetXattr(f.handle, "system.posix_acl_access"), EOPNOTSUPP);
  EXPECT_ERRNO(client_->GetXattr(f.handle, "other.x"), EOPNOTSUPP);
  EXPECT_ERRNO(client_->GetXattr(f.handle, "user."), EOPNOTSUPP);
  EXPECT_ERRNO(client_->GetXattr(f.handle, std::string("user.a\0b", 8)), EINVAL);
  EXPECT_ERRNO(client_->GetXattr(f.handle, ""), ERANGE);
  EXPECT_ERRNO(client_->GetXattr(f.handle, "user." + std::string(251, 'n')), ERANGE);
  // user.* exists only on regular files and directories (the host's answers:
  // ENODATA to read, EPERM to write), and a symlink handle is the link itself.
  auto link = WalkAll({"link"});
  ASSERT_OK_E(client_->SetXattr(dir.handle, "user.dir", "d", 0));
  EXPECT_ERRNO(client_->GetXattr(link.handle, "user.dir"), ENODATA);
  EXPECT_ERRNO(client_->SetXattr(link.handle, "user.foo", "x", 0), EPERM);
  // trusted.* as the host allows it (root with CAP_SYS_ADMIN here).
  auto t = client_->SetXattr(f.handle, "trusted.t", "v", 0);
  if (t.ok()) {
    auto tv = client_->GetXattr(f.handle, "trusted.t");
    ASSERT_TRUE(tv.ok());
    EXPECT_EQ(*tv, "v");
  } else {
    EXPECT_THAT(t.error().value(), ::testing::AnyOf(EPERM, EOPNOTSUPP));
  }
}

// security.* is served read-only: labels and file capabilities are read,
// never changed through the gofer.
TEST_F(GoferTest, SecurityXattrsAreReadOnly) {
  StartServer();
  auto f = WalkAll({"top"});
  auto v = client_->GetXattr(f.handle, "security.selinux");
  if (!v.ok()) {
    EXPECT_EQ(v.error().value(), ENODATA);  // no LSM label here
  }
  EXPECT_ERRNO(client_->SetXattr(f.handle, "security.selinux", "x", 0), EPERM);
  EXPECT_ERRNO(client_->SetXattr(f.handle, "security.capability", "x", 0), EPERM);
  EXPECT_ERRNO(client_->RemoveXattr(f.handle, "security.selinux"), EPERM);
  // A security.* attribute the host has is listed and read.
  if (getuid() == 0 &&
      setxattr((root_path_ + "/top").c_str(), "security.goferx", "label", 5, 0) == 0) {
    auto l = client_->ListXattr(f.handle);
    ASSERT_TRUE(l.ok());
    EXPECT_THAT(*l, ::testing::Contains("security.goferx"));
    auto sv = client_->GetXattr(f.handle, "security.goferx");
    ASSERT_TRUE(sv.ok());
    EXPECT_EQ(*sv, "label");
  }
}

// The xattr calls act on the handle's own inode through its /proc/self/fd
// magic link: a symlink handle is never followed (lgetxattr semantics with
// no host path re-walked), and FIFOs, sockets and devices are never opened.
TEST_F(GoferTest, XattrsOfASymlinkHandleAreTheLinksOwn) {
  StartServer();
  if (setxattr((root_path_ + "/a").c_str(), "user.target", "t", 1, 0) != 0) {
    GTEST_SKIP() << "the host filesystem has no user xattrs: " << strerror(errno);
  }
  auto link = WalkAll({"link"});
  ASSERT_TRUE(S_ISLNK(link.stat.st_mode));
  EXPECT_ERRNO(client_->GetXattr(link.handle, "user.target"), ENODATA);
  auto l = client_->ListXattr(link.handle);
  ASSERT_TRUE(l.ok());
  EXPECT_THAT(*l, ::testing::Not(::testing::Contains("user.target")));
  // trusted.* may sit on a symlink itself (root with CAP_SYS_ADMIN only).
  if (lsetxattr((root_path_ + "/link").c_str(), "trusted.onlink", "L", 1, 0) == 0) {
    auto v = client_->GetXattr(link.handle, "trusted.onlink");
    ASSERT_TRUE(v.ok());
    EXPECT_EQ(*v, "L");
    ASSERT_OK_E(client_->SetXattr(link.handle, "trusted.set", "S", 0));
    char buf[4] = {};
    EXPECT_EQ(lgetxattr((root_path_ + "/link").c_str(), "trusted.set", buf, sizeof(buf)), 1);
    EXPECT_EQ(getxattr((root_path_ + "/a").c_str(), "trusted.set", buf, sizeof(buf)), -1);
    l = client_->ListXattr(link.handle);
    ASSERT_TRUE(l.ok());
    EXPECT_THAT(*l, ::testing::UnorderedElementsAre("trusted.onlink", "trusted.set"));
    ASSERT_OK_E(client_->RemoveXattr(link.handle, "trusted.set"));
    EXPECT_ERRNO(client_->GetXattr(link.handle, "trusted.set"), ENODATA);
  }
  // A dangling symlink is still the link itself, not ENOENT.
  ASSERT_EQ(symlink("nowhere", (root_path_ + "/dangling").c_str()), 0);
  auto d = WalkAll({"dangling"});
  EXPECT_ERRNO(client_->GetXattr(d.handle, "user.x"), ENODATA);
  EXPECT_TRUE(client_->ListXattr(d.handle).ok());
  // A FIFO with no writer: answered without opening (nothing blocks).
  ASSERT_EQ(mkfifo((root_path_ + "/fifo").c_str(), 0644), 0);
  auto fifo = WalkAll({"fifo"});
  EXPECT_ERRNO(client_->GetXattr(fifo.handle, "user.x"), ENODATA);
  EXPECT_ERRNO(client_->SetXattr(fifo.handle, "user.x", "1", 0), EPERM);
  EXPECT_TRUE(client_->ListXattr(fifo.handle).ok());
}

// Values up to the largest the host allows come back whole, past the
// server's first small buffer.
TEST_F(GoferTest, LargeXattrValues) {
  StartServer();
  auto f = WalkAll({"top"});
  std::string v(3000, 'x');
  if (setxattr((root_path_ + "/top").c_str(), "user.large", v.data(), v.size(), 0) != 0) {
    GTEST_SKIP() << "the host filesystem refuses a 3000-byte user xattr: " << strerror(errno);
  }
  auto got = client_->GetXattr(f.handle, "user.large");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, v);
  ASSERT_OK_E(client_->SetXattr(f.handle, "user.empty", "", 0));
  got = client_->GetXattr(f.handle, "user.empty");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, "");
}

TEST_F(GoferTest, ConnectToAHostUnixSocket) {
  StartServer();
  int listener = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(listener, 0);
  struct sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  std::string path = root_path_ + "/sock";
  ASSERT_LT(path.size(), sizeof(addr.sun_path));
  memcpy(addr.sun_path, path.data(), path.size());
  ASSERT_EQ(bind(listener, reinterpret_cast<struct sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(listen(listener, 4), 0);
  auto s = WalkAll({"sock"});
  EXPECT_TRUE(S_ISSOCK(s.stat.st_mode));
  auto c = client_->Connect(s.handle, SOCK_STREAM);
  ASSERT_TRUE(c.ok());
  int accepted = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
  ASSERT_GE(accepted, 0);
  ASSERT_EQ(write(c->get(), "ping", 4), 4);
  char buf[8] = {};
  ASSERT_EQ(read(accepted, buf, sizeof(buf)), 4);
  EXPECT_STREQ(buf, "ping");
  EXPECT_FALSE(fcntl(c->get(), F_GETFL) & O_NONBLOCK);
  close(accepted);
  close(listener);
  EXPECT_ERRNO(client_->Connect(WalkAll({"top"}).handle, SOCK_STREAM), ECONNREFUSED);
  EXPECT_ERRNO(client_->Connect(s.handle, SOCK_RAW), EINVAL);
  EXPECT_ERRNO(client_->Open(s.handle, O_RDWR), ENXIO);
}

TEST_F(GoferTest, CloseReleasesHandles) {
  StartServer();
  auto f = WalkAll({"top"});
  ASSERT_OK_E(client_->Close({f.handle}));
  EXPECT_ERRNO(client_->Stat(f.handle), EBADF);
  EXPECT_ERRNO(client_->Close({f.handle}), EBADF);
  // Handles are never reused.
  auto g = WalkAll({"top"});
  EXPECT_NE(g.handle, f.handle);
}

TEST_F(GoferTest, HandlesAreBoundedPerConnection) {
  ServerOptions options;
  options.max_handles = 8;
  StartServer(options);  // the root is handle 1 of 8
  std::vector<uint64_t> held;
  for (int i = 0; i < 7; ++i) held.push_back(WalkAll({"top"}).handle);
  EXPECT_ERRNO(client_->Attach(), EMFILE);
  EXPECT_ERRNO(client_->Mkdir(root_, "d", 0755), EMFILE);
  EXPECT_NE(access((root_path_ + "/d").c_str(), F_OK), 0);  // no side effect
  EXPECT_ERRNO(client_->Create(root_, "c", O_RDWR, 0644), EMFILE);
  auto w = client_->Walk(root_, {"a"});
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(w->error.value(), EMFILE);
  EXPECT_TRUE(w->entries.empty());
  ASSERT_OK_E(client_->Close({held[0], held[1]}));
  w = client_->Walk(root_, {"a", "b", "file"});
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(w->error.value(), EMFILE);  // two fit, the third does not
  EXPECT_EQ(w->entries.size(), 2u);
}

TEST_F(GoferTest, ConcurrentCallsFromManyThreads) {
  StartServer();
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 200; ++i) {
        auto w = client_->Walk(root_, {"a", "b", "file"});
        if (!w.ok() || w->entries.size() != 3) {
          ++failures;
          continue;
        }
        auto fd = client_->Open(w->entries[2].handle, O_RDONLY);
        if (!fd.ok() || ReadFd(fd->get()).empty()) ++failures;
        std::vector<uint64_t> hs;
        for (const auto& e : w->entries) hs.push_back(e.handle);
        if (!client_->Close(hs).ok()) ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
}

class ReadOnlyGoferTest : public GoferTest {};

TEST_F(ReadOnlyGoferTest, EveryMutationIsErofs) {
  ServerOptions options;
  options.read_only = true;
  StartServer(options);
  auto a = WalkAll({"a"});
  auto f = WalkAll({"a", "b", "file"});
  EXPECT_ERRNO(client_->Create(root_, "new", O_RDWR, 0644), EROFS);
  EXPECT_ERRNO(client_->Mkdir(root_, "new", 0755), EROFS);
  EXPECT_ERRNO(client_->Mknod(root_, "new", S_IFIFO | 0644), EROFS);
  EXPECT_ERRNO(client_->Symlink(root_, "new", "x"), EROFS);
  EXPECT_ERRNO(client_->Link(f.handle, root_, "new"), EROFS);
  EXPECT_ERRNO(client_->Unlink(root_, "top", 0), EROFS);
  EXPECT_ERRNO(client_->Unlink(a.handle, "b", AT_REMOVEDIR), EROFS);
  EXPECT_ERRNO(client_->Rename(root_, "top", root_, "top2", 0), EROFS);
  SetAttrArgs args;
  args.mode = 0777;
  EXPECT_ERRNO(client_->SetAttr(f.handle, args), EROFS);
  EXPECT_ERRNO(client_->Fallocate(f.handle, 0, 0, 100), EROFS);
  EXPECT_ERRNO(client_->SetXattr(f.handle, "user.x", "y", 0), EROFS);
  EXPECT_ERRNO(client_->RemoveXattr(f.handle, "user.x"), EROFS);
  EXPECT_ERRNO(client_->Open(f.handle, O_WRONLY), EROFS);
  EXPECT_ERRNO(client_->Open(f.handle, O_RDWR), EROFS);
  EXPECT_ERRNO(client_->Open(f.handle, O_RDONLY | O_TRUNC), EROFS);
  // Reads still work.
  auto fd = client_->Open(f.handle, O_RDONLY);
  ASSERT_TRUE(fd.ok());
  EXPECT_EQ(ReadFd(fd->get()), "contents");
  ASSERT_OK_E(client_->Getdents(root_, 0, 4096));
  ASSERT_OK_E(client_->Stat(f.handle));
  ASSERT_OK_E(client_->Readlink(WalkAll({"link"}).handle));
  struct stat st;
  ASSERT_EQ(stat((root_path_ + "/a/b/file").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u);
}

// A directory component replaced by a symlink to outside the root, between
// walks and while walks run, never leads outside.
TEST_F(GoferTest, SymlinkRaceCannotEscapeTheRoot) {
  StartServer();
  struct stat secret;
  ASSERT_EQ(stat((dir_ + "/outside/secret").c_str(), &secret), 0);
  ASSERT_EQ(mkdir((root_path_ + "/x").c_str(), 0755), 0);
  ASSERT_TRUE(WriteFile(root_path_ + "/x/secret", "inside"));

  // Between walks: the held handle keeps naming the original directory.
  auto x = WalkAll({"x"});
  ASSERT_EQ(rename((root_path_ + "/x").c_str(), (root_path_ + "/x.old").c_str()), 0);
  ASSERT_EQ(symlink((dir_ + "/outside").c_str(), (root_path_ + "/x").c_str()), 0);
  auto w = client_->Walk(x.handle, {"secret"});
  ASSERT_TRUE(w.ok());
  ASSERT_EQ(w->entries.size(), 1u);
  EXPECT_NE(w->entries[0].stat.st_ino, secret.st_ino);
  auto fd = client_->Open(w->entries[0].handle, O_RDONLY);
  ASSERT_TRUE(fd.ok());
  EXPECT_EQ(ReadFd(fd->get()), "inside");
  // A fresh walk finds the symlink and stops there.
  w = client_->Walk(root_, {"x", "secret"});
  ASSERT_TRUE(w.ok());
  EXPECT_TRUE(w->stopped_at_symlink);
  ASSERT_EQ(w->entries.size(), 1u);
  EXPECT_TRUE(S_ISLNK(w->entries[0].stat.st_mode));
  ASSERT_EQ(unlink((root_path_ + "/x").c_str()), 0);
  ASSERT_EQ(rename((root_path_ + "/x.old").c_str(), (root_path_ + "/x").c_str()), 0);

  // While walks run: a thread flips x between the directory and the symlink.
  std::atomic<bool> stop{false};
  std::thread flipper([&] {
    const std::string xp = root_path_ + "/x", dp = root_path_ + "/x.dir",
                      lp = root_path_ + "/x.lnk";
    symlink((dir_ + "/outside").c_str(), lp.c_str());
    rename(xp.c_str(), dp.c_str());
    while (!stop.load()) {
      rename(lp.c_str(), xp.c_str());  // x is the symlink
      rename(xp.c_str(), lp.c_str());
      rename(dp.c_str(), xp.c_str());  // x is the directory
      rename(xp.c_str(), dp.c_str());
    }
  });
  int walked_inside = 0, stopped = 0;
  for (int i = 0; i < 3000; ++i) {
    auto r = client_->Walk(root_, {"x", "secret"});
    ASSERT_TRUE(r.ok());
    std::vector<uint64_t> hs;
    for (const auto& e : r->entries) {
      hs.push_back(e.handle);
      ASSERT_NE(e.stat.st_ino, secret.st_ino) << "walked outside the root";
    }
    if (r->entries.size() == 2) {
      ++walked_inside;
      auto f = client_->Open(r->entries[1].handle, O_RDONLY);
      ASSERT_TRUE(f.ok());
      ASSERT_EQ(ReadFd(f->get()), "inside");
    } else {
      ++stopped;
    }
    ASSERT_OK_E(client_->Close(hs));
  }
  stop = true;
  flipper.join();
  EXPECT_EQ(walked_inside + stopped, 3000);
}

TEST_F(GoferTest, HostileRequestsGetErrorsNotCrashes) {
  ServerOptions options;
  auto server = Server::CreateFromPath(root_path_, options);
  ASSERT_TRUE(server.ok());
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
  int sndbuf = 1 << 20;
  setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
  std::thread t([s = std::move(*server), fd = sv[1]]() mutable {
    EXPECT_TRUE(s->Serve(fd).ok());
    close(fd);
  });
  auto roundtrip = [&](const std::string& bytes) {
    EXPECT_EQ(send(sv[0], bytes.data(), bytes.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(bytes.size()));
    std::string buf(kMaxMessageSize, '\0');
    ssize_t n = recv(sv[0], buf.data(), buf.size(), 0);
    EXPECT_GT(n, 0);
    proto::Response resp;
    EXPECT_TRUE(resp.ParseFromArray(buf.data(), static_cast<int>(n)));
    return resp;
  };
  EXPECT_EQ(roundtrip(std::string(kMaxMessageSize + 10, 'x')).error(), EMSGSIZE);
  EXPECT_EQ(roundtrip("\xff\xff\xff\xff garbage").error(), EINVAL);
  proto::Request req;
  req.mutable_stat()->set_handle(0);
  EXPECT_EQ(roundtrip(req.SerializeAsString()).error(), EBADF);
  // An fd sent along with a request is dropped by the kernel (the server reads
  // without a control buffer); the request itself is answered.
  {
    std::string bytes = req.SerializeAsString();
    struct iovec iov = {bytes.data(), bytes.size()};
    struct msghdr msg = {};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int))];
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    int fd = 0;
    memcpy(CMSG_DATA(c), &fd, sizeof(fd));
    ASSERT_GT(sendmsg(sv[0], &msg, MSG_NOSIGNAL), 0);
    char buf[256];
    EXPECT_GT(recv(sv[0], buf, sizeof(buf), 0), 0);
  }
  // A Request with no operation (from a newer client, say) is ENOSYS.
  // Field 99, length-delimited, empty: tag varint (99 << 3 | 2) = 0x9a 0x06.
  EXPECT_EQ(roundtrip(std::string("\x9a\x06\x00", 3)).error(), ENOSYS);
  // A zero-length message reads as end of connection: the server stops.
  ASSERT_EQ(send(sv[0], "", 0, MSG_NOSIGNAL), 0);
  char b;
  EXPECT_EQ(recv(sv[0], &b, 1, 0), 0);
  close(sv[0]);
  t.join();
}

TEST(GoferDeathTest, ClientReturnsEioWhenTheGoferDies) {
  std::string dir = MakeTempDir("gofer-death");
  ASSERT_FALSE(dir.empty());
  ::gofer::testing::TreeCleanup cleanup{dir};
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    close(sv[0]);
    auto server = Server::CreateFromPath(dir, {});
    if (!server.ok()) _exit(1);
    (void)(*server)->Serve(sv[1]);
    _exit(0);
  }
  close(sv[1]);
  Client client(UniqueFd(sv[0]), ClientOptions{60000});
  auto a = client.Attach();
  ASSERT_TRUE(a.ok());
  ASSERT_EQ(kill(pid, SIGKILL), 0);
  ASSERT_EQ(waitpid(pid, nullptr, 0), pid);
  EXPECT_ERRNO(client.Stat(a->root.handle), EIO);
  EXPECT_TRUE(client.connection_lost());
  EXPECT_ERRNO(client.Walk(a->root.handle, {"x"}), EIO);
  EXPECT_ERRNO(client.Open(a->root.handle, O_RDONLY), EIO);
}

TEST(GoferDeathTest, ClientReturnsEioWhenTheGoferStopsAnswering) {
  std::string dir = MakeTempDir("gofer-stuck");
  ASSERT_FALSE(dir.empty());
  ::gofer::testing::TreeCleanup cleanup{dir};
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    close(sv[0]);
    auto server = Server::CreateFromPath(dir, {});
    if (!server.ok()) _exit(1);
    (void)(*server)->Serve(sv[1]);
    _exit(0);
  }
  close(sv[1]);
  Client client(UniqueFd(sv[0]), ClientOptions{300});
  auto a = client.Attach();
  ASSERT_TRUE(a.ok());
  ASSERT_EQ(kill(pid, SIGSTOP), 0);
  EXPECT_ERRNO(client.Stat(a->root.handle), EIO);
  EXPECT_TRUE(client.connection_lost());
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
}

}  // namespace
}  // namespace gofer
