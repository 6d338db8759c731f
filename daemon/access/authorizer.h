// The per-call access check of pvmd's gRPC services.
//
// gRPC 1.51's sync API has no hook that can answer a call with a status before its
// handler runs (a server interceptor can only TryCancel, which reads CANCELLED and
// still runs the handler), so every pvm.v1 handler starts with one line:
//
//   if (grpc::Status s = access_.Check(context, __func__); !s.ok()) return s;
//
// __func__ is the handler's name, which `override` ties to the RPC's name in the
// proto: the guard cannot be handed a wrong method name. The decision is made before
// the handler has read its request, so a refused call changes nothing.
//
// Services pvmd does not implement itself (grpc.health.v1.Health, server reflection)
// go through UnguardedServiceFilter instead: read-only as far as the policy goes;
// a peer with no access at all gets CANCELLED from them.
#ifndef PVMD_DAEMON_ACCESS_AUTHORIZER_H_
#define PVMD_DAEMON_ACCESS_AUTHORIZER_H_

#include <grpcpp/grpcpp.h>
#include <grpcpp/support/server_interceptor.h>

#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "daemon/access/access_policy.h"
#include "daemon/access/peer_credentials.h"
#include "daemon/access/tcp_config.h"

namespace pvm::access {

class Authorizer {
 public:
  // `peers`: what the acceptor recorded for each unix connection (outlives this).
  // `tcp`: the TCP listener's security, nullopt without one.
  Authorizer(AccessPolicy policy, const PeerRegistry& peers, std::optional<TcpSecurity> tcp)
      : policy_(std::move(policy)), peers_(peers), tcp_(tcp) {}
  Authorizer(const Authorizer&) = delete;
  Authorizer& operator=(const Authorizer&) = delete;

  // OK, or PERMISSION_DENIED with the reason, logged as one line with the method,
  // uid and pid. `service` is the full service name, `method` the bare method name.
  //   unix socket ("fd:N"): the policy on the credentials recorded at accept;
  //   TCP with mutual TLS: full access for a peer whose certificate gRPC verified
  //     against the client CA (its subject is logged at its first call);
  //   TCP with insecure_tcp: full access from loopback peers;
  //   anything else: refused (no transport pvmd serves looks like that).
  absl::Status Decide(const grpc::ServerContextBase& context, absl::string_view service,
                      absl::string_view method, bool read_only) const;

  const AccessPolicy& policy() const { return policy_; }

 private:
  absl::Status DecideTcp(const grpc::ServerContextBase& context, const std::string& peer,
                         absl::string_view service, absl::string_view method) const;
  // True the first time `peer` is seen (a bounded memory of recent peers).
  bool FirstCallOf(const std::string& peer) const;

  const AccessPolicy policy_;
  const PeerRegistry& peers_;
  const std::optional<TcpSecurity> tcp_;
  mutable std::mutex seen_mutex_;
  mutable std::set<std::string> seen_tcp_peers_;
};

// The first line of every pvm.v1 handler (see the top of this file). Without an
// authorizer (services built in-process by tests and benchmarks, no socket) every
// call passes; pvmd always sets one before it serves.
class CallGuard {
 public:
  explicit CallGuard(absl::string_view service) : service_(service) {}

  // Before the server starts: the guard is read by every handler thread after.
  void Enforce(const Authorizer* authorizer) { authorizer_ = authorizer; }

  grpc::Status Check(const grpc::ServerContext* context, const char* method) const;

 private:
  const std::string service_;
  const Authorizer* authorizer_ = nullptr;
};

// A server interceptor for the services without a CallGuard: every method whose
// full name does not start with `guarded_prefix` ("/pvm.v1.") is checked as a
// read-only call, and a refused one is cancelled (logged like a refused call) before
// its handler can answer.
std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> UnguardedServiceFilter(
    const Authorizer& authorizer, std::string guarded_prefix = "/pvm.v1.");

}  // namespace pvm::access

#endif  // PVMD_DAEMON_ACCESS_AUTHORIZER_H_
