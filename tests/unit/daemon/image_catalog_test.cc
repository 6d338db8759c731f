#include "daemon/vmm/image_catalog.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace pvm::vmm {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

class ImageCatalogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("pvm-catalog-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    for (const char* file : {"hello.elf", "smp.elf", "notes.txt", "Bad Name.elf"}) {
      std::ofstream(dir_ / file) << "x";
    }
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(ImageCatalogTest, ListsOnlyPlainlyNamedElfFiles) {
  EXPECT_THAT(ImageCatalog(dir_.string()).BuiltinNames(), ElementsAre("hello", "smp"));
}

TEST_F(ImageCatalogTest, ResolvesBuiltinsAndAbsolutePaths) {
  const ImageCatalog catalog(dir_.string());
  EXPECT_EQ(*catalog.Resolve("builtin:hello"), (dir_ / "hello.elf").string());
  EXPECT_EQ(*catalog.Resolve("/srv/guests/x.elf"), "/srv/guests/x.elf");
}

TEST_F(ImageCatalogTest, RefusesWhatItCannotResolve) {
  const ImageCatalog catalog(dir_.string());
  const absl::StatusOr<std::string> unknown = catalog.Resolve("builtin:nope");
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(unknown.status().message()), HasSubstr("built-in guests: hello, smp"));
  EXPECT_FALSE(catalog.Resolve("builtin:../../etc/passwd").ok());
  EXPECT_FALSE(catalog.Resolve("builtin:").ok());
  EXPECT_FALSE(catalog.Resolve("guest.elf").ok());
  EXPECT_FALSE(catalog.Resolve("").ok());
}

}  // namespace
}  // namespace pvm::vmm
