// JSON output of pvmctl: the machine-readable contract. Keys are snake_case and
// always present (zero values included, unlike protobuf's JSON mapping), enums are
// the lowercase words of enum_names.h, integers are JSON numbers (uint64 too).
// The mapping is written out by hand so that renaming a proto field cannot rename a
// key that scripts depend on.
#ifndef PVMD_CLIENT_FORMAT_JSON_H_
#define PVMD_CLIENT_FORMAT_JSON_H_

#include <nlohmann/json.hpp>
#include <string>

#include "absl/strings/string_view.h"
#include "pvm/v1/host.pb.h"
#include "pvm/v1/vm.pb.h"

namespace pvm::ctl {

// Keys in the order they are written, which reads better than sorted.
using Json = nlohmann::ordered_json;

Json HostInfoJson(const v1::HostInfo& info);
Json VmJson(const v1::Vm& vm);
// {"vms": [...]}
Json VmListJson(const v1::ListVmsResponse& list);
// {"name": ..., "deleted": true}
Json VmDeletedJson(absl::string_view name);

// One document, indented, newline-terminated. Bytes that are not UTF-8 become
// U+FFFD instead of an exception.
std::string DumpJson(const Json& json);

}  // namespace pvm::ctl

#endif  // PVMD_CLIENT_FORMAT_JSON_H_
