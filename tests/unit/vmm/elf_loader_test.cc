#include "daemon/vmm/elf_loader.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "daemon/vmm/guest_memory.h"
#include "tests/unit/vmm/elf_writer.h"

namespace pvm::vmm {
namespace {

using ::pvm::testing::BuildElf;
using ::pvm::testing::Bytes;
using ::pvm::testing::ElfSegmentSpec;
using ::pvm::testing::ElfSpec;
using ::pvm::testing::ElfSymbolSpec;
using ::pvm::testing::MinimalSpec;
using ::testing::HasSubstr;

constexpr uint64_t kMemorySize = 4 << 20;
constexpr LoadWindow kWindow{.floor = 0x100000, .ceiling = 0x3f0000};
constexpr std::byte kPoison{0xaa};

class ElfLoaderTest : public ::testing::Test {
 protected:
  ElfLoaderTest() {
    absl::StatusOr<GuestMemory> memory = GuestMemory::Create(kMemorySize);
    EXPECT_TRUE(memory.ok()) << memory.status();
    memory_ = std::make_unique<GuestMemory>(*std::move(memory));
    // Poisoned, so that zero-filling and "nothing written" are both observable.
    absl::StatusOr<std::span<std::byte>> all = memory_->Slice(0, kMemorySize);
    std::fill(all->begin(), all->end(), kPoison);
  }

  absl::StatusOr<GuestImage> Load(const std::vector<std::byte>& file,
                                  const LoadWindow& window = kWindow) {
    return LoadElfImage(file, window, *memory_);
  }
  absl::StatusOr<GuestImage> Load(const ElfSpec& spec) { return Load(BuildElf(spec)); }

  // Asserts the load fails with INVALID_ARGUMENT and a message containing `what`.
  void ExpectInvalid(const std::vector<std::byte>& file, const std::string& what) {
    absl::StatusOr<GuestImage> image = Load(file);
    ASSERT_FALSE(image.ok()) << "loaded although it should fail with: " << what;
    EXPECT_EQ(image.status().code(), absl::StatusCode::kInvalidArgument) << image.status();
    EXPECT_THAT(image.status().message(), HasSubstr(what));
  }
  void ExpectInvalid(const ElfSpec& spec, const std::string& what) {
    ExpectInvalid(BuildElf(spec), what);
  }

  std::vector<std::byte> Memory(uint64_t gpa, uint64_t len) {
    std::vector<std::byte> out(len);
    EXPECT_TRUE(memory_->Read(gpa, out).ok());
    return out;
  }
  bool AllPoison(uint64_t gpa, uint64_t len) {
    for (std::byte b : Memory(gpa, len)) {
      if (b != kPoison) return false;
    }
    return true;
  }

  std::unique_ptr<GuestMemory> memory_;
};

// ---- Good images -------------------------------------------------------------

TEST_F(ElfLoaderTest, LoadsSegmentsAndZeroFillsBss) {
  absl::StatusOr<GuestImage> image = Load(MinimalSpec());
  ASSERT_TRUE(image.ok()) << image.status();
  EXPECT_EQ(image->entry(), 0x100000u);
  ASSERT_EQ(image->segments().size(), 2u);
  const LoadedSegment& code = image->segments()[0];
  EXPECT_EQ(code.gpa, 0x100000u);
  EXPECT_EQ(code.file_size, 8u);
  EXPECT_EQ(code.memory_size, 8u);
  EXPECT_TRUE(code.executable);
  EXPECT_FALSE(code.writable);
  const LoadedSegment& data = image->segments()[1];
  EXPECT_EQ(data.gpa, 0x101000u);
  EXPECT_EQ(data.file_size, 8u);
  EXPECT_EQ(data.memory_size, 0x100u);
  EXPECT_FALSE(data.executable);
  EXPECT_TRUE(data.writable);
  EXPECT_EQ(image->end(), 0x101100u);

  EXPECT_EQ(Memory(0x100000, 8), Bytes({0xb8, 0x2a, 0, 0, 0, 0xe6, 0xe9, 0xf4}));
  EXPECT_EQ(Memory(0x101000, 8), Bytes({1, 2, 3, 4, 5, 6, 7, 8}));
  EXPECT_EQ(Memory(0x101008, 0xf8), std::vector<std::byte>(0xf8, std::byte{0}));
  // Nothing outside the segments is touched.
  EXPECT_TRUE(AllPoison(0x100008, 0x1000 - 8));
  EXPECT_TRUE(AllPoison(0x101100, 0x100));
  EXPECT_TRUE(AllPoison(0, 0x100000));
}

TEST_F(ElfLoaderTest, SegmentsMayFillTheWindowExactly) {
  ElfSpec spec;
  spec.entry = kWindow.floor;
  spec.segments.push_back({.flags = PF_R | PF_X, .vaddr = kWindow.floor, .data = Bytes({0xf4})});
  spec.segments.push_back({.flags = PF_R | PF_W,
                           .vaddr = kWindow.floor + 0x1000,
                           .memsz = kWindow.ceiling - kWindow.floor - 0x1000});
  absl::StatusOr<GuestImage> image = Load(spec);
  ASSERT_TRUE(image.ok()) << image.status();
  EXPECT_EQ(image->end(), kWindow.ceiling);
  EXPECT_TRUE(AllPoison(kWindow.ceiling, kMemorySize - kWindow.ceiling));
}

TEST_F(ElfLoaderTest, IgnoresNonLoadAndEmptySegments) {
  ElfSpec spec = MinimalSpec();
  spec.segments.push_back({.type = PT_NOTE, .vaddr = 0, .data = Bytes({1, 2, 3, 4})});
  spec.segments.push_back({.type = PT_GNU_STACK, .flags = PF_R | PF_W, .vaddr = 0});
  // An empty PT_LOAD anywhere (even outside the window) occupies nothing.
  spec.segments.push_back({.type = PT_LOAD, .vaddr = 0x10});
  absl::StatusOr<GuestImage> image = Load(spec);
  ASSERT_TRUE(image.ok()) << image.status();
  EXPECT_EQ(image->segments().size(), 2u);
}

TEST_F(ElfLoaderTest, SegmentsAreAcceptedInAnyOrder) {
  ElfSpec spec = MinimalSpec();
  std::swap(spec.segments[0], spec.segments[1]);
  absl::StatusOr<GuestImage> image = Load(spec);
  ASSERT_TRUE(image.ok()) << image.status();
  EXPECT_EQ(image->entry(), 0x100000u);
}

TEST_F(ElfLoaderTest, KeepsNamedFunctionAndObjectSymbolsSortedByAddress) {
  ElfSpec spec = MinimalSpec();
  spec.symbols = {
      {.name = "late", .value = 0x100006, .size = 2, .type = STT_FUNC},
      {.name = "_start", .value = 0x100000, .size = 8, .type = STT_FUNC},
      {.name = "inner", .value = 0x100002, .size = 2, .type = STT_FUNC},
      {.name = "label", .value = 0x100005, .size = 0, .type = STT_FUNC},
      {.name = "counter_value", .value = 0x101010, .size = 8, .type = STT_OBJECT},
      {.name = "a_section", .value = 0x100000, .type = STT_SECTION},
      {.name = "no_type", .value = 0x100000, .type = STT_NOTYPE},
      {.name = "a_file", .type = STT_FILE},
      {.name = "undefined", .value = 0x100000, .type = STT_FUNC, .shndx = SHN_UNDEF},
      {.name = "", .value = 0x100001, .size = 1, .type = STT_FUNC},
  };
  absl::StatusOr<GuestImage> image = Load(spec);
  ASSERT_TRUE(image.ok()) << image.status();

  std::vector<std::string> names;
  for (const GuestSymbol& s : image->symbols()) names.push_back(s.name);
  EXPECT_THAT(names, ::testing::ElementsAre("_start", "inner", "label", "late", "counter_value"));

  std::optional<GuestSymbol> start = image->FindSymbol("_start");
  ASSERT_TRUE(start.has_value());
  EXPECT_EQ(start->address, 0x100000u);
  EXPECT_EQ(start->size, 8u);
  EXPECT_TRUE(start->is_function);
  std::optional<GuestSymbol> counter = image->FindSymbol("counter_value");
  ASSERT_TRUE(counter.has_value());
  EXPECT_FALSE(counter->is_function);
  EXPECT_FALSE(image->FindSymbol("a_section").has_value());
  EXPECT_FALSE(image->FindSymbol("undefined").has_value());
  EXPECT_FALSE(image->FindSymbol("nope").has_value());

  auto containing = [&](uint64_t addr) {
    std::optional<GuestSymbol> s = image->SymbolContaining(addr);
    return s.has_value() ? s->name : std::string("<none>");
  };
  EXPECT_EQ(containing(0x100000), "_start");
  EXPECT_EQ(containing(0x100001), "_start");
  EXPECT_EQ(containing(0x100002), "inner");  // the nested symbol wins
  EXPECT_EQ(containing(0x100003), "inner");
  EXPECT_EQ(containing(0x100004), "_start");  // past inner, still inside _start
  EXPECT_EQ(containing(0x100005), "label");   // zero-sized: only its own address
  EXPECT_EQ(containing(0x100007), "late");
  EXPECT_EQ(containing(0x100008), "<none>");
  EXPECT_EQ(containing(0x0fffff), "<none>");
  EXPECT_EQ(containing(0x101017), "counter_value");
  EXPECT_EQ(containing(0x101018), "<none>");
  EXPECT_EQ(containing(UINT64_MAX), "<none>");
}

TEST_F(ElfLoaderTest, ImageWithoutSymbolsLoads) {
  ElfSpec spec = MinimalSpec();
  spec.symbols.clear();
  absl::StatusOr<GuestImage> image = Load(spec);
  ASSERT_TRUE(image.ok()) << image.status();
  EXPECT_TRUE(image->symbols().empty());
  EXPECT_FALSE(image->SymbolContaining(0x100000).has_value());
}

TEST(GuestImageTest, SortsSymbolsGivenInAnyOrderAndEndSaturates) {
  GuestImage image(0x10, {{.gpa = UINT64_MAX - 1, .memory_size = 16}},
                   {{.name = "b", .address = 0x20, .size = 4}, {.name = "a", .address = 0x10}});
  ASSERT_EQ(image.symbols().size(), 2u);
  EXPECT_EQ(image.symbols()[0].name, "a");
  EXPECT_EQ(image.end(), UINT64_MAX);
  EXPECT_EQ(image.SymbolContaining(0x23)->name, "b");
}

#ifdef PVM_TINY_GUEST_ELF
// The same checks on what the real compiler and ld produce.
TEST_F(ElfLoaderTest, LoadsAnImageLinkedByTheRealToolchain) {
  absl::StatusOr<std::vector<std::byte>> file = ReadImageFile(PVM_TINY_GUEST_ELF, 1 << 20);
  ASSERT_TRUE(file.ok()) << file.status();
  absl::StatusOr<GuestImage> image = Load(*file);
  ASSERT_TRUE(image.ok()) << image.status();

  ASSERT_EQ(image->segments().size(), 2u);
  const LoadedSegment& text = image->segments()[0];
  const LoadedSegment& data = image->segments()[1];
  EXPECT_EQ(text.gpa, 0x100000u);
  EXPECT_TRUE(text.executable);
  EXPECT_FALSE(text.writable);
  EXPECT_EQ(data.gpa, 0x101000u);
  EXPECT_TRUE(data.writable);
  EXPECT_FALSE(data.executable);
  EXPECT_GT(data.memory_size, data.file_size);  // has a .bss

  std::optional<GuestSymbol> start = image->FindSymbol("_start");
  ASSERT_TRUE(start.has_value());
  EXPECT_TRUE(start->is_function);
  EXPECT_EQ(image->entry(), start->address);
  EXPECT_GT(start->size, 0u);
  EXPECT_EQ(image->SymbolContaining(start->address + start->size - 1)->name, "_start");

  std::optional<GuestSymbol> table = image->FindSymbol("table");
  ASSERT_TRUE(table.has_value());
  EXPECT_FALSE(table->is_function);
  EXPECT_EQ(table->size, 32u);
  absl::StatusOr<uint64_t> third = memory_->ReadObject<uint64_t>(table->address + 16);
  ASSERT_TRUE(third.ok());
  EXPECT_EQ(*third, 0x33u);

  std::optional<GuestSymbol> counter = image->FindSymbol("counter_value");
  ASSERT_TRUE(counter.has_value());
  EXPECT_GE(counter->address, data.gpa + data.file_size);  // lives in .bss
  absl::StatusOr<uint64_t> zero = memory_->ReadObject<uint64_t>(counter->address);
  ASSERT_TRUE(zero.ok());
  EXPECT_EQ(*zero, 0u);  // zero-filled over the poison
}
#endif

// ---- Malformed images: every one is INVALID_ARGUMENT with a precise message --

TEST_F(ElfLoaderTest, TruncatedIdentificationOrHeader) {
  ExpectInvalid(std::vector<std::byte>{}, "truncated ELF file: 0 bytes");
  std::vector<std::byte> file = BuildElf(MinimalSpec());
  ExpectInvalid({file.begin(), file.begin() + 10},
                "10 bytes, too short for the ELF identification (16 bytes)");
  ExpectInvalid({file.begin(), file.begin() + 40},
                "40 bytes, too short for the ELF64 header (64 bytes)");
}

TEST_F(ElfLoaderTest, TruncatedProgramHeadersOrSegmentData) {
  std::vector<std::byte> file = BuildElf(MinimalSpec());
  ExpectInvalid({file.begin(), file.begin() + 64 + 56 + 20},
                "program header table [0x40, 0xb0) lies beyond the end of the file (0x8c bytes)");
  // Just after the program headers: the first segment's bytes are missing.
  ExpectInvalid({file.begin(), file.begin() + 64 + 2 * 56},
                "segment 0: file range [0xb0, 0xb8) lies beyond the end of the file (0xb0 bytes)");
}

TEST_F(ElfLoaderTest, EveryTruncationBeforeTheLastSegmentByteFails) {
  ElfSpec spec = MinimalSpec();
  spec.symbols.clear();  // without a symbol table the segment data ends the file
  std::vector<std::byte> file = BuildElf(spec);
  for (size_t len = 0; len < file.size(); ++len) {
    absl::StatusOr<GuestImage> image = Load({file.begin(), file.begin() + len});
    ASSERT_FALSE(image.ok()) << len;
    EXPECT_EQ(image.status().code(), absl::StatusCode::kInvalidArgument) << len;
  }
  EXPECT_TRUE(Load(file).ok());
}

TEST_F(ElfLoaderTest, NotElf) {
  std::vector<std::byte> file = BuildElf(MinimalSpec());
  file[1] = std::byte{'X'};
  ExpectInvalid(file, "not an ELF file (bad magic number)");
  ExpectInvalid(std::vector<std::byte>(100, std::byte{0}), "not an ELF file");
}

TEST_F(ElfLoaderTest, WrongClass) {
  ElfSpec spec = MinimalSpec();
  spec.elf_class = ELFCLASS32;
  ExpectInvalid(spec, "wrong ELF class ELFCLASS32 (1); expected ELFCLASS64");
  spec.elf_class = 7;
  ExpectInvalid(spec, "wrong ELF class an invalid class (7)");
}

TEST_F(ElfLoaderTest, WrongByteOrder) {
  ElfSpec spec = MinimalSpec();
  spec.data_encoding = ELFDATA2MSB;
  ExpectInvalid(spec, "wrong ELF data encoding 2; expected ELFDATA2LSB (little-endian)");
}

TEST_F(ElfLoaderTest, WrongMachine) {
  ElfSpec spec = MinimalSpec();
  spec.machine = EM_AARCH64;
  ExpectInvalid(spec, "wrong machine 183; expected EM_X86_64 (62)");
  spec.machine = EM_386;
  ExpectInvalid(spec, "wrong machine 3; expected EM_X86_64 (62)");
}

TEST_F(ElfLoaderTest, WrongType) {
  ElfSpec spec = MinimalSpec();
  spec.type = ET_DYN;
  ExpectInvalid(spec, "wrong ELF type ET_DYN (position-independent) (3); expected ET_EXEC (2)");
  spec.type = ET_REL;
  ExpectInvalid(spec, "wrong ELF type ET_REL");
  spec.type = ET_CORE;
  ExpectInvalid(spec, "wrong ELF type ET_CORE (4)");
}

TEST_F(ElfLoaderTest, SegmentBeyondTheWindow) {
  ElfSpec spec = MinimalSpec();
  spec.segments[1].vaddr = 0x200000;
  spec.segments[1].memsz = 0x8e00000;
  ExpectInvalid(spec,
                "segment 1 [0x200000, 0x9000000) ends beyond guest memory window "
                "[0x100000, 0x3f0000)");
  // One byte too many at the ceiling.
  spec.segments[1].vaddr = 0x3f0000 - 0x100;
  spec.segments[1].memsz = 0x101;
  ExpectInvalid(spec, "segment 1 [0x3eff00, 0x3f0001) ends beyond guest memory window");
  EXPECT_TRUE(AllPoison(0x100000, 0x10));  // segment 0 was valid but not written
}

TEST_F(ElfLoaderTest, SegmentBelowTheWindow) {
  ElfSpec spec = MinimalSpec();
  spec.segments[0].vaddr = 0x1000;  // over the boot page tables
  spec.entry = 0x1000;
  ExpectInvalid(spec, "segment 0 [0x1000, 0x1008) starts below guest memory window [0x100000");
  EXPECT_TRUE(AllPoison(0x1000, 0x10));
}

TEST_F(ElfLoaderTest, SegmentBeyondMemoryItself) {
  ElfSpec spec = MinimalSpec();
  spec.segments[1].vaddr = 0x40000000;
  ExpectInvalid(spec, "segment 1 [0x40000000, 0x40000100) ends beyond guest memory window");
}

TEST_F(ElfLoaderTest, OverlappingSegments) {
  ElfSpec spec = MinimalSpec();
  spec.segments[1].vaddr = 0x100004;
  ExpectInvalid(spec, "segments 0 [0x100000, 0x100008) and 1 [0x100004, 0x100104) overlap");
  EXPECT_TRUE(AllPoison(0x100000, 0x200));

  // Same start; and a segment wholly inside another, listed first.
  spec.segments[1].vaddr = 0x100000;
  ExpectInvalid(spec, "segments 0 [0x100000, 0x100008) and 1 [0x100000, 0x100100) overlap");
  ElfSpec inside = MinimalSpec();
  inside.segments[1].vaddr = 0x100000;
  inside.segments[1].memsz = 0x2000;
  std::swap(inside.segments[0], inside.segments[1]);
  ExpectInvalid(inside, "segments 0 [0x100000, 0x102000) and 1 [0x100000, 0x100008) overlap");

  // Touching is not overlapping.
  spec.segments[1].vaddr = 0x100008;
  EXPECT_TRUE(Load(spec).ok());
}

TEST_F(ElfLoaderTest, OverlapAmongManySegmentsIsFound) {
  ElfSpec spec = MinimalSpec();
  for (int i = 0; i < 10; ++i) {
    spec.segments.push_back({.flags = PF_R, .vaddr = 0x200000 + i * 0x1000u, .memsz = 0x1000});
  }
  spec.segments.push_back({.flags = PF_R, .vaddr = 0x204fff, .memsz = 2});
  ExpectInvalid(spec, "segments 6 [0x204000, 0x205000) and 12 [0x204fff, 0x205001) overlap");
}

TEST_F(ElfLoaderTest, HugeSizes) {
  ElfSpec spec = MinimalSpec();
  spec.segments[1].memsz_override = UINT64_MAX;
  ExpectInvalid(spec,
                "segment 1 [0x101000, 0x101000 + 0xffffffffffffffff) wraps around the 64-bit "
                "address space");

  spec = MinimalSpec();
  spec.segments[1].memsz_override = 0xffffffff00000000ull;
  ExpectInvalid(spec, "segment 1 [0x101000, 0xffffffff00101000) ends beyond guest memory window");

  spec = MinimalSpec();
  spec.segments[1].vaddr = UINT64_MAX - 0x10;
  ExpectInvalid(spec, "wraps around the 64-bit address space");

  spec = MinimalSpec();
  spec.segments[1].filesz = UINT64_MAX;
  spec.segments[1].memsz_override = UINT64_MAX;
  ExpectInvalid(spec,
                "segment 1: file range [0xc0, 0xc0 + 0xffffffffffffffff) lies beyond the "
                "end of the file");

  spec = MinimalSpec();
  spec.segments[0].offset = UINT64_MAX - 3;
  ExpectInvalid(spec,
                "segment 0: file range [0xfffffffffffffffc, 0xfffffffffffffffc + 0x8) lies "
                "beyond the end of the file");

  spec = MinimalSpec();
  spec.phoff = UINT64_MAX - 8;
  ExpectInvalid(spec,
                "program header table [0xfffffffffffffff7, 0xfffffffffffffff7 + 0x70) lies "
                "beyond the end of the file");
}

TEST_F(ElfLoaderTest, TooManyProgramHeaders) {
  ElfSpec spec = MinimalSpec();
  spec.phnum = 1000;
  ExpectInvalid(spec, "1000 program headers; at most 64 are accepted");
  spec.phnum = 65;
  ExpectInvalid(spec, "65 program headers; at most 64 are accepted");
  // PN_XNUM defers the count to section 0: only for 65535 or more headers.
  spec.phnum = PN_XNUM;
  ExpectInvalid(spec, "e_phnum is PN_XNUM");
}

TEST_F(ElfLoaderTest, WrongProgramHeaderEntrySize) {
  ElfSpec spec = MinimalSpec();
  spec.phentsize = 32;
  ExpectInvalid(spec, "program header entry size 32; expected 56");
}

TEST_F(ElfLoaderTest, FileSizeLargerThanMemorySize) {
  ElfSpec spec = MinimalSpec();
  spec.segments[1].memsz_override = 4;
  ExpectInvalid(spec, "segment 1: file size 0x8 exceeds memory size 0x4");
}

TEST_F(ElfLoaderTest, EntryOutsideCode) {
  ElfSpec spec = MinimalSpec();
  spec.entry = 0x101000;  // the data segment: not executable
  ExpectInvalid(spec, "entry point 0x101000 is not inside an executable (PF_X) segment");
  spec.entry = 0x100008;  // one past the code segment
  ExpectInvalid(spec, "entry point 0x100008 is not inside an executable (PF_X) segment");
  spec.entry = 0;
  ExpectInvalid(spec, "entry point 0x0 is not inside");
  spec.entry = 0x100007;  // the last code byte is fine
  EXPECT_TRUE(Load(spec).ok());
}

TEST_F(ElfLoaderTest, ZeroSegments) {
  ElfSpec spec = MinimalSpec();
  spec.segments.clear();
  ExpectInvalid(spec, "no program headers, so no PT_LOAD segments to load");

  spec.segments.push_back({.type = PT_NOTE, .vaddr = 0x100000, .data = Bytes({1, 2, 3, 4})});
  ExpectInvalid(spec, "no PT_LOAD segment with a non-zero memory size");

  spec.segments = {{.type = PT_LOAD, .vaddr = 0x100000}};
  ExpectInvalid(spec, "no PT_LOAD segment with a non-zero memory size");
}

TEST_F(ElfLoaderTest, WindowThatDoesNotFitMemory) {
  absl::StatusOr<GuestImage> image =
      Load(BuildElf(MinimalSpec()), LoadWindow{.floor = 0x100000, .ceiling = kMemorySize + 1});
  EXPECT_EQ(image.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(image.status().message(),
              HasSubstr("load window [0x100000, 0x400001) does not fit guest memory of 0x400000"));
  image = Load(BuildElf(MinimalSpec()), LoadWindow{.floor = 0x200000, .ceiling = 0x100000});
  EXPECT_EQ(image.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(ElfLoaderTest, CorruptSymbolTableDropsSymbolsNotTheImage) {
  std::vector<std::byte> file = BuildElf(MinimalSpec());
  // Point the section headers past the end of the file.
  Elf64_Ehdr ehdr;
  std::memcpy(&ehdr, file.data(), sizeof(ehdr));
  ehdr.e_shoff = file.size() + 0x1000;
  std::memcpy(file.data(), &ehdr, sizeof(ehdr));
  absl::StatusOr<GuestImage> image = Load(file);
  ASSERT_TRUE(image.ok()) << image.status();
  EXPECT_TRUE(image->symbols().empty());
}

// ---- ReadImageFile -------------------------------------------------------------

class ReadImageFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = ::testing::TempDir() + "/pvm_image_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    for (const char* name : {"img", "fifo"}) unlink((dir_ + "/" + name).c_str());
    rmdir(dir_.c_str());
  }
  std::string Write(const std::string& content) {
    const std::string path = dir_ + "/img";
    std::ofstream(path, std::ios::binary) << content;
    return path;
  }
  std::string dir_;
};

TEST_F(ReadImageFileTest, ReadsTheWholeFile) {
  const std::string path =
      Write(std::string("\x7f"
                        "ELF\0\1\2",
                        7));
  absl::StatusOr<std::vector<std::byte>> bytes = ReadImageFile(path, 7);
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  EXPECT_EQ(*bytes, Bytes({0x7f, 'E', 'L', 'F', 0, 1, 2}));
}

TEST_F(ReadImageFileTest, RefusesFilesOverTheLimit) {
  const std::string path = Write(std::string(100, 'x'));
  absl::StatusOr<std::vector<std::byte>> bytes = ReadImageFile(path, 99);
  EXPECT_EQ(bytes.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bytes.status().message(),
              HasSubstr(path + " is 100 bytes, larger than the limit of 99 bytes"));
}

TEST_F(ReadImageFileTest, MissingFile) {
  absl::StatusOr<std::vector<std::byte>> bytes = ReadImageFile(dir_ + "/absent", 100);
  EXPECT_EQ(bytes.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bytes.status().message(),
              HasSubstr("cannot open " + dir_ + "/absent: No such file or directory"));
}

TEST_F(ReadImageFileTest, UnreadablePath) {
  // Runs as root too (unlike the mode-0 file below): a file used as a directory.
  const std::string path = Write("x") + "/image";
  absl::StatusOr<std::vector<std::byte>> bytes = ReadImageFile(path, 100);
  EXPECT_EQ(bytes.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bytes.status().message(), HasSubstr("cannot open " + path + ": Not a directory"));
}

TEST_F(ReadImageFileTest, UnreadableFile) {
  if (geteuid() == 0) GTEST_SKIP() << "root reads files regardless of their mode";
  const std::string path = Write("secret");
  ASSERT_EQ(chmod(path.c_str(), 0), 0);
  absl::StatusOr<std::vector<std::byte>> bytes = ReadImageFile(path, 100);
  EXPECT_EQ(bytes.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bytes.status().message(), HasSubstr("Permission denied"));
}

TEST_F(ReadImageFileTest, DirectoriesAndFifosAreNotImages) {
  absl::StatusOr<std::vector<std::byte>> bytes = ReadImageFile(dir_, 100);
  EXPECT_EQ(bytes.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bytes.status().message(), HasSubstr(dir_ + " is not a regular file"));

  // Opening a FIFO without a writer would block: it must be refused at once.
  const std::string fifo = dir_ + "/fifo";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  bytes = ReadImageFile(fifo, 100);
  EXPECT_EQ(bytes.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bytes.status().message(), HasSubstr("is not a regular file"));
}

TEST_F(ReadImageFileTest, EmptyFileReadsAsEmptyAndFailsToLoad) {
  const std::string path = Write("");
  absl::StatusOr<std::vector<std::byte>> bytes = ReadImageFile(path, 100);
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  EXPECT_TRUE(bytes->empty());
}

}  // namespace
}  // namespace pvm::vmm
