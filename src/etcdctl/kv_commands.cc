// get, put, del, txn and compaction, as etcd 3.5's etcdctl has them
// (docs/etcdctl.md).
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <iostream>
#include <map>

#include "etcdctl/cluster_util.h"
#include "etcdctl/global.h"
#include "etcdctl/kv_parse.h"
#include "etcdctl/output/quote.h"
#include "etcdctl/printer.h"

namespace etcd::ctl {
namespace {

using etcdserverpb::DeleteRangeRequest;
using etcdserverpb::DeleteRangeResponse;
using etcdserverpb::PutRequest;
using etcdserverpb::PutResponse;
using etcdserverpb::RangeRequest;
using etcdserverpb::RangeResponse;
using etcdserverpb::TxnRequest;
using etcdserverpb::TxnResponse;

// Standard input, shared by txn's line reader and put's value.
StdinReader& stdin_reader() {
  static StdinReader reader;
  return reader;
}

// clientv3's prefix end: the key with its last byte below 0xff incremented,
// the rest dropped; "\0" (from key) when there is none.
std::string prefix_end(const std::string& key) {
  std::string end = key;
  for (size_t i = end.size(); i-- > 0;) {
    if (static_cast<unsigned char>(end[i]) < 0xff) {
      end[i] = static_cast<char>(static_cast<unsigned char>(end[i]) + 1);
      end.resize(i + 1);
      return end;
    }
  }
  return std::string(1, '\0');
}

constexpr char kGetUse[] = "get [options] <key> [range_end]";
constexpr char kPutUse[] = "put [options] <key> <value> (<value> can also be given from stdin)";
constexpr char kDelUse[] = "del [options] <key> [range_end]";

std::string upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

// ---- get ----

void add_get_flags(Command& cmd) {
  FlagSet& f = cmd.flags();
  f.add(FlagKind::kString, "consistency", "", "l", "Linearizable(l) or Serializable(s)");
  f.add(FlagKind::kString, "order", "", "",
        "Order of results; ASCEND or DESCEND (ASCEND by default)");
  f.add(FlagKind::kString, "sort-by", "", "",
        "Sort target; CREATE, KEY, MODIFY, VALUE, or VERSION");
  f.add(FlagKind::kInt, "limit", "", "0", "Maximum number of results");
  f.add(FlagKind::kBool, "prefix", "", "false", "Get keys with matching prefix");
  f.add(FlagKind::kBool, "from-key", "", "false",
        "Get keys that are greater than or equal to the given key using byte compare");
  f.add(FlagKind::kInt, "rev", "", "0", "Specify the kv revision");
  f.add(FlagKind::kBool, "keys-only", "", "false", "Get only the keys");
  f.add(FlagKind::kBool, "count-only", "", "false", "Get only the count");
  f.add(FlagKind::kBool, "print-value-only", "", "false",
        "Only write values when using the \"simple\" output format");
}

RangeRequest get_op(const Invocation& inv) {
  const auto& args = inv.args;
  if (args.empty()) {
    exit_with_error(kExitBadArgs,
                    "get command needs one argument as key and an optional argument as range_end");
  }
  const bool prefix = inv.get_bool("prefix");
  const bool from_key = inv.get_bool("from-key");
  if (prefix && from_key) {
    exit_with_error(kExitBadArgs,
                    "`--prefix` and `--from-key` cannot be set at the same time, choose one");
  }
  if (inv.get_bool("keys-only") && inv.get_bool("count-only")) {
    exit_with_error(kExitBadArgs,
                    "`--keys-only` and `--count-only` cannot be set at the same time, choose one");
  }
  RangeRequest req;
  const std::string consistency = inv.get_string("consistency");
  if (consistency == "s") {
    req.set_serializable(true);
  } else if (consistency != "l") {
    exit_with_error(kExitBadFeature, "unknown consistency flag " + go_quote(consistency));
  }
  std::string key = args[0];
  if (args.size() > 1) {
    if (prefix || from_key) {
      exit_with_error(kExitBadArgs,
                      "too many arguments, only accept one argument when `--prefix` or "
                      "`--from-key` is set");
    }
    req.set_range_end(args[1]);
  }
  req.set_limit(inv.get_int("limit"));
  if (inv.get_int("rev") > 0) req.set_revision(inv.get_int("rev"));

  const std::string order = inv.get_string("order");
  auto sort_order = RangeRequest::NONE;
  if (upper(order) == "ASCEND") {
    sort_order = RangeRequest::ASCEND;
  } else if (upper(order) == "DESCEND") {
    sort_order = RangeRequest::DESCEND;
  } else if (!order.empty()) {
    exit_with_error(kExitBadFeature, "bad sort order " + order);
  }
  const std::string target = inv.get_string("sort-by");
  auto sort_target = RangeRequest::KEY;
  const std::string t = upper(target);
  if (t == "CREATE") {
    sort_target = RangeRequest::CREATE;
  } else if (t == "KEY") {
    sort_target = RangeRequest::KEY;
  } else if (t == "MODIFY") {
    sort_target = RangeRequest::MOD;
  } else if (t == "VALUE") {
    sort_target = RangeRequest::VALUE;
  } else if (t == "VERSION") {
    sort_target = RangeRequest::VERSION;
  } else if (!t.empty()) {
    exit_with_error(kExitBadFeature, "bad sort target " + target);
  }
  // The server sorts by key anyway: clientv3 asks for no order then.
  if (sort_target == RangeRequest::KEY && sort_order == RangeRequest::ASCEND) {
    sort_order = RangeRequest::NONE;
  }
  req.set_sort_order(sort_order);
  req.set_sort_target(sort_target);

  if (prefix) {
    if (key.empty()) {
      key = std::string(1, '\0');
      req.set_range_end(std::string(1, '\0'));
    } else {
      req.set_range_end(prefix_end(key));
    }
  }
  if (from_key) {
    if (key.empty()) key = std::string(1, '\0');
    req.set_range_end(std::string(1, '\0'));
  }
  req.set_key(key);
  if (inv.get_bool("keys-only")) req.set_keys_only(true);
  if (inv.get_bool("count-only")) req.set_count_only(true);
  return req;
}

void run_get(Invocation& inv) {
  const RangeRequest req = get_op(inv);
  auto c = must_client(inv);
  const Display d = display_from(inv);
  RangeResponse resp;
  check(c->call(&client::Connection::kv, &etcdserverpb::KV::Stub::Range, req, &resp,
                command_deadline(inv), client::Idempotent::kYes));
  if (inv.get_bool("count-only") && d.format != OutputFormat::kFields) {
    exit_with_error(kExitBadArgs, "--count-only is only for `--write-out=fields`");
  }
  const bool value_only = inv.get_bool("print-value-only");
  if (value_only && d.format != OutputFormat::kSimple) {
    exit_with_error(kExitBadArgs, "print-value-only is only for `--write-out=simple`");
  }
  print_get(d, resp, value_only);
}

// ---- put ----

void add_put_flags(Command& cmd) {
  FlagSet& f = cmd.flags();
  f.add(FlagKind::kString, "lease", "", "0", "lease ID (in hexadecimal) to attach to the key");
  f.add(FlagKind::kBool, "prev-kv", "", "false",
        "return the previous key-value pair before modification");
  f.add(FlagKind::kBool, "ignore-value", "", "false", "updates the key using its current value");
  f.add(FlagKind::kBool, "ignore-lease", "", "false", "updates the key using its current lease");
}

// strconv.ParseInt(s, 16, 64)'s error text, or "" when `s` parses.
std::string parse_hex_lease(const std::string& s, int64_t* out) {
  const std::string bad = "strconv.ParseInt: parsing " + go_quote(s);
  size_t i = (!s.empty() && (s[0] == '+' || s[0] == '-')) ? 1 : 0;
  if (i == s.size()) return bad + ": invalid syntax";
  for (size_t k = i; k < s.size(); ++k) {
    if (!std::isxdigit(static_cast<unsigned char>(s[k]))) return bad + ": invalid syntax";
  }
  errno = 0;
  const long long v = std::strtoll(s.c_str(), nullptr, 16);
  if (errno == ERANGE) return bad + ": value out of range";
  *out = v;
  return "";
}

PutRequest put_op(const Invocation& inv) {
  const auto& args = inv.args;
  const std::string usage = "put command needs 1 argument and input from stdin or 2 arguments";
  if (args.empty()) exit_with_error(kExitBadArgs, usage);
  const bool ignore_value = inv.get_bool("ignore-value");
  if (ignore_value && args.size() > 1) {
    exit_with_error(kExitBadArgs, "put command needs only 1 argument when 'ignore-value' is set");
  }
  PutRequest req;
  req.set_key(args[0]);
  if (!ignore_value) {
    if (args.size() > 1) {
      req.set_value(args[1]);
    } else {
      std::string v = stdin_reader().read_rest_unbuffered();
      if (v.empty()) exit_with_error(kExitBadArgs, usage);
      req.set_value(v);
    }
  }
  int64_t lease = 0;
  if (std::string err = parse_hex_lease(inv.get_string("lease"), &lease); !err.empty()) {
    exit_with_error(kExitBadArgs, "bad lease ID (" + err + "), expecting ID in Hex");
  }
  req.set_lease(lease);
  if (inv.get_bool("prev-kv")) req.set_prev_kv(true);
  if (ignore_value) req.set_ignore_value(true);
  if (inv.get_bool("ignore-lease")) req.set_ignore_lease(true);
  return req;
}

void print_put(const Display& d, const PutResponse& r) {
  if (print_whole_response(d, r)) return;
  if (d.format == OutputFormat::kFields) {
    print_header_fields(r.header());
    if (r.has_prev_kv()) print_kv_fields("Prev", r.prev_kv());
    return;
  }
  std::cout << "OK\n";
  if (r.has_prev_kv()) print_kv(d, r.prev_kv());
}

void run_put(Invocation& inv) {
  const PutRequest req = put_op(inv);
  auto c = must_client(inv);
  const Display d = display_from(inv);
  PutResponse resp;
  check(c->call(&client::Connection::kv, &etcdserverpb::KV::Stub::Put, req, &resp,
                command_deadline(inv), client::Idempotent::kNo));
  print_put(d, resp);
}

// ---- del ----

void add_del_flags(Command& cmd) {
  FlagSet& f = cmd.flags();
  f.add(FlagKind::kBool, "prefix", "", "false", "delete keys with matching prefix");
  f.add(FlagKind::kBool, "prev-kv", "", "false", "return deleted key-value pairs");
  f.add(FlagKind::kBool, "from-key", "", "false",
        "delete keys that are greater than or equal to the given key using byte compare");
}

DeleteRangeRequest del_op(const Invocation& inv) {
  const auto& args = inv.args;
  if (args.empty() || args.size() > 2) {
    exit_with_error(kExitBadArgs,
                    "del command needs one argument as key and an optional argument as range_end");
  }
  const bool prefix = inv.get_bool("prefix");
  const bool from_key = inv.get_bool("from-key");
  if (prefix && from_key) {
    exit_with_error(kExitBadArgs,
                    "`--prefix` and `--from-key` cannot be set at the same time, choose one");
  }
  DeleteRangeRequest req;
  std::string key = args[0];
  if (args.size() > 1) {
    if (prefix || from_key) {
      exit_with_error(kExitBadArgs,
                      "too many arguments, only accept one argument when `--prefix` or "
                      "`--from-key` is set");
    }
    req.set_range_end(args[1]);
  }
  if (prefix) {
    if (key.empty()) {
      key = std::string(1, '\0');
      req.set_range_end(std::string(1, '\0'));
    } else {
      req.set_range_end(prefix_end(key));
    }
  }
  if (inv.get_bool("prev-kv")) req.set_prev_kv(true);
  if (from_key) {
    if (key.empty()) key = std::string(1, '\0');
    req.set_range_end(std::string(1, '\0'));
  }
  req.set_key(key);
  return req;
}

void print_del(const Display& d, const DeleteRangeResponse& r) {
  if (print_whole_response(d, r)) return;
  if (d.format == OutputFormat::kFields) {
    print_header_fields(r.header());
    std::cout << "\"Deleted\" : " << r.deleted() << "\n";
    for (const auto& kv : r.prev_kvs()) print_kv_fields("Prev", kv);
    return;
  }
  std::cout << r.deleted() << "\n";
  for (const auto& kv : r.prev_kvs()) print_kv(d, kv);
}

void run_del(Invocation& inv) {
  const DeleteRangeRequest req = del_op(inv);
  auto c = must_client(inv);
  const Display d = display_from(inv);
  DeleteRangeResponse resp;
  check(c->call(&client::Connection::kv, &etcdserverpb::KV::Stub::DeleteRange, req, &resp,
                command_deadline(inv), client::Idempotent::kNo));
  print_del(d, resp);
}

// ---- txn ----

// The put/get/del commands a txn request line is parsed with (etcdctl runs
// a small cobra tree of its own for each line).
struct TxnLineCommands {
  Command root{"txn-request", ""};
  Command* get;
  Command* put;
  Command* del;
  TxnLineCommands() {
    get = &root.add(kGetUse, "", "", [](Invocation&) {});
    add_get_flags(*get);
    put = &root.add(kPutUse, "", "", [](Invocation&) {});
    add_put_flags(*put);
    del = &root.add(kDelUse, "", "", [](Invocation&) {});
    add_del_flags(*del);
  }
};

// cobra's default usage text (not etcdctl's template: a txn line runs a
// cobra tree of its own), which it prints to stderr when a line's flags do
// not parse: "Usage:", the use line, and pflag's default flag listing.
std::string cobra_default_usage(Command& cmd) {
  std::vector<std::pair<std::string, std::string>> lines;  // (flag part, usage part)
  std::map<std::string, const Flag*> flags;
  for (const auto& [name, f] : cmd.flags().all()) flags[name] = &f;
  Flag help;
  help.name = "help";
  help.shorthand = "h";
  help.kind = FlagKind::kBool;
  help.default_value = "false";
  help.usage = "help for " + cmd.name();
  flags["help"] = &help;
  size_t width = 0;
  for (const auto& [name, f] : flags) {
    std::string left =
        f->shorthand.empty() ? "      --" + name : "  -" + f->shorthand + ", --" + name;
    if (f->kind == FlagKind::kString) left += " string";
    if (f->kind == FlagKind::kInt) left += " int";
    std::string usage = f->usage;
    const bool zero = f->default_value.empty() || f->default_value == "false" ||
                      (f->kind == FlagKind::kInt && f->default_value == "0");
    if (!zero) {
      usage += f->kind == FlagKind::kString ? " (default " + go_quote(f->default_value) + ")"
                                            : " (default " + f->default_value + ")";
    }
    width = std::max(width, left.size() + 1);  // pflag counts a separator byte
    lines.emplace_back(left, usage);
  }
  std::string out = "Usage:\n   " + cmd.use() + " [flags]\n\nFlags:\n";
  for (const auto& [left, usage] : lines) {
    out += left + " " + std::string(width - left.size(), ' ') + " " + usage + "\n";
  }
  return out;
}

etcdserverpb::RequestOp parse_request_line(const std::string& line) {
  ArgifyResult a = argify(line);
  if (!a.error.empty()) exit_with_error(kExitInvalidInput, a.error);
  if (a.args.size() < 2) exit_with_error(kExitInvalidInput, "invalid txn compare request: " + line);
  const std::string invalid = "invalid txn request: " + line;
  TxnLineCommands cmds;
  // cobra's command lookup, prefix matching on (as etcdctl sets it).
  Command* cmd = nullptr;
  int matches = 0;
  for (Command* c : {cmds.del, cmds.get, cmds.put}) {
    if (c->name() == a.args[0]) {
      cmd = c;
      matches = 1;
      break;
    }
    if (c->name().rfind(a.args[0], 0) == 0) {
      cmd = c;
      ++matches;
    }
  }
  if (matches != 1) exit_with_error(kExitInvalidInput, invalid);
  Invocation inv;
  inv.cmd = cmd;
  const std::vector<std::string> rest(a.args.begin() + 1, a.args.end());
  if (!cmd->parse(rest, inv).empty()) {
    std::cerr << cobra_default_usage(*cmd) << "\n";
    exit_with_error(kExitInvalidInput, invalid);
  }
  for (const auto& arg : inv.args) {
    if (arg == "\x01help") exit_with_error(kExitInvalidInput, invalid);
  }
  etcdserverpb::RequestOp op;
  if (cmd == cmds.get) {
    *op.mutable_request_range() = get_op(inv);
  } else if (cmd == cmds.put) {
    *op.mutable_request_put() = put_op(inv);
  } else {
    *op.mutable_request_delete_range() = del_op(inv);
  }
  return op;
}

// Lines up to an empty one; the end of input before it is an error (EOF).
template <class Fn>
void read_block(const Fn& on_line) {
  std::string line;
  while (true) {
    if (!stdin_reader().read_line(line)) exit_with_error(kExitInvalidInput, "EOF");
    const std::string t = go_trim_space(line);
    if (t.empty()) return;
    on_line(t);
  }
}

void print_txn(const Display& d, const TxnResponse& r) {
  if (print_whole_response(d, r)) return;
  if (d.format == OutputFormat::kFields) {
    print_header_fields(r.header());
    std::cout << "\"Succeeded\" : " << (r.succeeded() ? "true" : "false") << "\n";
  } else {
    std::cout << (r.succeeded() ? "SUCCESS" : "FAILURE") << "\n";
  }
  for (const auto& op : r.responses()) {
    if (d.format == OutputFormat::kSimple) std::cout << "\n";
    if (op.has_response_delete_range()) {
      print_del(d, op.response_delete_range());
    } else if (op.has_response_put()) {
      print_put(d, op.response_put());
    } else if (op.has_response_range()) {
      print_get(d, op.response_range(), false);
    }
  }
}

void run_txn(Invocation& inv) {
  if (!inv.args.empty()) exit_with_error(kExitBadArgs, "txn command does not accept argument");
  auto c = must_client(inv);
  const Display d = display_from(inv);
  const bool interactive = inv.get_bool("interactive");
  auto prompt = [&](const char* s) {
    if (interactive) std::cout << s << "\n" << std::flush;
  };
  TxnRequest req;
  try {
    prompt("compares:");
    read_block([&](const std::string& line) {
      CompareResult cmp = parse_compare(line);
      if (!cmp.error.empty()) exit_with_error(kExitInvalidInput, cmp.error);
      *req.add_compare() = cmp.compare;
    });
    prompt("success requests (get, put, del):");
    read_block([&](const std::string& line) { *req.add_success() = parse_request_line(line); });
    prompt("failure requests (get, put, del):");
    read_block([&](const std::string& line) { *req.add_failure() = parse_request_line(line); });
  } catch (const GoPanic& p) {
    go_panic(p.message);
  }
  TxnResponse resp;
  // etcdctl commits a txn without a deadline.
  check(c->call(&client::Connection::kv, &etcdserverpb::KV::Stub::Txn, req, &resp,
                client::Deadline::max(), client::Idempotent::kNo));
  print_txn(d, resp);
}

// ---- compaction ----

void run_compaction(Invocation& inv) {
  if (inv.args.size() != 1) exit_with_error(kExitBadArgs, "compaction command needs 1 argument");
  const std::string& s = inv.args[0];
  int64_t rev = 0;
  {
    const std::string bad = "strconv.ParseInt: parsing " + go_quote(s);
    size_t i = (!s.empty() && (s[0] == '+' || s[0] == '-')) ? 1 : 0;
    if (i == s.size()) exit_with_error(kExitError, bad + ": invalid syntax");
    for (size_t k = i; k < s.size(); ++k) {
      if (!std::isdigit(static_cast<unsigned char>(s[k]))) {
        exit_with_error(kExitError, bad + ": invalid syntax");
      }
    }
    errno = 0;
    rev = std::strtoll(s.c_str(), nullptr, 10);
    if (errno == ERANGE) exit_with_error(kExitError, bad + ": value out of range");
  }
  etcdserverpb::CompactionRequest req;
  req.set_revision(rev);
  if (inv.get_bool("physical")) req.set_physical(true);
  auto c = must_client(inv);
  etcdserverpb::CompactionResponse resp;
  check(c->call(&client::Connection::kv, &etcdserverpb::KV::Stub::Compact, req, &resp,
                command_deadline(inv), client::Idempotent::kNo));
  std::cout << "compacted revision " << rev << "\n";
}

}  // namespace

void add_kv_commands(Command& root) {
  add_get_flags(
      root.add("get [options] <key> [range_end]", "Gets the key or a range of keys", "", run_get));
  add_put_flags(root.add(kPutUse, "Puts the given key into the store",
                         R"(
Puts the given key into the store.

When <value> begins with '-', <value> is interpreted as a flag.
Insert '--' for workaround:

$ put <key> -- <value>
$ put -- <key> <value>

If <value> isn't given as a command line argument and '--ignore-value' is not specified,
this command tries to read the value from standard input.

If <lease> isn't given as a command line argument and '--ignore-lease' is not specified,
this command tries to read the value from standard input.

For example,
$ cat file | put <key>
will store the content of the file to <key>.
)",
                         run_put));
  add_del_flags(root.add(kDelUse, "Removes the specified key or range of keys [key, range_end)", "",
                         run_del));
  root.add("txn [options]", "Txn processes all the requests in one transaction", "", run_txn)
      .flags()
      .add(FlagKind::kBool, "interactive", "i", "false", "Input transaction in interactive mode");
  root.add("compaction [options] <revision>", "Compacts the event history in etcd", "",
           run_compaction)
      .flags()
      .add(FlagKind::kBool, "physical", "", "false",
           "'true' to wait for compaction to physically remove all old revisions");
}

}  // namespace etcd::ctl
