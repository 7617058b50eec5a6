#include "sentry/net/unix/endpoint.h"

#include "gtest/gtest.h"

namespace sentry::net::afunix {
namespace {

TEST(TruesizeTest, MatchesLinux) {
  EXPECT_EQ(DgramTruesize(1), 768u);
  EXPECT_EQ(DgramTruesize(1000), 2304u);
  EXPECT_EQ(StreamChunkTruesize(1), 768u);
  EXPECT_EQ(StreamChunkTruesize(kMaxStreamChunk), 37120u);
}

}  // namespace
}  // namespace sentry::net::afunix
