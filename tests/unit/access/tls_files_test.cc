// The TCP listener's PEM files checked at start-up: each kind of bad file is an
// error naming the option and the file. Certificates are made here with OpenSSL.
#include "daemon/access/tls_files.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>

namespace pvm::access {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

using Key = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using Certificate = std::unique_ptr<X509, decltype(&X509_free)>;

Key NewKey() { return Key(EVP_EC_gen("P-256"), &EVP_PKEY_free); }

// Self-signed, valid from now + `from` to now + `until` (seconds).
Certificate SelfSigned(EVP_PKEY* key, const char* common_name, long from, long until) {
  Certificate certificate(X509_new(), &X509_free);
  X509_set_version(certificate.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(certificate.get()), 1);
  X509_gmtime_adj(X509_getm_notBefore(certificate.get()), from);
  X509_gmtime_adj(X509_getm_notAfter(certificate.get()), until);
  X509_set_pubkey(certificate.get(), key);
  X509_NAME* name = X509_get_subject_name(certificate.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(common_name), -1, -1, 0);
  X509_set_issuer_name(certificate.get(), name);
  X509_sign(certificate.get(), key, EVP_sha256());
  return certificate;
}

std::string Pem(X509* certificate) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), &BIO_free);
  PEM_write_bio_X509(bio.get(), certificate);
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(size));
}

std::string Pem(EVP_PKEY* key, const char* passphrase = nullptr) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), &BIO_free);
  if (passphrase == nullptr) {
    PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr);
  } else {
    PEM_write_bio_PrivateKey(bio.get(), key, EVP_aes_256_cbc(), nullptr, 0, nullptr,
                             const_cast<char*>(passphrase));
  }
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(size));
}

class TlsFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/pvm-tls-test-XXXXXX";
    directory_ = mkdtemp(pattern);
    Key ca_key = NewKey();
    Write("ca.pem", Pem(SelfSigned(ca_key.get(), "test CA", 0, 3600).get()));
    Write("server.pem", Pem(SelfSigned(server_key_.get(), "pvmd", 0, 3600).get()));
    Write("server.key", Pem(server_key_.get()));
  }
  void TearDown() override { std::filesystem::remove_all(directory_); }

  std::string Write(const std::string& name, const std::string& content) {
    const std::string path = directory_ + "/" + name;
    std::ofstream(path, std::ios::binary) << content;
    return path;
  }
  std::string Path(const std::string& name) const { return directory_ + "/" + name; }
  absl::StatusOr<ServerTlsFiles> Load(const std::string& cert, const std::string& key,
                                      const std::string& ca) {
    return LoadServerTlsFiles(Path(cert), Path(key), Path(ca));
  }

  std::string directory_;
  Key server_key_ = NewKey();
};

TEST_F(TlsFilesTest, GoodFilesComeBackWithTheSubject) {
  absl::StatusOr<ServerTlsFiles> files = Load("server.pem", "server.key", "ca.pem");
  ASSERT_TRUE(files.ok()) << files.status();
  EXPECT_EQ(files->subject, "CN=pvmd");
  EXPECT_THAT(files->cert_chain_pem, HasSubstr("-----BEGIN CERTIFICATE-----"));
  EXPECT_THAT(files->key_pem, HasSubstr("PRIVATE KEY-----"));
  EXPECT_THAT(files->client_ca_pem, HasSubstr("-----BEGIN CERTIFICATE-----"));
  EXPECT_FALSE(files->not_after.empty());
}

TEST_F(TlsFilesTest, AMissingFileIsNamed) {
  const absl::Status status = Load("server.pem", "missing.key", "ca.pem").status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), AllOf(HasSubstr("cannot read --tls-key"), HasSubstr("missing.key"),
                                      HasSubstr("No such file")));
}

TEST_F(TlsFilesTest, AnUnreadableFileIsNamed) {
  if (geteuid() == 0) GTEST_SKIP() << "root reads a mode-0 file";
  chmod(Path("ca.pem").c_str(), 0);
  const absl::Status status = Load("server.pem", "server.key", "ca.pem").status();
  EXPECT_THAT(status.message(),
              AllOf(HasSubstr("cannot read --tls-client-ca"), HasSubstr("Permission denied")));
}

TEST_F(TlsFilesTest, NoCertificateInTheFile) {
  Write("garbage.pem", "not a certificate\n");
  for (const auto& [cert, ca, option] : {std::tuple{"garbage.pem", "ca.pem", "--tls-cert"},
                                         std::tuple{"server.pem", "garbage.pem", "--tls-client-ca"},
                                         // A key where the certificate should be.
                                         std::tuple{"server.key", "ca.pem", "--tls-cert"}}) {
    const absl::Status status = Load(cert, "server.key", ca).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << cert << " " << ca;
    EXPECT_THAT(status.message(), AllOf(HasSubstr(option), HasSubstr("holds no PEM certificate")));
  }
}

TEST_F(TlsFilesTest, TheKeyOfAnotherCertificate) {
  Key other = NewKey();
  Write("other.key", Pem(other.get()));
  const absl::Status status = Load("server.pem", "other.key", "ca.pem").status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("is not the key of the certificate in --tls-cert"));
}

TEST_F(TlsFilesTest, AnEncryptedKeyIsRefusedWithoutAPrompt) {
  Write("encrypted.key", Pem(server_key_.get(), "secret"));
  const absl::Status status = Load("server.pem", "encrypted.key", "ca.pem").status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), AllOf(HasSubstr("--tls-key"), HasSubstr("passphrase")));
}

TEST_F(TlsFilesTest, AnExpiredOrNotYetValidCertificate) {
  Write("expired.pem", Pem(SelfSigned(server_key_.get(), "pvmd", -7200, -3600).get()));
  const absl::Status expired = Load("expired.pem", "server.key", "ca.pem").status();
  EXPECT_EQ(expired.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(expired.message(), AllOf(HasSubstr("CN=pvmd"), HasSubstr("expired on")));

  Write("future.pem", Pem(SelfSigned(server_key_.get(), "pvmd", 3600, 7200).get()));
  const absl::Status future = Load("future.pem", "server.key", "ca.pem").status();
  EXPECT_THAT(future.message(), HasSubstr("is not valid before"));
}

}  // namespace
}  // namespace pvm::access
