// The VFS over tmpfs: path resolution, the path operations, permissions and
// the tmpfs file and directory descriptions.
#include "sentry/vfs/vfs.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/stat.h>

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sentry/fsimpl/tmpfs/tmpfs.h"
#include "sentry/vfs/file_description.h"

namespace sentry::vfs {
namespace {

using fsimpl::tmpfs::TmpfsFilesystem;
using fsimpl::tmpfs::TmpfsOptions;
using ::testing::ElementsAre;

MATCHER_P(FailsWith, e, "") { return !arg.ok() && arg.error().value() == e; }
MATCHER(Succeeds, "") { return arg.ok(); }

class VfsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    mf_ = *memory::MemoryFile::Create(uint64_t{1} << 30);
    vfs_ = std::make_unique<VirtualFilesystem>(TmpfsFilesystem::Create(*mf_));
    ctx_ = {vfs_->Root(), vfs_->Root(), &root_, 022};
  }

  // Writes `data` to a new file at `path`.
  void WriteFile(const std::string& path, const std::string& data) {
    auto fd = vfs_->Open(ctx_, path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ASSERT_TRUE(fd.ok()) << path << ": " << ErrnoName(fd.error().value());
    iovec v{const_cast<char*>(data.data()), data.size()};
    auto n = (*fd)->Writev(nullptr, {&v, 1}, -1);
    ASSERT_TRUE(n.ok());
    ASSERT_EQ(*n, data.size());
  }
  std::string ReadFile(const std::string& path) {
    auto fd = vfs_->Open(ctx_, path, O_RDONLY, 0);
    if (!fd.ok()) return "<" + std::string(ErrnoName(fd.error().value())) + ">";
    std::string out;
    char buf[1000];
    for (;;) {
      iovec v{buf, sizeof(buf)};
      auto n = (*fd)->Readv(nullptr, {&v, 1}, -1);
      if (!n.ok() || *n == 0) break;
      out.append(buf, *n);
    }
    return out;
  }
  std::vector<std::string> List(const std::string& path) {
    std::vector<std::string> names;
    auto fd = vfs_->Open(ctx_, path, O_RDONLY | O_DIRECTORY, 0);
    if (!fd.ok()) return {"<error>"};
    EXPECT_TRUE((*fd)
                    ->IterateDir([&](const DirEntry& e) {
                      names.emplace_back(e.name);
                      return true;
                    })
                    .ok());
    return names;
  }

  AccessCreds root_ = AccessCreds::Root();
  std::unique_ptr<memory::MemoryFile> mf_;
  std::unique_ptr<VirtualFilesystem> vfs_;
  PathContext ctx_;
};

TEST_F(VfsTest, CreateWriteReadBack) {
  WriteFile("/f", "hello");
  EXPECT_EQ(ReadFile("/f"), "hello");
  EXPECT_EQ(ReadFile("f"), "hello");
  EXPECT_EQ(ReadFile("/./f"), "hello");
  EXPECT_EQ(ReadFile("//f"), "hello");
  auto vd = vfs_->Resolve(ctx_, "/f", kFollow);
  ASSERT_TRUE(vd.ok());
  auto a = vfs_->Stat(*vd);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->size, 5u);
  EXPECT_EQ(a->mode, S_IFREG | 0644u);
  EXPECT_EQ(a->nlink, 1u);
}

TEST_F(VfsTest, OpenFlags) {
  EXPECT_THAT(vfs_->Open(ctx_, "/missing", O_RDONLY, 0), FailsWith(ENOENT));
  WriteFile("/f", "abc");
  EXPECT_THAT(vfs_->Open(ctx_, "/f", O_RDONLY | O_CREAT | O_EXCL, 0644), FailsWith(EEXIST));
  EXPECT_THAT(vfs_->Open(ctx_, "/f", O_RDONLY | O_DIRECTORY, 0), FailsWith(ENOTDIR));
  EXPECT_THAT(vfs_->Open(ctx_, "/f/", O_RDONLY, 0), FailsWith(ENOTDIR));
  EXPECT_THAT(vfs_->Open(ctx_, "/f/x", O_RDONLY, 0), FailsWith(ENOTDIR));
  EXPECT_THAT(vfs_->Open(ctx_, "/", O_WRONLY, 0), FailsWith(EISDIR));
  EXPECT_THAT(vfs_->Open(ctx_, "/", O_RDONLY | O_CREAT, 0644), FailsWith(EISDIR));
  EXPECT_THAT(vfs_->Open(ctx_, "/new/", O_RDWR | O_CREAT, 0644), FailsWith(EISDIR));
  // O_TRUNC empties; O_APPEND writes at the end whatever the offset.
  ASSERT_THAT(vfs_->Open(ctx_, "/f", O_RDONLY | O_TRUNC, 0), Succeeds());
  EXPECT_EQ(ReadFile("/f"), "");
  WriteFile("/g", "12345");
  auto fd = vfs_->Open(ctx_, "/g", O_WRONLY | O_APPEND, 0);
  ASSERT_TRUE(fd.ok());
  char x[] = "6";
  iovec v{x, 1};
  ASSERT_TRUE((*fd)->Writev(nullptr, {&v, 1}, 0).ok());
  EXPECT_EQ(ReadFile("/g"), "123456");
  // Umask applies to creation.
  ctx_.umask = 077;
  ASSERT_THAT(vfs_->Open(ctx_, "/h", O_RDWR | O_CREAT, 0666), Succeeds());
  EXPECT_EQ(vfs_->Stat(*vfs_->Resolve(ctx_, "/h", 0))->mode, S_IFREG | 0600u);
}

TEST_F(VfsTest, DirectoriesAndDotDot) {
  ASSERT_THAT(vfs_->Mkdir(ctx_, "/a", 0755), Succeeds());
  ASSERT_THAT(vfs_->Mkdir(ctx_, "/a/b/", 0755), Succeeds());
  EXPECT_THAT(vfs_->Mkdir(ctx_, "/a", 0755), FailsWith(EEXIST));
  EXPECT_THAT(vfs_->Mkdir(ctx_, "/a/.", 0755), FailsWith(EEXIST));
  EXPECT_THAT(vfs_->Mkdir(ctx_, "/x/y", 0755), FailsWith(ENOENT));
  WriteFile("/a/b/f", "in b");
  EXPECT_EQ(ReadFile("/a/b/../b/./f"), "in b");
  EXPECT_EQ(ReadFile("/../../a/b/f"), "in b");  // ".." at the root stays there
  EXPECT_EQ(vfs_->Stat(*vfs_->Resolve(ctx_, "/a", 0))->nlink, 3u);
  EXPECT_THAT(vfs_->Rmdir(ctx_, "/a"), FailsWith(ENOTEMPTY));
  EXPECT_THAT(vfs_->Rmdir(ctx_, "/a/b/f"), FailsWith(ENOTDIR));
  EXPECT_THAT(vfs_->Rmdir(ctx_, "/a/."), FailsWith(EINVAL));
  EXPECT_THAT(vfs_->Rmdir(ctx_, "/a/.."), FailsWith(ENOTEMPTY));
  EXPECT_THAT(vfs_->Rmdir(ctx_, "/"), FailsWith(EBUSY));
  EXPECT_THAT(vfs_->Unlink(ctx_, "/a/b"), FailsWith(EISDIR));
  EXPECT_THAT(vfs_->Unlink(ctx_, "/a/b/f/"), FailsWith(ENOTDIR));
  ASSERT_THAT(vfs_->Unlink(ctx_, "/a/b/f"), Succeeds());
  ASSERT_THAT(vfs_->Rmdir(ctx_, "/a/b"), Succeeds());
  EXPECT_EQ(vfs_->Stat(*vfs_->Resolve(ctx_, "/a", 0))->nlink, 2u);
}

TEST_F(VfsTest, RemovedCwdRefusesNewEntries) {
  ASSERT_THAT(vfs_->Mkdir(ctx_, "/d", 0755), Succeeds());
  auto d = vfs_->Resolve(ctx_, "/d", 0);
  ASSERT_TRUE(d.ok());
  ASSERT_THAT(vfs_->Rmdir(ctx_, "/d"), Succeeds());
  PathContext in_d = ctx_;
  in_d.start = *d;
  EXPECT_THAT(vfs_->Open(in_d, "f", O_RDWR | O_CREAT, 0644), FailsWith(ENOENT));
  EXPECT_EQ(vfs_->PathOf(ctx_.root, *d), "/d (deleted)");
}

TEST_F(VfsTest, Symlinks) {
  WriteFile("/target", "t");
  ASSERT_THAT(vfs_->Symlink(ctx_, "target", "/link"), Succeeds());
  ASSERT_THAT(vfs_->Symlink(ctx_, "/", "/rootlink"), Succeeds());
  ASSERT_THAT(vfs_->Symlink(ctx_, "dangling", "/dl"), Succeeds());
  EXPECT_THAT(vfs_->Symlink(ctx_, "", "/empty"), FailsWith(ENOENT));
  EXPECT_EQ(ReadFile("/link"), "t");
  EXPECT_EQ(ReadFile("/rootlink/rootlink/target"), "t");
  EXPECT_EQ(*vfs_->Readlink(ctx_, "/link"), "target");
  EXPECT_THAT(vfs_->Readlink(ctx_, "/target"), FailsWith(EINVAL));
  EXPECT_THAT(vfs_->Open(ctx_, "/link", O_RDONLY | O_NOFOLLOW, 0), FailsWith(ELOOP));
  EXPECT_THAT(vfs_->Open(ctx_, "/link", O_PATH | O_NOFOLLOW, 0), Succeeds());
  EXPECT_THAT(vfs_->Open(ctx_, "/link/", O_RDONLY, 0), FailsWith(ENOTDIR));
  EXPECT_THAT(vfs_->Open(ctx_, "/dl", O_RDONLY, 0), FailsWith(ENOENT));
  // O_CREAT through a dangling link creates its target.
  ASSERT_THAT(vfs_->Open(ctx_, "/dl", O_WRONLY | O_CREAT, 0644), Succeeds());
  EXPECT_THAT(vfs_->Resolve(ctx_, "/dangling", 0), Succeeds());
  // A loop, and a chain longer than 40.
  ASSERT_THAT(vfs_->Symlink(ctx_, "loop", "/loop"), Succeeds());
  EXPECT_THAT(vfs_->Open(ctx_, "/loop", O_RDONLY, 0), FailsWith(ELOOP));
  for (int i = 0; i < 41; ++i) {
    std::string to = i == 0 ? "target" : "c" + std::to_string(i - 1);
    ASSERT_THAT(vfs_->Symlink(ctx_, to, "/c" + std::to_string(i)), Succeeds());
  }
  EXPECT_EQ(ReadFile("/c39"), "t");  // 40 links
  EXPECT_THAT(vfs_->Open(ctx_, "/c40", O_RDONLY, 0), FailsWith(ELOOP));
  EXPECT_THAT(vfs_->Resolve(ctx_, "/link", kFollow | kNoSymlinks), FailsWith(ELOOP));
}

TEST_F(VfsTest, ResolveBeneathAndInRoot) {
  ASSERT_THAT(vfs_->Mkdir(ctx_, "/jail", 0755), Succeeds());
  WriteFile("/jail/in", "in");
  WriteFile("/in", "outside");
  ASSERT_THAT(vfs_->Symlink(ctx_, "/in", "/jail/abs"), Succeeds());
  PathContext jail = ctx_;
  jail.start = *vfs_->Resolve(ctx_, "/jail", 0);
  EXPECT_THAT(vfs_->Resolve(jail, "in", kBeneath), Succeeds());
  EXPECT_THAT(vfs_->Resolve(jail, "../in", kBeneath), FailsWith(EXDEV));
  EXPECT_THAT(vfs_->Resolve(jail, "/in", kBeneath), FailsWith(EXDEV));
  EXPECT_THAT(vfs_->Resolve(jail, "abs", kFollow | kBeneath), FailsWith(EXDEV));
  // IN_ROOT: the start is "/", so the absolute link lands on the jail's "in".
  auto fd = vfs_->Open(jail, "abs", O_RDONLY, 0, kInRoot);
  ASSERT_TRUE(fd.ok());
  EXPECT_EQ((*fd)->Stat()->st_size, 2);
  auto up = vfs_->Open(jail, "../../in", O_RDONLY, 0, kInRoot);
  ASSERT_TRUE(up.ok());
  EXPECT_EQ((*up)->Stat()->st_size, 2);
}

TEST_F(VfsTest, HardLinks) {
  WriteFile("/a", "data");
  ASSERT_THAT(vfs_->Link(ctx_, "/a", false, ctx_, "/b"), Succeeds());
  EXPECT_EQ(vfs_->Stat(*vfs_->Resolve(ctx_, "/a", 0))->nlink, 2u);
  EXPECT_THAT(vfs_->Link(ctx_, "/a", false, ctx_, "/b"), FailsWith(EEXIST));
  EXPECT_THAT(vfs_->Link(ctx_, "/", false, ctx_, "/r"), FailsWith(EPERM));
  ASSERT_THAT(vfs_->Unlink(ctx_, "/a"), Succeeds());
  EXPECT_EQ(ReadFile("/b"), "data");
  EXPECT_EQ(vfs_->Stat(*vfs_->Resolve(ctx_, "/b", 0))->nlink, 1u);
}

TEST_F(VfsTest, Rename) {
  WriteFile("/a", "A");
  WriteFile("/b", "B");
  ASSERT_THAT(vfs_->Mkdir(ctx_, "/d", 0755), Succeeds());
  ASSERT_THAT(vfs_->Mkdir(ctx_, "/d/sub", 0755), Succeeds());
  EXPECT_THAT(vfs_->Rename(ctx_, "/a", ctx_, "/b", RENAME_NOREPLACE), FailsWith(EEXIST));
  ASSERT_THAT(vfs_->Rename(ctx_, "/a", ctx_, "/b", RENAME_EXCHANGE), Succeeds());
  EXPECT_EQ(ReadFile("/a"), "B");
  EXPECT_EQ(ReadFile("/b"), "A");
  ASSERT_THAT(vfs_->Rename(ctx_, "/a", ctx_, "/b", 0), Succeeds());
  EXPECT_EQ(ReadFile("/b"), "B");
  EXPECT_THAT(vfs_->Resolve(ctx_, "/a", 0), FailsWith(ENOENT));
  EXPECT_THAT(vfs_->Rename(ctx_, "/d", ctx_, "/d/sub/x", 0), FailsWith(EINVAL));
  EXPECT_THAT(vfs_->Rename(ctx_, "/d/sub", ctx_, "/d", 0), FailsWith(ENOTEMPTY));
  EXPECT_THAT(vfs_->Rename(ctx_, "/b", ctx_, "/d", 0), FailsWith(EISDIR));
  EXPECT_THAT(vfs_->Rename(ctx_, "/d", ctx_, "/b", 0), FailsWith(ENOTDIR));
  EXPECT_THAT(vfs_->Rename(ctx_, "/b/", ctx_, "/c", 0), FailsWith(ENOTDIR));
  EXPECT_THAT(vfs_->Rename(ctx_, "/missing", ctx_, "/c", 0), FailsWith(ENOENT));
  EXPECT_THAT(vfs_->Rename(ctx_, "/b", ctx_, "/c", RENAME_EXCHANGE), FailsWith(ENOENT));
  // Moving a directory moves its subtree and fixes the link counts.
  auto sub = vfs_->Resolve(ctx_, "/d/sub", 0);
  ASSERT_THAT(vfs_->Rename(ctx_, "/d/sub", ctx_, "/moved", 0), Succeeds());
  EXPECT_EQ(vfs_->PathOf(ctx_.root, *sub), "/moved");
  EXPECT_EQ(vfs_->Stat(*vfs_->Resolve(ctx_, "/d", 0))->nlink, 2u);
  EXPECT_EQ(vfs_->Stat(ctx_.root)->nlink, 4u);  // ".", "d", "moved"'s "..", and its own
  // Replacing an empty directory with a directory.
  ASSERT_THAT(vfs_->Mkdir(ctx_, "/e", 0755), Succeeds());
  ASSERT_THAT(vfs_->Rename(ctx_, "/moved", ctx_, "/e", 0), Succeeds());
  // A renamed entry moves to the end of the listing, as on Linux 6.6+.
  EXPECT_THAT(List("/"), ElementsAre(".", "..", "d", "b", "e"));
}

TEST_F(VfsTest, GetdentsCookiesSurviveRemoval) {
  for (const char* n : {"1", "2", "3", "4"}) WriteFile(std::string("/") + n, "");
  auto fd = vfs_->Open(ctx_, "/", O_RDONLY | O_DIRECTORY, 0);
  ASSERT_TRUE(fd.ok());
  std::vector<std::string> seen;
  // Take three entries, remove one not yet seen, and continue.
  int budget = 3;
  ASSERT_TRUE((*fd)
                  ->IterateDir([&](const DirEntry& e) {
                    if (budget-- == 0) return false;
                    seen.emplace_back(e.name);
                    return true;
                  })
                  .ok());
  ASSERT_THAT(vfs_->Unlink(ctx_, "/3"), Succeeds());
  ASSERT_TRUE((*fd)
                  ->IterateDir([&](const DirEntry& e) {
                    seen.emplace_back(e.name);
                    return true;
                  })
                  .ok());
  EXPECT_THAT(seen, ElementsAre(".", "..", "1", "2", "4"));
  ASSERT_TRUE((*fd)->Seek(0, SEEK_SET).ok());
  EXPECT_THAT(List("/"), ElementsAre(".", "..", "1", "2", "4"));
}

TEST_F(VfsTest, PermissionsForAnUnprivilegedUser) {
  ASSERT_THAT(vfs_->Mkdir(ctx_, "/ro", 0555), Succeeds());
  ASSERT_THAT(vfs_->Mkdir(ctx_, "/noexec", 0666), Succeeds());
  WriteFile("/secret", "s");
  ASSERT_THAT(vfs_->Chmod(root_, *vfs_->Resolve(ctx_, "/secret", 0), 0600), Succeeds());
  AccessCreds user;
  user.fsuid = 1000;
  user.fsgid = 1000;
  PathContext u = ctx_;
  u.creds = &user;
  EXPECT_THAT(vfs_->Open(u, "/ro/f", O_RDWR | O_CREAT, 0644), FailsWith(EACCES));
  EXPECT_THAT(vfs_->Open(u, "/secret", O_RDONLY, 0), FailsWith(EACCES));
  EXPECT_THAT(vfs_->Resolve(u, "/noexec/x", 0), FailsWith(EACCES));
  EXPECT_THAT(vfs_->Access(u, "/secret", kFollow, kMayRead), FailsWith(EACCES));
  EXPECT_THAT(vfs_->Access(u, "/secret", kFollow, 0), Succeeds());
  EXPECT_THAT(vfs_->Chmod(user, *vfs_->Resolve(ctx_, "/secret", 0), 0777), FailsWith(EPERM));
  EXPECT_THAT(vfs_->Chown(user, *vfs_->Resolve(ctx_, "/secret", 0), 1000, std::nullopt),
              FailsWith(EPERM));
  // The sticky root (01777): the user's own file is theirs to remove, root's is not.
  ASSERT_THAT(vfs_->Open(u, "/mine", O_RDWR | O_CREAT, 0644), Succeeds());
  EXPECT_EQ(vfs_->Stat(*vfs_->Resolve(ctx_, "/mine", 0))->uid, 1000u);
  EXPECT_THAT(vfs_->Unlink(u, "/secret"), FailsWith(EPERM));
  EXPECT_THAT(vfs_->Unlink(u, "/mine"), Succeeds());
  // Root's DAC override: a mode-0 file is readable and writable, not executable.
  ASSERT_THAT(vfs_->Chmod(root_, *vfs_->Resolve(ctx_, "/secret", 0), 0), Succeeds());
  EXPECT_THAT(vfs_->Access(ctx_, "/secret", kFollow, kMayRead | kMayWrite), Succeeds());
  EXPECT_THAT(vfs_->Access(ctx_, "/secret", kFollow, kMayExec), FailsWith(EACCES));
}

TEST_F(VfsTest, ChownDropsSetIdBits) {
  WriteFile("/f", "");
  auto vd = *vfs_->Resolve(ctx_, "/f", 0);
  ASSERT_THAT(vfs_->Chmod(root_, vd, 06755), Succeeds());
  ASSERT_THAT(vfs_->Chown(root_, vd, 5, 6), Succeeds());
  auto a = vfs_->Stat(vd);
  EXPECT_EQ(a->mode, S_IFREG | 0755u);
  EXPECT_EQ(a->uid, 5u);
  EXPECT_EQ(a->gid, 6u);
}

TEST_F(VfsTest, MountsAndDotDotAcrossThem) {
  ASSERT_THAT(vfs_->Mkdir(ctx_, "/mnt", 0755), Succeeds());
  WriteFile("/mnt/hidden", "under");
  auto m = vfs_->MountAtPath("/mnt", TmpfsFilesystem::Create(*mf_), false);
  ASSERT_TRUE(m.ok());
  EXPECT_THAT(vfs_->Resolve(ctx_, "/mnt/hidden", 0), FailsWith(ENOENT));
  WriteFile("/mnt/top", "top");
  EXPECT_EQ(ReadFile("/mnt/../mnt/top"), "top");
  auto top = vfs_->Resolve(ctx_, "/mnt/top", 0);
  EXPECT_EQ(vfs_->PathOf(ctx_.root, *top), "/mnt/top");
  EXPECT_NE(vfs_->Stat(*top)->ino, 0u);
  EXPECT_THAT(vfs_->Rmdir(ctx_, "/mnt"), FailsWith(EBUSY));
  EXPECT_THAT(vfs_->Link(ctx_, "/mnt/top", false, ctx_, "/x"), FailsWith(EXDEV));
  EXPECT_THAT(vfs_->Rename(ctx_, "/mnt/top", ctx_, "/x", 0), FailsWith(EXDEV));
  EXPECT_THAT(vfs_->Resolve(ctx_, "/mnt/top", kNoXdev), FailsWith(EXDEV));
  // A root below the namespace's: ".." stops at it, paths outside are unreachable.
  PathContext chroot = ctx_;
  chroot.root = chroot.start = *vfs_->Resolve(ctx_, "/mnt", 0);
  EXPECT_EQ(vfs_->PathOf(chroot.root, *vfs_->Resolve(chroot, "../../top", 0)), "/top");
  EXPECT_EQ(vfs_->PathOf(chroot.root, ctx_.root), "(unreachable)/");
}

TEST_F(VfsTest, TmpfsSizeLimitIsEnospc) {
  TmpfsOptions opts;
  opts.size_limit = 4 * 4096;
  ASSERT_THAT(vfs_->Mkdir(ctx_, "/small", 0755), Succeeds());
  ASSERT_TRUE(vfs_->MountAtPath("/small", TmpfsFilesystem::Create(*mf_, opts), false).ok());
  auto fd = vfs_->Open(ctx_, "/small/f", O_RDWR | O_CREAT, 0644);
  ASSERT_TRUE(fd.ok());
  std::string data(6 * 4096, 'x');
  iovec v{data.data(), data.size()};
  auto n = (*fd)->Writev(nullptr, {&v, 1}, -1);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 4u * 4096);  // a short write up to the limit
  EXPECT_THAT((*fd)->Writev(nullptr, {&v, 1}, -1), FailsWith(ENOSPC));
  // Truncating gives the pages back.
  ASSERT_THAT(vfs_->Truncate(&root_, *vfs_->Resolve(ctx_, "/small/f", 0), 0), Succeeds());
  EXPECT_THAT((*fd)->Writev(nullptr, {&v, 1}, 0), Succeeds());
}

TEST_F(VfsTest, HolesAndSeekDataHole) {
  auto fd = vfs_->Open(ctx_, "/sparse", O_RDWR | O_CREAT, 0644);
  ASSERT_TRUE(fd.ok());
  char x = 'x';
  iovec v{&x, 1};
  ASSERT_TRUE((*fd)->Writev(nullptr, {&v, 1}, 3 * 4096 + 10).ok());
  EXPECT_EQ((*fd)->Stat()->st_size, 3 * 4096 + 11);
  EXPECT_EQ((*fd)->Stat()->st_blocks, 8);
  EXPECT_EQ(*(*fd)->Seek(0, SEEK_DATA), 3 * 4096);
  EXPECT_EQ(*(*fd)->Seek(0, SEEK_HOLE), 0);
  EXPECT_EQ(*(*fd)->Seek(3 * 4096, SEEK_HOLE), 3 * 4096 + 11);
  EXPECT_THAT((*fd)->Seek(3 * 4096 + 11, SEEK_DATA), FailsWith(ENXIO));
  EXPECT_THAT((*fd)->Seek(-1, SEEK_SET), FailsWith(EINVAL));
  // A hole reads as zeros.
  char buf[4] = {1, 1, 1, 1};
  iovec r{buf, 4};
  ASSERT_EQ(*(*fd)->Readv(nullptr, {&r, 1}, 100), 4u);
  EXPECT_EQ(std::string(buf, 4), std::string(4, '\0'));
  // Shrinking zeroes the tail of the last page.
  ASSERT_THAT(vfs_->Truncate(nullptr, (*fd)->location(), 3 * 4096 + 5), Succeeds());
  ASSERT_THAT(vfs_->Truncate(nullptr, (*fd)->location(), 3 * 4096 + 11), Succeeds());
  ASSERT_EQ(*(*fd)->Readv(nullptr, {&v, 1}, 3 * 4096 + 10), 1u);
  EXPECT_EQ(x, '\0');
}

TEST_F(VfsTest, UnusedDentriesAreEvictedInUseOnesStay) {
  ASSERT_THAT(vfs_->Mkdir(ctx_, "/d", 0755), Succeeds());
  ASSERT_THAT(vfs_->Mkdir(ctx_, "/d/keep", 0755), Succeeds());
  // An open file and a working directory hold their dentries.
  WriteFile("/d/held", "held");
  auto held = vfs_->Open(ctx_, "/d/held", O_RDONLY, 0);
  ASSERT_TRUE(held.ok());
  PathContext in_keep = ctx_;
  in_keep.start = *vfs_->Resolve(ctx_, "/d/keep", 0);
  // Many more names than the cache keeps.
  const int n = static_cast<int>(kMaxCachedDentries) * 2;
  for (int i = 0; i < n; ++i) WriteFile("/d/f" + std::to_string(i), std::to_string(i));
  // Every name still resolves (evicted ones are looked up again).
  for (int i = 0; i < n; i += 97)
    EXPECT_EQ(ReadFile("/d/f" + std::to_string(i)), std::to_string(i));
  EXPECT_EQ(vfs_->PathOf(ctx_.root, (*held)->location()), "/d/held");
  EXPECT_EQ(vfs_->PathOf(ctx_.root, in_keep.start), "/d/keep");
  WriteFile("/d/keep/x", "x");
  EXPECT_EQ(ReadFile("/d/keep/x"), "x");
  ASSERT_THAT(vfs_->Unlink(ctx_, "/d/f0"), Succeeds());
  EXPECT_THAT(vfs_->Resolve(ctx_, "/d/f0", 0), FailsWith(ENOENT));
}

}  // namespace
}  // namespace sentry::vfs
