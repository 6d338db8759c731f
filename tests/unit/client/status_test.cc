#include "client/status.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace pvm::client {
namespace {

struct CodeCase {
  grpc::StatusCode grpc_code;
  absl::StatusCode absl_code;
  std::string name;  // what pvmctl prints
};

TEST(FromGrpcStatus, TranslatesEveryCodeOneToOneAndKeepsTheMessage) {
  const std::vector<CodeCase> cases = {
      {grpc::StatusCode::CANCELLED, absl::StatusCode::kCancelled, "CANCELLED"},
      {grpc::StatusCode::UNKNOWN, absl::StatusCode::kUnknown, "UNKNOWN"},
      {grpc::StatusCode::INVALID_ARGUMENT, absl::StatusCode::kInvalidArgument, "INVALID_ARGUMENT"},
      {grpc::StatusCode::DEADLINE_EXCEEDED, absl::StatusCode::kDeadlineExceeded,
       "DEADLINE_EXCEEDED"},
      {grpc::StatusCode::NOT_FOUND, absl::StatusCode::kNotFound, "NOT_FOUND"},
      {grpc::StatusCode::ALREADY_EXISTS, absl::StatusCode::kAlreadyExists, "ALREADY_EXISTS"},
      {grpc::StatusCode::PERMISSION_DENIED, absl::StatusCode::kPermissionDenied,
       "PERMISSION_DENIED"},
      {grpc::StatusCode::RESOURCE_EXHAUSTED, absl::StatusCode::kResourceExhausted,
       "RESOURCE_EXHAUSTED"},
      {grpc::StatusCode::FAILED_PRECONDITION, absl::StatusCode::kFailedPrecondition,
       "FAILED_PRECONDITION"},
      {grpc::StatusCode::ABORTED, absl::StatusCode::kAborted, "ABORTED"},
      {grpc::StatusCode::OUT_OF_RANGE, absl::StatusCode::kOutOfRange, "OUT_OF_RANGE"},
      {grpc::StatusCode::UNIMPLEMENTED, absl::StatusCode::kUnimplemented, "UNIMPLEMENTED"},
      {grpc::StatusCode::INTERNAL, absl::StatusCode::kInternal, "INTERNAL"},
      {grpc::StatusCode::UNAVAILABLE, absl::StatusCode::kUnavailable, "UNAVAILABLE"},
      {grpc::StatusCode::DATA_LOSS, absl::StatusCode::kDataLoss, "DATA_LOSS"},
      {grpc::StatusCode::UNAUTHENTICATED, absl::StatusCode::kUnauthenticated, "UNAUTHENTICATED"},
  };
  // Every code but OK, so a code added to one enum and not the table shows up here.
  ASSERT_EQ(cases.size(), 16u);
  for (const CodeCase& c : cases) {
    const std::string message = "the server says " + c.name;
    const absl::Status status = FromGrpcStatus(grpc::Status(c.grpc_code, message));
    EXPECT_EQ(status.code(), c.absl_code) << c.name;
    EXPECT_EQ(absl::StatusCodeToString(status.code()), c.name);
    EXPECT_EQ(status.message(), message) << c.name;
  }
}

TEST(FromGrpcStatus, OkIsOk) { EXPECT_TRUE(FromGrpcStatus(grpc::Status::OK).ok()); }

TEST(FromGrpcStatus, CodeOutsideTheKnownRangeBecomesUnknownWithItsMessage) {
  // 20: no enumerator, but inside the enum's value range (0..31), so not UB to hold.
  const absl::Status status =
      FromGrpcStatus(grpc::Status(static_cast<grpc::StatusCode>(20), "from the future"));
  EXPECT_EQ(status.code(), absl::StatusCode::kUnknown);
  EXPECT_EQ(status.message(), "from the future");
}

}  // namespace
}  // namespace pvm::client
