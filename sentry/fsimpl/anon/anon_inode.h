// anon_inodefs: the one inode behind eventfd, epoll, timerfd, signalfd, ...
// descriptions (Linux's anon_inode_getfile): fstat shows it (mode 0600 with
// no file type, as Linux), /proc/<pid>/fd links read "anon_inode:[kind]".
#ifndef SENTRY_FSIMPL_ANON_ANON_INODE_H_
#define SENTRY_FSIMPL_ANON_ANON_INODE_H_

#include <sys/stat.h>

#include <string>
#include <string_view>

namespace sentry::fsimpl::anon {

// What fstat says of every anonymous-inode description.
struct stat AnonInodeStat();
// "anon_inode:[eventfd]" for kind "eventfd": Describe()'s text.
std::string AnonInodeName(std::string_view kind);

}  // namespace sentry::fsimpl::anon

#endif  // SENTRY_FSIMPL_ANON_ANON_INODE_H_
