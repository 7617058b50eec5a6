// Synthetic inodes through the VFS: generated files read in pieces, the
// write rules, directories with positions, symlinks, attributes.
#include "sentry/fsimpl/kernfs/kernfs.h"

#include <dirent.h>
#include <fcntl.h>

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sentry/vfs/vfs.h"

namespace sentry::fsimpl::kernfs {
namespace {

using ::testing::ElementsAre;

MATCHER_P(FailsWith, e, "") { return !arg.ok() && arg.error().value() == e; }

class TestFs : public SyntheticFilesystem {
 public:
  TestFs() : SyntheticFilesystem("testfs", 0x1234, 1024) {}
  using SyntheticFilesystem::set_root;
};

// A directory whose entries come and go, with positions 10, 20, 30...
class Dynamic : public Directory {
 public:
  using Directory::Directory;
  ErrnoOr<std::shared_ptr<vfs::Inode>> Lookup(std::string_view) override { return Errno(ENOENT); }
  ErrnoOr<std::vector<Entry>> List() override {
    std::vector<Entry> out;
    for (int i : present) out.push_back({"e" + std::to_string(i), 100u + i, DT_REG, 10 * i});
    return out;
  }
  std::vector<int> present = {1, 2, 3};
};

class KernfsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs_ = std::make_shared<TestFs>();
    auto root = std::make_shared<StaticDirectory>(*fs_, fs_->NextIno(), 0555, 1);
    root->Add("text", std::make_shared<GeneratedFile>(*fs_, fs_->NextIno(), 0444,
                                                      [this]() -> ErrnoOr<std::string> {
                                                        ++generated_;
                                                        return content_;
                                                      }));
    root->Add("rw", std::make_shared<GeneratedFile>(
                        *fs_, fs_->NextIno(), 0644, []() -> ErrnoOr<std::string> { return "x\n"; },
                        [this](std::string_view d, size_t total) -> ErrnoOr<size_t> {
                          written_ += d;
                          return total;
                        }));
    root->Add("sysctl", std::make_shared<GeneratedFile>(
                            *fs_, fs_->NextIno(), 0444,
                            []() -> ErrnoOr<std::string> { return "1\n"; }, nullptr, true));
    root->Add("failing", std::make_shared<GeneratedFile>(
                             *fs_, fs_->NextIno(), 0444,
                             []() -> ErrnoOr<std::string> { return Errno(ESRCH); }));
    root->Add("link",
              std::make_shared<Symlink>(*fs_, fs_->NextIno(),
                                        [this]() -> ErrnoOr<std::string> { return target_; }));
    dynamic_ = std::make_shared<Dynamic>(*fs_, fs_->NextIno(), 0555, root->ino());
    root->Add("dyn", dynamic_);
    root->Add("sub", std::make_shared<StaticDirectory>(*fs_, fs_->NextIno(), 0500, root->ino()));
    fs_->set_root(root);
    vfs_ = std::make_unique<vfs::VirtualFilesystem>(fs_);
    ctx_ = {vfs_->Root(), vfs_->Root(), &root_, 022};
  }

  std::shared_ptr<vfs::FileDescription> Open(const std::string& path, int flags = O_RDONLY) {
    auto fd = vfs_->Open(ctx_, path, flags, 0);
    EXPECT_TRUE(fd.ok()) << path;
    return fd.ok() ? *fd : nullptr;
  }
  static std::string Read(vfs::FileDescription& f, size_t n, int64_t off = -1) {
    std::string buf(n, '\0');
    iovec v{buf.data(), buf.size()};
    auto r = f.Readv(nullptr, {&v, 1}, off);
    if (!r.ok()) return "<" + std::string(ErrnoName(r.error().value())) + ">";
    buf.resize(*r);
    return buf;
  }
  std::vector<std::string> List(vfs::FileDescription& f) {
    std::vector<std::string> names;
    EXPECT_TRUE(f.IterateDir([&](const vfs::DirEntry& e) {
                   names.emplace_back(e.name);
                   return true;
                 }).ok());
    return names;
  }

  vfs::AccessCreds root_ = vfs::AccessCreds::Root();
  std::shared_ptr<TestFs> fs_;
  std::shared_ptr<Dynamic> dynamic_;
  std::unique_ptr<vfs::VirtualFilesystem> vfs_;
  vfs::PathContext ctx_;
  std::string content_ = "0123456789abcdefghij";
  std::string target_ = "text";
  std::string written_;
  int generated_ = 0;
};

TEST_F(KernfsTest, GeneratedFileIsASnapshotReadInPieces) {
  auto f = Open("/text");
  EXPECT_EQ(generated_, 1);
  content_ = "changed";
  std::string all;
  for (std::string piece; !(piece = Read(*f, 3)).empty();) all += piece;
  EXPECT_EQ(all, "0123456789abcdefghij");
  EXPECT_EQ(Read(*f, 3), "");  // at the end, and stays there
  // pread does not move the position.
  EXPECT_EQ(Read(*f, 4, 10), "abcd");
  EXPECT_EQ(Read(*f, 4, 18), "ij");
  EXPECT_EQ(Read(*f, 4, 20), "");
  EXPECT_EQ(Read(*f, 4, INT64_MAX), "");
  EXPECT_EQ(Read(*f, 0, 3), "");
  // A new open sees the new contents.
  EXPECT_EQ(Read(*Open("/text"), 100), "changed");
  EXPECT_EQ(generated_, 2);
}

TEST_F(KernfsTest, ReadIntoSeveralBuffers) {
  auto f = Open("/text");
  std::string a(4, '.'), b(30, '.');
  iovec v[2] = {{a.data(), a.size()}, {b.data(), b.size()}};
  EXPECT_EQ(*f->Readv(nullptr, v, 2), 18u);
  EXPECT_EQ(a, "2345");
  EXPECT_EQ(b.substr(0, 14), "6789abcdefghij");
  EXPECT_EQ(b.substr(14), std::string(16, '.'));
}

TEST_F(KernfsTest, SeekLikeSeqLseek) {
  auto f = Open("/text");
  EXPECT_EQ(*f->Seek(5, SEEK_SET), 5);
  EXPECT_EQ(Read(*f, 2), "56");
  EXPECT_EQ(*f->Seek(3, SEEK_CUR), 10);
  EXPECT_EQ(Read(*f, 1), "a");
  EXPECT_THAT(f->Seek(0, SEEK_END), FailsWith(EINVAL));
  EXPECT_THAT(f->Seek(-1, SEEK_SET), FailsWith(EINVAL));
  EXPECT_THAT(f->Seek(-100, SEEK_CUR), FailsWith(EINVAL));
  EXPECT_THAT(f->Seek(0, SEEK_DATA), FailsWith(EINVAL));
  // Beyond the end is allowed; reads there see nothing.
  EXPECT_EQ(*f->Seek(1000000, SEEK_SET), 1000000);
  EXPECT_EQ(Read(*f, 10), "");
  EXPECT_EQ(*f->Seek(INT64_MAX, SEEK_SET), INT64_MAX);
  EXPECT_THAT(f->Seek(1, SEEK_CUR), FailsWith(EINVAL));  // overflow
  EXPECT_EQ(Read(*f, 10), "");
  EXPECT_EQ(*f->Seek(0, SEEK_SET), 0);
  EXPECT_EQ(Read(*f, 3), "012");
}

TEST_F(KernfsTest, WriteRules) {
  // No writer: opening for writing works (root), writing is EINVAL.
  auto ro = Open("/text", O_WRONLY);
  EXPECT_EQ(generated_, 0);  // nothing to read: nothing generated
  std::string d = "abc";
  iovec v{d.data(), d.size()};
  EXPECT_THAT(ro->Writev(nullptr, {&v, 1}, -1), FailsWith(EINVAL));
  EXPECT_EQ(Read(*ro, 4), "<EBADF>");
  // A read-only sysctl refuses the open itself.
  EXPECT_THAT(vfs_->Open(ctx_, "/sysctl", O_WRONLY, 0), FailsWith(EACCES));
  EXPECT_THAT(vfs_->Open(ctx_, "/sysctl", O_RDWR, 0), FailsWith(EACCES));
  EXPECT_EQ(Read(*Open("/sysctl"), 10), "1\n");
  // O_TRUNC is accepted (nothing to cut), as Linux's proc_setattr.
  auto rw = Open("/rw", O_WRONLY | O_TRUNC);
  EXPECT_EQ(*rw->Writev(nullptr, {&v, 1}, -1), 3u);
  EXPECT_EQ(written_, "abc");
  auto r = Open("/text");
  EXPECT_THAT(r->Writev(nullptr, {&v, 1}, -1), FailsWith(EBADF));
  // A writer sees at most a page of what it is given, and the whole length.
  written_.clear();
  std::string big(1 << 20, 'y');
  iovec bv[2] = {{big.data(), big.size()}, {d.data(), d.size()}};
  EXPECT_EQ(*rw->Writev(nullptr, bv, -1), big.size() + 3);
  EXPECT_EQ(written_, std::string(4096, 'y'));
}

TEST_F(KernfsTest, GeneratorErrorsFailTheOpen) {
  EXPECT_THAT(vfs_->Open(ctx_, "/failing", O_RDONLY, 0), FailsWith(ESRCH));
}

TEST_F(KernfsTest, Attributes) {
  auto vd = vfs_->Resolve(ctx_, "/text", 0);
  ASSERT_TRUE(vd.ok());
  auto a = vfs_->Stat(*vd);
  EXPECT_EQ(a->mode, S_IFREG | 0444u);
  EXPECT_EQ(a->size, 0u);
  EXPECT_EQ(a->nlink, 1u);
  EXPECT_EQ(a->blksize, 1024u);
  EXPECT_THAT(vfs_->Chmod(root_, *vd, 0777), FailsWith(EPERM));
  EXPECT_THAT(vfs_->Chown(root_, *vd, 5, std::nullopt), FailsWith(EPERM));
  timespec t{1000, 5};
  EXPECT_TRUE(vfs_->Utimes(root_, *vd, t, t).ok());
  EXPECT_EQ(vfs_->Stat(*vd)->mtime.tv_sec, 1000);
  auto root = vfs_->Stat(vfs_->Root());
  EXPECT_EQ(root->mode, S_IFDIR | 0555u);
  EXPECT_EQ(root->nlink, 4u);  // ., .., dyn, sub
  auto st = Open("/text")->Stat();
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->st_dev, fs_->Dev());
  auto sfs = fs_->StatFS();
  EXPECT_EQ(sfs->f_type, 0x1234);
  EXPECT_EQ(sfs->f_namelen, 255);
}

TEST_F(KernfsTest, Symlinks) {
  EXPECT_EQ(*vfs_->Readlink(ctx_, "/link"), "text");
  EXPECT_EQ(Read(*Open("/link"), 5), "01234");
  target_ = "rw";
  EXPECT_EQ(*vfs_->Readlink(ctx_, "/link"), "rw");
  EXPECT_THAT(vfs_->Open(ctx_, "/link", O_RDONLY | O_NOFOLLOW, 0), FailsWith(ELOOP));
  auto vd = vfs_->Resolve(ctx_, "/link", 0);
  EXPECT_EQ(vfs_->Stat(*vd)->mode, S_IFLNK | 0777u);
}

TEST_F(KernfsTest, StaticDirectory) {
  auto d = Open("/", O_RDONLY | O_DIRECTORY);
  EXPECT_THAT(List(*d),
              ElementsAre(".", "..", "text", "rw", "sysctl", "failing", "link", "dyn", "sub"));
  EXPECT_THAT(List(*d), ElementsAre());  // at the end
  EXPECT_EQ(*d->Seek(0, SEEK_SET), 0);
  EXPECT_EQ(List(*d).size(), 9u);
  EXPECT_THAT(vfs_->Open(ctx_, "/nope", O_RDONLY, 0), FailsWith(ENOENT));
  EXPECT_THAT(vfs_->Mkdir(ctx_, "/new", 0755), FailsWith(EPERM));
  EXPECT_THAT(vfs_->Open(ctx_, "/new", O_RDWR | O_CREAT, 0644), FailsWith(EACCES));
  EXPECT_THAT(vfs_->Symlink(ctx_, "x", "/new"), FailsWith(EPERM));
  EXPECT_THAT(vfs_->Unlink(ctx_, "/text"), FailsWith(EPERM));
  EXPECT_THAT(vfs_->Rmdir(ctx_, "/sub"), FailsWith(EPERM));
  EXPECT_THAT(vfs_->Rename(ctx_, "/text", ctx_, "/text2", 0), FailsWith(EPERM));
  EXPECT_THAT(d->Seek(0, SEEK_END), FailsWith(EINVAL));
  std::string buf(4, '\0');
  iovec v{buf.data(), buf.size()};
  EXPECT_THAT(d->Readv(nullptr, {&v, 1}, -1), FailsWith(EISDIR));
  EXPECT_THAT(vfs_->Open(ctx_, "/", O_RDWR, 0), FailsWith(EISDIR));
}

TEST_F(KernfsTest, DynamicDirectoryPositionsSurviveChanges) {
  auto d = Open("/dyn", O_RDONLY | O_DIRECTORY);
  std::vector<std::string> names;
  int64_t next = 0;
  // Take ".", "..", "e1", then stop.
  ASSERT_TRUE(d->IterateDir([&](const vfs::DirEntry& e) {
                 if (names.size() == 3) return false;
                 names.emplace_back(e.name);
                 next = e.next;
                 return true;
               }).ok());
  EXPECT_THAT(names, ElementsAre(".", "..", "e1"));
  EXPECT_EQ(next, 11);
  // e1 and e2 go, e4 comes: the listing goes on with e3, e4.
  dynamic_->present = {3, 4};
  EXPECT_THAT(List(*d), ElementsAre("e3", "e4"));
}

}  // namespace
}  // namespace sentry::fsimpl::kernfs
