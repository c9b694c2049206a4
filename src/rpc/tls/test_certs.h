// Certificates for the TLS tests, made with OpenSSL's API: a CA, leaf
// certificates with chosen CN, SANs, validity and serial, and CRLs.
#pragma once

#include <gtest/gtest.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace etcd::rpc::tls::testing {

namespace fs = std::filesystem;

// A key and certificate made with OpenSSL's API, written as PEM files.
struct Issued {
  std::shared_ptr<EVP_PKEY> key;
  std::shared_ptr<X509> cert;
  std::string cert_file;
  std::string key_file;
};

struct CertSpec {
  std::string cn = "";
  std::vector<std::string> sans = {};  // "DNS:x" / "IP:x"
  long not_before_s = -3600;           // relative to now
  long not_after_s = 86400;
  long serial = 0;  // 0: next
  bool ca = false;
  bool rsa = false;
};

class CertFactory {
 public:
  explicit CertFactory(fs::path dir) : dir_(std::move(dir)) {}

  Issued make(const std::string& name, const CertSpec& spec, const Issued* issuer) {
    Issued out;
    EVP_PKEY* k = spec.rsa ? EVP_RSA_gen(2048) : EVP_EC_gen("P-256");
    out.key.reset(k, EVP_PKEY_free);
    out.cert.reset(X509_new(), X509_free);
    X509* c = out.cert.get();
    X509_set_version(c, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(c), spec.serial != 0 ? spec.serial : ++serial_);
    X509_gmtime_adj(X509_getm_notBefore(c), spec.not_before_s);
    X509_gmtime_adj(X509_getm_notAfter(c), spec.not_after_s);
    X509_NAME* n = X509_get_subject_name(c);
    X509_NAME_add_entry_by_txt(n, "O", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>("etcd-test"), -1, -1, 0);
    if (!spec.cn.empty()) {
      X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
                                 reinterpret_cast<const unsigned char*>(spec.cn.c_str()), -1, -1,
                                 0);
    }
    X509* issuer_cert = issuer != nullptr ? issuer->cert.get() : c;
    EVP_PKEY* issuer_key = issuer != nullptr ? issuer->key.get() : k;
    X509_set_issuer_name(c, X509_get_subject_name(issuer_cert));
    X509_set_pubkey(c, k);
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer_cert, c, nullptr, nullptr, 0);
    std::vector<std::pair<int, std::string>> exts;
    if (spec.ca) {
      exts = {{NID_basic_constraints, "critical,CA:TRUE"},
              {NID_key_usage, "critical,keyCertSign,cRLSign"},
              {NID_subject_key_identifier, "hash"}};
    } else {
      exts = {{NID_basic_constraints, "critical,CA:FALSE"},
              {NID_key_usage, "critical,digitalSignature,keyEncipherment"},
              {NID_ext_key_usage, "serverAuth,clientAuth"}};
      std::string sans;
      for (const auto& s : spec.sans) sans += (sans.empty() ? "" : ",") + s;
      if (!sans.empty()) exts.emplace_back(NID_subject_alt_name, sans);
    }
    for (const auto& [nid, value] : exts) {
      X509_EXTENSION* e = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
      EXPECT_NE(e, nullptr) << value;
      X509_add_ext(c, e, -1);
      X509_EXTENSION_free(e);
    }
    EXPECT_GT(X509_sign(c, issuer_key, EVP_sha256()), 0);
    out.cert_file = (dir_ / (name + ".pem")).string();
    out.key_file = (dir_ / (name + "-key.pem")).string();
    write(out);
    return out;
  }

  // Rewrites the files (rotation tests).
  static void write(const Issued& i) {
    FILE* f = std::fopen(i.cert_file.c_str(), "w");
    PEM_write_X509(f, i.cert.get());
    std::fclose(f);
    f = std::fopen(i.key_file.c_str(), "w");
    PEM_write_PrivateKey(f, i.key.get(), nullptr, nullptr, 0, nullptr, nullptr);
    std::fclose(f);
  }

  // A CRL of `ca` revoking `serials`, PEM or DER.
  std::string crl(const Issued& ca, const std::vector<long>& serials, bool der) {
    X509_CRL* crl = X509_CRL_new();
    X509_CRL_set_version(crl, 1);
    X509_CRL_set_issuer_name(crl, X509_get_subject_name(ca.cert.get()));
    ASN1_TIME* t = X509_gmtime_adj(nullptr, -60);
    X509_CRL_set1_lastUpdate(crl, t);
    X509_gmtime_adj(t, 86400);
    X509_CRL_set1_nextUpdate(crl, t);
    ASN1_TIME_free(t);
    for (long s : serials) {
      X509_REVOKED* r = X509_REVOKED_new();
      ASN1_INTEGER* serial = ASN1_INTEGER_new();
      ASN1_INTEGER_set(serial, s);
      X509_REVOKED_set_serialNumber(r, serial);
      ASN1_INTEGER_free(serial);
      ASN1_TIME* when = X509_gmtime_adj(nullptr, -30);
      X509_REVOKED_set_revocationDate(r, when);
      ASN1_TIME_free(when);
      X509_CRL_add0_revoked(crl, r);
    }
    X509_CRL_sort(crl);
    EXPECT_GT(X509_CRL_sign(crl, ca.key.get(), EVP_sha256()), 0);
    std::string path = (dir_ / (der ? "crl.der" : "crl.pem")).string();
    FILE* f = std::fopen(path.c_str(), "wb");
    if (der) {
      i2d_X509_CRL_fp(f, crl);
    } else {
      PEM_write_X509_CRL(f, crl);
    }
    std::fclose(f);
    X509_CRL_free(crl);
    return path;
  }

 private:
  fs::path dir_;
  long serial_ = 100;
};

}  // namespace etcd::rpc::tls::testing
