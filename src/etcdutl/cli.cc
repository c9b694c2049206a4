#include "etcdutl/cli.h"

#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <sstream>

#include "base/log.h"
#include "base/version.h"
#include "etcdutl/console_log.h"
#include "etcdutl/defrag.h"
#include "etcdutl/hashkv.h"
#include "etcdutl/migrate.h"
#include "etcdutl/printer.h"
#include "etcdutl/snapshot.h"

namespace etcd::utl {
namespace {

constexpr const char* kName = "etcdutl";

enum class FlagType { kString, kBool, kUint, kInt };

struct Flag {
  std::string name;
  char shorthand = 0;
  FlagType type = FlagType::kString;
  std::string def;  // default, as pflag prints it
  std::string usage;
  bool required = false;
};

struct Command;
using Flags = std::map<std::string, std::string>;  // parsed values by flag name
struct Invocation {
  const Command& cmd;
  std::vector<std::string> args;
  Flags flags;
  std::ostream& out;
  std::ostream& err;
  bool set(const std::string& name) const { return flags.count(name) > 0; }
  std::string str(const std::string& name) const;
};
using RunFn = std::function<int(Invocation&)>;

struct Command {
  std::string use;  // first word is the name
  std::string short_desc;
  std::vector<Flag> flags;
  std::vector<std::unique_ptr<Command>> subs;
  RunFn run;
  bool hidden = false;
  std::string deprecated;
  Command* parent = nullptr;

  std::string name() const { return use.substr(0, use.find(' ')); }
  std::string path() const { return parent ? parent->path() + " " + name() : name(); }
  Command* add(std::unique_ptr<Command> c) {
    c->parent = this;
    subs.push_back(std::move(c));
    return subs.back().get();
  }
};

const Flag kWriteOut{"write-out", 'w', FlagType::kString, "simple",
                     "set the output format (fields, json, protobuf, simple, table)"};

std::string Invocation::str(const std::string& name) const {
  if (auto it = flags.find(name); it != flags.end()) return it->second;
  if (name == kWriteOut.name) return kWriteOut.def;
  for (const Flag& f : cmd.flags) {
    if (f.name == name) return f.def;
  }
  return "";
}

Flag help_flag(const Command& c) {
  return Flag{"help", 'h', FlagType::kBool, "false", "help for " + c.name()};
}

// pflag's FlagUsages: sorted by name, the usage column aligned.
std::string flag_usages(std::vector<Flag> flags) {
  std::sort(flags.begin(), flags.end(),
            [](const Flag& a, const Flag& b) { return a.name < b.name; });
  std::vector<std::pair<std::string, std::string>> lines;
  size_t maxlen = 0;
  for (const Flag& f : flags) {
    std::string line =
        f.shorthand ? std::string("  -") + f.shorthand + ", --" + f.name : "      --" + f.name;
    switch (f.type) {
      case FlagType::kString:
        line += " string";
        break;
      case FlagType::kUint:
        line += " uint";
        break;
      case FlagType::kInt:
        line += " int";
        break;
      case FlagType::kBool:
        break;
    }
    maxlen = std::max(maxlen, line.size());
    std::string usage = f.usage;
    const bool zero = f.def.empty() || f.def == "false" || f.def == "0";
    if (!zero)
      usage +=
          f.type == FlagType::kString ? " (default \"" + f.def + "\")" : " (default " + f.def + ")";
    lines.emplace_back(line, usage);
  }
  std::string out;
  for (const auto& [l, u] : lines)
    out += l + " " + std::string(maxlen - l.size(), ' ') + "  " + u + "\n";
  return out;
}

// cobra's default usage template (etcdutl's help template is the usage).
std::string usage(const Command& c) {
  std::ostringstream o;
  o << "Usage:";
  if (c.run) {
    std::string line = (c.parent ? c.parent->path() + " " : "") + c.use;
    if (line.find("[flags]") == std::string::npos) line += " [flags]";
    o << "\n  " << line;
  }
  std::vector<const Command*> visible;
  for (const auto& s : c.subs) {
    if (!s->hidden && s->deprecated.empty()) visible.push_back(s.get());
  }
  if (!visible.empty()) o << "\n  " << c.path() << " [command]";
  if (!visible.empty()) {
    std::vector<const Command*> listed = visible;
    std::sort(listed.begin(), listed.end(),
              [](const Command* a, const Command* b) { return a->name() < b->name(); });
    size_t pad = 11;
    for (const auto* s : listed) pad = std::max(pad, s->name().size());
    o << "\n\nAvailable Commands:";
    for (const auto* s : listed) {
      o << "\n  " << s->name() << std::string(pad - s->name().size(), ' ') << " " << s->short_desc;
    }
  }
  std::vector<Flag> local = c.flags;
  local.push_back(help_flag(c));
  if (!c.parent) local.push_back(kWriteOut);
  std::string fl = flag_usages(local);
  fl.pop_back();
  o << "\n\nFlags:\n" << fl;
  if (c.parent) {
    std::string gl = flag_usages({kWriteOut});
    gl.pop_back();
    o << "\n\nGlobal Flags:\n" << gl;
  }
  if (!visible.empty()) {
    o << "\n\nUse \"" << c.path() << " [command] --help\" for more information about a command.";
  }
  o << "\n";
  return o.str();
}

// etcdutl's help template is cobra's usage template alone.
std::string help_text(const Command& c) { return usage(c); }

int fail(std::ostream& err, int code, const std::string& message) {
  err << "Error: " << message << "\n";
  return code;
}

// A cobra error: the message and a pointer to the root's help.
int cobra_error(std::ostream& err, const std::string& message) {
  err << "Error: " << message << "\n"
      << "Run '" << kName << " --help' for usage.\n";
  return kExitError;
}

Result<OutputFormat> output_format(Invocation& inv, int* code) {
  auto f = parse_output_format(inv.str("write-out"));
  if (!f.is_ok()) *code = fail(inv.err, kExitBadFeature, f.status().message());
  return f;
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  for (char ch : s) {
    if (ch == sep) {
      out.push_back(cur);
      cur.clear();
    } else {
      cur += ch;
    }
  }
  out.push_back(cur);
  return out;
}

int run_snapshot_status(Invocation& inv) {
  if (inv.args.size() != 1) {
    return fail(inv.err, kExitBadArgs, "snapshot status requires exactly one argument");
  }
  int code = 0;
  auto format = output_format(inv, &code);
  if (!format.is_ok()) return code;
  auto st = snapshot_status(inv.args[0]);
  if (!st.is_ok()) return fail(inv.err, kExitError, st.status().message());
  Status p = print_snapshot_status(inv.out, *st, *format);
  if (!p.is_ok()) return fail(inv.err, kExitBadFeature, p.message());
  return kExitSuccess;
}

int run_snapshot_restore(Invocation& inv) {
  if (inv.args.size() != 1) {
    return fail(inv.err, kExitBadArgs, "snapshot restore requires exactly one argument");
  }
  RestoreOptions o;
  o.snapshot_path = inv.args[0];
  o.name = inv.str("name");
  o.data_dir = inv.str("data-dir");
  o.wal_dir = inv.str("wal-dir");
  o.initial_cluster = inv.str("initial-cluster");
  o.initial_cluster_token = inv.str("initial-cluster-token");
  o.initial_advertise_peer_urls = split(inv.str("initial-advertise-peer-urls"), ',');
  o.skip_hash_check = inv.str("skip-hash-check") == "true";
  o.mark_compacted = inv.str("mark-compacted") == "true";
  try {
    o.bump_revision = std::stoull(inv.str("bump-revision"));
  } catch (...) {
    o.bump_revision = 0;
  }
  if ((o.bump_revision == 0 && o.mark_compacted) || (o.bump_revision > 0 && !o.mark_compacted)) {
    return fail(inv.err, kExitBadArgs, "--mark-compacted required if --revision-bump > 0");
  }
  auto logger = make_console_logger(inv.err);
  Status s = snapshot_restore(o, logger.get());
  if (logger) logger->flush();
  if (!s.is_ok()) return fail(inv.err, kExitError, s.message());
  return kExitSuccess;
}

int run_defrag(Invocation& inv) {
  const std::string dir = inv.str("data-dir");
  auto logger = make_console_logger(inv.err);
  auto r = defrag_data_dir(dir, logger.get());
  if (logger) logger->flush();
  if (!r.is_ok()) {
    return fail(inv.err, kExitError,
                "Failed to defragment etcd data[" + dir + "] (" + r.status().message() + ")");
  }
  return kExitSuccess;
}

int run_migrate_to_etcd(Invocation& inv) {
  const std::string dir = inv.str("data-dir");
  auto logger = make_console_logger(inv.err);
  auto r = migrate_to_etcd(dir, logger.get(), inv.str("target-version"));
  if (logger) logger->flush();
  if (!r.is_ok()) {
    return fail(inv.err, kExitError,
                "Failed to migrate etcd data[" + dir + "] (" + r.status().message() + ")");
  }
  if (r->already) {
    inv.out << r->db << " is in etcd's bbolt format already\n";
  } else {
    inv.out << "Migrated " << r->db << " to etcd's bbolt format (" << r->bytes
            << " bytes); the LMDB file is kept at " << r->backup << "\n";
  }
  return kExitSuccess;
}

int run_hashkv(Invocation& inv) {
  if (inv.args.size() != 1) {
    return cobra_error(inv.err, "accepts 1 arg(s), received " + std::to_string(inv.args.size()));
  }
  int code = 0;
  auto format = output_format(inv, &code);
  if (!format.is_ok()) return code;
  int64_t rev = 0;
  try {
    rev = std::stoll(inv.str("rev"));
  } catch (...) {
    rev = 0;
  }
  auto h = hash_kv(inv.args[0], rev);
  if (!h.is_ok()) return fail(inv.err, kExitError, h.status().message());
  Status p = print_hash_kv(inv.out, *h, *format);
  if (!p.is_ok()) return fail(inv.err, kExitBadFeature, p.message());
  return kExitSuccess;
}

std::unique_ptr<Command> build_tree() {
  auto root = std::make_unique<Command>();
  root->use = kName;
  root->short_desc = "An administrative command line tool for etcd3.";

  auto defrag = std::make_unique<Command>();
  defrag->use = "defrag";
  defrag->short_desc = "Defragments the storage of the etcd";
  defrag->flags = {{"data-dir", 0, FlagType::kString, "",
                    "Required. Defragments a data directory not in use by etcd.", true}};
  defrag->run = run_defrag;
  root->add(std::move(defrag));

  auto migrate = std::make_unique<Command>();
  migrate->use = "migrate-to-etcd";
  migrate->short_desc = "Converts a stopped member's data dir back to etcd's bbolt db";
  migrate->flags = {
      {"data-dir", 0, FlagType::kString, "",
       "Required. The data directory of a stopped member to hand back to etcd.", true},
      {"target-version", 0, FlagType::kString, "3.4",
       "etcd version to hand the data dir to: 3.4 caps the cluster version the "
       ".snap files hold at 3.4, 3.5 leaves them"}};
  migrate->run = run_migrate_to_etcd;
  // Ours alone: left out of the command list, so `etcdutl --help` stays
  // etcd's text byte for byte (its column width too); docs/etcdutl.md.
  migrate->hidden = true;
  root->add(std::move(migrate));

  auto hashkv = std::make_unique<Command>();
  hashkv->use = "hashkv <filename>";
  hashkv->short_desc = "Prints the KV history hash of a given file";
  hashkv->flags = {
      {"rev", 0, FlagType::kInt, "0", "maximum revision to hash (default: latest revision)"}};
  hashkv->run = run_hashkv;
  root->add(std::move(hashkv));

  auto snapshot = std::make_unique<Command>();
  snapshot->use = "snapshot <subcommand>";
  snapshot->short_desc = "Manages etcd node snapshots";
  Command* snap = root->add(std::move(snapshot));

  auto save = std::make_unique<Command>();
  save->use = "save <filename>";
  save->short_desc = "Stores an etcd node backend snapshot to a given file";
  save->hidden = true;
  save->deprecated = "Use `etcdctl snapshot save` to download snapshot";
  save->run = [](Invocation& inv) {
    return fail(inv.err, kExitBadArgs,
                "In order to download snapshot use: `etcdctl snapshot save ...`");
  };
  snap->add(std::move(save));

  auto restore = std::make_unique<Command>();
  restore->use = "restore <filename> --data-dir {output dir} [options]";
  restore->short_desc = "Restores an etcd member snapshot to an etcd directory";
  restore->flags = {
      {"data-dir", 0, FlagType::kString, "", "Path to the output data directory"},
      {"wal-dir", 0, FlagType::kString, "",
       "Path to the WAL directory (use --data-dir if none given)"},
      {"initial-cluster", 0, FlagType::kString, "default=http://localhost:2380",
       "Initial cluster configuration for restore bootstrap"},
      {"initial-cluster-token", 0, FlagType::kString, "etcd-cluster",
       "Initial cluster token for the etcd cluster during restore bootstrap"},
      {"initial-advertise-peer-urls", 0, FlagType::kString, "http://localhost:2380",
       "List of this member's peer URLs to advertise to the rest of the cluster"},
      {"name", 0, FlagType::kString, "default", "Human-readable name for this member"},
      {"skip-hash-check", 0, FlagType::kBool, "false",
       "Ignore snapshot integrity hash value (required if copied from data directory)"},
      {"bump-revision", 0, FlagType::kUint, "0",
       "How much to increase the latest revision after restore"},
      {"mark-compacted", 0, FlagType::kBool, "false",
       "Mark the latest revision after restore as the point of scheduled compaction (required if "
       "--bump-revision > 0, disallowed otherwise)"},
  };
  restore->run = run_snapshot_restore;
  snap->add(std::move(restore));

  auto status = std::make_unique<Command>();
  status->use = "status <filename>";
  status->short_desc = "Gets backend snapshot status of a given file";
  status->run = run_snapshot_status;
  snap->add(std::move(status));

  auto version = std::make_unique<Command>();
  version->use = "version";
  version->short_desc = "Prints the version of etcdutl";
  version->run = [](Invocation& inv) {
    inv.out << kName << " version: " << kEtcdVersion << "\n"
            << "API version: " << kApiVersion << "\n";
    return kExitSuccess;
  };
  root->add(std::move(version));

  auto help = std::make_unique<Command>();
  help->use = "help [command]";
  help->short_desc = "Help about any command";
  root->add(std::move(help));
  return root;
}

const Flag* find_flag(const Command& c, const std::string& name, char shorthand) {
  static const Flag kHelp{"help", 'h', FlagType::kBool, "false", ""};
  auto match = [&](const Flag& f) { return shorthand ? f.shorthand == shorthand : f.name == name; };
  for (const Flag& f : c.flags) {
    if (match(f)) return &f;
  }
  if (match(kWriteOut)) return &kWriteOut;
  if (match(kHelp)) return &kHelp;
  return nullptr;
}

// cobra's Find with prefix matching: the exact name, else the only
// subcommand whose name starts with `word`.
Command* find_sub(const Command& c, const std::string& word) {
  Command* prefix = nullptr;
  int prefixes = 0;
  for (const auto& s : c.subs) {
    if (s->name() == word) return s.get();
    if (!word.empty() && s->name().rfind(word, 0) == 0) {
      prefix = s.get();
      ++prefixes;
    }
  }
  return prefixes == 1 ? prefix : nullptr;
}

size_t levenshtein(const std::string& a, const std::string& b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t cost = std::tolower(a[i - 1]) == std::tolower(b[j - 1]) ? 0 : 1;
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

// cobra's "Did you mean this?" for an unknown command.
std::string suggestions(const Command& c, const std::string& word) {
  std::string out;
  for (const auto& s : c.subs) {
    if (s->hidden) continue;
    if (levenshtein(word, s->name()) <= 2 || s->name().rfind(word, 0) == 0) {
      out += "\t" + s->name() + "\n";
    }
  }
  return out.empty() ? "" : "\n\nDid you mean this?\n" + out;
}

}  // namespace

int run_cli(const std::vector<std::string>& argv, std::ostream& out, std::ostream& err) {
  std::unique_ptr<Command> root = build_tree();
  // Walk down the command tree along the words that are not flags (a
  // flag's value is skipped when the flag takes one).
  Command* cmd = root.get();
  std::vector<std::string> rest;  // argv without the command words
  bool descending = true;
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    if (a.size() > 1 && a[0] == '-') {
      rest.push_back(a);
      if (a == "--") {
        rest.insert(rest.end(), argv.begin() + static_cast<long>(i) + 1, argv.end());
        break;
      }
      const bool long_flag = a.rfind("--", 0) == 0;
      const std::string name = long_flag ? a.substr(2, a.find('=') - 2) : "";
      const Flag* f = long_flag ? find_flag(*cmd, name, 0)
                                : (a.size() == 2 ? find_flag(*cmd, "", a[1]) : nullptr);
      const bool has_value = long_flag ? a.find('=') != std::string::npos : a.size() > 2;
      if (f && f->type != FlagType::kBool && !has_value && i + 1 < argv.size()) {
        rest.push_back(argv[++i]);
      }
      continue;
    }
    if (descending && !cmd->subs.empty()) {
      if (Command* sub = find_sub(*cmd, a)) {
        cmd = sub;
        continue;
      }
      if (!cmd->parent) {
        err << "Error: unknown command \"" << a << "\" for \"" << cmd->path() << "\""
            << suggestions(*cmd, a) << "\n"
            << "Run '" << kName << " --help' for usage.\n";
        return kExitError;
      }
    }
    descending = false;
    rest.push_back(a);
  }

  // pflag parsing of the chosen command's flags.
  Invocation inv{*cmd, {}, {}, out, err};
  bool help = false;
  for (size_t i = 0; i < rest.size(); ++i) {
    const std::string& a = rest[i];
    if (a == "--") {
      inv.args.insert(inv.args.end(), rest.begin() + static_cast<long>(i) + 1, rest.end());
      break;
    }
    if (a.size() < 2 || a[0] != '-') {
      inv.args.push_back(a);
      continue;
    }
    const bool long_flag = a.rfind("--", 0) == 0;
    std::string name;
    std::optional<std::string> value;
    const Flag* f = nullptr;
    if (long_flag) {
      const size_t eq = a.find('=');
      name = a.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
      if (eq != std::string::npos) value = a.substr(eq + 1);
      f = find_flag(*cmd, name, 0);
      if (!f) return cobra_error(err, "unknown flag: --" + name);
    } else {
      f = find_flag(*cmd, "", a[1]);
      if (!f) {
        return cobra_error(err, std::string("unknown shorthand flag: '") + a[1] + "' in " + a);
      }
      name = f->name;
      if (a.size() > 2) value = a.substr(a[2] == '=' ? 3 : 2);
    }
    if (f->type == FlagType::kBool) {
      std::string v = value.value_or("true");
      if (v != "true" && v != "false" && v != "1" && v != "0" && v != "t" && v != "f" &&
          v != "TRUE" && v != "FALSE" && v != "True" && v != "False" && v != "T" && v != "F") {
        return cobra_error(err, "invalid argument \"" + v + "\" for \"--" + name +
                                    "\" flag: strconv.ParseBool: parsing \"" + v +
                                    "\": invalid syntax");
      }
      const bool on = v == "true" || v == "1" || v == "t" || v == "TRUE" || v == "True" || v == "T";
      inv.flags[name] = on ? "true" : "false";
      if (name == "help" && on) help = true;
      continue;
    }
    if (!value) {
      if (i + 1 >= rest.size()) {
        return cobra_error(
            err, long_flag ? "flag needs an argument: --" + name
                           : std::string("flag needs an argument: '") + a[1] + "' in -" + a[1]);
      }
      value = rest[++i];
    }
    if (f->type == FlagType::kUint || f->type == FlagType::kInt) {
      const std::string& v = *value;
      const bool ok =
          !v.empty() && std::all_of(v.begin() + (f->type == FlagType::kInt && v[0] == '-'), v.end(),
                                    [](char ch) { return ch >= '0' && ch <= '9'; });
      if (!ok) {
        const char* fn = f->type == FlagType::kUint ? "ParseUint" : "ParseInt";
        return cobra_error(err, "invalid argument \"" + v + "\" for \"--" + name +
                                    "\" flag: strconv." + fn + ": parsing \"" + v +
                                    "\": invalid syntax");
      }
    }
    inv.flags[name] = *value;
  }

  if (cmd->name() == "help" && cmd->parent && !cmd->parent->parent) {
    // `etcdutl help [command...]`
    const Command* target = root.get();
    for (const std::string& w : inv.args) {
      const Command* sub = find_sub(*target, w);
      if (!sub) {
        err << "Unknown help topic [`" << w << "`]\n";
        out << usage(*target);
        return kExitSuccess;
      }
      target = sub;
    }
    out << help_text(*target);
    return kExitSuccess;
  }
  if (help) {
    out << help_text(*cmd);
    return kExitSuccess;
  }
  if (!cmd->run) {
    // A command that only groups others prints its help (cobra).
    out << help_text(*cmd);
    return kExitSuccess;
  }
  if (!cmd->deprecated.empty()) {
    err << "Command \"" << cmd->name() << "\" is deprecated, " << cmd->deprecated << "\n";
  }
  for (const Flag& f : cmd->flags) {
    if (f.required && !inv.set(f.name)) {
      return cobra_error(err, "required flag(s) \"" + f.name + "\" not set");
    }
  }
  return cmd->run(inv);
}

}  // namespace etcd::utl
