// The overlay over a "lower" tmpfs (standing in for the gofer's read-only host
// root) and an upper tmpfs, through the VFS.
#include "sentry/fsimpl/overlay/overlay.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/stat.h>
#include <sys/xattr.h>

#include <algorithm>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sentry/fsimpl/tmpfs/tmpfs.h"
#include "sentry/vfs/file_description.h"
#include "sentry/vfs/vfs.h"

namespace sentry::fsimpl::overlay {
namespace {

using ::testing::ElementsAre;
using vfs::PathContext;
using vfs::VirtualFilesystem;

MATCHER_P(FailsWith, e, "") { return !arg.ok() && arg.error().value() == e; }
MATCHER(Succeeds, "") { return arg.ok(); }

class OverlayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    mf_ = *memory::MemoryFile::Create(uint64_t{1} << 30);
    // The lower layer: populated through its own VFS, then frozen (we never
    // write it again, and check that nothing else does).
    lower_ = tmpfs::TmpfsFilesystem::Create(*mf_);
    lower_vfs_ = std::make_unique<VirtualFilesystem>(lower_);
    lctx_ = {lower_vfs_->Root(), lower_vfs_->Root(), &root_, 0};
    ASSERT_TRUE(lower_vfs_->Mkdir(lctx_, "/etc", 0755).ok());
    ASSERT_TRUE(lower_vfs_->Mkdir(lctx_, "/etc/sub", 0755).ok());
    ASSERT_TRUE(lower_vfs_->Mkdir(lctx_, "/empty", 0755).ok());
    Write(*lower_vfs_, lctx_, "/etc/passwd", "root:x:0:0\n");
    Write(*lower_vfs_, lctx_, "/etc/hosts", "127.0.0.1 localhost\n");
    Write(*lower_vfs_, lctx_, "/etc/sub/deep", "deep");
    ASSERT_TRUE(lower_vfs_->Symlink(lctx_, "passwd", "/etc/link").ok());

    upper_ = tmpfs::TmpfsFilesystem::Create(*mf_);
    vfs_ = std::make_unique<VirtualFilesystem>(OverlayFilesystem::Create(lower_, upper_));
    ctx_ = {vfs_->Root(), vfs_->Root(), &root_, 0};
  }

  static void Write(VirtualFilesystem& v, const PathContext& c, const std::string& path,
                    const std::string& data, int flags = O_WRONLY | O_CREAT | O_TRUNC) {
    auto fd = v.Open(c, path, flags, 0644);
    ASSERT_TRUE(fd.ok()) << path << ": " << ErrnoName(fd.error().value());
    iovec io{const_cast<char*>(data.data()), data.size()};
    ASSERT_TRUE((*fd)->Writev(nullptr, {&io, 1}, -1).ok());
  }
  static std::string Read(VirtualFilesystem& v, const PathContext& c, const std::string& path) {
    auto fd = v.Open(c, path, O_RDONLY, 0);
    if (!fd.ok()) return "<" + std::string(ErrnoName(fd.error().value())) + ">";
    std::string out(4096, '\0');
    iovec io{out.data(), out.size()};
    auto n = (*fd)->Readv(nullptr, {&io, 1}, -1);
    out.resize(n.ok() ? *n : 0);
    return out;
  }
  std::vector<std::string> List(const std::string& path) {
    std::vector<std::string> names;
    auto fd = vfs_->Open(ctx_, path, O_RDONLY | O_DIRECTORY, 0);
    if (!fd.ok()) return {"<error>"};
    EXPECT_TRUE((*fd)
                    ->IterateDir([&](const vfs::DirEntry& e) {
                      names.emplace_back(e.name);
                      return true;
                    })
                    .ok());
    std::sort(names.begin(), names.end());
    return names;
  }
  uint64_t Ino(const std::string& path) {
    auto vd = vfs_->Resolve(ctx_, path, 0);
    return vd.ok() ? vfs_->Stat(*vd)->ino : 0;
  }

  vfs::AccessCreds root_ = vfs::AccessCreds::Root();
  std::unique_ptr<memory::MemoryFile> mf_;
  std::shared_ptr<tmpfs::TmpfsFilesystem> lower_, upper_;
  std::unique_ptr<VirtualFilesystem> lower_vfs_, vfs_;
  PathContext lctx_, ctx_;
};

TEST_F(OverlayTest, ReadsComeFromBelow) {
  EXPECT_EQ(Read(*vfs_, ctx_, "/etc/passwd"), "root:x:0:0\n");
  EXPECT_EQ(Read(*vfs_, ctx_, "/etc/link"), "root:x:0:0\n");
  EXPECT_EQ(Read(*vfs_, ctx_, "/etc/sub/deep"), "deep");
  EXPECT_THAT(List("/etc"), ElementsAre(".", "..", "hosts", "link", "passwd", "sub"));
  EXPECT_EQ(upper_->pages_used(), 0u);
}

TEST_F(OverlayTest, WritesCopyUpAndNeverReachBelow) {
  const uint64_t ino = Ino("/etc/passwd");
  Write(*vfs_, ctx_, "/etc/passwd", "user:x:1000\n", O_WRONLY | O_APPEND);
  EXPECT_EQ(Read(*vfs_, ctx_, "/etc/passwd"), "root:x:0:0\nuser:x:1000\n");
  EXPECT_EQ(Read(*lower_vfs_, lctx_, "/etc/passwd"), "root:x:0:0\n");
  EXPECT_EQ(Ino("/etc/passwd"), ino);  // the copy keeps the inode number
  // fstat agrees with stat.
  auto fd = vfs_->Open(ctx_, "/etc/passwd", O_RDONLY, 0);
  ASSERT_TRUE(fd.ok());
  EXPECT_EQ((*fd)->Stat()->st_ino, ino);
  // Attributes copy up too.
  auto vd = *vfs_->Resolve(ctx_, "/etc/hosts", 0);
  ASSERT_THAT(vfs_->Chmod(root_, vd, 0600), Succeeds());
  EXPECT_EQ(vfs_->Stat(vd)->mode, S_IFREG | 0600u);
  auto lvd = *lower_vfs_->Resolve(lctx_, "/etc/hosts", 0);
  EXPECT_EQ(lower_vfs_->Stat(lvd)->mode, S_IFREG | 0644u);
  EXPECT_EQ(Read(*vfs_, ctx_, "/etc/hosts"), "127.0.0.1 localhost\n");
}

// Copy-up carries the lower file's xattrs; changes stay above.
TEST_F(OverlayTest, XattrsCopyUp) {
  auto lvd = *lower_vfs_->Resolve(lctx_, "/etc/passwd", 0);
  ASSERT_THAT(lower_vfs_->SetXattr(root_, lvd, "user.a", "A", 0), Succeeds());
  ASSERT_THAT(lower_vfs_->SetXattr(root_, lvd, "trusted.t", "T", 0), Succeeds());
  auto ldir = *lower_vfs_->Resolve(lctx_, "/etc/sub", 0);
  ASSERT_THAT(lower_vfs_->SetXattr(root_, ldir, "user.d", "D", 0), Succeeds());
  auto vd = *vfs_->Resolve(ctx_, "/etc/passwd", 0);
  EXPECT_EQ(*vfs_->GetXattr(root_, vd, "user.a"), "A");  // read from below
  ASSERT_THAT(vfs_->SetXattr(root_, vd, "user.b", "B", 0), Succeeds());
  EXPECT_EQ(*vfs_->GetXattr(root_, vd, "user.a"), "A");
  EXPECT_EQ(*vfs_->GetXattr(root_, vd, "trusted.t"), "T");
  EXPECT_EQ(*vfs_->GetXattr(root_, vd, "user.b"), "B");
  ASSERT_THAT(vfs_->RemoveXattr(root_, vd, "user.a"), Succeeds());
  EXPECT_THAT(vfs_->GetXattr(root_, vd, "user.a"), FailsWith(ENODATA));
  EXPECT_THAT(*vfs_->ListXattr(root_, vd), ::testing::UnorderedElementsAre("trusted.t", "user.b"));
  // Below, nothing changed.
  EXPECT_THAT(*lower_vfs_->ListXattr(root_, lvd),
              ::testing::UnorderedElementsAre("trusted.t", "user.a"));
  // A copy-up for another reason (a file written below a directory, chmod)
  // carries them too, directories included.
  Write(*vfs_, ctx_, "/etc/sub/deep", "x", O_WRONLY | O_APPEND);
  auto dir = *vfs_->Resolve(ctx_, "/etc/sub", 0);
  EXPECT_EQ(*vfs_->GetXattr(root_, dir, "user.d"), "D");
  ASSERT_THAT(vfs_->SetXattr(root_, dir, "user.d", "D2", XATTR_REPLACE), Succeeds());
  EXPECT_EQ(*lower_vfs_->GetXattr(root_, ldir, "user.d"), "D");
}

TEST_F(OverlayTest, NewFilesLiveAbove) {
  Write(*vfs_, ctx_, "/etc/sub/new", "n");
  ASSERT_THAT(vfs_->Mkdir(ctx_, "/newdir", 0755), Succeeds());
  Write(*vfs_, ctx_, "/newdir/f", "f");
  EXPECT_THAT(List("/etc/sub"), ElementsAre(".", "..", "deep", "new"));
  EXPECT_THAT(lower_vfs_->Resolve(lctx_, "/etc/sub/new", 0), FailsWith(ENOENT));
  EXPECT_THAT(lower_vfs_->Resolve(lctx_, "/newdir", 0), FailsWith(ENOENT));
}

TEST_F(OverlayTest, RemovingALowerNameLeavesAWhiteout) {
  ASSERT_THAT(vfs_->Unlink(ctx_, "/etc/hosts"), Succeeds());
  EXPECT_THAT(vfs_->Resolve(ctx_, "/etc/hosts", 0), FailsWith(ENOENT));
  EXPECT_THAT(List("/etc"), ElementsAre(".", "..", "link", "passwd", "sub"));
  EXPECT_EQ(Read(*lower_vfs_, lctx_, "/etc/hosts"), "127.0.0.1 localhost\n");
  // The name can be made again, above.
  Write(*vfs_, ctx_, "/etc/hosts", "new");
  EXPECT_EQ(Read(*vfs_, ctx_, "/etc/hosts"), "new");
  EXPECT_THAT(List("/etc"), ElementsAre(".", "..", "hosts", "link", "passwd", "sub"));
}

TEST_F(OverlayTest, RemovingADirectoryAndMakingItAgainHidesTheOldContents) {
  EXPECT_THAT(vfs_->Rmdir(ctx_, "/etc/sub"), FailsWith(ENOTEMPTY));
  ASSERT_THAT(vfs_->Unlink(ctx_, "/etc/sub/deep"), Succeeds());
  ASSERT_THAT(vfs_->Rmdir(ctx_, "/etc/sub"), Succeeds());
  EXPECT_THAT(vfs_->Resolve(ctx_, "/etc/sub", 0), FailsWith(ENOENT));
  ASSERT_THAT(vfs_->Mkdir(ctx_, "/etc/sub", 0700), Succeeds());
  EXPECT_THAT(List("/etc/sub"), ElementsAre(".", ".."));
  EXPECT_EQ(Read(*lower_vfs_, lctx_, "/etc/sub/deep"), "deep");
  // An empty lower directory goes at once.
  ASSERT_THAT(vfs_->Rmdir(ctx_, "/empty"), Succeeds());
  EXPECT_THAT(List("/"), ElementsAre(".", "..", "etc"));
}

TEST_F(OverlayTest, RenamesCopyUpFilesAndRefuseLowerDirectories) {
  ASSERT_THAT(vfs_->Rename(ctx_, "/etc/passwd", ctx_, "/passwd2", 0), Succeeds());
  EXPECT_EQ(Read(*vfs_, ctx_, "/passwd2"), "root:x:0:0\n");
  EXPECT_THAT(vfs_->Resolve(ctx_, "/etc/passwd", 0), FailsWith(ENOENT));
  EXPECT_EQ(Read(*lower_vfs_, lctx_, "/etc/passwd"), "root:x:0:0\n");
  // The symlink's target is gone now.
  EXPECT_THAT(vfs_->Open(ctx_, "/etc/link", O_RDONLY, 0), FailsWith(ENOENT));
  // A directory with lower contents: EXDEV, as Linux without redirect_dir.
  EXPECT_THAT(vfs_->Rename(ctx_, "/etc/sub", ctx_, "/sub2", 0), FailsWith(EXDEV));
  // One made above moves freely; renaming over a whiteout works.
  ASSERT_THAT(vfs_->Mkdir(ctx_, "/mine", 0755), Succeeds());
  ASSERT_THAT(vfs_->Rename(ctx_, "/mine", ctx_, "/etc/passwd", 0), Succeeds());
  EXPECT_THAT(List("/etc/passwd"), ElementsAre(".", ".."));
  // Replacing a lower file by an upper one.
  Write(*vfs_, ctx_, "/x", "x");
  ASSERT_THAT(vfs_->Rename(ctx_, "/x", ctx_, "/etc/hosts", 0), Succeeds());
  EXPECT_EQ(Read(*vfs_, ctx_, "/etc/hosts"), "x");
  EXPECT_EQ(Read(*lower_vfs_, lctx_, "/etc/hosts"), "127.0.0.1 localhost\n");
}

TEST_F(OverlayTest, HardLinksCopyUp) {
  ASSERT_THAT(vfs_->Link(ctx_, "/etc/hosts", false, ctx_, "/hosts2"), Succeeds());
  EXPECT_EQ(Read(*vfs_, ctx_, "/hosts2"), "127.0.0.1 localhost\n");
  Write(*vfs_, ctx_, "/hosts2", "changed");
  EXPECT_EQ(Read(*vfs_, ctx_, "/etc/hosts"), "changed");
}

TEST_F(OverlayTest, MappingsOfCopiedUpFiles) {
  auto fd = vfs_->Open(ctx_, "/etc/passwd", O_RDWR, 0);
  ASSERT_TRUE(fd.ok());
  EXPECT_NE((*fd)->Mappable(), nullptr);
}

TEST_F(OverlayTest, StatfsIsOverlay) {
  auto s = vfs_->Root().inode().fs().StatFS();
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->f_type, 0x794c7630);
}

}  // namespace
}  // namespace sentry::fsimpl::overlay

namespace sentry::fsimpl::overlay {
namespace {
TEST_F(OverlayTest, TmpfileThenLink) {
  ASSERT_TRUE(vfs_->Mkdir(ctx_, "/t", 0755).ok());
  auto fd = vfs_->Open(ctx_, "/t", O_TMPFILE | O_RDWR, 0600);
  ASSERT_TRUE(fd.ok()) << ErrnoName(fd.error().value());
  PathContext from = ctx_;
  from.start = (*fd)->location();
  auto r = vfs_->Link(from, "", false, ctx_, "/t/named", true);
  EXPECT_TRUE(r.ok()) << ErrnoName(r.error().value());
}
}  // namespace
}  // namespace sentry::fsimpl::overlay
