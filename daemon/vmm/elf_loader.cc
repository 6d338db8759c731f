#include "daemon/vmm/elf_loader.h"

#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <tuple>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_format.h"

namespace pvm::vmm {
namespace {

// A guest image needs a handful of segments; a cap keeps a hostile header from
// making validation quadratic (overlap checks) or allocating without bound.
constexpr size_t kMaxProgramHeaders = 64;

absl::Status Invalid(std::string message) { return absl::InvalidArgumentError(std::move(message)); }

std::string LibelfError() {
  const char* msg = elf_errmsg(-1);
  return msg != nullptr ? msg : "unknown libelf error";
}

// libelf refuses to do anything until the version handshake has happened once per
// process; a function-local static makes that thread-safe without a global ctor.
bool EnsureLibelfInitialized() {
  static const bool ok = elf_version(EV_CURRENT) != EV_NONE;
  return ok;
}

struct ElfDeleter {
  void operator()(Elf* elf) const { elf_end(elf); }
};
using ElfPtr = std::unique_ptr<Elf, ElfDeleter>;

// Renders [start, start + len) without letting the end wrap around.
std::string Range(uint64_t start, uint64_t len) {
  if (len > UINT64_MAX - start) {
    return absl::StrFormat("[0x%x, 0x%x + 0x%x)", start, start, len);
  }
  return absl::StrFormat("[0x%x, 0x%x)", start, start + len);
}

struct Segment {
  size_t index = 0;  // program header index, for messages
  uint64_t offset = 0;
  uint64_t gpa = 0;
  uint64_t file_size = 0;
  uint64_t memory_size = 0;
  uint32_t flags = 0;
};

const char* ClassName(unsigned char c) {
  switch (c) {
    case ELFCLASS32:
      return "ELFCLASS32";
    case ELFCLASS64:
      return "ELFCLASS64";
    default:
      return "an invalid class";
  }
}

const char* TypeName(uint16_t t) {
  switch (t) {
    case ET_NONE:
      return "ET_NONE";
    case ET_REL:
      return "ET_REL (a relocatable object, not linked)";
    case ET_EXEC:
      return "ET_EXEC";
    case ET_DYN:
      return "ET_DYN (position-independent)";
    case ET_CORE:
      return "ET_CORE";
    default:
      return "unknown";
  }
}

// Checks e_ident and the header fields by hand before libelf sees the file, so
// the common mistakes get a message that says what was expected.
absl::Status CheckIdent(std::span<const std::byte> file) {
  if (file.size() < EI_NIDENT) {
    return Invalid(absl::StrFormat(
        "truncated ELF file: %d bytes, too short for the ELF identification (%d bytes)",
        file.size(), EI_NIDENT));
  }
  const auto* ident = reinterpret_cast<const unsigned char*>(file.data());
  if (std::memcmp(ident, ELFMAG, SELFMAG) != 0) {
    return Invalid("not an ELF file (bad magic number)");
  }
  if (ident[EI_CLASS] != ELFCLASS64) {
    return Invalid(absl::StrFormat("wrong ELF class %s (%d); expected ELFCLASS64",
                                   ClassName(ident[EI_CLASS]), ident[EI_CLASS]));
  }
  if (ident[EI_DATA] != ELFDATA2LSB) {
    return Invalid(absl::StrFormat(
        "wrong ELF data encoding %d; expected ELFDATA2LSB (little-endian)", ident[EI_DATA]));
  }
  if (ident[EI_VERSION] != EV_CURRENT) {
    return Invalid(absl::StrFormat("wrong ELF version %d; expected %d", ident[EI_VERSION],
                                   static_cast<int>(EV_CURRENT)));
  }
  if (file.size() < sizeof(Elf64_Ehdr)) {
    return Invalid(
        absl::StrFormat("truncated ELF file: %d bytes, too short for the ELF64 header (%d bytes)",
                        file.size(), sizeof(Elf64_Ehdr)));
  }
  return absl::OkStatus();
}

absl::Status CheckHeader(const GElf_Ehdr& ehdr) {
  if (ehdr.e_machine != EM_X86_64) {
    return Invalid(
        absl::StrFormat("wrong machine %d; expected EM_X86_64 (%d)", ehdr.e_machine, EM_X86_64));
  }
  if (ehdr.e_type != ET_EXEC) {
    return Invalid(absl::StrFormat("wrong ELF type %s (%d); expected ET_EXEC (%d)",
                                   TypeName(ehdr.e_type), ehdr.e_type, ET_EXEC));
  }
  if (ehdr.e_version != EV_CURRENT) {
    return Invalid(absl::StrFormat("wrong ELF header version %d; expected %d", ehdr.e_version,
                                   static_cast<int>(EV_CURRENT)));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<Segment>> ReadSegments(Elf* elf, const GElf_Ehdr& ehdr,
                                                  uint64_t file_size, const LoadWindow& window) {
  // Checked on the raw header before libelf reads the table, so that a bad count or
  // offset is reported as such and not as libelf's generic "invalid data".
  // PN_XNUM (count kept in section 0) is only needed for 65535 or more headers.
  if (ehdr.e_phnum == PN_XNUM) {
    return Invalid(absl::StrFormat(
        "e_phnum is PN_XNUM (the count is in section 0); at most %d program headers are accepted",
        kMaxProgramHeaders));
  }
  const size_t phnum = ehdr.e_phnum;
  if (phnum == 0) {
    return Invalid("no program headers, so no PT_LOAD segments to load");
  }
  if (phnum > kMaxProgramHeaders) {
    return Invalid(
        absl::StrFormat("%d program headers; at most %d are accepted", phnum, kMaxProgramHeaders));
  }
  if (ehdr.e_phentsize != sizeof(Elf64_Phdr)) {
    return Invalid(absl::StrFormat("program header entry size %d; expected %d", ehdr.e_phentsize,
                                   sizeof(Elf64_Phdr)));
  }
  const uint64_t table_bytes = static_cast<uint64_t>(phnum) * sizeof(Elf64_Phdr);
  if (ehdr.e_phoff > file_size || table_bytes > file_size - ehdr.e_phoff) {
    return Invalid(absl::StrFormat(
        "truncated ELF file: program header table %s lies beyond the end of the file (0x%x bytes)",
        Range(ehdr.e_phoff, table_bytes), file_size));
  }
  size_t libelf_phnum = 0;
  if (elf_getphdrnum(elf, &libelf_phnum) != 0 || libelf_phnum != phnum) {
    return Invalid(absl::StrFormat("cannot read the program header table: %s", LibelfError()));
  }

  std::vector<Segment> segments;
  for (size_t i = 0; i < phnum; ++i) {
    GElf_Phdr phdr;
    if (gelf_getphdr(elf, static_cast<int>(i), &phdr) == nullptr) {
      return Invalid(absl::StrFormat("cannot read program header %d: %s", i, LibelfError()));
    }
    if (phdr.p_type != PT_LOAD) {
      continue;
    }
    if (phdr.p_filesz > phdr.p_memsz) {
      return Invalid(absl::StrFormat("segment %d: file size 0x%x exceeds memory size 0x%x", i,
                                     phdr.p_filesz, phdr.p_memsz));
    }
    if (phdr.p_offset > file_size || phdr.p_filesz > file_size - phdr.p_offset) {
      return Invalid(
          absl::StrFormat("segment %d: file range %s lies beyond the end of the file (0x%x bytes)",
                          i, Range(phdr.p_offset, phdr.p_filesz), file_size));
    }
    if (phdr.p_memsz == 0) {
      continue;  // occupies no memory: nothing to place or to overlap
    }
    // Guests run identity-mapped (GVA == GPA), so a segment goes where its code
    // expects to run: p_vaddr. p_paddr would only matter to a loader that maps pages.
    const uint64_t gpa = phdr.p_vaddr;
    if (phdr.p_memsz > UINT64_MAX - gpa) {
      return Invalid(absl::StrFormat("segment %d %s wraps around the 64-bit address space", i,
                                     Range(gpa, phdr.p_memsz)));
    }
    if (gpa < window.floor) {
      return Invalid(absl::StrFormat("segment %d %s starts below guest memory window [0x%x, 0x%x)",
                                     i, Range(gpa, phdr.p_memsz), window.floor, window.ceiling));
    }
    if (gpa + phdr.p_memsz > window.ceiling) {
      return Invalid(absl::StrFormat("segment %d %s ends beyond guest memory window [0x%x, 0x%x)",
                                     i, Range(gpa, phdr.p_memsz), window.floor, window.ceiling));
    }
    segments.push_back(Segment{.index = i,
                               .offset = phdr.p_offset,
                               .gpa = gpa,
                               .file_size = phdr.p_filesz,
                               .memory_size = phdr.p_memsz,
                               .flags = phdr.p_flags});
  }
  if (segments.empty()) {
    return Invalid("no PT_LOAD segment with a non-zero memory size");
  }
  return segments;
}

absl::Status CheckOverlaps(std::vector<Segment> sorted) {
  std::sort(sorted.begin(), sorted.end(),
            [](const Segment& a, const Segment& b) { return a.gpa < b.gpa; });
  for (size_t i = 1; i < sorted.size(); ++i) {
    const Segment& prev = sorted[i - 1];
    const Segment& next = sorted[i];
    // Both ends are inside the window, so neither sum can wrap.
    if (prev.gpa + prev.memory_size > next.gpa) {
      const Segment& first = prev.index < next.index ? prev : next;
      const Segment& second = prev.index < next.index ? next : prev;
      return Invalid(absl::StrFormat("segments %d %s and %d %s overlap", first.index,
                                     Range(first.gpa, first.memory_size), second.index,
                                     Range(second.gpa, second.memory_size)));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckEntry(uint64_t entry, const std::vector<Segment>& segments) {
  for (const Segment& s : segments) {
    if ((s.flags & PF_X) != 0 && entry >= s.gpa && entry - s.gpa < s.memory_size) {
      return absl::OkStatus();
    }
  }
  return Invalid(
      absl::StrFormat("entry point 0x%x is not inside an executable (PF_X) segment", entry));
}

// A broken or absent symbol table does not make an image unbootable; symbols are
// only for the debugger's convenience, so problems there drop symbols, not the load.
std::vector<GuestSymbol> ReadSymbols(Elf* elf) {
  std::vector<GuestSymbol> symbols;
  Elf_Scn* scn = nullptr;
  while ((scn = elf_nextscn(elf, scn)) != nullptr) {
    GElf_Shdr shdr;
    if (gelf_getshdr(scn, &shdr) == nullptr || shdr.sh_type != SHT_SYMTAB ||
        shdr.sh_entsize != sizeof(Elf64_Sym)) {
      continue;
    }
    Elf_Data* data = elf_getdata(scn, nullptr);
    if (data == nullptr || data->d_size == 0) {
      continue;
    }
    const size_t count = data->d_size / sizeof(Elf64_Sym);
    for (size_t i = 0; i < count; ++i) {
      GElf_Sym sym;
      if (gelf_getsym(data, static_cast<int>(i), &sym) == nullptr) {
        break;
      }
      const int type = GELF_ST_TYPE(sym.st_info);
      if ((type != STT_FUNC && type != STT_OBJECT) || sym.st_shndx == SHN_UNDEF ||
          sym.st_name == 0) {
        continue;
      }
      const char* name = elf_strptr(elf, shdr.sh_link, sym.st_name);
      if (name == nullptr || *name == '\0') {
        continue;
      }
      symbols.push_back(GuestSymbol{.name = name,
                                    .address = sym.st_value,
                                    .size = sym.st_size,
                                    .is_function = type == STT_FUNC});
    }
  }
  // By address, then name, so the order (and lookups) do not depend on the
  // order the linker emitted aliases in.
  std::sort(symbols.begin(), symbols.end(), [](const GuestSymbol& a, const GuestSymbol& b) {
    return std::tie(a.address, a.name) < std::tie(b.address, b.name);
  });
  return symbols;
}

}  // namespace

GuestImage::GuestImage(uint64_t entry, std::vector<LoadedSegment> segments,
                       std::vector<GuestSymbol> symbols)
    : entry_(entry), segments_(std::move(segments)), symbols_(std::move(symbols)) {
  // The constructor is public, so it cannot assume its caller sorted.
  std::sort(symbols_.begin(), symbols_.end(), [](const GuestSymbol& a, const GuestSymbol& b) {
    return std::tie(a.address, a.name) < std::tie(b.address, b.name);
  });
}

uint64_t GuestImage::end() const {
  uint64_t end = 0;
  for (const LoadedSegment& s : segments_) {
    // Saturates instead of wrapping for a hand-made segment list.
    const uint64_t seg_end =
        s.memory_size > UINT64_MAX - s.gpa ? UINT64_MAX : s.gpa + s.memory_size;
    end = std::max(end, seg_end);
  }
  return end;
}

std::optional<GuestSymbol> GuestImage::FindSymbol(std::string_view name) const {
  for (const GuestSymbol& s : symbols_) {
    if (s.name == name) {
      return s;
    }
  }
  return std::nullopt;
}

std::optional<GuestSymbol> GuestImage::SymbolContaining(uint64_t addr) const {
  // Symbols starting after addr cannot hold it; among the rest the closest start
  // wins, so a symbol nested in a larger one (a label inside a function) is found.
  auto it = std::upper_bound(symbols_.begin(), symbols_.end(), addr,
                             [](uint64_t a, const GuestSymbol& s) { return a < s.address; });
  while (it != symbols_.begin()) {
    --it;
    const uint64_t offset = addr - it->address;
    // A zero-sized symbol (an assembly label without .size) holds its own address.
    if (offset < it->size || (it->size == 0 && offset == 0)) {
      return *it;
    }
  }
  return std::nullopt;
}

absl::StatusOr<GuestImage> LoadElfImage(std::span<const std::byte> file, const LoadWindow& window,
                                        GuestMemory& memory) {
  if (window.floor > window.ceiling || window.ceiling > memory.size()) {
    return Invalid(
        absl::StrFormat("load window [0x%x, 0x%x) does not fit guest memory of 0x%x bytes",
                        window.floor, window.ceiling, memory.size()));
  }
  if (absl::Status s = CheckIdent(file); !s.ok()) {
    return s;
  }
  if (!EnsureLibelfInitialized()) {
    return absl::InternalError(absl::StrFormat("libelf initialization failed: %s", LibelfError()));
  }
  // elf_memory takes a mutable buffer (libelf may convert in place), and the
  // caller's bytes are const: parse a private copy.
  std::vector<char> copy(file.size());
  std::memcpy(copy.data(), file.data(), file.size());
  ElfPtr elf(elf_memory(copy.data(), copy.size()));
  if (elf == nullptr) {
    return Invalid(absl::StrFormat("libelf cannot parse the file: %s", LibelfError()));
  }
  if (elf_kind(elf.get()) != ELF_K_ELF) {
    return Invalid("libelf does not recognize the file as ELF");
  }
  GElf_Ehdr ehdr;
  if (gelf_getehdr(elf.get(), &ehdr) == nullptr) {
    return Invalid(absl::StrFormat("cannot read the ELF header: %s", LibelfError()));
  }
  if (absl::Status s = CheckHeader(ehdr); !s.ok()) {
    return s;
  }
  absl::StatusOr<std::vector<Segment>> segments =
      ReadSegments(elf.get(), ehdr, file.size(), window);
  if (!segments.ok()) {
    return segments.status();
  }
  if (absl::Status s = CheckOverlaps(*segments); !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckEntry(ehdr.e_entry, *segments); !s.ok()) {
    return s;
  }
  std::vector<GuestSymbol> symbols = ReadSymbols(elf.get());

  // Everything is validated: from here on nothing can fail halfway and leave a
  // partly written image behind.
  std::vector<LoadedSegment> loaded;
  loaded.reserve(segments->size());
  for (const Segment& s : *segments) {
    absl::StatusOr<std::span<std::byte>> dest = memory.Slice(s.gpa, s.memory_size);
    if (!dest.ok()) {
      return absl::InternalError(absl::StrFormat("segment %d was validated but does not fit: %s",
                                                 s.index, dest.status().message()));
    }
    const size_t file_bytes = static_cast<size_t>(s.file_size);
    std::memcpy(dest->data(), file.data() + s.offset, file_bytes);
    std::fill(dest->begin() + file_bytes, dest->end(), std::byte{0});
    loaded.push_back(LoadedSegment{.gpa = s.gpa,
                                   .file_size = s.file_size,
                                   .memory_size = s.memory_size,
                                   .executable = (s.flags & PF_X) != 0,
                                   .writable = (s.flags & PF_W) != 0});
  }
  return GuestImage(ehdr.e_entry, std::move(loaded), std::move(symbols));
}

absl::StatusOr<std::vector<std::byte>> ReadImageFile(const std::string& path, uint64_t max_bytes) {
  // O_NONBLOCK: opening a FIFO someone named as an image must not hang the caller;
  // it is refused below as not a regular file.
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    const int err = errno;
    return Invalid(absl::StrFormat("cannot open %s: %s", path, std::strerror(err)));
  }
  struct FdCloser {
    int fd;
    ~FdCloser() { close(fd); }
  } closer{fd};

  struct stat st;
  if (fstat(fd, &st) != 0) {
    const int err = errno;
    return Invalid(absl::StrFormat("cannot stat %s: %s", path, std::strerror(err)));
  }
  if (!S_ISREG(st.st_mode)) {
    return Invalid(absl::StrFormat("%s is not a regular file", path));
  }
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  if (size > max_bytes) {
    return Invalid(absl::StrFormat("%s is %d bytes, larger than the limit of %d bytes", path, size,
                                   max_bytes));
  }
  std::vector<std::byte> bytes(static_cast<size_t>(size));
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = read(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      return Invalid(absl::StrFormat("cannot read %s: %s", path, std::strerror(err)));
    }
    if (n == 0) {
      // Shrunk while being read: what is left is not the image that was stat'ed.
      return Invalid(absl::StrFormat("%s changed size while being read", path));
    }
    done += static_cast<size_t>(n);
  }
  // A file that grew after fstat would otherwise be read truncated without notice.
  std::byte extra;
  ssize_t n;
  do {
    n = read(fd, &extra, 1);
  } while (n < 0 && errno == EINTR);
  if (n > 0) {
    return Invalid(absl::StrFormat("%s changed size while being read", path));
  }
  return bytes;
}

}  // namespace pvm::vmm
