// The gofer filesystem through the VFS, against a real gofer::Server running
// in-process on a socketpair over a temporary tree.
#include "sentry/fsimpl/gofer/gofer_fs.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_format.h"
#include "gmock/gmock.h"
#include "gofer/client.h"
#include "gofer/server.h"
#include "gofer/test_util.h"
#include "gtest/gtest.h"
#include "sentry/base/status_macros.h"
#include "sentry/fsimpl/overlay/overlay.h"
#include "sentry/fsimpl/tmpfs/tmpfs.h"
#include "sentry/memory/memory_file.h"
#include "sentry/vfs/file_description.h"
#include "sentry/vfs/vfs.h"

namespace sentry::fsimpl::gofer {
namespace {

using ::gofer::testing::MakeTempDir;
using ::gofer::testing::ReadFd;
using ::gofer::testing::RemoveTree;
using ::gofer::testing::WriteFile;
using ::testing::UnorderedElementsAreArray;
using vfs::PathContext;
using vfs::VirtualDentry;

MATCHER_P(FailsWith, e, "") {
  if (arg.ok()) {
    *result_listener << "succeeded";
    return false;
  }
  *result_listener << "failed with " << ErrnoName(arg.error().value());
  return arg.error().value() == e;
}
MATCHER(Succeeds, "") {
  if (!arg.ok()) *result_listener << "failed with " << ErrnoName(arg.error().value());
  return arg.ok();
}

std::string HostRead(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "<missing>";
  std::string s = ReadFd(fd);
  close(fd);
  return s;
}

class GoferFsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // The VFS applies the guest's umask; the server must not apply its own
    // (runsc gofer runs with umask 0).
    old_umask_ = umask(0);
    dir_ = MakeTempDir("goferfs-test");
    ASSERT_FALSE(dir_.empty());
    root_path_ = dir_ + "/root";
    ASSERT_EQ(mkdir(root_path_.c_str(), 0755), 0);
    ASSERT_EQ(mkdir((root_path_ + "/a").c_str(), 0755), 0);
    ASSERT_EQ(mkdir((root_path_ + "/a/b").c_str(), 0755), 0);
    ASSERT_TRUE(WriteFile(root_path_ + "/a/b/file", "contents"));
    ASSERT_TRUE(WriteFile(root_path_ + "/top", "top"));
    ASSERT_EQ(symlink("a", (root_path_ + "/link").c_str()), 0);
    ASSERT_EQ(symlink("/top", (root_path_ + "/abs").c_str()), 0);
    ASSERT_EQ(symlink("nowhere", (root_path_ + "/dangling").c_str()), 0);
    ASSERT_EQ(symlink("../outside/secret", (root_path_ + "/esc").c_str()), 0);
    ASSERT_EQ(mkdir((dir_ + "/outside").c_str(), 0755), 0);
    ASSERT_TRUE(WriteFile(dir_ + "/outside/secret", "secret"));
  }

  void StartServer(bool read_only, GoferOptions options = {}) {
    int sv[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
    ::gofer::ServerOptions so;
    so.read_only = read_only;
    auto server = ::gofer::Server::CreateFromPath(root_path_, so);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = server->get();
    server_fd_ = sv[1];
    server_thread_ = std::thread([s = std::move(*server), fd = sv[1]]() mutable {
      absl::Status st = s->Serve(fd);
      EXPECT_TRUE(st.ok()) << st;
      close(fd);
    });
    client_ =
        std::make_shared<::gofer::Client>(::gofer::UniqueFd(sv[0]), ::gofer::ClientOptions{10000});
    auto fs = GoferFilesystem::Create(client_, options);
    ASSERT_THAT(fs, Succeeds());
    fs_ = *fs;
    EXPECT_EQ(fs_->read_only(), read_only);
    vfs_ = std::make_unique<vfs::VirtualFilesystem>(fs_);
    // What the kernel does for a read-only attach (KernelConfig::root_read_only).
    vfs_->Root().mount->read_only = fs_->read_only();
    ctx_ = {vfs_->Root(), vfs_->Root(), &creds_, 022};
  }

  // runsc do's root: a memory overlay over the read-only gofer mount.
  void StartOverlay() {
    StartServer(/*read_only=*/true);
    auto mf = memory::MemoryFile::Create(uint64_t{1} << 30);
    ASSERT_TRUE(mf.ok()) << mf.status();
    mf_ = std::move(*mf);
    ctx_ = {};
    vfs_ = std::make_unique<vfs::VirtualFilesystem>(
        overlay::OverlayFilesystem::Create(fs_, tmpfs::TmpfsFilesystem::Create(*mf_)));
    ctx_ = {vfs_->Root(), vfs_->Root(), &creds_, 022};
  }

  // The server's end of the connection goes away, as when the gofer dies.
  void KillServer() {
    shutdown(server_fd_, SHUT_RDWR);
    server_thread_.join();
  }

  void TearDown() override {
    ctx_ = {};  // it holds the root mount
    vfs_.reset();
    fs_.reset();
    client_.reset();
    if (server_thread_.joinable()) server_thread_.join();
    RemoveTree(dir_);
    umask(old_umask_);
  }

  ErrnoOr<std::shared_ptr<vfs::FileDescription>> Open(const std::string& path, int flags,
                                                      uint32_t mode = 0) {
    return vfs_->Open(ctx_, path, flags, mode);
  }

  std::string Read(vfs::FileDescription& fd, int64_t offset = -1) {
    std::string out;
    char buf[1000];
    for (;;) {
      iovec v{buf, sizeof(buf)};
      auto n = fd.Readv(nullptr, {&v, 1}, offset);
      if (!n.ok()) return out + "<" + std::string(ErrnoName(n.error().value())) + ">";
      if (*n == 0) break;
      out.append(buf, *n);
      if (offset >= 0) offset += static_cast<int64_t>(*n);
    }
    return out;
  }
  std::string ReadFile(const std::string& path) {
    auto fd = Open(path, O_RDONLY);
    if (!fd.ok()) return "<" + std::string(ErrnoName(fd.error().value())) + ">";
    return Read(**fd);
  }
  ErrnoOr<size_t> Write(vfs::FileDescription& fd, const std::string& data, int64_t offset = -1) {
    iovec v{const_cast<char*>(data.data()), data.size()};
    return fd.Writev(nullptr, {&v, 1}, offset);
  }

  struct Entry {
    std::string name;
    uint64_t ino;
    uint8_t type;
    int64_t next;
  };
  // Every entry of a directory, taking at most `per_call` per IterateDir call.
  ErrnoOr<std::vector<Entry>> ListDir(const std::string& path, size_t per_call = SIZE_MAX) {
    ASSIGN_OR_RETURN(auto fd, Open(path, O_RDONLY | O_DIRECTORY));
    std::vector<Entry> out;
    for (;;) {
      size_t took = 0;
      RETURN_IF_ERROR(fd->IterateDir([&](const vfs::DirEntry& e) {
        if (took == per_call) return false;
        out.push_back({std::string(e.name), e.ino, e.type, e.next});
        ++took;
        return true;
      }));
      if (took == 0) return out;
    }
  }
  std::vector<std::string> Names(const std::vector<Entry>& entries) {
    std::vector<std::string> names;
    for (const Entry& e : entries) names.push_back(e.name);
    return names;
  }

  ErrnoOr<vfs::Attr> Stat(const std::string& path, bool follow = true) {
    ASSIGN_OR_RETURN(VirtualDentry vd, vfs_->Resolve(ctx_, path, follow ? vfs::kFollow : 0u));
    return vfs_->Stat(vd);
  }

  mode_t old_umask_ = 0;
  std::string dir_, root_path_;
  ::gofer::Server* server_ = nullptr;  // owned by the serving thread
  int server_fd_ = -1;
  std::thread server_thread_;
  std::shared_ptr<::gofer::Client> client_;
  std::shared_ptr<GoferFilesystem> fs_;
  std::unique_ptr<memory::MemoryFile> mf_;  // the overlay's upper tmpfs
  std::unique_ptr<vfs::VirtualFilesystem> vfs_;
  vfs::AccessCreds creds_ = vfs::AccessCreds::Root();
  PathContext ctx_;
};

TEST_F(GoferFsTest, WalkAndStat) {
  StartServer(/*read_only=*/true);
  auto a = Stat("/a/b/file");
  ASSERT_THAT(a, Succeeds());
  struct stat host;
  ASSERT_EQ(lstat((root_path_ + "/a/b/file").c_str(), &host), 0);
  EXPECT_EQ(a->ino, host.st_ino);
  EXPECT_EQ(a->size, 8u);
  EXPECT_EQ(a->mode, host.st_mode);
  EXPECT_EQ(a->nlink, host.st_nlink);
  EXPECT_EQ(a->mtime.tv_sec, host.st_mtim.tv_sec);
  EXPECT_TRUE(S_ISDIR(Stat("/a")->mode));
  // st_dev is the mount's own anonymous device, not the host's.
  EXPECT_EQ(major(fs_->Dev()), 0u);
  EXPECT_NE(fs_->Dev(), host.st_dev);
  auto fd = Open("/a/b/file", O_RDONLY);
  ASSERT_THAT(fd, Succeeds());
  auto st = (*fd)->Stat();
  ASSERT_THAT(st, Succeeds());
  EXPECT_EQ(st->st_dev, fs_->Dev());
  EXPECT_EQ(st->st_ino, host.st_ino);
  EXPECT_EQ(st->st_size, 8);

  EXPECT_THAT(Stat("/a/missing"), FailsWith(ENOENT));
  EXPECT_THAT(Stat("/top/x"), FailsWith(ENOTDIR));
  EXPECT_THAT(Stat("/a/b/file/"), FailsWith(ENOTDIR));
  EXPECT_THAT(Stat("/a/b/../../top"), Succeeds());
  // ".." at the root stays at the root: the host's parent is out of reach.
  EXPECT_EQ(Stat("/../../..")->ino, Stat("/")->ino);
}

TEST_F(GoferFsTest, ReadSeekAndHoles) {
  // A sparse file: a hole of 1 MiB, then data.
  {
    int fd = open((root_path_ + "/sparse").c_str(), O_WRONLY | O_CREAT, 0644);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(pwrite(fd, "tail", 4, 1 << 20), 4);
    close(fd);
  }
  StartServer(/*read_only=*/true);
  EXPECT_EQ(ReadFile("/a/b/file"), "contents");
  EXPECT_EQ(ReadFile("/top"), "top");
  auto fd = Open("/a/b/file", O_RDONLY);
  ASSERT_THAT(fd, Succeeds());
  EXPECT_EQ(Read(**fd, 3), "tents");        // pread
  EXPECT_EQ(*(*fd)->Seek(0, SEEK_CUR), 0);  // pread left the position alone
  EXPECT_EQ(*(*fd)->Seek(-2, SEEK_END), 6);
  EXPECT_EQ(Read(**fd), "ts");
  EXPECT_THAT((*fd)->Seek(-100, SEEK_CUR), FailsWith(EINVAL));
  EXPECT_THAT(Write(**fd, "x"), FailsWith(EBADF));  // opened read-only
  EXPECT_THAT((*fd)->Allocate(0, 0, 10), FailsWith(EBADF));
  EXPECT_THAT((*fd)->Sync(), Succeeds());

  // SEEK_DATA/SEEK_HOLE are the host's answers.
  int host = open((root_path_ + "/sparse").c_str(), O_RDONLY);
  ASSERT_GE(host, 0);
  auto sparse = Open("/sparse", O_RDONLY);
  ASSERT_THAT(sparse, Succeeds());
  EXPECT_EQ(*(*sparse)->Seek(0, SEEK_DATA), lseek(host, 0, SEEK_DATA));
  EXPECT_EQ(*(*sparse)->Seek(0, SEEK_HOLE), lseek(host, 0, SEEK_HOLE));
  EXPECT_THAT((*sparse)->Seek((1 << 20) + 4, SEEK_DATA), FailsWith(ENXIO));
  close(host);
  std::string all = Read(**sparse, 0);
  ASSERT_EQ(all.size(), (1u << 20) + 4);
  EXPECT_EQ(all.substr(1 << 20), "tail");
  EXPECT_EQ(all.find_first_not_of('\0'), 1u << 20);

  // Directories are not read; O_DIRECTORY on a file is ENOTDIR.
  auto dir = Open("/a", O_RDONLY);
  ASSERT_THAT(dir, Succeeds());
  char c;
  iovec v{&c, 1};
  EXPECT_THAT((*dir)->Readv(nullptr, {&v, 1}, -1), FailsWith(EISDIR));
  EXPECT_THAT(Open("/top", O_RDONLY | O_DIRECTORY), FailsWith(ENOTDIR));
}

TEST_F(GoferFsTest, Getdents) {
  StartServer(/*read_only=*/true);
  auto root = ListDir("/");
  ASSERT_THAT(root, Succeeds());
  EXPECT_THAT(Names(*root),
              UnorderedElementsAreArray({".", "..", "a", "top", "link", "abs", "dangling", "esc"}));
  // "." and ".." first, as Linux's dir_emit_dots, with cookies 1 and 2.
  ASSERT_GE(root->size(), 2u);
  EXPECT_EQ((*root)[0].name, ".");
  EXPECT_EQ((*root)[0].next, 1);
  EXPECT_EQ((*root)[1].name, "..");
  EXPECT_EQ((*root)[1].next, 2);
  const uint64_t root_ino = Stat("/")->ino;
  std::map<std::string, Entry> by_name;
  for (const Entry& e : *root) by_name[e.name] = e;
  EXPECT_EQ(by_name["."].ino, root_ino);
  EXPECT_EQ(by_name[".."].ino, root_ino);  // the root's parent is itself
  EXPECT_EQ(by_name["a"].type, DT_DIR);
  EXPECT_EQ(by_name["top"].type, DT_REG);
  EXPECT_EQ(by_name["link"].type, DT_LNK);
  EXPECT_EQ(by_name["top"].ino, Stat("/top")->ino);

  auto a = ListDir("/a");
  ASSERT_THAT(a, Succeeds());
  EXPECT_THAT(Names(*a), UnorderedElementsAreArray({".", "..", "b"}));
  for (const Entry& e : *a) {
    if (e.name == "..") {
      EXPECT_EQ(e.ino, root_ino);
    }
  }
  EXPECT_THAT(ListDir("/top"), FailsWith(ENOTDIR));
}

TEST_F(GoferFsTest, GetdentsResumesAcrossCallsChunksAndSeeks) {
  // Long names, so that the listing takes several Getdents round trips.
  ASSERT_EQ(mkdir((root_path_ + "/many").c_str(), 0755), 0);
  std::vector<std::string> expected = {".", ".."};
  for (int i = 0; i < 600; ++i) {
    std::string name = absl::StrFormat("%03d-%s", i, std::string(120, 'n'));
    ASSERT_TRUE(WriteFile(root_path_ + "/many/" + name, ""));
    expected.push_back(name);
  }
  StartServer(/*read_only=*/true);
  auto all = ListDir("/many");
  ASSERT_THAT(all, Succeeds());
  EXPECT_THAT(Names(*all), UnorderedElementsAreArray(expected));
  // A few at a time (each call resumes from the last cookie) gives the same.
  auto bits = ListDir("/many", 7);
  ASSERT_THAT(bits, Succeeds());
  EXPECT_EQ(Names(*bits), Names(*all));

  // Seeking to an entry's cookie continues right after it; to 0 starts over.
  auto fd = Open("/many", O_RDONLY | O_DIRECTORY);
  ASSERT_THAT(fd, Succeeds());
  for (size_t k : {size_t{0}, size_t{1}, size_t{2}, size_t{300}, all->size() - 2}) {
    ASSERT_THAT((*fd)->Seek((*all)[k].next, SEEK_SET), Succeeds());
    std::string next;
    ASSERT_THAT((*fd)->IterateDir([&](const vfs::DirEntry& e) {
      next = std::string(e.name);
      return false;
    }),
                Succeeds());
    EXPECT_EQ(next, (*all)[k + 1].name) << "after entry " << k;
  }
  ASSERT_THAT((*fd)->Seek(0, SEEK_SET), Succeeds());
  size_t count = 0;
  ASSERT_THAT((*fd)->IterateDir([&](const vfs::DirEntry&) { return ++count, true; }), Succeeds());
  EXPECT_EQ(count, expected.size());
  EXPECT_THAT((*fd)->Seek(0, SEEK_END), FailsWith(EINVAL));
}

TEST_F(GoferFsTest, SymlinksAreFollowedByTheVfs) {
  StartServer(/*read_only=*/true);
  EXPECT_EQ(ReadFile("/link/b/file"), "contents");
  EXPECT_EQ(ReadFile("/abs"), "top");  // an absolute target means the sandbox's root
  auto lnk = Stat("/link", /*follow=*/false);
  ASSERT_THAT(lnk, Succeeds());
  EXPECT_TRUE(S_ISLNK(lnk->mode));
  EXPECT_EQ(lnk->size, 1u);
  EXPECT_TRUE(S_ISDIR(Stat("/link")->mode));
  EXPECT_EQ(*vfs_->Readlink(ctx_, "/link"), "a");
  EXPECT_EQ(*vfs_->Readlink(ctx_, "/link"), "a");  // cached, same answer
  EXPECT_THAT(vfs_->Readlink(ctx_, "/top"), FailsWith(EINVAL));
  EXPECT_THAT(Stat("/dangling"), FailsWith(ENOENT));
  EXPECT_THAT(Open("/abs", O_RDONLY | O_NOFOLLOW), FailsWith(ELOOP));
  // "../outside" from the root is still the root: nothing outside is reachable.
  EXPECT_EQ(ReadFile("/esc"), "<ENOENT>");
  EXPECT_EQ(ReadFile("/../outside/secret"), "<ENOENT>");
}

TEST_F(GoferFsTest, WritableAttachCreatesAndChangesHostFiles) {
  StartServer(/*read_only=*/false);
  EXPECT_FALSE(vfs_->Root().mount->read_only);
  // Create + write + read back; the host sees it, with the mode the guest asked.
  {
    auto fd = Open("/new", O_RDWR | O_CREAT | O_EXCL, 0640);
    ASSERT_THAT(fd, Succeeds());
    ASSERT_THAT(Write(**fd, "hello"), Succeeds());
    EXPECT_EQ(Read(**fd, 0), "hello");
    auto st = (*fd)->Stat();
    ASSERT_THAT(st, Succeeds());
    EXPECT_EQ(st->st_size, 5);
  }
  EXPECT_EQ(HostRead(root_path_ + "/new"), "hello");
  struct stat host;
  ASSERT_EQ(stat((root_path_ + "/new").c_str(), &host), 0);
  EXPECT_EQ(host.st_mode & 07777, 0640u);
  EXPECT_EQ(Stat("/new")->size, 5u);
  EXPECT_THAT(Open("/new", O_RDWR | O_CREAT | O_EXCL, 0640), FailsWith(EEXIST));

  // Writes through another description show in stat by path; O_APPEND appends
  // (pwrite too, as on Linux); O_TRUNC empties.
  {
    auto fd = Open("/new", O_WRONLY | O_APPEND);
    ASSERT_THAT(fd, Succeeds());
    ASSERT_THAT(Write(**fd, " world"), Succeeds());
    ASSERT_THAT(Write(**fd, "!", 0), Succeeds());
    EXPECT_EQ(Read(**fd), "<EBADF>");
  }
  EXPECT_EQ(HostRead(root_path_ + "/new"), "hello world!");
  EXPECT_EQ(Stat("/new")->size, 12u);
  {
    auto fd = Open("/new", O_WRONLY | O_TRUNC);
    ASSERT_THAT(fd, Succeeds());
    EXPECT_EQ(Stat("/new")->size, 0u);
    ASSERT_THAT((*fd)->Allocate(FALLOC_FL_KEEP_SIZE, 0, 8192), Succeeds());
    ASSERT_THAT((*fd)->Allocate(0, 0, 100), Succeeds());
    EXPECT_EQ(Stat("/new")->size, 100u);
    EXPECT_THAT((*fd)->Sync(), Succeeds());
  }

  // Directories, symlinks, links, renames, removals.
  ASSERT_THAT(vfs_->Mkdir(ctx_, "/d", 0777), Succeeds());
  ASSERT_EQ(stat((root_path_ + "/d").c_str(), &host), 0);
  EXPECT_TRUE(S_ISDIR(host.st_mode));
  EXPECT_EQ(host.st_mode & 0777, 0755u);  // the guest's umask, 022
  ASSERT_THAT(vfs_->Symlink(ctx_, "../top", "/d/s"), Succeeds());
  EXPECT_EQ(ReadFile("/d/s"), "top");
  char target[64] = {};
  ASSERT_GT(readlink((root_path_ + "/d/s").c_str(), target, sizeof(target)), 0);
  EXPECT_STREQ(target, "../top");
  ASSERT_THAT(vfs_->Link(ctx_, "/top", false, ctx_, "/d/top2"), Succeeds());
  EXPECT_EQ(Stat("/top")->nlink, 2u);
  EXPECT_EQ(Stat("/d/top2")->ino, Stat("/top")->ino);
  ASSERT_THAT(vfs_->Rename(ctx_, "/d/top2", ctx_, "/a/moved", 0), Succeeds());
  EXPECT_EQ(HostRead(root_path_ + "/a/moved"), "top");
  EXPECT_EQ(ReadFile("/a/moved"), "top");
  EXPECT_THAT(Stat("/d/top2"), FailsWith(ENOENT));
  ASSERT_THAT(vfs_->Unlink(ctx_, "/a/moved"), Succeeds());
  EXPECT_EQ(Stat("/top")->nlink, 1u);
  EXPECT_NE(access((root_path_ + "/a/moved").c_str(), F_OK), 0);
  EXPECT_THAT(vfs_->Rmdir(ctx_, "/d"), FailsWith(ENOTEMPTY));
  ASSERT_THAT(vfs_->Unlink(ctx_, "/d/s"), Succeeds());
  ASSERT_THAT(vfs_->Rmdir(ctx_, "/d"), Succeeds());
  EXPECT_NE(access((root_path_ + "/d").c_str(), F_OK), 0);
  EXPECT_THAT(Stat("/d"), FailsWith(ENOENT));

  // Rename flags reach the host.
  ASSERT_THAT(vfs_->Rename(ctx_, "/top", ctx_, "/new", RENAME_EXCHANGE), Succeeds());
  EXPECT_EQ(HostRead(root_path_ + "/new"), "top");
  EXPECT_EQ(ReadFile("/new"), "top");
  EXPECT_THAT(vfs_->Rename(ctx_, "/top", ctx_, "/new", RENAME_NOREPLACE), FailsWith(EEXIST));

  // Attributes.
  auto top = vfs_->Resolve(ctx_, "/new", vfs::kFollow);
  ASSERT_THAT(top, Succeeds());
  ASSERT_THAT(vfs_->Chmod(creds_, *top, 0600), Succeeds());
  ASSERT_EQ(stat((root_path_ + "/new").c_str(), &host), 0);
  EXPECT_EQ(host.st_mode & 07777, 0600u);
  EXPECT_EQ(Stat("/new")->mode & 07777, 0600u);
  ASSERT_THAT(vfs_->Truncate(&creds_, *top, 1), Succeeds());
  EXPECT_EQ(HostRead(root_path_ + "/new"), "t");
  EXPECT_EQ(Stat("/new")->size, 1u);
  ASSERT_THAT(vfs_->Utimes(creds_, *top, timespec{1000, 5}, timespec{2000, 7}), Succeeds());
  ASSERT_EQ(stat((root_path_ + "/new").c_str(), &host), 0);
  EXPECT_EQ(host.st_mtim.tv_sec, 2000);
  EXPECT_EQ(host.st_mtim.tv_nsec, 7);
  EXPECT_EQ(Stat("/new")->atime.tv_sec, 1000);

  // A FIFO can be made and opens as a pipe in the Sentry (a writer without a
  // reader: ENXIO); device nodes are the gofer's EPERM.
  ASSERT_THAT(vfs_->Mknod(ctx_, "/fifo", S_IFIFO | 0644, 0), Succeeds());
  ASSERT_EQ(lstat((root_path_ + "/fifo").c_str(), &host), 0);
  EXPECT_TRUE(S_ISFIFO(host.st_mode));
  EXPECT_THAT(Open("/fifo", O_WRONLY | O_NONBLOCK), FailsWith(ENXIO));
  EXPECT_TRUE(Open("/fifo", O_RDONLY | O_NONBLOCK).ok());
  EXPECT_THAT(vfs_->Mknod(ctx_, "/chr", S_IFCHR | 0644, makedev(1, 3)), FailsWith(EPERM));
  ASSERT_THAT(vfs_->Mknod(ctx_, "/reg", S_IFREG | 0600, 0), Succeeds());
  EXPECT_EQ(HostRead(root_path_ + "/reg"), "");
}

TEST_F(GoferFsTest, UnlinkedOpenFileStaysReadable) {
  StartServer(/*read_only=*/false);
  auto fd = Open("/top", O_RDONLY);
  ASSERT_THAT(fd, Succeeds());
  ASSERT_THAT(vfs_->Unlink(ctx_, "/top"), Succeeds());
  EXPECT_EQ(Read(**fd, 0), "top");
  auto st = (*fd)->Stat();
  ASSERT_THAT(st, Succeeds());
  EXPECT_EQ(st->st_nlink, 0u);
  EXPECT_THAT(Stat("/top"), FailsWith(ENOENT));
}

TEST_F(GoferFsTest, ReadOnlyAttachIsEroFs) {
  StartServer(/*read_only=*/true);
  EXPECT_TRUE(vfs_->Root().mount->read_only);
  EXPECT_THAT(Open("/new", O_WRONLY | O_CREAT, 0644), FailsWith(EROFS));
  EXPECT_THAT(Open("/top", O_WRONLY), FailsWith(EROFS));
  EXPECT_THAT(Open("/top", O_RDONLY | O_TRUNC), FailsWith(EROFS));
  EXPECT_THAT(vfs_->Mkdir(ctx_, "/d", 0755), FailsWith(EROFS));
  EXPECT_THAT(vfs_->Unlink(ctx_, "/top"), FailsWith(EROFS));
  EXPECT_THAT(vfs_->Rename(ctx_, "/top", ctx_, "/top2", 0), FailsWith(EROFS));
  EXPECT_THAT(vfs_->Symlink(ctx_, "x", "/s"), FailsWith(EROFS));
  auto top = vfs_->Resolve(ctx_, "/top", vfs::kFollow);
  ASSERT_THAT(top, Succeeds());
  EXPECT_THAT(vfs_->Chmod(creds_, *top, 0600), FailsWith(EROFS));

  // Below the VFS the server says the same.
  vfs_->Root().mount->read_only = false;
  EXPECT_THAT(vfs_->Mkdir(ctx_, "/d", 0755), FailsWith(EROFS));
  EXPECT_THAT(Open("/new", O_WRONLY | O_CREAT, 0644), FailsWith(EROFS));
  EXPECT_THAT(Open("/top", O_WRONLY), FailsWith(EROFS));
  EXPECT_THAT(vfs_->Unlink(ctx_, "/top"), FailsWith(EROFS));
  EXPECT_THAT(vfs_->Chmod(creds_, *top, 0600), FailsWith(EROFS));
  EXPECT_THAT(vfs_->Truncate(&creds_, *top, 0), FailsWith(EROFS));
  vfs_->Root().mount->read_only = true;

  EXPECT_EQ(HostRead(root_path_ + "/top"), "top");
  EXPECT_NE(access((root_path_ + "/new").c_str(), F_OK), 0);
  EXPECT_NE(access((root_path_ + "/d").c_str(), F_OK), 0);
  EXPECT_EQ(ReadFile("/top"), "top");
}

// Xattrs are the host file's, through the gofer; the VFS's checks come first
// (EROFS on a read-only attach before any RPC).
TEST_F(GoferFsTest, XattrsAreTheHostFiles) {
  if (setxattr((root_path_ + "/top").c_str(), "user.host", "h", 1, 0) != 0) {
    GTEST_SKIP() << "the host filesystem has no user xattrs: " << strerror(errno);
  }
  StartServer(/*read_only=*/false);
  auto top = vfs_->Resolve(ctx_, "/top", vfs::kFollow);
  ASSERT_THAT(top, Succeeds());
  auto v = vfs_->GetXattr(creds_, *top, "user.host");
  ASSERT_THAT(v, Succeeds());
  EXPECT_EQ(*v, "h");
  EXPECT_THAT(vfs_->GetXattr(creds_, *top, "user.none"), FailsWith(ENODATA));
  ASSERT_THAT(Stat("/top"), Succeeds());  // attributes cached
  ASSERT_THAT(vfs_->SetXattr(creds_, *top, "user.new", "value", XATTR_CREATE), Succeeds());
  EXPECT_THAT(vfs_->SetXattr(creds_, *top, "user.new", "x", XATTR_CREATE), FailsWith(EEXIST));
  EXPECT_THAT(vfs_->SetXattr(creds_, *top, "user.no", "x", XATTR_REPLACE), FailsWith(ENODATA));
  char buf[16] = {};
  EXPECT_EQ(getxattr((root_path_ + "/top").c_str(), "user.new", buf, sizeof(buf)), 5);
  EXPECT_STREQ(buf, "value");
  // The cached attributes were dropped: ctime moved on the host.
  struct stat host;
  ASSERT_EQ(stat((root_path_ + "/top").c_str(), &host), 0);
  EXPECT_EQ(Stat("/top")->ctime.tv_sec, host.st_ctim.tv_sec);
  EXPECT_EQ(Stat("/top")->ctime.tv_nsec, host.st_ctim.tv_nsec);
  auto names = vfs_->ListXattr(creds_, *top);
  ASSERT_THAT(names, Succeeds());
  EXPECT_THAT(*names, ::testing::IsSupersetOf({"user.host", "user.new"}));
  ASSERT_THAT(vfs_->RemoveXattr(creds_, *top, "user.new"), Succeeds());
  EXPECT_THAT(vfs_->GetXattr(creds_, *top, "user.new"), FailsWith(ENODATA));
  // security.* is read-only through the gofer.
  EXPECT_THAT(vfs_->SetXattr(creds_, *top, "security.x", "1", 0), FailsWith(EPERM));
  // A symlink's own attributes (lgetxattr): user.* is refused by the VFS
  // before the gofer is asked; listing asks the gofer about the link itself.
  auto link = vfs_->Resolve(ctx_, "/abs", 0);
  ASSERT_THAT(link, Succeeds());
  auto ln = vfs_->ListXattr(creds_, *link);
  ASSERT_THAT(ln, Succeeds());
  EXPECT_THAT(*ln, ::testing::Not(::testing::Contains("user.host")));
  // Read-only: EROFS from the VFS, and from the server below it.
  vfs_->Root().mount->read_only = true;
  EXPECT_THAT(vfs_->SetXattr(creds_, *top, "user.ro", "1", 0), FailsWith(EROFS));
  EXPECT_THAT(vfs_->RemoveXattr(creds_, *top, "user.host"), FailsWith(EROFS));
  EXPECT_THAT(vfs_->GetXattr(creds_, *top, "user.host"), Succeeds());
  vfs_->Root().mount->read_only = false;
}

TEST_F(GoferFsTest, XattrsOnAReadOnlyServerAreErofs) {
  StartServer(/*read_only=*/true);
  auto top = vfs_->Resolve(ctx_, "/top", vfs::kFollow);
  ASSERT_THAT(top, Succeeds());
  vfs_->Root().mount->read_only = false;  // only the server refuses now
  EXPECT_THAT(vfs_->SetXattr(creds_, *top, "user.ro", "1", 0), FailsWith(EROFS));
  EXPECT_THAT(vfs_->RemoveXattr(creds_, *top, "user.ro"), FailsWith(EROFS));
  vfs_->Root().mount->read_only = true;
  EXPECT_THAT(vfs_->GetXattr(creds_, *top, "user.none"), FailsWith(ENODATA));
}

TEST_F(GoferFsTest, SocketFilesConnectToTheHostSocket) {
  // A host unix socket listening in the served tree.
  const std::string path = root_path_ + "/sock";
  ::gofer::UniqueFd listener(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  ASSERT_TRUE(listener.valid());
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  ASSERT_LT(path.size(), sizeof(addr.sun_path));
  memcpy(addr.sun_path, path.data(), path.size());
  ASSERT_EQ(bind(listener.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(listen(listener.get(), 1), 0);
  StartServer(/*read_only=*/true);
  auto vd = vfs_->Resolve(ctx_, "/sock", 0);
  ASSERT_THAT(vd, Succeeds());
  auto fd = vd->inode().ConnectHostSocket(SOCK_STREAM);
  ASSERT_THAT(fd, Succeeds());
  ::gofer::UniqueFd conn(*fd);
  ::gofer::UniqueFd accepted(accept(listener.get(), nullptr, nullptr));
  ASSERT_TRUE(accepted.valid());
  ASSERT_EQ(write(conn.get(), "hi", 2), 2);
  char buf[2];
  ASSERT_EQ(read(accepted.get(), buf, 2), 2);
  EXPECT_EQ(std::string(buf, 2), "hi");
  // The host refuses a socket of another type; other files are no sockets.
  EXPECT_EQ(vd->inode().ConnectHostSocket(SOCK_SEQPACKET).error(), Errno(EPROTOTYPE));
  auto file = vfs_->Resolve(ctx_, "/top", 0);
  ASSERT_THAT(file, Succeeds());
  EXPECT_EQ(file->inode().ConnectHostSocket(SOCK_STREAM).error(), Errno(ECONNREFUSED));
}

TEST_F(GoferFsTest, StatFs) {
  StartServer(/*read_only=*/true);
  auto s = fs_->StatFS();
  ASSERT_THAT(s, Succeeds());
  struct statfs host;
  ASSERT_EQ(statfs(root_path_.c_str(), &host), 0);
  EXPECT_EQ(s->f_type, host.f_type);
  EXPECT_EQ(s->f_bsize, host.f_bsize);
  EXPECT_EQ(s->f_blocks, host.f_blocks);
}

TEST_F(GoferFsTest, EveryCallIsEioOnceTheGoferIsGone) {
  StartServer(/*read_only=*/false);
  auto open_before = Open("/top", O_RDONLY);
  ASSERT_THAT(open_before, Succeeds());
  ASSERT_THAT(Stat("/a"), Succeeds());
  KillServer();

  EXPECT_THAT(Open("/a/b/file", O_RDONLY), FailsWith(EIO));  // a lookup
  EXPECT_THAT(Open("/top", O_RDONLY), FailsWith(EIO));       // an open of a known file
  EXPECT_THAT(ListDir("/"), FailsWith(EIO));                 // getdents
  EXPECT_THAT(vfs_->Readlink(ctx_, "/link"), FailsWith(EIO));
  EXPECT_THAT(vfs_->Mkdir(ctx_, "/d", 0755), FailsWith(EIO));
  EXPECT_THAT(Open("/new", O_WRONLY | O_CREAT, 0644), FailsWith(EIO));
  EXPECT_THAT(fs_->StatFS(), FailsWith(EIO));
  auto top = vfs_->Resolve(ctx_, "/top", vfs::kFollow);
  ASSERT_THAT(top, Succeeds());  // cached dentry and attributes (exclusive mode)
  EXPECT_THAT(vfs_->Chmod(creds_, *top, 0600), FailsWith(EIO));
  EXPECT_TRUE(client_->connection_lost());
  // A file opened before holds its own host fd.
  EXPECT_EQ(Read(**open_before, 0), "top");
}

TEST_F(GoferFsTest, AnOpenForReadingAndAReadlinkCostNoRoundTripOfTheirOwn) {
  StartServer(/*read_only=*/true);
  ASSERT_THAT(Stat("/a/b"), Succeeds());
  // The walk of "file" opens it too: one round trip for the open.
  uint64_t before = server_->requests_handled();
  auto fd = Open("/a/b/file", O_RDONLY);
  ASSERT_THAT(fd, Succeeds());
  EXPECT_EQ(server_->requests_handled() - before, 1u);
  EXPECT_EQ(ReadFile("/a/b/file"), "contents");
  // O_PATH opens nothing on the host.
  ASSERT_THAT(Stat("/top"), Succeeds());
  before = server_->requests_handled();
  ASSERT_THAT(Open("/top", O_RDONLY | O_PATH), Succeeds());
  EXPECT_EQ(server_->requests_handled() - before, 0u);
  // A symlink's target comes with its walk.
  before = server_->requests_handled();
  auto target = vfs_->Readlink(ctx_, "/link");
  ASSERT_THAT(target, Succeeds());
  EXPECT_EQ(*target, "a");
  EXPECT_EQ(server_->requests_handled() - before, 1u);
}

TEST_F(GoferFsTest, AWalkLooksUpTheNamesItHasNotCachedInOneRoundTrip) {
  StartServer(/*read_only=*/true);
  uint64_t before = server_->requests_handled();
  ASSERT_THAT(Stat("/a/b/file"), Succeeds());
  EXPECT_EQ(server_->requests_handled() - before, 1u);
  // Every step is cached now.
  before = server_->requests_handled();
  ASSERT_THAT(Stat("/a"), Succeeds());
  ASSERT_THAT(Stat("/a/b"), Succeeds());
  ASSERT_THAT(Stat("/a/b/file"), Succeeds());
  EXPECT_EQ(server_->requests_handled() - before, 0u);
  // A missing name on the way: one round trip, and remembered.
  before = server_->requests_handled();
  EXPECT_THAT(Stat("/a/b/nope/deeper"), FailsWith(ENOENT));
  EXPECT_THAT(Stat("/a/b/nope"), FailsWith(ENOENT));
  EXPECT_EQ(server_->requests_handled() - before, 1u);
  // Not a directory on the way: ENOTDIR, as a walk one name at a time says.
  EXPECT_THAT(Stat("/top/x/y"), FailsWith(ENOTDIR));
  EXPECT_EQ(Stat("/top")->size, 3u);
  // A symlink on the way stops the look-ahead; the walk follows it and
  // looks ahead again from its target.
  ASSERT_THAT(Stat("/link/b/file"), Succeeds());
  EXPECT_THAT(Stat("/dangling/x"), FailsWith(ENOENT));
  // "..": the names after it are looked up on their own.
  EXPECT_EQ(ReadFile("/a/../a/b/file"), "contents");
}

TEST_F(GoferFsTest, AnUncachedPathOpenedForReadingCostsOneRoundTrip) {
  StartServer(/*read_only=*/true);
  const uint64_t before = server_->requests_handled();
  auto fd = Open("/a/b/file", O_RDONLY);
  ASSERT_THAT(fd, Succeeds());
  EXPECT_EQ(server_->requests_handled() - before, 1u);
  EXPECT_EQ(ReadFile("/a/b/file"), "contents");
}

TEST_F(GoferFsTest, TheOverlayLooksAheadBelowWhatIsOnlyInTheLowerLayer) {
  StartOverlay();
  uint64_t before = server_->requests_handled();
  auto fd = Open("/a/b/file", O_RDONLY);
  ASSERT_THAT(fd, Succeeds());
  EXPECT_EQ(server_->requests_handled() - before, 1u);
  EXPECT_EQ(Read(**fd), "contents");
  // The inodes found ahead are the overlay's, each below its own parent:
  // writing copies the whole chain up, and the host file stays as it was.
  auto w = Open("/a/b/file", O_WRONLY | O_TRUNC);
  ASSERT_THAT(w, Succeeds());
  ASSERT_THAT(Write(**w, "changed"), Succeeds());
  EXPECT_EQ(ReadFile("/a/b/file"), "changed");
  EXPECT_EQ(HostRead(root_path_ + "/a/b/file"), "contents");
  ASSERT_THAT(Open("/a/b/new", O_WRONLY | O_CREAT, 0644), Succeeds());
  EXPECT_THAT(Stat("/a/b/new"), Succeeds());
  // A name above (a whiteout here) is looked up alone and hides the lower
  // one and everything below it.
  ASSERT_THAT(vfs_->Unlink(ctx_, "/top"), Succeeds());
  EXPECT_THAT(Stat("/top"), FailsWith(ENOENT));
  EXPECT_THAT(Stat("/top/x"), FailsWith(ENOENT));
  // A directory made above has nothing below: the lower layer is not asked.
  ASSERT_THAT(vfs_->Mkdir(ctx_, "/above", 0755), Succeeds());
  before = server_->requests_handled();
  EXPECT_THAT(Stat("/above/x/y"), FailsWith(ENOENT));
  EXPECT_EQ(server_->requests_handled() - before, 0u);
}

TEST_F(GoferFsTest, ExclusiveModeServesCachedAttributes) {
  StartServer(/*read_only=*/true);
  EXPECT_EQ(Stat("/top")->size, 3u);
  ASSERT_TRUE(WriteFile(root_path_ + "/top", "changed on the host"));
  // Never revalidated: the Sentry is assumed to be the only writer.
  EXPECT_EQ(Stat("/top")->size, 3u);
}

TEST_F(GoferFsTest, ExclusiveReadOnlyMountRemembersAbsentNames) {
  StartServer(/*read_only=*/true);
  EXPECT_THAT(Stat("/a/late"), FailsWith(ENOENT));
  // Made on the host afterwards: not seen, as changes to walked names are not
  // (the Sentry is assumed to be the only one changing the tree).
  ASSERT_TRUE(WriteFile(root_path_ + "/a/late", "late"));
  EXPECT_THAT(Stat("/a/late"), FailsWith(ENOENT));
  // A name never looked up is.
  ASSERT_TRUE(WriteFile(root_path_ + "/a/fresh", "fresh"));
  EXPECT_EQ(ReadFile("/a/fresh"), "fresh");
}

TEST_F(GoferFsTest, AWritableMountForgetsAbsentNames) {
  // The Sentry's own creations go through the mount; other absences are not
  // remembered either.
  StartServer(/*read_only=*/false);
  EXPECT_THAT(Stat("/a/late"), FailsWith(ENOENT));
  ASSERT_TRUE(WriteFile(root_path_ + "/a/late", "late"));
  EXPECT_EQ(ReadFile("/a/late"), "late");
}

TEST_F(GoferFsTest, RevalidationSeesHostChanges) {
  GoferOptions options;
  options.revalidate_after = std::chrono::nanoseconds(0);
  StartServer(/*read_only=*/true, options);
  EXPECT_EQ(Stat("/top")->size, 3u);
  EXPECT_EQ(ReadFile("/a/b/file"), "contents");
  // Changed in place: new attributes.
  ASSERT_TRUE(WriteFile(root_path_ + "/top", "changed on the host"));
  EXPECT_EQ(Stat("/top")->size, 19u);
  // Replaced by a rename (the old inode is unlinked): the new file.
  ASSERT_TRUE(WriteFile(root_path_ + "/a/b/file.new", "replaced"));
  ASSERT_EQ(rename((root_path_ + "/a/b/file.new").c_str(), (root_path_ + "/a/b/file").c_str()), 0);
  EXPECT_EQ(ReadFile("/a/b/file"), "replaced");
  // Removed: gone.
  ASSERT_EQ(unlink((root_path_ + "/a/b/file").c_str()), 0);
  EXPECT_THAT(Stat("/a/b/file"), FailsWith(ENOENT));
  // Created on the host, after a lookup found it absent: there (shared mode
  // remembers no absent names).
  EXPECT_THAT(Stat("/a/fresh"), FailsWith(ENOENT));
  ASSERT_TRUE(WriteFile(root_path_ + "/a/fresh", "fresh"));
  EXPECT_EQ(ReadFile("/a/fresh"), "fresh");
}

TEST_F(GoferFsTest, HandlesAreClosedWhenInodesDie) {
  StartServer(/*read_only=*/false);
  for (const char* p : {"/a/b/file", "/link/b", "/top", "/abs", "/esc"}) (void)Stat(p);
  ASSERT_THAT(ListDir("/a"), Succeeds());
  for (int i = 0; i < 70; ++i) {
    const std::string name = absl::StrFormat("/f%d", i);
    ASSERT_THAT(Open(name, O_WRONLY | O_CREAT, 0644), Succeeds());
    ASSERT_THAT(vfs_->Unlink(ctx_, name), Succeeds());
  }
  // Unlinked and closed: those inodes are gone, their handles released in
  // batches, so far fewer than 70 remain.
  ASSERT_THAT(client_->Close({}), Succeeds());  // a round trip: the server is idle after it
  EXPECT_LT(server_->handle_count(), 50u);
  ctx_ = {};
  vfs_.reset();
  fs_.reset();
  ASSERT_THAT(client_->Close({}), Succeeds());
  EXPECT_EQ(server_->handle_count(), 0u);
}

}  // namespace
}  // namespace sentry::fsimpl::gofer
