#include "rpc/http/http.h"

#include <gtest/gtest.h>

namespace etcd::rpc::http {
namespace {

class Recorder : public Responder {
 public:
  void respond(Response r) override { got = std::move(r); }
  void start_stream(int, std::string, Headers) override {}
  bool write(std::string) override { return true; }
  void finish() override {}
  void on_cancel(std::function<void()>) override {}
  bool cancelled() const override { return false; }
  std::optional<Response> got;
};

TEST(HttpRequest, QueryParams) {
  Request r;
  r.query = "exclude=NOSPACE&verbose&exclude=CORRUPT&k=a%2Fb+c";
  EXPECT_EQ(r.query_param("exclude"), "NOSPACE");
  EXPECT_EQ(r.query_param("verbose"), "");
  EXPECT_EQ(r.query_param("missing"), std::nullopt);
  EXPECT_EQ(r.query_params("exclude"), (std::vector<std::string>{"NOSPACE", "CORRUPT"}));
  EXPECT_EQ(r.query_param("k"), "a/b c");
  EXPECT_EQ(url_decode("%zz%4"), "%zz%4");
}

TEST(HttpRouter, ExactThenLongestPrefixThen404) {
  Router router;
  std::string hit;
  FunctionHandler exact([&](Request, std::shared_ptr<Responder>) { hit = "exact"; });
  FunctionHandler v3([&](Request, std::shared_ptr<Responder>) { hit = "v3"; });
  FunctionHandler v3kv([&](Request, std::shared_ptr<Responder>) { hit = "v3kv"; });
  router.add_exact("/health", &exact);
  router.add_prefix("/v3/", &v3);
  router.add_prefix("/v3/kv/", &v3kv);
  auto rec = std::make_shared<Recorder>();
  Request r;
  r.path = "/health";
  router.handle(r, rec);
  EXPECT_EQ(hit, "exact");
  r.path = "/v3/kv/range";
  router.handle(r, rec);
  EXPECT_EQ(hit, "v3kv");
  r.path = "/v3/watch";
  router.handle(r, rec);
  EXPECT_EQ(hit, "v3");
  r.path = "/healthz";
  router.handle(r, rec);
  ASSERT_TRUE(rec->got.has_value());
  EXPECT_EQ(rec->got->status, 404);
  EXPECT_EQ(rec->got->body, "404 page not found\n");
}

}  // namespace
}  // namespace etcd::rpc::http
