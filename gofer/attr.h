// struct stat as the protocol carries it (proto::Attr), and back.
#ifndef GOFER_ATTR_H_
#define GOFER_ATTR_H_

#include <sys/stat.h>

#include "gofer/proto/gofer.pb.h"

namespace gofer {

inline void StatToAttr(const struct stat& st, proto::Attr* a) {
  a->set_dev(st.st_dev);
  a->set_ino(st.st_ino);
  a->set_nlink(st.st_nlink);
  a->set_mode(st.st_mode);
  a->set_uid(st.st_uid);
  a->set_gid(st.st_gid);
  a->set_rdev(st.st_rdev);
  a->set_size(st.st_size);
  a->set_blksize(st.st_blksize);
  a->set_blocks(st.st_blocks);
  a->set_atime_sec(st.st_atim.tv_sec);
  a->set_atime_nsec(st.st_atim.tv_nsec);
  a->set_mtime_sec(st.st_mtim.tv_sec);
  a->set_mtime_nsec(st.st_mtim.tv_nsec);
  a->set_ctime_sec(st.st_ctim.tv_sec);
  a->set_ctime_nsec(st.st_ctim.tv_nsec);
}

inline struct stat AttrToStat(const proto::Attr& a) {
  struct stat st = {};
  st.st_dev = a.dev();
  st.st_ino = a.ino();
  st.st_nlink = a.nlink();
  st.st_mode = a.mode();
  st.st_uid = a.uid();
  st.st_gid = a.gid();
  st.st_rdev = a.rdev();
  st.st_size = a.size();
  st.st_blksize = a.blksize();
  st.st_blocks = a.blocks();
  st.st_atim = {a.atime_sec(), a.atime_nsec()};
  st.st_mtim = {a.mtime_sec(), a.mtime_nsec()};
  st.st_ctim = {a.ctime_sec(), a.ctime_nsec()};
  return st;
}

}  // namespace gofer

#endif  // GOFER_ATTR_H_
