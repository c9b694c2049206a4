// etcdctl's auth, user and role commands (docs/etcdctl.md): what they send,
// and their output in every format as etcdctl 3.5 prints it.
#include <unistd.h>

#include <algorithm>
#include <functional>
#include <iostream>

#include "etcdctl/global.h"
#include "etcdctl/output/go_json.h"
#include "etcdctl/output/quote.h"

namespace etcd::ctl {
namespace {

using etcdserverpb::Auth;
using Stub = Auth::Stub;

// The user and role RPCs run without a deadline in etcdctl (context.TODO());
// auth enable/disable/status with --command-timeout.
constexpr client::Deadline kNoDeadline = client::Deadline::max();

template <class Req, class Resp>
Resp call(client::Client& c, grpc::Status (Stub::*method)(grpc::ClientContext*, const Req&, Resp*),
          const Req& req, client::Deadline deadline, client::Idempotent idem) {
  Resp resp;
  check(c.call(&client::Connection::auth, method, req, &resp, deadline, idem));
  return resp;
}

void print_header(const etcdserverpb::ResponseHeader& h) {
  std::cout << "\"ClusterID\" : " << h.cluster_id() << "\n";
  std::cout << "\"MemberID\" : " << h.member_id() << "\n";
  std::cout << "\"Revision\" : " << h.revision() << "\n";
  std::cout << "\"RaftTerm\" : " << h.raft_term() << "\n";
}

[[noreturn]] void unsupported(const std::string& format) {
  exit_with_error(kExitBadFeature, format + " not supported as output format");
}

// Prints a response as etcdctl's printers do: `simple` as given, json and
// protobuf from the message, `fields` as given (nullptr: not supported by
// etcdctl for this response), `table` never.
template <class Resp>
void display(const Display& d, const Resp& resp, const std::function<void()>& simple,
             const std::function<void()>& fields) {
  switch (d.format) {
    case OutputFormat::kSimple:
      simple();
      break;
    case OutputFormat::kJson:
      std::cout << go_json(resp) << "\n";
      break;
    case OutputFormat::kProtobuf:
      std::cout << resp.SerializeAsString();
      break;
    case OutputFormat::kFields:
      if (!fields) unsupported("fields");
      fields();
      break;
    case OutputFormat::kTable:
      unsupported("table");
  }
  std::cout.flush();
}

// Most auth answers print their header alone in `fields`.
template <class Resp>
std::function<void()> header_fields(const Resp& resp) {
  return [&resp] { print_header(resp.header()); };
}

// clientv3.GetPrefixRangeEnd: the key with its last byte below 0xff
// incremented and the rest dropped; "\x00" (from the key on) when none is.
std::string prefix_range_end(const std::string& key) {
  std::string end = key;
  for (size_t i = end.size(); i-- > 0;) {
    if (static_cast<unsigned char>(end[i]) < 0xff) {
      end[i] = static_cast<char>(static_cast<unsigned char>(end[i]) + 1);
      return end.substr(0, i + 1);
    }
  }
  return std::string(1, '\0');
}

void print_role(const std::string& role, const etcdserverpb::AuthRoleGetResponse& r) {
  std::cout << "Role " << role << "\nKV Read:\n";
  auto print_perm = [](const authpb::Permission& p) {
    if (p.range_end().empty()) {
      std::cout << "\t" << p.key() << "\n";
      return;
    }
    if (p.range_end() != std::string(1, '\0')) {
      std::cout << "\t[" << p.key() << ", " << p.range_end() << ")";
    } else {
      std::cout << "\t[" << p.key() << ", <open ended>";
    }
    if (prefix_range_end(p.key()) == p.range_end()) std::cout << " (prefix " << p.key() << ")";
    std::cout << "\n";
  };
  for (const auto& p : r.perm()) {
    if (p.permtype() == authpb::Permission::READ || p.permtype() == authpb::Permission::READWRITE) {
      print_perm(p);
    }
  }
  std::cout << "KV Write:\n";
  for (const auto& p : r.perm()) {
    if (p.permtype() == authpb::Permission::WRITE ||
        p.permtype() == authpb::Permission::READWRITE) {
      print_perm(p);
    }
  }
}

void display_role(const Display& d, const std::string& role,
                  const etcdserverpb::AuthRoleGetResponse& r) {
  display(
      d, r, [&] { print_role(role, r); },
      [&] {
        print_header(r.header());
        for (const auto& p : r.perm()) {
          std::cout << "\"PermType\" :  " << authpb::Permission::Type_Name(p.permtype()) << "\n";
          std::cout << "\"Key\" : " << go_quote(p.key()) << "\n";
          std::cout << "\"RangeEnd\" : " << go_quote(p.range_end()) << "\n";
        }
      });
}

void require_no_args(const Invocation& inv, const std::string& message) {
  if (!inv.args.empty()) exit_with_error(kExitBadArgs, message);
}

// ---- auth ----

void auth_enable(Invocation& inv) {
  require_no_args(inv, "auth enable command does not accept any arguments");
  const auto deadline = command_deadline(inv);
  auto c = must_client(inv);
  while (true) {
    etcdserverpb::AuthEnableResponse resp;
    grpc::Status s =
        c->call(&client::Connection::auth, &Stub::AuthEnable, etcdserverpb::AuthEnableRequest(),
                &resp, deadline, client::Idempotent::kNo);
    if (s.ok()) break;
    if (s.error_message() != "etcdserver: root user does not have root role") exit_with_status(s);
    // etcdctl gives the root user its root role, then enables again.
    etcdserverpb::AuthRoleAddRequest role;
    role.set_name("root");
    call(*c, &Stub::RoleAdd, role, deadline, client::Idempotent::kNo);
    etcdserverpb::AuthUserGrantRoleRequest grant;
    grant.set_user("root");
    grant.set_role("root");
    call(*c, &Stub::UserGrantRole, grant, deadline, client::Idempotent::kNo);
  }
  std::cout << "Authentication Enabled\n";
}

void auth_disable(Invocation& inv) {
  require_no_args(inv, "auth disable command does not accept any arguments");
  const auto deadline = command_deadline(inv);
  auto c = must_client(inv);
  call(*c, &Stub::AuthDisable, etcdserverpb::AuthDisableRequest(), deadline,
       client::Idempotent::kNo);
  std::cout << "Authentication Disabled\n";
}

void auth_status(Invocation& inv) {
  require_no_args(inv, "auth status command does not accept any arguments");
  const auto deadline = command_deadline(inv);
  auto c = must_client(inv);
  const Display d = display_from(inv);
  auto r = call(*c, &Stub::AuthStatus, etcdserverpb::AuthStatusRequest(), deadline,
                client::Idempotent::kYes);
  display(
      d, r,
      [&] {
        std::cout << "Authentication Status: " << (r.enabled() ? "true" : "false") << "\n";
        std::cout << "AuthRevision: " << r.authrevision() << "\n";
      },
      nullptr);  // etcdctl's fields printer has no auth status
}

// ---- user ----

// The password twice, as etcdctl asks for it; exits when empty or different.
std::string ask_new_password(const std::string& name) {
  const std::string p1 = ask_password("Password of " + name + ": ");
  if (p1.empty()) exit_with_error(kExitBadArgs, "empty password");
  const std::string p2 = ask_password("Type password of " + name + " again for confirmation: ");
  if (p1 != p2) exit_with_error(kExitBadArgs, "given passwords are different");
  return p1;
}

// Go's fmt.Scanf("%s"): one word from stdin; blanks before it skipped, a
// newline (or the end) before any word gives "".
std::string scan_word() {
  std::string word;
  char c;
  while (::read(STDIN_FILENO, &c, 1) == 1) {
    if (c == ' ' || c == '\t' || c == '\r') {
      if (word.empty()) continue;
      break;
    }
    if (c == '\n') break;
    word += c;
  }
  return word;
}

std::string read_new_password(const Invocation& inv, const std::string& name) {
  return inv.get_bool("interactive") ? ask_new_password(name) : scan_word();
}

void user_add(Invocation& inv) {
  if (inv.args.size() != 1) {
    exit_with_error(kExitBadArgs, "user add command requires user name as its argument");
  }
  etcdserverpb::AuthUserAddRequest req;
  const std::string& arg = inv.args[0];
  std::string user = arg;
  if (inv.get_bool("no-password")) {
    req.mutable_options()->set_no_password(true);
  } else {
    req.mutable_options()->set_no_password(false);
    const std::string from_flag = inv.get_string("new-user-password");
    if (!from_flag.empty()) {
      req.set_password(from_flag);
    } else if (const size_t colon = arg.find(':'); colon != std::string::npos) {
      user = arg.substr(0, colon);
      req.set_password(arg.substr(colon + 1));
      if (user.empty()) exit_with_error(kExitBadArgs, "empty user name is not allowed");
    } else {
      req.set_password(read_new_password(inv, arg));
    }
  }
  req.set_name(user);
  auto c = must_client(inv);
  const Display d = display_from(inv);
  auto r = call(*c, &Stub::UserAdd, req, kNoDeadline, client::Idempotent::kNo);
  display(
      d, r, [&] { std::cout << "User " << user << " created\n"; }, header_fields(r));
}

void user_delete(Invocation& inv) {
  if (inv.args.size() != 1) {
    exit_with_error(kExitBadArgs, "user delete command requires user name as its argument");
  }
  etcdserverpb::AuthUserDeleteRequest req;
  req.set_name(inv.args[0]);
  auto c = must_client(inv);
  const Display d = display_from(inv);
  auto r = call(*c, &Stub::UserDelete, req, kNoDeadline, client::Idempotent::kNo);
  display(
      d, r, [&] { std::cout << "User " << req.name() << " deleted\n"; }, header_fields(r));
}

void user_get(Invocation& inv) {
  if (inv.args.size() != 1) {
    exit_with_error(kExitBadArgs, "user get command requires user name as its argument");
  }
  const std::string& name = inv.args[0];
  etcdserverpb::AuthUserGetRequest req;
  req.set_name(name);
  auto c = must_client(inv);
  const Display d = display_from(inv);
  auto r = call(*c, &Stub::UserGet, req, kNoDeadline, client::Idempotent::kYes);
  if (inv.get_bool("detail")) {
    std::cout << "User: " << name << "\n";
    for (const auto& role : r.roles()) {
      std::cout << "\n";
      etcdserverpb::AuthRoleGetRequest rreq;
      rreq.set_role(role);
      auto rr = call(*c, &Stub::RoleGet, rreq, kNoDeadline, client::Idempotent::kYes);
      display_role(d, role, rr);
    }
    std::cout.flush();
    return;
  }
  display(
      d, r,
      [&] {
        std::cout << "User: " << name << "\nRoles:";
        for (const auto& role : r.roles()) std::cout << " " << role;
        std::cout << "\n";
      },
      nullptr);
}

void user_list(Invocation& inv) {
  require_no_args(inv, "user list command requires no arguments");
  auto c = must_client(inv);
  const Display d = display_from(inv);
  auto r = call(*c, &Stub::UserList, etcdserverpb::AuthUserListRequest(), kNoDeadline,
                client::Idempotent::kYes);
  display(
      d, r,
      [&] {
        for (const auto& u : r.users()) std::cout << u << "\n";
      },
      nullptr);
}

void user_passwd(Invocation& inv) {
  if (inv.args.size() != 1) {
    exit_with_error(kExitBadArgs, "user passwd command requires user name as its argument");
  }
  etcdserverpb::AuthUserChangePasswordRequest req;
  req.set_name(inv.args[0]);
  req.set_password(read_new_password(inv, inv.args[0]));
  auto c = must_client(inv);
  const Display d = display_from(inv);
  auto r = call(*c, &Stub::UserChangePassword, req, kNoDeadline, client::Idempotent::kNo);
  display(
      d, r, [&] { std::cout << "Password updated\n"; }, header_fields(r));
}

void user_grant_role(Invocation& inv) {
  if (inv.args.size() != 2) {
    exit_with_error(kExitBadArgs,
                    "user grant command requires user name and role name as its argument");
  }
  etcdserverpb::AuthUserGrantRoleRequest req;
  req.set_user(inv.args[0]);
  req.set_role(inv.args[1]);
  auto c = must_client(inv);
  const Display d = display_from(inv);
  auto r = call(*c, &Stub::UserGrantRole, req, kNoDeadline, client::Idempotent::kNo);
  display(
      d, r,
      [&] { std::cout << "Role " << req.role() << " is granted to user " << req.user() << "\n"; },
      header_fields(r));
}

void user_revoke_role(Invocation& inv) {
  if (inv.args.size() != 2) {
    exit_with_error(kExitBadArgs,
                    "user revoke-role requires user name and role name as its argument");
  }
  etcdserverpb::AuthUserRevokeRoleRequest req;
  req.set_name(inv.args[0]);
  req.set_role(inv.args[1]);
  auto c = must_client(inv);
  const Display d = display_from(inv);
  auto r = call(*c, &Stub::UserRevokeRole, req, kNoDeadline, client::Idempotent::kNo);
  display(
      d, r,
      [&] { std::cout << "Role " << req.role() << " is revoked from user " << req.name() << "\n"; },
      header_fields(r));
}

// ---- role ----

void role_add(Invocation& inv) {
  if (inv.args.size() != 1) {
    exit_with_error(kExitBadArgs, "role add command requires role name as its argument");
  }
  etcdserverpb::AuthRoleAddRequest req;
  req.set_name(inv.args[0]);
  auto c = must_client(inv);
  const Display d = display_from(inv);
  auto r = call(*c, &Stub::RoleAdd, req, kNoDeadline, client::Idempotent::kNo);
  display(
      d, r, [&] { std::cout << "Role " << req.name() << " created\n"; }, header_fields(r));
}

void role_delete(Invocation& inv) {
  if (inv.args.size() != 1) {
    exit_with_error(kExitBadArgs, "role delete command requires role name as its argument");
  }
  etcdserverpb::AuthRoleDeleteRequest req;
  req.set_role(inv.args[0]);
  auto c = must_client(inv);
  const Display d = display_from(inv);
  auto r = call(*c, &Stub::RoleDelete, req, kNoDeadline, client::Idempotent::kNo);
  display(
      d, r, [&] { std::cout << "Role " << req.role() << " deleted\n"; }, header_fields(r));
}

void role_get(Invocation& inv) {
  if (inv.args.size() != 1) {
    exit_with_error(kExitBadArgs, "role get command requires role name as its argument");
  }
  etcdserverpb::AuthRoleGetRequest req;
  req.set_role(inv.args[0]);
  auto c = must_client(inv);
  const Display d = display_from(inv);
  auto r = call(*c, &Stub::RoleGet, req, kNoDeadline, client::Idempotent::kYes);
  display_role(d, req.role(), r);
}

void role_list(Invocation& inv) {
  require_no_args(inv, "role list command requires no arguments");
  auto c = must_client(inv);
  const Display d = display_from(inv);
  auto r = call(*c, &Stub::RoleList, etcdserverpb::AuthRoleListRequest(), kNoDeadline,
                client::Idempotent::kYes);
  display(
      d, r,
      [&] {
        for (const auto& role : r.roles()) std::cout << role << "\n";
      },
      [&] {
        print_header(r.header());
        std::cout << "\"Roles\" :";
        for (const auto& role : r.roles()) std::cout << " " << go_quote(role);
        std::cout << "\n";
      });
}

// The [key, range_end) of a permission from its arguments and --prefix /
// --from-key, as etcdctl builds it. An empty key means the whole key space,
// which etcd's interval tree needs spelled from "\x00".
std::pair<std::string, std::string> perm_range(const Invocation& inv,
                                               const std::vector<std::string>& args) {
  const bool prefix = inv.get_bool("prefix");
  const bool from_key = inv.get_bool("from-key");
  const std::string zero(1, '\0');
  if (args[0].empty()) {
    if (prefix && from_key) {
      exit_with_error(kExitBadArgs, "--from-key and --prefix flags are mutually exclusive");
    }
    return {zero, prefix || from_key ? zero : ""};
  }
  if (args.size() == 1) {
    if (prefix) {
      if (from_key) {
        exit_with_error(kExitBadArgs, "--from-key and --prefix flags are mutually exclusive");
      }
      return {args[0], prefix_range_end(args[0])};
    }
    return {args[0], from_key ? zero : ""};
  }
  if (prefix) exit_with_error(kExitBadArgs, "unexpected endkey argument with --prefix flag");
  if (from_key) exit_with_error(kExitBadArgs, "unexpected endkey argument with --from-key flag");
  return {args[0], args[1]};
}

void role_grant_permission(Invocation& inv) {
  if (inv.args.size() < 3) {
    exit_with_error(kExitBadArgs,
                    "role grant command requires role name, permission type, and key [endkey] as "
                    "its argument");
  }
  std::string type = inv.args[1];
  std::transform(type.begin(), type.end(), type.begin(),
                 [](unsigned char ch) { return static_cast<char>(std::toupper(ch)); });
  authpb::Permission::Type perm;
  if (!authpb::Permission::Type_Parse(type, &perm)) {
    exit_with_error(kExitBadArgs, "invalid permission type: " + inv.args[1]);
  }
  auto [key, end] = perm_range(inv, {inv.args.begin() + 2, inv.args.end()});
  etcdserverpb::AuthRoleGrantPermissionRequest req;
  req.set_name(inv.args[0]);
  req.mutable_perm()->set_permtype(perm);
  req.mutable_perm()->set_key(key);
  req.mutable_perm()->set_range_end(end);
  auto c = must_client(inv);
  const Display d = display_from(inv);
  auto r = call(*c, &Stub::RoleGrantPermission, req, kNoDeadline, client::Idempotent::kNo);
  display(
      d, r, [&] { std::cout << "Role " << req.name() << " updated\n"; }, header_fields(r));
}

void role_revoke_permission(Invocation& inv) {
  if (inv.args.size() < 2) {
    exit_with_error(
        kExitBadArgs,
        "role revoke-permission command requires role name and key [endkey] as its argument");
  }
  auto [key, end] = perm_range(inv, {inv.args.begin() + 1, inv.args.end()});
  etcdserverpb::AuthRoleRevokePermissionRequest req;
  req.set_role(inv.args[0]);
  req.set_key(key);
  req.set_range_end(end);
  auto c = must_client(inv);
  const Display d = display_from(inv);
  auto r = call(*c, &Stub::RoleRevokePermission, req, kNoDeadline, client::Idempotent::kNo);
  const std::string& shown_key = inv.args[1];  // as typed, not the "\x00" sent for ""
  display(
      d, r,
      [&] {
        if (end.empty()) {
          std::cout << "Permission of key " << shown_key << " is revoked from role " << req.role()
                    << "\n";
        } else if (end != std::string(1, '\0')) {
          std::cout << "Permission of range [" << shown_key << ", " << end
                    << ") is revoked from role " << req.role() << "\n";
        } else {
          std::cout << "Permission of range [" << shown_key
                    << ", <open ended> is revoked from role " << req.role() << "\n";
        }
      },
      header_fields(r));
}

}  // namespace

void add_auth_commands(Command& root) {
  auto auth =
      std::make_unique<Command>("auth <enable or disable>", "Enable or disable authentication");
  auth->add("enable", "Enables authentication", "", auth_enable);
  auth->add("disable", "Disables authentication", "", auth_disable);
  auth->add("status", "Returns authentication status", "", auth_status);
  root.add(std::move(auth));

  auto user = std::make_unique<Command>("user <subcommand>", "User related commands");
  Command& add =
      user->add("add <user name or user:password> [options]", "Adds a new user", "", user_add);
  add.flags().add(FlagKind::kBool, "interactive", "", "true",
                  "Read password from stdin instead of interactive terminal");
  add.flags().add(FlagKind::kString, "new-user-password", "", "",
                  "Supply password from the command line flag");
  add.flags().add(FlagKind::kBool, "no-password", "", "false",
                  "Create a user without password (CN based auth only)");
  user->add("delete <user name>", "Deletes a user", "", user_delete);
  Command& get =
      user->add("get <user name> [options]", "Gets detailed information of a user", "", user_get);
  get.flags().add(FlagKind::kBool, "detail", "", "false",
                  "Show permissions of roles granted to the user");
  user->add("list", "Lists all users", "", user_list);
  Command& passwd =
      user->add("passwd <user name> [options]", "Changes password of user", "", user_passwd);
  passwd.flags().add(FlagKind::kBool, "interactive", "", "true",
                     "If true, read password from stdin instead of interactive terminal");
  user->add("grant-role <user name> <role name>", "Grants a role to a user", "", user_grant_role);
  user->add("revoke-role <user name> <role name>", "Revokes a role from a user", "",
            user_revoke_role);
  root.add(std::move(user));

  auto role = std::make_unique<Command>("role <subcommand>", "Role related commands");
  role->add("add <role name>", "Adds a new role", "", role_add);
  role->add("delete <role name>", "Deletes a role", "", role_delete);
  role->add("get <role name>", "Gets detailed information of a role", "", role_get);
  role->add("list", "Lists all roles", "", role_list);
  Command& grant =
      role->add("grant-permission [options] <role name> <permission type> <key> [endkey]",
                "Grants a key to a role", "", role_grant_permission);
  grant.flags().add(FlagKind::kBool, "prefix", "", "false", "grant a prefix permission");
  grant.flags().add(FlagKind::kBool, "from-key", "", "false",
                    "grant a permission of keys that are greater than or equal to the given key "
                    "using byte compare");
  Command& revoke = role->add("revoke-permission <role name> <key> [endkey]",
                              "Revokes a key from a role", "", role_revoke_permission);
  revoke.flags().add(FlagKind::kBool, "prefix", "", "false", "revoke a prefix permission");
  revoke.flags().add(FlagKind::kBool, "from-key", "", "false",
                     "revoke a permission of keys that are greater than or equal to the given key "
                     "using byte compare");
  root.add(std::move(role));
}

}  // namespace etcd::ctl
