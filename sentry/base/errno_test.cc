#include "sentry/base/errno.h"

#include "gtest/gtest.h"
#include "sentry/base/status_macros.h"

namespace sentry {
namespace {

ErrnoOr<int> Half(int x) {
  if (x % 2 != 0) return Errno(EINVAL);
  return x / 2;
}

ErrnoOr<int> Quarter(int x) {
  ASSIGN_OR_RETURN(int h, Half(x));
  ASSIGN_OR_RETURN(int q, Half(h));
  return q;
}

ErrnoOrOk CheckEven(int x) {
  RETURN_IF_ERROR(Half(x));
  return Ok();
}

absl::StatusOr<int> StatusQuarter(int x) {
  RETURN_IF_ERROR(x >= 0 ? absl::OkStatus() : absl::InvalidArgumentError("negative"));
  return x / 4;
}

TEST(ErrnoTest, NamesAndDescriptions) {
  EXPECT_EQ(ErrnoName(ENOENT), "ENOENT");
  EXPECT_EQ(ErrnoName(EAGAIN), "EAGAIN");
  EXPECT_EQ(ErrnoName(kERESTARTSYS), "ERESTARTSYS");
  EXPECT_EQ(ErrnoDescription(ENOENT), "No such file or directory");
  EXPECT_EQ(Errno(EFAULT).AsSyscallReturn(), -14);
}

TEST(ErrnoTest, MacrosPropagate) {
  EXPECT_EQ(*Quarter(8), 2);
  EXPECT_EQ(Quarter(6).error(), Errno(EINVAL));
  EXPECT_TRUE(CheckEven(4).ok());
  EXPECT_EQ(CheckEven(3).error(), Errno(EINVAL));
  EXPECT_EQ(*StatusQuarter(8), 2);
  EXPECT_FALSE(StatusQuarter(-1).ok());
}

TEST(ErrnoTest, StatusConversionNamesTheOperation) {
  absl::Status s = HostError("open \"/x\"", ENOENT);
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_NE(s.message().find("open \"/x\""), std::string::npos);
  EXPECT_NE(s.message().find("ENOENT"), std::string::npos);
}

}  // namespace
}  // namespace sentry
