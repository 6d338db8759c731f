#include "daemon/access/tls_files.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <vector>

#include "absl/strings/str_cat.h"

namespace pvm::access {
namespace {

using Bio = std::unique_ptr<BIO, decltype(&BIO_free)>;
using Certificate = std::unique_ptr<X509, decltype(&X509_free)>;
using PrivateKey = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;

// OpenSSL's reason for the last failure (and an empty queue for the next one).
std::string OpenSslError() {
  std::string text;
  while (unsigned long code = ERR_get_error()) {
    char buffer[256];
    ERR_error_string_n(code, buffer, sizeof(buffer));
    absl::StrAppend(&text, text.empty() ? "" : "; ", buffer);
  }
  return text.empty() ? "no detail from OpenSSL" : text;
}

absl::StatusOr<std::string> ReadFile(const std::string& path, const char* option) {
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot read ", option, " ", path, ": ", std::strerror(errno)));
  }
  std::ostringstream content;
  content << file.rdbuf();
  if (file.bad()) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot read ", option, " ", path, ": ", std::strerror(errno)));
  }
  return content.str();
}

Bio MemoryBio(const std::string& pem) {
  return Bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), &BIO_free);
}

// Every certificate in `pem`, in order; INVALID_ARGUMENT when there is none.
absl::StatusOr<std::vector<Certificate>> ParseCertificates(const std::string& pem,
                                                           const char* option,
                                                           const std::string& path) {
  Bio bio = MemoryBio(pem);
  std::vector<Certificate> certificates;
  while (X509* certificate = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    certificates.emplace_back(certificate, &X509_free);
  }
  ERR_clear_error();  // the end of the input reads as an error too
  if (certificates.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        option, " ", path, " holds no PEM certificate (\"-----BEGIN CERTIFICATE-----\")"));
  }
  return certificates;
}

// A passphrase callback that has none: an encrypted key fails instead of prompting
// on pvmd's terminal.
int NoPassphrase(char*, int, int, void*) { return -1; }

std::string NameLine(const X509_NAME* name) {
  Bio bio(BIO_new(BIO_s_mem()), &BIO_free);
  X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253);
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(size));
}

std::string TimeLine(const ASN1_TIME* time) {
  Bio bio(BIO_new(BIO_s_mem()), &BIO_free);
  ASN1_TIME_print(bio.get(), time);
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(size));
}

}  // namespace

absl::StatusOr<ServerTlsFiles> LoadServerTlsFiles(const std::string& cert_path,
                                                  const std::string& key_path,
                                                  const std::string& client_ca_path) {
  constexpr const char* kCert = "--tls-cert (tcp.tls_cert)";
  constexpr const char* kKey = "--tls-key (tcp.tls_key)";
  constexpr const char* kClientCa = "--tls-client-ca (tcp.tls_client_ca)";
  ServerTlsFiles files;
  absl::StatusOr<std::string> cert = ReadFile(cert_path, kCert);
  if (!cert.ok()) return cert.status();
  absl::StatusOr<std::string> key = ReadFile(key_path, kKey);
  if (!key.ok()) return key.status();
  absl::StatusOr<std::string> client_ca = ReadFile(client_ca_path, kClientCa);
  if (!client_ca.ok()) return client_ca.status();

  absl::StatusOr<std::vector<Certificate>> chain = ParseCertificates(*cert, kCert, cert_path);
  if (!chain.ok()) return chain.status();
  absl::StatusOr<std::vector<Certificate>> cas =
      ParseCertificates(*client_ca, kClientCa, client_ca_path);
  if (!cas.ok()) return cas.status();

  Bio key_bio = MemoryBio(*key);
  PrivateKey private_key(PEM_read_bio_PrivateKey(key_bio.get(), nullptr, &NoPassphrase, nullptr),
                         &EVP_PKEY_free);
  if (private_key == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        kKey, " ", key_path, " holds no usable PEM private key (an encrypted key needs its ",
        "passphrase removed, e.g. openssl pkey -in KEY -out KEY.plain): ", OpenSslError()));
  }
  X509* leaf = chain->front().get();
  if (X509_check_private_key(leaf, private_key.get()) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError(absl::StrCat(
        kKey, " ", key_path, " is not the key of the certificate in ", kCert, " ", cert_path));
  }
  files.subject = NameLine(X509_get_subject_name(leaf));
  files.not_after = TimeLine(X509_get0_notAfter(leaf));
  if (X509_cmp_current_time(X509_get0_notAfter(leaf)) <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(kCert, " ", cert_path, " (", files.subject, ") expired on ", files.not_after));
  }
  if (X509_cmp_current_time(X509_get0_notBefore(leaf)) > 0) {
    return absl::InvalidArgumentError(absl::StrCat(kCert, " ", cert_path, " (", files.subject,
                                                   ") is not valid before ",
                                                   TimeLine(X509_get0_notBefore(leaf))));
  }
  files.cert_chain_pem = *std::move(cert);
  files.key_pem = *std::move(key);
  files.client_ca_pem = *std::move(client_ca);
  return files;
}

}  // namespace pvm::access
