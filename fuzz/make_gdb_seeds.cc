// Writes the seed corpus for gdb_packet_fuzz: a gdb 13 session's opening bytes and one
// packet of each command pvmd parses, framed by the real encoder, so the fuzzer starts
// with valid checksums instead of having to find them.
#include <cstdio>
#include <fstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "daemon/gdb/rsp_framing.h"

namespace {

using pvm::gdb::EncodePacket;

bool WriteSeed(const std::string& dir, const std::string& name, const std::string& bytes) {
  std::ofstream out(dir + "/" + name, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return static_cast<bool>(out);
}

std::string Session(const std::vector<std::string_view>& payloads) {
  std::string bytes = "+";
  for (std::string_view payload : payloads) bytes += EncodePacket(payload);
  return bytes;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUTPUT_DIR\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  std::vector<std::pair<std::string, std::string>> seeds;
  seeds.emplace_back(
      "gdb13_connect",
      Session({"qSupported:multiprocess+;swbreak+;hwbreak+;qRelocInsn+;fork-events+;"
               "vfork-events+;exec-events+;vContSupported+;QThreadEvents+;no-resumed+;"
               "memory-tagging+;xmlRegisters=i386",
               "vMustReplyEmpty", "QStartNoAckMode", "Hgp0.0",
               "qXfer:features:read:target.xml:0,ffb", "qTStatus", "?", "qfThreadInfo",
               "qsThreadInfo", "qAttached:1", "Hcp1.-1", "qC", "qOffsets", "g", "qSymbol::"}) +
          "\x03");
  const std::vector<std::pair<std::string, std::string>> packets = {
      {"read_memory", "m7ffff7fe3000,40"},
      {"write_memory", "M401000,2:cc90"},
      {"write_binary", std::string("X401000,4:\x03$#}", 14)},
      {"write_probe", "X401000,0:"},
      {"write_registers", "G" + std::string(32, '0')},
      {"read_register", "p10"},
      {"write_register", "P10=0010400000000000"},
      {"resume", "c401000"},
      {"step_signal", "S05;401000"},
      {"vcont", "vCont;s:p1.1;C05:2;c"},
      {"vcont_query", "vCont?"},
      {"breakpoint", "Z0,401000,1;X3,220027"},
      {"watchpoint", "z2,601040,8"},
      {"thread_alive", "Tp1.2"},
      {"thread_extra_info", "qThreadExtraInfo,1"},
      {"detach", "D;1"},
      {"kill", "vKill;1"},
  };
  for (const auto& [name, payload] : packets) seeds.emplace_back(name, EncodePacket(payload));
  // Raw payloads too: ParseCommand also sees the whole input.
  for (const auto& [name, payload] : packets) seeds.emplace_back("raw_" + name, payload);

  for (const auto& [name, bytes] : seeds) {
    if (!WriteSeed(dir, name, bytes)) {
      std::perror(("cannot write seed " + name).c_str());
      return 1;
    }
  }
  return 0;
}
