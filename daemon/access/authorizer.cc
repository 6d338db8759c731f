#include "daemon/access/authorizer.h"

#include <grpc/grpc_security_constants.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "daemon/log.h"

namespace pvm::access {
namespace {

// How many TCP peers the first-call log remembers; beyond it, it forgets them all
// and logs each peer once more. A bound on memory, not a promise.
constexpr size_t kRememberedTcpPeers = 1024;

std::string AuthProperty(const grpc::AuthContext& auth, const char* name) {
  std::vector<grpc::string_ref> values = auth.FindPropertyValues(name);
  return absl::StrJoin(values, ",", [](std::string* out, const grpc::string_ref& value) {
    out->append(value.data(), value.size());
  });
}

// 127.0.0.0/8 and ::1 as gRPC spells a TCP peer: "ipv4:127.0.0.1:5000",
// "ipv6:[::1]:5000", "ipv6:[::ffff:127.0.0.1]:5000".
bool IsLoopbackPeer(absl::string_view peer) {
  return absl::StartsWith(peer, "ipv4:127.") || absl::StartsWith(peer, "ipv6:[::1]:") ||
         absl::StartsWith(peer, "ipv6:[::ffff:127.");
}

}  // namespace

absl::Status Authorizer::Decide(const grpc::ServerContextBase& context, absl::string_view service,
                                absl::string_view method, bool read_only) const {
  // Not something the client says: gRPC names the connection itself ("fd:N" for one
  // the acceptor handed over, "ipv4:..." for one its TCP listener accepted).
  const std::string peer = context.peer();
  const std::optional<int> fd = FdOfPeer(peer);
  if (!fd) return DecideTcp(context, peer, service, method);

  const std::optional<PeerCredentials> credentials = peers_.Find(*fd);
  if (!credentials) {
    // Every unix connection is recorded before gRPC sees it: this is a bug, and the
    // safe answer is no.
    const absl::Status refused = absl::PermissionDeniedError(
        absl::StrCat("pvmd has no credentials for this connection (", peer, ")"));
    LogDaemon(LogPriority::kWarning, "refused ", service, "/", method, " on ", peer, ": ",
              refused.message());
    return refused;
  }
  absl::Status status = Authorize(policy_, *credentials, method, read_only);
  if (!status.ok()) {
    LogDaemon(LogPriority::kWarning, "refused ", service, "/", method, " to uid ", credentials->uid,
              " pid ", credentials->pid, " gid ", credentials->gid, " (", peer,
              "): ", status.message());
  }
  return status;
}

absl::Status Authorizer::DecideTcp(const grpc::ServerContextBase& context, const std::string& peer,
                                   absl::string_view service, absl::string_view method) const {
  const auto refuse = [&](std::string reason) {
    LogDaemon(LogPriority::kWarning, "refused ", service, "/", method, " to ", peer, ": ", reason);
    return absl::PermissionDeniedError(std::move(reason));
  };
  if (!tcp_) {
    return refuse(absl::StrCat("peer ", peer, " came by no transport pvmd serves"));
  }
  if (*tcp_ == TcpSecurity::kInsecureLoopback) {
    if (!IsLoopbackPeer(peer)) {
      return refuse(absl::StrCat("plain TCP is served to loopback peers only, not ", peer));
    }
    if (FirstCallOf(peer)) {
      LogDaemon(LogPriority::kInfo, "plain TCP client ", peer,
                " (insecure_tcp: full access): first call ", service, "/", method);
    }
    return absl::OkStatus();
  }
  // Mutual TLS: the handshake already refused clients without a certificate from the
  // client CA (GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY); this only
  // makes sure nothing else got here.
  const std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
  if (auth == nullptr || !auth->IsPeerAuthenticated()) {
    return refuse("a TCP client needs a certificate verified against the client CA");
  }
  if (FirstCallOf(peer)) {
    std::string subject = AuthProperty(*auth, GRPC_X509_SUBJECT_PROPERTY_NAME);
    if (subject.empty()) {
      subject = absl::StrCat("CN=", AuthProperty(*auth, GRPC_X509_CN_PROPERTY_NAME));
    }
    LogDaemon(LogPriority::kInfo, "TLS client ", peer, " (", subject, "): first call ", service,
              "/", method);
  }
  return absl::OkStatus();
}

bool Authorizer::FirstCallOf(const std::string& peer) const {
  std::lock_guard lock(seen_mutex_);
  if (seen_tcp_peers_.size() >= kRememberedTcpPeers) seen_tcp_peers_.clear();
  return seen_tcp_peers_.insert(peer).second;
}

grpc::Status CallGuard::Check(const grpc::ServerContext* context, const char* method) const {
  if (authorizer_ == nullptr) return grpc::Status::OK;
  const absl::Status status =
      authorizer_->Decide(*context, service_, method, IsReadOnlyMethod(method));
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(grpc::StatusCode::PERMISSION_DENIED, std::string(status.message()));
}

namespace {

class FilterInterceptor final : public grpc::experimental::Interceptor {
 public:
  FilterInterceptor(const Authorizer& authorizer, grpc::experimental::ServerRpcInfo* info)
      : authorizer_(authorizer), info_(info) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::POST_RECV_INITIAL_METADATA)) {
      // "/grpc.health.v1.Health/Check" -> "grpc.health.v1.Health", "Check"
      absl::string_view name = info_->method();
      if (absl::StartsWith(name, "/")) name.remove_prefix(1);
      const size_t slash = name.rfind('/');
      const absl::string_view service =
          slash == absl::string_view::npos ? "" : name.substr(0, slash);
      const absl::string_view method = name.substr(slash + 1);
      if (!authorizer_.Decide(*info_->server_context(), service, method, /*read_only=*/true).ok()) {
        info_->server_context()->TryCancel();
      }
    }
    methods->Proceed();
  }

 private:
  const Authorizer& authorizer_;
  grpc::experimental::ServerRpcInfo* const info_;
};

class FilterFactory final : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  FilterFactory(const Authorizer& authorizer, std::string guarded_prefix)
      : authorizer_(authorizer), guarded_prefix_(std::move(guarded_prefix)) {}

  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    if (absl::StartsWith(info->method(), guarded_prefix_)) return nullptr;  // CallGuard's
    // gRPC owns what this returns.
    return std::make_unique<FilterInterceptor>(authorizer_, info).release();
  }

 private:
  const Authorizer& authorizer_;
  const std::string guarded_prefix_;
};

}  // namespace

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> UnguardedServiceFilter(
    const Authorizer& authorizer, std::string guarded_prefix) {
  return std::make_unique<FilterFactory>(authorizer, std::move(guarded_prefix));
}

}  // namespace pvm::access
