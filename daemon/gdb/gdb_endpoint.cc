#include "daemon/gdb/gdb_endpoint.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "daemon/vmm/kvm_error.h"

namespace pvm::gdb {
namespace {

bool IsLoopback(const sockaddr* address) {
  if (address->sa_family == AF_INET) {
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(address);
    return (ntohl(v4->sin_addr.s_addr) >> 24) == 127;
  }
  if (address->sa_family == AF_INET6) {
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(address);
    return IN6_IS_ADDR_LOOPBACK(&v6->sin6_addr);
  }
  return false;
}

std::string Describe(const sockaddr_storage& address) {
  char host[INET6_ADDRSTRLEN] = {};
  uint16_t port = 0;
  if (address.ss_family == AF_INET6) {
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&address);
    ::inet_ntop(AF_INET6, &v6->sin6_addr, host, sizeof(host));
    port = ntohs(v6->sin6_port);
    return absl::StrCat("[", host, "]:", port);
  }
  const auto* v4 = reinterpret_cast<const sockaddr_in*>(&address);
  ::inet_ntop(AF_INET, &v4->sin_addr, host, sizeof(host));
  port = ntohs(v4->sin_port);
  return absl::StrCat(host, ":", port);
}

absl::StatusOr<BoundEndpoint> ListenTcp(const GdbEndpoint& endpoint, bool allow_remote) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV | AI_PASSIVE;
  if (endpoint.host != "localhost") {
    hints.ai_flags |= AI_NUMERICHOST;  // no name lookups: "localhost" is the one name
  }
  addrinfo* found = nullptr;
  const std::string port = std::to_string(endpoint.port);
  if (int rc = ::getaddrinfo(endpoint.host.c_str(), port.c_str(), &hints, &found); rc != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("gdb stub address '", endpoint.host, "': ", ::gai_strerror(rc)));
  }
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> owned(found, &::freeaddrinfo);
  if (!allow_remote && !IsLoopback(found->ai_addr)) {
    return absl::PermissionDeniedError(
        absl::StrCat("the gdb stub listens on loopback or a unix socket only, not ", endpoint.host,
                     " (gdb_allow_remote in pvmd's config file allows it)"));
  }
  vmm::UniqueFd fd(::socket(found->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) {
    return vmm::ErrnoStatus(errno, "socket(gdb stub)");
  }
  const int one = 1;
  (void)::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (::bind(fd.get(), found->ai_addr, found->ai_addrlen) != 0) {
    return vmm::ErrnoStatus(errno, absl::StrCat("bind ", endpoint.host, ":", endpoint.port));
  }
  if (::listen(fd.get(), 1) != 0) {
    return vmm::ErrnoStatus(errno, "listen(gdb stub)");
  }
  sockaddr_storage bound{};
  socklen_t length = sizeof(bound);
  ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&bound), &length);
  return BoundEndpoint{std::move(fd), Describe(bound)};
}

absl::StatusOr<BoundEndpoint> ListenUnix(const GdbEndpoint& endpoint) {
  sockaddr_un address{};
  if (endpoint.path.size() >= sizeof(address.sun_path)) {
    return absl::InvalidArgumentError(absl::StrCat("socket path '", endpoint.path,
                                                   "' is longer than ",
                                                   sizeof(address.sun_path) - 1, " bytes"));
  }
  struct stat st {};
  if (::lstat(endpoint.path.c_str(), &st) == 0) {
    // Never replace someone's file: only a stale socket of an earlier stub goes.
    if (!S_ISSOCK(st.st_mode) || st.st_uid != ::geteuid()) {
      return absl::AlreadyExistsError(
          absl::StrCat(endpoint.path, " exists and is not a socket of pvmd's"));
    }
    ::unlink(endpoint.path.c_str());
  }
  address.sun_family = AF_UNIX;
  std::memcpy(address.sun_path, endpoint.path.c_str(), endpoint.path.size() + 1);
  vmm::UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) {
    return vmm::ErrnoStatus(errno, "socket(AF_UNIX)");
  }
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    return vmm::ErrnoStatus(errno, absl::StrCat("bind ", endpoint.path));
  }
  // Until this chmod the file has the umask's mode; a peer that connects meanwhile is
  // still refused by its credentials at accept.
  if (::chmod(endpoint.path.c_str(), 0600) != 0 || ::listen(fd.get(), 1) != 0) {
    absl::Status failed = vmm::ErrnoStatus(errno, absl::StrCat("listen on ", endpoint.path));
    ::unlink(endpoint.path.c_str());
    return failed;
  }
  return BoundEndpoint{std::move(fd), endpoint.path};
}

}  // namespace

absl::StatusOr<GdbEndpoint> ParseGdbEndpoint(std::string_view text) {
  GdbEndpoint endpoint;
  if (text.starts_with("unix:")) {
    text.remove_prefix(5);
  }
  if (text.starts_with("/")) {
    endpoint.kind = GdbEndpoint::Kind::kUnix;
    endpoint.path = std::string(text);
    return endpoint;
  }
  const size_t colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("gdb stub address '", std::string(text),
                     "': expected HOST:PORT (e.g. 127.0.0.1:1234) or unix:/PATH"));
  }
  std::string_view host = text.substr(0, colon);
  std::string_view port = text.substr(colon + 1);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  unsigned value = 0;
  auto [end, error] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || error != std::errc() || end != port.data() + port.size() || value > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("gdb stub address '", std::string(text), "': the port must be 0..65535"));
  }
  endpoint.host = std::string(host);
  endpoint.port = static_cast<uint16_t>(value);
  return endpoint;
}

absl::StatusOr<BoundEndpoint> Listen(const GdbEndpoint& endpoint, bool allow_remote) {
  return endpoint.kind == GdbEndpoint::Kind::kUnix ? ListenUnix(endpoint)
                                                   : ListenTcp(endpoint, allow_remote);
}

}  // namespace pvm::gdb
