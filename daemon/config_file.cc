#include "daemon/config_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <string_view>
#include <tuple>

// Debian's libtomlplusplus ships a shared library built with exceptions (its symbols
// live in toml::v3::ex), so the no-exceptions mode would not link: parse_error is
// caught right where toml::parse is called and never leaves this file.
#include <toml++/toml.h>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "daemon/vmm/unique_fd.h"
#include "daemon/vmm/vm_registry.h"

namespace pvm {
namespace {

const char* TypeName(toml::node_type type) {
  switch (type) {
    case toml::node_type::none:
      return "nothing";
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a floating-point number";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::date:
      return "a date";
    case toml::node_type::time:
      return "a time";
    case toml::node_type::date_time:
      return "a date-time";
  }
  return "something else";
}

// toml++ speaks std::string_view; Debian's Abseil has its own string_view.
absl::string_view View(std::string_view text) {
  return absl::string_view(text.data(), text.size());
}

size_t EditDistance(absl::string_view a, absl::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// One mistake in the file; sorted by position so the message reads top to bottom.
struct Problem {
  toml::source_index line = 0;
  toml::source_index column = 0;
  std::string text;
};

// A value's check: empty when the value is fine (and applied), else why not.
using Apply = std::function<std::string(const toml::node&)>;

struct Key {
  absl::string_view name;
  Apply apply;
};

class Walker {
 public:
  Walker(const std::string& source, ConfigPositions* positions)
      : source_(source), positions_(positions) {}

  // `keys` are the table's values, `tables` its sub-tables (each walked the same way).
  void Table(const toml::table& table, const std::string& prefix, const std::vector<Key>& keys,
             const std::vector<std::pair<absl::string_view, std::vector<Key>>>& tables) {
    for (const auto& [key, node] : table) {
      const absl::string_view name = View(key.str());
      const std::string dotted =
          prefix.empty() ? std::string(name) : absl::StrCat(prefix, ".", name);
      auto value =
          std::find_if(keys.begin(), keys.end(), [&](const Key& k) { return k.name == name; });
      if (value != keys.end()) {
        (*positions_)[dotted] = Position(key.source().begin);
        if (node.is_table()) {
          Report(node.source().begin, absl::StrCat(dotted, " must be a value, not a table"));
          continue;
        }
        if (std::string error = value->apply(node); !error.empty()) {
          Report(node.source().begin, absl::StrCat(dotted, ": ", error));
        }
        continue;
      }
      auto sub = std::find_if(tables.begin(), tables.end(),
                              [&](const auto& t) { return t.first == name; });
      if (sub != tables.end()) {
        if (!node.is_table()) {
          Report(node.source().begin, absl::StrCat("'", dotted, "' must be a table ([", dotted,
                                                   "]), not ", TypeName(node.type())));
          continue;
        }
        Table(*node.as_table(), dotted, sub->second, {});
        continue;
      }
      Report(key.source().begin,
             absl::StrCat("unknown key '", dotted, "'", Suggestion(name, keys, tables)));
    }
  }

  void Report(const toml::source_position& at, std::string text) {
    problems_.push_back({at.line, at.column, std::move(text)});
  }

  absl::Status Result() {
    if (problems_.empty()) return absl::OkStatus();
    std::stable_sort(problems_.begin(), problems_.end(), [](const Problem& a, const Problem& b) {
      return std::tie(a.line, a.column) < std::tie(b.line, b.column);
    });
    std::vector<std::string> lines;
    for (const Problem& p : problems_) {
      lines.push_back(absl::StrCat(source_, ":", p.line, ":", p.column, ": ", p.text));
    }
    return absl::InvalidArgumentError(absl::StrJoin(lines, "\n"));
  }

  // Every dotted key of the schema, for suggestions across tables.
  void SetAllKeys(std::vector<std::string> all) { all_keys_ = std::move(all); }

 private:
  std::string Position(const toml::source_position& at) const {
    return absl::StrCat(source_, ":", at.line, ":", at.column);
  }

  // " (did you mean max_vms?)": a close key of the same table, else the same name in
  // another table ("limits.max_vms" written at the top level).
  std::string Suggestion(
      absl::string_view wrong, const std::vector<Key>& keys,
      const std::vector<std::pair<absl::string_view, std::vector<Key>>>& tables) const {
    absl::string_view best;
    size_t best_distance = std::numeric_limits<size_t>::max();
    auto consider = [&](absl::string_view candidate) {
      const size_t distance = EditDistance(wrong, candidate);
      if (distance < best_distance) {
        best = candidate;
        best_distance = distance;
      }
    };
    for (const Key& k : keys) consider(k.name);
    for (const auto& t : tables) consider(t.first);
    if (!best.empty() &&
        best_distance <= std::max<size_t>(1, std::min<size_t>(3, wrong.size() / 3))) {
      return absl::StrCat(" (did you mean ", best, "?)");
    }
    for (const std::string& dotted : all_keys_) {
      const size_t dot = dotted.rfind('.');
      if (dot != std::string::npos && absl::string_view(dotted).substr(dot + 1) == wrong) {
        return absl::StrCat(" (did you mean ", dotted, "?)");
      }
      // TOML's usual trap: a top-level key written after a [table] header.
      if (dot == std::string::npos && dotted == wrong) {
        return absl::StrCat(" (", dotted, " is a top-level key: put it before the first [table])");
      }
    }
    return "";
  }

  const std::string& source_;
  ConfigPositions* positions_;
  std::vector<Problem> problems_;
  std::vector<std::string> all_keys_;
};

// --- value checks -------------------------------------------------------------------

std::string WrongType(const char* wanted, const toml::node& node) {
  return absl::StrCat("must be ", wanted, ", not ", TypeName(node.type()));
}

Apply String(std::string* out, bool allow_empty = true) {
  return [out, allow_empty](const toml::node& node) -> std::string {
    if (!node.is_string()) return WrongType("a string", node);
    const std::string& value = node.as_string()->get();
    if (!allow_empty && value.empty()) return "must not be empty";
    *out = value;
    return "";
  };
}

Apply Bool(bool* out) {
  return [out](const toml::node& node) -> std::string {
    if (!node.is_boolean()) return WrongType("true or false", node);
    *out = node.as_boolean()->get();
    return "";
  };
}

// An integer in [range.min, range.max], times `scale` into *out.
template <typename T>
Apply Integer(T* out, OptionRange<T> range, T scale = 1) {
  return [out, range, scale](const toml::node& node) -> std::string {
    if (!node.is_integer()) return WrongType("an integer", node);
    const int64_t value = node.as_integer()->get();
    if (value < 0 || static_cast<uint64_t>(value) < range.min ||
        static_cast<uint64_t>(value) > range.max) {
      return absl::StrCat(value, " is out of range (", range.min, " to ", range.max, ")");
    }
    *out = static_cast<T>(value) * scale;
    return "";
  };
}

Apply StringList(std::vector<std::string>* out) {
  return [out](const toml::node& node) -> std::string {
    if (!node.is_array()) return WrongType("an array of strings", node);
    std::vector<std::string> values;
    for (const toml::node& element : *node.as_array()) {
      if (!element.is_string()) {
        return absl::StrCat("must be an array of strings; element ", values.size() + 1, " is ",
                            TypeName(element.type()));
      }
      if (element.as_string()->get().empty()) {
        return absl::StrCat("element ", values.size() + 1, " is an empty name");
      }
      values.push_back(element.as_string()->get());
    }
    *out = std::move(values);
    return "";
  };
}

Apply CpuList(std::vector<int>* out) {
  return [out](const toml::node& node) -> std::string {
    if (!node.is_array()) return WrongType("an array of CPU numbers", node);
    std::vector<int> cpus;
    for (const toml::node& element : *node.as_array()) {
      if (!element.is_integer()) {
        return absl::StrCat("must be an array of CPU numbers; element ", cpus.size() + 1, " is ",
                            TypeName(element.type()));
      }
      const int64_t cpu = element.as_integer()->get();
      if (cpu < 0 || cpu > std::numeric_limits<int>::max()) {
        return absl::StrCat("CPU ", cpu, " does not exist");
      }
      cpus.push_back(static_cast<int>(cpu));
    }
    if (absl::Status s = vmm::ValidateCpuList(cpus); !s.ok()) return std::string(s.message());
    *out = std::move(cpus);
    return "";
  };
}

// A string checked by one of the shared validators.
Apply Checked(std::string* out, absl::Status (*check)(absl::string_view)) {
  return [out, check](const toml::node& node) -> std::string {
    if (!node.is_string()) return WrongType("a string", node);
    const std::string& value = node.as_string()->get();
    if (absl::Status s = check(value); !s.ok()) return std::string(s.message());
    *out = value;
    return "";
  };
}

Apply SocketMode(unsigned* out) {
  return [out](const toml::node& node) -> std::string {
    if (!node.is_string()) return WrongType("a string of octal digits like \"0660\"", node);
    absl::StatusOr<unsigned> mode = ParseSocketMode(node.as_string()->get());
    if (!mode.ok()) return std::string(mode.status().message());
    *out = *mode;
    return "";
  };
}

// The schema, in the order of deploy/pvmd.conf.
struct Schema {
  std::vector<Key> top;
  std::vector<std::pair<absl::string_view, std::vector<Key>>> tables;
};

Schema MakeSchema(DaemonOptions* o) {
  vmm::VmLimits& l = o->limits;
  Schema schema;
  schema.top = {
      {"socket", String(&o->socket_path, false)},    {"socket_mode", SocketMode(&o->socket_mode)},
      {"socket_group", String(&o->socket_group)},    {"guest_dir", String(&o->guest_dir)},
      {"kvm_device", String(&o->kvm_device, false)},
  };
  schema.tables = {
      {"access",
       {{"groups", StringList(&o->access.groups)},
        {"read_only_groups", StringList(&o->access.read_only_groups)}}},
      {"tcp",
       {{"listen", Checked(&o->tcp.listen_address, &ValidateListenAddress)},
        {"tls_cert", String(&o->tcp.tls_cert)},
        {"tls_key", String(&o->tcp.tls_key)},
        {"tls_client_ca", String(&o->tcp.tls_client_ca)},
        {"insecure", Bool(&o->tcp.insecure_tcp)}}},
      {"limits",
       {{"max_vms", Integer(&l.max_vms, kMaxVmsRange)},
        {"max_vcpus_per_vm", Integer(&l.max_vcpus_per_vm, kMaxVcpusRange)},
        {"default_memory_mib", Integer(&l.default_memory_mib, kMemoryMibRange)},
        {"max_memory_mib", Integer(&l.max_memory_mib, kMemoryMibRange)},
        {"max_image_mib", Integer(&l.max_image_bytes, kImageMibRange, uint64_t{1} << 20)},
        {"console_buffer", Integer(&l.console_capacity, kConsoleBufferRange)},
        {"event_ring_size", Integer(&o->event_ring_size, kEventRingRange)},
        {"subscribers_per_vm", Integer(&o->max_subscribers_per_vm, kSubscribersRange)}}},
      {"cpu", {{"vcpu_cpus", CpuList(&l.default_cpu_affinity)}}},
      {"module",
       {{"name", Checked(&o->module.name, &ValidateModuleName)},
        {"parameters", String(&o->module.parameters)},
        {"load", Bool(&o->module.load)}}},
      {"gdb", {{"allow_remote", Bool(&o->gdb_allow_remote)}}},
  };
  return schema;
}

std::vector<std::string> DottedKeys(const Schema& schema) {
  std::vector<std::string> keys;
  for (const Key& k : schema.top) keys.emplace_back(k.name);
  for (const auto& [table, table_keys] : schema.tables) {
    for (const Key& k : table_keys) keys.push_back(absl::StrCat(table, ".", k.name));
  }
  return keys;
}

}  // namespace

const std::vector<std::string>& KnownConfigKeys() {
  static const std::vector<std::string> keys = [] {
    DaemonOptions scratch;
    return DottedKeys(MakeSchema(&scratch));
  }();
  return keys;
}

absl::StatusOr<ConfigPositions> ApplyConfigText(absl::string_view text, const std::string& source,
                                                DaemonOptions* options) {
  toml::table document;
  try {
    document = toml::parse(std::string_view(text.data(), text.size()), source);
  } catch (const toml::parse_error& error) {
    const toml::source_position& at = error.source().begin;
    return absl::InvalidArgumentError(
        absl::StrCat(source, ":", at.line, ":", at.column, ": ", View(error.description())));
  }
  ConfigPositions positions;
  Walker walker(source, &positions);
  const Schema schema = MakeSchema(options);
  walker.SetAllKeys(DottedKeys(schema));
  walker.Table(document, "", schema.top, schema.tables);
  if (absl::Status s = walker.Result(); !s.ok()) return s;
  return positions;
}

absl::StatusOr<ConfigPositions> ApplyConfigFile(const std::string& path, DaemonOptions* options) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int error = errno;
    std::string reason = absl::StrCat("cannot read config file ", path, ": ", std::strerror(error));
    if (error == ENOENT) return absl::NotFoundError(reason);
    return absl::FailedPreconditionError(std::move(reason));
  }
  const vmm::UniqueFd file(fd);
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot read config file ", path, ": not a regular file"));
  }
  std::string text;
  char buffer[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof(buffer));
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      return absl::FailedPreconditionError(
          absl::StrCat("cannot read config file ", path, ": ", std::strerror(errno)));
    }
    text.append(buffer, static_cast<size_t>(n));
  }
  return ApplyConfigText(text, path, options);
}

absl::StatusOr<unsigned> ParseSocketMode(absl::string_view text) {
  const bool octal =
      !text.empty() && text.size() <= 4 &&
      std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '7'; });
  if (!octal) {
    return absl::InvalidArgumentError(
        absl::StrCat("must be octal permission bits like 0660, not '", text, "'"));
  }
  unsigned mode = 0;
  for (char c : text) mode = mode * 8 + static_cast<unsigned>(c - '0');
  if (mode > 0777) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", text, "' has bits beyond 0777 (no setuid, setgid or sticky bits)"));
  }
  if ((mode & 0002) != 0) {
    return absl::InvalidArgumentError(absl::StrCat("refusing a world-writable socket (", text,
                                                   "): anyone on the host could drive pvmd"));
  }
  return mode;
}

absl::Status ValidateListenAddress(absl::string_view address) {
  if (address.empty()) return absl::OkStatus();
  const size_t colon = address.rfind(':');
  if (colon == absl::string_view::npos || colon == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", address, "' is not HOST:PORT (e.g. 127.0.0.1:7000 or [::1]:7000)"));
  }
  const absl::string_view host = address.substr(0, colon);
  const absl::string_view port_text = address.substr(colon + 1);
  uint32_t port = 0;
  if (port_text.empty() || !std::all_of(port_text.begin(), port_text.end(), absl::ascii_isdigit) ||
      !absl::SimpleAtoi(port_text, &port) || port > 65535) {
    // 0 lets the kernel pick a free port; pvmd logs the one it got.
    return absl::InvalidArgumentError(absl::StrCat("'", address, "': the port must be 0 to 65535"));
  }
  const bool bracketed = host.front() == '[';
  if (bracketed != (host.back() == ']') || (bracketed && host.size() < 3) ||
      (!bracketed && host.find(':') != absl::string_view::npos)) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", address, "': write an IPv6 host in brackets, e.g. [::1]:", port_text));
  }
  return absl::OkStatus();
}

absl::Status ValidateModuleName(absl::string_view name) {
  // MODULE_NAME_LEN is 64 - sizeof(unsigned long): 55 characters and the NUL.
  const bool ok =
      !name.empty() && name.size() <= 55 && std::all_of(name.begin(), name.end(), [](char c) {
        return absl::ascii_isalnum(c) || c == '_' || c == '-';
      });
  if (!ok) {
    return absl::InvalidArgumentError(absl::StrCat(
        "'", name, "' is not a module name (letters, digits, '_' and '-', at most 55)"));
  }
  return absl::OkStatus();
}

}  // namespace pvm
