// gMock matchers for the return value of a system call, read together with the
// errno that call left behind:
//
//   EXPECT_THAT(close(fd), SyscallSucceeds());
//   EXPECT_THAT(read(fd, buf, 4), SyscallSucceedsWithValue(4));
//   EXPECT_THAT(read(fd, buf, 4), SyscallSucceedsWithValue(testing::Le(4)));
//   EXPECT_THAT(syscall(SYS_mmap, ...), SyscallFailsWithErrno(EINVAL));
//   EXPECT_THAT(mmap(...), SyscallFailsWithErrno(ENOMEM));   // MAP_FAILED
//
// A call fails when it returns -1 (MAP_FAILED for pointers), whatever errno
// says; any other value is a success. Do not use these matchers for calls whose
// -1 is a legitimate result (glibc's getpriority).
//
// NOTE: when errno is read. The value of the call is computed first; gMock then
// converts our matcher to a Matcher<T>, and that conversion is the first thing
// it does (gmock-matchers.h, PredicateFormatterFromMatcher::operator()), before
// it allocates or formats anything. Our conversion operators read errno as
// their very first statement and keep that snapshot for the match and for the
// failure message, which gMock computes by matching a second time after it has
// built a stringstream (which may well change errno). So
// `EXPECT_THAT(call(...), SyscallFailsWithErrno(E))` sees the errno of
// `call(...)`. The snapshot is only right when the matcher is converted right
// after the call: write these matchers inline in EXPECT_THAT/ASSERT_THAT, do
// not store them in a Matcher<T> variable. Inside AnyOf/AllOf only the first
// one is converted before gMock allocates; glibc's malloc leaves errno alone
// when it succeeds, but keep combinations to values (SyscallSucceedsWithValue(
// AnyOf(...))) or errnos (SyscallFailsWithErrno(AnyOf(...))) where you can.
#ifndef SYSCALLS_TESTS_UTIL_SYSCALL_MATCHERS_H_
#define SYSCALLS_TESTS_UTIL_SYSCALL_MATCHERS_H_

#include <cerrno>
#include <ostream>
#include <string>
#include <type_traits>
#include <utility>

#include "gmock/gmock.h"

namespace syscalls_test {

// "EINVAL (Invalid argument)"; "errno 4242" for numbers glibc does not know.
std::string ErrnoName(int e);

namespace internal {

template <typename V>
bool IsFailureValue(const V& rv) {
  if constexpr (std::is_pointer_v<V>) {
    return rv == reinterpret_cast<V>(-1);
  } else {
    return rv == static_cast<V>(-1);
  }
}

// Matches an errno value; prints it by name.
class ErrnoIsMatcher : public ::testing::MatcherInterface<int> {
 public:
  explicit ErrnoIsMatcher(int expected) : expected_(expected) {}
  bool MatchAndExplain(int actual, ::testing::MatchResultListener*) const override {
    return actual == expected_;
  }
  void DescribeTo(std::ostream* os) const override { *os << ErrnoName(expected_); }
  void DescribeNegationTo(std::ostream* os) const override {
    *os << "not " << ErrnoName(expected_);
  }

 private:
  const int expected_;
};

// SyscallSucceedsWithValue(m): not -1, and the value matches m (a value or a
// matcher).
template <typename M>
class SyscallSuccessMatcher {
 public:
  // `describe_value` is false for SyscallSucceeds(), whose value matcher is _.
  SyscallSuccessMatcher(M value_matcher, bool describe_value)
      : value_matcher_(std::move(value_matcher)), describe_value_(describe_value) {}

  template <typename T>
  operator ::testing::Matcher<T>() const {  // NOLINT: implicit by design (gMock)
    const int saved_errno = errno;          // first: see the NOTE above
    using V = std::remove_cvref_t<T>;
    return ::testing::MakeMatcher(new Impl<T>(
        saved_errno, ::testing::SafeMatcherCast<const V&>(value_matcher_), describe_value_));
  }

 private:
  template <typename T>
  class Impl : public ::testing::MatcherInterface<T> {
   public:
    using V = std::remove_cvref_t<T>;
    Impl(int saved_errno, ::testing::Matcher<const V&> value_matcher, bool describe_value)
        : saved_errno_(saved_errno),
          value_matcher_(std::move(value_matcher)),
          describe_value_(describe_value) {}

    bool MatchAndExplain(T rv, ::testing::MatchResultListener* listener) const override {
      if (IsFailureValue<V>(rv)) {
        *listener << "which is a failure, with errno " << ErrnoName(saved_errno_);
        return false;
      }
      return value_matcher_.MatchAndExplain(rv, listener);
    }
    void DescribeTo(std::ostream* os) const override {
      *os << "succeeds (not -1)";
      if (!describe_value_) return;
      *os << " with a value that ";
      value_matcher_.DescribeTo(os);
    }
    void DescribeNegationTo(std::ostream* os) const override {
      *os << "fails (-1)";
      if (!describe_value_) return;
      *os << ", or has a value that ";
      value_matcher_.DescribeNegationTo(os);
    }

   private:
    const int saved_errno_;
    const ::testing::Matcher<const V&> value_matcher_;
    const bool describe_value_;
  };

  const M value_matcher_;
  const bool describe_value_;
};

// SyscallFailsWithErrno(m): -1, and the errno of the call matches m.
class SyscallFailureMatcher {
 public:
  explicit SyscallFailureMatcher(::testing::Matcher<int> errno_matcher)
      : errno_matcher_(std::move(errno_matcher)) {}

  template <typename T>
  operator ::testing::Matcher<T>() const {  // NOLINT: implicit by design (gMock)
    const int saved_errno = errno;          // first: see the NOTE above
    return ::testing::MakeMatcher(new Impl<T>(saved_errno, errno_matcher_));
  }

 private:
  template <typename T>
  class Impl : public ::testing::MatcherInterface<T> {
   public:
    using V = std::remove_cvref_t<T>;
    Impl(int saved_errno, ::testing::Matcher<int> errno_matcher)
        : saved_errno_(saved_errno), errno_matcher_(std::move(errno_matcher)) {}

    bool MatchAndExplain(T rv, ::testing::MatchResultListener* listener) const override {
      if (!IsFailureValue<V>(rv)) {
        *listener << "which is a success";
        return false;
      }
      *listener << "which is a failure, with errno " << ErrnoName(saved_errno_);
      return errno_matcher_.Matches(saved_errno_);
    }
    void DescribeTo(std::ostream* os) const override {
      *os << "fails (-1) with errno ";
      errno_matcher_.DescribeTo(os);
    }
    void DescribeNegationTo(std::ostream* os) const override {
      *os << "succeeds, or fails with errno ";
      errno_matcher_.DescribeNegationTo(os);
    }

   private:
    const int saved_errno_;
    const ::testing::Matcher<int> errno_matcher_;
  };

  const ::testing::Matcher<int> errno_matcher_;
};

}  // namespace internal

// Matches an errno value, printed by name: SyscallFailsWithErrno(AnyOf(
// ErrnoIs(EINVAL), ErrnoIs(ENOMEM))).
inline ::testing::Matcher<int> ErrnoIs(int e) {
  return ::testing::MakeMatcher(new internal::ErrnoIsMatcher(e));
}

template <typename M>
internal::SyscallSuccessMatcher<M> SyscallSucceedsWithValue(M value_matcher) {
  return internal::SyscallSuccessMatcher<M>(std::move(value_matcher), /*describe_value=*/true);
}

inline auto SyscallSucceeds() {
  return internal::SyscallSuccessMatcher<decltype(::testing::_)>(::testing::_,
                                                                 /*describe_value=*/false);
}

inline internal::SyscallFailureMatcher SyscallFailsWithErrno(::testing::Matcher<int> m) {
  return internal::SyscallFailureMatcher(std::move(m));
}

inline internal::SyscallFailureMatcher SyscallFailsWithErrno(int e) {
  return SyscallFailsWithErrno(ErrnoIs(e));
}

// Fails with any errno.
inline internal::SyscallFailureMatcher SyscallFails() {
  return SyscallFailsWithErrno(::testing::_);
}

}  // namespace syscalls_test

#endif  // SYSCALLS_TESTS_UTIL_SYSCALL_MATCHERS_H_
